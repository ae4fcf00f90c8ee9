--- `mailslot serve`: the mailslot network service. Receives remote mailslot
-- writes (NetBIOS datagrams on UDP 138) and hands each to this machine's
-- reader of that name, so ordinary local readers get network messages, as on
-- Windows. Stops cleanly on SIGINT / SIGTERM and logs its counts.
local function list(v)
  local out = {}
  for item in v:gmatch("[^,%s]+") do out[#out + 1] = item end
  if #out == 0 then return nil, "a list of interfaces or addresses" end
  return out
end

local function port(v)
  local n = math.tointeger(tonumber(v))
  if not n or n < 0 or n > 65535 then return nil, "a port number, 0 to 65535" end
  return n
end

-- A dotted IPv4 address: four decimal numbers 0..255.
local function ipv4(v)
  local parts = { v:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
  if #parts ~= 4 then return nil, "an IPv4 address (a.b.c.d)" end
  for _, p in ipairs(parts) do
    if #p > 3 or tonumber(p) > 255 then return nil, "an IPv4 address (a.b.c.d)" end
  end
  return v
end

local function level(v)
  if v == "error" or v == "warn" or v == "info" or v == "debug" then return v end
  return nil, "error, warn, info or debug"
end

return {
  summary = "receive remote mailslot writes from the network (UDP 138)",
  usage = "mailslot serve [OPTIONS]",
  description = [[
Binds the NetBIOS datagram port and delivers every remote mailslot write to
the local reader of that name (case-insensitive), when that reader asked for
network messages (mailslot.create with network = true, mailslot listen
--network): other readers refuse them, even from root. reader:sender() tells
the network sender's name, the address the datagram came from and the port
its header names. A datagram whose header claims another source address
than the one it came from is dropped and counted as forged. Malformed,
fragmented, foreign and unknown-destination datagrams are dropped and counted
(browser announcements on \MAILSLOT\BROWSE and \MAILSLOT\LANMAN are delivered
whatever workgroup they name); copies of one write within the --dedupe window
are delivered once. Also answers NetBIOS name queries for this computer's name
(UDP 137) when that port is free, and sends the network writes of this
machine's programs from its own port (their answers then come back to it),
unless --no-outbox.
Settings default to mailslot.network's (environment: MAILSLOT_PORT,
MAILSLOT_WORKGROUP, MAILSLOT_COMPUTERNAME, MAILSLOT_INTERFACES, ...).
Binding ports below 1024 needs root or CAP_NET_BIND_SERVICE.]],
  options = {
    { long = "port", short = "p", arg = "N", check = port, help = "datagram port (default 138)" },
    { long = "name-port", arg = "N", check = port, help = "name service port (default 137)" },
    { long = "no-name-service", help = "do not answer NetBIOS name queries" },
    { long = "no-outbox", help = "do not send for this machine's network writers" },
    { long = "workgroup", short = "w", arg = "W", help = "workgroup (default WORKGROUP)" },
    { long = "name", short = "n", arg = "NAME", help = "this computer's NetBIOS name" },
    { long = "interfaces", short = "i", arg = "LIST", check = list,
      help = "interfaces or address/prefix entries, comma-separated" },
    { long = "bind", arg = "ADDRESS", check = ipv4, help = "address to bind (default 0.0.0.0)" },
    { long = "log", short = "l", arg = "LEVEL", check = level, help = "error, warn, info (default) or debug" },
    { long = "dedupe", arg = "SECONDS", check = "seconds",
      help = "deliver copies of one write once within SECONDS (default 2, 0: off)" },
  },
  args = { min = 0, max = 0 },
  run = function(args, env)
    local ok, service = pcall(require, "mailslot.net.service")
    if not ok then return env.fail("the network service is not available here: " .. tostring(service)) end
    local opts = {
      port = args.port, name_port = args.name_port, workgroup = args.workgroup,
      computer_name = args.name, interfaces = args.interfaces, log_level = args.log,
      dedupe = args.dedupe, bind = args.bind,
      name_service = not args.no_name_service, outbox = not args.no_outbox,
      log = function(lvl, msg)
        env.err:write(("mailslot serve: %s: %s\n"):format(lvl, msg))
        env.err:flush()
      end,
    }
    local made, svc = pcall(service.new, opts)
    if not made then return env.usage_error(tostring(svc):gsub("^[^:]*:%d+: ", "")) end
    local started, err, code = svc:start()
    if not started then return env.fail(err, code) end
    svc:run()
    return 0
  end,
}
