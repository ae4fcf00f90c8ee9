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
-- Bounded whatever the senders do: at most `max_senders` senders and
-- `max_entries` sequence numbers in all (about `ENTRY_COST` bytes each), and
-- each `admit` costs the same however many senders are tracked (senders sit
-- in a list by when they were last heard, so the one to forget is at hand).
-- What is forgotten early to stay in bounds is counted (`stats`).
--
--     local window = dedupe.new({ count = 1024, time = 60 })
--     if window:admit(sender, seq, now) then ... end  -- first time seen
--
-- @module mailslot.dedupe

local M = {}

--- Defaults for `new`.
M.DEFAULTS = { count = 1024, time = 60, max_senders = 1024, max_entries = 16384 }

--- What one remembered sequence number costs in memory at most, in bytes
-- (measured with Lua 5.4: its key in the sender's set and its FIFO slot,
-- both tables rounded up to a power of two). A sender costs about 430 more.
M.ENTRY_COST = 64

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
  local max_entries = positive_integer(opts.max_entries, math.max(M.DEFAULTS.max_entries, count))
  if not max_entries then option_error("max_entries must be a positive integer") end
  -- One sender's window must fit, or the sender just heard would be forgotten.
  if max_entries < count then option_error("max_entries must be at least count") end
  local time = opts.time
  if time == nil then
    time = M.DEFAULTS.time
  elseif type(time) ~= "number" or time ~= time or time <= 0 then
    option_error("time must be a positive number of seconds (math.huge: by count only)")
  end
  return count, time, max_senders, max_entries
end

--- A new, empty window.
-- @tparam[opt] table opts
--   `count`: sequence numbers remembered per sender (default 1024);
--   `time`: seconds each is remembered (default 60; `math.huge` = by count only);
--   `max_senders`: senders tracked at once (default 1024);
--   `max_entries`: sequence numbers remembered in all, at least `count`
--   (default 16384, or `count` if larger).
--   To stay within the last two, the least recently heard sender is forgotten.
-- @return the window
-- @raise on bad or unknown options
function M.new(opts)
  local count, time, max_senders, max_entries = check_opts(opts)
  -- `lru` is the sentinel of a circular list of senders from the least
  -- recently heard (lru.next: the one to forget) to the most (lru.prev).
  local lru = {}
  lru.next, lru.prev = lru, lru
  return setmetatable({
    count = count, time = time, max_senders = max_senders, max_entries = max_entries,
    senders = {}, nsenders = 0, entries = 0, lru = lru,
    evicted_senders = 0, evicted_entries = 0,
  }, Window)
end

-- Per sender: a FIFO of admitted sequence numbers, oldest first, and `seen`,
-- each number it holds -> when it was admitted. A number is in the FIFO at
-- most once: forgetting runs before each check, and a remembered number is
-- refused.
local function new_sender(id)
  return { id = id, seen = {}, seqs = {}, head = 1, tail = 0 }
end

local function unlink(s)
  s.prev.next, s.next.prev = s.next, s.prev
end

local function link_newest(self, s)
  local lru = self.lru
  s.prev, s.next = lru.prev, lru
  lru.prev.next = s
  lru.prev = s
end

-- The FIFO is a ring of `count` + 1 slots, so its table never grows past
-- them however long the sender talks: entry i lives in slot i % (count + 1).
local function slot(self, i)
  return i % (self.count + 1) + 1
end

local function pop_oldest(self, s)
  local k = slot(self, s.head)
  s.seen[s.seqs[k]] = nil
  s.seqs[k] = nil
  s.head = s.head + 1
  self.entries = self.entries - 1
end

local function forget_old(self, s, now)
  while s.head <= s.tail do
    local over = s.tail - s.head + 1 > self.count
    if not over and now - s.seen[s.seqs[slot(self, s.head)]] < self.time then break end
    if over then self.evicted_entries = self.evicted_entries + 1 end
    pop_oldest(self, s)
  end
end

-- Forget the least recently heard sender, and every number it holds.
local function forget_least_recent_sender(self)
  local victim = self.lru.next
  unlink(victim)
  self.senders[victim.id] = nil
  self.nsenders = self.nsenders - 1
  local held = victim.tail - victim.head + 1
  self.entries = self.entries - held
  self.evicted_entries = self.evicted_entries + held
  self.evicted_senders = self.evicted_senders + 1
end

local function sender_state(self, id)
  local s = self.senders[id]
  if s == nil then
    if self.nsenders >= self.max_senders then forget_least_recent_sender(self) end
    s = new_sender(id)
    self.senders[id] = s
    self.nsenders = self.nsenders + 1
  else
    unlink(s)
  end
  link_newest(self, s)
  return s
end

--- Admit a frame unless it repeats one seen within the window.
-- @param sender the sender's id (any value usable as a table key)
-- @tparam integer seq the frame's sequence number
-- @tparam number now the current time in seconds (any clock, used consistently)
-- @treturn boolean true when new (and now remembered), false for a repeat
function Window:admit(sender, seq, now)
  local s = sender_state(self, sender)
  forget_old(self, s, now)
  if s.seen[seq] then return false end
  local t = s.tail + 1
  s.tail = t
  s.seqs[slot(self, t)], s.seen[seq] = seq, now
  self.entries = self.entries + 1
  forget_old(self, s, now)
  -- Over the budget: the others go, least recently heard first. `s` is the
  -- most recent and holds at most `count` <= max_entries, so this ends.
  while self.entries > self.max_entries do forget_least_recent_sender(self) end
  return true
end

--- How many senders are tracked now.
-- @treturn integer
function Window:senders_tracked()
  return self.nsenders
end

--- Sizes and what was forgotten early.
-- @treturn table `senders` and `entries` (sequence numbers) held now;
--   `evicted_senders` (senders forgotten to stay within `max_senders` or
--   `max_entries`), `evicted_entries` (sequence numbers forgotten before
--   their `time`: pushed out by `count`, or with their sender)
function Window:stats()
  return { senders = self.nsenders, entries = self.entries, evicted_senders = self.evicted_senders,
           evicted_entries = self.evicted_entries }
end

return M
