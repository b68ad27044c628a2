/* projects.c: projects and sub-projects, and the rights rules: a user reads a project when
 * they have rights on it, on one of its ancestors or on one of its descendants (so the
 * path to their sub-project is visible); they change it with rights on it or an ancestor. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/bh_time.h"
#include "config/config.h"
#include "model/events.h"
#include "model/model.h"

#define MAX_DEPTH 64 /* project trees deeper than this are refused */

bool project_schema_normalize(const char *schema, char out[16])
{
  if (!schema)
    return false;
  size_t n = strlen(schema);
  if (n == 0 || n >= 16)
    return false;
  for (size_t i = 0; i <= n; i++)
    out[i] = (char)tolower((unsigned char)schema[i]);
  return strcmp(out, "ifc2x3tc1") == 0 || strcmp(out, "ifc4") == 0 || strcmp(out, "ifc4x3") == 0;
}

static bool contains(const int64_t *ids, size_t n, int64_t id)
{
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id)
      return true;
  return false;
}

/* True when poid or one of its ancestors is in ids. */
static bool self_or_ancestor_in(struct model *m, int64_t poid, const int64_t *ids, size_t n)
{
  for (int depth = 0; poid != -1 && depth < MAX_DEPTH; depth++) {
    if (contains(ids, n, poid))
      return true;
    struct project_rec p;
    if (store_project_get(m->st, poid, &p) != BH_OK)
      return false;
    poid = p.parent;
    project_rec_clear(&p);
  }
  return false;
}

bool project_can_read(struct model *m, const struct actor *who, const struct project_rec *p)
{
  if (who->type == USER_ADMIN || who->type == USER_SYSTEM)
    return true;
  if (who->uoid < 0 || p->state == STATE_DELETED)
    return false;
  int64_t *ids = NULL;
  size_t n = 0;
  if (store_rights_of_user(m->st, who->uoid, &ids, &n) != BH_OK)
    return false;
  bool ok = self_or_ancestor_in(m, p->poid, ids, n);
  for (size_t i = 0; !ok && i < n; i++) {
    /* p is an ancestor of a project the user has rights on */
    int64_t one[1] = {p->poid};
    ok = self_or_ancestor_in(m, ids[i], one, 1);
  }
  free(ids);
  return ok;
}

bool project_can_write(struct model *m, const struct actor *who, const struct project_rec *p)
{
  if (who->type == USER_ADMIN || who->type == USER_SYSTEM)
    return true;
  if (who->uoid < 0 || who->type == USER_READ_ONLY || p->state == STATE_DELETED)
    return false;
  int64_t *ids = NULL;
  size_t n = 0;
  if (store_rights_of_user(m->st, who->uoid, &ids, &n) != BH_OK)
    return false;
  bool ok = self_or_ancestor_in(m, p->poid, ids, n);
  free(ids);
  return ok;
}

enum bh_err project_get_readable(struct model *m, const struct actor *who, int64_t poid,
                                 struct project_rec *out, struct bh_why *why)
{
  enum bh_err rc = store_project_get(m->st, poid, out);
  if (rc == BH_NOTFOUND)
    return bh_fail(why, rc, "Project with oid %lld does not exist", (long long)poid);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  if (!project_can_read(m, who, out)) {
    project_rec_clear(out);
    /* Same words as a missing project: do not tell others what exists. */
    return bh_fail(why, BH_NOTFOUND, "Project with oid %lld does not exist", (long long)poid);
  }
  return BH_OK;
}

static char *trim_dup(const char *s)
{
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  return strndup(s, n);
}

/* An active project of that name under parent, other than except_poid. */
static bool name_taken(struct model *m, int64_t parent, const char *name, int64_t except_poid)
{
  struct project_rec other;
  if (store_project_by_name(m->st, parent, name, &other) != BH_OK)
    return false;
  bool taken = other.state == STATE_ACTIVE && other.poid != except_poid;
  project_rec_clear(&other);
  return taken;
}

enum bh_err project_create(struct model *m, const struct actor *who, const char *name,
                           const char *schema, int64_t parent_poid, struct project_rec *out,
                           struct bh_why *why)
{
  memset(out, 0, sizeof *out);
  char sch[16];
  if (!project_schema_normalize(schema, sch))
    return bh_fail(why, BH_BADREQUEST,
                   "Invalid schema, only IFC schemas (ifc2x3tc1, ifc4, ifc4x3) allowed, not \"%s\"",
                   schema ? schema : "");
  if (who->type == USER_READ_ONLY)
    return bh_fail(why, BH_DENIED, "Read-only users cannot create projects");
  char *pname = trim_dup(name ? name : "");
  if (!pname)
    return BH_NOMEM;
  enum bh_err rc = BH_OK;
  if (*pname == '\0') {
    rc = bh_fail(why, BH_BADREQUEST, "Invalid project name");
    goto out;
  }
  if (parent_poid == -1) {
    if (who->type != USER_ADMIN &&
        !model_setting_bool(m, "allowUsersToCreateTopLevelProjects", false)) {
      rc = bh_fail(why, BH_DENIED, "Only administrators can create new projects");
      goto out;
    }
  }
  rc = store_begin(m->st);
  if (rc != BH_OK) {
    rc = bh_fail(why, rc, "Database error");
    goto out;
  }
  if (parent_poid != -1) {
    struct project_rec parent;
    rc = store_project_get(m->st, parent_poid, &parent);
    if (rc != BH_OK || !project_can_read(m, who, &parent)) {
      if (rc == BH_OK)
        project_rec_clear(&parent);
      store_rollback(m->st);
      rc =
          bh_fail(why, BH_NOTFOUND, "Project with oid %lld does not exist", (long long)parent_poid);
      goto out;
    }
    bool can = project_can_write(m, who, &parent);
    project_rec_clear(&parent);
    if (!can) {
      store_rollback(m->st);
      rc = bh_fail(why, BH_DENIED, "No rights to add a sub project to this project");
      goto out;
    }
  }
  if (name_taken(m, parent_poid, pname, -1)) {
    store_rollback(m->st);
    rc = bh_fail(why, BH_EXISTS,
                 parent_poid == -1 ? "Project name must be unique"
                                   : "Project name must be unique within parent project");
    goto out;
  }
  struct project_rec p = {.name = pname,
                          .schema = sch,
                          .export_prefix = "meter",
                          .parent = parent_poid,
                          .state = STATE_ACTIVE,
                          .created_ms = bh_now_ms(),
                          .created_by = who->uoid};
  rc = store_next_oid(m->st, &p.poid);
  if (rc == BH_OK)
    rc = store_project_add(m->st, &p);
  if (rc == BH_OK && who->uoid >= 0)
    rc = store_right_add(m->st, who->uoid, p.poid);
  if (rc == BH_OK)
    rc = outbox_new_project(m, parent_poid, p.poid);
  if (rc != BH_OK) {
    store_rollback(m->st);
    rc = bh_fail(why, rc, "Database error");
    goto out;
  }
  rc = store_commit(m->st);
  if (rc != BH_OK) {
    rc = bh_fail(why, rc, "Database error");
    goto out;
  }
  rc = store_project_get(m->st, p.poid, out);
  if (rc == BH_OK) {
    struct event e = {.type = EV_NEW_PROJECT,
                      .poid = p.poid,
                      .uoid = who->uoid,
                      .actor_uoid = who->uoid,
                      .roid = -1,
                      .edid = -1,
                      .topic_id = -1,
                      .service_oid = -1};
    events_publish(m->ev, &e);
  }
out:
  free(pname);
  return rc;
}

enum bh_err project_list_readable(struct model *m, const struct actor *who, bool only_top,
                                  bool only_active, struct project_list *out)
{
  enum bh_err rc = store_project_list(m->st, out);
  if (rc != BH_OK)
    return rc;
  size_t k = 0;
  for (size_t i = 0; i < out->n; i++) {
    struct project_rec *p = &out->v[i];
    bool keep = (!only_top || p->parent == -1) && (!only_active || p->state == STATE_ACTIVE) &&
                project_can_read(m, who, p);
    if (keep)
      out->v[k++] = *p;
    else
      project_rec_clear(p);
  }
  out->n = k;
  return BH_OK;
}

enum bh_err project_update(struct model *m, const struct actor *who,
                           const struct project_rec *changes, struct bh_why *why)
{
  struct project_rec p;
  enum bh_err rc = project_get_readable(m, who, changes->poid, &p, why);
  if (rc != BH_OK)
    return rc;
  if (!project_can_write(m, who, &p)) {
    project_rec_clear(&p);
    return bh_fail(why, BH_DENIED, "User has no rights to update project properties");
  }
  if (changes->name) {
    char *name = trim_dup(changes->name);
    if (!name || !*name) {
      free(name);
      project_rec_clear(&p);
      return bh_fail(why, BH_BADREQUEST, "Invalid project name");
    }
    if (strcmp(name, p.name) != 0 && name_taken(m, p.parent, name, p.poid)) {
      free(name);
      project_rec_clear(&p);
      return bh_fail(why, BH_EXISTS, "Project name must be unique");
    }
    free(p.name);
    p.name = name;
  }
  if (changes->description) {
    char *d = strdup(changes->description);
    if (!d) {
      project_rec_clear(&p);
      return BH_NOMEM;
    }
    free(p.description);
    p.description = d;
  }
  if (changes->export_prefix) {
    char *e = strdup(changes->export_prefix);
    if (!e) {
      project_rec_clear(&p);
      return BH_NOMEM;
    }
    free(p.export_prefix);
    p.export_prefix = e;
  }
  p.send_email_on_new_revision = changes->send_email_on_new_revision;
  rc = store_project_update(m->st, &p);
  project_rec_clear(&p);
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "Database error");
}

static enum bh_err set_state_tree(struct model *m, int64_t poid, int state, int depth)
{
  if (depth > MAX_DEPTH)
    return BH_TOOBIG;
  struct project_rec p;
  enum bh_err rc = store_project_get(m->st, poid, &p);
  if (rc != BH_OK)
    return rc;
  p.state = state;
  rc = store_project_update(m->st, &p);
  project_rec_clear(&p);
  struct project_list kids;
  if (rc == BH_OK)
    rc = store_project_children(m->st, poid, &kids);
  if (rc != BH_OK)
    return rc;
  for (size_t i = 0; rc == BH_OK && i < kids.n; i++)
    rc = set_state_tree(m, kids.v[i].poid, state, depth + 1);
  project_list_clear(&kids);
  return rc;
}

enum bh_err project_set_deleted(struct model *m, const struct actor *who, int64_t poid,
                                bool deleted, struct bh_why *why)
{
  struct project_rec p;
  enum bh_err rc = store_project_get(m->st, poid, &p);
  if (rc == BH_NOTFOUND)
    return bh_fail(why, rc, "Project with oid %lld does not exist", (long long)poid);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  bool allowed = who->type == USER_ADMIN;
  if (!allowed && model_setting_bool(m, "allowUsersToCreateTopLevelProjects", false)) {
    /* a deleted project cannot be written; check the rights as if it were active */
    int state = p.state;
    p.state = STATE_ACTIVE;
    allowed = project_can_write(m, who, &p);
    p.state = state;
  }
  bool visible = project_can_read(m, who, &p) || (p.state == STATE_DELETED && allowed);
  project_rec_clear(&p);
  if (!visible)
    return bh_fail(why, BH_NOTFOUND, "Project with oid %lld does not exist", (long long)poid);
  if (!allowed)
    return bh_fail(why, BH_DENIED, "No rights to delete this project");
  rc = store_begin(m->st);
  if (rc == BH_OK) {
    rc = set_state_tree(m, poid, deleted ? STATE_DELETED : STATE_ACTIVE, 0);
    if (rc == BH_OK)
      rc = store_commit(m->st);
    else
      store_rollback(m->st);
  }
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "Database error");
}

static enum bh_err user_and_project(struct model *m, const struct actor *who, int64_t uoid,
                                    int64_t poid, struct bh_why *why)
{
  struct project_rec p;
  enum bh_err rc = project_get_readable(m, who, poid, &p, why);
  if (rc != BH_OK)
    return rc;
  if (!project_can_write(m, who, &p)) {
    rc = bh_fail(why, BH_DENIED, "User has no rights to grant permission on '%s'", p.name);
    project_rec_clear(&p);
    return rc;
  }
  project_rec_clear(&p);
  struct user_rec u;
  rc = store_user_get(m->st, uoid, &u);
  if (rc == BH_NOTFOUND)
    return bh_fail(why, rc, "User with oid %lld not found", (long long)uoid);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  user_rec_clear(&u);
  return BH_OK;
}

enum bh_err project_add_user(struct model *m, const struct actor *who, int64_t uoid, int64_t poid,
                             struct bh_why *why)
{
  enum bh_err rc = user_and_project(m, who, uoid, poid, why);
  if (rc != BH_OK)
    return rc;
  rc = store_right_add(m->st, uoid, poid);
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "Database error");
}

enum bh_err project_remove_user(struct model *m, const struct actor *who, int64_t uoid,
                                int64_t poid, struct bh_why *why)
{
  enum bh_err rc = user_and_project(m, who, uoid, poid, why);
  if (rc != BH_OK)
    return rc;
  rc = store_right_remove(m->st, uoid, poid);
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "Database error");
}

/* Whether soid is owned by uoid and on a project that user can no longer read. */
static bool owner_lost_project(struct model *m, int64_t soid, int64_t uoid)
{
  struct service_rec s;
  if (store_service_get(m->st, soid, &s) != BH_OK)
    return false;
  bool lost = false;
  if (s.uoid == uoid && s.state == STATE_ACTIVE && s.disabled_ms == 0) {
    struct user_rec u;
    struct project_rec p;
    if (store_user_get(m->st, uoid, &u) == BH_OK) {
      struct actor owner = {.uoid = uoid, .type = (enum user_type)u.type, .service_oid = -1};
      if (store_project_get(m->st, s.poid, &p) == BH_OK) {
        lost = u.state == STATE_DELETED || !project_can_read(m, &owner, &p);
        project_rec_clear(&p);
      }
      user_rec_clear(&u);
    }
  }
  service_rec_clear(&s);
  return lost;
}

enum bh_err services_disable_ownerless(struct model *m, int64_t uoid, int64_t **soids, size_t *n)
{
  *soids = NULL;
  *n = 0;
  struct project_list pl = {0};
  enum bh_err rc = store_project_list(m->st, &pl);
  for (size_t i = 0; rc == BH_OK && i < pl.n; i++) {
    int64_t *ids = NULL;
    size_t k = 0;
    rc = store_service_ids(m->st, pl.v[i].poid, &ids, &k);
    for (size_t j = 0; rc == BH_OK && j < k; j++) {
      if (!owner_lost_project(m, ids[j], uoid))
        continue;
      rc = store_service_set_disabled(m->st, ids[j], bh_now_ms(),
                                      "Its owner no longer has rights on the project");
      int64_t *nv = rc == BH_OK ? realloc(*soids, (*n + 1) * sizeof *nv) : NULL;
      if (rc == BH_OK && !nv)
        rc = BH_NOMEM;
      if (nv) {
        *soids = nv;
        (*soids)[(*n)++] = ids[j];
      }
    }
    free(ids);
  }
  project_list_clear(&pl);
  return rc;
}

enum bh_err revision_get_readable(struct model *m, const struct actor *who, int64_t roid,
                                  struct revision_rec *out, struct bh_why *why)
{
  enum bh_err rc = store_revision_get(m->st, roid, out);
  if (rc == BH_NOTFOUND)
    return bh_fail(why, rc, "Revision does not exist");
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  struct project_rec p;
  rc = store_project_get(m->st, out->poid, &p);
  bool ok = rc == BH_OK && project_can_read(m, who, &p);
  if (rc == BH_OK)
    project_rec_clear(&p);
  if (!ok) {
    revision_rec_clear(out);
    return bh_fail(why, BH_NOTFOUND, "Revision does not exist");
  }
  return BH_OK;
}

enum bh_err project_check_readable(struct model *m, const struct actor *who, int64_t poid,
                                   struct bh_why *why)
{
  struct project_rec p;
  enum bh_err rc = project_get_readable(m, who, poid, &p, why);
  if (rc == BH_OK)
    project_rec_clear(&p);
  return rc;
}

enum bh_err revision_check_readable(struct model *m, const struct actor *who, int64_t roid,
                                    struct bh_why *why)
{
  struct revision_rec r;
  enum bh_err rc = revision_get_readable(m, who, roid, &r, why);
  if (rc == BH_OK)
    revision_rec_clear(&r);
  return rc;
}

/* ---- lists for BIMvie.ws: project trees, a user's projects and revisions ---- */

/* A project's place among its siblings: by parent, then name, then poid. */
struct tree_key {
  int64_t parent;
  const char *name;
  int64_t poid;
  size_t i; /* into all */
};

struct tree_walk {
  struct model *m;
  const struct actor *who;
  struct project_list all;    /* by poid */
  struct tree_key *by_parent; /* every project, sorted */
  size_t *picked;             /* indices into all, in the order of the answer */
  size_t npicked;
};

static int tree_key_cmp(const void *a, const void *b)
{
  const struct tree_key *x = a, *y = b;
  if (x->parent != y->parent)
    return x->parent < y->parent ? -1 : 1;
  int c = strcmp(x->name, y->name);
  if (c != 0)
    return c;
  return x->poid < y->poid ? -1 : x->poid > y->poid;
}

/* The first position in by_parent of a child of parent. */
static size_t first_child(const struct tree_walk *w, int64_t parent)
{
  size_t lo = 0, hi = w->all.n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (w->by_parent[mid].parent < parent)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* A project, then its sub-projects by name, depth first, as BIMserver lists them. One the
 * actor may not read is left out with its sub-projects (a readable sub-project would make
 * it readable); deleted ones are readable by admins only. */
static void walk(struct tree_walk *w, size_t i, int depth)
{
  if (depth >= MAX_DEPTH || !project_can_read(w->m, w->who, &w->all.v[i]))
    return;
  w->picked[w->npicked++] = i;
  int64_t poid = w->all.v[i].poid;
  for (size_t k = first_child(w, poid); k < w->all.n && w->by_parent[k].parent == poid; k++)
    walk(w, w->by_parent[k].i, depth + 1);
}

static const struct project_rec *find_poid(const struct project_list *l, int64_t poid)
{
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->v[mid].poid < poid)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < l->n && l->v[lo].poid == poid ? &l->v[lo] : NULL;
}

enum bh_err project_tree_readable(struct model *m, const struct actor *who, int64_t poid,
                                  struct project_list *out)
{
  memset(out, 0, sizeof *out);
  struct tree_walk w = {.m = m, .who = who};
  enum bh_err rc = store_project_list(m->st, &w.all);
  if (rc != BH_OK)
    return rc;
  size_t n = w.all.n;
  w.by_parent = malloc((n ? n : 1) * sizeof *w.by_parent);
  w.picked = malloc((n ? n : 1) * sizeof *w.picked);
  out->v = calloc(n ? n : 1, sizeof *out->v);
  if (!w.by_parent || !w.picked || !out->v) {
    rc = BH_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    w.by_parent[i] = (struct tree_key){w.all.v[i].parent, w.all.v[i].name, w.all.v[i].poid, i};
  qsort(w.by_parent, n, sizeof *w.by_parent, tree_key_cmp);
  if (poid == -1) {
    for (size_t i = 0; i < n; i++)
      if (w.all.v[i].parent == -1)
        walk(&w, i, 0);
  } else {
    const struct project_rec *p = find_poid(&w.all, poid);
    for (int depth = 0; p && p->parent != -1 && depth < MAX_DEPTH; depth++)
      p = find_poid(&w.all, p->parent);
    if (p)
      walk(&w, (size_t)(p - w.all.v), 0);
  }
  for (size_t k = 0; k < w.npicked; k++) {
    out->v[k] = w.all.v[w.picked[k]];
    memset(&w.all.v[w.picked[k]], 0, sizeof w.all.v[0]);
  }
  out->n = w.npicked;
done:
  if (rc != BH_OK) {
    free(out->v);
    out->v = NULL;
  }
  project_list_clear(&w.all);
  free(w.by_parent);
  free(w.picked);
  return rc;
}

enum bh_err project_list_of_user(struct model *m, const struct actor *who, int64_t uoid,
                                 struct project_list *out)
{
  memset(out, 0, sizeof *out);
  int64_t *ids = NULL;
  size_t n = 0;
  enum bh_err rc = store_rights_of_user(m->st, uoid, &ids, &n);
  if (rc == BH_OK && n > 0 && !(out->v = calloc(n, sizeof *out->v)))
    rc = BH_NOMEM;
  for (size_t i = 0; rc == BH_OK && i < n; i++) {
    struct project_rec *p = &out->v[out->n];
    if (store_project_get(m->st, ids[i], p) != BH_OK)
      continue;
    if (p->state == STATE_ACTIVE || who->type == USER_ADMIN)
      out->n++;
    else
      project_rec_clear(p);
  }
  free(ids);
  if (rc != BH_OK)
    project_list_clear(out);
  return rc;
}

enum bh_err project_list_not_of_user(struct model *m, const struct actor *who, int64_t uoid,
                                     struct project_list *out)
{
  enum bh_err rc = store_project_list(m->st, out);
  if (rc != BH_OK)
    return rc;
  size_t k = 0;
  for (size_t i = 0; i < out->n; i++) {
    struct project_rec *p = &out->v[i];
    if (project_can_write(m, who, p) && !store_right_has(m->st, uoid, p->poid))
      out->v[k++] = *p;
    else
      project_rec_clear(p);
  }
  out->n = k;
  return BH_OK;
}

enum bh_err revisions_of_user_readable(struct model *m, const struct actor *who, int64_t uoid,
                                       struct revision_list *out)
{
  enum bh_err rc = store_revision_list_by_user(m->st, uoid, out);
  if (rc != BH_OK)
    return rc;
  size_t k = 0;
  int64_t last_poid = -1;
  bool last_ok = false;
  for (size_t i = 0; i < out->n; i++) {
    struct revision_rec *r = &out->v[i];
    if (r->poid != last_poid) {
      struct project_rec p;
      last_poid = r->poid;
      last_ok = false;
      if (store_project_get(m->st, r->poid, &p) == BH_OK) {
        last_ok = project_can_read(m, who, &p);
        project_rec_clear(&p);
      }
    }
    if (last_ok)
      out->v[k++] = *r;
    else
      revision_rec_clear(r);
  }
  out->n = k;
  return BH_OK;
}
