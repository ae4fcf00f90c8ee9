/*
 * lnet.c - the few OS calls the network part needs: mailslot.net_os (POSIX).
 *
 * UDP sockets (broadcast, address reuse, non-blocking receive with a
 * pollable fd), the IPv4 interfaces (getifaddrs), the system resolver
 * (getaddrinfo), the host name, a monotonic clock, poll(2) over several
 * fds, and SIGINT/SIGTERM turned into a readable fd (self-pipe), so the
 * Lua service waits on its sockets and its signals in one place.
 *
 * Failures of the world return nil, message, code (the portable codes of
 * the core: timeout, exists, access, unreachable, too_big, not_found, and
 * "io" for the rest); misuse raises.  Never built on Windows, where the
 * core handles remote mailslots natively.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lclass.h"
#include "net_lookup.h"

#define NET_EXPORT __attribute__((visibility("default")))
NET_EXPORT int luaopen_mailslot_net_os(lua_State *L);

#define UDP_MT "mailslot.net_os.udp"
#define LOOKUP_MT "mailslot.net_os.lookup"
#define RECV_MAX 65536

typedef struct { int fd; } ludp;

/* ---- errors ------------------------------------------------------------ */

static const char *errno_code(int e) {
  switch (e) {
  case EAGAIN: case ETIMEDOUT: return "timeout";
  case EADDRINUSE: return "exists";
  case EACCES: case EPERM: return "access";
  case ENETUNREACH: case EHOSTUNREACH: case ENETDOWN: case EADDRNOTAVAIL:
  case ECONNREFUSED: return "unreachable";
  case EMSGSIZE: return "too_big";
  case ENOENT: case ENODEV: return "not_found";
  default: return "io";
  }
}

static int fail_errno(lua_State *L, int e, const char *what) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", what, strerror(e));
  lua_pushstring(L, errno_code(e));
  return 3;
}

static int fail_msg(lua_State *L, const char *msg, const char *code) {
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, code);
  return 3;
}

/* ---- addresses --------------------------------------------------------- */

static int parse_ipv4(const char *s, struct in_addr *out) {
  return inet_pton(AF_INET, s, out) == 1;
}

static void push_in(lua_State *L, struct in_addr a) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  lua_pushstring(L, buf);
}

static struct sockaddr_in check_endpoint(lua_State *L, int ip_arg, int port_arg) {
  struct sockaddr_in sa;
  const char *ip = luaL_checkstring(L, ip_arg);
  lua_Integer port = luaL_checkinteger(L, port_arg);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  if (!parse_ipv4(ip, &sa.sin_addr)) luaL_argerror(L, ip_arg, "dotted IPv4 address expected");
  luaL_argcheck(L, port >= 0 && port <= 65535, port_arg, "port out of range");
  sa.sin_port = htons((uint16_t)port);
  return sa;
}

/* ---- time -------------------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds argument: nil or math.huge = forever (-1 ms), else >= 0. */
static int check_ms(lua_State *L, int idx) {
  double t;
  if (lua_isnoneornil(L, idx)) return -1;
  t = (double)luaL_checknumber(L, idx);
  luaL_argcheck(L, !isnan(t) && t >= 0, idx, "seconds >= 0 expected");
  if (isinf(t) || t > 2e6) return -1;
  return (int)ceil(t * 1000.0);
}

static int l_monotonic(lua_State *L) {
  lua_pushnumber(L, (lua_Number)now());
  return 1;
}

/* ---- UDP sockets ------------------------------------------------------- */

static ludp *check_udp(lua_State *L, int idx) {
  ludp *u = luaL_checkudata(L, idx, UDP_MT);
  if (u->fd < 0) luaL_error(L, "attempt to use a closed socket");
  return u;
}

static int opt_bool(lua_State *L, int idx, const char *key, int dflt) {
  int v = dflt;
  if (lua_getfield(L, idx, key) != LUA_TNIL) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "bad option '%s' (boolean expected)", key);
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* udp{ address = "0.0.0.0", port = 0, broadcast = true, reuseaddr = false } */
static int l_udp(lua_State *L) {
  static const char *const known[] = {"address", "port", "broadcast", "reuseaddr", NULL};
  struct sockaddr_in sa;
  const char *addr = "0.0.0.0";
  lua_Integer port = 0;
  int one = 1, broadcast, reuse, fd;
  ludp *u;

  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int i, found = 0;
    lua_pop(L, 1);
    for (i = 0; known[i] && lua_type(L, -1) == LUA_TSTRING; i++)
      found |= strcmp(known[i], lua_tostring(L, -1)) == 0;
    if (!found) luaL_error(L, "bad option %s to 'udp' (unknown option)", luaL_tolstring(L, -1, NULL));
  }
  if (lua_getfield(L, 1, "address") != LUA_TNIL) addr = luaL_checkstring(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "port") != LUA_TNIL) port = luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  broadcast = opt_bool(L, 1, "broadcast", 1);
  reuse = opt_bool(L, 1, "reuseaddr", 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  if (!parse_ipv4(addr, &sa.sin_addr)) luaL_error(L, "bad option 'address' (dotted IPv4 expected)");
  if (port < 0 || port > 65535) luaL_error(L, "bad option 'port' (0..65535 expected)");
  sa.sin_port = htons((uint16_t)port);

  u = lua_newuserdatauv(L, sizeof *u, 0);
  u->fd = -1;
  luaL_setmetatable(L, UDP_MT);
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_errno(L, errno, "cannot create a UDP socket");
  u->fd = fd;
  if ((broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) ||
      (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0))
    return fail_errno(L, errno, "cannot set socket options");
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot bind UDP %s:%d: %s", addr, (int)port, strerror(e));
    lua_pushstring(L, errno_code(e));
    return 3;
  }
  return 1;
}

/* u:sendto(data, ip, port) -> #data */
static int l_sendto(lua_State *L) {
  ludp *u = check_udp(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  struct sockaddr_in sa = check_endpoint(L, 3, 4);
  ssize_t n = sendto(u->fd, data, len, 0, (struct sockaddr *)&sa, sizeof sa);
  if (n < 0) {
    char what[64];
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
    snprintf(what, sizeof what, "cannot send to %s:%d", ip, (int)ntohs(sa.sin_port));
    return fail_errno(L, errno, what);
  }
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* Waits up to ms (-1 forever) for fd to be readable: 1 ready, 0 not, -1 error. */
static int wait_readable(int fd, int ms) {
  struct pollfd p;
  double deadline = ms < 0 ? 0 : now() + ms / 1000.0;
  int r;
  p.fd = fd;
  p.events = POLLIN;
  for (;;) {
    r = poll(&p, 1, ms);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return -1;
    if (ms >= 0) {
      double d = deadline - now();
      if (d <= 0) return 0;
      ms = (int)ceil(d * 1000.0);
    }
  }
}

/* u:recvfrom([timeout]) -> data, ip, port | nil, msg, "timeout"
 * No timeout argument: return at once; nil or math.huge: wait forever. */
static int l_recvfrom(lua_State *L) {
  ludp *u = check_udp(L, 1);
  int ms = lua_gettop(L) < 2 ? 0 : check_ms(L, 2);
  char buf[RECV_MAX]; /* 64 KiB: the largest UDP payload */
  struct sockaddr_in sa;
  socklen_t slen = sizeof sa;
  ssize_t n;

  for (;;) {
    n = recvfrom(u->fd, buf, sizeof buf, 0, (struct sockaddr *)&sa, &slen);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail_errno(L, errno, "cannot receive");
    if (ms == 0) return fail_msg(L, "no datagram waiting", "timeout");
    n = wait_readable(u->fd, ms);
    if (n < 0) return fail_errno(L, errno, "cannot wait");
    if (n == 0) return fail_msg(L, "no datagram within the timeout", "timeout");
    ms = 0; /* readable now: the next pass reads, or reports a spurious wake */
  }
  lua_pushlstring(L, buf, (size_t)n);
  push_in(L, sa.sin_addr);
  lua_pushinteger(L, ntohs(sa.sin_port));
  return 3;
}

/* u:getsockname() -> ip, port */
static int l_getsockname(lua_State *L) {
  ludp *u = check_udp(L, 1);
  struct sockaddr_in sa;
  socklen_t slen = sizeof sa;
  if (getsockname(u->fd, (struct sockaddr *)&sa, &slen) < 0)
    return fail_errno(L, errno, "getsockname");
  push_in(L, sa.sin_addr);
  lua_pushinteger(L, ntohs(sa.sin_port));
  return 2;
}

static int l_udp_fd(lua_State *L) {
  lua_pushinteger(L, check_udp(L, 1)->fd);
  return 1;
}

static int l_udp_close(lua_State *L) {
  ludp *u = luaL_checkudata(L, 1, UDP_MT);
  if (u->fd >= 0) close(u->fd);
  u->fd = -1;
  lua_pushboolean(L, 1);
  return 1;
}

static int l_udp_tostring(lua_State *L) {
  ludp *u = luaL_checkudata(L, 1, UDP_MT);
  struct sockaddr_in sa;
  socklen_t slen = sizeof sa;
  char ip[INET_ADDRSTRLEN];
  if (u->fd < 0 || getsockname(u->fd, (struct sockaddr *)&sa, &slen) < 0) {
    lua_pushliteral(L, "udp socket (closed)");
    return 1;
  }
  inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
  lua_pushfstring(L, "udp socket %s:%d", ip, (int)ntohs(sa.sin_port));
  return 1;
}

/* ---- interfaces, resolver, host name ----------------------------------- */

static void set_str_in(lua_State *L, const char *key, const struct sockaddr *sa) {
  if (!sa || sa->sa_family != AF_INET) return;
  push_in(L, ((const struct sockaddr_in *)sa)->sin_addr);
  lua_setfield(L, -2, key);
}

/* interfaces() -> { {name=, address=, netmask=, broadcast=, up=, loopback=}... } */
static int l_interfaces(lua_State *L) {
  struct ifaddrs *list, *i;
  lua_Integer n = 0;
  if (getifaddrs(&list) < 0) return fail_errno(L, errno, "getifaddrs");
  lua_newtable(L);
  for (i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    lua_createtable(L, 0, 6);
    lua_pushstring(L, i->ifa_name);
    lua_setfield(L, -2, "name");
    set_str_in(L, "address", i->ifa_addr);
    set_str_in(L, "netmask", i->ifa_netmask);
    if (i->ifa_flags & IFF_BROADCAST) set_str_in(L, "broadcast", i->ifa_broadaddr);
    lua_pushboolean(L, (i->ifa_flags & IFF_UP) != 0);
    lua_setfield(L, -2, "up");
    lua_pushboolean(L, (i->ifa_flags & IFF_LOOPBACK) != 0);
    lua_setfield(L, -2, "loopback");
    lua_rawseti(L, -2, ++n);
  }
  freeifaddrs(list);
  return 1;
}

/* resolve(host) -> { "a.b.c.d", ... } | nil, msg, "not_found" */
static int l_resolve(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  struct addrinfo hints, *res, *p;
  lua_Integer n = 0;
  int rc;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0) {
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot resolve %s: %s", host, gai_strerror(rc));
    lua_pushstring(L, "not_found");
    return 3;
  }
  lua_newtable(L);
  for (p = res; p; p = p->ai_next) {
    if (p->ai_family != AF_INET) continue;
    push_in(L, ((struct sockaddr_in *)p->ai_addr)->sin_addr);
    lua_rawseti(L, -2, ++n);
  }
  freeaddrinfo(res);
  return 1;
}

/*
 * lookup(host) -> a lookup that runs while the caller goes on (net_lookup.h):
 * l:done(), then l:result() as resolve() returns. Its __gc owns the
 * request, and the host name is its user value, for messages.
 */
typedef struct { net_lookup *l; } llookup;

static int l_lookup(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  llookup *h = lua_newuserdatauv(L, sizeof *h, 1);
  int rc;
  h->l = NULL;
  luaL_setmetatable(L, LOOKUP_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  rc = net_lookup_start(host, &h->l);
  if (rc != 0) {
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot resolve %s: %s", host, gai_strerror(rc));
    lua_pushstring(L, "not_found");
    return 3;
  }
  return 1;
}

static llookup *check_lookup(lua_State *L) {
  llookup *h = luaL_checkudata(L, 1, LOOKUP_MT);
  if (!h->l) luaL_error(L, "attempt to use a closed lookup");
  return h;
}

static int l_lookup_done(lua_State *L) {
  lua_pushboolean(L, net_lookup_done(check_lookup(L)->l));
  return 1;
}

static int l_lookup_result(lua_State *L) {
  llookup *h = check_lookup(L);
  uint32_t few[16], *list = few;
  size_t cap = 16, n, i;
  int rc;
  if (!net_lookup_done(h->l)) luaL_error(L, "lookup not done yet (wait until done() is true)");
  while ((rc = net_lookup_result(h->l, list, cap, &n)) == 0 && n > cap) {
    cap = n; /* more than fit: again, into room Lua's collector owns */
    list = lua_newuserdatauv(L, cap * sizeof *list, 0);
  }
  if (rc != 0) {
    lua_getiuservalue(L, 1, 1);
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot resolve %s: %s", lua_tostring(L, -2), gai_strerror(rc));
    lua_pushstring(L, "not_found");
    return 3;
  }
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    struct in_addr a;
    a.s_addr = list[i];
    push_in(L, a);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int l_lookup_close(lua_State *L) {
  llookup *h = luaL_checkudata(L, 1, LOOKUP_MT);
  if (h->l) net_lookup_free(h->l);
  h->l = NULL;
  return 0;
}

static int l_lookup_tostring(lua_State *L) {
  llookup *h = luaL_checkudata(L, 1, LOOKUP_MT);
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "lookup of %s%s", lua_tostring(L, -1),
                  !h->l ? " (closed)" : net_lookup_done(h->l) ? " (done)" : "");
  return 1;
}

/* source_for(ip) -> the local address the kernel would send from; a UDP
 * connect sends nothing. */
static int l_source_for(lua_State *L) {
  struct sockaddr_in sa = check_endpoint(L, 1, 2), me;
  socklen_t slen = sizeof me;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e;
  if (fd < 0) return fail_errno(L, errno, "socket");
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
      getsockname(fd, (struct sockaddr *)&me, &slen) < 0) {
    e = errno;
    close(fd);
    return fail_errno(L, e, "no route");
  }
  close(fd);
  push_in(L, me.sin_addr);
  return 1;
}

static int l_hostname(lua_State *L) {
  char buf[256];
  if (gethostname(buf, sizeof buf) < 0) return fail_errno(L, errno, "gethostname");
  buf[sizeof buf - 1] = '\0';
  lua_pushstring(L, buf);
  return 1;
}

/* ---- poll -------------------------------------------------------------- */

/* poll({fd, ...}, timeout) -> { [fd] = true, ... } (empty on timeout) */
static int l_poll(lua_State *L) {
  struct pollfd fds[64];
  lua_Integer n, i;
  int ms, r;
  luaL_checktype(L, 1, LUA_TTABLE);
  ms = check_ms(L, 2);
  n = (lua_Integer)luaL_len(L, 1);
  luaL_argcheck(L, n <= 64, 1, "at most 64 fds");
  for (i = 0; i < n; i++) {
    lua_geti(L, 1, i + 1);
    fds[i].fd = (int)luaL_checkinteger(L, -1);
    fds[i].events = POLLIN;
    fds[i].revents = 0;
    lua_pop(L, 1);
  }
  do {
    r = poll(fds, (nfds_t)n, ms);
  } while (r < 0 && errno == EINTR && ms < 0);
  if (r < 0 && errno != EINTR) return fail_errno(L, errno, "poll");
  lua_newtable(L);
  for (i = 0; r > 0 && i < n; i++) {
    if (!fds[i].revents) continue;
    lua_pushboolean(L, 1);
    lua_rawseti(L, -2, fds[i].fd);
  }
  return 1;
}

/* ---- signals (self-pipe) ----------------------------------------------- */

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  unsigned char b = (unsigned char)sig;
  int saved = errno;
  if (write(sig_pipe[1], &b, 1) < 0) { /* pipe full: one pending is enough */ }
  errno = saved;
}

/* catch_signals() -> fd: SIGINT and SIGTERM become bytes on a pipe. */
static int l_catch_signals(lua_State *L) {
  struct sigaction sa;
  if (sig_pipe[0] < 0) {
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0) return fail_errno(L, errno, "pipe");
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
    return fail_errno(L, errno, "sigaction");
  lua_pushinteger(L, sig_pipe[0]);
  return 1;
}

/* caught_signal() -> "SIGINT" | "SIGTERM" | nil (consumes one) */
static int l_caught_signal(lua_State *L) {
  unsigned char b;
  if (sig_pipe[0] < 0 || read(sig_pipe[0], &b, 1) != 1) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, b == SIGINT ? "SIGINT" : b == SIGTERM ? "SIGTERM" : "signal");
  return 1;
}

/* release_signals(): default handlers again. */
static int l_release_signals(lua_State *L) {
  (void)L;
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  return 0;
}

/* ---- module ------------------------------------------------------------ */

static const luaL_Reg udp_methods[] = {
    {"sendto", l_sendto}, {"recvfrom", l_recvfrom}, {"getsockname", l_getsockname},
    {"getfd", l_udp_fd},  {"pollfd", l_udp_fd},     {"close", l_udp_close},
    {NULL, NULL}};

static const luaL_Reg lookup_methods[] = {
    {"done", l_lookup_done}, {"result", l_lookup_result}, {"close", l_lookup_close},
    {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"udp", l_udp},
    {"interfaces", l_interfaces},
    {"resolve", l_resolve},
    {"lookup", l_lookup},
    {"source_for", l_source_for},
    {"hostname", l_hostname},
    {"monotonic", l_monotonic},
    {"poll", l_poll},
    {"catch_signals", l_catch_signals},
    {"caught_signal", l_caught_signal},
    {"release_signals", l_release_signals},
    {NULL, NULL}};

int luaopen_mailslot_net_os(lua_State *L) {
  ms_new_class(L, UDP_MT, udp_methods, l_udp_close, l_udp_tostring);
  ms_new_class(L, LOOKUP_MT, lookup_methods, l_lookup_close, l_lookup_tostring);
  luaL_newlib(L, functions);
  /* Whether lookup really runs while the caller goes on (else it blocks in lookup()). */
  lua_pushboolean(L, net_lookup_async());
  lua_setfield(L, -2, "LOOKUP_ASYNC");
  return 1;
}
