/*
 * The portable error codes and the one way every backend fills an ms_error.
 * Needs nothing else of the core: the network OS calls (net_os.c) use it too.
 */
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

ms_code ms_fail(ms_error *err, ms_code code, int sys, const char *fmt, ...) {
  va_list ap;
  err->code = code;
  err->sys = sys;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return code;
}
