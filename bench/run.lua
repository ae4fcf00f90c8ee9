--- The benchmark: this module beside its references in one run, with the ratios.
-- Throughput (messages per second, Lua writer to Lua reader) with read() and
-- read(t), batches, a raw C AF_UNIX datagram loop and LuaSocket's unix
-- datagram sockets; loop.read in the built-in loop, cqueues and luv against
-- plain read(t); one-way latency against raw C; network send against a raw
-- C UDP sendto loop of datagrams of the same size; and the scale curves. Each
-- figure is the median of REPEAT runs, timed by the reader from its first
-- message to its last, so process start-up is not counted.
-- Run it with `bash bench/run` (it builds first); BENCH_QUICK=1 for a short run.
local QUICK = os.getenv("BENCH_QUICK") == "1"
local REPEAT = tonumber(os.getenv("BENCH_REPEAT")) or (QUICK and 1 or 3)
local SCALE = tonumber(os.getenv("BENCH_SCALE")) or (QUICK and 0.2 or 1)

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local lua = "lua5.4"
local mine = lua .. " " .. here .. "/peer_mailslot.lua"
local raw = here .. "/../build/bench/raw"
local peers = {
  { label = "read()", cmd = mine, recv = "recv", send = "send" },
  { label = "read(t)", cmd = mine, recv = "recvt", send = "send" },
  { label = "batch", cmd = mine, recv = "recvmany", send = "sendmany" },
  { label = "raw C", cmd = raw },
  -- The module's own system calls and copy, in C: the floor a Lua binding stands on.
  { label = "C like", cmd = raw, recv = "wrecv", send = "wsend" },
  { label = "LuaSocket", cmd = lua .. " " .. here .. "/peer_luasocket.lua" },
}
local cases = {
  { size = 64, count = 400000 }, { size = 4096, count = 200000 }, { size = 65536, count = 20000 },
}

local run_id = 0
--- One run: the reader's output line for `count` messages from `writers` processes.
local function run_once(cmd, recv, send, size, count, writers)
  run_id = run_id + 1
  local name = ("b%d-%d-%d"):format(os.time(), math.random(1, 1e6), run_id)
  count = count - count % writers
  local reader = assert(io.popen(("%s %s %s %d"):format(cmd, recv, name, count)))
  assert(reader:read("l") == "ready", cmd .. " reader did not start")
  local senders = {}
  for i = 1, writers do
    senders[i] = assert(io.popen(("%s %s %s %d %d"):format(cmd, send, name, count // writers, size)))
  end
  local line = reader:read("l")
  assert(reader:close() and line, cmd .. " " .. recv .. " reader failed")
  for _, s in ipairs(senders) do assert(s:close(), cmd .. " writer failed") end
  return line
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

--- Messages per second of one run, and the reader's CPU microseconds per message.
local function rate_once(cmd, recv, send, size, count, writers)
  count = math.max(writers, math.floor(count * SCALE))
  count = count - count % writers
  local line = run_once(cmd, recv or "recv", send or "send", size, count, writers)
  local seconds, cpu = line:match("^(%S+) (%S+)$")
  assert(seconds, cmd .. " " .. tostring(recv) .. " printed " .. line)
  return count / tonumber(seconds), tonumber(cpu) * 1e6 / (count - 1)
end

--- Messages per second of each peer, the median of REPEAT runs. The peers take
--- turns (a round runs each once, each round in another order), so a noisy
--- minute on a shared machine slows all of them, not one.
local function rates(list, size, count, writers)
  local runs, cpus = {}, {}
  for _, p in ipairs(list) do runs[p.label], cpus[p.label] = {}, {} end
  for round = 1, REPEAT do
    for k = 1, #list do
      local p = list[(k + round - 2) % #list + 1]
      local t, c = runs[p.label], cpus[p.label]
      t[#t + 1], c[#c + 1] = rate_once(p.cmd, p.recv, p.send, size, count, writers)
    end
  end
  local r, cpu = {}, {}
  for label, t in pairs(runs) do r[label], cpu[label] = median(t), median(cpus[label]) end
  return r, cpu
end

local function fmt(n) return ("%10.0f"):format(n) end
local function ratio(a, b) return ("%8.2fx"):format(a / b) end

print(("bench: %s, REPEAT=%d, SCALE=%g"):format(QUICK and "quick" or "full", REPEAT, SCALE))
print("\n## Throughput (messages/s; ratios against raw C and LuaSocket)")
print("(C like: C making the module's system calls and its copy of each message)")
print(("%-6s %-3s %10s %10s %10s %10s %10s %10s %9s %9s %9s %9s %9s"):format("size", "wr", "read()",
  "read(t)", "batch", "raw C", "C like", "LuaSocket", "read/raw", "rdt/raw", "rdt/LuaS", "batch/raw",
  "rdt/Clike"))
local cpu_rows = {}
for _, case in ipairs(cases) do
  for _, writers in ipairs({ 1, 4 }) do
    local r, cpu = rates(peers, case.size, case.count, writers)
    cpu_rows[#cpu_rows + 1] = { case.size, writers, cpu }
    print(("%-6d %-3d %s %s %s %s %s %s %s %s %s %s %s"):format(case.size, writers, fmt(r["read()"]),
      fmt(r["read(t)"]), fmt(r.batch), fmt(r["raw C"]), fmt(r["C like"]), fmt(r.LuaSocket),
      ratio(r["read()"], r["raw C"]), ratio(r["read(t)"], r["raw C"]), ratio(r["read(t)"], r.LuaSocket),
      ratio(r.batch, r["raw C"]), ratio(r["read(t)"], r["C like"])))
  end
end

print("\n## Reader CPU time per message (microseconds, user and system; same runs)")
print("(what the reader's own path costs, whichever side of the pair was the slower)")
print(("%-6s %-3s %8s %8s %8s %8s %8s %9s %9s %9s %9s"):format("size", "wr", "read()", "read(t)", "batch",
  "raw C", "C like", "LuaSocket", "rdt/raw", "rdt/Clike", "rdt/LuaS"))
for _, row in ipairs(cpu_rows) do
  local c = row[3]
  local function us(label) return ("%8.2f"):format(c[label]) end
  -- a ratio above 1 means this module's reader spends less CPU per message
  print(("%-6d %-3d %s %s %s %s %s %9.2f %8.2fx %8.2fx %8.2fx"):format(row[1], row[2], us("read()"),
    us("read(t)"), us("batch"), us("raw C"), us("C like"), c.LuaSocket, c["raw C"] / c["read(t)"],
    c["C like"] / c["read(t)"], c.LuaSocket / c["read(t)"]))
end

print("\n## Loop adapters (64 B, one writer; loop.read(r, 10) against plain read(10))")
do
  local list = { { label = "read(t)", cmd = mine, recv = "recvt" } }
  for _, mode in ipairs({ "loop", "cqueues", "luv" }) do
    local ok, why = pcall(rate_once, mine, mode, "send", 64, 1000, 1) -- is its library installed?
    if ok then list[#list + 1] = { label = mode, cmd = mine, recv = mode }
    else print(("%-10s %10s (%s)"):format(mode, "-", tostring(why):match("[^\n]*"))) end
  end
  local r = rates(list, 64, 200000, 1)
  local base = r["read(t)"]
  print(("%-10s %10s %9s"):format("reader", "msg/s", "vs read(t)"))
  for _, p in ipairs(list) do print(("%-10s %s %s"):format(p.label, fmt(r[p.label]), ratio(r[p.label], base))) end
end

print("\n## Latency (64 B, one message at a time to an idle reader; seconds)")
do
  local count = QUICK and 500 or 2000
  local med, p99 = { [mine] = {}, [raw] = {} }, { [mine] = {}, [raw] = {} }
  for i = 1, REPEAT do -- taking turns, as the throughput peers do
    for _, cmd in ipairs(i % 2 == 1 and { mine, raw } or { raw, mine }) do
      local m, p = run_once(cmd, "lrecv", "lsend", 64, count, 1):match("(%S+) (%S+)")
      med[cmd][i], p99[cmd][i] = tonumber(m), tonumber(p)
    end
  end
  local mm, mp = median(med[mine]), median(p99[mine])
  local rm, rp = median(med[raw]), median(p99[raw])
  print(("%-10s %12s %12s"):format("", "median", "p99"))
  print(("%-10s %12.6f %12.6f"):format("mailslot", mm, mp))
  print(("%-10s %12.6f %12.6f"):format("raw C", rm, rp))
  print(("%-10s %11.2fx %11.2fx"):format("ratio", mm / rm, mp / rp))
end

print("\n## Network send (unicast to 127.0.0.1, the same datagrams; messages/s)")
do
  local port = 20000 + math.random(0, 9999)
  local count = math.floor((QUICK and 20000 or 100000) * (QUICK and 1 or SCALE))
  local env = ("MAILSLOT_PORT=%d "):format(port)
  print(("%-6s %10s %10s %9s"):format("size", "mailslot", "raw C", "vs raw C"))
  for _, size in ipairs({ 64, 400 }) do
    local mine_runs, raw_runs = {}, {}
    for i = 1, REPEAT do
      local sink = assert(io.popen(("%s udpsink %d"):format(raw, port)))
      assert(sink:read("l") == "ready", "the UDP sink did not start")
      local sender = assert(io.popen(("%s%s nsend nbench %d %d"):format(env, mine, count, size)))
      local datagram = tonumber(sink:read("l")) -- the size mailslot's datagrams have on the wire
      mine_runs[i] = count / tonumber(sender:read("l"))
      assert(sender:close(), "the network writer failed")
      local r = assert(io.popen(("%s udpsend %d %d %d"):format(raw, port, count, datagram)))
      raw_runs[i] = count / tonumber(r:read("l"))
      assert(r:close(), "raw udpsend failed")
      sink:close()
    end
    local m, r = median(mine_runs), median(raw_runs)
    print(("%-6d %s %s %s"):format(size, fmt(m), fmt(r), ratio(m, r)))
  end
end

print("\n## Scale (cost per message as idle readers pile up; memory per idle reader)")
do
  local scale = lua .. " " .. here .. "/scale.lua"
  local function one(args)
    local p = assert(io.popen(scale .. " " .. args))
    local out = p:read("a")
    assert(p:close(), "scale.lua " .. args .. " failed")
    return out:match("^%s*(.-)%s*$")
  end
  local sizes = QUICK and { 10, 1000 } or { 10, 1000, 5000 }
  print(("%-8s %16s %16s"):format("readers", "wait ms/msg", "loop ms/msg"))
  for _, n in ipairs(sizes) do
    local rounds = QUICK and 50 or 200
    print(("%-8d %16s %16s"):format(n, one(("wait %d %d"):format(n, rounds)),
      one(("loop %d %d"):format(n, rounds))))
  end
  local rss, vm = one("memory 1000"):match("(%S+) (%S+)")
  print(("idle reader: %s KiB resident, %s KiB address space (1000 readers)"):format(rss, vm))
  local f = io.open(here .. "/scale_open.lua")
  if f then -- the open-vs-sockets-on-the-machine curve, when bench/scale_open.lua exists
    f:close()
    local quick = QUICK and "SCALE_OPEN_COUNTS=0,8000 SCALE_OPEN_REPEAT=50 " or ""
    local p = assert(io.popen(quick .. lua .. " " .. here .. "/scale_open.lua"))
    io.write("\n", p:read("a"))
    assert(p:close(), "scale_open.lua failed")
  end
end
