/* Dotted-quad IPv4 addresses, read one way everywhere (pure C). */
#ifndef MAILSLOT_IPV4_H
#define MAILSLOT_IPV4_H

#include <stdint.h>

/* Strict dotted quad: four 1-3 digit parts, each 0..255, nothing else; 1 when s is one. */
static inline int ms_parse_ipv4(const char *s, uint32_t *out) {
  uint32_t ip = 0;
  int part;
  for (part = 0; part < 4; part++) {
    unsigned v = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 4) {
      v = v * 10u + (unsigned)(*s++ - '0');
      digits++;
    }
    if (digits == 0 || digits > 3 || v > 255) return 0;
    ip = ip << 8 | v;
    if (part < 3 && *s++ != '.') return 0;
  }
  if (*s != '\0') return 0;
  *out = ip;
  return 1;
}

#endif
