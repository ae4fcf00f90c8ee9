-- This module's side of the benchmark (same protocol as raw.c):
--   lua5.4 peer_mailslot.lua recv NAME COUNT
--   lua5.4 peer_mailslot.lua send NAME COUNT SIZE
local mailslot = require "mailslot"
local gettime = require("socket").gettime
local mode, name, count, size = arg[1], "bench\\" .. arg[2], tonumber(arg[3]), tonumber(arg[4])

if mode == "recv" then
  local r = assert(mailslot.create(name))
  io.write("ready\n"); io.flush()
  assert(r:read())
  local start = gettime()
  for _ = 2, count do assert(r:read()) end
  io.write(("%.6f\n"):format(gettime() - start))
else
  local w = assert(mailslot.open(name))
  local msg = ("x"):rep(size)
  for _ = 1, count do assert(w:write(msg)) end
end
