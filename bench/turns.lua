--- loop.read against plain read(10), timed with two trees taking turns, so
-- that a shared machine's swings hit both alike:
--
--   lua5.4 bench/turns.lua OTHER_TREE [ROUNDS] [COUNT]   (from the top directory)
--
-- OTHER_TREE: another checkout, built (`bash scripts/build`), e.g. of main.
-- Each round runs, for this tree and then the other, the reader modes recvt,
-- loop, cqueues and luv of bench/peer_mailslot.lua (COUNT messages of 64 B,
-- default 100 000, one writer process); prints each mode's median rate of
-- ROUNDS (default 5), and the median of its ratios to the same tree's recvt
-- of the same round (run seconds apart, so less moved by the machine); and,
-- when the tree's reader reports its CPU time, the median ratio of recvt's
-- CPU time per message to the mode's (other load moves it less than wall time).
local other, rounds, count = arg[1], tonumber(arg[2]) or 5, tonumber(arg[3]) or 100000
assert(other, "usage: lua5.4 bench/turns.lua OTHER_TREE [ROUNDS] [COUNT]")
local trees = { { label = "this", dir = "." }, { label = "other", dir = other } }
local modes = { "recvt", "loop", "cqueues", "luv" }

local run_id = 0
-- Messages per second for one run of a reader mode with the tree's modules,
-- and the reader's CPU seconds when it prints them.
local function rate(dir, mode)
  run_id = run_id + 1
  local env = ('LUA_PATH="%s/lua/?.lua;%s/lua/?/init.lua;;" LUA_CPATH="%s/build/?.so;;" '):format(dir, dir, dir)
  local peer = env .. "lua5.4 " .. dir .. "/bench/peer_mailslot.lua"
  local name = ("turns-%d-%d-%d"):format(os.time(), math.random(1, 1e6), run_id)
  local reader = assert(io.popen(("%s %s %s %d"):format(peer, mode, name, count)))
  assert(reader:read("l") == "ready", mode .. " reader did not start")
  local writer = assert(io.popen(("%s send %s %d 64"):format(peer, name, count)))
  local line = reader:read("l") or ""
  local seconds, cpu = tonumber(line:match("^%S+")), tonumber(line:match("^%S+%s+(%S+)"))
  assert(reader:close() and seconds, mode .. " reader failed")
  assert(writer:close(), "writer failed")
  return (count - 1) / seconds, cpu -- the reader times from its first message to its last
end

local runs, cpus = {}, {}
for _, t in ipairs(trees) do
  runs[t.label], cpus[t.label] = {}, {}
  for _, m in ipairs(modes) do runs[t.label][m], cpus[t.label][m] = {}, {} end
end
for i = 1, rounds do
  for _, t in ipairs(trees) do
    for _, m in ipairs(modes) do runs[t.label][m][i], cpus[t.label][m][i] = rate(t.dir, m) end
  end
end

local function median(list)
  table.sort(list)
  return list[(#list + 1) // 2]
end

print(("%d rounds of %d messages of 64 B: median messages/s, median ratio to the tree's read(10)")
  :format(rounds, count))
print(("%-8s %s"):format("mode", "  this tree (ratio) [cpu ratio]     other tree (ratio) [cpu ratio]"))
for _, m in ipairs(modes) do
  local line = ("%-8s"):format(m)
  for _, t in ipairs(trees) do
    local r, ratios = runs[t.label], {}
    for i = 1, rounds do ratios[i] = r[m][i] / r.recvt[i] end
    line = line .. ("  %10.0f (%.2fx)"):format(median({ table.unpack(r[m]) }), median(ratios))
    local c, cpu_ratios = cpus[t.label], {}
    for i = 1, rounds do cpu_ratios[i] = c.recvt[i] and c[m][i] and c.recvt[i] / c[m][i] end
    line = line .. (#cpu_ratios == rounds and (" [%.2fx]"):format(median(cpu_ratios)) or " [-]    ")
  end
  print(line)
end
