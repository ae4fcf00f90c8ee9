/*
 * Wait sets for backends without a registration-based wait (Windows): the
 * set keeps its members and each wait hands the reported ones to ms_wait.
 * Correct everywhere, but a wait costs what the set holds.
 */
#include "mailslot.h"

#include <stdlib.h>

struct ms_waitset {
  ms_reader **members;
  int *reported;
  size_t n, cap;
  ms_reader **batch; /* the reported members, for ms_wait */
  int *ready;
};

int ms_waitset_registers(void) { return 0; }

ms_code ms_waitset_new(ms_waitset **out, ms_error *err) {
  ms_waitset *s = calloc(1, sizeof *s);
  if (!s) return ms_fail(err, MS_SYSTEM, 0, "out of memory making a wait set");
  *out = s;
  return MS_OK;
}

void ms_waitset_free(ms_waitset *s) {
  free(s->members);
  free(s->reported);
  free(s->batch);
  free(s->ready);
  free(s);
}

static size_t find(const ms_waitset *s, const ms_reader *r) {
  size_t i;
  for (i = 0; i < s->n && s->members[i] != r; i++) {}
  return i;
}

static int grow(ms_waitset *s) {
  size_t cap = s->cap ? s->cap * 2 : 16;
  void *p;
  if (!(p = realloc(s->members, cap * sizeof *s->members))) return 0;
  s->members = p;
  if (!(p = realloc(s->reported, cap * sizeof *s->reported))) return 0;
  s->reported = p;
  if (!(p = realloc(s->batch, cap * sizeof *s->batch))) return 0;
  s->batch = p;
  if (!(p = realloc(s->ready, cap * sizeof *s->ready))) return 0;
  s->ready = p;
  s->cap = cap;
  return 1;
}

ms_code ms_waitset_add(ms_waitset *s, ms_reader *r, ms_error *err) {
  size_t i = find(s, r);
  if (i == s->n) {
    if (s->n == s->cap && !grow(s))
      return ms_fail(err, MS_SYSTEM, 0, "out of memory adding mailslot %s to a wait set",
                     ms_reader_name(r));
    s->members[s->n++] = r;
  }
  s->reported[i] = 1;
  return MS_OK;
}

void ms_waitset_mute(ms_waitset *s, ms_reader *r) {
  size_t i = find(s, r);
  if (i < s->n) s->reported[i] = 0;
}

void ms_waitset_remove(ms_waitset *s, ms_reader *r) {
  size_t i = find(s, r);
  if (i == s->n) return;
  s->n--;
  s->members[i] = s->members[s->n];
  s->reported[i] = s->reported[s->n];
}

ms_code ms_waitset_wait(ms_waitset *s, double timeout, ms_reader **ready, size_t max,
                        size_t *got, ms_stop *stop, ms_error *err) {
  size_t i, k = 0;
  ms_code rc;
  *got = 0;
  for (i = 0; i < s->n; i++)
    if (s->reported[i]) s->batch[k++] = s->members[i];
  if (k == 0 && timeout < 0)
    return ms_fail(err, MS_TIMEOUT, 0, "a wait set with no mailslot to wait on would wait forever");
  rc = ms_wait(s->batch, k, timeout, s->ready, stop, err);
  if (rc != MS_OK) return rc;
  for (i = 0; i < k && *got < max; i++)
    if (s->ready[i]) ready[(*got)++] = s->batch[i];
  return MS_OK;
}
