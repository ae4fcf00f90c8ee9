-- mailslot.browser: what a browser learns from the frames and name service
-- answers it gets (nmbd's captured frames), and the node status codec.
-- The exchange with real peers is in spec/netns/browse_netns.lua.
local helpers = require "helpers"
if helpers.windows then
  describe("browser", function() pending("POSIX only: on Windows the browser service is the system's") end)
  return
end
local browser = require "mailslot.browser"
local names = require "mailslot.net.names"
local nbt = require "mailslot.nbt"
local nmbd = require "fixtures.nmbd_browser"

local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

-- A browser's state without its sockets: learning needs none.
local function fresh()
  local b = setmetatable({ machines = {}, workgroups = {}, tokens = {}, old_tokens = {}, pending = {}, statused = {},
    asked = {}, expires = {}, machine_count = 0, workgroup_count = 0, status_count = 0 }, browser.Browser)
  function b.node_status(_, ip) b.asked[#b.asked + 1] = ip end
  return b
end

local FROM = { name = "NMBHOST", address = "10.0.0.10", port = 138 }

describe("browser", function()
  it("a LocalMasterAnnouncement and a DomainAnnouncement make one machine in one workgroup", function()
    local b = fresh()
    local c1 = b:learn(unhex(nmbd.local_master_announcement.hex), FROM)
    assert.equal(1, #c1)
    assert.same({ "10.0.0.10" }, b.asked) -- its workgroup is not known yet: ask its names
    local c2 = b:learn(unhex(nmbd.domain_announcement.hex), FROM)
    assert.equal("workgroup", c2[1].what)
    local list = b:list()
    assert.same({ { name = "MSWG", master = "NMBHOST" } }, list.workgroups)
    assert.same({ {
      name = "NMBHOST", workgroup = "MSWG", address = "10.0.0.10", os_version = "6.1", master_browser = true,
      comment = "lab peer NMBHOST", server_type = 0x00849A03,
      types = { "workstation", "server", "print_server", "unix", "nt", "nt_server", "master_browser",
                "dfs" },
    } }, list.machines)
  end)

  it("reports a change once: the same announcement again changes nothing", function()
    local b = fresh()
    b.workgroups.MSWG = { name = "MSWG", master = "NMBHOST" } -- known from its names already
    assert.equal(1, #b:learn(unhex(nmbd.local_master_announcement.hex), FROM)) -- new, and then in MSWG: one change
    assert.equal("MSWG", b.machines.NMBHOST.workgroup)
    b = fresh()
    assert.equal(1, #b:learn(unhex(nmbd.host_announcement.hex), FROM))
    assert.same({}, b:learn(unhex(nmbd.host_announcement.hex), FROM))
    assert.is_nil(b:list().machines[1].workgroup)
  end)

  it("a machine that misses three announcements is gone", function()
    local b = fresh()
    local core = require "mailslot.core"
    b:learn(unhex(nmbd.host_announcement.hex), FROM) -- periodicity 60 s
    local now = core.monotime()
    assert.same({}, b:expire(now + 179))
    local gone = b:expire(now + 181)
    assert.equal(1, #gone)
    assert.same({ "gone", "NMBHOST" }, { gone[1].what, gone[1].item.name })
    assert.same({}, b:list().machines)
  end)

  it("a backup list names machines of the workgroup it was asked for; bad bodies teach nothing", function()
    local b = fresh()
    b.tokens[0x11223344] = "MSWG"
    local c = b:learn(unhex(nmbd.get_backup_list_response.hex), FROM)
    assert.equal("MSWG", c[1].item.workgroup)
    assert.same({}, b:learn("\1short", FROM))
    assert.same({}, b:learn("", FROM))
  end)

  describe("node status", function()
    -- RFC 1002 4.2.18: header, the RR name "*", type NBSTAT, class IN, TTL,
    -- RDLENGTH, the name count, 18 bytes a name (15 + suffix + flags), statistics.
    local function response(id, list)
      local parts = { string.pack(">I2I2I2I2I2I2", id, 0x8400, 0, 1, 0, 0), nbt.encode_name("*", 0),
                      string.pack(">I2I2I4I2B", 0x21, 1, 0, 1 + 18 * #list + 46, #list) }
      for _, n in ipairs(list) do
        parts[#parts + 1] = string.pack(">c15BI2", n[1] .. (" "):rep(15 - #n[1]), n[2], n[3] and 0x8400 or 0x0400)
      end
      parts[#parts + 1] = ("\0"):rep(46)
      return table.concat(parts)
    end
    local TABLE = { { "PEER2", 0x00 }, { "PEER2", 0x20 }, { "OTHERWG", 0x00, true }, { "OTHERWG", 0x1D },
                    { "OTHERWG", 0x1E, true }, { "\1\2__MSBROWSE__\2", 0x01, true } }

    it("the request asks for the names of '*' (type NBSTAT, class IN)", function()
      local q = names.node_status_request(0x1234)
      assert.equal("\18\52\0\0\0\1\0\0\0\0\0\0", q:sub(1, 12))
      assert.equal(nbt.encode_name("*", 0), q:sub(13, -5))
      assert.equal("\0\33\0\1", q:sub(-4))
    end)

    it("the response gives the host's names, its workgroup and its master role", function()
      local r = assert(names.parse_node_status(response(7, TABLE)))
      assert.equal(7, r.id)
      assert.equal(6, #r.names)
      assert.same({ name = "OTHERWG", suffix = 0x00, group = true }, r.names[3])
      local b = fresh()
      b.workgroups, b.ask_now = {}, false
      local changes = b:learn_names(r, "10.0.0.12")
      assert.equal(2, #changes)
      assert.same({ name = "OTHERWG", master = "PEER2" }, b.workgroups.OTHERWG)
      assert.same({ name = "PEER2", workgroup = "OTHERWG", address = "10.0.0.12", master_browser = true },
        b.machines.PEER2)
      assert.is_true(b.ask_now) -- a new workgroup is asked at once
    end)

    it("nmbd's own answer: PEER2, its workgroup OTHERWG, master browser", function()
      local r = assert(names.parse_node_status(unhex(nmbd.node_status.hex)))
      assert.equal(6, r.id)
      assert.same({ name = "OTHERWG", suffix = 0x00, group = true }, r.names[5])
      assert.same({ name = "OTHERWG", suffix = 0x1D, group = false }, r.names[6])
      local b = fresh()
      b:learn_names(r, "10.213.76.12")
      assert.same({ name = "OTHERWG", master = "PEER2" }, b.workgroups.OTHERWG)
      assert.equal("OTHERWG", b.machines.PEER2.workgroup)
    end)

    it("truncated or foreign answers are refused", function()
      local whole = response(7, TABLE)
      for n = 0, #whole - 47 do
        assert.is_nil(names.parse_node_status(whole:sub(1, n)), "accepted " .. n .. " bytes")
      end
      assert.is_nil(names.parse_node_status(names.node_status_request(1))) -- a request, not an answer
    end)
  end)

  describe("mailslot browse", function()
    local cli_browse = require "mailslot.cli.browse"

    it("prints each workgroup with its machines; a host's control characters never reach the terminal", function()
      local text = cli_browse.format_text{
        workgroups = { { name = "MSWG", master = "PEER1" } },
        machines = { { name = "PEER1", workgroup = "MSWG", address = "10.0.0.11", os_version = "6.1",
                       comment = "lab peer", master_browser = true },
                     { name = "EVIL", address = "10.0.0.66", comment = "\27]0;owned\7\27[2J" } },
      }
      assert.equal("MSWG  (master browser PEER1)\n"
        .. "  \\\\PEER1           10.0.0.11       6.1   lab peer  [master browser]\n"
        .. "(workgroup not known)\n"
        .. "  \\\\EVIL            10.0.0.66       -     ?]0;owned??[2J\n", text)
    end)

    it("a host's C1 controls (CSI as UTF-8, or a raw byte) never reach the terminal either", function()
      local text = cli_browse.format_text{ workgroups = {}, machines = {
        { name = "EVIL1", comment = "caf\195\169 \194\155" .. "2J" },    -- UTF-8: é stays, CSI does not
        { name = "EVIL2", comment = "\155" .. "2J latin-1" } } }              -- not UTF-8: no byte above 127
      assert.matches("caf\195\169 %?2J\n", text)
      assert.matches(" %?2J latin%-1\n", text)
      assert.is_nil(text:find("\194[\128-\159]"))
      assert.is_nil(text:find("\155", 1, true))
    end)

    it("refuses arguments and bad values (exit 2)", function()
      local function run(args)
        local p = io.popen(helpers.lua_command("arg = { [0] = 'mailslot', " .. args .. " } "
          .. "os.exit(require('mailslot.cli').main(arg))") .. " 2>&1")
        local out = p:read("a")
        local _, _, code = p:close()
        return out, code
      end
      local out, code = run("'browse', 'extra'")
      assert.equal(2, code)
      assert.matches("unexpected argument 'extra'", out)
      out, code = run("'browse', '--timeout', 'soon'")
      assert.equal(2, code)
      assert.matches("bad value 'soon' for %-%-timeout", out)
    end)
  end)

  it("the service delivers browser announcements of any workgroup, and only those", function()
    local net_os = require "mailslot.net_os"
    local dir = helpers.temp_dir()
    local svc = helpers.loopback_service{ dir = dir, outbox = false }
    local reader = assert(require("mailslot").create("browse", { dir = dir, network = true }))
    local other = assert(require("mailslot").create("other", { dir = dir, network = true }))
    local peer = assert(net_os.udp{ address = "127.0.0.1" })
    local id = 0
    local function feed(t)
      local before = svc:stats().received
      id = id + 1 -- distinct writes, not copies of one
      peer:sendto(nbt.encode_datagram{ id = id, type = t.type or 0x11, source_ip = "127.0.0.1", source_name = "NMBHOST",
        dest_name = t.dest, dest_suffix = t.suffix or 0x1E, mailslot = t.mailslot or "\\MAILSLOT\\BROWSE",
        data = "x" }, "127.0.0.1", svc.port)
      local deadline = net_os.monotonic() + 2
      while svc:stats().received == before and net_os.monotonic() < deadline do svc:step(0.2) end
    end
    feed{ dest = "OTHERWG" }
    feed{ dest = "\1\2__MSBROWSE__\2", suffix = 0x01 }
    feed{ dest = "OTHERWG", mailslot = "\\MAILSLOT\\LANMAN" }
    assert.equal(2, #assert(reader:readmany(8, 1)))
    feed{ dest = "OTHERWG", mailslot = "\\MAILSLOT\\OTHER" }     -- not browser traffic
    feed{ type = 0x10, dest = "OTHERHOST", suffix = 0 }            -- unicast to another machine
    local st = svc:stats()
    assert.equal(5, st.received)
    assert.equal(2, st.foreign)
    assert.equal(1, st.unknown) -- LANMAN: no reader of it here
    assert.is_nil((other:read(0)))
    reader:close()
    other:close()
    peer:close()
    svc:close()
  end)

  describe("a hostile host", function()
    local frames = require "mailslot.browser.frames"

    it("announcing thousands of machines and workgroups is remembered within the bounds, the rest counted", function()
      local b = fresh()
      for i = 1, browser.LIMITS.machines + 500 do
        b:learn(frames.host_announcement{ name = ("H%d"):format(i), comment = "x" }, FROM)
      end
      for i = 1, browser.LIMITS.workgroups + 500 do
        b:learn(frames.domain_announcement{ name = ("W%d"):format(i), master = "" }, FROM)
      end
      local machines, workgroups = 0, 0
      for _ in pairs(b.machines) do machines = machines + 1 end
      for _ in pairs(b.workgroups) do workgroups = workgroups + 1 end
      assert.equal(browser.LIMITS.machines, machines)
      assert.equal(browser.LIMITS.workgroups, workgroups)
      assert.same({ machines = 500, workgroups = 500 }, b.ignored)
      -- What is known still changes; a machine that is gone makes room.
      assert.equal(1, #b:learn(frames.host_announcement{ name = "H1", comment = "new comment" }, FROM))
      assert.equal(browser.LIMITS.machines, #b:expire(require("mailslot.core").monotime() + 1e9))
      assert.equal(1, #b:learn(frames.host_announcement{ name = "LATECOMER" }, FROM))
    end)

    it("naming many addresses in a master browser answer does not make us ask them all", function()
      local b = fresh()
      local rdata = {}
      for i = 1, 200 do rdata[i] = string.pack(">I2BBBB", 0, 10, 66, i // 256, i % 256) end
      local answer = string.pack(">I2I2I2I2I2I2", 1, 0x8500, 0, 1, 0, 0) .. nbt.encode_name("\1\2__MSBROWSE__\2", 1)
        .. string.pack(">I2I2I4I2", 0x20, 1, 0, 6 * 200) .. table.concat(rdata)
      assert.equal(200, #nbt.decode_name_query_response(answer).addresses)
      b:learn_name_service(answer, "10.66.0.1")
      assert.equal(browser.LIMITS.addresses, #b.asked)
    end)

    it("new workgroups announced one by one through serve cost two requests each, not a round each", function()
      -- The host sends DomainAnnouncements over UDP (loopback) to a service
      -- that relays them to a real browser; its requests are counted, not sent.
      local net_os = require "mailslot.net_os"
      local network = require("mailslot").network
      local send = require "mailslot.net.send"
      local dir = helpers.temp_dir()
      local svc = helpers.loopback_service{ dir = dir, outbox = false }
      local peer = assert(net_os.udp{ address = "127.0.0.1" })
      local _, sink_port = peer:getsockname()
      local requests, open_group = 0, send.open_group
      finally(function()
        send.open_group = open_group
        network.reset()
        peer:close()
        svc:close()
      end)
      send.open_group = function()
        return { write = function() requests = requests + 1 end, close = function() end }
      end
      -- Our name queries go to the attacker's own socket: nothing leaves loopback.
      network.configure{ broadcast = { "127.0.0.1" }, port = svc.port, name_port = sink_port,
                         computer_name = "SPECBR", workgroup = "SPECWG" }
      local b = assert(browser.new{ dir = dir, service = false, interval = 3600 })
      finally(function() b:close() end)
      b:step(0) -- the first round: our own workgroup
      local first = requests
      local n = 150
      for i = 1, n do
        local before = svc:stats().delivered
        peer:sendto(nbt.encode_datagram{ id = i, type = 0x11, source_ip = "127.0.0.1", source_name = "EVIL",
          dest_name = "ANYWG", dest_suffix = 0x1E, mailslot = "\\MAILSLOT\\BROWSE",
          data = frames.domain_announcement{ name = ("EVILWG%d"):format(i), master = "" } }, "127.0.0.1", svc.port)
        local deadline = net_os.monotonic() + 2
        while svc:stats().delivered == before and net_os.monotonic() < deadline do svc:step(0.2) end
        assert.equal(before + 1, svc:stats().delivered)
        b:step(0)
      end
      local known = math.min(n, browser.LIMITS.workgroups - 1) -- besides our own
      assert.equal(known + 1, #b:list().workgroups)
      assert.equal(n - known, b.ignored.workgroups)
      assert.equal(2 * known, requests - first)
    end)
  end)
end)
