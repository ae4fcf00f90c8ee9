/*
 * What the Linux kernel says about unix sockets (sock_diag, NETLINK_SOCK_DIAG):
 * facts no other user can forge, asked without reading /proc/net/unix.
 *
 * Linux has no lookup of a unix socket by inode or by listing that does not
 * walk its whole table of unix sockets (unix_lookup_by_ino, unix_diag_dump):
 * each question costs about 30 us per thousand sockets while they stay in
 * the CPU's caches, more beyond, but nothing is formatted or read as text.
 * Elsewhere (no sock_diag, or a kernel older than 5.3 without UDIAG_SHOW_UID)
 * every call fails and callers treat the facts as unknown.
 */
#ifndef POSIX_DIAG_H
#define POSIX_DIAG_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
  int fd; /* the netlink socket, -1 when sock_diag is not available */
  unsigned seq;
} ms_diag;

/* Opens a query channel; 0 when the system has none (then every query fails). */
int ms_diag_open(ms_diag *d);
void ms_diag_close(ms_diag *d);

/*
 * The socket connected socket `fd` sends to: its inode and its owner's uid.
 * 1 on success; 0 also when the owner may be a user our user namespace does
 * not map (every such user looks the same from here).
 */
int ms_diag_peer(ms_diag *d, int fd, unsigned *ino, uid_t *uid);

/*
 * Calls each() for every listening AF_UNIX stream socket with an abstract
 * name: the name without its leading NUL, and the uid that owns the socket.
 * 1 when the whole list was read.
 */
typedef void ms_diag_each(const char *name, size_t len, uid_t uid, void *ctx);
int ms_diag_listeners(ms_diag *d, ms_diag_each *each, void *ctx);

#endif
