/*
 * net_lookup.h on glibc's getaddrinfo_a (glibc 2.34 and later have it in
 * libc itself), or on a plain getaddrinfo elsewhere.
 *
 * Who frees a running lookup: its owner may let go before the resolver's
 * thread is done with the request, so the struct counts two references, the
 * owner's and the completion notice's (SIGEV_THREAD), and whoever drops the
 * last one frees it. A lookup let go of is not cancelled (gai_cancel leaves
 * glibc's own bookkeeping of the request behind): it runs to its end, within
 * the resolver's timeouts, and its notice frees it.
 */
#define _GNU_SOURCE
#include "net_lookup.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define HAVE_GAI_A 1
#include <pthread.h>
#include <signal.h>
#else
#define HAVE_GAI_A 0
#endif

struct net_lookup {
  struct gaicb cb;
  struct addrinfo hints;
  int error; /* without getaddrinfo_a: getaddrinfo's answer */
#if HAVE_GAI_A
  pthread_mutex_t lock;
  int refs;
#endif
  char host[]; /* cb.ar_name points here */
};

int net_lookup_async(void) { return HAVE_GAI_A; }

/* What every lookup asks for: IPv4 addresses, each once (one socket type). */
static void ipv4_hints(struct addrinfo *hints) {
  memset(hints, 0, sizeof *hints);
  hints->ai_family = AF_INET;
  hints->ai_socktype = SOCK_DGRAM;
}

/* The IPv4 addresses in res, in host byte order: *n of them, the first max go to out. */
static void ipv4_list(const struct addrinfo *res, uint32_t *out, size_t max, size_t *n) {
  *n = 0;
  for (; res; res = res->ai_next) {
    if (res->ai_family != AF_INET) continue;
    if (*n < max) out[*n] = ntohl(((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_addr.s_addr);
    (*n)++;
  }
}

int net_lookup_now(const char *host, uint32_t *out, size_t max, size_t *n) {
  struct addrinfo hints, *res;
  int rc;
  *n = 0;
  ipv4_hints(&hints);
  rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0) return rc;
  ipv4_list(res, out, max, n);
  freeaddrinfo(res);
  return 0;
}

static void destroy(net_lookup *l) {
  if (l->cb.ar_result) freeaddrinfo(l->cb.ar_result);
#if HAVE_GAI_A
  pthread_mutex_destroy(&l->lock);
#endif
  free(l);
}

#if HAVE_GAI_A
/* Drops one reference; the last one frees. */
static void release(net_lookup *l) {
  int left;
  pthread_mutex_lock(&l->lock);
  left = --l->refs;
  pthread_mutex_unlock(&l->lock);
  if (left == 0) destroy(l);
}

/* The completion notice, in a thread of the resolver's. */
static void notified(union sigval v) { release(v.sival_ptr); }
#endif

int net_lookup_start(const char *host, net_lookup **out) {
  size_t len = strlen(host);
  net_lookup *l = calloc(1, sizeof *l + len + 1);
  if (!l) return EAI_MEMORY;
  memcpy(l->host, host, len + 1);
  ipv4_hints(&l->hints);
  l->cb.ar_name = l->host;
  l->cb.ar_request = &l->hints;
#if HAVE_GAI_A
  {
    struct gaicb *list[1] = {&l->cb};
    struct sigevent ev;
    int rc;
    pthread_mutex_init(&l->lock, NULL);
    l->refs = 2;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = notified;
    ev.sigev_value.sival_ptr = l;
    rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &ev);
    if (rc != 0) {
      destroy(l); /* not queued: no notice will come */
      return rc;
    }
  }
#else
  l->error = getaddrinfo(l->host, NULL, &l->hints, &l->cb.ar_result);
#endif
  *out = l;
  return 0;
}

int net_lookup_done(net_lookup *l) {
#if HAVE_GAI_A
  return gai_error(&l->cb) != EAI_INPROGRESS;
#else
  (void)l;
  return 1;
#endif
}

int net_lookup_result(net_lookup *l, uint32_t *out, size_t max, size_t *n) {
#if HAVE_GAI_A
  int rc = gai_error(&l->cb);
#else
  int rc = l->error;
#endif
  *n = 0;
  if (rc != 0) return rc;
  ipv4_list(l->cb.ar_result, out, max, n);
  return 0;
}

void net_lookup_free(net_lookup *l) {
#if HAVE_GAI_A
  release(l);
#else
  destroy(l);
#endif
}
