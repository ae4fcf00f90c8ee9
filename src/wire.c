/* Datagram framing between local writers and readers: see wire.h. */
#include "wire.h"

#include <string.h>

size_t ms_wire_pack_header(unsigned char *head, const ms_sender *from) {
  if (!from || !from->remote) {
    head[0] = MS_WIRE_LOCAL;
    return 1;
  }
  head[0] = MS_WIRE_RELAY;
  memset(head + 1, 0, 16);
  {
    const char *end = memchr(from->remote_name, '\0', 15);
    memcpy(head + 1, from->remote_name, end ? (size_t)(end - from->remote_name) : 15);
  }
  memcpy(head + 17, from->remote_ip, 4);
  head[21] = (unsigned char)(from->remote_port >> 8);
  head[22] = (unsigned char)(from->remote_port & 0xff);
  return MS_WIRE_HEADER_MAX;
}

int ms_wire_unpack(const char *dgram, size_t n, size_t *off, size_t *len, ms_sender *from) {
  const unsigned char *d = (const unsigned char *)dgram;
  if (n >= 1 && d[0] == MS_WIRE_LOCAL) {
    from->remote = 0;
    *off = 1;
  } else if (n >= MS_WIRE_HEADER_MAX && d[0] == MS_WIRE_RELAY) {
    from->remote = 1;
    memcpy(from->remote_name, d + 1, 16);
    from->remote_name[15] = '\0';
    memcpy(from->remote_ip, d + 17, 4);
    from->remote_port = (uint16_t)((d[21] << 8) | d[22]);
    *off = MS_WIRE_HEADER_MAX;
  } else {
    return 0;
  }
  *len = n - *off;
  return 1;
}
