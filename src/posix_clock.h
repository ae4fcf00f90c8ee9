/* Deadlines on the monotonic clock, so a changed wall clock never stretches a wait. */
#ifndef POSIX_CLOCK_H
#define POSIX_CLOCK_H

#include <limits.h>
#include <math.h>
#include <time.h>

static inline double ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A negative timeout (MS_FOREVER) gives a negative deadline: no end. */
static inline double ms_deadline(double timeout) {
  return timeout < 0 ? -1.0 : ms_now() + timeout;
}

static inline int ms_deadline_passed(double deadline) {
  return deadline >= 0 && ms_now() >= deadline;
}

/* Milliseconds left for poll(), rounded up so a wait never ends early. */
static inline int ms_poll_ms(double deadline) {
  double left;
  if (deadline < 0) return -1;
  left = ceil((deadline - ms_now()) * 1000.0);
  if (left <= 0) return 0;
  return left > (double)INT_MAX ? INT_MAX : (int)left;
}

#endif
