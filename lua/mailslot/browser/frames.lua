--- Browser protocol frames ([MS-BRWS] 2.2): the bodies of the mailslot
-- messages on `\MAILSLOT\BROWSE` and `\MAILSLOT\LANMAN`. Pure functions:
-- bytes in, a table out, and back. Little-endian throughout.
--
--     local frames = require "mailslot.browser.frames"
--     local f, err, code = frames.parse(body)   -- nil, message, "invalid" when bad
--     f.kind  --> "host_announcement", f.name, f.server_type, f.comment, ...
--     frames.announcement_request("MYHOST")     --> "\2\0MYHOST\0"
--     frames.server_types(0x1003)               --> { "workstation", "server", "nt" }
-- @module mailslot.browser.frames
local M = {}

M.OPCODES = {
  host_announcement = 0x01, announcement_request = 0x02, request_election = 0x08,
  get_backup_list_request = 0x09, get_backup_list_response = 0x0A, become_backup = 0x0B,
  domain_announcement = 0x0C, master_announcement = 0x0D, reset_state = 0x0E,
  local_master_announcement = 0x0F,
}
local KIND = {}
for k, v in pairs(M.OPCODES) do KIND[v] = k end

--- The SV_TYPE_* bits of a server type ([MS-RAP] 2.5.5.2.1), lowest first.
M.SERVER_TYPES = {
  { 0x00000001, "workstation" }, { 0x00000002, "server" }, { 0x00000004, "sql_server" },
  { 0x00000008, "domain_controller" }, { 0x00000010, "backup_controller" }, { 0x00000020, "time_source" },
  { 0x00000040, "afp" }, { 0x00000080, "novell" }, { 0x00000100, "domain_member" },
  { 0x00000200, "print_server" }, { 0x00000400, "dialin" }, { 0x00000800, "unix" }, { 0x00001000, "nt" },
  { 0x00002000, "wfw" }, { 0x00004000, "mfpn" }, { 0x00008000, "nt_server" },
  { 0x00010000, "potential_browser" }, { 0x00020000, "backup_browser" }, { 0x00040000, "master_browser" },
  { 0x00080000, "domain_master" }, { 0x00100000, "osf" }, { 0x00200000, "vms" }, { 0x00400000, "windows" },
  { 0x00800000, "dfs" }, { 0x01000000, "cluster_nt" }, { 0x02000000, "terminal_server" },
  { 0x04000000, "cluster_vs_nt" }, { 0x10000000, "dce" }, { 0x20000000, "alternate_transport" },
  { 0x40000000, "local_list_only" }, { 0x80000000, "domain_enum" },
}

--- The names of the bits set in `bits`, lowest first.
function M.server_types(bits)
  local out = {}
  for _, t in ipairs(M.SERVER_TYPES) do
    if bits & t[1] ~= 0 then out[#out + 1] = t[2] end
  end
  return out
end

local function invalid(fmt, ...)
  return nil, fmt:format(...), "invalid"
end

-- A NUL-terminated string at `pos`: the string and the position after the NUL.
local function cstring(body, pos)
  local nul = body:find("\0", pos, true)
  if not nul then return nil end
  return body:sub(pos, nul - 1), nul + 1
end

-- The three announcements share one layout (2.2.1, 2.2.7, 2.2.9): a
-- 32-byte fixed part, then a NUL-terminated string (the comment; for a
-- DomainAnnouncement the local master browser's name).
local function parse_announcement(kind, body)
  if #body < 33 then return invalid("%s of %d bytes (at least 33 expected)", kind, #body) end
  local update, period, raw, major, minor, stype, bmajor, bminor, sig = string.unpack("<BI4c16BBI4BBI2", body, 2)
  local name = raw:match("^([^%z]*)%z")
  if not name or name == "" then return invalid("%s with a bad name field", kind) end
  local comment = cstring(body, 33)
  if not comment then return invalid("%s whose comment has no NUL terminator", kind) end
  local f = {
    kind = kind, update_count = update, periodicity = period, name = name, os_major = major, os_minor = minor,
    server_type = stype, browser_major = bmajor, browser_minor = bminor, signature = sig, comment = comment,
  }
  if kind == "domain_announcement" then f.master = comment end
  return f
end

local function parse_names(kind, body, pos, n)
  local names = {}
  while pos <= #body do
    local s
    s, pos = cstring(body, pos)
    if not s then return invalid("%s whose name %d has no NUL terminator", kind, #names + 1) end
    names[#names + 1] = s
  end
  if n and #names < n then return invalid("%s announces %d names but holds %d", kind, n, #names) end
  return names
end

local PARSERS = {}
PARSERS.host_announcement = parse_announcement
PARSERS.domain_announcement = parse_announcement
PARSERS.local_master_announcement = parse_announcement

-- Receivers must ignore the name ([MS-BRWS] 2.2.2), and nmbd sends its
-- own with a reserved byte of 1 and no terminator: taken as it comes.
function PARSERS.announcement_request(kind, body)
  if #body < 2 then return invalid("%s of %d bytes (at least 2 expected)", kind, #body) end
  return { kind = kind, reserved = body:byte(2), name = (body:sub(3):gsub("%z", "")) }
end

function PARSERS.get_backup_list_request(kind, body)
  if #body ~= 6 then return invalid("%s of %d bytes (6 expected)", kind, #body) end
  local count, token = string.unpack("<BI4", body, 2)
  return { kind = kind, count = count, token = token }
end

function PARSERS.get_backup_list_response(kind, body)
  if #body < 6 then return invalid("%s of %d bytes (at least 6 expected)", kind, #body) end
  local count, token = string.unpack("<BI4", body, 2)
  local names, err, code = parse_names(kind, body, 7, count)
  if not names then return nil, err, code end
  return { kind = kind, count = count, token = token, servers = names }
end

function PARSERS.request_election(kind, body)
  if #body < 15 then return invalid("%s of %d bytes (at least 15 expected)", kind, #body) end
  local version, criteria, uptime = string.unpack("<BI4I4", body, 2)
  local name = cstring(body, 15)
  if not name then return invalid("%s whose name has no NUL terminator", kind) end
  return { kind = kind, version = version, criteria = criteria, uptime = uptime, name = name }
end

local function parse_name_only(kind, body)
  local name = cstring(body, 2)
  if not name then return invalid("%s whose name has no NUL terminator", kind) end
  return { kind = kind, name = name }
end
PARSERS.become_backup = parse_name_only
PARSERS.master_announcement = parse_name_only

function PARSERS.reset_state(kind, body)
  if #body ~= 2 then return invalid("%s of %d bytes (2 expected)", kind, #body) end
  return { kind = kind, options = body:byte(2) }
end

--- Parses one browser frame. Returns a table with `kind` (a key of
-- OPCODES) and the frame's fields, or nil, message, "invalid".
function M.parse(body)
  if type(body) ~= "string" then error("bad argument #1 to 'parse' (string expected, got " .. type(body) .. ")", 2) end
  if body == "" then return invalid("empty browser frame") end
  local kind = KIND[body:byte(1)]
  if not kind then return invalid("unknown browser opcode 0x%02X", body:byte(1)) end
  return PARSERS[kind](kind, body)
end

-- ---- building ---------------------------------------------------------------

local function check_string(v, what, max)
  if type(v) ~= "string" then error(("bad field '%s' (string expected, got %s)"):format(what, type(v)), 3) end
  if v:find("\0", 1, true) then error(("bad field '%s' (must not contain NUL)"):format(what), 3) end
  if #v > max then error(("bad field '%s' (at most %d bytes)"):format(what, max), 3) end
  return v
end

local function check_int(v, what, max, default)
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < 0 or v > max then
    error(("bad field '%s' (integer 0..%d expected)"):format(what, max), 3)
  end
  return v
end

-- `comment_key`: the field sent after the fixed part ("comment", or "master").
local function announcement(op, t, comment_key)
  if type(t) ~= "table" then error("bad argument #1 (table expected, got " .. type(t) .. ")", 3) end
  local name = check_string(t.name, "name", 15)
  if name == "" then error("bad field 'name' (1 to 15 bytes)", 3) end
  local comment = check_string(t[comment_key] or t.comment or "", comment_key, 42)
  return string.pack("<BBI4c16BBI4BBI2z", op, check_int(t.update_count, "update_count", 0xFF, 0),
    check_int(t.periodicity, "periodicity", 0xFFFFFFFF, 720000), name .. ("\0"):rep(16 - #name),
    check_int(t.os_major, "os_major", 0xFF, 4), check_int(t.os_minor, "os_minor", 0xFF, 9),
    check_int(t.server_type, "server_type", 0xFFFFFFFF, 0), check_int(t.browser_major, "browser_major", 0xFF, 15),
    check_int(t.browser_minor, "browser_minor", 0xFF, 1), check_int(t.signature, "signature", 0xFFFF, 0xAA55),
    comment)
end

--- HostAnnouncement: `t.name`, `server_type`, `comment`, `os_major`,
-- `os_minor`, `periodicity` (ms), `update_count`.
function M.host_announcement(t) return announcement(0x01, t, "comment") end
--- LocalMasterAnnouncement: the fields of a HostAnnouncement.
function M.local_master_announcement(t) return announcement(0x0F, t, "comment") end
--- DomainAnnouncement: `t.name` (the workgroup), `master` (its local master
-- browser, sent where the others carry the comment), `server_type`, ...
function M.domain_announcement(t) return announcement(0x0C, t, "master") end

--- AnnouncementRequest: asks every machine that gets it to announce itself.
function M.announcement_request(name)
  return string.pack("<BBz", 0x02, 0, check_string(name, "name", 15))
end

--- GetBackupListRequest for `count` (default 4) servers, `token` (LE32).
function M.get_backup_list_request(count, token)
  return string.pack("<BBI4", 0x09, check_int(count, "count", 0xFF, 4), check_int(token, "token", 0xFFFFFFFF, 0))
end

--- GetBackupListResponse: `token` and an array of server names.
function M.get_backup_list_response(token, servers)
  if type(servers) ~= "table" then error("bad argument #2 (table of names expected)", 2) end
  local parts = { string.pack("<BBI4", 0x0A, check_int(#servers, "count", 0xFF), check_int(token, "token",
    0xFFFFFFFF)) }
  for i, s in ipairs(servers) do parts[#parts + 1] = check_string(s, "servers[" .. i .. "]", 15) .. "\0" end
  return table.concat(parts)
end

return M
