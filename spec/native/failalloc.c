/*
 * Test only (spec/memory_spec.lua): require "native.failalloc" wraps the Lua state's
 * allocator so that a spec can make it fail on demand, as a real out-of-memory
 * would, at any chosen allocation inside a binding call. Lua cannot do this
 * by itself: the bindings' error paths (a memory error while C holds an OS
 * resource or datagrams) are otherwise unreachable from a spec.
 *
 *   failalloc.fail_after(n)  -- the next n allocations succeed, then every
 *                            -- new block or growth fails (shrinking never)
 *   failalloc.stop() -> k    -- back to normal; k = how many requests failed
 */
#include <lauxlib.h>
#include <lua.h>

#if defined(_WIN32)
#define FAILALLOC_EXPORT __declspec(dllexport)
#else
#define FAILALLOC_EXPORT __attribute__((visibility("default")))
#endif

FAILALLOC_EXPORT int luaopen_native_failalloc(lua_State *L);

/* One per process: the specs run it in a child Lua with one state. */
static struct {
  lua_Alloc f;
  void *ud;
  int armed;
  lua_Integer left, failed;
} state;

static void *failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  /* Without a block, osize is a type tag, not a size. */
  if (state.armed && nsize > 0 && (!ptr || nsize > osize)) {
    if (state.left == 0) {
      state.failed++;
      return NULL;
    }
    state.left--;
  }
  return state.f(state.ud, ptr, osize, nsize);
}

static int l_fail_after(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0, 1, "count >= 0 expected");
  state.left = n;
  state.failed = 0;
  state.armed = 1;
  return 0;
}

static int l_stop(lua_State *L) {
  state.armed = 0;
  lua_pushinteger(L, state.failed);
  return 1;
}

int luaopen_native_failalloc(lua_State *L) {
  static const luaL_Reg functions[] = {{"fail_after", l_fail_after}, {"stop", l_stop}, {NULL, NULL}};
  if (lua_getallocf(L, NULL) != failing_alloc) {
    state.f = lua_getallocf(L, &state.ud);
    lua_setallocf(L, failing_alloc, NULL);
  }
  luaL_newlib(L, functions);
  return 1;
}
