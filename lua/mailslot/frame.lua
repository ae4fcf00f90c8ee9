--- Frames: how one message travels as one or more datagrams.
--
-- A message larger than the transport allows (the reader's `max_size`
-- locally, `BROADCAST_MAX` = 424 bytes for broadcast names) is split into
-- fragments; each frame carries who sent it, a per-frame sequence number for
-- duplicate suppression, the message id and the fragment's place. The
-- reader puts them back together with `frame.reassembler` (see
-- `mailslot.reassembler`).
--
--     local frame = require "mailslot.frame"
--     local out = frame.sender({ max_size = frame.BROADCAST_MAX, crc = true })
--     for _, f in ipairs(out:split(payload)) do writer:write(f) end
--     ...
--     local r = frame.reassembler()
--     local message = r:push(datagram)     -- nil until a message is complete
--
-- Layout (integers little-endian, `HEADER_SIZE` = 24 bytes, then the payload,
-- then the CRC when flag bit 0 is set):
--
--     offset size field
--          0    2 magic "LM"
--          2    1 version (1)
--          3    1 flags: bit 0 = CRC-32 follows the payload; others must be 0
--          4    4 sender id
--          8    4 sequence number of this frame (wraps 0xFFFFFFFF -> 0)
--         12    4 message id (the sequence number of its first frame, by default)
--         16    2 fragment index, 1 .. count
--         18    2 fragment count, 1 .. 65535
--         20    4 payload length n
--         24    n payload bytes
--       24+n    4 CRC-32 (IEEE) of bytes 0 .. 23+n, when flagged
--
-- @module mailslot.frame

local crc32 = require "mailslot.crc32"

local M = {}

--- The two bytes every frame starts with.
M.MAGIC = "LM"
--- Frame format version.
M.VERSION = 1
--- Bytes before the payload.
M.HEADER_SIZE = 24
--- Bytes of the optional CRC trailer.
M.CRC_SIZE = 4
--- Largest message a broadcast (`\\*\mailslot\...`, `\\domain\...`) may carry.
M.BROADCAST_MAX = 424
--- Most fragments one message may have (the count is 16 bits).
M.MAX_FRAGMENTS = 0xFFFF

local FLAG_CRC = 0x01
local HEADER_FORMAT = "<c2BBI4I4I4I2I2I4"
local U32 = 0xFFFFFFFF

assert(string.packsize(HEADER_FORMAT) == M.HEADER_SIZE)

local function arg_error(n, fname, message, level)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. message .. ")", level + 1)
end

local function is_u32(v)
  return math.type(v) == "integer" and v >= 0 and v <= U32
end

local function check_u32(v, n, fname, field, level)
  if not is_u32(v) then
    arg_error(n, fname, field .. " must be an integer 0..0xFFFFFFFF", level + 1)
  end
end

-- -------------------------------------------------------------------------
-- One frame
-- -------------------------------------------------------------------------

--- Build one frame.
-- @tparam table f `sender`, `sequence`, `message_id` (integers 0..0xFFFFFFFF),
--   `index`, `count` (1 <= index <= count <= 65535), `payload` (string),
--   `crc` (boolean, default false)
-- @treturn string the frame's bytes
-- @raise when a field is missing or out of range
function M.encode(f)
  if type(f) ~= "table" then arg_error(1, "encode", "table expected, got " .. type(f), 2) end
  for _, field in ipairs({ "sender", "sequence", "message_id" }) do
    check_u32(f[field], 1, "encode", field, 2)
  end
  local index, count = f.index, f.count
  if math.type(count) ~= "integer" or count < 1 or count > M.MAX_FRAGMENTS then
    arg_error(1, "encode", "count must be an integer 1..65535", 2)
  end
  if math.type(index) ~= "integer" or index < 1 or index > count then
    arg_error(1, "encode", "index must be an integer 1..count", 2)
  end
  if type(f.payload) ~= "string" then arg_error(1, "encode", "payload must be a string", 2) end
  local flags = f.crc and FLAG_CRC or 0
  local bytes = string.pack(HEADER_FORMAT, M.MAGIC, M.VERSION, flags, f.sender,
    f.sequence, f.message_id, index, count, #f.payload) .. f.payload
  if f.crc then bytes = bytes .. string.pack("<I4", crc32.sum(bytes)) end
  return bytes
end

local function invalid(message)
  return nil, "mailslot.frame: " .. message, "invalid"
end

-- The header must agree with the datagram's length: a frame cut short or
-- padded is malformed, not a shorter message.
local function check_length(bytes, flags, length)
  local trailer = (flags & FLAG_CRC ~= 0) and M.CRC_SIZE or 0
  local expected = M.HEADER_SIZE + length + trailer
  if #bytes ~= expected then
    return string.format("frame is %d bytes, its header says %d", #bytes, expected)
  end
end

local function check_crc(bytes, flags)
  if flags & FLAG_CRC == 0 then return nil end
  local body_end = #bytes - M.CRC_SIZE
  local stored = string.unpack("<I4", bytes, body_end + 1)
  local actual = crc32.sum(bytes:sub(1, body_end))
  if stored ~= actual then
    return string.format("CRC mismatch (frame says 0x%08X, bytes give 0x%08X)", stored, actual)
  end
end

--- Parse and check one frame received from the wire.
--
-- Never raises on the bytes: anything malformed (short, wrong magic or
-- version, unknown flags, index out of range, length disagreeing with the
-- datagram, CRC mismatch) returns `nil, message, "invalid"`.
-- @tparam string bytes one datagram
-- @treturn table `{ sender, sequence, message_id, index, count, crc = boolean, payload }`
-- @treturn[2] nil
-- @treturn[2] string what is wrong
-- @treturn[2] string `"invalid"`
-- @raise only when `bytes` is not a string
function M.decode(bytes)
  if type(bytes) ~= "string" then
    arg_error(1, "decode", "string expected, got " .. type(bytes), 2)
  end
  if #bytes < M.HEADER_SIZE then
    return invalid(string.format("frame of %d bytes is shorter than the %d-byte header", #bytes, M.HEADER_SIZE))
  end
  local magic, version, flags, sender, sequence, message_id, index, count, length =
    string.unpack(HEADER_FORMAT, bytes)
  if magic ~= M.MAGIC then return invalid("bad magic (not a mailslot frame)") end
  if version ~= M.VERSION then
    return invalid(string.format("unsupported frame version %d (expected %d)", version, M.VERSION))
  end
  if flags & ~FLAG_CRC ~= 0 then return invalid(string.format("unknown flags 0x%02X", flags)) end
  if count < 1 or index < 1 or index > count then
    return invalid(string.format("fragment %d of %d is out of range", index, count))
  end
  local problem = check_length(bytes, flags, length) or check_crc(bytes, flags)
  if problem then return invalid(problem) end
  return {
    sender = sender, sequence = sequence, message_id = message_id,
    index = index, count = count, crc = flags & FLAG_CRC ~= 0,
    payload = bytes:sub(M.HEADER_SIZE + 1, M.HEADER_SIZE + length),
  }
end

-- -------------------------------------------------------------------------
-- Splitting a message
-- -------------------------------------------------------------------------

local SPLIT_OPTIONS = { max_size = true, sender = true, sequence = true, message_id = true, crc = true }

-- argn: which argument the options are (split's #2, sender's #1).
local function check_split_opts(opts, fname, argn)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then arg_error(argn, fname, "table expected, got " .. type(opts), 3) end
  for k in pairs(opts) do
    if not SPLIT_OPTIONS[k] then arg_error(argn, fname, "unknown option '" .. tostring(k) .. "'", 3) end
  end
  local crc = opts.crc or false
  if type(crc) ~= "boolean" then arg_error(argn, fname, "crc must be a boolean", 3) end
  local max_size = opts.max_size or M.BROADCAST_MAX
  local smallest = M.HEADER_SIZE + (crc and M.CRC_SIZE or 0) + 1
  if math.type(max_size) ~= "integer" or max_size < smallest then
    arg_error(argn, fname, "max_size must be an integer >= " .. smallest, 3)
  end
  local sender, sequence = opts.sender or 0, opts.sequence or 0
  check_u32(sender, argn, fname, "sender", 3)
  check_u32(sequence, argn, fname, "sequence", 3)
  local message_id = opts.message_id or sequence
  check_u32(message_id, argn, fname, "message_id", 3)
  return max_size, crc, sender, sequence, message_id
end

--- How many payload bytes one frame of `max_size` bytes carries.
-- @tparam integer max_size the transport's limit
-- @tparam[opt=false] boolean crc whether frames carry a CRC
-- @treturn integer
function M.capacity(max_size, crc)
  return max_size - M.HEADER_SIZE - (crc and M.CRC_SIZE or 0)
end

--- Split one message into frames no larger than `max_size` bytes.
--
-- Always at least one frame (an empty message is one frame with no payload).
-- Frame i gets sequence `(sequence + i - 1) & 0xFFFFFFFF`.
-- @tparam string payload the message
-- @tparam[opt] table opts `max_size` (default `BROADCAST_MAX`), `sender`
--   (default 0), `sequence` (first frame's, default 0), `message_id` (default
--   `sequence`), `crc` (boolean, default false)
-- @treturn {string,...} the frames, in order
-- @treturn integer the sequence number for the next message
-- @treturn[2] nil
-- @treturn[2] string why
-- @treturn[2] string `"too_big"` when more than `MAX_FRAGMENTS` frames are needed
-- @raise on a non-string payload or bad options
function M.split(payload, opts)
  if type(payload) ~= "string" then
    arg_error(1, "split", "string expected, got " .. type(payload), 2)
  end
  local max_size, crc, sender, sequence, message_id = check_split_opts(opts, "split", 2)
  local room = M.capacity(max_size, crc)
  local count = math.max(1, (#payload + room - 1) // room)
  if count > M.MAX_FRAGMENTS then
    return nil, string.format("mailslot.frame: message of %d bytes needs %d frames of %d bytes, more than %d",
      #payload, count, max_size, M.MAX_FRAGMENTS), "too_big"
  end
  local frames = {}
  for i = 1, count do
    frames[i] = M.encode({
      sender = sender, sequence = (sequence + i - 1) & U32, message_id = message_id,
      index = i, count = count, crc = crc,
      payload = payload:sub((i - 1) * room + 1, i * room),
    })
  end
  return frames, (sequence + count) & U32
end

-- -------------------------------------------------------------------------
-- A sender: split with state
-- -------------------------------------------------------------------------

local Sender = {}
Sender.__index = Sender

--- A sender keeps its id and next sequence number across messages.
--
-- Both default to random values so that two processes, or one process
-- restarted, do not reuse (sender, sequence) pairs a reader still remembers.
-- @tparam[opt] table opts `sender` (id), `sequence` (first), `max_size`
--   (default `BROADCAST_MAX`), `crc` (default false)
-- @return the sender object
-- @raise on bad options
function M.sender(opts)
  if opts ~= nil and type(opts) ~= "table" then
    arg_error(1, "sender", "table expected, got " .. type(opts), 2)
  end
  opts = opts or {}
  if opts.message_id ~= nil then arg_error(1, "sender", "unknown option 'message_id'", 2) end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.sender = o.sender or math.random(0, U32)
  o.sequence = o.sequence or math.random(0, U32)
  local max_size, crc, sender, sequence = check_split_opts(o, "sender", 1)
  return setmetatable({ id = sender, sequence = sequence, max_size = max_size, crc = crc }, Sender)
end

--- Split one message into frames, advancing the sender's sequence number.
-- @tparam string payload the message
-- @tparam[opt] integer max_size a limit for this message only (e.g.
--   `BROADCAST_MAX` when this one is broadcast)
-- @return like `split`
function Sender:split(payload, max_size)
  if type(payload) ~= "string" then
    arg_error(1, "split", "string expected, got " .. type(payload), 2)
  end
  if max_size ~= nil then
    local smallest = M.HEADER_SIZE + (self.crc and M.CRC_SIZE or 0) + 1
    if math.type(max_size) ~= "integer" or max_size < smallest then
      arg_error(2, "split", "max_size must be an integer >= " .. smallest, 2)
    end
  end
  local frames, next_seq, code = M.split(payload, {
    sender = self.id, sequence = self.sequence, max_size = max_size or self.max_size, crc = self.crc,
  })
  if frames then self.sequence = next_seq end
  return frames, next_seq, code
end

-- -------------------------------------------------------------------------

--- A new reassembler; see `mailslot.reassembler.new` for options and methods.
function M.reassembler(opts)
  -- Required late: the reassembler itself requires this module.
  return require("mailslot.reassembler").new(opts)
end

return M
