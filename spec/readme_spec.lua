-- Every ```lua block of README.md runs as pasted, against this build: each in
-- a fresh Lua process with the documented package paths and nothing else
-- (no `mailslot` global, no helper). On POSIX each block gets a private
-- MAILSLOT_DIR, so its fixed slot names ("a", "app\finance") cannot meet
-- another spec's or another run's.
local helpers = require "helpers"

local function readme_blocks()
  local f = assert(io.open("README.md", "rb"))
  local text = helpers.unix_lines(f:read("a"))
  f:close()
  local blocks, line_no, current, start = {}, 0, nil, nil
  for line in (text .. "\n"):gmatch("(.-)\n") do
    line_no = line_no + 1
    if current then
      if line:match("^```%s*$") then
        blocks[#blocks + 1] = { line = start, code = table.concat(current, "\n") }
        current = nil
      else
        current[#current + 1] = line
      end
    elseif line:match("^```lua%s*$") then
      current, start = {}, line_no
    end
  end
  assert(current == nil, "README.md: the ```lua block of line " .. tostring(start) .. " is not closed")
  return blocks
end

describe("README.md", function()
  local blocks = readme_blocks()

  it("has Lua blocks to run", function()
    assert.is_true(#blocks >= 2, "found " .. #blocks .. " ```lua blocks")
  end)

  for _, block in ipairs(blocks) do
    it("the Lua block of line " .. block.line .. " runs as pasted", function()
      local out, ok
      if helpers.windows then
        out, ok = helpers.run(block.code .. "\nio.write('\\nREADME-OK\\n')")
      else
        local dir = helpers.temp_dir()
        finally(function() os.execute("rm -rf " .. helpers.quote(dir)) end)
        -- 2>&1: a failing block's error and traceback show in the assertion.
        out, ok = helpers.output("MAILSLOT_DIR=" .. helpers.quote(dir) .. " "
          .. helpers.lua_command(block.code .. "\nio.write('\\nREADME-OK\\n')") .. " 2>&1")
      end
      assert.is_true(ok and out:find("README-OK\n", 1, true) ~= nil, "README.md line " .. block.line .. ":\n" .. out)
    end)
  end
end)
