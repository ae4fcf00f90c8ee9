-- luacheck: max line length 140
-- The error convention: misuse (wrong types, unknown options, bad values)
-- raises and names the argument or option; failures of the world return
-- nil, a message naming the slot, and a portable code.
local mailslot = require "mailslot"
local helpers = require "helpers"

local function fails(code, pattern, f, ...)
  local res = table.pack(f(...))
  assert.equal(3, res.n)
  assert.is_nil(res[1])
  assert.is_string(res[2])
  assert.equal(code, res[3])
  if pattern then assert.matches(pattern, res[2], 1, true) end
  return res[2]
end

describe("errors", function()
  local stem, r, w
  before_each(function()
    stem = helpers.unique_name("err")
    r = assert(mailslot.create(stem))
    w = assert(mailslot.open(stem))
  end)
  after_each(function()
    w:close()
    r:close()
  end)

  describe("misuse raises, naming the argument", function()
    it("create", function()
      assert.has_error(function() mailslot.create() end, "bad argument #1 to 'create' (string expected, got no value)")
      assert.has_error(function() mailslot.create(42) end, "bad argument #1 to 'create' (string expected, got number)")
      assert.has_error(function() mailslot.create("x", 5) end, "bad argument #2 to 'create' (table expected, got number)")
      assert.has_error(function() mailslot.create("x", { size = 1 }) end, "bad option size to 'create' (unknown option)")
      assert.has_error(function() mailslot.create("x", { [1] = true }) end, "bad option 1 to 'create' (unknown option)")
      for _, bad in ipairs { -1, 1.5, "10", 2 ^ 32, true } do
        assert.has_error(function() mailslot.create("x", { max_size = bad }) end,
          "bad option 'max_size' (integer from 0 to 4294967295 expected)")
      end
      assert.has_error(function() mailslot.create("x", { timeout = "soon" }) end, "bad option 'timeout' (number expected)")
      assert.has_error(function() mailslot.create("x", { timeout = -2 }) end,
        "bad timeout (expected seconds >= 0, nil or math.huge)")
      assert.has_error(function() mailslot.create("x", { allow = "nobody" }) end,
        'bad option \'allow\' (expected "user", "group" or "all")')
      assert.has_error(function() mailslot.create("x", { allow = 1 }) end)
      assert.has_error(function() mailslot.create("x", { dir = 1 }) end, "bad option 'dir' (string expected)")
    end)

    it("create checks its options even when the name is invalid", function()
      assert.has_error(function() mailslot.create("", { bogus = 1 }) end, "bad option bogus to 'create' (unknown option)")
    end)

    it("open", function()
      -- (init.lua may wrap open for remote names, so the function's name may vary)
      local ok, err = pcall(mailslot.open, nil)
      assert.is_false(ok)
      assert.matches("bad argument #1 to '[%w_.]*open' %(string expected, got nil%)", err)
      ok, err = pcall(mailslot.open, stem, "fast")
      assert.is_false(ok)
      assert.matches("bad argument #2 to '[%w_.]*open' %(table expected, got string%)", err)
      assert.has_error(function() mailslot.open(stem, { max_size = 1 }) end, "bad option max_size to 'open' (unknown option)")
      assert.has_error(function() mailslot.open(stem, { timeout = {} }) end, "bad option 'timeout' (number expected)")
      assert.has_error(function() mailslot.open(stem, { dir = false }) end, "bad option 'dir' (string expected)")
    end)

    it("reader methods", function()
      assert.has_error(function() r:read("soon") end, "bad argument #1 to 'read' (number expected, got string)")
      assert.has_error(function() r:read(-0.5) end, "bad timeout (expected seconds >= 0, nil or math.huge)")
      assert.has_error(function() r:settimeout(-1) end, "bad timeout (expected seconds >= 0, nil or math.huge)")
      assert.has_error(function() r.read(w) end, "bad argument #1 to 'read' (mailslot.reader expected, got mailslot.writer)")
      assert.has_error(function() r.info({}) end, "bad argument #1 to 'info' (mailslot.reader expected, got table)")
      assert.has_error(function() r.gettimeout(w) end,
        "bad argument #1 to 'gettimeout' (mailslot.reader expected, got mailslot.writer)")
      assert.has_error(function() r.close() end, "bad argument #1 to 'close' (mailslot.reader expected, got no value)")
    end)

    it("writer methods", function()
      assert.has_error(function() w:write() end, "bad argument #1 to 'write' (string expected, got no value)")
      assert.has_error(function() w:write(42) end, "bad argument #1 to 'write' (string expected, got number)")
      assert.has_error(function() w.write(r, "x") end, "bad argument #1 to 'write' (mailslot.writer expected, got mailslot.reader)")
      assert.has_error(function() w:settimeout(0 / 0) end, "bad timeout (expected seconds >= 0, nil or math.huge)")
      assert.has_error(function() w:relay("x") end, "bad argument #2 to 'relay' (table expected, got no value)")
      assert.has_error(function() w:relay("x", { name = ("N"):rep(16), address = "1.2.3.4", port = 1 }) end,
        "bad sender name (at most 15 characters)")
      assert.has_error(function() w:relay("x", { name = "N", address = "1.2.3", port = 1 }) end,
        "bad sender address (dotted IPv4 expected)")
      for _, bad in ipairs({ "1.2.3.256", " 1.2.3.4", "+1.2.3.4", "1.2.3.-0", "1.2.3.4 " }) do
        assert.has_error(function() w:relay("x", { name = "N", address = bad, port = 1 }) end,
          "bad sender address (dotted IPv4 expected)")
      end
      assert.has_error(function() w:relay("x", { name = "N", address = "1.2.3.4", port = 65536 }) end,
        "bad sender port")
    end)

    it("module functions", function()
      assert.has_error(function() mailslot.wait(r) end, "bad argument #1 to 'wait' (table expected, got mailslot.reader)")
      assert.has_error(function() mailslot.wait({ w }, 0) end,
        "bad argument #1 to 'wait' (item 1 is not a mailslot reader)")
      assert.has_error(function() mailslot.wait({ r, "x" }, 0) end,
        "bad argument #1 to 'wait' (item 2 is not a mailslot reader)")
      assert.has_error(function() mailslot.wait({ r }, -1) end, "bad timeout (expected seconds >= 0, nil or math.huge)")
      assert.has_error(function() mailslot.list(1) end, "bad argument #1 to 'list' (table expected, got number)")
      assert.has_error(function() mailslot.list({ path = "/tmp" }) end, "bad option path to 'list' (unknown option)")
      assert.has_error(function() mailslot.parse() end, "bad argument #1 to 'parse' (string expected, got no value)")
    end)
  end)

  describe("failures of the world return nil, message, code", function()
    it("invalid_name", function()
      fails("invalid_name", 'invalid mailslot name "a|b"', mailslot.create, "a|b")
      fails("invalid_name", 'invalid mailslot name "a|b"', mailslot.open, "a|b")
      fails("invalid_name", 'invalid mailslot name "a|b"', mailslot.parse, "a|b")
    end)

    it("exists", function()
      fails("exists", "mailslot " .. r:name() .. " already exists", mailslot.create, stem)
    end)

    it("not_found", function()
      local other = helpers.unique_name("err")
      fails("not_found", mailslot.parse(other).name .. " does not exist", mailslot.open, other)
    end)

    it("timeout", function()
      fails("timeout", r:name(), r.read, r, 0)
      fails("timeout", "no message in mailslot " .. r:name(), mailslot.wait, { r }, 0)
    end)

    helpers.wine_pending("a write after its reader closed succeeds and is lost",
      "closed", function()
      r:close()
      fails("closed", w:name(), w.write, w, "x")
    end)

    helpers.wine10_pending("a local message of any size is carried whole (16 MiB + 1 goes through)",
      "too_big", function()
      local f = io.open("/proc/sys/net/core/wmem_max")
      local limit = f and 2 * f:read("n") or 16 * 1024 * 1024
      if f then f:close() end
      fails("too_big", "is too big for mailslot " .. w:name(), w.write, w, ("x"):rep(limit + 1))
    end)

    it("unreachable", function()
      if mailslot.network then return end -- the network layer delivers remote names
      fails("unreachable", "\\\\FAR\\mailslot\\x", mailslot.open, "\\\\far\\mailslot\\x")
    end)

    helpers.nix_it("a socket directory that cannot be used", function()
      local msg = fails("system", nil, mailslot.create, stem, { dir = "/dev/null/slots" })
      assert.matches(r:name(), msg, 1, true)
      assert.matches("/dev/null/slots", msg, 1, true)
      msg = fails("invalid_name", nil, mailslot.create, stem, { dir = "/tmp/" .. ("d"):rep(100) })
      assert.matches(r:name(), msg, 1, true)
      msg = fails("not_found", nil, mailslot.open, stem, { dir = "/tmp/no-such-mailslot-dir" })
      assert.matches(r:name(), msg, 1, true)
      fails("system", "/dev/null", mailslot.list, { dir = "/dev/null" })
    end)
  end)
end)
