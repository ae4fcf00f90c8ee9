--- Windows mailslots for Lua 5.4: many writers, one reader, whole messages.
-- The public module: the C core's functions, plus the pure-Lua helpers.
-- @module mailslot
local core = require "mailslot.core"

local mailslot = {}
for name, fn in pairs(core) do mailslot[name] = fn end

mailslot._VERSION = "0.1.0"

return mailslot
