rockspec_format = "3.0"
package = "mailslot"
version = "0.1.0-1"
source = {
  url = "git+file:///dev/null", -- built from a checkout with `luarocks make`
}
description = {
  summary = "Windows mailslots for Lua 5.4, on Windows and on Linux/Unix",
  detailed = [[
Many writers, one reader, whole messages, and broadcast to every machine of a
workgroup. Native on Windows; on Linux and other Unix systems the same API and
semantics over AF_UNIX datagram sockets, with the real NetBIOS/SMB mailslot
protocol for remote and broadcast names.]],
  license = "MIT",
}
dependencies = { "lua >= 5.4, < 5.5" }
build = {
  -- One build description for every route (CMake, luarocks, Windows): the
  -- rock drives CMakeLists.txt and tells it where luarocks wants things.
  -- Every destination is given, so nothing lands outside the tree (--tree,
  -- --local): the man page goes with the rock's documentation.
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    LUA_INCLUDE_DIR = "$(LUA_INCDIR)",
    INSTALL_CMOD = "$(LIBDIR)",
    INSTALL_LMOD = "$(LUADIR)",
    INSTALL_BIN = "$(BINDIR)",
    INSTALL_MAN = "$(DOCDIR)",
  },
  -- not the whole doc/ (LDoc's sources): CMake installs the man page there
  copy_directories = {},
}
