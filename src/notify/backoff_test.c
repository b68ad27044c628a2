/* backoff_test.c: the default schedule, jitter bounds at both ends of the random range, the
 * config syntax, and Retry-After in each of its forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "notify/backoff.h"

#define H 3600000LL
#define JAN_2026 1767225600000LL /* 2026-01-01T00:00:00Z */
#define NOV_1994 784111777000LL  /* Sun, 06 Nov 1994 08:49:37 GMT (python3 calendar.timegm) */

static void default_schedule(void **state)
{
  (void)state;
  struct backoff_schedule s;
  assert_true(backoff_schedule_parse(BACKOFF_DEFAULT, &s));
  assert_int_equal(s.n, backoff_default.n);
  assert_memory_equal(s.base_ms, backoff_default.base_ms, sizeof s.base_ms[0] * (size_t)s.n);
  int64_t total = 0;
  for (int i = 0; i < s.n; i++)
    total += s.base_ms[i];
  assert_int_equal(total, 99305000); /* 27 h 35 min 5 s */
  /* the middle of the random range gives the base */
  assert_int_equal(backoff_delay_ms(&s, 0, 0), 0);
  assert_int_equal(backoff_delay_ms(&s, 0, UINT32_MAX), 0);
  assert_int_equal(backoff_delay_ms(&s, 1, UINT32_MAX / 2), 5000 - 1);
  assert_int_equal(backoff_delay_ms(&s, 1, UINT32_MAX / 2 + 1), 5000);
  assert_int_equal(backoff_delay_ms(&s, 7, 0), 8 * H);
  assert_int_equal(backoff_delay_ms(&s, 7, UINT32_MAX), 12 * H);
  /* then give up */
  assert_int_equal(backoff_delay_ms(&s, 8, 0), -1);
  assert_int_equal(backoff_delay_ms(&s, 1000, 0), -1);
  assert_int_equal(backoff_delay_ms(&s, -1, 0), -1);
  assert_int_equal(backoff_delay_ms(NULL, 0, 0), -1);
}

/* Checks every random value within 2^17 of either end, and a stride across the middle:
 * within [base - base/5, base + base/5], the ends reached exactly, and never decreasing. */
static void check_jitter(int64_t base)
{
  struct backoff_schedule s = {.n = 1, .base_ms = {base}};
  int64_t lo = base - base / 5, hi = base + base / 5;
  assert_int_equal(backoff_delay_ms(&s, 0, 0), lo);
  assert_int_equal(backoff_delay_ms(&s, 0, UINT32_MAX), hi);
  int64_t prev = lo;
  uint64_t r = 0;
  while (r <= UINT32_MAX) {
    int64_t d = backoff_delay_ms(&s, 0, (uint32_t)r);
    assert_true(d >= lo && d <= hi && d >= 0);
    assert_true(d >= prev);
    prev = d;
    if (r < (1u << 17) || r >= UINT32_MAX - (1u << 17))
      r++;
    else if (r + 65521 < UINT32_MAX - (1u << 17))
      r += 65521;
    else
      r = UINT32_MAX - (1u << 17);
  }
}

static void jitter_bounds(void **state)
{
  (void)state;
  const int64_t bases[] = {0, 1, 4, 5, 7, 1000, 5000, 300000, 10 * H, BACKOFF_STEP_MAX_MS};
  for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
    check_jitter(bases[i]);
  /* hand-made schedules outside the limits are clamped, never negative */
  struct backoff_schedule s = {.n = 2, .base_ms = {-5000, INT64_MAX}};
  assert_int_equal(backoff_delay_ms(&s, 0, 0), 0);
  assert_int_equal(backoff_delay_ms(&s, 0, UINT32_MAX), 0);
  assert_int_equal(backoff_delay_ms(&s, 1, UINT32_MAX), BACKOFF_STEP_MAX_MS / 5 * 6);
  s.n = BACKOFF_STEPS_MAX + 1;
  assert_int_equal(backoff_delay_ms(&s, BACKOFF_STEPS_MAX, 0), -1);
}

static void schedule_syntax(void **state)
{
  (void)state;
  struct backoff_schedule s;
  assert_true(backoff_schedule_parse(" 0 ,\t250ms, 5s ,2m,1h ", &s));
  assert_int_equal(s.n, 5);
  assert_int_equal(s.base_ms[0], 0);
  assert_int_equal(s.base_ms[1], 250);
  assert_int_equal(s.base_ms[2], 5000);
  assert_int_equal(s.base_ms[3], 120000);
  assert_int_equal(s.base_ms[4], H);
  assert_true(backoff_schedule_parse("0s", &s));
  assert_true(backoff_schedule_parse("0ms,0h", &s));
  assert_int_equal(s.n, 2);
  assert_true(backoff_schedule_parse("168h", &s)); /* exactly BACKOFF_STEP_MAX_MS */
  assert_int_equal(s.base_ms[0], BACKOFF_STEP_MAX_MS);
  assert_true(backoff_schedule_parse("604800000ms", &s));

  char many[200] = "1s";
  for (int i = 1; i < BACKOFF_STEPS_MAX; i++)
    strcat(many, ",1s");
  assert_true(backoff_schedule_parse(many, &s));
  assert_int_equal(s.n, BACKOFF_STEPS_MAX);
  strcat(many, ",1s");

  const char *bad[] = {many,    "",       " ",           ",",      "5s,",
                       ",5s",   "5s,,5s", "5",           "5x",     "5 s",
                       "-5s",   "+5s",    "1.5s",        "5S",     "5ms5",
                       "5d",    "169h",   "604800001ms", "10081m", "99999999999999999999ms",
                       "5s;5s", "0x10s"};
  s.n = 99;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_false(backoff_schedule_parse(bad[i], &s));
    assert_int_equal(s.n, 99); /* untouched */
  }
  assert_false(backoff_schedule_parse(NULL, &s));
}

static void retry_after_seconds(void **state)
{
  (void)state;
  int64_t now = JAN_2026, max = 24 * H;
  assert_int_equal(backoff_retry_after_ms("120", now, 0, max), 120000);
  assert_int_equal(backoff_retry_after_ms(" \t120 ", now, 0, max), 120000);
  assert_int_equal(backoff_retry_after_ms("0", now, 1000, max), 1000);
  assert_int_equal(backoff_retry_after_ms("5", now, 1000, 3000), 3000);
  assert_int_equal(backoff_retry_after_ms("86400", now, 0, max), max);
  assert_int_equal(backoff_retry_after_ms("99999999999999999999999", now, 0, INT64_MAX),
                   INT64_MAX / 1000 * 1000);
  assert_int_equal(backoff_retry_after_ms("9223372036854775", now, 0, INT64_MAX),
                   9223372036854775000LL);
  assert_int_equal(backoff_retry_after_ms("9223372036854776", now, 0, INT64_MAX),
                   INT64_MAX / 1000 * 1000);
  const char *bad[] = {"", "  ", "-1", "+1", "1.5", "120abc", "12 0", "1e3", "0x10"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(backoff_retry_after_ms(bad[i], now, 0, max), -1);
  assert_int_equal(backoff_retry_after_ms(NULL, now, 0, max), -1);
  assert_int_equal(backoff_retry_after_ms("1", now, -1, max), -1);
  assert_int_equal(backoff_retry_after_ms("1", now, 10, 9), -1);
}

static void retry_after_dates(void **state)
{
  (void)state;
  int64_t max = INT64_MAX;
  /* the three forms of RFC 9110 §5.6.7, one minute ahead */
  int64_t now = NOV_1994 - 60000;
  assert_int_equal(backoff_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now, 0, max), 60000);
  assert_int_equal(backoff_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", now, 0, max), 60000);
  assert_int_equal(backoff_retry_after_ms("Sun Nov  6 08:49:37 1994", now, 0, max), 60000);
  assert_int_equal(backoff_retry_after_ms(" Sun, 06 Nov 1994 08:49:37 GMT\t", now, 0, max), 60000);
  assert_int_equal(backoff_retry_after_ms("Wed Nov 16 08:49:37 1994", now, 0, max),
                   60000 + 10 * 24 * H);
  /* in the past: the minimum */
  assert_int_equal(backoff_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", JAN_2026, 500, max),
                   500);
  /* calendar arithmetic, checked against python3 calendar.timegm */
  assert_int_equal(backoff_retry_after_ms("Thu, 01 Jan 1970 00:00:00 GMT", 0, 0, max), 0);
  assert_int_equal(backoff_retry_after_ms("Tue, 29 Feb 2000 23:59:59 GMT", 0, 0, max),
                   951868799000LL);
  assert_int_equal(backoff_retry_after_ms("Mon, 01 Mar 2100 00:00:00 GMT", 0, 0, max),
                   4107542400000LL);
  assert_int_equal(backoff_retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", 0, 0, max),
                   253402300799000LL);
  assert_int_equal(backoff_retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", 0, 0, 24 * H), 24 * H);
  /* RFC 850 years: up to 50 years ahead stay ahead, more go back a century */
  assert_int_equal(backoff_retry_after_ms("Wednesday, 01-Jan-76 00:00:00 GMT", JAN_2026, 0, max),
                   3345062400000LL - JAN_2026);
  assert_int_equal(backoff_retry_after_ms("Saturday, 01-Jan-77 00:00:00 GMT", JAN_2026, 7, max), 7);
  assert_int_equal(backoff_retry_after_ms("Saturday, 01-Jan-77 00:00:00 GMT", 0, 0, max),
                   220924800000LL);
  /* a clock far in the past or future does not overflow */
  assert_int_equal(backoff_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MIN, 0, 99), 99);
  assert_int_equal(backoff_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MAX, 3, 99), 3);
  assert_int_equal(backoff_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", INT64_MIN, 0, 99), 99);

  const char *bad[] = {"Sun, 06 Nov 1994 08:49:37 UTC",  "Sun, 06 Nov 1994 08:49:37",
                       "Sun, 6 Nov 1994 08:49:37 GMT",   "sun, 06 Nov 1994 08:49:37 GMT",
                       "Sun, 06 nov 1994 08:49:37 GMT",  "Sun, 06 Nov 94 08:49:37 GMT",
                       "Sun, 31 Feb 1994 08:49:37 GMT",  "Sun, 29 Feb 1900 08:49:37 GMT",
                       "Sun, 00 Nov 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 24:00:00 GMT",
                       "Sun, 06 Nov 1994 08:60:00 GMT",  "Sun, 06 Nov 1994 08:49:61 GMT",
                       "Sun, 06 Nov 1994 08:49:37 GMTx", "Sun, 06 Nov 1994 8:49:37 GMT",
                       "Sun 06 Nov 1994 08:49:37 GMT",   "Sunday, 06-Nov-1994 08:49:37 GMT",
                       "Sun, 06-Nov-94 08:49:37 GMT",    "Sunday, 06 Nov 1994 08:49:37 GMT",
                       "Sun Nov 6 08:49:37 1994",        "Sun Nov  6 08:49:37 94",
                       "Sun Nov 06 08:49:37 1994 GMT",   "Sun, 06 Nov 1994 08:49:37 GMT, 5",
                       "Funday, 06-Nov-94 08:49:37 GMT", "S"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(backoff_retry_after_ms(bad[i], NOV_1994, 0, max), -1);
  /* a leap second and a leap day are fine */
  assert_int_equal(backoff_retry_after_ms("Sun, 06 Nov 1994 08:49:60 GMT", NOV_1994, 0, max),
                   23000);
  assert_int_equal(backoff_retry_after_ms("Tue, 29 Feb 2000 00:00:00 GMT", NOV_1994, 0, 1), 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(default_schedule), cmocka_unit_test(jitter_bounds),
      cmocka_unit_test(schedule_syntax), cmocka_unit_test(retry_after_seconds),
      cmocka_unit_test(retry_after_dates)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
