-- The luv adapter: the same reading code in coroutines driven by a libuv loop.
local mailslot = require "mailslot"
local loop = require "mailslot.loop"
local adapter = require "mailslot.luv"
local uv = require "luv"
local helpers = require "helpers"

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
end)
