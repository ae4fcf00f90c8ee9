--- The `mailslot` command: dispatch, shared option parsing, help and exit codes.
--
-- `bin/mailslot` calls `require("mailslot.cli").main(arg)` and exits with the
-- number it returns: 0 ok, 1 failure (the world said no: no such mailslot, a
-- timeout, a write refused), 2 usage (the command line itself is wrong).
--
-- ## Subcommands
-- `mailslot CMD ...` runs the module `mailslot.cli.CMD`, found through
-- package.path, so a command lives in its own file and a new one (say
-- `mailslot.cli.serve`) plugs in without editing this dispatcher. CMD must match
-- `^%l[%l%d_]*$`. The module returns a table:
--
--     return {
--       summary = "one line for `mailslot --help`",
--       usage = "mailslot CMD [OPTIONS] NAME",   -- synopsis; more lines allowed
--       description = "paragraphs shown by `mailslot CMD --help`",  -- optional
--       options = {                               -- optional; -h/--help is added
--         { long = "count", short = "n", arg = "N", check = "integer",
--           help = "stop after N messages" },
--         { long = "json", help = "one JSON object per line" },  -- a flag
--       },
--       args = { min = 1, max = 1 },              -- positional count, optional
--       run = function(args, env) return 0 end,
--     }
--
-- `check` is one of "integer" (0 or more), "seconds" (a number of seconds, 0 or
-- more, or "forever"), "string" (the default when `arg` is given), or a function
-- (value) -> converted | nil, message. Options may come before or after the
-- positional arguments, as `--count 3`, `--count=3` or `-n 3`; `--` ends them.
-- `run` receives `args`: the positional arguments in 1..n and each option under
-- its long name with "-" turned into "_" (`args.max_size`), flags as true.
-- `env` holds `out`, `err`, `input` (the standard streams), `mailslot` (the
-- loaded module), `command` ("mailslot listen", for messages) and the helpers
-- below. `run` returns the exit code (nil means 0) or calls `env.usage_error`.
-- A command listed in `cli.commands` is also shown by `mailslot --help`.
local cli = {}

--- Commands `mailslot --help` lists when their module can be found.
cli.commands = { "list", "listen", "send", "info", "serve", "browse" }

cli.OK, cli.FAILURE, cli.USAGE = 0, 1, 2

local PROGRAM = "mailslot"

-- A usage error travels up to `main` as this table, then becomes exit 2.
local UsageError = {}
UsageError.__index = UsageError

--- Raises a usage error (exit code 2) with `message`.
function cli.usage_error(message)
  error(setmetatable({ message = message }, UsageError), 0)
end

local function module_name(cmd)
  return "mailslot.cli." .. cmd
end

--- The subcommand module for `cmd`, or nil when there is none.
function cli.find(cmd)
  if type(cmd) ~= "string" or not cmd:match("^%l[%l%d_]*$") then return nil end
  if not package.searchpath(module_name(cmd), package.path) then return nil end
  local mod = require(module_name(cmd))
  if type(mod) ~= "table" or type(mod.run) ~= "function" then return nil end
  return mod
end

-- ---- options ----------------------------------------------------------------

local checks = {}

function checks.string(v)
  return v
end

function checks.integer(v)
  local n = math.tointeger(tonumber(v))
  if not n or n < 0 then return nil, "a whole number, 0 or more" end
  return n
end

function checks.seconds(v)
  if v == "forever" or v == "inf" then return math.huge end
  local n = tonumber(v)
  if not n or n ~= n or n < 0 then return nil, "seconds, 0 or more, or 'forever'" end
  return n
end

local HELP = { long = "help", short = "h", help = "show this help and exit" }

--- Parses `argv` (from index `first`) against `spec.options`; returns args.
-- Raises a usage error for unknown options, missing or bad values, and a wrong
-- number of positional arguments.
function cli.parse(spec, argv, first)
  local options = { HELP }
  for _, o in ipairs(spec.options or {}) do options[#options + 1] = o end
  local by_long, by_short = {}, {}
  for _, o in ipairs(options) do
    by_long[o.long] = o
    if o.short then by_short[o.short] = o end
  end

  local args, i, only_positional = {}, first or 1, false
  local function set(o, value, shown)
    local key = o.long:gsub("-", "_")
    if not o.arg then
      if value ~= nil then cli.usage_error("option --" .. o.long .. " takes no value") end
      args[key] = true
      return
    end
    if value == nil then cli.usage_error("option " .. shown .. " needs a value (" .. o.arg .. ")") end
    local check = o.check or "string"
    if type(check) == "string" then check = assert(checks[check], "unknown option check " .. check) end
    local converted, why = check(value)
    if converted == nil then
      cli.usage_error(("bad value '%s' for %s (%s expected)"):format(value, shown, why or o.arg))
    end
    args[key] = converted
  end

  while argv[i] ~= nil do
    local a = argv[i]
    i = i + 1
    if only_positional or a == "-" or a:sub(1, 1) ~= "-" then
      args[#args + 1] = a
    elseif a == "--" then
      only_positional = true
    elseif a:sub(1, 2) == "--" then
      local long, value = a:match("^%-%-([^=]+)=(.*)$")
      long = long or a:sub(3)
      local o = by_long[long]
      if not o then cli.usage_error("unknown option --" .. long) end
      if o.arg and value == nil then
        value = argv[i]
        i = i + 1
      end
      set(o, value, "--" .. long)
    else
      -- -n 3, -n3, and bundled flags such as -hv
      local j = 2
      while j <= #a do
        local c = a:sub(j, j)
        local o = by_short[c]
        if not o then
          -- -oops is one unknown option to its writer, not a bundle of -o -o -p -s
          cli.usage_error("unknown option " .. (j == 2 and a or ("-" .. c .. " in " .. a)))
        end
        if o.arg then
          local value = a:sub(j + 1)
          if value == "" then
            value = argv[i]
            i = i + 1
          end
          set(o, value, "-" .. c)
          break
        end
        set(o, nil, "-" .. c)
        j = j + 1
      end
    end
  end

  if args.help then return args end
  local want = spec.args or {}
  if want.min and #args < want.min then
    cli.usage_error("missing " .. (want.names and want.names[#args + 1] or "argument"))
  end
  if want.max and #args > want.max then
    cli.usage_error("unexpected argument '" .. args[want.max + 1] .. "'")
  end
  return args
end

-- ---- help -------------------------------------------------------------------

local function wrap_options(options)
  local rows, width = {}, 0
  for _, o in ipairs(options) do
    local left = (o.short and ("-" .. o.short .. ", ") or "    ") .. "--" .. o.long
    if o.arg then left = left .. " " .. o.arg end
    rows[#rows + 1] = { left, o.help or "" }
    width = math.max(width, #left)
  end
  local lines = {}
  for _, r in ipairs(rows) do
    lines[#lines + 1] = ("  %-" .. width .. "s  %s"):format(r[1], r[2])
  end
  return table.concat(lines, "\n")
end

--- The text of `mailslot CMD --help`.
function cli.help(cmd, mod)
  local options = { HELP }
  for _, o in ipairs(mod.options or {}) do options[#options + 1] = o end
  local parts = { "usage: " .. (mod.usage or (PROGRAM .. " " .. cmd)) }
  if mod.summary then parts[#parts + 1] = "\n" .. mod.summary end
  if mod.description then parts[#parts + 1] = "\n" .. mod.description end
  parts[#parts + 1] = "\noptions:\n" .. wrap_options(options)
  return table.concat(parts, "\n") .. "\n"
end

--- The text of `mailslot --help`.
function cli.main_help()
  local lines = {
    "usage: mailslot [--help] [--version] COMMAND [OPTIONS] [ARGS...]",
    "",
    "Windows mailslots from the shell: one reader per name, many writers, whole messages.",
    "",
    "commands:",
  }
  for _, cmd in ipairs(cli.commands) do
    local ok, mod = pcall(cli.find, cmd)
    if ok and mod then lines[#lines + 1] = ("  %-8s %s"):format(cmd, mod.summary or "") end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Names: 'app\\x', 'app/x' and '\\\\.\\mailslot\\app\\x' are one local mailslot."
  lines[#lines + 1] = "Run 'mailslot COMMAND --help' for a command's options."
  lines[#lines + 1] = "Exit status: 0 ok, 1 failure, 2 usage error."
  return table.concat(lines, "\n") .. "\n"
end

-- ---- shared helpers for subcommands ----------------------------------------

--- True when `s` reads as text: valid UTF-8 without control characters other
-- than tab, newline and carriage return.
function cli.is_text(s)
  -- C1 controls (U+0080..U+009F) are escapes too on UTF-8 terminals (CSI is U+009B).
  return utf8.len(s) ~= nil and not s:find("[\0-\8\11\12\14-\31\127]") and not s:find("\194[\128-\159]")
end

--- `s` as hexdump -C would show it, each line prefixed by `indent`.
function cli.hexdump(s, indent)
  indent = indent or ""
  local lines = {}
  for offset = 0, #s - 1, 16 do
    local chunk = s:sub(offset + 1, offset + 16)
    local hex = {}
    for k = 1, 16 do
      local b = chunk:byte(k)
      hex[#hex + 1] = b and ("%02x"):format(b) or "  "
      if k == 8 then hex[#hex + 1] = "" end
    end
    local shown = chunk:gsub("[^\32-\126]", ".")
    lines[#lines + 1] = ("%s%08x  %s  |%s|"):format(indent, offset, table.concat(hex, " "), shown)
  end
  return table.concat(lines, "\n")
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
                  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

-- JSON text is UTF-8: a string that is not (a NetBIOS name in an OEM code
-- page, a slot another user named in Latin-1) has its bytes from 0x80 shown
-- as "?", so what we print always parses, whoever chose the names.
local function json_string(s)
  if not utf8.len(s) then s = s:gsub("[\128-\255]", "?") end
  return '"' .. s:gsub('[\0-\31"\\\127]', function(c)
    return escapes[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

--- A JSON text for `v`: strings (made valid UTF-8), numbers, booleans, arrays
-- (sequences) and objects (string keys, written in sorted order).
function cli.json(v)
  local t = type(v)
  if t == "string" then return json_string(v) end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return ("%.17g"):format(v)
  end
  if t == "nil" then return "null" end
  assert(t == "table", "cannot encode a " .. t .. " as JSON")
  local parts = {}
  if next(v) == nil or v[1] ~= nil then
    for _, item in ipairs(v) do parts[#parts + 1] = cli.json(item) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = json_string(k) .. ":" .. cli.json(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- "message (code)" for a core failure.
function cli.explain(message, code)
  if code then return ("%s (%s)"):format(message, code) end
  return tostring(message)
end

-- ---- main -------------------------------------------------------------------

local function make_env(cmd, overrides)
  local env = {
    out = io.stdout,
    err = io.stderr,
    input = io.stdin,
    command = PROGRAM .. " " .. cmd,
    usage_error = cli.usage_error,
  }
  for k, v in pairs(overrides or {}) do env[k] = v end
  --- Writes "mailslot CMD: message" on stderr; returns exit code 1.
  function env.fail(message, code)
    env.err:write(env.command, ": ", cli.explain(message, code), "\n")
    return cli.FAILURE
  end
  return env
end

local function usage_exit(env, text, cmd)
  env.err:write(PROGRAM, cmd and (" " .. cmd) or "", ": ", text, "\n")
  env.err:write("Try '", PROGRAM, cmd and (" " .. cmd) or "", " --help'.\n")
  return cli.USAGE
end

--- Runs the command line `argv` (as `arg`); returns the exit code.
-- `overrides` may replace the streams (`out`, `err`, `input`) or `mailslot`.
function cli.main(argv, overrides)
  argv = argv or {}
  local base = make_env("", overrides)
  local cmd = argv[1]
  if cmd == nil then
    base.err:write(cli.main_help())
    return cli.USAGE
  end
  if cmd == "-h" or cmd == "--help" or cmd == "help" then
    local topic = argv[2]
    if topic then
      local mod = cli.find(topic)
      if not mod then return usage_exit(base, "unknown command '" .. topic .. "'") end
      base.out:write(cli.help(topic, mod))
    else
      base.out:write(cli.main_help())
    end
    return cli.OK
  end
  if cmd == "-V" or cmd == "--version" then
    local ok, m = pcall(require, "mailslot")
    base.out:write(PROGRAM, " ", ok and m._VERSION or "(module not found)", " (", _VERSION, ")\n")
    return cli.OK
  end
  if cmd:sub(1, 1) == "-" then return usage_exit(base, "unknown option " .. cmd) end

  local mod = cli.find(cmd)
  if not mod then return usage_exit(base, "unknown command '" .. cmd .. "'") end
  local env = make_env(cmd, overrides)

  local ok, result = pcall(cli.parse, mod, argv, 2)
  if not ok then
    if getmetatable(result) == UsageError then return usage_exit(env, result.message, cmd) end
    error(result, 0)
  end
  local args = result
  if args.help then
    env.out:write(cli.help(cmd, mod))
    return cli.OK
  end

  if not env.mailslot then
    local loaded, m = pcall(require, "mailslot")
    if not loaded then return env.fail("cannot load the mailslot module: " .. tostring(m)) end
    env.mailslot = m
  end

  local done, code = xpcall(mod.run, function(e)
    if getmetatable(e) == UsageError then return e end
    return { internal = tostring(e), trace = debug.traceback(tostring(e), 2) }
  end, args, env)
  if done then return math.tointeger(code) or cli.OK end
  if getmetatable(code) == UsageError then return usage_exit(env, code.message, cmd) end
  -- lua.c turns Ctrl-C into this error: leave quietly, as shells expect.
  if code.internal:find("interrupted!$") then
    env.err:write("\n")
    return 130
  end
  if os.getenv("MAILSLOT_DEBUG") then env.err:write(code.trace, "\n") end
  return env.fail("internal error: " .. code.internal)
end

return cli
