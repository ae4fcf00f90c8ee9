-- Sue, Bob and Pete chat, as in the original article, on one machine.
--
-- Each friend is a reader of their own mailslot (chat\sue, chat\bob, chat\pete:
-- one machine allows one reader per name) and "broadcasts" by writing to the
-- other two. Across machines each would instead read "myapp\chat" (created with
-- `{ network = true }`, with `mailslot serve` running) and write once to
-- "\\*\mailslot\myapp\chat", which reaches every machine's reader.
--
-- Built on the helpers: `mailslot.listen` (a handler called for each message,
-- inside the loop) and `mailslot.queued` (a writer whose `write` never blocks and
-- that keeps retrying until the reader exists). Pete joins late: what Sue and Bob
-- say before he arrives waits in their queues and reaches him anyway, and he
-- answers once he has read it, so the story prints in the order it happens.
-- One chat per machine: a second one says so in one line and exits 1.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' lua5.4 examples/chat.lua
local mailslot = require "mailslot"
local loop = mailslot.loop

local friends = { "sue", "bob", "pete" }
local script = {                -- { seconds from the start, who, what }
  { 0.0, "sue", "Anyone up for lunch?" },
  { 0.1, "bob", "Sure! The usual place?" },
  { 0.2, "sue", "Yes, at noon." },
  { 0.5, "pete", "Sorry, just saw this. Count me in!" }, -- once he has read the above
}
local PETE_ARRIVES = 0.4
-- A chat retries a missing reader quickly, so Pete gets his backlog at once.
local QUEUE_OPTS = { backoff = 0.01, max_backoff = 0.05 }

-- Every line goes to the two others: the deliveries to wait for.
local expected = #script * (#friends - 1)
local delivered = 0
local arrived = loop.condition()
local listeners, queues, seen = {}, {}, {}

local function slot_of(who) return "chat\\" .. who end

-- A friend joins: start reading their mailslot; each message is "from: text".
-- A name can have one reader per machine: when another chat has it, say so
-- and stop (the process exit closes whatever this one opened).
local function join(who)
  seen[who] = 0
  local listener, err, code = mailslot.listen(slot_of(who), function(msg)
    print(("  %-5s sees  %s"):format(who, msg))
    seen[who] = seen[who] + 1
    delivered = delivered + 1
    arrived:signal()
  end)
  if not listener then
    io.stderr:write("chat: ", err, code == "exists" and " (is another chat running?)" or "", "\n")
    os.exit(1)
  end
  listeners[who] = listener
end

-- Waits until `ok()` holds, each wait bounded: a chat that stalls says so.
local function wait_until(ok, what)
  while not ok() do
    if not arrived:wait(5) then error("chat: stalled waiting for " .. what, 0) end
  end
end

-- A queued writer from each friend to each other friend.
for _, from in ipairs(friends) do
  queues[from] = {}
  for _, to in ipairs(friends) do
    if to ~= from then queues[from][to] = mailslot.queued(slot_of(to), QUEUE_OPTS) end
  end
end

local function say(who, text)
  print(("%s says: %s"):format(who, text))
  for _, q in pairs(queues[who]) do q:write(who .. ": " .. text) end -- never blocks
end

join("sue")
join("bob")
loop.spawn(function()
  loop.sleep(PETE_ARRIVES)
  print("(pete comes online)")
  join("pete")
end)

loop.spawn(function()
  local start = loop.now()
  for i, line in ipairs(script) do
    loop.sleep(math.max(0, line[1] - (loop.now() - start)))
    local who = line[2]
    if who == "pete" then -- he answers what he has read: everything said before
      wait_until(function() return seen.pete == i - 1 end, "pete to read the lines before his")
    end
    say(who, line[3])
  end
  -- Wait until every line reached both other friends, then leave the chat.
  wait_until(function() return delivered >= expected end, expected .. " deliveries, " .. delivered .. " so far")
  for _, who in ipairs(friends) do
    for _, q in pairs(queues[who]) do q:close() end
    listeners[who]:close()
  end
  print(("%d lines, %d deliveries"):format(#script, delivered))
end)

loop.run()
