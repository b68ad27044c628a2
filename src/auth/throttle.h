/* throttle.h: slows down password guessing. Each failed login of a user name or from an
 * address doubles the delay of the next failed answer (base .. max); a success clears the
 * user's count; counts older than 15 minutes are forgotten. The caller delays the answer
 * without blocking (transport holds the reply). Memory is bounded: a fixed table where the
 * stalest entry gives way. Thread-safe. */
#ifndef BH_THROTTLE_H
#define BH_THROTTLE_H

#include <stdint.h>

struct throttle;

struct throttle *throttle_new(unsigned base_ms, unsigned max_ms);
void throttle_free(struct throttle *t);
/* Records a failure; returns how long to hold the answer. */
unsigned throttle_failure(struct throttle *t, const char *username, const char *addr,
                          int64_t now_ms);
void throttle_success(struct throttle *t, const char *username);

#endif
