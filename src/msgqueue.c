/* A reader's user-space message queue: see msgqueue.h. */
#include "msgqueue.h"

#include <stdlib.h>
#include <string.h>

int ms_msgqueue_push(ms_msgqueue *q, const char *data, size_t len, const ms_sender *from) {
  ms_msg *m = malloc(sizeof *m + len);
  if (!m) return 0;
  m->next = NULL;
  m->len = len;
  if (from) m->from = *from;
  else memset(&m->from, 0, sizeof m->from);
  memcpy(m->data, data, len);
  if (q->tail) q->tail->next = m;
  else q->head = m;
  q->tail = m;
  q->count++;
  return 1;
}

void ms_msgqueue_release(ms_msgqueue *q) {
  free(q->last);
  q->last = NULL;
}

const ms_msg *ms_msgqueue_take(ms_msgqueue *q) {
  ms_msgqueue_release(q);
  if (!q->head) return NULL;
  q->last = q->head;
  q->head = q->head->next;
  if (!q->head) q->tail = NULL;
  q->count--;
  return q->last;
}

int ms_msgqueue_give_back(ms_msgqueue *q, const char *data, size_t len, const ms_sender *from) {
  ms_msg *m = q->last;
  if (!m || data != m->data) return ms_msgqueue_push(q, data, len, from);
  q->last = NULL;
  m->next = q->head;
  q->head = m;
  if (!q->tail) q->tail = m;
  q->count++;
  return 1;
}

void ms_msgqueue_clear(ms_msgqueue *q) {
  ms_msg *m = q->head;
  while (m) {
    ms_msg *next = m->next;
    free(m);
    m = next;
  }
  ms_msgqueue_release(q);
  q->head = q->tail = NULL;
  q->count = 0;
}
