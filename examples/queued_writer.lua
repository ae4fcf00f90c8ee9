-- Queue messages for a mailslot that has no reader yet; a reader appears later
-- and gets them, high priority first.
-- Run from the repository root:
--   lua5.4 -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path; package.cpath="build/?.so;"..package.cpath' \
--     examples/queued_writer.lua
local mailslot = require "mailslot"
local loop = mailslot.loop

local name = arg and arg[1] or "examples\\queued"
local q = mailslot.queued(name, { max = 10, policy = "drop_oldest" })
q:write("routine 1")
q:write("routine 2")
q:write("urgent", "high")

loop.spawn(function()
  loop.sleep(0.3) -- meanwhile the queue retries with backoff
  local r = assert(mailslot.create(name))
  for _ = 1, 3 do print(assert(loop.read(r, 5))) end
  r:close()
end)

loop.spawn(function()
  assert(q:flush(5))
  local s = q:stats()
  print(("sent %d, failed attempts %d, dropped %d"):format(s.sent, s.failed, s.dropped))
  q:close()
end)

loop.run()
