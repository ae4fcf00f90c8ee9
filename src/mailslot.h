/*
 * The backend contract: plain C types and functions, no Lua.
 *
 * One backend per OS family implements the ms_reader_* / ms_writer_* functions
 * (posix.c, win32.c); name.c is shared and pure. Every function that can fail
 * fills an ms_error with a portable code and a message that names the slot, so
 * the Lua binding turns any failure into `nil, message, code` the same way on
 * every OS.
 */
#ifndef MAILSLOT_H
#define MAILSLOT_H

#include <stddef.h>
#include <stdint.h>

/* Portable failure codes; ms_code_name() gives the string Lua sees. */
typedef enum {
  MS_OK = 0,
  MS_TIMEOUT,      /* nothing arrived (or the reader's queue stayed full) in time */
  MS_EXISTS,       /* a reader of that name already exists on this machine */
  MS_NOT_FOUND,    /* no reader of that name */
  MS_INVALID_NAME, /* not a mailslot name, or one Windows refuses */
  MS_TOO_BIG,      /* the message cannot be carried whole */
  MS_CLOSED,       /* the reader this writer talked to went away */
  MS_ACCESS,       /* not allowed */
  MS_UNREACHABLE,  /* remote name that cannot be reached (yet) */
  MS_INTERRUPTED,  /* a signal arrived while waiting (lets Ctrl-C reach Lua) */
  MS_SYSTEM        /* anything else the OS reported; the message says what */
} ms_code;

#define MS_ERRMSG_MAX 400

typedef struct {
  ms_code code;
  int sys; /* errno / GetLastError() value behind it, 0 when none */
  char msg[MS_ERRMSG_MAX];
} ms_error;

const char *ms_code_name(ms_code code);

/* Fills err and returns its code, so callers can `return ms_fail(...)`. */
ms_code ms_fail(ms_error *err, ms_code code, int sys, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- names (name.c) ---------------------------------------------------- */

/*
 * Windows' MAX_PATH bounds the whole `\\.\mailslot\...` name in UTF-16
 * units, what the W calls take: a character, or two for one beyond the BMP.
 * Names are UTF-8 here, at most 3 bytes a unit: MS_NAME_BYTES holds the
 * longest path, MS_FULL_BYTES the longest canonical name.
 */
#define MS_NAME_MAX 260
#define MS_NAME_BYTES (3 * MS_NAME_MAX)
#define MS_HOST_MAX 256
#define MS_FULL_BYTES (MS_NAME_BYTES + MS_HOST_MAX)

typedef enum {
  MS_NAME_LOCAL,     /* \\.\mailslot\x, a bare x, or \\<this machine>\mailslot\x */
  MS_NAME_BROADCAST, /* \\*\mailslot\x: every machine of the primary domain */
  MS_NAME_REMOTE     /* \\server\mailslot\x or \\domain\mailslot\x */
} ms_name_kind;

typedef struct {
  ms_name_kind kind;
  char host[MS_HOST_MAX];  /* "." for local, "*" for broadcast, else as written */
  char path[MS_NAME_BYTES]; /* lower-cased path after \mailslot\, '\' separated */
  char full[MS_FULL_BYTES]; /* \\host\mailslot\path, the canonical form */
} ms_name;

/*
 * Parses `text` (len bytes, may hold NULs, which are refused). `this_host` is
 * this machine's name (or NULL): \\<it>\mailslot\x is local.
 */
ms_code ms_name_parse(const char *text, size_t len, const char *this_host,
                      ms_name *out, ms_error *err);

/* ---- readers and writers (posix.c / win32.c) ---------------------------- */

#define MS_FOREVER (-1.0) /* a timeout meaning "wait forever" */

typedef enum { MS_ALLOW_USER, MS_ALLOW_GROUP, MS_ALLOW_ALL } ms_allow;

typedef struct {
  size_t max_size;  /* 0 = any size the transport can carry */
  double timeout;   /* default read timeout, seconds; MS_FOREVER */
  ms_allow allow;   /* who may deliver */
  int network;      /* 1: also take messages relayed from other hosts (POSIX) */
  const char *dir;  /* socket-file directory, or NULL for the platform default */
} ms_reader_opts;

typedef struct {
  double timeout;   /* how long a write may wait for room; MS_FOREVER */
  const char *dir;
} ms_writer_opts;

/* Who sent a message. Network relays fill the remote fields. */
typedef struct {
  int32_t pid, uid, gid; /* -1 when unknown */
  int remote;            /* 1 when it came from the network */
  char remote_name[16];  /* NetBIOS source name, NUL-terminated */
  uint8_t remote_ip[4];
  uint16_t remote_port;
} ms_sender;

typedef struct {
  size_t max_size;
  size_t next_size;     /* valid when count > 0 */
  size_t count;         /* messages waiting */
  double timeout;       /* MS_FOREVER or seconds */
  uint64_t rejected;    /* refused by the access rule, or network ones not asked for */
  uint64_t oversized;   /* messages above max_size, discarded whole */
} ms_info;

typedef struct ms_reader ms_reader;
typedef struct ms_writer ms_writer;

/*
 * Signals. A wait that a signal interrupts (a handler ran, or the process was
 * stopped and continued) asks its stop check: nonzero ends the wait with
 * MS_INTERRUPTED, so that what the signal asked for runs now (lua.c's Ctrl-C
 * hook, a handler that raises); zero resumes the wait with the time that is
 * left. With no check (NULL) every interruption resumes. The binding embeds
 * an ms_stop in a larger struct of its own and casts back in `requested`.
 */
typedef struct ms_stop {
  int (*requested)(struct ms_stop *self);
} ms_stop;

/* The stop check of r's reads and w's writes (NULL: none); kept, not copied. */
void ms_reader_setstop(ms_reader *r, ms_stop *stop);
void ms_writer_setstop(ms_writer *w, ms_stop *stop);

ms_code ms_reader_create(const ms_name *name, const ms_reader_opts *opts,
                         ms_reader **out, ms_error *err);
/*
 * One whole message. On MS_OK, data and len stay valid until the next call on
 * this reader; *from (if not NULL) tells who sent it.
 */
ms_code ms_reader_read(ms_reader *r, double timeout, const char **data,
                       size_t *len, ms_sender *from, ms_error *err);
/*
 * Called once per message of a batch; data is valid only during the call.
 * Returns 1 when it took the message, 0 when it could not (out of memory, or
 * its caller wants no more): the batch stops there, and that message and any
 * others already taken off the OS stay queued for the next read.
 */
typedef int (*ms_each_fn)(const char *data, size_t len, const ms_sender *from, void *ctx);
/*
 * Up to max messages in one go: waits for the first as ms_reader_read does,
 * then takes only what is already waiting. *got says how many were handed to
 * each(); on an error after the first, the ones handed out stand.
 */
ms_code ms_reader_read_batch(ms_reader *r, double timeout, size_t max, size_t *got,
                             ms_each_fn each, void *ctx, ms_error *err);
ms_code ms_reader_info(ms_reader *r, ms_info *info, ms_error *err);
void ms_reader_settimeout(ms_reader *r, double timeout);
/* A descriptor that polls readable when a message may be waiting, or -1. */
int ms_reader_fd(const ms_reader *r);
/*
 * 1 when a message may be ready without waiting: queued in user space (fd
 * may not poll ready), or on Windows in the OS or brought by a read that
 * finished. A hint for pollers: read(0) tells for sure.
 */
int ms_reader_pending(const ms_reader *r);
double ms_reader_timeout(const ms_reader *r);
const char *ms_reader_name(const ms_reader *r); /* the canonical name */
/*
 * How a read that must wait sleeps, for info().wait: "socket" (POSIX, in the
 * kernel on the socket), "overlapped" (Windows: on a read left in flight) or
 * "polling" (Windows where the OS completes no read asynchronously: Wine 8).
 */
const char *ms_reader_wait_path(const ms_reader *r);
/* Frees r; unread messages are discarded. On Windows a read in flight is
 * cancelled first, and close returns once the OS has let go of its buffer. */
void ms_reader_close(ms_reader *r);

ms_code ms_writer_open(const ms_name *name, const ms_writer_opts *opts,
                       ms_writer **out, ms_error *err);
ms_code ms_writer_write(ms_writer *w, const void *data, size_t len, ms_error *err);
/* Sends n messages in order; *sent says how many went before any failure. */
ms_code ms_writer_write_batch(ms_writer *w, const char *const *data, const size_t *lens,
                              size_t n, size_t *sent, ms_error *err);
/* Sends a message on behalf of a network peer (the relay of `mailslot serve`). */
ms_code ms_writer_relay(ms_writer *w, const ms_sender *from, const void *data,
                        size_t len, ms_error *err);
int ms_writer_fd(const ms_writer *w);
void ms_writer_settimeout(ms_writer *w, double timeout);
double ms_writer_timeout(const ms_writer *w);
const char *ms_writer_name(const ms_writer *w);
void ms_writer_close(ms_writer *w);

/*
 * Waits until one of the readers has a message or the timeout passes.
 * ready[i] is set to 1 for each reader that has one. Returns MS_OK,
 * MS_TIMEOUT, MS_INTERRUPTED when `stop` says so after a signal, or the
 * failure of a reader it looked at (as read would give).
 */
ms_code ms_wait(ms_reader *const *readers, size_t n, double timeout, int *ready,
                ms_stop *stop, ms_error *err);

/*
 * A set of readers waited on again and again (an event loop's): registered
 * once, so a wait costs what the readers with messages cost, not what the set
 * holds (epoll on Linux; elsewhere it polls its members each time). A reader
 * is in at most one set; it must be removed before it is closed.
 */
typedef struct ms_waitset ms_waitset;

ms_code ms_waitset_new(ms_waitset **out, ms_error *err);
/* 1 when sets register their members with the system (epoll), so that a wait
 * through one costs less than ms_wait; 0 where a set's wait is ms_wait. */
int ms_waitset_registers(void);
/* Frees the set; its members stay open and are in no set any more. */
void ms_waitset_free(ms_waitset *s);
/* Puts r in the set (once) and reports it again; MS_EXISTS when in another set. */
ms_code ms_waitset_add(ms_waitset *s, ms_reader *r, ms_error *err);
/* Stops reporting r, keeping it registered so that adding it back is cheap. */
void ms_waitset_mute(ms_waitset *s, ms_reader *r);
/* Takes r out of the set for good (before it is closed). */
void ms_waitset_remove(ms_waitset *s, ms_reader *r);
/*
 * Waits until some reported member has a message, or the timeout passes.
 * Fills ready[0 .. *got) (at most max, the others wait for the next call).
 * MS_OK, MS_TIMEOUT, MS_INTERRUPTED (stop said so), or a member's failure.
 */
ms_code ms_waitset_wait(ms_waitset *s, double timeout, ms_reader **ready, size_t max,
                        size_t *got, ms_stop *stop, ms_error *err);

/* A wait on readers[0 .. n) timed out: err names them; returns MS_TIMEOUT. */
ms_code ms_fail_wait_timeout(ms_error *err, int sys, ms_reader *const *readers, size_t n);

/* This machine's mailslots: calls each(name, ctx) for each canonical name. */
ms_code ms_list(const char *dir, void (*each)(const char *name, void *ctx),
                void *ctx, ms_error *err);

/* Seconds on a monotonic clock (the origin means nothing), for timeouts in Lua. */
double ms_monotime(void);

/* Room for this machine's name: NetBIOS and Windows keep at most 15 characters. */
#define MS_THIS_HOST_SIZE 16

/*
 * Writes this machine's name, upper-cased, as NetBIOS and Windows show it,
 * into out[MS_THIS_HOST_SIZE]: the caller's buffer, so Lua states in
 * different threads never share one.
 */
void ms_this_host(char out[MS_THIS_HOST_SIZE]);

#endif
