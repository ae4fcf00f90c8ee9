-- Browser frames ([MS-BRWS] 2.2): parsed from nmbd's own bytes (captured in
-- the netns lab, spec/fixtures/nmbd_browser.lua) and from bytes assembled
-- here field by field from the specification; built back; bad bodies refused.
local frames = require "mailslot.browser.frames"
local nmbd = require "fixtures.nmbd_browser"

local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

describe("browser frames", function()
  describe("nmbd's captured frames", function()
    it("HostAnnouncement: name, OS version, server type, comment", function()
      local f = assert(frames.parse(unhex(nmbd.host_announcement.hex)))
      assert.same({
        kind = "host_announcement", update_count = 0, periodicity = 60000, name = "NMBHOST", os_major = 6,
        os_minor = 1, server_type = 0x00819A03, browser_major = 15, browser_minor = 1, signature = 0xAA55,
        comment = "lab peer NMBHOST",
      }, f)
      assert.same({ "workstation", "server", "print_server", "unix", "nt", "nt_server", "potential_browser",
                    "dfs" }, frames.server_types(f.server_type))
    end)

    it("LocalMasterAnnouncement: the master browser bit is set", function()
      local f = assert(frames.parse(unhex(nmbd.local_master_announcement.hex)))
      assert.equal("local_master_announcement", f.kind)
      assert.equal("NMBHOST", f.name)
      assert.equal(120000, f.periodicity)
      assert.equal(0x00849A03, f.server_type)
      assert.truthy(f.server_type & 0x00040000 ~= 0)
      assert.equal("lab peer NMBHOST", f.comment)
    end)

    it("DomainAnnouncement: the workgroup and its master browser", function()
      local f = assert(frames.parse(unhex(nmbd.domain_announcement.hex)))
      assert.equal("domain_announcement", f.kind)
      assert.equal("MSWG", f.name)
      assert.equal("NMBHOST", f.master)
      assert.same({ "nt", "domain_enum" }, frames.server_types(f.server_type))
    end)

    it("RequestElection, AnnouncementRequest and GetBackupListResponse", function()
      assert.same({ kind = "request_election", version = 1, criteria = 0xFF010F0A, uptime = 6000, name = "NMBHOST" },
        frames.parse(unhex(nmbd.request_election.hex)))
      assert.same({ kind = "announcement_request", reserved = 1, name = "NMBHOST" },
        frames.parse(unhex(nmbd.announcement_request.hex)))
      assert.same({ kind = "get_backup_list_response", count = 1, token = 0x11223344, servers = { "NMBHOST" } },
        frames.parse(unhex(nmbd.get_backup_list_response.hex)))
    end)
  end)

  describe("frames built from [MS-BRWS]", function()
    -- 2.2.1, field by field: opcode, update count, periodicity (LE32 ms),
    -- server name NUL-padded to 16, OS major, minor, server type (LE32),
    -- browser version 15.1, signature 0xAA55 (LE), comment and NUL.
    local HOST = "\1" .. "\3" .. "\192\39\9\0" .. "WINBOX" .. ("\0"):rep(10) .. "\10\0" .. "\3\16\0\0" .. "\15\1"
      .. "\85\170" .. "Accounting PC\0"

    it("a HostAnnouncement parses field by field and builds back to the same bytes", function()
      local f = assert(frames.parse(HOST))
      assert.equal("WINBOX", f.name)
      assert.equal(3, f.update_count)
      assert.equal(600000, f.periodicity)
      assert.equal(10, f.os_major)
      assert.equal(0, f.os_minor)
      assert.equal(0x1003, f.server_type)
      assert.same({ "workstation", "server", "nt" }, frames.server_types(f.server_type))
      assert.equal("Accounting PC", f.comment)
      assert.equal(HOST, frames.host_announcement(f))
    end)

    it("the requests are the bytes the specification lays out", function()
      assert.equal("\2\0WINBOX\0", frames.announcement_request("WINBOX"))        -- 2.2.2
      assert.equal("\9\4\68\51\34\17", frames.get_backup_list_request(4, 0x11223344)) -- 2.2.4
      assert.equal("\10\2\1\0\0\0A\0BB\0", frames.get_backup_list_response(1, { "A", "BB" })) -- 2.2.5
      local d = frames.domain_announcement{ name = "MSWG", master = "WINBOX", server_type = 0x80001000 }
      assert.equal(0x0C, d:byte(1))                                               -- 2.2.7
      assert.same({ "MSWG", "WINBOX" }, { frames.parse(d).name, frames.parse(d).master })
      assert.equal(0x0F, frames.local_master_announcement{ name = "X" }:byte(1))   -- 2.2.9
    end)

    it("building refuses what the frame cannot carry", function()
      assert.has_error(function() frames.host_announcement{ name = ("N"):rep(16) } end,
        "bad field 'name' (at most 15 bytes)")
      assert.has_error(function() frames.host_announcement{ name = "" } end, "bad field 'name' (1 to 15 bytes)")
      assert.has_error(function() frames.host_announcement{ name = "A", comment = "a\0b" } end,
        "bad field 'comment' (must not contain NUL)")
      assert.has_error(function() frames.get_backup_list_request(256, 1) end,
        "bad field 'count' (integer 0..255 expected)")
      assert.has_error(function() frames.parse(nil) end, "bad argument #1 to 'parse' (string expected, got nil)")
    end)
  end)

  describe("bad bodies", function()
    local function refused(body, pattern)
      local f, err, code = frames.parse(body)
      assert.is_nil(f)
      assert.equal("invalid", code)
      assert.matches(pattern, err)
    end

    it("give nil, message, 'invalid'", function()
      refused("", "empty browser frame")
      refused("\99rest", "unknown browser opcode 0x63")
      refused("\9\4\1\2\3", "get_backup_list_request of 5 bytes")
      refused("\10\2\1\0\0\0A\0", "announces 2 names but holds 1")
      refused("\10\1\1\0\0\0A", "name 1 has no NUL terminator")
      refused("\1", "host_announcement of 1 bytes")
      refused("\14", "reset_state of 1 bytes")
    end)

    it("every truncation of a HostAnnouncement is refused, never raises", function()
      local body = unhex(nmbd.host_announcement.hex)
      for n = 1, #body - 1 do
        local f, _, code = frames.parse(body:sub(1, n))
        assert.is_nil(f, "accepted " .. n .. " bytes")
        assert.equal("invalid", code)
      end
    end)

    it("a name field without a NUL, or an empty one, is refused", function()
      local body = unhex(nmbd.host_announcement.hex)
      refused(body:sub(1, 6) .. ("N"):rep(16) .. body:sub(23), "bad name field")
      refused(body:sub(1, 6) .. ("\0"):rep(16) .. body:sub(23), "bad name field")
    end)
  end)
end)
