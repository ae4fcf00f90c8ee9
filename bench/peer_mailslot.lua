-- This module's side of the benchmark (same protocol as raw.c):
--   lua5.4 peer_mailslot.lua MODE NAME COUNT         a reader: prints "ready", then the
--                                                    seconds from its first message to its last
--                                                    and the CPU seconds it used meanwhile
--   lua5.4 peer_mailslot.lua send|sendmany NAME COUNT SIZE
--   lua5.4 peer_mailslot.lua lrecv NAME COUNT        latency: prints "median p99" in seconds
--   lua5.4 peer_mailslot.lua lsend NAME COUNT SIZE   one timestamped message at a time
--   lua5.4 peer_mailslot.lua nsend NAME COUNT SIZE   network writer to \\127.0.0.1\mailslot\NAME
--                                                    (port MAILSLOT_PORT): prints its seconds
-- Reader modes: recv reads with read() (no timeout), recvt with read(10) as most
-- scripts do, recvmany with readmany; loop, cqueues and luv call loop.read(r, 10)
-- in a task of the built-in loop, a cqueues controller and a libuv loop.
-- The *many modes use readmany/writemany (recvmmsg/sendmmsg, 64 at a time),
-- with a reader of max_size 64 KiB.
local mailslot = require "mailslot"
local now = require("mailslot.core").monotime
local mode, name, count, size = arg[1], "bench\\" .. arg[2], tonumber(arg[3]), tonumber(arg[4])
local BATCH = 64

-- Each reader mode: a function(r) that takes `count` messages and returns the seconds
-- from the first to the last, and the CPU seconds (os.clock) the process used
-- meanwhile. The loops call the read directly, as the LuaSocket peer calls
-- receive: a helper function per message would be the benchmark's cost.
local function in_loop_task(run)
  return function(r)
    local read = require("mailslot.loop").read
    local seconds, cpu
    run(function()
      assert(read(r, 10))
      local start, cpu_start = now(), os.clock()
      for _ = 2, count do assert(read(r, 10)) end
      seconds, cpu = now() - start, os.clock() - cpu_start
    end)
    return assert(seconds, "the loop ended before its task"), cpu
  end
end

local readers = {
  recv = function(r)
    assert(r:read())
    local start, cpu = now(), os.clock()
    for _ = 2, count do assert(r:read()) end
    return now() - start, os.clock() - cpu
  end,
  recvt = function(r)
    assert(r:read(10))
    local start, cpu = now(), os.clock()
    for _ = 2, count do assert(r:read(10)) end
    return now() - start, os.clock() - cpu
  end,
  recvmany = function(r)
    local got = #assert(r:readmany(BATCH))
    local start, cpu = now(), os.clock()
    while got < count do got = got + #assert(r:readmany(BATCH)) end
    return now() - start, os.clock() - cpu
  end,
  loop = in_loop_task(function(task)
    local loop = require "mailslot.loop"
    loop.spawn(task)
    assert(loop.run())
  end),
  cqueues = in_loop_task(function(task)
    local cq = require("cqueues").new()
    cq:wrap(task)
    assert(cq:loop())
  end),
  luv = in_loop_task(function(task)
    require("mailslot.luv").spawn(task)
    require("luv").run()
  end),
}

if readers[mode] then
  -- readmany batches as many messages as buffers of the largest one fit in
  -- 4 MiB: a reader that says how large its messages get (max_size) batches.
  local r = assert(mailslot.create(name, mode == "recvmany" and { max_size = 65536 } or nil))
  io.write("ready\n"); io.flush()
  io.write(("%.6f %.6f\n"):format(readers[mode](r)))
elseif mode == "lrecv" then
  local r = assert(mailslot.create(name))
  io.write("ready\n"); io.flush()
  local lat = {}
  for i = 1, count do
    local msg = assert(r:read(10))
    lat[i] = now() - string.unpack("d", msg)
  end
  table.sort(lat)
  io.write(("%.9f %.9f\n"):format(lat[(count + 1) // 2], lat[math.ceil(count * 0.99)]))
elseif mode == "nsend" then
  local w = assert(mailslot.open("\\\\127.0.0.1\\mailslot\\" .. name))
  local msg = ("x"):rep(size)
  local start = now()
  for _ = 1, count do assert(w:write(msg)) end
  io.write(("%.6f\n"):format(now() - start))
elseif mode == "lsend" then
  local w = assert(mailslot.open(name))
  local pad = ("x"):rep(math.max(0, size - 8))
  for _ = 1, count do
    assert(w:write(string.pack("d", now()) .. pad))
    mailslot.wait({}, 0.001) -- the slot is idle again before the next one (raw.c waits as long)
  end
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
