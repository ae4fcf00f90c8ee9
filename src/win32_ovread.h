/*
 * One overlapped ReadFile at a time on a handle, and the life of its buffer.
 *
 * A read in flight belongs to the OS until it completes: its buffer may be
 * written at any moment. The owner keeps the buffer, never resizes or frees
 * it until ms_ovread_idle(), and ends a read it no longer wants with
 * ms_ovread_cancel(), which returns only once the OS is done with the buffer.
 * The event is signalled whenever a result waits, so a caller can wait on
 * several readers' events at once.
 */
#ifndef MAILSLOT_WIN32_OVREAD_H
#define MAILSLOT_WIN32_OVREAD_H

#include <windows.h>

typedef enum { MS_OVREAD_IDLE = 0, MS_OVREAD_IN_FLIGHT, MS_OVREAD_DONE } ms_ovread_state;

typedef struct {
  HANDLE h;     /* the handle read (not owned) */
  HANDLE event; /* signalled while a result waits (owned) */
  OVERLAPPED ov;
  ms_ovread_state state;
  DWORD done_n, done_e; /* the result of a read that finished at once */
} ms_ovread;

/* Whether overlapped reads on h can stay pending (the handle is not synchronous). */
int ms_ovread_completes_async(HANDLE h);

/* Prepares reads on h; 0 with GetLastError() set when no event could be made. */
int ms_ovread_init(ms_ovread *o, HANDLE h);

/* Starts a read into buf[0 .. size); only when idle. */
void ms_ovread_start(ms_ovread *o, void *buf, DWORD size);

/*
 * The result of the read started, once it has finished (waiting up to
 * wait_ms): 1 with *n bytes read and *e the Windows error or 0, the reader
 * idle again; 0 while it is still in flight or none was started.
 */
int ms_ovread_result(ms_ovread *o, DWORD wait_ms, DWORD *n, DWORD *e);

/* Whether no read is started: the buffer is the owner's. */
int ms_ovread_idle(const ms_ovread *o);

/* Ends a started read, if any, and returns once the OS has let go of its buffer. */
void ms_ovread_cancel(ms_ovread *o);

/* Cancels as above and frees the event. */
void ms_ovread_free(ms_ovread *o);

#endif
