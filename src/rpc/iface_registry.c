/* iface_registry.c: NotificationRegistryInterface (spec §4.6, all 27 methods). Unlike
 * BIMserver, every call needs a token, an endpoint answers only to the user whose token
 * opened it, and one registers only for what one may read (notify/push.c). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "actions/topics.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "notify/push.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

static enum bh_err reg_get_progress(struct rpc_call *c)
{
  int64_t id;
  struct topic_info t;
  enum bh_err rc = rpc_param_long(c, "topicId", &id);
  if (rc != BH_OK)
    return rc;
  if (topics_get(c->m->topics, id, &t) != BH_OK)
    return bh_fail(&c->why, BH_NOTFOUND, "No topic found with topicId %lld", (long long)id);
  return rpc_ok(c, sobj_long_action_state(&t)); /* {} until a state was sent */
}

/* endPointId, then up to two ids by name (NULL: none). */
static enum bh_err reg_call(struct rpc_call *c, bool subscribe, enum push_kind kind,
                            const char *a_name, const char *b_name)
{
  int64_t ep, a = 0, b = 0;
  json_t *e = json_object_get(c->params, "endPointId");
  if (!e || json_is_null(e)) {
    enum bh_err rc = bh_fail(&c->why, BH_BADREQUEST, "No EndpointId given");
    c->why.error_code = 1;
    c->why.error_type = "DefaultErrorCode";
    return rc;
  }
  enum bh_err rc = rpc_param_long(c, "endPointId", &ep);
  if (rc == BH_OK && a_name)
    rc = rpc_param_long(c, a_name, &a);
  if (rc == BH_OK && b_name)
    rc = rpc_param_long(c, b_name, &b);
  if (rc != BH_OK)
    return rc;
  return subscribe ? push_register(c->rpc->push, c->actor.uoid, ep, kind, a, b, &c->why)
                   : push_unregister(c->rpc->push, c->actor.uoid, ep, kind, a, b, &c->why);
}

#define REG(fn, sub, kind, a, b)                                                                   \
  static enum bh_err fn(struct rpc_call *c)                                                        \
  {                                                                                                \
    return reg_call(c, sub, kind, a, b);                                                           \
  }

REG(reg_progress_handler, true, PUSH_PROGRESS, "topicId", NULL)
REG(unreg_progress_handler, false, PUSH_PROGRESS, "topicId", NULL)
REG(reg_new_revision_project, true, PUSH_NEW_REVISION_PROJECT, "poid", NULL)
REG(unreg_new_revision_project, false, PUSH_NEW_REVISION_PROJECT, "poid", NULL)
REG(reg_new_revision, true, PUSH_NEW_REVISION, NULL, NULL)
REG(unreg_new_revision, false, PUSH_NEW_REVISION, NULL, NULL)
REG(reg_new_extended_data, true, PUSH_NEW_EXTENDED_DATA, "roid", NULL)
REG(unreg_new_extended_data, false, PUSH_NEW_EXTENDED_DATA, "roid", NULL)
REG(reg_new_project, true, PUSH_NEW_PROJECT, NULL, NULL)
REG(unreg_new_project, false, PUSH_NEW_PROJECT, NULL, NULL)
REG(reg_new_user, true, PUSH_NEW_USER, NULL, NULL)
REG(unreg_new_user, false, PUSH_NEW_USER, NULL, NULL)
REG(reg_change_project, true, PUSH_CHANGE_PROJECT, "poid", NULL)
REG(reg_change_server, true, PUSH_CHANGE_SERVER, NULL, NULL)
REG(unreg_change_server, false, PUSH_CHANGE_SERVER, NULL, NULL)
REG(reg_change_revision, true, PUSH_CHANGE_REVISION, "roid", "poid")
REG(unreg_change_revision, false, PUSH_CHANGE_REVISION, "roid", "poid")

/* bimserverapi 0.0.167 sends roid instead of poid here (spec §9): take either. A roid names
 * the revision's project. */
static enum bh_err unreg_change_project(struct rpc_call *c)
{
  if (json_object_get(c->params, "poid"))
    return reg_call(c, false, PUSH_CHANGE_PROJECT, "poid", NULL);
  int64_t roid;
  enum bh_err rc = rpc_param_long(c, "roid", &roid);
  if (rc != BH_OK)
    return bh_fail(&c->why, BH_BADREQUEST,
                   "Missing parameter: unregisterChangeProgressOnProject -> poid");
  struct revision_rec r;
  if ((rc = revision_get_readable(c->m, &c->actor, roid, &r, &c->why)) != BH_OK)
    return rc;
  json_object_set_new(c->params, "poid", json_integer(r.poid));
  revision_rec_clear(&r);
  return reg_call(c, false, PUSH_CHANGE_PROJECT, "poid", NULL);
}

/* A topic the caller creates (its progress is theirs to update). */
static enum bh_err new_topic(struct rpc_call *c, enum topic_kind kind, int64_t poid, int64_t roid)
{
  const char *type, *description;
  enum bh_err rc = rpc_param_string(c, "type", &type);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "description", &description);
  if (rc != BH_OK)
    return rc;
  static const char *const types[] = {"DOWNLOAD", "UPLOAD", "RUNNING_SERVICE", "BRANCH"};
  bool known = false;
  for (size_t i = 0; type && i < 4; i++)
    known = known || strcmp(types[i], type) == 0;
  if (!known)
    return bh_fail(&c->why, BH_BADREQUEST, "Invalid SProgressTopicType %s", type ? type : "null");
  if (poid > 0) {
    struct project_rec p;
    if ((rc = project_get_readable(c->m, &c->actor, poid, &p, &c->why)) != BH_OK)
      return rc;
    project_rec_clear(&p);
  }
  if (roid > 0) {
    struct revision_rec r;
    if ((rc = revision_get_readable(c->m, &c->actor, roid, &r, &c->why)) != BH_OK)
      return rc;
    bool same = r.poid == poid;
    revision_rec_clear(&r);
    if (!same)
      return bh_fail(&c->why, BH_BADREQUEST, "Revision %lld is not of project %lld",
                     (long long)roid, (long long)poid);
  }
  int64_t id;
  rc = topics_create(c->m->topics, kind, type, description, poid, roid, c->actor.uoid,
                     ACTOR_SOID(&c->actor), false, &id);
  if (rc == BH_TOOBIG)
    return bh_fail(&c->why, rc,
                   "Too many progress topics for this user (max_topics_per_user %lld); "
                   "unregister or clean up some first",
                   (long long)c->m->cfg->max_topics_per_user);
  return rc == BH_OK ? rpc_ok(c, json_integer(id)) : bh_fail(&c->why, rc, "Cannot make a topic");
}

static enum bh_err reg_progress_topic(struct rpc_call *c)
{
  return new_topic(c, TOPIC_SERVER, -1, -1);
}

static enum bh_err reg_progress_on_project_topic(struct rpc_call *c)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  return rc == BH_OK ? new_topic(c, TOPIC_PROJECT, poid, -1) : rc;
}

static enum bh_err reg_progress_on_revision_topic(struct rpc_call *c)
{
  int64_t poid, roid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "roid", &roid);
  return rc == BH_OK ? new_topic(c, TOPIC_REVISION, poid, roid) : rc;
}

/* A topic the caller may change: its own, or any for an admin. */
static enum bh_err own_topic(struct rpc_call *c, int64_t id, bool to_update)
{
  struct topic_info t;
  if (topics_get(c->m->topics, id, &t) != BH_OK ||
      !actor_owns(&c->actor, t.owner_uoid, t.owner_soid))
    return bh_fail(&c->why, BH_NOTFOUND, "No topic found with topicId %lld", (long long)id);
  /* the state of a check-in or a download is the server's to tell */
  if (to_update && (t.state.is_checkin || t.has_download))
    return bh_fail(&c->why, BH_DENIED, "Topic %lld is kept by the server", (long long)id);
  return BH_OK;
}

static const char *const action_states[] = {"UNKNOWN", "STARTED", "AS_ERROR", "FINISHED"};

static enum bh_err reg_update_progress_topic(struct rpc_call *c)
{
  int64_t id;
  json_t *o;
  enum bh_err rc = rpc_param_long(c, "topicId", &id);
  if (rc == BH_OK)
    rc = rpc_param_object(c, "state", &o);
  if (rc == BH_OK)
    rc = own_topic(c, id, true);
  if (rc != BH_OK)
    return rc;
  if (!o)
    return bh_fail(&c->why, BH_BADREQUEST, "state must not be null");
  struct topic_info t;
  topics_get(c->m->topics, id, &t);
  struct topic_state s = t.state;
  int64_t v;
  if (rpc_json_long(json_object_get(o, "progress"), &v))
    s.progress = v < -1 ? -1 : v > 100 ? 100 : (int)v;
  const char *title = json_string_value(json_object_get(o, "title"));
  if (title)
    snprintf(s.title, sizeof s.title, "%s", title);
  const char *state = json_string_value(json_object_get(o, "state"));
  for (int i = 0; state && i < 4; i++)
    if (strcmp(state, action_states[i]) == 0)
      s.state = (enum action_state)i;
  if (state && s.state == t.state.state && strcmp(state, action_states[t.state.state]) != 0)
    return bh_fail(&c->why, BH_BADREQUEST, "Invalid SActionState %s", state);
  json_t *errors = json_object_get(o, "errors");
  if (json_is_array(errors) && json_array_size(errors) > 0 &&
      json_is_string(json_array_get(errors, 0)))
    snprintf(s.error, sizeof s.error, "%s", json_string_value(json_array_get(errors, 0)));
  if ((s.state == ACTION_FINISHED || s.state == ACTION_ERROR) && s.end_ms == 0)
    s.end_ms = t.state.start_ms > 0 ? bh_now_ms() : 0;
  return topics_set_state(c->m->topics, id, &s) == BH_OK
             ? BH_OK
             : bh_fail(&c->why, BH_NOTFOUND, "No topic found");
}

static enum bh_err reg_unregister_progress_topic(struct rpc_call *c)
{
  int64_t id;
  enum bh_err rc = rpc_param_long(c, "topicId", &id);
  if (rc == BH_OK)
    rc = own_topic(c, id, false);
  if (rc == BH_OK)
    topics_remove(c->m->topics, id); /* BIMserver does nothing; we end the topic */
  return rc;
}

static enum bh_err topics_result(struct rpc_call *c, int64_t poid, int64_t roid)
{
  int64_t *ids = NULL;
  size_t n = 0;
  if (topics_list(c->m->topics, poid, roid, &ids, &n) != BH_OK)
    return bh_fail(&c->why, BH_NOMEM, "Out of memory");
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    struct topic_info t;
    /* only the topics the caller may see: theirs, or of a project they read */
    if (topics_get(c->m->topics, ids[i], &t) != BH_OK)
      continue;
    if (rpc_may_see_topic(c, &t))
      json_array_append_new(a, json_integer(ids[i]));
  }
  free(ids);
  return rpc_ok(c, a);
}

static enum bh_err reg_topics_on_server(struct rpc_call *c)
{
  return topics_result(c, -1, -1);
}

static enum bh_err reg_topics_on_project(struct rpc_call *c)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_check_readable(c->m, &c->actor, poid, &c->why);
  if (rc != BH_OK)
    return rc;
  return topics_result(c, poid, -1);
}

static enum bh_err reg_topics_on_revision(struct rpc_call *c)
{
  int64_t poid, roid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "roid", &roid);
  if (rc == BH_OK)
    rc = revision_check_readable(c->m, &c->actor, roid, &c->why);
  if (rc != BH_OK)
    return rc;
  return topics_result(c, -1, roid);
}

#define EP                                                                                         \
  {                                                                                                \
    "endPointId", "Long"                                                                           \
  }
static const struct rpc_method registry_methods[] = {
    {"getProgress", RPC_PARAMS({"topicId", "Long"}), "SLongActionState",
     RPC_ON(PROJECT_READ, TOPIC, "topicId", OWNER), 0, reg_get_progress,
     "The last state sent on a topic; {} before the first"},
    {"getProgressTopicsOnProject", RPC_PARAMS({"poid", "Long"}), "List<Long>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", OWNER), 0, reg_topics_on_project,
     "Live topics of a project and its revisions"},
    {"getProgressTopicsOnRevision", RPC_PARAMS({"poid", "Long"}, {"roid", "Long"}), "List<Long>",
     RPC_ON(PROJECT_READ, REVISION, "roid", OWNER), 0, reg_topics_on_revision,
     "Live topics of a revision"},
    {"getProgressTopicsOnServer", RPC_NO_PARAMS, "List<Long>", RPC_WHO(USER, OWNER), 0,
     reg_topics_on_server, "Live topics the caller may see"},
    {"registerChangeProgressOnProject", RPC_PARAMS(EP, {"poid", "Long"}), "void",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, reg_change_project,
     "newProgressOnProjectTopic and closedProgressOnProjectTopic"},
    {"registerChangeProgressOnRevision", RPC_PARAMS(EP, {"roid", "Long"}, {"poid", "Long"}), "void",
     RPC_ON(PROJECT_READ, REVISION, "roid", NONE), 0, reg_change_revision,
     "newProgressOnRevisionTopic and closedProgressOnRevisionTopic"},
    {"registerChangeProgressOnServer", RPC_PARAMS(EP), "void", RPC_WHO(USER, NONE), 0,
     reg_change_server, "newProgressOnServerTopic and closedProgressOnServerTopic"},
    {"registerNewExtendedDataOnRevisionHandler", RPC_PARAMS(EP, {"roid", "Long"}), "void",
     RPC_ON(PROJECT_READ, REVISION, "roid", NONE), 0, reg_new_extended_data,
     "newExtendedData of a revision"},
    {"registerNewProjectHandler", RPC_PARAMS(EP), "void", RPC_WHO(USER, NONE), 0, reg_new_project,
     "newProject of projects the caller may read"},
    {"registerNewRevisionHandler", RPC_PARAMS(EP), "void", RPC_WHO(USER, NONE), 0, reg_new_revision,
     "newRevision of every project the caller may read"},
    {"registerNewRevisionOnSpecificProjectHandler", RPC_PARAMS(EP, {"poid", "Long"}), "void",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, reg_new_revision_project,
     "newRevision of one project"},
    {"registerNewUserHandler", RPC_PARAMS(EP), "void", RPC_WHO(USER, NONE), 0, reg_new_user,
     "newUser (sent to admins only)"},
    {"registerProgressHandler", RPC_PARAMS({"topicId", "Long"}, EP), "void",
     RPC_ON(PROJECT_READ, TOPIC, "topicId", OWNER), 0, reg_progress_handler, "progress of a topic"},
    {"registerProgressOnProjectTopic",
     RPC_PARAMS({"type", "SProgressTopicType"}, {"poid", "Long"}, {"description", "String"}),
     "Long", RPC_ON(PROJECT_WRITE, PROJECT, "poid", NONE), 0, reg_progress_on_project_topic,
     "A new topic on a project"},
    {"registerProgressOnRevisionTopic",
     RPC_PARAMS({"type", "SProgressTopicType"}, {"poid", "Long"}, {"roid", "Long"},
                {"description", "String"}),
     "Long", RPC_ON(PROJECT_WRITE, REVISION, "roid", NONE), 0, reg_progress_on_revision_topic,
     "A new topic on a revision"},
    {"registerProgressTopic", RPC_PARAMS({"type", "SProgressTopicType"}, {"description", "String"}),
     "Long", RPC_WHO(USER, NONE), 0, reg_progress_topic, "A new server topic"},
    {"unregisterChangeProgressOnProject", RPC_PARAMS(EP, {"poid", "Long", true}), "void",
     RPC_WHO(USER, NONE), 0, unreg_change_project,
     "Stops the project topic announcements (poid, or a roid)"},
    {"unregisterChangeProgressOnRevision", RPC_PARAMS(EP, {"roid", "Long"}, {"poid", "Long"}),
     "void", RPC_WHO(USER, NONE), 0, unreg_change_revision,
     "Stops the revision topic announcements"},
    {"unregisterChangeProgressOnServer", RPC_PARAMS(EP), "void", RPC_WHO(USER, NONE), 0,
     unreg_change_server, "Stops the server topic announcements"},
    {"unregisterNewExtendedDataOnRevisionHandler", RPC_PARAMS(EP, {"roid", "Long"}), "void",
     RPC_WHO(USER, NONE), 0, unreg_new_extended_data, "Stops newExtendedData of a revision"},
    {"unregisterNewProjectHandler", RPC_PARAMS(EP), "void", RPC_WHO(USER, NONE), 0,
     unreg_new_project, "Stops newProject"},
    {"unregisterNewRevisionHandler", RPC_PARAMS(EP), "void", RPC_WHO(USER, NONE), 0,
     unreg_new_revision, "Stops newRevision of every project"},
    {"unregisterNewRevisionOnSpecificProjectHandler", RPC_PARAMS(EP, {"poid", "Long"}), "void",
     RPC_WHO(USER, NONE), 0, unreg_new_revision_project, "Stops newRevision of one project"},
    {"unregisterNewUserHandler", RPC_PARAMS(EP), "void", RPC_WHO(USER, NONE), 0, unreg_new_user,
     "Stops newUser"},
    {"unregisterProgressHandler", RPC_PARAMS({"topicId", "Long"}, EP), "void", RPC_WHO(USER, OWNER),
     0, unreg_progress_handler, "Stops progress of a topic"},
    {"unregisterProgressTopic", RPC_PARAMS({"topicId", "Long"}), "void",
     RPC_ON(OWNER, TOPIC, "topicId", NONE), 0, reg_unregister_progress_topic,
     "Ends a topic the caller made"},
    {"updateProgressTopic", RPC_PARAMS({"topicId", "Long"}, {"state", "SLongActionState"}), "void",
     RPC_ON(OWNER, TOPIC, "topicId", NONE), 0, reg_update_progress_topic,
     "Sends a state on a topic the caller made"},
};

RPC_IFACE(rpc_iface_registry, "NotificationRegistryInterface", registry_methods);
