--- `mailslot list`: the classic enumerator, this machine's mailslots.
local cli = require "mailslot.cli"

local function run(args, env)
  local names, err, code = env.mailslot.list()
  if not names then return env.fail(err, code) end
  table.sort(names, function(a, b) return a:lower() < b:lower() end)
  if args.json then
    env.out:write(cli.json(names), "\n")
  elseif #names > 0 then
    env.out:write(table.concat(names, "\n"), "\n")
  end
  return cli.OK
end

return {
  summary = "list this machine's mailslots",
  usage = "mailslot list [--json]",
  description = [[
Prints the full name of each mailslot that has a reader on this machine, one
per line, sorted; nothing when there is none. With --json, one JSON array.]],
  options = {
    { long = "json", short = "j", help = "print one JSON array of names" },
  },
  args = { max = 0 },
  run = run,
}
