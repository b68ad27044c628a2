/* bh_time.h: wall clock in milliseconds (what BIMserver puts in Date fields) and a
 * monotonic clock for timeouts. */
#ifndef BH_TIME_H
#define BH_TIME_H
#include <stdint.h>
#include <time.h>

static inline int64_t bh_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t bh_mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
#endif
