-- Replies come back: with a service running, a network writer's datagram
-- leaves from the service's port, so an answer sent back to that port is
-- delivered to this machine's reader. Loopback plays the network: the
-- service on 127.0.0.1:P, a peer "host" on 127.0.0.2:P.
local helpers = require "helpers"
if helpers.remote_is_native("network outbox") then return end
local mailslot = require "mailslot"
local nbt = require "mailslot.nbt"
local net_os = require "mailslot.net_os"
local outbox = require "mailslot.net.outbox"

describe("network outbox", function()
  local svc, peer, logs, dir

  -- Lets the service work until `done()` holds (bounded).
  local function step_until(done)
    local deadline = net_os.monotonic() + 3
    repeat
      if done() then return true end
      svc:step(0.1)
    until net_os.monotonic() > deadline
    return false
  end

  local function peer_receive()
    local bytes, ip, port
    step_until(function()
      bytes, ip, port = peer:recvfrom(0)
      return bytes ~= nil
    end)
    return bytes, ip, port
  end

  before_each(function()
    dir = helpers.temp_dir()
    outbox.DIR = dir
    logs = {}
    svc = helpers.loopback_service{ log_level = "debug", log = function(l, m) logs[#logs + 1] = l .. ": " .. m end }
    peer = assert(net_os.udp{ address = "127.0.0.2", port = svc.port })
    mailslot.network.configure{ port = svc.port, computer_name = "SPECSVC", workgroup = "SPECWG",
                                interfaces = { "127.0.0.1/8" }, broadcast = { "127.0.0.1" } }
  end)
  after_each(function()
    mailslot.network.reset()
    svc:close()
    peer:close()
    outbox.DIR = nil
    os.execute("rm -rf " .. helpers.quote(dir))
  end)

  it("a network write leaves from the service's port, and the answer reaches the local reader", function()
    local name = helpers.unique_name("reply")
    local reader = assert(mailslot.create(name, { network = true }))
    local w = assert(mailslot.open("\\\\127.0.0.2\\mailslot\\" .. name))
    assert.equal(5, w:write("ask?\0"))
    w:close()
    local bytes, ip, port = peer_receive()
    assert.truthy(bytes, "the peer got nothing: " .. table.concat(logs, "\n"))
    assert.equal("127.0.0.1", ip)
    assert.equal(svc.port, port) -- the service's socket, not the writer's
    local d = assert(nbt.decode_datagram(bytes))
    assert.equal("SPECSVC", d.source_name)
    assert.equal(svc.port, d.source_port)
    assert.equal("127.0.0.1", d.source_ip)
    assert.equal("ask?\0", d.data)
    assert.equal(1, svc:stats().sent)
    -- the peer answers as nmbd does: to the request's UDP source
    peer:sendto(nbt.encode_datagram{ type = 0x10, source_ip = "127.0.0.2", source_port = svc.port,
      source_name = "PEERHOST", dest_name = d.source_name, mailslot = d.mailslot, data = "answer" }, ip, port)
    assert.truthy(step_until(function() return svc:stats().delivered == 1 end), table.concat(logs, "\n"))
    assert.equal("answer", reader:read(1))
    assert.equal("PEERHOST", reader:sender().name)
    reader:close()
  end)

  it("without a service, a writer sends from its own socket as before", function()
    svc:close()
    local w = assert(mailslot.open("\\\\127.0.0.2\\mailslot\\" .. helpers.unique_name("alone")))
    assert.equal(2, w:write("hi"))
    w:close()
    local bytes, _, port = peer:recvfrom(2)
    assert.truthy(bytes)
    assert.are_not.equal(svc.port, port)
    assert.equal("hi", nbt.decode_datagram(bytes).data)
  end)

  it("a request that does not decode is dropped and counted; nothing is sent", function()
    local w = assert(mailslot.open(outbox.name(svc.port), { dir = dir }))
    assert(w:write("not a request"))
    local codec = require "mailslot.codec"
    assert(w:write(codec.encode{ id = 1, type = 0x10, dest = "X", suffix = 0,
      mailslot = "\\MAILSLOT\\X", data = "d", ip = "127.0.0.300" }))
    -- a name no writer makes: the datagram would outgrow what a network carries
    assert(w:write(codec.encode{ id = 1, type = 0x10, dest = "X", suffix = 0,
      mailslot = "\\MAILSLOT\\" .. ("x"):rep(2000), data = "", ip = "127.0.0.2" }))
    w:close()
    assert.truthy(step_until(function() return svc:stats().bad_request == 3 end), table.concat(logs, "\n"))
    assert.equal(0, svc:stats().sent)
    assert.is_nil((peer:recvfrom(0)))
  end)

  it("the service's outbox takes messages from every local user in root's directory only", function()
    local uid = io.popen("id -u"):read("l")
    if uid ~= "0" then return pending("needs root to run the attacker as nobody") end
    svc:close()
    outbox.DIR = nil
    -- Another local user cannot plant an outbox where writers look for root's.
    os.execute("mkdir -m 0755 /run/lua-mailslot 2>/dev/null")
    local out = helpers.run_with("setpriv --reuid=nobody --regid=nogroup --clear-groups", ([[
      local r, err, code = require("mailslot").create(%q, { dir = "/run/lua-mailslot" })
      print(r and "PLANTED" or code)]]):format(outbox.name(1)))
    assert.matches("^access", out)
  end)

  it("another local user has it sent, but only in the service's own name", function()
    local uid = io.popen("id -u"):read("l")
    if uid ~= "0" then return pending("needs root to run the attacker as nobody") end
    local out = helpers.run_with("setpriv --reuid=nobody --regid=nogroup --clear-groups", ([[
      local codec = require "mailslot.codec"
      local w = assert(require("mailslot").open(%q, { dir = %q }))
      print(w:write(codec.encode{ id = 7, type = 0x10, dest = "VICTIM", suffix = 0,
        mailslot = "\\MAILSLOT\\NET\\NETLOGON", data = "forged", ip = "127.0.0.2",
        source_name = "DC01", source_ip = "10.9.9.9", source_port = 1 }))]])
      :format(outbox.name(svc.port), dir))
    assert.matches("^%d+", out)
    local bytes, ip, port = peer_receive()
    assert.truthy(bytes, out)
    local d = assert(nbt.decode_datagram(bytes))
    assert.same({ "127.0.0.1", svc.port, "SPECSVC", "127.0.0.1", svc.port, "VICTIM", "forged" },
      { ip, port, d.source_name, d.source_ip, d.source_port, d.dest_name, d.data })
    assert.matches("for uid %d+ pid", table.concat(logs, "\n"))
  end)

  helpers.root_it("root's writer with another user's XDG_RUNTIME_DIR (su) never hands a write to that user",
    function()
    -- `su` without `-` keeps the user's XDG_RUNTIME_DIR: the user plants an
    -- outbox there, and root's network writes must not go to it.
    local xdg = helpers.temp_dir()
    -- env -u LD_PRELOAD: coreutils are not ours to sanitize (the ASan run preloads it everywhere)
    local q = helpers.quote(xdg)
    assert(os.execute("env -u LD_PRELOAD mkdir -m 0700 " .. q .. " && env -u LD_PRELOAD chown nobody " .. q))
    local planted = xdg .. "/lua-mailslot"
    local name = outbox.name(svc.port)
    local spy = helpers.spawn_with(helpers.AS_NOBODY, ([[
      local r = assert(require("mailslot").create(%q, { dir = %q }))
      print("ready") io.stdout:flush()
      local m = r:read(10)
      print(m == "marker" and "MARKER" or ("GOT " .. tostring(m)))]]):format(name, planted))
    finally(function()
      spy:close()
      os.execute("rm -rf " .. helpers.quote(xdg))
    end)
    assert.equal("ready", spy:read("l"))
    local out, ok = helpers.run_with(("env -u MAILSLOT_OUTBOX_DIR XDG_RUNTIME_DIR=%s MAILSLOT_PORT=%d "
      .. "MAILSLOT_INTERFACES=127.0.0.1/8 MAILSLOT_BROADCAST=127.0.0.1"):format(helpers.quote(xdg), svc.port), [[
      local w = assert(require("mailslot").open("\\\\127.0.0.2\\mailslot\\secret"))
      print(w:write("root's secret"))]])
    assert.is_true(ok, out)
    -- After root's write, a marker: the spy reads them in order.
    local w = mailslot.open(name, { dir = planted }) -- none when the spy took root's write and left
    if w then
      assert(w:write("marker"))
      w:close()
    end
    assert.equal("MARKER", spy:read("l"))
    -- Root's write still left, from root's own socket.
    local bytes = peer:recvfrom(2)
    assert.truthy(bytes, out)
    assert.equal("root's secret", assert(nbt.decode_datagram(bytes)).data)
  end)
end)
