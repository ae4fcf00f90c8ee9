-- A small lab of hosts for the netns specs: network namespaces joined by
-- veth pairs on a bridge that lives in a namespace of its own, so no traffic
-- leaves namespaces the spec made; processes started in them; Samba's nmbd
-- as a real peer. Needs root, `ip netns`; nmbd and tshark where used.
--
--     local lab = require "netns.lab"
--     if lab.missing then ... pending(lab.missing) end
--     local L = lab.new{ tag = "b", subnet = "10.213.78.", hosts = { A = 1 }, workgroup = "MSWG" }
--     L:setup()  ... L:start("A", code, file) ... L:cleanup()
local net_os = require "mailslot.net_os"
local helpers = require "helpers"

local lab = {}

function lab.has(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end

do
  if helpers.windows then lab.missing = "POSIX only"
  elseif not helpers.is_root then lab.missing = "needs root for ip netns"
  elseif not lab.has("ip") or os.execute("ip netns list >/dev/null 2>&1") ~= true then
    lab.missing = "needs ip netns (iproute2)"
  end
end

function lab.sh(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  assert(ok, "failed: " .. cmd)
end

lab.read = helpers.read_file

function lab.count(text, pattern)
  local n = 0
  for _ in text:gmatch(pattern) do n = n + 1 end
  return n
end

--- Waits (bounded) until `file` holds `count` (default 1) matches of `pattern`.
function lab.wait_for(file, pattern, timeout, count)
  local deadline = net_os.monotonic() + (timeout or 10)
  count = count or 1
  repeat
    local text = lab.read(file)
    if lab.count(text, pattern) >= count then return text end
    net_os.poll({}, 0.05)
  until net_os.monotonic() > deadline
  return lab.read(file)
end

--- The stem of this run's namespace names (scripts/test-net sets it, to
--- clean up after a run that crashed).
lab.PREFIX = os.getenv("MAILSLOT_NETNS_PREFIX") or ("msn" .. math.random(1000, 9999))

--- Makes namespace `name`, its loopback up.
function lab.add_ns(name)
  lab.sh("ip netns add " .. name)
  lab.sh(("ip -n %s link set lo up"):format(name))
end

--- Removes namespace `name`: whatever still runs in it is ours, ended by pid.
function lab.remove_ns(name)
  os.execute(("for p in $(ip netns pids %s 2>/dev/null); do kill -KILL $p; done"):format(name))
  os.execute("ip netns del " .. name .. " 2>/dev/null")
end

function lab.hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

local Lab = {}
Lab.__index = Lab

--- A lab (nothing made yet). `opts`: `tag` (namespace names' stem), `subnet`
-- ("10.213.77."), `hosts` (name -> last address byte), `workgroup`.
function lab.new(opts)
  local tmp = os.tmpname()
  os.remove(tmp)
  os.execute("mkdir -p " .. tmp)
  return setmetatable({
    prefix = lab.PREFIX .. "-" .. (opts.tag or ""),
    subnet = opts.subnet, hosts = opts.hosts, workgroup = opts.workgroup or "MSWG",
    tmp = tmp, pids = {}, namespaces = {},
  }, Lab)
end

function Lab:ns(h) return self.prefix .. h end
function Lab:add_ns(h)
  local n = self:ns(h)
  lab.add_ns(n)
  self.namespaces[#self.namespaces + 1] = n
  return n
end
function Lab:ip(h) return self.subnet .. self.hosts[h] end
function Lab:broadcast() return self.subnet .. "255" end

-- The environment of host h's programs. The namespaces share one file
-- system: each host's service keeps its outbox (mailslot.net.outbox) in a
-- directory of its own, as each machine has its own /run.
function Lab:env_for(h)
  return ("env MAILSLOT_COMPUTERNAME=HOST%s MAILSLOT_WORKGROUP=%s MAILSLOT_INTERFACES=eth0 MAILSLOT_RESOLVE_TIMEOUT=2"
    .. " MAILSLOT_OUTBOX_DIR=%s/outbox-%s"):format(h, self.workgroup, self.tmp, h)
end

--- Runs `cmd` (a shell command) in the background inside namespace h,
-- output to `file`; returns its pid, killed by cleanup.
function Lab:spawn(h, cmd, file)
  local p = io.popen(("ip netns exec %s %s >%s 2>&1 & echo $!"):format(self:ns(h), cmd, file))
  local pid = assert(tonumber(p:read("l")))
  p:close()
  self.pids[#self.pids + 1] = pid
  return pid
end

--- Starts `code` (Lua) inside namespace h in the background, output to file.
function Lab:start(h, code, file)
  return self:spawn(h, self:env_for(h) .. " " .. helpers.lua_command(code), file)
end

--- Runs `code` inside namespace h to the end (at most `limit` s); returns its output.
function Lab:run(h, code, limit)
  return (helpers.output(("ip netns exec %s %s timeout %d %s 2>&1"):format(self:ns(h), self:env_for(h),
    limit or 20, helpers.lua_command(code))))
end

--- The bridge namespace and one namespace per host (plus `extra` hosts).
function Lab:setup(extra)
  local sw = self:add_ns("sw")
  lab.sh(("ip netns exec %s ip link add br0 type bridge"):format(sw))
  lab.sh(("ip netns exec %s ip link set br0 up"):format(sw))
  for h, n in pairs(extra or {}) do self.hosts[h] = n end
  for h in pairs(self.hosts) do
    local hn = self:add_ns(h)
    lab.sh(("ip netns exec %s ip link add v%s type veth peer name eth0 netns %s"):format(sw, h, hn))
    lab.sh(("ip netns exec %s ip link set v%s master br0 up"):format(sw, h))
    lab.sh(("ip netns exec %s ip addr add %s/24 brd + dev eth0"):format(hn, self:ip(h)))
    lab.sh(("ip netns exec %s ip link set eth0 up"):format(hn))
  end
end

function Lab:cleanup()
  for _, pid in ipairs(self.pids) do os.execute("kill -TERM " .. pid .. " 2>/dev/null") end
  for _, n in ipairs(self.namespaces) do lab.remove_ns(n) end
  self.pids, self.namespaces = {}, {}
end

-- Directories a packaged Samba would use (made by its systemd units or
-- package scripts). nmbd runs with empty ones mounted over them, so the
-- suite behaves the same in a fresh container or chroot without an init:
-- every directory nmbd needs is in its own temp dir, including the
-- "unexpected packet" socket dir (parametric option `nmbd:socket dir`,
-- built in as /run/samba/nmbd).
local HIDDEN = { "/run", "/var/lib/samba", "/var/cache/samba", "/var/log/samba" }

--- Starts Samba's nmbd in namespace h as `name` in `workgroup`, a master
-- browser candidate that wins elections. Returns its directory (log.nmbd there).
function Lab:nmbd(h, name, workgroup)
  local dir = self.tmp .. "/nmbd-" .. h
  local subdirs = { "lock", "state", "cache", "pid", "private", "sock", "ncalrpc" }
  for _, d in ipairs(subdirs) do lab.sh("mkdir -p " .. dir .. "/" .. d) end
  local conf = assert(io.open(dir .. "/smb.conf", "w"))
  conf:write(([[
[global]
  workgroup = %s
  netbios name = %s
  interfaces = %s/24
  bind interfaces only = yes
  local master = yes
  preferred master = yes
  os level = 255
  domain master = no
  dns proxy = no
  server string = lab peer %s
  lock directory = %s/lock
  state directory = %s/state
  cache directory = %s/cache
  pid directory = %s/pid
  private dir = %s/private
  ncalrpc dir = %s/ncalrpc
  nmbd:socket dir = %s/sock
  log file = %s/log.nmbd
  log level = 1
]]):format(workgroup, name, self:ip(h), name, dir, dir, dir, dir, dir, dir, dir, dir))
  conf:close()
  local mounts = {}
  for _, d in ipairs(HIDDEN) do
    mounts[#mounts + 1] = ("if [ -d %s ]; then mount -t tmpfs none %s; fi;"):format(d, d)
  end
  local script = table.concat(mounts, " ") .. (" exec nmbd -F --no-process-group -s %s/smb.conf"):format(dir)
  self:spawn(h, "unshare -m sh -c " .. helpers.quote(script), dir .. "/stdout")
  return dir
end

return lab
