-- Batches: reader:readmany takes what waits in few system calls, writer:writemany
-- sends an array in order. Same messages, same order, same errors as one by one.
local mailslot = require "mailslot"
local helpers = require "helpers"

describe("batches", function()
  local name, r, w
  before_each(function()
    name = helpers.unique_name("batch")
    r = assert(mailslot.create(name))
    w = assert(mailslot.open(name))
  end)
  after_each(function()
    r:close()
    w:close()
  end)

  it("writemany sends every string in order and returns how many", function()
    local t = {}
    for i = 1, 150 do t[i] = "m" .. i end
    assert.equal(150, w:writemany(t))
    for i = 1, 150 do assert.equal("m" .. i, r:read(0)) end
    assert.equal(0, w:writemany({}))
  end)

  it("readmany returns at most max messages, oldest first, queued ones before the rest", function()
    for i = 1, 5 do w:write("q" .. i) end
    assert.equal(5, r:info().count) -- now queued in the reader
    for i = 6, 10 do w:write("k" .. i) end -- these still wait in the system
    assert.same({ "q1", "q2", "q3" }, r:readmany(3, 0))
    assert.same({ "q4", "q5", "k6", "k7", "k8", "k9", "k10" }, r:readmany(64, 0))
  end)

  it("readmany waits for the first message like read, and times out like read", function()
    local got, msg, code = r:readmany(10, 0)
    assert.is_nil(got)
    assert.equal("timeout", code)
    assert.matches(r:name(), msg, 1, true)
    local child = helpers.spawn(("assert(require('mailslot').open(%q)):write('late')"):format(name))
    assert.same({ "late" }, r:readmany(10, 5))
    child:close()
  end)

  -- readmany's buffers hold as many of the largest possible message as fit in
  -- 4 MiB: recvmmsg batches for a reader with a max_size of 60 000 (64 buffers),
  -- one datagram per call for a reader that may get 3 MiB ones.
  for _, case in ipairs({ { max = 60000, how = "in recvmmsg batches" },
                          { max = 3 * 1024 * 1024, how = "one by one" } }) do
    it("readmany takes large messages whole and in order " .. case.how, function()
      local n2 = helpers.unique_name("batchbig")
      local r2 <close> = assert(mailslot.create(n2, { max_size = case.max }))
      local w2 <close> = assert(mailslot.open(n2))
      local sent = { "a", ("b"):rep(60000), "", ("c"):rep(59999), ("d"):rep(4096), ("e"):rep(60000) }
      for _, m in ipairs(sent) do assert(w2:write(m)) end
      local got = {}
      while #got < #sent do
        for _, m in ipairs(assert(r2:readmany(64, 5))) do got[#got + 1] = m end
      end
      assert.equal(#sent, #got)
      for i = 1, #sent do assert.is_true(got[i] == sent[i], "message " .. i .. " differs") end
    end)
  end

  -- One readmany hands over about 256 KiB at most: 64 large strings at once
  -- came slower than read (buffers out of the cache, heap given back and
  -- faulted in again); small messages still come all at once. Windows reads
  -- each message with its own ReadFile, batches or not: no such limit there.
  helpers.nix_it("readmany hands large messages over a few per call, small ones all at once", function()
    local n2 = helpers.unique_name("batchhand")
    local r2 <close> = assert(mailslot.create(n2, { max_size = 60000 }))
    local w2 <close> = assert(mailslot.open(n2))
    for i = 1, 8 do assert(w2:write(("%d"):format(i):rep(60000))) end
    local calls, got = {}, {}
    while #got < 8 do
      local list = assert(r2:readmany(64, 5))
      calls[#calls + 1] = #list
      for _, m in ipairs(list) do got[#got + 1] = m end
    end
    assert.same({ 5, 3 }, calls) -- 5 × 60 000 bytes passes 256 KiB
    for i = 1, 8 do assert.is_true(got[i] == ("%d"):format(i):rep(60000), "message " .. i .. " differs") end
    for i = 1, 8 do assert(w2:write("s" .. i)) end
    assert.equal(8, #assert(r2:readmany(64, 5)))
  end)

  it("binary and empty messages survive a batch", function()
    local all = {}
    for b = 0, 255 do all[#all + 1] = string.char(b) end
    local t = { "", table.concat(all), "\0", "" }
    assert.equal(4, w:writemany(t))
    assert.same(t, r:readmany(4, 0))
  end)

  helpers.nix_it("sender() after readmany tells who sent the last message of the batch", function()
    w:write("a")
    assert.same({ "a" }, r:readmany(1, 0))
    assert.is_number(r:sender().pid)
  end)

  it("an __len cannot make writemany read past the array", function()
    local t = setmetatable({ "a", "b" }, { __len = function() return 1 << 61 end })
    assert.equal(2, w:writemany(t))
    assert.same({ "a", "b" }, r:readmany(10, 0))
  end)

  it("misuse raises, naming the argument", function()
    assert.has_error(function() r:readmany(0) end, "bad argument #1 to 'readmany' (at least 1 message expected)")
    assert.has_error(function() r:readmany("x") end)
    assert.has_error(function() r:readmany(1, -1) end)
    assert.has_error(function() w:writemany("x") end)
    assert.has_error(function() w:writemany({ "a", 2 }) end, "bad argument #1 to 'writemany' (item 2 is not a string)")
    r:close()
    assert.has_error(function() r:readmany(1, 0) end, "attempt to use a closed mailslot")
  end)
end)
