/*
 * native.fork: fork() for specs (POSIX), which Lua and the Debian Lua
 * packages the specs use do not offer. Specs only: not installed.
 *
 *   local pid = fork.fork()      -- 0 in the child
 *   local code = fork.wait(pid)  -- the child's exit status
 */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int l_fork(lua_State *L) {
  pid_t pid = fork();
  if (pid < 0) return luaL_error(L, "fork: %s", strerror(errno));
  lua_pushinteger(L, (lua_Integer)pid);
  return 1;
}

static int l_wait(lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return luaL_error(L, "waitpid: %s", strerror(errno));
  lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 1;
}

__attribute__((visibility("default"))) int luaopen_native_fork(lua_State *L);
int luaopen_native_fork(lua_State *L) {
  static const luaL_Reg fns[] = {{"fork", l_fork}, {"wait", l_wait}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
