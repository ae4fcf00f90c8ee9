/*
 * Waiting until any of n events is signalled, for any n: WaitForMultipleObjects
 * takes at most 64 (MAXIMUM_WAIT_OBJECTS), and mailslot.wait may be given
 * hundreds of readers.
 */
#ifndef MAILSLOT_WIN32_WAITANY_H
#define MAILSLOT_WIN32_WAITANY_H

#include <stddef.h>
#include <windows.h>

/*
 * How a long wait is cut: every slice_ms, go_on(ctx) says whether to wait
 * on (0 ends the wait as a timeout). Helper threads keep waiting meanwhile.
 */
typedef struct {
  DWORD slice_ms;
  int (*go_on)(void *ctx);
  void *ctx;
} ms_wait_slices;

/*
 * Waits up to ms (INFINITE: forever) for one of events[0 .. n) to be
 * signalled, leaving it signalled; in slices when `slices` is not NULL.
 * WAIT_OBJECT_0 when one was, WAIT_TIMEOUT, or WAIT_FAILED (e.g. an event
 * listed twice in a short list, no memory, or the wait of a helper thread
 * past the 64th failed): the caller polls instead.
 */
DWORD ms_wait_any(const HANDLE *events, size_t n, DWORD ms, const ms_wait_slices *slices);

#endif
