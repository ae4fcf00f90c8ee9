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

--- Starts a reader in another process; returns a function that SIGKILLs it
--- and waits for it to be gone. It is killed when the case ends, however it ends.
local function killable_reader(name, opts)
  local child = helpers.spawn_with("exec", ([[ -- exec: no shell to report the kill
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
  it("two meta sockets claiming one reader (a forgery) are both disbelieved; the reader still decides", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("told"), { max_size = 10 }))
    local sockets = unix_sockets()
    local inode = assert(sockets["@mailslot\\" .. r:name():sub(#"\\\\.\\mailslot\\" + 1)])
    local real
    for path in pairs(sockets) do
      if path:find("^@mailslot%-meta\\%x+\\" .. inode .. "\\") then real = path end
    end
    assert.is_not_nil(real)
    local forged = real:gsub("\\%d+$", "\\0") -- the same reader, no limit
    local perl = assert(io.popen(("env -u LD_PRELOAD perl -MSocket -e %s %s"):format(helpers.quote([[
      $| = 1; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die; my $a = $ARGV[0]; $a =~ s/^@/\0/;
      bind($s, pack_sockaddr_un($a)) or die "bind: $!"; <STDIN>;]]), helpers.quote(forged)), "w"))
    local deadline = helpers.now() + 5
    repeat until unix_sockets()[forged] or helpers.now() > deadline
    assert.is_not_nil(unix_sockets()[forged])
    local w <close> = assert(mailslot.open(r:name()))
    assert.equal(100, w:write(("x"):rep(100))) -- not told: sent, and the reader drops it
    assert.same({ 0, 1 }, { r:info().count, r:info().oversized })
    perl:close()
  end)

  it("a meta socket is not a mailslot: list() does not show it", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("told"), { max_size = 10 }))
    for _, n in ipairs(mailslot.list()) do assert.is_nil(n:find("meta", 1, true)) end
    local found = false
    for _, n in ipairs(mailslot.list()) do found = found or n == r:name() end
    assert.is_true(found)
  end)
end)
