-- mailslot.waitset(): readers registered once and waited on again and again
-- (what mailslot.loop uses), reporting exactly the readers with a message.
local mailslot = require "mailslot"
local core = require "mailslot.core"
local helpers = require "helpers"

local function slot(stem, opts)
  local name = helpers.unique_name(stem)
  return assert(mailslot.create(name, opts)), name
end

local function send(name, msg)
  local w = assert(mailslot.open(name))
  assert(w:write(msg))
  w:close()
end

describe("mailslot.waitset", function()
  local set, readers
  before_each(function()
    set = assert(core.waitset())
    readers = {}
  end)
  after_each(function()
    set:close()
    for _, r in ipairs(readers) do r:close() end
  end)

  local function member(stem, opts)
    local r, name = slot(stem, opts)
    readers[#readers + 1] = r
    set:add(r)
    return r, name
  end

  it("reports exactly the readers with a message among 200", function()
    local names = {}
    for i = 1, 200 do
      local _, name = member("ws" .. i)
      names[i] = name
    end
    send(names[17], "a")
    send(names[150], "b")
    local got, seen = {}, {}
    while #got < 2 do
      for _, r in ipairs(assert(set:wait(5))) do
        if not seen[r] then seen[r] = true; got[#got + 1] = r end
      end
    end
    assert.is_true(seen[readers[17]] and seen[readers[150]])
    assert.equal("a", readers[17]:read(0))
    assert.equal("b", readers[150]:read(0))
    local none, _, code = set:wait(0.02)
    assert.is_nil(none)
    assert.equal("timeout", code)
  end)

  it("reports a message that arrived before the reader was added", function()
    local r, name = slot("early")
    readers[1] = r
    send(name, "early")
    set:add(r)
    assert.same({ r }, assert(set:wait(5)))
  end)

  it("keeps reporting a reader until its messages are read", function()
    local r, name = member("keep")
    send(name, "1")
    send(name, "2")
    assert.same({ r }, assert(set:wait(5)))
    assert.equal("1", r:read(0))
    assert.same({ r }, assert(set:wait(0)))
    assert.equal("2", r:read(0))
    assert.equal("timeout", select(3, set:wait(0)))
  end)

  it("a removed reader is not reported; added back, what came meanwhile is", function()
    local r, name = member("mute")
    set:remove(r)
    send(name, "meanwhile")
    assert.equal("timeout", select(3, set:wait(0.02)))
    set:add(r)
    assert.same({ r }, assert(set:wait(5)))
    assert.equal("meanwhile", r:read(0))
  end)

  helpers.nix_it("a datagram the reader drops wakes nothing", function()
    local r = member("drop", { max_size = 4 })
    -- from a program that does not learn the reader's max_size, so it sends anyway
    assert.is_true(helpers.raw_send(nil, r, "too long for it"))
    local t0 = helpers.now()
    assert.equal("timeout", select(3, set:wait(0.1)))
    assert.is_true(helpers.now() - t0 >= 0.1)
    assert.equal(1, r:info().oversized)
  end)

  it("a member closed meanwhile makes the next wait say 'closed', then waits go on", function()
    local a = member("closed-a")
    local b, nb = member("closed-b")
    a:close()
    local none, msg, code = set:wait(5)
    assert.is_nil(none)
    assert.equal("closed", code)
    assert.matches("closed", msg)
    send(nb, "still here")
    assert.same({ b }, assert(set:wait(5)))
  end)

  it("a reader nobody holds is collected while in a set", function()
    local r = slot("gc")
    set:add(r)
    local weak = setmetatable({ r }, { __mode = "v" })
    r = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
    assert.equal("closed", select(3, set:wait(0.01)))
  end)

  -- On the overlapped path (Windows, Wine 10) a wait that timed out leaves
  -- each member's ReadFile in flight, into the reader's buffer: closing or
  -- collecting such a member cancels it, and the set, the other members and
  -- the name go on.
  it("a member with a read in flight, closed or collected while in the set, lets the set and the name go on", function()
    local a, na = member("flight-a")
    local b, nb = member("flight-b")
    local c, nc = slot("flight-c")
    set:add(c)
    assert.equal(helpers.expected_wait_path(), a:info().wait)
    assert.equal("timeout", select(3, set:wait(0.05))) -- leaves a read in flight on each
    a:close()
    local weak = setmetatable({ c }, { __mode = "v" })
    c = nil -- luacheck: ignore (dropped for the collector, its read still in flight)
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
    assert.equal("closed", select(3, set:wait(0.05)))
    send(nb, "b still waited on")
    assert.same({ b }, assert(set:wait(5)))
    assert.equal("b still waited on", b:read(0))
    -- the names are free, and new readers there get the next messages
    for _, name in ipairs({ na, nc }) do
      local again <close> = assert(mailslot.create(name))
      local _, ok = helpers.run(([[assert(require("mailslot").open(%q):write("after"))]]):format(name))
      assert.is_true(ok)
      assert.equal("after", again:read(5))
    end
  end)

  -- More members than WaitForMultipleObjects takes (64): on Windows helper
  -- threads wait on the rest, and one of them must wake the set.
  it("wakes for a member past the 64th when another process writes while it waits", function()
    local names = {}
    for i = 1, 130 do
      local _, name = member("wide" .. i)
      names[i] = name
    end
    assert.equal("timeout", select(3, set:wait(0.02)))
    local child = helpers.spawn(([[
      local m = require "mailslot"
      assert(m.create(%q)):read(0.2) -- never written: the set is waiting by then
      assert(assert(m.open(%q)):write("late"))]]):format(helpers.unique_name("pace"), names[120]))
    local t0 = helpers.now()
    local got = assert(set:wait(10))
    assert.is_true(helpers.now() - t0 < 5)
    assert.same({ readers[120] }, got)
    assert.equal("late", readers[120]:read(0))
    assert.is_true(child:close())
  end)

  it("a reader is in one set at a time; a closed set lets it go", function()
    local r = member("one")
    local other = assert(core.waitset())
    assert.has_error(function() other:add(r) end)
    set:close()
    other:add(r) -- its first set is gone
    other:close()
    set = assert(core.waitset())
  end)

  it("discard takes a reader out for good: another set may take it, and what came is reported there", function()
    local r, name = member("discard")
    local other = assert(core.waitset())
    assert.equal(set, set:discard(r))
    set:discard(r) -- not a member any more: nothing to do
    send(name, "for the other set")
    assert.equal("timeout", select(3, set:wait(0.02)))
    other:add(r)
    assert.same({ r }, assert(other:wait(5)))
    assert.equal("for the other set", r:read(0))
    other:discard(r)
    set:add(r) -- and back
    other:close()
  end)

  it("mailslot.wait and a set share readers: either may come first", function()
    local r, name = slot("shared")
    readers[1] = r
    assert.equal("timeout", select(3, mailslot.wait({ r }, 0)))
    set:add(r) -- mailslot.wait's own set lets it go
    send(name, "1")
    assert.same({ r }, assert(set:wait(5)))
    assert.same({ r }, assert(mailslot.wait({ r }, 5))) -- in the set: it polls
    assert.equal("1", r:read(0))
    assert.equal("timeout", select(3, mailslot.wait({ r }, 0)))
  end)

  it("mailslot.wait reports exactly its own readers, in order, repeats included", function()
    local a, na = slot("own-a")
    local b, nb = slot("own-b")
    local c = slot("own-c")
    readers = { a, b, c }
    send(na, "x")
    send(nb, "y")
    assert.same({ a, b, a }, assert(mailslot.wait({ c, a, b, a }, 5)))
    assert.same({ b }, assert(mailslot.wait({ b, c }, 5)))
    assert.equal("x", a:read(0))
    assert.equal("y", b:read(0))
    local none, msg, code = mailslot.wait({ a, b, c }, 0.01)
    assert.is_nil(none)
    assert.equal("timeout", code)
    assert.matches(c:name(), msg, 1, true) -- the message names them, as before
  end)

  -- After fork the epoll instance behind a set is shared with the parent: a
  -- child that unregistered its copies there would blind the parent's set.
  helpers.nix_it("a forked child that waits on and closes its copies leaves the parent's sets working", function()
    local name = helpers.unique_name("wsfork")
    local out, ok = helpers.run(([[
      local fork, m = require "native.fork", require "mailslot"
      local r, r2 = assert(m.create(%q)), assert(m.create(%q))
      local set = assert(m.waitset())
      set:add(r)
      assert(set:wait(0) == nil) -- r looked at: from now on only epoll can wake it
      assert(m.wait({ r2 }, 0) == nil) -- r2 in mailslot.wait's own set, likewise
      io.stdout:flush()
      local pid = fork.fork()
      if pid == 0 then
        assert(assert(m.open(%q)):write("child"))
        local ok1 = #assert(set:wait(5)) == 1 and r:read(0) == "child"
        assert(assert(m.open(%q)):write("child2"))
        local ok2 = #assert(m.wait({ r2 }, 5)) == 1 and r2:read(0) == "child2"
        r:close()
        r2:close()
        set:close()
        os.exit((ok1 and ok2) and 0 or 3)
      end
      assert(fork.wait(pid) == 0, "the child failed")
      assert(assert(m.open(%q)):write("parent"))
      local got = set:wait(2)
      io.write(got and #got == 1 and r:read(0) or "the set missed it", " ")
      assert(assert(m.open(%q)):write("again"))
      got = m.wait({ r2 }, 2)
      io.write(got and #got == 1 and r2:read(0) or "mailslot.wait missed it")]]):format(
      name, name .. "-2", name, name .. "-2", name, name .. "-2"))
    assert.is_true(ok, out)
    assert.equal("parent again", out)
  end)

  it("rejects what is not a reader, and a closed set", function()
    assert.has_error(function() set:add({}) end)
    assert.error_matches(function() set:discard({}) end, "mailslot.reader expected", 1, true)
    local s = assert(core.waitset())
    s:close()
    assert.has_error(function() s:wait(0) end)
    local r = slot("discard-closed")
    assert.has_error(function() s:discard(r) end, "attempt to use a closed wait set")
    r:close()
    assert.matches("closed", tostring(s))
  end)
end)
