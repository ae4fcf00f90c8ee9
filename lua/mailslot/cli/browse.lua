--- `mailslot browse`: the workgroups and machines of this LAN, as `net view`
-- and `smbtree -N` list them (see mailslot.browser).
local cli = require "mailslot.cli"

local function describe_machine(m)
  return ("  \\\\%-15s %-15s %-5s %s%s"):format(m.name, m.address or "-", m.os_version or "-",
    m.comment or "", m.master_browser and "  [master browser]" or "")
end

local function show_text(env, list)
  local by_group, seen = {}, {}
  for _, m in ipairs(list.machines) do
    local g = m.workgroup or ""
    by_group[g] = by_group[g] or {}
    table.insert(by_group[g], m)
  end
  for _, w in ipairs(list.workgroups) do
    seen[w.name] = true
    env.out:write(w.name, w.master and ("  (master browser " .. w.master .. ")") or "", "\n")
    for _, m in ipairs(by_group[w.name] or {}) do env.out:write(describe_machine(m), "\n") end
  end
  for g, machines in pairs(by_group) do
    if not seen[g] then
      env.out:write(g ~= "" and g or "(workgroup not known)", "\n")
      for _, m in ipairs(machines) do env.out:write(describe_machine(m), "\n") end
    end
  end
end

local function show_change(env, args, c)
  if args.json then
    env.out:write(cli.json{ event = c.what, item = c.item }, "\n")
  elseif c.what == "workgroup" then
    env.out:write(("workgroup %s%s\n"):format(c.item.name, c.item.master and (" master " .. c.item.master) or ""))
  else
    env.out:write("machine  ", describe_machine(c.item):sub(3), c.item.workgroup and ("  in " .. c.item.workgroup)
      or "", "\n")
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
    show_text(env, list)
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
prints each machine or workgroup as it appears or changes (with --json, one
object {"event": ..., "item": ...} per line) until --timeout (default: never).]],
  options = {
    { long = "json", short = "j", help = "print JSON" },
    { long = "timeout", short = "t", arg = "S", check = "seconds", help = "listen S seconds (default 10)" },
    { long = "watch", short = "w", help = "print changes as they happen" },
    { long = "interval", arg = "S", check = "seconds", help = "ask again every S seconds (default 5)" },
  },
  args = { min = 0, max = 0 },
  run = run,
}
