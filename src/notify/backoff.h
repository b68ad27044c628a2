/* backoff.h: when to try a service notification again. A schedule is a list of base delays,
 * one per attempt: the first is the wait before the first delivery, each later one the wait
 * after a failed attempt; past the end of the list the delivery gives up. Each delay gets
 * +-20 % jitter so that notifications which failed together do not retry together. A service
 * may also name its own delay in a Retry-After header (RFC 9110 §10.2.3).
 *
 * The default follows the example schedule of the Standard Webhooks specification:
 * immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over about 27.6 h).
 *
 * Thread-safety: all functions are pure (randomness and clock are parameters) and may run on
 * any thread; nothing allocates. */
#ifndef BH_BACKOFF_H
#define BH_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#define BACKOFF_STEPS_MAX 32                 /* entries in a schedule */
#define BACKOFF_STEP_MAX_MS (7 * 86400000LL) /* longest single base delay: 7 days */
#define BACKOFF_DEFAULT "0,5s,5m,30m,2h,5h,10h,10h"

struct backoff_schedule {
  int n;                              /* 1..BACKOFF_STEPS_MAX */
  int64_t base_ms[BACKOFF_STEPS_MAX]; /* 0..BACKOFF_STEP_MAX_MS each */
};

/* The schedule of BACKOFF_DEFAULT. */
extern const struct backoff_schedule backoff_default;

/* The delay in ms before attempt number attempt + 1, given that attempt attempts have been
 * made (0 for the first delivery): base_ms[attempt] scaled by a factor in [0.8, 1.2] chosen
 * linearly by random (0 -> 0.8, UINT32_MAX -> 1.2; pass a uniformly random value). Never
 * negative; a base outside 0..BACKOFF_STEP_MAX_MS is clamped first. -1 when attempt < 0 or
 * attempt >= s->n: give up. */
int64_t backoff_delay_ms(const struct backoff_schedule *s, int attempt, uint32_t random);

/* Parses a comma-separated list of 1..BACKOFF_STEPS_MAX delays, each a decimal number and a
 * unit "ms", "s", "m" or "h" (a bare "0" needs none), at most BACKOFF_STEP_MAX_MS; blanks
 * around entries are allowed. Example: BACKOFF_DEFAULT. False on anything else, leaving out
 * untouched. */
bool backoff_schedule_parse(const char *text, struct backoff_schedule *out);

/* The delay a Retry-After header value asks for, in ms from now_ms: delay-seconds (digits) or
 * an HTTP-date in any of the three forms of RFC 9110 §5.6.7 (IMF-fixdate, RFC 850 with its
 * two-digit year taken relative to now_ms, asctime), always GMT. The result is clamped to
 * [min_ms, max_ms] (a date in the past gives min_ms). -1 when header_value is NULL, empty or
 * malformed, or when min_ms < 0 or max_ms < min_ms. */
int64_t backoff_retry_after_ms(const char *header_value, int64_t now_ms, int64_t min_ms,
                               int64_t max_ms);

#endif
