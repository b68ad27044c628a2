/* service.c: struct bimhub_service, a remote service provider (spec §4.8, §8). libmicrohttpd
 * answers POST .../json on its own thread: discovery calls from the description at once,
 * notifications after they are checked (signature), deduplicated and spooled (spool.c).
 * Worker threads take the spooled notifications in order and run the handlers, retrying
 * with a doubling delay; the spool is replayed at start. */
#include "sdk_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "notify/sign.h"

struct job {
  char id[SDK_ID_MAX];
  json_t *record; /* {"id","received_ms","attempts","request":{...}} as spooled */
  int64_t due_ms; /* monotonic */
  struct job *next;
};

struct bimhub_service {
  struct bimhub_service_options o; /* strings below are owned copies */
  struct bimhub_service_desc *defs;
  size_t n_defs;
  struct sdk_spool spool;

  pthread_mutex_t accept_lock; /* the secret, the recent ids, spool writes of new ids */
  char *secret;
  struct sdk_dedupe seen;

  pthread_mutex_t lock; /* the queue and the life flags */
  pthread_cond_t cond;
  struct job *head;
  bool is_started, is_stopped, workers_stop, stop_requested;
  pthread_t *workers;
  unsigned n_workers;

  pthread_mutex_t stop_lock; /* one stop at a time */
  struct MHD_Daemon *mhd;
  unsigned port;
  char base_url[300];
};

/* ---- copies of the description ---- */

static char *dup_or_null(const char *s, bool *ok)
{
  if (!s)
    return NULL;
  char *d = strdup(s);
  if (!d)
    *ok = false;
  return d;
}

#define DESC_STRINGS(X)                                                                            \
  X(identifier)                                                                                    \
  X(name)                                                                                          \
  X(description)                                                                                   \
  X(provider_name)                                                                                 \
  X(company_url)                                                                                   \
  X(url)                                                                                           \
  X(trigger)                                                                                       \
  X(notification_protocol)                                                                         \
  X(read_extended_data)                                                                            \
  X(write_extended_data)                                                                           \
  X(token)                                                                                         \
  X(token_url)                                                                                     \
  X(authorize_url)                                                                                 \
  X(register_url)                                                                                  \
  X(new_profile_url)

static void desc_clear(struct bimhub_service_desc *d)
{
#define X(f) free((char *)d->f);
  DESC_STRINGS(X)
#undef X
  for (size_t i = 0; i < d->n_profiles; i++) {
    struct bimhub_profile_desc *p = (struct bimhub_profile_desc *)&d->profiles[i];
    free((char *)p->identifier);
    free((char *)p->name);
    free((char *)p->description);
  }
  free((void *)d->profiles);
  memset(d, 0, sizeof *d);
}

static bool desc_copy(struct bimhub_service_desc *dst, const struct bimhub_service_desc *src)
{
  bool ok = true;
  *dst = *src;
#define X(f) dst->f = dup_or_null(src->f, &ok);
  DESC_STRINGS(X)
#undef X
  dst->profiles = NULL;
  dst->n_profiles = 0;
  if (src->profiles && src->n_profiles > 0) {
    struct bimhub_profile_desc *p = calloc(src->n_profiles, sizeof *p);
    if (!p)
      ok = false;
    for (size_t i = 0; p && i < src->n_profiles; i++) {
      p[i].identifier = dup_or_null(src->profiles[i].identifier, &ok);
      p[i].name = dup_or_null(src->profiles[i].name, &ok);
      p[i].description = dup_or_null(src->profiles[i].description, &ok);
      p[i].is_public = src->profiles[i].is_public;
    }
    dst->profiles = p;
    dst->n_profiles = p ? src->n_profiles : 0;
  }
  if (!ok)
    desc_clear(dst);
  return ok;
}

/* The service a request or notification is for: by identifier, or the only one. */
static const struct bimhub_service_desc *find_def(const struct bimhub_service *svc,
                                                  const char *ident)
{
  for (size_t i = 0; ident && i < svc->n_defs; i++)
    if (strcmp(svc->defs[i].identifier, ident) == 0)
      return &svc->defs[i];
  return svc->n_defs == 1 ? &svc->defs[0] : NULL;
}

static bimhub_notification_cb handler_of(const struct bimhub_service_desc *d, const char *method)
{
  bimhub_notification_cb cb = NULL;
  if (strcmp(method, "newRevision") == 0)
    cb = d->on_new_revision;
  else if (strcmp(method, "newExtendedDataOnRevision") == 0)
    cb = d->on_new_extended_data_on_revision;
  else if (strcmp(method, "newExtendedDataOnProject") == 0)
    cb = d->on_new_extended_data_on_project;
  return cb ? cb : d->on_notification;
}

/* ---- life ---- */

/* One secret, or several separated by spaces or commas (a provider registered on several
 * projects gets one secret per registration): each must parse. */
static bool secret_ok(const char *secret)
{
  unsigned char key[SIGN_KEY_MAX];
  size_t len, count = 0;
  bool ok = true;
  for (const char *p = secret + strspn(secret, " ,"); ok && *p; p += strspn(p, " ,")) {
    size_t n = strcspn(p, " ,");
    char one[SIGN_SECRET_MAX];
    ok = n < sizeof one;
    if (ok) {
      memcpy(one, p, n);
      one[n] = '\0';
      ok = sign_secret_parse(one, key, &len) == BH_OK;
      memset(one, 0, sizeof one);
    }
    p += n;
    count++;
  }
  memset(key, 0, sizeof key);
  return ok && count > 0;
}

struct bimhub_service *bimhub_service_new(const struct bimhub_service_options *opts,
                                          struct bimhub_error *err)
{
  if (!opts || !opts->spool_dir || !*opts->spool_dir) {
    sdk_fail(err, BIMHUB_INVALID, "A service needs options with a spool_dir");
    return NULL;
  }
  if (sdk_global_init() != BIMHUB_OK) {
    sdk_fail(err, BIMHUB_STATE, "Cannot initialise libcurl or libsodium");
    return NULL;
  }
  if (opts->secret && !secret_ok(opts->secret)) {
    sdk_fail(err, BIMHUB_INVALID, "The secret is not whsec_<Base64 of 16-64 bytes>");
    return NULL;
  }
  struct bimhub_service *svc = calloc(1, sizeof *svc);
  if (!svc) {
    sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
    return NULL;
  }
  bool ok = true;
  svc->o = *opts;
  svc->o.host = dup_or_null(opts->host ? opts->host : "127.0.0.1", &ok);
  svc->o.spool_dir = dup_or_null(opts->spool_dir, &ok);
  svc->o.api_url = dup_or_null(opts->api_url, &ok);
  svc->o.secret = NULL;
  svc->secret = dup_or_null(opts->secret, &ok);
  if (svc->o.signature_tolerance_s <= 0)
    svc->o.signature_tolerance_s = 300;
  if (svc->o.workers == 0)
    svc->o.workers = 1;
  if (svc->o.max_attempts == 0)
    svc->o.max_attempts = 5;
  if (svc->o.retry_delay_ms <= 0)
    svc->o.retry_delay_ms = 1000;
  if (svc->o.retry_max_delay_ms <= 0)
    svc->o.retry_max_delay_ms = 60000;
  if (svc->o.max_body_bytes == 0)
    svc->o.max_body_bytes = 1u << 20;
  if (svc->o.dedupe_ids == 0)
    svc->o.dedupe_ids = 4096;
  if (svc->o.api_connect_timeout_ms <= 0)
    svc->o.api_connect_timeout_ms = 10000;
  if (ok)
    ok = sdk_dedupe_init(&svc->seen, svc->o.dedupe_ids);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&svc->cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&svc->lock, NULL);
  pthread_mutex_init(&svc->accept_lock, NULL);
  pthread_mutex_init(&svc->stop_lock, NULL);
  if (!ok) {
    bimhub_service_free(svc);
    sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
    return NULL;
  }
  return svc;
}

enum bimhub_rc bimhub_service_add(struct bimhub_service *svc, const struct bimhub_service_desc *d,
                                  struct bimhub_error *err)
{
  if (!svc || !d || !d->identifier || !*d->identifier || !d->name)
    return sdk_fail(err, BIMHUB_INVALID, "A service needs an identifier and a name");
  pthread_mutex_lock(&svc->lock);
  bool started = svc->is_started;
  pthread_mutex_unlock(&svc->lock);
  if (started)
    return sdk_fail(err, BIMHUB_STATE, "Services are added before bimhub_service_start()");
  for (size_t i = 0; i < svc->n_defs; i++)
    if (strcmp(svc->defs[i].identifier, d->identifier) == 0)
      return sdk_fail(err, BIMHUB_INVALID, "The identifier %s is taken", d->identifier);
  struct bimhub_service_desc *n = realloc(svc->defs, (svc->n_defs + 1) * sizeof *n);
  if (!n)
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  svc->defs = n;
  if (!desc_copy(&svc->defs[svc->n_defs], d))
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  svc->n_defs++;
  return BIMHUB_OK;
}

enum bimhub_rc bimhub_service_set_secret(struct bimhub_service *svc, const char *secret)
{
  if (!svc || (secret && !secret_ok(secret)))
    return BIMHUB_INVALID;
  char *copy = NULL;
  if (secret && !(copy = strdup(secret)))
    return BIMHUB_NOMEM;
  pthread_mutex_lock(&svc->accept_lock);
  char *old = svc->secret;
  svc->secret = copy;
  pthread_mutex_unlock(&svc->accept_lock);
  if (old) {
    memset(old, 0, strlen(old));
    free(old);
  }
  return BIMHUB_OK;
}

unsigned bimhub_service_port(const struct bimhub_service *svc)
{
  return svc ? svc->port : 0;
}

enum bimhub_rc bimhub_service_base_url(const struct bimhub_service *svc, char *buf, size_t len)
{
  if (!svc || !svc->port)
    return BIMHUB_STATE;
  if (!buf || (size_t)snprintf(buf, len, "%s", svc->base_url) >= len)
    return BIMHUB_INVALID;
  return BIMHUB_OK;
}

/* ---- the queue ---- */

static void job_free(struct job *j)
{
  if (j) {
    json_decref(j->record);
    free(j);
  }
}

/* Adds j in due order (equal due times keep arrival order). Under svc->lock. */
static void enqueue_locked(struct bimhub_service *svc, struct job *j)
{
  struct job **p = &svc->head;
  while (*p && (*p)->due_ms <= j->due_ms)
    p = &(*p)->next;
  j->next = *p;
  *p = j;
  pthread_cond_signal(&svc->cond);
}

static struct job *job_new(const char *id, json_t *record)
{
  struct job *j = calloc(1, sizeof *j);
  if (!j)
    return NULL;
  snprintf(j->id, sizeof j->id, "%s", id);
  j->record = json_incref(record);
  j->due_ms = sdk_mono_ms();
  return j;
}

/* Runs the handler of one notification and settles its spool file. Worker thread. */
static void run_job(struct bimhub_service *svc, struct job *j)
{
  json_t *req = json_object_get(j->record, "request");
  const char *method = bimhub_json_str(req, "method");
  json_t *params = json_object_get(req, "parameters");
  struct bimhub_notification n;
  sdk_notification_read(method ? method : "", params, &n);
  n.id = j->id;
  n.attempt = (unsigned)bimhub_json_int(j->record, "attempts", 0) + 1;
  n.received_ms = bimhub_json_int(j->record, "received_ms", 0);
  const struct bimhub_service_desc *d = find_def(svc, n.service_identifier);
  bimhub_notification_cb cb = d && method ? handler_of(d, method) : NULL;
  int r = BIMHUB_DROP;
  if (!cb) {
    sdk_log(BIMHUB_LOG_ERROR, "service: no handler for %s of service %s (notification %s)",
            method ? method : "?", n.service_identifier ? n.service_identifier : "?", j->id);
  } else {
    const char *base = svc->o.api_url ? svc->o.api_url : n.api_url;
    struct bimhub_client *api = base ? bimhub_client_new(base) : NULL;
    if (api) {
      bimhub_client_set_timeouts(api, svc->o.api_connect_timeout_ms, svc->o.api_timeout_ms);
      if (n.token)
        bimhub_client_set_token(api, n.token);
    }
    r = cb(d->arg, &n, api);
    bimhub_client_free(api);
  }
  if (r == BIMHUB_HANDLED) {
    pthread_mutex_lock(&svc->accept_lock);
    if (sdk_spool_remove(&svc->spool, j->id) != BIMHUB_OK)
      sdk_log(BIMHUB_LOG_ERROR, "service: cannot remove the spooled notification %s", j->id);
    pthread_mutex_unlock(&svc->accept_lock);
    job_free(j);
    return;
  }
  if (r == BIMHUB_RETRY && n.attempt < svc->o.max_attempts) {
    json_object_set_new(j->record, "attempts", json_integer(n.attempt));
    struct bimhub_error e;
    pthread_mutex_lock(&svc->accept_lock);
    enum bimhub_rc rc = sdk_spool_put(&svc->spool, j->id, j->record, &e);
    pthread_mutex_unlock(&svc->accept_lock);
    if (rc != BIMHUB_OK)
      sdk_log(BIMHUB_LOG_ERROR, "service: %s", e.message); /* still queued: the run goes on */
    long delay = sdk_backoff_ms(n.attempt, svc->o.retry_delay_ms, svc->o.retry_max_delay_ms, 0);
    sdk_log(BIMHUB_LOG_WARN,
            "service: %s of notification %s failed (attempt %u of %u); again in "
            "%ld ms",
            method, j->id, n.attempt, svc->o.max_attempts, delay);
    j->due_ms = sdk_mono_ms() + delay;
    pthread_mutex_lock(&svc->lock);
    enqueue_locked(svc, j);
    pthread_mutex_unlock(&svc->lock);
    return;
  }
  sdk_log(BIMHUB_LOG_ERROR,
          "service: notification %s (%s) failed for good after %u attempt(s); "
          "kept in %s/failed/",
          j->id, method ? method : "?", n.attempt, svc->o.spool_dir);
  pthread_mutex_lock(&svc->accept_lock);
  sdk_spool_fail(&svc->spool, j->id);
  sdk_dedupe_remove(&svc->seen, j->id); /* a redelivery of it may run again */
  pthread_mutex_unlock(&svc->accept_lock);
  job_free(j);
}

static void *worker_main(void *arg)
{
  struct bimhub_service *svc = arg;
  pthread_mutex_lock(&svc->lock);
  while (!svc->workers_stop) {
    struct job *j = svc->head;
    int64_t now = sdk_mono_ms();
    if (j && j->due_ms <= now) {
      svc->head = j->next;
      j->next = NULL;
      pthread_mutex_unlock(&svc->lock);
      run_job(svc, j);
      pthread_mutex_lock(&svc->lock);
      continue;
    }
    if (!j) {
      pthread_cond_wait(&svc->cond, &svc->lock);
    } else {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      int64_t wait = j->due_ms - now;
      ts.tv_sec += wait / 1000;
      ts.tv_nsec += (wait % 1000) * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&svc->cond, &svc->lock, &ts);
    }
  }
  pthread_mutex_unlock(&svc->lock);
  return NULL;
}

/* ---- HTTP ---- */

struct request {
  struct sdk_buf body;
  bool is_too_big;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, json_t *j)
{
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(j);
  struct MHD_Response *r;
  if (text)
    r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  else
    r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!r) {
    free(text);
    return MHD_NO;
  }
  if (text)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=UTF-8");
  enum MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static json_t *result_of(json_t *v)
{
  return json_pack("{s:{s:o}}", "response", "result", v ? v : json_null());
}

static json_t *exception_of(const char *type, const char *msg)
{
  return json_pack("{s:{s:{s:s,s:s}}}", "response", "exception", "__type", type, "message", msg);
}

/* Checks, deduplicates and spools one notification; the answer's status and body. */
static unsigned accept_notification(struct bimhub_service *svc, struct MHD_Connection *conn,
                                    json_t *request, const char *method, const char *body,
                                    size_t len, json_t **out)
{
  const char *wid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-id");
  const char *wts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-timestamp");
  const char *wsig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-signature");
  json_t *params = json_object_get(request, "parameters");
  const char *ident = bimhub_json_str(params, "serviceIdentifier");
  const struct bimhub_service_desc *d = find_def(svc, ident);

  pthread_mutex_lock(&svc->accept_lock);
  if (svc->secret) {
    struct bimhub_error e;
    if (sdk_check_signature(svc->secret, wid, wts, wsig, body, len, sdk_wall_ms() / 1000,
                            svc->o.signature_tolerance_s, &e) != BIMHUB_OK) {
      pthread_mutex_unlock(&svc->accept_lock);
      sdk_log(BIMHUB_LOG_WARN, "service: %s refused: %s", method, e.message);
      *out = exception_of("AuthenticationException", e.message);
      return MHD_HTTP_UNAUTHORIZED;
    }
  }
  if (!d) {
    pthread_mutex_unlock(&svc->accept_lock);
    char msg[300];
    snprintf(msg, sizeof msg, "No service with identifier %s", ident ? ident : "null");
    *out = exception_of("UserException", msg);
    return MHD_HTTP_OK;
  }
  if (!handler_of(d, method)) {
    /* not wanted: acknowledged, or the server's delivery would retry it for days */
    pthread_mutex_unlock(&svc->accept_lock);
    sdk_log(BIMHUB_LOG_INFO, "service: %s has no handler for %s; acknowledged and dropped",
            d->identifier, method);
    *out = result_of(json_object());
    return MHD_HTTP_OK;
  }
  char id[SDK_ID_MAX];
  sdk_delivery_id(wid, body, len, id);
  if (sdk_dedupe_has(&svc->seen, id) || sdk_spool_has(&svc->spool, id)) {
    pthread_mutex_unlock(&svc->accept_lock);
    sdk_log(BIMHUB_LOG_INFO, "service: notification %s again: acknowledged, not run again", id);
    *out = result_of(json_object());
    return MHD_HTTP_OK;
  }
  json_t *record = json_pack("{s:s,s:I,s:i,s:O}", "id", id, "received_ms",
                             (json_int_t)sdk_wall_ms(), "attempts", 0, "request", request);
  struct bimhub_error e;
  enum bimhub_rc rc = record ? sdk_spool_put(&svc->spool, id, record, &e)
                             : sdk_fail(&e, BIMHUB_NOMEM, "Out of memory");
  struct job *j = rc == BIMHUB_OK ? job_new(id, record) : NULL;
  if (rc == BIMHUB_OK)
    sdk_dedupe_add(&svc->seen, id);
  pthread_mutex_unlock(&svc->accept_lock);
  json_decref(record);
  if (rc != BIMHUB_OK) {
    /* not kept, so not acknowledged: the server delivers it again */
    sdk_log(BIMHUB_LOG_ERROR, "service: cannot spool notification %s: %s", id, e.message);
    *out = exception_of("ServerException", e.message);
    return MHD_HTTP_SERVICE_UNAVAILABLE;
  }
  if (j) {
    pthread_mutex_lock(&svc->lock);
    enqueue_locked(svc, j);
    pthread_mutex_unlock(&svc->lock);
  } else {
    sdk_log(BIMHUB_LOG_ERROR, "service: out of memory; notification %s waits for the next start",
            id);
  }
  *out = result_of(json_object());
  return MHD_HTTP_OK;
}

static unsigned handle_body(struct bimhub_service *svc, struct MHD_Connection *conn,
                            const char *body, size_t len, json_t **out)
{
  json_t *env = json_loadb(body, len, 0, NULL);
  json_t *request = json_object_get(env, "request");
  const char *iface = bimhub_json_str(request, "interface");
  const char *method = bimhub_json_str(request, "method");
  json_t *params = json_object_get(request, "parameters");
  unsigned status = MHD_HTTP_OK;
  if (!json_is_object(env) || !json_is_object(request)) {
    *out = exception_of("UserException", "The body is not a request envelope");
    status = MHD_HTTP_BAD_REQUEST;
  } else if (!sdk_is_remote_iface(iface)) {
    char msg[300];
    snprintf(msg, sizeof msg, "No service found with name %s", iface ? iface : "null");
    *out = exception_of("UserException", msg);
  } else if (!method) {
    *out = exception_of("UserException", "No method given");
  } else if (strcmp(method, "getService") == 0) {
    const char *ident = bimhub_json_str(params, "serviceIdentifier");
    const struct bimhub_service_desc *d = find_def(svc, ident);
    if (d && ident && strcmp(d->identifier, ident) != 0)
      d = NULL; /* discovery names the service exactly */
    *out = result_of(d ? bimhub_service_descriptor_json(d, d->url ? d->url : svc->base_url) : NULL);
  } else if (strcmp(method, "getPublicProfiles") == 0 ||
             strcmp(method, "getPrivateProfiles") == 0) {
    bool pub = method[3] == 'P' && method[4] == 'u';
    const char *ident = bimhub_json_str(params, "serviceIdentifier");
    const char *token = bimhub_json_str(params, "token");
    const struct bimhub_service_desc *d = find_def(svc, ident);
    bool may = d && (pub || (token && *token &&
                             (!d->check_token || d->check_token(d->arg, d->identifier, token))));
    *out = result_of(may ? sdk_profiles_json(d, pub) : json_array());
  } else {
    status = accept_notification(svc, conn, request, method, body, len, out);
  }
  json_decref(env);
  return status;
}

static bool is_json_path(const char *url)
{
  size_t n = strlen(url);
  while (n > 1 && url[n - 1] == '/')
    n--;
  return n >= 5 && strncmp(url + n - 5, "/json", 5) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
  (void)version;
  struct bimhub_service *svc = cls;
  struct request *rq = *con_cls;
  if (!rq) {
    rq = calloc(1, sizeof *rq);
    if (!rq)
      return MHD_NO;
    sdk_buf_init(&rq->body, svc->o.max_body_bytes);
    *con_cls = rq;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    if (!rq->is_too_big && !sdk_buf_add(&rq->body, upload_data, *upload_data_size))
      rq->is_too_big = true;
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (strcmp(method, "POST") != 0)
    return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                 exception_of("UserException", "POST a request envelope to /json"));
  if (!is_json_path(url))
    return reply(conn, MHD_HTTP_NOT_FOUND, exception_of("UserException", "Not found: use /json"));
  if (rq->is_too_big)
    return reply(conn, 413, exception_of("UserException", "The request is too large"));
  json_t *out = NULL;
  unsigned status = handle_body(svc, conn, rq->body.data ? rq->body.data : "", rq->body.len, &out);
  return reply(conn, status, out);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)conn;
  (void)toe;
  struct request *rq = *con_cls;
  if (rq) {
    sdk_buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
  }
}

/* ---- start and stop ---- */

static void stop_workers(struct bimhub_service *svc)
{
  pthread_mutex_lock(&svc->lock);
  svc->workers_stop = true;
  pthread_cond_broadcast(&svc->cond);
  pthread_mutex_unlock(&svc->lock);
  for (unsigned i = 0; i < svc->n_workers; i++)
    pthread_join(svc->workers[i], NULL);
  svc->n_workers = 0;
  free(svc->workers);
  svc->workers = NULL;
  pthread_mutex_lock(&svc->lock);
  struct job *j = svc->head;
  svc->head = NULL;
  pthread_mutex_unlock(&svc->lock);
  while (j) {
    struct job *n = j->next;
    job_free(j); /* still spooled: replayed at the next start */
    j = n;
  }
}

static enum bimhub_rc replay(struct bimhub_service *svc, struct bimhub_error *err)
{
  json_t *records = NULL;
  enum bimhub_rc rc = sdk_spool_load(&svc->spool, &records, err);
  if (rc != BIMHUB_OK)
    return rc;
  size_t i;
  json_t *r;
  json_array_foreach(records, i, r)
  {
    const char *id = bimhub_json_str(r, "id");
    struct job *j = id ? job_new(id, r) : NULL;
    if (!j)
      continue;
    sdk_dedupe_add(&svc->seen, id);
    pthread_mutex_lock(&svc->lock);
    enqueue_locked(svc, j);
    pthread_mutex_unlock(&svc->lock);
  }
  if (json_array_size(records) > 0)
    sdk_log(BIMHUB_LOG_INFO, "service: %zu spooled notification(s) replayed",
            json_array_size(records));
  json_decref(records);
  return BIMHUB_OK;
}

enum bimhub_rc bimhub_service_start(struct bimhub_service *svc, struct bimhub_error *err)
{
  if (!svc)
    return sdk_fail(err, BIMHUB_INVALID, "no service");
  pthread_mutex_lock(&svc->lock);
  bool was = svc->is_started;
  svc->is_started = true;
  pthread_mutex_unlock(&svc->lock);
  if (was)
    return sdk_fail(err, BIMHUB_STATE, "The service was already started");
  if (svc->n_defs == 0)
    return sdk_fail(err, BIMHUB_STATE, "No service was added");
  enum bimhub_rc rc = sdk_spool_open(&svc->spool, svc->o.spool_dir, err);
  if (rc != BIMHUB_OK)
    return rc;
  rc = replay(svc, err);
  if (rc != BIMHUB_OK)
    return rc;

  char port[8];
  snprintf(port, sizeof port, "%u", svc->o.port);
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *ai = NULL;
  int gai = getaddrinfo(svc->o.host, port, &hints, &ai);
  if (gai != 0)
    return sdk_fail(err, BIMHUB_TRANSPORT, "Cannot resolve %s: %s", svc->o.host, gai_strerror(gai));
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
  if (ai->ai_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  svc->workers = calloc(svc->o.workers, sizeof *svc->workers);
  if (!svc->workers) {
    freeaddrinfo(ai);
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  }
  for (unsigned i = 0; i < svc->o.workers; i++) {
    if (pthread_create(&svc->workers[i], NULL, worker_main, svc) != 0)
      break;
    svc->n_workers++;
  }
  if (svc->n_workers == 0) {
    freeaddrinfo(ai);
    return sdk_fail(err, BIMHUB_NOMEM, "Cannot start a worker thread");
  }
  svc->mhd =
      MHD_start_daemon(flags, (uint16_t)svc->o.port, NULL, NULL, on_request, svc,
                       MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                       svc, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
  freeaddrinfo(ai);
  if (!svc->mhd) {
    stop_workers(svc);
    return sdk_fail(err, BIMHUB_TRANSPORT, "Cannot listen on %s port %u", svc->o.host, svc->o.port);
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(svc->mhd, MHD_DAEMON_INFO_BIND_PORT);
  svc->port = info ? info->port : svc->o.port;
  const char *h = svc->o.host;
  if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "") == 0)
    h = "127.0.0.1"; /* an address that is dialable from this machine */
  bool v6 = strchr(h, ':') != NULL;
  snprintf(svc->base_url, sizeof svc->base_url, "http://%s%s%s:%u", v6 ? "[" : "", h, v6 ? "]" : "",
           svc->port);
  sdk_log(BIMHUB_LOG_INFO, "service: listening on %s", svc->base_url);
  return BIMHUB_OK;
}

void bimhub_service_stop(struct bimhub_service *svc)
{
  if (!svc)
    return;
  pthread_mutex_lock(&svc->stop_lock);
  pthread_mutex_lock(&svc->lock);
  svc->stop_requested = true;
  bool todo = svc->is_started && !svc->is_stopped;
  svc->is_stopped = svc->is_stopped || svc->is_started;
  pthread_mutex_unlock(&svc->lock);
  if (todo) {
    if (svc->mhd)
      MHD_stop_daemon(svc->mhd);
    svc->mhd = NULL;
    stop_workers(svc);
  }
  pthread_mutex_unlock(&svc->stop_lock);
}

enum bimhub_rc bimhub_service_run(struct bimhub_service *svc, struct bimhub_error *err)
{
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  enum bimhub_rc rc = bimhub_service_start(svc, err);
  if (rc == BIMHUB_OK) {
    for (;;) {
      pthread_mutex_lock(&svc->lock);
      bool asked = svc->stop_requested;
      pthread_mutex_unlock(&svc->lock);
      if (asked)
        break;
      struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
      int sig = sigtimedwait(&set, NULL, &ts);
      if (sig == SIGINT || sig == SIGTERM) {
        sdk_log(BIMHUB_LOG_INFO, "service: signal %d: stopping", sig);
        break;
      }
    }
    bimhub_service_stop(svc);
  }
  /* signals that came meanwhile would act on the old mask: take them here */
  struct timespec zero = {0};
  while (sigtimedwait(&set, NULL, &zero) > 0)
    ;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

void bimhub_service_free(struct bimhub_service *svc)
{
  if (!svc)
    return;
  bimhub_service_stop(svc);
  for (size_t i = 0; i < svc->n_defs; i++)
    desc_clear(&svc->defs[i]);
  free(svc->defs);
  sdk_spool_close(&svc->spool);
  sdk_dedupe_free(&svc->seen);
  if (svc->secret) {
    memset(svc->secret, 0, strlen(svc->secret));
    free(svc->secret);
  }
  free((char *)svc->o.host);
  free((char *)svc->o.spool_dir);
  free((char *)svc->o.api_url);
  pthread_cond_destroy(&svc->cond);
  pthread_mutex_destroy(&svc->lock);
  pthread_mutex_destroy(&svc->accept_lock);
  pthread_mutex_destroy(&svc->stop_lock);
  free(svc);
}
