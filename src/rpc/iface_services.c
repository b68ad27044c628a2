/* iface_services.c: ServiceInterface, the remote services part (spec §4.4 "Services", §8.1,
 * §8.2): services bound to projects, and the discovery calls that ask a service provider
 * for its descriptor and profiles. Each service gets a signing secret for its
 * notifications. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bh_time.h"
#include "config/config.h"
#include "notify/callout.h"
#include "notify/deliver.h"
#include "notify/sign.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

/* SService's fields that a client sets, with their kinds: the stored object has exactly
 * these, with BIMserver's defaults for the missing ones. */
enum kind { K_TEXT, K_BOOL, K_ID };
static const struct {
  const char *name;
  enum kind kind;
} service_fields[] = {
    {"description", K_TEXT},
    {"internalServiceId", K_ID},
    {"name", K_TEXT},
    {"notificationProtocol", K_TEXT},
    {"profileDescription", K_TEXT},
    {"profileIdentifier", K_TEXT},
    {"profileName", K_TEXT},
    {"profilePublic", K_BOOL},
    {"providerName", K_TEXT},
    {"readExtendedDataId", K_ID},
    {"readRevision", K_BOOL},
    {"serviceIdentifier", K_TEXT},
    {"serviceName", K_TEXT},
    {"token", K_TEXT},
    {"trigger", K_TEXT},
    {"url", K_TEXT},
    {"writeExtendedDataId", K_ID},
    {"writeRevisionId", K_ID},
};
#define FIELD_COUNT (sizeof service_fields / sizeof service_fields[0])

/* The known fields of the client's SService, typed leniently as the rest of the API. */
static enum bh_err normalize(struct rpc_call *c, json_t *in, json_t **out)
{
  json_t *o = json_object();
  if (!o)
    return bh_fail(&c->why, BH_NOMEM, "Out of memory");
  for (size_t i = 0; i < FIELD_COUNT; i++) {
    json_t *v = json_object_get(in, service_fields[i].name);
    json_t *n = NULL;
    int64_t id;
    bool b;
    switch (service_fields[i].kind) {
    case K_TEXT:
      n = json_is_string(v) ? json_string(json_string_value(v)) : json_null();
      break;
    case K_BOOL:
      n = json_boolean(v && rpc_json_bool(v, &b) && b);
      break;
    case K_ID:
      n = json_integer(v && rpc_json_long(v, &id) ? id : -1);
      break;
    }
    json_object_set_new(o, service_fields[i].name, n);
  }
  *out = o;
  return BH_OK;
}

static const char *text_of(json_t *o, const char *name)
{
  return json_string_value(json_object_get(o, name));
}

static enum bh_err validate(struct rpc_call *c, json_t *f)
{
  const char *name = text_of(f, "name");
  if (!name || name[strspn(name, " \t\r\n")] == '\0')
    return bh_fail(&c->why, BH_BADREQUEST, "Service name cannot be empty");
  const char *url = text_of(f, "url");
  if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
    return bh_fail(&c->why, BH_BADREQUEST, "Service url must start with http:// or https://");
  const char *trigger = text_of(f, "trigger");
  if (!trigger || (strcmp(trigger, "NEW_REVISION") != 0 && strcmp(trigger, "NEW_PROJECT") != 0 &&
                   strcmp(trigger, "NEW_EXTENDED_DATA") != 0))
    return bh_fail(&c->why, BH_BADREQUEST,
                   "Service trigger must be NEW_REVISION, NEW_PROJECT or NEW_EXTENDED_DATA");
  const char *protocol = text_of(f, "notificationProtocol");
  if (protocol && strcmp(protocol, "INTERNAL") == 0)
    return bh_fail(&c->why, BH_BADREQUEST,
                   "Internal services are not supported: bimhub calls remote services over JSON");
  if (!protocol || strcmp(protocol, "JSON") != 0)
    return bh_fail(&c->why, BH_BADREQUEST, "Service notificationProtocol must be JSON");
  return BH_OK;
}

static json_t *service_json(const struct service_rec *s)
{
  json_t *f = json_loads(s->fields, 0, NULL);
  if (!f)
    return NULL;
  sobj_std(f, s->soid, NULL);
  json_object_set_new(f, "modelCheckers", json_array());
  json_object_set_new(f, "projectId", json_integer(s->poid));
  json_object_set_new(f, "userId", json_integer(s->uoid));
  return sobj_finish("SService", f);
}

/* A project the caller may change (add and remove its services). */
static enum bh_err writable_project(struct rpc_call *c, int64_t poid)
{
  struct project_rec p;
  enum bh_err rc = project_get_readable(c->m, &c->actor, poid, &p, &c->why);
  if (rc != BH_OK)
    return rc;
  bool ok = project_can_write(c->m, &c->actor, &p);
  project_rec_clear(&p);
  return ok ? BH_OK
            : bh_fail(&c->why, BH_DENIED, "No rights to change the services of this project");
}

static enum bh_err svc_add_service_to_project(struct rpc_call *c)
{
  int64_t poid;
  json_t *in, *f = NULL;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = rpc_param_object(c, "sService", &in);
  if (rc == BH_OK && !in)
    rc = bh_fail(&c->why, BH_BADREQUEST, "sService must not be null");
  if (rc == BH_OK)
    rc = writable_project(c, poid);
  if (rc == BH_OK)
    rc = normalize(c, in, &f);
  if (rc == BH_OK)
    rc = validate(c, f);
  char secret[SIGN_SECRET_MAX];
  if (rc == BH_OK && sign_secret_new(secret) != BH_OK)
    rc = bh_fail(&c->why, BH_INTERNAL, "Cannot make a signing secret");
  struct service_rec s = {
      .poid = poid, .uoid = c->actor.uoid, .created_ms = bh_now_ms(), .secret = secret};
  if (rc == BH_OK) {
    s.fields = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
    rc = s.fields ? store_begin(c->m->st) : bh_fail(&c->why, BH_NOMEM, "Out of memory");
  }
  if (rc == BH_OK) {
    /* names are unique within a project */
    int64_t *ids = NULL;
    size_t n = 0;
    rc = store_service_ids(c->m->st, poid, &ids, &n);
    for (size_t i = 0; rc == BH_OK && i < n; i++) {
      struct service_rec other;
      if (store_service_get(c->m->st, ids[i], &other) != BH_OK)
        continue;
      json_t *of = json_loads(other.fields, 0, NULL);
      if (of && strcmp(text_of(of, "name") ? text_of(of, "name") : "", text_of(f, "name")) == 0)
        rc = bh_fail(&c->why, BH_EXISTS, "Service name must be unique within a project");
      json_decref(of);
      service_rec_clear(&other);
    }
    free(ids);
    if (rc == BH_OK)
      rc = store_next_oid(c->m->st, &s.soid);
    if (rc == BH_OK)
      rc = store_service_add(c->m->st, &s);
    if (rc == BH_OK)
      rc = store_commit(c->m->st);
    else
      store_rollback(c->m->st);
    if (rc != BH_OK && !c->why.text[0])
      bh_fail(&c->why, rc, "Database error");
  }
  free(s.fields);
  json_decref(f);
  if (rc == BH_OK)
    deliverer_reload_service(atomic_load(&c->rpc->deliver), s.soid);
  return rc == BH_OK ? rpc_ok(c, json_integer(s.soid)) : rc;
}

/* A service on a project the caller may read. */
static enum bh_err readable_service(struct rpc_call *c, int64_t soid, struct service_rec *s)
{
  enum bh_err rc = store_service_get(c->m->st, soid, s);
  if (rc == BH_OK && s->state != 0) {
    service_rec_clear(s);
    rc = BH_NOTFOUND;
  }
  if (rc == BH_OK && project_check_readable(c->m, &c->actor, s->poid, NULL) != BH_OK) {
    service_rec_clear(s);
    rc = BH_NOTFOUND;
  }
  return rc == BH_OK ? BH_OK
                     : bh_fail(&c->why, BH_NOTFOUND, "No service with oid %lld", (long long)soid);
}

static enum bh_err svc_get_service(struct rpc_call *c)
{
  int64_t soid;
  struct service_rec s;
  enum bh_err rc = rpc_param_long(c, "soid", &soid);
  if (rc == BH_OK)
    rc = readable_service(c, soid, &s);
  if (rc != BH_OK)
    return rc;
  json_t *j = service_json(&s);
  service_rec_clear(&s);
  return rpc_ok(c, j);
}

static enum bh_err svc_get_all_services_of_project(struct rpc_call *c)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_check_readable(c->m, &c->actor, poid, &c->why);
  if (rc != BH_OK)
    return rc;
  int64_t *ids = NULL;
  size_t n = 0;
  if (store_service_ids(c->m->st, poid, &ids, &n) != BH_OK)
    return bh_fail(&c->why, BH_STORE, "Database error");
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    struct service_rec s;
    if (store_service_get(c->m->st, ids[i], &s) == BH_OK) {
      json_array_append_new(a, service_json(&s));
      service_rec_clear(&s);
    }
  }
  free(ids);
  return rpc_ok(c, a);
}

/* deleteService / removeServiceFromProject: the owner, or who may change the project. */
static enum bh_err remove_service(struct rpc_call *c, int64_t soid, int64_t poid)
{
  struct service_rec s;
  enum bh_err rc = readable_service(c, soid, &s);
  if (rc != BH_OK)
    return rc;
  int64_t owner = s.uoid, on = s.poid;
  service_rec_clear(&s);
  if (poid != -1 && poid != on)
    return bh_fail(&c->why, BH_NOTFOUND, "Service %lld is not on project %lld", (long long)soid,
                   (long long)poid);
  if (owner != c->actor.uoid && (rc = writable_project(c, on)) != BH_OK)
    return rc;
  /* its pending deliveries are cancelled and its tokens revoked with it */
  if (store_service_set_state(c->m->st, soid, 1) != BH_OK)
    return bh_fail(&c->why, BH_STORE, "Database error");
  rpc_forget_service_tokens(c->rpc, soid);
  deliverer_reload_service(atomic_load(&c->rpc->deliver), soid);
  return BH_OK;
}

/* triggerNewRevision / triggerNewExtendedData: one more notification to one service. */
static enum bh_err trigger(struct rpc_call *c, int64_t soid, int64_t roid, int64_t edid)
{
  struct service_rec s;
  enum bh_err rc = readable_service(c, soid, &s);
  if (rc != BH_OK)
    return rc;
  int64_t on = s.poid;
  json_t *f = json_loads(s.fields, 0, NULL);
  const char *want = edid == -1 ? "NEW_REVISION" : "NEW_EXTENDED_DATA";
  bool matches = f && text_of(f, "trigger") && strcmp(text_of(f, "trigger"), want) == 0;
  json_decref(f);
  service_rec_clear(&s);
  if (!matches)
    return bh_fail(&c->why, BH_BADREQUEST, "Service %lld is not triggered by %s", (long long)soid,
                   want);
  int added = 0;
  rc = edid == -1 ? outbox_trigger_revision(c->m, soid, on, roid, &added)
                  : outbox_trigger_extended_data(c->m, soid, on, roid, edid, &added);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  deliverer_kick_project(atomic_load(&c->rpc->deliver), on);
  return BH_OK;
}

static enum bh_err svc_trigger_new_revision(struct rpc_call *c)
{
  int64_t roid, soid;
  struct revision_rec r;
  enum bh_err rc = rpc_param_long(c, "roid", &roid);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "soid", &soid);
  if (rc == BH_OK)
    rc = revision_get_readable(c->m, &c->actor, roid, &r, &c->why);
  if (rc != BH_OK)
    return rc;
  int64_t rev_poid = r.poid;
  revision_rec_clear(&r);
  struct service_rec s;
  rc = readable_service(c, soid, &s);
  if (rc != BH_OK)
    return rc;
  int64_t svc_poid = s.poid;
  service_rec_clear(&s);
  if (svc_poid != rev_poid)
    rc = bh_fail(&c->why, BH_BADREQUEST, "Revision %lld is not on the project of service %lld",
                 (long long)roid, (long long)soid);
  return rc == BH_OK ? trigger(c, soid, roid, -1) : rc;
}

static enum bh_err svc_trigger_new_extended_data(struct rpc_call *c)
{
  int64_t edid, soid;
  enum bh_err rc = rpc_param_long(c, "edid", &edid);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "soid", &soid);
  if (rc != BH_OK)
    return rc;
  struct ed_rec e;
  if (store_ed_get(c->m->st, edid, &e) != BH_OK)
    return bh_fail(&c->why, BH_NOTFOUND, "No extended data with oid %lld", (long long)edid);
  int64_t poid = e.poid, roid = e.roid;
  ed_rec_clear(&e);
  if (project_check_readable(c->m, &c->actor, poid, NULL) != BH_OK)
    return bh_fail(&c->why, BH_NOTFOUND, "No extended data with oid %lld", (long long)edid);
  struct service_rec s;
  rc = readable_service(c, soid, &s);
  if (rc != BH_OK)
    return rc;
  bool same = s.poid == poid;
  service_rec_clear(&s);
  if (!same)
    return bh_fail(&c->why, BH_BADREQUEST,
                   "Extended data %lld is not on the project of service %lld", (long long)edid,
                   (long long)soid);
  return trigger(c, soid, roid, edid);
}

static enum bh_err svc_delete_service(struct rpc_call *c)
{
  int64_t soid;
  enum bh_err rc = rpc_param_long(c, "oid", &soid);
  return rc == BH_OK ? remove_service(c, soid, -1) : rc;
}

static enum bh_err svc_remove_service_from_project(struct rpc_call *c)
{
  int64_t poid, soid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "serviceOid", &soid);
  return rc == BH_OK ? remove_service(c, soid, poid) : rc;
}

/* ---- discovery: calls to the provider ---- */

/* A failed call to a provider is the caller's to fix (a wrong URL, a service down): a
 * UserException with the callout's words. */
static enum bh_err provider_failed(struct rpc_call *c)
{
  char msg[sizeof c->why.text];
  memcpy(msg, c->why.text, sizeof msg);
  return bh_fail(&c->why, BH_BADREQUEST, "%s", msg);
}

static bool has_type(json_t *o)
{
  return json_is_object(o) && json_is_string(json_object_get(o, "__type"));
}

static enum bh_err svc_get_service_descriptor(struct rpc_call *c)
{
  const char *base, *ident;
  enum bh_err rc = rpc_param_string(c, "baseUrl", &base);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "serviceIdentifier", &ident);
  if (rc != BH_OK)
    return rc;
  json_t *res = NULL;
  rc = callout_call(c->rpc->cfg, base, "RemoteServiceInterface", "getService",
                    json_pack("{s:s?}", "serviceIdentifier", ident), &res, &c->why);
  if (rc != BH_OK)
    return provider_failed(c);
  if (!res)
    return bh_fail(&c->why, BH_NOTFOUND, "No service found with identifier %s",
                   ident ? ident : "null");
  if (!has_type(res)) {
    json_decref(res);
    return bh_fail(&c->why, BH_BADREQUEST, "The service's descriptor has no __type");
  }
  json_object_set_new(res, "url", json_string(base)); /* as BIMserver: the base URL */
  json_object_del(res, "__type");
  return rpc_ok(c, sobj_finish("SServiceDescriptor", res));
}

static enum bh_err profiles(struct rpc_call *c, bool public_ones)
{
  const char *url, *ident;
  enum bh_err rc = rpc_param_string(c, "notificationsUrl", &url);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "serviceIdentifier", &ident);
  if (rc != BH_OK)
    return rc;
  if (!public_ones)
    return rpc_ok(c, json_array()); /* private profiles need the user's code at the provider,
                                       which bimhub does not keep: none (BIMserver: null) */
  json_t *res = NULL;
  rc = callout_call(c->rpc->cfg, url, "RemoteServiceInterface", "getPublicProfiles",
                    json_pack("{s:s?}", "serviceIdentifier", ident), &res, &c->why);
  if (rc != BH_OK)
    return provider_failed(c);
  if (!res)
    return rpc_ok(c, json_array());
  size_t i;
  json_t *v;
  bool ok = json_is_array(res);
  json_array_foreach(res, i, v) ok = ok && has_type(v);
  if (!ok) {
    json_decref(res);
    return bh_fail(&c->why, BH_BADREQUEST,
                   "The service's profiles are not a list of objects with __type");
  }
  return rpc_ok(c, res);
}

static enum bh_err svc_get_all_public_profiles(struct rpc_call *c)
{
  return profiles(c, true);
}

static enum bh_err svc_get_all_private_profiles(struct rpc_call *c)
{
  return profiles(c, false);
}

/* One repository entry (BIMserver's services.json format) as an SServiceDescriptor. */
static json_t *repository_descriptor(json_t *e)
{
  static const char *const texts[] = {"name",        "identifier",    "description",
                                      "trigger",     "url",           "companyUrl",
                                      "tokenUrl",    "newProfileUrl", "providerName",
                                      "registerUrl", "authorizeUrl",  "notificationProtocol"};
  if (!json_is_object(e))
    return NULL;
  json_t *f = json_object();
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    json_t *v = json_object_get(e, texts[i]);
    json_object_set_new(f, texts[i], json_is_string(v) ? json_incref(v) : json_null());
  }
  json_t *rights = json_object_get(e, "rights");
  json_t *rer = json_object_get(rights, "readExtendedData");
  json_t *wer = json_object_get(rights, "writeExtendedData");
  json_object_set_new(f, "readRevision",
                      json_boolean(json_is_true(json_object_get(rights, "readRevision"))));
  json_object_set_new(f, "writeRevision",
                      json_boolean(json_is_true(json_object_get(rights, "writeRevision"))));
  json_object_set_new(f, "readExtendedData", json_is_string(rer) ? json_incref(rer) : json_null());
  json_object_set_new(f, "writeExtendedData", json_is_string(wer) ? json_incref(wer) : json_null());
  json_object_set_new(f, "token", json_null());
  return sobj_finish("SServiceDescriptor", f);
}

static int by_provider(const void *a, const void *b)
{
  const char *x = json_string_value(json_object_get(*(json_t *const *)a, "providerName"));
  const char *y = json_string_value(json_object_get(*(json_t *const *)b, "providerName"));
  return strcmp(x ? x : "", y ? y : "");
}

/* getAllServiceDescriptors: the services listed at <serviceRepositoryUrl>/services.json,
 * by provider, as BIMserver reads them; none configured: an empty list. */
static enum bh_err svc_get_all_service_descriptors(struct rpc_call *c)
{
  char *base = model_setting_text(c->m, "serviceRepositoryUrl");
  if (!base || !*base) {
    free(base);
    return rpc_ok(c, json_array());
  }
  char url[2048];
  size_t bl = strlen(base);
  while (bl > 0 && base[bl - 1] == '/')
    bl--;
  snprintf(url, sizeof url, "%.*s/services.json", (int)bl, base);
  free(base);
  json_t *root = NULL;
  if (callout_get_json(c->rpc->cfg, url, &root, &c->why) != BH_OK)
    return provider_failed(c);
  json_t *list = json_object_get(root, "services");
  if (!json_is_array(list)) {
    json_decref(root);
    return bh_fail(&c->why, BH_BADREQUEST, "%s has no \"services\" list", url);
  }
  size_t n = json_array_size(list);
  json_t **v = calloc(n ? n : 1, sizeof *v);
  size_t k = 0;
  for (size_t i = 0; v && i < n; i++) {
    json_t *d = repository_descriptor(json_array_get(list, i));
    if (d)
      v[k++] = d;
  }
  json_decref(root);
  if (!v)
    return bh_fail(&c->why, BH_NOMEM, "Out of memory");
  qsort(v, k, sizeof *v, by_provider);
  json_t *a = json_array();
  for (size_t i = 0; i < k; i++)
    json_array_append_new(a, v[i]);
  free(v);
  return rpc_ok(c, a);
}

static const struct rpc_method services_methods[] = {
    {"addServiceToProject", RPC_PARAMS({"poid", "Long"}, {"sService", "SService"}), "Long",
     RPC_ON(PROJECT_ADMIN, PROJECT, "poid", NONE), 0, svc_add_service_to_project,
     "Binds a remote service to a project; does not contact it"},
    {"deleteService", RPC_PARAMS({"oid", "Long"}), "void",
     RPC_ON(PROJECT_ADMIN, SERVICE, "oid", NONE), 0, svc_delete_service, "Removes a service"},
    {"getAllPrivateProfiles",
     RPC_PARAMS({"notificationsUrl", "String"}, {"serviceIdentifier", "String"}),
     "List<SProfileDescriptor>", RPC_WHO(WRITER, NONE), 0, svc_get_all_private_profiles,
     "Private profiles at a provider: none without a provider code"},
    {"getAllPublicProfiles",
     RPC_PARAMS({"notificationsUrl", "String"}, {"serviceIdentifier", "String"}),
     "List<SProfileDescriptor>", RPC_WHO(WRITER, NONE), RPC_BLOCKING, svc_get_all_public_profiles,
     "Asks a provider for its public profiles"},
    {"getAllServiceDescriptors", RPC_NO_PARAMS, "List<SServiceDescriptor>", RPC_WHO(WRITER, NONE),
     RPC_BLOCKING, svc_get_all_service_descriptors, "Services of the service repository"},
    {"getAllServicesOfProject", RPC_PARAMS({"poid", "Long"}), "List<SService>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_get_all_services_of_project,
     "Services bound to a project"},
    {"getService", RPC_PARAMS({"soid", "Long"}), "SService",
     RPC_ON(PROJECT_READ, SERVICE, "soid", OWNER), 0, svc_get_service, "One service"},
    {"getServiceDescriptor", RPC_PARAMS({"baseUrl", "String"}, {"serviceIdentifier", "String"}),
     "SServiceDescriptor", RPC_WHO(WRITER, NONE), RPC_BLOCKING, svc_get_service_descriptor,
     "Asks a provider (<baseUrl>/json) for a service's descriptor"},
    {"removeServiceFromProject", RPC_PARAMS({"poid", "Long"}, {"serviceOid", "Long"}), "void",
     RPC_ON(PROJECT_ADMIN, SERVICE, "serviceOid", NONE), 0, svc_remove_service_from_project,
     "Removes a service from its project"},
    {"triggerNewExtendedData", RPC_PARAMS({"edid", "Long"}, {"soid", "Long"}), "void",
     RPC_ON(PROJECT_WRITE, SERVICE, "soid", NONE), 0, svc_trigger_new_extended_data,
     "Sends newExtendedDataOn* about that extended data to that NEW_EXTENDED_DATA service again"},
    {"triggerNewRevision", RPC_PARAMS({"roid", "Long"}, {"soid", "Long"}), "void",
     RPC_ON(PROJECT_WRITE, SERVICE, "soid", NONE), 0, svc_trigger_new_revision,
     "Sends newRevision about that revision to that NEW_REVISION service again"},
};

RPC_IFACE(rpc_iface_service_services, "ServiceInterface", services_methods);
