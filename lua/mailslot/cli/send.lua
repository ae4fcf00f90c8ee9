--- `mailslot send NAME [MESSAGE...]`: the classic writer.
local cli = require "mailslot.cli"

--- The messages to send, as an iterator, from the arguments, a file or stdin.
local function messages(args, env)
  if args.file then
    local data, err
    if args.file == "-" then
      data = env.input:read("a")
    else
      local f
      f, err = io.open(args.file, "rb")
      if f then
        data, err = f:read("a")
        f:close()
      end
    end
    if not data then return nil, err end
    local done = false
    return function()
      if done then return nil end
      done = true
      return data
    end
  end
  if #args > 1 then
    local i = 1
    return function()
      i = i + 1
      return args[i]
    end
  end
  return env.input:lines("l")
end

-- True when standard input is a terminal (POSIX: asked of a shell sharing it).
local function typed(env)
  return env.input == io.stdin and package.config:sub(1, 1) == "/" and os.execute("test -t 0") == true
end

-- A failure, and for `access` what to do about it: only the reader decides.
local function fail(env, err, code)
  local status = env.fail(err, code)
  if code == "access" then
    env.err:write(env.command, ": the reader must allow your user: `mailslot listen --allow all NAME`",
      " (or group), or in Lua mailslot.create(name, { allow = \"all\" })\n")
  end
  return status
end

local function run(args, env)
  if args.file and #args > 1 then env.usage_error("give MESSAGE arguments or --file, not both") end
  local name = args[1]
  local next_message, ferr = messages(args, env)
  if not next_message then
    -- io.open's message already starts with the path
    ferr = tostring(ferr)
    if ferr:sub(1, #args.file + 1) ~= args.file .. ":" then ferr = args.file .. ": " .. ferr end
    return env.fail("cannot read " .. ferr)
  end
  local writer, err, code = env.mailslot.open(name, { timeout = args.timeout })
  if not writer then return fail(env, err, code) end
  if not args.file and #args == 1 and typed(env) then -- say why nothing happens yet
    env.err:write(env.command, ": type the messages, one per line; Ctrl-D ends\n")
  end
  local n = 0
  for msg in next_message do
    n = n + 1
    local ok, werr, wcode = writer:write(msg)
    if not ok then
      writer:close()
      return fail(env, ("message %d (%d bytes) not sent: %s"):format(n, #msg, werr), wcode)
    end
    if args.verbose then
      env.err:write(("sent %d bytes to %s\n"):format(#msg, writer:name()))
      env.err:flush()
    end
  end
  writer:close()
  return cli.OK
end

return {
  summary = "write messages to a mailslot",
  usage = "mailslot send [OPTIONS] NAME [MESSAGE...]",
  description = [[
Opens the mailslot NAME and writes each MESSAGE argument as one message. With
no MESSAGE, reads standard input and sends each line as one message (without
its newline), as the lines come, so it can be typed into. With --file, sends
the whole file (binary-safe; "-" for standard input) as one message.

Stops at the first message that cannot be delivered, says why on stderr
(with the code: not_found, closed, too_big, timeout, access, ...) and exits 1.
A MESSAGE that starts with "-" goes after "--".]],
  options = {
    { long = "file", short = "f", arg = "FILE", help = "send the whole FILE as one message" },
    { long = "timeout", short = "t", arg = "S", check = "seconds",
      help = "wait at most S seconds when the reader's queue is full (default: forever)" },
    { long = "verbose", short = "v", help = "report each message sent on stderr" },
  },
  args = { min = 1, names = { "NAME" } },
  run = run,
}
