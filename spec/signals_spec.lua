-- Signals: a wait ends early only when a signal asks Lua to stop (lua.c's
-- Ctrl-C hook); a process stopped and continued (Ctrl-Z/fg, a debugger, a
-- frozen container) or a handled SA_RESTART signal (luv's SIGWINCH, SIGCHLD)
-- resumes the wait with the time that is left. Each case runs a child Lua
-- that blocks, and signals it once /proc shows it asleep.
local mailslot = require "mailslot"
local helpers = require "helpers"

-- Linux: the child's state is read from /proc/PID/stat. Under Wine a path
-- like /proc/self/stat may open too, but there are no POSIX signals to send.
local function has_proc_stat()
  if helpers.windows then return false end
  local f = io.open("/proc/self/stat")
  if f then f:close() end
  return f ~= nil
end
local linux = has_proc_stat()

local function it_linux(desc, fn)
  if linux then
    it(desc, fn)
  else
    pending(desc .. " (POSIX signals and Linux /proc only: needs /proc to see the child asleep)")
  end
end

local function state_of(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s:match("^%d+ %b() (%a)")
end

-- Waits (at most 10 s) until the child is in state `want` (S: asleep in a wait, T: stopped).
local function await_state(pid, want)
  local deadline = helpers.now() + 10
  while true do
    local state = state_of(pid)
    if state == want then return end
    assert(state and state ~= "Z", ("child %s ended before reaching state %s"):format(pid, want))
    assert(helpers.now() < deadline, ("child %s never reached state %s"):format(pid, want))
    mailslot.wait({}, 0.002)
  end
end

local function signal(pid, sig)
  assert(os.execute(("kill -%s %d"):format(sig, pid)))
end

-- Stops the child, waits until it is stopped, continues it.
local function stop_and_continue(pid)
  signal(pid, "STOP")
  await_state(pid, "T")
  signal(pid, "CONT")
end

-- A child running `body` after it printed its pid; returns the handle and the pid.
-- `body` prints its results on stdout; stderr joins them (2>&1).
local function child(body)
  local code = [[
    local f = io.open("/proc/self/stat"); local pid = f:read("n"); f:close()
    io.write(pid, "\n") io.flush()
    local mailslot = require "mailslot"
    local now = require("mailslot.core").monotime
  ]] .. body
  local p = assert(io.popen(helpers.lua_command(code) .. " 2>&1", "r"))
  local pid = assert(tonumber(p:read("l")), "the child did not start")
  return p, pid
end

-- Waits for the child's "ready", then until it is asleep in the wait that follows.
local function await_asleep(p, pid)
  assert.equal("ready", p:read("l"))
  await_state(pid, "S")
end

-- A child that reads slot %q for up to 20 s, then prints the message (or the code) and the error.
local READER = [[
  local r = assert(mailslot.create(%q))
  io.write("ready\n") io.flush()
  local msg, err, code = r:read(20)
  io.write(tostring(msg or code), "\n", tostring(err), "\n")]]

-- A handler that only takes note, as libuv installs it (SA_RESTART).
local with_luv = [[
  local uv = require "luv"
  local sig = uv.new_signal()
  sig:start("sigwinch", function() end)
]]

-- Only the children load luv: loading it here too, in busted's insulated
-- files, would make luv_spec load it a second time into this process.
local function has_luv()
  return package.searchpath("luv", package.cpath) ~= nil
end

describe("signals", function()
  local name, r
  before_each(function() name = helpers.unique_name("sig") end)
  after_each(function() if r then r:close() r = nil end end)

  it_linux("read(t) stopped and continued (SIGSTOP/SIGCONT) still returns the message", function()
    local p, pid = child(READER:format(name))
    await_asleep(p, pid)
    stop_and_continue(pid)
    await_state(pid, "S") -- back in its read, not returned
    assert(assert(mailslot.open(name)):write("after the stop"))
    assert.equal("after the stop", p:read("l"))
    assert.is_true(p:close())
  end)

  it_linux("read(t) stopped and continued times out at its deadline, not before", function()
    local p, pid = child(([[
      local r = assert(mailslot.create(%q))
      io.write("ready\n") io.flush()
      local t0 = now()
      local msg, _, code = r:read(1.5)
      io.write(tostring(msg or code), "\n", now() - t0, "\n")]]):format(name))
    await_asleep(p, pid)
    stop_and_continue(pid)
    assert.equal("timeout", p:read("l"))
    local took = tonumber(p:read("l"))
    assert.is_true(took >= 1.5, "timed out early: " .. took)
    assert.is_true(took < 4, "the stop stretched the timeout: " .. took)
    assert.is_true(p:close())
  end)

  it_linux("a handled SA_RESTART signal (luv's SIGWINCH) does not end read(t)", function()
    if not has_luv() then return pending("luv is not installed") end
    local p, pid = child(with_luv .. READER:format(name))
    await_asleep(p, pid)
    signal(pid, "WINCH")
    signal(pid, "WINCH")
    assert(assert(mailslot.open(name)):write("after the signal"))
    assert.equal("after the signal", p:read("l"))
    assert.is_true(p:close())
  end)

  it_linux("a handled signal does not end mailslot.wait or loop.sleep early", function()
    if not has_luv() then return pending("luv is not installed") end
    local p, pid = child(with_luv .. [[
      local loop = require "mailslot.loop"
      io.write("ready\n") io.flush()
      local t0 = now()
      loop.sleep(1)
      io.write(now() - t0, "\n") io.flush()
      local r = assert(mailslot.create("]] .. name:gsub("\\", "\\\\") .. [["))
      io.write("ready\n") io.flush()
      local got, err, code = mailslot.wait({ r }, 20)
      io.write(got and #got or code, "\n", tostring(err), "\n")]])
    await_asleep(p, pid)
    signal(pid, "WINCH")
    local took = tonumber(p:read("l"))
    assert.is_true(took >= 1, "loop.sleep ended early: " .. took)
    await_asleep(p, pid)
    signal(pid, "WINCH")
    stop_and_continue(pid)
    await_state(pid, "S") -- back in its wait, not returned
    assert(assert(mailslot.open(name)):write("wake"))
    assert.equal("1", p:read("l"))
    assert.is_true(p:close())
  end)

  it_linux("a task of the built-in loop in loop.read survives signals and a stop", function()
    if not has_luv() then return pending("luv is not installed") end
    local p, pid = child(with_luv .. ([[
      local loop = require "mailslot.loop"
      local r = assert(mailslot.create(%q))
      local idle = assert(mailslot.create(%q)) -- another reader its loop waits on
      loop.spawn(function() loop.read(idle, 30) end)
      loop.spawn(function()
        local msg, err, code = loop.read(r, 20)
        io.write(tostring(msg or code), "\n", tostring(err), "\n")
        io.flush()
        os.exit(0) -- the idle task would keep the loop running
      end)
      io.write("ready\n") io.flush()
      loop.run(25)]]):format(name, name .. "-idle"))
    await_asleep(p, pid)
    signal(pid, "WINCH")
    stop_and_continue(pid)
    await_state(pid, "S")
    assert(assert(mailslot.open(name)):write("to the task"))
    assert.equal("to the task", p:read("l"))
    assert.is_true(p:close())
  end)

  it_linux("a writer waiting for room resumes after a handled signal", function()
    if not has_luv() then return pending("luv is not installed") end
    r = assert(mailslot.create(name))
    local p, pid = child(with_luv .. ([[
      local w = assert(mailslot.open(%q, { timeout = 20 }))
      io.write("ready\n") io.flush()
      local sent = 0
      for i = 1, 100 do
        local ok, err = w:write("m" .. i)
        if not ok then io.write(err, "\n") break end
        sent = i
      end
      io.write(sent, "\n")]]):format(name))
    await_asleep(p, pid) -- the queue is full: the writer sleeps in its send
    signal(pid, "WINCH")
    stop_and_continue(pid)
    for i = 1, 100 do assert.equal("m" .. i, assert(r:read(10))) end
    assert.equal("100", p:read("l"))
    assert.is_true(p:close())
  end)

  it_linux("Ctrl-C (SIGINT under lua.c) still ends a blocked read at once", function()
    local p, pid = child(([[
      local r = assert(mailslot.create(%q))
      io.write("ready\n") io.flush()
      r:read(30)
      io.write("read returned\n")]]):format(name))
    await_asleep(p, pid)
    local t0 = helpers.now()
    signal(pid, "INT")
    local out = p:read("a")
    assert.is_false(p:close() == true)
    assert.is_true(helpers.now() - t0 < 10)
    assert.matches("interrupted!", out, 1, true)
    assert.is_nil(out:find("read returned", 1, true))
  end)
end)
