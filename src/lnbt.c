/*
 * lnbt.c - Lua binding of the remote mailslot codec (nbt.c): mailslot.nbt.
 *
 * Wrong argument types and bad values given by the caller raise errors;
 * malformed packets are data, not bugs, so decoders return
 * nil, reason, "invalid" ("negative" for a negative name query response).
 * Option tables are checked strictly (lopt.h): an unknown key is an error
 * naming it, so a typo never silently falls back to a default.
 */
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "ipv4.h"
#include "lopt.h"
#include "nbt.h"

/* The build hides every symbol (-fvisibility=hidden); only the entry
 * point must be seen by require. */
#if defined(_WIN32)
#define NBT_EXPORT __declspec(dllexport)
#else
#define NBT_EXPORT __attribute__((visibility("default")))
#endif

NBT_EXPORT int luaopen_mailslot_nbt(lua_State *L);

/* ---- option tables: lopt.h (strict keys, raw access, values anchored) ---- */

/* A string option that must be there; it stays anchored on the stack. */
static const char *need_str(lua_State *L, const char *key, size_t *len)
{
    const char *s = ms_opt_string(L, 1, key, len);
    if (!s)
        ms_opt_error(L, key, "required");
    return s;
}

/* An integer option from 0 to max that must be there. */
static lua_Integer need_int(lua_State *L, const char *key, lua_Integer max)
{
    ms_opt_require(L, 1, key);
    return ms_opt_integer(L, 1, key, 0, 0, max);
}

/* ---- addresses ------------------------------------------------------- */

static void push_ipv4(lua_State *L, uint32_t ip)
{
    lua_pushfstring(L, "%d.%d.%d.%d", (int)(ip >> 24 & 255),
                    (int)(ip >> 16 & 255), (int)(ip >> 8 & 255),
                    (int)(ip & 255));
}

/* key = prefix .. field.  Only used on short constants: the longest,
 * "source_suffix", fits the 32-byte buffers with room to spare. */
static const char *join_key(char *key, const char *prefix,
                            const char *field)
{
    strcpy(key, prefix);
    strcat(key, field);
    return key;
}

/* ---- results --------------------------------------------------------- */

static int push_invalid(lua_State *L, int err)
{
    luaL_pushfail(L);
    lua_pushstring(L, nbt_strerror(err));
    lua_pushstring(L, err == NBT_ERR_NEGATIVE ? "negative" : "invalid");
    return 3;
}

static void set_int(lua_State *L, const char *key, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}

/* Sets <prefix>name, <prefix>suffix and, if any, <prefix>scope on the
 * table at the top; an empty prefix gives plain name, suffix, scope. */
static void set_name(lua_State *L, const char *prefix, const nbt_name *n)
{
    char key[32];

    lua_pushlstring(L, n->name, n->name_len);
    lua_setfield(L, -2, join_key(key, prefix, "name"));
    set_int(L, join_key(key, prefix, "suffix"), n->suffix);
    if (n->scope_len) {
        lua_pushlstring(L, n->scope, n->scope_len);
        lua_setfield(L, -2, join_key(key, prefix, "scope"));
    }
}

/* ---- names ----------------------------------------------------------- */

/* NULL when len fits a NetBIOS name, else what is expected. */
static const char *bad_name_len(size_t len)
{
    return len == 0 || len > NBT_NAME_MAX ? "1 to 15 bytes expected" : NULL;
}

static const char *bad_mailslot_name(const char *s, size_t len)
{
    return nbt_is_mailslot_name(s, len) ? NULL : "\\MAILSLOT\\name expected";
}

/* The C codec reads the scope as a C string: a NUL would cut it short.
 * Encoding a one-letter name is the exact test of the label rules and of
 * the 255-byte name limit, which depends on the scope alone. */
static const char *bad_scope(const char *scope, size_t len)
{
    uint8_t buf[NBT_NAME_FIELD_MAX];
    size_t used;

    if (!scope)
        return NULL;
    if (strlen(scope) != len)
        return "string without NUL bytes expected";
    if (nbt_encode_name(buf, sizeof buf, &used, "A", 1, 0, scope) != NBT_OK)
        return "dot-separated labels of 1 to 63 bytes, at most 220 bytes in "
               "all expected";
    return NULL;
}

/* Raises "bad option 'key' (problem)" when there is a problem. */
static void check_opt(lua_State *L, const char *key, const char *problem)
{
    if (problem)
        ms_opt_error(L, key, problem);
}

static void check_arg(lua_State *L, int arg, const char *problem)
{
    if (problem)
        luaL_argerror(L, arg, problem);
}

/* nbt.encode_name(name [, suffix [, scope]]) -> string */
static int l_encode_name(lua_State *L)
{
    uint8_t buf[NBT_NAME_FIELD_MAX];
    size_t len, out_len;
    const char *name = luaL_checklstring(L, 1, &len);
    lua_Integer suffix = luaL_optinteger(L, 2, 0);
    size_t scope_len;
    const char *scope = luaL_optlstring(L, 3, NULL, &scope_len);
    int err;

    check_arg(L, 1, bad_name_len(len));
    check_arg(L, 3, bad_scope(scope, scope_len));
    luaL_argcheck(L, suffix >= 0 && suffix <= 255, 2, "suffix out of range");
    err = nbt_encode_name(buf, sizeof buf, &out_len, name, len,
                          (uint8_t)suffix, scope);
    if (err)
        return luaL_error(L, "cannot encode name: %s (NUL byte or bad "
                          "scope?)", nbt_strerror(err));
    lua_pushlstring(L, (const char *)buf, out_len);
    return 1;
}

/* nbt.decode_name(bytes) -> name, suffix, scope|nil, bytes used */
static int l_decode_name(lua_State *L)
{
    size_t len, used;
    const char *s = luaL_checklstring(L, 1, &len);
    nbt_name n;
    int err = nbt_decode_name((const uint8_t *)s, len, &used, &n);

    if (err)
        return push_invalid(L, err);
    lua_pushlstring(L, n.name, n.name_len);
    lua_pushinteger(L, n.suffix);
    if (n.scope_len)
        lua_pushlstring(L, n.scope, n.scope_len);
    else
        lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)used);
    return 4;
}

/* ---- datagrams ------------------------------------------------------- */

static const char *const dgram_keys[] = {
    "type", "flags", "id", "source_ip", "source_port", "offset",
    "source_name", "source_suffix", "source_scope",
    "dest_name", "dest_suffix", "dest_scope",
    "mailslot", "data", "priority", "class", "pad", NULL
};

static void read_name_spec(lua_State *L, const char *prefix,
                           nbt_name_spec *s)
{
    char key[32];
    size_t scope_len;

    s->name = need_str(L, join_key(key, prefix, "name"), &s->name_len);
    check_opt(L, key, bad_name_len(s->name_len));
    s->suffix = (uint8_t)ms_opt_integer(L, 1, join_key(key, prefix, "suffix"),
                                        0, 0, 255);
    s->scope = ms_opt_string(L, 1, join_key(key, prefix, "scope"),
                             &scope_len);
    check_opt(L, key, bad_scope(s->scope, scope_len));
}

/* Reads the fields of a datagram. */
static void read_packet(lua_State *L, nbt_packet *p)
{
    const char *ip;
    size_t ip_len;

    memset(p, 0, sizeof *p);
    p->dgram.type = (uint8_t)need_int(L, "type", 255);
    if (p->dgram.type < NBT_DGRAM_DIRECT_UNIQUE ||
        p->dgram.type > NBT_DGRAM_BROADCAST)
        ms_opt_error(L, "type", "0x10, 0x11 or 0x12 expected");
    /* nmbd's flags: FIRST, no MORE, node type M. */
    p->dgram.flags = (uint8_t)ms_opt_integer(L, 1, "flags", 0x0A, 0, 255);
    p->dgram.id = (uint16_t)ms_opt_integer(L, 1, "id", 0, 0, 0xFFFF);
    p->dgram.source_port = (uint16_t)ms_opt_integer(L, 1, "source_port",
                                                    138, 0, 0xFFFF);
    p->dgram.offset = (uint16_t)ms_opt_integer(L, 1, "offset", 0, 0, 0xFFFF);
    ip = need_str(L, "source_ip", &ip_len);
    if (!ms_parse_ipv4(ip, &p->dgram.source_ip))
        ms_opt_error(L, "source_ip", "dotted IPv4 address expected");
    p->mailslot.name = need_str(L, "mailslot", &p->mailslot.name_len);
    check_opt(L, "mailslot", bad_mailslot_name(p->mailslot.name,
                                               p->mailslot.name_len));
    p->mailslot.data = (const uint8_t *)need_str(L, "data",
                                                 &p->mailslot.data_len);
    p->mailslot.priority = (uint16_t)ms_opt_integer(L, 1, "priority", 0, 0,
                                                    0xFFFF);
    p->mailslot.class_ = (uint16_t)ms_opt_integer(L, 1, "class", 2, 0,
                                                  0xFFFF);
    p->mailslot.pad = ms_opt_boolean(L, 1, "pad", 0);
}

/* nbt.encode_datagram{...} -> string */
static int l_encode_datagram(lua_State *L)
{
    nbt_packet p;
    nbt_name_spec src, dst;
    luaL_Buffer b;
    size_t cap, out_len;
    uint8_t *out;
    int err;

    luaL_checktype(L, 1, LUA_TTABLE);
    ms_opt_check_keys(L, 1, "encode_datagram", dgram_keys);
    read_packet(L, &p);
    read_name_spec(L, "source_", &src);
    read_name_spec(L, "dest_", &dst);
    cap = NBT_DGRAM_HEADER + 2 * NBT_NAME_FIELD_MAX + NBT_SMB_FIXED + 4 +
          p.mailslot.name_len + p.mailslot.data_len;
    out = (uint8_t *)luaL_buffinitsize(L, &b, cap);
    err = nbt_encode_packet(out, cap, &out_len, &p, &src, &dst);
    if (err)
        return luaL_error(L, "cannot encode datagram: %s", nbt_strerror(err));
    luaL_pushresultsize(&b, out_len);
    return 1;
}

static void push_packet(lua_State *L, const nbt_packet *p)
{
    const nbt_datagram *d = &p->dgram;
    const nbt_mailslot *m = &p->mailslot;

    lua_createtable(L, 0, 20);
    set_int(L, "type", d->type);
    set_int(L, "flags", d->flags);
    set_int(L, "id", d->id);
    push_ipv4(L, d->source_ip);
    lua_setfield(L, -2, "source_ip");
    set_int(L, "source_port", d->source_port);
    set_int(L, "length", d->length);
    set_int(L, "offset", d->offset);
    set_name(L, "source_", &d->source);
    set_name(L, "dest_", &d->dest);
    lua_pushlstring(L, m->name, m->name_len);
    lua_setfield(L, -2, "mailslot");
    set_int(L, "priority", m->priority);
    set_int(L, "class", m->class_);
    lua_pushlstring(L, (const char *)m->data, m->data_len);
    lua_setfield(L, -2, "data");
    set_int(L, "data_offset", (lua_Integer)m->data_offset);
    lua_pushboolean(L, m->pad);
    lua_setfield(L, -2, "pad");
}

/* nbt.decode_datagram(bytes) -> table | nil, reason, "invalid" */
static int l_decode_datagram(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    nbt_packet p;
    int err = nbt_decode_packet((const uint8_t *)s, len, &p);

    if (err)
        return push_invalid(L, err);
    push_packet(L, &p);
    return 1;
}

/* nbt.max_data(mailslot) -> Windows' limit, limit within 576 bytes */
static int l_max_data(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);

    check_arg(L, 1, bad_mailslot_name(s, len));
    lua_pushinteger(L, (lua_Integer)nbt_max_data(s, len));
    lua_pushinteger(L, (lua_Integer)nbt_max_data_udp(len));
    return 2;
}

/* ---- name service ---------------------------------------------------- */

/* header + longest name field + type and class */
#define NS_BUF_SIZE (12 + NBT_NAME_FIELD_MAX + 4)

static const char *const query_keys[] = {
    "id", "name", "suffix", "scope", "broadcast", NULL
};

/* nbt.encode_name_query{ id=, name=, suffix=, scope=, broadcast= } */
static int l_encode_name_query(lua_State *L)
{
    uint8_t buf[NS_BUF_SIZE];
    nbt_name_spec s;
    size_t scope_len, out_len;
    uint16_t id;
    int broadcast, err;

    luaL_checktype(L, 1, LUA_TTABLE);
    ms_opt_check_keys(L, 1, "encode_name_query", query_keys);
    id = (uint16_t)ms_opt_integer(L, 1, "id", 0, 0, 0xFFFF);
    s.name = need_str(L, "name", &s.name_len);
    check_opt(L, "name", bad_name_len(s.name_len));
    s.suffix = (uint8_t)ms_opt_integer(L, 1, "suffix", 0, 0, 255);
    s.scope = ms_opt_string(L, 1, "scope", &scope_len);
    check_opt(L, "scope", bad_scope(s.scope, scope_len));
    broadcast = ms_opt_boolean(L, 1, "broadcast", 1);
    err = nbt_encode_name_query(buf, sizeof buf, &out_len, id, &s,
                                broadcast);
    if (err)
        return luaL_error(L, "cannot encode name query: %s (NUL byte or "
                          "bad scope?)", nbt_strerror(err));
    lua_pushlstring(L, (const char *)buf, out_len);
    return 1;
}

/* nbt.decode_name_query_response(bytes) -> table | nil, reason, kind */
static int l_decode_name_query_response(lua_State *L)
{
    size_t len, i;
    const char *s = luaL_checklstring(L, 1, &len);
    nbt_name_query_response r;
    int err = nbt_decode_name_query_response((const uint8_t *)s, len, &r);

    if (err)
        return push_invalid(L, err);
    lua_createtable(L, 0, 8);
    set_int(L, "id", r.id);
    set_int(L, "flags", r.flags);
    set_name(L, "", &r.name);
    set_int(L, "ttl", (lua_Integer)r.ttl);
    lua_createtable(L, (int)r.count, 0);
    lua_createtable(L, (int)r.count, 0);
    for (i = 0; i < r.count; i++) {
        uint16_t nb_flags;
        push_ipv4(L, nbt_nq_address(&r, i, &nb_flags));
        lua_rawseti(L, -3, (lua_Integer)i + 1);
        lua_pushinteger(L, nb_flags);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -3, "nb_flags");
    lua_setfield(L, -2, "addresses");
    return 1;
}

/* ---- module ---------------------------------------------------------- */

static const luaL_Reg funcs[] = {
    { "encode_name", l_encode_name },
    { "decode_name", l_decode_name },
    { "encode_datagram", l_encode_datagram },
    { "decode_datagram", l_decode_datagram },
    { "max_data", l_max_data },
    { "encode_name_query", l_encode_name_query },
    { "decode_name_query_response", l_decode_name_query_response },
    { NULL, NULL }
};

int luaopen_mailslot_nbt(lua_State *L)
{
    luaL_newlib(L, funcs);
    set_int(L, "DIRECT_UNIQUE", NBT_DGRAM_DIRECT_UNIQUE);
    set_int(L, "DIRECT_GROUP", NBT_DGRAM_DIRECT_GROUP);
    set_int(L, "BROADCAST", NBT_DGRAM_BROADCAST);
    set_int(L, "MAX_DATAGRAM", NBT_MAX_DATAGRAM);
    return 1;
}
