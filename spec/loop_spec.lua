-- mailslot.loop: the coroutine scheduler, coroutine-aware reading, timers,
-- conditions, nested coroutines, and mailslot.listen.
local mailslot = require "mailslot"
local loop = require "mailslot.loop"
local helpers = require "helpers"

local function slot(stem)
  local name = helpers.unique_name(stem)
  return assert(mailslot.create(name)), name
end

local function run(L)
  local ok, err = L:run(10)
  assert(ok, err)
end

describe("mailslot.loop", function()
  it("is reachable as mailslot.loop, with listen and queued", function()
    assert.equal(loop, mailslot.loop)
    assert.is_function(mailslot.listen)
    assert.is_function(mailslot.queued)
  end)

  describe("read in a loop task", function()
    it("serves two coroutines concurrently: a waiting one does not stop the other", function()
      local ra, na = slot("conc-a")
      local rb, nb = slot("conc-b")
      local L = loop.new()
      local order = {}
      -- (read first, then append: the index must be taken after the wait)
      L:spawn(function() local m = assert(loop.read(ra, 5)); order[#order + 1] = m end)
      L:spawn(function() local m = assert(loop.read(rb, 5)); order[#order + 1] = m end)
      L:spawn(function()
        assert(assert(mailslot.open(nb)):write("to b"))
        while #order < 1 do loop.pass() end -- b's reader ran while a's waits
        assert(assert(mailslot.open(na)):write("to a"))
      end)
      run(L)
      assert.same({ "to b", "to a" }, order)
      ra:close(); rb:close()
    end)

    it("serves messages written by another process", function()
      local r, name = slot("child")
      local L = loop.new()
      local got
      L:spawn(function() got = { loop.read(r, 5) } end)
      local child = helpers.spawn(([[
        local w = assert(require("mailslot").open(%q)); assert(w:write("from child"))
      ]]):format(name))
      run(L)
      assert.is_true(child:close())
      assert.same({ "from child" }, got)
      r:close()
    end)

    it("times out after at least the timeout, other tasks running meanwhile", function()
      local r = slot("timeout")
      local L = loop.new()
      local result, ticks, done = nil, 0, false
      L:spawn(function()
        local t0 = loop.now()
        result = { loop.read(r, 0.2) }
        result.elapsed = loop.now() - t0
        result.wait = { loop.wait({ r }, 0.01) }
        done = true
      end)
      L:spawn(function()
        while not done do ticks = ticks + 1; loop.sleep(0.01) end
      end)
      run(L)
      assert.same({ nil, "no message in mailslot " .. r:name() .. " within 0.2 s", "timeout" },
        { result[1], result[2], result[3] })
      assert.same({ nil, "no message in mailslot " .. r:name(), "timeout" }, result.wait)
      assert.is_true(result.elapsed >= 0.15)
      assert.is_true(ticks >= 2)
      r:close()
    end)

    it("waits on many readers at once with loop.wait", function()
      local ra = slot("many-a")
      local rb, nb = slot("many-b")
      local L = loop.new()
      local ready
      L:spawn(function() ready = loop.wait({ ra, rb }, 5) end)
      L:spawn(function() assert(mailslot.open(nb)):write("x") end)
      run(L)
      assert.same({ rb }, ready)
      assert.equal("x", rb:read(0))
      ra:close(); rb:close()
    end)

    it("ends a wait with 'closed' when another task closes the reader", function()
      local r = slot("closed")
      local L = loop.new()
      local res
      L:spawn(function() res = { loop.wait({ r }, 5) } end)
      L:spawn(function() r:close() end)
      run(L)
      assert.is_nil(res[1])
      assert.equal("closed", res[3])
    end)
  end)

  describe("outside any scheduler", function()
    it("read blocks like reader:read and returns the message", function()
      local r, name = slot("block")
      local child = helpers.spawn(([[
        local w = assert(require("mailslot").open(%q)); assert(w:write("hello"))
      ]]):format(name))
      assert.equal("hello", loop.read(r, 5))
      assert.is_true(child:close())
      local t0 = loop.now()
      local msg, _, code = loop.read(r, 0.1)
      assert.is_nil(msg)
      assert.equal("timeout", code)
      assert.is_true(loop.now() - t0 >= 0.08)
      r:close()
    end)

    it("read in a plain coroutine of the user blocks instead of yielding", function()
      local r, name = slot("plain")
      assert(mailslot.open(name)):write("m")
      local co = coroutine.create(function() return loop.read(r, 5) end)
      assert.same({ true, "m" }, { coroutine.resume(co) })
      assert.equal("dead", coroutine.status(co))
      assert.is_false(loop.suspendable())
      r:close()
    end)
  end)

  describe("timers", function()
    it("wakes sleepers in deadline order", function()
      local L = loop.new()
      local order = {}
      for _, d in ipairs({ 0.06, 0.02, 0.04, 0 }) do
        L:spawn(function() loop.sleep(d); order[#order + 1] = d end)
      end
      run(L)
      assert.same({ 0, 0.02, 0.04, 0.06 }, order)
    end)

    it("runs timers due at once in the order they were set, and honours cancel", function()
      local L = loop.new()
      local order = {}
      for i = 1, 5 do L:after(0.01, function() order[#order + 1] = i end) end
      local t = L:after(0.01, function() order[#order + 1] = "cancelled" end)
      t:cancel()
      run(L)
      assert.same({ 1, 2, 3, 4, 5 }, order)
    end)

    it("sleeps at least the time asked", function()
      local L = loop.new()
      local elapsed
      L:spawn(function() local t0 = loop.now(); loop.sleep(0.1); elapsed = loop.now() - t0 end)
      run(L)
      assert.is_true(elapsed >= 0.08)
    end)

    it("repeats with every until cancelled", function()
      local L = loop.new()
      local n, h = 0, nil
      h = L:every(0.01, function() n = n + 1; if n == 3 then h:cancel() end end)
      run(L)
      assert.equal(3, n)
    end)
  end)

  describe("foreign yields", function()
    it("passes a generator's own yields through loop.wrap while its reads reach the loop", function()
      local r, name = slot("gen")
      local L = loop.new()
      local seen = {}
      L:spawn(function()
        local gen = loop.wrap(function()
          coroutine.yield("first")
          coroutine.yield(assert(loop.read(r, 5))) -- suspends the task, not the generator's caller logic
          return "last"
        end)
        for _ = 1, 3 do
          local v = gen()
          seen[#seen + 1] = v
        end
      end)
      L:spawn(function()
        while #seen < 1 do loop.pass() end
        seen[#seen + 1] = "writer ran"
        assert(mailslot.open(name)):write("msg")
      end)
      run(L)
      assert.same({ "first", "writer ran", "msg", "last" }, seen)
      r:close()
    end)

    it("does not confuse a task's plain coroutine generator with its requests", function()
      local L = loop.new()
      local values = {}
      L:spawn(function()
        for v in coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end) do
          values[#values + 1] = v
          loop.sleep(0)
        end
      end)
      run(L)
      assert.same({ 1, 2, 3 }, values)
    end)

    it("treats a plain yield from a task body as giving the turn away", function()
      local L = loop.new()
      local order = {}
      L:spawn(function() order[#order + 1] = "a1"; coroutine.yield("ignored"); order[#order + 1] = "a2" end)
      L:spawn(function() order[#order + 1] = "b" end)
      run(L)
      assert.same({ "a1", "b", "a2" }, order)
    end)

    it("hands the loop's requests of a nested coroutine to the caller, outside a loop too", function()
      local r, name = slot("nested-main")
      assert(mailslot.open(name)):write("m")
      local ok, v = loop.resume(coroutine.create(function() return loop.read(r, 5) end))
      assert.is_true(ok)
      assert.equal("m", v)
      r:close()
    end)
  end)

  describe("conditions", function()
    it("wakes waiters on signal and times out otherwise", function()
      local L = loop.new()
      local c = loop.condition()
      local res = {}
      L:spawn(function() res.signalled = c:wait(5) end)
      L:spawn(function() res.timed_out = loop.condition():wait(0.02) end)
      L:spawn(function() c:signal() end)
      run(L)
      assert.is_true(res.signalled)
      assert.is_false(res.timed_out)
    end)
  end)

  describe("errors", function()
    it("reports a task that raises and keeps running the others", function()
      local reported = {}
      local L = loop.new({ on_error = function(err) reported[#reported + 1] = err end })
      local after = false
      L:spawn(function() error("task failure") end)
      L:spawn(function() loop.sleep(0.01); after = true end)
      run(L)
      assert.is_true(after)
      assert.equal(1, #reported)
      assert.matches("task failure", reported[1])
    end)

    it("raises on misuse", function()
      assert.has_error(function() loop.read("nope") end)
      assert.has_error(function() loop.sleep(-1) end)
      assert.has_error(function() loop.wait("x") end)
      assert.has_error(function() loop.new({ bogus = true }) end, "bad argument #1 to 'new' (unknown option 'bogus')")
      assert.has_error(function() loop.new():spawn(42) end)
    end)
  end)
end)

describe("mailslot.listen", function()
  helpers.wine_pending("a name outlives its reader while a writer has it open; writes to it are lost",
    "calls the handler per message; a handler that raises does not stop it", function()
    local L = loop.new()
    local name = helpers.unique_name("listen")
    local got, errors = {}, {}
    local l = assert(mailslot.listen(name, function(msg, sender, listener)
      if msg == "bad" then error("boom") end
      got[#got + 1] = msg
      assert.is_table(sender)
      if msg == "last" then listener:close() end
    end, { loop = L, on_error = function(err) errors[#errors + 1] = err end }))
    local w = assert(mailslot.open(name))
    assert(w:write("one")); assert(w:write("bad")); assert(w:write("last"))
    run(L) -- returns only once the listener closed itself
    assert.same({ "one", "last" }, got)
    assert.equal(1, #errors)
    assert.matches("boom", errors[1])
    assert.equal(3, l.received)
    assert.equal(1, l.errors)
    -- the reader was closed: the name is free again
    assert(mailslot.create(name)):close()
  end)

  it("stops and frees the name when closed while waiting", function()
    local L = loop.new()
    local name = helpers.unique_name("listen-close")
    local l = assert(mailslot.listen(name, function() end, { loop = L }))
    L:spawn(function() loop.pass(); l:close() end)
    run(L)
    assert(mailslot.create(name)):close()
  end)

  helpers.nix_it("passes network = true on to the reader it creates", function()
    local L = loop.new()
    local name = helpers.unique_name("listen-net")
    local from
    local l = assert(mailslot.listen(name, function(_, sender, listener)
      from = sender
      listener:close()
    end, { loop = L, network = true }))
    local w = assert(mailslot.open(name))
    assert.equal(2, w:relay("hi", { name = "FARHOST", address = "10.9.8.7", port = 138 }))
    w:close()
    run(L)
    assert.equal("FARHOST", from.name)
    assert.equal("10.9.8.7", from.address)
    assert.equal(1, l.received)
  end)

  it("returns the create failure and raises on misuse", function()
    local name = helpers.unique_name("listen-dup")
    local r = assert(mailslot.create(name))
    local l, _, code = mailslot.listen(name, function() end, { loop = loop.new() })
    assert.is_nil(l)
    assert.equal("exists", code)
    r:close()
    assert.has_error(function() mailslot.listen(name, "x") end)
    assert.has_error(function() mailslot.listen(name, function() end, { nope = 1 }) end,
      "bad argument #3 to 'listen' (unknown option 'nope')")
  end)
end)

describe("mailslot.loop (review fixes)", function()
  it("does not keep cancelled timers while a long-lived timer is pending", function()
    local L = loop.new()
    local c = loop.condition()
    local done = false
    L:spawn(function() loop.sleep(1000) end)
    L:spawn(function()
      for _ = 1, 20000 do c:wait(3600) end
      done = true
    end)
    L:spawn(function()
      while not done do c:signal(); loop.pass() end
    end)
    local t0 = loop.now()
    while not done and loop.now() - t0 < 10 do L:step(0) end
    assert.is_true(done)
    assert.is_true(#L.heap < 100, "heap holds " .. #L.heap .. " timers")
    local t = L:after(1000, function() end)
    for _ = 1, 1000 do L:after(3600, function() end):cancel() end
    assert.is_true(#L.heap < 100, "heap holds " .. #L.heap .. " timers")
    t:cancel()
  end)

  it("raises in the calling task on a wait for something that is not a reader", function()
    local r, name = slot("bad-wait")
    local w = assert(mailslot.open(name))
    local L = loop.new()
    local errs, got, direct = {}, nil, nil
    L:spawn(function()
      errs[1] = select(2, pcall(loop.wait, { r, w }, 5))
      errs[2] = select(2, pcall(loop.wait, { 42 }, 5))
    end)
    -- A request that bypasses loop.wait does not break the other waits either.
    L:spawn(function() direct = { coroutine.yield(loop.REQUEST, "wait", { r, 7 }, 5) } end)
    L:spawn(function() got = loop.read(r, 5) end)
    L:spawn(function() loop.pass(); assert(w:write("still served")) end)
    local t0 = loop.now()
    run(L)
    assert.is_true(loop.now() - t0 < 2)
    assert.matches("bad argument #1 to 'wait' (item 2 is not a mailslot reader)", errs[1], 1, true)
    assert.matches("bad argument #1 to 'wait' (item 1 is not a mailslot reader)", errs[2], 1, true)
    assert.is_nil(direct[1])
    assert.matches("item 2 is not a mailslot reader", direct[2], 1, true)
    assert.equal("still served", got)
    w:close(); r:close()
  end)

  it("closes a listener's reader at once while its loop is not running", function()
    local L = loop.new()
    local name = helpers.unique_name("listen-idle-close")
    local l = assert(mailslot.listen(name, function() end, { loop = L }))
    L:step(0) -- the listener task runs until it waits
    assert.is_true(l.waiting)
    l:close()
    local r, err = mailslot.create(name) -- the name is free before the loop runs again
    assert(r, err):close()
    run(L)
    assert.equal(0, L:count())
  end)

  it("ends a wait with an empty list when its condition is signalled", function()
    local r = slot("wait-cond")
    local L = loop.new()
    local c = loop.condition()
    local res, waiting
    L:spawn(function() waiting = true; res = { loop.wait({ r }, 5, c) } end)
    L:spawn(function() while not waiting do loop.pass() end c:signal() end)
    run(L)
    assert.same({ {} }, res)
    r:close()
  end)

  it("a wait on no readers that only a condition can end leaves nothing to run, as a parked task does", function()
    local L = loop.new()
    local c = loop.condition()
    local res
    L:spawn(function() res = { loop.wait({}, nil, c) } end)
    -- Before: step kept returning true with nothing to do, and run spun until its timeout.
    assert.is_true(L:run(2))
    assert.is_false(L:step())
    assert.equal(1, L:count())
    c:signal() -- from outside the loop, as a parked task may be
    assert.is_true(L:run(5))
    assert.same({ {} }, res)
    assert.equal(0, L:count())
  end)

  it("every skips the ticks missed in a stall, and refuses intervals too small for the clock", function()
    local now = 100
    loop.set_clock(function() return now end)
    local ok, err = pcall(function()
      local L = loop.new()
      local n = 0
      local timer = L:every(1, function() n = n + 1 end)
      now = 110.5 -- ten ticks missed
      L:step(0); L:step(0)
      assert.equal(1, n)
      now = 111.6
      L:step(0); L:step(0)
      assert.equal(2, n)
      timer:cancel()
      now = 1e6
      assert.has_error(function() L:every(1e-300, function() end) end)
    end)
    loop.set_clock(require("mailslot.core").monotime)
    assert(ok, err)
  end)
end)

-- A task reading in a loop waits on its reader again at once, so the loop
-- leaves a reader reported by its wait set after the last wait on it ends,
-- and mutes it only when the set reports it with nobody waiting.
describe("mailslot.loop (a reader left reported after its wait)", function()
  it("does not keep the loop busy when a message comes that nobody waits for, and leaves it there", function()
    local r1, name1 = slot("loop-left")
    local r2 = slot("loop-left-other")
    local L = loop.new()
    local first
    L:spawn(function() first = loop.read(r1, 5) end) -- waits: r1 goes into the set
    L:spawn(function() assert(mailslot.open(name1)):write("one") end)
    for _ = 1, 10 do if first == nil then L:step(5) end end
    assert.equal("one", first)
    assert(assert(mailslot.open(name1)):write("two")) -- r1 reported, nobody waits on it
    local res
    L:spawn(function() res = { loop.read(r2, 0.2) } end)
    local steps = 0
    while res == nil do
      L:step(5)
      steps = steps + 1
      assert.is_true(steps < 50, "the loop spun: " .. steps .. " steps in a 0.2 s wait")
    end
    assert.equal("timeout", res[3])
    assert.equal("two", r1:read(0)) -- muting took nothing
    r1:close(); r2:close()
  end)

  -- A loop keeps a reader in its wait set after the wait (so reading in a
  -- loop pays no call into the set): another loop takes it over once no task
  -- of the first waits on it; while one does, the second one's task raises
  -- rather than polling for it again and again.
  it("hands a reader from one loop to another, and raises when both wait on it", function()
    local name = helpers.unique_name("loop-two")
    local r = assert(mailslot.create(name))
    local w = assert(mailslot.open(name))
    local L1, L2 = loop.new(), loop.new()
    local first, second
    L1:spawn(function() first = { loop.read(r, 0.01) } end)
    run(L1)
    assert.equal("timeout", first[3])
    L2:spawn(function() second = loop.read(r, 5) end)
    L2:spawn(function() assert(w:write("to the second loop")) end)
    run(L2)
    assert.equal("to the second loop", second)
    L1:spawn(function() first = loop.read(r, 5) end) -- and back
    L1:spawn(function() assert(w:write("back")) end)
    run(L1)
    assert.equal("back", first)

    local errors = {}
    L1:spawn(function() loop.read(r, 5) end) -- waits in L1 meanwhile
    assert.is_true(L1:step(0))
    L2.on_error = function(err) errors[#errors + 1] = err end
    L2:spawn(function() loop.read(r, 5) end)
    L2:spawn(function() loop.wait({ r }, 5) end)
    local steps = 0
    while L2:step(1) do steps = steps + 1; assert(steps < 100, "the second loop keeps stepping") end
    assert.equal(2, #errors)
    for _, err in ipairs(errors) do assert.matches("is waited on by another loop or wait set", err, 1, true) end
    assert(w:write("ends L1's read"))
    run(L1)
    r:close()
  end)

  it("lets a task step its own loop: the outer step goes on with the tasks left", function()
    local L = loop.new()
    local ran = {}
    L:spawn(function() ran[#ran + 1] = "A"; L:step(0); ran[#ran + 1] = "A again" end)
    L:spawn(function() ran[#ran + 1] = "B" end)
    L:spawn(function() ran[#ran + 1] = "C" end)
    assert.is_false(L:step(0)) -- nothing left: every task ended in this step
    assert.same({ "A", "B", "C", "A again" }, ran)
  end)

  it("keeps a task that waits with no timeout on a reader only it holds, through a collection", function()
    local name = helpers.unique_name("loop-held")
    local L = loop.new()
    local got
    L:spawn(function()
      local r = assert(mailslot.create(name)) -- held by this task's stack alone
      got = loop.read(r)                      -- the reader's timeout: forever
      r:close()
    end)
    L:spawn(function()
      -- the first task ran first: it waits by now
      collectgarbage(); collectgarbage()
      assert(assert(mailslot.open(name)):write("kept"))
    end)
    run(L)
    assert.equal("kept", got)
  end)

  it("lets a reader that a task read from and nobody holds be collected", function()
    local name = helpers.unique_name("loop-left-gc")
    local L = loop.new()
    local held = setmetatable({}, { __mode = "v" })
    do
      local r = assert(mailslot.create(name))
      held[1] = r
      L:spawn(function() assert(loop.read(r, 5)) end)
      L:spawn(function() assert(mailslot.open(name)):write("x") end)
    end
    run(L)
    collectgarbage(); collectgarbage()
    assert.is_nil(held[1], "the loop still holds the reader")
    assert(mailslot.create(name)):close() -- its __gc closed it: the name is free
  end)
end)
