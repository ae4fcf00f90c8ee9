--- The mailslot network service (the receiving side, `mailslot serve`):
-- binds the datagram port, decodes each NetBIOS datagram and hands its
-- message to the local reader of that mailslot name (case-insensitive) with
-- `writer:relay`, so `reader:sender()` tells the network sender. Only readers
-- created with `network = true` accept what it relays (the reader checks).
--
-- Dropped and counted, never delivered: `malformed` (does not decode),
-- `fragmented` (MORE set or offset not 0: mailslot writes never are),
-- `forged` (the header's SOURCE_IP is not the address the datagram came
-- from: the reader is told the UDP source, never what a sender claims),
-- `foreign` (addressed to a name that is neither ours, our workgroup's nor a
-- configured domain's), `unknown` (no local reader of that name), `own` (our
-- own group write coming back: its local copy was delivered when written),
-- `duplicate` (same source name, datagram id, mailslot and data within
-- `dedupe` seconds: one write that arrived through two interfaces), and
-- `refused` (the local reader refused it: full, too big, access).
--
-- It also answers NetBIOS name queries for its own computer name on
-- `name_port`, when it can bind it, so `\\NAME\mailslot\x` resolves.
--
-- Browser traffic is the exception to `foreign`: group datagrams to
-- `\MAILSLOT\BROWSE` and `\MAILSLOT\LANMAN` are announcements meant for
-- whoever listens on the subnet, so they reach the local reader of that name
-- whatever workgroup they name (that is how `mailslot browse` sees them all).
--
-- It sends for local network writers (mailslot.net.outbox): each request
-- read from its outbox becomes a datagram from its own port, with its own
-- name and address, so answers come back to it (`sent`; `bad_request` when
-- a request does not decode).
--
--     local svc = assert(service.new{ port = 13800, log_level = "debug" }):start()
--     svc:run()            -- until SIGINT / SIGTERM, or svc:stop()
--     svc:stats()          --> { received=, delivered=, malformed=, ... }
-- @module mailslot.net.service
local core = require "mailslot.core"
local nbt = require "mailslot.nbt"
local net_os = require "mailslot.net_os"
local config = require "mailslot.net.config"
local names = require "mailslot.net.names"
local crc32 = require "mailslot.crc32"
local dedupe_window = require "mailslot.dedupe"
local outbox = require "mailslot.net.outbox"
local printable = require "mailslot.printable"

local M = {}

M.LEVELS = { error = 1, warn = 2, info = 3, debug = 4 }

local COUNTERS = { "received", "delivered", "malformed", "fragmented", "forged", "foreign", "unknown", "own",
                   "duplicate", "refused", "name_queries", "name_answers", "sent", "bad_request" }

local Service = {}
Service.__index = Service

-- The copies of one write are spotted by the source name, datagram id,
-- mailslot and body; the window (mailslot.dedupe) bounds what it remembers
-- and the work per datagram however many names other hosts make up, and
-- counts what it forgot early (stats().dedupe_evicted).
M.DEDUPE = { per_sender = 256, max_senders = 1024, max_entries = 4096 }

local function new_window(seconds)
  if seconds <= 0 then return nil end
  return dedupe_window.new{ time = seconds, count = M.DEDUPE.per_sender, max_senders = M.DEDUPE.max_senders,
                            max_entries = M.DEDUPE.max_entries }
end

-- Lines about single datagrams and requests (drops, bad requests, failed
-- sends) come as fast as hosts and local users send: at most `burst` lines
-- at once and `per_second` after that; then one line tells how many were
-- left out. The counters (stats) count every datagram all the same.
M.LOG_RATE = { burst = 20, per_second = 10 }

-- Options beyond the network settings (mailslot.net.config keys, which
-- override the configured ones for this service only).
local OWN = { log = true, log_level = true, dedupe = true, dir = true, bind = true, name_service = true,
              signals = true, outbox = true }

--- A new service (not yet bound). `opts`: any mailslot.net.config setting,
-- plus `log` (function(level, message), default: stderr), `log_level`
-- ("error", "warn", "info" (default), "debug"), `dedupe` (seconds, default
-- 2; 0 turns it off), `dir` (the local mailslots' directory, as in
-- mailslot.open), `bind` (address, default "0.0.0.0"), `name_service`
-- (default true: answer name queries when the port is free), `signals`
-- (default true: from `start` on, SIGINT and SIGTERM stop `run` cleanly;
-- `close` gives them back their default action), `outbox` (default true:
-- send for this machine's network writers, see mailslot.net.outbox).
function M.new(opts)
  opts = opts or {}
  local net = {}
  for k, v in pairs(opts) do
    if not OWN[k] then net[k] = v end
  end
  local ok, cfg = pcall(config.get, net)
  if not ok then error(cfg, 2) end
  local level = opts.log_level or "info"
  if not M.LEVELS[level] then error("bad option 'log_level' (error, warn, info or debug expected)", 2) end
  local dedupe = opts.dedupe == nil and 2 or opts.dedupe
  if type(dedupe) ~= "number" or dedupe < 0 then error("bad option 'dedupe' (seconds >= 0 expected)", 2) end
  local self = setmetatable({
    cfg = cfg, level = M.LEVELS[level], dedupe = dedupe, dir = opts.dir, bind = opts.bind or "0.0.0.0",
    name_service = opts.name_service ~= false, use_outbox = opts.outbox ~= false, signals = opts.signals ~= false,
    counts = {}, window = new_window(dedupe),
    writers = {}, writer_count = 0,
    sources = {}, source_count = 0,
    log_fn = opts.log or function(lvl, msg)
      io.stderr:write(("mailslot-serve: %s: %s\n"):format(lvl, msg))
      io.stderr:flush()
    end,
  }, Service)
  for _, c in ipairs(COUNTERS) do self.counts[c] = 0 end
  return self
end

-- Log lines quote names and mailslots that any host writes: their control
-- characters are shown as "?", so a host can neither drive the terminal
-- `serve` logs to nor start a forged line of its own.
function Service:log(level, fmt, ...)
  if M.LEVELS[level] <= self.level then self.log_fn(level, printable(fmt:format(...))) end
end

-- As log, for a line that any host or local user can cause (see LOG_RATE).
function Service:log_often(level, fmt, ...)
  if M.LEVELS[level] > self.level then return end
  local now, rate = net_os.monotonic(), M.LOG_RATE
  local tokens = (self.log_tokens or rate.burst) + (now - (self.log_at or now)) * rate.per_second
  self.log_at = now
  if tokens < 1 then
    self.log_tokens, self.unlogged = tokens, (self.unlogged or 0) + 1
    return
  end
  self.log_tokens = math.min(rate.burst, tokens) - 1
  if (self.unlogged or 0) > (self.unlogged_said or 0) then
    self:log(level, "%d lines about single datagrams were left out (stats() counts them all)",
             self.unlogged - (self.unlogged_said or 0))
    self.unlogged_said = self.unlogged
  end
  self:log(level, fmt, ...)
end

-- This machine's addresses, to spot our own group writes coming back.
local function own_addresses()
  local set = { ["127.0.0.1"] = true }
  for _, i in ipairs(net_os.interfaces() or {}) do set[i.address] = true end
  return set
end

--- Binds the ports. Returns self, or nil, message, code.
function Service:start()
  -- No SO_REUSEADDR: a second service on the port must fail, not share it.
  local sock, err, code = net_os.udp{ address = self.bind, port = self.cfg.port, broadcast = true }
  if not sock then
    self:log("error", "%s", err)
    return nil, err, code
  end
  self.sock = sock
  local _, port = sock:getsockname()
  self.port = port
  self.own = own_addresses()
  -- Before the "listening" line: whoever waits for it may signal at once.
  if self.signals then self.signal_fd = assert(net_os.catch_signals()) end
  if self.name_service then
    local ns, nerr = net_os.udp{ address = self.bind, port = self.cfg.name_port, broadcast = true }
    if ns then
      self.ns = ns
      local _, nport = ns:getsockname()
      self.name_port = nport
    else
      self:log("warn", "not answering name queries: %s", nerr)
    end
  end
  if self.use_outbox then
    local box, where = outbox.create(port)
    if box then
      self.outbox = box
      self:log("info", "sending for local writers through %s in %s", box:name(), where)
    else
      self:log("warn", "local writers send from their own sockets (no outbox: %s)", where)
    end
  end
  self:log("info", "listening on %s:%d as %s in workgroup %s%s", self.bind, port, self.cfg.computer_name,
           self.cfg.workgroup, self.ns and (", name service on port " .. self.name_port) or "")
  return self
end

function Service:count(what)
  self.counts[what] = self.counts[what] + 1
  return self.counts[what]
end

function Service:drop(what, fmt, ...)
  local n = self:count(what)
  self:log_often("info", "dropped %s datagram (%s #%d): " .. fmt, what, what, n, ...)
  return what
end

-- Browser announcements: taken whatever group they are addressed to.
local BROWSER = { ["\\MAILSLOT\\BROWSE"] = true, ["\\MAILSLOT\\LANMAN"] = true }

-- Is the destination one of the names this machine answers to?
function Service:for_us(name)
  name = name:upper()
  local cfg = self.cfg
  if name == cfg.computer_name or name == cfg.workgroup or name == "*" or name == "*SMBSERVER"
      or name == "\1\2__MSBROWSE__\2" then
    return true
  end
  for _, d in ipairs(cfg.domains) do
    if d == name then return true end
  end
  return false
end

-- The NetBIOS header names the sender's address (SOURCE_IP), and anyone can
-- write anything there; the UDP source address is what the network says.
-- On a LAN the two agree (a sender writes the address of the interface it
-- sends from), so a datagram whose header disagrees is forged, or comes
-- through a NAT that the protocol does not survive anyway: it is dropped,
-- and what a reader is told is always the UDP source. The header's
-- SOURCE_PORT is kept as the sender's port: it is where replies go (RFC
-- 1002), and our own writers send from another port than the one they name.
local function source_agrees(d, ip)
  return d.source_ip == ip
end

function Service:is_duplicate(sender, key, now)
  return self.window ~= nil and not self.window:admit(sender, key, now)
end

--- Handles one datagram received from `ip`:`port`; returns what became of
-- it: "delivered" or the counter it was dropped under.
function Service:handle(bytes, ip, port)
  self:count("received")
  local d, reason = nbt.decode_datagram(bytes)
  if not d then
    if reason == "fragmented" then
      return self:drop("fragmented", "from %s:%d", ip, port)
    end
    return self:drop("malformed", "%s, %d bytes from %s:%d", reason, #bytes, ip, port)
  end
  local from = ("%s<%02X> %s:%d"):format(d.source_name, d.source_suffix, ip, port)
  if not source_agrees(d, ip) then
    return self:drop("forged", "header says it comes from %s, but it came from %s", d.source_ip, from)
  end
  if not self:for_us(d.dest_name) and not (d.type ~= nbt.DIRECT_UNIQUE and BROWSER[d.mailslot:upper()]) then
    return self:drop("foreign", "to %s<%02X> from %s", d.dest_name, d.dest_suffix, from)
  end
  if d.type ~= nbt.DIRECT_UNIQUE and self.own[ip] and d.source_name:upper() == self.cfg.computer_name then
    return self:drop("own", "%s from %s", d.mailslot, from)
  end
  -- The body's length and CRC-32 stand for it: a key stays small however
  -- big the message (the window may hold thousands of keys).
  local key = table.concat({ d.id, d.mailslot:upper(), #d.data, crc32.sum(d.data) }, "\0")
  if self:is_duplicate(d.source_name, key, net_os.monotonic()) then
    return self:drop("duplicate", "id %d %s from %s", d.id, d.mailslot, from)
  end
  local path = d.mailslot:sub(11) -- after "\MAILSLOT\"
  local w, err, code = self:writer_for(path)
  if w then
    local ok
    ok, err, code = w:relay(d.data, { name = d.source_name:sub(1, 15), address = ip, port = d.source_port })
    if not ok then self:forget_writer(path) end
  end
  if code == "not_found" or code == "invalid_name" or code == "closed" then
    return self:drop("unknown", "no reader of %s (from %s)", d.mailslot, from)
  elseif code then
    return self:drop("refused", "%s (from %s)", err, from)
  end
  local n = self:count("delivered")
  self:log("debug", "delivered %d bytes to %s from %s (#%d)", #d.data, d.mailslot, from, n)
  return "delivered"
end

-- Writers are kept per mailslot: opening one asks the kernel for the reader's
-- published facts (sock_diag queries that walk every unix socket on the
-- machine), too much for every datagram. A kept
-- writer whose reader went away reconnects by itself on its next relay.
local MAX_WRITERS = 256

function Service:writer_for(path)
  local key = path:lower()
  local w = self.writers[key]
  if w then return w end
  local err, code
  w, err, code = core.open(path, { timeout = 0, dir = self.dir })
  if not w then return nil, err, code end
  if self.writer_count >= MAX_WRITERS then self:forget_writers() end
  self.writers[key], self.writer_count = w, self.writer_count + 1
  return w
end

function Service:forget_writer(path)
  local key = path:lower()
  if self.writers[key] then
    self.writers[key]:close()
    self.writers[key], self.writer_count = nil, self.writer_count - 1
  end
end

function Service:forget_writers()
  for _, w in pairs(self.writers) do w:close() end
  self.writers, self.writer_count = {}, 0
end

-- Answers a name query for our own name; ignores everything else.
function Service:answer(bytes, ip, port)
  local q = names.parse_query(bytes)
  if not q then return end
  self:count("name_queries")
  if q.name:upper() ~= self.cfg.computer_name or (q.suffix ~= 0x00 and q.suffix ~= 0x20) then return end
  if self.own[ip] and port == self.name_port then return end -- our own query, if any
  local address = net_os.source_for(ip, port)
  if not address then return end
  self.ns:sendto(names.positive_response(q, address), ip, port)
  local n = self:count("name_answers")
  self:log("debug", "answered name query for %s<%02X> from %s:%d with %s (#%d)", q.name, q.suffix, ip, port,
           address, n)
end

-- What the routing table said, kept a few seconds per address: asking costs
-- four system calls, and a writer sends request after request to one server.
local SOURCE_SECONDS, SOURCE_MAX = 10, 256

-- The source address for a datagram to `ip`: the interface's own when `ip`
-- is one of our broadcast addresses, else the one the routing table picks.
function Service:source_for(ip)
  for _, t in ipairs(self.cfg.targets) do
    if t.broadcast == ip then return t.address end
  end
  local now, known = core.monotime(), self.sources[ip]
  if known and known.expires > now then return known.address end
  if not known then
    if self.source_count >= SOURCE_MAX then self.sources, self.source_count = {}, 0 end
    self.source_count = self.source_count + 1
  end
  local address = net_os.source_for(ip, self.port) or "0.0.0.0"
  self.sources[ip] = { address = address, expires = now + SOURCE_SECONDS }
  return address
end

--- Sends one request read from the outbox (mailslot.net.outbox) as a
-- datagram from our port, in our name.
function Service:send_for(bytes, sender)
  local who = sender and ("uid %s pid %s"):format(tostring(sender.uid), tostring(sender.pid)) or "?"
  local req, err = outbox.decode(bytes)
  if not req then
    local n = self:count("bad_request")
    self:log_often("info", "dropped a bad request from %s (bad_request #%d): %s", who, n, err)
    return "bad_request"
  end
  -- Checked above; still, no local user's request may ever stop the service.
  local made, packet = pcall(nbt.encode_datagram, {
    type = req.type, id = req.id, source_ip = self:source_for(req.ip), source_port = self.port,
    source_name = self.cfg.computer_name, dest_name = req.dest, dest_suffix = req.suffix,
    mailslot = req.mailslot, data = req.data,
  })
  if not made then
    local n = self:count("bad_request")
    self:log_often("info", "dropped a bad request from %s (bad_request #%d): %s", who, n, packet)
    return "bad_request"
  end
  local ok, serr = self.sock:sendto(packet, req.ip, self.port)
  if not ok then
    self:log_often("warn", "cannot send for %s to %s: %s", who, req.ip, serr)
    return "failed"
  end
  local n = self:count("sent")
  self:log("debug", "sent %d bytes to %s<%02X> %s for %s at %s (#%d)", #req.data, req.dest, req.suffix,
           req.mailslot, who, req.ip, n)
  return "sent"
end

--- Waits up to `timeout` seconds (nil: forever) for datagrams and handles
-- every one waiting. Returns true, or false when a stop signal came.
function Service:step(timeout)
  local fds = { self.sock:getfd() }
  if self.ns then fds[#fds + 1] = self.ns:getfd() end
  if self.outbox then fds[#fds + 1] = self.outbox:getfd() end
  if self.signal_fd then fds[#fds + 1] = self.signal_fd end
  local ready = net_os.poll(fds, timeout) or {}
  if self.signal_fd and ready[self.signal_fd] then
    local sig = net_os.caught_signal()
    if sig then
      self:log("info", "stopping on %s", sig)
      self.stopping = true
      return false
    end
  end
  for _ = 1, 256 do -- bounded: a flood cannot starve the signal check
    local bytes, ip, port = self.sock:recvfrom()
    if not bytes then break end
    self:handle(bytes, ip, port)
  end
  if self.outbox then
    for _ = 1, 64 do
      local bytes = self.outbox:read(0)
      if not bytes then break end
      self:send_for(bytes, self.outbox:sender())
    end
  end
  if self.ns then
    for _ = 1, 64 do
      local bytes, ip, port = self.ns:recvfrom()
      if not bytes then break end
      self:answer(bytes, ip, port)
    end
  end
  return not self.stopping
end

--- Runs until SIGINT/SIGTERM (unless `signals` was false) or `stop()`,
-- then closes.
function Service:run()
  while not self.stopping do self:step(1) end
  self:close()
  return self
end

function Service:stop()
  self.stopping = true
end

--- The counters, `dedupe_evicted`: remembered writes the dedupe window
-- forgot early to stay within its bounds (their copies would be delivered),
-- and `unlogged`: log lines left out to stay within LOG_RATE.
function Service:stats()
  local t = {}
  for k, v in pairs(self.counts) do t[k] = v end
  t.dedupe_evicted = self.window and self.window:stats().evicted_entries or 0
  t.unlogged = self.unlogged or 0
  return t
end

function Service:summary()
  local parts = {}
  for _, c in ipairs(COUNTERS) do parts[#parts + 1] = c .. "=" .. self.counts[c] end
  parts[#parts + 1] = "dedupe_evicted=" .. self:stats().dedupe_evicted
  parts[#parts + 1] = "unlogged=" .. self:stats().unlogged
  return table.concat(parts, " ")
end

function Service:close()
  if self.sock then
    self:log("info", "stopped: %s", self:summary())
    self.sock:close()
  end
  if self.ns then self.ns:close() end
  if self.outbox then self.outbox:close() end
  self:forget_writers()
  if self.signal_fd then net_os.release_signals() end
  self.sock, self.ns, self.signal_fd, self.outbox = nil, nil, nil, nil
  return true
end

Service.__close = Service.close
Service.__gc = Service.close

M.Service = Service

return M
