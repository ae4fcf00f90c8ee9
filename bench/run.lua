--- The benchmark: messages per second through this module (Lua writer to Lua
-- reader), a raw C AF_UNIX datagram loop and LuaSocket's unix datagram
-- sockets, in one run, with the ratios. Each figure is the median of REPEAT
-- runs, timed by the reader from its first message to its last, so process
-- start-up is not counted. Run it with `bash bench/run` (it builds first).
local REPEAT = tonumber(os.getenv("BENCH_REPEAT")) or 3
local SCALE = tonumber(os.getenv("BENCH_SCALE")) or 1

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local lua = "lua5.4"
local mine = lua .. " " .. here .. "/peer_mailslot.lua"
local peers = {
  { label = "mailslot", cmd = mine, recv = "recv", send = "send" },
  { label = "batch", cmd = mine, recv = "recvmany", send = "sendmany" },
  { label = "raw C", cmd = here .. "/../build/bench/raw" },
  { label = "LuaSocket", cmd = lua .. " " .. here .. "/peer_luasocket.lua" },
}
local cases = {
  { size = 64, count = 400000 }, { size = 4096, count = 200000 }, { size = 65536, count = 20000 },
}

local run_id = 0
--- One run: the reader's seconds for `count` messages from `writers` processes.
local function measure(peer, size, count, writers)
  run_id = run_id + 1
  local name = ("b%d-%d"):format(os.time(), run_id)
  count = count - count % writers
  local reader = assert(io.popen(("%s %s %s %d"):format(peer.cmd, peer.recv or "recv", name, count)))
  assert(reader:read("l") == "ready", peer.label .. " reader did not start")
  local senders = {}
  for i = 1, writers do
    senders[i] = assert(io.popen(("%s %s %s %d %d"):format(peer.cmd, peer.send or "send", name,
      count // writers, size)))
  end
  local seconds = tonumber(reader:read("l"))
  assert(reader:close() and seconds, peer.label .. " reader failed")
  for _, s in ipairs(senders) do assert(s:close(), peer.label .. " writer failed") end
  return count / seconds
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local function fmt(rate) return ("%11.0f"):format(rate) end

print(("%-6s %-7s %11s %11s %11s %11s %9s %9s %9s"):format("size", "writers", "mailslot/s",
  "batch/s", "raw C/s", "LuaSocket/s", "vs raw C", "vs LuaSock", "batch/raw"))
for _, case in ipairs(cases) do
  for _, writers in ipairs({ 1, 4 }) do
    local rates = {}
    for _, peer in ipairs(peers) do
      local runs = {}
      for i = 1, REPEAT do
        runs[i] = measure(peer, case.size, math.max(writers, math.floor(case.count * SCALE)), writers)
      end
      rates[peer.label] = median(runs)
    end
    local m, b, raw, ls = rates["mailslot"], rates["batch"], rates["raw C"], rates["LuaSocket"]
    print(("%-6d %-7d %s %s %s %s %8.2fx %8.2fx %8.2fx"):format(case.size, writers, fmt(m), fmt(b),
      fmt(raw), fmt(ls), m / raw, m / ls, b / raw))
  end
end
