-- The same reading code inside a cqueues controller: mailslot.loop finds the
-- controller by itself and polls readers through cqueues' pollable protocol.
local mailslot = require "mailslot"
local loop = require "mailslot.loop"
local cqueues = require "cqueues"
local helpers = require "helpers"

describe("mailslot.loop inside cqueues", function()
  it("reads in a controller's coroutine without blocking the controller", function()
    local name = helpers.unique_name("cq")
    local r = assert(mailslot.create(name))
    local cq = cqueues.new()
    local events = {}
    cq:wrap(function()
      assert.is_true(loop.suspendable())
      local m = assert(loop.read(r, 5))
      events[#events + 1] = m
    end)
    cq:wrap(function()
      events[#events + 1] = "writer ran" -- only possible if the read above suspended
      assert(mailslot.open(name)):write("via cqueues")
    end)
    assert(cq:loop(10))
    assert.same({ "writer ran", "via cqueues" }, events)
    r:close()
  end)

  it("times out, sleeps and waits on conditions through cqueues", function()
    local r = assert(mailslot.create(helpers.unique_name("cq-timeout")))
    local cq = cqueues.new()
    local res = {}
    local c = loop.condition()
    cq:wrap(function()
      local t0 = loop.now()
      res.read = { loop.read(r, 0.05) }
      res.elapsed = loop.now() - t0
      res.wait = { loop.wait({ r }, 0.01) }
      loop.sleep(0.01)
      res.waiting = true
      res.signalled = c:wait(5)
    end)
    cq:wrap(function()
      while not res.waiting do loop.sleep(0.001) end -- a signal before the wait would be lost
      c:signal()
    end)
    assert(cq:loop(10))
    assert.same({ nil, "no message in mailslot " .. r:name() .. " within 0.05 s", "timeout" }, res.read)
    assert.same({ nil, "no message in mailslot " .. r:name(), "timeout" }, res.wait)
    assert.is_true(res.elapsed >= 0.04)
    assert.is_true(res.signalled)
    r:close()
  end)

  it("runs a listener and a queued writer in the controller", function()
    local name = helpers.unique_name("cq-listen")
    local cq = cqueues.new()
    local spawn = function(f) cq:wrap(f) end
    local got = {}
    assert(mailslot.listen(name, function(msg, _, l)
      got[#got + 1] = msg
      if #got == 2 then l:close() end
    end, { spawn = spawn }))
    local q = mailslot.queued(name, { spawn = spawn })
    assert(q:write("low", "low")); assert(q:write("high", "high"))
    cq:wrap(function() assert(q:flush(5)); q:close() end)
    assert(cq:loop(10))
    assert.same({ "high", "low" }, got)
  end)

  it("ends a wait with 'closed' when loop.close closes the reader", function()
    local r = assert(mailslot.create(helpers.unique_name("cq-close")))
    local cq = cqueues.new()
    local res
    cq:wrap(function() res = { loop.wait({ r }, 5) } end)
    -- (after the wait's poll is registered: cqueues registers it after the step)
    cq:wrap(function() loop.sleep(0.01); loop.close(r) end)
    assert(cq:loop(10))
    assert.is_nil(res[1])
    assert.equal("closed", res[3])
  end)
end)
