--- The queued writer: `write` never blocks; messages go out from a task of a
-- loop, highest priority first, first in first out within a priority.
--
--     local q = mailslot.queued("app\\log", { max = 100, policy = "drop_oldest" })
--     q:write("started")                -- priority "normal"
--     q:write("disk full", "high")      -- goes before every normal message
--     q:flush(5)
--
-- A message whose write fails stays at the head of the queue; the writer
-- retries with a doubling delay (`backoff` .. `max_backoff`), reopening the
-- slot when its reader went away, so delivery resumes when a reader of that
-- name comes back. A message the slot can never carry (`too_big`), or one
-- whose slot can never be opened or written (`invalid_name`, `access`), is
-- dropped and reported instead, or it would block the queue forever.
-- The slot is opened with `mailslot.open`, so remote and broadcast names
-- (`\\server\mailslot\x`, `\\*\mailslot\x`) go over the network on POSIX;
-- finding a server by NetBIOS name query suspends only the queue's task.
--
-- Priorities: integers 0 (lowest) to 9 (highest), or `"low"` (0), `"normal"`
-- (5, the default) and `"high"` (9).
-- @module mailslot.queue

local core = require "mailslot.core"
local loop = require "mailslot.loop"

local M = {}

--- Named priorities.
M.PRIORITIES = { low = 0, normal = 5, high = 9 }

--- Defaults for `new`.
M.DEFAULTS = {
  max = 1000,          -- messages held at most
  policy = "reject",   -- when full: "reject" (the new one), "drop_oldest", "block"
  backoff = 0.05,      -- first delay before a retry, seconds
  max_backoff = 2,     -- delays double up to this
}

local POLICIES = { reject = true, drop_oldest = true, block = true }
local OPTIONS = {
  max = true, policy = true, backoff = true, max_backoff = true, dir = true,
  loop = true, spawn = true, on_error = true, frame = true,
}

local Queue = {}
Queue.__index = Queue

local function option_error(message)
  error("bad argument #2 to 'queued' (" .. message .. ")", 3)
end

local function report(err)
  io.stderr:write("mailslot.queue: ", tostring(err), "\n")
end

--- A queued writer for the slot `name`. The slot is opened when the first
-- message goes out, so no reader needs to exist yet.
-- @tparam string name the slot
-- @tparam[opt] table opts `max`, `policy`, `backoff`, `max_backoff` (see
--   `DEFAULTS`); `dir` (for `mailslot.open`); `loop` (default: the default
--   loop) or `spawn` (runs a function in a coroutine of another driver, e.g.
--   `mailslot.luv.spawn`); `on_error(err, code, queue)` for messages dropped
--   because of an error; `frame`: true or options of `mailslot.frame.sender`
--   (`max_size`, `crc`, `sender`) to send each message as frames, split as needed
-- @return the queue
-- @raise on wrong types and unknown options
function M.new(name, opts)
  if type(name) ~= "string" then
    error("bad argument #1 to 'queued' (string expected, got " .. type(name) .. ")", 2)
  end
  local parsed, perr = core.parse(name)
  if not parsed then error("bad argument #1 to 'queued' (" .. tostring(perr) .. ")", 2) end
  if opts ~= nil and type(opts) ~= "table" then option_error("table expected, got " .. type(opts)) end
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTIONS[k] then option_error("unknown option '" .. tostring(k) .. "'") end
  end
  local max = opts.max or M.DEFAULTS.max
  if math.type(max) ~= "integer" or max < 1 then option_error("max must be an integer >= 1") end
  local policy = opts.policy or M.DEFAULTS.policy
  if not POLICIES[policy] then option_error("unknown policy '" .. tostring(policy) .. "'") end
  local backoff = opts.backoff or M.DEFAULTS.backoff
  local max_backoff = opts.max_backoff or math.max(backoff, M.DEFAULTS.max_backoff)
  if type(backoff) ~= "number" or backoff ~= backoff or backoff <= 0 or backoff == math.huge then
    option_error("backoff must be seconds > 0")
  end
  if type(max_backoff) ~= "number" or max_backoff ~= max_backoff or max_backoff < backoff
    or max_backoff == math.huge then
    option_error("max_backoff must be seconds >= backoff")
  end
  local problem = loop.run_options_problem(opts)
  if problem then option_error(problem) end
  if opts.dir ~= nil and type(opts.dir) ~= "string" then option_error("dir must be a string") end
  local sender
  if opts.frame then
    local fopts = opts.frame == true and {} or opts.frame
    if type(fopts) ~= "table" then option_error("frame must be true or a table") end
    sender = require("mailslot.frame").sender(fopts)
  end

  local levels = {}
  for p = 0, 9 do levels[p] = { head = 1, tail = 0 } end
  local self = setmetatable({
    name = name, dir = opts.dir, max = max, policy = policy,
    backoff = backoff, max_backoff = max_backoff, delay = backoff,
    on_error = opts.on_error or report, sender = sender,
    levels = levels, count = 0, closed = false,
    counters = { sent = 0, dropped = 0, rejected = 0, evicted = 0, failed = 0, retries = 0 },
    work = loop.condition(),  -- something to send, or closing
    room = loop.condition(),  -- the queue got shorter
    idle = loop.condition(),  -- the queue got empty
    stop = loop.condition(),  -- closing: end a retry delay early
  }, Queue)
  local body = function() self:_run() end
  if opts.spawn then opts.spawn(body) else (opts.loop or loop.default()):spawn(body) end
  return self
end

local function priority_of(p)
  if p == nil then return M.PRIORITIES.normal end
  local n = M.PRIORITIES[p] or p
  if math.type(n) ~= "integer" or n < 0 or n > 9 then
    error("bad argument #2 to 'write' (priority 0..9, \"low\", \"normal\" or \"high\" expected, got "
      .. tostring(p) .. ")", 3)
  end
  return n
end

function Queue:_head()
  for p = 9, 0, -1 do
    local l = self.levels[p]
    if l.head <= l.tail then return l[l.head], p end
  end
end

function Queue:_remove_head(p)
  local l = self.levels[p]
  l[l.head] = nil
  l.head = l.head + 1
  self.count = self.count - 1
  self.room:signal()
  if self.count == 0 then self.idle:signal() end
end

-- drop_oldest: the oldest of the least important messages makes room, unless
-- every queued message outranks the new one: then the new one is dropped.
function Queue:_evict(p)
  for q = 0, 9 do
    local l = self.levels[q]
    if l.head <= l.tail then
      if q > p then return false end
      self:_remove_head(q)
      return true
    end
  end
  return false
end

local function full_message(self)
  return "queue for mailslot " .. self.name .. " is full (" .. self.max .. " messages)"
end

--- Queue one message. Never blocks, except with policy `"block"` in a
-- coroutine that can be suspended (see `mailslot.loop.suspendable`); there
-- the coroutine waits for room. Elsewhere `"block"` rejects as `"reject"` does.
-- @tparam string msg
-- @param[opt="normal"] priority 0..9, `"low"`, `"normal"` or `"high"`
-- @treturn boolean true when queued
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string `"full"` (rejected, or dropped by `drop_oldest` as the
--   least important), `"too_big"` (cannot be framed), `"closed"` (closed while waiting)
-- @raise on a non-string message, a bad priority, or a closed queue
function Queue:write(msg, priority)
  if type(msg) ~= "string" then
    error("bad argument #1 to 'write' (string expected, got " .. type(msg) .. ")", 2)
  end
  local p = priority_of(priority)
  if self.closed then error("attempt to use a closed queue", 2) end
  local c = self.counters
  -- Split first: a message that cannot be framed must not evict another.
  local entry = msg
  if self.sender then
    local frames, _, code = self.sender:split(msg)
    if not frames then
      c.rejected, c.dropped = c.rejected + 1, c.dropped + 1
      return nil, "message of " .. #msg .. " bytes needs too many frames", code
    end
    entry = { frames = frames, next = 1 }
  end
  if self.count >= self.max then
    if self.policy == "drop_oldest" then
      if not self:_evict(p) then
        c.rejected, c.dropped = c.rejected + 1, c.dropped + 1
        return nil, full_message(self) .. "; every queued message has a higher priority", "full"
      end
      c.evicted, c.dropped = c.evicted + 1, c.dropped + 1
    elseif self.policy == "block" and loop.suspendable() then
      while self.count >= self.max and not self.closed do self.room:wait() end
      if self.closed then return nil, "queue for mailslot " .. self.name .. " was closed", "closed" end
    else
      c.rejected, c.dropped = c.rejected + 1, c.dropped + 1
      return nil, full_message(self), "full"
    end
  end
  local l = self.levels[p]
  l.tail = l.tail + 1
  l[l.tail] = entry
  self.count = self.count + 1
  self.work:signal()
  return true
end

-- Failures that no retry can cure: the head message is dropped and reported.
local PERMANENT = { too_big = true, invalid_name = true, access = true }

-- Counts a failed try at the head (priority p). A permanent failure drops the
-- head and reports it: true, progress made. Else false: it stays for a retry.
function Queue:_failed(p, err, code)
  local c = self.counters
  c.failed = c.failed + 1
  self.last_error, self.last_code = err, code
  if not PERMANENT[code] then return false end
  c.dropped = c.dropped + 1
  self:_remove_head(p)
  self.on_error(err, code, self)
  return true
end

-- One try at the head of the queue: true when progress was made.
function Queue:_attempt()
  local entry, p = self:_head()
  if not entry then return true end
  if not self.writer then
    -- mailslot.open, not the core: remote and broadcast names need its routing.
    -- Finding a remote server suspends this task (mailslot.net.resolve), so
    -- the queue may have been closed, or a flush have opened, meanwhile.
    local w, err, code = require("mailslot").open(self.name, { timeout = 0, dir = self.dir })
    if self.closed or self.writer then
      if w then w:close() end
      return true
    end
    if not w then return self:_failed(p, err, code) end
    self.writer = w
  end
  local data = entry
  if type(entry) == "table" then data = entry.frames[entry.next] end
  local n, err, code = self.writer:write(data)
  if n then
    self.delay = self.backoff
    if type(entry) == "table" and entry.next < #entry.frames then
      entry.next = entry.next + 1
      return true
    end
    self.counters.sent = self.counters.sent + 1
    self:_remove_head(p)
    return true
  end
  if self:_failed(p, err, code) then return true end
  if code == "closed" or code == "not_found" then
    self.writer:close()
    self.writer = nil
  end
  return false
end

-- The delay before the next retry, doubling up to max_backoff.
function Queue:_next_delay()
  local d = self.delay
  self.delay = math.min(d * 2, self.max_backoff)
  self.counters.retries = self.counters.retries + 1
  return d
end

function Queue:_run()
  while not self.closed do
    if self.count == 0 then
      self.work:wait()
    elseif not self:_attempt() then
      self.stop:wait(self:_next_delay())
    else
      loop.pass() -- a long queue must not starve the loop's other tasks
    end
  end
end

--- Wait until every queued message has gone out (or was dropped).
-- In a coroutine that can be suspended, waits for the queue's task; elsewhere
-- (e.g. the main thread) sends the messages itself, sleeping between retries.
-- @tparam[opt] number timeout seconds; nil = as long as it takes
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message (with the last write error, if any)
-- @treturn[2] string `"timeout"`
function Queue:flush(timeout)
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
    error("bad argument #1 to 'flush' (expected seconds >= 0, got " .. tostring(timeout) .. ")", 2)
  end
  if timeout == math.huge then timeout = nil end
  local deadline = timeout and loop.now() + timeout
  local suspend = loop.suspendable()
  while self.count > 0 do
    local left = deadline and deadline - loop.now()
    if left and left <= 0 then
      return nil, ("queue for mailslot %s still holds %d message(s)%s"):format(
        self.name, self.count, self.last_error and (": " .. self.last_error) or ""), "timeout"
    end
    if suspend then
      self.idle:wait(left)
    elseif not self:_attempt() then
      local d = self:_next_delay()
      loop.sleep(left and math.min(d, left) or d)
    end
  end
  return true
end

--- Counters: `sent`, `queued` (now), `dropped` (never to be sent: rejected,
-- evicted or refused as too big), `rejected`, `evicted`, `failed` (write or
-- open attempts that failed), `retries`; `last_error` and `last_code` of the
-- last failure.
-- @treturn table
function Queue:stats()
  local s = { queued = self.count, last_error = self.last_error, last_code = self.last_code }
  for k, v in pairs(self.counters) do s[k] = v end
  return s
end

--- Stop the queue's task and close its writer. Messages still queued are
-- dropped (counted); `flush` first to send them. Safe to call twice.
-- @treturn boolean true
function Queue:close()
  if self.closed then return true end
  self.closed = true
  self.counters.dropped = self.counters.dropped + self.count
  for p = 0, 9 do self.levels[p] = { head = 1, tail = 0 } end
  self.count = 0
  if self.writer then self.writer:close(); self.writer = nil end
  self.work:signal()
  self.stop:signal()
  self.room:signal()
  self.idle:signal()
  return true
end

return M
