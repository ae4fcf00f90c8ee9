-- Load: 8 writer processes x 20,000 messages; every message arrives exactly
-- once and in order per writer. Tagged slow (busted --exclude-tags=slow).
-- MAILSLOT_LOAD_PER sets the messages per writer (the Wine 10 stage: 2000,
-- as its wineserver takes about 250 s for the full count).
local mailslot = require "mailslot"
local helpers = require "helpers"

describe("load #slow", function()
  local PER = math.tointeger(tonumber(os.getenv("MAILSLOT_LOAD_PER") or "")) or 20000
  it(("8 writers x %d messages: each once, in order per writer"):format(PER), function()
    local WRITERS = 8
    local stem = helpers.unique_name("load")
    local r <close> = assert(mailslot.create(stem))
    local t0 = helpers.now()
    local children = {}
    for k = 1, WRITERS do
      children[k] = helpers.spawn(([[
        local w = assert(require("mailslot").open(%q))
        local write, tag = w.write, %q
        for i = 1, %d do assert(write(w, tag .. i)) end
        io.write("done")]]):format(stem, k .. ":", PER))
    end
    local next_seq, total, read = {}, 0, r.read
    for k = 1, WRITERS do next_seq[k] = 1 end
    while total < WRITERS * PER do
      local m, err = read(r, 30)
      assert(m, err)
      local k, i = m:match("^(%d+):(%d+)$")
      k, i = tonumber(k), tonumber(i)
      if next_seq[k] ~= i then
        error(("writer %d: expected message %d, got %d"):format(k, next_seq[k], i))
      end
      next_seq[k] = i + 1
      total = total + 1
    end
    for k = 1, WRITERS do
      assert.equal("done", children[k]:read("a"))
      assert.is_true(children[k]:close())
      assert.equal(PER + 1, next_seq[k])
    end
    assert.same({ nil, "timeout" }, { r:read(0), select(3, r:read(0)) }) -- nothing extra
    assert.equal(0, r:info().rejected)
    io.stderr:write(("\n[load: %d messages in %.2f s]\n"):format(total, helpers.now() - t0))
  end)
end)
