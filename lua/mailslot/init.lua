--- Windows mailslots for Lua 5.4: many writers, one reader, whole messages.
-- The public module: the C core's functions, plus pure-Lua helpers that load
-- on first use (requiring "mailslot" costs only the core).
-- @module mailslot
local core = require "mailslot.core"

local mailslot = { _VERSION = "0.1.0" }
for name, fn in pairs(core) do mailslot[name] = fn end

-- name in this table = { module, field } (field nil: the module itself).
-- Each helper module adds its line here.
local lazy = {
  codec = { "mailslot.codec" },
  frame = { "mailslot.frame" },
  crc32 = { "mailslot.crc32" },
  loop = { "mailslot.loop" },
  listen = { "mailslot.listen", "listen" },
  queued = { "mailslot.queue", "new" },
  network = { "mailslot.net.config" },
}

-- Remote and broadcast names go over the network (mailslot.net.send) on
-- POSIX; the Windows core handles them natively.
if package.config:sub(1, 1) ~= "\\" then
  local open = core.open
  function mailslot.open(name, opts)
    local parsed = type(name) == "string" and core.parse(name)
    if parsed and parsed.kind ~= "local" then
      return require("mailslot.net.send").open(parsed, opts)
    end
    -- Not a tail call: the core's argument errors then name 'open' and the
    -- caller's line, as when the core is called directly.
    local w, err, code = open(name, opts)
    return w, err, code
  end
end

return setmetatable(mailslot, {
  __index = function(t, key)
    local where = lazy[key]
    if not where then return nil end
    local mod = require(where[1])
    local value = where[2] and mod[where[2]] or mod
    rawset(t, key, value)
    return value
  end,
})
