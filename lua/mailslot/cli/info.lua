--- `mailslot info NAME`: how a name parses, and whether a reader exists.
--
-- The queue details (count, next_size, max_size, timeout) belong to the
-- reader's handle: Windows' GetMailslotInfo needs it, and so does this module.
-- So info asks what any process may ask: it opens the name as a writer, which
-- succeeds only when a reader exists, and writes nothing. It never creates the
-- mailslot, which would steal the name from a reader about to start.
local cli = require "mailslot.cli"

local function run(args, env)
  local m = env.mailslot
  local parsed, err, code = m.parse(args[1])
  if not parsed then return env.fail(err, code) end
  local report = { name = parsed.name, kind = parsed.kind, host = parsed.host, path = parsed.path }
  local status = cli.OK
  if parsed.kind == "local" then
    local w, oerr, ocode = m.open(parsed.name, { timeout = 0 })
    if w then
      w:close()
      report.reader = "yes"
    elseif ocode == "not_found" then
      report.reader = "none"
      status = cli.FAILURE
    elseif ocode == "access" then
      report.reader = "yes"
      report.note = oerr
    else
      return env.fail(oerr, ocode)
    end
  else
    report.reader = "unknown"
    report.note = "only local names can be probed"
  end
  if args.json then
    env.out:write(cli.json(report), "\n")
  else
    for _, key in ipairs({ "name", "kind", "host", "path", "reader", "note" }) do
      if report[key] then env.out:write(("%-7s %s\n"):format(key, report[key])) end
    end
  end
  return status
end

return {
  summary = "tell how a name parses and whether its mailslot has a reader",
  usage = "mailslot info [--json] NAME",
  description = [[
Prints the full name, its kind (local, remote or broadcast), host and path,
and for a local name whether a reader exists ("yes" or "none"). Exits 0 when
the reader exists or the name is remote or broadcast (those cannot be probed:
"unknown"), 1 when no reader exists or the name is invalid. It finds out by
opening the name as a writer, writing nothing; the queue (count, size of the
next message) is known only to the reader: see 'mailslot listen'.]],
  options = {
    { long = "json", short = "j", help = "print one JSON object" },
  },
  args = { min = 1, max = 1, names = { "NAME" } },
  run = run,
}
