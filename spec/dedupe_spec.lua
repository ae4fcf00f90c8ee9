-- mailslot.dedupe: the duplicate window behind the frame reassembler.
local dedupe = require "mailslot.dedupe"

describe("mailslot.dedupe", function()
  it("admits a (sender, sequence) pair once and refuses its repeats", function()
    local w = dedupe.new()
    assert.is_true(w:admit(1, 100, 0))
    assert.is_false(w:admit(1, 100, 0))
    assert.is_false(w:admit(1, 100, 1))
    assert.is_true(w:admit(1, 101, 1))
  end)

  it("keeps senders apart", function()
    local w = dedupe.new()
    assert.is_true(w:admit(1, 7, 0))
    assert.is_true(w:admit(2, 7, 0))
    assert.is_false(w:admit(2, 7, 0))
  end)

  it("accepts any arrival order", function()
    local w = dedupe.new()
    for _, seq in ipairs({ 5, 3, 9, 4 }) do assert.is_true(w:admit(1, seq, 0)) end
    for _, seq in ipairs({ 9, 3, 4, 5 }) do assert.is_false(w:admit(1, seq, 0)) end
  end)

  it("handles the sequence wrap from 0xFFFFFFFF to 0", function()
    local w = dedupe.new({ count = 4 })
    for _, seq in ipairs({ 0xFFFFFFFE, 0xFFFFFFFF, 0, 1 }) do assert.is_true(w:admit(1, seq, 0)) end
    for _, seq in ipairs({ 0xFFFFFFFE, 0xFFFFFFFF, 0, 1 }) do assert.is_false(w:admit(1, seq, 0)) end
  end)

  describe("the window", function()
    it("by count: remembers the last `count` numbers per sender", function()
      local w = dedupe.new({ count = 3, time = math.huge })
      for seq = 1, 4 do assert.is_true(w:admit(1, seq, 0)) end
      assert.is_true(w:admit(1, 1, 0), "seq 1 fell out of a window of 3")
      assert.is_false(w:admit(1, 4, 0))
    end)

    it("by time: remembers each number for `time` seconds", function()
      local w = dedupe.new({ count = 100, time = 10 })
      assert.is_true(w:admit(1, 1, 0))
      assert.is_false(w:admit(1, 1, 9.9))
      assert.is_true(w:admit(1, 1, 10), "forgotten after 10 s")
      assert.is_false(w:admit(1, 1, 12), "remembered again from its new arrival")
    end)
  end)

  it("tracks at most max_senders, forgetting the least recently heard", function()
    local w = dedupe.new({ max_senders = 2 })
    assert.is_true(w:admit("a", 1, 0))
    assert.is_true(w:admit("b", 1, 1))
    assert.is_false(w:admit("a", 1, 2)) -- a heard again: b is now the oldest
    assert.is_true(w:admit("c", 1, 3))
    assert.are.equal(2, w:senders_tracked())
    assert.is_false(w:admit("a", 1, 4))
    assert.is_true(w:admit("b", 1, 5), "b was forgotten")
  end)

  it("checks its options strictly", function()
    assert.has_error(function() dedupe.new(5) end, "bad argument #1 to 'new' (table expected, got number)")
    assert.has_error(function() dedupe.new({ size = 3 }) end, "bad argument #1 to 'new' (unknown option 'size')")
    assert.has_error(function() dedupe.new({ count = 0 }) end,
      "bad argument #1 to 'new' (count must be a positive integer)")
    assert.has_error(function() dedupe.new({ max_senders = 1.5 }) end,
      "bad argument #1 to 'new' (max_senders must be a positive integer)")
    assert.has_error(function() dedupe.new({ time = 0 }) end)
    assert.has_error(function() dedupe.new({ time = 0 / 0 }) end)
  end)
end)
