--- `mailslot browse`: the workgroups and machines of this LAN, as `net view`
-- and `smbtree -N` list them (see mailslot.browser).
local cli = require "mailslot.cli"

-- Names and comments come from any host of the LAN: control characters
-- (terminal escapes, C1 ones too) are shown as "?", never sent to the terminal.
local clean = require "mailslot.printable"

local function describe_machine(m)
  return clean(("  \\\\%-15s %-15s %-5s %s%s"):format(m.name, m.address or "-", m.os_version or "-",
    m.comment or "", m.master_browser and "  [master browser]" or ""))
end

--- The text listing: each workgroup and its machines, then machines whose
-- workgroup is not known.
local function format_text(list)
  local lines, by_group = {}, {}
  for _, m in ipairs(list.machines) do
    local g = m.workgroup or ""
    by_group[g] = by_group[g] or {}
    table.insert(by_group[g], m)
  end
  local function group(title, machines)
    lines[#lines + 1] = clean(title)
    for _, m in ipairs(machines or {}) do lines[#lines + 1] = describe_machine(m) end
  end
  for _, w in ipairs(list.workgroups) do
    group(w.name .. (w.master and ("  (master browser " .. w.master .. ")") or ""), by_group[w.name])
    by_group[w.name] = nil
  end
  for g, machines in pairs(by_group) do group(g ~= "" and g or "(workgroup not known)", machines) end
  return table.concat(lines, "\n") .. (lines[1] and "\n" or "")
end

local function show_change(env, args, c)
  if args.json then
    env.out:write(cli.json{ event = c.what, item = c.item }, "\n")
  elseif c.what == "gone" then
    env.out:write("gone     \\\\", clean(c.item.name), "\n")
  elseif c.what == "workgroup" then
    local w = c.item
    env.out:write(clean(("workgroup %s%s"):format(w.name, w.master and (" master " .. w.master) or "")), "\n")
  else
    local m = c.item
    env.out:write("machine  ", describe_machine(m):sub(3), m.workgroup and ("  in " .. clean(m.workgroup)) or "", "\n")
  end
  env.out:flush()
end

local function run(args, env)
  local ok, browser = pcall(require, "mailslot.browser")
  if not ok then return env.fail("browsing is not available here: " .. tostring(browser)) end
  local timeout = args.timeout
  if timeout == nil then timeout = args.watch and math.huge or 10 end
  local list, err, code = browser.browse{
    timeout = timeout, interval = args.interval,
    on_change = args.watch and function(c) show_change(env, args, c) end or nil,
  }
  if not list then return env.fail(err, code) end
  if args.watch then return cli.OK end
  if args.json then
    env.out:write(cli.json(list), "\n")
  else
    env.out:write(format_text(list))
  end
  return cli.OK
end

return {
  summary = "list the workgroups and machines of this LAN (browser protocol)",
  usage = "mailslot browse [--json] [--timeout S] [--watch]",
  description = [[
Listens to the browser announcements on \MAILSLOT\BROWSE and \MAILSLOT\LANMAN,
asks every workgroup it learns of to announce itself (AnnouncementRequest) and
its master browser for its backup list (GetBackupListRequest), then prints the
workgroups and machines with address, OS version, comment and, with --json,
the server type bits. The datagrams come and go through `mailslot serve` on
this machine; without one, browse runs one itself, which needs root (or
CAP_NET_BIND_SERVICE) to bind UDP 138.

--json prints one object {"workgroups": [...], "machines": [...]}. --watch
prints each machine or workgroup as it appears or changes, and each machine
that missed three announcements as gone (with --json, one object {"event":
"machine" | "workgroup" | "gone", "item": ...} per line) until --timeout
(default: never).]],
  options = {
    { long = "json", short = "j", help = "print JSON" },
    { long = "timeout", short = "t", arg = "S", check = "seconds", help = "listen S seconds (default 10)" },
    { long = "watch", short = "w", help = "print changes as they happen" },
    { long = "interval", arg = "S", check = "seconds", help = "ask again every S seconds (default 5)" },
  },
  args = { min = 0, max = 0 },
  run = run,
  format_text = format_text,
}
