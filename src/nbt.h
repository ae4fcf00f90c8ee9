/*
 * nbt.h - codec for remote mailslot writes on the wire (see PROTOCOL.md).
 *
 * Pure C99: no OS calls, no allocation, no global state.  Every encoder
 * writes into a caller-provided buffer; every decoder reads a caller's
 * buffer and never touches a byte outside it, so all of it can be fuzzed.
 * Decoded structures may point into the input buffer (user data, mailslot
 * data, name query addresses): keep the buffer alive while using them.
 *
 * IPv4 addresses are uint32_t in host order: 192.168.1.2 is 0xC0A80102.
 */
#ifndef NBT_H
#define NBT_H

#include <stddef.h>
#include <stdint.h>

/* Errors.  nbt_strerror() gives the short reason ("truncated", ...). */
typedef enum nbt_err {
    NBT_OK = 0,
    NBT_ERR_TRUNCATED,      /* "truncated" */
    NBT_ERR_NAME_LENGTH,    /* "bad name length byte" */
    NBT_ERR_NAME_ENCODING,  /* "bad name encoding" */
    NBT_ERR_SCOPE,          /* "bad scope" */
    NBT_ERR_DGRAM_TYPE,     /* "unsupported datagram type" */
    NBT_ERR_DGRAM_LENGTH,   /* "bad datagram length" */
    NBT_ERR_FRAGMENTED,     /* "fragmented" */
    NBT_ERR_ERROR_DGRAM,    /* "error datagram" */
    NBT_ERR_NOT_SMB,        /* "not an SMB" */
    NBT_ERR_NOT_MAILSLOT,   /* "not a mailslot write" */
    NBT_ERR_BAD_OFFSET,     /* "bad offset" */
    NBT_ERR_MAILSLOT_NAME,  /* "bad mailslot name" */
    NBT_ERR_NOT_RESPONSE,   /* "not a name query response" */
    NBT_ERR_NEGATIVE,       /* "negative response" */
    NBT_ERR_ARG,            /* "invalid argument" */
    NBT_ERR_SPACE,          /* "buffer too small" */
    NBT_ERR_TOO_BIG         /* "too large" */
} nbt_err;

const char *nbt_strerror(int err);

/* ---- limits ---------------------------------------------------------- */

#define NBT_NAME_MAX        15   /* name bytes before the suffix byte */
#define NBT_NAME_FIELD_MAX  255  /* whole encoded name, scope included */
#define NBT_SCOPE_MAX       222  /* dotted scope text incl. its NUL */
#define NBT_MAX_DATAGRAM    576  /* UDP payload cap (RFC 1002, nmbd) */
#define NBT_MAX_SMB         512  /* Windows' cap on the SMB part */
#define NBT_DGRAM_HEADER    14   /* fixed datagram header */
#define NBT_SMB_FIXED       69   /* SMB bytes before the mailslot name */

/* Datagram types (RFC 1002 4.4.1) and flag bits. */
#define NBT_DGRAM_DIRECT_UNIQUE 0x10
#define NBT_DGRAM_DIRECT_GROUP  0x11
#define NBT_DGRAM_BROADCAST     0x12
#define NBT_DGRAM_ERROR         0x13
#define NBT_FLAG_MORE           0x01
#define NBT_FLAG_FIRST          0x02

/* ---- NetBIOS names (first-level encoding) ---------------------------- */

typedef struct nbt_name {
    uint8_t raw[16];              /* the 16 decoded bytes */
    char name[NBT_NAME_MAX + 1];  /* raw[0..14] less trailing padding */
    size_t name_len;              /* may hold NULs if the sender put them */
    uint8_t suffix;               /* raw[15] */
    char scope[NBT_SCOPE_MAX];    /* dotted scope, "" when none */
    size_t scope_len;
} nbt_name;

/* Encode name (1..15 bytes, no NUL; upper-cased here) with its suffix and
 * an optional dotted scope (NULL or "" for none).  "*" is NUL padded. */
int nbt_encode_name(uint8_t *out, size_t cap, size_t *out_len,
                    const char *name, size_t name_len, uint8_t suffix,
                    const char *scope);

/* Decode the name field at buf; *used gets the bytes it took. */
int nbt_decode_name(const uint8_t *buf, size_t len, size_t *used,
                    nbt_name *out);

/* ---- NetBIOS datagram (RFC 1002 4.4) --------------------------------- */

typedef struct nbt_datagram {
    uint8_t type;
    uint8_t flags;
    uint16_t id;
    uint32_t source_ip;
    uint16_t source_port;
    uint16_t length;        /* decode: as on the wire; encode: computed */
    uint16_t offset;        /* packet offset */
    uint8_t error_code;     /* type 0x13 only */
    nbt_name source;        /* decode only; encode uses the fields below */
    nbt_name dest;
    const uint8_t *user_data;
    size_t user_len;
} nbt_datagram;

/* What an encoder needs to write one name. */
typedef struct nbt_name_spec {
    const char *name;
    size_t name_len;
    uint8_t suffix;
    const char *scope;      /* dotted, or NULL */
} nbt_name_spec;

/* Encode a 0x10-0x12 datagram header + names + user data.  Type, flags,
 * id, source_ip, source_port and offset come from dg; user data from
 * dg->user_data/user_len. */
int nbt_encode_datagram(uint8_t *out, size_t cap, size_t *out_len,
                        const nbt_datagram *dg, const nbt_name_spec *source,
                        const nbt_name_spec *dest);

/* Decode a datagram of type 0x10-0x13.  Fragments decode fine here (the
 * caller sees flags and offset); user data is bounded by the length field
 * and trailing bytes past it are ignored. */
int nbt_decode_datagram(const uint8_t *buf, size_t len, nbt_datagram *dg);

/* ---- SMB_COM_TRANSACTION mailslot write (PROTOCOL.md section 2) ----- */

typedef struct nbt_mailslot {
    const char *name;       /* "\MAILSLOT\X"; decode: points into buf */
    size_t name_len;        /* without the NUL */
    uint16_t priority;
    uint16_t class_;
    const uint8_t *data;    /* decode: points into buf */
    size_t data_len;
    size_t data_offset;     /* decode: from the SMB start */
    int pad;                /* encode: pad data to 4 (Windows form);
                               decode: 1 if data does not follow the NUL */
} nbt_mailslot;

/* Encode the SMB: nmbd form (data right after the name) unless ms->pad. */
int nbt_encode_mailslot(uint8_t *out, size_t cap, size_t *out_len,
                        const nbt_mailslot *ms);

/* Decode the SMB; data only through data offset + data count. */
int nbt_decode_mailslot(const uint8_t *buf, size_t len, nbt_mailslot *ms);

/* ---- whole packet: datagram carrying a mailslot write ---------------- */

typedef struct nbt_packet {
    nbt_datagram dgram;
    nbt_mailslot mailslot;
} nbt_packet;

/* Encode: p->dgram header fields, p->mailslot (user_data is ignored). */
int nbt_encode_packet(uint8_t *out, size_t cap, size_t *out_len,
                      const nbt_packet *p, const nbt_name_spec *source,
                      const nbt_name_spec *dest);

/* Decode; fragments, error datagrams and non-mailslot SMBs are errors. */
int nbt_decode_packet(const uint8_t *buf, size_t len, nbt_packet *p);

/* ---- one packet, many writes ---------------------------------------- */

/*
 * A writer sends datagrams that differ only in their id and data.  Its
 * packet without data (nbt_encode_packet with data_len 0: the head) is
 * checked once; each write then only sets the id and the three lengths in
 * the head, and the data follows it: no name is encoded again, and the
 * data need not be copied next to the head (sendmsg takes both).
 */
typedef struct nbt_prepared {
    size_t head_len;        /* the head: header, names, SMB up to the data */
    size_t smb;             /* where the SMB starts in the head */
} nbt_prepared;

/* Checks that head is a whole mailslot packet without data. */
int nbt_prepare(nbt_prepared *t, const uint8_t *head, size_t len);

/* Sets id and the lengths for data_len bytes of data in head (t's head):
 * head then data is the packet.  NBT_ERR_TOO_BIG when they do not fit. */
int nbt_prepared_set(const nbt_prepared *t, uint8_t *head, uint16_t id,
                     size_t data_len);

/* ---- size limits (PROTOCOL.md section 3) ----------------------------- */

/* 1 if name is "\MAILSLOT\" (any case) + at least one byte, no NUL. */
int nbt_is_mailslot_name(const char *name, size_t len);

/* Windows' limit: 432 - roundup4(length after "\mailslot\"); 0 when the
 * name is not a mailslot name or nothing fits. */
size_t nbt_max_data(const char *mailslot, size_t len);

/* Most data that keeps the whole packet within NBT_MAX_DATAGRAM, for names
 * without scope and the unpadded form; 0 when nothing fits. */
size_t nbt_max_data_udp(size_t mailslot_len);

/* ---- name service (UDP 137, RFC 1002 4.2) ---------------------------- */

#define NBT_NQ_BROADCAST 1

/* NAME QUERY REQUEST for one name; broadcast sets the B flag. */
int nbt_encode_name_query(uint8_t *out, size_t cap, size_t *out_len,
                          uint16_t id, const nbt_name_spec *name,
                          int broadcast);

typedef struct nbt_name_query_response {
    uint16_t id;
    uint16_t flags;         /* header flags word as on the wire */
    nbt_name name;
    uint32_t ttl;
    const uint8_t *rdata;   /* points into buf: count 6-byte entries */
    size_t count;
} nbt_name_query_response;

/* Decode a POSITIVE NAME QUERY RESPONSE (first answer record). */
int nbt_decode_name_query_response(const uint8_t *buf, size_t len,
                                   nbt_name_query_response *r);

/* Entry i (< r->count) of the response: its address, and NB_FLAGS. */
uint32_t nbt_nq_address(const nbt_name_query_response *r, size_t i,
                        uint16_t *nb_flags);

#endif
