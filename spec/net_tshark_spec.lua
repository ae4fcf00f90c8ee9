-- An independent decoder: Wireshark's tshark reads the datagrams our network
-- writers send (caught on loopback, turned into a capture by text2pcap) as
-- NBDS -> SMB -> mailslot, with our names and data.
local helpers = require "helpers"

local function has(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

if helpers.windows or not (has("tshark") and has("text2pcap")) then
  describe("tshark decodes our datagrams", function()
    pending("needs tshark and text2pcap (Debian package tshark) on POSIX")
  end)
  return
end

local mailslot = require "mailslot"

local function hexdump(bytes)
  local out = {}
  for off = 1, #bytes, 16 do
    local line = { ("%06x"):format(off - 1) }
    for i = off, math.min(off + 15, #bytes) do line[#line + 1] = ("%02x"):format(bytes:byte(i)) end
    out[#out + 1] = table.concat(line, " ")
  end
  return table.concat(out, "\n") .. "\n"
end

local FIELDS = { "nbdgm.type", "nbdgm.first", "nbdgm.next", "nbdgm.source_name", "nbdgm.destination_name",
                 "nbdgm.src.ip", "nbdgm.src.port", "smb.cmd", "mailslot.opcode", "mailslot.class",
                 "mailslot.name", "data.data", "browser.command", "browser.server" }

-- tshark's view of one datagram: field name -> text.
local function dissect(bytes)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  local f = assert(io.open(dir .. "/d.hex", "w"))
  f:write(hexdump(bytes))
  f:close()
  assert(os.execute(("text2pcap -q -u 138,138 -4 127.0.0.1,127.255.255.255 %s/d.hex %s/d.pcap >/dev/null 2>&1")
    :format(dir, dir)))
  local args = {}
  for _, name in ipairs(FIELDS) do args[#args + 1] = "-e " .. name end
  local p = io.popen(("tshark -r %s/d.pcap -T fields -E separator=/t %s 2>/dev/null"):format(
    dir, table.concat(args, " ")))
  local line = p:read("l") or ""
  p:close()
  os.execute("rm -rf " .. dir)
  local out, i = {}, 0
  for value in (line .. "\t"):gmatch("([^\t]*)\t") do
    i = i + 1
    out[FIELDS[i]] = value
  end
  return out
end

local function tohex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

describe("tshark decodes our datagrams", function()
  local catcher
  before_each(function() catcher = helpers.catch_network{ computer_name = "SUE", workgroup = "FINANCE" } end)
  after_each(function() helpers.stop_catching(catcher) end)

  local function send(name, data, opts)
    local w = assert(mailslot.open(name, opts))
    assert(w:write(data))
    w:close()
    return assert(catcher:recvfrom(2))
  end

  it("a broadcast write: direct group, SUE<00> to FINANCE<00>, the mailslot and its data", function()
    local f = dissect(send("\\\\*\\mailslot\\myapp\\finance", "Lunch at noon?"))
    assert.equal("17", f["nbdgm.type"]) -- 0x11 direct group
    assert.equal("1", f["nbdgm.first"])
    assert.equal("0", f["nbdgm.next"])
    assert.equal("SUE<00>", f["nbdgm.source_name"])
    assert.equal("FINANCE<00>", f["nbdgm.destination_name"])
    assert.equal("127.0.0.1", f["nbdgm.src.ip"])
    assert.equal("0x25", f["smb.cmd"]:lower())
    assert.equal("1", f["mailslot.opcode"])
    assert.equal("2", f["mailslot.class"])
    assert.equal("\\MAILSLOT\\MYAPP\\FINANCE", f["mailslot.name"])
    assert.equal(tohex("Lunch at noon?"), f["data.data"])
  end)

  it("a unicast write: direct unique to the server's name", function()
    mailslot.network.configure{ dns = true }
    local f = dissect(send("\\\\localhost\\mailslot\\x", "\0\1binary\255"))
    assert.equal("16", f["nbdgm.type"]) -- 0x10 direct unique
    assert.equal("LOCALHOST<00>", f["nbdgm.destination_name"])
    assert.equal("\\MAILSLOT\\X", f["mailslot.name"])
    assert.equal(tohex("\0\1binary\255"), f["data.data"])
  end)

  it("a browser HostAnnouncement written to \\MAILSLOT\\BROWSE decodes down to the browser protocol", function()
    local body = string.pack("<BBI4c16BBI4BBI2z", 0x01, 1, 60000, ("SUE" .. ("\0"):rep(13)), 6, 1, 0x1003,
                             0x0F, 0x01, 0xAA55, "spec")
    local f = dissect(send("\\\\*\\mailslot\\browse", body, { suffix = 0x1D }))
    assert.equal("FINANCE<1d>", f["nbdgm.destination_name"])
    assert.equal("\\MAILSLOT\\BROWSE", f["mailslot.name"])
    assert.equal("0x01", f["browser.command"])
    assert.equal("SUE", f["browser.server"])
  end)
end)
