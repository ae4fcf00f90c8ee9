/*
 * nbt.c - remote mailslot codec: NetBIOS names, datagrams, the SMB
 * mailslot write and a NetBIOS name query.  See nbt.h and PROTOCOL.md.
 *
 * Decoders trust nothing: every read is preceded by a bounds check against
 * the caller's length, and multi-byte fields are assembled with shifts so
 * the code does not depend on host byte order or alignment.
 */
#include "nbt.h"

#include <string.h>

/* ---- byte helpers ---------------------------------------------------- */

static uint16_t get16be(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t get16le(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[1] << 8 | p[0]);
}

static void put16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ASCII only: toupper() would follow the C locale, and names on the wire
 * must not change with the host's locale. */
static uint8_t ascii_upper(uint8_t c)
{
    return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
}

static int ascii_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    size_t i;

    if (len < n)
        return 0;
    for (i = 0; i < n; i++)
        if (ascii_upper((uint8_t)s[i]) != ascii_upper((uint8_t)prefix[i]))
            return 0;
    return 1;
}

static size_t roundup4(size_t n)
{
    return (n + 3u) & ~(size_t)3u;
}

const char *nbt_strerror(int err)
{
    switch (err) {
    case NBT_OK:                return "ok";
    case NBT_ERR_TRUNCATED:     return "truncated";
    case NBT_ERR_NAME_LENGTH:   return "bad name length byte";
    case NBT_ERR_NAME_ENCODING: return "bad name encoding";
    case NBT_ERR_SCOPE:         return "bad scope";
    case NBT_ERR_DGRAM_TYPE:    return "unsupported datagram type";
    case NBT_ERR_DGRAM_LENGTH:  return "bad datagram length";
    case NBT_ERR_FRAGMENTED:    return "fragmented";
    case NBT_ERR_ERROR_DGRAM:   return "error datagram";
    case NBT_ERR_NOT_SMB:       return "not an SMB";
    case NBT_ERR_NOT_MAILSLOT:  return "not a mailslot write";
    case NBT_ERR_BAD_OFFSET:    return "bad offset";
    case NBT_ERR_MAILSLOT_NAME: return "bad mailslot name";
    case NBT_ERR_NOT_RESPONSE:  return "not a name query response";
    case NBT_ERR_NEGATIVE:      return "negative response";
    case NBT_ERR_ARG:           return "invalid argument";
    case NBT_ERR_SPACE:         return "buffer too small";
    case NBT_ERR_TOO_BIG:       return "too large";
    default:                    return "unknown error";
    }
}

/* ---- NetBIOS names --------------------------------------------------- */

/* Wire size of a dotted scope ("a.b" -> 01 'a' 01 'b'), or 0 when the
 * scope is malformed: empty labels, labels over 63 bytes, NUL bytes. */
static size_t scope_wire_size(const char *scope)
{
    size_t label = 0, total = 0;
    const char *p;

    for (p = scope; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (++label > 63) {
            return 0;
        }
        total++;
    }
    if (label == 0)
        return 0;
    return total + 1;
}

static void write_scope(uint8_t *out, const char *scope)
{
    uint8_t *len_byte = out++;
    uint8_t n = 0;

    for (; *scope; scope++) {
        if (*scope == '.') {
            *len_byte = n;
            len_byte = out++;
            n = 0;
        } else {
            *out++ = (uint8_t)*scope;
            n++;
        }
    }
    *len_byte = n;
}

/* The 16 bytes before first-level encoding: upper-cased, space padded,
 * except the wildcard "*", which RFC 1002 pads with NULs. */
static void raw_name(uint8_t raw[16], const char *name, size_t len,
                     uint8_t suffix)
{
    size_t i;
    uint8_t pad = (len == 1 && name[0] == '*') ? 0x00 : 0x20;

    for (i = 0; i < NBT_NAME_MAX; i++)
        raw[i] = i < len ? ascii_upper((uint8_t)name[i]) : pad;
    raw[15] = suffix;
}

static size_t name_field_size(const nbt_name_spec *s, size_t *scope_size)
{
    *scope_size = 0;
    if (s->scope && s->scope[0]) {
        *scope_size = scope_wire_size(s->scope);
        if (*scope_size == 0)
            return 0;
    }
    return 1 + 32 + *scope_size + 1;
}

static int check_name_spec(const nbt_name_spec *s)
{
    if (!s || !s->name || s->name_len == 0 || s->name_len > NBT_NAME_MAX)
        return 0;
    return memchr(s->name, '\0', s->name_len) == NULL;
}

/* Writes one name field; *out_len gets its size. */
static int encode_name_spec(uint8_t *out, size_t cap, size_t *out_len,
                            const nbt_name_spec *s)
{
    uint8_t raw[16];
    size_t scope_size, size, i;

    if (!check_name_spec(s))
        return NBT_ERR_ARG;
    size = name_field_size(s, &scope_size);
    if (size == 0 || size > NBT_NAME_FIELD_MAX)
        return NBT_ERR_ARG;
    if (size > cap)
        return NBT_ERR_SPACE;

    raw_name(raw, s->name, s->name_len, s->suffix);
    out[0] = 0x20;
    for (i = 0; i < 16; i++) {
        out[1 + 2 * i] = (uint8_t)('A' + (raw[i] >> 4));
        out[2 + 2 * i] = (uint8_t)('A' + (raw[i] & 0x0F));
    }
    if (scope_size)
        write_scope(out + 33, s->scope);
    out[size - 1] = 0x00;
    *out_len = size;
    return NBT_OK;
}

int nbt_encode_name(uint8_t *out, size_t cap, size_t *out_len,
                    const char *name, size_t name_len, uint8_t suffix,
                    const char *scope)
{
    nbt_name_spec s;

    s.name = name;
    s.name_len = name_len;
    s.suffix = suffix;
    s.scope = scope;
    return encode_name_spec(out, cap, out_len, &s);
}

static int decode_letters(const uint8_t *p, nbt_name *out)
{
    size_t i, n;

    for (i = 0; i < 16; i++) {
        uint8_t hi = p[2 * i], lo = p[2 * i + 1];
        if (hi < 'A' || hi > 'P' || lo < 'A' || lo > 'P')
            return NBT_ERR_NAME_ENCODING;
        out->raw[i] = (uint8_t)((hi - 'A') << 4 | (lo - 'A'));
    }
    /* Strip the padding: spaces normally, NULs after the wildcard. */
    n = NBT_NAME_MAX;
    while (n > 0 && (out->raw[n - 1] == ' ' || out->raw[n - 1] == 0))
        n--;
    memcpy(out->name, out->raw, n);
    out->name[n] = '\0';
    out->name_len = n;
    out->suffix = out->raw[15];
    return NBT_OK;
}

/* Scope labels start at buf[pos]; the whole field may not pass 255 bytes.
 * Labels holding '.' or NUL are refused so the dotted text is exact. */
static int decode_scope(const uint8_t *buf, size_t len, size_t pos,
                        size_t *used, nbt_name *out)
{
    size_t n = 0;

    for (;;) {
        uint8_t l;
        if (pos >= len)
            return NBT_ERR_TRUNCATED;
        l = buf[pos];
        if (l == 0)
            break;
        if (l & 0xC0)
            return NBT_ERR_SCOPE;   /* pointers/reserved: not in a scope */
        if (pos + 1 + l + 1 > NBT_NAME_FIELD_MAX)
            return NBT_ERR_SCOPE;
        if (pos + 1 + l > len)
            return NBT_ERR_TRUNCATED;
        if (memchr(buf + pos + 1, '.', l) || memchr(buf + pos + 1, 0, l))
            return NBT_ERR_SCOPE;
        if (n)
            out->scope[n++] = '.';
        memcpy(out->scope + n, buf + pos + 1, l);
        n += l;
        pos += 1u + l;
    }
    out->scope[n] = '\0';
    out->scope_len = n;
    *used = pos + 1;
    return NBT_OK;
}

int nbt_decode_name(const uint8_t *buf, size_t len, size_t *used,
                    nbt_name *out)
{
    int err;

    memset(out, 0, sizeof *out);
    if (len < 1)
        return NBT_ERR_TRUNCATED;
    if (buf[0] != 0x20)
        return NBT_ERR_NAME_LENGTH;
    if (len < 33)
        return NBT_ERR_TRUNCATED;
    err = decode_letters(buf + 1, out);
    if (err)
        return err;
    return decode_scope(buf, len, 33, used, out);
}

/* ---- NetBIOS datagram ------------------------------------------------ */

static int valid_dgram_type(uint8_t t)
{
    return t >= NBT_DGRAM_DIRECT_UNIQUE && t <= NBT_DGRAM_BROADCAST;
}

/* Writes both names after the 14-byte header; *pos gets the end. */
static int encode_dgram_names(uint8_t *out, size_t cap, size_t *pos,
                              const nbt_name_spec *source,
                              const nbt_name_spec *dest)
{
    size_t n1, n2;
    int err;

    if (cap < NBT_DGRAM_HEADER)
        return NBT_ERR_SPACE;
    err = encode_name_spec(out + NBT_DGRAM_HEADER, cap - NBT_DGRAM_HEADER,
                           &n1, source);
    if (err)
        return err;
    err = encode_name_spec(out + NBT_DGRAM_HEADER + n1,
                           cap - NBT_DGRAM_HEADER - n1, &n2, dest);
    if (err)
        return err;
    *pos = NBT_DGRAM_HEADER + n1 + n2;
    return NBT_OK;
}

/* The header goes last, once the length after it is known. */
static int encode_dgram_header(uint8_t *out, const nbt_datagram *dg,
                               size_t total)
{
    if (total - NBT_DGRAM_HEADER > 0xFFFF)
        return NBT_ERR_TOO_BIG;
    out[0] = dg->type;
    out[1] = dg->flags;
    put16be(out + 2, dg->id);
    put32be(out + 4, dg->source_ip);
    put16be(out + 8, dg->source_port);
    put16be(out + 10, (uint16_t)(total - NBT_DGRAM_HEADER));
    put16be(out + 12, dg->offset);
    return NBT_OK;
}

int nbt_encode_datagram(uint8_t *out, size_t cap, size_t *out_len,
                        const nbt_datagram *dg, const nbt_name_spec *source,
                        const nbt_name_spec *dest)
{
    size_t pos;
    int err;

    if (!valid_dgram_type(dg->type) || (dg->user_len && !dg->user_data))
        return NBT_ERR_ARG;
    err = encode_dgram_names(out, cap, &pos, source, dest);
    if (err)
        return err;
    if (dg->user_len > 0xFFFF)
        return NBT_ERR_TOO_BIG;
    if (dg->user_len > cap - pos)
        return NBT_ERR_SPACE;
    err = encode_dgram_header(out, dg, pos + dg->user_len);
    if (err)
        return err;
    if (dg->user_len)
        memcpy(out + pos, dg->user_data, dg->user_len);
    *out_len = pos + dg->user_len;
    return NBT_OK;
}

/* A name that runs past the length field is the sender's length error
 * when the buffer itself goes on; otherwise the packet is cut short. */
static int decode_dgram_name(const uint8_t *win, size_t win_len,
                             size_t buf_rest, size_t *pos, nbt_name *out)
{
    size_t used;
    int err = nbt_decode_name(win + *pos, win_len - *pos, &used, out);

    if (err == NBT_ERR_TRUNCATED && buf_rest > win_len)
        return NBT_ERR_DGRAM_LENGTH;
    if (err)
        return err;
    *pos += used;
    return NBT_OK;
}

int nbt_decode_datagram(const uint8_t *buf, size_t len, nbt_datagram *dg)
{
    const uint8_t *win;
    size_t pos = 0;
    int err;

    memset(dg, 0, sizeof *dg);
    if (len < 1)
        return NBT_ERR_TRUNCATED;
    dg->type = buf[0];
    if (!valid_dgram_type(dg->type) && dg->type != NBT_DGRAM_ERROR)
        return NBT_ERR_DGRAM_TYPE;
    /* Error datagrams stop after the source port: one error code byte. */
    if (len < (dg->type == NBT_DGRAM_ERROR ? 11u : NBT_DGRAM_HEADER))
        return NBT_ERR_TRUNCATED;
    dg->flags = buf[1];
    dg->id = get16be(buf + 2);
    dg->source_ip = get32be(buf + 4);
    dg->source_port = get16be(buf + 8);
    if (dg->type == NBT_DGRAM_ERROR) {
        dg->error_code = buf[10];
        return NBT_OK;
    }
    dg->length = get16be(buf + 10);
    dg->offset = get16be(buf + 12);
    if ((size_t)dg->length > len - NBT_DGRAM_HEADER)
        return NBT_ERR_TRUNCATED;

    win = buf + NBT_DGRAM_HEADER;
    err = decode_dgram_name(win, dg->length, len - NBT_DGRAM_HEADER, &pos,
                            &dg->source);
    if (!err)
        err = decode_dgram_name(win, dg->length, len - NBT_DGRAM_HEADER,
                                &pos, &dg->dest);
    if (err)
        return err;
    dg->user_data = win + pos;
    dg->user_len = dg->length - pos;
    return NBT_OK;
}

/* ---- SMB mailslot write ---------------------------------------------- */

/* SMB field offsets, from PROTOCOL.md section 2. */
enum {
    SMB_COMMAND = 4, SMB_WORD_COUNT = 32, SMB_TOTAL_PARAMS = 33,
    SMB_TOTAL_DATA = 35, SMB_PARAM_COUNT = 51, SMB_PARAM_OFFSET = 53,
    SMB_DATA_COUNT = 55, SMB_DATA_OFFSET = 57, SMB_SETUP_COUNT = 59,
    SMB_OPCODE = 61, SMB_PRIORITY = 63, SMB_CLASS = 65, SMB_BYTE_COUNT = 67
};

#define SMB_COM_TRANSACTION 0x25
#define MAILSLOT_PREFIX "\\MAILSLOT\\"
#define MAILSLOT_PREFIX_LEN 10

int nbt_is_mailslot_name(const char *name, size_t len)
{
    return name && len > MAILSLOT_PREFIX_LEN &&
           ascii_prefix_ci(name, len, MAILSLOT_PREFIX) &&
           memchr(name, '\0', len) == NULL;
}

int nbt_encode_mailslot(uint8_t *out, size_t cap, size_t *out_len,
                        const nbt_mailslot *ms)
{
    size_t data_off, total;

    if (!nbt_is_mailslot_name(ms->name, ms->name_len) ||
        (ms->data_len && !ms->data))
        return NBT_ERR_ARG;
    if (ms->name_len > 0xFFFF || ms->data_len > 0xFFFF)
        return NBT_ERR_TOO_BIG;
    data_off = NBT_SMB_FIXED + ms->name_len + 1;
    if (ms->pad)
        data_off = roundup4(data_off);
    total = data_off + ms->data_len;
    if (total > 0xFFFF)         /* offsets and byte count are 16-bit */
        return NBT_ERR_TOO_BIG;
    if (total > cap)
        return NBT_ERR_SPACE;

    memset(out, 0, data_off);
    out[0] = 0xFF; out[1] = 'S'; out[2] = 'M'; out[3] = 'B';
    out[SMB_COMMAND] = SMB_COM_TRANSACTION;
    out[SMB_WORD_COUNT] = 17;
    put16le(out + SMB_TOTAL_DATA, (uint16_t)ms->data_len);
    put16le(out + SMB_DATA_COUNT, (uint16_t)ms->data_len);
    put16le(out + SMB_DATA_OFFSET, (uint16_t)data_off);
    out[SMB_SETUP_COUNT] = 3;
    put16le(out + SMB_OPCODE, 1);
    put16le(out + SMB_PRIORITY, ms->priority);
    put16le(out + SMB_CLASS, ms->class_);
    put16le(out + SMB_BYTE_COUNT, (uint16_t)(total - NBT_SMB_FIXED));
    memcpy(out + NBT_SMB_FIXED, ms->name, ms->name_len);
    if (ms->data_len)
        memcpy(out + data_off, ms->data, ms->data_len);
    *out_len = total;
    return NBT_OK;
}

/* The fixed part: protocol, command, word count, setup and opcode. */
static int check_smb_fixed(const uint8_t *buf, size_t len)
{
    static const uint8_t magic[4] = { 0xFF, 'S', 'M', 'B' };
    size_t n = len < 4 ? len : 4;

    if (memcmp(buf, magic, n) != 0)
        return NBT_ERR_NOT_SMB;
    if (len <= SMB_COMMAND)
        return NBT_ERR_TRUNCATED;
    if (buf[SMB_COMMAND] != SMB_COM_TRANSACTION)
        return NBT_ERR_NOT_MAILSLOT;
    if (len <= SMB_WORD_COUNT)
        return NBT_ERR_TRUNCATED;
    if (buf[SMB_WORD_COUNT] != 17)
        return NBT_ERR_NOT_MAILSLOT;
    if (len < NBT_SMB_FIXED)
        return NBT_ERR_TRUNCATED;
    if (buf[SMB_SETUP_COUNT] != 3 || get16le(buf + SMB_OPCODE) != 1)
        return NBT_ERR_NOT_MAILSLOT;
    return NBT_OK;
}

/* [off, off+count) must lie inside [lo, hi). */
static int range_ok(size_t off, size_t count, size_t lo, size_t hi)
{
    return off >= lo && off <= hi && count <= hi - off;
}

int nbt_decode_mailslot(const uint8_t *buf, size_t len, nbt_mailslot *ms)
{
    const uint8_t *nul;
    size_t bytes_end, name_end, doff, dcount, poff, pcount;
    int err;

    memset(ms, 0, sizeof *ms);
    if (len == 0)
        return NBT_ERR_TRUNCATED;
    err = check_smb_fixed(buf, len);
    if (err)
        return err;

    /* A transaction split over secondaries is a fragmented write. */
    dcount = get16le(buf + SMB_DATA_COUNT);
    pcount = get16le(buf + SMB_PARAM_COUNT);
    if (get16le(buf + SMB_TOTAL_DATA) != dcount ||
        get16le(buf + SMB_TOTAL_PARAMS) != pcount)
        return NBT_ERR_FRAGMENTED;

    bytes_end = NBT_SMB_FIXED + (size_t)get16le(buf + SMB_BYTE_COUNT);
    if (bytes_end > len)
        return NBT_ERR_TRUNCATED;
    nul = memchr(buf + NBT_SMB_FIXED, 0, bytes_end - NBT_SMB_FIXED);
    if (!nul)
        return NBT_ERR_MAILSLOT_NAME;
    ms->name = (const char *)(buf + NBT_SMB_FIXED);
    ms->name_len = (size_t)(nul - (buf + NBT_SMB_FIXED));
    if (!nbt_is_mailslot_name(ms->name, ms->name_len))
        return NBT_ERR_MAILSLOT_NAME;
    name_end = NBT_SMB_FIXED + ms->name_len + 1;

    /* Data only where data offset + data count say, after the name. */
    doff = get16le(buf + SMB_DATA_OFFSET);
    if (!range_ok(doff, dcount, name_end, bytes_end))
        return NBT_ERR_BAD_OFFSET;
    poff = get16le(buf + SMB_PARAM_OFFSET);
    if (pcount && !range_ok(poff, pcount, NBT_SMB_FIXED, bytes_end))
        return NBT_ERR_BAD_OFFSET;

    ms->priority = get16le(buf + SMB_PRIORITY);
    ms->class_ = get16le(buf + SMB_CLASS);
    ms->data = buf + doff;
    ms->data_len = dcount;
    ms->data_offset = doff;
    ms->pad = doff != name_end;
    return NBT_OK;
}

/* ---- whole packet ---------------------------------------------------- */

int nbt_encode_packet(uint8_t *out, size_t cap, size_t *out_len,
                      const nbt_packet *p, const nbt_name_spec *source,
                      const nbt_name_spec *dest)
{
    size_t pos, smb_len;
    int err;

    if (!valid_dgram_type(p->dgram.type))
        return NBT_ERR_ARG;
    err = encode_dgram_names(out, cap, &pos, source, dest);
    if (err)
        return err;
    err = nbt_encode_mailslot(out + pos, cap - pos, &smb_len, &p->mailslot);
    if (err)
        return err;
    err = encode_dgram_header(out, &p->dgram, pos + smb_len);
    if (err)
        return err;
    *out_len = pos + smb_len;
    return NBT_OK;
}

static int is_fragment(const nbt_datagram *dg)
{
    return (dg->flags & NBT_FLAG_MORE) || !(dg->flags & NBT_FLAG_FIRST) ||
           dg->offset != 0;
}

int nbt_decode_packet(const uint8_t *buf, size_t len, nbt_packet *p)
{
    int err;

    memset(&p->mailslot, 0, sizeof p->mailslot);
    err = nbt_decode_datagram(buf, len, &p->dgram);
    if (err)
        return err;
    if (p->dgram.type == NBT_DGRAM_ERROR)
        return NBT_ERR_ERROR_DGRAM;
    if (is_fragment(&p->dgram))
        return NBT_ERR_FRAGMENTED;
    return nbt_decode_mailslot(p->dgram.user_data, p->dgram.user_len,
                               &p->mailslot);
}

/* ---- one packet, many writes ---------------------------------------- */

int nbt_prepare(nbt_prepared *t, const uint8_t *head, size_t len)
{
    nbt_packet p;
    int err = nbt_decode_packet(head, len, &p);

    if (err)
        return err;
    /* The head ends where the data starts: nothing after it, no data. */
    if (p.mailslot.data_len != 0 ||
        p.dgram.user_data + p.mailslot.data_offset != head + len)
        return NBT_ERR_ARG;
    t->head_len = len;
    t->smb = (size_t)(p.dgram.user_data - head);
    return NBT_OK;
}

int nbt_prepared_set(const nbt_prepared *t, uint8_t *head, uint16_t id,
                     size_t data_len)
{
    uint8_t *smb = head + t->smb;

    /* The datagram's length counts from its header's end, the byte count
     * from the SMB's fixed part: the SMB's is the smaller, the datagram's
     * the one that overflows first. */
    if (data_len > 0xFFFF - (t->head_len - NBT_DGRAM_HEADER))
        return NBT_ERR_TOO_BIG;
    put16be(head + 2, id);
    put16be(head + 10, (uint16_t)(t->head_len - NBT_DGRAM_HEADER + data_len));
    put16le(smb + SMB_TOTAL_DATA, (uint16_t)data_len);
    put16le(smb + SMB_DATA_COUNT, (uint16_t)data_len);
    put16le(smb + SMB_BYTE_COUNT,
            (uint16_t)(t->head_len - t->smb - NBT_SMB_FIXED + data_len));
    return NBT_OK;
}

/* ---- size limits ----------------------------------------------------- */

size_t nbt_max_data(const char *mailslot, size_t len)
{
    size_t n;

    if (!nbt_is_mailslot_name(mailslot, len))
        return 0;
    /* Windows keeps the SMB within 512 bytes with the data padded to 4:
     * 512 - (69 fixed + 10 prefix + 1 NUL) = 432, less the padded rest. */
    n = roundup4(len - MAILSLOT_PREFIX_LEN);
    return n >= 432 ? 0 : 432 - n;
}

size_t nbt_max_data_udp(size_t mailslot_len)
{
    /* header + two 34-byte names + fixed SMB + name + NUL */
    size_t overhead = NBT_DGRAM_HEADER + 34 + 34 + NBT_SMB_FIXED + 1;

    if (mailslot_len >= NBT_MAX_DATAGRAM - overhead)
        return 0;
    return NBT_MAX_DATAGRAM - overhead - mailslot_len;
}

/* ---- name service ---------------------------------------------------- */

#define NS_HEADER       12
#define NS_FLAG_R       0x8000u
#define NS_FLAG_RD      0x0100u
#define NS_FLAG_B       0x0010u
#define NS_TYPE_NB      0x0020u
#define NS_CLASS_IN     0x0001u

int nbt_encode_name_query(uint8_t *out, size_t cap, size_t *out_len,
                          uint16_t id, const nbt_name_spec *name,
                          int broadcast)
{
    size_t n;
    int err;

    if (cap < NS_HEADER)
        return NBT_ERR_SPACE;
    err = encode_name_spec(out + NS_HEADER, cap - NS_HEADER, &n, name);
    if (err)
        return err;
    if (cap - NS_HEADER - n < 4)
        return NBT_ERR_SPACE;
    put16be(out, id);
    put16be(out + 2, (uint16_t)(NS_FLAG_RD | (broadcast ? NS_FLAG_B : 0)));
    put16be(out + 4, 1);    /* QDCOUNT */
    put16be(out + 6, 0);    /* ANCOUNT */
    put16be(out + 8, 0);    /* NSCOUNT */
    put16be(out + 10, 0);   /* ARCOUNT */
    put16be(out + NS_HEADER + n, NS_TYPE_NB);
    put16be(out + NS_HEADER + n + 2, NS_CLASS_IN);
    *out_len = NS_HEADER + n + 4;
    return NBT_OK;
}

/* A name in a name service packet may be a label pointer (RFC 1002 4.2.1)
 * to an earlier full name.  Only backwards, one hop: no loops possible. */
static int decode_ns_name(const uint8_t *buf, size_t len, size_t *pos,
                          nbt_name *out)
{
    size_t used, target;
    int err;

    if (*pos >= len)
        return NBT_ERR_TRUNCATED;
    if ((buf[*pos] & 0xC0) == 0xC0) {
        if (len - *pos < 2)
            return NBT_ERR_TRUNCATED;
        target = (size_t)(buf[*pos] & 0x3F) << 8 | buf[*pos + 1];
        if (target >= *pos)
            return NBT_ERR_NAME_LENGTH;
        err = nbt_decode_name(buf + target, *pos - target, &used, out);
        if (err)
            return err;
        *pos += 2;
        return NBT_OK;
    }
    err = nbt_decode_name(buf + *pos, len - *pos, &used, out);
    if (err)
        return err;
    *pos += used;
    return NBT_OK;
}

static int skip_questions(const uint8_t *buf, size_t len, size_t *pos,
                          unsigned count)
{
    nbt_name scratch;
    int err;

    while (count--) {
        err = decode_ns_name(buf, len, pos, &scratch);
        if (err)
            return err;
        if (len - *pos < 4)
            return NBT_ERR_TRUNCATED;
        *pos += 4;
    }
    return NBT_OK;
}

int nbt_decode_name_query_response(const uint8_t *buf, size_t len,
                                   nbt_name_query_response *r)
{
    size_t pos = NS_HEADER, rdlen;
    int err;

    memset(r, 0, sizeof *r);
    if (len < NS_HEADER)
        return NBT_ERR_TRUNCATED;
    r->id = get16be(buf);
    r->flags = get16be(buf + 2);
    if (!(r->flags & NS_FLAG_R) || ((r->flags >> 11) & 0x0F) != 0)
        return NBT_ERR_NOT_RESPONSE;        /* not a query response */
    if (r->flags & 0x0F)
        return NBT_ERR_NEGATIVE;            /* RCODE: name not found etc */
    if (get16be(buf + 6) == 0)
        return NBT_ERR_NOT_RESPONSE;        /* positive needs an answer */

    err = skip_questions(buf, len, &pos, get16be(buf + 4));
    if (!err)
        err = decode_ns_name(buf, len, &pos, &r->name);
    if (err)
        return err;
    if (len - pos < 10)
        return NBT_ERR_TRUNCATED;
    if (get16be(buf + pos) != NS_TYPE_NB ||
        get16be(buf + pos + 2) != NS_CLASS_IN)
        return NBT_ERR_NOT_RESPONSE;
    r->ttl = get32be(buf + pos + 4);
    rdlen = get16be(buf + pos + 8);
    pos += 10;
    if (rdlen > len - pos)
        return NBT_ERR_TRUNCATED;
    if (rdlen == 0 || rdlen % 6 != 0)
        return NBT_ERR_NOT_RESPONSE;        /* NB entries are 6 bytes */
    r->rdata = buf + pos;
    r->count = rdlen / 6;
    return NBT_OK;
}

uint32_t nbt_nq_address(const nbt_name_query_response *r, size_t i,
                        uint16_t *nb_flags)
{
    const uint8_t *e = r->rdata + 6 * i;

    if (nb_flags)
        *nb_flags = get16be(e);
    return get32be(e + 2);
}
