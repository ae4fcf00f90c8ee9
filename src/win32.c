/*
 * The Windows backend: the native mailslot API.
 *
 * A reader is the handle CreateMailslot gives; a writer is CreateFile on the
 * name (GENERIC_WRITE, shared for reading and writing) and WriteFile. Remote
 * and broadcast names go to the OS as they are: Windows does the network part.
 *
 * Waiting: where the OS completes overlapped reads asynchronously (Windows:
 * the handle is not synchronous, as FileModeInformation tells), a wait leaves
 * one overlapped ReadFile in flight per reader and sleeps on its event, so it
 * wakes as a message arrives; several readers wait together through
 * WaitForMultipleObjects. Wine 8's mailslot handles are synchronous (an
 * overlapped ReadFile blocks until a message comes), so there a wait polls
 * GetMailslotInfo instead, sleeping between polls (1 ms, doubling to 50 ms).
 * read(0) answers at once either way, through GetMailslotInfo and a read
 * that finishes because the message is there. A read left in flight owns the
 * reader's buffer until the OS is done with it (win32_ovread.h): closing or
 * collecting the reader cancels it (CancelIoEx) and waits for that first.
 * There is no pollable descriptor: ms_reader_fd() is -1 and event loops poll.
 *
 * Reads are never partial: the buffer is sized from GetMailslotInfo's next
 * message size before ReadFile, grown and retried on ERROR_INSUFFICIENT_BUFFER
 * (Windows keeps the message), and a read that fills the whole buffer (an OS
 * that truncates, as Wine 8 does) is reported, never returned.
 *
 * Wine 8 differences handled here: a zero-length message reads as
 * ERROR_BROKEN_PIPE (it is consumed: taken as the empty message); the message
 * count is 0 or 1 (info() says at least 1 when a next size is known); the
 * next size is capped at 65536 (bigger messages are read into a larger
 * buffer); max_size is not enforced by the OS, which queues the message and
 * cuts it to max_size on reading (the reader discards and counts messages
 * above max_size, as the POSIX backend does).
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600 /* Vista and later */
#endif
#include "mailslot.h"
#include "msgqueue.h"
#include "own_readers.h"
#include "win32_ntslot.h"
#include "win32_ovread.h"
#include "win32_waitany.h"

#include <windows.h>
#include <sddl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every write to another computer (\\*\, \\domain\ and \\server\ alike) goes
 * as one NetBIOS datagram, never segmented ([MS-MAIL] 2.1 and 3.1.4.1):
 * "About Mailslots" limits a message sent between computers to 424 bytes.
 */
#define BROADCAST_MAX 424
/* GetMailslotInfo sizes at or above this may be capped (Wine 8 says 65536). */
#define NEXT_SIZE_CAP 65536
/* Buffer for a message whose size the OS may have understated (Wine 8, which
 * carries no message above about 208 KiB). */
#define CAPPED_READ_SIZE (1u << 20)
#define POLL_FIRST_MS 1
#define POLL_MAX_MS 50
/* A read left waiting for any message: bigger ones are read again, sized. */
#define WAITING_READ_SIZE (65536u + 1u)
/*
 * Ctrl-C reaches a Windows process on a thread of its own (the console's),
 * where lua.c's handler sets a hook: no wait of this thread is interrupted.
 * So a wait with a stop check (mailslot.h) sleeps in slices this long and
 * asks it between them (helper threads past 64 readers wait on throughout),
 * and the script stops within a slice.
 */
#define STOP_SLICE_MS 100


struct ms_reader {
  ms_own_entry own; /* among this process's readers (own_readers.h) */
  HANDLE h;
  size_t max_size;
  double timeout;
  char *buf; /* one message as the OS gave it; the OS's while a read is started */
  size_t buf_size;
  int overlapped; /* reads go through ovread: the OS completes them asynchronously */
  ms_ovread ovread;
  ms_msgqueue queue; /* taken off the OS by info() or a same-thread writer */
  uint64_t oversized;
  ms_stop *stop; /* asked between the slices of a wait (STOP_SLICE_MS), or NULL */
  char name[MS_FULL_BYTES];
};

struct ms_writer {
  HANDLE h; /* opened for overlapped I/O: a write that would wait can be timed out */
  HANDLE event;
  ms_name_kind kind;
  double timeout;
  char name[MS_FULL_BYTES];
  wchar_t wname[MS_NAME_MAX]; /* for CreateFileW, also when reopening */
};

/*
 * An OS may hold only so much for a mailslot (Wine 8: a few hundred small
 * messages) and then make writers wait: own_readers.h says what a writer of
 * its own thread's reader does instead.
 */

/* ---- errors and time ------------------------------------------------------- */

/* The OS's text for an error code, without the trailing period and newline. */
static const char *sys_text(DWORD e, char *buf, size_t size) {
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e,
                           0, buf, (DWORD)size, NULL);
  while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' || buf[n - 1] == ' ' ||
                   buf[n - 1] == '.'))
    n--;
  if (n == 0) snprintf(buf, size, "system error");
  else buf[n] = '\0';
  return buf;
}

/* "<doing> mailslot <name>: <OS text> (error N)" with the code chosen by the caller. */
static ms_code sys_fail(ms_error *err, ms_code code, DWORD e, const char *doing,
                        const char *name) {
  char text[200];
  return ms_fail(err, code, (int)e, "%s mailslot %s: %s (error %lu)", doing, name,
                 sys_text(e, text, sizeof text), (unsigned long)e);
}

/*
 * A name from Lua (UTF-8) as UTF-16 for the W calls, into out[size]:
 * MS_INVALID_NAME when it is not UTF-8.
 */
static ms_code wide_name(const char *name, wchar_t *out, int size, const char *doing,
                         ms_error *err) {
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, out, size) > 0) return MS_OK;
  return ms_fail(err, MS_INVALID_NAME, (int)GetLastError(),
                 "cannot %s mailslot %s: the name is not valid UTF-8", doing, name);
}

static int is_unreachable(DWORD e) {
  switch (e) {
  case ERROR_BAD_NETPATH:
  case ERROR_BAD_NET_NAME:
  case ERROR_REM_NOT_LIST:
  case ERROR_NETWORK_UNREACHABLE:
  case ERROR_HOST_UNREACHABLE:
  case ERROR_NETNAME_DELETED:
  case ERROR_NETWORK_ACCESS_DENIED:
    return 1;
  default:
    return 0;
  }
}

double ms_monotime(void) {
  static LARGE_INTEGER freq;
  LARGE_INTEGER now;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq); /* never fails since XP */
  QueryPerformanceCounter(&now);
  return (double)now.QuadPart / (double)freq.QuadPart;
}

static double now_ms(void) { return ms_monotime() * 1000.0; }

/* The absolute time (ms) a wait of `timeout` seconds ends; -1 for forever. */
static double deadline_of(double timeout) {
  return timeout < 0 ? -1.0 : now_ms() + timeout * 1000.0;
}

/*
 * Milliseconds to wait: at most cap, never past the deadline (rounded up, and
 * never INFINITE for a real deadline); 0 once it passed; cap for forever.
 */
static DWORD ms_until(double deadline, DWORD cap) {
  double left;
  if (deadline < 0) return cap;
  left = deadline - now_ms();
  if (left <= 0) return 0;
  if (left >= (double)(INFINITE - 1)) return cap < INFINITE - 1 ? cap : INFINITE - 1;
  return (DWORD)left + 1 < cap ? (DWORD)left + 1 : cap;
}

/* Whether the stop check (if any) asks the wait to end now. */
static int stop_requested(ms_stop *stop) { return stop && stop->requested(stop); }

/* Between the slices of a wait (ms_wait_slices): on while no stop is asked. */
static int not_stopped(void *stop) { return !stop_requested(stop); }

/* Sleeps one poll step, never past the deadline; 0 when the deadline passed. */
static int poll_sleep(double deadline, DWORD *step) {
  DWORD ms = ms_until(deadline, *step);
  if (ms == 0) return 0;
  Sleep(ms);
  if (*step < POLL_MAX_MS) *step = *step * 2 > POLL_MAX_MS ? POLL_MAX_MS : *step * 2;
  return 1;
}

/* Seconds to SetMailslotInfo's milliseconds, rounded up so 0.0001 still waits. */
static DWORD os_timeout(double timeout) {
  double ms;
  if (timeout < 0) return MAILSLOT_WAIT_FOREVER;
  ms = timeout * 1000.0;
  if (ms >= (double)(MAILSLOT_WAIT_FOREVER - 1)) return MAILSLOT_WAIT_FOREVER - 1;
  return (DWORD)ms + ((double)(DWORD)ms < ms ? 1 : 0);
}

/* ---- readers ----------------------------------------------------------------- */

/* The next message's size, or MAILSLOT_NO_MESSAGE. */
static ms_code next_size(HANDLE h, const char *name, DWORD *next, DWORD *count,
                         ms_error *err) {
  DWORD c = 0;
  if (!GetMailslotInfo(h, NULL, next, &c, NULL))
    return sys_fail(err, MS_SYSTEM, GetLastError(), "cannot query", name);
  if (count) *count = c;
  return MS_OK;
}

static ms_code ensure_buf(ms_reader *r, size_t want, ms_error *err) {
  char *p;
  if (r->buf_size >= want) return MS_OK;
  p = realloc(r->buf, want);
  if (!p)
    return ms_fail(err, MS_SYSTEM, ERROR_NOT_ENOUGH_MEMORY,
                   "out of memory reading a message of %lu bytes from mailslot %s", (unsigned long)want,
                   r->name);
  r->buf = p;
  r->buf_size = want;
  return MS_OK;
}

/*
 * Reads the next message into r->buf, which the OS says is there. A plain
 * ReadFile on a synchronous handle; on an asynchronous one an overlapped
 * read, waited for: the message is there and only this process reads the
 * handle (it is not inherited), so it finishes at once, and read(0) and
 * info() must not miss it.
 */
static void read_now(ms_reader *r, DWORD *n, DWORD *e) {
  if (!r->overlapped) {
    *e = ReadFile(r->h, r->buf, (DWORD)r->buf_size, n, NULL) ? 0 : GetLastError();
    return;
  }
  ms_ovread_start(&r->ovread, r->buf, (DWORD)r->buf_size);
  ms_ovread_result(&r->ovread, INFINITE, n, e);
}

/*
 * Takes one message without waiting. *got is 1 with the message in
 * r->buf[0 .. *len), 0 when none waits. A read started earlier comes first:
 * it took the oldest message. Messages above max_size are read and dropped
 * whole (counted in `oversized`).
 */
static ms_code take(ms_reader *r, int *got, size_t *len, ms_error *err) {
  *got = 0;
  for (;;) {
    DWORD next = MAILSLOT_NO_MESSAGE, n = 0, e;
    int started = !ms_ovread_idle(&r->ovread);
    ms_code rc;
    if (started) {
      if (!ms_ovread_result(&r->ovread, 0, &n, &e)) return MS_OK; /* nothing arrived yet */
    } else {
      size_t want;
      if ((rc = next_size(r->h, r->name, &next, NULL, err)) != MS_OK) return rc;
      if (next == MAILSLOT_NO_MESSAGE) return MS_OK;
      /* One byte more than the message: a read that fills it was truncated. */
      want = (size_t)next + 1;
      if (next >= NEXT_SIZE_CAP && want < CAPPED_READ_SIZE + 1) want = CAPPED_READ_SIZE + 1;
      if ((rc = ensure_buf(r, want, err)) != MS_OK) return rc;
      read_now(r, &n, &e);
    }
    if (e == ERROR_INSUFFICIENT_BUFFER || e == ERROR_MORE_DATA) {
      /* Still queued: a started read sizes up from GetMailslotInfo next time
       * round; a sized one was told too little (Wine's capped size): double. */
      if (!started && (rc = ensure_buf(r, r->buf_size * 2, err)) != MS_OK) return rc;
      continue;
    }
    if (e == ERROR_BROKEN_PIPE && next == 0) n = 0; /* Wine 8's empty message */
    else if (e == ERROR_SEM_TIMEOUT || e == ERROR_OPERATION_ABORTED) {
      /* A started read timed out or its thread ended: look again. A sized read:
       * the message went meanwhile. */
      if (started) continue;
      return MS_OK;
    } else if (e != 0)
      return sys_fail(err, MS_SYSTEM, e, "cannot read", r->name);
    if ((size_t)n >= r->buf_size && r->max_size && r->buf_size > r->max_size) {
      r->oversized++; /* cut by an OS that caps at max_size (Wine 8): above it */
      continue;
    }
    if ((size_t)n >= r->buf_size) {
      r->oversized++;
      return ms_fail(err, MS_TOO_BIG, ERROR_MORE_DATA,
                     "a message in mailslot %s was longer than %lu bytes and the OS cut it; "
                     "it was discarded",
                     r->name, (unsigned long)(r->buf_size - 1));
    }
    if (r->max_size && n > r->max_size) {
      r->oversized++;
      continue;
    }
    *got = 1;
    *len = n;
    return MS_OK;
  }
}

/* Moves one message from the OS into the queue; *got 0 when none waits. */
static ms_code enqueue_one(ms_reader *r, int *got, ms_error *err) {
  size_t len;
  ms_code rc = take(r, got, &len, err);
  if (rc != MS_OK || !*got) return rc;
  if (!ms_msgqueue_push(&r->queue, r->buf, len, NULL))
    return ms_fail(err, MS_SYSTEM, ERROR_NOT_ENOUGH_MEMORY,
                   "out of memory queueing a message of mailslot %s", r->name);
  return MS_OK;
}

static ms_code drain(ms_reader *r, ms_error *err) {
  int got = 1;
  ms_code rc = MS_OK;
  while (got && rc == MS_OK) rc = enqueue_one(r, &got, err);
  return rc;
}

static void no_sender(ms_sender *from) {
  memset(from, 0, sizeof *from);
  from->pid = from->uid = from->gid = -1; /* Windows does not say */
}

/*
 * Leaves a read in flight that completes when the next message arrives.
 * It asks for one byte less than the buffer, as sized reads do, so a read
 * that fills the buffer still means "cut"; a bigger message fails it with
 * ERROR_INSUFFICIENT_BUFFER, stays queued and is read again at its size.
 * 0 when the buffer for it cannot be had: the caller polls instead.
 */
static int start_waiting_read(ms_reader *r) {
  size_t want = WAITING_READ_SIZE;
  ms_error ignored;
  if (r->max_size && r->max_size < WAITING_READ_SIZE) want = r->max_size + 1;
  if (!ms_ovread_idle(&r->ovread)) return 1;
  if (ensure_buf(r, want, &ignored) != MS_OK) return 0;
  ms_ovread_start(&r->ovread, r->buf, (DWORD)(r->buf_size - 1));
  return 1;
}

/*
 * Sleeps until a message may have come to one of the readers, or the
 * deadline (ms, -1 forever) passes: 0 when it passed. On the readers' read
 * events where every reader has one (any number: win32_waitany.h), else one
 * poll step. With a stop check, until it asks to stop (STOP_SLICE_MS).
 */
static int pause_for(ms_reader *const *readers, size_t n, double deadline, DWORD *step,
                     ms_stop *stop) {
  HANDLE few[MAXIMUM_WAIT_OBJECTS], *events = few;
  DWORD ms, woke = WAIT_FAILED;
  ms_wait_slices slices = {STOP_SLICE_MS, not_stopped, stop};
  size_t i;
  for (i = 0; i < n; i++)
    if (!readers[i]->overlapped || !start_waiting_read(readers[i]))
      return poll_sleep(deadline, step);
  if ((ms = ms_until(deadline, INFINITE)) == 0) return 0;
  if (n > MAXIMUM_WAIT_OBJECTS && !(events = malloc(n * sizeof *events)))
    return poll_sleep(deadline, step);
  for (i = 0; i < n; i++) events[i] = readers[i]->ovread.event;
  woke = ms_wait_any(events, n, ms, stop ? &slices : NULL);
  if (events != few) free(events);
  /* Fails on a reader listed twice (the same event twice): poll then. */
  if (woke == WAIT_FAILED) return poll_sleep(deadline, step);
  /* Woken, or stopped with time left: the caller looks (and asks its stop). */
  return woke != WAIT_TIMEOUT || deadline < 0 || now_ms() < deadline;
}

ms_code ms_reader_read(ms_reader *r, double timeout, const char **data,
                       size_t *len, ms_sender *from, ms_error *err) {
  double deadline = deadline_of(timeout);
  DWORD step = POLL_FIRST_MS;
  const ms_msg *queued = ms_msgqueue_take(&r->queue);
  if (queued) { /* queued earlier: FIFO before anything still in the OS */
    *data = queued->data;
    *len = queued->len;
    if (from) no_sender(from);
    return MS_OK;
  }
  for (;;) {
    int got;
    ms_code rc;
    if ((rc = take(r, &got, len, err)) != MS_OK) return rc;
    if (got) {
      *data = r->buf;
      if (from) no_sender(from);
      return MS_OK;
    }
    if (timeout == 0)
      return ms_fail(err, MS_TIMEOUT, ERROR_SEM_TIMEOUT, "no message in mailslot %s", r->name);
    if (!pause_for(&r, 1, deadline, &step, r->stop))
      return ms_fail(err, MS_TIMEOUT, ERROR_SEM_TIMEOUT, "no message in mailslot %s within %g s",
                     r->name, timeout);
    if (stop_requested(r->stop))
      return ms_fail(err, MS_INTERRUPTED, 0, "reading mailslot %s was interrupted", r->name);
  }
}

ms_code ms_reader_read_batch(ms_reader *r, double timeout, size_t max, size_t *got,
                             ms_each_fn each, void *ctx, ms_error *err) {
  ms_sender from;
  *got = 0;
  no_sender(&from);
  while (*got < max) {
    const char *data;
    size_t len;
    /* The first message waits as read() does; the rest only if already there. */
    ms_code rc = ms_reader_read(r, *got ? 0 : timeout, &data, &len, NULL, err);
    if (rc == MS_TIMEOUT && *got) return MS_OK;
    if (rc != MS_OK) return rc;
    if (!each(data, len, &from, ctx)) { /* it waits for the next read */
      if (ms_msgqueue_give_back(&r->queue, data, len, &from)) return MS_OK;
      return ms_fail(err, MS_SYSTEM, ERROR_NOT_ENOUGH_MEMORY,
                     "out of memory keeping a message of mailslot %s", r->name);
    }
    ++*got;
  }
  return MS_OK;
}

/*
 * The OS's count and next size are not trusted (Wine 8 counts at most 1,
 * none for an empty message, and caps the size at 65536): info() takes every
 * waiting message into the queue and reports the queue, exact everywhere.
 */
ms_code ms_reader_info(ms_reader *r, ms_info *info, ms_error *err) {
  ms_code rc = drain(r, err);
  if (rc != MS_OK) return rc;
  info->max_size = r->max_size;
  info->count = r->queue.count;
  info->next_size = r->queue.head ? r->queue.head->len : 0;
  info->timeout = r->timeout;
  info->rejected = 0; /* the OS applies the access rule: refused writers are told */
  info->oversized = r->oversized;
  return MS_OK;
}

void ms_reader_settimeout(ms_reader *r, double timeout) {
  r->timeout = timeout;
  /* Kept in the OS too, for tools that look at the handle; reads wait here.
   * Not with overlapped reads: one left waiting must not time out in the OS. */
  if (!r->overlapped) SetMailslotInfo(r->h, os_timeout(timeout));
}

double ms_reader_timeout(const ms_reader *r) { return r->timeout; }
/* No descriptor to poll on Windows: event loops poll read(0) / pending instead. */
int ms_reader_fd(const ms_reader *r) { (void)r; return -1; }
const char *ms_reader_name(const ms_reader *r) { return r->name; }
const char *ms_reader_wait_path(const ms_reader *r) {
  return r->overlapped ? "overlapped" : "polling";
}

int ms_reader_pending(const ms_reader *r) {
  DWORD next = MAILSLOT_NO_MESSAGE;
  if (r->queue.head) return 1;
  if (!ms_ovread_idle(&r->ovread)) return WaitForSingleObject(r->ovread.event, 0) == WAIT_OBJECT_0;
  return GetMailslotInfo(r->h, NULL, &next, NULL, NULL) && next != MAILSLOT_NO_MESSAGE;
}

/*
 * Whether a message is ready: one is queued, a started read brought one, or
 * the OS has one (max_size kept).
 */
static ms_code ready_one(ms_reader *r, int *ready, ms_error *err) {
  int got;
  ms_code rc;
  DWORD next;
  *ready = r->queue.head != NULL;
  if (*ready) return MS_OK;
  if (!ms_ovread_idle(&r->ovread)) {
    if ((rc = enqueue_one(r, &got, err)) != MS_OK) return rc;
    *ready = got;
    if (got || !ms_ovread_idle(&r->ovread)) return MS_OK;
  }
  if ((rc = next_size(r->h, r->name, &next, NULL, err)) != MS_OK) return rc;
  if (next == MAILSLOT_NO_MESSAGE) return MS_OK;
  if (!r->max_size) {
    *ready = 1;
    return MS_OK;
  }
  /* It may be one to discard: take it now so "ready" means read(0) gives one. */
  if ((rc = enqueue_one(r, &got, err)) != MS_OK) return rc;
  *ready = r->queue.head != NULL;
  return MS_OK;
}

/* Nothing queued and a read in flight: ready exactly when its event is set. */
static int quiet(const ms_reader *r) {
  return !r->queue.head && r->ovread.state == MS_OVREAD_IN_FLIGHT;
}

/*
 * Whether a message is ready, for readers[0 .. n): ready_one each, except
 * that a run of up to 64 quiet readers none of whose events is set costs one
 * WaitForMultipleObjects, not a call each (a wineserver call each under Wine).
 */
static ms_code ready_all(ms_reader *const *readers, size_t n, int *ready, int *any,
                         ms_error *err) {
  HANDLE events[MAXIMUM_WAIT_OBJECTS];
  size_t i = 0, j, k;
  *any = 0;
  while (i < n) {
    for (k = 0; i + k < n && k < MAXIMUM_WAIT_OBJECTS && quiet(readers[i + k]); k++)
      events[k] = readers[i + k]->ovread.event;
    if (k > 1 && WaitForMultipleObjects((DWORD)k, events, FALSE, 0) == WAIT_TIMEOUT) {
      for (j = 0; j < k; j++) ready[i + j] = 0;
    } else {
      if (k == 0) k = 1; /* a reader to look at in full */
      for (j = 0; j < k; j++) {
        ms_code rc = ready_one(readers[i + j], &ready[i + j], err);
        if (rc != MS_OK) return rc;
        *any |= ready[i + j];
      }
    }
    i += k;
  }
  return MS_OK;
}

ms_code ms_wait(ms_reader *const *readers, size_t n, double timeout, int *ready,
                ms_stop *stop, ms_error *err) {
  double deadline = deadline_of(timeout);
  DWORD step = POLL_FIRST_MS;
  for (;;) {
    int any;
    ms_code rc = ready_all(readers, n, ready, &any, err);
    if (rc != MS_OK) return rc;
    if (any) return MS_OK;
    if (timeout == 0 || !pause_for(readers, n, deadline, &step, stop))
      return ms_fail_wait_timeout(err, ERROR_SEM_TIMEOUT, readers, n);
    if (stop_requested(stop))
      return ms_fail(err, MS_INTERRUPTED, 0, "waiting on %lu mailslot%s was interrupted",
                     (unsigned long)n, n == 1 ? "" : "s");
  }
}

/* ---- creating and closing readers ---------------------------------------------- */

/* The token's user or primary group SID as an SDDL string (LocalFree it). */
static char *token_sid(TOKEN_INFORMATION_CLASS what) {
  HANDLE tok;
  union {
    TOKEN_USER user;
    TOKEN_PRIMARY_GROUP group;
    char space[512];
  } info;
  DWORD size = 0;
  char *text = NULL;
  PSID sid;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) return NULL;
  if (GetTokenInformation(tok, what, &info, sizeof info, &size)) {
    sid = what == TokenUser ? info.user.User.Sid : info.group.PrimaryGroup;
    if (!ConvertSidToStringSidA(sid, &text)) text = NULL;
  }
  CloseHandle(tok);
  return text;
}

/*
 * `allow` as a DACL: "user" lets this user, SYSTEM and Administrators write
 * (the POSIX "same user and root"); "group" adds the token's primary group;
 * "all" lets everyone write.
 */
static ms_code make_security(ms_allow allow, const char *name, PSECURITY_DESCRIPTOR *sd,
                             ms_error *err) {
  char sddl[512];
  char *user = token_sid(TokenUser), *group = NULL;
  int ok = user != NULL;
  if (ok && allow == MS_ALLOW_GROUP) ok = (group = token_sid(TokenPrimaryGroup)) != NULL;
  if (!ok) {
    DWORD e = GetLastError();
    if (user) LocalFree(user);
    return sys_fail(err, MS_SYSTEM, e, "cannot find this user's identity for", name);
  }
  snprintf(sddl, sizeof sddl, "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;%s)%s%s%s%s", user,
           group ? "(A;;GRGW;;;" : "", group ? group : "", group ? ")" : "",
           allow == MS_ALLOW_ALL ? "(A;;GRGW;;;WD)" : "");
  LocalFree(user);
  if (group) LocalFree(group);
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1, sd, NULL))
    return sys_fail(err, MS_SYSTEM, GetLastError(), "cannot build the access rule of", name);
  return MS_OK;
}

/*
 * Overlapped reads where the OS completes them asynchronously (then a plain
 * ReadFile is not defined on the handle); else plain reads and polling.
 */
static ms_code choose_reads(ms_reader *r, ms_error *err) {
  if (!ms_ovread_completes_async(r->h)) return MS_OK;
  /* A read left waiting must not end in the OS: the wait's own timeout applies. */
  if (!ms_ovread_init(&r->ovread, r->h) || !SetMailslotInfo(r->h, MAILSLOT_WAIT_FOREVER))
    return sys_fail(err, MS_SYSTEM, GetLastError(), "cannot create", r->name);
  r->overlapped = 1;
  return MS_OK;
}

ms_code ms_reader_create(const ms_name *name, const ms_reader_opts *opts,
                         ms_reader **out, ms_error *err) {
  SECURITY_ATTRIBUTES sa;
  PSECURITY_DESCRIPTOR sd = NULL;
  wchar_t wname[MS_NAME_MAX];
  ms_reader *r;
  ms_code rc;
  DWORD e;
  /* opts->dir names a socket directory of the POSIX emulation: nothing here. */
  if (name->kind != MS_NAME_LOCAL)
    return ms_fail(err, MS_INVALID_NAME, 0,
                   "cannot create mailslot %s: only local names (\\\\.\\mailslot\\...) can be read",
                   name->full);
  if (opts->max_size > 0xffffffffu)
    return ms_fail(err, MS_TOO_BIG, 0, "cannot create mailslot %s: max_size is too big",
                   name->full);
  r = calloc(1, sizeof *r);
  if (!r)
    return ms_fail(err, MS_SYSTEM, ERROR_NOT_ENOUGH_MEMORY, "out of memory creating mailslot %s",
                   name->full);
  snprintf(r->name, sizeof r->name, "%s", name->full);
  r->max_size = opts->max_size;
  r->timeout = opts->timeout;
  if ((rc = wide_name(r->name, wname, MS_NAME_MAX, "create", err)) != MS_OK)
    goto fail;
  if ((rc = make_security(opts->allow, r->name, &sd, err)) != MS_OK) goto fail;
  sa.nLength = sizeof sa;
  sa.lpSecurityDescriptor = sd;
  sa.bInheritHandle = FALSE;
  r->h = ms_nt_create_mailslot(wname, (DWORD)opts->max_size, os_timeout(opts->timeout), &sa);
  e = GetLastError();
  LocalFree(sd);
  if (r->h == INVALID_HANDLE_VALUE) {
    switch (e) {
    case ERROR_ALREADY_EXISTS:
      rc = ms_fail(err, MS_EXISTS, (int)e, "mailslot %s already exists", r->name);
      break;
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_FILENAME_EXCED_RANGE:
      rc = sys_fail(err, MS_INVALID_NAME, e, "cannot create", r->name);
      break;
    case ERROR_ACCESS_DENIED:
      rc = sys_fail(err, MS_ACCESS, e, "cannot create", r->name);
      break;
    default:
      rc = sys_fail(err, MS_SYSTEM, e, "cannot create", r->name);
    }
    goto fail;
  }
  if ((rc = choose_reads(r, err)) != MS_OK) {
    ms_ovread_free(&r->ovread);
    CloseHandle(r->h);
    goto fail;
  }
  ms_own_add(&r->own, r->name, strlen(r->name) + 1, r);
  *out = r;
  return MS_OK;
fail:
  free(r);
  return rc;
}

void ms_reader_close(ms_reader *r) {
  ms_own_remove(&r->own);
  /* A read in flight is cancelled, and the buffer freed once the OS let go of it. */
  ms_ovread_free(&r->ovread);
  CloseHandle(r->h);
  ms_msgqueue_clear(&r->queue);
  free(r->buf);
  free(r);
}

/* ---- writers ---------------------------------------------------------------------- */

static ms_code open_handle(ms_writer *w, ms_error *err) {
  DWORD e;
  w->h = CreateFileW(w->wname, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                     OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
  if (w->h != INVALID_HANDLE_VALUE) return MS_OK;
  e = GetLastError();
  if (w->kind != MS_NAME_LOCAL &&
      (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND || is_unreachable(e)))
    return sys_fail(err, MS_UNREACHABLE, e, "cannot reach remote", w->name);
  switch (e) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
    return ms_fail(err, MS_NOT_FOUND, (int)e, "mailslot %s does not exist", w->name);
  case ERROR_ACCESS_DENIED:
    return ms_fail(err, MS_ACCESS, (int)e, "mailslot %s: access denied", w->name);
  case ERROR_INVALID_NAME:
  case ERROR_BAD_PATHNAME:
  case ERROR_FILENAME_EXCED_RANGE:
    return sys_fail(err, MS_INVALID_NAME, e, "cannot open", w->name);
  default:
    if (is_unreachable(e)) return sys_fail(err, MS_UNREACHABLE, e, "cannot reach remote", w->name);
    return sys_fail(err, MS_SYSTEM, e, "cannot open", w->name);
  }
}

ms_code ms_writer_open(const ms_name *name, const ms_writer_opts *opts,
                       ms_writer **out, ms_error *err) {
  ms_writer *w = calloc(1, sizeof *w);
  ms_code rc;
  if (!w)
    return ms_fail(err, MS_SYSTEM, ERROR_NOT_ENOUGH_MEMORY, "out of memory opening mailslot %s",
                   name->full);
  /* Remote names go to the OS as written: \\server\... and \\*\... alike. */
  snprintf(w->name, sizeof w->name, "%s", name->full);
  w->kind = name->kind;
  w->timeout = opts->timeout; /* mailslot writes never wait for room on Windows */
  if ((rc = wide_name(w->name, w->wname, MS_NAME_MAX, "open", err)) != MS_OK) {
    free(w);
    return rc;
  }
  w->event = CreateEventA(NULL, TRUE, FALSE, NULL);
  if (!w->event) {
    rc = sys_fail(err, MS_SYSTEM, GetLastError(), "cannot open", w->name);
    free(w);
    return rc;
  }
  if ((rc = open_handle(w, err)) != MS_OK) {
    CloseHandle(w->event);
    free(w);
    return rc;
  }
  *out = w;
  return MS_OK;
}

static int reader_gone(DWORD e) {
  return e == ERROR_HANDLE_EOF || e == ERROR_BROKEN_PIPE || e == ERROR_NO_DATA ||
         e == ERROR_FILE_NOT_FOUND || e == ERROR_PIPE_NOT_CONNECTED || e == ERROR_INVALID_HANDLE;
}

/*
 * One overlapped WriteFile. Mailslot writes normally complete at once; when
 * the OS makes the write wait for room (Wine 8 does once a few hundred
 * messages queue), it waits up to the writer's timeout, making room itself
 * when this thread owns the reader, and cancels the write when time is up
 * (CancelIoEx, then waiting for the OS to let go of `data`). *e is the
 * write's error, 0 on success; the return is MS_OK unless it timed out.
 */
static ms_code write_once(ms_writer *w, const void *data, DWORD len, DWORD *n, DWORD *e,
                          ms_error *err) {
  OVERLAPPED ov;
  double deadline;
  DWORD step = POLL_FIRST_MS;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = w->event;
  ResetEvent(w->event);
  *e = 0;
  if (WriteFile(w->h, data, len, NULL, &ov)) {
    if (!GetOverlappedResult(w->h, &ov, n, TRUE)) *e = GetLastError();
    return MS_OK;
  }
  if ((*e = GetLastError()) != ERROR_IO_PENDING) return MS_OK;
  deadline = deadline_of(w->timeout);
  for (;;) {
    ms_reader *own = ms_own_find(w->name, strlen(w->name) + 1);
    DWORD slice = INFINITE, rc;
    if (own) {
      ms_code drc = drain(own, err);
      if (drc != MS_OK) {
        CancelIoEx(w->h, &ov);
        GetOverlappedResult(w->h, &ov, n, TRUE);
        return drc;
      }
      slice = step;
    }
    slice = ms_until(deadline, slice);
    rc = WaitForSingleObject(w->event, slice);
    if (rc == WAIT_OBJECT_0) break;
    if (w->timeout == 0 || (deadline >= 0 && now_ms() >= deadline)) {
      CancelIoEx(w->h, &ov);
      if (GetOverlappedResult(w->h, &ov, n, TRUE)) { /* it went through meanwhile */
        *e = 0;
        return MS_OK;
      }
      if (w->timeout == 0)
        return ms_fail(err, MS_TIMEOUT, ERROR_SEM_TIMEOUT, "mailslot %s is full", w->name);
      return ms_fail(err, MS_TIMEOUT, ERROR_SEM_TIMEOUT,
                     "mailslot %s stayed full: its reader is not reading", w->name);
    }
    if (step < POLL_MAX_MS) step *= 2;
  }
  *e = GetOverlappedResult(w->h, &ov, n, TRUE) ? 0 : GetLastError();
  return MS_OK;
}

ms_code ms_writer_write(ms_writer *w, const void *data, size_t len, ms_error *err) {
  int reopened = 0;
  if (w->kind != MS_NAME_LOCAL && len > BROADCAST_MAX)
    return ms_fail(err, MS_TOO_BIG, 0,
                   "message of %lu bytes is too big for mailslot %s: a remote or broadcast "
                   "mailslot message carries at most %d bytes",
                   (unsigned long)len, w->name, BROADCAST_MAX);
  if (len > 0xffffffffu)
    return ms_fail(err, MS_TOO_BIG, 0, "message of %lu bytes is too big for mailslot %s", (unsigned long)len,
                   w->name);
  for (;;) {
    DWORD n = 0, e;
    ms_code rc = write_once(w, data, (DWORD)len, &n, &e, err);
    if (rc != MS_OK) return rc;
    if (e == 0) {
      if (n == len) return MS_OK;
      return ms_fail(err, MS_SYSTEM, 0, "mailslot %s took %lu of %lu bytes", w->name,
                     (unsigned long)n, (unsigned long)len);
    }
    if (w->kind == MS_NAME_LOCAL && reader_gone(e)) {
      /* Our reader went away; a new reader of the same name may be there. */
      HANDLE old = w->h;
      if (!reopened) {
        reopened = 1;
        rc = open_handle(w, err);
        if (rc == MS_OK) {
          CloseHandle(old);
          continue;
        }
        w->h = old;
        if (rc != MS_NOT_FOUND) return rc;
      }
      return ms_fail(err, MS_CLOSED, (int)e, "mailslot %s was closed by its reader", w->name);
    }
    switch (e) {
    case ERROR_ACCESS_DENIED:
      return ms_fail(err, MS_ACCESS, (int)e, "mailslot %s: access denied", w->name);
    case ERROR_SEM_TIMEOUT:
      return sys_fail(err, MS_TIMEOUT, e, "cannot write to", w->name);
    case ERROR_INVALID_PARAMETER:
    case ERROR_GEN_FAILURE:
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_NO_SYSTEM_RESOURCES:
      if (len > 0) /* the OS (or the reader's max_size) refused the size */
        return ms_fail(err, MS_TOO_BIG, (int)e,
                       "message of %lu bytes is too big for mailslot %s on this system",
                       (unsigned long)len, w->name);
      return sys_fail(err, MS_SYSTEM, e, "cannot write to", w->name);
    default:
      if (is_unreachable(e)) return sys_fail(err, MS_UNREACHABLE, e, "cannot reach remote", w->name);
      return sys_fail(err, MS_SYSTEM, e, "cannot write to", w->name);
    }
  }
}

ms_code ms_writer_write_batch(ms_writer *w, const char *const *data, const size_t *lens,
                              size_t n, size_t *sent, ms_error *err) {
  /* One WriteFile per message: each is one mailslot message. */
  for (*sent = 0; *sent < n; ++*sent) {
    ms_code rc = ms_writer_write(w, data[*sent], lens[*sent], err);
    if (rc != MS_OK) return rc;
  }
  return MS_OK;
}

ms_code ms_writer_relay(ms_writer *w, const ms_sender *from, const void *data,
                        size_t len, ms_error *err) {
  (void)from; (void)data; (void)len;
  return ms_fail(err, MS_SYSTEM, ERROR_NOT_SUPPORTED,
                 "cannot relay to mailslot %s: Windows delivers network mailslot messages "
                 "itself, no relay is needed (or possible)",
                 w->name);
}

int ms_writer_fd(const ms_writer *w) { (void)w; return -1; }
const char *ms_writer_name(const ms_writer *w) { return w->name; }
void ms_writer_settimeout(ms_writer *w, double timeout) { w->timeout = timeout; }
double ms_writer_timeout(const ms_writer *w) { return w->timeout; }

void ms_writer_close(ms_writer *w) {
  CloseHandle(w->h); /* nothing in flight: every write waits or cancels */
  CloseHandle(w->event);
  free(w);
}

/* ---- the machine ------------------------------------------------------------------- */

ms_code ms_list(const char *dir, void (*each)(const char *name, void *ctx), void *ctx,
                ms_error *err) {
  WIN32_FIND_DATAW fd;
  HANDLE find;
  DWORD e;
  (void)dir; /* socket directories are a POSIX matter */
  find = FindFirstFileW(L"\\\\.\\mailslot\\*", &fd);
  if (find == INVALID_HANDLE_VALUE) {
    char text[200];
    e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_NO_MORE_FILES) return MS_OK; /* none */
    return ms_fail(err, e == ERROR_ACCESS_DENIED ? MS_ACCESS : MS_SYSTEM, (int)e,
                   "cannot list mailslots: this system does not enumerate \\\\.\\mailslot\\*: "
                   "%s (error %lu)",
                   sys_text(e, text, sizeof text), (unsigned long)e);
  }
  do {
    ms_name name;
    ms_error ignored;
    char utf8[MAX_PATH * 3]; /* a UTF-16 unit is at most 3 bytes of UTF-8 */
    int n = WideCharToMultiByte(CP_UTF8, 0, fd.cFileName, -1, utf8, sizeof utf8, NULL, NULL);
    if (n <= 1 || strcmp(utf8, ".") == 0 || strcmp(utf8, "..") == 0) continue;
    if (ms_name_parse(utf8, (size_t)n - 1, NULL, &name, &ignored) == MS_OK) each(name.full, ctx);
  } while (FindNextFileW(find, &fd));
  e = GetLastError();
  FindClose(find);
  if (e != ERROR_NO_MORE_FILES) {
    char text[200];
    return ms_fail(err, MS_SYSTEM, (int)e, "cannot list mailslots: %s (error %lu)",
                   sys_text(e, text, sizeof text), (unsigned long)e);
  }
  return MS_OK;
}

void ms_this_host(char host[MS_THIS_HOST_SIZE]) {
  char buf[256] = "";
  DWORD size = sizeof buf;
  const char *env = getenv("MAILSLOT_COMPUTERNAME");
  size_t i;
  if (env && *env) snprintf(buf, sizeof buf, "%s", env);
  else if (!GetComputerNameA(buf, &size)) snprintf(buf, sizeof buf, "LOCALHOST");
  for (i = 0; i < MS_THIS_HOST_SIZE - 1 && buf[i] && buf[i] != '.'; i++)
    host[i] = (buf[i] >= 'a' && buf[i] <= 'z') ? (char)(buf[i] - 'a' + 'A') : buf[i];
  host[i] = '\0';
}

/* Reads ask it between wait slices; writes never wait long here (write_once). */
void ms_reader_setstop(ms_reader *r, ms_stop *stop) { r->stop = stop; }
void ms_writer_setstop(ms_writer *w, ms_stop *stop) { (void)w; (void)stop; }
