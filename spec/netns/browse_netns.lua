-- Request/response with real peers, and `mailslot browse`: host A runs the
-- network service; two Samba nmbd peers, PEER1 in A's workgroup and PEER2
-- in another, are master browsers of their workgroups. Needs root, `ip
-- netns` and nmbd (scripts/test-net runs it).
local helpers = require "helpers"
local lab = require "netns.lab"

if lab.missing then
  describe("browsing real peers", function() pending(lab.missing) end)
  return
end
if not lab.has("nmbd") then
  describe("browsing real peers", function() pending("needs Samba's nmbd (Debian package samba)") end)
  return
end

local read, wait_for, has = lab.read, lab.wait_for, lab.has
local WG1, WG2 = "MSWG", "OTHERWG"
local L = lab.new{ tag = "b", subnet = "10.213.78.", hosts = { A = 1, P1 = 11, P2 = 12 }, workgroup = WG1 }

local SERVICE = [[
  local s = assert(require("mailslot.net.service").new{ log_level = "debug" })
  assert(s:start()):run()]]

describe("browsing real peers #netns", function()
  local log = L.tmp .. "/service-A.log"
  local capture, capture_pid = L.tmp .. "/capture.txt", nil
  local service_pid

  -- Runs `mailslot browse ARGS` in A; returns its output and the seconds it took.
  local function browse(args, limit)
    local net_os = require "mailslot.net_os"
    local t0 = net_os.monotonic()
    local out = helpers.output(("ip netns exec %s %s LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' "
      .. "timeout %d lua5.4 bin/mailslot browse %s 2>&1"):format(L:ns("A"), L:env_for("A"), limit, args))
    return out, net_os.monotonic() - t0
  end

  setup(function()
    local ok, err = pcall(function()
      L:setup()
      if has("tshark") then
        -- The browser requests and answers to and from A, decoded as they
        -- pass A's port of the bridge (the bridge itself does not see
        -- unicast between two of its ports); -l writes each at once.
        capture_pid = L:spawn("sw", "tshark -i vA -l -f 'udp port 138' -Y 'browser.command == 0x09 || "
          .. "browser.command == 0x0a' -T fields -E separator=/t -e ip.src -e udp.srcport -e ip.dst -e udp.dstport"
          .. " -e nbdgm.source_name -e nbdgm.destination_name -e mailslot.name -e browser.command", capture)
        assert(wait_for(capture, "Capturing on", 20):find("Capturing on"), read(capture))
      end
      service_pid = L:start("A", SERVICE, log)
      assert(wait_for(log, "listening on"):find("listening on"), "service did not start: " .. read(log))
      assert(read(log):find("sending for local writers"), read(log))
      L:nmbd("P1", "PEER1", WG1)
      L:nmbd("P2", "PEER2", WG2)
    end)
    if not ok then L:cleanup() error(err) end
  end)

  teardown(function() L:cleanup() end)

  it("a GetBackupListRequest written with the public API is answered to the local \\mailslot\\browse reader", function()
    -- nmbd answers once it is local master (about 25 s after it starts);
    -- the script asks every 2 s, for at most 60 s.
    local out = L:run("A", ([[
      local mailslot = require "mailslot"
      local r = assert(mailslot.create("browse", { network = true }))
      local w = assert(mailslot.open("\\\\%s\\mailslot\\browse", { suffix = 0x1D }))
      local token = 0x4D534C54
      local deadline = mailslot.monotime() + 60
      while mailslot.monotime() < deadline do
        assert(w:write(string.pack("<BBI4", 9, 4, token)))
        local stop = mailslot.monotime() + 2
        while mailslot.monotime() < stop do
          local msg = r:read(0.2)
          if msg and msg:byte(1) == 0x0A then
            local _, n, tok, pos = string.unpack("<BBI4", msg)
            local s = r:sender()
            print("ANSWER", n, tok == token, (msg:sub(pos):gsub("%%z", ",")), s.name, s.address, s.port)
            os.exit(0)
          end
        end
      end
      print("NO ANSWER")]]):format(WG1), 70)
    assert.matches("ANSWER\t%d+\ttrue\tPEER1,\tPEER1\t10%.213%.78%.11\t138", out)
    assert.matches("sent 6 bytes to MSWG<1D> \\MAILSLOT\\BROWSE for uid 0", read(log))
    assert.matches("delivered %d+ bytes to \\MAILSLOT\\BROWSE from PEER1<00> 10%.213%.78%.11:138", read(log))
    if not capture_pid then return end
    -- Wireshark's decoders agree: the request left from A's port 138, and
    -- the answer came back to it.
    local request = "10.213.78.1\t138\t10.213.78.255\t138\tHOSTA<00>\tMSWG<1d>\t\\MAILSLOT\\BROWSE\t0x09"
    local reply = "10.213.78.11\t138\t10.213.78.1\t138\tPEER1<00>\tHOSTA<00>\t\\MAILSLOT\\BROWSE\t0x0a"
    local decoded = wait_for(capture, (reply:gsub("%p", "%%%0")), 10)
    assert.truthy(decoded:find(request, 1, true), decoded)
    assert.truthy(decoded:find(reply, 1, true), decoded)
  end)

  it("mailslot browse --json lists both machines and both workgroups within 30 s", function()
    local out, elapsed = browse("--json --timeout 15", 25) -- everything is known after about 0.3 s
    local file = io.open(L.tmp .. "/browse.json", "w")
    file:write(out)
    file:close()
    print(("\nmailslot browse --json (%.1f s):\n%s"):format(elapsed, out))
    for _, want in ipairs{ '"name":"PEER1"', '"name":"PEER2"', '"name":"' .. WG1 .. '"', '"name":"' .. WG2 .. '"',
                           '"workgroup":"' .. WG2 .. '"', '"comment":"lab peer PEER2"' } do
      assert.truthy(out:find(want, 1, true), want .. " missing from:\n" .. out)
    end
  end)

  it("without a service, mailslot browse runs one itself and watches", function()
    os.execute("kill -TERM " .. service_pid)
    assert(wait_for(log, "stopped:", 10):find("stopped:"), read(log))
    local out = browse("--watch --json --timeout 10", 20)
    for _, want in ipairs{ '{"event":"workgroup","item":{"master":"PEER2","name":"' .. WG2 .. '"}}',
                           '"comment":"lab peer PEER1"', '"comment":"lab peer PEER2"' } do
      assert.truthy(out:find(want, 1, true), want .. " missing from:\n" .. out)
    end
  end)
end)
