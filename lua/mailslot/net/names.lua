--- The answering side of the NetBIOS name service (RFC 1002 §4.2.12-13), just
-- enough for `mailslot serve` to answer queries for its own computer name, so
-- that `\\NAME\mailslot\x` works between Linux machines that run no nmbd;
-- and the node status query (§4.2.17-18, `nmblookup -A`) `mailslot browse`
-- asks a host's names with (its workgroup, whether it is a master browser).
--
--     local q = names.parse_query(bytes)   --> { id=, name=, suffix=, broadcast= } | nil, reason
--     sock:sendto(names.positive_response(q, "10.0.0.7"), ip, port)
--     sock:sendto(names.node_status_request(id), ip, 137)
--     names.parse_node_status(bytes)       --> { id=, names = { {name=, suffix=, group=} } } | nil, reason
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

local TYPE_NBSTAT = 0x0021

--- A NODE STATUS REQUEST for the wildcard name `*`: asks a host for its name table.
function M.node_status_request(id)
  return string.pack(">I2I2I2I2I2I2", id, 0, 1, 0, 0, 0) .. nbt.encode_name("*", 0)
      .. string.pack(">I2I2", TYPE_NBSTAT, CLASS_IN)
end

--- Decodes a NODE STATUS RESPONSE: its id and the names the host holds
-- (trailing spaces dropped; `group` for group names). The statistics that
-- follow the names are ignored.
function M.parse_node_status(bytes)
  if #bytes < 12 then return nil, "truncated" end
  local id, flags, _, an = string.unpack(">I2I2I2I2", bytes)
  if flags & FLAG_RESPONSE == 0 or (flags >> 11) & 0x0F ~= 0 or an < 1 then return nil, "not a response" end
  local name, _, _, used = nbt.decode_name(bytes:sub(13))
  if not name then return nil, "bad name" end
  local pos = 13 + used
  if #bytes < pos + 10 then return nil, "truncated" end
  local rtype, rclass, _, rdlen, count = string.unpack(">I2I2I4I2B", bytes, pos)
  if rtype ~= TYPE_NBSTAT or rclass ~= CLASS_IN then return nil, "not a node status response" end
  pos = pos + 11
  if rdlen < 1 + count * 18 or #bytes < pos - 1 + count * 18 then return nil, "truncated" end
  local list = {}
  for i = 1, count do
    local raw, suffix, nflags = string.unpack(">c15BI2", bytes, pos)
    list[i] = { name = (raw:gsub("[ %z]+$", "")), suffix = suffix, group = nflags & 0x8000 ~= 0 }
    pos = pos + 18
  end
  return { id = id, names = list }
end

return M
