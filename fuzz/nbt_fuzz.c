/*
 * nbt_fuzz.c - libFuzzer target for the remote mailslot codec (src/nbt.c).
 *
 * Every decoder gets the raw input.  Whatever decodes is encoded again,
 * decoded again and compared: the fields must survive, and a second
 * encode must give the very same bytes (the encoder's output is a fixed
 * point).  Inputs the encoder cannot represent (an all-space name, a NUL
 * inside a name) are legal to decode and are skipped for the round trip.
 * Build and run with fuzz/run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                   \
            abort();                                                    \
        }                                                               \
    } while (0)

#define OUT_CAP (0x10000 + 1024)

static uint8_t out1[OUT_CAP], out2[OUT_CAP];

static uint8_t upper(uint8_t c)
{
    return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
}

static nbt_name_spec spec_of(const nbt_name *n)
{
    nbt_name_spec s;

    s.name = n->name;
    s.name_len = n->name_len;
    s.suffix = n->suffix;
    s.scope = n->scope;
    return s;
}

/* b came from encoding a: same name up to case, same suffix and scope. */
static void check_name(const nbt_name *a, const nbt_name *b)
{
    size_t i;

    CHECK(a->name_len == b->name_len);
    for (i = 0; i < a->name_len; i++)
        CHECK(upper((uint8_t)a->name[i]) == (uint8_t)b->name[i]);
    CHECK(a->suffix == b->suffix);
    CHECK(a->scope_len == b->scope_len);
    CHECK(memcmp(a->scope, b->scope, a->scope_len) == 0);
}

/* Errors an encoder may give for decodable input it cannot represent. */
static int unrepresentable(int err)
{
    return err == NBT_ERR_ARG || err == NBT_ERR_TOO_BIG;
}

static void fuzz_name(const uint8_t *data, size_t size)
{
    nbt_name n1, n2;
    size_t used, len1, used2;
    int err;

    if (nbt_decode_name(data, size, &used, &n1) != NBT_OK)
        return;
    CHECK(used <= size && used >= 34);
    err = nbt_encode_name(out1, OUT_CAP, &len1, n1.name, n1.name_len,
                          n1.suffix, n1.scope);
    if (unrepresentable(err))
        return;
    CHECK(err == NBT_OK);
    CHECK(len1 == used);    /* same scope, so the same field size */
    CHECK(nbt_decode_name(out1, len1, &used2, &n2) == NBT_OK);
    CHECK(used2 == len1);
    check_name(&n1, &n2);
}

static void check_mailslot(const nbt_mailslot *a, const nbt_mailslot *b)
{
    CHECK(a->name_len == b->name_len);
    CHECK(memcmp(a->name, b->name, a->name_len) == 0);
    CHECK(a->priority == b->priority && a->class_ == b->class_);
    CHECK(a->data_len == b->data_len);
    CHECK(a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}

static void check_dgram(const nbt_datagram *a, const nbt_datagram *b)
{
    CHECK(a->type == b->type && a->flags == b->flags && a->id == b->id);
    CHECK(a->source_ip == b->source_ip);
    CHECK(a->source_port == b->source_port && a->offset == b->offset);
    check_name(&a->source, &b->source);
    check_name(&a->dest, &b->dest);
}

/* The packet without data, prepared, then given p's id and data, must be
 * the very bytes the encoder gave for p (want, len). */
static void fuzz_prepared(const nbt_packet *p, const nbt_name_spec *src,
                          const nbt_name_spec *dst, const uint8_t *want,
                          size_t len)
{
    static uint8_t head[OUT_CAP];
    nbt_packet empty = *p;
    nbt_prepared t;
    size_t head_len;

    empty.dgram.id = (uint16_t)~p->dgram.id;  /* the id must be set too */
    empty.mailslot.data = NULL;
    empty.mailslot.data_len = 0;
    CHECK(nbt_encode_packet(head, OUT_CAP, &head_len, &empty, src, dst)
          == NBT_OK);
    CHECK(nbt_prepare(&t, head, head_len) == NBT_OK);
    CHECK(t.head_len == head_len && head_len + p->mailslot.data_len == len);
    CHECK(nbt_prepared_set(&t, head, p->dgram.id, p->mailslot.data_len)
          == NBT_OK);
    /* The data follows as it is (a sender hands both to sendmsg); that
     * want ends with it, check_mailslot already said. */
    CHECK(memcmp(head, want, head_len) == 0);
    /* A packet with data is no head. */
    CHECK(p->mailslot.data_len == 0 || nbt_prepare(&t, want, len) != NBT_OK);
}

static void fuzz_packet(const uint8_t *data, size_t size)
{
    nbt_packet p1, p2, p3;
    nbt_name_spec src, dst;
    size_t len1, len2;
    int err;

    if (nbt_decode_packet(data, size, &p1) != NBT_OK)
        return;
    CHECK(p1.mailslot.data_len <= size);
    src = spec_of(&p1.dgram.source);
    dst = spec_of(&p1.dgram.dest);
    err = nbt_encode_packet(out1, OUT_CAP, &len1, &p1, &src, &dst);
    if (unrepresentable(err))
        return;
    CHECK(err == NBT_OK);
    CHECK(nbt_decode_packet(out1, len1, &p2) == NBT_OK);
    check_dgram(&p1.dgram, &p2.dgram);
    check_mailslot(&p1.mailslot, &p2.mailslot);

    /* Encoding what the encoder wrote must give the same bytes. */
    src = spec_of(&p2.dgram.source);
    dst = spec_of(&p2.dgram.dest);
    p2.mailslot.pad = p1.mailslot.pad;
    CHECK(nbt_encode_packet(out2, OUT_CAP, &len2, &p2, &src, &dst) == NBT_OK);
    CHECK(len1 == len2 && memcmp(out1, out2, len1) == 0);
    CHECK(nbt_decode_packet(out2, len2, &p3) == NBT_OK);
    check_dgram(&p2.dgram, &p3.dgram);
    fuzz_prepared(&p2, &src, &dst, out1, len1);
}

static void fuzz_datagram(const uint8_t *data, size_t size)
{
    nbt_datagram d1, d2;
    nbt_name_spec src, dst;
    size_t len1;
    int err;

    if (nbt_decode_datagram(data, size, &d1) != NBT_OK)
        return;
    if (d1.type == NBT_DGRAM_ERROR)
        return;
    CHECK(d1.user_data >= data && d1.user_len <= size);
    CHECK((size_t)(d1.user_data - data) + d1.user_len <= size);
    src = spec_of(&d1.source);
    dst = spec_of(&d1.dest);
    err = nbt_encode_datagram(out1, OUT_CAP, &len1, &d1, &src, &dst);
    if (unrepresentable(err))
        return;
    CHECK(err == NBT_OK);
    CHECK(nbt_decode_datagram(out1, len1, &d2) == NBT_OK);
    check_dgram(&d1, &d2);
    CHECK(d1.length == d2.length && d1.user_len == d2.user_len);
    CHECK(d1.user_len == 0 ||
          memcmp(d1.user_data, d2.user_data, d1.user_len) == 0);
}

static void fuzz_mailslot(const uint8_t *data, size_t size)
{
    nbt_mailslot m1, m2;
    size_t len1;
    int err;

    if (nbt_decode_mailslot(data, size, &m1) != NBT_OK)
        return;
    CHECK(m1.data_offset + m1.data_len <= size);
    CHECK(nbt_max_data(m1.name, m1.name_len) <= 428);
    err = nbt_encode_mailslot(out1, OUT_CAP, &len1, &m1);
    if (unrepresentable(err))
        return;
    CHECK(err == NBT_OK);
    CHECK(nbt_decode_mailslot(out1, len1, &m2) == NBT_OK);
    check_mailslot(&m1, &m2);
}

static void fuzz_name_query(const uint8_t *data, size_t size)
{
    nbt_name_query_response r;
    nbt_name_spec s;
    size_t i, len1;
    uint32_t sum = 0;
    uint16_t flags;

    if (nbt_decode_name_query_response(data, size, &r) != NBT_OK)
        return;
    CHECK(r.count > 0);
    CHECK(r.rdata >= data && (size_t)(r.rdata - data) + 6 * r.count <= size);
    for (i = 0; i < r.count; i++)
        sum += nbt_nq_address(&r, i, &flags) + flags;
    (void)sum;

    /* A query for the answered name must encode. */
    s = spec_of(&r.name);
    if (r.name.name_len > 0 && !memchr(r.name.name, 0, r.name.name_len))
        CHECK(nbt_encode_name_query(out1, OUT_CAP, &len1, r.id, &s, 1)
              == NBT_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0x10000)
        return 0;
    fuzz_name(data, size);
    fuzz_datagram(data, size);
    fuzz_packet(data, size);
    fuzz_mailslot(data, size);
    fuzz_name_query(data, size);
    CHECK(nbt_strerror(NBT_ERR_TRUNCATED) != NULL);
    return 0;
}
