--- The answering side of the NetBIOS name service (RFC 1002 §4.2.12-13), just
-- enough for `mailslot serve` to answer queries for its own computer name, so
-- that `\\NAME\mailslot\x` works between Linux machines that run no nmbd.
--
--     local q = names.parse_query(bytes)   --> { id=, name=, suffix=, broadcast= } | nil, reason
--     sock:sendto(names.positive_response(q, "10.0.0.7"), ip, port)
-- @module mailslot.net.names
local nbt = require "mailslot.nbt"

local M = {}

local TYPE_NB, CLASS_IN = 0x0020, 0x0001
local FLAG_RESPONSE, FLAG_AA, FLAG_RD, FLAG_BROADCAST = 0x8000, 0x0400, 0x0100, 0x0010

--- Decodes a NAME QUERY REQUEST: header, one question of type NB, class IN.
function M.parse_query(bytes)
  if #bytes < 12 then return nil, "truncated" end
  local id, flags, qd = string.unpack(">I2I2I2", bytes)
  if flags & FLAG_RESPONSE ~= 0 or (flags >> 11) & 0x0F ~= 0 then return nil, "not a query" end
  if qd < 1 then return nil, "no question" end
  local name, suffix, scope, used = nbt.decode_name(bytes:sub(13))
  if not name then return nil, suffix end
  if #bytes < 12 + used + 4 then return nil, "truncated" end
  local qtype, qclass = string.unpack(">I2I2", bytes, 13 + used)
  if qtype ~= TYPE_NB or qclass ~= CLASS_IN then return nil, "not a name query" end
  return { id = id, flags = flags, name = name, suffix = suffix, scope = scope,
           broadcast = flags & FLAG_BROADCAST ~= 0 }
end

--- A POSITIVE NAME QUERY RESPONSE giving `address` for the queried name,
-- as a unique name of a B node (NB_FLAGS 0).
function M.positive_response(query, address, ttl)
  local a, b, c, d = address:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  assert(a, "dotted IPv4 address expected")
  local flags = FLAG_RESPONSE | FLAG_AA | (query.flags & FLAG_RD)
  return string.pack(">I2I2I2I2I2I2", query.id, flags, 0, 1, 0, 0)
      .. nbt.encode_name(query.name, query.suffix, query.scope)
      .. string.pack(">I2I2I4I2I2BBBB", TYPE_NB, CLASS_IN, ttl or 300, 6, 0,
                     tonumber(a), tonumber(b), tonumber(c), tonumber(d))
end

return M
