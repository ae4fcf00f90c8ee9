-- Mailslot names: the forms accepted, the one canonical name each gives, and
-- every reason a name is refused with `invalid_name`.
local mailslot = require "mailslot"
local helpers = require "helpers"

local function parse_ok(text)
  local p, msg, code = mailslot.parse(text)
  assert(p, ("parse(%q) failed: %s (%s)"):format(text, tostring(msg), tostring(code)))
  return p
end

local function refused(text, reason)
  local p, msg, code = mailslot.parse(text)
  assert.is_nil(p, "accepted " .. text)
  assert.equal("invalid_name", code)
  assert.matches("invalid mailslot name", msg, 1, true)
  if reason then assert.matches(reason, msg, 1, true) end
  -- create and open refuse it the same way
  local r, rmsg, rcode = mailslot.create(text)
  assert.is_nil(r)
  assert.equal("invalid_name", rcode)
  assert.equal(msg, rmsg)
  local w, _, wcode = mailslot.open(text)
  assert.is_nil(w)
  assert.equal("invalid_name", wcode)
  return msg
end

describe("names", function()
  describe("accepted local forms all give \\\\.\\mailslot\\path", function()
    local canonical = "\\\\.\\mailslot\\app\\finance"
    local forms = {
      "app\\finance",
      "app/finance",
      "APP\\Finance",
      "\\\\.\\mailslot\\app\\finance",
      "\\\\.\\MailSlot\\App\\FINANCE",
      "//./mailslot/app/finance",
      "\\\\./mailslot\\app/finance",
      "\\mailslot\\app\\finance",
      "/MAILSLOT/app/finance",
    }
    for _, form in ipairs(forms) do
      it(("%q"):format(form), function()
        local p = parse_ok(form)
        assert.same({ kind = "local", host = ".", path = "app\\finance", name = canonical }, p)
      end)
    end

    it("a one-component name", function()
      assert.equal("\\\\.\\mailslot\\x", parse_ok("X").name)
    end)

    it("keeps spaces, dots inside components and bytes above 127 (only ASCII is folded)", function()
      local p = parse_ok("My App\\v1.2\\Ünïcode")
      assert.equal("my app\\v1.2\\Ünïcode", p.path)
    end)

    it("\\\\<this machine>\\mailslot\\x is local, whatever the case of the host", function()
      local host = mailslot.this_host()
      assert.is_string(host)
      assert.is_true(#host > 0)
      assert.equal(host:upper(), host)
      for _, h in ipairs { host, host:lower() } do
        local p = parse_ok("\\\\" .. h .. "\\mailslot\\x")
        assert.same({ kind = "local", host = ".", path = "x", name = "\\\\.\\mailslot\\x" }, p)
      end
    end)

    helpers.nix_it("MAILSLOT_COMPUTERNAME names this machine", function()
      local out, ok = helpers.run_with("MAILSLOT_COMPUTERNAME=build-box.example.org", [[
        local m = require "mailslot"
        io.write(m.this_host(), " ", m.parse("\\\\build-box\\mailslot\\x").kind)]])
      assert.is_true(ok, out)
      assert.equal("BUILD-BOX local", out)
    end)
  end)

  describe("broadcast and remote forms", function()
    it("\\\\*\\mailslot\\x is a broadcast to the primary domain", function()
      assert.same({ kind = "broadcast", host = "*", path = "a\\b", name = "\\\\*\\mailslot\\a\\b" },
        parse_ok("//*/mailslot/A/B"))
    end)

    it("\\\\server\\mailslot\\x is remote; the host is upper-cased as NetBIOS shows it", function()
      assert.same({ kind = "remote", host = "FILESRV", path = "app\\x", name = "\\\\FILESRV\\mailslot\\app\\x" },
        parse_ok("\\\\fileSrv\\mailslot\\App\\X"))
    end)

    it("a domain name is remote too", function()
      assert.equal("remote", parse_ok("\\\\WORKGROUP\\mailslot\\browse").kind)
    end)

    -- Remote names go to the network layer (see the net_* specs); kept on
    -- loopback here so no datagram leaves this machine.
    local function loopback_only()
      mailslot.network.configure{ interfaces = { "127.0.0.1/8" }, broadcast = { "127.0.0.1" }, dns = false,
        resolve_timeout = 0.2, name_port = 1 }
    end

    it("opening a server that cannot be found gives `unreachable` naming it", function()
      loopback_only()
      local w, msg, code = mailslot.open("\\\\no-such-server\\mailslot\\spec\\x")
      mailslot.network.reset()
      assert.is_nil(w)
      assert.equal("unreachable", code)
      assert.matches("NO-SUCH-SERVER", msg:upper(), 1, true)
    end)

    helpers.wine_pending("no network mailslots: opening \\\\*\\mailslot\\x fails with error 3",
      "opening a broadcast name gives a writer for the workgroup", function()
      loopback_only()
      local w = assert(mailslot.open("\\\\*\\mailslot\\spec\\x"))
      mailslot.network.reset()
      assert.equal("\\\\*\\mailslot\\spec\\x", w:name())
      w:close()
    end)

    it("the 259-character limit counts a remote server's name too", function()
      local host = "SERVER01"
      local path = ("p"):rep(259 - #"\\\\\\mailslot\\" - #host)
      assert.equal(259, #mailslot.parse("\\\\" .. host .. "\\mailslot\\" .. path).name)
      local none, _, code = mailslot.parse("\\\\" .. host .. "\\mailslot\\" .. path .. "p")
      assert.is_nil(none)
      assert.equal("invalid_name", code)
    end)

    it("a reader can only be created for a local name", function()
      for _, target in ipairs { "\\\\*\\mailslot\\x", "\\\\server\\mailslot\\x" } do
        local r, msg, code = mailslot.create(target)
        assert.is_nil(r)
        assert.equal("invalid_name", code)
        assert.matches("only local names", msg, 1, true)
      end
    end)
  end)

  describe("one slot, whatever the case or form", function()
    it("a reader created under one spelling is opened under another", function()
      local stem = helpers.unique_name("Case")
      local r <close> = assert(mailslot.create(stem:upper()))
      local w <close> = assert(mailslot.open("\\\\.\\mailslot\\" .. stem:lower():gsub("\\", "/")))
      assert.equal(r:name(), w:name())
      assert.equal(mailslot.parse(stem).name, r:name())
      assert.equal(5, w:write("hello"))
      assert.equal("hello", r:read(1))
    end)

    it("a second reader under another spelling is refused with `exists`", function()
      local stem = helpers.unique_name("Case")
      local r <close> = assert(mailslot.create(stem))
      local again, msg, code = mailslot.create("\\\\" .. mailslot.this_host():lower() .. "\\mailslot\\" .. stem:upper())
      assert.is_nil(again)
      assert.equal("exists", code)
      assert.matches(r:name(), msg, 1, true)
    end)
  end)

  describe("invalid_name, with the reason in the message", function()
    it("empty", function()
      refused("", "the name is empty")
    end)

    it("a wrong prefix", function()
      refused("\\\\.\\pipe\\x", "expected \\\\server\\mailslot\\name")
      refused("\\\\.\\mailslotx", "expected \\\\server\\mailslot\\name")
      refused("\\\\server", "expected \\\\server\\mailslot\\name")
      refused("\\pipe\\x", "expected \\mailslot\\name")
      refused("/a", "expected \\mailslot\\name") -- a leading separator means \\mailslot\\...
    end)

    it("nothing after \\mailslot\\", function()
      refused("\\\\.\\mailslot\\", "is empty")
      refused("\\mailslot\\", "is empty")
    end)

    it("an empty server name", function()
      refused("\\\\\\mailslot\\x", "server name after \\\\ is empty")
    end)

    it("characters Windows refuses, in the path or the server name", function()
      for _, c in ipairs { "<", ">", ":", '"', "|", "?", "*", "\1", "\t", "\31", "\127" } do
        refused("a" .. c .. "b", "refuses")
        refused("\\\\.\\mailslot\\x\\" .. c, "refuses")
      end
      refused("\\\\bad<host\\mailslot\\x", "server name contains")
      refused("\\\\bad host\\mailslot\\x", "server name contains")
    end)

    it(". and .. components", function()
      for _, text in ipairs { ".", "..", "a\\.\\b", "a/../b", "\\\\.\\mailslot\\a\\." } do
        refused(text, '"." or ".."')
      end
      -- dots inside a component are fine
      assert.equal("...", parse_ok("...").path)
      assert.equal(".a\\b.", parse_ok(".a/b.").path)
    end)

    it("an empty path component", function()
      for _, text in ipairs { "a\\\\b", "a//b", "a\\", "\\\\.\\mailslot\\\\a", "\\\\.\\mailslot\\a\\" } do
        refused(text, "empty path component")
      end
    end)

    it("longer than MAX_PATH: 259 characters in all is the longest", function()
      local head = "\\\\.\\mailslot\\"
      local longest = head .. ("x"):rep(259 - #head)
      assert.equal(259, #longest)
      assert.equal(longest, parse_ok(longest).name)
      assert.equal(longest, parse_ok(("x"):rep(259 - #head)).name) -- the short form counts the same
      refused(longest .. "x", "259 characters")
      refused(("x"):rep(259 - #head + 1), "259 characters")
      refused(("x"):rep(100000), "259 characters")
    end)

    it("the longest name works as a slot", function()
      local stem = helpers.unique_name("long")
      local name = stem .. "\\" .. ("y"):rep(259 - 13 - #stem - 1)
      local r <close> = assert(mailslot.create(name))
      assert.equal(259, #r:name())
      local w <close> = assert(mailslot.open(name))
      w:write("long")
      assert.equal("long", r:read(1))
    end)

    -- MAX_PATH counts what the W calls take, UTF-16 units: one per character
    -- (λ is 2 bytes of UTF-8, € 3), two for a character beyond the BMP (4 bytes).
    it("the 259-character limit counts characters, not UTF-8 bytes", function()
      local head = "\\\\.\\mailslot\\"
      for _, c in ipairs { "λ", "€" } do
        local longest = head .. c:rep(259 - #head)
        assert.equal(longest, parse_ok(longest).name)
        assert.equal(longest, parse_ok(c:rep(259 - #head)).name)
        refused(longest .. "x", "259 characters")
      end
      local clef = "\u{1D11E}" -- beyond the BMP: a surrogate pair, two units
      local pairs_only = head .. clef:rep((259 - #head) // 2)
      assert.equal(pairs_only, parse_ok(pairs_only).name)
      refused(pairs_only .. "xx", "259 characters")
    end)

    it("the longest non-ASCII name works as a slot, written from another process", function()
      local stem = helpers.unique_name("λong")
      local name = stem .. "\\" .. ("λ"):rep(259 - 13 - utf8.len(stem) - 1)
      local r <close> = assert(mailslot.create(name))
      assert.equal(259, utf8.len(r:name()))
      local _, ok = helpers.run(([[assert(require("mailslot").open(%q):write("long"))]]):format(name))
      assert.is_true(ok)
      assert.equal("long", r:read(5))
    end)

    it("a NUL byte anywhere", function()
      refused("a\0b", "NUL")
      refused("\\\\.\\mailslot\\x\0", "NUL")
      refused("\0", "NUL")
    end)

    it("the message quotes the name, cut short when it is long", function()
      local msg = refused("a|b")
      assert.matches('"a|b"', msg, 1, true)
      msg = refused(("z"):rep(300) .. "|")
      assert.matches(("z"):rep(200) .. '..."', msg, 1, true)
      assert.is_true(#msg < 400)
    end)
  end)
end)
