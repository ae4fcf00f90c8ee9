-- mailslot.nbt: the remote mailslot codec (NetBIOS names, datagrams, the
-- SMB mailslot write, name queries).  The golden packets below are written
-- out by hand, field by field, from the tables in PROTOCOL.md and RFC 1002;
-- they are never produced by the encoder under test.

local nbt = require("mailslot.nbt")

-- H[[ ... ]]: hex byte pairs and "quoted ASCII"; '#' starts a comment.
local function H(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("#.*$", "")
    local pos = 1
    while pos <= #line do
      local c = line:sub(pos, pos)
      if c == '"' then
        local close = assert(line:find('"', pos + 1, true), "unclosed quote")
        out[#out + 1] = line:sub(pos + 1, close - 1)
        pos = close + 1
      elseif c:match("%s") then
        pos = pos + 1
      else
        local pair = line:sub(pos, pos + 1)
        assert(pair:match("^%x%x$"), "bad hex near '" .. pair .. "'")
        out[#out + 1] = string.char(tonumber(pair, 16))
        pos = pos + 2
      end
    end
  end
  return table.concat(out)
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02X ", c:byte()) end))
end

-- Replace bytes at a 0-based offset, as the tables in PROTOCOL.md count.
local function poke(s, off, bytes)
  return s:sub(1, off) .. bytes .. s:sub(off + 1 + #bytes)
end

-- The function's name in Lua's message depends on how it was reached, so
-- match the part in parentheses, which this module writes.
local function assert_raises(detail, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "no error raised")
  assert.is_truthy(tostring(err):find("bad argument #1 to '[%w_.]+' %(" .. detail:gsub("%p", "%%%0") .. "%)$"),
    "got: " .. tostring(err))
end

-- Options tables read the same way in every binding (src/lopt.h): the whole
-- message, "bad option 'key' (what)" or "bad option key to 'fn' (unknown option)",
-- after the caller's position.
local function assert_option_error(message, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "no error raised")
  assert.are.equal(message, (tostring(err):gsub("^[^:]*:%d+: ", "")))
end

local function assert_invalid(reason, ...)
  local t, why, kind = ...
  assert.is_nil(t)
  assert.are.equal(reason, why)
  assert.are.equal("invalid", kind)
end

-- Encoded names, letter pairs written out by hand ('A'+hi, 'A'+lo).
local NAME_NMBHOST_00 = H[[
  20                                   # length byte: 32 letters follow
  "EO" "EN" "EC" "EI" "EP" "FD" "FE"   # N M B H O S T
  "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA"  # 8 spaces of padding
  "AA"                                 # suffix 0x00 (workstation)
  00                                   # no scope: root label
]]

local NAME_WG_1D = H[[
  20
  "FH" "EH"                            # W G
  "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA"  # 13 spaces
  "BN"                                 # suffix 0x1D (master browser)
  00
]]

-- SMB mailslot write of "hello" to \MAILSLOT\BROWSE, nmbd form: the data
-- starts right after the name's NUL, at 69 + 17 = 86.
local SMB_UNPADDED = H[[
  FF 53 4D 42          # 0  protocol "\xFFSMB"
  25                   # 4  command SMB_COM_TRANSACTION
  00 00 00 00 00 00 00 00 00 00 00 00 00 00  # 5..18  status, flags, flags2,
  00 00 00 00 00 00 00 00 00 00 00 00 00     # 19..31 pid, signature, tid, uid, mid
  11                   # 32 word count 17
  00 00                # 33 total parameter count
  05 00                # 35 total data count 5
  00 00                # 37 max parameter count
  00 00                # 39 max data count
  00                   # 41 max setup count
  00                   # 42 reserved
  00 00                # 43 flags
  00 00 00 00          # 45 timeout
  00 00                # 49 reserved
  00 00                # 51 parameter count
  00 00                # 53 parameter offset
  05 00                # 55 data count 5
  56 00                # 57 data offset 86
  03                   # 59 setup count 3
  00                   # 60 reserved
  01 00                # 61 opcode 1: write mailslot
  00 00                # 63 priority 0
  02 00                # 65 class 2
  16 00                # 67 byte count 17 + 5 = 22
  "\MAILSLOT\BROWSE" 00  # 69 name, NUL-terminated (17 bytes)
  "hello"              # 86 data
]]

-- The same write in Windows' form: data padded to offset 88, parameter
-- offset = data offset, max parameter count 2, timeout 1000, flags 2,
-- priority 1.  Receivers must ignore all of those but the data offset.
local SMB_PADDED = H[[
  FF 53 4D 42 25
  00 00 00 00 00 00 00 00 00 00 00 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00 00
  11                   # 32 word count 17
  00 00                # 33 total parameter count
  05 00                # 35 total data count 5
  02 00                # 37 max parameter count 2
  00 00                # 39 max data count
  00 00                # 41 max setup count, reserved
  02 00                # 43 flags: no response
  E8 03 00 00          # 45 timeout 1000
  00 00                # 49 reserved
  00 00                # 51 parameter count
  58 00                # 53 parameter offset 88
  05 00                # 55 data count 5
  58 00                # 57 data offset 88
  03 00                # 59 setup count 3, reserved
  01 00                # 61 opcode 1
  01 00                # 63 priority 1
  02 00                # 65 class 2
  18 00                # 67 byte count 17 + 2 + 5 = 24
  "\MAILSLOT\BROWSE" 00  # 69 name
  00 00                # 86 pad to 4
  "hello"              # 88 data
]]

local DGRAM_HEADER_UNPADDED = H[[
  11                   # type: direct group
  0A                   # flags: FIRST, node type M (nmbd)
  12 34                # datagram id
  C0 A8 07 01          # source IP 192.168.7.1
  00 8A                # source port 138
  00 9F                # length: 34 + 34 + 91 = 159
  00 00                # packet offset
]]

local DGRAM_HEADER_PADDED = H[[
  11 0E                # direct group; flags FIRST, node type H (Windows)
  12 34 C0 A8 07 01 00 8A
  00 A1                # length: 34 + 34 + 93 = 161
  00 00
]]

local GOLDEN = DGRAM_HEADER_UNPADDED .. NAME_NMBHOST_00 .. NAME_WG_1D .. SMB_UNPADDED
local GOLDEN_PADDED = DGRAM_HEADER_PADDED .. NAME_NMBHOST_00 .. NAME_WG_1D .. SMB_PADDED
local SMB = 14 + 34 + 34     -- where the SMB starts in GOLDEN

local GOLDEN_FIELDS = {
  type = 0x11, flags = 0x0A, id = 0x1234,
  source_ip = "192.168.7.1", source_port = 138,
  source_name = "NMBHOST", source_suffix = 0,
  dest_name = "WG", dest_suffix = 0x1D,
  mailslot = "\\MAILSLOT\\BROWSE", data = "hello",
}

local NAME_QUERY_WG_1D = H[[
  12 34                # name transaction id
  01 10                # flags: opcode 0 query, RD, B (broadcast)
  00 01                # QDCOUNT
  00 00 00 00 00 00    # ANCOUNT, NSCOUNT, ARCOUNT
]] .. NAME_WG_1D .. H[[
  00 20                # question type NB
  00 01                # question class IN
]]

local POSITIVE_RESPONSE = H[[
  12 34                # id
  85 00                # flags: R, opcode 0, AA, RD; RCODE 0
  00 00 00 01 00 00 00 00  # QD 0, AN 1, NS 0, AR 0
]] .. NAME_WG_1D .. H[[
  00 20 00 01          # type NB, class IN
  00 04 93 E0          # TTL 300000 s
  00 0C                # RDLENGTH: two 6-byte entries
  80 00 C0 A8 07 01    # NB_FLAGS group, 192.168.7.1
  00 00 C0 A8 07 02    # NB_FLAGS unique B node, 192.168.7.2
]]

describe("mailslot.nbt", function()
  it("adds no globals when required", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    package.loaded["mailslot.nbt"] = nil
    require("mailslot.nbt")
    for k in pairs(_G) do assert.is_true(before[k], "new global " .. tostring(k)) end
  end)

  describe("names", function()
    it("encodes a name upper-cased and space padded", function()
      assert.are.equal(NAME_NMBHOST_00, nbt.encode_name("nmbhost", 0))
      assert.are.equal(NAME_WG_1D, nbt.encode_name("WG", 0x1D))
      assert.are.equal(H[[20 "EGFCEFEE" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" "CA" 00]],
                       nbt.encode_name("Fred", 0x20))
    end)

    it("pads the wildcard * with NULs", function()
      assert.are.equal(H[[20 "CK" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" 00]], nbt.encode_name("*"))
    end)

    it("encodes scope labels after the letters", function()
      local golden = H[[
        20 "EB" "CACACACACACACACACACACACACACA" "AA"   # A, 14 spaces, suffix 0
        01 "x" 02 "yz"                            # scope x.yz
        00
      ]]
      assert.are.equal(golden, nbt.encode_name("a", 0, "x.yz"))
      local name, suffix, scope, used = nbt.decode_name(golden)
      assert.are.same({ "A", 0, "x.yz", #golden }, { name, suffix, scope, used })
    end)

    it("decodes names and reports the bytes used", function()
      local name, suffix, scope, used = nbt.decode_name(NAME_WG_1D .. "trailing")
      assert.are.same({ "WG", 0x1D, nil, 34 }, { name, suffix, scope, used })
      assert.are.same({ "*", 0, nil, 34 }, { nbt.decode_name(nbt.encode_name("*")) })
      assert.are.same({ "NMBHOST", 0, nil, 34 }, { nbt.decode_name(NAME_NMBHOST_00) })
    end)

    it("round trips all 15 bytes and every suffix", function()
      for suffix = 0, 255 do
        local name, got = nbt.decode_name(nbt.encode_name("ABCDEFGHIJKLMNO", suffix))
        assert.are.equal("ABCDEFGHIJKLMNO", name)
        assert.are.equal(suffix, got)
      end
    end)

    it("rejects a length byte other than 0x20", function()
      assert_invalid("bad name length byte", nbt.decode_name(poke(NAME_WG_1D, 0, "\x1F")))
      assert_invalid("bad name length byte", nbt.decode_name(poke(NAME_WG_1D, 0, "\xC0")))
    end)

    it("rejects letters outside A..P", function()
      assert_invalid("bad name encoding", nbt.decode_name(poke(NAME_WG_1D, 1, "Q")))
      assert_invalid("bad name encoding", nbt.decode_name(poke(NAME_WG_1D, 32, "a")))
    end)

    it("rejects malformed scopes", function()
      local base = NAME_WG_1D:sub(1, 33)
      assert_invalid("bad scope", nbt.decode_name(base .. "\xC0\x0C"))          -- pointer
      assert_invalid("bad scope", nbt.decode_name(base .. "\x40" .. ("x"):rep(64) .. "\0"))
      assert_invalid("bad scope", nbt.decode_name(base .. "\x03a.b\0"))         -- dot in label
      assert_invalid("bad scope", nbt.decode_name(base .. "\x03a\0b\0"))        -- NUL in label
      -- 33 + 4 * 56 + 1 = 258 bytes: over the 255-byte name limit
      assert_invalid("bad scope", nbt.decode_name(base .. ("\x37" .. ("y"):rep(55)):rep(4) .. "\0"))
    end)

    it("accepts a scope up to the 255-byte limit", function()
      -- 33 + 3 * 64 + 1 * 28 + 1 = 254
      local labels = ("\x3F" .. ("y"):rep(63)):rep(3) .. "\x1B" .. ("z"):rep(27)
      local name, _, scope = nbt.decode_name(NAME_WG_1D:sub(1, 33) .. labels .. "\0")
      assert.are.equal("WG", name)
      assert.are.equal(("y"):rep(63) .. "." .. ("y"):rep(63) .. "." .. ("y"):rep(63) .. "." .. ("z"):rep(27), scope)
    end)

    it("returns nil for every truncation", function()
      local full = nbt.encode_name("a", 0, "x.yz")
      for n = 0, #full - 1 do
        assert_invalid("truncated", nbt.decode_name(full:sub(1, n)))
      end
    end)

    it("raises on bad arguments", function()
      assert.has_error(function() nbt.encode_name("") end)
      assert.has_error(function() nbt.encode_name(("x"):rep(16)) end)
      assert.has_error(function() nbt.encode_name("a\0b") end)
      assert.has_error(function() nbt.encode_name("a", 256) end)
      assert.has_error(function() nbt.encode_name("a", -1) end)
      assert.has_error(function() nbt.encode_name("a", 0, "bad..scope") end)
      assert.has_error(function() nbt.encode_name("a", 0, ("l"):rep(64)) end)
      assert.has_error(function() nbt.encode_name({}) end)
      assert.has_error(function() nbt.decode_name() end)
    end)
  end)

  describe("datagram encoding", function()
    it("matches the hand-built nmbd-form packet", function()
      local got = nbt.encode_datagram{
        type = 0x11, id = 0x1234, source_ip = "192.168.7.1",
        source_name = "NMBHOST", dest_name = "WG", dest_suffix = 0x1D,
        mailslot = "\\MAILSLOT\\BROWSE", data = "hello",
      }
      assert.are.equal(hex(GOLDEN), hex(got))
    end)

    it("writes the data at offset 88 when padding is asked for", function()
      local got = nbt.encode_datagram{
        type = 0x11, id = 0x1234, source_ip = "192.168.7.1",
        source_name = "NMBHOST", dest_name = "WG", dest_suffix = 0x1D,
        mailslot = "\\MAILSLOT\\BROWSE", data = "hello", pad = true,
      }
      assert.are.equal(#GOLDEN + 2, #got)
      assert.are.equal("\x58\x00", got:sub(SMB + 58, SMB + 59))         -- data offset 88
      assert.are.equal("\x18\x00", got:sub(SMB + 68, SMB + 69))         -- byte count 24
      assert.are.equal("\0\0hello", got:sub(SMB + 87))
      assert.are.equal(88, nbt.decode_datagram(got).data_offset)
    end)

    it("uses the given type, flags, port, priority and class", function()
      local t = nbt.decode_datagram(nbt.encode_datagram{
        type = nbt.DIRECT_UNIQUE, flags = 0x0E, id = 0xFFFF, source_ip = "255.0.0.1",
        source_port = 4138, source_name = "host", source_suffix = 3,
        dest_name = "server", mailslot = "\\mailslot\\net\\netlogon",
        data = "x", priority = 9, class = 1,
      })
      assert.are.same({ 0x10, 0x0E, 0xFFFF, "255.0.0.1", 4138, "HOST", 3, "SERVER", 0,
                        "\\mailslot\\net\\netlogon", 9, 1 },
                      { t.type, t.flags, t.id, t.source_ip, t.source_port, t.source_name,
                        t.source_suffix, t.dest_name, t.dest_suffix, t.mailslot, t.priority,
                        t.class })
    end)

    it("rejects unknown option keys, naming them", function()
      local opts = {
        type = 0x11, source_ip = "1.2.3.4", source_name = "A", dest_name = "B",
        mailslot = "\\MAILSLOT\\X", data = "", dst_suffix = 0x1D,
      }
      assert_option_error("bad option dst_suffix to 'encode_datagram' (unknown option)",
        function() nbt.encode_datagram(opts) end)
      opts.dst_suffix = nil
      opts[1] = true
      assert_option_error("bad option 1 to 'encode_datagram' (unknown option)",
        function() nbt.encode_datagram(opts) end)
    end)

    it("raises on missing, mistyped and out-of-range fields", function()
      local function opts(over)
        local t = {
          type = 0x11, source_ip = "1.2.3.4", source_name = "A", dest_name = "B",
          mailslot = "\\MAILSLOT\\X", data = "d",
        }
        for k, v in pairs(over) do t[k] = v end
        return t
      end
      local cases = {
        { { type = 0x13 }, "bad option 'type' (0x10, 0x11 or 0x12 expected)" },
        { { type = "0x11" }, "bad option 'type' (integer from 0 to 255 expected)" },
        { { type = 17.5 }, "bad option 'type' (integer from 0 to 255 expected)" },
        { { id = 65536 }, "bad option 'id' (integer from 0 to 65535 expected)" },
        { { flags = -1 }, "bad option 'flags' (integer from 0 to 255 expected)" },
        { { source_ip = "1.2.3" }, "bad option 'source_ip' (dotted IPv4 address expected)" },
        { { source_ip = "1.2.3.256" }, "bad option 'source_ip' (dotted IPv4 address expected)" },
        { { source_ip = "1.2.3.4 " }, "bad option 'source_ip' (dotted IPv4 address expected)" },
        { { source_ip = 16909060 }, "bad option 'source_ip' (string expected)" },
        { { source_name = "" }, "bad option 'source_name' (1 to 15 bytes expected)" },
        { { dest_name = ("n"):rep(16) }, "bad option 'dest_name' (1 to 15 bytes expected)" },
        { { dest_suffix = 256 }, "bad option 'dest_suffix' (integer from 0 to 255 expected)" },
        { { mailslot = "\\PIPE\\X" }, "bad option 'mailslot' (\\MAILSLOT\\name expected)" },
        { { mailslot = "\\MAILSLOT\\" }, "bad option 'mailslot' (\\MAILSLOT\\name expected)" },
        { { data = false }, "bad option 'data' (string expected)" },
        { { pad = 1 }, "bad option 'pad' (boolean expected)" },
        { { dest_scope = "a\0b" }, "bad option 'dest_scope' (string without NUL bytes expected)" },
        { { source_scope = "a..b" },
          "bad option 'source_scope' (dot-separated labels of 1 to 63 bytes, at most 220 bytes in all expected)" },
        { { source_scope = ("s"):rep(64) },
          "bad option 'source_scope' (dot-separated labels of 1 to 63 bytes, at most 220 bytes in all expected)" },
      }
      for _, case in ipairs(cases) do
        assert_option_error(case[2], function() nbt.encode_datagram(opts(case[1])) end)
      end
      for _, key in ipairs({ "type", "source_ip", "source_name", "dest_name", "mailslot", "data" }) do
        local t = opts({})
        t[key] = nil
        assert_option_error("bad option '" .. key .. "' (required)", function() nbt.encode_datagram(t) end)
      end
      assert.has_error(function() nbt.encode_datagram("x") end)
    end)
  end)

  describe("datagram decoding", function()
    it("decodes the hand-built nmbd-form packet", function()
      local t = assert(nbt.decode_datagram(GOLDEN))
      for k, v in pairs(GOLDEN_FIELDS) do assert.are.equal(v, t[k], k) end
      assert.are.same({ 159, 0, 0, 2, 86, false }, { t.length, t.offset, t.priority, t.class, t.data_offset, t.pad })
    end)

    it("decodes the padded Windows-form packet through the data offset", function()
      local t = assert(nbt.decode_datagram(GOLDEN_PADDED))
      for k, v in pairs(GOLDEN_FIELDS) do
        if k ~= "flags" then assert.are.equal(v, t[k], k) end
      end
      assert.are.same({ 0x0E, 1, 88, true }, { t.flags, t.priority, t.data_offset, t.pad })
    end)

    it("finds the data only through data offset and count", function()
      -- Padding of 3 bytes holding junk: data offset 89, byte count 25.
      local smb = SMB_UNPADDED:sub(1, 86) .. "JNK" .. "hello"
      smb = poke(poke(smb, 57, "\x59\x00"), 67, "\x19\x00")
      local pkt = poke(DGRAM_HEADER_UNPADDED, 10, "\x00\xA2") .. NAME_NMBHOST_00 .. NAME_WG_1D .. smb
      local t = assert(nbt.decode_datagram(pkt))
      assert.are.equal("hello", t.data)
      -- Data count 3 at offset 88 picks "hel" even though the bytes go on.
      t = assert(nbt.decode_datagram(poke(poke(GOLDEN_PADDED, SMB + 55, "\x03\x00"), SMB + 35, "\x03\x00")))
      assert.are.equal("hel", t.data)
    end)

    it("ignores bytes past the length field", function()
      assert.are.equal("hello", assert(nbt.decode_datagram(GOLDEN .. "extra")).data)
    end)

    it("keeps zero-length data", function()
      local pkt = nbt.encode_datagram{
        type = 0x12, source_ip = "10.0.0.1", source_name = "A", dest_name = "B",
        mailslot = "\\MAILSLOT\\X", data = "",
      }
      assert.are.equal("", assert(nbt.decode_datagram(pkt)).data)
    end)

    it("returns nil for every truncation of valid packets", function()
      for _, full in ipairs({ GOLDEN, GOLDEN_PADDED }) do
        for n = 0, #full - 1 do
          local t, why, kind = nbt.decode_datagram(full:sub(1, n))
          assert.is_nil(t, "length " .. n)
          assert.are.equal("invalid", kind)
          assert.is_string(why)
        end
      end
      assert_invalid("truncated", nbt.decode_datagram(""))
      assert_invalid("truncated", nbt.decode_datagram(GOLDEN:sub(1, 13)))
      assert_invalid("truncated", nbt.decode_datagram(GOLDEN:sub(1, -2)))
    end)

    it("reports truncation inside the SMB when the length field agrees", function()
      for n = SMB, #GOLDEN - 1 do
        local cut = poke(GOLDEN:sub(1, n), 10, string.char((n - 14) >> 8, (n - 14) & 255))
        assert_invalid("truncated", nbt.decode_datagram(cut))
      end
    end)

    local header_cases = {
      { "unsupported datagram type", "type 0x14", poke(GOLDEN, 0, "\x14") },
      { "unsupported datagram type", "type 0x00", poke(GOLDEN, 0, "\x00") },
      { "bad name length byte", "source", poke(GOLDEN, 14, "\x1F") },
      { "bad name length byte", "destination", poke(GOLDEN, 48, "\x21") },
      { "bad name encoding", "letter Z", poke(GOLDEN, 15, "Z") },
      { "bad scope", "label pointer", poke(GOLDEN, 47, "\xC0") },
      { "bad datagram length", "length 48 cuts a name", poke(GOLDEN, 10, "\x00\x30") },
      { "fragmented", "MORE set", poke(GOLDEN, 1, "\x0B") },
      { "fragmented", "FIRST clear", poke(GOLDEN, 1, "\x08") },
      { "fragmented", "packet offset 1", poke(GOLDEN, 12, "\x00\x01") },
      { "error datagram", "type 0x13", H[[13 0A 12 34 C0 A8 07 01 00 8A 82]] },
    }
    for _, case in ipairs(header_cases) do
      it("reports " .. case[1] .. " (" .. case[2] .. ")", function()
        assert_invalid(case[1], nbt.decode_datagram(case[3]))
      end)
    end

    local smb_cases = {
      { "not an SMB", 0, "\xFE" },                              -- SMB2 magic
      { "not a mailslot write", 4, "\x32" },                    -- TRANSACTION2
      { "not a mailslot write", 32, "\x10" },                   -- word count 16
      { "not a mailslot write", 59, "\x02" },                   -- setup count 2
      { "not a mailslot write", 61, "\x02\x00" },               -- opcode 2
      { "fragmented", 35, "\x09\x00" },                         -- total data > data count
      { "fragmented", 33, "\x01\x00" },                         -- total params > count
      { "truncated", 67, "\x17\x00" },                          -- byte count past the end
      { "bad mailslot name", 69, "\\PIPE\\LANMAN\0" },
      { "bad mailslot name", 67, "\x05\x00" },                  -- no NUL in the bytes
      { "bad mailslot name", 69, "\\MAILSLOT\\\0" },            -- nothing after the prefix
      { "bad offset", 57, "\x55\x00" },                         -- data inside the name
      { "bad offset", 57, "\x00\x00" },
      { "bad offset", 57, "\x57\x00" },                         -- 87 + 5 past byte count
      { "bad offset", 55, "\x06\x00" },                         -- count past byte count
      { "bad offset", 51, "\x01\x00" },                         -- parameter at offset 0
    }
    for _, case in ipairs(smb_cases) do
      it("reports " .. case[1] .. " (SMB offset " .. case[2] .. ")", function()
        local pkt = poke(GOLDEN, SMB + case[2], case[3])
        if case[2] == 55 then pkt = poke(pkt, SMB + 35, case[3]) end  -- keep totals equal
        if case[2] == 51 then pkt = poke(pkt, SMB + 33, case[3]) end
        assert_invalid(case[1], nbt.decode_datagram(pkt))
      end)
    end

    it("accepts Windows' parameter offset equal to the data offset", function()
      local pkt = poke(GOLDEN, SMB + 53, "\x56\x00")
      assert.are.equal("hello", assert(nbt.decode_datagram(pkt)).data)
    end)

    it("raises on a non-string argument", function()
      assert.has_error(function() nbt.decode_datagram() end)
      assert.has_error(function() nbt.decode_datagram({}) end)
    end)
  end)

  describe("round trips", function()
    local function strip(t)
      t.length, t.data_offset = nil, nil
      return t
    end

    it("decode(encode(x)) gives x back, names upper-cased", function()
      local opts = {
        type = 0x10, flags = 0x0E, id = 7, source_ip = "10.1.2.3", source_port = 138,
        source_name = "laptop", source_suffix = 0, source_scope = "corp.example",
        dest_name = "Server", dest_suffix = 0x20, dest_scope = "corp.example",
        mailslot = "\\MAILSLOT\\Messngr", data = ("\0\1\2\255"):rep(30),
        priority = 0, class = 2, pad = true, offset = 0,
      }
      local t = strip(assert(nbt.decode_datagram(nbt.encode_datagram(opts))))
      opts.source_name, opts.dest_name = "LAPTOP", "SERVER"
      assert.are.same(opts, t)
      assert.are.equal(nbt.encode_datagram(opts), nbt.encode_datagram(t))
    end)

    it("re-encodes the golden packets byte for byte (nmbd form)", function()
      local t = strip(assert(nbt.decode_datagram(GOLDEN)))
      assert.are.equal(hex(GOLDEN), hex(nbt.encode_datagram(t)))
    end)

    it("keeps the mailslot name's case as sent", function()
      local pkt = nbt.encode_datagram{
        type = 0x11, source_ip = "1.1.1.1", source_name = "a", dest_name = "b",
        mailslot = "\\mailslot\\Browse", data = "x",
      }
      assert.are.equal("\\mailslot\\Browse", nbt.decode_datagram(pkt).mailslot)
    end)
  end)

  describe("size limits", function()
    it("gives 424 bytes for a 5 to 8 character name (Windows' rule)", function()
      for n = 5, 8 do
        assert.are.equal(424, (nbt.max_data("\\MAILSLOT\\" .. ("n"):rep(n))))
      end
      assert.are.equal(428, (nbt.max_data("\\MAILSLOT\\ABCD")))
      assert.are.equal(428, (nbt.max_data("\\mailslot\\a")))
      assert.are.equal(420, (nbt.max_data("\\MAILSLOT\\NET\\NETLOGON")))   -- 12 characters
      assert.are.equal(420, (nbt.max_data("\\MAILSLOT\\ABCDEFGHI")))
      assert.are.equal(0, (nbt.max_data("\\MAILSLOT\\" .. ("n"):rep(432))))
    end)

    it("gives what fits in a 576-byte datagram as a second value", function()
      local _, udp = nbt.max_data("\\MAILSLOT\\BROWSE")
      assert.are.equal(576 - 14 - 34 - 34 - 69 - 17, udp)   -- 408
      local pkt = nbt.encode_datagram{
        type = 0x11, source_ip = "1.1.1.1", source_name = "a", dest_name = "b",
        mailslot = "\\MAILSLOT\\BROWSE", data = ("d"):rep(udp),
      }
      assert.are.equal(nbt.MAX_DATAGRAM, #pkt)
    end)

    it("encodes a 424-byte write, which SMB stays within 512 when padded", function()
      local pkt = nbt.encode_datagram{
        type = 0x11, source_ip = "1.1.1.1", source_name = "a", dest_name = "b",
        mailslot = "\\MAILSLOT\\BROWSE", data = ("d"):rep(424), pad = true,
      }
      assert.are.equal(512, #pkt - SMB)
      assert.are.equal(424, #assert(nbt.decode_datagram(pkt)).data)
    end)

    it("raises for a name that is not a mailslot name", function()
      assert_raises("\\MAILSLOT\\name expected", function() nbt.max_data("\\PIPE\\X") end)
      assert.has_error(function() nbt.max_data() end)
    end)

    it("refuses data that cannot fit the 16-bit SMB fields", function()
      assert.has_error(function()
        nbt.encode_datagram{
          type = 0x11, source_ip = "1.1.1.1", source_name = "a", dest_name = "b",
          mailslot = "\\MAILSLOT\\X", data = ("d"):rep(65536),
        }
      end, "cannot encode datagram: too large")
    end)
  end)

  describe("name query", function()
    it("encodes a broadcast NAME QUERY REQUEST", function()
      assert.are.equal(hex(NAME_QUERY_WG_1D), hex(nbt.encode_name_query{ id = 0x1234, name = "wg", suffix = 0x1D }))
    end)

    it("clears the B flag for a unicast query", function()
      local q = nbt.encode_name_query{ id = 0x1234, name = "WG", suffix = 0x1D, broadcast = false }
      assert.are.equal(hex(poke(NAME_QUERY_WG_1D, 2, "\x01\x00")), hex(q))
    end)

    it("carries a scope", function()
      local q = nbt.encode_name_query{ name = "WG", suffix = 0x1D, scope = "lan" }
      assert.are.equal(12 + 33 + 5 + 4, #q)
      assert.are.equal("\3lan\0\0\32\0\1", q:sub(46))
    end)

    it("rejects unknown keys and bad values", function()
      assert_option_error("bad option bcast to 'encode_name_query' (unknown option)",
        function() nbt.encode_name_query{ name = "A", bcast = true } end)
      assert.has_error(function() nbt.encode_name_query{ name = "" } end)
      assert.has_error(function() nbt.encode_name_query{} end)
      assert.has_error(function() nbt.encode_name_query{ name = "A", id = -1 } end)
      assert.has_error(function() nbt.encode_name_query{ name = "A", broadcast = "yes" } end)
    end)

    it("decodes a positive response's addresses", function()
      local r = assert(nbt.decode_name_query_response(POSITIVE_RESPONSE))
      assert.are.same({
        id = 0x1234, flags = 0x8500, name = "WG", suffix = 0x1D, ttl = 300000,
        addresses = { "192.168.7.1", "192.168.7.2" }, nb_flags = { 0x8000, 0 },
      }, r)
    end)

    it("follows a label pointer back to the question's name", function()
      local pkt = H[[
        12 34 85 00
        00 01 00 01 00 00 00 00    # QD 1, AN 1
      ]] .. NAME_WG_1D .. H[[
        00 20 00 01                # question type, class
        C0 0C                      # answer name: pointer to offset 12
        00 20 00 01 00 00 00 3C 00 06
        60 00 0A 00 00 05          # H node, 10.0.0.5
      ]]
      local r = assert(nbt.decode_name_query_response(pkt))
      assert.are.same({ "WG", 0x1D, { "10.0.0.5" }, 60 }, { r.name, r.suffix, r.addresses, r.ttl })
      assert_invalid("bad name length byte",
        nbt.decode_name_query_response(poke(pkt, 50, "\xC0\x32")))   -- forward pointer
    end)

    it("reports a negative response apart from malformed packets", function()
      local neg = H[[12 34 85 03 00 00 00 00 00 00 00 00]]   -- RCODE 3: name error
      local t, why, kind = nbt.decode_name_query_response(neg)
      assert.are.same({ nil, "negative response", "negative" }, { t, why, kind })
    end)

    it("returns nil for malformed responses", function()
      assert_invalid("not a name query response", nbt.decode_name_query_response(NAME_QUERY_WG_1D))
      assert_invalid("not a name query response",
        nbt.decode_name_query_response(poke(POSITIVE_RESPONSE, 2, "\xAD")))       -- opcode 5
      assert_invalid("not a name query response",
        nbt.decode_name_query_response(poke(POSITIVE_RESPONSE, 6, "\x00\x00")))   -- no answer
      assert_invalid("not a name query response",
        nbt.decode_name_query_response(poke(POSITIVE_RESPONSE, 46, "\x00\x21")))  -- NBSTAT
      assert_invalid("not a name query response",
        nbt.decode_name_query_response(poke(POSITIVE_RESPONSE, 54, "\x00\x05")))  -- rdlength 5
      assert_invalid("truncated",
        nbt.decode_name_query_response(poke(POSITIVE_RESPONSE, 54, "\x00\x12")))  -- rdlength 18
      for n = 0, #POSITIVE_RESPONSE - 1 do
        assert_invalid("truncated", nbt.decode_name_query_response(POSITIVE_RESPONSE:sub(1, n)))
      end
    end)
  end)
end)
