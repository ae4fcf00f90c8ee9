-- udp:mailslot_sender(head, ip, port): what a network writer calls on every
-- write. The datagram without data (head) is checked once; each call sets
-- the id and the lengths and sends head and data as one datagram, without a
-- datagram string made first. Loopback only.
local helpers = require "helpers"
if helpers.remote_is_native("the network writers' sender") then return end
local nbt = require "mailslot.nbt"
local net_os = require "mailslot.net_os"

describe("udp:mailslot_sender", function()
  local sink, port, sock

  before_each(function()
    sink = assert(net_os.udp{ address = "127.0.0.1" })
    port = select(2, sink:getsockname())
    sock = assert(net_os.udp{ address = "127.0.0.1" })
  end)
  after_each(function()
    sink:close()
    sock:close()
  end)

  local function fields(extra)
    local t = { type = 0x11, source_ip = "192.168.7.1", source_port = 138, source_name = "NMBHOST",
                dest_name = "WG", dest_suffix = 0x1D, mailslot = "\\MAILSLOT\\BROWSE", data = "" }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end

  local function received()
    return assert(sink:recvfrom(2))
  end

  it("sends encode_datagram's bytes for each id and data", function()
    for _, form in ipairs({ {}, { pad = true }, { source_scope = "corp.example", type = 0x10 } }) do
      -- A head made at run time and dropped: the sender keeps its own copy.
      local send = sock:mailslot_sender(nbt.encode_datagram(fields(form)), "127.0.0.1", port)
      collectgarbage("collect")
      for _, case in ipairs({ { 0x1234, "hello" }, { 0, "" }, { 0xFFFF, ("x"):rep(424) }, { 7, "a\0b" },
                              { 8, "hello" } }) do
        local want = fields(form)
        want.id, want.data = case[1], case[2]
        want = nbt.encode_datagram(want)
        assert.equal(#want, send(case[1], case[2]))
        assert.equal(want, received())
      end
    end
  end)

  it("refuses a head that is not a whole mailslot datagram without data", function()
    local head = nbt.encode_datagram(fields())
    local fragment = nbt.encode_datagram(fields{ flags = 0x0B }) -- MORE: a first fragment only
    for _, bad in ipairs({ nbt.encode_datagram(fields{ data = "x" }), head:sub(1, -2), head .. "\0", "", fragment }) do
      assert.error_matches(function() sock:mailslot_sender(bad, "127.0.0.1", port) end,
        "mailslot datagram without data expected", 1, true)
    end
    assert.has_error(function() sock:mailslot_sender(head, "127.0.0.256", port) end,
      "bad argument #2 to 'mailslot_sender' (dotted IPv4 address expected)")
    assert.has_error(function() sock:mailslot_sender(head, "127.0.0.1", 65536) end,
      "bad argument #3 to 'mailslot_sender' (port out of range)")
  end)

  it("checks id and data, and says too_big for data the lengths cannot hold", function()
    local send = sock:mailslot_sender(nbt.encode_datagram(fields()), "127.0.0.1", port)
    assert.error_matches(function() send(0x10000, "x") end, "(0..65535 expected)", 1, true)
    assert.error_matches(function() send(-1, "x") end, "(0..65535 expected)", 1, true)
    assert.error_matches(function() send(1, 5) end, "(string expected, got number)", 1, true)
    local n, err, code = send(1, ("x"):rep(0x10000))
    assert.is_nil(n)
    assert.equal("too_big", code)
    assert.matches("65536 bytes", err)
    assert.equal(nil, (sink:recvfrom()))
  end)

  it("fails as sendto does, and raises once its socket is closed", function()
    local send = sock:mailslot_sender(nbt.encode_datagram(fields()), "127.0.0.1", 0)
    local n, err, code = send(1, "x") -- port 0: EINVAL on Linux
    assert.is_nil(n)
    assert.equal("system", code)
    assert.matches("cannot send to 127.0.0.1:0", err)
    sock:close()
    assert.has_error(function() send(1, "x") end, "attempt to use a closed socket")
  end)
end)
