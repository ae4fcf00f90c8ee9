-- Remote mailslots across machines: three hosts (network namespaces joined
-- by veth pairs on a bridge that lives in a fourth namespace, so no traffic
-- leaves namespaces this spec made), each running the network service and a
-- reader; then Samba's nmbd as a real peer. Needs root, `ip netns`, nmbd.
-- Run by scripts/test-net: busted --pattern=_netns spec/netns
local nbt = require "mailslot.nbt"
local lab = require "netns.lab"

if lab.missing then
  describe("three hosts", function() pending(lab.missing) end)
  return
end

local has, read, wait_for, count, hex = lab.has, lab.read, lab.wait_for, lab.count, lab.hex
local SUBNET = "10.213.77."
local BCAST = SUBNET .. "255"
local WG = "MSWG"
local HOSTS = { A = 1, B = 2, C = 3 }
local L = lab.new{ tag = "h", subnet = SUBNET, hosts = { A = 1, B = 2, C = 3 }, workgroup = WG }
local tmp = L.tmp
local function start(h, code, file) return L:start(h, code, file) end
local function run(h, code, limit) return L:run(h, code, limit) end
local function ns(h) return L:ns(h) end
local function cleanup() L:cleanup() end

-- A reader of a name (first %q) created with the options (second), that
-- prints each message and each rise of its count of rejected messages.
local READER = [[
  local m = require "mailslot"
  local r = assert(m.create(%q, %s))
  print("READY") io.stdout:flush()
  local rejected = 0
  local deadline = os.time() + 240
  while os.time() < deadline do
    local msg = r:read(0.5)
    if msg then
      local s = r:sender() or {}
      print(("GOT %%s FROM %%s %%s"):format(msg:gsub(".", function(c) return ("%%02x"):format(c:byte()) end),
        s.name or "local", s.address or "-"))
      io.stdout:flush()
    end
    if r:info().rejected > rejected then
      rejected = r:info().rejected
      print("REJECTED " .. rejected) io.stdout:flush()
    end
  end]]
local NETWORK = "{ network = true }"

local SERVICE = [[
  local s = assert(require("mailslot.net.service").new{ log_level = "debug" })
  assert(s:start()):run()]]

describe("three hosts #netns", function()
  local logs, readers = {}, {}
  local capture, capture_pid

  setup(function()
    local ok, err = pcall(function()
      L:setup{ N = 10 }
      for h in pairs(HOSTS) do
        logs[h] = tmp .. "/service-" .. h .. ".log"
        readers[h] = tmp .. "/reader-" .. h .. ".out"
        start(h, SERVICE, logs[h])
        start(h, READER:format("myapp\\finance", NETWORK), readers[h])
      end
      if has("tshark") then
        -- A live capture on the bridge sees every datagram between the hosts;
        -- -l writes each decoded packet at once. Synchronise on a probe
        -- datagram appearing in it before anything else is sent.
        capture = tmp .. "/bridge.txt"
        local p = io.popen(("ip netns exec %s tshark -i br0 -l -Y 'udp.port == 138' -T fields -E separator=/t "
          .. "-e nbdgm.type -e nbdgm.source_name -e nbdgm.destination_name -e mailslot.name -e data.data "
          .. "-e browser.command >%s 2>%s.log & echo $!"):format(ns("sw"), capture, capture))
        capture_pid = assert(tonumber(p:read("l")))
        p:close()
        L.pids[#L.pids + 1] = capture_pid
        assert(wait_for(capture .. ".log", "Capturing on", 20):find("Capturing on"), read(capture .. ".log"))
        local out = run("A", ([[
          local net_os, nbt = require "mailslot.net_os", require "mailslot.nbt"
          local s = assert(net_os.udp{ broadcast = true })
          local probe = nbt.encode_datagram{ type = 0x10, source_ip = %q, source_name = "HOSTA",
            dest_name = "NOBODY", mailslot = "\\MAILSLOT\\PROBE", data = "probe" }
          local deadline = net_os.monotonic() + 20
          while net_os.monotonic() < deadline do
            s:sendto(probe, %q, 138)
            local f = io.open(%q)
            if f and f:read("a"):find("PROBE") then print("SEEN") os.exit(0) end
            if f then f:close() end
            net_os.poll({}, 0.2)
          end]]):format(SUBNET .. "1", BCAST, capture), 30)
        assert(out:find("SEEN"), "the capture never saw the probe: " .. out .. read(capture .. ".log"))
      end
      for h in pairs(HOSTS) do
        assert(wait_for(logs[h], "listening on"):find("listening on"), "service " .. h .. " did not start: "
          .. read(logs[h]))
        assert(wait_for(readers[h], "READY"):find("READY"), "reader " .. h .. " did not start")
      end
    end)
    if not ok then cleanup() error(err) end
  end)

  teardown(cleanup)

  it("a broadcast from each host reaches the two others exactly once", function()
    for h in pairs(HOSTS) do
      local out = run(h, ([[
        local w = assert(require("mailslot").open("\\\\*\\mailslot\\myapp\\finance"))
        print("WROTE", w:write("hello from %s"))]]):format(h))
      assert.matches("WROTE\t12", out)
    end
    for h in pairs(HOSTS) do
      -- each service: two deliveries from the others, its own copy dropped
      wait_for(logs[h], "delivered 12 bytes", 10, 2)
      local log = wait_for(logs[h], "dropped own", 10, 1)
      assert.equal(2, count(log, "delivered 12 bytes"), log)
      assert.equal(1, count(log, "dropped own"), log)
      local got = wait_for(readers[h], "GOT ", 10, 3)
      for other in pairs(HOSTS) do
        local line = "GOT " .. hex("hello from " .. other)
        assert.equal(1, count(got, line), ("%s got from %s:\n%s"):format(h, other, got))
        if other ~= h then
          assert.truthy(got:find(line .. " FROM HOST" .. other .. " " .. SUBNET .. HOSTS[other], 1, true), got)
        end
      end
    end
  end)

  it("a unicast to one named host reaches only it (NetBIOS name query)", function()
    local before = {}
    for h in pairs(HOSTS) do before[h] = count(read(readers[h]), "GOT ") end
    local out = run("A", [[
      local w, err, code = require("mailslot").open("\\\\hostb\\mailslot\\myapp\\finance")
      if not w then print("OPENFAIL", err, code) os.exit(1) end
      print("WROTE", w:write("only for B"))]])
    assert.matches("WROTE\t10", out)
    local got = wait_for(readers.B, "GOT " .. hex("only for B"), 10)
    assert.truthy(got:find("GOT " .. hex("only for B") .. " FROM HOSTA " .. SUBNET .. "1", 1, true), got)
    assert.matches("answered name query for HOSTB", read(logs.B))
    -- A's service sent it from port 138 (A's writer handed it over); B's
    -- address only: A and C delivered nothing new
    assert.matches("sent 10 bytes to HOSTB<00> \\MAILSLOT\\MYAPP\\FINANCE", read(logs.A))
    for _, h in ipairs{ "A", "C" } do
      assert.equal(before[h], count(read(readers[h]), "GOT "), read(readers[h]))
      assert.equal(0, count(read(logs[h]), "delivered 10 bytes"))
    end
  end)

  it("a broadcast over the limit is refused before anything is sent", function()
    local limit = nbt.max_data("\\MAILSLOT\\MYAPP\\FINANCE") -- 432 - roundup4(13) = 416
    assert.equal(416, limit)
    local out = run("C", ([[
      local w = assert(require("mailslot").open("\\\\*\\mailslot\\myapp\\finance"))
      print(w:write(string.rep("x", %d)))
      print(w:write(string.rep("y", %d)))]]):format(limit + 1, limit))
    assert.matches("nil\t[^\n]*too big[^\n]*\ttoo_big\n" .. limit, out)
    for _, h in ipairs{ "A", "B" } do
      local got = wait_for(readers[h], "GOT " .. ("79"):rep(limit), 10)
      assert.equal(1, count(got, "GOT " .. ("79"):rep(limit)))
      assert.equal(0, count(got, "GOT 7878"))
      assert.equal(0, count(read(logs[h]), "delivered " .. (limit + 1)))
    end
  end)

  it("a malformed datagram is dropped and counted; the service keeps working", function()
    local out = run("C", ([[
      local s = assert(require("mailslot.net_os").udp{})
      print(s:sendto("\17\10garbage that is no datagram", %q, 138))]]):format(SUBNET .. "2"))
    assert.matches("%d+", out)
    local log = wait_for(logs.B, "dropped malformed datagram", 10)
    assert.matches("dropped malformed datagram %(malformed #1%)", log)
    out = run("C", [[
      local w = assert(require("mailslot").open("\\\\hostb\\mailslot\\myapp\\finance"))
      print("WROTE", w:write("after garbage"))]])
    assert.matches("WROTE", out)
    assert.truthy(wait_for(readers.B, "GOT " .. hex("after garbage"), 10):find(hex("after garbage"), 1, true))
  end)

  it("a host forging another host's SOURCE_IP is dropped, never reported as that host", function()
    -- C claims to be A (header SOURCE_IP and name), then writes honestly:
    -- B's service handles them in order, so once the honest one is in,
    -- the forged one has been judged.
    local out = run("C", ([[
      local net_os, nbt = require "mailslot.net_os", require "mailslot.nbt"
      local s = assert(net_os.udp{})
      local function dgram(source_ip, source_name, id, data)
        return nbt.encode_datagram{ type = 0x10, id = id, source_ip = source_ip, source_name = source_name,
          dest_name = "HOSTB", mailslot = "\\MAILSLOT\\MYAPP\\FINANCE", data = data }
      end
      print(s:sendto(dgram(%q, "HOSTA", 501, "forged by C"), %q, 138))
      print(s:sendto(dgram(%q, "HOSTC", 502, "honest C"), %q, 138))]]):format(
        SUBNET .. "1", SUBNET .. "2", SUBNET .. "3", SUBNET .. "2"))
    assert.matches("^%d+\n%d+\n$", out)
    local got = wait_for(readers.B, "GOT " .. hex("honest C"), 10)
    assert.truthy(got:find("GOT " .. hex("honest C") .. " FROM HOSTC " .. SUBNET .. "3", 1, true), got)
    assert.is_nil(got:find(hex("forged by C"), 1, true), got)
    assert.matches("dropped forged datagram %(forged #1%): header says it comes from " .. SUBNET:gsub("%.", "%%.")
      .. "1, but it came from HOSTA<00> " .. SUBNET:gsub("%.", "%%.") .. "3:%d+", read(logs.B))
  end)

  it("a reader that did not ask for network messages gets none, though serve runs as root", function()
    local private = tmp .. "/private-B.out"
    start("B", READER:format("myapp\\private", "nil"), private)
    assert(wait_for(private, "READY"):find("READY"), "private reader did not start")
    local out = run("C", [[
      local w = assert(require("mailslot").open("\\\\hostb\\mailslot\\myapp\\private"))
      print("WROTE", w:write("not for you"))]])
    assert.matches("WROTE\t11", out)
    -- B's service relays it; the reader refuses it and counts it.
    local text = wait_for(private, "REJECTED 1", 10)
    assert.matches("REJECTED 1", text)
    assert.is_nil(text:find("GOT ", 1, true), text)
  end)

  it("a real peer: nmbd's HostAnnouncement and GetBackupList answer", function()
    if not has("nmbd") then return pending("needs Samba's nmbd (Debian package samba)") end
    -- readers of \MAILSLOT\BROWSE on A, fed by A's service
    local browse = tmp .. "/browse-A.out"
    start("A", READER:format("browse", NETWORK), browse)
    assert(wait_for(browse, "READY"):find("READY"))
    L:nmbd("N", "NMBHOST", WG)
    -- HostAnnouncement: opcode 01, server name NMBHOST at offset 6
    local ann = "GOT 01%x%x%x%x%x%x%x%x%x%x" .. hex("NMBHOST")
    local got = wait_for(browse, ann, 30)
    assert.matches(ann .. "[0-9a-f]* FROM NMBHOST " .. SUBNET:gsub("%.", "%%.") .. "10", got)
    assert.matches("delivered %d+ bytes to \\MAILSLOT\\BROWSE from NMBHOST<00>", read(logs.A))

    -- GetBackupListRequest to MSWG<1D>; nmbd answers (once it is local
    -- master, ~25 s after start) with a unicast to the request's UDP source.
    local out = run("C", ([[
      local net_os, nbt = require "mailslot.net_os", require "mailslot.nbt"
      local s = assert(net_os.udp{ broadcast = true })
      local token = 0x4D534C54
      local req = nbt.encode_datagram{ type = 0x11, id = 99, source_ip = %q, source_name = "HOSTC",
        dest_name = %q, dest_suffix = 0x1D, mailslot = "\\MAILSLOT\\BROWSE", data = string.pack("<BBI4", 9, 4, token) }
      local deadline = net_os.monotonic() + 90
      while net_os.monotonic() < deadline do
        s:sendto(req, %q, 138)
        local bytes = s:recvfrom(2)
        local d = bytes and nbt.decode_datagram(bytes)
        if d and d.data:byte(1) == 0x0A then
          local op, n, tok = string.unpack("<BBI4", d.data)
          print("ANSWER", d.type, d.source_name, d.dest_name, d.mailslot, n, tok == token,
                (d.data:sub(7):gsub("%%z", ",")))
          os.exit(0)
        end
      end
      print("NO ANSWER")]]):format(SUBNET .. "3", WG, BCAST), 100)
    assert.matches("ANSWER\t16\tNMBHOST\tHOSTC\t\\MAILSLOT\\BROWSE\t%d+\ttrue\t[^\n]*NMBHOST", out)
  end)

  it("tshark decodes the captured datagrams as NBDS -> SMB -> mailslot", function()
    if not capture then return pending("needs tshark (Debian package tshark)") end
    local text = read(capture)
    for h in pairs(HOSTS) do
      assert.truthy(text:find(("17\tHOST%s<00>\t%s<00>\t\\MAILSLOT\\MYAPP\\FINANCE\t%s\t\n"):format(
        h, WG, hex("hello from " .. h)), 1, true), text)
    end
    assert.truthy(text:find(("16\tHOSTA<00>\tHOSTB<00>\t\\MAILSLOT\\MYAPP\\FINANCE\t%s"):format(
      hex("only for B")), 1, true), text)
    if has("nmbd") then
      assert.truthy(text:find(("17\tNMBHOST<00>\t%s<1d>\t\\MAILSLOT\\BROWSE\t\t0x01"):format(WG), 1, true),
        text)
    end
  end)
end)
