-- Finding a server: address literals, the system resolver, then a NetBIOS
-- name query (UDP 137, here a loopback port) answered by a spec socket or by
-- the service's name responder.
local helpers = require "helpers"
if helpers.remote_is_native("resolve") then return end
local nbt = require "mailslot.nbt"
local net_os = require "mailslot.net_os"
local config = require "mailslot.net.config"
local resolve = require "mailslot.net.resolve"
local names = require "mailslot.net.names"

describe("resolve", function()
  local ns, ns_port, cfg
  before_each(function()
    ns = assert(net_os.udp{ address = "127.0.0.1" })
    ns_port = select(2, ns:getsockname())
    cfg = config.get{ interfaces = { "127.0.0.1/8" }, broadcast = { "127.0.0.1" }, name_port = ns_port,
                      dns = false, resolve_timeout = 1 }
  end)
  after_each(function() ns:close() end)

  it("takes an IPv4 literal as it is", function()
    assert.same({ "10.1.2.3", "literal" }, { resolve.host("10.1.2.3", cfg) })
  end)

  it("asks the system resolver first when dns is on", function()
    cfg.dns = true
    assert.same({ "127.0.0.1", "dns" }, { resolve.host("localhost", cfg) })
  end)

  -- The spec plays the server; a child process does the resolving.
  it("broadcasts a NetBIOS name query for NAME<00> and takes the answer", function()
    local p = io.popen(helpers.lua_command(([[
      local cfg = require("mailslot.net.config").get{ interfaces = { "127.0.0.1/8" }, broadcast = { "127.0.0.1" },
        name_port = %d, dns = false, resolve_timeout = 3 }
      print(require("mailslot.net.resolve").host("filesrv", cfg))]]):format(ns_port)))
    local bytes, ip, port = ns:recvfrom(5)
    assert.is_string(bytes)
    local q = assert(names.parse_query(bytes))
    assert.equal("FILESRV", q.name)
    assert.equal(0, q.suffix)
    assert.is_true(q.broadcast)
    ns:sendto(names.positive_response(q, "10.20.30.40"), ip, port)
    local out = p:read("a")
    p:close()
    assert.equal("10.20.30.40\tnetbios\n", out)
  end)

  it("ignores answers with another id or name", function()
    local p = io.popen(helpers.lua_command(([[
      local cfg = require("mailslot.net.config").get{ interfaces = { "127.0.0.1/8" }, broadcast = { "127.0.0.1" },
        name_port = %d, dns = false, resolve_timeout = 3 }
      print(require("mailslot.net.resolve").host("filesrv", cfg))]]):format(ns_port)))
    local bytes, ip, port = ns:recvfrom(5)
    local q = assert(names.parse_query(bytes))
    ns:sendto(names.positive_response({ id = (q.id + 1) & 0xFFFF, flags = 0, name = q.name, suffix = 0 },
      "10.0.0.1"), ip, port)
    ns:sendto(names.positive_response({ id = q.id, flags = 0, name = "OTHER", suffix = 0 }, "10.0.0.2"), ip, port)
    ns:sendto(names.positive_response(q, "10.0.0.3"), ip, port)
    assert.equal("10.0.0.3\tnetbios\n", p:read("a"))
    p:close()
  end)

  it("gives up with unreachable after resolve_timeout", function()
    cfg.resolve_timeout = 0.3
    local t0 = net_os.monotonic()
    local a, err, code = resolve.host("nobody", cfg)
    assert.is_nil(a)
    assert.equal("unreachable", code)
    assert.matches("NOBODY<00>", err)
    local took = net_os.monotonic() - t0
    assert.truthy(took >= 0.25 and took < 1.5, took)
    -- three tries were sent
    local n = 0
    while ns:recvfrom() do n = n + 1 end
    assert.equal(3, n)
  end)

  describe("net_os.lookup, the system resolver off the caller's thread", function()
    local function finish(l)
      local deadline = net_os.monotonic() + 10
      while not l:done() and net_os.monotonic() < deadline do net_os.poll({}, 0.005) end
      assert.is_true(l:done(), "no answer within 10 s")
      return l:result()
    end

    it("answers what resolve answers, failures included", function()
      local l = assert(net_os.lookup("localhost"))
      assert.same(assert(net_os.resolve("localhost")), finish(l))
      l:close()
      l = assert(net_os.lookup("no-such-host.invalid"))
      local list, err, code = finish(l)
      assert.is_nil(list)
      assert.matches("^cannot resolve no%-such%-host%.invalid: ", err)
      assert.equal("not_found", code)
      l:close()
    end)

    it("closes once, refuses use after close, and lets go of lookups still running", function()
      local l = assert(net_os.lookup("localhost"))
      l:close()
      l:close()
      assert.has_error(function() l:done() end, "attempt to use a closed lookup")
      assert.matches("%(closed%)", tostring(l))
      -- Dropped at once, done or not: whoever finishes last frees (ASan and
      -- valgrind watch this spec).
      for _ = 1, 50 do assert(net_os.lookup("localhost")):close() end
      for _ = 1, 50 do net_os.lookup("localhost") end
      collectgarbage()
      collectgarbage()
      assert.same({ "127.0.0.1" }, finish(assert(net_os.lookup("localhost"))))
    end)
  end)

  it("the service answers queries for its own name only", function()
    local service = require "mailslot.net.service"
    local svc = assert(service.new{ port = 0, name_port = 0, bind = "127.0.0.1", computer_name = "ANSWERER",
                                    log = function() end }):start()
    local q = nbt.encode_name_query{ id = 4242, name = "answerer", suffix = 0, broadcast = true }
    ns:sendto(q, "127.0.0.1", svc.name_port)
    ns:sendto(nbt.encode_name_query{ id = 4243, name = "someone", suffix = 0 }, "127.0.0.1", svc.name_port)
    svc:step(1)
    local bytes = assert(ns:recvfrom(1))
    local r = assert(nbt.decode_name_query_response(bytes))
    assert.equal(4242, r.id)
    assert.equal("ANSWERER", r.name)
    assert.equal("127.0.0.1", r.addresses[1])
    assert.equal("timeout", select(3, ns:recvfrom(0.2)))
    assert.equal(2, svc:stats().name_queries)
    assert.equal(1, svc:stats().name_answers)
    svc:close()
  end)
end)
