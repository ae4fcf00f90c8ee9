--- Instructions per message of a reader mode of peer_mailslot.lua, counted by
-- callgrind (deterministic where wall time on a shared machine is not).
--
--   lua5.4 bench/instructions.lua MODE [N]      (from the top directory, after scripts/build)
--
-- MODE: a reader mode of peer_mailslot.lua (recvt, loop, cqueues, luv...).
-- Two figures: "woken", a read that finds nothing and waits until the message
-- comes (this process writes the next message only once the reader sleeps in
-- the kernel again); "waiting", a read that finds a message already there
-- (from batches written while the reader is stopped: a batch costs one woken
-- read and the rest waiting ones). Each is the difference of two callgrind
-- runs, of N and 3N batches (N default 200), so start-up and module loading
-- cancel out. Also printed: the epoll waits per woken message and per batch
-- (cqueues counts its nested pollers'). Linux only: it watches the reader
-- through /proc. INSTRUCTIONS_KEEP=1 keeps callgrind's files (for
-- callgrind_annotate) and prints their names.
local mailslot = require "mailslot"
local core = require "mailslot.core"

local mode, n = arg[1], tonumber(arg[2]) or 200
assert(mode, "usage: lua5.4 bench/instructions.lua MODE [N]")
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local env = 'LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;" '

local function slurp(file)
  local f = io.open(file)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- The system calls in which a reader sleeps waiting for a message (x86_64
-- numbers): recvfrom, recvmsg, poll, select, epoll_wait, ppoll, pselect6, epoll_pwait.
local SLEEPS = { [45] = true, [47] = true, [7] = true, [23] = true, [232] = true, [271] = true,
                 [270] = true, [281] = true, [441] = true }

local function sleeps_of(pid)
  return tonumber(slurp("/proc/" .. pid .. "/status"):match("voluntary_ctxt_switches:%s*(%d+)"))
end

-- True when the reader sleeps in a waiting system call now.
local function asleep(pid)
  local nr = (slurp("/proc/" .. pid .. "/syscall") or ""):match("^(%d+)")
  local state = (slurp("/proc/" .. pid .. "/stat") or ""):match("^%d+ %b() (%a)")
  return nr and SLEEPS[tonumber(nr)] and state == "S"
end

-- Waits (bounded) until the reader went to sleep in a wait after `before` sleeps.
local function until_asleep(pid, before)
  local deadline = core.monotime() + 60
  while not (asleep(pid) and sleeps_of(pid) > before) do
    assert(core.monotime() < deadline, "the reader did not go back to waiting within 60 s")
    core.wait({}, 0.0002)
  end
end

-- Totals and the calls to the kernel's waits from a callgrind output file.
local function parse(file)
  local text = assert(slurp(file), "no callgrind output " .. file)
  local total = tonumber(text:match("\nsummary:%s*(%d+)") or text:match("\ntotals:%s*(%d+)"))
  local names, waits, pending = {}, 0, false
  for line in text:gmatch("[^\n]+") do
    local key, id, name = line:match("^(c?fn)=%((%d+)%)%s*(%S*)")
    if name and name ~= "" then names[id] = name end
    if key == "cfn" then
      pending = names[id] and names[id]:match("^epoll_p?wait$") ~= nil
    elseif pending then
      local calls = line:match("^calls=(%d+)")
      if calls then waits = waits + tonumber(calls) end
      pending = false
    end
  end
  return total, waits
end

local KEEP = os.getenv("INSTRUCTIONS_KEEP") == "1" -- keep callgrind's files for callgrind_annotate
local BATCH = 10 -- the datagrams a socket queues at most (net.unix.max_dgram_qlen's default)

local run_id = 0
-- Callgrind's total and epoll waits for a reader taking `batches` batches of `per` messages.
local function run(batches, per)
  run_id = run_id + 1
  local name = ("instr-%d-%d-%d"):format(os.time(), math.random(1, 1e6), run_id)
  local out = os.tmpname()
  local p = assert(io.popen(("sh -c 'echo $$; exec env %s valgrind -q --tool=callgrind " ..
    "--callgrind-out-file=%s lua5.4 %s/peer_mailslot.lua %s %s %d'"):format(env, out, here, mode,
    name, batches * per)))
  local pid = tonumber(p:read("l"))
  assert(p:read("l") == "ready", "the reader did not start")
  local w = assert(mailslot.open("bench\\" .. name))
  local msg = ("x"):rep(64)
  local before = -1
  for _ = 1, batches do
    until_asleep(pid, before) -- back to waiting after the last batch
    -- Stopped, it cannot take the first message before the last is queued.
    if per > 1 then assert(os.execute("kill -STOP " .. pid)) end
    before = sleeps_of(pid)
    for _ = 1, per do assert(w:write(msg)) end
    if per > 1 then assert(os.execute("kill -CONT " .. pid)) end
  end
  assert(p:read("l"), "the reader failed")
  p:close()
  w:close()
  local total, waits = parse(out)
  if KEEP then io.stderr:write("kept ", out, "\n") else os.remove(out) end
  return total, waits
end

-- Instructions and epoll waits per batch: runs of n and 3n batches, the difference over 2n.
local function per_batch(per)
  local t1, w1 = run(n, per)
  local t2, w2 = run(3 * n, per)
  return (t2 - t1) / (2 * n), (w2 - w1) / (2 * n)
end

local woken, woken_waits = per_batch(1)
local batch, batch_waits = per_batch(BATCH)
print(("%-8s woken %7.0f instructions/message (%.2f epoll waits), waiting %6.0f " ..
  "instructions/message (batches of %d: %.0f, %.2f epoll waits)"):format(mode, woken, woken_waits,
  (batch - woken) / (BATCH - 1), BATCH, batch, batch_waits))
