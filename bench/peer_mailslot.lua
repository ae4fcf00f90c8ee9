-- This module's side of the benchmark (same protocol as raw.c):
--   lua5.4 peer_mailslot.lua recv|recvt|recvmany NAME COUNT
--   lua5.4 peer_mailslot.lua send|sendmany NAME COUNT SIZE
-- recv reads with read() (no timeout), recvt with read(10), as most scripts do.
-- The *many modes use readmany/writemany (recvmmsg/sendmmsg, 64 at a time).
local mailslot = require "mailslot"
local gettime = require("socket").gettime
local mode, name, count, size = arg[1], "bench\\" .. arg[2], tonumber(arg[3]), tonumber(arg[4])
local BATCH = 64

if mode == "recv" or mode == "recvt" or mode == "recvmany" then
  local r = assert(mailslot.create(name))
  io.write("ready\n"); io.flush()
  local got, start
  if mode == "recv" then
    assert(r:read())
    start = gettime()
    for _ = 2, count do assert(r:read()) end
  elseif mode == "recvt" then
    assert(r:read(10))
    start = gettime()
    for _ = 2, count do assert(r:read(10)) end
  else
    got = #assert(r:readmany(BATCH))
    start = gettime()
    while got < count do got = got + #assert(r:readmany(BATCH)) end
  end
  io.write(("%.6f\n"):format(gettime() - start))
else
  local w = assert(mailslot.open(name))
  local msg = ("x"):rep(size)
  if mode == "send" then
    for _ = 1, count do assert(w:write(msg)) end
  else
    local batch = {}
    for i = 1, BATCH do batch[i] = msg end
    for _ = 1, count // BATCH do assert(w:writemany(batch)) end
    for _ = 1, count % BATCH do assert(w:write(msg)) end
  end
end
