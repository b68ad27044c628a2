/* iface_service.c: ServiceInterface, the projects and users part (spec §4.4). */
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include "common/bh_log.h"
#include "notify/deliver.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

static enum bh_err project_result(struct rpc_call *c, struct project_rec *p)
{
  json_t *j = sobj_project(c->m, p);
  project_rec_clear(p);
  return rpc_ok(c, j);
}

static enum bh_err project_list_result(struct rpc_call *c, struct project_list *l)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < l->n; i++)
    json_array_append_new(a, sobj_project(c->m, &l->v[i]));
  project_list_clear(l);
  return rpc_ok(c, a);
}

static enum bh_err user_result(struct rpc_call *c, struct user_rec *u)
{
  json_t *j = sobj_user(c->m, u);
  user_rec_clear(u);
  return rpc_ok(c, j);
}

static enum bh_err user_list_result(struct rpc_call *c, struct user_list *l)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < l->n; i++)
    json_array_append_new(a, sobj_user(c->m, &l->v[i]));
  user_list_clear(l);
  return rpc_ok(c, a);
}

/* ---- projects ---- */

static enum bh_err svc_add_project(struct rpc_call *c)
{
  const char *name, *schema;
  enum bh_err rc = rpc_param_string(c, "projectName", &name);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "schema", &schema);
  struct project_rec p;
  if (rc == BH_OK)
    rc = project_create(c->m, &c->actor, name, schema, -1, &p, &c->why);
  return rc == BH_OK ? project_result(c, &p) : rc;
}

static enum bh_err svc_add_project_as_sub_project(struct rpc_call *c)
{
  const char *name, *schema;
  int64_t parent;
  enum bh_err rc = rpc_param_string(c, "projectName", &name);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "parentPoid", &parent);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "schema", &schema);
  struct project_rec p;
  if (rc == BH_OK)
    rc = project_create(c->m, &c->actor, name, schema, parent, &p, &c->why);
  return rc == BH_OK ? project_result(c, &p) : rc;
}

static enum bh_err svc_get_all_projects(struct rpc_call *c)
{
  bool only_top, only_active;
  enum bh_err rc = rpc_param_bool(c, "onlyTopLevel", &only_top);
  if (rc == BH_OK)
    rc = rpc_param_bool(c, "onlyActive", &only_active);
  struct project_list l;
  if (rc == BH_OK)
    rc = project_list_readable(c->m, &c->actor, only_top, only_active, &l);
  return rc == BH_OK ? project_list_result(c, &l) : rc;
}

static enum bh_err svc_get_project_by_poid(struct rpc_call *c)
{
  int64_t poid;
  struct project_rec p;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_get_readable(c->m, &c->actor, poid, &p, &c->why);
  return rc == BH_OK ? project_result(c, &p) : rc;
}

/* Readable projects matching a filter on name and parent. */
static enum bh_err filtered(struct rpc_call *c, const char *name, bool top_only, int64_t parent,
                            struct project_list *out)
{
  enum bh_err rc = project_list_readable(c->m, &c->actor, top_only, true, out);
  if (rc != BH_OK)
    return rc;
  size_t k = 0;
  for (size_t i = 0; i < out->n; i++) {
    struct project_rec *p = &out->v[i];
    bool keep = (!name || strcmp(p->name, name) == 0) && (parent == -2 || p->parent == parent);
    if (keep)
      out->v[k++] = *p;
    else
      project_rec_clear(p);
  }
  out->n = k;
  return BH_OK;
}

static enum bh_err svc_get_projects_by_name(struct rpc_call *c)
{
  const char *name;
  struct project_list l;
  enum bh_err rc = rpc_param_string(c, "name", &name);
  if (rc == BH_OK)
    rc = filtered(c, name ? name : "", false, -2, &l);
  return rc == BH_OK ? project_list_result(c, &l) : rc;
}

static enum bh_err svc_get_top_level_project_by_name(struct rpc_call *c)
{
  const char *name;
  struct project_list l;
  enum bh_err rc = rpc_param_string(c, "name", &name);
  if (rc == BH_OK)
    rc = filtered(c, name ? name : "", true, -1, &l);
  if (rc != BH_OK)
    return rc;
  if (l.n == 0) {
    project_list_clear(&l);
    return BH_OK; /* null -> {} as BIMserver */
  }
  struct project_rec first = l.v[0];
  l.v[0] = (struct project_rec){0};
  project_list_clear(&l);
  return project_result(c, &first);
}

static enum bh_err svc_get_sub_projects(struct rpc_call *c)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_check_readable(c->m, &c->actor, poid, &c->why);
  if (rc != BH_OK)
    return rc;
  struct project_list l;
  rc = filtered(c, NULL, false, poid, &l);
  return rc == BH_OK ? project_list_result(c, &l) : rc;
}

static enum bh_err svc_update_project(struct rpc_call *c)
{
  json_t *o;
  enum bh_err rc = rpc_param_object(c, "sProject", &o);
  if (rc != BH_OK)
    return rc;
  if (!o)
    return bh_fail(&c->why, BH_BADREQUEST, "sProject must not be null");
  struct project_rec changes = {0};
  if (!rpc_json_long(json_object_get(o, "oid"), &changes.poid))
    return bh_fail(&c->why, BH_BADREQUEST, "sProject.oid is required");
  changes.name = (char *)json_string_value(json_object_get(o, "name"));
  changes.description = (char *)json_string_value(json_object_get(o, "description"));
  changes.export_prefix =
      (char *)json_string_value(json_object_get(o, "exportLengthMeasurePrefix"));
  json_t *send = json_object_get(o, "sendEmailOnNewRevision");
  changes.send_email_on_new_revision = send && json_is_true(send);
  return project_update(c->m, &c->actor, &changes, &c->why);
}

static enum bh_err set_deleted(struct rpc_call *c, bool deleted)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_set_deleted(c->m, &c->actor, poid, deleted, &c->why);
  return rc == BH_OK ? rpc_ok(c, json_true()) : rc;
}

static enum bh_err svc_delete_project(struct rpc_call *c)
{
  return set_deleted(c, true);
}

static enum bh_err svc_undelete_project(struct rpc_call *c)
{
  return set_deleted(c, false);
}

/* ---- users ---- */

static enum bh_err add_user(struct rpc_call *c, bool with_password)
{
  const char *username, *password = NULL, *name, *type_s;
  bool self_registration;
  enum bh_err rc = rpc_param_string(c, "username", &username);
  if (rc == BH_OK && with_password)
    rc = rpc_param_string(c, "password", &password);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "name", &name);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "type", &type_s);
  if (rc == BH_OK)
    rc = rpc_param_bool(c, "selfRegistration", &self_registration);
  if (rc != BH_OK)
    return rc;
  enum user_type type;
  if (!user_type_parse(type_s, &type))
    return bh_fail(&c->why, BH_BADREQUEST, "Invalid user type %s", type_s ? type_s : "null");
  if (c->actor.uoid < 0 && !self_registration)
    return bh_fail(&c->why, BH_AUTH, "Authentication required for this call");
  if (c->actor.is_service)
    return bh_fail(&c->why, BH_DENIED,
                   "Real authentication required (this session has token authentication)");
  if (with_password && (!password || !*password))
    return bh_fail(&c->why, BH_BADREQUEST, "Password cannot be empty");
  struct user_rec u;
  rc = user_create(c->m, &c->actor, username, password, name, type, self_registration, &u, &c->why);
  return rc == BH_OK ? user_result(c, &u) : rc;
}

static enum bh_err svc_add_user(struct rpc_call *c)
{
  return add_user(c, false);
}

static enum bh_err svc_add_user_with_password(struct rpc_call *c)
{
  return add_user(c, true);
}

static enum bh_err user_project(struct rpc_call *c, bool add)
{
  int64_t uoid, poid;
  enum bh_err rc = rpc_param_long(c, "uoid", &uoid);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = add ? project_add_user(c->m, &c->actor, uoid, poid, &c->why)
             : project_remove_user(c->m, &c->actor, uoid, poid, &c->why);
  if (rc == BH_OK && !add) {
    int64_t *soids = NULL;
    size_t n = 0;
    if (services_disable_ownerless(c->m, uoid, &soids, &n) != BH_OK)
      BH_LOG(BH_LOG_WARN, BH_C_RPC, "services of user %lld not checked after a rights change",
             (long long)uoid);
    for (size_t i = 0; i < n; i++)
      deliverer_reload_service(atomic_load(&c->rpc->deliver), soids[i]);
    free(soids);
  }
  return rc == BH_OK ? rpc_ok(c, json_true()) : rc;
}

static enum bh_err svc_add_user_to_project(struct rpc_call *c)
{
  return user_project(c, true);
}

static enum bh_err svc_remove_user_from_project(struct rpc_call *c)
{
  return user_project(c, false);
}

static enum bh_err svc_get_all_users(struct rpc_call *c)
{
  struct user_list l;
  enum bh_err rc = user_list_visible(c->m, &c->actor, &l, &c->why);
  return rc == BH_OK ? user_list_result(c, &l) : rc;
}

static enum bh_err svc_get_user_by_user_name(struct rpc_call *c)
{
  const char *username;
  struct user_rec u;
  enum bh_err rc = rpc_param_string(c, "username", &username);
  if (rc == BH_OK)
    rc = user_by_name_visible(c->m, &c->actor, username, &u, &c->why);
  return rc == BH_OK ? user_result(c, &u) : rc;
}

static enum bh_err svc_get_user_by_uoid(struct rpc_call *c)
{
  int64_t uoid;
  struct user_rec u;
  enum bh_err rc = rpc_param_long(c, "uoid", &uoid);
  if (rc == BH_OK)
    rc = user_get_visible(c->m, &c->actor, uoid, &u, &c->why);
  return rc == BH_OK ? user_result(c, &u) : rc;
}

/* Users with (authorized) or without direct rights on a readable project. */
static enum bh_err users_of_project(struct rpc_call *c, bool authorized)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_check_readable(c->m, &c->actor, poid, &c->why);
  if (rc != BH_OK)
    return rc;
  struct user_list l;
  rc = store_user_list(c->m->st, &l);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  size_t k = 0;
  for (size_t i = 0; i < l.n; i++) {
    bool has = store_right_has(c->m->st, l.v[i].uoid, poid);
    if (l.v[i].type != USER_SYSTEM && has == authorized)
      l.v[k++] = l.v[i];
    else
      user_rec_clear(&l.v[i]);
  }
  l.n = k;
  return user_list_result(c, &l);
}

static enum bh_err svc_get_all_authorized_users_of_project(struct rpc_call *c)
{
  return users_of_project(c, true);
}

static enum bh_err svc_get_all_non_authorized_users_of_project(struct rpc_call *c)
{
  return users_of_project(c, false);
}

static enum bh_err svc_get_user_settings(struct rpc_call *c)
{
  return rpc_ok(c, sobj_user_settings(c->m, c->actor.uoid));
}

/* ---- for BIMvie.ws: small projects, a user's projects and revisions ---- */

static enum bh_err small_list_result(struct rpc_call *c, struct project_list *l)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < l->n; i++)
    json_array_append_new(a, sobj_project_small(c->m, &c->actor, &l->v[i]));
  project_list_clear(l);
  return rpc_ok(c, a);
}

static enum bh_err svc_get_all_projects_small(struct rpc_call *c)
{
  struct project_list l;
  enum bh_err rc = project_tree_readable(c->m, &c->actor, -1, &l);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  return small_list_result(c, &l);
}

static enum bh_err svc_get_all_related_projects(struct rpc_call *c)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_check_readable(c->m, &c->actor, poid, &c->why);
  if (rc != BH_OK)
    return rc;
  struct project_list l;
  rc = project_tree_readable(c->m, &c->actor, poid, &l);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  return small_list_result(c, &l);
}

static enum bh_err svc_get_project_small_by_poid(struct rpc_call *c)
{
  int64_t poid;
  struct project_rec p;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_get_readable(c->m, &c->actor, poid, &p, &c->why);
  if (rc != BH_OK)
    return rc;
  json_t *j = sobj_project_small(c->m, &c->actor, &p);
  project_rec_clear(&p);
  return rpc_ok(c, j);
}

/* The uoid parameter, naming a user the caller may see. */
static enum bh_err visible_user(struct rpc_call *c, int64_t *uoid)
{
  struct user_rec u;
  enum bh_err rc = rpc_param_long(c, "uoid", uoid);
  if (rc == BH_OK)
    rc = user_get_visible(c->m, &c->actor, *uoid, &u, &c->why);
  if (rc == BH_OK)
    user_rec_clear(&u);
  return rc;
}

static enum bh_err svc_get_all_revisions_by_user(struct rpc_call *c)
{
  int64_t uoid;
  enum bh_err rc = visible_user(c, &uoid);
  if (rc != BH_OK)
    return rc;
  struct revision_list l;
  rc = revisions_of_user_readable(c->m, &c->actor, uoid, &l);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  json_t *a = json_array();
  for (size_t i = 0; a && i < l.n; i++)
    json_array_append_new(a, sobj_revision(c->m, &l.v[i]));
  revision_list_clear(&l);
  return rpc_ok(c, a);
}

/* bimhub keeps no checkouts (a download is not recorded as one): every list is empty. */
static enum bh_err svc_get_all_checkouts_by_user(struct rpc_call *c)
{
  int64_t uoid;
  enum bh_err rc = visible_user(c, &uoid);
  return rc == BH_OK ? rpc_ok(c, json_array()) : rc;
}

/* Project lists bimhub has nothing for (checkouts, checkin warnings that come from
 * checkouts, model checkers, new-style services): empty, once the project is readable. */
static enum bh_err svc_empty_of_project(struct rpc_call *c)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_check_readable(c->m, &c->actor, poid, &c->why);
  return rc == BH_OK ? rpc_ok(c, json_array()) : rc;
}

static enum bh_err svc_get_users_projects(struct rpc_call *c)
{
  int64_t uoid;
  struct project_list l;
  enum bh_err rc = visible_user(c, &uoid);
  if (rc != BH_OK)
    return rc;
  rc = project_list_of_user(c->m, &c->actor, uoid, &l);
  return rc == BH_OK ? project_list_result(c, &l) : bh_fail(&c->why, rc, "Database error");
}

static enum bh_err svc_get_all_non_authorized_projects_of_user(struct rpc_call *c)
{
  int64_t uoid;
  struct project_list l;
  enum bh_err rc = visible_user(c, &uoid);
  if (rc != BH_OK)
    return rc;
  rc = project_list_not_of_user(c->m, &c->actor, uoid, &l);
  return rc == BH_OK ? project_list_result(c, &l) : bh_fail(&c->why, rc, "Database error");
}

/* Cached sessions of uoid (its service tokens too) carry its old type: drop them, so the
 * next call of each reads the new one. */
static void forget_cached_type(struct rpc *rpc, int64_t uoid)
{
  pthread_mutex_lock(&rpc->token_cache_lock);
  rpc->token_gen++;
  for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++)
    if (rpc->token_cache[i].actor.uoid == uoid)
      rpc->token_cache[i].valid_until_ms = 0;
  pthread_mutex_unlock(&rpc->token_cache_lock);
}

static enum bh_err svc_change_user_type(struct rpc_call *c)
{
  int64_t uoid;
  const char *type_s;
  enum bh_err rc = rpc_param_long(c, "uoid", &uoid);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "userType", &type_s);
  if (rc != BH_OK)
    return rc;
  enum user_type type;
  if (!user_type_parse(type_s, &type))
    return bh_fail(&c->why, BH_BADREQUEST, "Invalid user type %s", type_s ? type_s : "null");
  rc = user_change_type(c->m, &c->actor, uoid, type, &c->why);
  if (rc == BH_OK)
    forget_cached_type(c->rpc, uoid);
  return rc;
}

static enum bh_err set_user_deleted(struct rpc_call *c, bool deleted)
{
  int64_t uoid;
  enum bh_err rc = rpc_param_long(c, "uoid", &uoid);
  if (rc == BH_OK)
    rc = user_set_deleted(c->m, &c->actor, uoid, deleted, &c->why);
  if (rc != BH_OK)
    return rc;
  if (deleted) {
    /* its sessions end now, its service tokens stop working, its services stop notifying */
    rpc_end_sessions(c->rpc, uoid, NULL, "Session ended: the user was deleted");
    forget_cached_type(c->rpc, uoid);
    int64_t *soids = NULL;
    size_t n = 0;
    if (services_disable_ownerless(c->m, uoid, &soids, &n) != BH_OK)
      BH_LOG(BH_LOG_WARN, BH_C_RPC, "services of deleted user %lld not checked", (long long)uoid);
    for (size_t i = 0; i < n; i++)
      deliverer_reload_service(atomic_load(&c->rpc->deliver), soids[i]);
    free(soids);
  }
  return rpc_ok(c, json_true());
}

static enum bh_err svc_delete_user(struct rpc_call *c)
{
  return set_user_deleted(c, true);
}

static enum bh_err svc_undelete_user(struct rpc_call *c)
{
  return set_user_deleted(c, false);
}

/* bimhub runs no internal services. */
static enum bh_err svc_get_all_local_service_descriptors(struct rpc_call *c)
{
  return rpc_ok(c, json_array());
}

static const struct rpc_method service_methods[] = {
    {"addProject", RPC_PARAMS({"projectName", "String"}, {"schema", "String"}), "SProject",
     RPC_WHO(TOP_LEVEL, NONE), 0, svc_add_project,
     "A new top-level project; the caller gets rights on it"},
    {"addProjectAsSubProject",
     RPC_PARAMS({"projectName", "String"}, {"parentPoid", "Long"}, {"schema", "String"}),
     "SProject", RPC_ON(PROJECT_WRITE, PROJECT, "parentPoid", NONE), 0,
     svc_add_project_as_sub_project, "A new sub-project"},
    {"addUser",
     RPC_PARAMS({"username", "String"}, {"name", "String"}, {"type", "SUserType"},
                {"selfRegistration", "Boolean"}, {"resetUrl", "String"}),
     "SUser", RPC_WHO(REGISTER, NONE), 0, svc_add_user,
     "A new user without a password (admins only)"},
    {"addUserToProject", RPC_PARAMS({"uoid", "Long"}, {"poid", "Long"}), "Boolean",
     RPC_ON(PROJECT_ADMIN, PROJECT, "poid", NONE), 0, svc_add_user_to_project,
     "Gives a user rights on a project"},
    {"addUserWithPassword",
     RPC_PARAMS({"username", "String"}, {"password", "String"}, {"name", "String"},
                {"type", "SUserType"}, {"selfRegistration", "Boolean"}, {"resetUrl", "String"}),
     "SUser", RPC_WHO(REGISTER, NONE), 0, svc_add_user_with_password, "A new user (admins only)"},
    {"changeUserType", RPC_PARAMS({"uoid", "Long"}, {"userType", "SUserType"}), "void",
     RPC_WHO(ADMIN, NONE), 0, svc_change_user_type,
     "Makes a user ADMIN, USER, READ_ONLY or MONITOR (never the last administrator)"},
    {"deleteProject", RPC_PARAMS({"poid", "Long"}), "Boolean",
     RPC_ON(TOP_LEVEL, PROJECT, "poid", NONE), 0, svc_delete_project,
     "Marks a project and its sub-projects deleted"},
    {"deleteUser", RPC_PARAMS({"uoid", "Long"}), "Boolean", RPC_WHO(ADMIN, NONE), 0,
     svc_delete_user,
     "Marks a user deleted: no login, sessions ended, its services disabled (never the last "
     "admin)"},
    {"getAllAuthorizedUsersOfProject", RPC_PARAMS({"poid", "Long"}), "List<SUser>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_get_all_authorized_users_of_project,
     "Users with rights on the project"},
    {"getAllCheckoutsByUser", RPC_PARAMS({"uoid", "Long"}), "List<SCheckout>", RPC_WHO(USER, NONE),
     0, svc_get_all_checkouts_by_user, "Always empty: bimhub records no checkouts"},
    {"getAllCheckoutsOfProjectAndSubProjects", RPC_PARAMS({"poid", "Long"}), "List<SCheckout>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_empty_of_project,
     "Always empty: bimhub records no checkouts"},
    {"getAllLocalServiceDescriptors", RPC_NO_PARAMS, "List<SServiceDescriptor>",
     RPC_WHO(USER, NONE), 0, svc_get_all_local_service_descriptors,
     "Always empty: bimhub runs no internal services"},
    {"getAllModelCheckersOfProject", RPC_PARAMS({"poid", "Long"}), "List<SModelCheckerInstance>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_empty_of_project,
     "Always empty: bimhub runs no model checkers"},
    {"getAllNewServicesOfProject", RPC_PARAMS({"poid", "Long"}), "List<SNewService>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_empty_of_project,
     "Always empty: bimhub has no BIMbots services"},
    {"getAllNonAuthorizedProjectsOfUser", RPC_PARAMS({"uoid", "Long"}), "List<SProject>",
     RPC_WHO(USER, NONE), 0, svc_get_all_non_authorized_projects_of_user,
     "Projects the caller may add the user to, where it has no rights yet"},
    {"getAllNonAuthorizedUsersOfProject", RPC_PARAMS({"poid", "Long"}), "List<SUser>",
     RPC_ON(PROJECT_ADMIN, PROJECT, "poid", NONE), 0, svc_get_all_non_authorized_users_of_project,
     "Users without rights on the project"},
    {"getAllProjects", RPC_PARAMS({"onlyTopLevel", "Boolean"}, {"onlyActive", "Boolean"}),
     "List<SProject>", RPC_WHO(USER, NONE), 0, svc_get_all_projects,
     "Projects the caller may read"},
    {"getAllProjectsSmall", RPC_NO_PARAMS, "List<SProjectSmall>", RPC_WHO(USER, NONE), 0,
     svc_get_all_projects_small, "Readable projects, each tree depth first by name"},
    {"getAllRelatedProjects", RPC_PARAMS({"poid", "Long"}), "List<SProjectSmall>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_get_all_related_projects,
     "The readable projects of the project's tree, from its top"},
    {"getAllRevisionsByUser", RPC_PARAMS({"uoid", "Long"}), "List<SRevision>", RPC_WHO(USER, NONE),
     0, svc_get_all_revisions_by_user,
     "Revisions the user checked in, in projects the caller may read, oldest first"},
    {"getAllUsers", RPC_NO_PARAMS, "List<SUser>", RPC_WHO(USER, NONE), 0, svc_get_all_users,
     "All users"},
    {"getCheckinWarnings", RPC_PARAMS({"poid", "Long"}), "Set<String>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_empty_of_project,
     "Always empty: the warnings come from checkouts, which bimhub does not record"},
    {"getProjectByPoid", RPC_PARAMS({"poid", "Long"}), "SProject",
     RPC_ON(PROJECT_READ, PROJECT, "poid", OWNER), 0, svc_get_project_by_poid,
     "One project the caller may read"},
    {"getProjectSmallByPoid", RPC_PARAMS({"poid", "Long"}), "SProjectSmall",
     RPC_ON(PROJECT_READ, PROJECT, "poid", OWNER), 0, svc_get_project_small_by_poid,
     "One readable project as SProjectSmall"},
    {"getProjectsByName", RPC_PARAMS({"name", "String"}), "List<SProject>", RPC_WHO(USER, NONE), 0,
     svc_get_projects_by_name, "Readable active projects of that name"},
    {"getSubProjects", RPC_PARAMS({"poid", "Long"}), "List<SProject>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_get_sub_projects,
     "Readable active sub-projects"},
    {"getTopLevelProjectByName", RPC_PARAMS({"name", "String"}), "SProject", RPC_WHO(USER, NONE), 0,
     svc_get_top_level_project_by_name, "A readable top-level project of that name, or null"},
    {"getUserByUoid", RPC_PARAMS({"uoid", "Long"}), "SUser", RPC_WHO(USER, OWNER), 0,
     svc_get_user_by_uoid, "One user"},
    {"getUserByUserName", RPC_PARAMS({"username", "String"}), "SUser", RPC_WHO(USER, NONE), 0,
     svc_get_user_by_user_name, "One user by e-mail"},
    {"getUserSettings", RPC_NO_PARAMS, "SUserSettings", RPC_WHO(USER, OWNER), 0,
     svc_get_user_settings, "The caller's plugin configuration ids"},
    {"getUsersProjects", RPC_PARAMS({"uoid", "Long"}), "List<SProject>",
     RPC_ON(OWNER, USER, "uoid", NONE), 0, svc_get_users_projects,
     "Projects the user has rights on (the user itself or an admin)"},
    {"removeUserFromProject", RPC_PARAMS({"uoid", "Long"}, {"poid", "Long"}), "Boolean",
     RPC_ON(PROJECT_ADMIN, PROJECT, "poid", NONE), 0, svc_remove_user_from_project,
     "Takes a user's rights on a project away"},
    {"undeleteProject", RPC_PARAMS({"poid", "Long"}), "Boolean",
     RPC_ON(ADMIN, PROJECT, "poid", NONE), 0, svc_undelete_project,
     "Makes a deleted project and its sub-projects active again"},
    {"undeleteUser", RPC_PARAMS({"uoid", "Long"}), "Boolean", RPC_WHO(ADMIN, NONE), 0,
     svc_undelete_user, "Makes a deleted user active again (its services stay disabled)"},
    {"updateProject", RPC_PARAMS({"sProject", "SProject"}), "void",
     RPC_ON(PROJECT_ADMIN, PROJECT, "sProject.oid", NONE), 0, svc_update_project,
     "Changes name, description, export prefix, e-mail flag"},
};

RPC_IFACE(rpc_iface_service, "ServiceInterface", service_methods);
