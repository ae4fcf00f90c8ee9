-- Every code a module returns after `nil, message` is one of the README's error
-- table, and a word means the same thing wherever it appears.
local helpers = require "helpers"

-- The codes of the README's table: its rows start with | `code` |.
local function readme_codes()
  local f = assert(io.open("README.md", "rb"))
  local text = f:read("a")
  f:close()
  local codes = {}
  local section = text:match("\n| code | meaning |\n(.-)\n\n")
  assert(section, "the README has no error code table")
  for code in section:gmatch("| `([%w_]+)` |") do codes[code] = true end
  return codes
end

-- Asserts the failure `nil, message, code` and that code is expected and in the table.
local function fails_with(expected, ok, msg, code)
  assert.is_nil(ok)
  assert.is_string(msg)
  assert.is_true(readme_codes()[code] == true, ("code %q (%s) is not in the README's table"):format(
    tostring(code), tostring(msg)))
  if type(expected) == "table" then
    assert.is_truthy(expected[code], ("unexpected code %q (%s)"):format(code, msg))
  else
    assert.are.equal(expected, code, msg)
  end
end

describe("error codes", function()
  it("the core's portable codes are all in the table", function()
    local codes = readme_codes()
    for _, code in ipairs({ "timeout", "exists", "not_found", "invalid_name", "too_big", "closed",
                            "access", "unreachable", "interrupted", "system" }) do
      assert.is_true(codes[code], code)
    end
  end)

  it("the decoders' invalid and the queued writer's full are in the table", function()
    fails_with("invalid", require("mailslot.codec").decode("\255 not a value"))
    fails_with("invalid", require("mailslot.nbt").decode_datagram("short"))
    local q = require("mailslot").queued(helpers.unique_name("codes"), { max = 1, policy = "reject" })
    assert(q:write("one"))
    fails_with("full", q:write("two"))
    q:close()
  end)

  describe("of mailslot.net_os (\"io\" before, which the table does not have)", function()
    helpers.nix_it("an OS failure not named otherwise is system", function()
      local net_os = require "mailslot.net_os"
      local u = assert(net_os.udp{ address = "127.0.0.1" })
      fails_with("system", u:sendto("x", "127.0.0.1", 0)) -- EINVAL on Linux
      fails_with("too_big", u:sendto(("x"):rep(70000), "127.0.0.1", 9))
      fails_with("timeout", u:recvfrom())
      local _, port = u:getsockname()
      fails_with("exists", net_os.udp{ address = "127.0.0.1", port = port })
      u:close()
    end)

    helpers.nix_it("a host the resolver does not know is not_found, or unreachable without an answer", function()
      fails_with({ not_found = true, unreachable = true }, require("mailslot.net_os").resolve("no-such-host.invalid"))
    end)
  end)
end)
