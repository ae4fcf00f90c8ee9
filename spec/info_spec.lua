-- reader:info() (GetMailslotInfo) and timeouts (SetMailslotInfo): how many
-- messages wait, how long the next one is, and how long a read waits.
local mailslot = require "mailslot"
local helpers = require "helpers"

describe("info", function()
  it("an empty slot: count 0, no next_size, the defaults", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("info")))
    assert.same({ max_size = 0, count = 0, timeout = math.huge, rejected = 0, oversized = 0,
      wait = helpers.expected_wait_path() }, r:info())
  end)

  it("reports the options it was created with", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("info"), { max_size = 424, timeout = 2.5 }))
    local info = r:info()
    assert.equal(424, info.max_size)
    assert.equal(2.5, info.timeout)
  end)

  it("max_size takes Windows' whole DWORD range: 2^32-1 is reported unchanged and means any size", function()
    local stem = helpers.unique_name("info")
    local r <close> = assert(mailslot.create(stem, { max_size = 0xFFFFFFFF }))
    assert.equal(0xFFFFFFFF, r:info().max_size)
    local w <close> = assert(mailslot.open(stem))
    local big = ("x"):rep(100000) -- more than a small buffer, less than any transport's limit
    assert(w:write(big))
    assert.equal(big, r:read(5))
    assert.equal(0, r:info().oversized)
  end)

  it("count and next_size follow the queue exactly", function()
    local stem = helpers.unique_name("info")
    local r <close> = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem))
    w:write("12345") w:write("") w:write("abc")
    local info = r:info()
    assert.equal(3, info.count)
    assert.equal(5, info.next_size)
    r:read(0)
    info = r:info()
    assert.equal(2, info.count)
    assert.equal(0, info.next_size) -- a zero-length message is still a message
    r:read(0)
    assert.same({ 1, 3 }, { r:info().count, r:info().next_size })
    r:read(0)
    info = r:info()
    assert.equal(0, info.count)
    assert.is_nil(info.next_size)
  end)

  it("a timeout too small to wait still takes a message already waiting", function()
    local name = helpers.unique_name("tiny")
    local r <close> = assert(mailslot.create(name))
    local w <close> = assert(mailslot.open(name))
    w:write("already here")
    assert.equal("already here", r:read(1e-9))
    assert.equal("timeout", select(3, r:read(1e-9)))
  end)

  it("counts 1000 messages waiting from another process, far above the kernel's queue", function()
    local stem = helpers.unique_name("info")
    local r <close> = assert(mailslot.create(stem))
    local child = helpers.spawn(([[
      local w = assert(require("mailslot").open(%q))
      for i = 1, 1000 do assert(w:write(("%%d:"):format(i) .. ("x"):rep(i %% 7))) end
      io.write("done")]]):format(stem))
    -- The child blocks whenever the kernel queue is full; info() drains it.
    local deadline = helpers.now() + 30
    local info
    repeat info = r:info() until info.count >= 1000 or helpers.now() > deadline
    assert.equal("done", child:read("a"))
    assert.is_true(child:close())
    info = r:info()
    assert.equal(1000, info.count)
    assert.equal(#"1:x", info.next_size)
    for i = 1, 1000 do
      local m = r:read(0)
      assert.equal(("%d:"):format(i) .. ("x"):rep(i % 7), m)
      if i % 250 == 0 then
        info = r:info()
        assert.equal(1000 - i, info.count)
      end
    end
    assert.equal(0, r:info().count)
  end)
end)

describe("timeouts", function()
  local stem, r
  before_each(function()
    stem = helpers.unique_name("timeout")
    r = assert(mailslot.create(stem))
  end)
  after_each(function() r:close() end)

  it("0 returns at once with `timeout`", function()
    local msg, err, code = r:read(0)
    assert.is_nil(msg)
    assert.equal("timeout", code)
    assert.matches(r:name(), err, 1, true)
  end)

  it("t seconds waits at least t, then `timeout` with the time in the message", function()
    local t0 = helpers.now()
    local msg, err, code = r:read(0.2)
    assert.is_true(helpers.now() - t0 >= 0.15)
    assert.is_nil(msg)
    assert.equal("timeout", code)
    assert.equal("no message in mailslot " .. r:name() .. " within 0.2 s", err)
  end)

  it("a message that is there is returned whatever the timeout", function()
    local w <close> = assert(mailslot.open(stem))
    for _, t in ipairs { 0, 0.5, math.huge } do
      w:write("t")
      assert.equal("t", r:read(t))
    end
    w:write("nil")
    assert.equal("nil", r:read(nil))
  end)

  it("math.huge waits until a message comes", function()
    local child = helpers.spawn(([[
      local w = assert(require("mailslot").open(%q))
      io.write("opened\n") io.flush()
      w:write("late")]]):format(stem))
    assert.equal("opened", child:read("l"))
    assert.equal("late", r:read(math.huge))
    child:close()
  end)

  it("nil uses the reader's timeout, set at create or by settimeout", function()
    local q <close> = assert(mailslot.create(helpers.unique_name("timeout"), { timeout = 0.1 }))
    local t0 = helpers.now()
    local _, _, code = q:read()
    assert.equal("timeout", code)
    assert.is_true(helpers.now() - t0 >= 0.05)
    assert.same(q, q:settimeout(0))
    assert.equal(0, q:info().timeout)
    assert.same({ nil, "timeout" }, { select(1, q:read(nil)), select(3, q:read(nil)) })
  end)

  it("settimeout: seconds, 0, nil and math.huge (forever)", function()
    r:settimeout(2.5)
    assert.equal(2.5, r:info().timeout)
    assert.equal(2.5, r:gettimeout())
    r:settimeout(0)
    assert.equal(0, r:info().timeout)
    assert.equal(0, r:gettimeout())
    r:settimeout(math.huge)
    assert.equal(math.huge, r:info().timeout)
    assert.equal(math.huge, r:gettimeout())
    r:settimeout(1)
    r:settimeout(nil)
    assert.equal(math.huge, r:info().timeout)
    assert.equal(math.huge, r:gettimeout())
    r:settimeout(1)
    r:settimeout()
    assert.equal(math.huge, r:info().timeout)
  end)

  it("bad values raise", function()
    for _, bad in ipairs { -1, -math.huge, 0 / 0, "soon", {}, true } do
      assert.has_error(function() r:read(bad) end)
      assert.has_error(function() r:settimeout(bad) end)
      assert.has_error(function() mailslot.create(helpers.unique_name("t"), { timeout = bad }) end)
      assert.has_error(function() mailslot.open(stem, { timeout = bad }) end)
    end
    assert.has_error(function() r:read(-1) end, "bad timeout (expected seconds >= 0, nil or math.huge)")
  end)
end)
