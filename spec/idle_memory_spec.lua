-- Memory: an idle reader costs a few KiB, whatever the largest message it
-- could take; buffers come with the messages that arrive, and readmany
-- reserves a bounded total (4 MiB) for its batch. Measured as this process's
-- address space (VmSize), which counts reservations that RSS would not.
local mailslot = require "mailslot"
local helpers = require "helpers"

local function vm_kib()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local kib = f:read("a"):match("VmSize:%s*(%d+) kB")
  f:close()
  return tonumber(kib)
end

local function it_linux(desc, fn)
  if vm_kib() then it(desc, fn) else pending(desc .. " (needs Linux /proc/self/status)") end
end

describe("memory of idle readers and batches", function()
  it_linux("200 idle readers without max_size take less than 64 KiB of address space each", function()
    local readers = {}
    collectgarbage()
    local before = vm_kib()
    for i = 1, 200 do readers[i] = assert(mailslot.create(helpers.unique_name("idle"))) end
    local grown = vm_kib() - before
    for _, r in ipairs(readers) do r:close() end
    assert.is_true(grown < 200 * 64, ("200 idle readers took %d KiB"):format(grown))
  end)

  it_linux("readmany on a reader without max_size reserves a bounded batch", function()
    local name = helpers.unique_name("batchmem")
    local r = assert(mailslot.create(name))
    local w = assert(mailslot.open(name))
    assert(w:write("one"))
    assert(r:read(5)) -- the single-message buffer exists from here on
    collectgarbage()
    local before = vm_kib()
    for i = 1, 3 do assert(w:write("m" .. i)) end
    local got = assert(r:readmany(64, 5))
    local grown = vm_kib() - before
    r:close()
    w:close()
    assert.same({ "m1", "m2", "m3" }, got)
    assert.is_true(grown <= 5 * 1024, ("readmany reserved %d KiB"):format(grown))
  end)
end)
