-- Waiting on several readers: mailslot.wait(readers, timeout), and the
-- pollfd/events/timeout protocol event loops use to watch a reader.
local mailslot = require "mailslot"
local helpers = require "helpers"

describe("wait", function()
  local readers, names
  before_each(function()
    readers, names = {}, {}
    for i = 1, 3 do
      names[i] = helpers.unique_name("wait")
      readers[i] = assert(mailslot.create(names[i]))
    end
  end)
  after_each(function()
    for _, r in ipairs(readers) do r:close() end
  end)

  it("returns the readers that have a message, in the order given", function()
    local w2 <close> = assert(mailslot.open(names[2]))
    local w3 <close> = assert(mailslot.open(names[3]))
    w3:write("c") w2:write("b")
    local ready = assert(mailslot.wait(readers, 1))
    assert.equal(2, #ready)
    assert.equal(readers[2], ready[1])
    assert.equal(readers[3], ready[2])
    assert.equal("b", readers[2]:read(0))
    assert.same({ readers[3] }, mailslot.wait(readers, 0))
  end)

  it("timeout 0 with nothing waiting: nil, a message naming the slots and `timeout`", function()
    local n = {}
    for i, r in ipairs(readers) do n[i] = r:name() end
    assert.same({ nil, "no message in mailslots " .. n[1] .. ", " .. n[2] .. " and " .. n[3], "timeout" },
      { mailslot.wait(readers, 0) })
    assert.same({ nil, "no message in mailslot " .. n[1], "timeout" }, { mailslot.wait({ readers[1] }, 0) })
  end)

  it("the loops' timeout message comes from the core and refuses what is not a reader", function()
    local core = require "mailslot.core"
    assert.equal("no message in mailslot " .. readers[1]:name(), core.wait_timeout_message({ readers[1] }))
    assert.has_error(function() core.wait_timeout_message({ readers[1], "x" }) end,
      "bad argument #1 to 'wait_timeout_message' (item 2 is not a mailslot reader)")
    assert.has_error(function() core.wait_timeout_message("x") end)
  end)

  it("a timeout on many readers names the first three and counts the rest", function()
    local many = { readers[1], readers[2], readers[3], readers[1], readers[2] }
    local _, err = mailslot.wait(many, 0)
    assert.equal("no message in mailslots " .. readers[1]:name() .. ", " .. readers[2]:name() .. ", "
      .. readers[3]:name() .. " and 2 more", err)
  end)

  it("timeout t waits at least t", function()
    local t0 = helpers.now()
    local ready, _, code = mailslot.wait(readers, 0.2)
    assert.is_true(helpers.now() - t0 >= 0.15)
    assert.is_nil(ready)
    assert.equal("timeout", code)
  end)

  it("an empty list waits out the timeout; with no timeout it raises rather than hang", function()
    assert.equal("timeout", select(3, mailslot.wait({}, 0.01)))
    assert.has_error(function() mailslot.wait({}) end,
      "bad argument #1 to 'wait' (no readers to wait on and no timeout)")
    assert.has_error(function() mailslot.wait({}, math.huge) end,
      "bad argument #1 to 'wait' (no readers to wait on and no timeout)")
  end)

  it("math.huge (and nil) wait until a message comes from another process", function()
    for _, timeout in ipairs { math.huge, false } do
      local child = helpers.spawn(([[
        local w = assert(require("mailslot").open(%q))
        io.write("opened\n") io.flush()
        w:write("hi")]]):format(names[3]))
      assert.equal("opened", child:read("l"))
      local ready = assert(mailslot.wait(readers, timeout or nil))
      assert.same({ readers[3] }, ready)
      assert.equal("hi", readers[3]:read(0))
      child:close()
    end
  end)

  it("sees messages already queued in user space, which poll() cannot", function()
    local w <close> = assert(mailslot.open(names[1]))
    w:write("1") w:write("2")
    assert.equal(2, readers[1]:info().count) -- both moved from the socket into the queue
    assert.equal("1", readers[1]:read(0))
    assert.same({ readers[1] }, mailslot.wait(readers, 0))
    assert.equal(0, readers[1]:timeout()) -- tells a poller not to sleep
  end)

  helpers.root_it("datagrams the reader refuses do not make it ready", function()
    -- sent without asking (a writer of this module is told `access` at open)
    assert.is_true(helpers.raw_send(helpers.AS_NOBODY, readers[2], "refused"))
    assert.equal("timeout", select(3, mailslot.wait(readers, 0.05)))
    assert.equal(1, readers[2]:info().rejected)
  end)

  it("the same reader twice is reported twice", function()
    local w <close> = assert(mailslot.open(names[1]))
    w:write("x")
    assert.same({ readers[1], readers[1] }, mailslot.wait({ readers[1], readers[2], readers[1] }, 0))
  end)

  describe("pollfd, events, timeout", function()
    helpers.nix_it("pollfd is getfd, a descriptor; events is \"r\"", function()
      local r = readers[1]
      assert.equal("integer", math.type(r:pollfd()))
      assert.is_true(r:pollfd() >= 0)
      assert.equal(r:getfd(), r:pollfd())
      assert.are_not.equal(readers[1]:pollfd(), readers[2]:pollfd())
      assert.equal("r", r:events())
    end)

    it("timeout is nil when nothing is queued here, 0 when a message is", function()
      local r = readers[1]
      assert.is_nil(r:timeout())
      local w <close> = assert(mailslot.open(names[1]))
      w:write("a") w:write("b")
      r:info()
      assert.equal(0, r:timeout())
      r:read(0)
      assert.equal(0, r:timeout())
      r:read(0)
      assert.is_nil(r:timeout())
    end)

    helpers.nix_it("the descriptor polls readable when a message arrives, not before", function()
      local ok, os_ = pcall(require, "mailslot.net_os") -- the network layer's poll(2) binding
      if not (ok and os_.poll) then
        pending("needs a poll(2) binding (mailslot.net_os)")
        return
      end
      local fd = readers[1]:pollfd()
      assert.is_nil(os_.poll({ fd }, 0)[fd])
      local w <close> = assert(mailslot.open(names[1]))
      w:write("poll me")
      assert.is_true(os_.poll({ fd }, 0)[fd])
      assert.equal("poll me", readers[1]:read(0))
      assert.is_nil(os_.poll({ fd }, 0)[fd])
    end)
  end)
end)
