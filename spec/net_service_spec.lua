-- The network service: datagrams in, local readers' messages out. A raw UDP
-- socket on loopback plays the network.
local helpers = require "helpers"
if helpers.remote_is_native("network service") then return end
local mailslot = require "mailslot"
local nbt = require "mailslot.nbt"
local net_os = require "mailslot.net_os"
local service = require "mailslot.net.service"

describe("network service", function()
  local svc, peer, logs, name, reader

  local function packet(over)
    local t = { type = 0x11, id = 1, source_ip = "127.0.0.1", source_port = 138, source_name = "PEER",
                dest_name = "SPECWG", mailslot = "\\MAILSLOT\\" .. name:upper(), data = "hi" }
    for k, v in pairs(over or {}) do t[k] = v end
    return nbt.encode_datagram(t)
  end

  -- Sends and lets the service handle it; returns what it did.
  local function feed(bytes, from)
    (from or peer):sendto(bytes, "127.0.0.1", svc.port)
    local before = svc:stats().received
    local deadline = net_os.monotonic() + 2
    while svc:stats().received == before and net_os.monotonic() < deadline do svc:step(0.5) end
    assert.equal(before + 1, svc:stats().received, "the service did not receive the datagram")
  end

  before_each(function()
    logs = {}
    svc = helpers.loopback_service{ log_level = "debug", signals = true,
                                    log = function(l, m) logs[#logs + 1] = l .. ": " .. m end }
    peer = assert(net_os.udp{ address = "127.0.0.1" })
    name = helpers.unique_name("svc")
    reader = assert(mailslot.create(name, { network = true }))
  end)
  after_each(function()
    svc:close()
    peer:close()
    reader:close()
  end)

  it("delivers a mailslot write to the local reader, with its network sender", function()
    feed(packet{ data = "hello from the net", source_port = 1138 })
    assert.equal("hello from the net", reader:read(1))
    local s = reader:sender()
    assert.equal("PEER", s.name)
    assert.equal("127.0.0.1", s.address)
    assert.equal(1138, s.port)
    assert.equal(1, svc:stats().delivered)
    assert.matches("delivered 18 bytes", logs[#logs])
  end)

  it("gives a reader that did not opt in to the network nothing, whoever runs the service", function()
    reader:close()
    reader = assert(mailslot.create(name)) -- no network = true
    feed(packet{ data = "from the LAN", id = 40 })
    assert.equal("timeout", select(3, reader:read(0)))
    assert.equal(1, reader:info().rejected)
    local w = assert(mailslot.open(name))
    assert.equal(5, w:write("local")) -- local writers are as welcome as ever
    w:close()
    assert.equal("local", reader:read(0))
  end)

  it("drops and counts a datagram whose header claims another source address", function()
    feed(packet{ source_ip = "192.0.2.77", data = "I am someone else", id = 30 })
    assert.equal(1, svc:stats().forged)
    assert.equal(0, svc:stats().delivered)
    assert.equal("timeout", select(3, reader:read(0)))
    assert.matches("dropped forged datagram .*192%.0%.2%.77.*127%.0%.0%.1", logs[#logs])
    feed(packet{ data = "honest", id = 31 })
    assert.equal("honest", reader:read(1))
    assert.equal("127.0.0.1", reader:sender().address)
  end)

  it("a host's names and mailslots never put a control character in the log, nor listen's output", function()
    -- What the host writes where names go: a window title, a clear screen,
    -- C1 CSI, and a newline that would start a forged log line.
    local evil = "E\27]0;X\7\n"
    feed(packet{ source_name = evil, dest_name = "AN\27[2J", id = 50 })
    feed(packet{ source_name = evil, mailslot = "\\MAILSLOT\\NOBODY\27[31m\194\155" .. "2J\nmailslot-serve: error: x",
                 id = 51 })
    feed(packet{ source_name = evil, data = "seen\194\155" .. "2J", id = 52 })
    assert.equal(2, svc:stats().foreign + svc:stats().unknown)
    for _, line in ipairs(logs) do
      assert.is_nil(line:find("%c"), ("control character in %q"):format(line))
      assert.is_nil(line:find("\194[\128-\159]"), ("C1 control in %q"):format(line))
    end
    assert.matches("from E%?%]0;X%?%?<00>", logs[#logs - 1] .. logs[#logs])
    -- `mailslot listen --network` shows the sender's name and the message.
    local msg = assert(reader:read(1))
    local out = {}
    require("mailslot.cli.listen").show_text({ out = { write = function(_, ...)
      for _, p in ipairs{ ... } do out[#out + 1] = p end
    end } }, msg, reader, false)
    out = table.concat(out)
    assert.matches("from E%?%]0;X%?%? at 127%.0%.0%.1:138", out)
    assert.matches("binary", out) -- the C1 CSI makes it binary: shown as a hex dump
    assert.is_nil(out:find("[\0-\9\11-\31\127]"), ("control character in %q"):format(out))
    assert.is_nil(out:find("\194[\128-\159]"), ("C1 control in %q"):format(out))
  end)

  it("a host's flood of bad datagrams logs a bounded number of lines, and every one is counted", function()
    local n, started = 2000, net_os.monotonic()
    for i = 1, n, 100 do -- in bursts the socket's buffer holds
      for _ = i, i + 99 do peer:sendto("\255 not a datagram", "127.0.0.1", svc.port) end
      local deadline = net_os.monotonic() + 5
      while svc:stats().received < i + 99 and net_os.monotonic() < deadline do svc:step(0.2) end
    end
    local elapsed = net_os.monotonic() - started
    assert.equal(n, svc:stats().malformed)
    local lines = 0
    for _, line in ipairs(logs) do
      if line:find("dropped malformed", 1, true) then lines = lines + 1 end
    end
    local rate = service.LOG_RATE
    assert.is_true(lines <= rate.burst + rate.per_second * elapsed + 1,
      ("%d lines in %.1f s"):format(lines, elapsed))
    -- What was left out is counted, and said in the summary when it stops.
    assert.equal(n - lines, svc:stats().unlogged)
    assert.matches("unlogged=" .. (n - lines), svc:summary())
  end)

  it("keeps delivering when the reader is replaced, and drops while there is none", function()
    feed(packet{ data = "first", id = 20 })
    assert.equal("first", reader:read(1))
    reader:close()
    feed(packet{ data = "nobody home", id = 21 })
    assert.equal(1, svc:stats().unknown)
    reader = assert(mailslot.create(name, { network = true }))
    feed(packet{ data = "second reader", id = 22 })
    assert.equal("second reader", reader:read(1))
    reader:close()
    reader = assert(mailslot.create(name, { network = true }))
    feed(packet{ data = "third reader", id = 23 })
    assert.equal("third reader", reader:read(1))
    assert.equal(3, svc:stats().delivered)
  end)

  it("matches the mailslot name case-insensitively, padded or not", function()
    feed(packet{ mailslot = "\\mailslot\\" .. name:lower(), data = "lower", pad = true, id = 2 })
    assert.equal("lower", reader:read(1))
    feed(packet{ mailslot = "\\MAILSLOT\\" .. name:upper(), data = "upper", id = 3 })
    assert.equal("upper", reader:read(1))
  end)

  it("delivers unique datagrams to our name and zero-length and binary data", function()
    feed(packet{ type = 0x10, dest_name = "specsvc", data = "", id = 4 })
    assert.equal("", reader:read(1))
    feed(packet{ type = 0x10, dest_name = "SPECSVC", data = "\0\255\0", id = 5 })
    assert.equal("\0\255\0", reader:read(1))
  end)

  it("drops and counts malformed datagrams, and keeps working", function()
    feed("garbage")
    feed(packet():sub(1, 60))
    local bad = packet()
    feed(bad:sub(1, 82) .. "\0SMB" .. bad:sub(87))
    assert.equal(3, svc:stats().malformed)
    assert.matches("dropped malformed datagram", logs[#logs])
    feed(packet{ data = "still here", id = 6 })
    assert.equal("still here", reader:read(1))
  end)

  it("drops fragmented datagrams", function()
    feed(packet{ flags = 0x0B }) -- MORE
    feed(packet{ flags = 0x08, offset = 100 })
    assert.equal(2, svc:stats().fragmented)
    assert.equal("timeout", select(3, reader:read(0)))
  end)

  it("drops writes to a mailslot nobody reads, and to names not ours", function()
    feed(packet{ mailslot = "\\MAILSLOT\\NOBODY\\READS\\THIS" })
    assert.equal(1, svc:stats().unknown)
    feed(packet{ dest_name = "OTHERWG" })
    feed(packet{ type = 0x10, dest_name = "OTHERHOST" })
    assert.equal(2, svc:stats().foreign)
    assert.equal("timeout", select(3, reader:read(0)))
    assert.equal(0, svc:stats().delivered)
  end)

  it("suppresses copies of one write within the window", function()
    feed(packet{ id = 77, data = "once" })
    feed(packet{ id = 77, data = "once" })
    -- The same write through another interface: another source address.
    local other = assert(net_os.udp{ address = "127.0.0.2" })
    feed(packet{ id = 77, data = "once", source_ip = "127.0.0.2" }, other)
    other:close()
    assert.equal("once", reader:read(1))
    assert.equal("timeout", select(3, reader:read(0)))
    assert.equal(2, svc:stats().duplicate)
    feed(packet{ id = 78, data = "once" }) -- a new write with the same text is no copy
    assert.equal("once", reader:read(1))
  end)

  it("keys the copies on a checksum of the body, not the body itself", function()
    local body = ("0123456789abcdef"):rep(20)
    feed(packet{ id = 79, data = body })
    feed(packet{ id = 79, data = body })
    feed(packet{ id = 79, data = body:sub(1, -2) .. "!" }) -- same id, another body: no copy
    assert.equal(1, svc:stats().duplicate)
    assert.equal(body, reader:read(1))
    assert.equal(body:sub(1, -2) .. "!", reader:read(1))
    for _, sender in pairs(svc.window.senders) do
      for key in pairs(sender.seen) do
        assert.is_true(#key < 100, "a dedupe key of " .. #key .. " bytes")
        assert.is_nil(key:find("0123456789abcdef", 1, true))
      end
    end
  end)

  it("remembers a bounded number of writes however many names hosts invent, and counts what it forgot", function()
    local function write_from(i)
      return packet{ source_name = ("H%05d"):format(i), id = i & 0xFFFF, data = "x" }
    end
    for i = 1, 5000 do
      assert.equal("delivered", svc:handle(write_from(i), "127.0.0.1", 138))
      assert.equal("x", reader:read(0))
    end
    local max = service.DEDUPE.max_senders
    assert.same({ senders = max, entries = max, evicted_senders = 5000 - max, evicted_entries = 5000 - max },
      svc.window:stats())
    assert.equal(5000 - max, svc:stats().dedupe_evicted)
    assert.matches("dedupe_evicted=" .. (5000 - max), svc:summary())
    -- The last writes are still known; the first were forgotten, so a late
    -- copy of one is delivered again.
    assert.equal("duplicate", svc:handle(write_from(5000), "127.0.0.1", 138))
    assert.equal("delivered", svc:handle(write_from(1), "127.0.0.1", 138))
  end)

  it("with dedupe 0 delivers every copy", function()
    svc:close()
    svc = helpers.loopback_service{ dedupe = 0 }
    feed(packet{ id = 9 })
    feed(packet{ id = 9 })
    assert.equal(2, svc:stats().delivered)
  end)

  it("a copy is delivered again after the window", function()
    svc:close()
    svc = helpers.loopback_service{ dedupe = 0.2 }
    feed(packet{ id = 10 })
    local t = net_os.monotonic()
    while net_os.monotonic() - t < 0.3 do svc:step(0.1) end
    feed(packet{ id = 10 })
    assert.equal(2, svc:stats().delivered)
  end)

  it("ignores its own group writes coming back (the writer delivered them locally)", function()
    feed(packet{ source_name = "SPECSVC", source_ip = "127.0.0.1", id = 11 })
    assert.equal(1, svc:stats().own)
    assert.equal("timeout", select(3, reader:read(0)))
  end)

  it("a group write from this machine reaches the local reader exactly once", function()
    mailslot.network.configure{ port = svc.port, interfaces = { "127.0.0.1/8" }, broadcast = { "127.0.0.1" },
                                computer_name = "SPECSVC", workgroup = "SPECWG" }
    local w = assert(mailslot.open("\\\\*\\mailslot\\" .. name))
    w:write("everyone")
    w:close()
    mailslot.network.reset()
    local deadline = net_os.monotonic() + 2
    while svc:stats().received == 0 and net_os.monotonic() < deadline do svc:step(0.2) end
    assert.equal("everyone", reader:read(1))
    assert.equal("timeout", select(3, reader:read(0)))
    assert.equal(1, svc:stats().own)
  end)

  it("refuses to start on a port in use", function()
    local again = service.new{ port = svc.port, bind = "127.0.0.1", name_service = false, log = function() end }
    local ok, err, code = again:start()
    assert.is_nil(ok)
    assert.equal("exists", code)
    assert.matches("cannot bind UDP 127.0.0.1:" .. svc.port, err)
  end)

  local function wait_for(file, pattern)
    local deadline, text = net_os.monotonic() + 5, ""
    repeat
      local f = io.open(file)
      if f then text = f:read("a"); f:close() end
      if text:find(pattern) then return text end
      net_os.poll({}, 0.05)
    until net_os.monotonic() > deadline
    return text
  end

  -- Starts `cmd` in the background with stderr to a file; returns pid, file.
  local function background(cmd)
    local out = os.tmpname()
    local p = io.popen(("%s 2>%s & echo $!"):format(cmd, out))
    local pid = assert(tonumber(p:read("l")))
    p:close()
    return pid, out
  end

  for _, sig in ipairs{ "TERM", "INT" } do
    it("stops cleanly on SIG" .. sig .. " with a summary", function()
      local pid, out = background("exec " .. helpers.lua_command([[
        local s = require("mailslot.net.service").new{ port = 0, bind = "127.0.0.1", name_service = false }
        assert(s:start()):run()
        io.stderr:write("exited normally\n")]]))
      assert.matches("listening on 127.0.0.1:%d+", wait_for(out, "listening on"))
      os.execute("kill -" .. sig .. " " .. pid)
      local text = wait_for(out, "exited normally")
      assert.matches("stopping on SIG" .. sig, text)
      assert.matches("stopped: received=0 delivered=0", text)
      assert.matches("exited normally", text)
      os.remove(out)
    end)
  end

  local cli_it = package.searchpath("mailslot.cli", package.path) and io.open("bin/mailslot") and it or pending
  cli_it("mailslot serve runs the service and stops on SIGTERM", function()
    local pid, out = background("MAILSLOT_INTERFACES=127.0.0.1/8 exec lua5.4 bin/mailslot serve --port 0 " ..
                                "--no-name-service --bind 127.0.0.1 --log info")
    assert.matches("listening on 127.0.0.1:%d+", wait_for(out, "listening on"))
    os.execute("kill -TERM " .. pid)
    local text = wait_for(out, "stopped:")
    assert.matches("stopping on SIGTERM", text)
    assert.matches("stopped: received=0", text)
    os.remove(out)
  end)
end)
