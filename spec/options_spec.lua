-- luacheck: max line length 140
-- Options tables, read the same way by the three C bindings (src/lopt.h):
-- only the table's own fields count (read raw: no __index code runs while C
-- holds what it read), strings stay alive while C uses them, and a mistake
-- raises "bad option 'key' (what)" or "bad option key to 'fn' (unknown option)".
local mailslot = require "mailslot"
local core = require "mailslot.core"
local nbt = require "mailslot.nbt"
local helpers = require "helpers"

-- The message after the caller's position.
local function raises(message, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "no error raised")
  assert.are.equal(message, (tostring(err):gsub("^[^:]*:%d+: ", "")))
end

-- A table whose missing fields an __index makes up, fresh strings each time,
-- after a full collection: what C kept from an earlier call is freed by then.
local function inheriting(own, inherited)
  local calls = 0
  local t = setmetatable(own, {
    __index = function(_, k)
      calls = calls + 1
      collectgarbage()
      local v = inherited[k]
      if type(v) == "string" then v = (v .. "!"):sub(1, -2) end -- a new string object
      return v
    end,
  })
  return t, function() return calls end
end

describe("options tables", function()
  describe("are read raw: an __index is never consulted", function()
    it("by mailslot.nbt, whose strings an __index could free under C (heap-use-after-free before)", function()
      local opts, calls = inheriting({ type = 0x11, source_name = "A", dest_name = "B" }, {
        source_ip = "10.0.0." .. "1", mailslot = "\\MAILSLOT\\" .. ("X"):rep(200), data = ("d"):rep(300),
        source_scope = "scope." .. ("s"):rep(50), dest_scope = "scope." .. ("t"):rep(50),
      })
      raises("bad option 'source_ip' (required)", nbt.encode_datagram, opts)
      assert.are.equal(0, calls())
      local query, qcalls = inheriting({}, { name = "WORKGROUP" })
      raises("bad option 'name' (required)", nbt.encode_name_query, query)
      assert.are.equal(0, qcalls())
    end)

    it("by mailslot.core's create, open and list", function()
      local name = helpers.unique_name("opts")
      local opts, calls = inheriting({}, { max_size = 7, timeout = 0, allow = "nobody", dir = "/nonexistent/dir" })
      local r = assert(core.create(name, opts))
      assert.are.equal(0, r:info().max_size) -- the default, not the inherited 7
      local w = assert(core.open(name, opts))
      assert(core.list(opts))
      assert.are.equal(0, calls())
      w:close()
      r:close()
    end)

    it("by writer:relay's sender table", function()
      local name = helpers.unique_name("opts")
      local r = assert(mailslot.create(name))
      local w = assert(mailslot.open(name))
      local from, calls = inheriting({ name = "PEER", address = "10.0.0.9" }, { port = 138 })
      assert.has_error(function() w:relay("x", from) end, "bad sender port")
      assert.are.equal(0, calls())
      w:close()
      r:close()
    end)

    helpers.nix_it("by mailslot.net_os's udp", function()
      local net_os = require "mailslot.net_os"
      local opts, calls = inheriting({ address = "127.0.0.1" }, { port = "not a port", broadcast = 1 })
      local u = assert(net_os.udp(opts))
      assert.are.equal(0, calls())
      u:close()
    end)
  end)

  describe("speak with one voice", function()
    it("for an unknown key, a wrong type, a value out of range", function()
      raises("bad option bogus to 'create' (unknown option)", core.create, "x", { bogus = 1 })
      raises("bad option bogus to 'encode_name_query' (unknown option)", nbt.encode_name_query, { name = "A", bogus = 1 })
      raises("bad option 'dir' (string expected)", core.list, { dir = 1 })
      raises("bad option 'scope' (string expected)", nbt.encode_name_query, { name = "A", scope = 1 })
      raises("bad option 'max_size' (integer from 0 to 2147483647 expected)", core.create, "x", { max_size = -1 })
      raises("bad option 'suffix' (integer from 0 to 255 expected)", nbt.encode_name_query, { name = "A", suffix = 256 })
    end)

    helpers.nix_it("in mailslot.net_os too", function()
      local net_os = require "mailslot.net_os"
      raises("bad option bogus to 'udp' (unknown option)", net_os.udp, { bogus = 1 })
      raises("bad option 'broadcast' (boolean expected)", net_os.udp, { broadcast = 1 })
      raises("bad option 'port' (integer from 0 to 65535 expected)", net_os.udp, { port = 65536 })
      raises("bad option 'address' (string expected)", net_os.udp, { address = 1 })
      raises("bad option 'address' (dotted IPv4 address expected)", net_os.udp, { address = "localhost" })
    end)
  end)

  describe("refuse a dir holding a NUL byte, which C would cut short", function()
    local message = "bad option 'dir' (string without NUL bytes expected)"
    it("in create, open and list", function()
      local base = helpers.tmpname()
      os.remove(base) -- os.tmpname makes the file on POSIX
      local dir = base .. "-dir" -- never made: nothing may be made there
      local name = helpers.unique_name("nul")
      raises(message, core.create, name, { dir = dir .. "\0/elsewhere" })
      raises(message, core.open, name, { dir = dir .. "\0/elsewhere" })
      raises(message, core.list, { dir = dir .. "\0" })
      -- nothing was made in the directory the value was cut to
      assert.is_nil(io.open(dir))
    end)
  end)
end)
