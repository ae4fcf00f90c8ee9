/*
 * A failure of the world, the same way in every binding that reports
 * ms_error (mailslot.core, mailslot.net_os): nil, message, code, the code
 * one of the README's table.
 */
#ifndef MAILSLOT_LFAIL_H
#define MAILSLOT_LFAIL_H

#include "mailslot.h"

#include <lauxlib.h>
#include <lua.h>

static inline int ms_lfail(lua_State *L, const ms_error *err) {
  luaL_pushfail(L);
  lua_pushstring(L, err->msg);
  lua_pushstring(L, ms_code_name(err->code));
  return 3;
}

#endif
