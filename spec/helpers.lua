--- Shared spec helpers: platform-aware `it`, unique slot names, child Lua
-- processes that load the same build of the module as the spec runner.
local helpers = {}

helpers.windows = package.config:sub(1, 1) == "\\"

-- busted puts `it` and `pending` in the spec file's environment, not in _G:
-- find them in the _ENV of the spec code that called us.
local function busted_api(name)
  for level = 3, 20 do
    local info = debug.getinfo(level, "f")
    if not info then break end
    for i = 1, 255 do
      local up, env = debug.getupvalue(info.func, i)
      if not up then break end
      if up == "_ENV" and type(env) == "table" and env[name] then return env[name] end
    end
  end
  return _G[name]
end

--- `it` on the platforms where a case can run; elsewhere a pending with the reason.
function helpers.win_it(desc, fn)
  if helpers.windows then busted_api("it")(desc, fn) else busted_api("pending")(desc .. " (Windows only)") end
end
function helpers.nix_it(desc, fn)
  if helpers.windows then busted_api("pending")(desc .. " (POSIX only)") else busted_api("it")(desc, fn) end
end
--- The major version of the Wine running the specs (8, 10, ...), nil when not
--- under Wine. The Wine stages say it: MAILSLOT_UNDER_WINE=8 or 10.
function helpers.wine_version()
  local v = helpers.windows and os.getenv("MAILSLOT_UNDER_WINE")
  return v and (tonumber(v:match("^%d+")) or 8) or nil
end

--- `it`, or under a Wine version for which `skips(version)` holds, a pending
--- with the reason, naming that version.
local function it_unless_wine(skips, reason, desc, fn)
  local wine = helpers.wine_version()
  if wine and skips(wine) then
    busted_api("pending")(("%s (Wine %d: %s)"):format(desc, wine, reason))
  else
    busted_api("it")(desc, fn)
  end
end

--- A case Wine cannot run as Windows would: pending with the reason, naming
--- the Wine version. `fixed_in`: the first Wine version where it runs (nil:
--- none known yet).
function helpers.wine_pending(reason, desc, fn, fixed_in)
  it_unless_wine(function(wine) return not fixed_in or wine < fixed_in end, reason, desc, fn)
end

--- Running as root (POSIX), and the setpriv prefixes that run a child as another user.
helpers.is_root = not helpers.windows and io.popen("id -u"):read("n") == 0
helpers.AS_NOBODY = "setpriv --reuid=nobody --regid=nogroup --clear-groups"
helpers.AS_DAEMON = "setpriv --reuid=daemon --regid=daemon --clear-groups"
--- A case that plays another user (POSIX, as root); elsewhere a pending with the reason.
function helpers.root_it(desc, fn)
  if helpers.windows then
    busted_api("pending")(desc .. " (POSIX only)")
  elseif not helpers.is_root then
    busted_api("pending")(desc .. " (needs root to act as another user)")
  else
    busted_api("it")(desc, fn)
  end
end

--- A case that meets a difference new in Wine 10 (Wine 8 runs it): pending there.
function helpers.wine10_pending(reason, desc, fn)
  it_unless_wine(function(wine) return wine >= 10 end, reason, desc, fn)
end

--- A case that needs a queue that fills up: Wine 10 has no bound at all.
function helpers.full_queue_it(desc, fn)
  helpers.wine10_pending("no queue bound, writes never fail however far the reader lags", desc, fn)
end

--- Writes `msg` with writer w until a write fails; returns how many went and the
--- failure (nil, message, code). Bounded: a queue that never fills is an error,
--- not an endless loop.
function helpers.fill(w, msg, bound)
  bound = bound or 20000
  for sent = 0, bound do
    local n, err, code = w:write(msg)
    if not n then return sent, err, code end
  end
  error(("the queue of %s never filled: %d writes went through"):format(w:name(), bound + 1), 2)
end

--- What info().wait says on this platform: how a read that must wait sleeps.
function helpers.expected_wait_path()
  if not helpers.windows then return "socket" end
  local wine = helpers.wine_version()
  return (wine and wine < 10) and "polling" or "overlapped"
end

--- For a spec file of the network layer: on Windows, where the OS handles
--- remote mailslots itself, shows the file's area as pending and returns true.
function helpers.remote_is_native(area)
  if not helpers.windows then return false end
  local describe, pending = busted_api("describe"), busted_api("pending")
  describe(area, function() pending("POSIX only: Windows handles remote mailslots natively") end)
  return true
end

local counter = 0
--- A slot name no other spec or run uses.
function helpers.unique_name(stem)
  counter = counter + 1
  return ("spec\\%s-%d-%d-%d"):format(stem or "slot", os.time(), counter, math.random(1, 1e9))
end

--- The Lua interpreter running the specs.
function helpers.lua_exe()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or "lua5.4"
end

local function quote(s)
  if helpers.windows then return '"' .. s:gsub('"', '\\"') .. '"' end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
helpers.quote = quote

--- The command line that runs `code` in a child Lua with our package paths.
function helpers.lua_command(code)
  local setup = ("package.path=%q package.cpath=%q "):format(package.path, package.cpath)
  local cmd = quote(helpers.lua_exe()) .. " -e " .. quote(setup .. code)
  if helpers.windows then cmd = '"' .. cmd .. '"' end -- cmd.exe strips one pair
  return cmd
end

--- Starts a child Lua process; returns the popen handle (read mode).
function helpers.spawn(code)
  return assert(io.popen(helpers.lua_command(code), "r"))
end

--- Runs shell command `cmd` to its end; returns its output, whether it exited
--- 0, and its exit code.
function helpers.output(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok == true, code
end

--- Runs a child to the end; returns its output and whether it exited 0.
function helpers.run(code)
  return helpers.output(helpers.lua_command(code))
end

--- The whole of file `path` (bytes as they are), or "" when it cannot be opened.
function helpers.read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

--- A temporary file name: os.tmpname() is unusable under Wine (a path in the root of Z:).
function helpers.tmpname()
  if not helpers.windows then return os.tmpname() end
  counter = counter + 1
  return ("%s\\mailslot-spec-%d-%d-%d"):format(os.getenv("TEMP") or ".", os.time(), counter,
    math.random(1, 1e9))
end

--- A fresh directory name for socket-file mode (not created: create() makes it).
function helpers.temp_dir()
  local dir = os.tmpname()
  os.remove(dir)
  return dir
end

--- A reader of `name` in another process, held until stop() is called: the
--- child also reads a control slot `name .. "-ctl"` and exits on its message.
--- stop() may be called again (from a `finally`); a spec that fails before
--- calling it still ends, the child giving up after two minutes.
function helpers.spawn_reader(name)
  local child = helpers.spawn(([[
    local m = require "mailslot"
    local r = assert(m.create(%q))
    local ctl = assert(m.create(%q))
    io.write("ready\n") io.flush()
    ctl:read(120)]]):format(name, name .. "-ctl"))
  assert(child:read("l") == "ready", "the reader process did not start")
  local stopped = false
  return function()
    if stopped then return end
    stopped = true
    assert(require("mailslot").open(name .. "-ctl")):write("stop")
    child:close()
  end
end

--- Text from a child process with Windows line ends made plain.
function helpers.unix_lines(s)
  return s and (s:gsub("\r\n", "\n"))
end

--- Seconds on a monotonic clock, for "did not return before the timeout" checks.
function helpers.now()
  return require("mailslot.core").monotime()
end

--- Like spawn/run, with a shell prefix before the child's command line
--- (e.g. "MAILSLOT_DIR=/tmp/x" or "setpriv --reuid=nobody ..."). POSIX shells only.
function helpers.spawn_with(prefix, code)
  return assert(io.popen(prefix .. " " .. helpers.lua_command(code), "r"))
end
function helpers.run_with(prefix, code)
  return helpers.output(prefix .. " " .. helpers.lua_command(code))
end

--- The command that runs perl `code` (with Socket) on `...` (quoted here), after
--- a shell `prefix` as for spawn_with. env -u LD_PRELOAD: perl is not ours to
--- sanitize (the ASan run preloads it everywhere).
function helpers.perl_command(prefix, code, ...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = quote(tostring(select(i, ...))) end
  return ("%s env -u LD_PRELOAD perl -MSocket -e %s %s"):format(prefix or "", quote(code), table.concat(args, " "))
end

--- The command that sends `msg` to reader `r` `times` times (default 1),
--- `interval` seconds apart, as a program that does not use this module (so it
--- never learns the reader's facts): datagrams in our framing, sent by perl
--- (Essential on Debian), which prints its pid first. `prefix` as for
--- spawn_with (e.g. setpriv); `dir` for socket-file mode. Linux, short names.
function helpers.raw_send_command(prefix, r, msg, dir, times, interval)
  local path = r:name():sub(#"\\\\.\\mailslot\\" + 1)
  local addr = dir and (dir .. "/" .. path:gsub("%%", "%%25"):gsub("\\", "%%5c")) or ("@mailslot\\" .. path)
  local code = [[$| = 1; print "$$\n"; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
    my ($a, $m, $n, $t) = @ARGV; $a =~ s/^@/\0/;
    for (1 .. $n) { defined(send($s, "\0" . $m, 0, pack_sockaddr_un($a))) or die "send: $!";
      select(undef, undef, undef, $t) if $_ < $n; }]]
  return helpers.perl_command(prefix, code, addr, msg, times or 1, interval or 0)
end
function helpers.raw_send(...)
  return os.execute(helpers.raw_send_command(...) .. " >/dev/null") == true
end

--- Sends `times` datagrams (default 1) to reader `r`, each carrying `nfds`
--- descriptors (SCM_RIGHTS, of /dev/null) and `msg` in our framing: `relay`
--- true frames it as a relay from 10.0.0.1:138. Perl has no sendmsg, so the
--- call is made with syscall() on a struct msghdr packed by hand (LP64,
--- little-endian: x86_64 and arm64). `prefix` as for spawn_with. Linux only.
function helpers.send_fds(prefix, r, nfds, opts)
  opts = opts or {}
  local path = r:name():sub(#"\\\\.\\mailslot\\" + 1)
  local code = [[require "syscall.ph"; my ($a, $m, $n, $times, $relay) = @ARGV; $a =~ s/^@/\0/;
    socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
    connect($s, pack_sockaddr_un($a)) or die "connect: $!";
    open(my $f, "<", "/dev/null") or die "open: $!";
    my $dgram = ($relay ? "\1" . pack("a16 C4 n", "SRV", 10, 0, 0, 1, 138) : "\0") . $m;
    my $fds = pack("i*", (fileno($f)) x $n);
    my $control = pack("Q i i", 16 + length $fds, SOL_SOCKET, SCM_RIGHTS) . $fds
      . ("\0" x ((8 - length($fds) % 8) % 8));
    my $iov = pack("p Q", $dgram, length $dgram);
    my $hdr = pack("Q L x4 p Q p Q i x4", 0, 0, $iov, 1, $control, length $control, 0);
    for (1 .. $times) { syscall(&SYS_sendmsg, fileno($s), $hdr, 0) >= 0 or die "sendmsg: $!"; }]]
  return os.execute(helpers.perl_command(prefix, code, "@mailslot\\" .. path, opts.msg or "x", nfds,
    opts.times or 1, opts.relay and 1 or 0)) == true
end

--- A network service for specs, started on loopback with a free port, as
--- SPECSVC of SPECWG, no name service, no signal handlers and a silent log;
--- `opts` adds to or overrides those settings (POSIX only).
function helpers.loopback_service(opts)
  local settings = { port = 0, name_service = false, bind = "127.0.0.1", computer_name = "SPECSVC",
                     workgroup = "SPECWG", signals = false, log = function() end }
  for k, v in pairs(opts or {}) do settings[k] = v end
  local svc = assert(require("mailslot.net.service").new(settings))
  return assert(svc:start())
end

--- Network writers aimed at the spec (POSIX): a UDP socket on loopback plays
--- the network, and mailslot.network sends there, on loopback only, without
--- DNS, with `opts` on top (computer_name, workgroup...). Returns the socket
--- and its port; helpers.stop_catching(socket) undoes it.
function helpers.catch_network(opts)
  local catcher = assert(require("mailslot.net_os").udp{ address = "127.0.0.1" })
  local port = select(2, catcher:getsockname())
  local cfg = { port = port, interfaces = { "127.0.0.1/8" }, broadcast = { "127.0.0.1" }, dns = false }
  for k, v in pairs(opts or {}) do cfg[k] = v end
  require("mailslot").network.configure(cfg)
  return catcher, port
end
function helpers.stop_catching(catcher)
  catcher:close()
  require("mailslot").network.reset()
end

--- How many descriptors this process has open (Linux: /proc; lfs comes with
--- busted), after a full garbage collection so that files Lua dropped earlier
--- do not close meanwhile. No child process: its pipe would come and go.
function helpers.open_fds()
  collectgarbage()
  collectgarbage()
  local n = 0
  for _ in require("lfs").dir("/proc/self/fd") do n = n + 1 end
  return n
end

return helpers
