-- mailslot.codec: typed Lua values <-> one binary message.
local codec = require "mailslot.codec"

-- Deep equality that busted's assert.same does not give: 1 and 1.0 differ,
-- NaN equals NaN, 0.0 and -0.0 differ.
local function identical(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if a ~= a then return b ~= b end
    if a == 0 and math.type(a) == "float" then return 1 / a == 1 / b end
    return a == b
  end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    -- Table keys compare by identity, so look for an identical key in b.
    local found = false
    if type(k) == "table" then
      for k2, v2 in pairs(b) do
        if type(k2) == "table" and identical(k, k2) and identical(v, v2) then found = true end
      end
    else
      found = identical(v, rawget(b, k))
    end
    if not found then return false end
  end
  local na, nb = 0, 0
  for _ in pairs(a) do na = na + 1 end
  for _ in pairs(b) do nb = nb + 1 end
  return na == nb
end

local function round_trip(v)
  local msg = codec.encode(v)
  assert.are.equal("string", type(msg))
  local back, err, code = codec.decode(msg)
  assert.is_nil(err)
  assert.is_nil(code)
  return back, msg
end

local function assert_round_trips(v)
  local back = round_trip(v)
  assert.is_true(identical(v, back), "value did not survive encode/decode")
end

local function assert_invalid(msg, pattern, opts)
  local v, err, code = codec.decode(msg, opts)
  assert.is_nil(v)
  assert.are.equal("invalid", code)
  assert.are.equal("string", type(err))
  if pattern then assert.matches(pattern, err) end
end

describe("mailslot.codec", function()
  describe("round trips", function()
    it("nil and the booleans", function()
      assert_round_trips(nil)
      assert_round_trips(true)
      assert_round_trips(false)
    end)

    it("keeps integers and floats apart: 1 stays 1 and 1.0 stays 1.0", function()
      local i = round_trip(1)
      local f = round_trip(1.0)
      assert.are.equal("integer", math.type(i))
      assert.are.equal("float", math.type(f))
    end)

    it("the integer extremes", function()
      for _, v in ipairs({ 0, -1, 255, 256, 2 ^ 53 // 1, math.maxinteger, math.mininteger }) do
        assert_round_trips(v)
      end
      assert.are.equal(math.mininteger, (round_trip(math.mininteger)))
    end)

    it("special floats: -0.0, NaN, the infinities, the tiny and the huge", function()
      local neg_zero = round_trip(-0.0)
      assert.are.equal(-math.huge, 1 / neg_zero)
      local nan = round_trip(0 / 0)
      assert.is_true(nan ~= nan)
      assert.are.equal("float", math.type(nan))
      assert.are.equal(math.huge, (round_trip(math.huge)))
      assert.are.equal(-math.huge, (round_trip(-math.huge)))
      for _, v in ipairs({ 0.1, -2.5, 1e308, 4.9e-324, 2.0 ^ 63, math.pi }) do
        assert_round_trips(v)
      end
    end)

    it("strings, binary safe: empty, NULs, every byte value, long", function()
      assert_round_trips("")
      assert_round_trips("\0")
      assert_round_trips("a\0b\0\0c")
      local all = {}
      for b = 0, 255 do all[#all + 1] = string.char(b) end
      assert_round_trips(table.concat(all))
      assert_round_trips(string.rep("\0\255", 40000))
    end)

    it("empty tables, sequences and sequences with holes", function()
      assert_round_trips({})
      assert_round_trips({ 1, 2, 3, "four", 5.0, true, false })
      assert_round_trips({ 1, 2, nil, 4, [10] = 10 })
      assert_round_trips({ [0] = "zero", [-1] = "minus one", [2] = "two" })
    end)

    it("nested tables", function()
      assert_round_trips({ a = { b = { c = { d = { "deep", 1, 1.0 } } } }, list = { {}, { {} } } })
    end)

    it("keys of every supported type", function()
      assert_round_trips({
        [true] = "t", [false] = "f", [1.5] = "float", [-0.5] = "neg",
        [math.huge] = "inf", [math.mininteger] = "min", ["\0key"] = "binary",
        [""] = "empty", [{ 1, 2 }] = "table key", [{ k = {} }] = { v = {} },
      })
    end)

    it("turns integral float keys into integer keys, as Lua itself does", function()
      local back = round_trip({ [2.0] = "x" })
      assert.are.equal("x", back[2])
      local k = next(back)
      assert.are.equal("integer", math.type(k))
    end)

    it("sends a table reached twice (shared, not a cycle) twice", function()
      local shared = { 1 }
      local back = round_trip({ a = shared, b = shared })
      assert.is_true(identical(back.a, back.b))
      assert.are_not.equal(back.a, back.b)
    end)

    it("reads tables raw: metatables are neither used nor sent", function()
      local t = setmetatable({ x = 1 }, {
        __index = function() return "ghost" end,
        __pairs = function() error("must not be called") end,
        __len = function() return 99 end,
      })
      local back = round_trip(t)
      assert.is_nil(getmetatable(back))
      assert.is_true(identical({ x = 1 }, back))
    end)

    it("accepts nesting up to max_depth, which defaults to MAX_DEPTH", function()
      local t = {}
      for _ = 2, codec.MAX_DEPTH do t = { t } end
      assert.is_table((round_trip(t)))
    end)
  end)

  describe("the format", function()
    it("is a version byte then a tagged value, little-endian", function()
      assert.are.equal("\1\0", codec.encode(nil))
      assert.are.equal("\1\1", codec.encode(false))
      assert.are.equal("\1\2", codec.encode(true))
      assert.are.equal("\1\3\1\0\0\0\0\0\0\0", codec.encode(1))
      assert.are.equal("\1\4" .. string.pack("<d", 1.0), codec.encode(1.0))
      assert.are.equal("\1\5\2\0\0\0hi", codec.encode("hi"))
      assert.are.equal("\1\6\1\0\0\0\2\0\0\0\0", codec.encode({ true }))
      assert.are.equal("\1\6\0\0\0\0\1\0\0\0\5\1\0\0\0k\1", codec.encode({ k = false }))
    end)

    it("starts with codec.VERSION", function()
      assert.are.equal(codec.VERSION, codec.encode("x"):byte(1))
    end)
  end)

  describe("encode errors (raised: they are the caller's mistakes)", function()
    it("rejects functions, userdata and threads, saying where they are", function()
      assert.has_error(function() codec.encode(print) end,
        "bad argument #1 to 'encode' (cannot encode a function at value)")
      assert.has_error(function() codec.encode({ handlers = { 1, print } }) end,
        "bad argument #1 to 'encode' (cannot encode a function at value.handlers[2])")
      assert.has_error(function() codec.encode({ ["a b"] = io.stdout }) end,
        "bad argument #1 to 'encode' (cannot encode a userdata at value[\"a b\"])")
      assert.has_error(function() codec.encode({ [coroutine.create(print)] = 1 }) end)
    end)

    it("rejects cycles, naming the problem", function()
      local t = {}
      t.self = t
      assert.has_error(function() codec.encode(t) end,
        "bad argument #1 to 'encode' (cannot encode a cycle: value.self refers back to a table that contains it)")
      local a, b = {}, {}
      a.b, b.list = b, { a }
      assert.has_error(function() codec.encode(a) end,
        "bad argument #1 to 'encode' (cannot encode a cycle: value.b.list[1] refers back to a table that contains it)")
      local k = {}
      k[k] = true
      assert.has_error(function() codec.encode(k) end)
    end)

    it("rejects nesting deeper than max_depth", function()
      local t = {}
      for _ = 1, codec.MAX_DEPTH do t = { t } end
      assert.has_error(function() codec.encode(t) end)
      local ok, err = pcall(codec.encode, { { { {} } } }, { max_depth = 3 })
      assert.is_false(ok)
      assert.matches("nested deeper than 3", err)
      assert.are.equal("string", type(codec.encode({ { {} } }, { max_depth = 3 })))
    end)

    it("checks its options strictly", function()
      assert.has_error(function() codec.encode(1, "deep") end,
        "bad argument #2 to 'encode' (table expected, got string)")
      assert.has_error(function() codec.encode(1, { depth = 3 }) end,
        "bad argument #2 to 'encode' (unknown option 'depth')")
      assert.has_error(function() codec.encode(1, { max_depth = -1 }) end,
        "bad argument #2 to 'encode' (max_depth must be a non-negative integer)")
    end)
  end)

  describe("decode errors (returned: the bytes come from the wire)", function()
    local sample = codec.encode({
      1, 2.5, "three", { nested = { true, false } },
      name = "x\0y", [1.5] = -0.0, [{ key = 1 }] = math.mininteger,
    })

    it("returns nil, message, \"invalid\" for every truncation of a valid message", function()
      for len = 0, #sample - 1 do
        local v, err, code = codec.decode(sample:sub(1, len))
        assert.is_nil(v)
        assert.are.equal("invalid", code, "length " .. len)
        assert.matches("^mailslot%.codec: ", err)
      end
      assert.is_table((codec.decode(sample)))
    end)

    it("explains truncations", function()
      assert_invalid("", "empty message")
      assert_invalid("\1", "truncated value tag at byte 2")
      assert_invalid("\1\3\1\0", "truncated integer at byte 3 %(need 8 bytes, 2 left%)")
      assert_invalid("\1\5\9\0\0\0abc", "truncated string")
    end)

    it("rejects an unknown version", function()
      assert_invalid("\2\0", "unsupported codec version 2 %(expected 1%)")
      assert_invalid("\0\0", "unsupported codec version 0")
    end)

    it("rejects an unknown tag", function()
      assert_invalid("\1\7", "unknown value tag 0x07 at byte 2")
      assert_invalid("\1\255", "unknown value tag 0xFF")
    end)

    it("rejects trailing bytes", function()
      assert_invalid(codec.encode(true) .. "\0", "1 trailing bytes after the value at byte 3")
      assert_invalid(sample .. "junk", "4 trailing bytes")
    end)

    it("rejects nesting deeper than max_depth without recursing further", function()
      local deep = "\1" .. string.rep("\6\1\0\0\0", 1000000) .. "\0" ..
        string.rep("\0\0\0\0", 1000000)
      assert_invalid(deep, "tables nested deeper than 100")
      local three = codec.encode({ { { 1 } } })
      assert_invalid(three, "nested deeper than 2", { max_depth = 2 })
      assert.is_table((codec.decode(three, { max_depth = 3 })))
    end)

    it("rejects counts larger than the bytes left, before looping", function()
      assert_invalid("\1\6\255\255\255\255", "sequence count 4294967295 at byte 3 exceeds the 0 bytes left")
      assert_invalid("\1\6\0\0\0\0\3\0\0\0\0\0\0\0", "pair count 3")
    end)

    it("rejects tables no encoder makes: nil or NaN keys, nil values, repeated keys", function()
      local nan = string.pack("<Bd", 4, 0 / 0)
      assert_invalid("\1\6\0\0\0\0\1\0\0\0\0\2", "nil table key")
      assert_invalid("\1\6\0\0\0\0\1\0\0\0" .. nan .. "\2", "NaN table key")
      assert_invalid("\1\6\1\0\0\0\0\0\0\0\0", "nil table value")
      assert_invalid("\1\6\0\0\0\0\1\0\0\0\5\1\0\0\0k\0", "nil table value")
      local int2 = string.pack("<Bi8", 3, 2)
      local float2 = string.pack("<Bd", 4, 2.0)
      assert_invalid("\1\6\0\0\0\0\2\0\0\0" .. int2 .. "\1" .. float2 .. "\2", "duplicate table key")
      local int1 = string.pack("<Bi8", 3, 1)
      assert_invalid("\1\6\1\0\0\0\2\1\0\0\0" .. int1 .. "\2", "duplicate table key")
    end)

    it("never raises on corrupted bytes", function()
      -- Deterministic so a failure reproduces.
      math.randomseed(12345)
      for _ = 1, 3000 do
        local bytes = { sample:byte(1, -1) }
        for _ = 1, math.random(1, 4) do
          bytes[math.random(#bytes)] = math.random(0, 255)
        end
        local mutated = string.char(table.unpack(bytes)):sub(1, math.random(#bytes))
        local ok, v, err, code = pcall(codec.decode, mutated)
        assert.is_true(ok, tostring(v))
        if err then assert.are.equal("invalid", code) else assert.is_nil(code) end
      end
    end)

    it("raises only on misuse", function()
      assert.has_error(function() codec.decode(nil) end,
        "bad argument #1 to 'decode' (string expected, got nil)")
      assert.has_error(function() codec.decode("\1\0", { max_depth = 1.5 }) end,
        "bad argument #2 to 'decode' (max_depth must be a non-negative integer)")
    end)

    it("decodes a nil message as exactly one nil: test the error, not the value", function()
      local n = select("#", codec.decode(codec.encode(nil)))
      assert.are.equal(1, n)
    end)
  end)
end)
