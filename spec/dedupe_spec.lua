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

  describe("bounds, whatever the senders do", function()
    -- VM instructions `fn` runs: a measure of work that no load on the machine changes.
    local function instructions(fn)
      local n = 0
      debug.sethook(function() n = n + 1 end, "", 1)
      fn()
      debug.sethook()
      return n
    end

    local function memory()
      collectgarbage()
      collectgarbage()
      return collectgarbage("count") * 1024
    end

    it("1024 senders x 1024 numbers with the defaults: max_entries held, the rest counted", function()
      local before = memory()
      local w = dedupe.new()
      for sender = 1, 1024 do
        for seq = 1, 1024 do w:admit(sender, seq, 0) end
      end
      local grew = memory() - before
      local st = w:stats()
      -- The 16 senders heard last fill the 16384 entries; the others were
      -- forgotten, least recently heard first, and each number they held counted.
      assert.same({ senders = 16, entries = 16384, evicted_senders = 1008, evicted_entries = 1024 * 1024 - 16384 },
        st)
      local bound = dedupe.DEFAULTS.max_entries * dedupe.ENTRY_COST + dedupe.DEFAULTS.max_senders * 512
      assert.is_true(grew < bound, ("the window holds %d bytes, more than %d"):format(grew, bound))
      assert.is_false(w:admit(1024, 1024, 1), "the most recent sender's numbers are still remembered")
      assert.is_true(w:admit(1, 1, 1), "the first sender was forgotten")
    end)

    it("admitting a new sender costs the same with 100 or 10000 senders tracked", function()
      local function full_window(n)
        local w = dedupe.new({ count = 1, max_senders = n, max_entries = n })
        for sender = 1, n do w:admit(sender, 1, 0) end
        return w
      end
      local small, big = full_window(100), full_window(10000)
      local cost_small = instructions(function() small:admit("newcomer", 1, 1) end)
      local cost_big = instructions(function() big:admit("newcomer", 1, 1) end)
      assert.equal(cost_small, cost_big)
      assert.equal(1, small:stats().evicted_senders)
      assert.equal(1, big:stats().evicted_senders)
      assert.equal(10000, big:senders_tracked())
    end)

    it("a sender's old numbers pushed out by `count` are counted; those that expire are not", function()
      local w = dedupe.new({ count = 3, time = 10 })
      for seq = 1, 5 do w:admit("a", seq, 0) end
      assert.same({ senders = 1, entries = 3, evicted_senders = 0, evicted_entries = 2 }, w:stats())
      w:admit("a", 6, 20) -- 3, 4 and 5 are 20 s old: expired, not evicted
      assert.same({ senders = 1, entries = 1, evicted_senders = 0, evicted_entries = 2 }, w:stats())
    end)

    it("a long-lived sender's memory does not grow past its window", function()
      local w = dedupe.new({ count = 1000, time = math.huge })
      for seq = 1, 1000 do w:admit("a", seq, 0) end
      local held = memory()
      for seq = 1001, 50000 do w:admit("a", seq, 0) end
      assert.equal(1000, w:stats().entries)
      assert.is_true(memory() - held < 1000 * dedupe.ENTRY_COST,
        ("grew by %d bytes while holding as many numbers"):format(memory() - held))
    end)
  end)

  it("checks its options strictly", function()
    assert.has_error(function() dedupe.new(5) end, "bad argument #1 to 'new' (table expected, got number)")
    assert.has_error(function() dedupe.new({ size = 3 }) end, "bad argument #1 to 'new' (unknown option 'size')")
    assert.has_error(function() dedupe.new({ count = 0 }) end,
      "bad argument #1 to 'new' (count must be a positive integer)")
    assert.has_error(function() dedupe.new({ max_senders = 1.5 }) end,
      "bad argument #1 to 'new' (max_senders must be a positive integer)")
    assert.has_error(function() dedupe.new({ max_entries = 0 }) end,
      "bad argument #1 to 'new' (max_entries must be a positive integer)")
    assert.has_error(function() dedupe.new({ count = 10, max_entries = 9 }) end,
      "bad argument #1 to 'new' (max_entries must be at least count)")
    assert.has_error(function() dedupe.new({ time = 0 }) end)
    assert.has_error(function() dedupe.new({ time = 0 / 0 }) end)
  end)
end)
