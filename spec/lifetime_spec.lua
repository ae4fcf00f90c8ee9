-- A mailslot lives while its reader's handle lives: close, __gc and __close
-- end it, unread messages go with it, and writers learn it is gone.
local mailslot = require "mailslot"
local helpers = require "helpers"

local CLOSED = "attempt to use a closed mailslot"

describe("lifetime", function()
  it("close returns true and is idempotent, for readers and writers", function()
    local stem = helpers.unique_name("life")
    local r = assert(mailslot.create(stem))
    local w = assert(mailslot.open(stem))
    assert.is_true(w:close())
    assert.is_true(w:close())
    assert.is_true(r:close())
    assert.is_true(r:close())
  end)

  it("closing frees the name for a new reader", function()
    local stem = helpers.unique_name("life")
    local r = assert(mailslot.create(stem))
    r:close()
    local _again <close> = assert(mailslot.create(stem)) -- luacheck: ignore (kept open by <close>)
  end)

  it("using a closed reader raises", function()
    local r = assert(mailslot.create(helpers.unique_name("life")))
    r:close()
    for _, call in ipairs {
      function() r:read(0) end, function() r:info() end, function() r:settimeout(1) end, function() r:gettimeout() end,
      function() r:sender() end, function() r:getfd() end, function() r:pollfd() end,
      function() r:events() end, function() r:timeout() end, function() r:name() end,
      function() mailslot.wait({ r }, 0) end,
    } do
      assert.has_error(call, CLOSED)
    end
  end)

  it("using a closed writer raises", function()
    local stem = helpers.unique_name("life")
    local _r <close> = assert(mailslot.create(stem)) -- luacheck: ignore (kept open by <close>)
    local w = assert(mailslot.open(stem))
    w:close()
    for _, call in ipairs {
      function() w:write("x") end, function() w:relay("x", { name = "A", address = "1.2.3.4", port = 1 }) end,
      function() w:settimeout(1) end, function() w:getfd() end, function() w:pollfd() end,
      function() w:events() end, function() w:timeout() end, function() w:name() end,
    } do
      assert.has_error(call, CLOSED)
    end
  end)

  it("tostring of open and closed handles", function()
    local stem = helpers.unique_name("life")
    local r = assert(mailslot.create(stem))
    local w = assert(mailslot.open(stem))
    assert.equal("mailslot reader " .. r:name(), tostring(r))
    assert.equal("mailslot writer " .. r:name(), tostring(w))
    w:close() r:close()
    assert.equal("mailslot reader (closed)", tostring(r))
    assert.equal("mailslot writer (closed)", tostring(w))
  end)

  it("a reader dropped by Lua is closed by the garbage collector", function()
    local stem = helpers.unique_name("life")
    do local _ = assert(mailslot.create(stem)) end
    collectgarbage() collectgarbage()
    local _again <close> = assert(mailslot.create(stem)) -- luacheck: ignore (kept open by <close>)
  end)

  it("a writer dropped by Lua is closed by the garbage collector", function()
    -- its descriptor is released: open and drop many more than a process may hold
    local stem = helpers.unique_name("life")
    local _r <close> = assert(mailslot.create(stem)) -- luacheck: ignore (kept open by <close>)
    -- Windows has no such per-process limit to read; 1024 handles show the same.
    local limit = not helpers.windows and tonumber(io.popen("ulimit -n"):read("l")) or 1024
    for _ = 1, math.min(limit * 2, 70000) do
      assert(mailslot.open(stem))
      if _ % 256 == 0 then collectgarbage() end
    end
  end)

  it("`local r <close>` closes at the end of the block, also on error", function()
    local stem = helpers.unique_name("life")
    local kept
    do
      local r <close> = assert(mailslot.create(stem))
      kept = r
    end
    assert.equal("mailslot reader (closed)", tostring(kept))
    assert.is_false(pcall(function()
      local r <close> = assert(mailslot.create(stem))
      kept = r
      error("boom")
    end))
    assert.equal("mailslot reader (closed)", tostring(kept))
    local _again <close> = assert(mailslot.create(stem)) -- luacheck: ignore (kept open by <close>)
  end)

  helpers.wine_pending("a name outlives its reader while a writer has it open; writes to it are lost",
    "closing the reader discards unread messages", function()
    local stem = helpers.unique_name("life")
    local r = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem))
    w:write("one") w:write("two")
    r:info() -- one queued in user space, one maybe still in the kernel
    w:write("three")
    r:close()
    local again <close> = assert(mailslot.create(stem))
    assert.same({ nil, "timeout" }, { again:read(0), select(3, again:read(0)) })
  end)

  helpers.wine_pending("a name outlives its reader while a writer has it open; writes to it are lost",
    "the next write after the reader closed fails with `closed`", function()
    local stem = helpers.unique_name("life")
    local r = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem))
    assert.equal(1, w:write("a"))
    r:close()
    local n, msg, code = w:write("b")
    assert.is_nil(n)
    assert.equal("closed", code)
    assert.equal("mailslot " .. w:name() .. " was closed by its reader", msg)
    assert.same({ nil, "closed" }, { w:write("c"), select(3, w:write("c")) })
  end)

  helpers.wine_pending("a name outlives its reader while a writer has it open; writes to it are lost",
    "a reader in another process that exits closes the slot for its writers", function()
    local stem = helpers.unique_name("life")
    local stop_reader = helpers.spawn_reader(stem)
    finally(stop_reader)
    local w <close> = assert(mailslot.open(stem))
    assert.equal(1, w:write("x"))
    stop_reader()
    assert.equal("closed", select(3, w:write("y")))
  end)

  helpers.wine_pending("a name outlives its reader while a writer has it open; writes to it are lost",
    "a writer reconnects on its own when a new reader of the name appears", function()
    local stem = helpers.unique_name("life")
    local r = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem))
    w:write("to the first")
    r:close()
    local r2 <close> = assert(mailslot.create(stem))
    assert.equal(13, w:write("to the second"))
    assert.equal("to the second", r2:read(0))
    -- and again, each time its reader is replaced
    r2:close()
    local r3 <close> = assert(mailslot.create(stem))
    assert.equal(5, w:write("third"))
    assert.equal("third", r3:read(0))
  end)

  helpers.wine_pending("a name outlives its reader while a writer has it open; writes to it are lost",
    "a writer reconnects to a new reader in another process", function()
    local stem = helpers.unique_name("life")
    local r = assert(mailslot.create(stem))
    local w <close> = assert(mailslot.open(stem))
    r:close()
    local child = helpers.spawn(([[
      local r = assert(require("mailslot").create(%q))
      io.write("ready\n") io.flush()
      io.write(r:read(10) or "nothing")]]):format(stem))
    assert.equal("ready", child:read("l"))
    assert.equal(5, w:write("moved"))
    assert.equal("moved", child:read("a"))
    child:close()
  end)
end)

-- A forked child holds copies of its parent's readers. Whatever it does with
-- them (close, drop, or end its Lua state), only the process that created a
-- reader removes its files: the socket file, its facts, its name file.
describe("lifetime across fork", function()
  -- Runs a Lua process that creates a reader, forks a child that ends it
  -- `how`, then reports whether its files are untouched and it still works.
  local function fork_and_end(how, dir)
    local name = helpers.unique_name("fork") .. ("-long"):rep(30) -- hashed: a name file too
    local out, ok = helpers.run(([[
      local fork, lfs = require "native.fork", require "lfs"
      local m = require "mailslot"
      local name, dir, how = %q, %s, %q
      local opts = dir and { dir = dir } or nil
      local r = assert(m.create(name, opts))
      local function files()
        if not dir then return "" end
        local t = {}
        for f in lfs.dir(dir) do t[#t + 1] = f end
        table.sort(t)
        return table.concat(t, " ")
      end
      local function listed()
        for _, n in ipairs(assert(m.list(opts))) do if n == r:name() then return "listed" end end
        return "not listed"
      end
      local before = files()
      io.stdout:flush()
      local pid = fork.fork()
      if pid == 0 then
        if how == "close" then r:close() os.exit(0)
        elseif how == "drop" then r = nil collectgarbage() collectgarbage() os.exit(0)
        else os.exit(0, true) end -- the whole Lua state
      end
      assert(fork.wait(pid) == 0, "the child failed")
      local w = assert(m.open(name, opts))
      assert(w:write("still here"))
      io.write(tostring(files() == before), " ", listed(), " ", r:read(1) or "nothing")]]):format(
      name, dir and ("%q"):format(dir) or "nil", how))
    assert.is_true(ok, out)
    return out
  end

  local function nix_fork_it(desc, fn)
    if helpers.windows then pending(desc .. " (POSIX only: no fork on Windows)") else it(desc, fn) end
  end

  describe("with socket files", function()
    local dir
    before_each(function() dir = helpers.temp_dir() end)
    after_each(function() os.execute("rm -rf " .. helpers.quote(dir)) end)

    for _, how in ipairs({ "close", "drop", "state" }) do
      nix_fork_it("a child that ends its copy of a reader (" .. how .. ") leaves the parent's files", function()
        assert.equal("true listed still here", fork_and_end(how, dir))
      end)
    end
  end)

  nix_fork_it("a child that ends its Lua state leaves the parent's name file (abstract names)", function()
    assert.equal("true listed still here", fork_and_end("state"))
  end)
end)
