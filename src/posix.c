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
#include <sys/mman.h>
#ifdef __linux__
#include <sys/epoll.h>
#define HAVE_EPOLL 1
#endif
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define BATCH_MAX 64 /* messages per sendmmsg/recvmmsg call */
#define BATCH_BYTES (4u << 20) /* readmany's buffers together, whatever the message size */
/*
 * What one readmany hands over before it returns, and about what one recvmmsg
 * fills: large messages then come a few per call, received into buffers still
 * in the cache, and one call's strings stay below what makes malloc give memory
 * back to the system only to fault it in again (64 at a time, 64 KiB messages
 * came slower than with read). Small messages still come BATCH_MAX at a time.
 */
#define BATCH_HAND_BYTES (256u << 10)

#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif


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
  ms_stop *stop; /* asked when a signal interrupts a read (mailslot.h) */
  char *buf; /* one datagram as received, mapped at the first receive (map_buffer) */
  char *batch; /* batch_slots buffers of buf_size, slot_stride apart, made on first use */
  size_t buf_size, batch_slots;
  size_t batch_largest; /* the largest message the last readmany took: sizes its recvmmsg */
  uint64_t rejected, oversized;
  /* In a wait set (see "wait sets" below): */
  ms_waitset *set;     /* the set r is in, or NULL */
  size_t set_at;       /* its index in set->members */
  int reported;        /* the set reports it (it is not muted) */
  int hot;             /* may have a message: looked at by the next wait */
  size_t hot_at;       /* its index in set->hot, while in_hot */
  int in_hot;
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
  double send_timeout; /* SO_SNDTIMEO now set, seconds; -1 = not set */
  /*
   * Sends may sleep in the kernel: a full queue was met and its reader is not
   * one this thread must read. Cleared at each connect (a new reader).
   */
  int may_block;
  ms_stop *stop; /* asked when a signal interrupts a send (mailslot.h) */
};

/* ---- buffers --------------------------------------------------------------- */

/*
 * Receive buffers are mapped, not malloc'd: they must hold the largest
 * datagram a writer can send (megabytes), but only the pages messages land
 * in become resident, no commit charge is taken (MAP_NORESERVE), and they
 * are made at the first receive, so an idle reader costs none of it.
 *
 * A buffer starts half a page into its mapping: the kernel copies a large
 * datagram out of page-aligned pages, and into a page-aligned buffer that
 * copy ran three times slower here (AMD EPYC: 20 000 x 64 KiB in 0.7-1.1 s
 * against 0.29 s at any offset from 64 bytes to 3 000).
 */
#define PAGE_BYTES 4096u
#define RECV_SKEW (PAGE_BYTES / 2)

static char *map_buffer(size_t size) {
  void *p = mmap(NULL, size + RECV_SKEW, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : (char *)p + RECV_SKEW;
}

static void unmap_buffer(char *buf, size_t size) {
  if (buf) munmap(buf - RECV_SKEW, size + RECV_SKEW);
}

/* The distance between batch buffers: whole pages, so each starts as skewed as the first. */
static size_t slot_stride(size_t buf_size) {
  return (buf_size + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
}

/* r->buf exists from the first receive on; 0 (errno set) when it cannot be made. */
static int have_buffer(ms_reader *r) {
  return r->buf || (r->buf = map_buffer(r->buf_size)) != NULL;
}

/*
 * How many datagrams one recvmmsg may take: as many buffers of buf_size as
 * fit in BATCH_BYTES, at most BATCH_MAX. Below 2 there is no batch buffer
 * (readers of very large messages): readmany takes them one by one.
 */
static size_t slots_for(size_t buf_size) {
  size_t k = BATCH_BYTES / slot_stride(buf_size);
  return k < 2 ? 0 : k > BATCH_MAX ? BATCH_MAX : k;
}

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
  /* No sender credentials here: only the socket file's mode says who may
     send, and only "user" keeps everyone but the reader's user (and root)
     out. A wider reader cannot tell a relay from a forgery: refuse them. */
  (void)from;
  return r->allow == MS_ALLOW_USER;
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
  if (!have_buffer(r)) {
    ms_fail(err, MS_SYSTEM, errno, "out of memory reading mailslot %s", r->addr.name);
    return GOT_ERROR;
  }
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
        /* The waiting caller asks its stop check: resume, or back to Lua for Ctrl-C. */
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


/* After EINTR: 1 when the wait must end because the stop check says so. */
static int stop_asked(ms_stop *stop) {
  return stop && stop->requested(stop);
}

/*
 * A blocking recvmsg() with SO_RCVTIMEO waits in one system call (poll and
 * recv would be two per message), and the kernel hands over a datagram that
 * already waits without arming any timer. Unlike a plain blocking recv, it is
 * not restarted by the kernel after a signal handler: it returns EINTR, so
 * the stop check decides whether Ctrl-C ends the read or the read resumes.
 * The value set is the caller's timeout, not what is left of it, so a reader
 * reading with the same timeout again and again sets it once; only a wait
 * that must resume (a signal, a refused datagram) sets what is left.
 */
#define LONGEST_WAIT 3600.0 /* "forever" waits in slices of this */

/*
 * Event loops may make our descriptors non-blocking behind our back (libuv's
 * uv_poll_init does, for mailslot.luv's waits); a "blocking" call then
 * returns EAGAIN at once and a wait would spin. Called only when such a call
 * came back early: 1 when the descriptor was non-blocking and blocks again.
 */
static int restore_blocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0;
}

/* What a socket timeout option gets for a wait of `left` seconds (< 0: forever). */
static double wait_slice(double left) {
  return left < 0 || left > LONGEST_WAIT ? LONGEST_WAIT : left;
}

static int set_socket_timeout(int fd, int option, double seconds) {
  struct timeval tv;
  tv.tv_sec = (time_t)seconds;
  tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1; /* zero would mean "never" */
  return setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

static ms_code set_recv_timeout(ms_reader *r, double seconds, ms_error *err) {
  if (seconds == r->recv_timeout) return MS_OK;
  if (set_socket_timeout(r->fd, SO_RCVTIMEO, seconds) != 0)
    return ms_fail(err, MS_SYSTEM, errno, "reading mailslot %s: %s", r->addr.name, strerror(errno));
  r->recv_timeout = seconds;
  return MS_OK;
}

ms_code ms_reader_read(ms_reader *r, double timeout, const char **data,
                       size_t *len, ms_sender *from, ms_error *err) {
  double deadline, want;
  size_t off;
  ms_sender who;
  recv_result got;
  const ms_msg *queued = ms_msgqueue_take(&r->queue);
  if (queued) { /* taken off the socket earlier: FIFO before what is still there */
    *data = queued->data;
    *len = queued->len;
    if (from) *from = queued->from;
    return MS_OK;
  }
  if (timeout != 0) {
    deadline = ms_deadline(timeout);
    want = wait_slice(timeout);
    for (;;) {
      if (set_recv_timeout(r, want, err) != MS_OK) return err->code;
      got = recv_one(r, 0, &off, len, &who, err);
      if (got == GOT_MESSAGE) goto message;
      if (got == GOT_ERROR && (err->code != MS_INTERRUPTED || stop_asked(r->stop)))
        return err->code;
      /* Timed out, resumed after a signal, or a refused datagram: wait what is left. */
      if (timeout > 0) {
        want = deadline - ms_now();
        if (want <= 0) break;
      }
      if (got == GOT_NOTHING) restore_blocking(r->fd); /* back early: maybe made non-blocking */
      want = wait_slice(want);
    }
  }
  /* Time is up (or was 0), but what already waits is still taken. */
  got = recv_one(r, MSG_DONTWAIT, &off, len, &who, err);
  if (got == GOT_MESSAGE) goto message;
  if (got == GOT_ERROR) return err->code;
  if (timeout == 0)
    return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "no message in mailslot %s", r->addr.name);
  return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "no message in mailslot %s within %g s",
                 r->addr.name, timeout);
message:
  *data = r->buf + off;
  if (from) *from = who;
  return MS_OK;
}

/* A message each() could not take waits in the queue for the next read. */
static ms_code give_back(ms_reader *r, const char *data, size_t len, const ms_sender *from,
                         ms_error *err) {
  if (ms_msgqueue_give_back(&r->queue, data, len, from)) return MS_OK;
  return ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory keeping a message of mailslot %s",
                 r->addr.name);
}

/* What one readmany has handed over so far. */
typedef struct {
  size_t bytes, largest;
} handed;

static void hand(handed *h, size_t len) {
  h->bytes += len;
  if (len > h->largest) h->largest = len;
}

/* Takes what else is waiting, up to max more, one datagram per call, never waiting. */
static ms_code take_singles(ms_reader *r, size_t max, size_t *got, handed *h, ms_each_fn each,
                            void *ctx, ms_error *err) {
  while (*got < max && h->bytes < BATCH_HAND_BYTES) {
    size_t off, len;
    ms_sender from;
    recv_result res = recv_one(r, MSG_DONTWAIT, &off, &len, &from, err);
    if (res == GOT_ERROR) return err->code; /* what was taken stands (*got says) */
    if (res == GOT_NOTHING) return MS_OK;
    if (!each(r->buf + off, len, &from, ctx)) return give_back(r, r->buf + off, len, &from, err);
    hand(h, len);
    ++*got;
  }
  return MS_OK;
}

/* How many datagrams the next recvmmsg takes: as many of the largest size seen as fit in what is left. */
static size_t batch_size(const ms_reader *r, const handed *h, size_t want) {
  size_t largest = h->largest > r->batch_largest ? h->largest : r->batch_largest;
  size_t fit = (BATCH_HAND_BYTES - h->bytes) / (largest > 1024 ? largest : 1024);
  if (fit < 1) fit = 1;
  if (fit < want) want = fit;
  return want < r->batch_slots ? want : r->batch_slots;
}

/* Takes what else is waiting, up to max more, in recvmmsg calls that never wait. */
static ms_code take_waiting(ms_reader *r, size_t max, size_t *got, handed *h, ms_each_fn each,
                            void *ctx, ms_error *err) {
  struct mmsghdr mm[BATCH_MAX];
  struct iovec iov[BATCH_MAX];
  cred_space control[BATCH_MAX];
  size_t slots = r->batch_slots, stride = slot_stride(r->buf_size);
  if (!slots) return take_singles(r, max, got, h, each, ctx, err);
  if (!r->batch && !(r->batch = map_buffer(slots * stride)))
    return take_singles(r, max, got, h, each, ctx, err);
  while (*got < max && h->bytes < BATCH_HAND_BYTES) {
    size_t i, k = batch_size(r, h, max - *got);
    int n;
    memset(mm, 0, sizeof mm[0] * k);
    for (i = 0; i < k; i++) {
      iov[i].iov_base = r->batch + i * stride;
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
      const char *buf = r->batch + i * stride;
      if (!accept_datagram(r, buf, mm[i].msg_len, &mm[i].msg_hdr, &off, &len, &from)) continue;
      if (!stopped && each(buf + off, len, &from, ctx)) {
        hand(h, len);
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
  handed h = {0, 0};
  *got = 0;
  if (max == 0) return MS_OK;
  /* The first message waits as read() does and keeps FIFO with the queue. */
  if ((rc = ms_reader_read(r, timeout, &data, &len, &from, err)) != MS_OK) return rc;
  if (!each(data, len, &from, ctx)) return give_back(r, data, len, &from, err);
  hand(&h, len);
  *got = 1;
  while (r->queue.head && *got < max && h.bytes < BATCH_HAND_BYTES) {
    if ((rc = ms_reader_read(r, 0, &data, &len, &from, err)) != MS_OK) return rc;
    if (!each(data, len, &from, ctx)) return give_back(r, data, len, &from, err);
    hand(&h, len);
    ++*got;
  }
  rc = take_waiting(r, max, got, &h, each, ctx, err);
  r->batch_largest = h.largest;
  return rc;
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
void ms_reader_setstop(ms_reader *r, ms_stop *stop) { r->stop = stop; }
double ms_reader_timeout(const ms_reader *r) { return r->timeout; }
double ms_monotime(void) { return ms_now(); }
int ms_reader_fd(const ms_reader *r) { return r->fd; }
const char *ms_reader_name(const ms_reader *r) { return r->addr.name; }
const char *ms_reader_wait_path(const ms_reader *r) { (void)r; return "socket"; }
int ms_reader_pending(const ms_reader *r) { return r->queue.head != NULL; }

ms_code ms_wait(ms_reader *const *readers, size_t n, double timeout, int *ready,
                ms_stop *stop, ms_error *err) {
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
      if (errno == EINTR && !stop_asked(stop)) continue; /* resume: poll gets what is left */
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

/* ---- wait sets ------------------------------------------------------------- */

/*
 * A set's members are registered once with epoll, edge-triggered: each
 * datagram that arrives makes its reader "hot", and a wait looks only at hot
 * readers, so it costs what the readers with messages cost. A hot reader
 * stays hot until a look finds nothing in its queue or its socket; a datagram
 * arriving later makes it hot again. So a message is never missed: it came
 * with an event, and its reader is cold only once it was seen to be empty.
 * Muted members (no task waits on them) keep their registration and their
 * hot mark, but are not looked at until they are added back.
 *
 * After fork the epoll instance is shared with the parent: a child that
 * touched it would take the parent's events or unregister its readers. A
 * child's copy of a set lets go of it and polls its members instead.
 */
struct ms_waitset {
  int epfd;              /* -1: poll the reported members each wait */
  unsigned fork_gen;     /* fork_generation when epfd was made */
  ms_reader **members;
  ms_reader **hot;       /* reported members marked hot */
  size_t n, nhot, cap;
};

static volatile unsigned fork_generation;
static void count_fork(void) { fork_generation++; }
static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;
static void watch_forks(void) { pthread_atfork(NULL, NULL, count_fork); }

static void hot_push(ms_waitset *s, ms_reader *r) {
  if (r->in_hot) return;
  r->in_hot = 1;
  r->hot_at = s->nhot;
  s->hot[s->nhot++] = r;
}

static void hot_drop(ms_waitset *s, ms_reader *r) {
  ms_reader *last;
  if (!r->in_hot) return;
  r->in_hot = 0;
  last = s->hot[--s->nhot];
  s->hot[r->hot_at] = last;
  last->hot_at = r->hot_at;
}

/* In a forked child: leave the parent's epoll alone; every member is looked at once. */
static void leave_parents_epoll(ms_waitset *s) {
  size_t i;
  if (s->epfd < 0 || s->fork_gen == fork_generation) return;
  close(s->epfd); /* our copy only: the parent's registrations stay */
  s->epfd = -1;
  for (i = 0; i < s->n; i++) {
    s->members[i]->hot = 1;
    if (s->members[i]->reported) hot_push(s, s->members[i]);
  }
}

int ms_waitset_registers(void) {
#ifdef HAVE_EPOLL
  return 1;
#else
  return 0;
#endif
}

ms_code ms_waitset_new(ms_waitset **out, ms_error *err) {
  ms_waitset *s = calloc(1, sizeof *s);
  if (!s) return ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory making a wait set");
  pthread_once(&fork_watch, watch_forks);
  s->fork_gen = fork_generation;
  s->epfd = -1;
#ifdef HAVE_EPOLL
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (s->epfd < 0) {
    int e = errno;
    free(s);
    return ms_fail(err, MS_SYSTEM, e, "cannot make a wait set: %s", strerror(e));
  }
#endif
  *out = s;
  return MS_OK;
}

void ms_waitset_free(ms_waitset *s) {
  size_t i;
  for (i = 0; i < s->n; i++) {
    s->members[i]->set = NULL;
    s->members[i]->in_hot = 0;
  }
  if (s->epfd >= 0) close(s->epfd);
  free(s->members);
  free(s->hot);
  free(s);
}

static int grow_set(ms_waitset *s) {
  size_t cap = s->cap ? s->cap * 2 : 16;
  ms_reader **m, **h;
  if (cap > (size_t)-1 / sizeof *m) return 0;
  if (!(m = realloc(s->members, cap * sizeof *m))) return 0;
  s->members = m;
  if (!(h = realloc(s->hot, cap * sizeof *h))) return 0;
  s->hot = h;
  s->cap = cap;
  return 1;
}

ms_code ms_waitset_add(ms_waitset *s, ms_reader *r, ms_error *err) {
  leave_parents_epoll(s);
  if (r->set && r->set != s)
    return ms_fail(err, MS_EXISTS, 0, "mailslot %s is already in another wait set", r->addr.name);
  if (!r->set) {
    if (s->n == s->cap && !grow_set(s))
      return ms_fail(err, MS_SYSTEM, ENOMEM, "out of memory adding mailslot %s to a wait set",
                     r->addr.name);
#ifdef HAVE_EPOLL
    if (s->epfd >= 0) {
      struct epoll_event ev;
      memset(&ev, 0, sizeof ev);
      ev.events = EPOLLIN | EPOLLET;
      ev.data.ptr = r;
      if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, r->fd, &ev) != 0)
        return ms_fail(err, MS_SYSTEM, errno, "cannot wait on mailslot %s: %s", r->addr.name,
                       strerror(errno));
    }
#endif
    r->set = s;
    r->set_at = s->n;
    s->members[s->n++] = r;
    r->hot = 1; /* what arrived before it was registered: look once */
    r->in_hot = 0;
  }
  r->reported = 1;
  if (r->hot) hot_push(s, r);
  return MS_OK;
}

void ms_waitset_mute(ms_waitset *s, ms_reader *r) {
  if (r->set != s) return;
  r->reported = 0;
  hot_drop(s, r);
}

void ms_waitset_remove(ms_waitset *s, ms_reader *r) {
  ms_reader *last;
  if (r->set != s) return;
  leave_parents_epoll(s);
  ms_waitset_mute(s, r);
#ifdef HAVE_EPOLL
  if (s->epfd >= 0) epoll_ctl(s->epfd, EPOLL_CTL_DEL, r->fd, NULL);
#endif
  last = s->members[--s->n];
  s->members[r->set_at] = last;
  last->set_at = r->set_at;
  r->set = NULL;
}

/* Blocks until some member may have a message: marks it hot. <0 with errno on failure. */
static int sleep_on_set(ms_waitset *s, double deadline) {
  size_t i;
  int n;
#ifdef HAVE_EPOLL
  if (s->epfd >= 0) {
    struct epoll_event ev[64];
    n = epoll_wait(s->epfd, ev, 64, ms_poll_ms(deadline));
    for (i = 0; n > 0 && i < (size_t)n; i++) {
      ms_reader *r = ev[i].data.ptr;
      r->hot = 1;
      if (r->reported) hot_push(s, r);
    }
    return n;
  }
#endif
  {
    struct pollfd *fds = calloc(s->n ? s->n : 1, sizeof *fds);
    if (!fds) return errno = ENOMEM, -1;
    for (i = 0; i < s->n; i++) {
      fds[i].fd = s->members[i]->reported ? s->members[i]->fd : -1;
      fds[i].events = POLLIN;
    }
    n = poll(fds, (nfds_t)s->n, ms_poll_ms(deadline));
    for (i = 0; n > 0 && i < s->n; i++) {
      if (!fds[i].revents) continue;
      s->members[i]->hot = 1;
      hot_push(s, s->members[i]);
    }
    free(fds);
    return n;
  }
}

ms_code ms_waitset_wait(ms_waitset *s, double timeout, ms_reader **ready, size_t max,
                        size_t *got, ms_stop *stop, ms_error *err) {
  double deadline = ms_deadline(timeout);
  *got = 0;
  leave_parents_epoll(s);
  for (;;) {
    size_t i = 0;
    int n;
    while (i < s->nhot && *got < max) {
      ms_reader *r = s->hot[i];
      if (!ms_reader_pending(r)) {
        /* Readable may still mean "only datagrams we drop": pull one to be sure. */
        recv_result res = enqueue_one(r, err);
        if (res == GOT_ERROR) return err->code;
        if (res == GOT_NOTHING) { /* seen empty: cold until the next datagram */
          r->hot = 0;
          hot_drop(s, r); /* moves another one to i */
          continue;
        }
      }
      ready[(*got)++] = r;
      i++;
    }
    if (*got) return MS_OK;
    n = sleep_on_set(s, deadline);
    if (n < 0) {
      if (errno == EINTR && !stop_asked(stop)) continue; /* resume with what is left */
      return ms_fail(err, errno == EINTR ? MS_INTERRUPTED : MS_SYSTEM, errno,
                     "waiting on mailslots: %s", strerror(errno));
    }
    if (n == 0 && timeout == 0) /* a poll: the loops ask this on every turn, keep it cheap */
      return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "no message in a wait set's mailslots");
    if (n == 0 && ms_deadline_passed(deadline))
      return ms_fail(err, MS_TIMEOUT, ETIMEDOUT, "no message in a wait set's mailslots within %g s",
                     timeout);
  }
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
  r->batch_slots = slots_for(r->buf_size);
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
  free(r);
  return rc;
}

void ms_reader_close(ms_reader *r) {
  if (r->set) ms_waitset_remove(r->set, r);
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
  unmap_buffer(r->buf, r->buf_size);
  unmap_buffer(r->batch, r->batch_slots * slot_stride(r->buf_size));
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
  w->may_block = 0; /* a new reader: maybe one this thread reads */
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
  w->send_timeout = -1;
  rc = ms_addr_resolve(name, opts->dir, &w->addr, err);
  if (rc != MS_OK) goto fail;
  /* Blocking, so a send can sleep until there is room (prepare_send). */
  w->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
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
  int waited;      /* deadline set: the clock is read only when a write may wait */
  double deadline;
  int blocking;    /* the last try could sleep in the kernel */
  int reconnected; /* a write reconnects once, as CSyncMailslotWriter did */
} send_state;

/*
 * The flags of the next try. A writer that may wait, and whose reader is not
 * one this thread must read, sends blocking with SO_SNDTIMEO set to its
 * timeout (what is left of it when resuming), so a full queue costs one call
 * that sleeps in the kernel rather than EAGAIN, poll and a second send. The
 * value set is the writer's timeout, so it is set once, not on every write.
 */
static ms_code prepare_send(ms_writer *w, send_state *st, int *flags, ms_error *err) {
  double want = -1;
  *flags = MSG_NOSIGNAL | MSG_DONTWAIT;
  st->blocking = 0;
  if (!w->may_block || w->timeout == 0) return MS_OK;
  if (w->timeout > 0) {
    if (!st->waited) {
      st->waited = 1;
      st->deadline = ms_deadline(w->timeout);
      want = w->timeout;
    } else if ((want = st->deadline - ms_now()) <= 0) {
      return MS_OK; /* time is up: one last look */
    }
  }
  want = wait_slice(want);
  if (want != w->send_timeout) {
    if (set_socket_timeout(w->fd, SO_SNDTIMEO, want) != 0)
      return ms_fail(err, MS_SYSTEM, errno, "writing to mailslot %s: %s", w->addr.name,
                     strerror(errno));
    w->send_timeout = want;
  }
  *flags = MSG_NOSIGNAL;
  st->blocking = 1;
  return MS_OK;
}

/* After a failed send: MS_OK means "send again", anything else is the answer. */
static ms_code after_send_error(ms_writer *w, int e, send_state *st, size_t len, ms_error *err) {
  ms_code rc;
  switch (e) {
  case EINTR:
    if (stop_asked(w->stop)) /* back to Lua, so Ctrl-C can stop the script */
      return ms_fail(err, MS_INTERRUPTED, e, "writing to mailslot %s was interrupted",
                     w->addr.name);
    return MS_OK; /* resumes with what is left of the timeout */
  case EAGAIN:
    if (!st->blocking) {
      ms_reader *own = ms_own_find(&w->addr.sa, w->addr.len);
      if (own) { /* our own thread reads it: make room, never wait */
        size_t before = own->queue.count;
        ms_code rc2 = drain(own, err);
        if (rc2 != MS_OK || own->queue.count > before) return rc2;
        /* drained nothing (the name now belongs to another process): wait as usual */
      }
      if (w->timeout == 0)
        return ms_fail(err, MS_TIMEOUT, EAGAIN, "mailslot %s is full", w->addr.name);
    }
    if (st->waited && ms_deadline_passed(st->deadline))
      return ms_fail(err, MS_TIMEOUT, ETIMEDOUT,
                     "mailslot %s stayed full: its reader is not reading", w->addr.name);
    if (st->blocking) restore_blocking(w->fd); /* back early: maybe made non-blocking */
    w->may_block = 1;
    return MS_OK;
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
  send_state st = {0, 0, 0, 0};
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
    int flags;
    if (len >= w->cap && (rc = refused(w, len, err)) != MS_OK) return rc;
    if ((rc = prepare_send(w, &st, &flags, err)) != MS_OK) return rc;
    if (sendmsg(w->fd, &mh, flags) >= 0) return MS_OK;
    if ((rc = after_send_error(w, errno, &st, len, err)) != MS_OK) return rc;
  }
}

ms_code ms_writer_write_batch(ms_writer *w, const char *const *data, const size_t *lens,
                              size_t n, size_t *sent, ms_error *err) {
  static const unsigned char local_head = MS_WIRE_LOCAL;
  struct mmsghdr mm[BATCH_MAX];
  struct iovec iov[BATCH_MAX][2];
  send_state st = {0, 0, 0, 0};
  size_t done = 0;
  while (done < n) {
    size_t i, k = n - done < BATCH_MAX ? n - done : BATCH_MAX;
    int m, flags;
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
    if ((rc = prepare_send(w, &st, &flags, err)) != MS_OK) {
      *sent = done;
      return rc;
    }
    m = sendmmsg(w->fd, mm, (unsigned)k, flags);
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
void ms_writer_setstop(ms_writer *w, ms_stop *stop) { w->stop = stop; }
double ms_writer_timeout(const ms_writer *w) { return w->timeout; }

void ms_writer_close(ms_writer *w) {
  close(w->fd);
  free(w);
}
