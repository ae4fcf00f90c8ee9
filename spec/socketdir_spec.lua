-- Socket-file mode (other Unix systems; on Linux by the `dir` option or
-- MAILSLOT_DIR): the same behaviours, plus what files bring: stale files of
-- killed readers, and names too long for a socket path.
local mailslot = require "mailslot"
local helpers = require "helpers"

if helpers.windows then
  describe("socket directory", function() pending("POSIX only") end)
  return
end

local temp_dir = helpers.temp_dir

local function is_socket(path)
  return os.execute("test -S " .. helpers.quote(path)) == true
end

local function listed(opts)
  local set = {}
  for _, n in ipairs(assert(mailslot.list(opts))) do set[n] = true end
  return set
end

describe("socket directory", function()
  local dir, opts
  before_each(function()
    dir = temp_dir()
    opts = { dir = dir }
  end)
  after_each(function() os.execute("rm -rf " .. helpers.quote(dir)) end)

  it("an existing directory others may write to without the sticky bit is refused", function()
    os.execute("mkdir -m 0777 " .. helpers.quote(dir))
    os.execute("chmod 0777 " .. helpers.quote(dir)) -- past the umask
    local r, msg, code = mailslot.create("unsafe", opts)
    assert.is_nil(r)
    assert.equal("access", code)
    assert.matches("is not safe", msg, 1, true)
  end)

  it("a link planted where the reader writes its facts is never written through", function()
    os.execute("mkdir -m 1777 " .. helpers.quote(dir))
    local victim = helpers.temp_dir()
    local f = assert(io.open(victim, "w"))
    f:write("precious")
    f:close()
    local pid = io.popen("echo $PPID"):read("n") -- this process: the reader's temp files carry its pid
    os.execute(("ln -s %s %s"):format(helpers.quote(victim), helpers.quote(dir .. "/.meta-planted." .. pid)))
    local r = assert(mailslot.create("planted", opts))
    r:close()
    f = assert(io.open(victim))
    assert.equal("precious", f:read("a"))
    f:close()
    os.remove(victim)
  end)

  it("create makes the directory, sticky and world-writable like /tmp, and a socket file", function()
    local r <close> = assert(mailslot.create("App\\Finance", opts)) -- luacheck: ignore
    assert.equal("1777", io.popen("stat -c %a " .. helpers.quote(dir)):read("l"))
    assert.is_true(is_socket(dir .. "/app%5cfinance"))
    assert.equal("600", io.popen("stat -c %a " .. helpers.quote(dir .. "/app%5cfinance")):read("l"))
  end)

  it("readers and writers meet in the directory, case-insensitively, whole messages in order", function()
    local r <close> = assert(mailslot.create("App\\Finance", opts))
    local w <close> = assert(mailslot.open("\\\\.\\mailslot\\app/FINANCE", opts))
    for i = 1, 40 do w:write("m" .. i) end
    w:write("")
    assert.equal(41, r:info().count)
    for i = 1, 40 do assert.equal("m" .. i, r:read(0)) end
    assert.equal("", r:read(0))
  end)

  it("a slot in a directory is not the abstract slot of the same name, nor one in another directory", function()
    local stem = helpers.unique_name("dir")
    local r <close> = assert(mailslot.create(stem, opts)) -- luacheck: ignore
    assert.equal("not_found", select(3, mailslot.open(stem)))
    assert.equal("not_found", select(3, mailslot.open(stem, { dir = temp_dir() })))
    local abstract <close> = assert(mailslot.create(stem)) -- luacheck: ignore (kept open by <close>)
  end)

  it("one reader per name: `exists`; a missing name: `not_found`", function()
    local r <close> = assert(mailslot.create("one", opts)) -- luacheck: ignore
    assert.same({ nil, "mailslot \\\\.\\mailslot\\one already exists", "exists" }, { mailslot.create("one", opts) })
    assert.same({ nil, "mailslot \\\\.\\mailslot\\two does not exist", "not_found" }, { mailslot.open("two", opts) })
  end)

  it("close removes the socket file; the next write gets `closed`; a new reader is found again", function()
    local r = assert(mailslot.create("gone", opts))
    local w <close> = assert(mailslot.open("gone", opts))
    r:close()
    assert.is_false(is_socket(dir .. "/gone"))
    assert.equal("closed", select(3, w:write("x")))
    local r2 <close> = assert(mailslot.create("gone", opts))
    assert.equal(3, w:write("new"))
    assert.equal("new", r2:read(0))
  end)

  it("1000 messages from another process are counted exactly", function()
    local r <close> = assert(mailslot.create("many", opts))
    local child = helpers.spawn(([[
      local w = assert(require("mailslot").open("many", { dir = %q }))
      for i = 1, 1000 do assert(w:write(tostring(i))) end]]):format(dir))
    local deadline = helpers.now() + 30
    repeat until r:info().count >= 1000 or helpers.now() > deadline
    assert.is_true(child:close())
    assert.same({ 1000, 1 }, { r:info().count, r:info().next_size })
  end)

  it("MAILSLOT_DIR selects the directory for readers and writers", function()
    local r <close> = assert(mailslot.create("env", opts))
    local out, ok = helpers.run_with("MAILSLOT_DIR=" .. helpers.quote(dir), [[
      local m = require "mailslot"
      local w = assert(m.open("env"))
      w:write("via env")
      local mine = assert(m.create("child"))
      io.write(#m.list(), " ", m.list()[1] and "listed" or "")]])
    assert.is_true(ok, out)
    assert.equal("via env", r:read(0))
    -- the child's reader was closed when it exited
    assert.is_nil(listed(opts)["\\\\.\\mailslot\\child"])
    assert.matches("^[12] listed$", out)
  end)

  it("the dir option wins over MAILSLOT_DIR", function()
    local r <close> = assert(mailslot.create("opt", opts))
    local out = helpers.run_with("MAILSLOT_DIR=/nonexistent-mailslot-dir", ([[
      local w = assert(require("mailslot").open("opt", { dir = %q }))
      io.write(w:write("option"))]]):format(dir))
    assert.equal("6", out)
    assert.equal("option", r:read(0))
  end)

  it("a stale socket file left by a killed reader never blocks a new reader", function()
    local child = helpers.spawn_with("exec", ([[ -- exec: no shell to report the kill
      local m = require "mailslot"
      local r = assert(m.create("stale", { dir = %q }))
      io.write(io.open("/proc/self/stat"):read("n"), "\n") io.flush()
      r:read(math.huge)]]):format(dir))
    local pid = assert(tonumber(child:read("l")))
    assert.is_true(os.execute("kill -KILL " .. pid))
    child:close()
    assert.is_true(is_socket(dir .. "/stale")) -- left behind
    assert.is_nil(listed(opts)["\\\\.\\mailslot\\stale"])  -- list() skips it
    assert.equal("not_found", select(3, mailslot.open("stale", opts)))
    local r <close> = assert(mailslot.create("stale", opts))
    local w <close> = assert(mailslot.open("stale", opts))
    w:write("fresh")
    assert.equal("fresh", r:read(0))
    assert.is_true(listed(opts)["\\\\.\\mailslot\\stale"])
  end)

  it("a live reader in another process is never replaced", function()
    local child = helpers.spawn(([[
      local m = require "mailslot"
      local r = assert(m.create("live", { dir = %q }))
      io.write("ready\n") io.flush()
      io.write(r:read(10) or "none")]]):format(dir))
    assert.equal("ready", child:read("l"))
    assert.equal("exists", select(3, mailslot.create("live", opts)))
    assert(mailslot.open("live", opts)):write("still yours")
    assert.equal("still yours", child:read("a"))
    child:close()
  end)

  it("list() shows this directory's live slots with their names decoded", function()
    local a <close> = assert(mailslot.create("A\\B%C", opts)) -- luacheck: ignore
    local b = assert(mailslot.create("x y", opts))
    assert.same({ ["\\\\.\\mailslot\\a\\b%c"] = true, ["\\\\.\\mailslot\\x y"] = true }, listed(opts))
    b:close()
    assert.same({ ["\\\\.\\mailslot\\a\\b%c"] = true }, listed(opts))
  end)

  it("list() of a directory that does not exist yet is empty", function()
    assert.same({}, assert(mailslot.list(opts)))
  end)

  it("names too long for a socket path are hashed, and work and list in full", function()
    local long = "long\\" .. ("n"):rep(200)
    local r <close> = assert(mailslot.create(long, opts))
    local w <close> = assert(mailslot.open(long:upper(), opts))
    w:write("hashed")
    assert.equal("hashed", r:read(0))
    assert.same({ [r:name()] = true }, listed(opts))
    assert.equal("exists", select(3, mailslot.create(long, opts)))
    local other <close> = assert(mailslot.create(long .. "2", opts)) -- another hash
    r:close()
    assert.equal("not_found", select(3, mailslot.open(long, opts)))
    assert.same({ [other:name()] = true }, listed(opts))
  end)

  it("a directory too long for a socket path gives invalid_name", function()
    local _, msg, code = mailslot.create("x", { dir = "/tmp/" .. ("d"):rep(120) })
    assert.equal("invalid_name", code)
    assert.matches("too long for a socket path", msg, 1, true)
  end)
end)

-- Another user shares the directory and plants what it can: links, FIFOs,
-- files under the names the reader uses, locks it holds forever. The reader
-- never follows a link or opens a file another user made, and create and
-- list end within their own bound, whatever that user does.
describe("socket directory against another user", function()
  local root_it, AS_NOBODY, AS_DAEMON = helpers.root_it, helpers.AS_NOBODY, helpers.AS_DAEMON
  local quote = helpers.quote
  local dir, opts

  local function sh(prefix, cmd)
    assert(os.execute(prefix .. " sh -c " .. quote(cmd)), cmd)
  end

  -- Holds a flock on `file` as `prefix`'s user (creating it), until the returned stop().
  local function hold_lock(prefix, file)
    local p = assert(io.popen("exec " .. prefix .. " flock " .. quote(file) .. " sh -c 'echo $$; exec sleep 60'"))
    local pid = assert(tonumber(p:read("l")), "flock did not start")
    local stopped = false
    return function()
      if stopped then return end
      stopped = true
      os.execute("kill " .. pid)
      p:close()
    end
  end

  -- Runs `code` in a child Lua as `prefix`'s user, killed after 20 s: a hang shows as a failure.
  local function bounded(prefix, code)
    return helpers.run_with("timeout 20 " .. prefix, code)
  end

  before_each(function()
    dir = temp_dir()
    opts = ("{ dir = %q }"):format(dir)
    os.execute("mkdir -m 1777 " .. quote(dir) .. " && chmod 1777 " .. quote(dir))
  end)
  after_each(function() os.execute("rm -rf " .. quote(dir)) end)

  root_it("a link planted as the lock never makes root create a file", function()
    local safe = temp_dir() -- root's own: nobody could create anything there
    os.execute("mkdir -m 0700 " .. quote(safe))
    sh(AS_NOBODY, ("ln -s %s/made %s/.lock && ln -s %s/made %s/.lock-0"):format(safe, dir, safe, dir))
    local r = assert(mailslot.create("linked", { dir = dir }))
    r:close()
    local made = io.open(safe .. "/made")
    if made then made:close() end
    os.execute("rm -rf " .. quote(safe))
    assert.is_nil(made)
  end)

  root_it("another user holding a lock cannot make root's create wait", function()
    local stop1 = hold_lock(AS_NOBODY, dir .. "/.lock")
    local stop2 = hold_lock(AS_NOBODY, dir .. "/.lock-0")
    finally(function() stop1() stop2() end)
    local out, ok = bounded("", ([[
      local r, msg = require("mailslot").create("held", %s)
      io.write(r and "created" or msg)]]):format(opts))
    assert.is_true(ok, out)
    assert.equal("created", out)
  end)

  root_it("a user who cannot remove another user's lock file is told `access` at once", function()
    local nobody = io.popen("id -u nobody"):read("n")
    local stop1 = hold_lock(AS_DAEMON, dir .. "/.lock")
    local stop2 = hold_lock(AS_DAEMON, dir .. "/.lock-" .. nobody)
    finally(function() stop1() stop2() end)
    local out, ok = bounded(AS_NOBODY, ([[
      local r, msg, code = require("mailslot").create("held", %s)
      io.write(r and "created" or code .. ": " .. msg)]]):format(opts))
    assert.is_true(ok, out)
    assert.matches("^access: cannot create mailslot .*held: lock file .*%.lock%-" .. nobody, out)
  end)

  it("another process of the same user holding the lock too long: `timeout`, within a bound", function()
    local stop = hold_lock("", dir .. "/.lock-" .. io.popen("id -u"):read("n"))
    finally(stop)
    local started = helpers.now()
    local r, msg, code = mailslot.create("held", { dir = dir })
    assert.is_nil(r)
    assert.equal("timeout", code)
    assert.matches("lock", msg)
    assert.is_true(helpers.now() - started < 10)
  end)

  root_it("list() never blocks on a FIFO planted as a name file", function()
    local name = helpers.unique_name("fifo") .. ("-long"):rep(30) -- hashed: list reads its name file
    local child = helpers.spawn_with(AS_NOBODY, ([[
      local m, lfs = require "mailslot", require "lfs"
      local dir = %q
      local r = assert(m.create(%q, { dir = dir }))
      local ctl = assert(m.create(%q))
      for f in lfs.dir(dir) do
        if f:match("^%%.~") then
          assert(os.remove(dir .. "/" .. f))
          assert(os.execute("mkfifo " .. dir .. "/" .. f))
        end
      end
      io.write("ready\n") io.flush()
      ctl:read(60)]]):format(dir, name, name .. "-ctl"))
    finally(function()
      assert(mailslot.open(name .. "-ctl")):write("stop")
      child:close()
    end)
    assert.equal("ready", child:read("l"))
    local out, ok = bounded("", ([[
      for _, n in ipairs(assert(require("mailslot").list(%s))) do io.write(n, "\n") end]]):format(opts))
    assert.is_true(ok, out)
    assert.matches("^\\\\%.\\mailslot\\~%x+\n$", out) -- the hashed form: the name file is not believed
  end)

  root_it("a link planted at a slot's name never leads a writer to another socket", function()
    local elsewhere = temp_dir()
    local target <close> = assert(mailslot.create("target", { dir = elsewhere }))
    finally(function() os.execute("rm -rf " .. quote(elsewhere)) end)
    sh(AS_NOBODY, ("ln -s %s/target %s/victim"):format(elsewhere, dir))
    local w, msg, code = mailslot.open("victim", { dir = dir })
    if w then w:write("for the victim") end
    assert.is_nil(w)
    assert.equal("not_found", code, msg)
    assert.equal(0, target:info().count)
    assert.same({}, assert(mailslot.list({ dir = dir })))
  end)

  root_it("a FIFO planted as a reader's facts never blocks its writers", function()
    local name = helpers.unique_name("meta")
    local file = name:lower():gsub("\\", "%%5c")
    sh(AS_DAEMON, ("mkfifo %s/.meta-%s"):format(dir, file)) -- before the reader: it cannot replace it
    local child = helpers.spawn_with(AS_NOBODY, ([[
      local m = require "mailslot"
      local r = assert(m.create(%q, { dir = %q, allow = "all" }))
      io.write("ready\n") io.flush()
      io.write(r:read(30) or "nothing")]]):format(name, dir))
    finally(function() child:close() end)
    assert.equal("ready", child:read("l"))
    local out, ok = bounded("", ([[
      local w = assert(require("mailslot").open(%q, %s))
      io.write(w:write("through"))]]):format(name, opts))
    assert.is_true(ok, out)
    assert.equal("7", out)
    assert.equal("through", child:read("a"))
  end)
end)
