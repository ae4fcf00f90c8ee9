-- scripts/deps on a fresh machine where another package manager (say
-- unattended-upgrades) holds apt's lock: it says so, waits with a bound and
-- carries on, instead of failing at once. apt-get, dpkg-query, lslocks and
-- sudo are stand-ins on PATH, so nothing is installed and no root is needed.
local helpers = require "helpers"

local quote = helpers.quote

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  os.execute("chmod +x " .. quote(path))
end

local slurp = helpers.read_file

-- A directory of stand-ins: apt-get update fails on the held lock `busy`
-- times, then succeeds; every apt-get call is logged with its arguments.
local function fake_system(busy)
  local dir = helpers.temp_dir()
  assert(os.execute("mkdir -p " .. quote(dir)))
  write(dir .. "/dpkg-query", "#!/bin/sh\nexit 1\n") -- every package is missing
  write(dir .. "/lslocks", "#!/bin/sh\necho '4242 unattended-upgr /var/lib/apt/lists/lock'\n")
  write(dir .. "/sudo", '#!/bin/sh\nexec "$@"\n')
  write(dir .. "/apt-get", ([[#!/bin/sh
echo "$*" >> %s/calls
case "$*" in
  *update*)
    n=$(cat %s/count 2>/dev/null || echo 0)
    echo $((n + 1)) > %s/count
    if [ "$n" -lt %d ]; then
      echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (unattended-upgr)" >&2
      exit 100
    fi ;;
  *install*)
    echo "0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded."
    echo "Setting up lua5.4 (5.4.4-3) ..."
    echo "Setting up cmake (3.25.1-1) ..." ;;
esac
exit 0
]]):format(dir, dir, dir, busy))
  return dir
end

local function run_deps(dir, wait)
  local errfile = helpers.tmpname()
  -- env -u LD_PRELOAD: bash is not ours to sanitize (the ASan run preloads it everywhere)
  local cmd = "env -u LD_PRELOAD PATH=%s:$PATH MAILSLOT_APT_WAIT=%d timeout 60 bash scripts/deps build 2>%s"
  local out, _, code = helpers.output(cmd:format(quote(dir), wait, quote(errfile)))
  local err = slurp(errfile)
  os.remove(errfile)
  return out, err, code
end

describe("scripts/deps", function()
  local dir
  after_each(function() if dir then os.execute("rm -rf " .. quote(dir)) end end)

  helpers.nix_it("waits for another apt holding the lock, says who, then installs", function()
    dir = fake_system(1)
    local _, err, code = run_deps(dir, 30)
    assert.equal(0, code, err)
    assert.matches("another package manager is running: unattended-upgr (pid 4242); waiting for it, at most 30 s",
      err, 1, true)
    local calls = slurp(dir .. "/calls")
    local _, updates = calls:gsub("update", "")
    assert.equal(2, updates, calls)
    assert.matches("install -y -q --no-install-recommends -o DPkg::Lock::Timeout=30 ", calls, 1, true)
    assert.matches("deps: set up 2 of 2", err, 1, true)
  end)

  helpers.nix_it("gives up after MAILSLOT_APT_WAIT seconds and says so", function()
    dir = fake_system(1000)
    local started = helpers.now()
    local _, err, code = run_deps(dir, 1)
    assert.equal(1, code, err)
    assert.is_true(helpers.now() - started < 30)
    assert.matches("deps: gave up after waiting 1 s for apt's lock", err, 1, true)
    assert.is_nil(slurp(dir .. "/calls"):find("install", 1, true))
  end)
end)
