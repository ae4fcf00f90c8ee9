-- The command's three descriptions agree: every option a command accepts is
-- in its --help and in its entry of the man page (doc/mailslot.1), every
-- command is in the man page, and so is every environment variable the
-- module and the command read (the README has them too).
local helpers = require "helpers"
local cli = require "mailslot.cli"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = helpers.unix_lines(f:read("a"))
  f:close()
  return s
end

-- The man page's text with groff's escapes for "-" and "\" undone.
local man = read("doc/mailslot.1"):gsub("\\%-", "-"):gsub("\\e", "\\")

-- The entry of `cmd` under COMMANDS: from its ".TP/.B cmd" to the next command's.
local function man_entry(cmd)
  local commands = assert(man:match("\n%.SH COMMANDS\n(.-)\n%.SH "), "no COMMANDS section")
  local entry = ("\n" .. commands .. "\n.TP\n.B end\n"):match("\n%.TP\n%.B " .. cmd .. "[ \n](.-)\n%.TP\n%.B %l+[ \n]")
  return entry
end

-- `word` (an option as written: "--count", "-n") stands alone in `text`.
local function mentions(text, word)
  return ("\n" .. text .. "\n"):find("[^%w%-]" .. word:gsub("%-", "%%-") .. "[^%w%-]") ~= nil
end

local function help_of(cmd)
  -- single quotes only: cmd.exe mangles double quotes inside the -e argument
  local code = ("arg = { [0] = 'bin/mailslot', '%s', '--help' } dofile('bin/mailslot')"):format(cmd)
  return helpers.unix_lines((helpers.output(helpers.lua_command(code))))
end

describe("the man page and --help", function()
  it("are dated and versioned as this module", function()
    local date, version = man:match('^%.TH MAILSLOT 1 "(%d%d%d%d%-%d%d%-%d%d)" "lua%-mailslot ([^"]+)"')
    assert.is_truthy(date, "the .TH line has no YYYY-MM-DD date")
    assert.equal(require("mailslot")._VERSION, version)
  end)

  for _, cmd in ipairs(cli.commands) do
    local mod = cli.find(cmd)
    if mod then
      it("name every option of '" .. cmd .. "', in its --help and in its man page entry", function()
        local help, entry = help_of(cmd), man_entry(cmd)
        assert.is_truthy(entry, "doc/mailslot.1 has no entry for " .. cmd .. " under COMMANDS")
        assert.is_true(mentions(man:match("\n%.SH SYNOPSIS\n(.-)\n%.SH "), "mailslot " .. cmd),
          "the SYNOPSIS does not show " .. cmd)
        for _, o in ipairs(mod.options or {}) do
          for _, word in ipairs({ "--" .. o.long, o.short and ("-" .. o.short) }) do
            assert.is_true(mentions(help, word), "mailslot " .. cmd .. " --help does not name " .. word)
            assert.is_true(mentions(entry, word), "the man page's entry for " .. cmd .. " does not name " .. word)
          end
        end
      end)
    end
  end

  -- The variables the module and the command read: "MAILSLOT_..." string
  -- literals in the sources (the scripts' own, such as MAILSLOT_APT_WAIT, are not).
  helpers.nix_it("describe every variable the program reads, as the README does", function()
    local sources = helpers.output("cat lua/mailslot/*.lua lua/mailslot/*/*.lua src/*.c")
    local env, readme, seen = man:match("\n%.SH ENVIRONMENT\n(.-)\n%.SH "), read("README.md"), {}
    for var in sources:gmatch('"(MAILSLOT_[%u_]+)"') do
      if not seen[var] then
        seen[var] = true
        assert.is_true(mentions(env, var), "the man page's ENVIRONMENT lacks " .. var)
        assert.is_true(mentions(readme, var), "README.md lacks " .. var)
      end
    end
    assert.is_truthy(seen.MAILSLOT_DIR and seen.MAILSLOT_PORT)
  end)
end)
