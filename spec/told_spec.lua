-- A writer is told what its reader would drop: the reader publishes its user,
-- group, allow policy and max_size, the writer learns them at open and at
-- each reconnect, and refuses with `access` or `too_big` before sending.
-- A writer that finds no facts it can trust just sends; the reader decides.
local mailslot = require "mailslot"
local helpers = require "helpers"

if helpers.windows then
  describe("writers are told", function() pending("POSIX only (Windows tells natively)") end)
  return
end

local temp_dir = helpers.temp_dir

--- Starts a reader in another process (as another user with a setpriv `prefix`);
--- returns a function that SIGKILLs it and waits for it to be gone. It is
--- killed when the case ends, however it ends.
local function killable_reader(name, opts, prefix)
  local child = helpers.spawn_with("exec " .. (prefix or ""), ([[ -- exec: no shell to report the kill
    local r = assert(require("mailslot").create(%q, %s))
    io.write(io.open("/proc/self/stat"):read("n"), "\n") io.flush()
    r:read(math.huge)]]):format(name, opts))
  local pid = assert(tonumber(child:read("l")))
  local function kill()
    if not child then return end
    os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    child:close()
    child = nil
  end
  finally(kill)
  return kill
end

--- The /proc/net/unix paths (abstract ones start with "@") and their inodes.
local function unix_sockets()
  local out = {}
  for line in io.lines("/proc/net/unix") do
    local inode, path = line:match("^%S+ %S+ %S+ %S+ %S+ %S+ (%d+) (.+)$")
    if path then out[path] = tonumber(inode) end
  end
  return out
end

for _, mode in ipairs({ "abstract namespace", "socket files" }) do
  describe("writers are told, " .. mode .. ":", function()
    local dir, opts
    before_each(function()
      dir = mode == "socket files" and temp_dir() or nil
      opts = { dir = dir }
    end)
    after_each(function()
      if dir then os.execute("rm -rf " .. helpers.quote(dir)) end
    end)

    it("a write above the reader's max_size is `too_big`, naming both sizes; nothing is sent", function()
      local r <close> = assert(mailslot.create(helpers.unique_name("told"), { max_size = 10, dir = dir }))
      local w <close> = assert(mailslot.open(r:name(), opts))
      assert.same({ nil, ("message of 11 bytes is too big for mailslot %s: its reader takes at most 10 bytes")
        :format(r:name()), "too_big" }, { w:write(("x"):rep(11)) })
      assert.equal(10, w:write(("y"):rep(10)))
      assert.equal(0, w:write(""))
      local info = r:info()
      assert.same({ 2, 0 }, { info.count, info.oversized })
      assert.equal(("y"):rep(10), r:read(0))
    end)

    it("writemany sends what comes before the too-big message and says how many", function()
      local r <close> = assert(mailslot.create(helpers.unique_name("told"), { max_size = 4, dir = dir }))
      local w <close> = assert(mailslot.open(r:name(), opts))
      local n, msg, code, sent = w:writemany({ "a", "bb", "ccc", "toolong", "dd" })
      assert.same({ nil, "too_big", 3 }, { n, code, sent })
      assert.matches("message of 7 bytes is too big", msg, 1, true)
      assert.same({ 3, 0 }, { r:info().count, r:info().oversized })
      assert.same({ "a", "bb", "ccc" }, { r:read(0), r:read(0), r:read(0) })
      -- a batch longer than one sendmmsg call, the too-big one beyond it
      local batch = {}
      for i = 1, 100 do batch[i] = "m" end
      batch[90] = "12345"
      local n2, _, code2, sent2 = w:writemany(batch)
      assert.same({ nil, "too_big", 89 }, { n2, code2, sent2 })
      assert.equal(89, r:info().count)
    end)

    it("a writer reconnecting to a new reader learns its facts", function()
      local name = helpers.unique_name("told")
      local r = assert(mailslot.create(name, { max_size = 10, dir = dir }))
      local w <close> = assert(mailslot.open(name, opts))
      assert.equal("too_big", select(3, w:write(("x"):rep(100))))
      r:close()
      local r2 <close> = assert(mailslot.create(name, { max_size = 1000, dir = dir }))
      assert.equal(100, w:write(("x"):rep(100)))
      assert.equal(("x"):rep(100), r2:read(0))
      r2:close()
      local r3 <close> = assert(mailslot.create(name, { max_size = 50, dir = dir }))
      assert.equal("too_big", select(3, w:write(("x"):rep(100))))
      assert.equal(50, w:write(("x"):rep(50)))
      assert.same({ 1, 0 }, { r3:info().count, r3:info().oversized })
    end)

    it("the facts of a killed reader are never believed for its successor", function()
      local name = helpers.unique_name("told")
      local dir_lua = dir and ("%q"):format(dir) or "nil"
      local kill = killable_reader(name, ("{ max_size = 1000, dir = %s }"):format(dir_lua))
      local w <close> = assert(mailslot.open(name, opts))
      assert.equal(100, w:write(("x"):rep(100)))
      kill()
      local r <close> = assert(mailslot.create(name, { max_size = 10, dir = dir }))
      assert.equal("too_big", select(3, w:write(("x"):rep(100)))) -- reconnected, new facts
      local w2 <close> = assert(mailslot.open(name, opts))
      assert.equal("too_big", select(3, w2:write(("x"):rep(100))))
      assert.equal(5, w2:write("fresh"))
      assert.same({ 1, 0 }, { r:info().count, r:info().oversized })
    end)
  end)
end

describe("writers are told, socket files:", function()
  local dir
  before_each(function() dir = temp_dir() end)
  after_each(function() os.execute("rm -rf " .. helpers.quote(dir)) end)

  it("the facts live in a dot-file that list() skips and close removes", function()
    local r = assert(mailslot.create("told", { dir = dir, max_size = 7 }))
    assert.is_true(os.execute("test -f " .. helpers.quote(dir .. "/.meta-told")))
    assert.same({ r:name() }, mailslot.list({ dir = dir }))
    r:close()
    assert.is_falsy(os.execute("test -e " .. helpers.quote(dir .. "/.meta-told")))
  end)

  it("a meta file that does not describe the socket file in place is not believed", function()
    local kill = killable_reader("stale", ("{ max_size = 10, dir = %q }"):format(dir))
    local meta = dir .. "/.meta-stale"
    local saved = assert(io.open(meta)):read("a")
    kill()
    local r <close> = assert(mailslot.create("stale", { dir = dir }))
    -- as if the new reader had not written its own yet: the killed reader's file is back
    assert(io.open(meta, "w")):write(saved)
    local w <close> = assert(mailslot.open("stale", { dir = dir }))
    assert.equal(100, w:write(("x"):rep(100)))
    assert.equal(100, #r:read(0))
  end)
end)

describe("writers are told, abstract namespace:", function()
  local root_it, AS_NOBODY = helpers.root_it, helpers.AS_NOBODY

  --- The reader socket's inode and its meta socket's name (what a forger can read too).
  local function published(r)
    local sockets = unix_sockets()
    local inode = assert(sockets["@mailslot\\" .. r:name():sub(#"\\\\.\\mailslot\\" + 1)])
    for path in pairs(sockets) do
      if path:find("^@mailslot%-meta\\%x+\\" .. inode .. "\\") then return inode, path end
    end
    error("no meta socket for reader socket " .. inode)
  end

  --- Runs perl `code` with `prefix` (as for helpers.perl_command); the code
  --- prints its pid first, then holds what it made until it is killed, when
  --- the case ends. Returns its output after the pid.
  local function perl_holder(prefix, code, ...)
    local p = assert(io.popen("exec " .. helpers.perl_command(prefix, code, ...), "r"))
    local pid = p:read("n")
    finally(function()
      os.execute("kill " .. pid)
      p:close()
    end)
    return p
  end

  --- Binds abstract names ("@...") in a perl process run with `prefix` (e.g.
  --- as another user): entries are { name, "stream" | "dgram" }, a stream one
  --- listening. A name that cannot be bound is skipped. Returns how many were
  --- bound.
  local function bind_as(prefix, entries)
    local args = {}
    for _, e in ipairs(entries) do args[#args + 1] = e[2] .. ":" .. e[1] end
    return perl_holder(prefix, [[
      $| = 1; my @keep;
      for (@ARGV) { my ($kind, $a) = /^(\w+):(.*)$/s; $a =~ s/^@/\0/;
        socket(my $s, AF_UNIX, $kind eq "stream" ? SOCK_STREAM : SOCK_DGRAM, 0) or die "socket: $!";
        bind($s, pack_sockaddr_un($a)) or next; listen($s, 1) if $kind eq "stream"; push @keep, $s; }
      print "$$ ", scalar(@keep), "\n"; sleep 120;]], table.unpack(args)):read("n")
  end

  root_it("another user's meta sockets never change what a writer does: leading zeros, decoys, copies", function()
    local name = helpers.unique_name("told")
    local r <close> = assert(mailslot.create(name, { max_size = 10, allow = "all" }))
    local inode, real = published(r)
    local stem = real:match("^(@mailslot%-meta\\%x+\\)")
    local entries = {}
    local function forge(claimed_inode, facts)
      local path = stem .. claimed_inode .. "\\" .. facts
      entries[#entries + 1] = { path, "stream" }
      entries[#entries + 1] = { path, "dgram" }
    end
    forge(inode, "0\\0\\0\\1") -- root's facts as published, but "user only, 1 byte"
    forge(inode, "65534\\65534\\0\\1") -- the forger's own user, honestly
    forge(inode, real:match("\\(%d+\\%d+\\%d+\\%d+)$")) -- the genuine name as another type
    for zeros = 1, 4 do forge(("0"):rep(zeros) .. inode, "0\\0\\0\\1") end -- the same inode read as a number
    for k = 2, 40 do forge(inode, "0\\0\\0\\" .. k) end -- decoys ahead of the genuine one
    assert.is_true(bind_as(AS_NOBODY, entries) > 40)
    -- root's writer: the genuine limit still holds, the forged ones do not
    local w <close> = assert(mailslot.open(name))
    local _, _, code = w:write(("x"):rep(11))
    assert.equal("too_big", code)
    assert.equal(10, w:write(("y"):rep(10)))
    assert.equal(1, w:write("z"))
    -- another user, whom the reader allows: not refused by a forged "user only"
    local out, ok = helpers.run_with(helpers.AS_DAEMON, ([[
      local w, err = require("mailslot").open(%q)
      if not w then io.write("open: ", err) return end
      io.write(tostring(w:write(("d"):rep(10))), " ", tostring(select(3, w:write(("d"):rep(11)))))]]):format(name))
    assert.is_true(ok, out)
    assert.equal("10 too_big", out)
    assert.same({ 3, 0 }, { r:info().count, r:info().oversized })
  end)

  root_it("a writer in a user namespace that maps neither owner believes no facts", function()
    if not os.execute("unshare -U true 2>/dev/null") then
      pending("needs unshare -U (a user namespace)")
      return
    end
    -- There root's reader and nobody's forgery both belong to the overflow uid (65534).
    local name = helpers.unique_name("told")
    local r <close> = assert(mailslot.create(name, { max_size = 10, allow = "all" }))
    local inode, real = published(r)
    local stem = real:match("^(@mailslot%-meta\\%x+\\)")
    assert.equal(1, bind_as(AS_NOBODY, { { stem .. inode .. "\\65534\\65534\\0\\1", "stream" } }))
    local out, ok = helpers.run_with("unshare -U", ([[
      local w, err = require("mailslot").open(%q)
      if not w then io.write("open: ", err) return end
      io.write(tostring(w:write(("u"):rep(10))))]]):format(name))
    assert.is_true(ok, out)
    assert.equal("10", out)
    assert.equal(("u"):rep(10), r:read(0))
  end)

  root_it("a reader running as nobody (uid 65534, the overflow uid) still tells its writers", function()
    local name = helpers.unique_name("told")
    killable_reader(name, "{ max_size = 10 }", AS_NOBODY)
    local w <close> = assert(mailslot.open(name))
    local _, _, code = w:write(("x"):rep(11))
    assert.equal("too_big", code)
    assert.equal(10, w:write(("x"):rep(10)))
  end)

  it("meta sockets of the reader's own user that disagree are all disbelieved; the reader still decides", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("told"), { max_size = 10 }))
    local _, real = published(r)
    local forged = real:gsub("\\%d+$", "\\0") -- the same reader, no limit
    assert.equal(1, bind_as("", { { forged, "stream" } }))
    local w <close> = assert(mailslot.open(r:name()))
    assert.equal(100, w:write(("x"):rep(100))) -- not told: sent, and the reader drops it
    assert.same({ 0, 1 }, { r:info().count, r:info().oversized })
  end)

  root_it("a writer learns its reader's facts without /proc/net/unix, among 3000 other sockets", function()
    if not os.execute("unshare -m true 2>/dev/null") then
      pending("needs unshare -m (a private mount namespace)")
      return
    end
    perl_holder("", [[
      $| = 1; my @keep;
      for (1 .. 1500) { socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, 0) or die; push @keep, $a, $b; }
      print "$$\n"; sleep 120;]])
    local name = helpers.unique_name("told")
    local r <close> = assert(mailslot.create(name, { max_size = 10 }))
    -- the child's /proc/self/net is an empty directory (the rest of /proc stays for its sanitizers)
    local out, ok = helpers.run_with([[unshare -m sh -c 'mount -t tmpfs none "/proc/$$/net" && exec "$@"' sh]], ([[
      local hidden = io.open("/proc/net/unix") == nil
      local w, err = require("mailslot").open(%q)
      local said = w and { w:write(("x"):rep(10)), select(3, w:write(("x"):rep(11))) }
      io.write(tostring(hidden), " ", said and table.concat(said, " ") or err)]]):format(name))
    assert.is_true(ok, out)
    assert.equal("true 10 too_big", out)
    assert.same({ 1, 0 }, { r:info().count, r:info().oversized })
  end)

  it("a meta socket refuses every connection, so nobody can make a reader hold one", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("told"), { max_size = 10 }))
    local _, real = published(r)
    local listening = false -- flag __SO_ACCEPTCON, type SOCK_STREAM
    for line in io.lines("/proc/net/unix") do
      local flags, kind, path = line:match("^%S+ %S+ %S+ (%x+) (%x+) %S+ %d+ (.+)$")
      if path == real then listening = flags == "00010000" and kind == "0001" end
    end
    assert.is_true(listening)
    local out = helpers.output(helpers.perl_command("", [[
      socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die; my $a = $ARGV[0]; $a =~ s/^@/\0/;
      print connect($s, pack_sockaddr_un($a)) ? "connected" : "refused: $!";]], real))
    assert.equal("refused: Connection refused", out)
  end)

  it("a meta socket is not a mailslot: list() does not show it", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("told"), { max_size = 10 }))
    for _, n in ipairs(mailslot.list()) do assert.is_nil(n:find("meta", 1, true)) end
    local found = false
    for _, n in ipairs(mailslot.list()) do found = found or n == r:name() end
    assert.is_true(found)
  end)
end)
