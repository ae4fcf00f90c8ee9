-- Network writers: mailslot.open on \\server\, \\domain\ and \\*\ names sends
-- NetBIOS datagrams with an SMB mailslot write. Everything stays on loopback:
-- a UDP socket in the spec stands where the network would be.
local helpers = require "helpers"
if helpers.remote_is_native("network writers") then return end
local mailslot = require "mailslot"
local nbt = require "mailslot.nbt"
local net_os = require "mailslot.net_os"

describe("network writers", function()
  local catcher, port

  before_each(function()
    catcher, port = helpers.catch_network{ computer_name = "SPECSENDER", workgroup = "SPECWG", resolve_timeout = 0.3 }
  end)
  after_each(function() helpers.stop_catching(catcher) end)

  local function catch()
    local bytes, ip = catcher:recvfrom(2)
    assert.is_string(bytes, "nothing was sent")
    assert.equal("127.0.0.1", ip)
    return assert(nbt.decode_datagram(bytes)), bytes
  end

  it("\\\\*\\ sends a direct group datagram to WORKGROUP<00>", function()
    local w = assert(mailslot.open("\\\\*\\mailslot\\app\\finance"))
    assert.equal(5, w:write("hello"))
    local d = catch()
    assert.equal(0x11, d.type)
    assert.equal("SPECSENDER", d.source_name)
    assert.equal(0, d.source_suffix)
    assert.equal("SPECWG", d.dest_name)
    assert.equal(0, d.dest_suffix)
    assert.equal("127.0.0.1", d.source_ip)
    assert.equal(port, d.source_port)
    assert.equal("\\MAILSLOT\\APP\\FINANCE", d.mailslot)
    assert.equal("hello", d.data)
    assert.equal(2, d.class)
    assert.equal(0, d.offset)
    assert.equal(0x02, d.flags & 0x03) -- FIRST, no MORE: never fragmented
    w:close()
  end)

  it("\\\\domain\\ for the workgroup or a configured domain is a group write", function()
    mailslot.network.configure{ domains = { "corp" } }
    for _, host in ipairs{ "specwg", "CORP" } do
      local w = assert(mailslot.open("\\\\" .. host .. "\\mailslot\\x"))
      assert(w:write("d"))
      local d = catch()
      assert.equal(0x11, d.type)
      assert.equal(host:upper(), d.dest_name)
      w:close()
    end
  end)

  it("each write has a new datagram id", function()
    local w = assert(mailslot.open("\\\\*\\mailslot\\ids"))
    w:write("1")
    w:write("2")
    local a, b = catch(), catch()
    assert.are_not.equal(a.id, b.id)
    w:close()
  end)

  it("\\\\server\\ with an address sends a direct unique datagram there", function()
    local w = assert(mailslot.open("\\\\127.0.0.1\\mailslot\\Remote\\Slot"))
    assert.equal(3, w:write("abc"))
    local d = catch()
    assert.equal(0x10, d.type)
    assert.equal("\\MAILSLOT\\REMOTE\\SLOT", d.mailslot)
    assert.equal("abc", d.data)
    w:close()
  end)

  it("a writer's later writes are its first one's: same datagram, new id, same failure", function()
    -- After its first write, a writer with one target and no local copy
    -- calls its sender straight: nothing may change but the id and data.
    local w = assert(mailslot.open("\\\\127.0.0.1\\mailslot\\again"))
    assert.equal(5, w:write("first"))
    assert.equal(6, w:write("second"))
    local a, b = catch(), catch()
    assert.equal((a.id + 1) & 0xFFFF, b.id)
    a.id, a.data, a.length, b.id, b.data, b.length = nil, nil, nil, nil, nil, nil
    assert.are.same(a, b)
    w:close()
    -- Port 0: every send fails (EINVAL on Linux), the same way each time.
    mailslot.network.configure{ port = 0 }
    w = assert(mailslot.open("\\\\127.0.0.1\\mailslot\\again"))
    local n1, err1, code1 = w:write("x")
    local n2, err2, code2 = w:write("x")
    assert.is_nil(n1)
    assert.equal("system", code1)
    local want = "cannot write to mailslot \\\\127.0.0.1\\mailslot\\again: cannot send to 127.0.0.1:0: "
    assert.equal(want, err1:sub(1, #want))
    assert.are.same({ n1, err1, code1 }, { n2, err2, code2 })
    w:close()
  end)

  it("\\\\server\\ by name resolves through the system resolver", function()
    mailslot.network.configure{ dns = true }
    local w = assert(mailslot.open("\\\\localhost\\mailslot\\x"))
    w:write("via dns")
    local d = catch()
    assert.equal(0x10, d.type)
    assert.equal("LOCALHOST", d.dest_name)
    w:close()
  end)

  it("an unknown server is unreachable, after a bounded wait", function()
    mailslot.network.configure{ name_port = port } -- the query reaches our socket and nobody answers
    local t0 = net_os.monotonic()
    local w, err, code = mailslot.open("\\\\nosuchhost\\mailslot\\x")
    assert.is_nil(w)
    assert.equal("unreachable", code)
    assert.matches("NOSUCHHOST", err)
    assert.truthy(net_os.monotonic() - t0 < 2)
  end)

  it("sends zero-length and binary messages whole", function()
    local w = assert(mailslot.open("\\\\*\\mailslot\\bin"))
    assert.equal(0, w:write(""))
    assert.equal("", catch().data)
    local bin = "\0\1\2\255 x\0"
    w:write(bin)
    assert.equal(bin, catch().data)
    w:close()
  end)

  it("a group write to our workgroup also reaches the local reader, once", function()
    local name = helpers.unique_name("netlocal")
    local r = assert(mailslot.create(name))
    local w = assert(mailslot.open("\\\\*\\mailslot\\" .. name))
    w:write("to everyone")
    assert.equal("to everyone", r:read(1))
    assert.equal("timeout", select(3, r:read(0)))
    catch()
    r:close()
    w:close()
  end)

  it("a group write fails when the local reader's queue stays full", function()
    local name = helpers.unique_name("netfull")
    -- The child owns the slot and does not read until told to stop.
    local child = helpers.spawn(([[
      local m = require "mailslot"
      local r = assert(m.create(%q))
      local ctl = assert(m.create(%q))
      io.write("ready\n") io.flush()
      ctl:read()
      io.write(r:info().count)]]):format(name, name .. "-ctl"))
    assert.equal("ready", child:read("l"))
    finally(function()
      local ctl = mailslot.open(name .. "-ctl")
      if ctl then ctl:write("stop") ctl:close() end
      child:close()
    end)
    local filler = assert(mailslot.open(name, { timeout = 0 }))
    repeat local n = filler:write("x") until not n
    filler:close()
    local w = assert(mailslot.open("\\\\*\\mailslot\\" .. name, { timeout = 0 }))
    local n, msg, code = w:write("lost?")
    assert.is_nil(n)
    assert.equal("timeout", code)
    assert.matches("is full", msg, 1, true)
    catch() -- the network copy still went out
    w:settimeout(0.1)
    local t0 = require("mailslot.loop").now()
    assert.is_nil(w:write("again"))
    assert.is_true(require("mailslot.loop").now() - t0 >= 0.09)
    w:close()
  end)

  it("a group write to another domain does not go to the local reader", function()
    mailslot.network.configure{ domains = { "OTHER" } }
    local name = helpers.unique_name("netother")
    local r = assert(mailslot.create(name))
    local w = assert(mailslot.open("\\\\other\\mailslot\\" .. name))
    w:write("not for us")
    catch()
    assert.equal("timeout", select(3, r:read(0)))
    r:close()
    w:close()
  end)

  it("has the local writer's interface", function()
    local w = assert(mailslot.open("\\\\*\\mailslot\\iface"))
    assert.equal("\\\\*\\mailslot\\iface", w:name())
    assert.equal("mailslot writer \\\\*\\mailslot\\iface", tostring(w))
    assert.equal(w, w:settimeout(1))
    assert.equal(w, w:settimeout(nil))
    assert.equal(w, w:settimeout(math.huge))
    assert.has_error(function() w:settimeout(-1) end, "bad timeout (expected seconds >= 0, nil or math.huge)")
    assert.has_error(function() w:settimeout(0 / 0) end)
    assert.has_error(function() w:settimeout("soon") end)
    assert.is_true(math.type(w:getfd()) == "integer" and w:getfd() >= 0)
    assert.equal(w:getfd(), w:pollfd())
    assert.equal("w", w:events())
    assert.is_nil(w:timeout())
    assert.equal(3, w:writemany{ "a", "b", "c" })
    assert.equal("a", catch().data); assert.equal("b", catch().data); assert.equal("c", catch().data)
    local n, _, code, sent = w:writemany{ "ok", ("x"):rep(5000), "never" }
    assert.is_nil(n)
    assert.equal("too_big", code)
    assert.equal(1, sent)
    assert.equal("ok", catch().data)
    assert.has_error(function() w:writemany("x") end)
    assert.has_error(function() mailslot.open("\\\\*\\mailslot\\iface", { timeout = -1 }) end)
    assert.is_true(w:close())
    assert.is_true(w:close())
    assert.equal("mailslot writer (closed)", tostring(w))
    assert.has_error(function() w:write("x") end, "attempt to use a closed mailslot")
    do
      local w2 <close> = assert(mailslot.open("\\\\*\\mailslot\\iface"))
      assert.has_error(function() w2:write(42) end, "bad argument #1 to 'write' (string expected, got number)")
      assert.has_error(function() w2.write("x") end, "bad argument #1 (network mailslot writer expected)")
      assert.has_error(function() w2.write(nil, "x") end, "bad argument #1 (network mailslot writer expected)")
      assert.has_error(function() w2.write({ sock = true }, "x") end,
        "bad argument #1 (network mailslot writer expected)")
      assert.has_error(function() w2.name({}) end, "bad argument #1 (network mailslot writer expected)")
    end
    assert.has_error(function() mailslot.open("\\\\*\\mailslot\\iface", { bogus = 1 }) end)
  end)

  it("a write makes no garbage: no datagram string, no table", function()
    local w = assert(mailslot.open("\\\\127.0.0.1\\mailslot\\garbage"))
    local msg = ("m"):rep(400)
    assert(w:write(msg)) -- the first write to a target prepares its datagram
    assert.equal(msg, catch().data)
    collectgarbage("collect")
    collectgarbage("stop")
    finally(function() collectgarbage("restart") end) -- also when a write fails
    local before = collectgarbage("count")
    for _ = 1, 50 do assert(w:write(msg)) end
    local grew = (collectgarbage("count") - before) * 1024
    collectgarbage("restart")
    assert.is_true(grew < 100, ("50 writes of 400 bytes made %d bytes of garbage"):format(grew))
    for _ = 1, 50 do assert.equal(msg, catch().data) end
    w:close()
  end)

  it("a destination suffix can be chosen (browser names)", function()
    local w = assert(mailslot.open("\\\\*\\mailslot\\browse", { suffix = 0x1D }))
    w:write("\1")
    local d = catch()
    assert.equal(0x1D, d.dest_suffix)
    w:close()
  end)

  it("local names still go to the core", function()
    local name = helpers.unique_name("stilllocal")
    local r = assert(mailslot.create(name))
    local w = assert(mailslot.open(name))
    assert.equal("mailslot.writer", getmetatable(w).__name)
    w:write("x")
    assert.equal("x", r:read(1))
    r:close()
    w:close()
  end)
end)

describe("too_big", function()
  local catcher
  before_each(function() catcher = helpers.catch_network() end)
  after_each(function() helpers.stop_catching(catcher) end)

  it("refuses a broadcast over Windows' limit before sending anything", function()
    local limit = nbt.max_data("\\MAILSLOT\\FINANCE")
    assert.equal(424, limit)
    local w = assert(mailslot.open("\\\\*\\mailslot\\finance"))
    local n, err, code = w:write(string.rep("x", limit + 1))
    assert.is_nil(n)
    assert.equal("too_big", code)
    assert.matches("424", err)
    assert.equal("timeout", select(3, catcher:recvfrom(0.2)))
    assert.equal(limit, w:write(string.rep("x", limit)))
    local d = assert(nbt.decode_datagram((catcher:recvfrom(2))))
    assert.equal(limit, #d.data)
    w:close()
  end)

  it("the limit follows the name's length, for unicast too", function()
    local w = assert(mailslot.open("\\\\127.0.0.1\\mailslot\\a\\much\\longer\\name"))
    local limit = nbt.max_data("\\MAILSLOT\\A\\MUCH\\LONGER\\NAME")
    assert.truthy(limit < 424)
    assert.equal("too_big", select(3, w:write(string.rep("y", limit + 1))))
    assert.equal(limit, w:write(string.rep("y", limit)))
    w:close()
  end)
end)
