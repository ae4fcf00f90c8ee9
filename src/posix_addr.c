/* Mailslot names to AF_UNIX addresses, claiming them, listing them: posix_addr.h. */
#define _GNU_SOURCE
#include "posix_addr.h"
#include "posix_clock.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The prefix of abstract names; /proc/net/unix shows them as "@mailslot\...". */
static const char ABSTRACT_PREFIX[] = "mailslot\\";

uint64_t ms_addr_hash(const char *s) {
  uint64_t h = 14695981039346656037ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static const char *chosen_dir(const char *dir) {
  const char *env;
  if (dir) return dir;
  env = getenv("MAILSLOT_DIR");
  if (env && *env) return env;
#ifdef __linux__
  return NULL; /* the abstract namespace */
#else
  return "/tmp/.mailslot"; /* no abstract namespace: a shared directory */
#endif
}

/*
 * An address holding a hash cannot be turned back into the name, so the
 * reader leaves the name in a small file named by the hash: in the socket
 * directory (dot-file, so list skips it) or, for abstract names, in NAMES_DIR.
 * list() believes a name file only when the name hashes to the address, so a
 * stale or planted file can never show a wrong name.
 */
#define NAMES_DIR "/tmp/.mailslot-names"

static void name_file_path(const ms_addr *addr, uint64_t hash, char *out, size_t cap) {
  if (addr->in_dir) snprintf(out, cap, "%s/.~%016llx", addr->dir, (unsigned long long)hash);
  else snprintf(out, cap, "%s/%016llx", NAMES_DIR, (unsigned long long)hash);
}

FILE *ms_open_fresh(const char *target, char *tmp, size_t cap) {
  int fd, n = snprintf(tmp, cap, "%s.%ld", target, (long)getpid());
  FILE *f;
  if (n < 0 || (size_t)n >= cap) return NULL;
  unlink(tmp); /* ours from an earlier run, or a plant: never written through */
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return NULL;
  fchmod(fd, 0644); /* whatever the umask */
  if (!(f = fdopen(fd, "w"))) {
    close(fd);
    unlink(tmp);
  }
  return f;
}

int ms_dir_trusted(const char *dir) {
  struct stat st;
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
  if (st.st_uid != 0 && st.st_uid != geteuid()) return 0;
  return !(st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_mode & S_ISVTX);
}

int ms_open_plain(const char *path, uid_t owner) {
  struct stat before, after;
  int fd;
  /* lstat first: a FIFO or a device is never opened, not even without blocking. */
  if (lstat(path, &before) != 0) return -1;
  if (!S_ISREG(before.st_mode) || (owner != (uid_t)-1 && before.st_uid != owner)) {
    errno = EPERM;
    return -1;
  }
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return -1;
  /* Still the file lstat saw: it was not swapped in between. */
  if (fstat(fd, &after) != 0 || after.st_dev != before.st_dev || after.st_ino != before.st_ino) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

/* Best effort: without the file list() shows the hashed form. */
static void write_name_file(const ms_addr *addr) {
  char file[PATH_MAX + 32], tmp[PATH_MAX + 48];
  FILE *f;
  if (!addr->in_dir && mkdir(NAMES_DIR, 01777) == 0) chmod(NAMES_DIR, 01777);
  if (!ms_dir_trusted(addr->in_dir ? addr->dir : NAMES_DIR)) return;
  name_file_path(addr, ms_addr_hash(addr->path), file, sizeof file);
  if (!(f = ms_open_fresh(file, tmp, sizeof tmp))) return;
  fputs(addr->path, f);
  if (fclose(f) != 0 || rename(tmp, file) != 0) unlink(tmp);
}

/*
 * The path behind `hex` (16 hex digits), if its name file says so truly. A
 * name file is a plain file, of `owner` (the socket file's) in a directory;
 * anything else (a link, a FIFO that would block, a plant) is not read.
 */
static int read_name_file(const ms_addr *where, const char *hex, uid_t owner, char *path,
                          size_t cap) {
  char file[PATH_MAX + 32];
  uint64_t hash = strtoull(hex, NULL, 16);
  ssize_t n;
  int fd;
  name_file_path(where, hash, file, sizeof file);
  if ((fd = ms_open_plain(file, owner)) < 0) return 0;
  n = read(fd, path, cap - 1);
  close(fd);
  if (n <= 0) return 0;
  path[n] = '\0';
  return ms_addr_hash(path) == hash;
}

/* Whether s ends in "~" and 16 lower-case hex digits; returns the digits. */
static const char *hash_suffix(const char *s) {
  size_t len = strlen(s), i;
  if (len < 17 || s[len - 17] != '~') return NULL;
  for (i = len - 16; i < len; i++)
    if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) return NULL;
  return s + len - 16;
}

/* '\' and '%' become %5c and %25 so a path is one reversible file name. */
static size_t encode_file_name(const char *path, char *out, size_t cap) {
  size_t n = 0;
  for (; *path; path++) {
    const char *piece = *path == '\\' ? "%5c" : *path == '%' ? "%25" : NULL;
    size_t plen = piece ? 3 : 1;
    if (n + plen >= cap) return cap;
    if (piece) memcpy(out + n, piece, 3);
    else out[n] = *path;
    n += plen;
  }
  out[n] = '\0';
  return n;
}

static void decode_file_name(const char *file, char *out, size_t cap) {
  size_t n = 0;
  for (; *file && n + 1 < cap; n++) {
    if (file[0] == '%' && isxdigit((unsigned char)file[1]) && isxdigit((unsigned char)file[2])) {
      char hex[3] = {file[1], file[2], 0};
      out[n] = (char)strtol(hex, NULL, 16);
      file += 3;
    } else {
      out[n] = *file++;
    }
  }
  out[n] = '\0';
}

ms_code ms_addr_resolve(const ms_name *name, const char *dir, ms_addr *out, ms_error *err) {
  size_t room = sizeof out->sa.sun_path;
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", name->full);
  snprintf(out->path, sizeof out->path, "%s", name->path);
  out->sa.sun_family = AF_UNIX;
  dir = chosen_dir(dir);
  if (dir) {
    char file[MS_NAME_BYTES * 3 + 1]; /* each byte at most "%xx" */
    size_t flen = encode_file_name(name->path, file, sizeof file);
    if (strlen(dir) + 24 >= room || strlen(dir) >= sizeof out->dir)
      return ms_fail(err, MS_INVALID_NAME, ENAMETOOLONG,
                     "mailslot %s: directory %s is too long for a socket path", name->full, dir);
    out->in_dir = 1;
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    if (strlen(dir) + 1 + flen >= room) {
      out->hashed = 1;
      snprintf(out->sa.sun_path, room, "%s/~%016llx", dir,
               (unsigned long long)ms_addr_hash(name->path));
    } else {
      size_t dlen = strlen(dir); /* dir/file fits: checked above */
      memcpy(out->sa.sun_path, dir, dlen);
      out->sa.sun_path[dlen] = '/';
      memcpy(out->sa.sun_path + dlen + 1, file, flen + 1);
    }
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(out->sa.sun_path) + 1);
  } else {
    /* Abstract: sun_path[0] is NUL and the length says where the name ends. */
    size_t plen = strlen(name->path), head = sizeof ABSTRACT_PREFIX - 1;
    memcpy(out->sa.sun_path + 1, ABSTRACT_PREFIX, head);
    if (1 + head + plen <= room) {
      memcpy(out->sa.sun_path + 1 + head, name->path, plen);
    } else {
      char tail[18];
      size_t keep = room - 1 - head - 17;
      out->hashed = 1;
      memcpy(out->sa.sun_path + 1 + head, name->path, keep);
      plen = keep + 17;
      /* Exactly 17 bytes, no NUL: the abstract name ends where the length says. */
      snprintf(tail, sizeof tail, "~%016llx", (unsigned long long)ms_addr_hash(name->path));
      memcpy(out->sa.sun_path + 1 + head + keep, tail, 17);
    }
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + head + plen);
  }
  return MS_OK;
}

/*
 * Whether a reader is alive behind a socket file (*st: what lstat saw there).
 * Anything but a socket (a link to somewhere else, a file, a FIFO) is not a
 * reader: connect() would follow a link.
 */
static int socket_file_alive(const struct sockaddr_un *sa, socklen_t len, struct stat *st) {
  int fd, alive;
  if (lstat(sa->sun_path, st) != 0) {
    int e = errno;
    memset(st, 0, sizeof *st); /* no mode: not a socket file to anyone who looks */
    return e != ENOENT; /* cannot tell: never remove what may be live */
  }
  if (!S_ISSOCK(st->st_mode)) return 0;
  if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) return 1;
  alive = connect(fd, (const struct sockaddr *)sa, len) == 0 || errno != ECONNREFUSED;
  close(fd);
  return alive;
}

static ms_code bind_error(const ms_addr *addr, int e, ms_error *err) {
  if (e == EADDRINUSE) return ms_fail(err, MS_EXISTS, e, "mailslot %s already exists", addr->name);
  if (e == EACCES || e == EPERM || e == EROFS)
    return ms_fail(err, MS_ACCESS, e, "cannot create mailslot %s: %s", addr->name, strerror(e));
  return ms_fail(err, MS_SYSTEM, e, "cannot create mailslot %s: %s", addr->name, strerror(e));
}

/* Makes the shared directory: sticky and world-writable like /tmp. One that
 * exists must be trusted (ms_dir_trusted): another user could otherwise swap
 * the files readers and writers rely on. */
static ms_code ensure_dir(const ms_addr *addr, ms_error *err) {
  if (mkdir(addr->dir, 01777) == 0) {
    chmod(addr->dir, 01777); /* the umask narrowed what mkdir set */
    return MS_OK;
  }
  if (errno == EEXIST) {
    if (ms_dir_trusted(addr->dir)) return MS_OK;
    return ms_fail(err, MS_ACCESS, EPERM,
                   "cannot create mailslot %s: directory %s is not safe (not ours or root's, "
                   "or writable by others without the sticky bit)", addr->name, addr->dir);
  }
  return ms_fail(err, errno == EACCES ? MS_ACCESS : MS_SYSTEM, errno,
                 "cannot create mailslot %s: directory %s: %s", addr->name, addr->dir,
                 strerror(errno));
}

/*
 * Two readers of one user must not both judge one stale file and both replace
 * it: they take this user's lock of the directory, `.lock-<uid>`, a plain
 * file of ours with mode 0600 that no other user can open, let alone hold.
 * Whatever another user plants under that name (a link, a FIFO, a file of
 * theirs) is never opened: root removes it (sticky directories let it),
 * anyone else is told `access`.
 */
static ms_code open_lock(const ms_addr *addr, int *lock, ms_error *err) {
  char path[PATH_MAX + 32];
  uid_t me = geteuid();
  int tries;
  snprintf(path, sizeof path, "%s/.lock-%lu", addr->dir, (unsigned long)me);
  for (tries = 0; tries < 2; tries++) {
    /* O_EXCL: a new file of ours, never through a link. flock needs no write. */
    *lock = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*lock >= 0) return MS_OK;
    if (errno != EEXIST)
      return ms_fail(err, errno == EACCES || errno == EROFS ? MS_ACCESS : MS_SYSTEM, errno,
                     "cannot create mailslot %s: lock file %s: %s", addr->name, path,
                     strerror(errno));
    if ((*lock = ms_open_plain(path, me)) >= 0) return MS_OK; /* ours from before */
    if (me != 0 || unlink(path) != 0) break;
  }
  return ms_fail(err, MS_ACCESS, EPERM,
                 "cannot create mailslot %s: lock file %s is not this user's plain file "
                 "(planted by another user?)", addr->name, path);
}

#define LOCK_WAIT 2.0 /* seconds: the lock is held for a bind or two, never longer */

/* Takes the lock, waiting at most LOCK_WAIT: only this user's processes can hold it. */
static ms_code take_lock(const ms_addr *addr, int lock, ms_error *err) {
  double deadline = ms_deadline(LOCK_WAIT);
  int pause_ms = 1;
  while (flock(lock, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return ms_fail(err, MS_SYSTEM, errno, "cannot create mailslot %s: locking %s: %s",
                     addr->name, addr->dir, strerror(errno));
    if (ms_deadline_passed(deadline))
      return ms_fail(err, MS_TIMEOUT, ETIMEDOUT,
                     "cannot create mailslot %s: another process of this user held the lock "
                     "of %s for %g s", addr->name, addr->dir, LOCK_WAIT);
    poll(NULL, 0, pause_ms);
    if (pause_ms < 64) pause_ms *= 2;
  }
  return MS_OK;
}

static ms_code bind_file(int fd, const ms_addr *addr, ms_allow allow, ino_t *ino, ms_error *err) {
  static const mode_t modes[] = {0600, 0660, 0666}; /* by ms_allow */
  struct stat st;
  int lock, rc, e;
  ms_code code = ensure_dir(addr, err);
  if (code != MS_OK || (code = open_lock(addr, &lock, err)) != MS_OK) return code;
  if ((code = take_lock(addr, lock, err)) != MS_OK) {
    close(lock);
    return code;
  }
  rc = bind(fd, (const struct sockaddr *)&addr->sa, addr->len);
  if (rc != 0 && errno == EADDRINUSE && !socket_file_alive(&addr->sa, addr->len, &st)) {
    unlink(addr->sa.sun_path); /* left by a reader that was killed, or not a socket */
    rc = bind(fd, (const struct sockaddr *)&addr->sa, addr->len);
  }
  e = errno;
  /* lstat, and chmod only our socket: never through a link. */
  if (rc == 0 && lstat(addr->sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
      st.st_uid == geteuid()) {
    chmod(addr->sa.sun_path, modes[allow]);
    *ino = st.st_ino;
  }
  close(lock);
  return rc == 0 ? MS_OK : bind_error(addr, e, err);
}

ms_code ms_addr_bind(int fd, const ms_addr *addr, ms_allow allow, ino_t *file_ino,
                     ms_error *err) {
  ms_code rc = MS_OK;
  *file_ino = 0;
  if (addr->in_dir) rc = bind_file(fd, addr, allow, file_ino, err);
  else if (bind(fd, (const struct sockaddr *)&addr->sa, addr->len) != 0)
    rc = bind_error(addr, errno, err);
  if (rc == MS_OK && addr->hashed) write_name_file(addr);
  return rc;
}

int ms_addr_connect(int fd, const ms_addr *addr) {
  struct stat st;
  /* connect() follows links: anything but a socket file there is no reader. */
  if (addr->in_dir && lstat(addr->sa.sun_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
    errno = ECONNREFUSED;
    return -1;
  }
  return connect(fd, (const struct sockaddr *)&addr->sa, addr->len);
}

void ms_addr_unbind(const ms_addr *addr, ino_t file_ino) {
  struct stat st;
  char file[PATH_MAX + 32];
  if (addr->in_dir && (lstat(addr->sa.sun_path, &st) != 0 || st.st_ino != file_ino))
    return; /* a newer reader owns the name now, and its name file */
  if (addr->hashed) {
    name_file_path(addr, ms_addr_hash(addr->path), file, sizeof file);
    unlink(file);
  }
  if (addr->in_dir) unlink(addr->sa.sun_path);
}

/* ---- listing ---------------------------------------------------------------- */

/* `where` says where name files live (dir mode or not) for hashed addresses. */
static void report(const ms_addr *where, const char *path, uid_t owner,
                   void (*each)(const char *, void *), void *ctx) {
  char full[MS_NAME_BYTES + 16], real[MS_NAME_BYTES];
  const char *hex = hash_suffix(path);
  if (hex && read_name_file(where, hex, owner, real, sizeof real)) path = real;
  snprintf(full, sizeof full, "\\\\.\\mailslot\\%s", path);
  each(full, ctx);
}

static ms_code list_abstract(void (*each)(const char *, void *), void *ctx, ms_error *err) {
  char line[1024];
  FILE *f = fopen("/proc/net/unix", "r");
  size_t head = sizeof ABSTRACT_PREFIX - 1;
  ms_addr where;
  memset(&where, 0, sizeof where);
  if (!f)
    return ms_fail(err, MS_SYSTEM, errno, "cannot list mailslots: /proc/net/unix: %s",
                   strerror(errno));
  while (fgets(line, sizeof line, f)) {
    unsigned type;
    int at = 0;
    char *path;
    /* Num RefCount Protocol Flags Type St Inode Path */
    if (sscanf(line, "%*s %*s %*s %*s %x %*s %*s %n", &type, &at) < 1 || at == 0) continue;
    path = line + at;
    path[strcspn(path, "\n")] = '\0';
    if (type == SOCK_DGRAM && path[0] == '@' && strncmp(path + 1, ABSTRACT_PREFIX, head) == 0)
      report(&where, path + 1 + head, (uid_t)-1, each, ctx); /* anyone may bind any name */
  }
  fclose(f);
  return MS_OK;
}

static ms_code list_dir(const char *dir, void (*each)(const char *, void *), void *ctx,
                        ms_error *err) {
  DIR *d = opendir(dir);
  struct dirent *e;
  ms_addr where;
  memset(&where, 0, sizeof where);
  where.in_dir = 1;
  snprintf(where.dir, sizeof where.dir, "%s", dir);
  if (!d) {
    if (errno == ENOENT) return MS_OK; /* no reader has made it yet */
    return ms_fail(err, errno == EACCES ? MS_ACCESS : MS_SYSTEM, errno,
                   "cannot list mailslots in %s: %s", dir, strerror(errno));
  }
  while ((e = readdir(d)) != NULL) {
    struct sockaddr_un sa;
    struct stat st;
    char path[MS_NAME_BYTES];
    int n;
    if (e->d_name[0] == '.') continue;
    sa.sun_family = AF_UNIX;
    n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, e->d_name);
    if (n < 0 || (size_t)n >= sizeof sa.sun_path) continue;
    if (!socket_file_alive(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1),
                           &st) || !S_ISSOCK(st.st_mode))
      continue; /* stale (its reader was killed), or not a socket file */
    decode_file_name(e->d_name, path, sizeof path);
    report(&where, path, st.st_uid, each, ctx);
  }
  closedir(d);
  return MS_OK;
}

ms_code ms_list(const char *dir, void (*each)(const char *name, void *ctx), void *ctx,
                ms_error *err) {
  dir = chosen_dir(dir);
  return dir ? list_dir(dir, each, ctx, err) : list_abstract(each, ctx, err);
}

void ms_this_host(char host[MS_THIS_HOST_SIZE]) {
  char buf[256] = "";
  const char *env = getenv("MAILSLOT_COMPUTERNAME");
  size_t i;
  if (env && *env) snprintf(buf, sizeof buf, "%s", env);
  else if (gethostname(buf, sizeof buf - 1) != 0) snprintf(buf, sizeof buf, "LOCALHOST");
  buf[strcspn(buf, ".")] = '\0'; /* a DNS name's first label */
  for (i = 0; i < MS_THIS_HOST_SIZE - 1 && buf[i]; i++)
    host[i] = (char)toupper((unsigned char)buf[i]);
  host[i] = '\0';
}
