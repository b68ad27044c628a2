/* cli_util.c: small helpers of the command line client: ids and counts, times (ISO 8601 and
 * "2h ago" durations), byte sizes, aligned tables, JSON output. */
#include "cli/cli_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool cli_parse_id(const char *s, int64_t *out)
{
  if (!s || !isdigit((unsigned char)s[0]))
    return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v <= 0)
    return false;
  *out = v;
  return true;
}

bool cli_parse_count(const char *s, long min, long max, long *out)
{
  if (!s || !isdigit((unsigned char)s[0]))
    return false;
  errno = 0;
  char *end;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < min || v > max)
    return false;
  *out = v;
  return true;
}

int64_t cli_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n digits at *p into *v. */
static bool digits(const char **p, int n, int *v)
{
  int x = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return false;
    x = x * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *v = x;
  return true;
}

/* "2h", "1h30m", "500ms", "2d", "1w": the sum in ms. */
static bool parse_duration(const char *s, int64_t *ms)
{
  int64_t total = 0;
  const char *p = s;
  if (!*p)
    return false;
  while (*p) {
    if (!isdigit((unsigned char)*p))
      return false;
    char *end;
    errno = 0;
    long long n = strtoll(p, &end, 10);
    if (errno || n > 100000000LL)
      return false;
    p = end;
    int64_t unit;
    if (strncmp(p, "ms", 2) == 0) {
      unit = 1;
      p += 2;
    } else if (*p == 's') {
      unit = 1000;
      p++;
    } else if (*p == 'm') {
      unit = 60 * 1000;
      p++;
    } else if (*p == 'h') {
      unit = 3600 * 1000;
      p++;
    } else if (*p == 'd') {
      unit = 86400 * 1000;
      p++;
    } else if (*p == 'w') {
      unit = 7LL * 86400 * 1000;
      p++;
    } else {
      return false;
    }
    total += (int64_t)n * unit;
  }
  *ms = total;
  return true;
}

/* YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM|+HHMM] */
static bool parse_iso(const char *s, int64_t *out_ms)
{
  const char *p = s;
  struct tm tm = {0};
  int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
  if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d))
    return false;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
      return false;
    if (*p == ':') {
      p++;
      if (!digits(&p, 2, &sec))
        return false;
      if (*p == '.' || *p == ',') {
        p++;
        int scale = 100, n = 0;
        while (isdigit((unsigned char)*p)) {
          ms += (*p - '0') * scale;
          scale /= 10;
          p++;
          n++;
        }
        if (n == 0)
          return false;
      }
    }
  }
  int offset_min = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
    if (!digits(&p, 2, &oh))
      return false;
    if (*p == ':')
      p++;
    if (*p && !digits(&p, 2, &om))
      return false;
    offset_min = sign * (oh * 60 + om);
  }
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return false;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return false;
  *out_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
  return true;
}

bool cli_parse_time(const char *s, int64_t now_ms, int64_t *out_ms)
{
  int64_t ago;
  if (!s)
    return false;
  if (parse_duration(s, &ago)) {
    *out_ms = now_ms - ago;
    return true;
  }
  return parse_iso(s, out_ms);
}

void cli_format_time(int64_t ms, char *buf, size_t len)
{
  if (ms <= 0) {
    snprintf(buf, len, "-");
    return;
  }
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, len, "%lld", (long long)ms);
}

void cli_format_bytes(int64_t n, char *buf, size_t len)
{
  if (n < 1000)
    snprintf(buf, len, "%lld B", (long long)n);
  else if (n < 1000000)
    snprintf(buf, len, "%.1f kB", (double)n / 1e3);
  else if (n < 1000000000)
    snprintf(buf, len, "%.1f MB", (double)n / 1e6);
  else
    snprintf(buf, len, "%.2f GB", (double)n / 1e9);
}

/* ---- tables ---- */

struct cli_table {
  size_t n_cols, n_rows, cap;
  char **cells; /* row-major, the headers first */
};

struct cli_table *cli_table_new(size_t n_cols, const char *const *headers)
{
  struct cli_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->n_cols = n_cols;
  t->cap = 16;
  t->cells = calloc(t->cap * n_cols, sizeof *t->cells);
  if (!t->cells) {
    free(t);
    return NULL;
  }
  for (size_t i = 0; i < n_cols; i++)
    t->cells[i] = strdup(headers[i]);
  t->n_rows = 1;
  return t;
}

void cli_table_add(struct cli_table *t, ...)
{
  if (!t)
    return;
  if (t->n_rows == t->cap) {
    char **n = realloc(t->cells, t->cap * 2 * t->n_cols * sizeof *n);
    if (!n)
      return;
    t->cells = n;
    t->cap *= 2;
  }
  va_list ap;
  va_start(ap, t);
  for (size_t i = 0; i < t->n_cols; i++) {
    const char *s = va_arg(ap, const char *);
    t->cells[t->n_rows * t->n_cols + i] = strdup(s ? s : "");
  }
  va_end(ap);
  t->n_rows++;
}

void cli_table_print(struct cli_table *t, FILE *out)
{
  if (!t)
    return;
  size_t width[16] = {0};
  size_t cols = t->n_cols < 16 ? t->n_cols : 16;
  for (size_t r = 0; r < t->n_rows; r++)
    for (size_t i = 0; i < cols; i++) {
      const char *s = t->cells[r * t->n_cols + i];
      size_t w = s ? strlen(s) : 0;
      if (w > width[i])
        width[i] = w;
    }
  for (size_t r = 0; r < t->n_rows; r++) {
    for (size_t i = 0; i < cols; i++) {
      const char *s = t->cells[r * t->n_cols + i];
      if (i + 1 == cols)
        fprintf(out, "%s\n", s ? s : "");
      else
        fprintf(out, "%-*s  ", (int)width[i], s ? s : "");
    }
  }
}

void cli_table_free(struct cli_table *t)
{
  if (!t)
    return;
  for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}

/* ---- JSON ---- */

void cli_print_json(const json_t *j)
{
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
  if (s) {
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
  }
}

const char *cli_id_text(const json_t *o, const char *key, char *buf, size_t len)
{
  int64_t v = bimhub_json_int(o, key, -1);
  if (v == -1)
    snprintf(buf, len, "-");
  else
    snprintf(buf, len, "%lld", (long long)v);
  return buf;
}

const char *cli_str(const json_t *o, const char *key)
{
  const char *s = bimhub_json_str(o, key);
  return s ? s : "";
}
