--- The reading side of `mailslot.frame`: checks each frame, drops repeats,
-- and puts fragmented messages back together, within bounded memory.
--
--     local r = require("mailslot.reassembler").new({ timeout = 10 })
--     local message, err, code = r:push(datagram, now)
--     if message then handle(message)            -- complete (may be "")
--     elseif err then log(err, code) end         -- "invalid" or "too_big"
--     -- nil and no error: a fragment was kept, or a repeat was dropped
--
-- Order of checks for every frame: parse and CRC (malformed frames are
-- refused before they are remembered, so a corrupted copy never hides the
-- good one), then duplicates, then reassembly.
--
-- Time is whatever the caller says it is: pass `now` to `push`, or a `clock`
-- function in the options (default `os.time`). A monotonic clock is best.
--
-- @module mailslot.reassembler

local frame = require "mailslot.frame"
local dedupe = require "mailslot.dedupe"

local M = {}

--- What one held fragment costs against `max_bytes` besides its payload:
-- its table slot and bookkeeping, so that empty fragments are not free.
M.FRAGMENT_OVERHEAD = 64

--- Defaults for `new`.
M.DEFAULTS = {
  max_bytes = 1024 * 1024, -- bytes held for incomplete messages (payload + FRAGMENT_OVERHEAD each)
  max_messages = 64,       -- incomplete messages held at once
  timeout = 30,            -- seconds an incomplete message waits for the rest
  window = dedupe.DEFAULTS.count,
  window_time = dedupe.DEFAULTS.time,
  max_senders = dedupe.DEFAULTS.max_senders,
  require_crc = false,     -- refuse frames that carry no CRC
  clock = os.time,
}

local Reassembler = {}
Reassembler.__index = Reassembler

local function option_error(message)
  -- Raised from merged_options: level 4 names the line that called new.
  error("bad argument #1 to 'new' (" .. message .. ")", 4)
end

local function is_positive(v, integer)
  if integer then return math.type(v) == "integer" and v >= 1 end
  return type(v) == "number" and v == v and v > 0
end

local function merged_options(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    option_error("table expected, got " .. type(opts))
  end
  local o = {}
  for k, v in pairs(M.DEFAULTS) do o[k] = v end
  for k, v in pairs(opts) do
    if M.DEFAULTS[k] == nil then
      option_error("unknown option '" .. tostring(k) .. "'")
    end
    o[k] = v
  end
  if not is_positive(o.max_bytes, true) then option_error("max_bytes must be a positive integer") end
  if not is_positive(o.max_messages, true) then option_error("max_messages must be a positive integer") end
  if not is_positive(o.timeout, false) then option_error("timeout must be a positive number") end
  if type(o.require_crc) ~= "boolean" then option_error("require_crc must be a boolean") end
  if type(o.clock) ~= "function" then option_error("clock must be a function") end
  return o
end

--- A new reassembler.
-- @tparam[opt] table opts
--   `max_bytes` (bytes held for incomplete messages, default 1 MiB; each
--   fragment costs its payload plus `FRAGMENT_OVERHEAD`),
--   `max_messages` (incomplete messages held, default 64),
--   `timeout` (seconds from a message's first fragment until it expires, default 30),
--   `window`, `window_time`, `max_senders` (duplicate window: see
--   `mailslot.dedupe.new`'s `count`, `time`, `max_senders`; the window also
--   keeps at most `max_bytes` / `dedupe.ENTRY_COST` sequence numbers in all,
--   so it holds about as much memory as the fragments at most),
--   `require_crc` (refuse frames without a CRC, default false),
--   `clock` (function returning seconds, used when `push` gets no `now`;
--   default `os.time`)
-- @return the reassembler
-- @raise on bad or unknown options
function M.new(opts)
  local o = merged_options(opts)
  local self = setmetatable({
    max_bytes = o.max_bytes, max_messages = o.max_messages, timeout = o.timeout,
    require_crc = o.require_crc, clock = o.clock,
    -- The duplicate window gets a budget of its own as large as max_bytes.
    window = dedupe.new({ count = o.window, time = o.window_time, max_senders = o.max_senders,
                          max_entries = math.max(o.window, o.max_bytes // dedupe.ENTRY_COST) }),
    pending = {}, -- key -> incomplete message
    order = {},   -- incomplete messages, oldest first
    bytes = 0,
    counters = { delivered = 0, duplicates = 0, expired = 0, malformed = 0, evicted = 0, oversized = 0 },
  }, Reassembler)
  return self
end

local function message_key(f)
  return string.pack("<I4I4", f.sender, f.message_id)
end

-- Forget one incomplete message and the memory it holds.
local function drop(self, msg)
  self.pending[msg.key] = nil
  self.bytes = self.bytes - msg.bytes
  for i, m in ipairs(self.order) do
    if m == msg then table.remove(self.order, i) break end
  end
end

--- Drop incomplete messages whose first fragment came `timeout` or more
-- seconds ago. `push` calls this itself; call it from a timer to free memory
-- when no frames arrive.
-- @tparam[opt] number now the current time (default: the clock option)
-- @treturn integer how many messages expired
function Reassembler:expire(now)
  now = now or self.clock()
  local n = 0
  -- `order` is by arrival of the first fragment, so the oldest come first.
  while self.order[1] and now - self.order[1].first >= self.timeout do
    drop(self, self.order[1])
    n = n + 1
  end
  self.counters.expired = self.counters.expired + n
  return n
end

-- Make room for `need` more bytes (and a new message when `new_message`),
-- evicting the oldest incomplete messages other than `keep`.
local function make_room(self, need, new_message, keep)
  local i = 1
  while self.bytes + need > self.max_bytes
      or (new_message and #self.order >= self.max_messages) do
    local victim = self.order[i]
    if victim == nil then return false end
    if victim == keep then
      i = i + 1
    else
      drop(self, victim)
      self.counters.evicted = self.counters.evicted + 1
    end
  end
  return true
end

local function oversized(self, f, msg, why)
  if msg then drop(self, msg) end
  self.counters.oversized = self.counters.oversized + 1
  return nil, string.format("mailslot.frame: message %d from sender %d %s (max_bytes is %d)",
    f.message_id, f.sender, why, self.max_bytes), "too_big"
end

local function malformed(self, message)
  self.counters.malformed = self.counters.malformed + 1
  return nil, "mailslot.frame: " .. message, "invalid"
end

local function complete(self, msg)
  drop(self, msg)
  self.counters.delivered = self.counters.delivered + 1
  return table.concat(msg.parts, "", 1, msg.count)
end

-- Store one fragment of a multi-frame message; return the message when it
-- is the last one missing.
local function add_fragment(self, f, now)
  local key = message_key(f)
  local msg = self.pending[key]
  if msg and msg.count ~= f.count then
    return malformed(self, string.format("fragment says message %d has %d parts, earlier ones said %d",
      f.message_id, f.count, msg.count))
  end
  if msg and msg.parts[f.index] then
    -- Same fragment under a new sequence number: a resend, not news.
    self.counters.duplicates = self.counters.duplicates + 1
    return nil
  end
  -- Every fragment but the last is full, so this one shows a lower bound
  -- on the whole message: refuse early what could never fit.
  local cost = #f.payload + M.FRAGMENT_OVERHEAD
  if f.index < f.count and (f.count - 1) * cost > self.max_bytes then
    return oversized(self, f, msg, "needs more than " .. (f.count - 1) * cost .. " bytes")
  end
  if not make_room(self, cost, msg == nil, msg) then
    return oversized(self, f, msg, "does not fit")
  end
  if msg == nil then
    msg = { key = key, count = f.count, parts = {}, received = 0, bytes = 0, first = now }
    self.pending[key] = msg
    self.order[#self.order + 1] = msg
  end
  msg.parts[f.index] = f.payload
  msg.received = msg.received + 1
  msg.bytes = msg.bytes + cost
  self.bytes = self.bytes + cost
  if msg.received == msg.count then return complete(self, msg) end
  return nil
end

--- Feed one datagram.
-- @tparam string bytes the datagram as received (untrusted)
-- @tparam[opt] number now the current time (default: the clock option)
-- @treturn string a complete message, when this frame completed one
-- @treturn[2] nil when the frame was kept (message incomplete) or was a repeat
-- @treturn[3] nil
-- @treturn[3] string what was wrong
-- @treturn[3] string `"invalid"` (malformed frame, CRC mismatch, missing CRC
--   when required, inconsistent fragment) or `"too_big"` (the message can
--   never fit in `max_bytes`)
-- @raise only on misuse: `bytes` not a string, `now` not a number
function Reassembler:push(bytes, now)
  if type(bytes) ~= "string" then
    error("bad argument #1 to 'push' (string expected, got " .. type(bytes) .. ")", 2)
  end
  if now == nil then now = self.clock() end
  if type(now) ~= "number" then
    error("bad argument #2 to 'push' (number expected, got " .. type(now) .. ")", 2)
  end
  self:expire(now)
  local f, err = frame.decode(bytes)
  if not f then
    self.counters.malformed = self.counters.malformed + 1
    return nil, err, "invalid"
  end
  if self.require_crc and not f.crc then return malformed(self, "frame carries no CRC") end
  if not self.window:admit(f.sender, f.sequence, now) then
    self.counters.duplicates = self.counters.duplicates + 1
    return nil
  end
  if f.count == 1 then
    -- A whole message in one frame needs no buffer.
    self.counters.delivered = self.counters.delivered + 1
    return f.payload
  end
  return add_fragment(self, f, now)
end

--- Counters and current memory use.
-- @treturn table a copy: `delivered`, `duplicates` (repeated frames and
--   resent fragments), `expired`, `malformed`, `evicted` (incomplete messages
--   dropped to make room), `oversized` (messages refused as larger than
--   `max_bytes`), `pending` (incomplete messages held), `bytes` (bytes held,
--   as counted against `max_bytes`), `window_entries` (sequence numbers the
--   duplicate window holds), `window_evicted` (sequence numbers it forgot
--   early to stay within its bounds: see `mailslot.dedupe`'s `stats`)
function Reassembler:stats()
  local s = {}
  for k, v in pairs(self.counters) do s[k] = v end
  s.pending = #self.order
  s.bytes = self.bytes
  local w = self.window:stats()
  s.window_entries, s.window_evicted = w.entries, w.evicted_entries
  return s
end

return M
