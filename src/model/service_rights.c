/* service_rights.c: what a token handed to a remote service may do (spec §8.5). A service
 * token acts as the service's owner for what the owner may read (projects, revisions'
 * metadata), but model data and extended data only as the SService grants, and only around
 * the event it was issued for. */
#include <jansson.h>
#include <stdlib.h>

#include "auth/token.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "model/model.h"

static bool json_flag(json_t *o, const char *name)
{
  json_t *v = json_object_get(o, name);
  return json_is_true(v) || (json_is_string(v) && json_string_value(v)[0] == 't');
}

static int64_t json_id(json_t *o, const char *name)
{
  json_t *v = json_object_get(o, name);
  if (json_is_integer(v))
    return json_integer_value(v);
  if (json_is_string(v))
    return strtoll(json_string_value(v), NULL, 10);
  return -1;
}

enum bh_err service_grant_load(struct model *m, int64_t soid, int64_t roid, int scope,
                               struct service_grant *g)
{
  struct service_rec s;
  enum bh_err rc = store_service_get(m->st, soid, &s);
  if (rc != BH_OK)
    return rc;
  if (s.state != STATE_ACTIVE) {
    service_rec_clear(&s);
    return BH_NOTFOUND;
  }
  json_t *f = json_loads(s.fields, 0, NULL);
  *g = (struct service_grant){.poid = s.poid,
                              .roid = roid,
                              .scope = scope,
                              .read_revision = json_flag(f, "readRevision"),
                              .write_poid = json_id(f, "writeRevisionId"),
                              .read_ed = json_id(f, "readExtendedDataId") != -1,
                              .write_ed = json_id(f, "writeExtendedDataId") != -1};
  json_decref(f);
  service_rec_clear(&s);
  return BH_OK;
}

int64_t project_root(struct model *m, int64_t poid)
{
  for (int depth = 0; depth < 1000; depth++) {
    struct project_rec p;
    if (store_project_get(m->st, poid, &p) != BH_OK)
      return -1;
    int64_t parent = p.parent;
    project_rec_clear(&p);
    if (parent == -1)
      return poid;
    poid = parent;
  }
  return -1;
}

bool actor_may_read_revision(struct model *m, const struct actor *who, const struct revision_rec *r)
{
  if (!who->is_service)
    return true;
  const struct service_grant *g = &who->grant;
  if (!g->read_revision)
    return false;
  if (g->scope == SCOPE_EXTENDED_DATA)
    return r->roid == g->roid;
  int64_t root = project_root(m, g->poid);
  return root != -1 && root == project_root(m, r->poid);
}

bool actor_may_checkin(struct model *m, const struct actor *who, int64_t poid)
{
  if (!who->is_service)
    return true;
  /* writeRevisionId is whatever the service's maker typed: the token stays in its tree */
  int64_t root = project_root(m, who->grant.poid);
  return who->grant.write_poid != -1 && who->grant.write_poid == poid && root != -1 &&
         root == project_root(m, poid);
}

bool actor_owns(const struct actor *who, int64_t owner_uoid, int64_t owner_soid)
{
  if (who->is_service)
    return owner_soid == who->service_oid && owner_uoid == who->uoid;
  return who->type == USER_ADMIN || (owner_uoid == who->uoid && owner_soid == -1);
}

bool actor_may_write_ed(const struct actor *who, int64_t roid)
{
  if (!who->is_service)
    return true;
  const struct service_grant *g = &who->grant;
  if (roid == -1 || roid != g->roid)
    return false;
  return g->scope == SCOPE_REVISION || (g->scope == SCOPE_EXTENDED_DATA && g->write_ed);
}

bool actor_may_read_ed(const struct actor *who, int64_t roid)
{
  return !who->is_service || (who->grant.read_ed && roid != -1 && roid == who->grant.roid);
}

void service_token_issue(struct model *m, int64_t uoid, int64_t soid, int64_t roid, int scope,
                         char out[SERVICE_TOKEN_TEXT_LEN + 1])
{
  struct service_token t = {.scope = scope,
                            .uoid = uoid,
                            .soid = soid,
                            .roid = roid,
                            .expires_s = bh_now_ms() / 1000 + m->cfg->service_token_lifetime_s};
  service_token_make(m->service_key, &t, out);
}
