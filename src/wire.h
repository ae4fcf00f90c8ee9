/*
 * The framing of one datagram between a local writer and a reader (POSIX).
 *
 * Byte 0 says what follows: 0 = the message itself; 1 = a message relayed by
 * the network service, preceded by its NetBIOS source name (16 bytes, NUL
 * padded), IPv4 address (4) and UDP port (2, big-endian). Anything else is not
 * ours and is dropped by the reader.
 */
#ifndef MAILSLOT_WIRE_H
#define MAILSLOT_WIRE_H

#include "mailslot.h"

#define MS_WIRE_LOCAL 0
#define MS_WIRE_RELAY 1
#define MS_WIRE_HEADER_MAX 23

/* Writes the header for a local message (from == NULL) or a relay; returns its size. */
size_t ms_wire_pack_header(unsigned char *head, const ms_sender *from);

/* Finds the message in a datagram and fills the remote fields of *from. 0 = not ours. */
int ms_wire_unpack(const char *dgram, size_t n, size_t *off, size_t *len, ms_sender *from);

#endif
