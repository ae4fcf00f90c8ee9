/*
 * The readers this process created, so a writer can find a reader that its
 * own thread owns. A mailslot buffers messages until its reader reads them;
 * a writer that would wait for room in the queue of a reader its own thread
 * must read would wait forever, so it drains that reader instead. Another
 * thread's reader is never touched.
 */
#ifndef MAILSLOT_OWN_READERS_H
#define MAILSLOT_OWN_READERS_H

#include <stddef.h>

#ifdef _WIN32
#include <windows.h>
typedef DWORD ms_thread_id;
#else
#include <pthread.h>
typedef pthread_t ms_thread_id;
#endif

/* Lives inside the reader; key points at the reader's own address or name. */
typedef struct ms_own_entry {
  struct ms_own_entry *next;
  ms_thread_id owner;
  const void *key;
  size_t key_len;
  void *reader;
} ms_own_entry;

void ms_own_add(ms_own_entry *e, const void *key, size_t key_len, void *reader);
void ms_own_remove(ms_own_entry *e);
/* The reader of that key created by the calling thread, or NULL. */
void *ms_own_find(const void *key, size_t key_len);

#endif
