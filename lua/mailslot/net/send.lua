--- Network writers: what `mailslot.open` returns for `\\server\mailslot\x`,
-- `\\domain\mailslot\x` and `\\*\mailslot\x` on POSIX systems.
--
-- - `\\server\...`: one direct-unique datagram (0x10) to `SERVER<00>` at the
--   server's address (see mailslot.net.resolve), found when the writer opens.
-- - `\\*\...` (the workgroup) and `\\domain\...` (the workgroup or one of the
--   configured `domains`): one direct-group datagram (0x11) to `GROUP<00>`,
--   sent to the broadcast address of every configured interface. A write to
--   our own workgroup also goes to this machine's reader of that name, as on
--   Windows; `mailslot serve` ignores its own group datagrams coming back.
--
-- The writer has the local writer's interface: `write`, `writemany`, `close`
-- (also `__close` and `__gc`), `name`, `settimeout`, `getfd`/`pollfd` (the
-- UDP socket's descriptor), `events` (`"w"`), `timeout` (nil: a network write
-- never waits), `__tostring`. A message longer
-- than Windows allows for that name (424 bytes for a 5-8 character name,
-- PROTOCOL.md §3) is refused with `too_big` before anything is sent.
-- Options: `timeout` and `dir` (as for a local writer, used for the local
-- copy of a group write: when this machine's reader of the name cannot take
-- it within `timeout`, the write fails rather than lose it silently) and `suffix`, the destination name's suffix byte
-- (default 0x00; browser traffic uses 0x1D and 0x1E).
--
-- When `mailslot serve` runs on this machine, the datagrams leave from its
-- port (138) through its outbox (mailslot.net.outbox), as Windows sends
-- them, so answers addressed to the sender's port reach the service and this
-- machine's reader of the mailslot they name. Without a service (or when it
-- cannot take the request within a second) the writer sends from its own
-- socket on an ephemeral port: the datagram is the same, but an answer sent
-- back to that port finds nobody.
-- @module mailslot.net.send
local core = require "mailslot.core"
local nbt = require "mailslot.nbt"
local net_os = require "mailslot.net_os"
local config = require "mailslot.net.config"
local resolve = require "mailslot.net.resolve"
local outbox = require "mailslot.net.outbox"

local M = {}

local Writer = {}
Writer.__index = Writer

-- One datagram id per write, shared by every copy of it: receivers spot the
-- copies that arrive through more than one interface by (source name, id).
local next_id = math.random(0, 0xFFFF)

-- A writer is marked by its field is_network_writer: a table read tells
-- one, where getmetatable (a call, and a lookup of "__metatable") cost a
-- tenth of a whole write.
local function check(self)
  if type(self) ~= "table" or not self.is_network_writer then
    error("bad argument #1 (network mailslot writer expected)", 3)
  end
  if not self.sock then error("attempt to use a closed mailslot", 3) end
  return self
end

local OPTIONS = { timeout = true, dir = true, suffix = true }

-- As the core's: nil or math.huge = forever, 0 = do not wait.
local function valid_seconds(t)
  return t == nil or (type(t) == "number" and t == t and t >= 0)
end

-- A writer with these fields. What write reads is set, false when it does
-- not apply: a field a writer lacks is looked for in Writer too.
local function new(fields)
  fields.is_network_writer = true
  fields.local_copy, fields.outbox, fields.only = false, false, false
  return setmetatable(fields, Writer)
end

-- The socket, the size limit and the outbox: what every writer needs.
local function finish(self, suffix)
  self.suffix = suffix
  self.limit = nbt.max_data(self.mailslot)
  local sock, err, code = net_os.udp{ broadcast = true }
  if not sock then return nil, ("cannot open mailslot %s: %s"):format(self.full, err), code end
  self.sock = sock
  self.outbox = outbox.open(self.cfg.port) or false
  return self
end

-- A group write's targets: every interface's broadcast address, sent from our address there.
local function broadcast_targets(cfg)
  local targets = {}
  for _, t in ipairs(cfg.targets) do targets[#targets + 1] = { ip = t.broadcast, source = t.address } end
  return targets
end

--- Opens a network writer for a parsed name (`mailslot.parse`).
-- @return writer, or nil, message, code
function M.open(parsed, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'open' (table expected, got " .. type(opts) .. ")", 2)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTIONS[k] then error(("bad option %s to 'open' (unknown option)"):format(tostring(k)), 2) end
  end
  local suffix = opts.suffix or 0
  if math.type(suffix) ~= "integer" or suffix < 0 or suffix > 255 then
    error("bad option 'suffix' (integer 0..255 expected)", 2)
  end
  if opts.dir ~= nil and type(opts.dir) ~= "string" then error("bad option 'dir' (string expected)", 2) end
  if not valid_seconds(opts.timeout) then
    error("bad option 'timeout' (expected seconds >= 0, nil or math.huge)", 2)
  end

  local cfg = config.get()
  local self = new{
    full = parsed.name, path = parsed.path, cfg = cfg, dir = opts.dir,
    wait = opts.timeout, mailslot = "\\MAILSLOT\\" .. parsed.path:upper(),
  }
  local host = parsed.host
  if parsed.kind == "broadcast" or config.is_group(cfg, host) then
    local group = host == "*" and cfg.workgroup or host:upper()
    self.type, self.dest = nbt.DIRECT_GROUP, group
    self.local_copy = group == cfg.workgroup
    self.targets = broadcast_targets(cfg)
    if not self.targets[1] and not self.local_copy then
      return nil, ("cannot open mailslot %s: no network interface to broadcast on"):format(self.full),
          "unreachable"
    end
  else
    local address, err, code = resolve.host(host, cfg)
    if not address then return nil, ("cannot open mailslot %s: %s"):format(self.full, err), code end
    local source = net_os.source_for(address, cfg.port)
    self.type, self.dest = nbt.DIRECT_UNIQUE, config.netbios_name(host, "server name") or "*SMBSERVER"
    if config.parse_ipv4(host) then self.dest = "*SMBSERVER" end
    self.targets = { { ip = address, source = source or "0.0.0.0" } }
  end
  return finish(self, suffix)
end

--- A writer of group datagrams to `GROUP<suffix>` on every interface's
-- broadcast address, for any group name (browser traffic to another
-- workgroup), with no local copy. `path` as after `\mailslot\`; `cfg`, when
-- given, the configuration its caller already read (config.get()).
function M.open_group(group, path, suffix, cfg)
  cfg = cfg or config.get()
  local self = new{
    full = ("\\\\%s\\mailslot\\%s"):format(group, path), path = path, cfg = cfg,
    mailslot = "\\MAILSLOT\\" .. path:upper(), type = nbt.DIRECT_GROUP, dest = group:upper(),
    targets = broadcast_targets(cfg),
  }
  if not self.targets[1] then
    return nil, ("cannot open mailslot %s: no network interface to broadcast on"):format(self.full), "unreachable"
  end
  return finish(self, suffix or 0)
end

-- The function that sends a datagram to target `t` from the writer's own
-- socket: made once per target (mailslot_sender), as the datagram without
-- data, whose id and lengths it fills in on each write.
local function sender(self, t)
  local head = nbt.encode_datagram{
    type = self.type, source_ip = t.source, source_port = self.cfg.port,
    source_name = self.cfg.computer_name, dest_name = self.dest, dest_suffix = self.suffix,
    mailslot = self.mailslot, data = "",
  }
  t.send = self.sock:mailslot_sender(head, t.ip, self.cfg.port)
  -- A writer with this one target, no outbox and no local copy: write
  -- calls it straight, without the loop over targets.
  if #self.targets == 1 and not self.outbox and not self.local_copy then self.only = t.send end
  return t.send
end

local function cannot_write(self, err, code)
  return nil, ("cannot write to mailslot %s: %s"):format(self.full, err or "nowhere to send"), code or "unreachable"
end

-- Sends one copy to target `t` through the service's outbox (falling back
-- to our own socket for good when it fails).
local function send_via_outbox(self, t, id, data)
  local ok = self.outbox:write(outbox.encode{ id = id, type = self.type, dest = self.dest, suffix = self.suffix,
                                              mailslot = self.mailslot, data = data, ip = t.ip })
  if ok then return true end
  self.outbox:close()
  self.outbox = false
  return (t.send or sender(self, t))(id, data)
end

--- Sends `data` as one mailslot write. Best effort, as on Windows: success
-- when at least one copy left this machine (or reached the local reader).
function Writer:write(data)
  -- check(self) inline, and without type(): a call that costs a tenth of a
  -- write. A self that is nil (w.write instead of w:write) gets this error
  -- too; one that cannot be indexed otherwise (a number) gets Lua's own.
  if self == nil or not self.is_network_writer then
    error("bad argument #1 (network mailslot writer expected)", 2)
  end
  if not self.sock then error("attempt to use a closed mailslot", 2) end
  if type(data) ~= "string" then
    error("bad argument #1 to 'write' (string expected, got " .. type(data) .. ")", 2)
  end
  if #data > self.limit then
    return nil, ("message of %d bytes is too big for mailslot %s (at most %d bytes on the network)"):format(
      #data, self.full, self.limit), "too_big"
  end
  local id = (next_id + 1) & 0xFFFF
  next_id = id
  local only = self.only
  if only then
    local ok, err, code = only(id, data)
    if ok then return #data end
    return cannot_write(self, err, code)
  end
  local sent, last_err, last_code = 0, nil, nil
  local targets = self.targets
  for i = 1, #targets do
    local t = targets[i]
    local ok, err, code
    if self.outbox then
      ok, err, code = send_via_outbox(self, t, id, data)
    else
      ok, err, code = (t.send or sender(self, t))(id, data)
    end
    if ok then sent = sent + 1 else last_err, last_code = err, code end
  end
  if self.local_copy then
    -- No local reader of the name: nothing to deliver here. A reader that
    -- cannot take the message in time: the write fails, as a local one does.
    local w = core.open(self.path, { timeout = self.wait, dir = self.dir })
    if w then
      local n, err, code = w:write(data)
      w:close()
      if not n then
        return nil, ("cannot write to mailslot %s on this machine: %s"):format(self.full, err), code
      end
      sent = sent + 1
    end
  end
  if sent == 0 then return cannot_write(self, last_err, last_code) end
  return #data
end

function Writer:name()
  check(self)
  return self.full
end

--- Sends the strings of `array` in order, one write each.
-- @return `#array`, or nil, message, code, how many went before the failure
function Writer:writemany(array)
  check(self)
  if type(array) ~= "table" then
    error("bad argument #1 to 'writemany' (table expected, got " .. type(array) .. ")", 2)
  end
  for i = 1, #array do
    if type(array[i]) ~= "string" then
      error(("bad argument #1 to 'writemany' (string expected at index %d, got %s)"):format(i, type(array[i])), 2)
    end
  end
  for i = 1, #array do
    local n, err, code = self:write(array[i])
    if not n then return nil, err, code, i - 1 end
  end
  return #array
end

function Writer:settimeout(t)
  check(self)
  if not valid_seconds(t) then error("bad timeout (expected seconds >= 0, nil or math.huge)", 2) end
  self.wait = t
  return self
end

--- For event loops: the UDP socket's descriptor (-1 where there is none).
function Writer:getfd()
  check(self)
  return self.sock:getfd() or -1
end
Writer.pollfd = Writer.getfd

function Writer.events()
  return "w"
end

--- A network write never waits for room: no timeout for a poller.
function Writer.timeout()
  return nil
end

function Writer:close()
  if self.sock then self.sock:close() end
  if self.outbox then self.outbox:close() end
  self.sock, self.outbox = nil, nil
  return true
end

Writer.__close = Writer.close
Writer.__gc = Writer.close

function Writer.__tostring(self)
  if not self.sock then return "mailslot writer (closed)" end
  return "mailslot writer " .. self.full
end

M.Writer = Writer

return M
