/*
 * Asking the system resolver for a host's IPv4 addresses without waiting for
 * it: a lookup runs in the C library's resolver threads (glibc's
 * getaddrinfo_a) while the caller goes on, and the caller asks whether it is
 * done. Where the C library has no such call, net_lookup_start finds the
 * answer at once (blocking), so callers need no second path. Plain C, no Lua:
 * lnet.c binds it as mailslot.net_os.lookup.
 */
#ifndef MAILSLOT_NET_LOOKUP_H
#define MAILSLOT_NET_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct net_lookup net_lookup;

/* 1 when lookups really run while the caller goes on (getaddrinfo_a). */
int net_lookup_async(void);

/*
 * Starts looking up host. Returns 0 and *out, or a getaddrinfo error
 * (EAI_*, for gai_strerror) when the lookup could not even start.
 */
int net_lookup_start(const char *host, net_lookup **out);

/* 1 once the answer is in. */
int net_lookup_done(net_lookup *l);

/*
 * Once done: 0 and the IPv4 addresses in host byte order (*n of them,
 * the first max go to out), or the lookup's EAI_* error.
 */
int net_lookup_result(net_lookup *l, uint32_t *out, size_t max, size_t *n);

/* The same answer found at once, waiting for the resolver (getaddrinfo). */
int net_lookup_now(const char *host, uint32_t *out, size_t max, size_t *n);

/*
 * Lets go of the lookup. Never waits: one still running is freed by the
 * resolver's thread when it is done with it.
 */
void net_lookup_free(net_lookup *l);

#endif
