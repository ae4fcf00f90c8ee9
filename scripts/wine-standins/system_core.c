/*
 * TEST SCAFFOLDING -- not part of lua-mailslot, never installed.
 *
 * Minimal stand-in for luasystem's C module `system.core`, built by
 * scripts/wine-toolchain as build/wine/lib/lua/5.4/system/core.dll only when
 * Debian's archive does not serve the lua-system sources. It offers just what
 * busted 2.1.1 uses (busted/core.lua): gettime, monotime and sleep, all in
 * seconds as floats.
 */
#include <windows.h>

#include "lua.h"
#include "lauxlib.h"

/* FILETIME counts 100 ns ticks since 1601-01-01; Unix time starts 1970-01-01. */
#define UNIX_EPOCH_TICKS 116444736000000000ULL

static int sys_gettime(lua_State *L)
{
    FILETIME ft;
    ULARGE_INTEGER ticks;

    GetSystemTimeAsFileTime(&ft);
    ticks.LowPart = ft.dwLowDateTime;
    ticks.HighPart = ft.dwHighDateTime;
    lua_pushnumber(L, (lua_Number)(ticks.QuadPart - UNIX_EPOCH_TICKS) / 1e7);
    return 1;
}

static int sys_monotime(lua_State *L)
{
    LARGE_INTEGER freq, now;

    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    lua_pushnumber(L, (lua_Number)now.QuadPart / (lua_Number)freq.QuadPart);
    return 1;
}

static int sys_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    DWORD ms = 0;

    if (s >= 4e6)                       /* about 46 days: stay below INFINITE */
        ms = 4000000000UL;
    else if (s > 0)
        ms = (DWORD)(s * 1000.0 + 0.5);
    Sleep(ms);
    return 0;
}

__declspec(dllexport) int luaopen_system_core(lua_State *L);

__declspec(dllexport) int luaopen_system_core(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "gettime", sys_gettime },
        { "monotime", sys_monotime },
        { "sleep", sys_sleep },
        { NULL, NULL }
    };

    luaL_newlib(L, funcs);
    return 1;
}
