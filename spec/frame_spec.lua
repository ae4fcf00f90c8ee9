-- mailslot.frame and mailslot.reassembler: messages split into datagrams and
-- put back together, with duplicate suppression, expiry and bounded memory.
local frame = require "mailslot.frame"
local crc32 = require "mailslot.crc32"

-- A payload whose every byte depends on its position, so a fragment in the
-- wrong place cannot go unnoticed.
local function payload_of(n)
  local t = {}
  for i = 1, n do t[i] = string.char((i * 7 + i // 256) % 256) end
  return table.concat(t)
end

local function reversed(list)
  local out = {}
  for i = #list, 1, -1 do out[#out + 1] = list[i] end
  return out
end

-- Push frames in order; return the messages delivered.
local function feed(r, frames, now)
  local got = {}
  for _, f in ipairs(frames) do
    local m, err = r:push(f, now or 0)
    assert.is_nil(err)
    if m then got[#got + 1] = m end
  end
  return got
end

local function flip_byte(s, pos)
  return s:sub(1, pos - 1) .. string.char(s:byte(pos) ~ 0x5A) .. s:sub(pos + 1)
end

describe("mailslot.frame", function()
  describe("layout", function()
    it("is a 24-byte little-endian header, the payload, then an optional CRC-32", function()
      local bytes = frame.encode({
        sender = 0x04030201, sequence = 0x08070605, message_id = 0x0C0B0A09,
        index = 2, count = 3, payload = "hi",
      })
      assert.are.equal(
        "LM" .. "\1" .. "\0" .. "\1\2\3\4" .. "\5\6\7\8" .. "\9\10\11\12" ..
        "\2\0" .. "\3\0" .. "\2\0\0\0" .. "hi", bytes)
      assert.are.equal(frame.HEADER_SIZE + 2, #bytes)
    end)

    it("sets flag bit 0 and appends the CRC of everything before it", function()
      local bytes = frame.encode({
        sender = 1, sequence = 2, message_id = 2, index = 1, count = 1, payload = "x", crc = true,
      })
      assert.are.equal(1, bytes:byte(4))
      assert.are.equal(frame.HEADER_SIZE + 1 + frame.CRC_SIZE, #bytes)
      local body = bytes:sub(1, -5)
      assert.are.equal(crc32.sum(body), string.unpack("<I4", bytes, #bytes - 3))
    end)

    it("decodes what it encodes", function()
      for _, crc in ipairs({ false, true }) do
        local f = frame.decode(frame.encode({
          sender = 0xFFFFFFFF, sequence = 0, message_id = 77, index = 65535, count = 65535,
          payload = "a\0b", crc = crc,
        }))
        assert.are.same({
          sender = 0xFFFFFFFF, sequence = 0, message_id = 77, index = 65535, count = 65535,
          payload = "a\0b", crc = crc,
        }, f)
      end
    end)

    it("refuses to encode fields out of range", function()
      local ok = { sender = 1, sequence = 1, message_id = 1, index = 1, count = 1, payload = "" }
      local function with(k, v)
        local t = {}
        for key, val in pairs(ok) do t[key] = val end
        t[k] = v
        return t
      end
      assert.has_error(function() frame.encode(with("sender", 2 ^ 32 // 1)) end,
        "bad argument #1 to 'encode' (sender must be an integer 0..0xFFFFFFFF)")
      assert.has_error(function() frame.encode(with("sequence", -1)) end)
      assert.has_error(function() frame.encode(with("message_id", 1.0)) end)
      assert.has_error(function() frame.encode(with("count", 0)) end,
        "bad argument #1 to 'encode' (count must be an integer 1..65535)")
      assert.has_error(function() frame.encode(with("index", 2)) end,
        "bad argument #1 to 'encode' (index must be an integer 1..count)")
      assert.has_error(function() frame.encode(with("payload", 5)) end,
        "bad argument #1 to 'encode' (payload must be a string)")
      assert.has_error(function() frame.encode("frame") end)
    end)
  end)

  describe("decode of malformed frames returns nil, message, \"invalid\" and never raises", function()
    local good = frame.encode({
      sender = 9, sequence = 1, message_id = 1, index = 1, count = 2, payload = "payload", crc = true,
    })

    local function assert_invalid(bytes, pattern)
      local f, err, code = frame.decode(bytes)
      assert.is_nil(f)
      assert.are.equal("invalid", code)
      if pattern then assert.matches(pattern, err) end
    end

    it("rejects every truncation and any padding", function()
      for len = 0, #good - 1 do assert_invalid(good:sub(1, len)) end
      assert_invalid("", "shorter than the 24%-byte header")
      assert_invalid(good .. "\0", "frame is 36 bytes, its header says 35")
    end)

    it("rejects a wrong magic, version or unknown flags", function()
      assert_invalid("XX" .. good:sub(3), "bad magic")
      assert_invalid("LM\2" .. good:sub(4), "unsupported frame version 2 %(expected 1%)")
      assert_invalid("LM\1\3" .. good:sub(5), "unknown flags 0x03")
    end)

    it("rejects fragment indexes out of range", function()
      local function with_place(index, count)
        return good:sub(1, 16) .. string.pack("<I2I2", index, count) .. good:sub(21)
      end
      assert_invalid(with_place(0, 2), "fragment 0 of 2 is out of range")
      assert_invalid(with_place(3, 2), "fragment 3 of 2 is out of range")
      assert_invalid(with_place(1, 0), "fragment 1 of 0 is out of range")
    end)

    it("detects a CRC mismatch wherever the damage is", function()
      for pos = 1, #good do
        local f = frame.decode(flip_byte(good, pos))
        assert.is_nil(f, "damage at byte " .. pos .. " went unnoticed")
      end
      assert_invalid(flip_byte(good, 30), "CRC mismatch %(frame says 0x%x+, bytes give 0x%x+%)")
    end)

    it("raises only when not given a string", function()
      assert.has_error(function() frame.decode(nil) end,
        "bad argument #1 to 'decode' (string expected, got nil)")
    end)
  end)

  describe("split(payload, opts)", function()
    it("puts a small message in one frame", function()
      local frames, next_seq = frame.split("hello", { sender = 5, sequence = 10 })
      assert.are.equal(1, #frames)
      assert.are.equal(11, next_seq)
      local f = frame.decode(frames[1])
      assert.are.same({ sender = 5, sequence = 10, message_id = 10, index = 1, count = 1,
        crc = false, payload = "hello" }, f)
    end)

    it("sends an empty message as one empty frame", function()
      local frames = frame.split("")
      assert.are.equal(1, #frames)
      assert.are.equal(frame.HEADER_SIZE, #frames[1])
    end)

    it("keeps every frame within 424 bytes for broadcast, with or without CRC", function()
      assert.are.equal(424, frame.BROADCAST_MAX)
      for _, crc in ipairs({ false, true }) do
        local room = frame.capacity(424, crc)
        for _, n in ipairs({ 0, 1, room - 1, room, room + 1, 2 * room, 2 * room + 1, 10000, 65536 }) do
          local frames = frame.split(payload_of(n), { max_size = 424, crc = crc })
          assert.are.equal(math.max(1, math.ceil(n / room)), #frames)
          for _, f in ipairs(frames) do assert.is_true(#f <= 424, #f .. " bytes") end
        end
      end
    end)

    it("defaults to the broadcast limit", function()
      local frames = frame.split(payload_of(5000))
      for _, f in ipairs(frames) do assert.is_true(#f <= frame.BROADCAST_MAX) end
    end)

    it("uses a larger limit when the transport allows it (a local reader's max_size)", function()
      local frames = frame.split(payload_of(5000), { max_size = 65535 })
      assert.are.equal(1, #frames)
    end)

    it("numbers frames consecutively, wrapping after 0xFFFFFFFF", function()
      local frames, next_seq = frame.split(payload_of(1000), { max_size = 424, sequence = 0xFFFFFFFE })
      local seqs = {}
      for i, f in ipairs(frames) do
        local h = frame.decode(f)
        seqs[i] = h.sequence
        assert.are.equal(0xFFFFFFFE, h.message_id)
        assert.are.equal(i, h.index)
        assert.are.equal(#frames, h.count)
      end
      assert.are.same({ 0xFFFFFFFE, 0xFFFFFFFF, 0 }, seqs)
      assert.are.equal(1, next_seq)
    end)

    it("returns nil, message, \"too_big\" past 65535 fragments", function()
      local room = frame.capacity(25)
      local frames, err, code = frame.split(string.rep("x", room * 65535 + 1), { max_size = 25 })
      assert.is_nil(frames)
      assert.are.equal("too_big", code)
      assert.matches("needs 65536 frames", err)
      assert.are.equal(65535, #frame.split(string.rep("x", room * 65535), { max_size = 25 }))
    end)

    it("checks its arguments strictly", function()
      assert.has_error(function() frame.split(nil) end,
        "bad argument #1 to 'split' (string expected, got nil)")
      assert.has_error(function() frame.split("x", { size = 100 }) end,
        "bad argument #2 to 'split' (unknown option 'size')")
      assert.has_error(function() frame.split("x", { max_size = 24 }) end,
        "bad argument #2 to 'split' (max_size must be an integer >= 25)")
      assert.has_error(function() frame.split("x", { max_size = 28, crc = true }) end,
        "bad argument #2 to 'split' (max_size must be an integer >= 29)")
      assert.has_error(function() frame.split("x", { crc = 1 }) end,
        "bad argument #2 to 'split' (crc must be a boolean)")
      assert.has_error(function() frame.split("x", { sender = -1 }) end,
        "bad argument #2 to 'split' (sender must be an integer 0..0xFFFFFFFF)")
    end)
  end)

  describe("sender(opts)", function()
    it("keeps its id and advances its sequence across messages", function()
      local s = frame.sender({ sender = 3, sequence = 100, max_size = 100 })
      local first = s:split(payload_of(200))
      local second = s:split("x")
      assert.are.equal(3, #first)
      assert.are.equal(103, frame.decode(second[1]).sequence)
      assert.are.equal(103, frame.decode(second[1]).message_id)
      assert.are.equal(3, frame.decode(second[1]).sender)
      assert.are.equal(104, s.sequence)
    end)

    it("picks a random id and first sequence when not given", function()
      local a, b = frame.sender(), frame.sender()
      assert.is_true(a.id ~= b.id or a.sequence ~= b.sequence)
    end)

    it("takes a limit for one message, e.g. when it is broadcast", function()
      local s = frame.sender({ max_size = 65535, crc = true })
      assert.are.equal(1, #s:split(payload_of(5000)))
      for _, f in ipairs(s:split(payload_of(5000), frame.BROADCAST_MAX)) do
        assert.is_true(#f <= frame.BROADCAST_MAX)
      end
      assert.has_error(function() s:split("x", 28) end,
        "bad argument #2 to 'split' (max_size must be an integer >= 29)")
      assert.has_error(function() frame.sender({ message_id = 1 }) end,
        "bad argument #1 to 'sender' (unknown option 'message_id')")
    end)
  end)
end)

describe("mailslot.reassembler (frame.reassembler)", function()
  local big = payload_of(3000)

  it("passes a one-frame message straight through", function()
    local r = frame.reassembler()
    assert.are.equal("hello", r:push(frame.split("hello")[1], 0))
    assert.are.equal("", r:push(frame.split("", { sequence = 1 })[1], 0))
    assert.are.equal(2, r:stats().delivered)
  end)

  it("reassembles fragments in order", function()
    local r = frame.reassembler()
    local frames = frame.split(big, { max_size = 424 })
    assert.is_true(#frames > 5)
    for i = 1, #frames - 1 do assert.is_nil(r:push(frames[i], 0)) end
    assert.are.equal(big, r:push(frames[#frames], 0))
    assert.are.same({ delivered = 1, duplicates = 0, expired = 0, malformed = 0,
      evicted = 0, oversized = 0, pending = 0, bytes = 0, window_entries = #frames, window_evicted = 0 }, r:stats())
  end)

  it("reassembles fragments out of order", function()
    local frames = frame.split(big, { max_size = 200, crc = true })
    assert.are.same({ big }, feed(frame.reassembler(), reversed(frames)))
    -- A fixed shuffle: middle first, then the ends.
    local order, shuffled = { 8, 1, 15, 3, 18, 12, 5, 10, 2, 14, 4, 6, 17, 9, 11, 7, 13, 16 }, {}
    assert.are.equal(#order, #frames)
    for i, k in ipairs(order) do shuffled[i] = frames[k] end
    assert.are.same({ big }, feed(frame.reassembler(), shuffled))
  end)

  it("keeps interleaved messages and senders apart", function()
    local a = frame.split(payload_of(1000), { sender = 1, sequence = 50 })
    local b = frame.split(payload_of(900), { sender = 2, sequence = 50 })  -- same message id
    local c = frame.split(payload_of(800), { sender = 1, sequence = 60 })
    local mixed = {}
    for i = 1, 3 do
      mixed[#mixed + 1] = a[i]
      mixed[#mixed + 1] = b[i]
      mixed[#mixed + 1] = c[i]
    end
    local got = feed(frame.reassembler(), mixed)
    table.sort(got, function(x, y) return #x > #y end)
    assert.are.same({ payload_of(1000), payload_of(900), payload_of(800) }, got)
  end)

  describe("duplicates", function()
    it("delivers a broadcast that arrives once per transport only once", function()
      local r = frame.reassembler()
      local frames = frame.split(big, { sender = 4, sequence = 1 })
      local doubled = {}
      for _, f in ipairs(frames) do
        doubled[#doubled + 1] = f
        doubled[#doubled + 1] = f
      end
      for _, f in ipairs(frames) do doubled[#doubled + 1] = f end -- a late third copy
      assert.are.same({ big }, feed(r, doubled))
      assert.are.equal(2 * #frames, r:stats().duplicates)
    end)

    it("drops a repeated one-frame message", function()
      local r = frame.reassembler()
      local f = frame.split("once", { sequence = 7 })[1]
      assert.are.equal("once", r:push(f, 0))
      local m, err = r:push(f, 1)
      assert.is_nil(m)
      assert.is_nil(err)
      assert.are.equal(1, r:stats().duplicates)
    end)

    it("counts a fragment resent under a new sequence number as a duplicate", function()
      local r = frame.reassembler()
      local first = frame.split(big, { sequence = 0, max_size = 1024 })
      local resent = frame.split(big, { sequence = 100, message_id = 0, max_size = 1024 })
      assert.is_nil(r:push(first[1], 0))
      assert.is_nil(r:push(resent[1], 0))
      assert.are.equal(1, r:stats().duplicates)
      assert.are.same({ big }, feed(r, { first[2], first[3] }))
    end)

    it("delivers again a repeat older than the window's count", function()
      local r = frame.reassembler({ window = 3 })
      local s = frame.sender({ sender = 1, sequence = 0 })
      local old = s:split("old")[1]
      assert.are.equal("old", r:push(old, 0))
      for i = 1, 3 do assert.are.equal("m" .. i, r:push(s:split("m" .. i)[1], 0)) end
      assert.are.equal("old", r:push(old, 0))
    end)

    it("delivers again a repeat older than the window's time", function()
      local r = frame.reassembler({ window_time = 5 })
      local f = frame.split("tick", { sequence = 1 })[1]
      assert.are.equal("tick", r:push(f, 0))
      assert.is_nil(r:push(f, 4.9))
      assert.are.equal("tick", r:push(f, 5))
    end)

    it("handles the sequence wrap-around", function()
      local r = frame.reassembler()
      local s = frame.sender({ sender = 1, sequence = 0xFFFFFFFE, max_size = 100 })
      local frames = s:split(payload_of(300))  -- 4 frames: ...FE, ...FF, 0, 1
      assert.are.equal(1, frame.decode(frames[4]).sequence)
      local twice = {}
      for _, f in ipairs(frames) do twice[#twice + 1] = f end
      for _, f in ipairs(frames) do twice[#twice + 1] = f end
      assert.are.same({ payload_of(300) }, feed(r, twice))
      assert.are.equal("after", r:push(s:split("after")[1], 0))
    end)
  end)

  describe("loss and expiry", function()
    it("expires a message missing a fragment after `timeout` seconds", function()
      local r = frame.reassembler({ timeout = 10 })
      local frames = frame.split(big, { sequence = 1 })
      table.remove(frames, 3)
      assert.are.same({}, feed(r, frames, 100))
      assert.are.equal(1, r:stats().pending)
      assert.is_true(r:stats().bytes > 0)
      assert.are.equal(0, r:expire(109.9))
      assert.are.equal(1, r:expire(110))
      assert.are.same({ delivered = 0, duplicates = 0, expired = 1, malformed = 0,
        evicted = 0, oversized = 0, pending = 0, bytes = 0, window_entries = #frames, window_evicted = 0 }, r:stats())
    end)

    it("expires old messages on push too, and the late fragment starts afresh", function()
      local r = frame.reassembler({ timeout = 10 })
      local frames = frame.split(big, { sequence = 1 })
      assert.is_nil(r:push(frames[1], 0))
      assert.is_nil(r:push(frames[2], 20))
      local st = r:stats()
      assert.are.equal(1, st.expired)
      assert.are.equal(1, st.pending)
    end)

    it("uses the clock option when push gets no time", function()
      local t = 0
      local r = frame.reassembler({ timeout = 1, clock = function() return t end })
      local frames = frame.split(big)
      assert.is_nil(r:push(frames[1]))
      t = 2
      assert.are.equal(1, r:expire())
    end)
  end)

  describe("bounded memory", function()
    it("evicts the oldest incomplete message when max_bytes would be exceeded", function()
      -- each fragment costs its payload + 64 bytes of overhead
      local r = frame.reassembler({ max_bytes = 1200 })
      local old = frame.split(payload_of(1200), { sender = 1, max_size = 424 }) -- 3 x 400 bytes
      local new = frame.split(payload_of(1000), { sender = 2, max_size = 424 }) -- 400, 400, 200
      assert.is_nil(r:push(old[1], 0))
      assert.is_nil(r:push(old[2], 1))
      assert.is_nil(r:push(new[1], 2))   -- 3 x 464 > 1200: old goes
      assert.are.equal(1, r:stats().evicted)
      assert.are.equal(464, r:stats().bytes)
      assert.is_nil(r:push(new[2], 3))
      assert.is_true(payload_of(1000) == r:push(new[3], 3))
      assert.are.equal(0, r:stats().bytes)
    end)

    it("charges empty fragments too: they cannot fill memory for free", function()
      local r = frame.reassembler({ max_bytes = 1000 })
      local refused
      for i = 1, 1000 do
        local m, _, code = r:push(frame.encode({ sender = 7, sequence = i, message_id = 1,
          index = i, count = 65535, payload = "" }), 0)
        assert.is_nil(m)
        if code == "too_big" then refused = i break end
      end
      assert.is_not_nil(refused, "1000 empty fragments were held within max_bytes 1000")
      assert.is_true(r:stats().bytes <= 1000)
    end)

    it("counts a fragment's overhead in max_bytes", function()
      local overhead = require("mailslot.reassembler").FRAGMENT_OVERHEAD
      local r = frame.reassembler({ max_bytes = 1000 })
      local function empty(i)
        return frame.encode({ sender = 8, sequence = i, message_id = 2, index = i, count = 16, payload = "" })
      end
      for i = 1, 15 do assert.is_nil(r:push(empty(i), 0)) end
      assert.are.equal(15 * overhead, r:stats().bytes)
      local m, _, code = r:push(empty(16), 0)  -- 16 x 64 > 1000
      assert.is_nil(m)
      assert.are.equal("too_big", code)
      assert.are.equal(0, r:stats().bytes)
    end)

    it("evicts the oldest when max_messages incomplete messages are held", function()
      local r = frame.reassembler({ max_messages = 2 })
      local msgs = {}
      for i = 1, 3 do msgs[i] = frame.split(payload_of(800), { sender = i }) end
      for i = 1, 3 do assert.is_nil(r:push(msgs[i][1], i)) end
      local st = r:stats()
      assert.are.equal(1, st.evicted)
      assert.are.equal(2, st.pending)
      assert.are.same({ payload_of(800) }, feed(r, { msgs[3][2] }))
      assert.are.same({}, feed(r, { msgs[1][2] }))  -- its first fragment is gone
    end)

    it("refuses a message that could never fit, without evicting others", function()
      local r = frame.reassembler({ max_bytes = 1000 })
      local other = frame.split(payload_of(500), { sender = 1 })
      assert.is_nil(r:push(other[1], 0))
      local huge = frame.split(payload_of(5000), { sender = 2 })
      local m, err, code = r:push(huge[1], 0)
      assert.is_nil(m)
      assert.are.equal("too_big", code)
      assert.matches("max_bytes is 1000", err)
      assert.are.equal(0, r:stats().evicted)
      assert.are.equal(1, r:stats().oversized)
      assert.are.equal(payload_of(500), r:push(other[2], 0))
    end)
  end)

  describe("malformed frames", function()
    it("are refused with \"invalid\", counted, and never raise", function()
      local r = frame.reassembler()
      for _, bad in ipairs({ "", "LM", string.rep("\0", 24), "not a frame at all, no no no" }) do
        local m, err, code = r:push(bad, 0)
        assert.is_nil(m)
        assert.is_string(err)
        assert.are.equal("invalid", code)
      end
      assert.are.equal(4, r:stats().malformed)
    end)

    it("do not hide the good copy of the same frame", function()
      local r = frame.reassembler()
      local f = frame.split("precious", { crc = true })[1]
      local _, _, code = r:push(flip_byte(f, #f - 6), 0)
      assert.are.equal("invalid", code)
      assert.are.equal("precious", r:push(f, 0))
    end)

    it("include a fragment disagreeing about the fragment count", function()
      local r = frame.reassembler()
      local frames = frame.split(big, { sequence = 0 })
      assert.is_nil(r:push(frames[1], 0))
      local liar = frame.encode({ sender = 0, sequence = 99, message_id = 0, index = 2, count = 3,
        payload = "x" })
      local _, err, code = r:push(liar, 0)
      assert.are.equal("invalid", code)
      assert.matches("has 3 parts, earlier ones said %d+", err)
      assert.are.same({ big }, feed(r, { table.unpack(frames, 2) }))
    end)

    it("include frames without a CRC when require_crc is set", function()
      local r = frame.reassembler({ require_crc = true })
      local _, err, code = r:push(frame.split("plain")[1], 0)
      assert.are.equal("invalid", code)
      assert.matches("no CRC", err)
      assert.are.equal("checked", r:push(frame.split("checked", { crc = true, sequence = 1 })[1], 0))
    end)

    it("never make push raise, whatever the bytes", function()
      math.randomseed(424)
      local r = frame.reassembler()
      local frames = frame.split(big, { crc = true })
      for _ = 1, 2000 do
        local f = frames[math.random(#frames)]
        local bytes = { f:byte(1, -1) }
        for _ = 1, math.random(1, 3) do
          local at = math.random(#bytes)
          bytes[at] = bytes[at] ~ math.random(1, 255) -- always a change
        end
        local ok, m, _, code = pcall(r.push, r, string.char(table.unpack(bytes)), 0)
        assert.is_true(ok, tostring(m))
        assert.is_nil(m)
        assert.are.equal("invalid", code)
      end
      assert.are.equal(2000, r:stats().malformed)
    end)

    it("never make push raise on random bytes or damaged frames without CRC", function()
      math.randomseed(2024)
      local r = frame.reassembler()
      local frames = frame.split(big, { max_size = 300 })
      for _ = 1, 2000 do
        local bytes = { frames[math.random(#frames)]:byte(1, -1) }
        for _ = 1, math.random(1, 3) do bytes[math.random(#bytes)] = math.random(0, 255) end
        local cut = math.random(0, #bytes)
        local noise = {}
        for i = 1, math.random(0, 40) do noise[i] = math.random(0, 255) end
        assert.is_true((pcall(r.push, r, string.char(table.unpack(bytes, 1, cut)), 0)))
        assert.is_true((pcall(r.push, r, string.char(table.unpack(noise)), 0)))
      end
    end)
  end)

  it("raises on misuse, naming the argument", function()
    local r = frame.reassembler()
    assert.has_error(function() r:push(nil, 0) end, "bad argument #1 to 'push' (string expected, got nil)")
    assert.has_error(function() r:push("x", "now") end, "bad argument #2 to 'push' (number expected, got string)")
    assert.has_error(function() frame.reassembler({ max_byte = 1 }) end,
      "bad argument #1 to 'new' (unknown option 'max_byte')")
    assert.has_error(function() frame.reassembler({ timeout = 0 }) end,
      "bad argument #1 to 'new' (timeout must be a positive number)")
    assert.has_error(function() frame.reassembler({ max_messages = 0 }) end,
      "bad argument #1 to 'new' (max_messages must be a positive integer)")
    assert.has_error(function() frame.reassembler({ window = 0 }) end)
    assert.has_error(function() frame.reassembler({ clock = 5 }) end,
      "bad argument #1 to 'new' (clock must be a function)")
  end)
end)
