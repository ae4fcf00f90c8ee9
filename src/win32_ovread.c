/* One overlapped read in flight at a time: see win32_ovread.h. */
#include "win32_ovread.h"

#include <winternl.h>

#include <string.h>

/* FILE_MODE_INFORMATION: its class number and the flags of a synchronous handle. */
#define FILE_MODE_INFORMATION_CLASS 16
#define SYNC_IO_ALERT 0x10
#define SYNC_IO_NONALERT 0x20

typedef LONG(WINAPI *query_file_fn)(HANDLE, IO_STATUS_BLOCK *, void *, ULONG, int);

/*
 * Asks the OS how the handle does I/O. Windows' mailslot handles are
 * asynchronous; Wine 8's are synchronous (its overlapped ReadFile then
 * blocks until a message comes). When the OS cannot say, the answer is
 * "synchronous": the caller polls, which is right everywhere.
 */
int ms_ovread_completes_async(HANDLE h) {
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  query_file_fn query;
  IO_STATUS_BLOCK io;
  ULONG mode = 0;
  if (!ntdll) return 0;
  /* Through a plain function pointer: GetProcAddress's type is generic. */
  query = (query_file_fn)(void (*)(void))GetProcAddress(ntdll, "NtQueryInformationFile");
  if (!query || query(h, &io, &mode, sizeof mode, FILE_MODE_INFORMATION_CLASS) != 0) return 0;
  return (mode & (SYNC_IO_ALERT | SYNC_IO_NONALERT)) == 0;
}

int ms_ovread_init(ms_ovread *o, HANDLE h) {
  memset(o, 0, sizeof *o);
  o->h = h;
  /* Manual reset: it stays signalled until the result is taken. */
  o->event = CreateEventA(NULL, TRUE, FALSE, NULL);
  return o->event != NULL;
}

void ms_ovread_start(ms_ovread *o, void *buf, DWORD size) {
  memset(&o->ov, 0, sizeof o->ov);
  o->ov.hEvent = o->event;
  ResetEvent(o->event);
  o->done_n = 0;
  if (ReadFile(o->h, buf, size, NULL, &o->ov)) {
    GetOverlappedResult(o->h, &o->ov, &o->done_n, FALSE); /* the count is in the OVERLAPPED */
    o->done_e = 0;
  } else if ((o->done_e = GetLastError()) == ERROR_IO_PENDING) {
    o->state = MS_OVREAD_IN_FLIGHT;
    return;
  }
  o->state = MS_OVREAD_DONE;
  SetEvent(o->event); /* a waiter on the event sees the result at once */
}

int ms_ovread_result(ms_ovread *o, DWORD wait_ms, DWORD *n, DWORD *e) {
  switch (o->state) {
  case MS_OVREAD_IDLE:
    return 0;
  case MS_OVREAD_DONE:
    *n = o->done_n;
    *e = o->done_e;
    break;
  case MS_OVREAD_IN_FLIGHT:
    if (WaitForSingleObject(o->event, wait_ms) != WAIT_OBJECT_0) return 0;
    *n = 0;
    *e = GetOverlappedResult(o->h, &o->ov, n, FALSE) ? 0 : GetLastError();
    break;
  }
  o->state = MS_OVREAD_IDLE;
  ResetEvent(o->event);
  return 1;
}

int ms_ovread_idle(const ms_ovread *o) { return o->state == MS_OVREAD_IDLE; }

void ms_ovread_cancel(ms_ovread *o) {
  DWORD n;
  if (o->state == MS_OVREAD_IN_FLIGHT) {
    /* It may complete anyway (a message won the race): either way, wait for the OS. */
    CancelIoEx(o->h, &o->ov);
    GetOverlappedResult(o->h, &o->ov, &n, TRUE);
  }
  o->state = MS_OVREAD_IDLE;
  if (o->event) ResetEvent(o->event);
}

void ms_ovread_free(ms_ovread *o) {
  ms_ovread_cancel(o);
  if (o->event) CloseHandle(o->event);
  o->event = NULL;
}
