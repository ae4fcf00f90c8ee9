--- Browsing the LAN the way `net view` and Samba's `smbtree -N` do: the
-- workgroups and the machines of this subnet, with their server type, OS
-- version and comment, learnt from the browser protocol ([MS-BRWS]).
--
-- It reads `\MAILSLOT\BROWSE` and `\MAILSLOT\LANMAN` (HostAnnouncement,
-- LocalMasterAnnouncement, DomainAnnouncement, GetBackupListResponse), and
-- asks, again every `interval` seconds:
--   - the master browsers of every workgroup to say where they are (a
--     NetBIOS name query for `\1\2__MSBROWSE__\2<01>`, as `nmblookup -M -`),
--     then each answering host, and each machine whose workgroup is not
--     known, for its names (node status, as `nmblookup -A`): that tells its
--     workgroup (its group `<00>` name) and whether it is master (`WG<1D>`);
--   - every workgroup it knows, an AnnouncementRequest (so its machines
--     announce now rather than in 12 minutes), and its master browser
--     (`WG<1D>`) a GetBackupListRequest.
-- Those datagrams reach it through `mailslot serve` on this machine, which
-- owns UDP 138 (the requests leave from it too, so the answers come back);
-- when none runs, `browse` runs one inside this process if it may bind the
-- port (root, or CAP_NET_BIND_SERVICE).
--
--     local browser = require "mailslot.browser"
--     local list = assert(browser.browse{ timeout = 10 })
--     for _, m in ipairs(list.machines) do print(m.name, m.workgroup, m.comment) end
--
-- A machine's workgroup is nil until a node status answer, a
-- DomainAnnouncement (for a master browser) or a backup list tells it:
-- announcements do not carry it.
-- @module mailslot.browser
local core = require "mailslot.core"
local nbt = require "mailslot.nbt"
local net_os = require "mailslot.net_os"
local names = require "mailslot.net.names"
local config = require "mailslot.net.config"
local send = require "mailslot.net.send"
local outbox = require "mailslot.net.outbox"
local frames = require "mailslot.browser.frames"

local M = {}
M.frames = frames

local Browser = {}
Browser.__index = Browser

--- What hosts can make a browser remember and send. Any host of the subnet
-- may announce any names, and every new workgroup is asked at once (two
-- group datagrams on every interface), then again each round: without
-- bounds one host could fill the memory of a `browse --watch` and make
-- every browser of the LAN flood it with requests. Past a bound, new
-- machines and workgroups are ignored and counted (`Browser.ignored`);
-- what is known goes on being updated.
-- `machines`, `workgroups`: how many are remembered; `addresses`: how many
-- addresses of one master browser's answer are asked for their names;
-- `statuses`: node status requests sent in one round.
M.LIMITS = { machines = 4096, workgroups = 64, addresses = 4, statuses = 256 }

--- The readers a browser listens on. One place makes them, so whatever
-- option readers need to take network messages is added here.
function M.readers(opts)
  local list = {}
  for _, path in ipairs{ "browse", "lanman" } do
    local r, err, code = core.create(path, { dir = opts.dir, network = true })
    if not r then
      for _, other in ipairs(list) do other:close() end
      return nil, ("cannot listen on \\mailslot\\%s: %s"):format(path, err), code
    end
    list[#list + 1] = r
  end
  return list
end

--- A browser: listens at once; `ask` sends the requests. `opts`: `dir`
-- (as for mailslot.create), `interval` (seconds between rounds of
-- requests, default 5), `service` (false: never start one in this process).
function M.new(opts)
  opts = opts or {}
  local cfg = config.get()
  local self = setmetatable({
    cfg = cfg, machines = {}, workgroups = {}, tokens = {}, old_tokens = {}, next_token = 0, pending = {},
    machine_count = 0, workgroup_count = 0, status_count = 0,
    interval = opts.interval or 5, next_ask = 0, next_id = math.random(0, 0xFFFF), statused = {}, expires = {},
  }, Browser)
  local probe = outbox.open(cfg.port)
  if probe then
    probe:close()
  elseif opts.service ~= false then
    local svc = require("mailslot.net.service").new{ signals = false, name_service = false, dir = opts.dir,
                                                      log = function() end }
    local ok, err, code = svc:start()
    if not ok then
      return nil, ("no mailslot serve runs on this machine, and none can start here: %s"):format(err), code
    end
    self.service = svc
  end
  local readers, err, code = M.readers(opts)
  if not readers then
    self:close()
    return nil, err, code
  end
  self.readers = readers
  local sock
  sock, err, code = net_os.udp{ broadcast = true }
  if not sock then
    self:close()
    return nil, err, code
  end
  self.sock = sock
  self:workgroup(cfg.workgroup)
  return self
end

-- Counts what a bound made us ignore.
function Browser:ignore(what)
  self.ignored = self.ignored or { machines = 0, workgroups = 0 }
  self.ignored[what] = self.ignored[what] + 1
end

-- The record of workgroup `name`, and whether it is new (then the next
-- step asks it at once); nil when it is new and LIMITS.workgroups are known.
function Browser:workgroup(name)
  local key = name:upper()
  local w = self.workgroups[key]
  if w then return w, false end
  if self.workgroup_count >= M.LIMITS.workgroups then
    self:ignore("workgroups")
    return nil, false
  end
  w = { name = key }
  self.workgroups[key] = w
  self.workgroup_count = self.workgroup_count + 1
  self.pending[#self.pending + 1] = key
  self.ask_now = true
  return w, true
end

-- Merges `fields` into machine `name`; returns the record and whether it
-- changed (nil, false: a new machine past LIMITS.machines, or no name).
function Browser:update(name, fields)
  local key = name:upper()
  local m = self.machines[key]
  local changed = false
  if not m then
    if key == "" then return nil, false end
    if self.machine_count >= M.LIMITS.machines then
      self:ignore("machines")
      return nil, false
    end
    m = { name = key }
    self.machines[key] = m
    self.machine_count = self.machine_count + 1
    changed = true
  end
  for k, v in pairs(fields) do
    if v ~= nil and m[k] ~= v and k ~= "types" then
      m[k] = v
      changed = true
    end
  end
  if m.server_type then m.types = frames.server_types(m.server_type) end
  return m, changed
end

local function os_version(f) return ("%d.%d"):format(f.os_major, f.os_minor) end

--- Learns from one browser frame `body` sent by `sender` (reader:sender()).
-- Returns an array of changes: { what = "machine" | "workgroup", item = record }
-- (`step` adds { what = "gone" } for a machine that stopped announcing).
function Browser:learn(body, sender)
  local f = frames.parse(body)
  local changes = {}
  if not f then return changes end
  sender = sender or {}
  local noted = {}
  local function note(what, item, changed)
    if changed and not noted[item] then
      noted[item] = true
      changes[#changes + 1] = { what = what, item = item }
    end
  end
  if f.kind == "host_announcement" or f.kind == "local_master_announcement" then
    local fields = { server_type = f.server_type, os_version = os_version(f), comment = f.comment,
                     address = sender.address }
    if f.kind == "local_master_announcement" then fields.master_browser = true end
    local m, changed = self:update(f.name, fields)
    if not m then return changes end
    note("machine", m, changed)
    -- Gone when three announcements in a row are missed, as browsers judge it.
    self.expires[m.name] = core.monotime() + 3 * math.max(f.periodicity, 60000) / 1000
    if m.address and not m.workgroup then self:node_status(m.address) end
  elseif f.kind == "domain_announcement" then
    local w, new = self:workgroup(f.name)
    if not w then return changes end
    local master = f.master ~= "" and f.master:upper() or w.master
    note("workgroup", w, new or w.master ~= master)
    w.master = master
    if w.master then
      note("machine", self:update(w.master, { workgroup = w.name, master_browser = true, address = sender.address }))
    end
  elseif f.kind == "get_backup_list_response" then
    local wg = self.tokens[f.token] or self.old_tokens[f.token]
    for _, name in ipairs(f.servers) do
      note("machine", self:update(name, { workgroup = wg }))
    end
  end
  -- A master browser we know: its workgroup is the one it is master of.
  for _, w in pairs(self.workgroups) do
    local m = w.master and self.machines[w.master]
    if m and not m.workgroup then
      m.workgroup = w.name
      note("machine", m, true)
    end
  end
  return changes
end

local MSBROWSE = "\1\2__MSBROWSE__\2"

-- Learns from a node status answer: the host's name, workgroup and role.
function Browser:learn_names(status, ip)
  local machine, group, master
  for _, n in ipairs(status.names) do
    if n.suffix == 0x00 and not n.group then machine = n.name
    elseif n.suffix == 0x00 and n.group and n.name ~= MSBROWSE then group = n.name
    elseif n.suffix == 0x1D and not n.group then master = n.name
    end
  end
  local changes = {}
  if not machine or not group then return changes end
  local w, new = self:workgroup(group)
  if not w then return changes end
  if new or (master and w.master ~= machine:upper()) then
    if master then w.master = machine:upper() end
    changes[#changes + 1] = { what = "workgroup", item = w }
  end
  local m, changed = self:update(machine, { workgroup = w.name, address = ip, master_browser = master and true })
  if m and changed then changes[#changes + 1] = { what = "machine", item = m } end
  return changes
end

-- Asks `ip` for its names, at most once per round, and at most
-- LIMITS.statuses hosts a round.
function Browser:node_status(ip)
  if self.statused[ip] or self.status_count >= M.LIMITS.statuses then return end
  self.statused[ip] = true
  self.status_count = self.status_count + 1
  self.next_id = (self.next_id + 1) & 0xFFFF
  self.sock:sendto(names.node_status_request(self.next_id), ip, self.cfg.name_port)
end

-- One answer on the name service socket.
function Browser:learn_name_service(bytes, ip)
  local status = names.parse_node_status(bytes)
  if status then return self:learn_names(status, ip) end
  local r = nbt.decode_name_query_response(bytes)
  if r and r.name == MSBROWSE then
    -- A master browser names its own addresses: a few, not a list of others to ask.
    for i = 1, math.min(#r.addresses, M.LIMITS.addresses) do self:node_status(r.addresses[i]) end
  end
  return {}
end

-- Asks workgroup `name` to announce itself, and its master browser for its
-- backup list (the token the answer carries tells which workgroup it is).
function Browser:ask_workgroup(name)
  local w = send.open_group(name, "browse", 0x00, self.cfg)
  if w then
    w:write(frames.announcement_request(self.cfg.computer_name))
    w:close()
  end
  self.next_token = (self.next_token + 1) & 0xFFFFFFFF
  self.tokens[self.next_token] = name
  w = send.open_group(name, "browse", 0x1D, self.cfg)
  if w then
    w:write(frames.get_backup_list_request(4, self.next_token))
    w:close()
  end
end

--- Asks the workgroups learnt since the last request, and only them.
function Browser:ask_new()
  local list = self.pending
  self.pending = {}
  for _, name in ipairs(list) do
    if self.workgroups[name] then self:ask_workgroup(name) end
  end
end

--- Sends one round of requests to every known workgroup.
function Browser:ask()
  self.statused, self.status_count, self.pending = {}, 0, {}
  -- Answers to the last round's tokens may still come; older ones are forgotten.
  self.old_tokens, self.tokens = self.tokens, {}
  self.next_id = (self.next_id + 1) & 0xFFFF
  local query = nbt.encode_name_query{ id = self.next_id, name = MSBROWSE, suffix = 0x01, broadcast = true }
  for _, t in ipairs(self.cfg.targets) do self.sock:sendto(query, t.broadcast, self.cfg.name_port) end
  for _, m in pairs(self.machines) do
    if m.address and not m.workgroup then self:node_status(m.address) end
  end
  for name in pairs(self.workgroups) do self:ask_workgroup(name) end
end

--- Forgets the machines that stopped announcing themselves by `now`
-- (core.monotime()); returns the changes: { what = "gone", item = record }.
function Browser:expire(now)
  local changes = {}
  for name, t in pairs(self.expires) do
    if t <= now then
      self.expires[name] = nil
      if self.machines[name] then
        changes[#changes + 1] = { what = "gone", item = self.machines[name] }
        self.machines[name] = nil
        self.machine_count = self.machine_count - 1
      end
    end
  end
  return changes
end

--- Waits up to `timeout` seconds for frames, learns from all of them and
-- asks again when a round is due. Returns the changes (maybe none).
function Browser:step(timeout)
  local now = core.monotime()
  if now >= self.next_ask then
    self.ask_now = false
    self:ask()
    self.next_ask = now + self.interval
  elseif self.ask_now then
    -- A new workgroup: asked now, alone; the others wait for their round.
    self.ask_now = false
    self:ask_new()
  end
  timeout = math.min(timeout or self.interval, math.max(0, self.next_ask - now))
  local fds = { self.sock:getfd() }
  for _, r in ipairs(self.readers) do fds[#fds + 1] = r:getfd() end
  if self.service then
    self.service:step(math.min(timeout, 0.05))
    timeout = 0
  end
  net_os.poll(fds, timeout)
  local changes = {}
  for _ = 1, 64 do
    local bytes, ip = self.sock:recvfrom()
    if not bytes then break end
    for _, c in ipairs(self:learn_name_service(bytes, ip)) do changes[#changes + 1] = c end
  end
  for _, r in ipairs(self.readers) do
    for _ = 1, 64 do
      local body = r:read(0)
      if not body then break end
      for _, c in ipairs(self:learn(body, r:sender())) do changes[#changes + 1] = c end
    end
  end
  if self.service then self.service:step(0) end -- sends what we asked now, not in a round's time
  for _, c in ipairs(self:expire(core.monotime())) do changes[#changes + 1] = c end
  return changes
end

local function sorted(set)
  local list = {}
  for _, v in pairs(set) do list[#list + 1] = v end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

--- What is known now: { workgroups = { {name, master}... }, machines = {...} }, sorted by name.
function Browser:list()
  return { workgroups = sorted(self.workgroups), machines = sorted(self.machines) }
end

function Browser:close()
  for _, r in ipairs(self.readers or {}) do r:close() end
  if self.service then self.service:close() end
  if self.sock then self.sock:close() end
  self.readers, self.service, self.sock = nil, nil, nil
  return true
end
Browser.__close = Browser.close
Browser.__gc = Browser.close

--- Browses for `opts.timeout` seconds (default 10) and returns the list.
-- `opts.on_change(change)` is called as things are learnt. Other `opts`
-- as for `new`. Returns nil, message, code when it cannot listen.
function M.browse(opts)
  opts = opts or {}
  local b, err, code = M.new(opts)
  if not b then return nil, err, code end
  local deadline = core.monotime() + (opts.timeout or 10)
  while true do
    local left = deadline - core.monotime()
    if left <= 0 then break end
    for _, c in ipairs(b:step(left)) do
      if opts.on_change then opts.on_change(c) end
    end
  end
  local list = b:list()
  b:close()
  return list
end

M.Browser = Browser

return M
