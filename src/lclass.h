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
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}

#endif
