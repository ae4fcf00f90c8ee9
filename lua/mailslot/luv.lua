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

local polls = {}   -- reader -> { handle = uv poll, waits = { w = true } }
local waits = {}   -- open read waits: checked before each poll for messages
local nwaits = 0   --   already queued in user space (the fd does not show those)
local prepare

local handle_result

local function step(co, ...)
  return handle_result(co, coroutine.resume(co, ...))
end

local function close_timer(w)
  if w.timer then
    w.timer:stop()
    w.timer:close()
    w.timer = nil
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
    if nwaits == 0 and prepare then prepare:stop() end
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

local function pending_of(w)
  local got = {}
  for _, r in ipairs(w.readers) do
    local ok, t = pcall(r.timeout, r)
    if not ok then return nil end -- closed under us
    if t == 0 then got[#got + 1] = r end
  end
  return got
end

local function check_pending()
  local list = {}
  for w in pairs(waits) do list[#list + 1] = w end
  for _, w in ipairs(list) do
    if w.active then
      local got = pending_of(w)
      if not got then finish(w, nil, "a mailslot was closed while waited on", "closed")
      elseif #got > 0 then finish(w, got) end
    end
  end
end

-- libuv takes whole milliseconds; longer than this is as good as forever
-- (and math.ceil of a huge float is no integer, which timer:start refuses).
local MAX_MS = 2 ^ 31

-- `answer`, when given, makes what the timed-out wait returns, only if it fires.
local function start_timer(w, seconds, answer)
  local ms = math.ceil(seconds * 1000)
  if ms > MAX_MS then return end -- never fires: wait without a timer
  w.timer = uv.new_timer()
  w.timer:start(math.tointeger(ms) or ms, 0, function()
    if answer then finish(w, unpack(answer(), 1, 3)) else finish(w) end
  end)
end

local function wait_readers(w)
  waits[w] = true
  nwaits = nwaits + 1
  if not prepare then prepare = uv.new_prepare() end
  if nwaits == 1 then prepare:start(check_pending) end
  for _, r in ipairs(w.readers) do
    local p = polls[r]
    if not p then
      -- One poll handle per descriptor: libuv refuses two.
      p = { handle = uv.new_poll(r:pollfd()), waits = {} }
      polls[r] = p
      p.handle:start("r", function()
        local list = {}
        for x in pairs(p.waits) do list[#list + 1] = x end
        for _, x in ipairs(list) do finish(x, { r }) end
      end)
    end
    p.waits[w] = true
  end
end

local function request(co, op, a, b, c)
  if op == "read" then op, a = "wait", { a } end -- loop.read: a wait on one reader
  local w = { active = true, co = co, wake = wake }
  if op == "wait" then
    w.readers = a
    wait_readers(w)
    if c then c:_add(w) end
    if b then start_timer(w, b, function() return loop._timed_out(a) end) end
  elseif op == "sleep" then
    start_timer(w, a)
  elseif op == "park" then
    a:_add(w)
    if b then start_timer(w, b, false) end
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

-- loop.close(reader): end the waits on it before its descriptor goes.
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
