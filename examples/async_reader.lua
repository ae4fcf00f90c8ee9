-- Listen on a mailslot and print each message; a second task writes a few.
-- Run from the repository root:
--   lua5.4 -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path; package.cpath="build/?.so;"..package.cpath' \
--     examples/async_reader.lua
local mailslot = require "mailslot"
local loop = mailslot.loop

local name = arg and arg[1] or "examples\\async"
local listener = assert(mailslot.listen(name, function(msg, sender, l)
  print(("got %q from pid %s"):format(msg, sender and sender.pid or "?"))
  if msg == "bye" then l:close() end
end))

loop.spawn(function()
  local w = assert(mailslot.open(name))
  for _, m in ipairs({ "hello", "world", "bye" }) do
    assert(w:write(m))
    loop.sleep(0.1) -- the listener prints while this task sleeps
  end
end)

loop.run()
print(("%d message(s), %d handler error(s)"):format(listener.received, listener.errors))
