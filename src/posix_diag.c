/* Asking the kernel about unix sockets: see posix_diag.h. */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC */
#include "posix_diag.h"

#ifdef __linux__

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#define STATE_LISTEN (1u << 10) /* TCP_LISTEN, the state of a listening unix socket */

/* Replies come in whole netlink messages; the kernel sizes a dump's parts to our buffer. */
typedef union {
  struct nlmsghdr align;
  char bytes[16384];
} reply_buf;

int ms_diag_open(ms_diag *d) {
  d->seq = 0;
  d->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  return d->fd >= 0;
}

void ms_diag_close(ms_diag *d) {
  if (d->fd >= 0) close(d->fd);
  d->fd = -1;
}

static int ask(ms_diag *d, unsigned ino, unsigned show, int dump) {
  struct {
    struct nlmsghdr h;
    struct unix_diag_req r;
  } req;
  struct sockaddr_nl kernel;
  ssize_t n;
  memset(&req, 0, sizeof req);
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
  req.h.nlmsg_seq = ++d->seq;
  req.r.sdiag_family = AF_UNIX;
  req.r.udiag_states = dump ? STATE_LISTEN : ~0u;
  req.r.udiag_ino = ino;
  req.r.udiag_show = show;
  req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0u; /* no cookie: the inode alone */
  do n = sendto(d->fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof req;
}

/*
 * The next part of the answer. The kernel answers while we send (and makes a
 * dump's next part while we take this one), so nothing here ever waits.
 */
static ssize_t answer(ms_diag *d, reply_buf *buf) {
  ssize_t n;
  do n = recv(d->fd, buf->bytes, sizeof buf->bytes, MSG_DONTWAIT | MSG_TRUNC);
  while (n < 0 && errno == EINTR);
  return n > 0 && (size_t)n <= sizeof buf->bytes ? n : -1;
}

/* What one socket's message tells: the attributes we ask for. */
typedef struct {
  unsigned ino, peer;
  int has_peer, has_uid;
  uid_t uid;
  const char *name;
  size_t name_len;
  unsigned char type;
} sock_facts;

/* Not const: the kernel headers' macros cast const away. */
static int parse(struct nlmsghdr *h, sock_facts *f) {
  struct unix_diag_msg *m = NLMSG_DATA(h);
  struct rtattr *a;
  int len;
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof *m)) return 0;
  memset(f, 0, sizeof *f);
  f->ino = m->udiag_ino;
  f->type = m->udiag_type;
  len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
  for (a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    size_t size = RTA_PAYLOAD(a);
    if (a->rta_type == UNIX_DIAG_PEER && size == sizeof(uint32_t)) {
      memcpy(&f->peer, RTA_DATA(a), sizeof(uint32_t));
      f->has_peer = 1;
    } else if (a->rta_type == UNIX_DIAG_UID && size == sizeof(uint32_t)) {
      uint32_t uid;
      memcpy(&uid, RTA_DATA(a), sizeof uid);
      f->uid = (uid_t)uid;
      f->has_uid = 1;
    } else if (a->rta_type == UNIX_DIAG_NAME) {
      f->name = RTA_DATA(a);
      f->name_len = size;
    }
  }
  return 1;
}

/* One socket, by inode: the attributes in `show`. */
static int exact(ms_diag *d, unsigned ino, unsigned show, sock_facts *f) {
  reply_buf buf;
  ssize_t n;
  struct nlmsghdr *h;
  if (d->fd < 0 || !ask(d, ino, show, 0) || (n = answer(d, &buf)) < 0) return 0;
  h = &buf.align;
  return NLMSG_OK(h, (size_t)n) && h->nlmsg_seq == d->seq && h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
         parse(h, f) && f->ino == ino;
}

/* The start of a small /proc file into text (NUL-terminated); 0 when unreadable. */
static int read_small(const char *path, char *text, size_t cap) {
  ssize_t n;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  n = read(fd, text, cap - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  return 1;
}

/*
 * Whether the kernel reports `uid` for some user our user namespace does not
 * map (kernel.overflowuid). Every such user looks the same from here, so an
 * owner reported as this uid tells nothing: another user's socket would
 * match it. In a namespace that maps every uid (the machine's own) nothing
 * is unmapped, and 65534 is nobody.
 */
static int maybe_unmapped(uid_t uid) {
  char text[64];
  unsigned long inside, outside, count, overflow = 65534; /* the kernel's default */
  if (read_small("/proc/self/uid_map", text, sizeof text) &&
      sscanf(text, "%lu %lu %lu", &inside, &outside, &count) == 3 && count == 4294967295UL)
    return 0;
  if (read_small("/proc/sys/kernel/overflowuid", text, sizeof text))
    overflow = strtoul(text, NULL, 10);
  return (unsigned long)uid == overflow;
}

int ms_diag_peer(ms_diag *d, int fd, unsigned *ino, uid_t *uid) {
  struct stat st;
  sock_facts mine, peer;
  if (fstat(fd, &st) != 0 || !exact(d, (unsigned)st.st_ino, UDIAG_SHOW_PEER, &mine) ||
      !mine.has_peer || mine.peer == 0 || !exact(d, mine.peer, UDIAG_SHOW_UID, &peer) ||
      !peer.has_uid || maybe_unmapped(peer.uid))
    return 0;
  *ino = mine.peer;
  *uid = peer.uid;
  return 1;
}

int ms_diag_listeners(ms_diag *d, ms_diag_each *each, void *ctx) {
  reply_buf buf;
  ssize_t n;
  if (d->fd < 0 || !ask(d, 0, UDIAG_SHOW_NAME | UDIAG_SHOW_UID, 1)) return 0;
  while ((n = answer(d, &buf)) > 0) {
    struct nlmsghdr *h;
    size_t left = (size_t)n;
    for (h = &buf.align; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      sock_facts f;
      if (h->nlmsg_seq != d->seq) continue; /* an earlier question's late answer */
      if (h->nlmsg_type == NLMSG_DONE) return 1;
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) return 0; /* NLMSG_ERROR */
      if (parse(h, &f) && f.type == SOCK_STREAM && f.has_uid && f.name_len > 1 &&
          f.name[0] == '\0')
        each(f.name + 1, f.name_len - 1, f.uid, ctx);
    }
  }
  return 0;
}

#else /* no sock_diag: nothing is known */

int ms_diag_open(ms_diag *d) {
  d->fd = -1;
  d->seq = 0;
  return 0;
}
void ms_diag_close(ms_diag *d) { (void)d; }
int ms_diag_peer(ms_diag *d, int fd, unsigned *ino, uid_t *uid) {
  (void)d, (void)fd, (void)ino, (void)uid;
  return 0;
}
int ms_diag_listeners(ms_diag *d, ms_diag_each *each, void *ctx) {
  (void)d, (void)each, (void)ctx;
  return 0;
}

#endif
