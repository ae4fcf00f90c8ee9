/* The message of a wait that timed out, naming what was waited on (mailslot.h). */
#include "mailslot.h"

#include <stdio.h>

/* Names shown in a wait's timeout message; the rest are counted. */
#define WAIT_NAMES_SHOWN 3

/*
 * "no message in mailslot \\.\mailslot\a", or for a wait on several the
 * first names and how many more: the message says what was waited on.
 */
ms_code ms_fail_wait_timeout(ms_error *err, int sys, ms_reader *const *readers, size_t n) {
  size_t shown = n < WAIT_NAMES_SHOWN ? n : WAIT_NAMES_SHOWN, used, i;
  err->code = MS_TIMEOUT;
  err->sys = sys;
  used = (size_t)snprintf(err->msg, sizeof err->msg, "no message in mailslot%s", n == 1 ? "" : "s");
  for (i = 0; i < shown && used < sizeof err->msg; i++) {
    const char *sep = i == 0 ? " " : (i + 1 == n ? " and " : ", ");
    used += (size_t)snprintf(err->msg + used, sizeof err->msg - used, "%s%s", sep,
                             ms_reader_name(readers[i]));
  }
  if (shown < n && used < sizeof err->msg)
    snprintf(err->msg + used, sizeof err->msg - used, " and %zu more", n - shown);
  return MS_TIMEOUT;
}
