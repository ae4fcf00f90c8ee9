--- Coroutine-friendly waiting: a small scheduler, and reading code that works
-- unchanged inside it, inside cqueues, inside luv (through `mailslot.luv`) and
-- outside any of them, where it simply blocks as `reader:read` does.
--
--     local loop = require "mailslot.loop"
--     local L = loop.new()
--     L:spawn(function()
--       local msg, err, code = loop.read(reader, 5)  -- suspends this coroutine only
--     end)
--     L:run()
--
-- How the waiting functions (`read`, `wait`, `sleep`, `pass`, condition
-- `wait`) find out what to do, in the running coroutine:
--
-- 1. a coroutine whose resumer understands loop requests (tasks of a `Loop`,
--    of `mailslot.luv`, and coroutines resumed through `loop.resume` /
--    `loop.wrap`): yield one request, tagged with the private `REQUEST`
--    value, and get the answer back;
-- 2. the coroutine of a cqueues controller: `cqueues.poll` the reader (it
--    follows cqueues' pollable protocol);
-- 3. anything else (the main thread, a plain coroutine of the user): block.
--
-- Yields that do not carry the tag are the user's own: `loop.resume` hands
-- them to its caller as `coroutine.resume` would, and a `Loop` treats one
-- from a task's body as "let the others run, then continue me".
-- @module mailslot.loop

local core = require "mailslot.core"

local M = {}

-- Locals: loop.read runs once per message, and global lookups show there.
local type, huge = type, math.huge

-- -------------------------------------------------------------------------
-- Requests and who understands them
-- -------------------------------------------------------------------------

--- The private value a loop request is tagged with: `coroutine.yield(REQUEST,
-- op, ...)`. Only drivers (a `Loop`, `mailslot.luv`) need it.
M.REQUEST = setmetatable({}, { __tostring = function() return "mailslot.loop request" end })
local REQUEST = M.REQUEST

-- Coroutines whose resumer handles REQUEST yields. Weak: a finished task goes.
local adopted = setmetatable({}, { __mode = "k" })

--- Declare that whoever resumes `co` handles loop requests (for drivers).
-- @tparam thread co
function M.adopt(co)
  if type(co) ~= "thread" then
    error("bad argument #1 to 'adopt' (coroutine expected, got " .. type(co) .. ")", 2)
  end
  adopted[co] = true
end

local function arg_error(n, fname, message)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. message .. ")", 3)
end

local function is_reader(x)
  if type(x) ~= "userdata" then return false end
  local mt = getmetatable(x)
  return type(mt) == "table" and mt.__name == "mailslot.reader"
end

-- The position of the first element of `readers` that is not a reader.
local function not_a_reader(readers)
  for i = 1, #readers do
    if not is_reader(readers[i]) then return i end
  end
end

local function check_timeout(t, n, fname)
  if t ~= nil and (type(t) ~= "number" or t ~= t or t < 0) then
    arg_error(n, fname, "expected seconds >= 0, nil or math.huge, got " .. tostring(t))
  end
  if t == huge then return nil end
  return t
end

-- -------------------------------------------------------------------------
-- The clock
-- -------------------------------------------------------------------------

-- The core's monotonic clock (clock_gettime / QueryPerformanceCounter), or
-- what set_clock put in its place. The loop calls it directly: several times
-- per step, a call less each time shows.
local clock = core.monotime

--- Seconds on a monotonic clock (the origin means nothing).
-- @treturn number
function M.now()
  return clock()
end

--- Replace the clock used by every loop, e.g. by one with a better resolution.
-- @tparam function fn returns seconds as a number
function M.set_clock(fn)
  if type(fn) ~= "function" then arg_error(1, "set_clock", "function expected, got " .. type(fn)) end
  clock = fn
end

-- -------------------------------------------------------------------------
-- Drivers: how one kind of context waits
-- -------------------------------------------------------------------------

-- Inside an adopted coroutine: ask whoever resumes us. `read` is `wait` on
-- one reader for loop.read, which looks at the reader again whatever the
-- answer: a driver need not make the list of ready readers.
local yielding = {
  wait = function(readers, timeout, cond) return coroutine.yield(REQUEST, "wait", readers, timeout, cond) end,
  read = function(reader, timeout) return coroutine.yield(REQUEST, "read", reader, timeout) end,
  sleep = function(seconds) return coroutine.yield(REQUEST, "sleep", seconds) end,
  park = function(cond, timeout) return coroutine.yield(REQUEST, "park", cond, timeout) end,
  pass = function() return coroutine.yield(REQUEST, "pass") end,
}

-- Blocks the process for `seconds`. The core resumes its wait after a signal
-- unless Lua has something to run for it (lua.c's Ctrl-C hook), which runs as
-- core.wait returns; if that code did not raise, the sleep goes on with the
-- time that is left rather than end early.
local function block_for(seconds)
  local deadline = core.monotime() + seconds
  local left = seconds
  while left > 0 do
    local _, _, code = core.wait({}, left)
    if code ~= "interrupted" then return end
    left = deadline - core.monotime()
  end
end

-- The main thread or a coroutine nobody will answer for: block the process.
local blocking = {
  wait = function(readers, timeout)
    return core.wait(readers, timeout)
  end,
  read = function(reader, timeout)
    return core.wait({ reader }, timeout)
  end,
  sleep = block_for,
  park = function(_, timeout)
    -- Nothing can signal while this thread is blocked: only a timeout can end it.
    if timeout == nil then
      error("condition:wait without a timeout would wait forever outside a scheduler", 3)
    end
    block_for(timeout)
    return false
  end,
  pass = function() end,
}

local cqueues_driver -- mailslot.cqueues, once loaded: no require per wait

local function driver()
  local co, main = coroutine.running()
  if main then return blocking end
  if adopted[co] then return yielding end
  local cq = package.loaded.cqueues
  if type(cq) == "table" and cq.running then
    local _, inside = cq.running()
    if inside then
      if not cqueues_driver then cqueues_driver = require "mailslot.cqueues" end
      return cqueues_driver
    end
  end
  return blocking
end

--- Whether the running code can be suspended without blocking the process
-- (an adopted coroutine, or a cqueues controller's coroutine).
-- @treturn boolean
function M.suspendable()
  return driver() ~= blocking
end

-- -------------------------------------------------------------------------
-- The waiting functions
-- -------------------------------------------------------------------------

--- Read one message, suspending only the running coroutine.
-- Same results as `reader:read(timeout)`; outside a scheduler it is that call.
-- @param reader a mailslot reader
-- @tparam[opt] number timeout seconds; nil = the reader's own timeout; 0 = do not wait
-- @treturn string the message
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code (`"timeout"`, ...)
function M.read(reader, timeout)
  if type(reader) ~= "userdata" then arg_error(1, "read", "mailslot reader expected, got " .. type(reader)) end
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
    check_timeout(timeout, 2, "read") -- raises: the check is inline, a call less per message
  end
  -- A message that already waits is taken before anything else is looked
  -- at (which driver, the clock): a busy reader pays one call per message.
  local msg, err, code = reader:read(0)
  if msg then return msg end
  if code ~= "timeout" or timeout == 0 then return nil, err, code end
  local d = driver()
  if d == blocking then return reader:read(timeout) end
  if timeout == nil then timeout = reader:gettimeout() end
  if timeout == math.huge then timeout = nil end
  local deadline = timeout and clock() + timeout
  local left = timeout
  while true do
    if left and left <= 0 then -- the core's words, so both ways of reading say the same
      if timeout == 0 then return nil, err, code end
      return nil, ("no message in mailslot %s within %g s"):format(reader:name(), timeout), "timeout"
    end
    local _, werr, wcode = d.read(reader, left)
    if werr and not wcode then error(werr, 2) end -- misuse (see Loop:_watch)
    -- Whatever else the answer, read again: ready, timed out (the deadline
    -- check decides) or closed (read raises, as it does on a closed reader).
    msg, err, code = reader:read(0)
    if msg then return msg end
    if code ~= "timeout" then return nil, err, code end
    left = deadline and deadline - clock()
  end
end

--- Wait until one of the readers has a message: `mailslot.wait` that suspends
-- only the running coroutine.
-- @tparam {reader,...} readers
-- @tparam[opt] number timeout seconds; nil = forever
-- @param[opt] cond a `condition` whose signal also ends the wait
-- @treturn {reader,...} the readers with a message (empty when `cond` was signalled)
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string `"timeout"`, or `"closed"` when a reader was closed meanwhile
function M.wait(readers, timeout, cond)
  if type(readers) ~= "table" then arg_error(1, "wait", "table expected, got " .. type(readers)) end
  local bad = not_a_reader(readers)
  if bad then arg_error(1, "wait", "item " .. bad .. " is not a mailslot reader") end
  timeout = check_timeout(timeout, 2, "wait")
  if cond ~= nil and getmetatable(cond) ~= M.Condition then
    arg_error(3, "wait", "condition expected, got " .. type(cond))
  end
  local ready, err, code = driver().wait(readers, timeout, cond)
  if err and not code then error(err, 2) end -- misuse (see Loop:_watch)
  return ready, err, code
end

--- Let the given seconds pass; other coroutines run meanwhile.
-- @tparam number seconds
function M.sleep(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 or seconds == math.huge then
    arg_error(1, "sleep", "expected finite seconds >= 0, got " .. tostring(seconds))
  end
  driver().sleep(seconds)
end

--- Let the other ready coroutines run, then continue.
function M.pass()
  driver().pass()
end

-- Drivers that hold a reader's descriptor (mailslot.luv) add a function here.
M._close_hooks = {}

--- Close a reader that a driver may be polling: event loops that keep the
-- descriptor registered (cqueues, libuv) are told first, and waits on it end
-- with `"closed"`. Use it instead of `reader:close()` inside cqueues or luv.
-- @param reader a mailslot reader (or writer)
-- @return what `close` returns
function M.close(reader)
  if type(reader) ~= "userdata" then arg_error(1, "close", "mailslot reader expected, got " .. type(reader)) end
  if pcall(reader.pollfd, reader) then -- still open
    local cq = package.loaded.cqueues
    if type(cq) == "table" and cq.cancel then cq.cancel(reader) end
    for _, hook in ipairs(M._close_hooks) do hook(reader) end
  end
  return reader:close()
end

-- -------------------------------------------------------------------------
-- Conditions
-- -------------------------------------------------------------------------

local Condition = {}
Condition.__index = Condition
M.Condition = Condition

--- A condition: coroutines wait on it until another signals it.
-- Works in every driver (a `Loop`, cqueues, luv).
-- @return the condition
function M.condition()
  return setmetatable({ waiters = {} }, Condition)
end

--- Wait until signalled or the timeout passes.
-- @tparam[opt] number timeout seconds; nil = forever
-- @treturn boolean true when signalled, false on timeout
function Condition:wait(timeout)
  timeout = check_timeout(timeout, 1, "wait")
  return driver().park(self, timeout)
end

--- Wake every coroutine waiting on the condition.
function Condition:signal()
  local waiters = self.waiters
  self.waiters = {}
  for _, w in ipairs(waiters) do w.wake(w, true) end
  if self.cq then self.cq:signal() end
end

-- For drivers: remember a waiter; w.wake(w, value) is called on signal.
function Condition:_add(w)
  local list = self.waiters
  if #list > 32 then -- forget waiters that timed out long ago
    local keep = {}
    for _, x in ipairs(list) do if x.active then keep[#keep + 1] = x end end
    list = keep
    self.waiters = list
  end
  list[#list + 1] = w
end

-- -------------------------------------------------------------------------
-- Nested coroutines
-- -------------------------------------------------------------------------

local pack = table.pack
local unpack = table.unpack

local function perform(op, a, b, c)
  local d = driver()
  if op == "wait" then return d.wait(a, b, c)
  elseif op == "read" then return d.read(a, b)
  elseif op == "sleep" then return d.sleep(a)
  elseif op == "park" then return d.park(a, b)
  else return d.pass() end
end

--- `coroutine.resume` for the user's own coroutines that may call the
-- waiting functions: their loop requests are carried out on behalf of the
-- caller (suspending it in turn, or blocking), and only their own yields come
-- back, as from `coroutine.resume`.
-- @tparam thread co
-- @return like `coroutine.resume`
function M.resume(co, ...)
  if type(co) ~= "thread" then arg_error(1, "resume", "coroutine expected, got " .. type(co)) end
  local was = adopted[co]
  adopted[co] = true
  local function after(ok, tag, ...)
    if ok and tag == REQUEST and coroutine.status(co) == "suspended" then
      return after(coroutine.resume(co, perform(...)))
    end
    adopted[co] = was
    return ok, tag, ...
  end
  return after(coroutine.resume(co, ...))
end

--- `coroutine.wrap` that resumes through `loop.resume`.
-- @tparam function fn
-- @treturn function
function M.wrap(fn)
  if type(fn) ~= "function" then arg_error(1, "wrap", "function expected, got " .. type(fn)) end
  local co = coroutine.create(fn)
  return function(...)
    local r = pack(M.resume(co, ...))
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end
end

-- -------------------------------------------------------------------------
-- The scheduler
-- -------------------------------------------------------------------------

local Loop = {}
-- reader -> the loop whose wait set holds it (both weak: it says, it keeps nothing).
local owner = setmetatable({}, { __mode = "kv" })
Loop.__index = Loop
M.Loop = Loop

local function default_report(err, task)
  io.stderr:write("mailslot.loop: ", tostring(task and task.name or "task"), ": ", tostring(err), "\n")
end

--- A new scheduler.
-- @tparam[opt] table opts `on_error(err, task)`: called with the error (and
--   traceback) of a task that raised; default: a line on stderr
-- @return the loop
function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then arg_error(1, "new", "table expected, got " .. type(opts)) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "on_error" then arg_error(1, "new", "unknown option '" .. tostring(k) .. "'") end
  end
  if opts.on_error ~= nil and type(opts.on_error) ~= "function" then
    arg_error(1, "new", "on_error must be a function")
  end
  return setmetatable({
    on_error = opts.on_error or default_report,
    ready = {}, rhead = 1, rtail = 0, -- FIFO of tasks; what each is resumed with is in it
    heap = {}, seq = 0,               -- timers (and waits with a timeout): { at, seq, fn }
    dead = 0,                         -- cancelled timers still in the heap
    -- reader -> { [wait] = true }: the readers the set reports, with what
    -- waits on them. Weak: a reader nobody waits on may go.
    watch = setmetatable({}, { __mode = "k" }),
    waiting = 0,                      -- waits on one reader or more not ended
    live = 0,                         -- tasks not finished
    -- The tasks not finished, held: a task waiting with no timeout is held
    -- by nothing else once `watch` is weak (its reader may be only on its stack).
    tasks = {},
  }, Loop)
end

local default_loop

--- The process's default loop (created on first use).
function M.default()
  if not default_loop then default_loop = M.new() end
  return default_loop
end

--- `spawn` on the default loop.
function M.spawn(fn, ...) return M.default():spawn(fn, ...) end

--- `run` on the default loop.
function M.run(timeout) return M.default():run(timeout) end

-- Timers: a binary heap ordered by time, then by creation (stable ordering).
-- A timer is any table with `at`, `seq` and `fn`; fn(timer) runs when it is
-- due. A wait with a timeout is its own timer: no second table per wait.
local function before(a, b)
  return a.at < b.at or (a.at == b.at and a.seq < b.seq)
end

function Loop:_arm(t)
  local h = self.heap
  local i = #h + 1
  h[i] = t
  while i > 1 do
    local p = i // 2
    if not before(h[i], h[p]) then break end
    h[i], h[p] = h[p], h[i]
    i = p
  end
  return t
end

-- fn(timer) runs at `at`.
function Loop:_timer(at, fn)
  self.seq = self.seq + 1
  return self:_arm({ at = at, seq = self.seq, fn = fn, cancelled = false, fired = false })
end

function Loop:_pop_timer()
  local h = self.heap
  local top, n = h[1], #h
  h[1] = h[n]
  h[n] = nil
  n = n - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and before(h[l], h[m]) then m = l end
    if r <= n and before(h[r], h[m]) then m = r end
    if m == i then break end
    h[i], h[m] = h[m], h[i]
    i = m
  end
  return top
end

function Loop:_next_timer()
  local h = self.heap
  while h[1] and h[1].cancelled do
    self:_pop_timer()
    self.dead = self.dead - 1
  end
  return h[1]
end

-- Cancel a timer. Cancelled timers stay in the heap until they reach the top,
-- unless they make up more than half of it: then it is rebuilt without them
-- (a long-lived timer must not make the heap grow with every short wait).
function Loop:_cancel(t)
  if t.cancelled or t.fired then return end
  t.cancelled = true
  self.dead = self.dead + 1
  local h = self.heap
  if self.dead > 16 and self.dead * 2 > #h then
    local keep = {}
    for _, x in ipairs(h) do if not x.cancelled then keep[#keep + 1] = x end end
    table.sort(keep, before) -- a sorted array is a heap
    self.heap, self.dead = keep, 0
  end
end

-- Fires the timers due; returns the time it looked at and the next timer.
function Loop:_fire_timers()
  local now = clock()
  while true do
    local t = self:_next_timer()
    if not t or t.at > now then return now, t end
    self:_pop_timer()
    t.fired = true
    t.fn(t)
  end
end

-- Queues a task to be resumed with n values: a, b, c (n = 0 or 3), or
-- task.args (n = -1: spawn's arguments). A task is queued at most once (it
-- waits on one thing at a time), so the values go in the task itself: no
-- table per wake-up.
function Loop:_push(task, n, a, b, c)
  local i = self.rtail + 1
  self.rtail = i
  self.ready[i] = task
  task.n, task[1], task[2], task[3] = n, a, b, c
end

-- Resumes a queued task with what it was queued with.
local function resume(task)
  local n, co = task.n, task.co
  if n == 3 then
    local a, b, c = task[1], task[2], task[3]
    task[1], task[2], task[3] = nil, nil, nil
    return coroutine.resume(co, a, b, c)
  elseif n == 0 then
    return coroutine.resume(co)
  end
  local args = task.args
  task.args = false
  return coroutine.resume(co, unpack(args, 1, args.n))
end

-- The readers a wait watches go into the loop's wait set (one per loop, made
-- on first use): a step then costs what the readers with messages cost, not
-- what every task waits on. A reader stays reported by the set when its last
-- wait ends: a task that reads in a loop waits on it again at once, and pays
-- no call into the set. When the set reports a reader nobody waits on, the
-- step mutes it (it stays registered: waiting on it again costs no system call).
function Loop:_watch(w)
  local readers = w.readers
  if #readers == 0 then return true end -- nothing to watch: it counts as parked
  if not self.set then self.set = assert(core.waitset()) end
  self.waiting = self.waiting + 1
  w.watched = true
  for i = 1, #readers do
    local r = readers[i]
    local ws = self.watch[r]
    if not ws then
      local ok, added, msg, code = pcall(self.set.add, self.set, r)
      if not ok and pcall(r.timeout, r) then
        -- Open, so in another set: another loop's, which lends it when none of
        -- its tasks waits on it; else (a mailslot.waitset(), or both loops
        -- waiting at once) misuse, which the waiting task raises (no code).
        local other = owner[r]
        if other and other ~= self and other:_lend(r) then
          ok, added, msg, code = pcall(self.set.add, self.set, r)
        end
        if not ok then
          return nil, ("mailslot %s is waited on by another loop or wait set"):format(r:name())
        end
      end
      if not ok or not added then
        return nil, ok and msg or "a mailslot was closed while waited on", ok and code or "closed"
      end
      ws = {}
      self.watch[r] = ws
      owner[r] = self
    end
    ws[w] = true
  end
  return true
end

-- Gives r up to another loop, unless a task of this one waits on it.
function Loop:_lend(r)
  local ws = self.watch[r]
  if ws and next(ws) then return false end
  self.watch[r] = nil
  self.set:discard(r)
  owner[r] = nil
  return true
end

function Loop:_unwatch(w)
  self.waiting = self.waiting - 1
  local watch, readers = self.watch, w.readers
  for i = 1, #readers do
    local ws = watch[readers[i]]
    if ws then ws[w] = nil end
  end
end

-- The set reported a reader nobody waits on: stop reporting it.
function Loop:_mute(r)
  self.watch[r] = nil
  self.set:remove(r)
end

-- A suspended task's record: whichever of its wake-ups comes first wins.
local function finish(w, value, msg, code)
  if not w.active then return end
  w.active = false
  local loop = w.loop
  if w.at then loop:_cancel(w) end
  if w.watched then loop:_unwatch(w) end
  loop:_push(w.task, 3, value, msg, code)
end

-- A suspended task's timeout came first. Shared by every wait: no closure per wait.
local function time_out(w)
  local answer = w.on_timeout
  if type(answer) == "function" then answer = answer(w) end
  finish(w, answer[1], answer[2], answer[3])
end

-- on_timeout: the answer if the timeout comes first, or a function of the
-- record making it then. The record is its own timer: every field is set
-- here, so the table never grows.
function Loop:_suspend(task, timeout, on_timeout)
  local seq = self.seq + 1
  self.seq = seq
  local w = { active = true, task = task, loop = self, wake = finish, on_timeout = on_timeout,
              seq = seq, at = false, fn = time_out, cancelled = false, fired = false,
              readers = false, watched = false, quiet = false }
  if timeout then
    w.at = clock() + timeout
    self:_arm(w)
  end
  return w
end

local NOTHING = {}
local NOT_SIGNALLED = { false }

-- A wait's condition was signalled: it ends with no reader ready.
local function wake_no_reader(w) finish(w, {}) end

--- What a wait on these readers returns when it times out: the core's message,
-- which names them (a list that is not all open readers is refused later).
-- @local
function M._timed_out(readers)
  local ok, msg = pcall(core.wait_timeout_message, readers)
  return { nil, ok and msg or "no message in " .. #readers .. " mailslots", "timeout" }
end

-- A wait's answer when its timeout comes first (its readers are the caller's copy).
local function timed_out_wait(w) return M._timed_out(w.readers) end

-- Starts watching a wait's readers (w.readers, checked); false when it ended at once.
function Loop:_wait_readers(w)
  local bad = not_a_reader(w.readers)
  if bad then -- a request that did not come through M.wait: end it, do not poll it
    finish(w, nil, "bad argument #1 to 'wait' (item " .. bad .. " is not a mailslot reader)", "invalid")
    return false
  end
  local watched, msg, code = self:_watch(w)
  if not watched then
    finish(w, nil, msg, code)
    return false
  end
  return true
end

function Loop:_request(task, op, a, b, c)
  if op == "read" then
    -- loop.read looks at its reader again whatever the answer: the wait is
    -- "quiet" (woken with true, timed out with nothing), and its list of one
    -- reader is its own.
    local w = self:_suspend(task, b, NOTHING)
    w.readers, w.quiet = { a }, true
    local watched, msg, code = self:_watch(w) -- loop.read checked that a is a reader
    if not watched then finish(w, nil, msg, code) end
  elseif op == "wait" then
    local w = self:_suspend(task, b, timed_out_wait)
    -- A copy: the caller may change its table while the task waits.
    w.readers = table.move(a, 1, #a, 1, {})
    if not self:_wait_readers(w) then return end
    w.wake = wake_no_reader
    if c then c:_add(w) end
    if #a == 0 and not b and not c then finish(w, {}) end -- nothing could end it: do not hang
  elseif op == "sleep" then
    self:_suspend(task, a, NOTHING)
  elseif op == "park" then
    a:_add(self:_suspend(task, b, NOT_SIGNALLED))
  else
    self:_push(task, 0)
  end
end

function Loop:_handle(task, ok, tag, ...)
  local co = task.co
  if not ok then
    task.done, task.error = true, tag
    self.live = self.live - 1
    self.tasks[task] = nil
    self.on_error(debug.traceback(co, tostring(tag)), task)
  elseif coroutine.status(co) == "dead" then
    task.done = true
    self.live = self.live - 1
    self.tasks[task] = nil
  elseif tag == REQUEST then
    self:_request(task, ...)
  else
    self:_push(task, 0) -- the task's own yield: its turn is over, it goes on later
  end
end

--- Run `fn(...)` as a task of this loop.
-- @tparam function fn
-- @return the task: a table with `co`, and `done` (and `error`) once finished
function Loop:spawn(fn, ...)
  if type(fn) ~= "function" then arg_error(1, "spawn", "function expected, got " .. type(fn)) end
  local co = coroutine.create(fn)
  adopted[co] = true
  -- Every field the loop sets later is made here: the table never grows.
  local task = { false, false, false, co = co, loop = self, done = false, n = -1, args = pack(...) }
  self.live = self.live + 1
  self.tasks[task] = true
  self:_push(task, -1)
  return task
end

--- Call `fn()` in a new task after `seconds`.
-- Timers due at the same time run in the order they were set.
-- @tparam number seconds
-- @tparam function fn
-- @return a timer with `:cancel()`
function Loop:after(seconds, fn)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    arg_error(1, "after", "expected seconds >= 0, got " .. tostring(seconds))
  end
  if type(fn) ~= "function" then arg_error(2, "after", "function expected, got " .. type(fn)) end
  local t = self:_timer(clock() + seconds, function() self:spawn(fn) end)
  return { cancel = function() self:_cancel(t) end }
end

--- Call `fn()` in a new task every `seconds`, until cancelled.
-- @tparam number seconds > 0
-- @tparam function fn
-- @return a timer with `:cancel()`
function Loop:every(seconds, fn)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds <= 0 or seconds == math.huge then
    arg_error(1, "every", "expected seconds > 0, got " .. tostring(seconds))
  end
  if type(fn) ~= "function" then arg_error(2, "every", "function expected, got " .. type(fn)) end
  local now = clock()
  if now + seconds == now then
    arg_error(1, "every", "interval " .. tostring(seconds) .. " s is too small for the clock")
  end
  local handle = { cancelled = false }
  local current
  local function arm(at)
    current = self:_timer(at, function()
      if handle.cancelled then return end
      -- After a stall, skip the ticks missed rather than fire them all at once.
      local t = clock()
      local next_at = at + seconds
      if next_at <= t then next_at = t + seconds end
      if next_at <= t then next_at = t + math.max(seconds, math.abs(t) * 2 ^ -40) end -- clock grew huge
      arm(next_at)
      self:spawn(fn)
    end)
  end
  arm(now + seconds)
  function handle.cancel()
    handle.cancelled = true
    self:_cancel(current)
  end
  return handle
end

-- Wakes the waits on these readers, oldest first, each with its readers that
-- are ready; mutes the readers nobody waits on any more.
function Loop:_wake(ready)
  local watch = self.watch
  if #ready == 1 then -- the usual case: one reader, often one task waiting on it alone
    local r = ready[1]
    local ws = watch[r]
    local w = ws and next(ws)
    if not w then return self:_mute(r) end
    if next(ws, w) == nil and #w.readers == 1 then return finish(w, w.quiet or { r }) end
  end
  local is_ready, woken = {}, {}
  for _, r in ipairs(ready) do
    is_ready[r] = true
    local ws = watch[r]
    if ws and next(ws) then
      for w in pairs(ws) do woken[w] = true end
    else
      self:_mute(r)
    end
  end
  local order = {}
  for w in pairs(woken) do order[#order + 1] = w end
  table.sort(order, function(x, y) return x.seq < y.seq end)
  for _, w in ipairs(order) do
    if w.quiet then
      finish(w, true)
    else
      local got = {}
      for _, r in ipairs(w.readers) do if is_ready[r] then got[#got + 1] = r end end
      finish(w, got)
    end
  end
end

-- A reader was closed under its waiters: those waits end with "closed".
function Loop:_end_closed()
  local ended = {}
  for r, ws in pairs(self.watch) do
    if not pcall(r.timeout, r) then
      self.watch[r] = nil -- closing it took it out of the set
      for w in pairs(ws) do ended[#ended + 1] = w end
    end
  end
  table.sort(ended, function(x, y) return x.seq < y.seq end)
  for _, w in ipairs(ended) do finish(w, nil, "a mailslot was closed while waited on", "closed") end
end

--- Run the ready tasks once, fire due timers, and wait for messages or the
-- next timer (at most `timeout` seconds).
-- @tparam[opt] number timeout seconds the step may block; nil = as long as needed
-- @treturn boolean false when nothing is left that could ever run
function Loop:step(timeout)
  if timeout ~= nil then timeout = check_timeout(timeout, 1, "step") end
  local ready, last = self.ready, self.rtail
  -- self.rhead, not a local: a task may step this loop itself (nested), and
  -- that step takes tasks from the queue (and may restart it at 1).
  local i = self.rhead
  while i <= last and i <= self.rtail do
    local task = ready[i]
    ready[i] = nil
    self.rhead = i + 1
    self:_handle(task, resume(task))
    i = self.rhead
  end
  if self.rhead > self.rtail then self.rhead, self.rtail = 1, 0 end -- empty: start again at 1
  local now, top = self:_fire_timers()

  local t
  if self.rhead <= self.rtail then
    t = 0
  else
    if top then
      t = top.at - now
      if t < 0 then t = 0 end
    elseif self.waiting == 0 then
      -- Only tasks parked on conditions (a wait on no readers is one): no
      -- task can run to signal them, so nothing here can ever wake them.
      return false
    end
  end
  if timeout and (not t or timeout < t) then t = timeout end

  if self.waiting > 0 then
    local got, msg, code = self.set:wait(t)
    if got then
      self:_wake(got)
    elseif code == "closed" then
      self:_end_closed()
    elseif code ~= "timeout" and code ~= "interrupted" then
      -- No culprit known: end every wait rather than fail again on each step.
      for _, ws in pairs(self.watch) do
        for w in pairs(ws) do finish(w, nil, msg, code) end
      end
    end
  elseif t and t > 0 then
    core.wait({}, t)
  end
  self:_fire_timers()
  return true
end

--- Run until no task can run any more, `stop` is called, or `timeout` passes.
-- @tparam[opt] number timeout seconds; nil = no limit
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string `"timeout"`
function Loop:run(timeout)
  timeout = check_timeout(timeout, 1, "run")
  local deadline = timeout and clock() + timeout
  self.stopped = false
  while not self.stopped do
    local left = deadline and deadline - clock()
    if left and left <= 0 then return nil, "loop still busy after " .. timeout .. " s", "timeout" end
    if not self:step(left) then break end
  end
  return true
end

--- Make `run` return after the current step.
function Loop:stop()
  self.stopped = true
end

--- How many tasks have not finished.
-- @treturn integer
function Loop:count()
  return self.live
end

--- What is wrong with the options by which a helper (listen, queued) is told
-- where to run and how to report: `loop` or `spawn`, and `on_error`.
-- @return a message, or nil when they are fine
function M.run_options_problem(opts)
  if opts.on_error ~= nil and type(opts.on_error) ~= "function" then return "on_error must be a function" end
  if opts.spawn ~= nil and type(opts.spawn) ~= "function" then return "spawn must be a function" end
  if opts.loop ~= nil and getmetatable(opts.loop) ~= Loop then return "loop must be a mailslot.loop loop" end
  if opts.loop and opts.spawn then return "give loop or spawn, not both" end
end

return M
