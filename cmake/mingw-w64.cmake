# CMake toolchain file: cross-build lua-mailslot for 64-bit Windows with
# Debian's mingw-w64 (x86_64-w64-mingw32), so the Windows backend can be built
# on Linux and its specs run under Wine (scripts/wine-busted).
#
#   scripts/wine-toolchain            # once: cross Lua + busted tree in build/wine
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
#
# The cross-built Lua that scripts/wine-toolchain lays out is put on the find
# root path, so a plain find_package(Lua 5.4) or find_path/find_library finds
#   LUA_INCLUDE_DIR = build/wine/include          (lua.h, luaconf.h, lauxlib.h)
#   LUA_LIBRARY     = build/wine/lib/liblua54.dll.a (import library of lua54.dll)
# Override with -DMINGW_LUA_ROOT=<dir> to use another cross Lua tree.
# A Lua module DLL is linked the same way as by hand:
#   x86_64-w64-mingw32-gcc -O2 -shared -static-libgcc -Ibuild/wine/include \
#     -o build-win/hello.dll hello.c build/wine/lib/liblua54.dll.a
# and must export luaopen_<name> (__declspec(dllexport), or no dllexport at all
# so that ld exports every global symbol).

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER ${MINGW_TRIPLE}-windres)
set(CMAKE_AR ${MINGW_TRIPLE}-ar CACHE FILEPATH "mingw-w64 ar")
set(CMAKE_RANLIB ${MINGW_TRIPLE}-ranlib CACHE FILEPATH "mingw-w64 ranlib")
set(CMAKE_STRIP ${MINGW_TRIPLE}-strip CACHE FILEPATH "mingw-w64 strip")

# Link libgcc statically: the DLLs and test programs then need nothing beyond
# what Windows (or Wine) ships, no libgcc_s_seh-1.dll next to them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc")

# The cross Lua built by scripts/wine-toolchain (repo root = parent of cmake/).
get_filename_component(_mingw_repo_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(MINGW_LUA_ROOT "${_mingw_repo_root}/build/wine"
    CACHE PATH "Cross-built Lua 5.4 tree (include/, lib/liblua54.dll.a, bin/lua.exe)")

# Search headers and libraries only in the mingw sysroot and the cross Lua
# tree, never in the host's /usr; programs (tools) only on the host.
set(CMAKE_FIND_ROOT_PATH /usr/${MINGW_TRIPLE} "${MINGW_LUA_ROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# try_run() and add_test() of Windows executables go through Wine.
find_program(MINGW_WINE_PROGRAM NAMES wine64 wine)
if(MINGW_WINE_PROGRAM)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${MINGW_WINE_PROGRAM}")
endif()
