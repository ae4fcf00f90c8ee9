/*
 * The POSIX backend: a mailslot is an AF_UNIX datagram socket.
 *
 * Datagrams keep message boundaries and arrive whole or not at all. A name is
 * bound either in Linux's abstract namespace (unique per machine, gone with its
 * reader, nothing to clean up) or as a socket file in a directory (other Unix
 * systems, or MAILSLOT_DIR / the `dir` option on Linux). The kernel queues only
 * a few datagrams per socket, so info() drains them into a queue kept here to
 * count them; read() takes from that queue first to keep FIFO order.
 *
 * Every datagram starts with one byte saying what follows (wire.h), so the
 * network relay can pass on who sent a message from another machine.
 */
#define _GNU_SOURCE /* SCM_CREDENTIALS, struct ucred */
#include "mailslot.h"
#include "msgqueue.h"
#include "own_readers.h"
#include "posix_addr.h"
#include "posix_clock.h"
#include "posix_meta.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define BATCH_MAX 64 /* messages per sendmmsg/recvmmsg call */


struct ms_reader {
  ms_own_entry own; /* among this process's readers (own_readers.h) */
  int fd;
  ms_addr addr;
  ino_t file_ino; /* socket-file mode: our file, so close removes only ours */
  pid_t creator; /* the process that made it: a forked child never removes its files */
  ms_meta_pub meta; /* our facts, published for writers (posix_meta.h) */
  size_t max_size;
  double timeout;
  ms_allow allow;
  int network; /* takes messages a relay brings from the network */
  uid_t uid;
  gid_t gid;
  ms_msgqueue queue; /* taken off the socket by info() or a same-thread writer */
  double recv_timeout; /* SO_RCVTIMEO now set, seconds; -1 = not set */
  char *buf; /* one datagram as received */
  char *batch; /* BATCH_MAX buffers of buf_size for recvmmsg, made on first use */
  size_t buf_size;
  uint64_t rejected, oversized;
};

struct ms_writer {
  int fd;
  ms_addr addr;
  double timeout;
  /*
   * Messages of `cap` bytes or more are not sent: the reader's max_size + 1,
   * 0 when the reader refuses this process, SIZE_MAX when its facts are not
   * known. Set at each connect, so a write pays one compare for it.
   */
  size_t cap;
};

/* ---- receiving ----------------------------------------------------------- */

typedef enum { GOT_MESSAGE, GOT_NOTHING, GOT_ERROR } recv_result;

/*
 * Room for the control data of one datagram: the SCM_CREDENTIALS we ask for,
 * and some descriptors anyone may push at us with SCM_RIGHTS. Those that do
 * not fit the kernel closes itself (and sets MSG_CTRUNC); those that do are
 * installed in this process, and read_control() closes them.
 */
typedef union {
  struct cmsghdr align;
  char space[CMSG_SPACE(sizeof(int32_t) * 3) + 64];
} cred_space;

#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0 /* Linux only: elsewhere closed as fast as we can */
#endif
/* Every receive: passed descriptors must never leak into a child we exec. */
#define RECV_FLAGS (MSG_TRUNC | MSG_CMSG_CLOEXEC)

static int allowed(const ms_reader *r, const ms_sender *from) {
  if (r->allow == MS_ALLOW_ALL) return 1;
#ifdef SO_PASSCRED
  if (from->uid == 0 || (uid_t)from->uid == r->uid) return 1;
  return r->allow == MS_ALLOW_GROUP && (gid_t)from->gid == r->gid;
#else
  (void)from; /* no credentials here: the socket file's mode decides */
  return 1;
#endif
}

/*
 * A message from the network only for a reader that asked for them (a relay
 * run by root must not open every reader to the LAN), and only from root or
 * the reader's own user, who may speak for a network sender.
 */
static int trusted_relay(const ms_reader *r, const ms_sender *from) {
  if (!r->network) return 0;
#ifdef SO_PASSCRED
  return from->uid == 0 || (uid_t)from->uid == r->uid;
#else
  (void)from;
  return 1;
#endif
}

/* Closes the descriptors of an SCM_RIGHTS message (ints, maybe unaligned). */
static void close_passed(const struct cmsghdr *c) {
  size_t n, i;
  if (c->cmsg_len < CMSG_LEN(0)) return;
  n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  for (i = 0; i < n; i++) {
    int fd;
    memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
    close(fd);
  }
}

/*
 * Reads who sent a datagram and closes every descriptor it carried, before
 * anything else looks at it. 0 when its control data is not what our writers
 * send (descriptors, or cut short): such a datagram is not ours.
 */
static int read_control(struct msghdr *mh, ms_sender *from) {
  int clean = !(mh->msg_flags & MSG_CTRUNC);
  memset(from, 0, sizeof *from);
  from->pid = from->uid = from->gid = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      close_passed(c);
      clean = 0;
    }
#ifdef SCM_CREDENTIALS
    if (c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      from->pid = (int32_t)cred.pid;
      from->uid = (int32_t)cred.uid;
      from->gid = (int32_t)cred.gid;
    }
#endif
  }
  return clean;
}

/*
 * Whether a received datagram of n bytes in buf (as large as r->buf) is a
 * whole, allowed message of ours. Datagrams refused by the access rule, above
 * max_size, carrying descriptors or not in our framing are counted here, so
 * callers only ever see whole, allowed messages. Every received datagram
 * passes here, so every descriptor passed to us is closed here.
 */
static int accept_datagram(ms_reader *r, const char *buf, size_t n, struct msghdr *mh,
                           size_t *off, size_t *len, ms_sender *from) {
  int clean = read_control(mh, from); /* first, whatever follows */
  if (!clean || !allowed(r, from)) {
    r->rejected++;
    return 0;
  }
  if (n > r->buf_size || (mh->msg_flags & MSG_TRUNC)) {
    r->oversized++;
    return 0;
  }
  if (!ms_wire_unpack(buf, n, off, len, from) || (from->remote && !trusted_relay(r, from))) {
    r->rejected++; /* not our framing, a forged relay, or network not wanted */
    return 0;
  }
  if (r->max_size && *len > r->max_size) {
    r->oversized++;
    return 0;
  }
  return 1;
}

/*
 * Takes one datagram off the socket: MSG_DONTWAIT in flags, or waiting as
 * SO_RCVTIMEO says. On GOT_MESSAGE the message is r->buf[*off .. *off + *len);
 * datagrams accept_datagram() refuses are skipped.
 */
static recv_result recv_one(ms_reader *r, int flags, size_t *off, size_t *len,
                            ms_sender *from, ms_error *err) {
  for (;;) {
    cred_space control;
    struct iovec iov = {r->buf, r->buf_size};
    struct msghdr mh;
    ssize_t n;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control.space;
    mh.msg_controllen = sizeof control.space;
    n = recvmsg(r->fd, &mh, flags | RECV_FLAGS);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return GOT_NOTHING;
      if (errno == EINTR) {
        /* Return to Lua so a Ctrl-C (lua.c's hook) can stop the script. */
        ms_fail(err, MS_INTERRUPTED, errno, "reading mailslot %s was interrupted", r->addr.name);
        return GOT_ERROR;
      }
      ms_fail(err, MS_SYSTEM, errno, "cannot read mailslot %s: %s", r->addr.name,
              strerror(errno));
      return GOT_ERROR;
    }
    if (accept_datagram(r, r->buf, (size_t)n, &mh, off, len, from)) return GOT_MESSAGE;
    /* A refused datagram: a waiting caller recomputes what is left of its timeout. */
    if (!(flags & MSG_DONTWAIT)) return GOT_NOTHING;
  }
}

/* Moves one datagram from the socket into the queue; GOT_NOTHING when none. */
static recv_result enqueue_one(ms_reader *r, ms_error *err) {
  size_t off, len;
  ms_sender from;
  recv_result got = recv_one(r, MSG_DONTWAIT, &off, &len, &from, err);
  if (got != GOT_MESSAGE) return got;
  if (!ms_msgqueue_push(&r->queue, r->buf + off, len, &from)) {
    ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory queueing a message of mailslot %s",
            r->addr.name);
    return GOT_ERROR;
  }
  return GOT_MESSAGE;
}

static ms_code drain(ms_reader *r, ms_error *err) {
  recv_result got;
  while ((got = enqueue_one(r, err)) == GOT_MESSAGE) {}
  return got == GOT_ERROR ? err->code : MS_OK;
}


/* Waits up to `timeout` for fd to poll `events`; MS_TIMEOUT when it did not. */
static ms_code wait_fd(int fd, short events, double deadline, const char *what,
                       const char *name, ms_error *err) {
  for (;;) {
    struct pollfd p = {fd, events, 0};
    int rc = poll(&p, 1, ms_poll_ms(deadline));
    if (rc > 0) return MS_OK;
    if (rc == 0) {
      if (ms_deadline_passed(deadline))
        return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "%s mailslot %s timed out", what, name);
      continue;
    }
    if (errno == EINTR) /* back to Lua, so Ctrl-C can stop the script */
      return ms_fail(err, MS_INTERRUPTED, errno, "%s mailslot %s was interrupted", what, name);
    return ms_fail(err, MS_SYSTEM, errno, "%s mailslot %s: %s", what, name, strerror(errno));
  }
}

/*
 * A blocking recvmsg() with SO_RCVTIMEO waits in one system call (poll and
 * recv would be two per message) and, unlike a plain blocking recv, is not
 * restarted after a signal handler, so Ctrl-C still reaches Lua. The value
 * is cached: readers mostly wait with the same timeout again and again.
 */
#define LONGEST_WAIT 3600.0 /* "forever" waits in slices of this */

static ms_code set_recv_timeout(ms_reader *r, double seconds, ms_error *err) {
  struct timeval tv;
  if (seconds == r->recv_timeout) return MS_OK;
  tv.tv_sec = (time_t)seconds;
  tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1; /* zero would mean "never" */
  if (setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
    return ms_fail(err, MS_SYSTEM, errno, "reading mailslot %s: %s", r->addr.name, strerror(errno));
  r->recv_timeout = seconds;
  return MS_OK;
}

ms_code ms_reader_read(ms_reader *r, double timeout, const char **data,
                       size_t *len, ms_sender *from, ms_error *err) {
  double deadline = -1;
  const ms_msg *queued = ms_msgqueue_take(&r->queue);
  if (queued) { /* taken off the socket earlier: FIFO before what is still there */
    *data = queued->data;
    *len = queued->len;
    if (from) *from = queued->from;
    return MS_OK;
  }
  for (;;) {
    size_t off;
    ms_sender who;
    recv_result got;
    int flags = MSG_DONTWAIT, last_look = timeout == 0;
    if (timeout != 0) {
      double left = LONGEST_WAIT;
      if (timeout > 0) {
        if (deadline < 0) deadline = ms_deadline(timeout);
        left = deadline - ms_now();
        if (left > LONGEST_WAIT) left = LONGEST_WAIT;
      }
      if (left <= 0) {
        last_look = 1; /* time is up, but what already waits is still taken */
      } else {
        if (set_recv_timeout(r, left, err) != MS_OK) return err->code;
        flags = 0;
      }
    }
    got = recv_one(r, flags, &off, len, &who, err);
    if (got == GOT_MESSAGE) {
      *data = r->buf + off;
      if (from) *from = who;
      return MS_OK;
    }
    if (got == GOT_ERROR) return err->code;
    if (last_look) break;
  }
  if (timeout == 0)
    return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "no message in mailslot %s", r->addr.name);
  return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "no message in mailslot %s within %g s",
                 r->addr.name, timeout);
}

/* A message each() could not take waits in the queue for the next read. */
static ms_code give_back(ms_reader *r, const char *data, size_t len, const ms_sender *from,
                         ms_error *err) {
  if (ms_msgqueue_give_back(&r->queue, data, len, from)) return MS_OK;
  return ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory keeping a message of mailslot %s",
                 r->addr.name);
}

/* Takes what else is waiting, up to max more, in recvmmsg calls that never wait. */
static ms_code take_waiting(ms_reader *r, size_t max, size_t *got, ms_each_fn each, void *ctx,
                            ms_error *err) {
  struct mmsghdr mm[BATCH_MAX];
  struct iovec iov[BATCH_MAX];
  cred_space control[BATCH_MAX];
  /* Virtual memory: only the pages a datagram lands in become resident. */
  if (r->buf_size > (size_t)-1 / BATCH_MAX) return MS_OK; /* too large to batch: singles only */
  if (!r->batch && !(r->batch = malloc(BATCH_MAX * r->buf_size))) return MS_OK;
  while (*got < max) {
    size_t i, k = max - *got < BATCH_MAX ? max - *got : BATCH_MAX;
    int n;
    memset(mm, 0, sizeof mm[0] * k);
    for (i = 0; i < k; i++) {
      iov[i].iov_base = r->batch + i * r->buf_size;
      iov[i].iov_len = r->buf_size;
      mm[i].msg_hdr.msg_iov = &iov[i];
      mm[i].msg_hdr.msg_iovlen = 1;
      mm[i].msg_hdr.msg_control = control[i].space;
      mm[i].msg_hdr.msg_controllen = sizeof control[i].space;
    }
    int stopped = 0;
    ms_code rc = MS_OK;
    n = recvmmsg(r->fd, mm, (unsigned)k, MSG_DONTWAIT | RECV_FLAGS, NULL);
    if (n <= 0) return MS_OK; /* nothing more waiting; what was taken stands */
    for (i = 0; i < (size_t)n; i++) {
      size_t off, len;
      ms_sender from;
      const char *buf = r->batch + i * r->buf_size;
      if (!accept_datagram(r, buf, mm[i].msg_len, &mm[i].msg_hdr, &off, &len, &from)) continue;
      if (!stopped && each(buf + off, len, &from, ctx)) {
        ++*got;
        continue;
      }
      stopped = 1; /* each() took no more: this one and the rest wait for the next read */
      if (give_back(r, buf + off, len, &from, err) != MS_OK) rc = err->code;
    }
    if (stopped || (size_t)n < k) return rc;
  }
  return MS_OK;
}

ms_code ms_reader_read_batch(ms_reader *r, double timeout, size_t max, size_t *got,
                             ms_each_fn each, void *ctx, ms_error *err) {
  const char *data;
  size_t len;
  ms_sender from;
  ms_code rc;
  *got = 0;
  if (max == 0) return MS_OK;
  /* The first message waits as read() does and keeps FIFO with the queue. */
  if ((rc = ms_reader_read(r, timeout, &data, &len, &from, err)) != MS_OK) return rc;
  if (!each(data, len, &from, ctx)) return give_back(r, data, len, &from, err);
  *got = 1;
  while (r->queue.head && *got < max) {
    if ((rc = ms_reader_read(r, 0, &data, &len, &from, err)) != MS_OK) return rc;
    if (!each(data, len, &from, ctx)) return give_back(r, data, len, &from, err);
    ++*got;
  }
  return take_waiting(r, max, got, each, ctx, err);
}

ms_code ms_reader_info(ms_reader *r, ms_info *info, ms_error *err) {
  ms_code rc = drain(r, err);
  if (rc != MS_OK) return rc;
  info->max_size = r->max_size;
  info->count = r->queue.count;
  info->next_size = r->queue.head ? r->queue.head->len : 0;
  info->timeout = r->timeout;
  info->rejected = r->rejected;
  info->oversized = r->oversized;
  return MS_OK;
}

void ms_reader_settimeout(ms_reader *r, double timeout) { r->timeout = timeout; }
double ms_reader_timeout(const ms_reader *r) { return r->timeout; }
double ms_monotime(void) { return ms_now(); }
int ms_reader_fd(const ms_reader *r) { return r->fd; }
const char *ms_reader_name(const ms_reader *r) { return r->addr.name; }
const char *ms_reader_wait_path(const ms_reader *r) { (void)r; return "socket"; }
int ms_reader_pending(const ms_reader *r) { return r->queue.head != NULL; }

ms_code ms_wait(ms_reader *const *readers, size_t n, double timeout, int *ready,
                ms_error *err) {
  double deadline = ms_deadline(timeout);
  struct pollfd *fds = n ? calloc(n, sizeof *fds) : NULL;
  ms_code rc = MS_TIMEOUT;
  if (n && !fds) return ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory waiting on mailslots");
  for (;;) {
    size_t i;
    int any = 0, polled;
    for (i = 0; i < n; i++) {
      ready[i] = ms_reader_pending(readers[i]);
      any |= ready[i];
      fds[i].fd = readers[i]->fd;
      fds[i].events = POLLIN;
      fds[i].revents = 0;
    }
    if (any) { rc = MS_OK; break; }
    polled = poll(fds, (nfds_t)n, ms_poll_ms(deadline));
    if (polled < 0) {
      rc = ms_fail(err, errno == EINTR ? MS_INTERRUPTED : MS_SYSTEM, errno,
                   "waiting on mailslots: %s", strerror(errno));
      break;
    }
    /* Readable may still mean "only datagrams we drop": pull one to be sure. */
    for (i = 0; polled > 0 && i < n; i++) {
      if (fds[i].revents && enqueue_one(readers[i], err) == GOT_ERROR) {
        free(fds);
        return err->code;
      }
    }
    for (i = 0; i < n; i++) any |= ms_reader_pending(readers[i]);
    if (!any && ms_deadline_passed(deadline)) {
      rc = ms_fail_wait_timeout(err, ETIMEDOUT, readers, n);
      break;
    }
  }
  free(fds);
  return rc;
}

/* ---- creating and closing readers ---------------------------------------- */

/* The largest datagram a local writer can send: twice the send-buffer cap. */
static size_t largest_datagram(void) {
  long wmem_max = 212992;
  FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
  if (f) {
    if (fscanf(f, "%ld", &wmem_max) != 1) wmem_max = 212992;
    fclose(f);
  }
  return (size_t)wmem_max * 2 + MS_WIRE_HEADER_MAX;
}

ms_code ms_reader_create(const ms_name *name, const ms_reader_opts *opts,
                         ms_reader **out, ms_error *err) {
  ms_reader *r;
  ms_code rc;
  int one = 1, big = INT_MAX;
  if (name->kind != MS_NAME_LOCAL)
    return ms_fail(err, MS_INVALID_NAME, 0,
                   "cannot create mailslot %s: only local names (\\\\.\\mailslot\\...) can be read",
                   name->full);
  r = calloc(1, sizeof *r);
  if (!r) return ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory creating mailslot %s", name->full);
  r->fd = -1;
  rc = ms_addr_resolve(name, opts->dir, &r->addr, err);
  if (rc != MS_OK) goto fail;
  r->max_size = opts->max_size;
  r->timeout = opts->timeout;
  r->allow = opts->allow;
  r->network = opts->network;
  r->uid = geteuid();
  r->gid = getegid();
  /* A max_size above what a datagram carries (up to Windows' 2^32-1) means any size. */
  r->buf_size = largest_datagram();
  if (r->max_size && r->max_size < r->buf_size - MS_WIRE_HEADER_MAX)
    r->buf_size = r->max_size + MS_WIRE_HEADER_MAX + 1;
  r->buf = malloc(r->buf_size);
  if (!r->buf) {
    rc = ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory creating mailslot %s", name->full);
    goto fail;
  }
  /* Blocking: reads wait inside recvmsg (see set_recv_timeout); MSG_DONTWAIT otherwise. */
  r->recv_timeout = -1;
  r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (r->fd < 0) {
    rc = ms_fail(err, MS_SYSTEM, errno, "cannot create mailslot %s: %s", name->full, strerror(errno));
    goto fail;
  }
#ifdef SO_PASSCRED
  setsockopt(r->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
#endif
  (void)one;
  /* A deep receive buffer lets bursts of small messages queue without blocking writers. */
  setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  rc = ms_addr_bind(r->fd, &r->addr, opts->allow, &r->file_ino, err);
  if (rc != MS_OK) goto fail;
  {
    ms_meta facts;
    facts.uid = r->uid;
    facts.gid = r->gid;
    facts.allow = r->allow;
    facts.max_size = r->max_size;
    ms_meta_publish(&r->addr, r->fd, &facts, &r->meta);
  }
  ms_own_add(&r->own, &r->addr.sa, r->addr.len, r);
  r->creator = getpid();
  *out = r;
  return MS_OK;
fail:
  if (r->fd >= 0) close(r->fd);
  free(r->buf);
  free(r);
  return rc;
}

void ms_reader_close(ms_reader *r) {
  ms_own_remove(&r->own);
  if (r->creator == getpid()) {
    ms_meta_withdraw(&r->addr, &r->meta); /* the facts go first, the slot after */
    /* Unlink before closing: while our socket lives nobody may replace the file. */
    ms_addr_unbind(&r->addr, r->file_ino);
  } else if (r->meta.fd >= 0) {
    close(r->meta.fd); /* a forked copy: its descriptors only, the files stay its parent's */
  }
  close(r->fd);
  ms_msgqueue_clear(&r->queue);
  free(r->buf);
  free(r->batch);
  free(r);
}

/* ---- writers --------------------------------------------------------------- */

/* Learns the facts of the reader just connected to; MS_ACCESS when it refuses us. */
static ms_code learn_reader(ms_writer *w, ms_error *err) {
  ms_meta facts;
  w->cap = SIZE_MAX;
  if (!ms_meta_lookup(&w->addr, w->fd, &facts)) return MS_OK; /* unknown: the reader decides */
  if (!ms_meta_allows(&facts)) {
    w->cap = 0;
    return ms_fail(err, MS_ACCESS, EACCES, "mailslot %s: access denied", w->addr.name);
  }
  w->cap = facts.max_size && facts.max_size < SIZE_MAX ? facts.max_size + 1 : SIZE_MAX;
  return MS_OK;
}

static ms_code connect_writer(ms_writer *w, ms_error *err) {
  if (ms_addr_connect(w->fd, &w->addr) == 0) return learn_reader(w, err);
  w->cap = SIZE_MAX;
  switch (errno) {
  case ECONNREFUSED:
  case ENOENT:
    return ms_fail(err, MS_NOT_FOUND, errno, "mailslot %s does not exist", w->addr.name);
  case EACCES:
  case EPERM:
    return ms_fail(err, MS_ACCESS, errno, "mailslot %s: access denied", w->addr.name);
  default:
    return ms_fail(err, MS_SYSTEM, errno, "cannot open mailslot %s: %s", w->addr.name,
                   strerror(errno));
  }
}

ms_code ms_writer_open(const ms_name *name, const ms_writer_opts *opts,
                       ms_writer **out, ms_error *err) {
  ms_writer *w;
  ms_code rc;
  int big = INT_MAX;
  if (name->kind != MS_NAME_LOCAL)
    return ms_fail(err, MS_UNREACHABLE, 0,
                   "cannot open mailslot %s: remote mailslots are not available in this build",
                   name->full);
  w = calloc(1, sizeof *w);
  if (!w) return ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory opening mailslot %s", name->full);
  w->timeout = opts->timeout;
  rc = ms_addr_resolve(name, opts->dir, &w->addr, err);
  if (rc != MS_OK) goto fail;
  w->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (w->fd < 0) {
    rc = ms_fail(err, MS_SYSTEM, errno, "cannot open mailslot %s: %s", name->full, strerror(errno));
    goto fail;
  }
  /* Large messages need a large send buffer; the kernel caps it at wmem_max. */
  setsockopt(w->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  rc = connect_writer(w, err);
  if (rc != MS_OK) {
    close(w->fd);
    goto fail;
  }
  *out = w;
  return MS_OK;
fail:
  free(w);
  return rc;
}

/* One write call's state across its retries. */
typedef struct {
  int waited;      /* deadline set: the clock is read only when a write must wait */
  double deadline;
  int reconnected; /* a write reconnects once, as CSyncMailslotWriter did */
} send_state;

/* After a failed send: MS_OK means "send again", anything else is the answer. */
static ms_code after_send_error(ms_writer *w, int e, send_state *st, size_t len, ms_error *err) {
  ms_code rc;
  switch (e) {
  case EINTR:
    return MS_OK;
  case EAGAIN: {
    ms_reader *own = ms_own_find(&w->addr.sa, w->addr.len);
    if (own) { /* our own thread reads it: make room, never wait */
      size_t before = own->queue.count;
      ms_code rc2 = drain(own, err);
      if (rc2 != MS_OK || own->queue.count > before) return rc2;
      /* drained nothing (the name now belongs to another process): wait as usual */
    }
    if (w->timeout == 0) return ms_fail(err, MS_TIMEOUT, EAGAIN, "mailslot %s is full", w->addr.name);
    if (!st->waited) {
      st->waited = 1;
      st->deadline = ms_deadline(w->timeout);
    }
    rc = wait_fd(w->fd, POLLOUT, st->deadline, "writing to", w->addr.name, err);
    if (rc == MS_TIMEOUT)
      return ms_fail(err, MS_TIMEOUT, ETIMEDOUT,
                     "mailslot %s stayed full: its reader is not reading", w->addr.name);
    return rc;
  }
  case EMSGSIZE:
  case ENOBUFS:
    return ms_fail(err, MS_TOO_BIG, e, "message of %zu bytes is too big for mailslot %s on this system",
                   len, w->addr.name);
  case ECONNREFUSED:
  case ECONNRESET:
  case ENOTCONN:
  case EPIPE:
    /* Our reader went away; a new reader of the same name may be there. */
    if (!st->reconnected) {
      st->reconnected = 1;
      rc = connect_writer(w, err);
      if (rc != MS_NOT_FOUND) return rc;
    }
    return ms_fail(err, MS_CLOSED, ECONNREFUSED, "mailslot %s was closed by its reader",
                   w->addr.name);
  case EACCES:
  case EPERM:
    return ms_fail(err, MS_ACCESS, e, "mailslot %s: access denied", w->addr.name);
  default:
    return ms_fail(err, MS_SYSTEM, e, "cannot write to mailslot %s: %s", w->addr.name, strerror(e));
  }
}

/*
 * A message the reader would drop: too big for it, or any message when it
 * refuses this process. Before saying so, look again: the reader may have been
 * replaced by one that takes it. Only writes that fail pay for this.
 */
static ms_code refused(ms_writer *w, size_t len, ms_error *err) {
  ms_code rc = connect_writer(w, err);
  if (rc == MS_NOT_FOUND)
    return ms_fail(err, MS_CLOSED, ECONNREFUSED, "mailslot %s was closed by its reader",
                   w->addr.name);
  if (rc != MS_OK || len < w->cap) return rc;
  return ms_fail(err, MS_TOO_BIG, EMSGSIZE,
                 "message of %zu bytes is too big for mailslot %s: its reader takes at most %zu bytes",
                 len, w->addr.name, w->cap - 1);
}

/* Sends one framed datagram, waiting for room up to the writer's timeout. */
static ms_code send_framed(ms_writer *w, const ms_sender *relay_from,
                           const void *data, size_t len, ms_error *err) {
  send_state st = {0, 0, 0};
  unsigned char head[MS_WIRE_HEADER_MAX];
  struct iovec iov[2];
  struct msghdr mh;
  iov[0].iov_base = head;
  iov[0].iov_len = ms_wire_pack_header(head, relay_from);
  iov[1].iov_base = (void *)(uintptr_t)data; /* sendmsg only reads it */
  iov[1].iov_len = len;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  for (;;) {
    ms_code rc;
    if (len >= w->cap && (rc = refused(w, len, err)) != MS_OK) return rc;
    if (sendmsg(w->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return MS_OK;
    if ((rc = after_send_error(w, errno, &st, len, err)) != MS_OK) return rc;
  }
}

ms_code ms_writer_write_batch(ms_writer *w, const char *const *data, const size_t *lens,
                              size_t n, size_t *sent, ms_error *err) {
  static const unsigned char local_head = MS_WIRE_LOCAL;
  struct mmsghdr mm[BATCH_MAX];
  struct iovec iov[BATCH_MAX][2];
  send_state st = {0, 0, 0};
  size_t done = 0;
  while (done < n) {
    size_t i, k = n - done < BATCH_MAX ? n - done : BATCH_MAX;
    int m;
    ms_code rc;
    memset(mm, 0, sizeof mm[0] * k);
    /* A batch ends before a message the reader would drop. */
    for (i = 0; i < k && lens[done + i] < w->cap; i++) {
      iov[i][0].iov_base = (void *)(uintptr_t)&local_head;
      iov[i][0].iov_len = 1;
      iov[i][1].iov_base = (void *)(uintptr_t)data[done + i];
      iov[i][1].iov_len = lens[done + i];
      mm[i].msg_hdr.msg_iov = iov[i];
      mm[i].msg_hdr.msg_iovlen = 2;
    }
    if (i == 0) {
      if ((rc = refused(w, lens[done], err)) != MS_OK) {
        *sent = done;
        return rc;
      }
      continue;
    }
    k = i;
    m = sendmmsg(w->fd, mm, (unsigned)k, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (m > 0) {
      done += (size_t)m;
      continue;
    }
    if ((rc = after_send_error(w, errno, &st, lens[done], err)) != MS_OK) {
      *sent = done;
      return rc;
    }
  }
  *sent = done;
  return MS_OK;
}

ms_code ms_writer_write(ms_writer *w, const void *data, size_t len, ms_error *err) {
  return send_framed(w, NULL, data, len, err);
}

ms_code ms_writer_relay(ms_writer *w, const ms_sender *from, const void *data,
                        size_t len, ms_error *err) {
  return send_framed(w, from, data, len, err);
}

int ms_writer_fd(const ms_writer *w) { return w->fd; }
const char *ms_writer_name(const ms_writer *w) { return w->addr.name; }
void ms_writer_settimeout(ms_writer *w, double timeout) { w->timeout = timeout; }
double ms_writer_timeout(const ms_writer *w) { return w->timeout; }

void ms_writer_close(ms_writer *w) {
  close(w->fd);
  free(w);
}
