/*
 * A handle class for a Lua binding: a metatable whose methods are in __index
 * and whose one close function serves close(), __gc and __close (as liolib's
 * files do), with a __tostring. Shared by the module bindings.
 */
#ifndef MAILSLOT_LCLASS_H
#define MAILSLOT_LCLASS_H

#include <lauxlib.h>
#include <lua.h>

static inline void ms_new_class(lua_State *L, const char *mt, const luaL_Reg *methods,
                                lua_CFunction close, lua_CFunction tostring) {
  luaL_newmetatable(L, mt);
  lua_newtable(L);
  lua_pushvalue(L, -2); /* each method's upvalue 1: the class, for ms_check_self */
  luaL_setfuncs(L, methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}

/*
 * luaL_checkudata(L, 1, mt) for a method of class mt (the self of every read
 * and write): the class is the method's upvalue, so no lookup by name in the
 * registry (a third of a small read's cost in the binding). Anything else,
 * or a function without that upvalue, goes to luaL_checkudata, which decides
 * and raises its usual error.
 */
static inline void *ms_check_self(lua_State *L, const char *mt) {
  void *p = lua_touserdata(L, 1);
  if (p && lua_getmetatable(L, 1)) {
    int same = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
    if (same) return p;
  }
  return luaL_checkudata(L, 1, mt);
}

#endif
