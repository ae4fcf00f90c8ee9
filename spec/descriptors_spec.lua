-- Descriptors passed to a reader (SCM_RIGHTS): anyone may send to a reader's
-- address, and the kernel installs the descriptors a datagram carries in the
-- reader's process as it is received. Our writers never send any, so such a
-- datagram is not ours: every way of receiving closes them at once and counts
-- the datagram as rejected, and the reader goes on working.
local mailslot = require "mailslot"
local helpers = require "helpers"

local lp64_le = not helpers.windows and ({ ["x86_64\n"] = true, ["aarch64\n"] = true })[helpers.output("uname -m")]
local AS_NOBODY = helpers.AS_NOBODY

-- A case that sends descriptors, as another user when `as_other` (then as root only).
local function fds_it(desc, fn, as_other)
  if helpers.windows then
    pending(desc .. " (POSIX only: Windows mailslots carry no descriptors)")
  elseif not lp64_le then
    pending(desc .. " (the spec's sender packs a 64-bit little-endian msghdr: x86_64 and arm64 only)")
  elseif as_other and not helpers.is_root then
    pending(desc .. " (needs root to send as another user)")
  else
    it(desc, fn)
  end
end
local function root_it(desc, fn) fds_it(desc, fn, true) end

-- A kernel queue holds about 11 datagrams: a batch that fits sends without waiting.
local BATCH = 8
-- 12 descriptors fill the room the reader keeps for control data exactly;
-- 200 overflow it (the kernel then closes the rest and sets MSG_CTRUNC).
local FITS, OVERFLOWS = 12, 200

-- After an attack: nothing leaked, every datagram counted, and a real message still goes through.
local function still_works(r, fds_before, rejected)
  assert.equal(fds_before, helpers.open_fds())
  local info = r:info()
  assert.equal(rejected, info.rejected)
  assert.equal(0, info.count)
  local w <close> = assert(mailslot.open(r:name()))
  assert(w:write("after"))
  assert.equal("after", r:read(1))
end

describe("descriptors passed to a reader", function()
  root_it("are closed by read, from another user", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds")))
    local before = helpers.open_fds()
    assert.is_true(helpers.send_fds(AS_NOBODY, r, FITS, { times = BATCH }))
    assert.same({ nil, "timeout" }, { r:read(0), select(3, r:read(0)) })
    still_works(r, before, BATCH)
  end)

  root_it("are closed by read when allow = all admits the sender", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds"), { allow = "all" }))
    local before = helpers.open_fds()
    assert.is_true(helpers.send_fds(AS_NOBODY, r, FITS, { times = BATCH, msg = "with fds" }))
    local msg, _, code = r:read(0.2)
    assert.same({ nil, "timeout" }, { msg, code })
    still_works(r, before, BATCH)
  end)

  fds_it("are closed, and the datagram refused, even from the reader's own user", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds")))
    local before = helpers.open_fds()
    assert.is_true(helpers.send_fds("", r, FITS, { times = BATCH, msg = "with fds" }))
    assert.is_nil(r:read(0))
    still_works(r, before, BATCH)
  end)

  root_it("are closed by readmany's batch after a first real message", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds"), { allow = "all" }))
    local w <close> = assert(mailslot.open(r:name()))
    local before = helpers.open_fds()
    assert(w:write("first"))
    assert.is_true(helpers.send_fds(AS_NOBODY, r, FITS, { times = BATCH }))
    assert.same({ "first" }, r:readmany(64, 0))
    still_works(r, before, BATCH)
  end)

  root_it("are closed by info, which drains the kernel queue", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds"), { allow = "all" }))
    local before = helpers.open_fds()
    assert.is_true(helpers.send_fds(AS_NOBODY, r, FITS, { times = BATCH }))
    assert.equal(BATCH, r:info().rejected)
    still_works(r, before, BATCH)
  end)

  root_it("are closed by mailslot.wait, which looks at what made the reader readable", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds"), { allow = "all" }))
    -- mailslot.wait keeps one epoll descriptor for the Lua state from its first call on
    assert.equal("timeout", select(3, mailslot.wait({ r }, 0)))
    local before = helpers.open_fds()
    assert.is_true(helpers.send_fds(AS_NOBODY, r, FITS))
    assert.equal("timeout", select(3, mailslot.wait({ r }, 0)))
    still_works(r, before, 1)
  end)

  root_it("are closed when they come with a relay's framing", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds"), { allow = "all" }))
    local before = helpers.open_fds()
    assert.is_true(helpers.send_fds(AS_NOBODY, r, FITS, { times = BATCH, relay = true }))
    assert.is_true(helpers.send_fds("", r, FITS, { times = 2, relay = true }))
    assert.is_nil(r:read(0))
    still_works(r, before, BATCH + 2)
  end)

  root_it("are closed when more come than fit (MSG_CTRUNC), by every kind of read", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds"), { allow = "all" }))
    local w <close> = assert(mailslot.open(r:name()))
    local before = helpers.open_fds()
    assert.is_true(helpers.send_fds(AS_NOBODY, r, OVERFLOWS, { times = 2 }))
    assert.is_nil(r:read(0))
    assert(w:write("first"))
    assert.is_true(helpers.send_fds(AS_NOBODY, r, OVERFLOWS, { times = 2 }))
    assert.same({ "first" }, r:readmany(64, 0))
    assert.is_true(helpers.send_fds(AS_NOBODY, r, OVERFLOWS, { times = 2 }))
    assert.equal(6, r:info().rejected)
    still_works(r, before, 6)
  end)

  root_it("never reach a reader's limit on open files, however many come", function()
    local r <close> = assert(mailslot.create(helpers.unique_name("fds"), { allow = "all" }))
    local before = helpers.open_fds()
    -- 64 datagrams of 12: 768 descriptors; 50 of them once took a reader from 6 to 606 open files.
    for _ = 1, 64 // BATCH do
      assert.is_true(helpers.send_fds(AS_NOBODY, r, FITS, { times = BATCH }))
      assert.is_nil(r:read(0))
    end
    still_works(r, before, (64 // BATCH) * BATCH)
  end)
end)
