-- Scale curves: what one message costs as idle readers pile up in the process,
-- and what idle readers cost in memory. Run by bench/run.lua in a process of
-- its own:
--   lua5.4 bench/scale.lua wait N ROUNDS   ms per message: mailslot.wait over N readers
--   lua5.4 bench/scale.lua loop N ROUNDS   ms per message: N tasks each in loop.read
--   lua5.4 bench/scale.lua memory N        KiB of RSS and of address space per reader
-- Each prints one number (memory: two).
local mailslot = require "mailslot"
local now = require("mailslot.core").monotime
local mode, n, rounds = arg[1], tonumber(arg[2]), tonumber(arg[3]) or 200
local stem = ("bench\\scale-%d-%d-"):format(os.time(), math.random(1, 1e9))

local function status_kib(field)
  local f = assert(io.open("/proc/self/status"))
  local kib = tonumber(f:read("a"):match(field .. ":%s*(%d+) kB"))
  f:close()
  return kib
end

local function make_readers(count)
  local readers = {}
  for i = 1, count do readers[i] = assert(mailslot.create(stem .. i)) end
  return readers
end

if mode == "memory" then
  collectgarbage()
  local rss, vm = status_kib("VmRSS"), status_kib("VmSize")
  local readers = make_readers(n)
  collectgarbage()
  print(("%.1f %.1f"):format((status_kib("VmRSS") - rss) / n, (status_kib("VmSize") - vm) / n))
  for _, r in ipairs(readers) do r:close() end
elseif mode == "wait" then
  local readers = make_readers(n)
  local target = readers[n // 2 + 1]
  local w = assert(mailslot.open(target:name()))
  local start = now()
  for _ = 1, rounds do
    assert(w:write("x"))
    local ready = assert(mailslot.wait(readers, 10))
    assert(ready[1] == target and target:read(0))
  end
  print(("%.4f"):format((now() - start) * 1000 / rounds))
elseif mode == "loop" then
  local loop = require "mailslot.loop"
  local readers = make_readers(n)
  local target = readers[n // 2 + 1]
  local got, start = 0, nil
  for _, r in ipairs(readers) do
    loop.spawn(function()
      while loop.read(r, 60) do
        got = got + 1
        if got == rounds then loop.default():stop() end
      end
    end)
  end
  local w = assert(mailslot.open(target:name()))
  loop.spawn(function()
    loop.pass() -- every reader task is in its wait first
    start = now()
    for _ = 1, rounds do
      assert(w:write("x"))
      local seen = got
      while got == seen do loop.pass() end
    end
  end)
  loop.run(120)
  print(("%.4f"):format((now() - start) * 1000 / rounds))
  for _, r in ipairs(readers) do r:close() end
end
