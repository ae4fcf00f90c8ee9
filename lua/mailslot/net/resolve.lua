--- Finding a server's IPv4 address for `\\server\mailslot\x`, the way a
-- Windows machine would: an address literal as it is, then the system
-- resolver (unless `dns` is off), then a NetBIOS name query for `SERVER<00>`
-- broadcast on UDP `name_port` (137) through every configured interface.
--
--     local address, how = resolve.host("FILESRV", cfg)  --> "10.0.0.7", "netbios"
--     -- or nil, message, "unreachable"
--
-- In a task of a loop (`mailslot.loop.suspendable()`), both steps wait in
-- short sleeps of that task, so the loop's other tasks run meanwhile: the
-- system resolver works in the C library's threads (`net_os.lookup`), and a
-- name query's answer is looked for between sleeps. A queued writer or
-- `mailslot.open` of a remote name never holds up the loop. Elsewhere both
-- simply block.
-- @module mailslot.net.resolve
local net_os = require "mailslot.net_os"
local nbt = require "mailslot.nbt"
local config = require "mailslot.net.config"
local loop = require "mailslot.loop"

local M = {}

local next_id = math.random(0, 0xFFFF)

--- How often, in seconds, a task of a loop looks for an answer: a small
-- delay next to a name query's, and few wake-ups while one is pending.
M.POLL = 0.01

-- The next datagram on `sock` within `seconds`, or nil.
local function receive(sock, seconds)
  if not loop.suspendable() then return (sock:recvfrom(seconds)) end
  local deadline = net_os.monotonic() + seconds
  while true do
    local data = sock:recvfrom()
    if data then return data end
    local left = deadline - net_os.monotonic()
    if left <= 0 then return nil end
    loop.sleep(math.min(M.POLL, left))
  end
end

--- Broadcasts a NetBIOS name query for `name<suffix>` and waits, up to
-- `cfg.resolve_timeout` seconds in all, for a positive answer. Sends the
-- query three times, as nmbd does, spread over the timeout.
-- @return address, or nil, message, "unreachable"
function M.name_query(name, suffix, cfg)
  if not cfg.targets[1] then
    return nil, "no interface to send a NetBIOS name query through", "unreachable"
  end
  local sock, err, code = net_os.udp{ broadcast = true }
  if not sock then return nil, err, code end
  next_id = (next_id + 1) & 0xFFFF
  local id = next_id
  local query = nbt.encode_name_query{ id = id, name = name, suffix = suffix or 0, broadcast = true }
  local deadline = net_os.monotonic() + cfg.resolve_timeout
  local tries, sent = 3, 0
  local answer
  while not answer do
    local now = net_os.monotonic()
    if now >= deadline then break end
    if sent < tries then
      for _, t in ipairs(cfg.targets) do sock:sendto(query, t.broadcast, cfg.name_port) end
      sent = sent + 1
    end
    local slice = sent < tries and cfg.resolve_timeout / tries or deadline - now
    local until_ = math.min(deadline, net_os.monotonic() + slice)
    while not answer do
      local left = until_ - net_os.monotonic()
      if left <= 0 then break end
      local data = receive(sock, left)
      if not data then break end
      local r = nbt.decode_name_query_response(data)
      if r and r.id == id and r.name:upper() == name:upper() and r.addresses[1] then
        answer = r.addresses[1]
      end
    end
  end
  sock:close()
  if answer then return answer end
  return nil, ("no answer to a NetBIOS name query for %s<%02X> within %gs"):format(
    name, suffix or 0, cfg.resolve_timeout), "unreachable"
end

-- The system resolver's addresses for `host`, as net_os.resolve gives them.
local function system_resolve(host)
  if not (net_os.LOOKUP_ASYNC and loop.suspendable()) then return net_os.resolve(host) end
  local lookup <close>, err, code = net_os.lookup(host)
  if not lookup then return nil, err, code end
  while not lookup:done() do loop.sleep(M.POLL) end
  return lookup:result()
end

--- The address of `host`, and how it was found ("literal", "dns", "netbios").
function M.host(host, cfg)
  cfg = cfg or config.get()
  if config.parse_ipv4(host) then return host, "literal" end
  local reasons = {}
  if cfg.dns then
    local list, err = system_resolve(host)
    if list and list[1] then return list[1], "dns" end
    reasons[#reasons + 1] = err
  end
  local name = config.netbios_name(host, "server name")
  if name then
    local address, err = M.name_query(name, 0x00, cfg)
    if address then return address, "netbios" end
    reasons[#reasons + 1] = err
  end
  return nil, ("cannot find server %s: %s"):format(host, table.concat(reasons, "; ")), "unreachable"
end

return M
