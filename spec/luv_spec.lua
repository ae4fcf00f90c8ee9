-- The luv adapter: the same reading code in coroutines driven by a libuv loop.
local mailslot = require "mailslot"
local loop = require "mailslot.loop"
local adapter = require "mailslot.luv"
local uv = require "luv"
local helpers = require "helpers"

--- uv.run(), for 5 s at most (an unref'd guard timer that keeps nothing
--- going), then one more iteration so that handles closed meanwhile are gone.
local function run_bounded()
  local guard = uv.new_timer()
  guard:start(5000, 0, function() uv.stop() end)
  guard:unref()
  uv.run()
  guard:close()
  uv.run("nowait")
end

describe("mailslot.luv", function()
  it("reads in a coroutine without blocking the libuv loop", function()
    local name = helpers.unique_name("luv")
    local r = assert(mailslot.create(name))
    local events = {}
    adapter.spawn(function()
      local m = assert(loop.read(r, 5))
      events[#events + 1] = m
    end)
    adapter.spawn(function()
      events[#events + 1] = "writer ran"
      assert(mailslot.open(name)):write("via luv")
    end)
    uv.run()
    assert.same({ "writer ran", "via luv" }, events)
    r:close()
  end)

  it("orders sleepers, times out reads, and wakes conditions", function()
    local r = assert(mailslot.create(helpers.unique_name("luv-timeout")))
    local order, res = {}, {}
    local c = loop.condition()
    for _, d in ipairs({ 0.03, 0.01, 0.02 }) do
      adapter.spawn(function() loop.sleep(d); order[#order + 1] = d end)
    end
    adapter.spawn(function()
      local t0 = loop.now()
      res.read = { loop.read(r, 0.05) }
      res.elapsed = loop.now() - t0
      res.wait = { loop.wait({ r }, 0.01) }
      res.waiting = true
      res.signalled = c:wait(5)
    end)
    adapter.spawn(function()
      while not res.waiting do loop.sleep(0.001) end -- a signal before the wait would be lost
      c:signal()
    end)
    uv.run()
    assert.same({ 0.01, 0.02, 0.03 }, order)
    assert.same({ nil, "no message in mailslot " .. r:name() .. " within 0.05 s", "timeout" }, res.read)
    assert.same({ nil, "no message in mailslot " .. r:name(), "timeout" }, res.wait)
    assert.is_true(res.elapsed >= 0.04)
    assert.is_true(res.signalled)
    r:close()
  end)

  it("runs a listener (a raising handler reported) and a queued writer", function()
    local name = helpers.unique_name("luv-listen")
    local got, errors = {}, {}
    assert(mailslot.listen(name, function(msg, _, l)
      if msg == "bad" then error("luv boom") end
      got[#got + 1] = msg
      if #got == 2 then l:close() end
    end, { spawn = adapter.spawn, on_error = function(e) errors[#errors + 1] = e end }))
    local q = mailslot.queued(name, { spawn = adapter.spawn })
    assert(q:write("one")); assert(q:write("bad")); assert(q:write("two"))
    adapter.spawn(function() assert(q:flush(5)); q:close() end)
    uv.run()
    assert.same({ "one", "two" }, got)
    assert.equal(1, #errors)
    assert.matches("luv boom", errors[1])
  end)

  it("ends a wait with 'closed' when loop.close closes the reader", function()
    local r = assert(mailslot.create(helpers.unique_name("luv-close")))
    local res
    adapter.spawn(function() res = { loop.wait({ r }, 5) } end)
    adapter.spawn(function() loop.close(r) end)
    uv.run()
    assert.is_nil(res[1])
    assert.equal("closed", res[3])
  end)

  it("treats huge finite timeouts as forever", function()
    local name = helpers.unique_name("luv-huge")
    local r = assert(mailslot.create(name))
    local c = loop.condition()
    local res, waiting = {}, false
    adapter.spawn(function() res.wait = { loop.wait({ r }, 1e20) } end)
    adapter.spawn(function() res.read = { loop.read(r, 1e300) } end)
    adapter.spawn(function() waiting = true; res.park = c:wait(1e20) end)
    adapter.spawn(function()
      while not waiting do loop.sleep(0.001) end
      c:signal()
      assert(mailslot.open(name)):write("late")
    end)
    uv.run()
    assert.equal(r, res.wait[1][1])
    assert.same({ "late" }, res.read)
    assert.is_true(res.park)
    r:close()
  end)

  -- libuv makes a polled descriptor non-blocking (uv_poll_init): a read or a
  -- write that waits in the kernel must still sleep afterwards, not spin.
  it("after libuv polled them, read(t) and a write waiting for room sleep, not spin", function()
    local name = helpers.unique_name("luv-block")
    local r = assert(mailslot.create(name))
    local full = helpers.unique_name("luv-full")
    local stop_reader = helpers.spawn_reader(full) -- another process's reader that never reads
    local w = assert(mailslot.open(full, { timeout = 0.5 }))
    finally(function() stop_reader(); r:close(); w:close() end)
    for _, fd in ipairs({ r:pollfd(), w:getfd() }) do
      local p = uv.new_poll(fd)
      p:close()
    end
    uv.run()
    local cpu, t0 = os.clock(), helpers.now()
    assert.equal("timeout", select(3, r:read(0.5)))
    assert.is_true(helpers.now() - t0 >= 0.5)
    assert.is_true(os.clock() - cpu < 0.1, ("read(0.5) used %.2f s of CPU"):format(os.clock() - cpu))
    for i = 1, 1000 do -- the kernel queues about 11: the write that meets a full queue waits 0.5 s
      cpu, t0 = os.clock(), helpers.now()
      local ok, _, code = w:write("fill")
      if not ok then
        assert.equal("timeout", code)
        break
      end
      assert.is_true(i < 1000, "the queue never filled")
    end
    assert.is_true(helpers.now() - t0 >= 0.5)
    assert.is_true(os.clock() - cpu < 0.1, ("the write used %.2f s of CPU"):format(os.clock() - cpu))
  end)

  -- A new reader on the same descriptor number must be polled anew: libuv
  -- refuses a second handle on a descriptor, so none may be left behind.
  it("reads in a loop on one handle, and loop.close right after a read frees the descriptor", function()
    local name = helpers.unique_name("luv-again")
    local r = assert(mailslot.create(name))
    local got, again = {}, nil
    adapter.spawn(function()
      for _ = 1, 3 do got[#got + 1] = assert(loop.read(r, 5)) end
      local fd = r:pollfd()
      loop.close(r)
      local r2 = assert(mailslot.create(name))
      again = { fd = fd, fd2 = r2:pollfd() }
      again.msg = { loop.read(r2, 5) }
      loop.close(r2)
    end)
    adapter.spawn(function()
      local w = assert(mailslot.open(name))
      for i = 1, 3 do
        assert(w:write("m" .. i))
        loop.sleep(0.01) -- each read waits
      end
      while not again do loop.sleep(0.01) end
      assert(assert(mailslot.open(name)):write("after"))
    end)
    run_bounded()
    assert.same({ "m1", "m2", "m3" }, got)
    assert.equal(again.fd, again.fd2) -- the same descriptor number, polled anew
    assert.same({ "after" }, again.msg)
  end)

  -- The usual one-shot reader: read with loop.read, then close() (not
  -- loop.close). A poll handle kept past the wait would be left behind for
  -- good, since closing it later could unregister another reader's descriptor.
  it("leaves no poll handle behind a reader read with loop.read and closed with close()", function()
    local function polls()
      local n = 0
      uv.walk(function(h) if tostring(h):match("^uv_poll_t") and not h:is_closing() then n = n + 1 end end)
      return n
    end
    local before = polls()
    local name = helpers.unique_name("luv-oneshot")
    local got = {}
    adapter.spawn(function()
      for i = 1, 3 do
        local r = assert(mailslot.create(name))
        assert(assert(mailslot.open(name)):write("m" .. i))
        loop.sleep(0.01) -- the message waits before the read: no wait needed
        got[#got + 1] = assert(loop.read(r, 5))
        local r2 = assert(mailslot.create(name .. "-woken"))
        adapter.spawn(function() -- writes once the read below waits
          loop.sleep(0.01)
          assert(assert(mailslot.open(name .. "-woken")):write("w" .. i))
        end)
        got[#got + 1] = assert(loop.read(r2, 5)) -- woken by its poll handle
        r2:close()
        r:close()
      end
    end)
    run_bounded()
    assert.same({ "m1", "w1", "m2", "w2", "m3", "w3" }, got)
    assert.equal(before, polls())
  end)
end)
