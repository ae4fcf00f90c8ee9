-- LuaSocket's unix datagram sockets on the benchmark's protocol (see raw.c).
-- LuaSocket cannot bind abstract names, so it uses a socket file in /tmp.
local unix = require "socket.unix"
local gettime = require("socket").gettime
local mode, name, count, size = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local path = "/tmp/bench-luasocket-" .. name

if mode == "recv" then
  os.remove(path)
  local s = assert(unix.dgram())
  assert(s:bind(path))
  io.write("ready\n"); io.flush()
  assert(s:receive(1 << 20))
  local start, cpu = gettime(), os.clock()
  for _ = 2, count do assert(s:receive(1 << 20)) end
  io.write(("%.6f %.6f\n"):format(gettime() - start, os.clock() - cpu))
  os.remove(path)
else
  local s = assert(unix.dgram())
  assert(s:connect(path))
  local msg = ("x"):rep(size)
  for _ = 1, count do assert(s:send(msg)) end
end
