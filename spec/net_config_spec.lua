-- mailslot.network: who we are on the network, and where broadcasts go.
local helpers = require "helpers"
if helpers.remote_is_native("mailslot.network") then return end
local mailslot = require "mailslot"
local network = mailslot.network

describe("mailslot.network", function()
  after_each(function() network.reset() end)

  it("is published by the module as the config API", function()
    assert.equal(require("mailslot.net.config"), network)
    assert.is_function(network.configure)
    assert.is_function(network.get)
  end)

  it("defaults: computer name from the host, WORKGROUP, ports 138 and 137", function()
    local cfg = network.get()
    assert.equal(mailslot.this_host():sub(1, 15), cfg.computer_name)
    assert.truthy(#cfg.computer_name <= 15)
    assert.equal(cfg.computer_name:upper(), cfg.computer_name)
    if not os.getenv("MAILSLOT_WORKGROUP") then assert.equal("WORKGROUP", cfg.workgroup) end
    if not os.getenv("MAILSLOT_PORT") then assert.equal(138, cfg.port) end
    if not os.getenv("MAILSLOT_NAME_PORT") then assert.equal(137, cfg.name_port) end
    assert.is_table(cfg.targets)
  end)

  it("default targets are the up, non-loopback interfaces with a broadcast address", function()
    if os.getenv("MAILSLOT_INTERFACES") or os.getenv("MAILSLOT_BROADCAST") then
      return pending("environment sets the interfaces")
    end
    local system = {}
    for _, i in ipairs(require("mailslot.net_os").interfaces()) do
      if i.up and not i.loopback and i.broadcast then system[#system + 1] = i.broadcast end
    end
    local got = {}
    for _, t in ipairs(network.get().targets) do got[#got + 1] = t.broadcast end
    assert.same(system, got)
  end)

  it("configure overrides, upper-cases names, and reset restores", function()
    local cfg = network.configure{ workgroup = "finance", computer_name = "sue.example.org", port = 13800 }
    assert.equal("FINANCE", cfg.workgroup)
    assert.equal("SUE", cfg.computer_name)
    assert.equal(13800, network.get().port)
    network.reset("port")
    assert.equal("FINANCE", network.get().workgroup)
    network.reset()
    assert.are_not.equal("FINANCE", network.get().workgroup)
  end)

  it("interfaces as address/prefix give the subnet broadcast address", function()
    local t = network.configure{ interfaces = { "10.1.2.3/24", "192.168.7.9/16" } }.targets
    assert.same({ address = "10.1.2.3", netmask = "255.255.255.0", broadcast = "10.1.2.255" }, t[1])
    assert.equal("192.168.255.255", t[2].broadcast)
  end)

  it("interfaces by name come from the system", function()
    local t = network.configure{ interfaces = "lo" }.targets
    assert.equal("127.0.0.1", t[1].address)
    assert.equal("lo", t[1].name)
  end)

  it("broadcast replaces the broadcast addresses", function()
    local t = network.configure{ interfaces = { "127.0.0.1/8" }, broadcast = "127.0.0.1" }.targets
    assert.equal(1, #t)
    assert.equal("127.0.0.1", t[1].broadcast)
    assert.equal("127.0.0.1", t[1].address)
  end)

  it("reads the environment (a child process shows it)", function()
    local env_out
    local p = io.popen("MAILSLOT_WORKGROUP=accts MAILSLOT_PORT=1138 MAILSLOT_NAME_PORT=1137 " ..
      "MAILSLOT_COMPUTERNAME=pete MAILSLOT_DNS=no MAILSLOT_INTERFACES=10.9.8.7/24 " ..
      helpers.lua_command([[
      local n = require("mailslot").network.get()
      io.write(n.workgroup, " ", n.port, " ", n.name_port, " ", n.computer_name, " ", tostring(n.dns), " ",
               n.targets[1].broadcast)]]))
    env_out = p:read("a")
    p:close()
    assert.equal("ACCTS 1138 1137 PETE false 10.9.8.255", env_out)
  end)

  it("the API wins over the environment", function()
    local p = io.popen("MAILSLOT_WORKGROUP=accts " .. helpers.lua_command([[
      local n = require("mailslot").network
      n.configure{ workgroup = "sales" }
      io.write(n.get().workgroup)]]))
    assert.equal("SALES", p:read("a"))
    p:close()
  end)

  it("rejects unknown keys and bad values", function()
    assert.has_error(function() network.configure{ wrokgroup = "X" } end)
    assert.has_error(function() network.configure{ port = 70000 } end)
    assert.has_error(function() network.configure{ workgroup = "NAME-LONGER-THAN-15" } end)
    assert.has_error(function() network.configure{ workgroup = "A*B" } end)
    assert.has_error(function() network.configure{ broadcast = { "not-an-address" } } end)
    assert.has_error(function() network.configure("x") end)
  end)

  it("is_group: the workgroup, '*' and configured domains", function()
    local cfg = network.configure{ workgroup = "WG", domains = { "corp" } }
    assert.is_true(network.is_group(cfg, "*"))
    assert.is_true(network.is_group(cfg, "wg"))
    assert.is_true(network.is_group(cfg, "CORP"))
    assert.is_false(network.is_group(cfg, "FILESRV"))
  end)
end)
