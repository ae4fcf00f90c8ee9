/*
 * A reader's queue of whole messages, kept in user space by every backend:
 * what info() or a same-thread writer took off the OS waits here, in order,
 * so counts are exact and reads stay FIFO. Pure C.
 */
#ifndef MAILSLOT_MSGQUEUE_H
#define MAILSLOT_MSGQUEUE_H

#include "mailslot.h"

typedef struct ms_msg {
  struct ms_msg *next;
  size_t len;
  ms_sender from;
  char data[];
} ms_msg;

typedef struct {
  ms_msg *head, *tail;
  ms_msg *last; /* the message handed out last, freed by the next take */
  size_t count;
} ms_msgqueue;

/* Appends a copy; 0 when out of memory. */
int ms_msgqueue_push(ms_msgqueue *q, const char *data, size_t len, const ms_sender *from);
/* Frees what was handed out last, then hands out the oldest (NULL when empty). */
const ms_msg *ms_msgqueue_take(ms_msgqueue *q);
/*
 * Puts back a message a batch could not hand on, so the next read gets it:
 * the one handed out last (data == its data) goes back to the head, any other
 * is appended as a copy. 0 when out of memory.
 */
int ms_msgqueue_give_back(ms_msgqueue *q, const char *data, size_t len, const ms_sender *from);
/* Frees what was handed out last. */
void ms_msgqueue_release(ms_msgqueue *q);
void ms_msgqueue_clear(ms_msgqueue *q);

#endif
