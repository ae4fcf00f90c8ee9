--- Network settings for remote mailslots: who we are, which workgroup, which
-- interfaces and ports. Published as `mailslot.network`.
--
-- Every setting has a default, an environment variable, and an API override;
-- the API wins over the environment, which wins over the default:
--
-- | setting | default | environment |
-- |---|---|---|
-- | `computer_name` | host name, first label, upper-cased, ≤ 15 | `MAILSLOT_COMPUTERNAME` |
-- | `workgroup` | `WORKGROUP` | `MAILSLOT_WORKGROUP` |
-- | `port` (datagram service) | 138 | `MAILSLOT_PORT` |
-- | `name_port` (name service) | 137 | `MAILSLOT_NAME_PORT` |
-- | `interfaces` | every up, non-loopback IPv4 interface with a broadcast address | `MAILSLOT_INTERFACES` |
-- | `broadcast` | each interface's broadcast address | `MAILSLOT_BROADCAST` |
-- | `domains` | none besides the workgroup | `MAILSLOT_DOMAINS` |
-- | `dns` | true: ask the system resolver before NetBIOS | `MAILSLOT_DNS` (0/no/false) |
-- | `resolve_timeout` | 1.5 seconds for a NetBIOS name query | `MAILSLOT_RESOLVE_TIMEOUT` |
--
-- `interfaces` entries are interface names (`eth0`), addresses with a prefix
-- length (`192.168.1.5/24`, as smb.conf writes them) or bare addresses; lists
-- in the environment are separated by commas or spaces. `broadcast`, when set,
-- replaces the broadcast addresses the interfaces would give.
--
--     local network = require("mailslot").network
--     network.configure{ workgroup = "FINANCE", port = 13800 }
--     network.get().targets  --> { {address=, broadcast=, netmask=, name=}, ... }
--     network.reset()        -- back to environment and defaults
-- @module mailslot.net.config
local os_ok, net_os = pcall(require, "mailslot.net_os")
local core = require "mailslot.core"

local M = {}

local overrides = {}

local KEYS = {
  computer_name = "string", workgroup = "string", port = "integer", name_port = "integer",
  interfaces = "list", broadcast = "list", domains = "list", dns = "boolean",
  resolve_timeout = "number",
}

local ENV = {
  computer_name = "MAILSLOT_COMPUTERNAME", workgroup = "MAILSLOT_WORKGROUP",
  port = "MAILSLOT_PORT", name_port = "MAILSLOT_NAME_PORT",
  interfaces = "MAILSLOT_INTERFACES", broadcast = "MAILSLOT_BROADCAST",
  domains = "MAILSLOT_DOMAINS", dns = "MAILSLOT_DNS",
  resolve_timeout = "MAILSLOT_RESOLVE_TIMEOUT",
}

local DEFAULTS = {
  workgroup = "WORKGROUP", port = 138, name_port = 137, dns = true, resolve_timeout = 1.5,
}

local function split_list(s)
  local out = {}
  for item in s:gmatch("[^,%s]+") do out[#out + 1] = item end
  return out
end

--- A NetBIOS name as the wire wants it: upper-case, 1 to 15 bytes, no dot part.
local function netbios_name(s, what)
  s = s:match("^[^.]*"):upper()
  if #s == 0 or #s > 15 or s:find("[%z\1-\31\"/\\:|<>+=;,%*%?]") then
    return nil, ("bad %s %q (1 to 15 characters, no \\/:*?\"<>|+=;,)"):format(what, s)
  end
  return s
end

local function parse_ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return a << 24 | b << 16 | c << 8 | d
end
M.parse_ipv4 = parse_ipv4

local function format_ipv4(n)
  return ("%d.%d.%d.%d"):format(n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255)
end
M.format_ipv4 = format_ipv4

local function mask_of(bits)
  return bits == 0 and 0 or (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
end

-- Checks and converts one setting; raises on misuse (level: the caller's caller).
local function convert(key, value, level)
  local kind = KEYS[key]
  if not kind then error(("bad option '%s' to 'configure' (unknown option)"):format(tostring(key)), level) end
  local function bad(expected)
    error(("bad option '%s' to 'configure' (%s expected)"):format(key, expected), level)
  end
  if kind == "string" then
    if type(value) ~= "string" then bad("string") end
    local name, err = netbios_name(value, key:gsub("_", " "))
    if not name then error(err, level) end
    return name
  elseif kind == "integer" then
    local n = math.tointeger(tonumber(value))
    if not n or n < 0 or n > 65535 then bad("port number 0..65535") end
    return n
  elseif kind == "number" then
    local n = tonumber(value)
    if not n or n ~= n or n < 0 then bad("seconds >= 0") end
    return n
  elseif kind == "boolean" then
    if type(value) == "string" then
      local v = value:lower()
      if v == "0" or v == "no" or v == "false" or v == "off" then return false end
      if v == "1" or v == "yes" or v == "true" or v == "on" then return true end
    end
    if type(value) ~= "boolean" then bad("boolean") end
    return value
  else -- list
    if type(value) == "string" then value = split_list(value) end
    if type(value) ~= "table" then bad("list of strings") end
    local out = {}
    for i, v in ipairs(value) do
      if type(v) ~= "string" then bad("list of strings") end
      if key == "broadcast" and not parse_ipv4(v) then
        error(("bad option 'broadcast' to 'configure' (%q is not a dotted IPv4 address)"):format(v), level)
      end
      out[i] = key == "domains" and v:upper() or v
    end
    return out
  end
end

--- Sets overrides (unknown keys and bad values raise) and returns the
-- effective settings. `reset(key)` drops one override again.
function M.configure(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'configure' (table expected)", 2) end
  local checked = {}
  for k, v in pairs(opts) do checked[k] = convert(k, v, 3) end
  for k, v in pairs(checked) do overrides[k] = v end
  return M.get()
end

--- Drops the override of `key`, or of every setting when called without one.
function M.reset(key)
  if key == nil then overrides = {} else overrides[key] = nil end
end

-- The interfaces the system has, or an empty list where net_os is missing.
local function system_interfaces()
  if not os_ok then return {} end
  return net_os.interfaces() or {}
end

-- One target: where broadcasts go, and our address on that subnet.
local function target_for_cidr(spec, all)
  local ip, bits = spec:match("^([%d.]+)/(%d+)$")
  local addr = parse_ipv4(ip or spec)
  if not addr then return nil end
  bits = tonumber(bits)
  if not bits then
    for _, i in ipairs(all) do
      if i.address == spec then
        return { name = i.name, address = i.address, netmask = i.netmask,
                 broadcast = i.broadcast or i.address }
      end
    end
    bits = 32
  end
  if bits > 32 then return nil end
  local mask = mask_of(bits)
  return { address = format_ipv4(addr), netmask = format_ipv4(mask),
           broadcast = bits == 32 and format_ipv4(addr) or format_ipv4((addr & mask) | (~mask & 0xFFFFFFFF)) }
end

local function resolve_targets(specs)
  local all, out = system_interfaces(), {}
  if not specs then
    for _, i in ipairs(all) do
      if i.up and not i.loopback and i.broadcast then
        out[#out + 1] = { name = i.name, address = i.address, netmask = i.netmask, broadcast = i.broadcast }
      end
    end
    return out
  end
  for _, spec in ipairs(specs) do
    local t = target_for_cidr(spec, all)
    if t then
      out[#out + 1] = t
    else
      for _, i in ipairs(all) do
        if i.name == spec then
          out[#out + 1] = { name = i.name, address = i.address, netmask = i.netmask,
                            broadcast = i.broadcast or i.address }
        end
      end
    end
  end
  return out
end

--- The effective settings: a fresh table each call, with `targets`, the list
-- of `{ address=, broadcast=, netmask=, name= }` that broadcasts go through.
-- `extra`, optional: settings layered over the others for this call only
-- (checked as `configure` checks them).
function M.get(extra)
  local layer = {}
  for k, v in pairs(extra or {}) do layer[k] = convert(k, v, 3) end
  local cfg = {}
  for key in pairs(KEYS) do
    local v = layer[key]
    if v == nil then v = overrides[key] end
    if v == nil then
      local env = os.getenv(ENV[key])
      if env and env ~= "" then
        local ok, converted = pcall(convert, key, env, 1)
        if ok then v = converted end
      end
    end
    if v == nil then v = DEFAULTS[key] end
    cfg[key] = v
  end
  cfg.computer_name = cfg.computer_name or core.this_host():sub(1, 15)
  cfg.domains = cfg.domains or {}
  cfg.targets = resolve_targets(cfg.interfaces)
  if cfg.broadcast then
    local targets = {}
    for i, b in ipairs(cfg.broadcast) do
      local via = cfg.targets[i] or cfg.targets[1]
      local address = via and via.address
      if not address and os_ok then address = net_os.source_for(b, cfg.port) end
      targets[i] = { broadcast = b, address = address or "0.0.0.0", name = via and via.name,
                     netmask = via and via.netmask }
    end
    cfg.targets = targets
  end
  return cfg
end

--- True when `host` names a group we broadcast to: the workgroup or a domain.
function M.is_group(cfg, host)
  host = host:upper()
  if host == "*" or host == cfg.workgroup then return true end
  for _, d in ipairs(cfg.domains) do
    if d == host then return true end
  end
  return false
end

M.netbios_name = netbios_name

return M
