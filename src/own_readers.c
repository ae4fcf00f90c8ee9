/* The readers of this process, by thread: see own_readers.h. */
#include "own_readers.h"

#include <string.h>

#ifdef _WIN32
static SRWLOCK lock = SRWLOCK_INIT;
#define LOCK() AcquireSRWLockExclusive(&lock)
#define UNLOCK() ReleaseSRWLockExclusive(&lock)
#define THIS_THREAD() GetCurrentThreadId()
#define SAME_THREAD(a, b) ((a) == (b))
#else
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define LOCK() pthread_mutex_lock(&lock)
#define UNLOCK() pthread_mutex_unlock(&lock)
#define THIS_THREAD() pthread_self()
#define SAME_THREAD(a, b) pthread_equal(a, b)
#endif

static ms_own_entry *entries;

void ms_own_add(ms_own_entry *e, const void *key, size_t key_len, void *reader) {
  e->owner = THIS_THREAD();
  e->key = key;
  e->key_len = key_len;
  e->reader = reader;
  LOCK();
  e->next = entries;
  entries = e;
  UNLOCK();
}

void ms_own_remove(ms_own_entry *e) {
  ms_own_entry **p;
  LOCK();
  for (p = &entries; *p; p = &(*p)->next)
    if (*p == e) {
      *p = e->next;
      break;
    }
  UNLOCK();
}

void *ms_own_find(const void *key, size_t key_len) {
  ms_own_entry *e;
  void *found = NULL;
  ms_thread_id me = THIS_THREAD();
  LOCK();
  for (e = entries; e && !found; e = e->next)
    if (SAME_THREAD(e->owner, me) && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
      found = e->reader;
  UNLOCK();
  return found;
}
