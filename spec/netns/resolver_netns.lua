-- Finding a server through the system resolver (DNS) from a task of a loop:
-- the loop's other tasks keep running while the answer is awaited. One
-- network namespace of its own, with `ip netns exec` giving it its own
-- /etc/resolv.conf (from /etc/netns/NAME/) that points at a DNS server the
-- spec plays on its loopback, in the same loop. Needs root and `ip netns`.
-- Run by scripts/test-net: busted --pattern=_netns spec/netns
local helpers = require "helpers"
local lab = require "netns.lab"

if lab.missing then
  describe("the system resolver in a loop", function() pending(lab.missing) end)
  return
end

local NS = lab.PREFIX .. "-dns"
local ETC = "/etc/netns/" .. NS

-- In the namespace, within one loop: a task that counts its turns, a DNS
-- server that answers each A query only once that task has had 20 turns
-- since the query came, and a queued writer to \\slowhost.test\mailslot\...,
-- which must find the server by DNS before it can send. Were the lookup to
-- block the loop, no answer could come while it waits.
local SCRIPT = [[
local mailslot = require "mailslot"
local loop = require "mailslot.loop"
local net_os = require "mailslot.net_os"
local nbt = require "mailslot.nbt"
if not net_os.LOOKUP_ASYNC then print("NOASYNC") return end
local catcher = assert(net_os.udp{ address = "127.0.0.1" })
local silent = assert(net_os.udp{ address = "127.0.0.1" }) -- NetBIOS name queries go here, unanswered
mailslot.network.configure{ port = select(2, catcher:getsockname()), interfaces = { "127.0.0.1/8" },
  broadcast = { "127.0.0.1" }, name_port = select(2, silent:getsockname()), dns = true, resolve_timeout = 0.5 }
local dns = assert(net_os.udp{ address = "127.0.0.1", port = 53 })
local L = loop.new()
local ticks, done, answered, waited = 0, false, 0, nil
L:spawn(function()
  while not done and ticks < 100000 do ticks = ticks + 1 loop.sleep(0.001) end
end)
-- The question section of a query: from byte 13 to the end of QNAME, then QTYPE and QCLASS.
local function question(q)
  local i = 13
  while q:byte(i) ~= 0 do i = i + q:byte(i) + 1 end
  return q:sub(13, i + 4)
end
L:spawn(function()
  while not done do
    local q, ip, port = dns:recvfrom()
    if q then
      local at = ticks
      while ticks < at + 20 and not done do loop.sleep(0.001) end
      waited = ticks - at
      local answer = string.pack(">I2I2I2I2I2I2", q:byte(1) * 256 + q:byte(2), 0x8180, 1, 1, 0, 0)
        .. question(q) .. string.pack(">I2I2I2I4I2BBBB", 0xC00C, 1, 1, 60, 4, 127, 0, 0, 1)
      dns:sendto(answer, ip, port)
      answered = answered + 1
    else
      loop.sleep(0.001)
    end
  end
end)
local q = mailslot.queued("\\\\slowhost.test\\mailslot\\dns\\probe", { loop = L })
assert(q:write("found by DNS"))
L:spawn(function()
  local deadline = net_os.monotonic() + 8
  while q:stats().sent == 0 and q:stats().failed == 0 and net_os.monotonic() < deadline do loop.sleep(0.01) end
  done = true
end)
L:run(15)
local bytes = catcher:recvfrom(1)
local d = bytes and nbt.decode_datagram(bytes)
print(("SENT %d FAILED %d ANSWERED %d WAITED %s DATA %s ERR %s"):format(q:stats().sent, q:stats().failed,
  answered, tostring(waited), d and d.data or "-", tostring(q:stats().last_error)))
q:close()
]]

describe("the system resolver in a loop #netns", function()
  setup(function()
    lab.add_ns(NS)
    lab.sh("mkdir -p " .. ETC)
    local f = assert(io.open(ETC .. "/resolv.conf", "w"))
    f:write("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
    f:close()
  end)

  teardown(function()
    lab.remove_ns(NS)
    os.execute("rm -rf " .. ETC)
  end)

  it("a queued writer finds its server by DNS while the loop's other tasks run", function()
    local out = helpers.output(("ip netns exec %s timeout 30 %s 2>&1"):format(NS, helpers.lua_command(SCRIPT)))
    if out:find("NOASYNC", 1, true) then
      return pending("the C library has no getaddrinfo_a (glibc 2.34 or later): lookups block there")
    end
    assert.matches("SENT 1 FAILED 0 ANSWERED 1 WAITED 20 DATA found by DNS", out)
  end)
end)
