-- The `mailslot` command, driven as a user drives it: spawned as a process,
-- judged by its output and exit code. Listeners are synchronised on their
-- "listening on ..." line, never on sleeps.
local helpers = require "helpers"
local json = require "dkjson"

local quote = helpers.quote

-- Windows has no sender pid or uid: the listener says so instead.
local SENDER = helpers.windows and "from an unknown sender" or "from pid %d+, uid %d+"

local function tmpfile(content)
  local path = helpers.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content or "")
  f:close()
  return path
end

local slurp = helpers.read_file

-- The command line running bin/mailslot with the spec's package paths.
local function command(argv)
  local setup = ("package.path=%q package.cpath=%q"):format(package.path, package.cpath)
  local parts = { quote(helpers.lua_exe()), "-e", quote(setup), quote("bin/mailslot") }
  for _, a in ipairs(argv) do parts[#parts + 1] = quote(a) end
  return table.concat(parts, " ")
end

local function wrap(cmd)
  if helpers.windows then return '"' .. cmd .. '"' end -- cmd.exe strips one pair
  return cmd
end

--- Runs the command to its end; returns stdout, stderr, exit code.
local function mailslot(argv, stdin)
  local errfile, infile = helpers.tmpname(), tmpfile(stdin)
  local p = assert(io.popen(wrap(command(argv) .. " <" .. quote(infile) .. " 2>" .. quote(errfile)), "r"))
  local out = helpers.unix_lines(p:read("a"))
  local _, _, code = p:close()
  local err = helpers.unix_lines(slurp(errfile))
  os.remove(errfile)
  os.remove(infile)
  return out, err, code
end

--- Starts `mailslot listen ...` (stderr merged into stdout) and returns once
-- it said it listens: the handle, and that first line.
local function start_listener(argv)
  local full = { "listen" }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  local p = assert(io.popen(wrap(command(full) .. " 2>&1"), "r"))
  return p, helpers.unix_lines(p:read("l"))
end

--- The rest of a listener's output and its exit code.
local function finish(p)
  local out = helpers.unix_lines(p:read("a"))
  local _, _, code = p:close()
  return out, code
end

local function full_name(name)
  return "\\\\.\\mailslot\\" .. name
end

describe("mailslot command", function()
  describe("help and usage", function()
    it("--help lists the commands and exits 0", function()
      local out, err, code = mailslot({ "--help" })
      assert.equal(0, code)
      assert.equal("", err)
      assert.matches("usage: mailslot", out, 1, true)
      for _, cmd in ipairs({ "list", "listen", "send", "info" }) do
        assert.matches("\n  " .. cmd .. " ", out, 1, true)
      end
    end)

    it("each command has --help, and 'help CMD' says the same", function()
      for _, cmd in ipairs({ "list", "listen", "send", "info" }) do
        local out, _, code = mailslot({ cmd, "--help" })
        assert.equal(0, code)
        assert.matches("usage: mailslot " .. cmd, out, 1, true)
        assert.matches("--help", out, 1, true)
        local same = mailslot({ "help", cmd })
        assert.equal(out, same)
      end
    end)

    it("--version names the module version", function()
      local out, _, code = mailslot({ "--version" })
      assert.equal(0, code)
      assert.matches("^mailslot %d+%.%d+%.%d+", out)
    end)

    it("no command prints the usage on stderr and exits 2", function()
      local out, err, code = mailslot({})
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("usage: mailslot", err, 1, true)
    end)

    it("an unknown command exits 2 with a hint", function()
      local _, err, code = mailslot({ "frobnicate" })
      assert.equal(2, code)
      assert.matches("unknown command 'frobnicate'", err, 1, true)
      assert.matches("mailslot --help", err, 1, true)
    end)

    it("an unknown option, a missing name, a bad number exit 2", function()
      local _, err, code = mailslot({ "listen", "--loud", "x" })
      assert.equal(2, code)
      assert.matches("unknown option --loud", err, 1, true)

      _, err, code = mailslot({ "send" })
      assert.equal(2, code)
      assert.matches("mailslot send: missing NAME", err, 1, true)

      _, err, code = mailslot({ "listen", "--count", "many", "x" })
      assert.equal(2, code)
      assert.matches("bad value 'many' for --count", err, 1, true)

      _, err, code = mailslot({ "listen", "--max-size", "99999999999999", "x" })
      assert.equal(2, code)
      assert.matches("bad value '99999999999999' for --max-size", err, 1, true)

      _, _, code = mailslot({ "listen", "--max-size", "2147483648", "x" })
      assert.equal(2, code)

      _, err, code = mailslot({ "serve", "--bind", "999.1.1.1" })
      assert.equal(2, code)
      assert.matches("bad value '999.1.1.1' for --bind", err, 1, true)

      _, _, code = mailslot({ "serve", "--bind", "localhost" })
      assert.equal(2, code)

      _, err, code = mailslot({ "info", "a", "b" })
      assert.equal(2, code)
      assert.matches("unexpected argument 'b'", err, 1, true)
    end)

    it("an unknown short option is named as written, alone or in a bundle", function()
      local _, err, code = mailslot({ "send", "-oops", "x" })
      assert.equal(2, code)
      assert.matches("mailslot send: unknown option -oops\n", err, 1, true)
      _, err, code = mailslot({ "send", "-vx", "x" })
      assert.equal(2, code)
      assert.matches("mailslot send: unknown option -x in -vx\n", err, 1, true)
    end)

    it("listen refuses --raw together with --json or --full, before creating anything", function()
      local name = helpers.unique_name("cli")
      for _, other in ipairs({ "--json", "--full" }) do
        local _, err, code = mailslot({ "listen", "--raw", other, name })
        assert.equal(2, code)
        assert.equal(1, select(2, err:gsub("^mailslot listen: %-%-raw writes the messages as they are: not with ", "")))
        assert.matches(other .. "\n", err, 1, true)
      end
    end)

    it("send refuses MESSAGE arguments together with --file", function()
      local _, err, code = mailslot({ "send", "--file", "x", "name", "msg" })
      assert.equal(2, code)
      assert.matches("not both", err, 1, true)
    end)
  end)

  describe("listen and send", function()
    it("shows text messages with time, size and the sender's pid", function()
      local name = helpers.unique_name("cli")
      local p, first = start_listener({ "--count", "2", "--timeout", "10", name })
      assert.equal("listening on " .. full_name(name), first)
      local out, err, code = mailslot({ "send", name, "hello", "two words" })
      assert.equal(0, code, err)
      assert.equal("", out)
      local shown, lcode = finish(p)
      assert.equal(0, lcode, shown)
      assert.matches("^%d%d:%d%d:%d%d  5 bytes  " .. SENDER .. "\n  hello\n", shown)
      assert.matches("\n%d%d:%d%d:%d%d  9 bytes  " .. SENDER .. "\n  two words\n$", shown)
    end)

    it("sends one message per line of standard input", function()
      local name = helpers.unique_name("cli")
      local p = start_listener({ "-n", "4", "-t", "10", "--json", name })
      local _, err, code = mailslot({ "send", "--verbose", name }, "one\ntwo\n\nthree")
      assert.equal(0, code, err)
      local out, lcode = finish(p)
      assert.equal(0, lcode, out)
      local texts = {}
      for line in out:gmatch("[^\n]+") do texts[#texts + 1] = json.decode(line).text end
      assert.same({ "one", "two", "", "three" }, texts)
      assert.matches("sent 3 bytes to " .. full_name(name), err, 1, true)
    end)

    it("--json gives one parsable object per message, sender included", function()
      local name = helpers.unique_name("cli")
      local p = start_listener({ "--json", "--count", "1", "--timeout", "10", name })
      local text = 'quote " backslash \\ tab \t é'
      -- Through stdin: cmd.exe cannot pass a quote inside an argument intact.
      local _, err, code = mailslot({ "send", name }, text .. "\n")
      assert.equal(0, code, err)
      local out, lcode = finish(p)
      assert.equal(0, lcode, out)
      local obj = assert(json.decode(out))
      assert.equal(text, obj.text)
      assert.equal(#text, obj.size)
      assert.equal(full_name(name), obj.slot)
      if not helpers.windows then assert.is_number(obj.sender.pid) end
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", obj.time)
    end)

    it("shows a binary message as a hex dump, and as hex in JSON", function()
      local name = helpers.unique_name("cli")
      local data = "\0\1\2ABC\255\254" .. ("z"):rep(12)
      local file = tmpfile(data)
      local p = start_listener({ "--count", "1", "--timeout", "10", name })
      local _, err, code = mailslot({ "send", "--file", file, name })
      assert.equal(0, code, err)
      local out, lcode = finish(p)
      assert.equal(0, lcode, out)
      assert.matches("20 bytes  " .. SENDER .. "  binary\n", out)
      assert.matches("  00000000  00 01 02 41 42 43 ff fe  7a 7a 7a 7a 7a 7a 7a 7a  |...ABC..zzzzzzzz|\n",
        out, 1, true)
      assert.matches("  00000010  7a 7a 7a 7a ", out, 1, true)

      p = start_listener({ "--json", "--count", "1", "--timeout", "10", name })
      _, err, code = mailslot({ "send", "--file", "-", name }, data)
      assert.equal(0, code, err)
      out = finish(p)
      os.remove(file)
      local obj = assert(json.decode(out))
      assert.is_nil(obj.text)
      assert.equal("000102414243fffe" .. ("7a"):rep(12), obj.hex)
    end)

    it("shows at most a screen of a long binary message, and says how much it left out", function()
      local name = helpers.unique_name("cli")
      local data = ("\0\1\2\255"):rep(16 * 1024 // 4)
      local file = tmpfile(data)
      finally(function() os.remove(file) end)
      local p = start_listener({ "--count", "1", "--timeout", "10", name })
      local _, err, code = mailslot({ "send", "--file", file, name })
      assert.equal(0, code, err)
      local out, lcode = finish(p)
      assert.equal(0, lcode, out)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal(22, #lines, out) -- the heading, 20 lines of 16 bytes, the note
      assert.matches("  16384 bytes  " .. SENDER .. "  binary$", lines[1])
      assert.equal("  00000130  00 01 02 ff 00 01 02 ff  00 01 02 ff 00 01 02 ff  |................|", lines[21])
      assert.equal("  ... " .. (#data - 320) .. " more bytes not shown (--full shows all, --raw writes the message"
        .. " as it is)", lines[22])
    end)

    it("--full shows the whole of a big message", function()
      local name = helpers.unique_name("cli")
      local data = ("\0\1\2\255"):rep(1024)
      local p = start_listener({ "--count", "1", "--timeout", "10", "--full", name })
      local _, err, code = mailslot({ "send", "--file", "-", name }, data)
      assert.equal(0, code, err)
      local out, lcode = finish(p)
      assert.equal(0, lcode, out)
      local _, hex_lines = out:gsub("\n  %x%x%x%x%x%x%x%x  ", "")
      assert.equal(#data // 16, hex_lines)
      assert.is_nil(out:find("not shown", 1, true))
      assert.matches("\n  00000ff0  00 01 02 ff ", out, 1, true)
    end)

    it("a long text message is cut at a screen too, on a character boundary", function()
      local name = helpers.unique_name("cli")
      local text = ("é"):rep(3000) -- 6000 bytes, one line
      local p = start_listener({ "--count", "1", "--timeout", "10", name })
      local _, err, code = mailslot({ "send", "--file", "-", name }, text)
      assert.equal(0, code, err)
      local out = finish(p)
      local shown = out:match("\n  ([^\n]+)\n  %.%.%. ")
      assert.is_truthy(shown, out)
      assert.is_true(#shown <= 20 * 80, #shown)
      assert.equal(("é"):rep(#shown // 2), shown) -- whole characters only
      assert.matches("\n  %.%.%. " .. (#text - #shown) .. " more bytes not shown", out)
    end)

    helpers.nix_it("--raw writes the message's bytes unchanged, so a file round-trips", function()
      -- (POSIX only: Lua's stdout on Windows is in text mode and would turn \n into \r\n)
      local name = helpers.unique_name("cli")
      local data = {}
      for i = 0, 300 * 1024 - 1 do data[#data + 1] = string.char((i * 7 + i // 256) % 256) end
      data = table.concat(data)
      local file, received = tmpfile(data), helpers.tmpname()
      finally(function() os.remove(file) os.remove(received) end)
      local full = { "listen" }
      for _, a in ipairs({ "--count", "1", "--timeout", "10", "--raw", name }) do full[#full + 1] = a end
      -- stderr (the "listening on" line) through the pipe; the bytes to a file
      local p = assert(io.popen(command(full) .. " 2>&1 >" .. quote(received), "r"))
      assert.equal("listening on " .. full_name(name), p:read("l"))
      local _, err, code = mailslot({ "send", "--file", file, name })
      assert.equal(0, code, err)
      local rest, lcode = finish(p)
      assert.equal(0, lcode, rest)
      assert.equal("", rest)
      assert.is_true(slurp(received) == data, "the bytes written differ from the file sent")
    end)

    it("an empty message is shown as 0 bytes", function()
      local name = helpers.unique_name("cli")
      local p = start_listener({ "--count", "1", "--timeout", "10", name })
      local _, err, code = mailslot({ "send", name, "" })
      assert.equal(0, code, err)
      local out = finish(p)
      assert.matches("  0 bytes  " .. SENDER, out)
    end)

    it("--timeout exits 1 and says how many messages came", function()
      local name = helpers.unique_name("cli")
      local out, err, code = mailslot({ "listen", "--count", "2", "--timeout", "0.2", name })
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("mailslot listen: no message on " .. full_name(name) .. " for 0.2 s, 0 of 2 received (timeout)",
        err, 1, true)
    end)

    helpers.wine_pending("max_size is not enforced on writers",
      "--max-size: send is told too_big; listen reports what was sent without asking", function()
      local name = helpers.unique_name("cli")
      local p = start_listener({ "--max-size", "4", "--count", "1", "--timeout", "10", name })
      local _, err, code = mailslot({ "send", name, "too long" })
      assert.equal(1, code)
      assert.matches("its reader takes at most 4 bytes", err, 1, true)
      assert.is_true(helpers.raw_send(nil, { name = function() return full_name(name) end }, "too long"))
      _, err, code = mailslot({ "send", name, "ok" })
      assert.equal(0, code, err)
      local out, lcode = finish(p)
      assert.equal(0, lcode, out)
      assert.matches("1 message larger than --max-size 4 discarded", out, 1, true)
      assert.matches("  2 bytes  " .. SENDER .. "\n  ok\n", out)
    end)

    helpers.nix_it("--network shows messages relayed from other hosts; without it they are rejected", function()
      local core = require "mailslot"
      local from = { name = "FARHOST", address = "10.9.8.7", port = 138 }
      local name = helpers.unique_name("cli")
      local p = start_listener({ "--network", "--count", "1", "--timeout", "10", name })
      local w = assert(core.open(name))
      assert.equal(3, w:relay("hey", from))
      w:close()
      local out, code = finish(p)
      assert.equal(0, code, out)
      assert.matches("3 bytes  from FARHOST at 10.9.8.7:138\n  hey\n", out, 1, true)

      p = start_listener({ "--count", "1", "--timeout", "10", name })
      w = assert(core.open(name))
      assert.equal(3, w:relay("hey", from))
      assert.equal(5, w:write("local"))
      w:close()
      out, code = finish(p)
      assert.equal(0, code, out)
      assert.matches("1 message rejected (senders not allowed by --allow, or from the network without --network)",
        out, 1, true)
      assert.matches("5 bytes  " .. SENDER .. "\n  local\n", out)
      assert.is_nil(out:find("FARHOST", 1, true))
    end)

    it("listen on a name that already has a reader fails with its code", function()
      local name = helpers.unique_name("cli")
      local p = start_listener({ "--count", "1", "--timeout", "10", name })
      local _, err, code = mailslot({ "listen", "--timeout", "0", name })
      assert.equal(1, code)
      assert.matches("already exists (exists)", err, 1, true)
      mailslot({ "send", name, "bye" })
      finish(p)
    end)

    it("send to a mailslot without a reader exits 1 with not_found", function()
      local out, err, code = mailslot({ "send", helpers.unique_name("nobody"), "hi" })
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("^mailslot send: mailslot .* does not exist %(not_found%)\n$", err)
    end)

    helpers.nix_it("send on a terminal says it reads the messages typed, one per line", function()
      -- A terminal from util-linux's script(1): what printf writes is typed into it.
      local name = helpers.unique_name("cli")
      local r = assert(require("mailslot").create(name))
      finally(function() r:close() end)
      -- script(1) is not ours to sanitize: the ASan run's LD_PRELOAD goes to our command only
      local preload = os.getenv("LD_PRELOAD")
      local inner = (preload and ("LD_PRELOAD=" .. quote(preload) .. " ") or "") .. command({ "send", name })
      local p = assert(io.popen("printf 'typed\\n' | env -u LD_PRELOAD timeout 10 script -qec " .. quote(inner)
        .. " /dev/null", "r"))
      local out = p:read("a")
      assert.is_true(p:close(), out)
      assert.matches("mailslot send: type the messages, one per line; Ctrl-D ends", out, 1, true)
      assert.equal("typed", r:read(5))
      -- and piped input says nothing
      local _, err, code = mailslot({ "send", name }, "piped\n")
      assert.equal(0, code, err)
      assert.equal("", err)
      assert.equal("piped", r:read(5))
    end)

    helpers.root_it("send refused by the reader says how the reader can allow it", function()
      local name = helpers.unique_name("cli")
      local r = assert(require("mailslot").create(name))
      finally(function() r:close() end)
      local out, _, code = helpers.output(helpers.AS_NOBODY .. " " .. command({ "send", name, "x" }) .. " 2>&1")
      assert.equal(1, code, out)
      assert.matches(": access denied (access)\nmailslot send: the reader must allow your user: "
        .. "`mailslot listen --allow all NAME`", out, 1, true)
    end)

    it("send with a file that cannot be read exits 1", function()
      local name = helpers.unique_name("cli")
      local p = start_listener({ "--count", "1", "--timeout", "10", name })
      local _, err, code = mailslot({ "send", "--file", "/nonexistent/file", name })
      assert.equal(1, code)
      assert.matches("cannot read /nonexistent/file", err, 1, true)
      local _, times = err:gsub("/nonexistent/file", "")
      assert.equal(1, times, err) -- the path once, then why
      mailslot({ "send", name, "bye" })
      finish(p)
    end)

    it("an invalid name exits 1 with invalid_name", function()
      local _, err, code = mailslot({ "send", "bad*name?", "x" })
      assert.equal(1, code)
      assert.matches("(invalid_name)", err, 1, true)
    end)
  end)

  describe("list and info", function()
    helpers.wine_pending("FindFirstFile cannot enumerate \\\\.\\mailslot\\*",
      "list shows a listening mailslot, as text and as JSON", function()
      local name = helpers.unique_name("cli")
      local p = start_listener({ "--count", "1", "--timeout", "10", name })
      local out, _, code = mailslot({ "list" })
      assert.equal(0, code)
      assert.matches("\n" .. full_name(name) .. "\n", "\n" .. out, 1, true)
      local js = mailslot({ "list", "--json" })
      local names = assert(json.decode(js))
      local found = false
      for _, n in ipairs(names) do found = found or n:lower() == full_name(name):lower() end
      assert.is_true(found)
      mailslot({ "send", name, "bye" })
      finish(p)
    end)

    it("info says a reader exists (exit 0) or none (exit 1)", function()
      local name = helpers.unique_name("cli")
      local p = start_listener({ "--count", "1", "--timeout", "10", name })
      local out, _, code = mailslot({ "info", name })
      assert.equal(0, code)
      assert.matches("name    " .. full_name(name) .. "\n", out, 1, true)
      assert.matches("kind    local\n", out, 1, true)
      assert.matches("reader  yes\n", out, 1, true)
      mailslot({ "send", name, "bye" })
      finish(p)

      out, _, code = mailslot({ "info", "--json", name })
      assert.equal(1, code)
      local obj = assert(json.decode(out))
      assert.equal("none", obj.reader)
      assert.equal("local", obj.kind)
    end)

    helpers.root_it("list --json stays UTF-8 JSON whatever names other users give their slots", function()
      -- Another user names a slot in Latin-1 ("caf\233"): JSON must still parse as UTF-8.
      local name = helpers.unique_name("caf\233")
      local spy = helpers.spawn_with(helpers.AS_NOBODY, ([[
        local r = assert(require("mailslot").create(%q))
        print("ready") io.stdout:flush()
        r:read(10)]]):format(name))
      finally(function() spy:close() end)
      assert.equal("ready", spy:read("l"))
      local out, _, code = mailslot({ "list", "--json" })
      assert.equal(0, code)
      assert.truthy(utf8.len(out), "list --json wrote bytes that are not UTF-8")
      local shown = full_name(name):lower():gsub("\233", "?")
      local found = false
      for _, n in ipairs(assert(json.decode(out))) do found = found or n:lower() == shown end
      assert.is_true(found, out)
      mailslot({ "send", name, "bye" })
    end)

    it("info on a broadcast name parses it without probing", function()
      local out, _, code = mailslot({ "info", "--json", "\\\\*\\mailslot\\app\\x" })
      assert.equal(0, code)
      local obj = assert(json.decode(out))
      assert.same({ "broadcast", "*", "app\\x", "unknown" }, { obj.kind, obj.host, obj.path, obj.reader })
    end)
  end)
end)
