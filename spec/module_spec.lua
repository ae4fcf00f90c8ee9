-- The module itself: what requiring it does, and the machine's list of slots.
local mailslot = require "mailslot"
local helpers = require "helpers"

describe("module", function()
  it("requiring it adds no globals", function()
    local out, ok = helpers.run([[
      local before = {}
      for k in pairs(_G) do before[k] = true end
      require "mailslot.core"
      require "mailslot"
      local added = {}
      for k in pairs(_G) do if not before[k] then added[#added + 1] = tostring(k) end end
      io.write("added:", table.concat(added, ","))]])
    assert.is_true(ok, out)
    assert.equal("added:", out)
  end)

  it("gives the core's functions", function()
    for _, f in ipairs { "create", "open", "list", "wait", "parse", "this_host" } do
      assert.is_function(mailslot[f], f)
    end
    assert.is_string(mailslot._VERSION)
  end)

  helpers.wine_pending("FindFirstFile on \\\\.\\mailslot\\* fails with error 66, so list() returns an error",
    "list() shows the slots created and not the closed ones", function()
    local a = assert(mailslot.create(helpers.unique_name("listA")))
    local b <close> = assert(mailslot.create(helpers.unique_name("listB") .. "\\Sub"))
    local function listed()
      local set = {}
      for _, n in ipairs(assert(mailslot.list())) do set[n] = true end
      return set
    end
    local set = listed()
    assert.is_true(set[a:name()])
    assert.is_true(set[b:name()])
    local name = a:name()
    a:close()
    set = listed()
    assert.is_nil(set[name])
    assert.is_true(set[b:name()])
  end)

  helpers.wine_pending("FindFirstFile on \\\\.\\mailslot\\* fails with error 66, so list() returns an error",
    "list() shows slots of other processes", function()
    local stem = helpers.unique_name("listC")
    local stop_reader = helpers.spawn_reader(stem)
    finally(stop_reader)
    local found = {}
    for _, n in ipairs(mailslot.list()) do found[n] = true end
    stop_reader()
    assert.is_true(found[mailslot.parse(stem).name])
    assert.is_true(found[mailslot.parse(stem .. "-ctl").name])
  end)

  helpers.wine_pending("FindFirstFile on \\\\.\\mailslot\\* fails with error 66, so list() returns an error",
    "list() shows long names in full", function()
    local stem = helpers.unique_name("listD")
    local long = stem .. "\\" .. ("q"):rep(200)
    local r <close> = assert(mailslot.create(long))
    local found = {}
    for _, n in ipairs(mailslot.list()) do found[n] = true end
    assert.is_true(found[r:name()])
  end)
end)
