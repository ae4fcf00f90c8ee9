/*
 * The bindings' stop check (mailslot.h's ms_stop): when a signal interrupts a
 * wait, end it only if Lua has something to run for that signal now.
 *
 * lua.c's Ctrl-C handler asks for that by setting a hook on the main thread
 * (luaposix's handlers do the same, and their Lua handler may raise); the
 * hook runs as the C function returns. So a wait ends early when the hook of
 * the calling thread or of the main thread changed while it waited. A process
 * that was stopped and continued, or a handler that only takes note (libuv's
 * SA_RESTART handlers for SIGCHLD, SIGWINCH...), leaves the hooks alone, and
 * the wait resumes with the time that is left.
 */
#ifndef MAILSLOT_LSTOP_H
#define MAILSLOT_LSTOP_H

#include "mailslot.h"

#include <lauxlib.h>
#include <lua.h>

typedef struct {
  ms_stop base; /* first: the backend sees only this */
  lua_State *L, *main; /* the calling thread, the main thread */
  lua_Hook hook, main_hook; /* their hooks when the call began */
  int mask, main_mask;
} ms_lstop;

static inline int ms_lstop_requested(ms_stop *base) {
  ms_lstop *s = (ms_lstop *)(void *)base;
  return lua_gethook(s->L) != s->hook || lua_gethookmask(s->L) != s->mask ||
         lua_gethook(s->main) != s->main_hook || lua_gethookmask(s->main) != s->main_mask;
}

/* Sets s up for L's state; the main thread lives as long as the state. */
static inline void ms_lstop_init(ms_lstop *s, lua_State *L) {
  s->base.requested = ms_lstop_requested;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  s->main = lua_tothread(L, -1);
  lua_pop(L, 1);
  s->L = L;
}

/* Before each call that may wait: remember the hooks as they are now. */
static inline void ms_lstop_arm(ms_lstop *s, lua_State *L) {
  s->L = L;
  s->hook = lua_gethook(L);
  s->mask = lua_gethookmask(L);
  s->main_hook = lua_gethook(s->main);
  s->main_mask = lua_gethookmask(s->main);
}

#endif
