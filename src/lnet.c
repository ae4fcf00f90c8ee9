/*
 * lnet.c - the Lua binding of the network part's OS calls (net_os.h):
 * mailslot.net_os. Only binds: argument checks, the udp handle, tables,
 * and udp:mailslot_sender, whose datagram the codec (nbt.h) checks once.
 *
 * Failures of the world return nil, message, code, the code one of the
 * README's table (ms_code_name), meaning what it means in the core; misuse
 * raises. The OS work is done and its resources freed before any Lua call
 * that can raise. Never built on Windows, where the core handles remote
 * mailslots natively.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <stdint.h>

#include "lua.h"
#include "lauxlib.h"
#include "lclass.h"
#include "lfail.h"
#include "lopt.h"
#include "nbt.h"
#include "net_os.h"

#define NET_EXPORT __attribute__((visibility("default")))
NET_EXPORT int luaopen_mailslot_net_os(lua_State *L);

#define UDP_MT "mailslot.net_os.udp"
#define LOOKUP_MT "mailslot.net_os.lookup"

typedef struct { int fd; } ludp;

/* ---- addresses --------------------------------------------------------- */

static void push_ipv4(lua_State *L, uint32_t ip) {
  char buf[NET_IPV4_STRLEN];
  net_format_ipv4(ip, buf);
  lua_pushstring(L, buf);
}

static uint32_t check_ipv4(lua_State *L, int arg) {
  uint32_t ip;
  if (!net_parse_ipv4(luaL_checkstring(L, arg), &ip))
    luaL_argerror(L, arg, "dotted IPv4 address expected");
  return ip;
}

static uint16_t check_port(lua_State *L, int arg) {
  lua_Integer port = luaL_checkinteger(L, arg);
  luaL_argcheck(L, port >= 0 && port <= 65535, arg, "port out of range");
  return (uint16_t)port;
}

/* ---- time -------------------------------------------------------------- */

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
  lua_pushnumber(L, (lua_Number)net_now());
  return 1;
}

/* ---- UDP sockets ------------------------------------------------------- */

static ludp *check_udp(lua_State *L, int idx) {
  ludp *u = luaL_checkudata(L, idx, UDP_MT);
  if (u->fd < 0) luaL_error(L, "attempt to use a closed socket");
  return u;
}

/* udp{ address = "0.0.0.0", port = 0, broadcast = true, reuseaddr = false } */
static int l_udp(lua_State *L) {
  static const char *const known[] = {"address", "port", "broadcast", "reuseaddr", NULL};
  const char *addr;
  size_t len;
  uint32_t ip = 0; /* 0.0.0.0 */
  uint16_t port;
  int broadcast, reuse;
  ms_error err;
  ludp *u;

  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  ms_opt_check_keys(L, 1, "udp", known);
  addr = ms_opt_string(L, 1, "address", &len);
  if (addr && !net_parse_ipv4(addr, &ip)) ms_opt_error(L, "address", "dotted IPv4 address expected");
  port = (uint16_t)ms_opt_integer(L, 1, "port", 0, 0, 65535);
  broadcast = ms_opt_boolean(L, 1, "broadcast", 1);
  reuse = ms_opt_boolean(L, 1, "reuseaddr", 0);

  /* The handle exists (closed) before the socket, so an error never leaks one. */
  u = lua_newuserdatauv(L, sizeof *u, 0);
  u->fd = -1;
  luaL_setmetatable(L, UDP_MT);
  if (net_udp_open(ip, port, broadcast, reuse, &u->fd, &err) != MS_OK) return ms_lfail(L, &err);
  return 1;
}

/* u:sendto(data, ip, port) -> #data */
static int l_sendto(lua_State *L) {
  ludp *u = check_udp(L, 1);
  size_t len, sent;
  const char *data = luaL_checklstring(L, 2, &len);
  uint32_t ip = check_ipv4(L, 3);
  uint16_t port = check_port(L, 4);
  ms_error err;
  if (net_sendto(u->fd, data, len, ip, port, &sent, &err) != MS_OK) return ms_lfail(L, &err);
  lua_pushinteger(L, (lua_Integer)sent);
  return 1;
}

/*
 * u:mailslot_sender(head, ip, port) -> send: send(id, data) sends the
 * mailslot datagram `head` (a whole packet without data, as
 * mailslot.nbt.encode_datagram makes one with data "") with this id and
 * data to ip:port, and returns the datagram's size (nil, message, code
 * as sendto). What a network writer does on every write, in one call: the
 * head is checked and the address parsed once, and the data goes to the
 * kernel from its Lua string, not through a datagram string made first.
 */
typedef struct {
  nbt_prepared t;
  ludp *u; /* the socket: the closure's second upvalue keeps it */
  uint32_t ip;
  uint16_t port;
  uint8_t head[]; /* t.head_len bytes */
} lsender;

static int sender_call(lua_State *L) {
  lsender *s = lua_touserdata(L, lua_upvalueindex(1));
  ludp *u = s->u;
  lua_Integer id = luaL_checkinteger(L, 1);
  size_t len, sent;
  const char *data;
  ms_error err;
  luaL_argcheck(L, id >= 0 && id <= 0xFFFF, 1, "0..65535 expected");
  luaL_checktype(L, 2, LUA_TSTRING);
  data = lua_tolstring(L, 2, &len);
  if (u->fd < 0) luaL_error(L, "attempt to use a closed socket");
  if (nbt_prepared_set(&s->t, s->head, (uint16_t)id, len) != NBT_OK) {
    ms_fail(&err, MS_TOO_BIG, EMSGSIZE, "%lu bytes of data do not fit in one datagram",
            (unsigned long)len);
    return ms_lfail(L, &err);
  }
  if (net_sendto2(u->fd, s->head, s->t.head_len, data, len, s->ip, s->port, &sent, &err) != MS_OK)
    return ms_lfail(L, &err);
  lua_pushinteger(L, (lua_Integer)sent);
  return 1;
}

static int l_mailslot_sender(lua_State *L) {
  size_t len;
  const uint8_t *head;
  nbt_prepared t;
  uint32_t ip;
  uint16_t port;
  lsender *s;
  ludp *u = check_udp(L, 1);
  int rc;
  head = (const uint8_t *)luaL_checklstring(L, 2, &len);
  ip = check_ipv4(L, 3);
  port = check_port(L, 4);
  rc = nbt_prepare(&t, head, len);
  if (rc != NBT_OK)
    luaL_argerror(L, 2, lua_pushfstring(L, "mailslot datagram without data expected (%s)",
                                        nbt_strerror(rc)));
  s = lua_newuserdatauv(L, offsetof(lsender, head) + len, 0);
  s->t = t;
  s->u = u;
  s->ip = ip;
  s->port = port;
  memcpy(s->head, head, len);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, sender_call, 2);
  return 1;
}

/* u:recvfrom([timeout]) -> data, ip, port | nil, msg, "timeout"
 * No timeout argument: return at once; nil or math.huge: wait forever. */
static int l_recvfrom(lua_State *L) {
  ludp *u = check_udp(L, 1);
  int ms = lua_gettop(L) < 2 ? 0 : check_ms(L, 2);
  char buf[NET_RECV_MAX];
  size_t len;
  uint32_t ip;
  uint16_t port;
  ms_error err;
  if (net_recvfrom(u->fd, ms, buf, NET_RECV_MAX, &len, &ip, &port, &err) != MS_OK)
    return ms_lfail(L, &err);
  lua_pushlstring(L, buf, len);
  push_ipv4(L, ip);
  lua_pushinteger(L, port);
  return 3;
}

/* u:getsockname() -> ip, port */
static int l_getsockname(lua_State *L) {
  ludp *u = check_udp(L, 1);
  uint32_t ip;
  uint16_t port;
  ms_error err;
  if (net_sockname(u->fd, &ip, &port, &err) != MS_OK) return ms_lfail(L, &err);
  push_ipv4(L, ip);
  lua_pushinteger(L, port);
  return 2;
}

static int l_udp_fd(lua_State *L) {
  lua_pushinteger(L, check_udp(L, 1)->fd);
  return 1;
}

static int l_udp_close(lua_State *L) {
  ludp *u = luaL_checkudata(L, 1, UDP_MT);
  net_close(u->fd);
  u->fd = -1;
  lua_pushboolean(L, 1);
  return 1;
}

static int l_udp_tostring(lua_State *L) {
  ludp *u = luaL_checkudata(L, 1, UDP_MT);
  uint32_t ip;
  uint16_t port;
  char addr[NET_IPV4_STRLEN];
  ms_error err;
  if (u->fd < 0 || net_sockname(u->fd, &ip, &port, &err) != MS_OK) {
    lua_pushliteral(L, "udp socket (closed)");
    return 1;
  }
  net_format_ipv4(ip, addr);
  lua_pushfstring(L, "udp socket %s:%d", addr, (int)port);
  return 1;
}

/* ---- interfaces, resolver, host name ----------------------------------- */

/* Room for this many answers on the C stack; more go in a userdata. */
#define FEW 16

static void set_ipv4(lua_State *L, const char *key, uint32_t ip) {
  push_ipv4(L, ip);
  lua_setfield(L, -2, key);
}

/* interfaces() -> { {name=, address=, netmask=, broadcast=, up=, loopback=}... } */
static int l_interfaces(lua_State *L) {
  net_iface few[FEW], *list = few;
  size_t cap = FEW, n, i;
  ms_error err;
  ms_code rc;
  /* net_interfaces freed the OS's list: nothing below can leak it. */
  while ((rc = net_interfaces(list, cap, &n, &err)) == MS_OK && n > cap) {
    cap = n; /* more than fit: again, into room Lua's collector owns */
    list = lua_newuserdatauv(L, cap * sizeof *list, 0);
  }
  if (rc != MS_OK) return ms_lfail(L, &err);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 6);
    lua_pushstring(L, list[i].name);
    lua_setfield(L, -2, "name");
    set_ipv4(L, "address", list[i].address);
    if (list[i].has_netmask) set_ipv4(L, "netmask", list[i].netmask);
    if (list[i].has_broadcast) set_ipv4(L, "broadcast", list[i].broadcast);
    lua_pushboolean(L, list[i].up);
    lua_setfield(L, -2, "up");
    lua_pushboolean(L, list[i].loopback);
    lua_setfield(L, -2, "loopback");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* The answer of resolve and lookup:result: { "a.b.c.d", ... }. */
static int push_ipv4_list(lua_State *L, const uint32_t *list, size_t n) {
  size_t i;
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    push_ipv4(L, list[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* resolve(host) -> { "a.b.c.d", ... } | nil, msg, code */
static int l_resolve(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  uint32_t few[FEW], *list = few;
  size_t cap = FEW, n;
  ms_error err;
  ms_code rc;
  while ((rc = net_resolve(host, list, cap, &n, &err)) == MS_OK && n > cap) {
    cap = n;
    list = lua_newuserdatauv(L, cap * sizeof *list, 0);
  }
  return rc != MS_OK ? ms_lfail(L, &err) : push_ipv4_list(L, list, n);
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
  ms_error err;
  int rc;
  h->l = NULL;
  luaL_setmetatable(L, LOOKUP_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  rc = net_lookup_start(host, &h->l);
  if (rc != 0) {
    net_fail_lookup(&err, rc, host);
    return ms_lfail(L, &err);
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
  const char *host;
  uint32_t few[FEW], *list = few;
  size_t cap = FEW, n;
  ms_error err;
  ms_code rc;
  if (!net_lookup_done(h->l)) luaL_error(L, "lookup not done yet (wait until done() is true)");
  lua_getiuservalue(L, 1, 1);
  host = lua_tostring(L, -1);
  while ((rc = net_lookup_answer(h->l, host, list, cap, &n, &err)) == MS_OK && n > cap) {
    cap = n; /* more than fit: again, into room Lua's collector owns */
    list = lua_newuserdatauv(L, cap * sizeof *list, 0);
  }
  return rc != MS_OK ? ms_lfail(L, &err) : push_ipv4_list(L, list, n);
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

/* source_for(ip, port) -> the local address the kernel would send from. */
static int l_source_for(lua_State *L) {
  uint32_t ip = check_ipv4(L, 1), source;
  uint16_t port = check_port(L, 2);
  ms_error err;
  if (net_source_for(ip, port, &source, &err) != MS_OK) return ms_lfail(L, &err);
  push_ipv4(L, source);
  return 1;
}

static int l_hostname(lua_State *L) {
  char buf[NET_HOSTNAME_MAX];
  ms_error err;
  if (net_hostname(buf, &err) != MS_OK) return ms_lfail(L, &err);
  lua_pushstring(L, buf);
  return 1;
}

/* private_dir(path) -> whether only root or we can put a socket file there. */
static int l_private_dir(lua_State *L) {
  size_t len;
  const char *dir = luaL_checklstring(L, 1, &len);
  lua_pushboolean(L, strlen(dir) == len && net_private_dir(dir));
  return 1;
}

/* ---- poll -------------------------------------------------------------- */

/* poll({fd, ...}, timeout) -> { [fd] = true, ... } (empty on timeout) */
static int l_poll(lua_State *L) {
  int fds[NET_POLL_MAX], ready[NET_POLL_MAX], ms;
  lua_Integer n, i;
  ms_error err;
  luaL_checktype(L, 1, LUA_TTABLE);
  ms = check_ms(L, 2);
  n = (lua_Integer)luaL_len(L, 1);
  luaL_argcheck(L, n <= NET_POLL_MAX, 1, "at most 64 fds");
  for (i = 0; i < n; i++) {
    lua_geti(L, 1, i + 1);
    fds[i] = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  if (net_poll(fds, (size_t)n, ms, ready, &err) != MS_OK) return ms_lfail(L, &err);
  lua_newtable(L);
  for (i = 0; i < n; i++) {
    if (!ready[i]) continue;
    lua_pushboolean(L, 1);
    lua_rawseti(L, -2, fds[i]);
  }
  return 1;
}

/* ---- signals ------------------------------------------------------------ */

/* catch_signals() -> fd: SIGINT and SIGTERM become bytes on a pipe. */
static int l_catch_signals(lua_State *L) {
  int fd;
  ms_error err;
  if (net_catch_signals(&fd, &err) != MS_OK) return ms_lfail(L, &err);
  lua_pushinteger(L, fd);
  return 1;
}

/* caught_signal() -> "SIGINT" | "SIGTERM" | nil (consumes one) */
static int l_caught_signal(lua_State *L) {
  lua_pushstring(L, net_caught_signal()); /* NULL pushes nil */
  return 1;
}

/* release_signals(): default handlers again. */
static int l_release_signals(lua_State *L) {
  (void)L;
  net_release_signals();
  return 0;
}

/* ---- module ------------------------------------------------------------ */

static const luaL_Reg udp_methods[] = {
    {"sendto", l_sendto}, {"mailslot_sender", l_mailslot_sender},
    {"recvfrom", l_recvfrom}, {"getsockname", l_getsockname},
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
    {"private_dir", l_private_dir},
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
