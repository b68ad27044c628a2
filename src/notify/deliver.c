/* deliver.c: the notification delivery engine (see deliver.h). It runs delivery_threads
 * lanes; each lane is a thread that owns the services with soid % lanes == its index, a curl
 * multi handle, their windows of pending rows and its open requests; other threads only post
 * kicks under a small lock and wake it. Store writes are batched: the outcomes of the
 * requests finished in one round go in one transaction. Service tokens are signed, not
 * stored, so sending costs no write. */
#include "notify/deliver.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "model/events.h"
#include "model/model.h"
#include "notify/backoff.h"
#include "notify/sign.h"
#include "outbound/outbound.h"

#define LOOKAHEAD 64            /* pending rows held per service beyond its requests in flight */
#define RESPONSE_LOG_BYTES 4096 /* of each answer, kept in the delivery log */
#define RESPONSE_READ_MAX 65536 /* of each answer, read to check the envelope */
#define SERVICE_RESCAN_MS 30000 /* look for services changed elsewhere this often */
#define PURGE_EVERY_MS 3600000  /* purge the delivery log */
#define KICKS_MAX 256           /* queued kicks; more collapse into "everything" */
#define PIN_TTL_MS 30000        /* a service's checked address is reused this long */
#define IDLE_HANDLES_MAX 256    /* easy handles kept for reuse */
#define LOG_MAX 1024            /* outcomes buffered before they are written */
#define LOG_FLUSH_MS 10         /* longest an outcome waits to be written */

struct item {
  struct delivery_rec d;
  bool busy; /* a request for it is open */
};

struct svc {
  int64_t soid, poid, uoid;
  bool active;   /* not deleted */
  bool disabled; /* by 410 or by hand: nothing is sent */
  bool parallel; /* deliveries may overlap and go out of order */
  bool bimsie1;  /* send the 1.4 interface name */
  char *url, *service_identifier, *profile_identifier, *user_token;
  char *secret, *old_secret;
  int64_t old_secret_until_ms;
  struct item *win;
  size_t n;
  int64_t last_id;                 /* highest id loaded into the window */
  bool exhausted;                  /* the last load found no more rows */
  bool dirty;                      /* new rows may exist beyond last_id */
  bool reset;                      /* reload the service and its window from the start */
  atomic_int in_flight;            /* also read by deliverer_service_info() */
  atomic_int consecutive_failures; /* likewise */
  struct outbound_target *pin;     /* the checked address of <url>/json */
  int64_t pin_until_ms;
  char pin_url[512];
};

struct job {
  struct svc *svc;
  size_t item_id; /* delivery id, to find the item after the window moved */
  struct delivery_rec d;
  CURL *h;
  struct outbound_target *target; /* held while the request is open */
  struct curl_slist *headers;
  char *body;
  char *resp;
  size_t resp_len;
  bool resp_too_big;
  bool sent; /* handed to curl (else it failed before: j->err says why) */
  int64_t start_ms;
  char err[CURL_ERROR_SIZE];
  char token[SERVICE_TOKEN_TEXT_LEN + 1];
  struct job *next, *prev; /* the open requests (next also chains a round's batch) */
};

/* An outcome waiting to be written to the delivery log. */
struct log_row {
  struct delivery_attempt_rec a;
  int state;
  int64_t next_ms;
};

struct kick {
  int64_t poid; /* -1 with soid -1: everything */
  int64_t soid; /* >= 0: reset that service */
};

/* One delivery thread and the services it owns (soid % count == index). */
struct lane {
  size_t index, count;
  int64_t max_in_flight; /* this lane's share of delivery_max_in_flight */
  struct model *m;
  const struct bh_config *cfg;
  struct backoff_schedule schedule;
  CURLM *multi;
  pthread_t thread;
  bool started;
  atomic_bool stop;

  pthread_mutex_t lock; /* guards kicks and info */
  struct kick kicks[KICKS_MAX];
  size_t nkicks;
  bool kick_all;

  struct svc **svcs; /* loop thread only, except info under lock */
  size_t nsvcs;
  int in_flight;
  struct job *jobs;             /* open requests */
  CURL *idle[IDLE_HANDLES_MAX]; /* easy handles to reuse */
  size_t nidle;
  struct log_row log[LOG_MAX]; /* outcomes not yet written */
  size_t nlog;
  int64_t log_first_ms;
  int64_t started_ms;
  size_t window; /* rows held per service: what may be in flight, plus LOOKAHEAD */
  char tag[16];
};

static void svc_free(struct svc *s)
{
  for (size_t i = 0; i < s->n; i++)
    delivery_rec_clear(&s->win[i].d);
  free(s->win);
  free(s->url);
  free(s->service_identifier);
  free(s->profile_identifier);
  free(s->user_token);
  if (s->secret)
    sodium_memzero(s->secret, strlen(s->secret));
  free(s->secret);
  free(s->old_secret);
  outbound_target_release(s->pin);
  free(s);
}

static struct svc *svc_find(struct lane *d, int64_t soid)
{
  for (size_t i = 0; i < d->nsvcs; i++)
    if (d->svcs[i]->soid == soid)
      return d->svcs[i];
  return NULL;
}

static char *dup_field(json_t *o, const char *name)
{
  const char *v = json_string_value(json_object_get(o, name));
  return strdup(v ? v : "");
}

/* (Re)reads a service's record. False when it is gone or deleted. */
static bool svc_load(struct lane *d, struct svc *s)
{
  struct service_rec r;
  if (store_service_get(d->m->st, s->soid, &r) != BH_OK)
    return false;
  json_t *f = json_loads(r.fields, 0, NULL);
  json_t *o = json_loads(r.options, 0, NULL);
  free(s->url);
  free(s->service_identifier);
  free(s->profile_identifier);
  free(s->user_token);
  free(s->secret);
  free(s->old_secret);
  s->poid = r.poid;
  s->uoid = r.uoid;
  s->active = r.state == STATE_ACTIVE;
  s->disabled = r.disabled_ms != 0;
  s->parallel = json_is_true(json_object_get(o, "parallel"));
  s->bimsie1 = json_is_true(json_object_get(o, "bimsie1Interface"));
  s->url = dup_field(f, "url");
  s->service_identifier = dup_field(f, "serviceIdentifier");
  s->profile_identifier = dup_field(f, "profileIdentifier");
  s->user_token = dup_field(f, "token");
  s->secret = r.secret;
  s->old_secret = r.old_secret;
  s->old_secret_until_ms = r.old_secret_until_ms;
  r.secret = r.old_secret = NULL;
  json_decref(f);
  json_decref(o);
  service_rec_clear(&r);
  return s->active;
}

static struct svc *svc_add(struct lane *d, int64_t soid)
{
  struct svc **nv = realloc(d->svcs, (d->nsvcs + 1) * sizeof *nv);
  struct svc *s = calloc(1, sizeof *s);
  if (!nv || !s) {
    free(s);
    if (nv)
      d->svcs = nv;
    return NULL;
  }
  d->svcs = nv;
  s->soid = soid;
  s->win = calloc(d->window, sizeof *s->win);
  if (!s->win) {
    free(s);
    return NULL;
  }
  s->dirty = s->reset = true;
  pthread_mutex_lock(&d->lock);
  d->svcs[d->nsvcs++] = s;
  pthread_mutex_unlock(&d->lock);
  return s;
}

static bool lane_owns(const struct lane *d, int64_t soid)
{
  return (uint64_t)soid % d->count == d->index;
}

/* Makes the service list match the store's active services (those of this lane). */
static void rescan_services(struct lane *d)
{
  int64_t *ids = NULL;
  size_t n = 0;
  if (store_service_ids(d->m->st, -1, &ids, &n) != BH_OK)
    return;
  for (size_t i = 0; i < n; i++) {
    if (!lane_owns(d, ids[i]))
      continue;
    struct svc *s = svc_find(d, ids[i]);
    if (!s)
      svc_add(d, ids[i]);
    else
      s->reset = s->dirty = true;
  }
  for (size_t i = 0; i < d->nsvcs; i++) {
    bool listed = false;
    for (size_t k = 0; k < n && !listed; k++)
      listed = ids[k] == d->svcs[i]->soid;
    if (!listed)
      d->svcs[i]->active = false; /* deleted: its rows were cancelled with it */
  }
  free(ids);
}

/* Drops the window's rows that have no open request (they are reloaded from the store). */
static void window_clear_idle(struct svc *s)
{
  size_t k = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->win[i].busy)
      s->win[k++] = s->win[i];
    else
      delivery_rec_clear(&s->win[i].d);
  }
  s->n = k;
}

static void flush_log(struct lane *d);

static int by_id(const void *a, const void *b)
{
  int64_t x = ((const struct item *)a)->d.id, y = ((const struct item *)b)->d.id;
  return (x > y) - (x < y);
}

static void window_fill(struct lane *d, struct svc *s, int64_t now)
{
  if (s->reset) {
    /* The reload reads from the bottom and must get past the rows in flight before anything
     * else is read, or a later refill would start below rows whose outcome is only in the
     * buffer. It does, because the window (in flight + LOOKAHEAD) always has room beyond
     * the rows in flight, so the loop below reads on until it is full or the rows end. */
    flush_log(d); /* reloading from the store: it must know every outcome */
    s->reset = false;
    s->dirty = true;
    if (!svc_load(d, s)) {
      s->active = false;
      window_clear_idle(s);
      return;
    }
    window_clear_idle(s);
    /* requeued rows may lie below rows that are in flight: read from the bottom again */
    s->last_id = 0;
    s->exhausted = false;
  }
  if (!s->dirty && (s->exhausted || s->n >= d->window / 2))
    return;
  s->dirty = false;
  while (s->n < d->window) {
    struct delivery_list l;
    size_t want = d->window - s->n;
    if (store_delivery_pending(d->m->st, s->soid, s->last_id, (int)want, &l) != BH_OK)
      return;
    for (size_t i = 0; i < l.n; i++) {
      s->last_id = l.v[i].id;
      bool have = false;
      for (size_t k = 0; k < s->n && !have; k++)
        have = s->win[k].d.id == l.v[i].id;
      if (have) {
        delivery_rec_clear(&l.v[i]);
        continue;
      }
      if (l.v[i].next_ms > now && l.v[i].last_ms < d->started_ms)
        l.v[i].next_ms = now; /* its backoff began before this start: resume at once */
      s->win[s->n++] = (struct item){.d = l.v[i]};
    }
    bool more = l.n == want;
    free(l.v);
    if (!more) {
      s->exhausted = true;
      break;
    }
  }
  qsort(s->win, s->n, sizeof *s->win, by_id); /* the head is the oldest event */
}

void deliverer_message_id(const struct model *m, int64_t delivery_id, char out[64])
{
  char tag[16];
  size_t k = 0;
  for (const char *p = m->server_uuid; *p && k < 12; p++)
    if (*p != '-')
      tag[k++] = *p;
  tag[k] = '\0';
  snprintf(out, 64, "msg_%s_%lld", tag, (long long)delivery_id);
}

/* ---- requests ---- */

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
  struct job *j = arg;
  size_t len = size * n;
  if (j->resp_len + len > RESPONSE_READ_MAX) {
    j->resp_too_big = true;
    return 0;
  }
  char *np = realloc(j->resp, j->resp_len + len + 1);
  if (!np)
    return 0;
  j->resp = np;
  memcpy(j->resp + j->resp_len, data, len);
  j->resp_len += len;
  j->resp[j->resp_len] = '\0';
  return len;
}

/* Frees a job; its easy handle goes back to the engine's pool (d NULL: cleaned up). */
static void job_free(struct lane *d, struct job *j)
{
  if (j->h && d && d->nidle < IDLE_HANDLES_MAX)
    d->idle[d->nidle++] = j->h;
  else if (j->h)
    curl_easy_cleanup(j->h);
  curl_slist_free_all(j->headers);
  outbound_target_release(j->target);
  free(j->body);
  free(j->resp);
  sodium_memzero(j->token, sizeof j->token);
  delivery_rec_clear(&j->d);
  free(j);
}

static bool method_has_roid(const char *m)
{
  return strcmp(m, "newRevision") == 0 || strcmp(m, "newExtendedDataOnRevision") == 0;
}

static bool method_has_edid(const char *m)
{
  return strncmp(m, "newExtendedDataOn", 17) == 0;
}

static int scope_of(const char *m)
{
  if (method_has_edid(m))
    return SCOPE_EXTENDED_DATA;
  return strcmp(m, "newProject") == 0 ? SCOPE_PROJECT : SCOPE_REVISION;
}

/* The body BIMserver sends (spec §8.4): parameters in declared order. */
static char *build_body(const struct svc *s, const struct delivery_rec *r, const char *token,
                        const char *api_url)
{
  json_t *p = json_object();
  json_object_set_new(p, "poid", json_integer(r->poid));
  if (method_has_roid(r->method))
    json_object_set_new(p, "roid", json_integer(r->roid));
  if (method_has_edid(r->method))
    json_object_set_new(p, "edid", json_integer(r->edid));
  json_object_set_new(p, "soid", json_integer(s->soid));
  json_object_set_new(p, "serviceIdentifier", json_string(s->service_identifier));
  json_object_set_new(p, "profileIdentifier", json_string(s->profile_identifier));
  json_object_set_new(p, "userToken", json_string(s->user_token));
  json_object_set_new(p, "token", json_string(token));
  json_object_set_new(p, "apiUrl", json_string(api_url));
  json_t *env = json_pack("{s:{s:s,s:s,s:o}}", "request", "interface",
                          s->bimsie1 ? "Bimsie1RemoteServiceInterface" : "RemoteServiceInterface",
                          "method", r->method, "parameters", p);
  char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
  json_decref(env);
  return text;
}

/* The service's checked address, resolved again after PIN_TTL_MS or when its URL changed. */
static bool svc_pin(struct lane *d, struct svc *s, int64_t now, char *err, size_t errlen)
{
  if (s->pin && now < s->pin_until_ms && strcmp(s->pin_url, s->url) == 0)
    return true;
  outbound_target_release(s->pin); /* open requests hold their own reference */
  s->pin = NULL;
  char url[OUTBOUND_URL_MAX + 8];
  size_t bl = strlen(s->url);
  while (bl > 0 && s->url[bl - 1] == '/')
    bl--;
  snprintf(url, sizeof url, "%.*s/json", (int)bl, s->url);
  struct bh_why why = {0};
  if (outbound_target_new(d->cfg, url, "delivery", &s->pin, &why) != BH_OK) {
    snprintf(err, errlen, "%s", why.text);
    return false;
  }
  snprintf(s->pin_url, sizeof s->pin_url, "%s", s->url);
  s->pin_until_ms = now + PIN_TTL_MS;
  return true;
}

/* Prepares the request of item it; the token is already issued. */
static bool job_prepare(struct lane *d, struct job *j, const char *api_url, int64_t now)
{
  struct svc *s = j->svc;
  j->body = build_body(s, &j->d, j->token, api_url);
  if (d->nidle > 0) {
    j->h = d->idle[--d->nidle];
    curl_easy_reset(j->h); /* handles are reused: no allocation per delivery */
  } else {
    j->h = curl_easy_init();
  }
  if (!j->body || !j->h) {
    snprintf(j->err, sizeof j->err, "Out of memory");
    return false;
  }
  if (!svc_pin(d, s, now, j->err, sizeof j->err))
    return false;
  j->target = outbound_target_retain(s->pin);

  char id[64], hdr[600], sig[2 * SIGN_SIGNATURE_MAX + 2];
  deliverer_message_id(d->m, j->d.id, id);
  int64_t ts = now / 1000;
  const char *secrets[2] = {s->secret, s->old_secret};
  size_t nsec = s->old_secret && now < s->old_secret_until_ms ? 2 : 1;
  if (sign_header_for(secrets, nsec, id, ts, j->body, strlen(j->body), sig, sizeof sig) != BH_OK) {
    snprintf(j->err, sizeof j->err, "Cannot sign: the service's secret is not valid");
    return false;
  }
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json; charset=UTF-8");
  h = curl_slist_append(h, "Expect:");
  snprintf(hdr, sizeof hdr, "webhook-id: %s", id);
  h = curl_slist_append(h, hdr);
  snprintf(hdr, sizeof hdr, "webhook-timestamp: %lld", (long long)ts);
  h = curl_slist_append(h, hdr);
  snprintf(hdr, sizeof hdr, "webhook-signature: %s", sig);
  h = curl_slist_append(h, hdr);
  j->headers = h;
  CURL *c = j->h;
  outbound_setup(c, j->target); /* URL, pinned address, connect-time check, no redirects */
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)d->cfg->service_connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)d->cfg->service_timeout_ms);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->err);
  curl_easy_setopt(c, CURLOPT_PRIVATE, j);
  return true;
}

static struct item *item_of(struct svc *s, int64_t id)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->win[i].d.id == id)
      return &s->win[i];
  return NULL;
}

static void item_remove(struct svc *s, int64_t id)
{
  for (size_t i = 0; i < s->n; i++) {
    if (s->win[i].d.id == id) {
      delivery_rec_clear(&s->win[i].d);
      memmove(&s->win[i], &s->win[i + 1], (s->n - i - 1) * sizeof *s->win);
      s->n--;
      return;
    }
  }
}

/* The outcome of a finished request, decided and written to the log. */
struct outcome {
  struct delivery_attempt_rec a;
  int state;
  int64_t next_ms;
  bool disable;
  struct job *j;
};

/* One warn line per failed attempt, with its status and reason. The reason may be a
 * service's own words: kept to one line, and without the token the attempt carried. */
static void log_failed_attempt(const struct job *j, int n, long status, const char *reason)
{
  char text[600];
  snprintf(text, sizeof text, "%s", reason);
  size_t tl = strlen(j->token);
  for (char *p; tl && (p = strstr(text, j->token));)
    memset(p, '*', tl);
  for (char *p = text; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  BH_LOG(BH_LOG_WARN, BH_C_NOTIFY,
         "delivery %lld to service %lld, attempt %d failed: status %ld, reason \"%s\"",
         (long long)j->d.id, (long long)j->svc->soid, n, status, text);
}

static void decide(struct lane *d, struct job *j, CURLcode cr, int64_t now, struct outcome *o)
{
  long status = 0;
  curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &status);
  char err[600] = "";
  const char *log_reason = err;
  bool ok = false;
  if (cr != CURLE_OK) {
    if (j->resp_too_big)
      snprintf(err, sizeof err, "The answer is larger than %d bytes", RESPONSE_READ_MAX);
    else if (!j->sent)
      snprintf(err, sizeof err, "%s", j->err[0] ? j->err : curl_easy_strerror(cr));
    else {
      /* libcurl's words tell a closed port from a silent one: the log has them, the
       * delivery log (read by the service's owner) the outbound guard's one error */
      log_reason = j->err[0] ? j->err : curl_easy_strerror(cr);
      snprintf(err, sizeof err, "%s", OUTBOUND_UNREACHABLE);
    }
  } else if (status >= 200 && status < 300) {
    json_t *reply = json_loadb(j->resp ? j->resp : "", j->resp_len, 0, NULL);
    json_t *resp = json_object_get(reply, "response");
    json_t *exc = json_object_get(resp, "exception");
    if (!json_is_object(resp)) {
      snprintf(err, sizeof err, "HTTP %ld, but the answer is not a JSON envelope", status);
    } else if (exc) {
      const char *msg = json_string_value(json_object_get(exc, "message"));
      snprintf(err, sizeof err, "The service answered with an exception: %s",
               msg ? msg : "(no message)");
    } else {
      ok = true;
    }
    json_decref(reply);
  } else if (status == 410) {
    snprintf(err, sizeof err, "HTTP 410 Gone: the service is disabled");
    o->disable = true;
  } else {
    snprintf(err, sizeof err, "HTTP %ld", status);
  }
  int n = j->d.attempts + 1;
  if (!ok)
    log_failed_attempt(j, n, status, log_reason);
  char *resp = NULL;
  if (j->resp_len) {
    size_t keep = j->resp_len < RESPONSE_LOG_BYTES ? j->resp_len : RESPONSE_LOG_BYTES;
    resp = strndup(j->resp, keep);
  }
  o->a = (struct delivery_attempt_rec){.delivery = j->d.id,
                                       .n = n,
                                       .at_ms = j->start_ms,
                                       .duration_ms = now - j->start_ms,
                                       .status = (int)status,
                                       .ok = ok,
                                       .error = ok ? NULL : strdup(err),
                                       .response = resp};
  o->j = j;
  if (ok) {
    o->state = DELIVERY_DELIVERED;
    o->next_ms = 0;
    return;
  }
  if (o->disable) {
    o->state = DELIVERY_PENDING; /* waits for the service to be enabled again */
    o->next_ms = now;
    return;
  }
  int64_t wait = backoff_delay_ms(&d->schedule, n, randombytes_random());
  if (wait < 0) {
    o->state = DELIVERY_FAILED;
    o->next_ms = 0;
    return;
  }
  struct curl_header *ra = NULL;
  if (curl_easy_header(j->h, "Retry-After", 0, CURLH_HEADER, -1, &ra) == CURLHE_OK && ra) {
    int64_t asked =
        backoff_retry_after_ms(ra->value, now, 1000, d->cfg->delivery_retry_after_max_s * 1000);
    if (asked >= 0)
      wait = asked;
  }
  o->state = DELIVERY_PENDING;
  o->next_ms = now + wait;
}

/* Records the outcomes of one round in one transaction, then updates the windows. */
/* Writes the buffered outcomes in one transaction. Not waiting for the disk: a crash that
 * loses an outcome only means that notification is sent again, which at-least-once delivery
 * allows. If the write fails, every service is reloaded from what the store says. */
static void flush_log(struct lane *d)
{
  if (d->nlog == 0)
    return;
  enum bh_err rc = store_begin_relaxed(d->m->st);
  for (size_t i = 0; rc == BH_OK && i < d->nlog; i++)
    rc = store_delivery_record(d->m->st, &d->log[i].a, d->log[i].state, d->log[i].next_ms);
  if (rc == BH_OK)
    rc = store_commit(d->m->st);
  else
    store_rollback(d->m->st);
  if (rc != BH_OK) {
    BH_LOG(BH_LOG_ERROR, BH_C_NOTIFY, "cannot record %zu delivery outcomes: %s", d->nlog,
           bh_err_text(rc));
    for (size_t i = 0; i < d->nsvcs; i++)
      d->svcs[i]->reset = d->svcs[i]->dirty = true;
  }
  for (size_t i = 0; i < d->nlog; i++)
    delivery_attempt_rec_clear(&d->log[i].a);
  d->nlog = 0;
}

/* Applies the outcomes of finished requests to the windows at once, and buffers their rows
 * for flush_log() (at most LOG_FLUSH_MS later): one commit for many outcomes, also when a
 * round finishes only a few. */
static void finish_round(struct lane *d, struct outcome *o, size_t n)
{
  int64_t now = bh_now_ms();
  for (size_t i = 0; i < n; i++) {
    struct job *j = o[i].j;
    struct svc *s = j->svc;
    s->in_flight--;
    d->in_flight--;
    struct item *it = item_of(s, j->d.id);
    if (o[i].state != DELIVERY_PENDING) {
      item_remove(s, j->d.id);
      s->dirty = true;
    } else if (it) {
      it->busy = false;
      it->d.attempts = o[i].a.n;
      it->d.next_ms = o[i].next_ms;
    }
    if (o[i].a.ok)
      atomic_store(&s->consecutive_failures, 0);
    else
      atomic_fetch_add(&s->consecutive_failures, 1);
    if (o[i].disable && !s->disabled) {
      s->disabled = true;
      store_service_set_disabled(d->m->st, s->soid, now, "HTTP 410 Gone");
      BH_LOG(BH_LOG_WARN, BH_C_NOTIFY, "service %lld answered 410: disabled", (long long)s->soid);
    }
    if (o[i].state == DELIVERY_FAILED)
      BH_LOG(BH_LOG_WARN, BH_C_NOTIFY, "delivery %lld to service %lld parked after %d attempts",
             (long long)j->d.id, (long long)s->soid, o[i].a.n);
    if (d->nlog == 0)
      d->log_first_ms = now;
    d->log[d->nlog++] = (struct log_row){o[i].a, o[i].state, o[i].next_ms};
    if (d->nlog == LOG_MAX)
      flush_log(d);
    job_free(d, j);
  }
}

/* Records the requests that finished; returns how many. */
static size_t collect_done(struct lane *d)
{
  size_t total = 0;
  struct outcome o[128];
  size_t n = 0;
  int left;
  CURLMsg *msg;
  int64_t now = bh_now_ms();
  while ((msg = curl_multi_info_read(d->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    struct job *j = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
    CURLcode cr = msg->data.result;
    curl_multi_remove_handle(d->multi, msg->easy_handle);
    if (j->prev)
      j->prev->next = j->next;
    else
      d->jobs = j->next;
    if (j->next)
      j->next->prev = j->prev;
    j->next = j->prev = NULL;
    memset(&o[n], 0, sizeof o[n]);
    decide(d, j, cr, now, &o[n]);
    total++;
    if (++n == sizeof o / sizeof o[0]) {
      finish_round(d, o, n);
      n = 0;
    }
  }
  finish_round(d, o, n);
  return total;
}

/* Chooses what is due, issues the tokens in one transaction, and opens the requests. */
static int64_t start_due(struct lane *d, int64_t now)
{
  int64_t next_due = now + 1000;
  struct job *batch = NULL;
  int64_t budget = d->max_in_flight - d->in_flight;
  for (size_t i = 0; i < d->nsvcs; i++) {
    struct svc *s = d->svcs[i];
    if (!s->active || s->disabled)
      continue;
    int cap = s->parallel ? (int)d->cfg->delivery_max_in_flight_per_service : 1;
    for (size_t k = 0; k < s->n && s->in_flight < cap; k++) {
      struct item *it = &s->win[k];
      if (it->busy)
        continue;
      if (it->d.next_ms > now) {
        if (it->d.next_ms < next_due)
          next_due = it->d.next_ms;
        if (!s->parallel)
          break; /* in order: the head waits, and so does everything behind it */
        continue;
      }
      if (budget <= 0)
        break;
      struct job *j = calloc(1, sizeof *j);
      if (!j)
        break;
      j->svc = s;
      j->d = it->d;
      j->d.method = strdup(it->d.method);
      j->d.last_error = NULL;
      if (!j->d.method) {
        free(j);
        break;
      }
      it->busy = true;
      s->in_flight++;
      d->in_flight++;
      budget--;
      j->next = batch;
      batch = j;
      if (!s->parallel)
        break;
    }
  }
  if (!batch)
    return next_due;
  char *api_url = model_site_address(d->m);
  struct outcome failed[64];
  size_t nfailed = 0;
  while (batch) {
    struct job *j = batch;
    batch = j->next;
    j->start_ms = now;
    service_token_issue(d->m, j->svc->uoid, j->svc->soid, j->d.roid, scope_of(j->d.method),
                        j->token);
    bool ready = api_url && job_prepare(d, j, api_url, now);
    if (ready && curl_multi_add_handle(d->multi, j->h) == CURLM_OK) {
      j->sent = true;
      j->next = d->jobs;
      j->prev = NULL;
      if (d->jobs)
        d->jobs->prev = j;
      d->jobs = j;
      continue;
    }
    /* it never left: an attempt that failed before sending (bad address, refused by the
     * SSRF guard), recorded like any other */
    memset(&failed[nfailed], 0, sizeof failed[nfailed]);
    decide(d, j, CURLE_COULDNT_CONNECT, now, &failed[nfailed]);
    if (++nfailed == sizeof failed / sizeof failed[0]) {
      finish_round(d, failed, nfailed);
      nfailed = 0;
    }
  }
  finish_round(d, failed, nfailed);
  free(api_url);
  return next_due;
}

/* ---- kicks ---- */

static void kick(struct lane *d, int64_t poid, int64_t soid)
{
  pthread_mutex_lock(&d->lock);
  if (poid == -1 && soid == -1)
    d->kick_all = true;
  else if (d->nkicks < KICKS_MAX)
    d->kicks[d->nkicks++] = (struct kick){poid, soid};
  else
    d->kick_all = true;
  pthread_mutex_unlock(&d->lock);
  curl_multi_wakeup(d->multi);
}

static void apply_kicks(struct lane *d)
{
  struct kick k[KICKS_MAX];
  pthread_mutex_lock(&d->lock);
  size_t n = d->nkicks;
  bool all = d->kick_all;
  memcpy(k, d->kicks, n * sizeof *k);
  d->nkicks = 0;
  d->kick_all = false;
  pthread_mutex_unlock(&d->lock);
  if (all) {
    rescan_services(d);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (k[i].soid >= 0) {
      struct svc *s = svc_find(d, k[i].soid);
      if (!s)
        s = svc_add(d, k[i].soid);
      if (s)
        s->reset = s->dirty = true;
      continue;
    }
    /* the project's services as the store has them now: one may be new */
    int64_t *ids = NULL;
    size_t n_ids = 0;
    if (store_service_ids(d->m->st, k[i].poid, &ids, &n_ids) != BH_OK) {
      rescan_services(d);
      continue;
    }
    for (size_t j = 0; j < n_ids; j++) {
      if (!lane_owns(d, ids[j]))
        continue;
      struct svc *s = svc_find(d, ids[j]);
      if (!s)
        s = svc_add(d, ids[j]);
      if (s)
        s->dirty = true;
    }
    free(ids);
  }
}

/* ---- the thread ---- */

static void *run(void *arg)
{
  struct lane *d = arg;
  rescan_services(d);
  int64_t next_scan = bh_now_ms() + SERVICE_RESCAN_MS;
  int64_t next_purge = bh_now_ms() + 60000;
  while (!atomic_load(&d->stop)) {
    int64_t now = bh_now_ms();
    apply_kicks(d);
    if (now >= next_scan) {
      rescan_services(d);
      next_scan = now + SERVICE_RESCAN_MS;
    }
    if (now >= next_purge) {
      int64_t removed = 0;
      if (d->index == 0) /* one lane is enough: the purge covers every service */
        store_delivery_purge(d->m->st, now - d->cfg->delivery_log_keep_s * 1000, &removed);
      next_purge = now + PURGE_EVERY_MS;
    }
    if (d->nlog && now - d->log_first_ms >= LOG_FLUSH_MS)
      flush_log(d);
    for (size_t i = 0; i < d->nsvcs; i++)
      if (d->svcs[i]->active || d->svcs[i]->reset)
        window_fill(d, d->svcs[i], now);
    int64_t due = start_due(d, now);
    int running = 0;
    curl_multi_perform(d->multi, &running);
    if (collect_done(d) > 0)
      continue; /* what follows a finished request may be due now */
    now = bh_now_ms();
    int64_t wait = due > now ? due - now : 0;
    if (d->nlog && wait > d->log_first_ms + LOG_FLUSH_MS - now)
      wait = d->log_first_ms + LOG_FLUSH_MS - now; /* wake up to write the outcomes */
    if (wait <= 0 && running == 0)
      continue;
    /* curl_multi_poll also returns early for curl's own timers, socket activity and kicks */
    int timeout = wait > 1000 ? 1000 : wait > 0 ? (int)wait : d->nlog ? 0 : 1000;
    curl_multi_poll(d->multi, NULL, 0, timeout, NULL);
    curl_multi_perform(d->multi, &running);
    collect_done(d);
  }
  flush_log(d);
  while (d->jobs) {
    struct job *j = d->jobs;
    d->jobs = j->next;
    curl_multi_remove_handle(d->multi, j->h);
    job_free(NULL, j);
  }
  return NULL;
}

static void lane_stop(struct lane *d)
{
  if (!d)
    return;
  if (d->started) {
    atomic_store(&d->stop, true);
    curl_multi_wakeup(d->multi);
    pthread_join(d->thread, NULL);
  }
  for (size_t i = 0; i < d->nsvcs; i++)
    svc_free(d->svcs[i]);
  free(d->svcs);
  for (size_t i = 0; i < d->nidle; i++)
    curl_easy_cleanup(d->idle[i]);
  if (d->multi)
    curl_multi_cleanup(d->multi);
  pthread_mutex_destroy(&d->lock);
  free(d);
}

static enum bh_err lane_start(struct lane **out, struct model *m, size_t index, size_t count)
{
  struct lane *d = calloc(1, sizeof *d);
  if (!d)
    return BH_NOMEM;
  d->index = index;
  d->count = count;
  d->m = m;
  d->cfg = m->cfg;
  d->max_in_flight = m->cfg->delivery_max_in_flight / (int64_t)count;
  if (d->max_in_flight < 1)
    d->max_in_flight = 1;
  d->started_ms = bh_now_ms();
  d->window = (size_t)m->cfg->delivery_max_in_flight_per_service + LOOKAHEAD;
  if (!backoff_schedule_parse(m->cfg->delivery_retry_schedule, &d->schedule))
    d->schedule = backoff_default;
  pthread_mutex_init(&d->lock, NULL);
  d->multi = curl_multi_init();
  if (!d->multi) {
    lane_stop(d);
    return BH_NOMEM;
  }
  curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)d->max_in_flight);
  if (pthread_create(&d->thread, NULL, run, d) != 0) {
    lane_stop(d);
    return BH_NOMEM;
  }
  d->started = true;
  *out = d;
  return BH_OK;
}

/* ---- the engine: lanes, each service on one of them ---- */

struct deliverer {
  struct lane **lanes;
  size_t n;
};

enum bh_err deliverer_start(struct deliverer **out, struct model *m)
{
  struct deliverer *d = calloc(1, sizeof *d);
  size_t n = m->cfg->delivery_threads > 0 ? (size_t)m->cfg->delivery_threads : 1;
  if (d)
    d->lanes = calloc(n, sizeof *d->lanes);
  if (!d || !d->lanes) {
    free(d);
    return BH_NOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    enum bh_err rc = lane_start(&d->lanes[i], m, i, n);
    if (rc != BH_OK) {
      deliverer_stop(d);
      return rc;
    }
    d->n++;
  }
  *out = d;
  return BH_OK;
}

void deliverer_stop(struct deliverer *d)
{
  if (!d)
    return;
  for (size_t i = 0; i < d->n; i++)
    lane_stop(d->lanes[i]);
  free(d->lanes);
  free(d);
}

static struct lane *lane_of(struct deliverer *d, int64_t soid)
{
  return d->lanes[(uint64_t)soid % d->n];
}

void deliverer_kick_project(struct deliverer *d, int64_t poid)
{
  for (size_t i = 0; d && i < d->n; i++)
    kick(d->lanes[i], poid, -1);
}

void deliverer_reload_service(struct deliverer *d, int64_t soid)
{
  if (d)
    kick(lane_of(d, soid), -1, soid);
}

void deliverer_on_event(struct deliverer *d, const struct event *e)
{
  switch (e->type) {
  case EV_NEW_REVISION:
  case EV_NEW_EXTENDED_DATA:
    deliverer_kick_project(d, e->poid);
    break;
  case EV_NEW_PROJECT:
    deliverer_kick_project(d, -1);
    break; /* its parent's services */
  default:
    break;
  }
}

void deliverer_service_info(struct deliverer *d, int64_t soid, struct deliverer_service_info *out)
{
  memset(out, 0, sizeof *out);
  if (!d)
    return;
  struct lane *l = lane_of(d, soid);
  pthread_mutex_lock(&l->lock);
  for (size_t i = 0; i < l->nsvcs; i++) {
    struct svc *s = l->svcs[i];
    if (s->soid != soid)
      continue;
    out->known = true;
    out->in_flight = s->in_flight;
    out->consecutive_failures = s->consecutive_failures;
    break;
  }
  pthread_mutex_unlock(&l->lock);
}
