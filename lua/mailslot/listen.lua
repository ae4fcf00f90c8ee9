--- The asynchronous reader: `mailslot.listen(name, handler)` calls
-- `handler(msg, sender, listener)` for each message, from a task of a loop.
-- A handler that raises does not stop the listener: the error is reported
-- (to `on_error`, by default a line on stderr) and counted.
--
--     local l = assert(mailslot.listen("app\\events", function(msg, from)
--       print(#msg, from and from.pid)
--     end))
--     mailslot.loop.run()
--
-- @module mailslot.listen

local core = require "mailslot.core"
local loop = require "mailslot.loop"

local M = {}

local CREATE_OPTIONS = { max_size = true, allow = true, network = true, dir = true }
local OWN_OPTIONS = { loop = true, spawn = true, on_error = true }

local Listener = {}
Listener.__index = Listener

local function option_error(message)
  error("bad argument #3 to 'listen' (" .. message .. ")", 3)
end

local function report(err, listener)
  io.stderr:write("mailslot.listen: handler for ", tostring(listener.name), " raised: ", tostring(err), "\n")
end

--- Listen on a mailslot.
-- @tparam string|userdata name a slot name (a reader is created and owned by
--   the listener), or an open reader (closed by `close` as well)
-- @tparam function handler `handler(msg, sender, listener)`; `sender` as `reader:sender()`
-- @tparam[opt] table opts `max_size`, `allow`, `network`, `dir` (for `mailslot.create`);
--   `loop` (a `mailslot.loop` loop, default the default loop) or `spawn`
--   (a function that runs a function in a coroutine of another driver, e.g.
--   `mailslot.luv.spawn` or `function(f) cq:wrap(f) end`); `on_error(err, listener)`
-- @return the listener: fields `reader`, `name`, `received`, `errors`; method `close()`
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code, as `mailslot.create` returns them
-- @raise on wrong types or unknown options
function M.listen(name, handler, opts)
  if type(name) ~= "string" and type(name) ~= "userdata" then
    error("bad argument #1 to 'listen' (string or mailslot reader expected, got " .. type(name) .. ")", 2)
  end
  if type(handler) ~= "function" then
    error("bad argument #2 to 'listen' (function expected, got " .. type(handler) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then option_error("table expected, got " .. type(opts)) end
  opts = opts or {}
  local create_opts = {}
  for k, v in pairs(opts) do
    if CREATE_OPTIONS[k] then create_opts[k] = v
    elseif not OWN_OPTIONS[k] then option_error("unknown option '" .. tostring(k) .. "'") end
  end
  local problem = loop.run_options_problem(opts)
  if problem then option_error(problem) end
  if type(name) == "userdata" and next(create_opts) then
    option_error("max_size, allow, network and dir apply only when listen creates the reader")
  end

  local reader = name
  if type(name) == "string" then
    local r, err, code = core.create(name, create_opts)
    if not r then return nil, err, code end
    reader = r
  end
  local self = setmetatable({
    reader = reader, name = reader:name(), received = 0, errors = 0,
    closed = false, waiting = false, wake = loop.condition(),
    handler = handler, on_error = opts.on_error or report,
  }, Listener)
  local body = function() self:_run() end
  if opts.spawn then opts.spawn(body) else (opts.loop or loop.default()):spawn(body) end
  return self
end

function Listener:_run()
  local reader = self.reader
  while not self.closed do
    self.waiting = true
    loop.wait({ reader }, nil, self.wake)
    self.waiting = false
    while not self.closed do
      local msg, err, code = reader:read(0)
      if not msg then
        if code ~= "timeout" then self.errors = self.errors + 1; self.on_error(err, self) end
        break
      end
      self.received = self.received + 1
      local ok, herr = xpcall(self.handler, debug.traceback, msg, reader:sender(), self)
      if not ok then
        self.errors = self.errors + 1
        self.on_error(herr, self)
      end
    end
  end
  loop.close(reader)
end

--- Stop listening and close the reader. Safe to call twice, and from the handler.
function Listener:close()
  if self.closed then return true end
  self.closed = true
  -- Close at once (the loop may not be running): loop.close tells the drivers
  -- that poll the descriptor and ends the waits on it; the signal wakes the
  -- task, which finds the listener closed and ends.
  loop.close(self.reader)
  if self.waiting then self.wake:signal() end
  return true
end

return M
