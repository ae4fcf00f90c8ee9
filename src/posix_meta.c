/* Publishing and finding a reader's facts: see posix_meta.h. */
#define _GNU_SOURCE /* st_mtim */
#include "posix_meta.h"
#include "posix_diag.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __APPLE__
#define st_mtim st_mtimespec /* the modification time, to the nanosecond */
#endif

/* Not "mailslot\": list() must never show a meta socket as a slot. */
static const char META_PREFIX[] = "mailslot-meta\\";

int ms_meta_allows(const ms_meta *m) {
  /* The kernel stamps each datagram with the sender's real ids: judge those. */
  uid_t uid = getuid();
  if (m->allow == MS_ALLOW_ALL || uid == 0 || uid == m->uid) return 1;
  return m->allow == MS_ALLOW_GROUP && getgid() == m->gid;
}

static int valid_allow(unsigned a) { return a <= MS_ALLOW_ALL; }

/* ---- abstract namespace: a meta socket ------------------------------------ */

/*
 * "mailslot-meta\<hash>\<inode>\" into out, the start of the name of the meta
 * socket describing reader socket `ino`; returns its length.
 */
static size_t meta_stem(const ms_addr *addr, unsigned long ino, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s%016" PRIx64 "\\%lu\\", META_PREFIX, ms_addr_hash(addr->path), ino);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The rest of the name: "<uid>\<gid>\<allow>\<max_size>", as publish writes it. */
static size_t meta_facts(const ms_meta *m, char *out, size_t cap) {
  int n = snprintf(out, cap, "%lu\\%lu\\%u\\%zu", (unsigned long)m->uid, (unsigned long)m->gid,
                   (unsigned)m->allow, m->max_size);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void publish_socket(const ms_addr *addr, int fd, const ms_meta *m, ms_meta_pub *pub) {
  struct sockaddr_un sa;
  struct stat st;
  size_t stem, facts;
  int meta;
  if (fstat(fd, &st) != 0) return;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (!(stem = meta_stem(addr, (unsigned long)st.st_ino, sa.sun_path + 1, sizeof sa.sun_path - 1)) ||
      !(facts = meta_facts(m, sa.sun_path + 1 + stem, sizeof sa.sun_path - 1 - stem)))
    return;
  /*
   * A listening stream socket, so writers find it among the few listeners
   * the kernel lists (ms_diag_listeners), shut for reading so no connection
   * can ever wait on it.
   */
  meta = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (meta < 0) return;
  if (bind(meta, (const struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + stem + facts)) != 0 ||
      listen(meta, 0) != 0 || shutdown(meta, SHUT_RD) != 0) {
    close(meta);
    return;
  }
  pub->fd = meta;
}

/* A lookup in progress: the meta sockets that may describe one reader socket. */
typedef struct {
  char stem[64];
  size_t stem_len;
  uid_t uid; /* the reader socket's owner, as the kernel says */
  ms_meta facts;
  int found, conflict;
} lookup;

/*
 * Believes a meta socket only when its owner is the reader socket's owner
 * (nobody else can make one of those) and its name is exactly what publish
 * writes for that reader socket; two such that disagree make the facts unknown.
 */
static void consider(const char *name, size_t len, uid_t owner, void *ctx) {
  lookup *l = ctx;
  char rest[sizeof ((struct sockaddr_un *)0)->sun_path], again[sizeof rest];
  unsigned long uid, gid;
  unsigned allow;
  size_t max, n;
  ms_meta m;
  if (owner != l->uid || len <= l->stem_len || (n = len - l->stem_len) >= sizeof rest ||
      memcmp(name, l->stem, l->stem_len) != 0)
    return;
  memcpy(rest, name + l->stem_len, n);
  rest[n] = '\0';
  if (sscanf(rest, "%lu\\%lu\\%u\\%zu", &uid, &gid, &allow, &max) != 4 || !valid_allow(allow) ||
      uid != (unsigned long)owner)
    return;
  m.uid = (uid_t)uid;
  m.gid = (gid_t)gid;
  m.allow = (ms_allow)allow;
  m.max_size = max;
  if (meta_facts(&m, again, sizeof again) != n || memcmp(again, rest, n) != 0) return;
  if (l->found && (m.gid != l->facts.gid || m.allow != l->facts.allow ||
                   m.max_size != l->facts.max_size))
    l->conflict = 1;
  l->facts = m;
  l->found = 1;
}

/*
 * Asks the kernel (posix_diag.h), never /proc/net/unix: which socket the
 * writer's socket fd is connected to and who owns it, then the listening
 * meta sockets.
 */
static int lookup_socket(const ms_addr *addr, int fd, ms_meta *out) {
  ms_diag diag;
  lookup l;
  unsigned ino;
  int ok;
  memset(&l, 0, sizeof l);
  if (!ms_diag_open(&diag)) return 0;
  ok = ms_diag_peer(&diag, fd, &ino, &l.uid) &&
       (l.stem_len = meta_stem(addr, ino, l.stem, sizeof l.stem)) != 0 &&
       ms_diag_listeners(&diag, consider, &l);
  ms_diag_close(&diag);
  if (!ok || !l.found || l.conflict) return 0;
  *out = l.facts;
  return 1;
}

/* ---- socket files: a meta file ------------------------------------------- */

static int meta_file_path(const ms_addr *addr, char *out, size_t cap) {
  const char *base = strrchr(addr->sa.sun_path, '/');
  int n = snprintf(out, cap, "%s/.meta-%s", addr->dir, base ? base + 1 : addr->sa.sun_path);
  return n > 0 && (size_t)n < cap;
}

static void publish_file(const ms_addr *addr, const ms_meta *m, ms_meta_pub *pub) {
  char file[PATH_MAX + 16], tmp[PATH_MAX + 48];
  struct stat st;
  FILE *f;
  if (stat(addr->sa.sun_path, &st) != 0 || !meta_file_path(addr, file, sizeof file)) return;
  if (!ms_dir_trusted(addr->dir) || !(f = ms_open_fresh(file, tmp, sizeof tmp))) return;
  fprintf(f, "%lu %lld %ld %lu %lu %u %zu\n", (unsigned long)st.st_ino,
          (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, (unsigned long)m->uid,
          (unsigned long)m->gid, (unsigned)m->allow, m->max_size);
  /* A file another user planted cannot be replaced in the sticky directory: then none. */
  if (fclose(f) != 0 || rename(tmp, file) != 0) {
    unlink(tmp);
    return;
  }
  pub->has_file = 1;
  pub->ino = st.st_ino;
}

static int lookup_file(const ms_addr *addr, ms_meta *out) {
  char file[PATH_MAX + 16];
  struct stat sock;
  unsigned long ino, uid, gid;
  long long sec;
  long nsec;
  unsigned allow;
  size_t max;
  int n = 0, fd;
  FILE *f;
  if (!meta_file_path(addr, file, sizeof file) || stat(addr->sa.sun_path, &sock) != 0) return 0;
  /* A plain file of the socket file's owner, or nothing: no link, FIFO, nor plant. */
  if ((fd = ms_open_plain(file, sock.st_uid)) < 0) return 0;
  if (!(f = fdopen(fd, "r"))) {
    close(fd);
    return 0;
  }
  n = fscanf(f, "%lu %lld %ld %lu %lu %u %zu", &ino, &sec, &nsec, &uid, &gid, &allow, &max);
  fclose(f);
  /* It must describe the socket file in place now, and come from that file's owner. */
  if (n != 7 || !valid_allow(allow) || ino != (unsigned long)sock.st_ino ||
      sec != (long long)sock.st_mtim.tv_sec || nsec != (long)sock.st_mtim.tv_nsec ||
      uid != (unsigned long)sock.st_uid)
    return 0;
  out->uid = (uid_t)uid;
  out->gid = (gid_t)gid;
  out->allow = (ms_allow)allow;
  out->max_size = max;
  return 1;
}

/* ---- both ------------------------------------------------------------------ */

void ms_meta_publish(const ms_addr *addr, int fd, const ms_meta *facts, ms_meta_pub *pub) {
  pub->fd = -1;
  pub->has_file = 0;
  pub->ino = 0;
  if (addr->in_dir) publish_file(addr, facts, pub);
  else publish_socket(addr, fd, facts, pub);
}

void ms_meta_withdraw(const ms_addr *addr, ms_meta_pub *pub) {
  char file[PATH_MAX + 16];
  struct stat st;
  if (pub->fd >= 0) close(pub->fd); /* before the reader's socket: never a meta without it */
  pub->fd = -1;
  /* Only while the socket file is still ours: else the meta is a newer reader's. */
  if (pub->has_file && stat(addr->sa.sun_path, &st) == 0 && st.st_ino == pub->ino &&
      meta_file_path(addr, file, sizeof file))
    unlink(file);
  pub->has_file = 0;
}

int ms_meta_lookup(const ms_addr *addr, int fd, ms_meta *out) {
  return addr->in_dir ? lookup_file(addr, out) : lookup_socket(addr, fd, out);
}
