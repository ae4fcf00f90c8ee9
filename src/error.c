/* The portable error codes and the one way every backend fills an ms_error. */
#include "mailslot.h"

#include <stdarg.h>
#include <stdio.h>

const char *ms_code_name(ms_code code) {
  switch (code) {
  case MS_OK: return "ok";
  case MS_TIMEOUT: return "timeout";
  case MS_EXISTS: return "exists";
  case MS_NOT_FOUND: return "not_found";
  case MS_INVALID_NAME: return "invalid_name";
  case MS_TOO_BIG: return "too_big";
  case MS_CLOSED: return "closed";
  case MS_ACCESS: return "access";
  case MS_UNREACHABLE: return "unreachable";
  case MS_INTERRUPTED: return "interrupted";
  case MS_SYSTEM: break;
  }
  return "system";
}

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

ms_code ms_fail(ms_error *err, ms_code code, int sys, const char *fmt, ...) {
  va_list ap;
  err->code = code;
  err->sys = sys;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return code;
}
