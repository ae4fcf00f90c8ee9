--- Typed messages: one Lua value in, one binary string out, and back.
--
--     local codec = require "mailslot.codec"
--     local msg = codec.encode({ op = "pay", amount = 12.5, ids = { 1, 2, 3 } })
--     local value, err = codec.decode(msg)
--     if err then ... end   -- test err, not value: nil is a valid message
--
-- Supported: nil, booleans, integers and floats (kept apart: 1 and 1.0 come
-- back as they went), strings (binary safe) and tables nested without cycles,
-- with keys of any supported type. NaN, -0.0 and the infinities round-trip.
--
-- Not supported, and `encode` raises: functions, userdata, threads, cycles,
-- nesting deeper than `max_depth`. Tables are read raw (`next`/`rawget`):
-- metatables are neither used nor sent. A table reached twice without a cycle
-- (shared, not recursive) is sent twice and decodes as two equal tables.
--
-- `decode` never raises on the bytes it is given: any malformed input returns
-- `nil, message, "invalid"`.
--
-- Encoding (all integers little-endian):
--
--     message := version:u8 value        (version is 1; nothing may follow)
--     value   := 0x00                    nil
--              | 0x01                    false
--              | 0x02                    true
--              | 0x03 i64                integer
--              | 0x04 f64                float (IEEE 754 double)
--              | 0x05 len:u32 bytes      string
--              | 0x06 n:u32 value*n m:u32 (key value)*m
--                                        table: t[1..n] in order, then the
--                                        other m pairs in any order
--
-- @module mailslot.codec

local M = {}

--- Format version carried in the first byte of every encoded message.
M.VERSION = 1

--- Default limit on table nesting, for both encode and decode. A top-level
-- table has depth 1.
M.MAX_DEPTH = 100

local T_NIL, T_FALSE, T_TRUE, T_INT, T_FLOAT, T_STRING, T_TABLE = 0, 1, 2, 3, 4, 5, 6

local pack, unpack = string.pack, string.unpack

-- Internal failures are thrown as tables so the public functions can tell
-- them from genuine bugs (plain string errors), which must stay visible.
local Failure = {}

local function fail(message)
  error(setmetatable({ message = message }, Failure), 0)
end

local function check_opts(fname, opts)
  if opts == nil then return M.MAX_DEPTH end
  if type(opts) ~= "table" then
    error("bad argument #2 to '" .. fname .. "' (table expected, got " .. type(opts) .. ")", 3)
  end
  for k in pairs(opts) do
    if k ~= "max_depth" then
      error("bad argument #2 to '" .. fname .. "' (unknown option '" .. tostring(k) .. "')", 3)
    end
  end
  local d = opts.max_depth
  if d == nil then return M.MAX_DEPTH end
  if math.type(d) ~= "integer" or d < 0 then
    error("bad argument #2 to '" .. fname .. "' (max_depth must be a non-negative integer)", 3)
  end
  return d
end

-- -------------------------------------------------------------------------
-- Encoding
-- -------------------------------------------------------------------------

-- Describe where in the value the encoder is, for error messages such as
-- "cannot encode a function at value.handlers[2]".
local function where(path)
  local out = { "value" }
  for i = 1, #path do
    local k = path[i]
    if type(k) == "string" and k:match("^[%a_][%w_]*$") then
      out[#out + 1] = "." .. k
    elseif type(k) == "string" then
      out[#out + 1] = string.format("[%q]", k)
    elseif type(k) == "number" or type(k) == "boolean" then
      out[#out + 1] = "[" .. tostring(k) .. "]"
    else
      out[#out + 1] = "[<" .. type(k) .. " key>]"
    end
  end
  return table.concat(out)
end

local encode_value -- forward: tables and values recurse into each other

-- The length of the sequence part t[1..n], taken raw: `#t` is not used
-- because with holes it may pick any border.
local function sequence_length(t)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  return n
end

local function is_sequence_key(k, n)
  return math.type(k) == "integer" and k >= 1 and k <= n
end

local function encode_table(st, t, depth)
  if st.active[t] then
    fail("cannot encode a cycle: " .. where(st.path) .. " refers back to a table that contains it")
  end
  if depth > st.max_depth then
    fail("cannot encode tables nested deeper than " .. st.max_depth .. " (at " .. where(st.path) .. ")")
  end
  st.active[t] = true
  local out, path = st.out, st.path
  local n = sequence_length(t)
  out[#out + 1] = pack("<BI4", T_TABLE, n)
  for i = 1, n do
    path[#path + 1] = i
    encode_value(st, rawget(t, i), depth)
    path[#path] = nil
  end
  -- The pair count is known only after walking the table: reserve its slot.
  local count_slot = #out + 1
  out[count_slot] = ""
  local m = 0
  for k, v in next, t do
    if not is_sequence_key(k, n) then
      path[#path + 1] = k
      encode_value(st, k, depth)
      encode_value(st, v, depth)
      path[#path] = nil
      m = m + 1
    end
  end
  out[count_slot] = pack("<I4", m)
  st.active[t] = nil
end

function encode_value(st, v, depth)
  local out = st.out
  local kind = type(v)
  if kind == "nil" then
    out[#out + 1] = pack("B", T_NIL)
  elseif kind == "boolean" then
    out[#out + 1] = pack("B", v and T_TRUE or T_FALSE)
  elseif math.type(v) == "integer" then
    out[#out + 1] = pack("<Bi8", T_INT, v)
  elseif kind == "number" then
    out[#out + 1] = pack("<Bd", T_FLOAT, v)
  elseif kind == "string" then
    out[#out + 1] = pack("<Bs4", T_STRING, v)
  elseif kind == "table" then
    encode_table(st, v, depth + 1)
  else
    fail("cannot encode a " .. kind .. " at " .. where(st.path))
  end
end

--- Encode one Lua value into a message.
-- @param value nil, boolean, number, string or table (see the module notes)
-- @tparam[opt] table opts `{ max_depth = integer }` (default `MAX_DEPTH`)
-- @treturn string the message, starting with the version byte
-- @raise on unsupported types, cycles and too deep nesting, naming where in
--   the value the problem is; on bad `opts`
function M.encode(value, opts)
  local max_depth = check_opts("encode", opts)
  local st = { out = { pack("B", M.VERSION) }, active = {}, path = {}, max_depth = max_depth }
  local ok, err = pcall(encode_value, st, value, 0)
  if not ok then
    if getmetatable(err) == Failure then
      error("bad argument #1 to 'encode' (" .. err.message .. ")", 2)
    end
    error(err, 0)
  end
  return table.concat(st.out)
end

-- -------------------------------------------------------------------------
-- Decoding: every read is bounds-checked first, so truncated input is a
-- clear "invalid" result, never an error from string.unpack.
-- -------------------------------------------------------------------------

local function need(rd, n, what)
  local left = #rd.s - rd.pos + 1
  if n > left then
    fail(string.format("truncated %s at byte %d (need %d bytes, %d left)", what, rd.pos, n, left))
  end
end

local function read(rd, fmt, size, what)
  need(rd, size, what)
  local v, nextpos = unpack(fmt, rd.s, rd.pos)
  rd.pos = nextpos
  return v
end

local decode_value -- forward

-- A count promising more elements than bytes remain is rejected before any
-- loop runs: every element takes at least `min_size` bytes.
local function read_count(rd, min_size, what)
  local at = rd.pos
  local n = read(rd, "<I4", 4, what .. " count")
  local left = #rd.s - rd.pos + 1
  if n * min_size > left then
    fail(string.format("%s count %d at byte %d exceeds the %d bytes left", what, n, at, left))
  end
  return n
end

local function decode_key(rd, depth)
  local at = rd.pos
  local k = decode_value(rd, depth)
  if k == nil then fail("nil table key at byte " .. at) end
  if k ~= k then fail("NaN table key at byte " .. at) end
  return k
end

local function store(t, k, v, at)
  -- Float keys with integral values become integers in Lua, so 2 and 2.0 (or
  -- a pair repeating a sequence index) would silently collide: reject.
  if rawget(t, k) ~= nil then fail("duplicate table key at byte " .. at) end
  if v == nil then fail("nil table value at byte " .. at) end
  rawset(t, k, v)
end

local function decode_table(rd, depth)
  if depth > rd.max_depth then
    fail("tables nested deeper than " .. rd.max_depth .. " at byte " .. (rd.pos - 1))
  end
  local t = {}
  local n = read_count(rd, 1, "sequence")
  for i = 1, n do
    local at = rd.pos
    store(t, i, decode_value(rd, depth), at)
  end
  local m = read_count(rd, 2, "pair")
  for _ = 1, m do
    local at = rd.pos
    local k = decode_key(rd, depth)
    store(t, k, decode_value(rd, depth), at)
  end
  return t
end

function decode_value(rd, depth)
  local at = rd.pos
  local tag = read(rd, "B", 1, "value tag")
  if tag == T_NIL then return nil
  elseif tag == T_FALSE then return false
  elseif tag == T_TRUE then return true
  elseif tag == T_INT then return read(rd, "<i8", 8, "integer")
  elseif tag == T_FLOAT then return read(rd, "<d", 8, "float")
  elseif tag == T_STRING then
    local len = read(rd, "<I4", 4, "string length")
    need(rd, len, "string")
    local s = rd.s:sub(rd.pos, rd.pos + len - 1)
    rd.pos = rd.pos + len
    return s
  elseif tag == T_TABLE then return decode_table(rd, depth + 1)
  end
  fail(string.format("unknown value tag 0x%02X at byte %d", tag, at))
end

local function decode_message(rd)
  if #rd.s == 0 then fail("empty message") end
  local version = read(rd, "B", 1, "version")
  if version ~= M.VERSION then
    fail(string.format("unsupported codec version %d (expected %d)", version, M.VERSION))
  end
  local v = decode_value(rd, 0)
  if rd.pos <= #rd.s then
    fail(string.format("%d trailing bytes after the value at byte %d", #rd.s - rd.pos + 1, rd.pos))
  end
  return v
end

--- Decode a message made by `encode`.
--
-- Because nil is a valid message, test the second result to detect failure.
-- @tparam string s the message
-- @tparam[opt] table opts `{ max_depth = integer }` (default `MAX_DEPTH`)
-- @return the value (success: exactly one result)
-- @treturn[2] nil
-- @treturn[2] string what is wrong and at which byte
-- @treturn[2] string `"invalid"`
-- @raise only on misuse: `s` not a string, bad `opts`
function M.decode(s, opts)
  if type(s) ~= "string" then
    error("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")", 2)
  end
  local max_depth = check_opts("decode", opts)
  local rd = { s = s, pos = 1, max_depth = max_depth }
  local ok, v = pcall(decode_message, rd)
  if ok then return v end
  if getmetatable(v) == Failure then
    return nil, "mailslot.codec: " .. v.message, "invalid"
  end
  error(v, 0)
end

return M
