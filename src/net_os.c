/* The network part's OS calls on POSIX systems: see net_os.h. */
#define _GNU_SOURCE

#include "net_os.h"
#include "ipv4.h"
#include "posix_clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- errors: the README's codes, meaning what they mean in the core ---- */

static ms_code errno_code(int e) {
  switch (e) {
  case EAGAIN:
#if EWOULDBLOCK != EAGAIN
  case EWOULDBLOCK:
#endif
  case ETIMEDOUT: return MS_TIMEOUT;
  case EADDRINUSE: return MS_EXISTS;
  case EACCES: case EPERM: return MS_ACCESS;
  case ENETUNREACH: case EHOSTUNREACH: case ENETDOWN: case EADDRNOTAVAIL:
  case ECONNREFUSED: return MS_UNREACHABLE;
  case EMSGSIZE: return MS_TOO_BIG;
  case EINTR: return MS_INTERRUPTED;
  default: return MS_SYSTEM;
  }
}

static ms_code fail_errno(ms_error *err, int e, const char *what) {
  return ms_fail(err, errno_code(e), e, "%s: %s", what, strerror(e));
}

/* ---- addresses and time ---------------------------------------------------- */

int net_parse_ipv4(const char *s, uint32_t *ip) { return ms_parse_ipv4(s, ip); }

void net_format_ipv4(uint32_t ip, char out[NET_IPV4_STRLEN]) {
  snprintf(out, NET_IPV4_STRLEN, "%u.%u.%u.%u", (unsigned)(ip >> 24), (unsigned)(ip >> 16 & 255),
           (unsigned)(ip >> 8 & 255), (unsigned)(ip & 255));
}

static struct sockaddr_in sockaddr_of(uint32_t ip, uint16_t port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(ip);
  sa.sin_port = htons(port);
  return sa;
}

static uint32_t ip_of(const struct sockaddr *sa) {
  return ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr);
}

double net_now(void) { return ms_now(); }

/* ---- UDP sockets ------------------------------------------------------------ */

ms_code net_udp_open(uint32_t ip, uint16_t port, int broadcast, int reuseaddr, int *fd,
                     ms_error *err) {
  struct sockaddr_in sa = sockaddr_of(ip, port);
  char addr[NET_IPV4_STRLEN];
  int one = 1, e, s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  *fd = -1;
  if (s < 0) return fail_errno(err, errno, "cannot create a UDP socket");
  if ((broadcast && setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) ||
      (reuseaddr && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)) {
    e = errno;
    close(s);
    return fail_errno(err, e, "cannot set socket options");
  }
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
    e = errno;
    close(s);
    net_format_ipv4(ip, addr);
    return ms_fail(err, errno_code(e), e, "cannot bind UDP %s:%u: %s", addr, (unsigned)port,
                   strerror(e));
  }
  *fd = s;
  return MS_OK;
}

ms_code net_sendto(int fd, const void *data, size_t len, uint32_t ip, uint16_t port,
                   size_t *sent, ms_error *err) {
  return net_sendto2(fd, data, len, NULL, 0, ip, port, sent, err);
}

ms_code net_sendto2(int fd, const void *head, size_t head_len, const void *data, size_t len,
                    uint32_t ip, uint16_t port, size_t *sent, ms_error *err) {
  struct sockaddr_in sa = sockaddr_of(ip, port);
  struct iovec iov[2];
  struct msghdr m;
  ssize_t n;
  memset(&m, 0, sizeof m);
  iov[0].iov_base = (void *)(uintptr_t)head; /* sendmsg only reads them */
  iov[0].iov_len = head_len;
  iov[1].iov_base = (void *)(uintptr_t)data;
  iov[1].iov_len = len;
  m.msg_name = &sa;
  m.msg_namelen = sizeof sa;
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  do {
    n = sendmsg(fd, &m, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    char addr[NET_IPV4_STRLEN];
    int e = errno;
    net_format_ipv4(ip, addr);
    return ms_fail(err, errno_code(e), e, "cannot send to %s:%u: %s", addr, (unsigned)port,
                   strerror(e));
  }
  *sent = (size_t)n;
  return MS_OK;
}

/* Waits up to ms (-1 forever) for fd to be readable: 1 ready, 0 not, -1 error. */
static int wait_readable(int fd, int ms) {
  struct pollfd p;
  double deadline = ms_deadline(ms < 0 ? -1.0 : ms / 1000.0);
  p.fd = fd;
  p.events = POLLIN;
  for (;;) {
    int r = poll(&p, 1, ms_poll_ms(deadline));
    if (r > 0) return 1;
    if (r == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

ms_code net_recvfrom(int fd, int ms, void *buf, size_t cap, size_t *len, uint32_t *ip,
                     uint16_t *port, ms_error *err) {
  struct sockaddr_in sa;
  for (;;) {
    socklen_t slen = sizeof sa;
    ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&sa, &slen);
    int w;
    if (n >= 0) {
      *len = (size_t)n;
      *ip = ntohl(sa.sin_addr.s_addr);
      *port = ntohs(sa.sin_port);
      return MS_OK;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail_errno(err, errno, "cannot receive");
    if (ms == 0) return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "no datagram waiting");
    w = wait_readable(fd, ms);
    if (w < 0) return fail_errno(err, errno, "cannot wait");
    if (w == 0) return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "no datagram within the timeout");
    ms = 0; /* readable now: the next pass reads, or reports a spurious wake */
  }
}

ms_code net_sockname(int fd, uint32_t *ip, uint16_t *port, ms_error *err) {
  struct sockaddr_in sa;
  socklen_t slen = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &slen) < 0)
    return fail_errno(err, errno, "getsockname");
  *ip = ntohl(sa.sin_addr.s_addr);
  *port = ntohs(sa.sin_port);
  return MS_OK;
}

void net_close(int fd) {
  if (fd >= 0) close(fd);
}

/* ---- interfaces, resolver, host name ------------------------------------------ */

ms_code net_interfaces(net_iface *out, size_t max, size_t *n, ms_error *err) {
  struct ifaddrs *list, *i;
  *n = 0;
  if (getifaddrs(&list) < 0) return fail_errno(err, errno, "getifaddrs");
  for (i = list; i; i = i->ifa_next) {
    net_iface *f;
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if (*n >= max) {
      ++*n;
      continue;
    }
    f = &out[(*n)++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", i->ifa_name);
    f->address = ip_of(i->ifa_addr);
    f->has_netmask = i->ifa_netmask && i->ifa_netmask->sa_family == AF_INET;
    if (f->has_netmask) f->netmask = ip_of(i->ifa_netmask);
    f->has_broadcast = (i->ifa_flags & IFF_BROADCAST) && i->ifa_broadaddr &&
                       i->ifa_broadaddr->sa_family == AF_INET;
    if (f->has_broadcast) f->broadcast = ip_of(i->ifa_broadaddr);
    f->up = (i->ifa_flags & IFF_UP) != 0;
    f->loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
  }
  freeifaddrs(list);
  return MS_OK;
}

/* A resolver failure in the README's words: no such host is not_found. */
static ms_code gai_code(int rc, int e) {
  switch (rc) {
  case EAI_NONAME:
#ifdef EAI_NODATA
  case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
  case EAI_ADDRFAMILY:
#endif
    return MS_NOT_FOUND;
  case EAI_AGAIN: return MS_UNREACHABLE; /* no answer from the name servers, for now */
  case EAI_SYSTEM: return errno_code(e);
  default: return MS_SYSTEM;
  }
}

/* rc (EAI_*) and, for EAI_SYSTEM, errno e: the failure to resolve host. */
static ms_code fail_gai(ms_error *err, int rc, int e, const char *host) {
  return ms_fail(err, gai_code(rc, e), rc == EAI_SYSTEM ? e : 0, "cannot resolve %s: %s", host,
                 rc == EAI_SYSTEM ? strerror(e) : gai_strerror(rc));
}

ms_code net_resolve(const char *host, uint32_t *out, size_t max, size_t *n, ms_error *err) {
  int rc = net_lookup_now(host, out, max, n);
  return rc != 0 ? fail_gai(err, rc, errno, host) : MS_OK;
}

ms_code net_fail_lookup(ms_error *err, int rc, const char *host) {
  return fail_gai(err, rc, errno, host);
}

ms_code net_lookup_answer(net_lookup *l, const char *host, uint32_t *out, size_t max, size_t *n,
                          ms_error *err) {
  int rc = net_lookup_result(l, out, max, n);
  return rc != 0 ? net_fail_lookup(err, rc, host) : MS_OK;
}

ms_code net_source_for(uint32_t ip, uint16_t port, uint32_t *source, ms_error *err) {
  struct sockaddr_in sa = sockaddr_of(ip, port), me;
  socklen_t slen = sizeof me;
  int e, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_errno(err, errno, "socket");
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
      getsockname(fd, (struct sockaddr *)&me, &slen) < 0) {
    e = errno;
    close(fd);
    return fail_errno(err, e, "no route");
  }
  close(fd);
  *source = ntohl(me.sin_addr.s_addr);
  return MS_OK;
}

ms_code net_hostname(char out[NET_HOSTNAME_MAX], ms_error *err) {
  if (gethostname(out, NET_HOSTNAME_MAX) < 0) return fail_errno(err, errno, "gethostname");
  out[NET_HOSTNAME_MAX - 1] = '\0';
  return MS_OK;
}

/* ---- poll ------------------------------------------------------------------------ */

ms_code net_poll(const int *fds, size_t n, int ms, int *ready, ms_error *err) {
  struct pollfd p[NET_POLL_MAX];
  size_t i;
  int r;
  if (n > NET_POLL_MAX) return ms_fail(err, MS_SYSTEM, EINVAL, "poll: at most %d fds", NET_POLL_MAX);
  for (i = 0; i < n; i++) {
    p[i].fd = fds[i];
    p[i].events = POLLIN;
    p[i].revents = 0;
  }
  do {
    r = poll(p, (nfds_t)n, ms);
  } while (r < 0 && errno == EINTR && ms < 0);
  if (r < 0 && errno != EINTR) return fail_errno(err, errno, "poll");
  for (i = 0; i < n; i++) ready[i] = r > 0 && p[i].revents != 0;
  return MS_OK;
}

/* ---- signals (self-pipe) ------------------------------------------------------------ */

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  unsigned char b = (unsigned char)sig;
  int saved = errno;
  if (write(sig_pipe[1], &b, 1) < 0) { /* pipe full: one pending is enough */ }
  errno = saved;
}

ms_code net_catch_signals(int *fd, ms_error *err) {
  struct sigaction sa;
  if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
    return fail_errno(err, errno, "pipe");
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
    return fail_errno(err, errno, "sigaction");
  *fd = sig_pipe[0];
  return MS_OK;
}

const char *net_caught_signal(void) {
  unsigned char b;
  if (sig_pipe[0] < 0 || read(sig_pipe[0], &b, 1) != 1) return NULL;
  return b == SIGINT ? "SIGINT" : b == SIGTERM ? "SIGTERM" : "signal";
}

void net_release_signals(void) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

/* ---- directories ------------------------------------------------------- */

/* A real directory that root or we own. */
static int ours(const char *dir, struct stat *st) {
  return lstat(dir, st) == 0 && S_ISDIR(st->st_mode) && (st->st_uid == 0 || st->st_uid == geteuid());
}

int net_private_dir(const char *dir) {
  char parent[4096];
  const char *slash;
  struct stat st;
  if (!ours(dir, &st)) return 0;
  if (!(st.st_mode & (S_IWGRP | S_IWOTH))) return 1;
  /* Writable by others (a socket directory is made 01777): private only
   * inside a parent nobody else may even enter ($XDG_RUNTIME_DIR is 0700). */
  slash = strrchr(dir, '/');
  if (!slash || slash == dir || (size_t)(slash - dir) >= sizeof parent) return 0;
  memcpy(parent, dir, (size_t)(slash - dir));
  parent[slash - dir] = '\0';
  return ours(parent, &st) && !(st.st_mode & (S_IXGRP | S_IXOTH | S_IWGRP | S_IWOTH));
}
