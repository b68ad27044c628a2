/* fuzz_retry_after.c: the parsers of what a service's answer and the configuration bring to the
 * delivery engine: a Retry-After header value (outside input, RFC 9110 §10.2.3) and a retry
 * schedule. Nothing may crash or read out of bounds; a delay is -1 or within its bounds, and a
 * parsed schedule is within its limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify/backoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  const int64_t now = INT64_C(1763856000000); /* 2025-11-23 */
  int64_t ms = backoff_retry_after_ms(text, now, 1000, 86400000);
  if (ms != -1 && (ms < 1000 || ms > 86400000))
    abort();
  struct backoff_schedule s;
  if (backoff_schedule_parse(text, &s)) {
    if (s.n < 1 || s.n > BACKOFF_STEPS_MAX)
      abort();
    for (int i = 0; i < s.n; i++) {
      if (s.base_ms[i] < 0 || s.base_ms[i] > BACKOFF_STEP_MAX_MS)
        abort();
      int64_t d = backoff_delay_ms(&s, i, (uint32_t)size * 2654435761u);
      if (d < 0 || d > BACKOFF_STEP_MAX_MS + BACKOFF_STEP_MAX_MS / 5)
        abort();
    }
    if (backoff_delay_ms(&s, s.n, 0) != -1)
      abort();
  }
  free(text);
  return 0;
}
