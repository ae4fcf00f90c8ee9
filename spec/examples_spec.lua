-- The examples a newcomer runs first tell their story in the order it happens
-- and fail with one clear line. Each run gets a private MAILSLOT_DIR, so the
-- examples' fixed names (chat\sue ...) never meet another run's.
local helpers = require "helpers"
local mailslot = require "mailslot"

-- Runs examples/NAME.lua with MAILSLOT_DIR=dir: stdout, stderr, exit code.
local function run_example(file, dir)
  local errfile = helpers.tmpname()
  local code = ("arg = { [0] = %q } dofile(%q)"):format(file, file)
  local out, _, status = helpers.output("MAILSLOT_DIR=" .. helpers.quote(dir) .. " " .. helpers.lua_command(code)
    .. " 2>" .. helpers.quote(errfile))
  local err = helpers.read_file(errfile)
  os.remove(errfile)
  return out, err, status
end

describe("examples/chat.lua", function()
  local dir
  before_each(function() dir = helpers.temp_dir() end)
  after_each(function() os.execute("rm -rf " .. helpers.quote(dir)) end)

  helpers.nix_it("Pete answers after he has read the lines said before he came", function()
    local out, err, status = run_example("examples/chat.lua", dir)
    assert.are.equal("", err)
    assert.are.equal(0, status)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    local says, backlog = nil, {}
    for i, line in ipairs(lines) do
      if line:find("^pete says:") then says = i end
      if line:find("^  pete  sees  ") then backlog[#backlog + 1] = i end
    end
    assert.is_not_nil(says, out)
    assert.are.equal(3, #backlog, out)
    for _, i in ipairs(backlog) do assert.is_true(i < says, out) end
    assert.are.equal("4 lines, 8 deliveries", lines[#lines])
  end)

  helpers.nix_it("a second chat says in one line that the names are taken, and exits 1", function()
    local taken = assert(mailslot.create("chat\\sue", { dir = dir }))
    finally(function() taken:close() end)
    local out, err, status = run_example("examples/chat.lua", dir)
    assert.are.equal("", out)
    assert.are.equal(1, status)
    assert.matches("^chat: [^\n]*chat\\sue already exists %(is another chat running%?%)\n$", err)
  end)
end)
