/* access.c: the one place where the access column of the method tables is enforced
 * (rpc_internal.h, struct rpc_access). Runs before any handler: finds the object the
 * method's target parameter names, the project it belongs to, and checks the caller's level
 * on it; for a service token also the grant the column names and its project tree. An
 * object the caller may not see is answered with the words of a missing one, so ids cannot
 * be probed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/topics.h"
#include "rpc/rpc_internal.h"

static const char *const real_auth_required =
    "Real authentication required (this session has token authentication)";

/* What a target id resolved to. */
struct target {
  int64_t id;
  int64_t poid;       /* -1: belongs to no project (a server topic, a file, a user) */
  int64_t roid;       /* the revision, -1 */
  int64_t owner_uoid; /* topics and files: who made it; users: the user; else -1 */
  int64_t owner_soid; /* topics: the service token that made it, -1 */
  bool is_topic;
};

static enum bh_err not_found(struct rpc_call *c, enum rpc_target kind, int64_t id)
{
  switch (kind) {
  case RPC_T_PROJECT:
    return bh_fail(&c->why, BH_NOTFOUND, "Project with oid %lld does not exist", (long long)id);
  case RPC_T_REVISION:
    return bh_fail(&c->why, BH_NOTFOUND, "Revision does not exist");
  case RPC_T_EXTDATA:
    return bh_fail(&c->why, BH_NOTFOUND, "No extended data with oid %lld", (long long)id);
  case RPC_T_SERVICE:
    return bh_fail(&c->why, BH_NOTFOUND, "No service with oid %lld", (long long)id);
  case RPC_T_DELIVERY:
    return bh_fail(&c->why, BH_NOTFOUND, "No delivery with id %lld", (long long)id);
  case RPC_T_TOPIC:
    /* each interface has its own words for it, as in BIMserver */
    if (strncmp(c->method->name, "register", 8) == 0 ||
        strcmp(c->method->name, "unregisterProgressHandler") == 0)
      return bh_fail(&c->why, BH_NOTFOUND, "Topic with id %lld not found", (long long)id);
    if (strcmp(c->method->name, "getDownloadData") == 0 ||
        strcmp(c->method->name, "terminateLongRunningAction") == 0 ||
        strcmp(c->method->name, "cleanupLongAction") == 0)
      return bh_fail(&c->why, BH_NOTFOUND, "No data found for topicId %lld", (long long)id);
    return bh_fail(&c->why, BH_NOTFOUND, "No topic found with topicId %lld", (long long)id);
  case RPC_T_FILE:
    return bh_fail(&c->why, BH_NOTFOUND, "No file with oid %lld", (long long)id);
  case RPC_T_USER:
    return bh_fail(&c->why, BH_NOTFOUND, "User with oid %lld not found", (long long)id);
  case RPC_T_NONE:
    break;
  }
  return bh_fail(&c->why, BH_INTERNAL, "No target");
}

/* Loads what id names. BH_NOTFOUND (why filled) when it does not exist. */
static enum bh_err resolve(struct rpc_call *c, enum rpc_target kind, int64_t id, struct target *t)
{
  struct store *st = c->m->st;
  *t = (struct target){.id = id, .poid = -1, .roid = -1, .owner_uoid = -1, .owner_soid = -1};
  enum bh_err rc = BH_OK;
  switch (kind) {
  case RPC_T_PROJECT:
    t->poid = id;
    break;
  case RPC_T_REVISION: {
    struct revision_rec r;
    rc = store_revision_get(st, id, &r);
    if (rc == BH_OK) {
      t->poid = r.poid;
      t->roid = r.roid;
      revision_rec_clear(&r);
    }
    break;
  }
  case RPC_T_EXTDATA: {
    struct ed_rec e;
    rc = store_ed_get(st, id, &e);
    if (rc == BH_OK) {
      t->poid = e.poid;
      t->roid = e.roid;
      ed_rec_clear(&e);
    }
    break;
  }
  case RPC_T_DELIVERY: {
    struct delivery_rec d;
    rc = store_delivery_get(st, id, &d);
    if (rc == BH_OK) {
      t->poid = d.poid;
      delivery_rec_clear(&d);
    }
    break;
  }
  case RPC_T_SERVICE: {
    struct service_rec s;
    rc = store_service_get(st, id, &s);
    if (rc == BH_OK) {
      t->poid = s.poid; /* a deleted service keeps its delivery log, read by the same rights */
      service_rec_clear(&s);
    }
    break;
  }
  case RPC_T_TOPIC: {
    struct topic_info ti;
    rc = topics_get(c->m->topics, id, &ti);
    if (rc == BH_OK) {
      t->poid = ti.poid;
      t->roid = ti.roid;
      t->owner_uoid = ti.owner_uoid;
      t->owner_soid = ti.owner_soid;
      t->is_topic = true;
    }
    break;
  }
  case RPC_T_FILE: {
    struct file_rec f;
    rc = store_file_get(st, id, &f);
    if (rc == BH_OK) {
      t->owner_uoid = f.uoid;
      file_rec_clear(&f);
    }
    break;
  }
  case RPC_T_USER:
    t->owner_uoid = id;
    break;
  case RPC_T_NONE:
    break;
  }
  if (rc == BH_NOTFOUND)
    return not_found(c, kind, id);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  return BH_OK;
}

/* The caller made it: the same user, and the same service for a service token. A real
 * administrator may act on anything; a service token never has its owner's admin rights. */
static bool is_owner(const struct actor *a, const struct target *t)
{
  if (a->is_service && !t->is_topic)
    return t->owner_uoid == a->uoid; /* files: its owner's own uploads */
  return actor_owns(a, t->owner_uoid, t->is_topic ? t->owner_soid : -1);
}

/* A service token stays inside the project tree of its service, whoever its owner is. */
static bool in_service_tree(struct rpc_call *c, int64_t poid)
{
  int64_t root = project_root(c->m, c->actor.grant.poid);
  return root != -1 && root == project_root(c->m, poid);
}

/* The level the column asks for, on the project t belongs to. */
static enum bh_err check_project(struct rpc_call *c, enum rpc_target kind, const struct target *t)
{
  const struct actor *a = &c->actor;
  enum rpc_who who = c->method->access.who;
  struct project_rec p;
  enum bh_err rc = store_project_get(c->m->st, t->poid, &p);
  if (rc == BH_NOTFOUND)
    return not_found(c, kind, t->id);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  bool readable = project_can_read(c->m, a, &p);
  if (readable && a->is_service)
    readable = in_service_tree(c, p.poid);
  bool writable = readable && project_can_write(c->m, a, &p);
  char name[64];
  snprintf(name, sizeof name, "%s", p.name ? p.name : "");
  project_rec_clear(&p);
  if (!readable)
    return not_found(c, kind, t->id);
  if (who == RPC_PROJECT_READ || who == RPC_OWNER)
    return BH_OK;
  if (a->type == USER_READ_ONLY)
    return bh_fail(&c->why, BH_DENIED, "Read-only users cannot change project '%s'", name);
  if (!writable)
    return bh_fail(&c->why, BH_DENIED, "User has no rights to change project '%s'", name);
  return BH_OK;
}

/* The grant a service token needs for this method, on t. */
static enum bh_err check_grant(struct rpc_call *c, const struct target *t)
{
  const struct actor *a = &c->actor;
  const struct service_grant *g = &a->grant;
  switch (c->method->access.svc) {
  case RPC_SVC_NONE:
    return bh_fail(&c->why, BH_DENIED, "%s", real_auth_required);
  case RPC_SVC_OWNER:
    return BH_OK;
  case RPC_SVC_READ_REVISION: {
    struct revision_rec r;
    if (t->roid == -1 || store_revision_get(c->m->st, t->roid, &r) != BH_OK)
      return bh_fail(&c->why, BH_DENIED, "No rights to download revision");
    bool ok = actor_may_read_revision(c->m, a, &r);
    revision_rec_clear(&r);
    return ok ? BH_OK : bh_fail(&c->why, BH_DENIED, "No rights to download revision");
  }
  case RPC_SVC_WRITE_REVISION:
    return actor_may_checkin(c->m, a, t->poid)
               ? BH_OK
               : bh_fail(&c->why, BH_DENIED, "No rights to checkin to this project (%lld, %lld)",
                         (long long)t->poid, (long long)g->write_poid);
  case RPC_SVC_READ_ED:
    return actor_may_read_ed(a, t->roid)
               ? BH_OK
               : bh_fail(&c->why, BH_DENIED, "No rights to read extended data of revision %lld",
                         (long long)t->roid);
  case RPC_SVC_WRITE_ED:
    return actor_may_write_ed(a, t->roid)
               ? BH_OK
               : bh_fail(&c->why, BH_DENIED,
                         "No rights to write extended data to revision (%lld), has rights for %lld",
                         (long long)t->roid, (long long)g->roid);
  }
  return BH_INTERNAL;
}

static enum bh_err check_one(struct rpc_call *c, int64_t id)
{
  const struct rpc_access *acc = &c->method->access;
  struct target t;
  enum bh_err rc = resolve(c, acc->target, id, &t);
  /* BIMserver ignores cleanupLongAction of a topic that is gone; one of another is refused */
  if (rc == BH_NOTFOUND && acc->target == RPC_T_TOPIC &&
      strcmp(c->method->name, "cleanupLongAction") == 0) {
    memset(&c->why, 0, sizeof c->why);
    return BH_OK;
  }
  if (rc != BH_OK)
    return rc;
  bool owner_level = acc->who == RPC_OWNER;
  /* Topics of a project are seen by its readers; a server topic only by its maker. */
  if (acc->target == RPC_T_TOPIC && acc->who == RPC_PROJECT_READ && t.poid == -1)
    owner_level = true;
  if (owner_level) {
    if (!is_owner(&c->actor, &t))
      return not_found(c, acc->target, id);
    /* its maker may end a topic even after losing the project; a token stays in its tree */
    if (c->actor.is_service && t.poid != -1 && !in_service_tree(c, t.poid))
      return not_found(c, acc->target, id);
  } else if (t.poid != -1) {
    rc = check_project(c, acc->target, &t);
    if (rc != BH_OK)
      return rc;
  }
  return c->actor.is_service ? check_grant(c, &t) : BH_OK;
}

/* The target parameter's value: "a" or "a.b" (a field of an S-object parameter). */
static json_t *target_value(struct rpc_call *c, const char *path)
{
  const char *dot = strchr(path, '.');
  if (!dot)
    return json_object_get(c->params, path);
  char head[64];
  snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
  return json_object_get(json_object_get(c->params, head), dot + 1);
}

/* A target parameter the method declares optional and the call leaves out (or null): the
 * call names no object (Bimsie1 getSuggestedDeserializerForExtension without poid). */
static bool target_left_out(struct rpc_call *c)
{
  const struct rpc_access *acc = &c->method->access;
  json_t *v = target_value(c, acc->param);
  if (v && !json_is_null(v))
    return false;
  for (const struct rpc_param *p = c->method->params; p->name; p++)
    if (strcmp(p->name, acc->param) == 0)
      return p->optional;
  return false;
}

static enum bh_err check_target(struct rpc_call *c)
{
  const struct rpc_access *acc = &c->method->access;
  json_t *v = target_value(c, acc->param);
  int64_t id;
  if (json_is_array(v)) {
    size_t i;
    json_t *one;
    json_array_foreach(v, i, one)
    {
      if (!rpc_json_long(one, &id))
        return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must be a list of numbers",
                       acc->param);
      enum bh_err rc = check_one(c, id);
      if (rc != BH_OK)
        return rc;
    }
    return BH_OK;
  }
  if (!v || json_is_null(v))
    return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must not be null", acc->param);
  if (!rpc_json_long(v, &id))
    return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must be a number", acc->param);
  return check_one(c, id);
}

enum bh_err rpc_access_check(struct rpc_call *c, bool has_token)
{
  const struct rpc_access *acc = &c->method->access;
  const struct actor *a = &c->actor;
  switch (acc->who) {
  case RPC_WHO_MISSING:
    return bh_fail(&c->why, BH_INTERNAL, "Method %s has no access rule", c->method->name);
  case RPC_ANYONE:
    return BH_OK;
  case RPC_REGISTER:
    if (has_token && !a->is_service && a->type == USER_ADMIN)
      return BH_OK;
    if (has_token && a->is_service)
      return bh_fail(&c->why, BH_DENIED, "%s", real_auth_required);
    if (model_setting_bool(c->m, "allowSelfRegistration", false))
      return BH_OK;
    return bh_fail(&c->why, BH_DENIED, "Administrator rights required for this call");
  case RPC_SETUP_ADMIN:
    if (model_server_state(c->m) != SERVER_RUNNING)
      return BH_OK;
    break;
  default:
    break;
  }
  if (!has_token)
    return bh_fail(&c->why, BH_AUTH, "Authentication required for this call");
  if (a->is_service &&
      (acc->svc == RPC_SVC_NONE || acc->who == RPC_ADMIN || acc->who == RPC_TOP_LEVEL ||
       acc->who == RPC_SETUP_ADMIN || acc->who == RPC_PROJECT_ADMIN))
    return bh_fail(&c->why, BH_DENIED, "%s", real_auth_required);
  if ((acc->who == RPC_ADMIN || acc->who == RPC_SETUP_ADMIN) && a->type != USER_ADMIN)
    return bh_fail(&c->why, BH_DENIED, "Administrator rights required for this call");
  if ((acc->who == RPC_WRITER || acc->who == RPC_TOP_LEVEL) && a->type == USER_READ_ONLY)
    return bh_fail(&c->why, BH_DENIED, "Read-only users cannot change anything");
  if (acc->who == RPC_TOP_LEVEL && a->type != USER_ADMIN &&
      !model_setting_bool(c->m, "allowUsersToCreateTopLevelProjects", false))
    return bh_fail(&c->why, BH_DENIED, "Only administrators can create new projects");
  if (acc->target == RPC_T_NONE || target_left_out(c))
    return a->is_service ? check_grant(c, &(struct target){.poid = -1, .roid = -1}) : BH_OK;
  return check_target(c);
}

bool rpc_may_see_topic(struct rpc_call *c, const struct topic_info *ti)
{
  if (ti->poid == -1)
    return actor_owns(&c->actor, ti->owner_uoid, ti->owner_soid);
  struct project_rec p;
  if (store_project_get(c->m->st, ti->poid, &p) != BH_OK)
    return false;
  bool ok = project_can_read(c->m, &c->actor, &p);
  project_rec_clear(&p);
  return ok && (!c->actor.is_service || in_service_tree(c, ti->poid));
}

const char *rpc_who_name(enum rpc_who w)
{
  static const char *const names[] = {
      [RPC_WHO_MISSING] = "missing",
      [RPC_ANYONE] = "anyone",
      [RPC_REGISTER] = "register",
      [RPC_SETUP_ADMIN] = "setup_admin",
      [RPC_USER] = "user",
      [RPC_WRITER] = "writer",
      [RPC_TOP_LEVEL] = "top_level",
      [RPC_OWNER] = "owner",
      [RPC_PROJECT_READ] = "project_read",
      [RPC_PROJECT_WRITE] = "project_write",
      [RPC_PROJECT_ADMIN] = "project_admin",
      [RPC_ADMIN] = "admin",
  };
  return (size_t)w < sizeof names / sizeof names[0] ? names[w] : "?";
}

const char *rpc_target_name(enum rpc_target t)
{
  static const char *const names[] = {"none",     "project", "revision", "extdata", "service",
                                      "delivery", "topic",   "file",     "user"};
  return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const char *rpc_svc_name(enum rpc_svc s)
{
  static const char *const names[] = {"none",           "owner",   "read_revision",
                                      "write_revision", "read_ed", "write_ed"};
  return (size_t)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* ---- the matrix as a document (bimhub serve --print-access[-json]) ---- */

static const char *const who_words[] = {
    [RPC_WHO_MISSING] = "nobody (no rule)",
    [RPC_ANYONE] = "anyone, no token needed",
    [RPC_REGISTER] = "admins; anyone while self-registration is on",
    [RPC_SETUP_ADMIN] = "anyone before setup, then admins",
    [RPC_USER] = "any user",
    [RPC_WRITER] = "any user but READ_ONLY",
    [RPC_TOP_LEVEL] = "admins; with allowUsersToCreateTopLevelProjects, writers too",
    [RPC_OWNER] = "its maker, or an admin",
    [RPC_PROJECT_READ] = "project reader",
    [RPC_PROJECT_WRITE] = "project writer",
    [RPC_PROJECT_ADMIN] = "project admin",
    [RPC_ADMIN] = "admin",
};

static const char *const svc_words[] = {
    [RPC_SVC_NONE] = "no",
    [RPC_SVC_OWNER] = "as its owner, in its project tree",
    [RPC_SVC_READ_REVISION] = "readRevision",
    [RPC_SVC_WRITE_REVISION] = "writeRevisionId = the project",
    [RPC_SVC_READ_ED] = "readExtendedDataId, on its revision",
    [RPC_SVC_WRITE_ED] = "its revision (writeExtendedDataId for extended data events)",
};

static void print_markdown(FILE *out)
{
  fputs("# Who may call what\n\n"
        "Printed by `bimhub serve --print-access` from the method tables that the dispatcher\n"
        "enforces (`src/rpc/access.c`); a test keeps this file equal to that output, and\n"
        "`tests/js/authorization.test.mjs` calls every method as every kind of caller.\n\n"
        "- **anyone**: no token needed (a token that is invalid or expired still fails the call,\n"
        "  except for `login` and `loginUserToken`).\n"
        "- **any user**: a valid login of an ADMIN, USER or READ_ONLY user.\n"
        "- **any user but READ_ONLY**: READ_ONLY users read, they never change anything.\n"
        "- **project reader**: rights on the target's project, on one of its ancestors or one of\n"
        "  its descendants; admins read everything. A target the caller may not read is answered\n"
        "  as if it did not exist.\n"
        "- **project writer**: rights on the target's project or an ancestor, and not READ_ONLY;\n"
        "  admins.\n"
        "- **project admin**: changes the project itself, its members and its services: the\n"
        "  same users as project writer, never a service token.\n"
        "- **its maker, or an admin**: a topic or a file belongs to who made it (a service token\n"
        "  owns what its own service made, not what its owner made); a user to itself.\n"
        "- **Service tokens** (given to services with each notification) act as their service's\n"
        "  owner, only inside the project tree the service is on, and only for the methods whose\n"
        "  last column is not \"no\"; where it names a grant of the SService, only with it. A\n"
        "  service token never has its owner's administrator rights.\n\n"
        "The target is the parameter that names the object checked (for a revision, extended\n"
        "data, service, delivery or topic: the project it belongs to). Where the method lets the\n"
        "target parameter out (the 1.3 form of Bimsie1 getSuggestedDeserializerForExtension),\n"
        "a call without it names no object and needs only a login.\n",
        out);
  const char *last = "";
  for (size_t i = 0; i < rpc_iface_count; i++) {
    const struct rpc_iface *ifc = rpc_ifaces[i];
    if (strcmp(ifc->name, last) != 0) {
      /* tables of one interface are listed next to each other */
      fprintf(out, "\n## %s\n\n| Method | Who | Target | Service tokens |\n|---|---|---|---|\n",
              ifc->name);
      last = ifc->name;
    }
    for (size_t k = 0; k < ifc->count; k++) {
      const struct rpc_method *m = &ifc->methods[k];
      const struct rpc_access *a = &m->access;
      char target[96] = "";
      if (a->target != RPC_T_NONE)
        snprintf(target, sizeof target, "`%s` (%s)", a->param, rpc_target_name(a->target));
      fprintf(out, "| `%s` | %s | %s | %s |\n", m->name, who_words[a->who], target,
              a->who == RPC_ANYONE ? "yes (no token needed)" : svc_words[a->svc]);
    }
  }
}

static void print_json(FILE *out)
{
  json_t *all = json_array();
  for (size_t i = 0; i < rpc_iface_count; i++) {
    const struct rpc_iface *ifc = rpc_ifaces[i];
    for (size_t k = 0; k < ifc->count; k++) {
      const struct rpc_method *m = &ifc->methods[k];
      const struct rpc_access *a = &m->access;
      json_array_append_new(
          all, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s,s:b,s:b}", "interface", ifc->name, "method",
                         m->name, "who", rpc_who_name(a->who), "target", rpc_target_name(a->target),
                         "param", a->param, "service", rpc_svc_name(a->svc), "ignoresToken",
                         (m->flags & RPC_IGNORES_TOKEN) != 0, "notSetupOk",
                         (m->flags & RPC_NOT_SETUP_OK) != 0));
    }
  }
  char *text = json_dumps(all, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
  if (text)
    fprintf(out, "%s\n", text);
  free(text);
  json_decref(all);
}

void rpc_print_access(FILE *out, bool as_json)
{
  if (as_json)
    print_json(out);
  else
    print_markdown(out);
}
