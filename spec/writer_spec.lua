-- Writers ("mailslot clients"): open a reader's name and write whole messages.
local mailslot = require "mailslot"
local helpers = require "helpers"

describe("writer", function()
  it("open gives `not_found` when no reader has the name", function()
    local stem = helpers.unique_name("writer")
    local w, msg, code = mailslot.open(stem)
    assert.is_nil(w)
    assert.equal("not_found", code)
    assert.equal("mailslot " .. mailslot.parse(stem).name .. " does not exist", msg)
  end)

  it("write returns the number of bytes written", function()
    local stem = helpers.unique_name("writer")
    local r <close> = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem))
    assert.equal(0, w:write(""))
    assert.equal(11, w:write("hello world"))
    assert.equal("", r:read(0))
    assert.equal("hello world", r:read(0))
  end)

  it("is named like its reader", function()
    local stem = helpers.unique_name("writer")
    local r <close> = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem:upper()))
    assert.equal(r:name(), w:name())
    assert.equal("mailslot writer " .. r:name(), tostring(w))
  end)

  it("never blocks on a reader its own thread reads, however many messages wait", function()
    local stem = helpers.unique_name("writer")
    local r <close> = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem, { timeout = 0 }))
    for i = 1, 500 do assert.equal(#tostring(i), w:write(tostring(i))) end
    assert.equal(500, r:info().count)
  end)

  describe("when the reader in another process does not read", function()
    local stem, child
    before_each(function()
      stem = helpers.unique_name("full")
      -- The child owns `stem` and waits on a control slot until told to stop.
      child = helpers.spawn(([[
        local m = require "mailslot"
        local r = assert(m.create(%q))
        local ctl = assert(m.create(%q))
        io.write("ready\n") io.flush()
        ctl:read()
        io.write(r:info().count)]]):format(stem, stem .. "-ctl"))
      assert.equal("ready", child:read("l"))
    end)
    after_each(function()
      local ctl = mailslot.open(stem .. "-ctl")
      if ctl then ctl:write("stop") ctl:close() end
      child:close()
    end)

    it("timeout 0 returns `timeout` at once when its queue is full", function()
      local w <close> = assert(mailslot.open(stem, { timeout = 0 }))
      local sent, n, msg, code = 0, nil, nil, nil -- luacheck: ignore
      repeat
        n, msg, code = w:write("x")
        if n then sent = sent + 1 end
      until not n or sent > 100000
      assert.equal("timeout", code)
      assert.equal("mailslot " .. w:name() .. " is full", msg)
      assert.is_true(sent >= 1)
    end)

    it("timeout t waits t seconds for room, then returns `timeout`", function()
      local w <close> = assert(mailslot.open(stem, { timeout = 0 }))
      repeat until not w:write("fill") -- fill the queue without waiting
      assert.same(w, w:settimeout(0.2))
      local t0 = helpers.now()
      local n, msg, code = w:write("x")
      assert.is_true(helpers.now() - t0 >= 0.15)
      assert.is_nil(n)
      assert.equal("timeout", code)
      assert.matches("stayed full", msg, 1, true)
      assert.matches(w:name(), msg, 1, true)
    end)

    it("a waiting write goes through when the reader takes messages", function()
      local w <close> = assert(mailslot.open(stem, { timeout = 0 }))
      local sent = 0
      while w:write("m") do sent = sent + 1 end
      w:settimeout(nil) -- forever: the child reads the queue when told to stop
      local ctl <close> = assert(mailslot.open(stem .. "-ctl"))
      ctl:write("stop")
      -- the child counts what is queued and exits; the write below must not hang
      -- forever: either it got room or the reader went away (`closed`)
      local n, _, code = w:write("last")
      assert.is_true(n == 4 or code == "closed")
      assert.is_true(tonumber(child:read("a")) >= sent)
    end)
  end)

  helpers.nix_it("relay delivers with the network sender attached", function()
    local stem = helpers.unique_name("relay")
    local r <close> = assert(mailslot.create(stem, { network = true }))
    local w <close> = assert(mailslot.open(stem))
    assert.equal(4, w:relay("ping", { name = "PEER", address = "10.1.2.3", port = 138 }))
    assert.equal("ping", r:read(0))
    local s = r:sender()
    assert.equal("PEER", s.name)
    assert.equal("10.1.2.3", s.address)
    assert.equal(138, s.port)
    w:write("plain")
    r:read(0)
    assert.is_nil(r:sender().name)
  end)

  helpers.nix_it("a reader that did not ask for network messages refuses relays, even its own user's", function()
    local stem = helpers.unique_name("relay")
    local r <close> = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem))
    assert.equal(4, w:relay("ping", { name = "PEER", address = "10.1.2.3", port = 138 }))
    w:write("local")
    assert.equal("local", r:read(0))
    assert.is_nil(r:sender().name)
    assert.equal(1, r:info().rejected)
  end)

  helpers.nix_it("pollfd/events/timeout for event loops", function()
    local stem = helpers.unique_name("writer")
    local _r <close> = assert(mailslot.create(stem)) -- luacheck: ignore (kept open by <close>)
    local w <close> = assert(mailslot.open(stem))
    assert.equal(w:getfd(), w:pollfd())
    assert.is_true(math.type(w:getfd()) == "integer" and w:getfd() >= 0)
    assert.equal("w", w:events())
    assert.is_nil(w:timeout())
  end)
end)
