/*
 * win32_ovread (one overlapped read in flight) against a message-mode named
 * pipe opened for overlapped I/O, which every Wine completes asynchronously,
 * and against a mailslot made as the backend makes it (win32_ntslot.h), which
 * Windows and Wine 10 complete asynchronously (Wine 8 does not: skipped
 * there, saying so). Pending, completion, a result that waits, cancellation
 * with the buffer left untouched afterwards, freeing with a read in flight,
 * and the synchronous-handle check. Prints one line per check and
 * "N passed, N failed"; exits 1 on a failure.
 */
#include "win32_ntslot.h"
#include "win32_ovread.h"
#include "win32_waitany.h"

#include <stdio.h>
#include <string.h>

#define PIPE_NAME "\\\\.\\pipe\\lua-mailslot-ovread-test"
#define SLOT_NAME L"\\\\.\\mailslot\\lua-mailslot-ovread-test"

static int passed, failed;

static void check(int ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (ok) passed++;
  else failed++;
}

static HANDLE make_server(DWORD flags) {
  return CreateNamedPipeA(PIPE_NAME, PIPE_ACCESS_INBOUND | flags,
                          PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1, 4096, 4096,
                          0, NULL);
}

static HANDLE connect_client(void) {
  return CreateFileA(PIPE_NAME, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
}

static HANDLE open_slot(void) {
  return CreateFileW(SLOT_NAME, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                     OPEN_EXISTING, 0, NULL);
}

static void send_text(HANDLE client, const char *text) {
  DWORD n;
  WriteFile(client, text, (DWORD)strlen(text), &n, NULL);
}

/* The state machine on a handle whose reads complete asynchronously; client writes to it. */
static void exercise(HANDLE server, HANDLE client) {
  ms_ovread o;
  char buf[64];
  DWORD n = 0, e = 0;
  check(ms_ovread_init(&o, server), "init makes an event");
  check(ms_ovread_idle(&o), "a new reader is idle");
  check(!ms_ovread_result(&o, 0, &n, &e), "no result before a read is started");

  ms_ovread_start(&o, buf, sizeof buf);
  check(!ms_ovread_idle(&o), "a read with nothing to take stays in flight");
  check(!ms_ovread_result(&o, 20, &n, &e), "no result while nothing was sent");
  check(WaitForSingleObject(o.event, 0) == WAIT_TIMEOUT, "the event is clear while waiting");
  send_text(client, "hello");
  check(WaitForSingleObject(o.event, 5000) == WAIT_OBJECT_0, "the event wakes a waiter on arrival");
  check(ms_ovread_result(&o, 0, &n, &e) && e == 0 && n == 5 && memcmp(buf, "hello", 5) == 0,
        "the result is the message sent");
  check(ms_ovread_idle(&o) && WaitForSingleObject(o.event, 0) == WAIT_TIMEOUT,
        "taking the result makes it idle and clears the event");

  send_text(client, "ready");
  Sleep(10);
  ms_ovread_start(&o, buf, sizeof buf);
  check(WaitForSingleObject(o.event, 5000) == WAIT_OBJECT_0,
        "a read of a message already there signals its event");
  check(ms_ovread_result(&o, 0, &n, &e) && e == 0 && n == 5 && memcmp(buf, "ready", 5) == 0,
        "and gives its message");

  memset(buf, 'x', sizeof buf);
  ms_ovread_start(&o, buf, sizeof buf);
  ms_ovread_cancel(&o);
  check(ms_ovread_idle(&o), "cancel ends the read in flight");
  send_text(client, "after");
  Sleep(50);
  check(buf[0] == 'x', "the OS does not write the buffer after cancel returns");
  ms_ovread_start(&o, buf, sizeof buf);
  check(ms_ovread_result(&o, 5000, &n, &e) && e == 0 && n == 5 && memcmp(buf, "after", 5) == 0,
        "the message sent after a cancel goes to the next read");

  ms_ovread_start(&o, buf, sizeof buf);
  ms_ovread_free(&o); /* with a read in flight: cancelled, then freed */
  check(o.event == NULL && ms_ovread_idle(&o), "free with a read in flight cancels it");
}

/* ms_wait_any over 200 manual-reset events: a timeout, then the one set (any of them). */
static void check_wait_any(void) {
  enum { N = 200 };
  HANDLE events[N];
  size_t i, made = 0;
  for (i = 0; i < N; i++, made++)
    if (!(events[i] = CreateEventA(NULL, TRUE, FALSE, NULL))) break;
  check(made == N, "200 events made");
  if (made < N) return;
  check(ms_wait_any(events, N, 20, NULL) == WAIT_TIMEOUT, "none set: the wait times out");
  SetEvent(events[150]);
  check(ms_wait_any(events, N, 5000, NULL) == WAIT_OBJECT_0 &&
            WaitForSingleObject(events[150], 0) == WAIT_OBJECT_0,
        "one set beyond the first 64: the wait ends, the event stays set");
  ResetEvent(events[150]);
  SetEvent(events[3]);
  check(ms_wait_any(events, N, 5000, NULL) == WAIT_OBJECT_0, "one set among the first 63: the wait ends");
  ResetEvent(events[3]);
  SetEvent(events[N - 1]);
  check(ms_wait_any(events, 65, 20, NULL) == WAIT_TIMEOUT, "an event outside the list does not end it");
  check(ms_wait_any(events, N, 5000, NULL) == WAIT_OBJECT_0, "the last one does");
  ResetEvent(events[N - 1]);
  {
    /* A helper thread whose wait fails (here: a handle that is no handle) must
     * say so at once, not leave the caller waiting out its timeout blind to
     * that share: WAIT_FAILED makes the caller poll. */
    HANDLE kept = events[150];
    DWORD t0 = GetTickCount(), woke;
    events[150] = (HANDLE)(ULONG_PTR)0x7ffffffc;
    woke = ms_wait_any(events, N, 3000, NULL);
    check(woke == WAIT_FAILED && GetTickCount() - t0 < 2000,
          "a helper's failed wait fails the whole wait at once");
    events[150] = kept;
  }
  for (i = 0; i < N; i++) CloseHandle(events[i]);
}

int main(void) {
  HANDLE server, client, sync_server;

  printf("-- a message-mode named pipe\n");
  server = make_server(FILE_FLAG_OVERLAPPED);
  client = connect_client();
  check(server != INVALID_HANDLE_VALUE && client != INVALID_HANDLE_VALUE, "pipe connected");
  check(ms_ovread_completes_async(server), "an overlapped handle completes reads asynchronously");
  exercise(server, client);
  CloseHandle(client);
  CloseHandle(server);

  printf("-- a mailslot made as Windows' CreateMailslotW makes it\n");
  server = ms_nt_create_mailslot(SLOT_NAME, 0, MAILSLOT_WAIT_FOREVER, NULL);
  client = open_slot();
  check(server != INVALID_HANDLE_VALUE && client != INVALID_HANDLE_VALUE, "mailslot created and opened");
  if (ms_ovread_completes_async(server)) exercise(server, client);
  else printf("skip the mailslot: this OS makes synchronous mailslot handles (Wine 8)\n");
  CloseHandle(client);
  CloseHandle(server);

  printf("-- waiting on more events than WaitForMultipleObjects takes\n");
  check_wait_any();

  sync_server = make_server(0);
  check(sync_server != INVALID_HANDLE_VALUE && !ms_ovread_completes_async(sync_server),
        "a handle opened without FILE_FLAG_OVERLAPPED is synchronous");
  CloseHandle(sync_server);

  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
