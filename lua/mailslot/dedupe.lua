--- Duplicate suppression: remembers which (sender, sequence) pairs were seen.
--
-- Broadcast frames may arrive once per transport, so a reader sees the same
-- frame two or three times, close together. The window remembers, per sender,
-- the last `count` sequence numbers admitted, each for at most `time` seconds;
-- a repeat inside that window is refused, anything older is admitted again
-- (forgetting risks a late duplicate; refusing would risk losing a message).
--
-- Only equality of sequence numbers matters, never their order, so the wrap
-- from 0xFFFFFFFF to 0 needs no special case and out-of-order arrival is fine.
--
--     local window = dedupe.new({ count = 1024, time = 60 })
--     if window:admit(sender, seq, now) then ... end  -- first time seen
--
-- @module mailslot.dedupe

local M = {}

--- Defaults for `new`.
M.DEFAULTS = { count = 1024, time = 60, max_senders = 1024 }

local Window = {}
Window.__index = Window

-- Raised from check_opts: level 4 names the line that called new.
local function option_error(message)
  error("bad argument #1 to 'new' (" .. message .. ")", 4)
end

local function positive_integer(v, default)
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < 1 then return nil end
  return v
end

local function check_opts(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then option_error("table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if M.DEFAULTS[k] == nil then option_error("unknown option '" .. tostring(k) .. "'") end
  end
  local count = positive_integer(opts.count, M.DEFAULTS.count)
  if not count then option_error("count must be a positive integer") end
  local max_senders = positive_integer(opts.max_senders, M.DEFAULTS.max_senders)
  if not max_senders then option_error("max_senders must be a positive integer") end
  local time = opts.time
  if time == nil then
    time = M.DEFAULTS.time
  elseif type(time) ~= "number" or time ~= time or time <= 0 then
    option_error("time must be a positive number of seconds (math.huge: by count only)")
  end
  return count, time, max_senders
end

--- A new, empty window.
-- @tparam[opt] table opts
--   `count`: sequence numbers remembered per sender (default 1024; bounds memory);
--   `time`: seconds each is remembered (default 60; `math.huge` = by count only);
--   `max_senders`: senders tracked at once; the least recently heard is
--   forgotten first (default 1024)
-- @return the window
-- @raise on bad or unknown options
function M.new(opts)
  local count, time, max_senders = check_opts(opts)
  return setmetatable({
    count = count, time = time, max_senders = max_senders,
    senders = {}, nsenders = 0,
  }, Window)
end

-- Per sender: a FIFO of admitted sequence numbers with their times, oldest
-- first, and the set of numbers it holds. A number is in the FIFO at most once:
-- forgetting runs before each check, and a remembered number is refused.
local function new_sender()
  return { seen = {}, seqs = {}, times = {}, head = 1, tail = 0, last = 0 }
end

local function pop_oldest(s)
  local h = s.head
  s.seen[s.seqs[h]] = nil
  s.seqs[h], s.times[h] = nil, nil
  s.head = h + 1
end

local function forget_old(self, s, now)
  while s.head <= s.tail and
      (s.tail - s.head + 1 > self.count or now - s.times[s.head] >= self.time) do
    pop_oldest(s)
  end
end

local function forget_least_recent_sender(self)
  local victim, oldest
  for id, s in pairs(self.senders) do
    if oldest == nil or s.last < oldest then victim, oldest = id, s.last end
  end
  self.senders[victim] = nil
  self.nsenders = self.nsenders - 1
end

local function sender_state(self, id)
  local s = self.senders[id]
  if s == nil then
    if self.nsenders >= self.max_senders then forget_least_recent_sender(self) end
    s = new_sender()
    self.senders[id] = s
    self.nsenders = self.nsenders + 1
  end
  return s
end

--- Admit a frame unless it repeats one seen within the window.
-- @param sender the sender's id (any value usable as a table key)
-- @tparam integer seq the frame's sequence number
-- @tparam number now the current time in seconds (any clock, used consistently)
-- @treturn boolean true when new (and now remembered), false for a repeat
function Window:admit(sender, seq, now)
  local s = sender_state(self, sender)
  s.last = now
  forget_old(self, s, now)
  if s.seen[seq] then return false end
  local t = s.tail + 1
  s.tail = t
  s.seqs[t], s.times[t], s.seen[seq] = seq, now, true
  forget_old(self, s, now)
  return true
end

--- How many senders are tracked now.
-- @treturn integer
function Window:senders_tracked()
  return self.nsenders
end

return M
