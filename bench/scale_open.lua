--- How long `mailslot.open` takes as the machine holds more unix sockets (Linux).
-- A writer learns its reader's facts at open and at every reconnect; this
-- prints the median time of one open (and close) of a live reader beside the
-- number of AF_UNIX sockets in this network namespace.
--
-- Run from the source tree, after `bash scripts/build`:
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;" lua5.4 bench/scale_open.lua
-- SCALE_OPEN_COUNTS (default "0,8000,36000") sets the extra sockets to hold,
-- SCALE_OPEN_REPEAT (default 200) the opens timed per figure.
local mailslot = require "mailslot"
local monotime = require("mailslot.core").monotime

local COUNTS = os.getenv("SCALE_OPEN_COUNTS") or "0,8000,36000"
local REPEAT = tonumber(os.getenv("SCALE_OPEN_REPEAT")) or 200
local PER_HOLDER = 9000 -- sockets per holder process, under the usual 20 000 open files

--- Unrelated sockets, held by perl processes (connected pairs, like a busy
--- desktop's or container host's) until stdin closes; returns the handles.
local function hold(count)
  local holders = {}
  while count > 0 do
    local n = math.min(count, PER_HOLDER)
    local p = assert(io.popen(("env -u LD_PRELOAD perl -MSocket -e '%s' %d"):format([[
      $| = 1; my @keep;
      for (1 .. $ARGV[0] / 2) { socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, 0) or die "socketpair: $!";
        push @keep, $a, $b; }
      <STDIN>;]], n), "w"))
    holders[#holders + 1] = p
    count = count - n
  end
  return holders
end

local function unix_sockets()
  local n = -1 -- the header line
  for _ in io.lines("/proc/net/unix") do n = n + 1 end
  return n
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local name = ("bench\\scale-open-%d-%d"):format(os.time(), math.random(1, 1e9))
local reader <close> = assert(mailslot.create(name, { max_size = 100 }))
print(("mailslot.open(%q), %d times per line"):format(reader:name(), REPEAT))
print(("%-22s %12s %12s"):format("unix sockets (netns)", "open ms", "p90 ms"))
for count in COUNTS:gmatch("%d+") do
  local holders = hold(tonumber(count))
  local want = tonumber(count)
  -- the holders are ready when their sockets are there: wait for them (bounded)
  local deadline = monotime() + 60
  while unix_sockets() < want and monotime() < deadline do os.execute("sleep 0.1") end
  local times = {}
  for i = 1, REPEAT do
    local t0 = monotime()
    local w = assert(mailslot.open(name))
    times[i] = (monotime() - t0) * 1e3
    w:close()
  end
  local sorted = { table.unpack(times) }
  table.sort(sorted)
  print(("%-22d %12.3f %12.3f"):format(unix_sockets(), median(times), sorted[math.ceil(#sorted * 0.9)]))
  for _, p in ipairs(holders) do p:close() end
end
