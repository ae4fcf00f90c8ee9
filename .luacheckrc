-- luacheck settings for the whole tree (CI runs `luacheck lua spec bench examples bin`).
std = "lua54"
max_line_length = 120
files["spec/"] = { std = "+busted" }
exclude_files = { "build*/", ".luarocks/", "lua_modules/" }
