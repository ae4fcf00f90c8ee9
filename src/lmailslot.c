/*
 * The Lua binding: the only C file that knows Lua. Userdata and metatables,
 * argument checks, and the error convention: misuse raises, failures of the
 * world return `nil, message, code`. Module name: mailslot.core.
 */
#include "lclass.h"
#include "lfail.h"
#include "ipv4.h"
#include "lopt.h"
#include "lstop.h"
#include "mailslot.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define READER_MT "mailslot.reader"
#define WRITER_MT "mailslot.writer"
#define WAITSET_MT "mailslot.waitset"

/* A wait set's handle; its uservalue 1 maps each member's ms_reader (light) to its handle. */
typedef struct {
  ms_waitset *s;
  int closed; /* a member was closed since the last wait */
  int own;    /* the Lua state's own set, behind mailslot.wait: others may take its readers */
  unsigned gen; /* mailslot.wait's call count, to mark the readers found ready */
} lwaitset;
#define OWN_WAITSET "mailslot.own_waitset" /* registry key */

/* Handles start closed, before any OS call, so an error never leaks one. */
typedef struct {
  ms_reader *r;
  /* r while readmany runs Lua code between backend calls: a close() from that
   * code (a finalizer) only marks the handle closed and readmany frees r. */
  ms_reader *busy;
  ms_sender last; /* who sent the message read last, for sender() */
  int has_last;
  ms_lstop stop; /* what a signal during a read may do (lstop.h) */
  lwaitset *set; /* the wait set it is in (anchored in uservalue 1), or NULL */
  unsigned ready_gen; /* == set->gen: found ready by this mailslot.wait call */
} lreader;
typedef struct {
  ms_writer *w;
  ms_lstop stop;
} lwriter;

/*
 * The length of an array argument, as rawlen sees it (an __len cannot lie
 * about it), checked so that n elements of `size` bytes can be allocated.
 */
static size_t array_len(lua_State *L, int idx, size_t size) {
  size_t n = (size_t)lua_rawlen(L, idx);
  if (n > ((size_t)-1 / 2) / size) luaL_argerror(L, idx, "array too long");
  return n;
}

/* ---- arguments ------------------------------------------------------------ */

/* A timeout in seconds: nil or math.huge = forever, 0 = do not wait. */
static double check_seconds(lua_State *L, int idx, const char *what) {
  double t;
  if (lua_isnoneornil(L, idx)) return MS_FOREVER;
  t = (double)luaL_checknumber(L, idx);
  if (isnan(t) || t < 0)
    luaL_error(L, "bad %s (expected seconds >= 0, nil or math.huge)", what);
  return isinf(t) ? MS_FOREVER : t;
}

static void push_seconds(lua_State *L, double t) {
  lua_pushnumber(L, t < 0 ? (lua_Number)HUGE_VAL : (lua_Number)t);
}

static const char *check_string(lua_State *L, int idx, size_t *len) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_typeerror(L, idx, "string");
  return lua_tolstring(L, idx, len);
}

static void check_name(lua_State *L, int idx, ms_name *name, int *ok, ms_error *err) {
  size_t len;
  const char *text = check_string(L, idx, &len);
  char host[MS_THIS_HOST_SIZE];
  ms_this_host(host);
  *ok = ms_name_parse(text, len, host, name, err) == MS_OK;
}

/* Options tables (lopt.h): strict keys, read raw, values anchored. */
static double opt_seconds(lua_State *L, int idx, const char *key, double dflt) {
  double t = dflt;
  if (ms_opt_push(L, idx, key) != LUA_TNIL) {
    /* Strict like the other options: "5" is a mistake, not five seconds. */
    if (lua_type(L, -1) != LUA_TNUMBER) ms_opt_error(L, key, "number expected");
    t = check_seconds(L, lua_gettop(L), key);
  }
  lua_pop(L, 1);
  return t;
}

/* The `dir` option stays on the stack (anchored) while it is used. */
static const char *opt_dir(lua_State *L, int idx) {
  return ms_opt_cstring(L, idx, "dir");
}

static size_t opt_max_size(lua_State *L, int idx) {
  /* Windows' whole DWORD range; a size no transport carries means "any". */
  return (size_t)ms_opt_integer(L, idx, "max_size", 0, 0, 0xffffffff);
}

static ms_allow opt_allow(lua_State *L, int idx) {
  static const char *const names[] = {"user", "group", "all", NULL};
  int t = ms_opt_push(L, idx, "allow"), i = 0;
  if (t != LUA_TNIL) {
    const char *s = lua_tostring(L, -1);
    for (i = 0; names[i] && !(t == LUA_TSTRING && strcmp(s, names[i]) == 0); i++) {}
    if (!names[i]) ms_opt_error(L, "allow", "expected \"user\", \"group\" or \"all\"");
  }
  lua_pop(L, 1);
  return (ms_allow)i;
}

/* `network`: a boolean, false when absent (no network messages). */
static int opt_network(lua_State *L, int idx) {
  return ms_opt_boolean(L, idx, "network", 0);
}

/* ---- readers ---------------------------------------------------------------- */

/* The reader handle at idx, which must be open: one type check per call. */
static lreader *open_reader(lua_State *L, int idx) {
  lreader *h = idx == 1 ? ms_check_self(L, READER_MT) : luaL_checkudata(L, idx, READER_MT);
  if (!h->r) luaL_error(L, "attempt to use a closed mailslot");
  return h;
}

static ms_reader *check_reader(lua_State *L, int idx) {
  return open_reader(L, idx)->r;
}

static int l_create(lua_State *L) {
  static const char *const known[] = {"max_size", "timeout", "allow", "network", "dir", NULL};
  ms_reader_opts opts;
  ms_name name;
  ms_error err;
  int ok;
  lreader *h;
  check_name(L, 1, &name, &ok, &err);
  ms_opt_check_keys(L, 2, "create", known);
  opts.max_size = opt_max_size(L, 2);
  opts.timeout = opt_seconds(L, 2, "timeout", MS_FOREVER);
  opts.allow = opt_allow(L, 2);
  opts.network = opt_network(L, 2);
  opts.dir = opt_dir(L, 2);
  if (!ok) return ms_lfail(L, &err);
  h = lua_newuserdatauv(L, sizeof *h, 1);
  h->r = h->busy = NULL;
  h->set = NULL;
  h->ready_gen = 0;
  h->has_last = 0;
  ms_lstop_init(&h->stop, L);
  luaL_setmetatable(L, READER_MT);
  if (ms_reader_create(&name, &opts, &h->r, &err) != MS_OK) return ms_lfail(L, &err);
  ms_reader_setstop(h->r, &h->stop.base);
  return 1;
}

static int l_read(lua_State *L) {
  lreader *h = open_reader(L, 1);
  ms_reader *r = h->r;
  double timeout = lua_isnoneornil(L, 2) ? ms_reader_timeout(r) : check_seconds(L, 2, "timeout");
  const char *data;
  size_t len;
  ms_error err;
  ms_lstop_arm(&h->stop, L);
  if (ms_reader_read(r, timeout, &data, &len, &h->last, &err) != MS_OK) return ms_lfail(L, &err);
  h->has_last = 1;
  lua_pushlstring(L, data, len);
  return 1;
}

typedef struct {
  lua_State *L;
  lreader *h;
  int table;      /* stack index of the array being filled */
  lua_Integer n;  /* messages in it */
  int failed;     /* a push raised (out of memory): its error is on top of the stack */
  const char *data;
  size_t len;
} batch_ctx;

/* Run protected: appends b->data to the array (arg 1), or raises out of memory. */
static int append_one(lua_State *L) {
  batch_ctx *b = lua_touserdata(L, 2);
  lua_pushlstring(L, b->data, b->len);
  lua_rawseti(L, 1, b->n + 1);
  b->n++;
  return 0;
}

/*
 * The backend calls this while it holds datagrams it has taken off the OS: a
 * Lua error must not jump over it, so the append runs protected. When it
 * fails, or a finalizer run by it closed the reader, it says "not taken" and
 * the backend keeps that message and the rest for the next read.
 */
static int append_message(const char *data, size_t len, const ms_sender *from, void *ctx) {
  batch_ctx *b = ctx;
  lua_State *L = b->L;
  if (b->failed || !b->h->r) return 0;
  b->data = data;
  b->len = len;
  lua_pushcfunction(L, append_one);
  lua_pushvalue(L, b->table);
  lua_pushlightuserdata(L, b);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    b->failed = 1;
    return 0;
  }
  b->h->last = *from;
  b->h->has_last = 1;
  return 1;
}

/*
 * r:readmany([max [, timeout]]) -> array of 1..max messages: waits for the
 * first like read(), then takes only what is already waiting, in few system
 * calls. sender() then tells who sent the last one. Out of memory, it returns
 * the messages it could hand over, or raises when none: no message is lost,
 * what was not handed over waits for the next read.
 */
static int l_readmany(lua_State *L) {
  lreader *h = open_reader(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 64);
  double timeout = lua_isnoneornil(L, 3) ? ms_reader_timeout(h->r) : check_seconds(L, 3, "timeout");
  batch_ctx b = {L, h, 0, 0, 0, NULL, 0};
  ms_reader *r;
  size_t got;
  ms_error err;
  ms_code rc;
  luaL_argcheck(L, max >= 1, 2, "at least 1 message expected");
  lua_settop(L, 3);
  luaL_checkstack(L, 4, NULL); /* room for append_message's pcall */
  lua_createtable(L, (int)(max < 64 ? max : 64), 0);
  b.table = lua_gettop(L);
  r = open_reader(L, 1)->r; /* after the allocation, whose finalizers may have closed it */
  ms_lstop_arm(&h->stop, L);
  h->busy = r;
  rc = ms_reader_read_batch(r, timeout, (size_t)max, &got, append_message, &b, &err);
  h->busy = NULL;
  if (!h->r) ms_reader_close(r); /* closed meanwhile: now the backend is done with it */
  if (b.failed) {
    if (b.n == 0) return lua_error(L);
    lua_pop(L, 1);
  }
  if (rc != MS_OK && got == 0) return ms_lfail(L, &err);
  return 1;
}

static void set_int(lua_State *L, const char *key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

/* Who sent the message read last: built only when asked, so reading pays nothing. */
static int l_sender(lua_State *L) {
  lreader *h = open_reader(L, 1);
  const ms_sender *s = &h->last;
  if (!h->has_last) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 4);
  if (s->pid >= 0) set_int(L, "pid", s->pid);
  if (s->uid >= 0) set_int(L, "uid", s->uid);
  if (s->gid >= 0) set_int(L, "gid", s->gid);
  if (s->remote) {
    lua_pushstring(L, s->remote_name);
    lua_setfield(L, -2, "name");
    lua_pushfstring(L, "%d.%d.%d.%d", s->remote_ip[0], s->remote_ip[1], s->remote_ip[2],
                    s->remote_ip[3]);
    lua_setfield(L, -2, "address");
    set_int(L, "port", s->remote_port);
  }
  return 1;
}

static int l_info(lua_State *L) {
  ms_reader *r = check_reader(L, 1);
  ms_info info;
  ms_error err;
  if (ms_reader_info(r, &info, &err) != MS_OK) return ms_lfail(L, &err);
  lua_createtable(L, 0, 7);
  set_int(L, "max_size", (lua_Integer)info.max_size);
  set_int(L, "count", (lua_Integer)info.count);
  if (info.count) set_int(L, "next_size", (lua_Integer)info.next_size);
  push_seconds(L, info.timeout);
  lua_setfield(L, -2, "timeout");
  set_int(L, "rejected", (lua_Integer)info.rejected);
  set_int(L, "oversized", (lua_Integer)info.oversized);
  lua_pushstring(L, ms_reader_wait_path(r));
  lua_setfield(L, -2, "wait");
  return 1;
}

/* r:gettimeout() -> the default read timeout (math.huge = forever), with no system call. */
static int l_gettimeout(lua_State *L) {
  push_seconds(L, ms_reader_timeout(check_reader(L, 1)));
  return 1;
}

static int l_settimeout(lua_State *L) {
  ms_reader *r = check_reader(L, 1);
  ms_reader_settimeout(r, check_seconds(L, 2, "timeout"));
  lua_settop(L, 1);
  return 1;
}

static void leave_waitset(lreader *h);

static int l_reader_close(lua_State *L) {
  lreader *h = luaL_checkudata(L, 1, READER_MT);
  if (h->r) {
    leave_waitset(h); /* now, even when readmany closes it later: no set reports it again */
    if (h->r != h->busy) ms_reader_close(h->r);
  }
  h->r = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

static int l_reader_fd(lua_State *L) {
  lua_pushinteger(L, ms_reader_fd(check_reader(L, 1)));
  return 1;
}

static int l_reader_events(lua_State *L) {
  check_reader(L, 1);
  lua_pushliteral(L, "r");
  return 1;
}

/* For pollers: a message already queued here means "do not sleep". */
static int l_reader_polltimeout(lua_State *L) {
  if (ms_reader_pending(check_reader(L, 1))) lua_pushnumber(L, 0);
  else lua_pushnil(L);
  return 1;
}

static void push_name(lua_State *L, const char *full, int closed, const char *kind) {
  if (closed) lua_pushfstring(L, "mailslot %s (closed)", kind);
  else lua_pushfstring(L, "mailslot %s %s", kind, full);
}

/* ---- writers ------------------------------------------------------------------ */

/* The writer handle at idx, which must be open. */
static lwriter *open_writer(lua_State *L, int idx) {
  lwriter *h = idx == 1 ? ms_check_self(L, WRITER_MT) : luaL_checkudata(L, idx, WRITER_MT);
  if (!h->w) luaL_error(L, "attempt to use a closed mailslot");
  return h;
}

static ms_writer *check_writer(lua_State *L, int idx) {
  return open_writer(L, idx)->w;
}

/* The open writer at idx, armed for a send that may wait. */
static ms_writer *sending_writer(lua_State *L, int idx) {
  lwriter *h = open_writer(L, idx);
  ms_lstop_arm(&h->stop, L);
  return h->w;
}

static int l_open(lua_State *L) {
  static const char *const known[] = {"timeout", "dir", NULL};
  ms_writer_opts opts;
  ms_name name;
  ms_error err;
  int ok;
  lwriter *h;
  check_name(L, 1, &name, &ok, &err);
  ms_opt_check_keys(L, 2, "open", known);
  opts.timeout = opt_seconds(L, 2, "timeout", MS_FOREVER);
  opts.dir = opt_dir(L, 2);
  if (!ok) return ms_lfail(L, &err);
  h = lua_newuserdatauv(L, sizeof *h, 0);
  h->w = NULL;
  ms_lstop_init(&h->stop, L);
  luaL_setmetatable(L, WRITER_MT);
  if (ms_writer_open(&name, &opts, &h->w, &err) != MS_OK) return ms_lfail(L, &err);
  ms_writer_setstop(h->w, &h->stop.base);
  return 1;
}

static int l_write(lua_State *L) {
  ms_writer *w = sending_writer(L, 1);
  size_t len;
  const char *data = check_string(L, 2, &len);
  ms_error err;
  if (ms_writer_write(w, data, len, &err) != MS_OK) return ms_lfail(L, &err);
  lua_pushinteger(L, (lua_Integer)len);
  return 1;
}

/*
 * writer:relay(msg, {name=, address="a.b.c.d", port=}): deliver on behalf of
 * a network sender (the `mailslot serve` relay). Readers trust it only from
 * root or their own user.
 */
static int l_relay(lua_State *L) {
  ms_writer *w = sending_writer(L, 1);
  size_t len, nlen, alen;
  const char *data = check_string(L, 2, &len), *name, *addr;
  uint32_t ip = 0;
  lua_Integer port;
  ms_sender from;
  ms_error err;
  luaL_checktype(L, 3, LUA_TTABLE);
  name = ms_opt_string(L, 3, "name", &nlen);
  addr = ms_opt_string(L, 3, "address", &alen);
  port = ms_opt_integer(L, 3, "port", -1, LUA_MININTEGER, LUA_MAXINTEGER);
  if (!name || nlen > 15) luaL_error(L, "bad sender name (at most 15 characters)");
  if (!addr || !ms_parse_ipv4(addr, &ip)) luaL_error(L, "bad sender address (dotted IPv4 expected)");
  if (port < 0 || port > 65535) luaL_error(L, "bad sender port");
  memset(&from, 0, sizeof from);
  from.remote = 1;
  memcpy(from.remote_name, name, nlen);
  for (int i = 0; i < 4; i++) from.remote_ip[i] = (uint8_t)(ip >> (24 - 8 * i));
  from.remote_port = (uint16_t)port;
  w = check_writer(L, 1); /* last: code run above (a finalizer) may have closed it */
  if (ms_writer_relay(w, &from, data, len, &err) != MS_OK) return ms_lfail(L, &err);
  lua_pushinteger(L, (lua_Integer)len);
  return 1;
}

/* w:writemany(array) -> #array, or nil, message, code, how many went first. */
static int l_writemany(lua_State *L) {
  ms_writer *w = sending_writer(L, 1);
  lua_Integer i, n;
  const char **data;
  size_t *lens, sent;
  ms_error err;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (lua_Integer)array_len(L, 2, sizeof *data + sizeof *lens);
  data = lua_newuserdatauv(L, sizeof *data * (size_t)(n ? n : 1), 0);
  lens = lua_newuserdatauv(L, sizeof *lens * (size_t)(n ? n : 1), 0);
  for (i = 1; i <= n; i++) {
    /* The strings stay alive in the argument table while they are sent. */
    if (lua_rawgeti(L, 2, i) != LUA_TSTRING)
      luaL_argerror(L, 2, lua_pushfstring(L, "item %d is not a string", (int)i));
    data[i - 1] = lua_tolstring(L, -1, &lens[i - 1]);
    lua_pop(L, 1);
  }
  w = check_writer(L, 1); /* again: the allocations above may have run a finalizer that closed it */
  if (ms_writer_write_batch(w, data, lens, (size_t)n, &sent, &err) != MS_OK) {
    ms_lfail(L, &err);
    lua_pushinteger(L, (lua_Integer)sent);
    return 4;
  }
  lua_pushinteger(L, n);
  return 1;
}

static int l_writer_settimeout(lua_State *L) {
  ms_writer *w = check_writer(L, 1);
  ms_writer_settimeout(w, check_seconds(L, 2, "timeout"));
  lua_settop(L, 1);
  return 1;
}

static int l_writer_close(lua_State *L) {
  lwriter *h = luaL_checkudata(L, 1, WRITER_MT);
  if (h->w) ms_writer_close(h->w);
  h->w = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

static int l_writer_fd(lua_State *L) {
  lua_pushinteger(L, ms_writer_fd(check_writer(L, 1)));
  return 1;
}

static int l_writer_events(lua_State *L) {
  check_writer(L, 1);
  lua_pushliteral(L, "w");
  return 1;
}

static int l_writer_polltimeout(lua_State *L) {
  check_writer(L, 1);
  lua_pushnil(L);
  return 1;
}

/* ---- module functions ------------------------------------------------------------ */

/* Appends the name (light userdata at 2) to the table at 1. */
static int append_name(lua_State *L) {
  lua_pushstring(L, (const char *)lua_touserdata(L, 2));
  lua_rawseti(L, 1, (lua_Integer)lua_rawlen(L, 1) + 1);
  return 0;
}

typedef struct {
  lua_State *L;
  int table;  /* stack index of the list */
  int failed; /* an append raised: its error is on top of the stack */
} list_ctx;

/*
 * Called by ms_list while it holds a directory or file open: a Lua error
 * (out of memory) must not jump over its closing, so appends run protected
 * and the first error is raised once ms_list is done.
 */
static void add_name(const char *name, void *ctx) {
  list_ctx *c = ctx;
  if (c->failed) return;
  lua_pushcfunction(c->L, append_name);
  lua_pushvalue(c->L, c->table);
  lua_pushlightuserdata(c->L, (void *)(uintptr_t)name);
  c->failed = lua_pcall(c->L, 2, 0, 0) != LUA_OK;
}

static int l_list(lua_State *L) {
  static const char *const known[] = {"dir", NULL};
  ms_error err;
  list_ctx ctx;
  const char *dir;
  ms_code rc;
  ms_opt_check_keys(L, 1, "list", known);
  dir = opt_dir(L, 1);
  ctx.L = L;
  ctx.failed = 0;
  lua_newtable(L);
  ctx.table = lua_gettop(L);
  rc = ms_list(dir, add_name, &ctx, &err);
  if (ctx.failed) return lua_error(L);
  if (rc != MS_OK) return ms_lfail(L, &err);
  return 1;
}

static int l_parse(lua_State *L) {
  static const char *const kinds[] = {"local", "broadcast", "remote"};
  ms_name name;
  ms_error err;
  int ok;
  check_name(L, 1, &name, &ok, &err);
  if (!ok) return ms_lfail(L, &err);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, kinds[name.kind]);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, name.host);
  lua_setfield(L, -2, "host");
  lua_pushstring(L, name.path);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, name.full);
  lua_setfield(L, -2, "name");
  return 1;
}

static int l_monotime(lua_State *L) {
  lua_pushnumber(L, (lua_Number)ms_monotime());
  return 1;
}

static int l_this_host(lua_State *L) {
  char host[MS_THIS_HOST_SIZE];
  ms_this_host(host);
  lua_pushstring(L, host);
  return 1;
}

/*
 * The open readers in the array at idx, in a userdata left on the stack:
 * their ms_readers, then their handles (*handles, when asked), then room for
 * `extra` bytes per reader; *n is their count. The metatable is fetched once,
 * so a long array costs a few API calls per reader.
 */
static ms_reader **check_readers(lua_State *L, int idx, const char *fname, size_t extra,
                                 lua_Integer *n, lreader ***handles) {
  lua_Integer i;
  ms_reader **readers;
  lreader **hs;
  size_t room;
  luaL_checktype(L, idx, LUA_TTABLE);
  *n = (lua_Integer)array_len(L, idx, sizeof *readers + sizeof *hs + extra);
  room = *n ? (size_t)*n : 1;
  readers = lua_newuserdatauv(L, (sizeof *readers + sizeof *hs + extra) * room, 0);
  hs = (lreader **)(void *)(readers + room);
  luaL_getmetatable(L, READER_MT);
  for (i = 1; i <= *n; i++) {
    lreader *h;
    lua_rawgeti(L, idx, i); /* raw: no __index code may close a reader already taken */
    h = lua_touserdata(L, -1);
    if (!h || !lua_getmetatable(L, -1) || !lua_rawequal(L, -1, -3))
      luaL_error(L, "bad argument #%d to '%s' (item %d is not a mailslot reader)", idx, fname,
                 (int)i);
    lua_pop(L, 2);
    if (!h->r) luaL_error(L, "attempt to use a closed mailslot");
    readers[i - 1] = h->r;
    hs[i - 1] = h;
  }
  lua_pop(L, 1);
  if (handles) *handles = hs;
  return readers;
}

static ms_code wait_readers(lua_State *L, ms_reader **readers, lreader **handles, lua_Integer n,
                            double timeout, int *ready, ms_stop *stop, ms_error *err);

/* mailslot.wait(readers, timeout) -> array of the readers with a message. */
static int l_wait(lua_State *L) {
  lua_Integer i, n;
  ms_reader **readers;
  lreader **handles;
  int *ready;
  double timeout;
  ms_lstop stop;
  ms_error err;
  ms_code rc;
  lua_settop(L, 2); /* the readers' userdata goes above the timeout, even an absent one */
  readers = check_readers(L, 1, "wait", sizeof *ready, &n, &handles);
  timeout = check_seconds(L, 2, "timeout");
  /* Nothing to wait on, forever, would hang the script for good. */
  luaL_argcheck(L, n > 0 || timeout >= 0, 1, "no readers to wait on and no timeout");
  ready = (int *)(void *)(handles + (n ? n : 1));
  ms_lstop_init(&stop, L);
  ms_lstop_arm(&stop, L);
  rc = wait_readers(L, readers, handles, n, timeout, ready, &stop.base, &err);
  if (rc != MS_OK) return ms_lfail(L, &err);
  lua_newtable(L);
  for (i = 1; i <= n; i++) {
    if (!ready[i - 1]) continue;
    lua_rawgeti(L, 1, i);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  }
  return 1;
}

/* The message a wait on these readers gives when it times out, for the Lua loops. */
static int l_wait_timeout_message(lua_State *L) {
  lua_Integer n;
  ms_error err;
  ms_reader **readers = check_readers(L, 1, "wait_timeout_message", 0, &n, NULL);
  ms_fail_wait_timeout(&err, 0, readers, (size_t)n);
  lua_pushstring(L, err.msg);
  return 1;
}

/* ---- registration ------------------------------------------------------------------ */

static int l_reader_tostring(lua_State *L) {
  lreader *h = luaL_checkudata(L, 1, READER_MT);
  push_name(L, h->r ? ms_reader_name(h->r) : NULL, h->r == NULL, "reader");
  return 1;
}

static int l_writer_tostring(lua_State *L) {
  lwriter *h = luaL_checkudata(L, 1, WRITER_MT);
  push_name(L, h->w ? ms_writer_name(h->w) : NULL, h->w == NULL, "writer");
  return 1;
}

static int l_reader_name(lua_State *L) {
  lua_pushstring(L, ms_reader_name(check_reader(L, 1)));
  return 1;
}

static int l_writer_name(lua_State *L) {
  lua_pushstring(L, ms_writer_name(check_writer(L, 1)));
  return 1;
}

/* ---- wait sets ------------------------------------------------------------------ */

/*
 * A reader anchors its set (its uservalue), so the set's handle outlives it
 * even when both are collected together: closing the reader can always tell
 * the set. The set maps members back to their handles weakly, so a reader
 * nobody else holds is still collected (and closed) while in a set.
 */
static void leave_waitset(lreader *h) {
  if (!h->set) return;
  if (h->set->s) {
    ms_waitset_remove(h->set->s, h->r);
    h->set->closed = 1;
  }
  h->set = NULL;
}

/* The set at idx, which must be open; as self (idx 1) checked against its class (see lclass.h). */
static lwaitset *open_waitset(lua_State *L, int idx) {
  lwaitset *w = idx == 1 ? ms_check_self(L, WAITSET_MT) : luaL_checkudata(L, idx, WAITSET_MT);
  if (!w->s) luaL_error(L, "attempt to use a closed wait set");
  return w;
}

/* mailslot.waitset() -> a set of readers to wait on again and again. */
static int l_waitset(lua_State *L) {
  ms_error err;
  lwaitset *w = lua_newuserdatauv(L, sizeof *w, 1);
  w->s = NULL;
  w->closed = 0;
  w->own = 0;
  w->gen = 0;
  luaL_setmetatable(L, WAITSET_MT);
  lua_newtable(L); /* members, weak values */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setiuservalue(L, -2, 1);
  if (ms_waitset_new(&w->s, &err) != MS_OK) return ms_lfail(L, &err);
  return 1;
}

/* set:add(reader) -> set: report the reader (registered the first time). */
static int l_waitset_add(lua_State *L) {
  lwaitset *w = open_waitset(L, 1);
  lreader *h = open_reader(L, 2);
  ms_error err;
  if (h->set && !h->set->s) h->set = NULL; /* its set was closed */
  if (h->set && h->set->own && !w->own) { /* mailslot.wait's set lends its readers */
    ms_waitset_remove(h->set->s, h->r);
    h->set = NULL;
  }
  if (h->set && h->set != w) luaL_argerror(L, 2, "the reader is in another wait set");
  if (ms_waitset_add(w->s, h->r, &err) != MS_OK) return ms_lfail(L, &err);
  if (!h->set) {
    h->set = w;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 2, 1);
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_rawsetp(L, -2, h->r);
    lua_pop(L, 1);
  }
  lua_settop(L, 1);
  return 1;
}

/* set:remove(reader) -> set: stop reporting it (adding it back is cheap). */
static int l_waitset_remove(lua_State *L) {
  lwaitset *w = open_waitset(L, 1);
  lreader *h = luaL_checkudata(L, 2, READER_MT);
  if (h->r && h->set == w) ms_waitset_mute(w->s, h->r);
  lua_settop(L, 1);
  return 1;
}

/* set:discard(reader) -> set: takes it out for good, so that another set may take it. */
static int l_waitset_discard(lua_State *L) {
  lwaitset *w = open_waitset(L, 1);
  lreader *h = luaL_checkudata(L, 2, READER_MT);
  if (h->r && h->set == w) {
    ms_waitset_remove(w->s, h->r);
    h->set = NULL;
    lua_getiuservalue(L, 1, 1); /* members: no longer one */
    lua_pushnil(L);
    lua_rawsetp(L, -2, h->r);
    lua_pushnil(L);
    lua_setiuservalue(L, 2, 1);
  }
  lua_settop(L, 1);
  return 1;
}

#define WAITSET_BATCH 64

/*
 * set:wait([timeout]) -> array of the reported readers with a message, or
 * nil, message, code: "timeout", or "closed" when a member was closed since
 * the last wait (the caller finds which).
 */
static int l_waitset_wait(lua_State *L) {
  lwaitset *w = open_waitset(L, 1);
  double timeout = check_seconds(L, 2, "timeout");
  ms_reader *ready[WAITSET_BATCH];
  size_t i, got;
  lua_Integer k;
  ms_lstop stop;
  ms_error err;
  if (w->closed) {
    w->closed = 0;
    luaL_pushfail(L);
    lua_pushliteral(L, "a mailslot was closed while waited on");
    lua_pushliteral(L, "closed");
    return 3;
  }
  ms_lstop_init(&stop, L);
  ms_lstop_arm(&stop, L);
  if (ms_waitset_wait(w->s, timeout, ready, WAITSET_BATCH, &got, &stop.base, &err) != MS_OK)
    return ms_lfail(L, &err);
  lua_getiuservalue(L, 1, 1);
  lua_createtable(L, (int)got, 0);
  for (i = 0, k = 0; i < got; i++) {
    /* nil: a reader no longer reachable, its __gc not run yet (it will close it) */
    if (lua_rawgetp(L, -2, ready[i]) == LUA_TNIL) lua_pop(L, 1);
    else lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/*
 * mailslot.wait's readers go into a wait set of the Lua state's own, made on
 * first use, so a call pays no system call per idle reader: it reports its
 * readers, waits, and mutes them again. A reader a loop's set holds makes the
 * call poll them all, as ms_wait does. readers[] doubles as the ready list.
 * Where sets do not register with the system (Windows), a set's wait is
 * ms_wait over its members anyway: the call is ms_wait.
 */
static ms_code wait_readers(lua_State *L, ms_reader **readers, lreader **handles, lua_Integer n,
                            double timeout, int *ready, ms_stop *stop, ms_error *err) {
  lwaitset *w;
  lua_Integer i, added;
  size_t k, got = 0;
  ms_code rc = MS_OK;
  if (n == 0 || !ms_waitset_registers()) return ms_wait(readers, (size_t)n, timeout, ready, stop, err);
  if (lua_getfield(L, LUA_REGISTRYINDEX, OWN_WAITSET) == LUA_TNIL) {
    lua_pop(L, 1);
    if (l_waitset(L) != 1) return ms_wait(readers, (size_t)n, timeout, ready, stop, err);
    ((lwaitset *)lua_touserdata(L, -1))->own = 1;
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, OWN_WAITSET);
  }
  w = lua_touserdata(L, -1); /* stays at the top of the stack */
  if (!w->s) { /* closed by its __gc: the state is closing */
    lua_pop(L, 1);
    return ms_wait(readers, (size_t)n, timeout, ready, stop, err);
  }
  for (added = 0; added < n; added++) {
    lreader *h = handles[added];
    if (h->set && !h->set->s) h->set = NULL;
    if (h->set && h->set != w) break; /* in a loop's set: poll them all */
    if (!h->set) { /* first time: as set:add does */
      int ok;
      lua_pushcfunction(L, l_waitset_add);
      lua_pushvalue(L, -2);
      lua_rawgeti(L, 1, added + 1);
      lua_call(L, 2, 1);
      ok = !lua_isnil(L, -1);
      lua_pop(L, 1);
      if (!ok) break; /* could not register it: poll them all */
    } else if ((rc = ms_waitset_add(w->s, h->r, err)) != MS_OK) {
      break;
    }
  }
  /* Calling set:add may grow the stack, and so run the collector and a
     finalizer that closes one of these readers, whose ms_reader the arrays
     still point at. Let go of the others and raise, as any use of a closed
     reader does. (Defensive: no spec makes the collector run there on demand.) */
  for (i = 0; i < n; i++) {
    if (handles[i]->r == readers[i]) continue;
    while (added-- > 0)
      if (handles[added]->r && handles[added]->set == w) ms_waitset_mute(w->s, handles[added]->r);
    luaL_error(L, "attempt to use a closed mailslot (reader #%d of the wait)", (int)(i + 1));
  }
  if (added == n) {
    rc = ms_waitset_wait(w->s, timeout, readers, (size_t)n, &got, stop, err);
    w->gen++;
    lua_getiuservalue(L, -1, 1);
    for (k = 0; rc == MS_OK && k < got; k++) {
      lreader *h;
      lua_rawgetp(L, -1, readers[k]);
      if ((h = lua_touserdata(L, -1)) != NULL) h->ready_gen = w->gen;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  w->closed = 0; /* the readers here are open: a close elsewhere is not this call's news */
  for (i = 0; i < added; i++) {
    lreader *h = handles[i];
    ready[i] = rc == MS_OK && added == n && h->ready_gen == w->gen;
    ms_waitset_mute(w->s, h->r);
    readers[i] = h->r; /* back from being the ready list */
  }
  lua_pop(L, 1);
  if (added < n && rc == MS_OK) return ms_wait(readers, (size_t)n, timeout, ready, stop, err);
  if (rc == MS_TIMEOUT) return ms_fail_wait_timeout(err, err->sys, readers, (size_t)n);
  return rc;
}

static int l_waitset_close(lua_State *L) {
  lwaitset *w = luaL_checkudata(L, 1, WAITSET_MT);
  if (w->s) {
    /* Members keep pointing at this handle (it stays alive while they do): they see s == NULL. */
    ms_waitset_free(w->s);
    w->s = NULL;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_waitset_tostring(lua_State *L) {
  lwaitset *w = luaL_checkudata(L, 1, WAITSET_MT);
  lua_pushstring(L, w->s ? "mailslot wait set" : "mailslot wait set (closed)");
  return 1;
}

static const luaL_Reg waitset_methods[] = {
    {"add", l_waitset_add}, {"remove", l_waitset_remove}, {"discard", l_waitset_discard},
    {"wait", l_waitset_wait}, {"close", l_waitset_close},
    {NULL, NULL}};

static const luaL_Reg reader_methods[] = {
    {"read", l_read},          {"readmany", l_readmany},
    {"info", l_info},
    {"settimeout", l_settimeout}, {"gettimeout", l_gettimeout}, {"close", l_reader_close},
    {"getfd", l_reader_fd},    {"pollfd", l_reader_fd},
    {"events", l_reader_events}, {"timeout", l_reader_polltimeout},
    {"name", l_reader_name},   {"sender", l_sender},
    {NULL, NULL}};

static const luaL_Reg writer_methods[] = {
    {"write", l_write},        {"writemany", l_writemany},
    {"relay", l_relay},
    {"settimeout", l_writer_settimeout},
    {"close", l_writer_close}, {"getfd", l_writer_fd},
    {"pollfd", l_writer_fd},   {"events", l_writer_events},
    {"timeout", l_writer_polltimeout}, {"name", l_writer_name},
    {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"create", l_create}, {"open", l_open},   {"list", l_list},
    {"wait", l_wait}, {"wait_timeout_message", l_wait_timeout_message},     {"parse", l_parse}, {"this_host", l_this_host},
    {"monotime", l_monotime}, {"waitset", l_waitset},
    {NULL, NULL}};

#if defined(_WIN32)
#define MAILSLOT_EXPORT __declspec(dllexport)
#else
#define MAILSLOT_EXPORT __attribute__((visibility("default")))
#endif

MAILSLOT_EXPORT int luaopen_mailslot_core(lua_State *L);

int luaopen_mailslot_core(lua_State *L) {
  ms_new_class(L, READER_MT, reader_methods, l_reader_close, l_reader_tostring);
  ms_new_class(L, WRITER_MT, writer_methods, l_writer_close, l_writer_tostring);
  ms_new_class(L, WAITSET_MT, waitset_methods, l_waitset_close, l_waitset_tostring);
  luaL_newlib(L, functions);
  return 1;
}
