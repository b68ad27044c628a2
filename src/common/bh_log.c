/* bh_log.c: one line per message on stderr: time, level, component, text. */
#include "common/bh_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum bh_log_level bh_log_threshold[BH_C_COUNT] = {
    BH_LOG_INFO, BH_LOG_INFO, BH_LOG_INFO, BH_LOG_INFO, BH_LOG_INFO, BH_LOG_INFO, BH_LOG_INFO,
};

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
static const char *const comp_names[] = {"app",   "http", "ws",     "rpc",
                                         "store", "auth", "events", "notify"};

void bh_log_write(enum bh_log_level level, enum bh_log_comp comp, const char *file, int line,
                  const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);

  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  if (level == BH_LOG_DEBUG)
    fprintf(stderr, "%s.%03ldZ %-5s %-6s %s (%s:%d)\n", when, ts.tv_nsec / 1000000,
            level_names[level], comp_names[comp], msg, file, line);
  else
    fprintf(stderr, "%s.%03ldZ %-5s %-6s %s\n", when, ts.tv_nsec / 1000000, level_names[level],
            comp_names[comp], msg);
}

int bh_log_set_level(const char *name)
{
  for (int l = BH_LOG_DEBUG; l <= BH_LOG_OFF; l++) {
    if (strcmp(name, level_names[l]) == 0) {
      for (int c = 0; c < BH_C_COUNT; c++)
        bh_log_threshold[c] = (enum bh_log_level)l;
      return 0;
    }
  }
  return -1;
}
