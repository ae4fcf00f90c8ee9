-- luacheck: max line length 140
-- Memory safety of the bindings when Lua raises or runs code while C holds
-- something: out of memory (a real lua_Alloc failure, injected by the
-- test-only module spec/native/failalloc.c at every allocation in turn) and
-- finalizers run by a collection in the middle of a call.
--
-- Each case runs in a child Lua under a memory checker: AddressSanitizer when
-- this run has it preloaded (scripts/test's asan stage), else valgrind, whose
-- "definitely lost" blocks and invalid reads fail the child.
local helpers = require "helpers"

local function checker()
  if (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) then return "" end
  if os.execute("command -v valgrind >/dev/null 2>&1") then
    return "valgrind -q --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite " ..
      "--error-exitcode=99"
  end
end

local function has_failalloc()
  return package.searchpath("native.failalloc", package.cpath) ~= nil
end

-- Runs code in a checked child; it must print "ok" and exit 0.
local function run_checked(code)
  local p = assert(io.popen(checker() .. " " .. helpers.lua_command(code) .. " 2>&1", "r"))
  local out = p:read("a")
  local ok = p:close()
  assert.is_true(ok == true and out:find("^ok") ~= nil, out)
  return out
end

-- A case that needs the checker and the harness: pending where either is missing.
local function checked_it(desc, fn)
  if helpers.windows then
    pending(desc .. " (POSIX only: valgrind or ASan, and the failalloc harness)")
  elseif not checker() then
    pending(desc .. " (needs valgrind or an ASan run)")
  elseif not has_failalloc() then
    pending(desc .. " (needs build/native/failalloc.so: scripts/build builds it)")
  else
    it(desc, fn)
  end
end

describe("memory safety of the bindings", function()
  describe("out of memory while C holds an OS resource", function()
    checked_it("net_os.interfaces and net_os.resolve free what the OS gave them (leaked getifaddrs/getaddrinfo before)", function()
      run_checked([[
        local fa = require "native.failalloc"
        local net_os = require "mailslot.net_os"
        assert(#net_os.interfaces() > 0 and #assert(net_os.resolve("localhost")) > 0)
        local failed = 0
        for n = 0, 40 do
          for _, call in ipairs({ function() return net_os.interfaces() end,
                                  function() return net_os.resolve("localhost") end }) do
            fa.fail_after(n)
            local ok, err = pcall(call)
            fa.stop()
            if not ok then
              assert(tostring(err):find("not enough memory"), err)
              failed = failed + 1
            end
          end
        end
        assert(failed > 0, "memory never ran out")
        print("ok", failed)]])
    end)
  end)

  describe("readmany", function()
    checked_it("keeps every message it could not hand over when memory runs out (lost the batch before)", function()
      local name = helpers.unique_name("oom")
      run_checked(([[
        local fa = require "native.failalloc"
        local core = require "mailslot.core"
        local raised, partial = 0, 0
        -- small messages: valgrind checks every byte of recvmmsg's buffers; a
        -- max_size of 3 MiB leaves no batch buffer: recvmsg takes them one by one
        for _, max in ipairs({ 64, 3 * 1024 * 1024 }) do
        local r = assert(core.create(%q .. max, { max_size = max }))
        local w = assert(core.open(%q .. max, { timeout = 5 }))
        local raised_before, partial_before = raised, partial
        -- 10 fill the socket (net.unix.max_dgram_qlen): the first comes by recvmsg,
        -- the rest by recvmmsg; of 25, the writer (in this process) moved the
        -- older ones to the reader's queue when the socket was full
        for _, N in ipairs({ 10, 25 }) do for k = 0, 2 * N do -- fail the k-th allocation in readmany, and all after
          for i = 1, N do assert(w:write(k .. ":" .. i)) end
          local got = {}
          fa.fail_after(k)
          local ok, list = pcall(r.readmany, r, 64, 0)
          local failed = fa.stop()
          if ok then
            for _, m in ipairs(list) do got[#got + 1] = m end
            if failed > 0 then partial = partial + 1 end
          else
            assert(tostring(list):find("not enough memory"), list)
            raised = raised + 1
          end
          while #got < N do
            local more, err = r:readmany(64, 0)
            if not more then
              error(("after failing allocation %%d: message %%d of %%d lost (%%s)"):format(k, #got + 1, N, err))
            end
            for _, m in ipairs(more) do got[#got + 1] = m end
          end
          for i = 1, N do
            assert(got[i] == k .. ":" .. i, ("after failing allocation %%d: got %%s for message %%d"):format(k, got[i], i))
          end
          assert(not r:read(0), "a message came twice")
        end end
        assert(raised > raised_before and partial > partial_before,
          "memory never ran out in the middle of a batch of max_size " .. max)
        end
        assert(raised > 0 and partial > 0, "memory never ran out in the middle of a batch")
        print("ok", raised, partial)]]):format(name, name))
    end)

    checked_it("survives a finalizer that closes the reader mid-batch (used the freed reader before)", function()
      local name = helpers.unique_name("fin")
      run_checked(([[
        local core = require "mailslot.core"
        local mid = 0
        -- More live data makes the collection that runs the finalizer end
        -- later: at a push in the middle of readmany's batch for these sizes.
        for _, tables in ipairs({ 4000, 8000, 16000, 24000 }) do
          local name = %q .. tables
          local r = assert(core.create(name, { max_size = 2000 }))
          local w = assert(core.open(name, { timeout = 5 }))
          -- as many as the socket holds (net.unix.max_dgram_qlen = 10): all
          -- but the first come through recvmmsg
          for i = 1, 10 do assert(w:write(("x"):rep(1000) .. i)) end
          local ballast = {}
          for i = 1, tables do ballast[i] = {} end
          collectgarbage()
          collectgarbage("incremental", 200, 100, 1) -- a small step at every allocation
          setmetatable({}, { __gc = function() r:close() end })
          collectgarbage("step", 0) -- a cycle starts; the finalizer runs at its end
          local ok, list = pcall(r.readmany, r, 64, 0)
          local closed_during = tostring(r):find("closed") ~= nil
          collectgarbage("incremental", 200, 100, 13)
          collectgarbage()
          if ok then
            assert(#list >= 1)
            for i, m in ipairs(list) do assert(m == ("x"):rep(1000) .. i, "message " .. i) end
            if closed_during then mid = mid + 1 end
          else
            assert(tostring(list):find("closed mailslot"), list)
          end
          assert(tostring(r):find("closed"), "the finalizer never ran")
          assert(not pcall(r.read, r, 0), "a closed reader still reads")
          w:close()
        end
        assert(mid > 0, "the finalizer never ran in the middle of readmany")
        print("ok", mid)]]):format(name))
    end)
  end)
end)
