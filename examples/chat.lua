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
-- say before he arrives waits in their queues and reaches him anyway.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' lua5.4 examples/chat.lua
local mailslot = require "mailslot"
local loop = mailslot.loop

local friends = { "sue", "bob", "pete" }
local script = {                -- { seconds from the start, who, what }
  { 0.0, "sue", "Anyone up for lunch?" },
  { 0.1, "bob", "Sure! The usual place?" },
  { 0.2, "sue", "Yes, at noon." },
  { 0.5, "pete", "Sorry, just saw this. Count me in!" },
}
local PETE_ARRIVES = 0.4

-- Every line goes to the two others: the deliveries to wait for.
local expected = #script * (#friends - 1)
local delivered = 0
local arrived = loop.condition()
local listeners, queues = {}, {}

local function slot_of(who) return "chat\\" .. who end

-- A friend joins: start reading their mailslot; each message is "from: text".
local function join(who)
  listeners[who] = assert(mailslot.listen(slot_of(who), function(msg)
    print(("  %-5s sees  %s"):format(who, msg))
    delivered = delivered + 1
    arrived:signal()
  end))
end

-- A queued writer from each friend to each other friend.
for _, from in ipairs(friends) do
  queues[from] = {}
  for _, to in ipairs(friends) do
    if to ~= from then queues[from][to] = mailslot.queued(slot_of(to)) end
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
  for _, line in ipairs(script) do
    loop.sleep(math.max(0, line[1] - (loop.now() - start)))
    say(line[2], line[3])
  end
  -- Wait until every line reached both other friends, then leave the chat.
  while delivered < expected do
    if not arrived:wait(5) then error("chat: only " .. delivered .. " of " .. expected .. " delivered") end
  end
  for _, who in ipairs(friends) do
    for _, q in pairs(queues[who]) do q:close() end
    listeners[who]:close()
  end
  print(("%d lines, %d deliveries"):format(#script, delivered))
end)

loop.run()
