-- The classic listener: create a mailslot and print every message sent to it.
--
-- Run from the repository root (after `bash scripts/build`), then write to it
-- from another terminal with examples/writer.lua or `bin/mailslot send`:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' lua5.4 examples/listener.lua [NAME [COUNT]]
local mailslot = require "mailslot"

local name = arg[1] or "examples\\demo"  -- the same as "\\.\mailslot\examples\demo"
local count = tonumber(arg[2])           -- stop after this many messages (nil: never)

-- Creating a mailslot makes this process its one reader ("mailslot server").
-- A second create of the same name, here or elsewhere, fails with "exists".
-- It takes messages from this machine; `{ network = true }` would also take
-- those that `mailslot serve` receives from other hosts.
local slot, err = mailslot.create(name)
if not slot then
  io.stderr:write(err, "\n")
  os.exit(1)
end
print("listening on " .. slot:name())
io.stdout:flush()

local received = 0
while not count or received < count do
  -- read() waits for one whole message: what a writer wrote in one write.
  local msg = assert(slot:read())
  local from = slot:sender()             -- who wrote it: pid and uid on this machine
  received = received + 1
  print(("message %d from pid %s: %q"):format(received, from and from.pid or "?", msg))
  io.stdout:flush()
end

-- Closing the reader removes the mailslot; unread messages are discarded.
slot:close()
