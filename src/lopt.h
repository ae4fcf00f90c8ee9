/*
 * Reading an options table, the same way in every binding (mailslot.core,
 * mailslot.nbt, mailslot.net_os):
 * - raw access: no __index or __pairs code runs while C reads, so no Lua
 *   code can hand C a string and then free it, or change what was checked;
 * - every string stays on the stack (anchored) until the binding returns,
 *   so a garbage collection (and the finalizers it runs) cannot free it;
 * - one wording for mistakes, which raise:
 *     bad option size to 'create' (unknown option)
 *     bad option 'dir' (string expected)
 */
#ifndef MAILSLOT_LOPT_H
#define MAILSLOT_LOPT_H

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

/* Raises "bad option 'key' (what)". */
static inline int ms_opt_error(lua_State *L, const char *key, const char *what) {
  return luaL_error(L, "bad option '%s' (%s)", key, what);
}

/* Refuses a key not in known[]; nil or no value at idx means no options. */
static inline void ms_opt_check_keys(lua_State *L, int idx, const char *fname,
                                     const char *const known[]) {
  idx = lua_absindex(L, idx);
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int i, found = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      for (i = 0; known[i] && !found; i++) found = strcmp(lua_tostring(L, -1), known[i]) == 0;
    if (!found)
      luaL_error(L, "bad option %s to '%s' (unknown option)", luaL_tolstring(L, -1, NULL), fname);
  }
}

/*
 * Pushes opts[key], read raw (nil when idx holds no table), and returns its
 * type. The value stays on the stack: the caller pops it when it is done.
 */
static inline int ms_opt_push(lua_State *L, int idx, const char *key) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 2, "too many options");
  if (lua_type(L, idx) != LUA_TTABLE) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  lua_pushstring(L, key);
  return lua_rawget(L, idx);
}

/*
 * opts[key] as a string, or NULL when absent (*len = 0). It stays anchored
 * on the stack (nil in its place when absent) until the binding returns.
 */
static inline const char *ms_opt_string(lua_State *L, int idx, const char *key, size_t *len) {
  int t = ms_opt_push(L, idx, key);
  *len = 0;
  if (t == LUA_TNIL) return NULL;
  if (t != LUA_TSTRING) ms_opt_error(L, key, "string expected");
  return lua_tolstring(L, -1, len);
}

/* As ms_opt_string, for a path or a C string: a NUL would cut it short. */
static inline const char *ms_opt_cstring(lua_State *L, int idx, const char *key) {
  size_t len;
  const char *s = ms_opt_string(L, idx, key, &len);
  if (s && strlen(s) != len) ms_opt_error(L, key, "string without NUL bytes expected");
  return s;
}

static inline int ms_opt_boolean(lua_State *L, int idx, const char *key, int dflt) {
  int t = ms_opt_push(L, idx, key), v = dflt;
  if (t != LUA_TNIL) {
    if (t != LUA_TBOOLEAN) ms_opt_error(L, key, "boolean expected");
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* An integer from min to max; dflt when absent. */
static inline lua_Integer ms_opt_integer(lua_State *L, int idx, const char *key,
                                         lua_Integer dflt, lua_Integer min, lua_Integer max) {
  lua_Integer v = dflt;
  if (ms_opt_push(L, idx, key) != LUA_TNIL) {
    int isint;
    v = lua_tointegerx(L, -1, &isint);
    if (lua_type(L, -1) != LUA_TNUMBER || !isint || v < min || v > max)
      luaL_error(L, "bad option '%s' (integer from %I to %I expected)", key, min, max);
  }
  lua_pop(L, 1);
  return v;
}

/* Raises "bad option 'key' (required)" when opts[key] is absent. */
static inline void ms_opt_require(lua_State *L, int idx, const char *key) {
  int t = ms_opt_push(L, idx, key);
  lua_pop(L, 1);
  if (t == LUA_TNIL) ms_opt_error(L, key, "required");
}

#endif
