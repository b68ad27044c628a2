/* throttle.h: slows down and limits password guessing. Each failed login of a user name or
 * from an address doubles the delay of the next failed answer (base .. max). Past a number
 * of failures within a window, per user name and (higher) per address, logins are refused
 * before any password is checked, until the window has passed since the last failure; a
 * success clears the user's count. An attempt counts from its start (throttle_begin), so
 * parallel requests and the calls of one envelope cannot slip past the limit together. The
 * caller delays the answer without blocking (transport holds the reply). Memory is bounded:
 * a fixed table where the stalest entry gives way. Thread-safe. */
#ifndef BH_THROTTLE_H
#define BH_THROTTLE_H

#include <stdint.h>

struct throttle_limits {
  unsigned base_ms, max_ms; /* delay of a failed answer */
  unsigned user_max;        /* failures of one user name per window; 0: no limit */
  unsigned addr_max;        /* failures from one address per window; 0: no limit */
  int64_t window_ms;        /* also how long a count is remembered */
};

struct throttle;

struct throttle *throttle_new(const struct throttle_limits *lim);
void throttle_free(struct throttle *t);
/* Before checking a password: 0 when the attempt may go on (it is counted as running until
 * throttle_failure or throttle_success); otherwise the seconds until one may, and *delay_ms
 * how long to hold that answer. username NULL or blank: only the address counts. */
unsigned throttle_begin(struct throttle *t, const char *username, const char *addr, int64_t now_ms,
                        unsigned *delay_ms);
/* Ends an attempt as failed (or records a failure without throttle_begin); returns how long to
 * hold the answer. */
unsigned throttle_failure(struct throttle *t, const char *username, const char *addr,
                          int64_t now_ms);
/* Ends an attempt as a success: the user's count is cleared. */
void throttle_success(struct throttle *t, const char *username, const char *addr);

#endif
