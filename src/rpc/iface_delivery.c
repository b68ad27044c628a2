/* iface_delivery.c: DeliveryInterface, bimhub's own interface over the notification
 * delivery log (BIMserver has none): list a service's deliveries and their attempts, see its
 * health, redeliver one delivery or replay everything since a time, enable or disable it,
 * choose its delivery options, and read or rotate its signing secret. The service's owner
 * and administrators may use it. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/bh_time.h"
#include "config/config.h"
#include "notify/deliver.h"
#include "notify/sign.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static const char *const state_names[] = {"PENDING", "DELIVERED", "FAILED", "CANCELLED"};

static const char *state_name(int s)
{
  return s >= 0 && s <= DELIVERY_CANCELLED ? state_names[s] : "UNKNOWN";
}

static json_t *ms_or_null(int64_t ms)
{
  return ms > 0 ? json_integer(ms) : json_null();
}

/* A service the caller owns (admins: any), deleted ones included: its log stays readable. */
static enum bh_err owned_service(struct rpc_call *c, int64_t soid, struct service_rec *s)
{
  enum bh_err rc = store_service_get(c->m->st, soid, s);
  if (rc == BH_OK && s->uoid != c->actor.uoid && c->actor.type != USER_ADMIN) {
    service_rec_clear(s);
    rc = BH_NOTFOUND;
  }
  return rc == BH_OK ? BH_OK
                     : bh_fail(&c->why, BH_NOTFOUND, "No service with oid %lld", (long long)soid);
}

static enum bh_err check_owned(struct rpc_call *c, int64_t soid, bool active)
{
  struct service_rec s;
  enum bh_err rc = owned_service(c, soid, &s);
  if (rc != BH_OK)
    return rc;
  bool deleted = s.state != STATE_ACTIVE;
  service_rec_clear(&s);
  if (active && deleted)
    return bh_fail(&c->why, BH_STATE, "Service %lld has been deleted", (long long)soid);
  return BH_OK;
}

/* The "soid" parameter, naming a service the caller owns (active: and not deleted). */
static enum bh_err param_service(struct rpc_call *c, bool active, int64_t *soid)
{
  enum bh_err rc = rpc_param_long(c, "soid", soid);
  return rc == BH_OK ? check_owned(c, *soid, active) : rc;
}

/* After a change of a service's rows or settings: the engine rereads it. */
static enum bh_err service_changed(struct rpc_call *c, int64_t soid)
{
  deliverer_reload_service(atomic_load(&c->rpc->deliver), soid);
  return BH_OK;
}

static json_t *delivery_json(struct rpc_call *c, const struct delivery_rec *d)
{
  char id[64];
  deliverer_message_id(c->m, d->id, id);
  json_t *f = json_object();
  sobj_std(f, d->id, NULL);
  json_object_set_new(f, "webhookId", json_string(id));
  json_object_set_new(f, "serviceId", json_integer(d->soid));
  json_object_set_new(f, "method", json_string(d->method));
  json_object_set_new(f, "poid", json_integer(d->poid));
  json_object_set_new(f, "roid", json_integer(d->roid));
  json_object_set_new(f, "edid", json_integer(d->edid));
  json_object_set_new(f, "state", json_string(state_name(d->state)));
  json_object_set_new(f, "attempts", json_integer(d->attempts));
  json_object_set_new(f, "created", json_integer(d->created_ms));
  json_object_set_new(f, "nextAttempt",
                      d->state == DELIVERY_PENDING ? json_integer(d->next_ms) : json_null());
  json_object_set_new(f, "lastAttempt", ms_or_null(d->last_ms));
  json_object_set_new(f, "lastStatus", json_integer(d->last_status));
  json_object_set_new(f, "lastError", sobj_text(d->last_error));
  return f;
}

static json_t *attempt_json(const struct delivery_attempt_rec *a)
{
  json_t *f = json_object();
  json_object_set_new(f, "number", json_integer(a->n));
  json_object_set_new(f, "time", json_integer(a->at_ms));
  json_object_set_new(f, "durationMs", json_integer(a->duration_ms));
  json_object_set_new(f, "httpStatus", json_integer(a->status));
  json_object_set_new(f, "ok", json_boolean(a->ok));
  json_object_set_new(f, "error", sobj_text(a->error));
  json_object_set_new(f, "response", sobj_text(a->response));
  return sobj_finish("SDeliveryAttempt", f);
}

static bool parse_state(const char *s, int *out)
{
  if (!s || !*s) {
    *out = -1;
    return true;
  }
  for (int i = 0; i <= DELIVERY_CANCELLED; i++)
    if (strcmp(s, state_names[i]) == 0) {
      *out = i;
      return true;
    }
  return false;
}

static enum bh_err dlv_list(struct rpc_call *c)
{
  int64_t soid, before = -1, limit = LIST_DEFAULT;
  const char *state_s = NULL;
  enum bh_err rc = rpc_param_long(c, "soid", &soid);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "state", &state_s);
  if (rc == BH_OK && json_object_get(c->params, "beforeId"))
    rc = rpc_param_long(c, "beforeId", &before);
  if (rc == BH_OK && json_object_get(c->params, "limit"))
    rc = rpc_param_long(c, "limit", &limit);
  if (rc != BH_OK)
    return rc;
  int state;
  if (!parse_state(state_s, &state))
    return bh_fail(&c->why, BH_BADREQUEST,
                   "state must be PENDING, DELIVERED, FAILED, CANCELLED or empty");
  if (limit < 1 || limit > LIST_MAX)
    return bh_fail(&c->why, BH_BADREQUEST, "limit must be 1 to %d", LIST_MAX);
  if ((rc = check_owned(c, soid, false)) != BH_OK)
    return rc;
  struct delivery_list l;
  if (store_delivery_list(c->m->st, soid, state, before < 0 ? -1 : before, (int)limit, &l) != BH_OK)
    return bh_fail(&c->why, BH_STORE, "Database error");
  json_t *a = json_array();
  for (size_t i = 0; a && i < l.n; i++)
    json_array_append_new(a, sobj_finish("SDelivery", delivery_json(c, &l.v[i])));
  delivery_list_clear(&l);
  return rpc_ok(c, a);
}

static enum bh_err owned_delivery(struct rpc_call *c, int64_t id, struct delivery_rec *d)
{
  if (store_delivery_get(c->m->st, id, d) != BH_OK)
    return bh_fail(&c->why, BH_NOTFOUND, "No delivery with id %lld", (long long)id);
  enum bh_err rc = check_owned(c, d->soid, false);
  if (rc != BH_OK) {
    delivery_rec_clear(d);
    return bh_fail(&c->why, BH_NOTFOUND, "No delivery with id %lld", (long long)id);
  }
  return BH_OK;
}

static enum bh_err dlv_get(struct rpc_call *c)
{
  int64_t id;
  struct delivery_rec d;
  enum bh_err rc = rpc_param_long(c, "id", &id);
  if (rc == BH_OK)
    rc = owned_delivery(c, id, &d);
  if (rc != BH_OK)
    return rc;
  struct delivery_attempt_rec *v = NULL;
  size_t n = 0;
  rc = store_delivery_attempts(c->m->st, id, &v, &n);
  json_t *f = delivery_json(c, &d);
  delivery_rec_clear(&d);
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
    json_array_append_new(a, attempt_json(&v[i]));
    delivery_attempt_rec_clear(&v[i]);
  }
  free(v);
  json_object_set_new(f, "attemptList", a);
  if (rc != BH_OK) {
    json_decref(f);
    return bh_fail(&c->why, BH_STORE, "Database error");
  }
  return rpc_ok(c, sobj_finish("SDelivery", f));
}

static enum bh_err dlv_health(struct rpc_call *c)
{
  int64_t soid;
  struct service_rec s;
  enum bh_err rc = rpc_param_long(c, "soid", &soid);
  if (rc == BH_OK)
    rc = owned_service(c, soid, &s);
  if (rc != BH_OK)
    return rc;
  struct delivery_health h;
  rc = store_delivery_health(c->m->st, soid, bh_now_ms(), &h);
  if (rc != BH_OK) {
    service_rec_clear(&s);
    return bh_fail(&c->why, BH_STORE, "Database error");
  }
  struct deliverer_service_info info;
  deliverer_service_info(atomic_load(&c->rpc->deliver), soid, &info);
  json_t *opts = json_loads(s.options, 0, NULL);
  json_t *f = json_object();
  json_object_set_new(f, "serviceId", json_integer(soid));
  json_object_set_new(f, "deleted", json_boolean(s.state != STATE_ACTIVE));
  json_object_set_new(f, "enabled", json_boolean(s.disabled_ms == 0));
  json_object_set_new(f, "disabledAt", ms_or_null(s.disabled_ms));
  json_object_set_new(f, "disabledReason", sobj_text(s.disabled_reason));
  json_object_set_new(f, "pending", json_integer(h.pending));
  json_object_set_new(f, "delivered", json_integer(h.delivered));
  json_object_set_new(f, "failed", json_integer(h.failed));
  json_object_set_new(f, "cancelled", json_integer(h.cancelled));
  json_object_set_new(f, "lastSuccess", ms_or_null(h.last_success_ms));
  json_object_set_new(f, "lastFailure", ms_or_null(h.last_failure_ms));
  json_object_set_new(f, "lastError", sobj_text(h.last_error));
  json_object_set_new(f, "attempts24h", json_integer(h.attempts_24h));
  json_object_set_new(f, "failures24h", json_integer(h.failures_24h));
  json_object_set_new(f, "consecutiveFailures", json_integer(info.consecutive_failures));
  json_object_set_new(f, "inFlight", json_integer(info.in_flight));
  json_object_set_new(f, "parallel", json_boolean(json_is_true(json_object_get(opts, "parallel"))));
  json_object_set_new(f, "bimsie1Interface",
                      json_boolean(json_is_true(json_object_get(opts, "bimsie1Interface"))));
  json_decref(opts);
  free(h.last_error);
  service_rec_clear(&s);
  return rpc_ok(c, sobj_finish("SServiceHealth", f));
}

static enum bh_err dlv_redeliver(struct rpc_call *c)
{
  int64_t id;
  struct delivery_rec d;
  enum bh_err rc = rpc_param_long(c, "id", &id);
  if (rc == BH_OK)
    rc = owned_delivery(c, id, &d);
  if (rc != BH_OK)
    return rc;
  int64_t soid = d.soid;
  int state = d.state;
  delivery_rec_clear(&d);
  if ((rc = check_owned(c, soid, true)) != BH_OK)
    return rc;
  if (state == DELIVERY_PENDING)
    return bh_fail(&c->why, BH_STATE, "Delivery %lld is pending already", (long long)id);
  if (state == DELIVERY_CANCELLED)
    return bh_fail(&c->why, BH_STATE, "Delivery %lld was cancelled", (long long)id);
  if (store_delivery_requeue(c->m->st, id, bh_now_ms()) != BH_OK)
    return bh_fail(&c->why, BH_STATE, "Delivery %lld cannot be sent again now", (long long)id);
  return service_changed(c, soid);
}

static enum bh_err dlv_replay(struct rpc_call *c)
{
  int64_t soid, since;
  enum bh_err rc = rpc_param_long(c, "since", &since);
  if (rc == BH_OK)
    rc = param_service(c, true, &soid);
  if (rc != BH_OK)
    return rc;
  int64_t n = 0;
  if (store_delivery_requeue_since(c->m->st, soid, since, bh_now_ms(), &n) != BH_OK)
    return bh_fail(&c->why, BH_STORE, "Database error");
  service_changed(c, soid);
  return rpc_ok(c, json_integer(n));
}

static enum bh_err set_enabled(struct rpc_call *c, bool enabled)
{
  int64_t soid;
  const char *reason = NULL;
  enum bh_err rc = enabled ? BH_OK : rpc_param_string(c, "reason", &reason);
  if (rc == BH_OK)
    rc = param_service(c, true, &soid);
  if (rc != BH_OK)
    return rc;
  char why[300];
  snprintf(why, sizeof why, "Disabled by user %lld%s%s", (long long)c->actor.uoid,
           reason && *reason ? ": " : "", reason ? reason : "");
  if (store_service_set_disabled(c->m->st, soid, enabled ? 0 : bh_now_ms(), enabled ? NULL : why) !=
      BH_OK)
    return bh_fail(&c->why, BH_STORE, "Database error");
  return service_changed(c, soid);
}

static enum bh_err dlv_enable(struct rpc_call *c)
{
  return set_enabled(c, true);
}

static enum bh_err dlv_disable(struct rpc_call *c)
{
  return set_enabled(c, false);
}

static enum bh_err dlv_set_options(struct rpc_call *c)
{
  int64_t soid;
  bool parallel, bimsie1;
  enum bh_err rc = rpc_param_bool(c, "parallel", &parallel);
  if (rc == BH_OK)
    rc = rpc_param_bool(c, "bimsie1Interface", &bimsie1);
  if (rc == BH_OK)
    rc = param_service(c, true, &soid);
  if (rc != BH_OK)
    return rc;
  json_t *o = json_pack("{s:b,s:b}", "bimsie1Interface", bimsie1, "parallel", parallel);
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(o);
  rc = text ? store_service_set_options(c->m->st, soid, text) : BH_NOMEM;
  free(text);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  return service_changed(c, soid);
}

static enum bh_err dlv_get_secret(struct rpc_call *c)
{
  int64_t soid;
  struct service_rec s;
  enum bh_err rc = rpc_param_long(c, "soid", &soid);
  if (rc == BH_OK)
    rc = owned_service(c, soid, &s);
  if (rc != BH_OK)
    return rc;
  json_t *j = json_string(s.secret);
  service_rec_clear(&s);
  return rpc_ok(c, j);
}

static enum bh_err dlv_rotate_secret(struct rpc_call *c)
{
  int64_t soid;
  enum bh_err rc = param_service(c, true, &soid);
  if (rc != BH_OK)
    return rc;
  char secret[SIGN_SECRET_MAX];
  if (sign_secret_new(secret) != BH_OK)
    return bh_fail(&c->why, BH_INTERNAL, "Cannot make a signing secret");
  int64_t until = bh_now_ms() + c->rpc->cfg->service_secret_overlap_s * 1000;
  if (store_service_rotate_secret(c->m->st, soid, secret, until) != BH_OK)
    return bh_fail(&c->why, BH_STORE, "Database error");
  service_changed(c, soid);
  return rpc_ok(c, json_string(secret));
}

static const struct rpc_method delivery_methods[] = {
    {"disableService", RPC_PARAMS({"soid", "Long"}, {"reason", "String", true}), "void",
     RPC_ON(PROJECT_ADMIN, SERVICE, "soid", NONE), 0, dlv_disable,
     "Stops sending to a service; its notifications wait, pending"},
    {"enableService", RPC_PARAMS({"soid", "Long"}), "void",
     RPC_ON(PROJECT_ADMIN, SERVICE, "soid", NONE), 0, dlv_enable,
     "Sends to a service again (after HTTP 410 or disableService); waiting ones go out"},
    {"getDelivery", RPC_PARAMS({"id", "Long"}), "SDelivery",
     RPC_ON(PROJECT_ADMIN, DELIVERY, "id", NONE), 0, dlv_get,
     "One delivery with every attempt (time, duration, status, error, start of the answer)"},
    {"getServiceHealth", RPC_PARAMS({"soid", "Long"}), "SServiceHealth",
     RPC_ON(PROJECT_ADMIN, SERVICE, "soid", NONE), 0, dlv_health,
     "Counts per state, last success and failure, failures in 24 h, enabled, options"},
    {"getServiceSecret", RPC_PARAMS({"soid", "Long"}), "String",
     RPC_ON(PROJECT_ADMIN, SERVICE, "soid", NONE), 0, dlv_get_secret,
     "The whsec_ secret the service verifies webhook-signature with"},
    {"listDeliveries",
     RPC_PARAMS({"soid", "Long"}, {"state", "String", true}, {"beforeId", "Long", true},
                {"limit", "Integer", true}),
     "List<SDelivery>", RPC_ON(PROJECT_ADMIN, SERVICE, "soid", NONE), 0, dlv_list,
     "A service's deliveries, newest first; state PENDING, DELIVERED, FAILED, CANCELLED or any"},
    {"redeliver", RPC_PARAMS({"id", "Long"}), "void", RPC_ON(PROJECT_ADMIN, DELIVERY, "id", NONE),
     0, dlv_redeliver, "Sends a delivered or failed delivery again, with the same webhook-id"},
    {"replay", RPC_PARAMS({"soid", "Long"}, {"since", "Date"}), "Long",
     RPC_ON(PROJECT_ADMIN, SERVICE, "soid", NONE), 0, dlv_replay,
     "Sends again every delivered or failed delivery of a service made since a time (ms)"},
    {"rotateServiceSecret", RPC_PARAMS({"soid", "Long"}), "String",
     RPC_ON(PROJECT_ADMIN, SERVICE, "soid", NONE), 0, dlv_rotate_secret,
     "A new secret; the old one also signs for service_secret_overlap_s. Returns the new one"},
    {"setDeliveryOptions",
     RPC_PARAMS({"soid", "Long"}, {"parallel", "Boolean"}, {"bimsie1Interface", "Boolean"}), "void",
     RPC_ON(PROJECT_ADMIN, SERVICE, "soid", NONE), 0, dlv_set_options,
     "parallel: deliveries may overlap, out of order; bimsie1Interface: send the 1.4 name"},
};

RPC_IFACE(rpc_iface_delivery, "DeliveryInterface", delivery_methods);
