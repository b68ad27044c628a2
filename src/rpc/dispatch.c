/* dispatch.c: from a JSON envelope to handler calls and back (spec §1.2, §2, §3). Finds
 * the interface and method in the tables, checks parameters, server state and rights,
 * runs the handler, and is the one place where an error code becomes an exception. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "checkin/checkin.h"
#include "notify/deliver.h"
#include "notify/push.h"
#include "model/events.h"
#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "rpc/rpc_internal.h"

/* An interface may be described by several tables (ServiceInterface is large): they are
 * listed together and searched in order. */
const struct rpc_iface *const rpc_ifaces[] = {
    &rpc_iface_admin,           &rpc_iface_auth,
    &rpc_iface_delivery,        &rpc_iface_meta,
    &rpc_iface_registry,        &rpc_iface_plugin,
    &rpc_iface_service,         &rpc_iface_service_checkin,
    &rpc_iface_service_extdata, &rpc_iface_service_services,
    &rpc_iface_settings,        &rpc_iface_bimsie1_service,
};
const size_t rpc_iface_count = sizeof rpc_ifaces / sizeof rpc_ifaces[0];

/* Forwards bus events to the delivery engine once it runs (subscribed before serving, as
 * the bus requires; the engine starts later). */
static void on_event(const struct event *e, void *arg)
{
  struct rpc *rpc = arg;
  struct deliverer *d = atomic_load(&rpc->deliver);
  if (d)
    deliverer_on_event(d, e);
}

enum bh_err rpc_start_delivery(struct rpc *rpc)
{
  struct deliverer *d = NULL;
  enum bh_err rc = deliverer_start(&d, &rpc->model);
  if (rc == BH_OK)
    atomic_store(&rpc->deliver, d);
  return rc;
}

void rpc_stop_delivery(struct rpc *rpc)
{
  if (rpc)
    deliverer_stop(atomic_exchange(&rpc->deliver, NULL));
}

enum bh_err rpc_new(struct rpc **out, const struct bh_config *cfg, struct store *st,
                    struct events *ev)
{
  struct rpc *rpc = calloc(1, sizeof *rpc);
  if (!rpc)
    return BH_NOMEM;
  rpc->cfg = cfg;
  rpc->next_endpoint_id = 2; /* BIMserver's first endpoint id */
  pthread_mutex_init(&rpc->endpoint_lock, NULL);
  pthread_mutex_init(&rpc->token_cache_lock, NULL);
  rpc->token_cache = calloc(TOKEN_CACHE_SLOTS, sizeof *rpc->token_cache);
  enum bh_err rc = rpc->token_cache ? model_init(&rpc->model, st, ev, cfg) : BH_NOMEM;
  if (rc == BH_OK) {
    rpc->checkins = checkins_new(&rpc->model);
    rpc->model.checkins = rpc->checkins;
    if (!rpc->checkins)
      rc = BH_NOMEM;
  }
  if (rc == BH_OK) {
    struct push_limits lim = {.max_endpoints_per_user = cfg->max_endpoints_per_user,
                              .max_registrations = cfg->max_registrations_per_endpoint,
                              .history_frames = cfg->endpoint_history_frames,
                              .history_ms = cfg->endpoint_history_s * 1000};
    rc = push_new(&rpc->push, &rpc->model, &lim);
  }
  if (rc == BH_OK)
    rc = events_subscribe(ev, on_event, rpc);
  if (rc == BH_OK) {
    struct throttle_limits lim = {.base_ms = (unsigned)cfg->login_fail_delay_ms,
                                  .max_ms = (unsigned)cfg->login_fail_delay_max_ms,
                                  .user_max = (unsigned)cfg->login_max_failures,
                                  .addr_max = (unsigned)cfg->login_max_failures_per_address,
                                  .window_ms = cfg->login_failure_window_s * 1000};
    rpc->throttle = throttle_new(&lim);
    if (!rpc->throttle)
      rc = BH_NOMEM;
  }
  if (rc != BH_OK) {
    rpc_free(rpc);
    return rc;
  }
  *out = rpc;
  return BH_OK;
}

void rpc_free(struct rpc *rpc)
{
  if (!rpc)
    return;
  rpc_stop_delivery(rpc);
  throttle_free(rpc->throttle);
  checkins_free(rpc->checkins); /* waits for running check-ins */
  push_free(rpc->push);         /* keeps the endpoints' history for the next start */
  model_free(&rpc->model);
  pthread_mutex_destroy(&rpc->endpoint_lock);
  pthread_mutex_destroy(&rpc->token_cache_lock);
  free(rpc->token_cache);
  free(rpc);
}

/* ---- tokens ---- */

enum bh_err rpc_issue_token(struct rpc *rpc, int64_t uoid, char out[65])
{
  unsigned char h[32];
  token_new(out);
  token_hash(out, h);
  int64_t now = bh_now_ms();
  struct token_rec t = {.uoid = uoid,
                        .kind = TOKEN_LOGIN,
                        .created_ms = now,
                        .expires_ms = now + rpc->cfg->token_lifetime_s * 1000,
                        .service_oid = -1};
  return store_token_add(rpc->model.st, h, &t);
}

static enum bh_err invalid_token(struct bh_why *why, const char *text)
{
  enum bh_err rc = bh_fail(why, BH_AUTH, "%s", text);
  if (why) {
    why->exc_type = "AuthenticationException";
    why->error_type = "DefaultErrorCode";
    why->error_code = 3;
  }
  return rc;
}

static struct token_cache_slot *cache_slot(struct rpc *rpc, const unsigned char h[32])
{
  uint32_t i;
  memcpy(&i, h, sizeof i); /* h is a cryptographic hash: any bytes index evenly */
  return &rpc->token_cache[i % TOKEN_CACHE_SLOTS];
}

void rpc_forget_token(struct rpc *rpc, const char *token)
{
  unsigned char h[32];
  if (!token_hash(token, h))
    return;
  store_token_delete(rpc->model.st, h);
  pthread_mutex_lock(&rpc->token_cache_lock);
  rpc->token_gen++;
  struct token_cache_slot *s = cache_slot(rpc, h);
  if (memcmp(s->hash, h, 32) == 0)
    s->valid_until_ms = 0;
  pthread_mutex_unlock(&rpc->token_cache_lock);
  push_end_sessions(rpc->push, -1, h, NULL, "Logged out");
}

void rpc_end_sessions(struct rpc *rpc, int64_t uoid, const char *keep_token, const char *reason)
{
  unsigned char keep[32];
  bool keeps = keep_token && token_hash(keep_token, keep);
  store_token_delete_user(rpc->model.st, uoid, keeps ? keep : NULL, NULL);
  pthread_mutex_lock(&rpc->token_cache_lock);
  rpc->token_gen++;
  for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
    struct token_cache_slot *s = &rpc->token_cache[i];
    if (!s->actor.is_service && s->actor.uoid == uoid && !(keeps && memcmp(s->hash, keep, 32) == 0))
      s->valid_until_ms = 0;
  }
  pthread_mutex_unlock(&rpc->token_cache_lock);
  push_end_sessions(rpc->push, uoid, NULL, keeps ? keep : NULL, reason);
}

void rpc_forget_service_tokens(struct rpc *rpc, int64_t soid)
{
  pthread_mutex_lock(&rpc->token_cache_lock);
  rpc->token_gen++;
  for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
    struct token_cache_slot *s = &rpc->token_cache[i];
    if (s->actor.is_service && s->actor.service_oid == soid)
      s->valid_until_ms = 0;
  }
  pthread_mutex_unlock(&rpc->token_cache_lock);
}

/* A service token: checked by its MAC and expiry, then by its service, which must still be
 * active (deleting a service revokes its tokens), and its owner. */
static enum bh_err resolve_service_token(struct rpc *rpc, const char *token, struct actor *out,
                                         int64_t *expires_ms, struct bh_why *why)
{
  struct service_token t;
  if (!service_token_parse(rpc->model.service_key, token, &t))
    return invalid_token(why, "Invalid token");
  *expires_ms = t.expires_s * 1000;
  if (t.expires_s * 1000 <= bh_now_ms())
    return invalid_token(why, "This token has expired");
  struct user_rec u;
  if (store_user_get(rpc->model.st, t.uoid, &u) != BH_OK)
    return invalid_token(why, "Invalid token");
  bool deleted = u.state == STATE_DELETED;
  *out = (struct actor){
      .uoid = u.uoid, .type = (enum user_type)u.type, .is_service = true, .service_oid = t.soid};
  user_rec_clear(&u);
  if (deleted)
    return invalid_token(why, "User account has been deleted");
  if (service_grant_load(&rpc->model, t.soid, t.roid, t.scope, &out->grant) != BH_OK)
    return invalid_token(why, "Invalid token"); /* its service was deleted */
  return BH_OK;
}

enum bh_err rpc_resolve_token(struct rpc *rpc, const char *token, struct actor *out,
                              struct bh_why *why)
{
  unsigned char h[32];
  bool service = token && strlen(token) == SERVICE_TOKEN_TEXT_LEN;
  if (service)
    crypto_generichash(h, sizeof h, (const unsigned char *)token, SERVICE_TOKEN_TEXT_LEN, NULL, 0);
  else if (!token_hash(token, h))
    return invalid_token(why, "Invalid token");
  int64_t now = bh_now_ms();
  pthread_mutex_lock(&rpc->token_cache_lock);
  struct token_cache_slot *slot = cache_slot(rpc, h);
  bool hit = slot->valid_until_ms > now && memcmp(slot->hash, h, 32) == 0;
  if (hit)
    *out = slot->actor;
  /* A token forgotten while it is looked up below must not come back into the cache. */
  uint64_t gen = rpc->token_gen;
  pthread_mutex_unlock(&rpc->token_cache_lock);
  if (hit)
    return BH_OK;
  if (service) {
    int64_t expires_ms = 0;
    enum bh_err rc = resolve_service_token(rpc, token, out, &expires_ms, why);
    if (rc == BH_OK) {
      pthread_mutex_lock(&rpc->token_cache_lock);
      if (rpc->token_gen == gen) {
        memcpy(slot->hash, h, 32);
        slot->actor = *out;
        slot->valid_until_ms =
            now + TOKEN_CACHE_TTL_MS < expires_ms ? now + TOKEN_CACHE_TTL_MS : expires_ms;
      }
      pthread_mutex_unlock(&rpc->token_cache_lock);
    }
    return rc;
  }

  struct token_rec t;
  enum bh_err rc = store_token_get(rpc->model.st, h, &t);
  if (rc == BH_NOTFOUND)
    return invalid_token(why, "Invalid token");
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  if (t.expires_ms <= bh_now_ms())
    return invalid_token(why, "This token has expired");
  struct user_rec u;
  rc = store_user_get(rpc->model.st, t.uoid, &u);
  if (rc != BH_OK)
    return invalid_token(why, "Invalid token");
  bool deleted = u.state == STATE_DELETED;
  out->uoid = u.uoid;
  out->type = (enum user_type)u.type;
  out->is_service = false;
  out->service_oid = -1;
  user_rec_clear(&u);
  if (deleted)
    return invalid_token(why, "User account has been deleted");
  pthread_mutex_lock(&rpc->token_cache_lock);
  if (rpc->token_gen == gen) {
    memcpy(slot->hash, h, 32);
    slot->actor = *out;
    slot->valid_until_ms =
        now + TOKEN_CACHE_TTL_MS < t.expires_ms ? now + TOKEN_CACHE_TTL_MS : t.expires_ms;
  }
  pthread_mutex_unlock(&rpc->token_cache_lock);
  return BH_OK;
}

enum bh_err rpc_token_user(struct rpc *rpc, const char *token, int64_t *uoid)
{
  struct actor a = {0};
  enum bh_err rc = rpc_resolve_token(rpc, token, &a, NULL);
  if (rc == BH_OK)
    *uoid = a.uoid;
  return rc;
}

/* ---- parameters (§3: lenient scalars) ---- */

bool rpc_json_long(json_t *v, int64_t *out)
{
  if (!v)
    return false; /* an absent field: the caller keeps its default */
  switch (json_typeof(v)) {
  case JSON_INTEGER:
    *out = json_integer_value(v);
    return true;
  case JSON_REAL: {
    /* a double outside int64's range (1e300, NaN) has no integer value: converting it is
     * undefined behaviour, so it is no number here */
    double d = json_real_value(v);
    if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0))
      return false;
    *out = (int64_t)d;
    return true;
  }
  case JSON_STRING:
    /* BIMserver: "12" -> 12, text that is no number -> 0 */
    *out = strtoll(json_string_value(v), NULL, 10);
    return true;
  case JSON_TRUE:
    *out = 1;
    return true;
  case JSON_FALSE:
    *out = 0;
    return true;
  default:
    return false;
  }
}

bool rpc_json_bool(json_t *v, bool *out)
{
  if (!v)
    return false;
  switch (json_typeof(v)) {
  case JSON_TRUE:
  case JSON_FALSE:
    *out = json_is_true(v);
    return true;
  case JSON_INTEGER:
    *out = json_integer_value(v) != 0;
    return true;
  case JSON_REAL:
    *out = json_real_value(v) != 0.0;
    return true;
  case JSON_STRING:
    *out = strcmp(json_string_value(v), "true") == 0;
    return true;
  case JSON_NULL:
    *out = false;
    return true;
  default:
    return false;
  }
}

enum bh_err rpc_param_long(struct rpc_call *c, const char *name, int64_t *out)
{
  json_t *v = json_object_get(c->params, name);
  if (!v || json_is_null(v))
    return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must not be null", name);
  if (!rpc_json_long(v, out))
    return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must be a number", name);
  return BH_OK;
}

enum bh_err rpc_param_bool(struct rpc_call *c, const char *name, bool *out)
{
  json_t *v = json_object_get(c->params, name);
  if (!v || !rpc_json_bool(v, out))
    return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must be a boolean", name);
  return BH_OK;
}

enum bh_err rpc_param_string(struct rpc_call *c, const char *name, const char **out)
{
  json_t *v = json_object_get(c->params, name);
  *out = NULL;
  if (!v || json_is_null(v))
    return BH_OK;
  if (json_is_string(v)) {
    *out = json_string_value(v);
    return BH_OK;
  }
  if (json_is_object(v) || json_is_array(v))
    return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must be a string", name);
  /* A scalar taken as text: replace it in the (owned) parameters with its text form. */
  char *text = json_dumps(v, JSON_ENCODE_ANY);
  if (!text || json_object_set_new(c->params, name, json_string(text)) != 0) {
    free(text);
    return BH_NOMEM;
  }
  free(text);
  *out = json_string_value(json_object_get(c->params, name));
  return BH_OK;
}

enum bh_err rpc_param_object(struct rpc_call *c, const char *name, json_t **out)
{
  json_t *v = json_object_get(c->params, name);
  *out = NULL;
  if (!v || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0))
    return BH_OK;
  if (!json_is_object(v))
    return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must be an object", name);
  if (!json_is_string(json_object_get(v, "__type")))
    return bh_fail(&c->why, BH_BADREQUEST, "Missing __type field in %s", name);
  *out = v;
  return BH_OK;
}

enum bh_err rpc_ok(struct rpc_call *c, json_t *value)
{
  if (!value)
    return bh_fail(&c->why, BH_NOMEM, "Server out of memory");
  c->result = value;
  return BH_OK;
}

/* ---- lookup ---- */

/* org.bimserver.X and org.buildingsmart.bimsie1.X are X. */
static const char *strip_namespace(const char *name)
{
  if (strncmp(name, "org.bimserver.", 14) == 0)
    return name + 14;
  if (strncmp(name, "org.buildingsmart.bimsie1.", 26) == 0)
    return name + 26;
  return name;
}

static const struct rpc_iface *iface_named(const char *simple)
{
  for (size_t i = 0; i < rpc_iface_count; i++)
    if (strcmp(rpc_ifaces[i]->name, simple) == 0)
      return rpc_ifaces[i];
  return NULL;
}

/* The interface a name calls: the 1.4 name Bimsie1X is X, whose methods it answers except
 * where a Bimsie1X table has the 1.3/1.4 form (find_method). */
static const struct rpc_iface *find_iface(const char *name)
{
  const char *simple = strip_namespace(name);
  return iface_named(strncmp(simple, "Bimsie1", 7) == 0 ? simple + 7 : simple);
}

static const struct rpc_method *find_method(const char *iname, const struct rpc_iface *ifc,
                                            const char *mname)
{
  const char *simple = strip_namespace(iname);
  const struct rpc_iface *old = strncmp(simple, "Bimsie1", 7) == 0 ? iface_named(simple) : NULL;
  const struct rpc_method *m = old ? rpc_find_method(old, mname) : NULL;
  return m ? m : rpc_find_method(ifc, mname);
}

const struct rpc_method *rpc_find_method(const struct rpc_iface *ifc, const char *name)
{
  for (size_t k = 0; k < rpc_iface_count; k++) {
    const struct rpc_iface *t = rpc_ifaces[k];
    if (strcmp(t->name, ifc->name) != 0)
      continue;
    for (size_t i = 0; i < t->count; i++)
      if (strcmp(t->methods[i].name, name) == 0)
        return &t->methods[i];
  }
  return NULL;
}

/* ---- exceptions ---- */

static json_t *exception_json(enum bh_err code, const struct bh_why *why)
{
  const char *type = why->exc_type;
  if (!type)
    type = (code == BH_STORE || code == BH_NOMEM || code == BH_INTERNAL || code == BH_IO)
               ? "ServerException"
               : "UserException";
  json_t *e = json_object();
  if (!e)
    return NULL;
  json_object_set_new(e, "__type", json_string(type));
  json_object_set_new(e, "message", json_string(why->text[0] ? why->text : bh_err_text(code)));
  if (why->error_code) {
    json_object_set_new(e, "errorType",
                        json_string(why->error_type ? why->error_type : "DefaultErrorCode"));
    json_object_set_new(e, "errorCode", json_integer(why->error_code));
  }
  json_t *r = json_object();
  if (!r) {
    json_decref(e);
    return NULL;
  }
  json_object_set_new(r, "exception", e);
  return r;
}

__attribute__((format(printf, 2, 3))) static json_t *fail_json(enum bh_err code, const char *fmt,
                                                               ...)
{
  struct bh_why why = {0};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why.text, sizeof why.text, fmt, ap);
  va_end(ap);
  return exception_json(code, &why);
}

json_t *rpc_run_request(struct rpc *rpc, json_t *request, const char *token,
                        const struct rpc_origin *origin, unsigned *delay_ms)
{
  if (!json_is_object(request))
    return fail_json(BH_BADREQUEST, "Request must be an object");
  const char *iname = json_string_value(json_object_get(request, "interface"));
  const char *mname = json_string_value(json_object_get(request, "method"));
  if (!iname)
    return fail_json(BH_BADREQUEST, "No service found with name null");
  const struct rpc_iface *ifc = find_iface(iname);
  if (!ifc)
    return fail_json(BH_NOTFOUND, "No service found with name %s", iname);
  const struct rpc_method *m = mname ? find_method(iname, ifc, mname) : NULL;
  if (!m) {
    const char *other = NULL;
    for (size_t i = 0; mname && !other && i < rpc_iface_count; i++)
      if (strcmp(rpc_ifaces[i]->name, ifc->name) != 0 && rpc_find_method(rpc_ifaces[i], mname))
        other = rpc_ifaces[i]->name;
    if (other)
      return fail_json(BH_NOTFOUND, "Method %s not found on %s (suggestion: %s)", mname, ifc->name,
                       other);
    return fail_json(BH_NOTFOUND, "Method %s not found on %s", mname ? mname : "null", ifc->name);
  }

  struct rpc_call c = {.rpc = rpc,
                       .m = &rpc->model,
                       .method = m,
                       .token = token,
                       .origin = origin,
                       .actor = {.uoid = -1, .type = USER_USER}};
  json_t *params = json_object_get(request, "parameters");
  size_t declared = 0;
  while (m->params[declared].name)
    declared++;
  size_t required = 0;
  for (size_t i = 0; i < declared; i++)
    required += !m->params[i].optional;
  if (!json_is_object(params)) {
    if (required > 0)
      return fail_json(BH_BADREQUEST, "Missing 'parameters' field, expected %zu parameters",
                       declared);
    params = NULL;
  }
  for (size_t i = 0; i < declared; i++)
    if (!m->params[i].optional && !json_object_get(params, m->params[i].name))
      return fail_json(BH_BADREQUEST, "Missing parameter: %s -> %s", m->name, m->params[i].name);
  c.params = params ? params : json_object();
  if (!c.params)
    return NULL;
  if (!params)
    json_object_set_new(request, "parameters", c.params); /* owned by the request now */

  enum bh_err rc = BH_OK;
  bool has_token = token != NULL && !(m->flags & RPC_IGNORES_TOKEN);
  if (has_token)
    rc = rpc_resolve_token(rpc, token, &c.actor, &c.why);
  if (rc == BH_OK && !(m->flags & RPC_NOT_SETUP_OK) &&
      model_server_state(&rpc->model) != SERVER_RUNNING)
    rc = bh_fail(&c.why, BH_STATE,
                 "Call cannot be executed because the server is in NOT_SETUP mode");
  if (rc == BH_OK)
    rc = rpc_access_check(&c, has_token);
  if (rc == BH_OK)
    rc = m->fn(&c);
  if (delay_ms)
    *delay_ms = c.delay_ms;
  if (rc != BH_OK) {
    json_decref(c.result);
    if (rc == BH_STORE || rc == BH_NOMEM || rc == BH_INTERNAL)
      BH_LOG(BH_LOG_ERROR, BH_C_RPC, "%s.%s: %s", ifc->name, m->name, c.why.text);
    return exception_json(rc, &c.why);
  }
  json_t *r = json_object();
  if (!r) {
    json_decref(c.result);
    return NULL;
  }
  /* void and null results are {} (spec §1.2) */
  json_object_set_new(r, "result", c.result ? c.result : json_object());
  return r;
}

/* ---- the envelope ---- */

static char *dump(json_t *j, size_t *len)
{
  char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  *len = s ? strlen(s) : 0;
  return s;
}

/* Whether a request names a method that may block. */
static bool is_blocking(json_t *request)
{
  const char *iname = json_string_value(json_object_get(request, "interface"));
  const char *mname = json_string_value(json_object_get(request, "method"));
  const struct rpc_iface *ifc = iname ? find_iface(iname) : NULL;
  const struct rpc_method *m = ifc && mname ? find_method(iname, ifc, mname) : NULL;
  return m && (m->flags & RPC_BLOCKING);
}

void rpc_handle_json(struct rpc *rpc, const char *body, size_t len, const struct rpc_origin *origin,
                     bool may_block, struct rpc_reply *out)
{
  memset(out, 0, sizeof *out);
  out->http_status = 200;
  json_error_t jerr;
  json_t *env = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(env)) {
    /* BIMserver answers an unparseable body with 500 and nothing else (spec §1.2). */
    json_decref(env);
    out->http_status = 500;
    return;
  }
  if (!may_block) {
    bool blocking = is_blocking(json_object_get(env, "request"));
    size_t i;
    json_t *one;
    json_array_foreach(json_object_get(env, "requests"), i, one) blocking =
        blocking || is_blocking(one);
    if (blocking) {
      json_decref(env);
      out->needs_worker = true;
      return;
    }
  }
  const char *token = json_string_value(json_object_get(env, "token"));
  if (!token && origin)
    token = origin->header_token;

  json_t *reply = json_object();
  json_t *id = json_object_get(env, "id");
  if (reply && id && !(json_is_integer(id) && json_integer_value(id) == -1))
    json_object_set(reply, "id", id);

  json_t *request = json_object_get(env, "request");
  json_t *requests = json_object_get(env, "requests");
  unsigned delay = 0;
  if (reply && request) {
    json_t *r = rpc_run_request(rpc, request, token, origin, &delay);
    json_object_set_new(reply, "response", r ? r : json_null());
  } else if (reply && json_is_array(requests)) {
    json_t *arr = json_array();
    size_t i;
    json_t *one;
    json_array_foreach(requests, i, one)
    {
      unsigned d = 0;
      json_t *r = rpc_run_request(rpc, one, token, origin, &d);
      json_array_append_new(arr, r ? r : json_null());
      if (d > delay)
        delay = d;
    }
    json_object_set_new(reply, "responses", arr);
  }
  out->body = reply ? dump(reply, &out->len) : NULL;
  out->delay_ms = delay;
  if (!out->body)
    out->http_status = 503;
  json_decref(reply);
  json_decref(env);
}

void rpc_reply_free(struct rpc_reply *r)
{
  free(r->body);
  r->body = NULL;
}
