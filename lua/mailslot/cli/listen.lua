--- `mailslot listen NAME`: the classic listener. Creates the mailslot (so it
-- is its one reader) and shows each message as it arrives.
local cli = require "mailslot.cli"
local printable = require "mailslot.printable"

-- Reads wait in slices this long, so Ctrl-C (which lua.c handles between Lua
-- instructions, while the C read retries after EINTR) stops us promptly.
local SLICE = 0.5

--- The next message, waiting at most `timeout` seconds (math.huge: forever).
-- `on_slice` runs after each slice, for live warnings.
local function next_message(slot, timeout, on_slice)
  local left = timeout
  repeat
    local wait = math.min(left, SLICE)
    local msg, err, code = slot:read(wait)
    on_slice()
    if msg or code ~= "timeout" then return msg, err, code end
    left = left - wait
  until left <= 0
  return nil, "timeout", "timeout"
end

local function sender_text(s)
  if not s then return "an unknown sender" end
  if s.address then
    -- The NetBIOS name is whatever the sending host wrote: no escapes from it.
    local who = (s.name and s.name ~= "") and (printable(s.name) .. " at ") or ""
    return who .. s.address .. (s.port and (":" .. s.port) or "")
  end
  local parts = {}
  if s.pid then parts[#parts + 1] = "pid " .. s.pid end
  if s.uid then parts[#parts + 1] = "uid " .. s.uid end
  if #parts == 0 then return "an unknown sender" end
  return table.concat(parts, ", ")
end

-- Without --full a message shows at most about a screen: this many lines of
-- text or of hex dump (16 bytes each), text lines counted at most 80 bytes.
local SCREEN_LINES = 20

-- The first part of text `body` that fits a screen, cut on a character boundary.
local function screenful(body)
  local cut, lines = 0, 0
  while cut < #body and lines < SCREEN_LINES do
    local nl = body:find("\n", cut + 1, true) or #body
    cut = math.min(nl, cut + 80)
    lines = lines + 1
  end
  while cut < #body and cut > 0 and not utf8.len(body, 1, cut) do cut = cut - 1 end
  return body:sub(1, cut)
end

local function show_text(env, msg, slot, full)
  local binary = not cli.is_text(msg)
  local noun = #msg == 1 and "byte" or "bytes"
  env.out:write(("%s  %d %s  from %s%s\n"):format(os.date("%H:%M:%S"), #msg, noun,
    sender_text(slot:sender()), binary and "  binary" or ""))
  local shown
  if binary then
    shown = full and msg or msg:sub(1, SCREEN_LINES * 16)
    env.out:write(cli.hexdump(shown, "  "), "\n")
  elseif #msg > 0 then
    local body = msg:gsub("\r?\n$", "")
    shown = full and body or screenful(body)
    env.out:write("  ", (shown:gsub("\n$", ""):gsub("\n", "\n  ")), "\n")
    if #shown == #body then shown = msg end
  end
  if shown and #shown < #msg then
    local rest = #msg - #shown
    env.out:write(("  ... %d more byte%s not shown (--full shows all, --raw writes the message as it is)\n")
      :format(rest, rest == 1 and "" or "s"))
  end
end

-- --raw: the message's bytes, unchanged, nothing else.
local function show_raw(env, msg)
  env.out:write(msg)
end

local function show_json(env, msg, slot)
  local record = {
    time = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    slot = slot:name(),
    size = #msg,
    sender = slot:sender(),
  }
  if utf8.len(msg) then
    record.text = msg
  else
    record.hex = (msg:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
  end
  env.out:write(cli.json(record), "\n")
end

local function run(args, env)
  if args.raw and (args.json or args.full) then
    env.usage_error("--raw writes the messages as they are: not with --" .. (args.json and "json" or "full"))
  end
  local timeout = args.timeout or math.huge
  local slot, err, code = env.mailslot.create(args[1], { max_size = args.max_size, allow = args.allow,
                                                          network = args.network or nil })
  if not slot then return env.fail(err, code) end
  env.err:write("listening on ", slot:name(), "\n")
  env.err:flush()

  -- Messages the core dropped (too big, or from a sender not allowed) are
  -- counted by the reader; say so as soon as the count moves.
  local seen = { oversized = 0, rejected = 0 }
  local function warn_dropped()
    local info = slot:info()
    if not info then return end
    local n = (info.oversized or 0) - seen.oversized
    if n > 0 then
      env.err:write(("%s: %d message%s larger than --max-size %d discarded\n"):format(
        env.command, n, n == 1 and "" or "s", args.max_size or 0))
    end
    local m = (info.rejected or 0) - seen.rejected
    if m > 0 then
      env.err:write(("%s: %d message%s rejected (senders not allowed by --allow, or from the network "
        .. "without --network)\n"):format(env.command, m, m == 1 and "" or "s"))
    end
    seen.oversized, seen.rejected = info.oversized or 0, info.rejected or 0
  end

  local show = args.raw and show_raw or args.json and show_json or show_text
  local received = 0
  while not args.count or received < args.count do
    local msg, rerr, rcode = next_message(slot, timeout, warn_dropped)
    if not msg then
      local full = slot:name()
      slot:close()
      if rcode == "timeout" then
        local of = args.count and (" of " .. args.count) or ""
        return env.fail(("no message on %s for %g s, %d%s received"):format(
          full, timeout, received, of), "timeout")
      end
      return env.fail(rerr, rcode)
    end
    received = received + 1
    show(env, msg, slot, args.full)
    env.out:flush()
  end
  slot:close()
  return cli.OK
end

return {
  summary = "create a mailslot and show the messages it receives",
  usage = "mailslot listen [OPTIONS] NAME",
  description = [[
Creates the mailslot NAME, so this process is its one reader, prints
"listening on \\.\mailslot\NAME" on stderr once writers can write, then shows
each message as it arrives: a line with the time, the size and the sender
(pid and uid on this machine; network name and address for a message from
another machine), then the message indented, as text when it is printable
UTF-8 and as a hex dump otherwise; at most a screen of it (20 lines), with
the number of bytes not shown, unless --full. The mailslot goes away when
listen exits.

With --raw, each message's bytes go to standard output unchanged and nothing
else does, so `mailslot listen --count 1 --raw NAME > FILE` receives a file
that `mailslot send --file FILE NAME` sent.

With --json, each message is one JSON object on one line:
  {"hex" or "text": ..., "sender": {...}, "size": N, "slot": "...", "time": "...Z"}
"text" holds a message that is valid UTF-8, "hex" any other message.

With --network, messages that `mailslot serve` receives from other hosts
for NAME are shown too (sender: their NetBIOS name, address and port);
without it the mailslot takes messages from this machine only.

--timeout bounds each wait, like the mailslot's read timeout: when no message
comes for S seconds, listen says so on stderr and exits 1. Without --count it
runs until interrupted (Ctrl-C, exit 130).]],
  options = {
    { long = "json", short = "j", help = "one JSON object per message and line" },
    { long = "full", help = "show whole messages, however long (default: a screen each)" },
    { long = "raw", help = "write the messages' bytes to stdout, unchanged, nothing else" },
    { long = "count", short = "n", arg = "N", check = "integer", help = "exit 0 after N messages" },
    { long = "timeout", short = "t", arg = "S", check = "seconds",
      help = "exit 1 when no message comes for S seconds (default: forever)" },
    { long = "max-size", arg = "BYTES", check = function(v)
        local n = v:match("^%d+$") and math.tointeger(tonumber(v))
        if n and n <= 0x7FFFFFFF then return n end
        return nil, "an integer from 0 to 2147483647"
      end,
      help = "discard (and report) longer messages; 0 = any size (default)" },
    { long = "allow", arg = "WHO", check = function(v)
        if v == "user" or v == "group" or v == "all" then return v end
        return nil, "user, group or all"
      end, help = "who may write: user (default: same user and root), group, all" },
    { long = "network", help = "also take messages from other hosts (relayed by mailslot serve)" },
  },
  args = { min = 1, max = 1, names = { "NAME" } },
  run = run,
  show_text = show_text,
}
