-- mailslot.queued: priorities, bounded queue policies, reconnect, flush, counters.
local mailslot = require "mailslot"
local loop = require "mailslot.loop"
local frame = require "mailslot.frame"
local helpers = require "helpers"

local function drain(r)
  local got = {}
  while true do
    local m = r:read(0)
    if not m then return got end
    got[#got + 1] = m
  end
end

-- Steps the loop until pred() holds; synchronises on events, not on time.
local function step_until(L, pred)
  for _ = 1, 10000 do
    if pred() then return end
    L:step(0.5)
  end
  error("condition never reached")
end

describe("mailslot.queued", function()
  it("sends by priority, first in first out within a priority", function()
    local name = helpers.unique_name("prio")
    local r = assert(mailslot.create(name))
    local L = loop.new()
    local q = mailslot.queued(name, { loop = L })
    assert(q:write("n1")); assert(q:write("l1", "low")); assert(q:write("h1", "high"))
    assert(q:write("n2", "normal")); assert(q:write("h2", 9)); assert(q:write("p7", 7))
    local flushed
    L:spawn(function() flushed = q:flush(5) end)
    assert(L:run(10))
    assert.is_true(flushed)
    assert.same({ "h1", "h2", "p7", "n1", "n2", "l1" }, drain(r))
    local s = q:stats()
    assert.equal(6, s.sent)
    assert.equal(0, s.queued)
    assert.equal(0, s.dropped)
    q:close(); r:close()
  end)

  it("never blocks the writer when no reader exists, and keeps retrying", function()
    local name = helpers.unique_name("noreader")
    local L = loop.new()
    local q = mailslot.queued(name, { loop = L, backoff = 0.01, max_backoff = 0.02 })
    assert.is_true(q:write("m"))
    step_until(L, function() return q:stats().failed >= 2 end)
    local s = q:stats()
    assert.equal(1, s.queued)
    assert.equal("not_found", s.last_code)
    assert.is_true(s.retries >= 1)
    local t0 = loop.now()
    local ok, _, code = q:flush(0.05) -- main thread: tries itself, then gives up
    assert.is_nil(ok)
    assert.equal("timeout", code)
    assert.is_true(loop.now() - t0 >= 0.04)
    q:close()
    assert.equal(1, q:stats().dropped)
  end)

  it("policy reject refuses the newest message when full", function()
    local q = mailslot.queued(helpers.unique_name("reject"), { loop = loop.new(), max = 2 })
    assert(q:write("a")); assert(q:write("b"))
    local ok, msg, code = q:write("c", "high")
    assert.is_nil(ok)
    assert.equal("full", code)
    assert.matches("full", msg)
    local s = q:stats()
    assert.same({ 2, 1, 1 }, { s.queued, s.rejected, s.dropped })
    q:close()
  end)

  it("policy drop_oldest drops the oldest of the least important messages", function()
    local name = helpers.unique_name("dropold")
    local L = loop.new()
    local q = mailslot.queued(name, { loop = L, max = 3, policy = "drop_oldest" })
    assert(q:write("n1")); assert(q:write("h1", "high")); assert(q:write("n2"))
    assert(q:write("n3"))                      -- n1 goes
    local ok, _, code = q:write("l1", "low")   -- outranked by everything: l1 goes
    assert.is_nil(ok)
    assert.equal("full", code)
    local s = q:stats()
    assert.equal(1, s.evicted)   -- only n1 was evicted; l1 was refused
    assert.equal(1, s.rejected)
    local r = assert(mailslot.create(name))
    assert(q:flush(5))
    assert.same({ "h1", "n2", "n3" }, drain(r))
    assert.equal(2, q:stats().dropped)
    q:close(); r:close()
  end)

  it("drop_oldest evicts nothing for a message that cannot be framed", function()
    local L = loop.new()
    local q = mailslot.queued(helpers.unique_name("dropbig"), {
      loop = L, max = 1, policy = "drop_oldest", frame = { max_size = frame.HEADER_SIZE + 1 } })
    assert(q:write("keep"))
    local ok, _, code = q:write(("x"):rep(frame.MAX_FRAGMENTS + 1)) -- one byte a frame
    assert.is_nil(ok)
    assert.equal("too_big", code)
    local s = q:stats()
    assert.same({ 1, 0, 1, 1 }, { s.queued, s.evicted, s.rejected, s.dropped })
    q:close()
  end)

  it("policy block suspends the writing coroutine until there is room", function()
    local name = helpers.unique_name("block")
    local L = loop.new()
    local q = mailslot.queued(name, { loop = L, max = 1, policy = "block", backoff = 0.01, max_backoff = 0.02 })
    local progress = {}
    L:spawn(function()
      assert(q:write("a")); progress[#progress + 1] = "a"
      assert(q:write("b")); progress[#progress + 1] = "b"
    end)
    step_until(L, function() return q:stats().failed >= 2 end) -- no reader: "a" stays queued
    assert.same({ "a" }, progress)                             -- the writer waits for room
    -- the main thread cannot be suspended: block acts as reject there
    local ok, _, code = q:write("c")
    assert.is_nil(ok)
    assert.equal("full", code)
    local r = assert(mailslot.create(name))
    step_until(L, function() return q:stats().sent == 2 end)
    assert.same({ "a", "b" }, progress)
    assert.same({ "a", "b" }, drain(r))
    q:close(); r:close()
  end)

  helpers.wine_pending("a name outlives its reader while a writer has it open; writes to it are lost",
    "keeps a failed message at the head and delivers it when the reader restarts", function()
    local name = helpers.unique_name("restart")
    local L = loop.new()
    local q = mailslot.queued(name, { loop = L, backoff = 0.01, max_backoff = 0.05 })
    local r1 = assert(mailslot.create(name))
    assert(q:write("before"))
    step_until(L, function() return q:stats().sent == 1 end)
    assert.same({ "before" }, drain(r1))
    r1:close()
    assert(q:write("m1")); assert(q:write("m2"))
    step_until(L, function() return q:stats().failed >= 2 end)
    assert.equal(2, q:stats().queued)
    local r2 = assert(mailslot.create(name))
    step_until(L, function() return q:stats().sent == 3 end)
    assert.same({ "m1", "m2" }, drain(r2))
    assert.equal(0, q:stats().dropped)
    q:close(); r2:close()
  end)

  it("restarted reader in another process gets the queued messages", function()
    local name = helpers.unique_name("restart-child")
    local L = loop.new()
    local q = mailslot.queued(name, { loop = L, backoff = 0.01, max_backoff = 0.05 })
    assert(q:write("x1")); assert(q:write("x2"))
    -- the child reads two messages and prints them; it creates the slot itself
    local child = helpers.spawn(([[
      local m = require "mailslot"
      local r = assert(m.create(%q))
      io.write(assert(r:read(10)), ",", assert(r:read(10)))
    ]]):format(name))
    step_until(L, function() return q:stats().sent == 2 end)
    assert.equal("x1,x2", child:read("a"))
    assert.is_true(child:close())
    q:close()
  end)

  it("sends framed messages that a reassembler puts back together", function()
    local name = helpers.unique_name("framed")
    local r = assert(mailslot.create(name))
    local L = loop.new()
    local q = mailslot.queued(name, { loop = L, frame = { max_size = 64, crc = true } })
    local payload = ("0123456789"):rep(30)
    assert(q:write(payload))
    step_until(L, function() return q:stats().sent == 1 end)
    local re = frame.reassembler()
    local message
    for _, f in ipairs(drain(r)) do message = re:push(f) or message end
    assert.equal(payload, message)
    q:close(); r:close()
  end)

  it("raises on misuse", function()
    local L = loop.new()
    assert.has_error(function() mailslot.queued(42) end)
    assert.has_error(function() mailslot.queued("x", { bogus = 1 }) end,
      "bad argument #2 to 'queued' (unknown option 'bogus')")
    assert.has_error(function() mailslot.queued("x", { policy = "maybe", loop = L }) end)
    assert.has_error(function() mailslot.queued("bad*name", { loop = L }) end,
      'bad argument #1 to \'queued\' (invalid mailslot name "bad*name": contains a character Windows '
      .. 'refuses (control characters or <>:"|?*))')
    assert.has_error(function() mailslot.queued("", { loop = L }) end)
    local q = mailslot.queued(helpers.unique_name("misuse"), { loop = L })
    assert.has_error(function() q:write(1) end)
    assert.has_error(function() q:write("m", "urgent") end)
    assert.has_error(function() q:write("m", 10) end)
    q:close()
    assert.has_error(function() q:write("m") end, "attempt to use a closed queue")
  end)
end)

describe("mailslot.queued on network names", function()
  if helpers.windows then
    it("(POSIX only)", function() pending("Windows handles remote mailslots natively") end)
    return
  end
  local net_os = require "mailslot.net_os"
  local nbt = require "mailslot.nbt"
  local catcher
  before_each(function()
    catcher = helpers.catch_network{ computer_name = "SPECQUEUE", workgroup = "SPECWG", resolve_timeout = 0.3 }
  end)
  after_each(function() helpers.stop_catching(catcher) end)

  it("sends \\\\*\\ names through the network writer", function()
    local L = loop.new()
    local q = mailslot.queued("\\\\*\\mailslot\\queue\\net", { loop = L, backoff = 0.01, max_backoff = 0.02 })
    assert(q:write("over the wire"))
    step_until(L, function() return q:stats().sent == 1 or q:stats().failed >= 3 end)
    assert.equal(1, q:stats().sent)
    local bytes = catcher:recvfrom(2)
    assert.is_string(bytes, "nothing was sent")
    local d = assert(nbt.decode_datagram(bytes))
    assert.equal("\\MAILSLOT\\QUEUE\\NET", d.mailslot)
    assert.equal("over the wire", d.data)
    q:close()
  end)

  it("finding a server by NetBIOS name query never holds up the loop's other tasks", function()
    local names = require "mailslot.net.names"
    local ns = assert(net_os.udp{ address = "127.0.0.1" })
    mailslot.network.configure{ name_port = select(2, ns:getsockname()), resolve_timeout = 3 }
    local L = loop.new()
    local ticks, done, asked, waited = 0, false, nil, nil
    -- Another task of the loop: it counts its turns.
    L:spawn(function()
      while not done and ticks < 100000 do
        ticks = ticks + 1
        loop.sleep(0.001)
      end
    end)
    -- The server, in the loop too: it answers the query only once the other
    -- task has had 20 turns since the query came. Were the resolver to block
    -- the loop while it waits, no answer could ever come.
    L:spawn(function()
      local bytes, ip, from
      while not bytes and not done do
        bytes, ip, from = ns:recvfrom()
        if not bytes then loop.sleep(0.001) end
      end
      if done then return end
      asked = assert(names.parse_query(bytes))
      local at = ticks
      while ticks < at + 20 and not done do loop.sleep(0.001) end
      waited = ticks - at
      ns:sendto(names.positive_response(asked, "127.0.0.1"), ip, from)
    end)
    local q = mailslot.queued("\\\\slowsrv\\mailslot\\queue\\slow", { loop = L })
    assert(q:write("found you"))
    local ok, err = pcall(step_until, L, function() return q:stats().sent == 1 or q:stats().failed >= 1 end)
    done = true
    ns:close()
    q:close()
    assert(ok, err)
    assert.same({ 1, 0 }, { q:stats().sent, q:stats().failed }, q:stats().last_error)
    assert.equal("SLOWSRV", asked.name)
    assert.is_true(waited >= 20)
    local bytes = catcher:recvfrom(2)
    assert.is_string(bytes, "nothing was sent")
    local d = assert(nbt.decode_datagram(bytes))
    assert.equal("SLOWSRV", d.dest_name)
    assert.equal("found you", d.data)
  end)

  it("a queue closed while it finds its server keeps no writer and sends nothing", function()
    local names = require "mailslot.net.names"
    local ns = assert(net_os.udp{ address = "127.0.0.1" })
    mailslot.network.configure{ name_port = select(2, ns:getsockname()), resolve_timeout = 3 }
    local L = loop.new()
    local q = mailslot.queued("\\\\slowsrv\\mailslot\\queue\\closed", { loop = L })
    assert(q:write("never sent"))
    L:spawn(function()
      local bytes, ip, from
      for _ = 1, 3000 do
        bytes, ip, from = ns:recvfrom()
        if bytes then break end
        loop.sleep(0.001)
      end
      q:close() -- while the queue's task waits for this answer
      ns:sendto(names.positive_response(assert(names.parse_query(bytes)), "127.0.0.1"), ip, from)
    end)
    local ok, err = L:run(10)
    ns:close()
    assert(ok, err)
    assert.equal(0, L:count(), "a task is still running")
    assert.is_nil(q.writer)
    assert.same({ 0, 1 }, { q:stats().sent, q:stats().dropped })
    assert.equal("timeout", select(3, catcher:recvfrom(0)))
  end)
end)
