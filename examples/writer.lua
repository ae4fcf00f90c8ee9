-- The classic writer: open a mailslot that some reader created, and write to it.
--
-- Start examples/listener.lua (or `bin/mailslot listen examples/demo`) first, then:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' lua5.4 examples/writer.lua [NAME [MESSAGE...]]
local mailslot = require "mailslot"

local name = arg[1] or "examples\\demo"
local messages = { table.unpack(arg, 2) }
if #messages == 0 then messages = { "Hello, mailslot!", "Second message" } end

-- Opening fails with code "not_found" when no reader has created the mailslot.
local writer, err, code = mailslot.open(name)
if not writer then
  io.stderr:write(err, " [", code, "]\n")
  os.exit(1)
end

for _, msg in ipairs(messages) do
  -- Each write is one message; the reader gets exactly these bytes, never a part.
  local n, werr = writer:write(msg)
  if not n then
    io.stderr:write(werr, "\n")
    os.exit(1)
  end
  print(("wrote %d bytes to %s"):format(n, writer:name()))
end

writer:close()
