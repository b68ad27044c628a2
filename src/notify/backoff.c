/* backoff.c: the retry schedule, its config syntax, and Retry-After. Dates are turned into
 * time by arithmetic on the proleptic Gregorian calendar (H. Hinnant's days_from_civil), so
 * nothing depends on the process's time zone or locale. */
#include "notify/backoff.h"

#include <string.h>

#define MS_PER_DAY 86400000LL

const struct backoff_schedule backoff_default = {
    .n = 8,
    .base_ms = {0, 5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000},
};

int64_t backoff_delay_ms(const struct backoff_schedule *s, int attempt, uint32_t random)
{
  if (!s || attempt < 0 || attempt >= s->n || attempt >= BACKOFF_STEPS_MAX)
    return -1;
  int64_t base = s->base_ms[attempt];
  if (base < 0)
    base = 0;
  if (base > BACKOFF_STEP_MAX_MS)
    base = BACKOFF_STEP_MAX_MS;
  /* base +- base/5, linear in random; span * UINT32_MAX < 2^61 for the largest base. */
  int64_t j = base / 5;
  uint64_t span = (uint64_t)(2 * j);
  int64_t off = (int64_t)(span * random / UINT32_MAX) - j;
  return base + off;
}

static bool is_blank(char c)
{
  return c == ' ' || c == '\t';
}

bool backoff_schedule_parse(const char *text, struct backoff_schedule *out)
{
  struct backoff_schedule s = {0};
  if (!text)
    return false;
  const char *p = text;
  for (;;) {
    while (is_blank(*p))
      p++;
    if (*p < '0' || *p > '9')
      return false;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
      v = v * 10 + (*p - '0');
      if (v > BACKOFF_STEP_MAX_MS)
        return false;
    }
    int64_t unit;
    if (strncmp(p, "ms", 2) == 0) {
      unit = 1;
      p += 2;
    } else if (*p == 's' || *p == 'm' || *p == 'h') {
      unit = *p == 's' ? 1000 : *p == 'm' ? 60000 : 3600000;
      p++;
    } else if (v == 0) {
      unit = 1; /* "0" means now in any unit */
    } else {
      return false;
    }
    if (v > BACKOFF_STEP_MAX_MS / unit || s.n == BACKOFF_STEPS_MAX)
      return false;
    s.base_ms[s.n++] = v * unit;
    while (is_blank(*p))
      p++;
    if (*p == '\0')
      break;
    if (*p++ != ',')
      return false;
  }
  *out = s;
  return true;
}

/* Days since 1970-01-01 of a date in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + (mp >= 10); /* months 1 and 2 belong to the next year */
}

static int days_in_month(int64_t y, int m)
{
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dm[m - 1];
}

/* A cursor over the header value; every reader advances it only on success. */
struct cur {
  const char *p, *end;
};

static bool lit(struct cur *c, const char *s)
{
  size_t n = strlen(s);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
    return false;
  c->p += n;
  return true;
}

static bool digits(struct cur *c, int n, int *out)
{
  if (c->end - c->p < n)
    return false;
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (c->p[i] < '0' || c->p[i] > '9')
      return false;
    v = v * 10 + (c->p[i] - '0');
  }
  c->p += n;
  *out = v;
  return true;
}

static int month(struct cur *c)
{
  static const char names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; i++)
    if (lit(c, names[i]))
      return i + 1;
  return 0;
}

/* Which day name starts the value: 1 short ("Sun"), 2 long ("Sunday"), 0 none. */
static int day_name(struct cur *c)
{
  static const char *const names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};
  for (int i = 0; i < 7; i++)
    if (lit(c, names[i]))
      return 2;
  for (int i = 0; i < 7; i++) {
    char s[4] = {names[i][0], names[i][1], names[i][2], '\0'};
    if (lit(c, s))
      return 1;
  }
  return 0;
}

static bool time_of_day(struct cur *c, int *h, int *mi, int *s)
{
  return digits(c, 2, h) && lit(c, ":") && digits(c, 2, mi) && lit(c, ":") && digits(c, 2, s) &&
         *h <= 23 && *mi <= 59 && *s <= 60; /* 60: a leap second */
}

/* An HTTP-date (RFC 9110 §5.6.7) to ms since the epoch. */
static bool http_date(struct cur *c, int64_t now_ms, int64_t *out)
{
  int d, mo, y, h, mi, s;
  int64_t year;
  int kind = day_name(c);
  if (kind == 1 && lit(c, ", ")) { /* Sun, 06 Nov 1994 08:49:37 GMT */
    if (!(digits(c, 2, &d) && lit(c, " ") && (mo = month(c)) && lit(c, " ") && digits(c, 4, &y) &&
          lit(c, " ") && time_of_day(c, &h, &mi, &s) && lit(c, " GMT")))
      return false;
    year = y;
  } else if (kind == 2 && lit(c, ", ")) { /* Sunday, 06-Nov-94 08:49:37 GMT */
    if (!(digits(c, 2, &d) && lit(c, "-") && (mo = month(c)) && lit(c, "-") && digits(c, 2, &y) &&
          lit(c, " ") && time_of_day(c, &h, &mi, &s) && lit(c, " GMT")))
      return false;
    int64_t days = now_ms >= 0 ? now_ms / MS_PER_DAY : -((-(now_ms + 1)) / MS_PER_DAY) - 1;
    int64_t cur = year_of_days(days);
    year = cur - cur % 100 + y;
    if (year > cur + 50) /* more than 50 years ahead: the last century */
      year -= 100;
  } else if (kind == 1 && lit(c, " ")) { /* Sun Nov  6 08:49:37 1994 */
    if (!((mo = month(c)) && lit(c, " ")))
      return false;
    if (lit(c, " ")) {
      if (!digits(c, 1, &d))
        return false;
    } else if (!digits(c, 2, &d)) {
      return false;
    }
    if (!(lit(c, " ") && time_of_day(c, &h, &mi, &s) && lit(c, " ") && digits(c, 4, &y)))
      return false;
    year = y;
  } else {
    return false;
  }
  if (c->p != c->end || d < 1 || d > days_in_month(year, mo))
    return false;
  *out = (days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000;
  return true;
}

int64_t backoff_retry_after_ms(const char *header_value, int64_t now_ms, int64_t min_ms,
                               int64_t max_ms)
{
  if (!header_value || min_ms < 0 || max_ms < min_ms)
    return -1;
  struct cur c = {header_value, header_value + strlen(header_value)};
  while (c.p < c.end && is_blank(*c.p))
    c.p++;
  while (c.end > c.p && is_blank(c.end[-1]))
    c.end--;
  if (c.p == c.end)
    return -1;
  int64_t delay;
  if (*c.p >= '0' && *c.p <= '9') {
    delay = 0;
    for (; c.p < c.end; c.p++) {
      if (*c.p < '0' || *c.p > '9')
        return -1;
      int dig = *c.p - '0';
      if (delay > (INT64_MAX / 1000 - dig) / 10)
        delay = INT64_MAX / 1000; /* past any sensible max anyway: saturate */
      else
        delay = delay * 10 + dig;
    }
    delay *= 1000;
  } else {
    int64_t at;
    if (!http_date(&c, now_ms, &at))
      return -1;
    if (__builtin_sub_overflow(at, now_ms, &delay))
      delay = at > 0 ? INT64_MAX : INT64_MIN;
  }
  return delay < min_ms ? min_ms : delay > max_ms ? max_ms : delay;
}
