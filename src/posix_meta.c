/* Publishing and finding a reader's facts: see posix_meta.h. */
#define _GNU_SOURCE /* st_mtim */
#include "posix_meta.h"

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

/* "mailslot-meta\<hash>\" into out; returns its length. */
static size_t meta_stem(const ms_addr *addr, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s%016" PRIx64 "\\", META_PREFIX, ms_addr_hash(addr->path));
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void publish_socket(const ms_addr *addr, int fd, const ms_meta *m, ms_meta_pub *pub) {
  struct sockaddr_un sa;
  struct stat st;
  char stem[64];
  int n, meta;
  if (fstat(fd, &st) != 0 || !meta_stem(addr, stem, sizeof stem)) return;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "%s%lu\\%lu\\%lu\\%u\\%zu", stem,
               (unsigned long)st.st_ino, (unsigned long)m->uid, (unsigned long)m->gid,
               (unsigned)m->allow, m->max_size);
  if (n <= 0 || (size_t)n >= sizeof sa.sun_path - 1) return;
  meta = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (meta < 0) return;
  /* Nobody reads it: the smallest buffer, and no SO_PASSCRED. */
  if (bind(meta, (const struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) != 0) {
    close(meta);
    return;
  }
  pub->fd = meta;
}

/*
 * Reads /proc/net/unix once: the inode of the socket bound at addr, and the
 * metas of its path. Believes the one meta that names that inode.
 */
static int lookup_socket(const ms_addr *addr, ms_meta *out) {
  char line[512], want[sizeof addr->sa.sun_path + 1], stem[64];
  size_t wlen = addr->len - offsetof(struct sockaddr_un, sun_path), slen;
  unsigned long live = 0, ino;
  int found_live = 0, matches = 0;
  ms_meta cand[4];
  unsigned long cand_ino[4];
  size_t ncand = 0, i;
  FILE *f;
  if (!(slen = meta_stem(addr, stem, sizeof stem)) || wlen < 2) return 0;
  want[0] = '@'; /* how /proc/net/unix shows the leading NUL */
  memcpy(want + 1, addr->sa.sun_path + 1, wlen - 1);
  want[wlen] = '\0';
  if (!(f = fopen("/proc/net/unix", "r"))) return 0;
  while (fgets(line, sizeof line, f)) {
    unsigned type;
    int at = 0;
    char *path;
    /* Num RefCount Protocol Flags Type St Inode Path */
    if (sscanf(line, "%*s %*s %*s %*s %x %*s %lu %n", &type, &ino, &at) < 2 || at == 0 ||
        type != SOCK_DGRAM)
      continue;
    path = line + at;
    if (path[0] != '@') continue;
    path[strcspn(path, "\n")] = '\0';
    if (strcmp(path, want) == 0) {
      live = ino;
      found_live = 1;
    } else if (strncmp(path + 1, stem, slen) == 0 && ncand < sizeof cand / sizeof cand[0]) {
      unsigned long named, uid, gid;
      unsigned allow;
      size_t max;
      char tail;
      if (sscanf(path + 1 + slen, "%lu\\%lu\\%lu\\%u\\%zu%c", &named, &uid, &gid, &allow, &max,
                 &tail) != 5 || !valid_allow(allow))
        continue;
      cand[ncand].uid = (uid_t)uid;
      cand[ncand].gid = (gid_t)gid;
      cand[ncand].allow = (ms_allow)allow;
      cand[ncand].max_size = max;
      cand_ino[ncand++] = named;
    }
  }
  fclose(f);
  if (!found_live) return 0;
  for (i = 0; i < ncand; i++)
    if (cand_ino[i] == live) {
      *out = cand[i];
      matches++;
    }
  return matches == 1; /* two claim the same reader: trust neither */
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
  struct stat sock, meta;
  unsigned long ino, uid, gid;
  long long sec;
  long nsec;
  unsigned allow;
  size_t max;
  int n = 0, fd;
  FILE *f;
  if (!meta_file_path(addr, file, sizeof file) || stat(addr->sa.sun_path, &sock) != 0) return 0;
  if ((fd = ms_open_plain(file, sock.st_uid)) < 0) return 0; /* no link, FIFO, nor plant */
  if (fstat(fd, &meta) != 0 || !S_ISREG(meta.st_mode) || !(f = fdopen(fd, "r"))) {
    close(fd);
    return 0;
  }
  n = fscanf(f, "%lu %lld %ld %lu %lu %u %zu", &ino, &sec, &nsec, &uid, &gid, &allow, &max);
  fclose(f);
  /* It must describe the socket file in place now, and come from that file's owner. */
  if (n != 7 || !valid_allow(allow) || ino != (unsigned long)sock.st_ino ||
      sec != (long long)sock.st_mtim.tv_sec || nsec != (long)sock.st_mtim.tv_nsec ||
      meta.st_uid != sock.st_uid || uid != (unsigned long)sock.st_uid)
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

int ms_meta_lookup(const ms_addr *addr, ms_meta *out) {
  return addr->in_dir ? lookup_file(addr, out) : lookup_socket(addr, out);
}
