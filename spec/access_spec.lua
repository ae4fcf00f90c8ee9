-- Who may deliver: by default the reader's own user and root; `allow` widens
-- it. A refused writer is told `access` when it opens (the reader publishes
-- its facts; with socket files the file's mode says it too), and the reader
-- still filters by the sender's credentials and counts what it refused.
local mailslot = require "mailslot"
local helpers = require "helpers"

local root_it, AS_NOBODY = helpers.root_it, helpers.AS_NOBODY
local AS_NOBODY_ROOT_GROUP = "setpriv --reuid=nobody --regid=root --clear-groups"

--- Runs a writer as `who` that writes `msg` to `name`; returns its output.
local function write_as(who, name, msg, opts)
  local out, ok = helpers.run_with(who, ([[
    local w, err, code = require("mailslot").open(%q, %s)
    if not w then io.write("open ", code, " ", err) return end
    local n, err2, code2 = w:write(%q)
    io.write("wrote ", tostring(n or code2), err2 and (" " .. err2) or "")]]):format(name, opts or "nil", msg))
  assert(ok, out)
  return out
end

local temp_dir = helpers.temp_dir

describe("access", function()
  root_it("by default another user is told `access` when it opens", function()
    local stem = helpers.unique_name("access")
    local r <close> = assert(mailslot.create(stem))
    local refused = "open access mailslot " .. r:name() .. ": access denied"
    assert.equal(refused, write_as(AS_NOBODY, stem, "nobody"))
    assert.equal(refused, write_as(AS_NOBODY_ROOT_GROUP, stem, "rootgr"))
    assert.same({ 0, 0 }, { r:info().rejected, r:info().count })
  end)

  root_it("what another user sends without asking is still refused and counted", function()
    local stem = helpers.unique_name("access")
    local r <close> = assert(mailslot.create(stem))
    assert.is_true(helpers.raw_send(AS_NOBODY, r, "nobody"))
    assert.is_true(helpers.raw_send(AS_NOBODY_ROOT_GROUP, r, "rootgr"))
    local info = r:info()
    assert.equal(2, info.rejected)
    assert.equal(0, info.count)
    assert.same({ nil, "timeout" }, { r:read(0), select(3, r:read(0)) })
  end)

  root_it("the reader's own user is always allowed", function()
    local stem = helpers.unique_name("access")
    local out = helpers.run_with(AS_NOBODY, ([[
      local m = require "mailslot"
      local r = assert(m.create(%q))
      local w = assert(m.open(%q))
      w:write("self")
      io.write(r:read(1), " ", r:info().rejected)]]):format(stem, stem))
    assert.equal("self 0", out)
  end)

  root_it("root may always deliver, also to another user's reader", function()
    local stem = helpers.unique_name("access")
    local child = helpers.spawn_with(AS_NOBODY, ([[
      local r = assert(require("mailslot").create(%q))
      io.write("ready\n") io.flush()
      local msg, err = r:read(10)
      io.write(msg or err, " ", r:sender().uid)]]):format(stem))
    assert.equal("ready", child:read("l"))
    local w <close> = assert(mailslot.open(stem))
    w:write("from root")
    assert.equal("from root 0", child:read("a"))
    child:close()
  end)

  root_it('allow = "group" admits the reader\'s group', function()
    local stem = helpers.unique_name("access")
    local r <close> = assert(mailslot.create(stem, { allow = "group" }))
    assert.matches("^open access", write_as(AS_NOBODY, stem, "other group"))
    assert.equal("wrote 10", write_as(AS_NOBODY_ROOT_GROUP, stem, "same group"))
    assert.is_true(helpers.raw_send(AS_NOBODY, r, "other group, without asking"))
    assert.equal("same group", r:read(0))
    local info = r:info()
    assert.equal(0, info.count)
    assert.equal(1, info.rejected)
  end)

  root_it('allow = "all" admits everyone, and sender() tells who it was', function()
    local stem = helpers.unique_name("access")
    local r <close> = assert(mailslot.create(stem, { allow = "all" }))
    assert.equal("wrote 6", write_as(AS_NOBODY, stem, "anyone"))
    assert.equal("anyone", r:read(0))
    assert.equal(0, r:info().rejected)
    local nobody = tonumber(io.popen("id -u nobody"):read("l"))
    assert.equal(nobody, r:sender().uid)
  end)

  root_it("a relay is trusted only from root or the reader's user, even with allow = all", function()
    local stem = helpers.unique_name("access")
    local r <close> = assert(mailslot.create(stem, { allow = "all", network = true }))
    local out, ok = helpers.run_with(AS_NOBODY, ([[
      local w = assert(require("mailslot").open(%q))
      io.write(w:relay("forged", { name = "SRV", address = "10.0.0.1", port = 138 }))]]):format(stem))
    assert.is_true(ok, out)
    assert.equal("6", out)
    assert.same({ nil, 1 }, { r:read(0), r:info().rejected })
  end)

  root_it("refused messages arriving during a read do not stretch its timeout", function()
    local stem = helpers.unique_name("stretch")
    local r = assert(mailslot.create(stem, { allow = "all", network = true }))
    -- Another user's writer may open it, but the relays it forges are refused:
    -- it keeps sending them for ten seconds, never blocking, then exits.
    -- exec: no shell is left to report the kill below as "Terminated".
    local child = helpers.spawn_with("exec " .. AS_NOBODY, ([[
      local w = assert(require("mailslot").open(%q, { timeout = 0 }))
      io.write(io.popen("echo $PPID"):read("n"), "\n") io.flush() -- our pid
      local forged = { name = "FORGED", address = "10.0.0.1", port = 138 }
      for _ = 1, 200 do w:relay("x", forged) require("socket").sleep(0.05) end]]):format(stem))
    local pid = assert(child:read("n"))
    finally(function()
      os.execute("kill " .. pid .. " 2>/dev/null")
      child:close()
      r:close()
    end)
    local msg, _, code = r:read(0.3)
    assert.is_nil(msg)
    assert.equal("timeout", code)
    -- Had each refused message restarted the wait, the read would have outlived the writer.
    assert.is_true(os.execute("kill -0 " .. pid .. " 2>/dev/null"))
    assert.is_true(r:info().rejected >= 1)
  end)

  describe("with socket files", function()
    local dir
    before_each(function() dir = temp_dir() end)
    after_each(function() os.execute("rm -rf " .. helpers.quote(dir)) end)

    root_it("the file's mode tells another user's writer `access` when it opens", function()
      local stem = helpers.unique_name("access")
      local r <close> = assert(mailslot.create(stem, { dir = dir }))
      local out = write_as(AS_NOBODY, stem, "x", ("{ dir = %q }"):format(dir))
      assert.equal("open access mailslot " .. r:name() .. ": access denied", out)
      assert.equal(0, r:info().count)
    end)

    root_it('allow = "all" makes the file writable by everyone', function()
      local stem = helpers.unique_name("access")
      local r <close> = assert(mailslot.create(stem, { dir = dir, allow = "all" }))
      assert.equal("wrote 3", write_as(AS_NOBODY, stem, "all", ("{ dir = %q }"):format(dir)))
      assert.equal("all", r:read(0))
    end)

    root_it('allow = "group" lets the group open it', function()
      local stem = helpers.unique_name("access")
      local r <close> = assert(mailslot.create(stem, { dir = dir, allow = "group" }))
      local opts = ("{ dir = %q }"):format(dir)
      assert.matches("^open access", write_as(AS_NOBODY, stem, "x", opts))
      assert.equal("wrote 5", write_as(AS_NOBODY_ROOT_GROUP, stem, "group", opts))
      assert.equal("group", r:read(0))
    end)
  end)

  helpers.nix_it("sender() gives the pid, uid and gid of the writing process", function()
    local stem = helpers.unique_name("sender")
    local r <close> = assert(mailslot.create(stem))
    local out = helpers.run(([[
      local pid = io.open("/proc/self/stat"):read("n")
      local status = io.open("/proc/self/status"):read("a")
      local w = assert(require("mailslot").open(%q))
      w:write("who")
      io.write(pid, " ", status:match("\nUid:%%s+(%%d+)"), " ", status:match("\nGid:%%s+(%%d+)"))]]):format(stem))
    local pid, uid, gid = out:match("^(%d+) (%d+) (%d+)$")
    assert.is_not_nil(pid, out)
    assert.equal("who", r:read(0))
    assert.same({ pid = tonumber(pid), uid = tonumber(uid), gid = tonumber(gid) }, r:sender())
  end)

  helpers.nix_it("sender() follows each message read, also from the queue", function()
    local stem = helpers.unique_name("sender")
    local r <close> = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem))
    local child_pid = tonumber((helpers.run(([[
      assert(require("mailslot").open(%q)):write("child")
      io.write(io.open("/proc/self/stat"):read("n"))]]):format(stem))))
    w:write("me")
    assert.equal(2, r:info().count) -- both queued in user space now
    local me = io.open("/proc/self/stat"):read("n")
    assert.equal("child", r:read(0))
    assert.equal(child_pid, r:sender().pid)
    assert.equal("me", r:read(0))
    assert.equal(me, r:sender().pid)
    r:read(0) -- a failed read keeps the last sender
    assert.equal(me, r:sender().pid)
  end)
end)
