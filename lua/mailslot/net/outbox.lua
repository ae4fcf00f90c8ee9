--- The local channel from network writers to `mailslot serve`, so their
-- datagrams leave from the service's port-138 socket as Windows' do, and the
-- answers (which go to the sender's address and port) come back to the
-- service and on to this machine's reader of the mailslot they name.
--
-- The channel is a mailslot reader the service owns, `outbox-PORT`, kept as
-- a socket file in a directory only its owner can write to: writers must
-- not hand their messages to a reader some other local user made.
--   - `MAILSLOT_OUTBOX_DIR` when set (for containers and specs);
--   - a service run by root: /run/lua-mailslot (made 0755), every local
--     user may use it, as every Windows user may write remote mailslots;
--   - another user's service: $XDG_RUNTIME_DIR/lua-mailslot (that user's only).
-- Writers look in that order (their own runtime dir before root's), and
-- only in a directory where no other user can put a socket file
-- (net_os.private_dir): root's writer after `su` still has the user's
-- XDG_RUNTIME_DIR, and must not hand its messages to a reader that user made
-- there. No service, or one that went away: writers send from their own socket.
--
-- A request is one `mailslot.codec` message: { id =, type = 0x10 | 0x11,
-- dest =, suffix =, mailslot =, data =, ip = }. The service builds the
-- datagram itself, with its own name, address and port: the asking user
-- chooses where to and what, never who it claims to be.
-- @module mailslot.net.outbox
local core = require "mailslot.core"
local codec = require "mailslot.codec"
local nbt = require "mailslot.nbt"
local config = require "mailslot.net.config"
local net_os = require "mailslot.net_os"

local M = {}

--- When set, the one directory used instead of the defaults (as
-- MAILSLOT_OUTBOX_DIR, for a program that embeds a service, and specs).
M.DIR = nil

local ROOT_DIR = "/run/lua-mailslot"

local function runtime_dir()
  local xdg = os.getenv("XDG_RUNTIME_DIR")
  if xdg and xdg:sub(1, 1) == "/" then return xdg .. "/lua-mailslot" end
end

--- The outbox's mailslot name for a service on `port`.
function M.name(port)
  return "outbox-" .. port
end

--- The directories writers look in, in order.
local function override()
  local over = M.DIR or os.getenv("MAILSLOT_OUTBOX_DIR")
  if over and over ~= "" then return over end
end

function M.dirs()
  local over = override()
  if over then return { over } end
  local list = {}
  list[#list + 1] = runtime_dir()
  list[#list + 1] = ROOT_DIR
  return list
end

--- The service's outbox reader for `port`, or nil, message (it then runs
-- without one: writers send from their own sockets).
function M.create(port)
  local over = override()
  local tries = {}
  if over then
    tries[1] = { dir = over, allow = "all" }
  else
    -- Only root can make or write /run/lua-mailslot: for anyone else this
    -- fails and the private runtime dir is next.
    os.execute("mkdir -m 0755 " .. ROOT_DIR .. " 2>/dev/null")
    tries[1] = { dir = ROOT_DIR, allow = "all" }
    local rt = runtime_dir()
    if rt then tries[2] = { dir = rt, allow = "user" } end
  end
  local last = "no directory for it (set XDG_RUNTIME_DIR or MAILSLOT_OUTBOX_DIR)"
  for _, t in ipairs(tries) do
    local r, err = core.create(M.name(port), { dir = t.dir, allow = t.allow, max_size = 4096 })
    if r then return r, t.dir end
    last = err
  end
  return nil, last
end

--- A writer to the outbox of the service on `port`, or nil when none runs.
function M.open(port)
  local chosen = override() ~= nil -- the caller's own choice: taken as it is
  for _, dir in ipairs(M.dirs()) do
    local w = (chosen or net_os.private_dir(dir)) and core.open(M.name(port), { dir = dir, timeout = 1 })
    if w then return w end
  end
end

--- The request for one datagram (see above), as bytes.
function M.encode(req)
  return codec.encode{ id = req.id, type = req.type, dest = req.dest, suffix = req.suffix,
                       mailslot = req.mailslot, data = req.data, ip = req.ip }
end

local function int(v, max) return math.type(v) == "integer" and v >= 0 and v <= max end

--- Decodes and checks a request: the table, or nil, message, "invalid".
function M.decode(bytes)
  local req, err = codec.decode(bytes)
  if err then return nil, err, "invalid" end
  if type(req) ~= "table" then return nil, "request is not a table", "invalid" end
  if req.type ~= nbt.DIRECT_UNIQUE and req.type ~= nbt.DIRECT_GROUP then
    return nil, "bad datagram type", "invalid"
  end
  if not int(req.id, 0xFFFF) or not int(req.suffix, 0xFF) then return nil, "bad id or suffix", "invalid" end
  if type(req.dest) ~= "string" or #req.dest < 1 or #req.dest > 15 or req.dest:find("%z") then
    return nil, "bad destination name", "invalid"
  end
  -- Names as writers make them: under 260 characters after \\host\\mailslot\\.
  if type(req.mailslot) ~= "string" or #req.mailslot > 10 + 259
      or not req.mailslot:upper():find("^\\MAILSLOT\\[^%z]+$") then
    return nil, "bad mailslot name", "invalid"
  end
  if type(req.data) ~= "string" or #req.data > nbt.max_data(req.mailslot) then
    return nil, "bad or too big data", "invalid"
  end
  if type(req.ip) ~= "string" or not config.parse_ipv4(req.ip) then return nil, "bad address", "invalid" end
  return req
end

return M
