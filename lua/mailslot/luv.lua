--- The luv adapter: run coroutines on a libuv loop (Debian's lua-luv) in
-- which `mailslot.loop.read`, `wait`, `sleep`, `pass` and conditions work as
-- in the built-in scheduler, by polling the readers' descriptors.
--
--     local uv = require "luv"
--     local adapter = require "mailslot.luv"
--     adapter.spawn(function()
--       local msg = mailslot.loop.read(reader, 5)
--     end)
--     uv.run()
--
-- @module mailslot.luv

local uv = require "luv"
local loop = require "mailslot.loop"

local M = {}

local REQUEST = loop.REQUEST
local unpack = table.unpack

--- Called with the error (and traceback) of a coroutine that raised, and the
-- coroutine. Replace it to report elsewhere.
function M.on_error(err)
  io.stderr:write("mailslot.luv: ", tostring(err), "\n")
end

-- One poll handle per reader (libuv refuses two on a descriptor), closed as
-- its last wait ends. Keeping it for the next wait would save a handle per
-- woken read, but a reader closed meanwhile with plain close() would leave
-- it behind: closing it later takes its descriptor number out of libuv's
-- epoll, and that number may be another reader's by then.
local polls = {}   -- reader -> { handle = uv poll, waits = { w = true }, reader }
local waits = {}   -- open read waits: checked before each poll for messages
local nwaits = 0   --   already queued in user space (the fd does not show those)
local prepare

local handle_result

local function step(co, ...)
  return handle_result(co, coroutine.resume(co, ...))
end

-- Timers are reused (at most SPARE kept): a wait with a timeout pays no new handle.
local SPARE = 16
local spare_timers = {}

local function close_timer(w)
  local t = w.timer
  if t then
    w.timer = nil
    t.handle:stop()
    t.w = false
    if #spare_timers < SPARE then spare_timers[#spare_timers + 1] = t else t.handle:close() end
  end
end

-- Ends a wait's handles; false when it had already ended.
local function cleanup(w)
  if not w.active then return false end
  w.active = false
  close_timer(w)
  if w.readers then
    waits[w] = nil
    nwaits = nwaits - 1
    for _, r in ipairs(w.readers) do
      local p = polls[r]
      if p then
        p.waits[w] = nil
        if next(p.waits) == nil then
          polls[r] = nil
          p.handle:stop()
          p.handle:close()
        end
      end
    end
  end
  return true
end

local function finish(w, ...)
  if cleanup(w) then step(w.co, ...) end
end

-- A condition's signal: a wait ends with no reader ready, a park with true.
local function wake(w)
  if w.readers then finish(w, {}) else finish(w, true) end
end

-- The readers of w with a message queued in user space: a list (maybe
-- empty); for a quiet wait (loop.read's, whose answer is not looked at),
-- true or false; nil when one was closed under us.
local function pending_of(w)
  local got = not w.quiet and {}
  for _, r in ipairs(w.readers) do
    local ok, t = pcall(r.timeout, r)
    if not ok then return nil end -- closed under us
    if t == 0 then
      if not got then return true end
      got[#got + 1] = r
    end
  end
  return got
end

-- Ends w if one of its readers has a message queued in user space, or was closed.
local function check_wait(w)
  if not w.active then return end
  local got = pending_of(w)
  if got == nil then finish(w, nil, "a mailslot was closed while waited on", "closed")
  elseif got == true or (got and #got > 0) then finish(w, got) end
end

local function check_pending()
  if nwaits == 0 then
    prepare:stop()
    return
  end
  if nwaits == 1 then -- the usual case: no list to make
    check_wait((next(waits)))
  else
    local list = {}
    for w in pairs(waits) do list[#list + 1] = w end
    for _, w in ipairs(list) do check_wait(w) end
  end
end

local function need_prepare()
  if not prepare then
    prepare = uv.new_prepare()
    prepare:unref() -- it only serves what waits: it must not keep uv.run going
  end
  if not prepare:is_active() then prepare:start(check_pending) end
end

-- libuv takes whole milliseconds; longer than this is as good as forever
-- (and math.ceil of a huge float is no integer, which timer:start refuses).
local MAX_MS = 2 ^ 31

-- A wait's timeout came first: w.timed_out(w), when set, makes what it returns.
local function time_out(w)
  local answer = w.timed_out
  if answer then finish(w, unpack(answer(w), 1, 3)) else finish(w) end
end

local function start_timer(w, seconds)
  local ms = math.ceil(seconds * 1000)
  if ms > MAX_MS then return end -- never fires: wait without a timer
  local t = table.remove(spare_timers)
  if not t then
    t = { handle = uv.new_timer(), w = false }
    t.fire = function()
      local tw = t.w
      if tw then time_out(tw) end
    end
  end
  t.w = w
  w.timer = t
  t.handle:start(math.tointeger(ms) or ms, 0, t.fire)
end

-- Wakes the waits on reader r (its descriptor is readable).
local function poll_ready(p)
  local r = p.reader
  local w = next(p.waits)
  if w and next(p.waits, w) == nil then return finish(w, w.quiet or { r }) end -- the usual case
  local list = {}
  for x in pairs(p.waits) do list[#list + 1] = x end
  for _, x in ipairs(list) do finish(x, x.quiet or { r }) end
end

local function wait_readers(w)
  waits[w] = true
  nwaits = nwaits + 1
  need_prepare()
  for _, r in ipairs(w.readers) do
    local p = polls[r]
    if not p then
      p = { handle = uv.new_poll(r:pollfd()), waits = {}, reader = r }
      polls[r] = p
      p.handle:start("r", function() poll_ready(p) end)
    end
    p.waits[w] = true
  end
end

local function timed_out_wait(w) return loop._timed_out(w.readers) end

local function request(co, op, a, b, c)
  local w = { active = true, co = co, wake = wake, timer = nil, readers = nil, quiet = false, timed_out = nil }
  if op == "read" then -- loop.read: a wait on one reader whose answer it does not look at
    w.readers, w.quiet = { a }, true
    wait_readers(w)
    if b then start_timer(w, b) end
  elseif op == "wait" then
    w.readers = a
    wait_readers(w)
    if c then c:_add(w) end
    if b then
      w.timed_out = timed_out_wait
      start_timer(w, b)
    end
  elseif op == "sleep" then
    start_timer(w, a)
  elseif op == "park" then
    a:_add(w)
    if b then start_timer(w, b) end
  else
    start_timer(w, 0)
  end
end

function handle_result(co, ok, tag, ...)
  if not ok then
    M.on_error(debug.traceback(co, tostring(tag)), co)
  elseif coroutine.status(co) == "dead" then
    return
  elseif tag == REQUEST then
    request(co, ...)
  else
    request(co, "pass") -- the coroutine's own yield: continue it on the next turn
  end
end

-- loop.close(reader): end the waits on it (and so close its handle) before its descriptor goes.
loop._close_hooks[#loop._close_hooks + 1] = function(reader)
  local p = polls[reader]
  if not p then return end
  local list = {}
  for w in pairs(p.waits) do list[#list + 1] = w end
  for _, w in ipairs(list) do
    -- Resumed later: the reader must be closed before its waiter looks again.
    if cleanup(w) then
      local t = uv.new_timer()
      t:start(0, 0, function()
        t:close()
        step(w.co, nil, "a mailslot was closed while waited on", "closed")
      end)
    end
  end
  -- Its handle went with its last wait, while the descriptor was still the reader's.
end

--- Run `fn(...)` in a coroutine driven by the luv loop; it starts at once and
-- runs until its first wait. Drive the loop with `uv.run()`.
-- @tparam function fn
-- @treturn thread the coroutine
function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local co = coroutine.create(fn)
  loop.adopt(co)
  step(co, ...)
  return co
end

return M
