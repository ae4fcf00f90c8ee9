/*
 * Where a mailslot lives on POSIX: its socket address, in Linux's abstract
 * namespace or as a socket file in a directory, and how a reader claims it.
 */
#ifndef POSIX_ADDR_H
#define POSIX_ADDR_H

#include "mailslot.h"

#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

typedef struct {
  char name[MS_FULL_BYTES]; /* canonical name, for messages */
  struct sockaddr_un sa;
  socklen_t len;
  int in_dir; /* 1: a socket file below dir */
  int hashed; /* 1: the path was too long and the address holds its hash */
  char path[MS_NAME_BYTES]; /* the canonical path, for the name file of a hashed address */
  char dir[PATH_MAX];
} ms_addr;

/* dir: the `dir` option (or NULL); MAILSLOT_DIR and the platform decide next. */
ms_code ms_addr_resolve(const ms_name *name, const char *dir, ms_addr *out, ms_error *err);

/* Binds fd as the one reader of addr; a stale socket file is replaced. */
ms_code ms_addr_bind(int fd, const ms_addr *addr, ms_allow allow, ino_t *file_ino,
                     ms_error *err);

/* FNV-1a of a canonical path: stands in for a path too long for sun_path. */
uint64_t ms_addr_hash(const char *path);

/*
 * Opens a fresh temporary file beside `target` (its name goes to tmp) for
 * writing, refusing to follow a link or reuse a file someone planted there;
 * NULL when it cannot. Rename it over target when written.
 */
FILE *ms_open_fresh(const char *target, char *tmp, size_t cap);

/* Whether a shared directory is one we may trust: a real directory owned by
 * root or us, and sticky if others may write to it. */
int ms_dir_trusted(const char *dir);

/*
 * Opens a plain file in a shared directory for reading: never through a link,
 * never a FIFO or device (so never blocking), only of `owner` ((uid_t)-1:
 * anyone's). -1 with errno otherwise.
 */
int ms_open_plain(const char *path, uid_t owner);

/* connect() to a reader's address; in a directory, never through a link. */
int ms_addr_connect(int fd, const ms_addr *addr);

/* Removes the socket file if it is still the one we bound. */
void ms_addr_unbind(const ms_addr *addr, ino_t file_ino);

#endif
