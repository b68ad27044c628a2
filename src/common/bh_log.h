/* bh_log.h: leveled, per-component logging to stderr. Cheap when off; never log secrets
 * (tokens, passwords, keys). */
#ifndef BH_LOG_H
#define BH_LOG_H

enum bh_log_level { BH_LOG_DEBUG, BH_LOG_INFO, BH_LOG_WARN, BH_LOG_ERROR, BH_LOG_OFF };
enum bh_log_comp {
  BH_C_APP,
  BH_C_HTTP,
  BH_C_WS,
  BH_C_RPC,
  BH_C_STORE,
  BH_C_AUTH,
  BH_C_EVENTS,
  BH_C_NOTIFY,
  BH_C_COUNT
};

extern enum bh_log_level bh_log_threshold[BH_C_COUNT];

#define BH_LOG(level, comp, ...)                                                                   \
  do {                                                                                             \
    if ((level) >= bh_log_threshold[(comp)])                                                       \
      bh_log_write((level), (comp), __FILE__, __LINE__, __VA_ARGS__);                              \
  } while (0)

void bh_log_write(enum bh_log_level level, enum bh_log_comp comp, const char *file, int line,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sets every component's threshold; name is debug|info|warn|error|off. Returns 0 or -1. */
int bh_log_set_level(const char *name);

#endif
