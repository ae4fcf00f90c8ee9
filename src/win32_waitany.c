/* Waiting on any number of events: see win32_waitany.h. */
#include "win32_waitany.h"

#include <stdlib.h>
#include <string.h>

/* Events per helper thread: WaitForMultipleObjects' limit, less the stop event. */
#define PER_THREAD (MAXIMUM_WAIT_OBJECTS - 1)

typedef struct {
  HANDLE events[MAXIMUM_WAIT_OBJECTS]; /* its share, then the stop event */
  DWORD n;                             /* its share's size */
  HANDLE waiter;                       /* set when one of its share is, or its wait failed */
  int failed;                          /* its wait failed: read once the thread has ended */
} chunk;

/*
 * A helper thread: waits on its share and the stop event; wakes the waiter
 * for its share, and also when its own wait failed, which the caller must
 * hear of at once: else it would wait out its timeout blind to this share.
 */
static DWORD WINAPI wait_chunk(void *arg) {
  chunk *c = arg;
  DWORD woke = WaitForMultipleObjects(c->n + 1, c->events, FALSE, INFINITE);
  if (woke == WAIT_FAILED) c->failed = 1;
  if (woke == WAIT_FAILED || woke < WAIT_OBJECT_0 + c->n) SetEvent(c->waiter);
  return 0;
}

/* WaitForMultipleObjects (n <= 64) for up to ms, cut into slices as asked. */
static DWORD wait_sliced(const HANDLE *events, DWORD n, DWORD ms, const ms_wait_slices *slices) {
  for (;;) {
    DWORD slice = slices && ms > slices->slice_ms ? slices->slice_ms : ms;
    DWORD woke = WaitForMultipleObjects(n, events, FALSE, slice);
    if (woke != WAIT_TIMEOUT || slice == ms || !slices->go_on(slices->ctx)) return woke;
    if (ms != INFINITE) ms -= slice;
  }
}

/*
 * More than 64: this thread waits on the first 63 events and a "woken"
 * event; helper threads wait on 63 of the rest each (and a stop event) and
 * set "woken" when one of theirs is set (or their wait failed: then the
 * whole wait fails). Then it stops them and waits for them to end (they use
 * `chunks`). Up to 64 helpers: 4095 events.
 */
static DWORD wait_threaded(const HANDLE *events, size_t n, DWORD ms,
                           const ms_wait_slices *slices) {
  size_t rest = n - PER_THREAD, nthreads = (rest + PER_THREAD - 1) / PER_THREAD, i, started = 0;
  HANDLE threads[MAXIMUM_WAIT_OBJECTS], mine[MAXIMUM_WAIT_OBJECTS];
  HANDLE waiter = NULL, stop = NULL;
  chunk *chunks = NULL;
  DWORD woke = WAIT_FAILED;
  if (nthreads > MAXIMUM_WAIT_OBJECTS) return WAIT_FAILED;
  waiter = CreateEventA(NULL, TRUE, FALSE, NULL);
  stop = CreateEventA(NULL, TRUE, FALSE, NULL);
  chunks = calloc(nthreads, sizeof *chunks);
  if (waiter && stop && chunks) {
    for (i = 0; i < nthreads; i++, started++) {
      chunk *c = &chunks[i];
      c->n = (DWORD)(i + 1 < nthreads ? PER_THREAD : rest - i * PER_THREAD);
      memcpy(c->events, events + (i + 1) * PER_THREAD, c->n * sizeof *events);
      c->events[c->n] = stop;
      c->waiter = waiter;
      /* A small stack: the helper only waits. */
      threads[i] = CreateThread(NULL, 16384, wait_chunk, c, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
      if (!threads[i]) break;
    }
    if (started == nthreads) {
      memcpy(mine, events, PER_THREAD * sizeof *events);
      mine[PER_THREAD] = waiter;
      woke = wait_sliced(mine, PER_THREAD + 1, ms, slices);
      if (woke <= WAIT_OBJECT_0 + PER_THREAD) woke = WAIT_OBJECT_0;
    }
    SetEvent(stop);
    WaitForMultipleObjects((DWORD)started, threads, TRUE, INFINITE); /* before chunks go */
    for (i = 0; i < started; i++) {
      CloseHandle(threads[i]);
      if (chunks[i].failed) woke = WAIT_FAILED;
    }
  }
  free(chunks);
  if (waiter) CloseHandle(waiter);
  if (stop) CloseHandle(stop);
  return woke == WAIT_OBJECT_0 || woke == WAIT_TIMEOUT ? woke : WAIT_FAILED;
}

DWORD ms_wait_any(const HANDLE *events, size_t n, DWORD ms, const ms_wait_slices *slices) {
  DWORD woke;
  if (n > MAXIMUM_WAIT_OBJECTS) return wait_threaded(events, n, ms, slices);
  woke = wait_sliced(events, (DWORD)n, ms, slices);
  if (woke == WAIT_TIMEOUT || woke == WAIT_FAILED) return woke;
  return WAIT_OBJECT_0;
}
