/* Waiting on any number of events: see win32_waitany.h. */
#include "win32_waitany.h"

#include <stdlib.h>

/* A thread-pool wait saw its event: wake the one waiter. */
static VOID CALLBACK wake_waiter(PVOID waiter, BOOLEAN timed_out) {
  (void)timed_out;
  SetEvent((HANDLE)waiter);
}

/*
 * More than 64: the thread pool waits on each event (RegisterWaitForSingleObject,
 * which has no such limit) and sets one event this thread sleeps on. The
 * events are manual-reset, so they stay signalled for the caller to look at.
 */
static DWORD wait_pooled(const HANDLE *events, size_t n, DWORD ms) {
  HANDLE waiter = CreateEventA(NULL, TRUE, FALSE, NULL);
  HANDLE *waits = waiter ? calloc(n, sizeof *waits) : NULL;
  DWORD woke = WAIT_FAILED;
  size_t i, registered = 0;
  if (waits) {
    for (i = 0; i < n; i++, registered++)
      if (!RegisterWaitForSingleObject(&waits[i], events[i], wake_waiter, waiter, INFINITE,
                                       WT_EXECUTEONLYONCE))
        break;
    if (registered == n) woke = WaitForSingleObject(waiter, ms);
    /* INVALID_HANDLE_VALUE: returns once no callback runs, before `waiter` goes. */
    for (i = 0; i < registered; i++) UnregisterWaitEx(waits[i], INVALID_HANDLE_VALUE);
    free(waits);
  }
  if (waiter) CloseHandle(waiter);
  return woke == WAIT_OBJECT_0 || woke == WAIT_TIMEOUT ? woke : WAIT_FAILED;
}

DWORD ms_wait_any(const HANDLE *events, size_t n, DWORD ms) {
  DWORD woke;
  if (n > MAXIMUM_WAIT_OBJECTS) return wait_pooled(events, n, ms);
  woke = WaitForMultipleObjects((DWORD)n, events, FALSE, ms);
  if (woke == WAIT_TIMEOUT || woke == WAIT_FAILED) return woke;
  return WAIT_OBJECT_0;
}
