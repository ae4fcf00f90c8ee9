/*
 * A reader's facts where its writers can find them (POSIX): whose messages it
 * takes and how large they may be, so a writer is told `access` at open and
 * `too_big` at write instead of having its message dropped by the reader.
 *
 * The reader publishes, writers look up at open and at each reconnect. What a
 * writer finds is a courtesy: the reader still enforces its rules, and a
 * writer that finds nothing it can trust simply sends.
 *
 * Abstract namespace: a second socket, listening and refusing every
 * connection, whose abstract name carries the facts and the inode of the
 * reader's socket:
 *   @mailslot-meta\<hash of the path>\<inode>\<uid>\<gid>\<allow>\<max_size>
 * It goes with the reader's process like the reader's own address. A writer
 * asks the kernel (sock_diag, posix_diag.h) which socket its own is connected
 * to and who owns it, then for the listening sockets, and believes a meta
 * only when the kernel says it belongs to the reader socket's owner and its
 * name is exactly the one publish writes for that inode. Another user's
 * socket is never believed, whatever its name; two of the reader's own user
 * that disagree mean "unknown", as does a system without sock_diag.
 *
 * Socket files: a dot-file next to the socket file (list() skips dot-files),
 * `.meta-<file name>`, holding the socket file's inode and modification time
 * and the facts. A writer believes it only when it describes the socket file
 * now in place and is owned by that file's owner, so a file left by a killed
 * reader or planted by another user is never believed.
 */
#ifndef POSIX_META_H
#define POSIX_META_H

#include "mailslot.h"
#include "posix_addr.h"

#include <sys/types.h>

typedef struct {
  uid_t uid;       /* the reader's effective user and group */
  gid_t gid;
  ms_allow allow;
  size_t max_size; /* 0 = any size */
} ms_meta;

/* What a reader keeps to withdraw its facts. */
typedef struct {
  int fd;          /* abstract: the meta socket, or -1 */
  int has_file;    /* socket files: the meta file was written */
  ino_t ino;       /* the socket file it describes */
} ms_meta_pub;

/* Reader, right after binding fd at addr. Best effort: failing costs only the courtesy. */
void ms_meta_publish(const ms_addr *addr, int fd, const ms_meta *facts, ms_meta_pub *pub);

/* Reader, before its socket goes: removes what publish made. */
void ms_meta_withdraw(const ms_addr *addr, ms_meta_pub *pub);

/* Writer, after connecting fd to addr: 1 and *out when the live reader's facts are known. */
int ms_meta_lookup(const ms_addr *addr, int fd, ms_meta *out);

/* Whether this process may deliver to a reader with these facts (the reader's rule). */
int ms_meta_allows(const ms_meta *facts);

#endif
