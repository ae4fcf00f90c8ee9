-- mailslot.crc32: the IEEE CRC-32, in pure Lua.
local crc32 = require "mailslot.crc32"

describe("mailslot.crc32", function()
  describe("sum(data [, crc])", function()
    it("gives the standard check value for \"123456789\"", function()
      assert.are.equal(0xCBF43926, crc32.sum("123456789"))
      assert.are.equal(crc32.CHECK, crc32.sum("123456789"))
    end)

    it("gives 0 for the empty string", function()
      assert.are.equal(0, crc32.sum(""))
    end)

    it("matches other well-known values", function()
      -- Same values as zlib's crc32() for these inputs.
      assert.are.equal(0xE8B7BE43, crc32.sum("a"))
      assert.are.equal(0x414FA339, crc32.sum("The quick brown fox jumps over the lazy dog"))
      assert.are.equal(0xD202EF8D, crc32.sum("\0"))
      assert.are.equal(0xFFFFFFFF, crc32.sum("\xFF\xFF\xFF\xFF"))
    end)

    it("is binary safe and always an integer in 0 .. 0xFFFFFFFF", function()
      local all = {}
      for b = 0, 255 do all[#all + 1] = string.char(b) end
      local v = crc32.sum(table.concat(all))
      assert.are.equal("integer", math.type(v))
      assert.is_true(v >= 0 and v <= 0xFFFFFFFF)
      assert.are_not.equal(crc32.sum("a\0b"), crc32.sum("a\0c"))
    end)

    it("continues from an earlier result, so data may arrive in pieces", function()
      local whole = string.rep("mailslot \0 framing ", 100)
      for cut = 0, #whole, 97 do
        local first = crc32.sum(whole:sub(1, cut))
        assert.are.equal(crc32.sum(whole), crc32.sum(whole:sub(cut + 1), first))
      end
    end)

    it("handles inputs longer than its internal chunk", function()
      local long = string.rep("x", 100000)
      assert.are.equal(crc32.sum(long), crc32.sum(long:sub(50001), crc32.sum(long:sub(1, 50000))))
    end)

    it("detects a single flipped bit", function()
      local s = "123456789"
      local flipped = string.char(s:byte(1) ~ 1) .. s:sub(2)
      assert.are_not.equal(crc32.sum(s), crc32.sum(flipped))
    end)

    it("raises on misuse, naming the argument", function()
      assert.has_error(function() crc32.sum(42) end,
        "bad argument #1 to 'sum' (string expected, got number)")
      assert.has_error(function() crc32.sum("x", -1) end,
        "bad argument #2 to 'sum' (integer 0..0xFFFFFFFF expected)")
      assert.has_error(function() crc32.sum("x", 1.5) end,
        "bad argument #2 to 'sum' (integer 0..0xFFFFFFFF expected)")
    end)
  end)
end)
