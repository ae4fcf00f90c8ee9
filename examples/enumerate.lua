-- The classic enumerator: list the mailslots that exist on this machine.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' lua5.4 examples/enumerate.lua
local mailslot = require "mailslot"

-- list() gives the full name of every mailslot that has a reader right now.
local names = assert(mailslot.list())
table.sort(names)
for _, name in ipairs(names) do
  -- parse() splits a name into its parts: kind ("local" here), host and path.
  print(name, "path: " .. mailslot.parse(name).path)
end
print(#names .. " mailslot(s)")
