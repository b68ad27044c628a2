/* fake_checkin.c: a stand-in for checkin/upload.h and checkin/download.h so transport can be
 * tested alone. What it does and answers: see fake_checkin.h. */
#include "fake_checkin.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkin/download.h"
#include "checkin/upload.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* guards g_cfg, g_stats */
static struct fake_checkin_cfg g_cfg;
static struct fake_checkin_stats g_stats;
static atomic_bool g_paused;

static void fake_fail(const char *what)
{
  fprintf(stderr, "fake_checkin: contract broken: %s\n", what);
  abort();
}

#define STAT_ADD(field, n)                                                                         \
  do {                                                                                             \
    pthread_mutex_lock(&g_lock);                                                                   \
    g_stats.field += (n);                                                                          \
    pthread_mutex_unlock(&g_lock);                                                                 \
  } while (0)

void fake_checkin_configure(const struct fake_checkin_cfg *cfg)
{
  pthread_mutex_lock(&g_lock);
  g_cfg = *cfg;
  memset(&g_stats, 0, sizeof g_stats);
  pthread_mutex_unlock(&g_lock);
  atomic_store(&g_paused, cfg->is_paused);
}

void fake_checkin_pause(bool is_paused)
{
  atomic_store(&g_paused, is_paused);
}

void fake_checkin_stats(struct fake_checkin_stats *out)
{
  pthread_mutex_lock(&g_lock);
  *out = g_stats;
  pthread_mutex_unlock(&g_lock);
}

bool fake_checkin_wait_idle(int timeout_ms)
{
  for (int waited = 0;; waited += 5) {
    pthread_mutex_lock(&g_lock);
    bool is_idle = g_stats.uploads_freed == g_stats.uploads_new;
    pthread_mutex_unlock(&g_lock);
    if (is_idle)
      return true;
    if (waited >= timeout_ms)
      return false;
    usleep(5000);
  }
}

uint8_t fake_pattern_byte(uint64_t i)
{
  return (uint8_t)(i * 31 + (i >> 8) + (i >> 16));
}

uint64_t fake_fnv(uint64_t h, const void *p, size_t n)
{
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

/* --- a growable string ------------------------------------------------------------------ */

struct sbuf {
  char *p;
  size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p)
      fake_fail("out of memory");
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
  sb_add(b, s, strlen(s));
}

/* A JSON string, or null for NULL. */
static void sb_json(struct sbuf *b, const char *s, size_t n)
{
  if (!s) {
    sb_str(b, "null");
    return;
  }
  sb_str(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    char esc[8];
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      sb_add(b, esc, 2);
    } else if (ch < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", ch);
      sb_str(b, esc);
    } else {
      sb_add(b, (const char *)&s[i], 1);
    }
  }
  sb_str(b, "\"");
}

/* --- upload ---------------------------------------------------------------------------- */

struct upload {
  pthread_mutex_t lock;
  int refs; /* the transport's handle, and the worker's */
  struct fake_checkin_cfg cfg;
  char *peer, *header_token;
  struct sbuf fields; /* ["n","v"],... */
  bool has_file;
  char *filename, *content_type;
  uint64_t file_bytes, fnv;
  size_t queued;
  upload_cb drain, ready;
  void *drain_arg, *ready_arg;
  bool is_ended, is_completed, is_released, has_reply, is_taken;
  struct rpc_reply reply;
};

static void upload_unref(struct upload *u)
{
  pthread_mutex_lock(&u->lock);
  int refs = --u->refs;
  pthread_mutex_unlock(&u->lock);
  if (refs > 0)
    return;
  if (u->has_reply && !u->is_taken)
    free(u->reply.body);
  free(u->peer);
  free(u->header_token);
  free(u->fields.p);
  free(u->filename);
  free(u->content_type);
  pthread_mutex_destroy(&u->lock);
  free(u);
  STAT_ADD(uploads_freed, 1);
}

static void upload_make_reply(struct upload *u)
{
  struct sbuf b = {0};
  sb_str(&b, "{\"peer\":");
  sb_json(&b, u->peer, strlen(u->peer));
  sb_str(&b, ",\"header_token\":");
  sb_json(&b, u->header_token, u->header_token ? strlen(u->header_token) : 0);
  sb_str(&b, ",\"fields\":[");
  if (u->fields.p)
    sb_add(&b, u->fields.p, u->fields.len);
  sb_str(&b, "],\"file\":");
  if (u->has_file) {
    char num[96];
    sb_str(&b, "{\"name\":");
    sb_json(&b, u->filename, u->filename ? strlen(u->filename) : 0);
    sb_str(&b, ",\"type\":");
    sb_json(&b, u->content_type, u->content_type ? strlen(u->content_type) : 0);
    snprintf(num, sizeof num, ",\"bytes\":%llu,\"fnv\":\"%016llx\"}",
             (unsigned long long)u->file_bytes, (unsigned long long)u->fnv);
    sb_str(&b, num);
  } else {
    sb_str(&b, "null");
  }
  sb_str(&b, u->is_completed ? ",\"completed\":true}" : ",\"completed\":false}");
  u->reply.body = b.p;
  u->reply.len = b.len;
  u->reply.http_status = 200;
  u->reply.delay_ms = 0;
  u->has_reply = true;
}

static void *upload_worker(void *arg)
{
  struct upload *u = arg;
  for (;;) {
    pthread_mutex_lock(&u->lock);
    if (!atomic_load(&g_paused) && u->queued > 0)
      u->queued -= u->queued < u->cfg.drain_bytes ? u->queued : u->cfg.drain_bytes;
    upload_cb drain = NULL;
    void *drain_arg = u->drain_arg;
    if (u->drain && u->queued < u->cfg.low_water) {
      drain = u->drain;
      u->drain = NULL;
    }
    bool is_done = u->is_ended && u->queued == 0;
    pthread_mutex_unlock(&u->lock);
    if (drain) {
      STAT_ADD(drains, 1);
      drain(drain_arg);
    }
    if (is_done)
      break;
    usleep(u->cfg.drain_every_us ? u->cfg.drain_every_us : 100);
  }
  if (u->cfg.ready_delay_ms)
    usleep(u->cfg.ready_delay_ms * 1000u);
  pthread_mutex_lock(&u->lock);
  upload_make_reply(u);
  upload_cb ready = u->ready;
  void *ready_arg = u->ready_arg;
  u->ready = NULL;
  pthread_mutex_unlock(&u->lock);
  STAT_ADD(readies, 1);
  ready(ready_arg);
  upload_unref(u);
  return NULL;
}

struct upload *upload_new(struct rpc *rpc, const struct rpc_origin *origin)
{
  (void)rpc;
  struct upload *u = calloc(1, sizeof *u);
  if (!u)
    return NULL;
  pthread_mutex_init(&u->lock, NULL);
  pthread_mutex_lock(&g_lock);
  u->cfg = g_cfg;
  g_stats.uploads_new++;
  pthread_mutex_unlock(&g_lock);
  u->peer = strdup(origin->peer_addr);
  u->header_token = origin->header_token ? strdup(origin->header_token) : NULL;
  u->fnv = FAKE_FNV_INIT;
  u->refs = 1;
  if (u->cfg.is_threaded) {
    u->refs = 2;
    pthread_t th;
    if (pthread_create(&th, NULL, upload_worker, u) != 0)
      fake_fail("pthread_create");
    pthread_detach(th);
  }
  return u;
}

static void upload_check_open(struct upload *u, const char *what)
{
  if (u->is_released)
    fake_fail(what);
  if (u->is_ended)
    fake_fail(what);
}

void upload_field(struct upload *u, const char *name, const char *value, size_t len)
{
  pthread_mutex_lock(&u->lock);
  upload_check_open(u, "upload_field after end or release");
  if (u->fields.len)
    sb_str(&u->fields, ",");
  sb_str(&u->fields, "[");
  sb_json(&u->fields, name, strlen(name));
  sb_str(&u->fields, ",");
  sb_json(&u->fields, value, len);
  sb_str(&u->fields, "]");
  pthread_mutex_unlock(&u->lock);
}

void upload_file_begin(struct upload *u, const char *filename, const char *content_type)
{
  pthread_mutex_lock(&u->lock);
  upload_check_open(u, "upload_file_begin after end or release");
  if (u->has_file)
    fake_fail("second upload_file_begin");
  u->has_file = true;
  u->filename = filename ? strdup(filename) : NULL;
  u->content_type = content_type ? strdup(content_type) : NULL;
  pthread_mutex_unlock(&u->lock);
}

void upload_file_data(struct upload *u, const void *data, size_t len)
{
  pthread_mutex_lock(&u->lock);
  upload_check_open(u, "upload_file_data after end or release");
  if (!u->has_file)
    fake_fail("upload_file_data before upload_file_begin");
  u->fnv = fake_fnv(u->fnv, data, len);
  u->file_bytes += len;
  u->queued += len;
  size_t q = u->queued;
  pthread_mutex_unlock(&u->lock);
  pthread_mutex_lock(&g_lock);
  if (q > g_stats.max_queued)
    g_stats.max_queued = q;
  pthread_mutex_unlock(&g_lock);
}

bool upload_is_full(struct upload *u)
{
  pthread_mutex_lock(&u->lock);
  if (u->is_released)
    fake_fail("upload_is_full after release");
  bool is_full = u->cfg.high_water > 0 && u->queued > u->cfg.high_water;
  pthread_mutex_unlock(&u->lock);
  if (is_full)
    STAT_ADD(full_reports, 1);
  return is_full;
}

void upload_set_drain(struct upload *u, upload_cb drain, void *arg)
{
  pthread_mutex_lock(&u->lock);
  if (u->is_released)
    fake_fail("upload_set_drain after release");
  if (u->drain)
    fake_fail("upload_set_drain while a drain is pending");
  bool is_now = !u->cfg.is_threaded || u->is_ended || u->queued < u->cfg.low_water;
  if (!u->cfg.is_threaded)
    u->queued = 0; /* inline: the "worker" caught up at once */
  if (!is_now) {
    u->drain = drain;
    u->drain_arg = arg;
  }
  pthread_mutex_unlock(&u->lock);
  if (is_now) {
    STAT_ADD(drains, 1);
    drain(arg); /* inside the registering call, as the contract allows */
  }
}

void upload_refuse(struct upload *u, const char *reason)
{
  (void)reason;
  pthread_mutex_lock(&u->lock);
  upload_check_open(u, "upload_refuse after end or release");
  pthread_mutex_unlock(&u->lock);
}

void upload_end(struct upload *u, bool completed, upload_cb ready, void *arg)
{
  pthread_mutex_lock(&u->lock);
  upload_check_open(u, "upload_end twice or after release");
  u->is_ended = true;
  u->is_completed = completed;
  upload_cb drain = NULL;
  void *drain_arg = u->drain_arg;
  if (!completed) {
    u->queued = 0; /* a dropped upload forgets its bytes; a pending drain fires */
    drain = u->drain;
    u->drain = NULL;
  }
  bool is_inline = !u->cfg.is_threaded;
  if (is_inline)
    upload_make_reply(u);
  else {
    u->ready = ready;
    u->ready_arg = arg;
  }
  pthread_mutex_unlock(&u->lock);
  STAT_ADD(ends_completed, completed ? 1 : 0);
  STAT_ADD(ends_dropped, completed ? 0 : 1);
  if (drain) {
    STAT_ADD(drains, 1);
    drain(drain_arg);
  }
  if (is_inline) {
    STAT_ADD(readies, 1);
    ready(arg);
  }
}

void upload_take_reply(struct upload *u, struct rpc_reply *out)
{
  pthread_mutex_lock(&u->lock);
  if (u->is_released || !u->has_reply || u->is_taken)
    fake_fail("upload_take_reply before ready, twice or after release");
  *out = u->reply;
  u->is_taken = true;
  pthread_mutex_unlock(&u->lock);
}

void upload_release(struct upload *u)
{
  pthread_mutex_lock(&u->lock);
  if (u->is_released)
    fake_fail("upload_release twice");
  u->is_released = true;
  pthread_mutex_unlock(&u->lock);
  STAT_ADD(uploads_released, 1);
  upload_unref(u);
}

/* --- download -------------------------------------------------------------------------- */

struct download {
  uint64_t size, pos;
  uint64_t fail_at; /* UINT64_MAX: never */
};

static void copy_token(char out[64], const char *s)
{
  snprintf(out, 64, "%s", s ? s : "");
}

enum bh_err download_open(struct rpc *rpc, const struct download_request *req,
                          const struct rpc_origin *origin, struct download **out,
                          struct download_head *head, int *err_status, char err_text[256])
{
  (void)rpc;
  *out = NULL;
  pthread_mutex_lock(&g_lock);
  g_stats.last_accept_gzip = req->accept_gzip;
  copy_token(g_stats.last_token, req->token);
  copy_token(g_stats.last_header_token, origin->header_token);
  pthread_mutex_unlock(&g_lock);
  if (!req->token) {
    *err_status = 401;
    snprintf(err_text, 256, "Token required");
    return BH_AUTH;
  }
  bool is_ed = req->action && strcmp(req->action, "extendeddata") == 0;
  const char *spec = is_ed ? req->edid : req->topic_id;
  bool has_size = true;
  bool is_failing = false;
  if (spec && !is_ed && (spec[0] == 'u' || spec[0] == 'e')) {
    has_size = spec[0] == 'u' ? false : true;
    is_failing = spec[0] == 'e';
    spec++;
  }
  char *end = NULL;
  unsigned long long n = spec && *spec ? strtoull(spec, &end, 10) : 0;
  if (!spec || !*spec || *end) {
    *err_status = 404;
    snprintf(err_text, 256, is_ed ? "No valid edid" : "No valid topicId");
    return BH_NOTFOUND;
  }
  struct download *d = calloc(1, sizeof *d);
  if (!d)
    return BH_NOMEM;
  d->size = n;
  d->fail_at = is_failing ? n / 2 : UINT64_MAX;
  memset(head, 0, sizeof *head);
  head->status = 200;
  snprintf(head->content_type, sizeof head->content_type, "%s",
           req->mime ? req->mime
           : is_ed   ? "text/plain"
                     : "application/ifc");
  snprintf(head->content_disposition, sizeof head->content_disposition, "inline; filename=\"%s\"",
           is_ed ? "data.txt" : "model.ifc");
  head->gzip = req->accept_gzip && !(req->zip && strcmp(req->zip, "on") == 0);
  head->size = has_size ? (int64_t)n : -1;
  *out = d;
  STAT_ADD(downloads_opened, 1);
  return BH_OK;
}

ssize_t download_read(struct download *d, char *buf, size_t max)
{
  if (d->pos >= d->fail_at)
    return -1;
  uint64_t left = d->size - d->pos;
  size_t n = left < max ? (size_t)left : max;
  for (size_t i = 0; i < n; i++)
    buf[i] = (char)fake_pattern_byte(d->pos + i);
  d->pos += n;
  return (ssize_t)n;
}

void download_close(struct download *d, bool complete)
{
  pthread_mutex_lock(&g_lock);
  g_stats.downloads_closed++;
  g_stats.downloads_complete += complete ? 1 : 0;
  pthread_mutex_unlock(&g_lock);
  free(d);
}
