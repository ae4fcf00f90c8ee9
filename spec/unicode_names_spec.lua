-- Names beyond ASCII: Lua gives UTF-8, and on Windows the module speaks
-- UTF-16 to the OS (the W calls), so the OS sees the name as written.
local mailslot = require "mailslot"
local helpers = require "helpers"

describe("non-ASCII names", function()
  it("a name like Grüße\\λ is created, written from another process and read back", function()
    local stem = helpers.unique_name("Grüße") .. "\\λ"
    local r <close> = assert(mailslot.create(stem))
    assert.matches("grüße%-.*\\λ$", r:name())
    local _, ok = helpers.run(([[
      local w = assert(require("mailslot").open(%q))
      assert(w:write("grüß dich"))]]):format(stem))
    assert.is_true(ok)
    assert.equal("grüß dich", r:read(5))
  end)

  helpers.wine_pending("FindFirstFile on \\\\.\\mailslot\\* fails with error 66, so list() returns an error",
    "list() shows a non-ASCII name as it was created", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("Grüße") .. "\\λ"))
    local found = false
    for _, n in ipairs(assert(mailslot.list())) do found = found or n == r:name() end
    assert.is_true(found)
  end)

  -- Windows compares names without regard to case, in Unicode: Ü and ü are one
  -- name to the OS only when it is given the name in UTF-16 (an ANSI code page
  -- sees two unrelated byte pairs).
  helpers.win_it("the OS sees the name in Unicode: Ü and ü name the same slot", function()
    local stem = helpers.unique_name("case")
    local r <close> = assert(mailslot.create(stem .. "\\grüße"))
    local w <close> = assert(mailslot.open(stem .. "\\grÜße"))
    assert(w:write("one slot"))
    assert.equal("one slot", r:read(5))
    local again, _, code = mailslot.create(stem .. "\\grÜße")
    assert.is_nil(again)
    assert.equal("exists", code)
  end)

  -- Stray bytes, a surrogate encoded as UTF-8 (CESU-8, no UTF-16 for it), an
  -- overlong '/' and a sequence cut short: none reaches the OS.
  helpers.win_it("a name that is not UTF-8 is invalid_name", function()
    for _, tail in ipairs { "\xff\xfe", "\xed\xa0\x80", "\xc0\xaf", "\xe2\x82" } do
      local bad = helpers.unique_name("bad") .. tail
      local r, msg, code = mailslot.create(bad)
      assert.is_nil(r)
      assert.equal("invalid_name", code)
      assert.matches("not valid UTF-8", msg, 1, true)
      local w, _, wcode = mailslot.open(bad)
      assert.is_nil(w)
      assert.equal("invalid_name", wcode)
    end
  end)
end)
