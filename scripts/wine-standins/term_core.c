/*
 * TEST SCAFFOLDING -- not part of lua-mailslot, never installed.
 *
 * Minimal stand-in for lua-term's C module `term.core`, built by
 * scripts/wine-toolchain as build/wine/lib/lua/5.4/term/core.dll only when
 * Debian's archive does not serve the lua-term upstream sources. busted 2.1.1
 * only asks term.isatty(io.stdout) to choose coloured or plain output.
 */
#include <io.h>
#include <stdio.h>

#include "lua.h"
#include "lauxlib.h"

static int term_isatty(lua_State *L)
{
    luaL_Stream *stream = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);

    lua_pushboolean(L, stream->closef != NULL && _isatty(_fileno(stream->f)));
    return 1;
}

__declspec(dllexport) int luaopen_term_core(lua_State *L);

__declspec(dllexport) int luaopen_term_core(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "isatty", term_isatty },
        { NULL, NULL }
    };

    luaL_newlib(L, funcs);
    return 1;
}
