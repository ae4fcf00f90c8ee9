-- A read that waits wakes when a message arrives, not at the next poll: on
-- Windows (and Wine 10) through the overlapped ReadFile the reader leaves in
-- flight (info().wait == "overlapped"), on POSIX in the kernel ("socket").
-- Wine 8's mailslot handles are synchronous, so there a wait polls
-- GetMailslotInfo, 1 ms doubling to 50 ms ("polling"): the cases that prove
-- the wake-up are pending there.
local mailslot = require "mailslot"
local helpers = require "helpers"

local POLLING = "mailslot handles are synchronous, so a wait polls (1 ms doubling to 50 ms)"
local ROUNDS = 9

--[[
The time from a write in another process to the wake-up of a reader waiting
in `waits(readers)`, once per round; the writer sends to readers[target]
after the reader has waited 200 ms, when a poller would sleep its full 50 ms
step, so polling wakes after 25 ms at the median and a real wake-up at once.
The writer sends its clock (QueryPerformanceCounter / CLOCK_MONOTONIC: one
clock for every process of the machine). Returns the sorted latencies (s).
]]
local function wake_latencies(readers, target, waits)
  local child = helpers.spawn(([[
    local m = require "mailslot"
    local core = require "mailslot.core"
    local pace = assert(m.create(%q)) -- never written: its timed read paces the writes
    local w = assert(m.open(%q))
    for _ = 1, %d do
      pace:read(0.2)
      assert(w:write(("%%.9f"):format(core.monotime())))
    end]]):format(helpers.unique_name("pace"), readers[target]:name(), ROUNDS))
  local lat = {}
  for i = 1, ROUNDS do
    local msg = waits(readers)
    lat[i] = helpers.now() - assert(tonumber(msg), msg)
  end
  assert.is_true(child:close())
  table.sort(lat)
  return lat
end

local function median_ms(lat) return lat[(#lat + 1) // 2] * 1000 end

--- Readers of fresh names, each checked for the wait path this platform takes.
local function readers(n)
  local list = {}
  for i = 1, n do
    list[i] = assert(mailslot.create(helpers.unique_name("wake")))
    assert.equal(helpers.expected_wait_path(), list[i]:info().wait)
  end
  return list
end

local function close_all(list)
  for _, r in ipairs(list) do r:close() end
end

describe("waking", function()
  helpers.wine_pending(POLLING,
    "a pending read wakes as a writer in another process writes, well within the 50 ms polling step", function()
    local list = readers(1)
    local lat = wake_latencies(list, 1, function(l) return assert(l[1]:read(10)) end)
    close_all(list)
    -- a poller would wake after 25 ms at the median (uniform over its 50 ms step)
    assert.is_true(median_ms(lat) < 10, ("median wake-up %.1f ms"):format(median_ms(lat)))
  end, 10)

  -- A wait over several readers wakes for the one written to, and only that one.
  local function wait_for_the_right_one(n, target)
    local list = readers(n)
    local lat = wake_latencies(list, target, function(l)
      local ready = assert(mailslot.wait(l, 10))
      assert.same({ l[target] }, ready)
      return assert(l[target]:read(0))
    end)
    for i, r in ipairs(list) do
      if i ~= target then assert.equal(0, r:info().count) end
    end
    close_all(list)
    return lat
  end

  helpers.wine_pending(POLLING, "mailslot.wait over 5 readers wakes at once for the right one", function()
    local lat = wait_for_the_right_one(5, 4)
    assert.is_true(median_ms(lat) < 10, ("median wake-up %.1f ms"):format(median_ms(lat)))
  end, 10)

  -- More than WaitForMultipleObjects' 64 handles on Windows: helper threads
  -- wait on the rest, and starting them costs a few ms under Wine.
  helpers.wine_pending(POLLING, "mailslot.wait over 200 readers wakes for the right one, within the polling step",
    function()
    local lat = wait_for_the_right_one(200, 150)
    assert.is_true(median_ms(lat) < 20, ("median wake-up %.1f ms"):format(median_ms(lat)))
  end, 10)

  -- A wait set (what mailslot.loop waits on) takes the same path: its members'
  -- reads stay in flight between waits, and the ones past the 64th are
  -- waited on by helper threads on Windows.
  helpers.wine_pending(POLLING, "a wait set of 200 readers wakes for the right one, within the polling step",
    function()
    local list = readers(200)
    local set = assert(mailslot.waitset())
    for _, r in ipairs(list) do set:add(r) end
    local lat = wake_latencies(list, 150, function(l)
      assert.same({ l[150] }, assert(set:wait(10)))
      return assert(l[150]:read(0))
    end)
    set:close()
    close_all(list)
    assert.is_true(median_ms(lat) < 20, ("median wake-up %.1f ms"):format(median_ms(lat)))
  end, 10)

  it("mailslot.wait over 200 readers finds the one with a message, on every path", function()
    local list = readers(200)
    local w <close> = assert(mailslot.open(list[150]:name()))
    assert(w:write("here"))
    assert.same({ list[150] }, assert(mailslot.wait(list, 5)))
    assert.equal("here", list[150]:read(0))
    local none, _, code = mailslot.wait(list, 0)
    assert.same({ nil, "timeout" }, { none, code })
    close_all(list)
  end)
end)

describe("a read left in flight", function()
  -- A wait that timed out leaves its overlapped read in flight (Windows); the
  -- name must come free and the next reader get the next message.
  local function abandon(how)
    local stem = helpers.unique_name("flight")
    local r = assert(mailslot.create(stem))
    local none, _, code = r:read(0.05)
    assert.same({ nil, "timeout" }, { none, code })
    if how == "close" then r:close() end
    r = nil -- luacheck: ignore (dropped for the collector)
    collectgarbage()
    collectgarbage()
    local again <close> = assert(mailslot.create(stem))
    local _, ok = helpers.run(([[assert(require("mailslot").open(%q):write("after"))]]):format(stem))
    assert.is_true(ok)
    assert.equal("after", again:read(5))
  end

  it("is cancelled by close: the name is free and the next reader gets the next message", function()
    abandon("close")
  end)

  it("is cancelled when the reader is collected", function()
    abandon("gc")
  end)
end)
