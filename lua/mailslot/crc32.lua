--- CRC-32 with the IEEE 802.3 polynomial (the one of zip, PNG and Ethernet).
--
-- Pure Lua 5.4, table driven. Used by `mailslot.frame` as an optional integrity
-- check; usable alone.
--
--     local crc32 = require "mailslot.crc32"
--     crc32.sum("123456789")                      --> 0xCBF43926
--     crc32.sum("6789", crc32.sum("12345"))       --> 0xCBF43926 (streaming)
--
-- @module mailslot.crc32

local M = {}

--- The reflected form of polynomial 0x04C11DB7, as the standard CRC-32 uses it.
M.POLYNOMIAL = 0xEDB88320

--- The standard check value: `sum("123456789")`.
M.CHECK = 0xCBF43926

local MASK = 0xFFFFFFFF

-- One entry per byte value: the register after shifting that byte through, so
-- the loop below does one lookup per byte instead of eight bit steps.
local TABLE = {}
for byte = 0, 255 do
  local c = byte
  for _ = 1, 8 do
    if c & 1 == 1 then
      c = (c >> 1) ~ M.POLYNOMIAL
    else
      c = c >> 1
    end
  end
  TABLE[byte] = c
end

-- string.byte returns its results on the Lua stack: take bounded slices so a
-- large input cannot overflow it.
local CHUNK = 256

--- CRC-32 of a string, optionally continuing a previous result.
-- @tparam string data bytes to checksum (binary safe)
-- @tparam[opt=0] integer crc the result of an earlier call, to checksum data that
--   arrives in pieces
-- @treturn integer the CRC, 0 .. 0xFFFFFFFF
-- @raise when `data` is not a string or `crc` is not an integer in range
function M.sum(data, crc)
  if type(data) ~= "string" then
    error("bad argument #1 to 'sum' (string expected, got " .. type(data) .. ")", 2)
  end
  if crc == nil then
    crc = 0
  elseif math.type(crc) ~= "integer" or crc < 0 or crc > MASK then
    error("bad argument #2 to 'sum' (integer 0..0xFFFFFFFF expected)", 2)
  end
  -- The register starts inverted and is inverted at the end (the standard's
  -- pre- and post-conditioning); undoing the final inversion lets calls chain.
  local c = crc ~ MASK
  local byte = string.byte
  for i = 1, #data, CHUNK do
    local bytes = { byte(data, i, i + CHUNK - 1) }
    for j = 1, #bytes do
      c = TABLE[(c ~ bytes[j]) & 0xFF] ~ (c >> 8)
    end
  end
  return c ~ MASK
end

return M
