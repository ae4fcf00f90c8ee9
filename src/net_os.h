/*
 * The network part's OS calls (POSIX), as mailslot.h is for the core: plain
 * C, no Lua. lnet.c binds them as mailslot.net_os.
 *
 * UDP sockets, the IPv4 interfaces, the system resolver, the host name, a
 * monotonic clock, poll(2) over several fds, and SIGINT/SIGTERM turned into a
 * readable fd (self-pipe). Every call that can fail fills an ms_error with a
 * code of the README's table (ms_code_name gives the word), so a word means
 * the same thing here as in the core. A call finishes its OS work (and frees
 * what the OS gave it) before it returns: the binding never holds an OS
 * resource while Lua may raise. Addresses are IPv4 in host byte order.
 */
#ifndef MAILSLOT_NET_OS_H
#define MAILSLOT_NET_OS_H

#include "mailslot.h"
#include "net_lookup.h"

#include <stddef.h>
#include <stdint.h>

#define NET_IPV4_STRLEN 16   /* "255.255.255.255" and its NUL */
#define NET_RECV_MAX 65536   /* the largest UDP payload, and then some */
#define NET_IFNAME_MAX 32
#define NET_HOSTNAME_MAX 256
#define NET_POLL_MAX 64     /* fds net_poll takes at once */

/* 1 when s is a dotted IPv4 address (ms_parse_ipv4, ipv4.h). */
int net_parse_ipv4(const char *s, uint32_t *ip);
void net_format_ipv4(uint32_t ip, char out[NET_IPV4_STRLEN]);

/* Seconds on a monotonic clock. */
double net_now(void);

/* A non-blocking, close-on-exec UDP socket bound to ip:port. */
ms_code net_udp_open(uint32_t ip, uint16_t port, int broadcast, int reuseaddr, int *fd,
                     ms_error *err);
ms_code net_sendto(int fd, const void *data, size_t len, uint32_t ip, uint16_t port,
                   size_t *sent, ms_error *err);
/* head then data as one datagram, without first copying them side by side. */
ms_code net_sendto2(int fd, const void *head, size_t head_len, const void *data, size_t len,
                    uint32_t ip, uint16_t port, size_t *sent, ms_error *err);
/*
 * One datagram into buf (cap bytes, at most NET_RECV_MAX are kept), waiting
 * up to ms milliseconds (0: do not wait, -1: forever); MS_TIMEOUT when none.
 */
ms_code net_recvfrom(int fd, int ms, void *buf, size_t cap, size_t *len, uint32_t *ip,
                     uint16_t *port, ms_error *err);
ms_code net_sockname(int fd, uint32_t *ip, uint16_t *port, ms_error *err);
void net_close(int fd);

typedef struct {
  char name[NET_IFNAME_MAX];
  uint32_t address, netmask, broadcast;
  int has_netmask, has_broadcast, up, loopback;
} net_iface;

/* The IPv4 interfaces: *n says how many there are, the first max go to out. */
ms_code net_interfaces(net_iface *out, size_t max, size_t *n, ms_error *err);
/* The IPv4 addresses of host: *n says how many, the first max go to out. */
ms_code net_resolve(const char *host, uint32_t *out, size_t max, size_t *n, ms_error *err);
/*
 * A lookup started with net_lookup_start (net_lookup.h) that failed with rc
 * (EAI_*), in the README's words: what net_resolve would have said of host.
 */
ms_code net_fail_lookup(ms_error *err, int rc, const char *host);
/* Once net_lookup_done: its answer as net_resolve gives it. */
ms_code net_lookup_answer(net_lookup *l, const char *host, uint32_t *out, size_t max, size_t *n,
                          ms_error *err);
/* The local address the kernel would send to ip:port from (a UDP connect sends nothing). */
ms_code net_source_for(uint32_t ip, uint16_t port, uint32_t *source, ms_error *err);
ms_code net_hostname(char out[NET_HOSTNAME_MAX], ms_error *err);

/*
 * 1 when no other user can put a socket file in dir: a real directory (not
 * a link) of root's or ours that nobody else may write to (sticky is not
 * enough), or one in a parent of root's or ours that nobody else may enter.
 */
int net_private_dir(const char *dir);

/* Waits up to ms (-1 forever) for one of fds[0..n) to be readable; ready[i] says which. */
ms_code net_poll(const int *fds, size_t n, int ms, int *ready, ms_error *err);

/* SIGINT and SIGTERM become bytes on a pipe; *fd polls readable when one came. */
ms_code net_catch_signals(int *fd, ms_error *err);
/* The signal caught first and not yet taken ("SIGINT", "SIGTERM"), or NULL. */
const char *net_caught_signal(void);
/* Default handlers again. */
void net_release_signals(void);

#endif
