/* common.c: what every part of libbimhub uses: return codes and errors, the log, clocks,
 * the one-time initialisation of libcurl and libsodium, lenient JSON readers. */
#include "sdk_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *bimhub_version(void)
{
  return BIMHUB_VERSION_STRING;
}

const char *bimhub_rc_text(enum bimhub_rc rc)
{
  switch (rc) {
  case BIMHUB_OK:
    return "ok";
  case BIMHUB_EXCEPTION:
    return "server exception";
  case BIMHUB_HTTP:
    return "unexpected HTTP status";
  case BIMHUB_TRANSPORT:
    return "no answer from the server";
  case BIMHUB_PROTOCOL:
    return "answer not understood";
  case BIMHUB_NOT_FOUND:
    return "not found";
  case BIMHUB_FAILED:
    return "the server's action failed";
  case BIMHUB_ABORTED:
    return "aborted by a callback";
  case BIMHUB_INVALID:
    return "invalid argument";
  case BIMHUB_IO:
    return "local input/output error";
  case BIMHUB_NOMEM:
    return "out of memory";
  case BIMHUB_STATE:
    return "not possible in the current state";
  case BIMHUB_TIMEOUT:
    return "timed out";
  case BIMHUB_DENIED:
    return "signature refused";
  }
  return "unknown error";
}

void bimhub_error_clear(struct bimhub_error *err)
{
  if (err)
    memset(err, 0, sizeof *err);
}

enum bimhub_rc sdk_fail(struct bimhub_error *err, enum bimhub_rc rc, const char *fmt, ...)
{
  if (!err)
    return rc;
  memset(err, 0, sizeof *err);
  err->rc = rc;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  if (!err->message[0])
    snprintf(err->message, sizeof err->message, "%s", bimhub_rc_text(rc));
  return rc;
}

/* ---- log ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum bimhub_log_level log_threshold = BIMHUB_LOG_WARN;
static bimhub_log_cb log_cb;
static void *log_arg;

void bimhub_set_log(enum bimhub_log_level threshold, bimhub_log_cb cb, void *arg)
{
  pthread_mutex_lock(&log_lock);
  log_threshold = threshold;
  log_cb = cb;
  log_arg = arg;
  pthread_mutex_unlock(&log_lock);
}

void sdk_log(enum bimhub_log_level level, const char *fmt, ...)
{
  pthread_mutex_lock(&log_lock);
  enum bimhub_log_level threshold = log_threshold;
  bimhub_log_cb cb = log_cb;
  void *arg = log_arg;
  pthread_mutex_unlock(&log_lock);
  if (level < threshold || threshold == BIMHUB_LOG_OFF)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (cb) {
    cb(arg, level, msg);
    return;
  }
  static const char *const names[] = {"debug", "info", "warn", "error"};
  fprintf(stderr, "libbimhub %s: %s\n", names[level <= BIMHUB_LOG_ERROR ? level : 3], msg);
}

/* ---- initialisation ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static enum bimhub_rc init_rc = BIMHUB_OK;

static void global_init(void)
{
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    init_rc = BIMHUB_NOMEM;
  else if (sodium_init() < 0)
    init_rc = BIMHUB_STATE;
}

enum bimhub_rc sdk_global_init(void)
{
  pthread_once(&init_once, global_init);
  return init_rc;
}

/* ---- clocks ---- */

int64_t sdk_mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sdk_wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sdk_sleep_ms(long ms)
{
  if (ms <= 0)
    return;
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ---- buffers ---- */

void sdk_buf_init(struct sdk_buf *b, size_t max)
{
  memset(b, 0, sizeof *b);
  b->max = max;
}

bool sdk_buf_add(struct sdk_buf *b, const void *p, size_t n)
{
  if (n > b->max || b->len > b->max - n)
    return false;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
      return false;
    b->data = d;
    b->cap = cap;
  }
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return true;
}

void sdk_buf_free(struct sdk_buf *b)
{
  free(b->data);
  memset(b, 0, sizeof *b);
}

/* ---- lenient JSON readers ---- */

int64_t bimhub_json_int(const json_t *obj, const char *key, int64_t dflt)
{
  const json_t *v = json_is_object(obj) && key ? json_object_get(obj, key) : NULL;
  if (json_is_integer(v))
    return (int64_t)json_integer_value(v);
  if (json_is_real(v))
    return (int64_t)json_real_value(v);
  if (json_is_boolean(v))
    return json_is_true(v) ? 1 : 0;
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && errno == 0)
      return n;
  }
  return dflt;
}

const char *bimhub_json_str(const json_t *obj, const char *key)
{
  const json_t *v = json_is_object(obj) && key ? json_object_get(obj, key) : NULL;
  return json_string_value(v);
}
