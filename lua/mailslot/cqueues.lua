--- The cqueues driver of `mailslot.loop`: how the waiting functions wait when
-- they run in the coroutine of a cqueues controller. Nothing to call here:
-- `mailslot.loop` picks it by itself. Readers follow cqueues' pollable
-- protocol (`pollfd`, `events`, `timeout`), so cqueues polls them directly.
-- @module mailslot.cqueues

local cqueues = require "cqueues"
local condition = require "cqueues.condition"
local core = require "mailslot.core"

local M = {}

local unpack = table.unpack

-- The cqueues condition standing for one of ours, made on first use.
local function cq_condition(cond)
  if not cond.cq then cond.cq = condition.new() end
  return cond.cq
end

--- Wait for readers (and a condition) as `mailslot.loop.wait` does.
function M.wait(readers, timeout, cond)
  local args = { unpack(readers) }
  local cc = cond and cq_condition(cond)
  if cc then args[#args + 1] = cc end
  if timeout then args[#args + 1] = timeout end
  local got = { cqueues.poll(unpack(args)) }
  -- loop.close cancels a closed reader's poll, which then returns the reader.
  for _, r in ipairs(readers) do
    if not pcall(r.timeout, r) then return nil, "a mailslot was closed while waited on", "closed" end
  end
  local ready, signalled = {}, false
  for _, obj in ipairs(got) do
    if obj == cc then signalled = true
    elseif type(obj) ~= "number" then ready[#ready + 1] = obj end
  end
  if #ready == 0 and not signalled then
    return nil, core.wait_timeout_message(readers), "timeout"
  end
  return ready
end

--- Wait for one reader for `mailslot.loop.read`, which reads again whatever
-- this returns: no lists to build.
function M.read(reader, timeout)
  if timeout then cqueues.poll(reader, timeout) else cqueues.poll(reader) end
end

--- Sleep as `mailslot.loop.sleep` does.
function M.sleep(seconds)
  cqueues.sleep(seconds)
end

--- Wait on one of `mailslot.loop`'s conditions.
function M.park(cond, timeout)
  return cq_condition(cond):wait(timeout) == true
end

--- Let the controller run its other coroutines.
function M.pass()
  cqueues.sleep(0)
end

return M
