/* stream_msg.c: what /stream messages mean to a client (spec §6.1-§6.3, §4.6, §4.7): the
 * kinds of server messages, the dispatch of NotificationInterface pushes to typed handlers,
 * the registry calls behind each subscription, the reconnect delay. Pure functions. */
#include "sdk_internal.h"

#include <string.h>

void sdk_msg_classify(const json_t *msg, struct sdk_msg *out)
{
  memset(out, 0, sizeof *out);
  out->kind = SDK_MSG_OTHER;
  out->endpoint_id = -1;
  out->endpoint_seq = -1;
  out->history_complete = true;
  if (!json_is_object(msg))
    return;
  const json_t *error = json_object_get(msg, "error");
  if (error) {
    out->kind = SDK_MSG_ERROR;
    out->error = json_is_string(error) ? json_string_value(error) : "error";
    out->endpoint_id = bimhub_json_int(msg, "endpointid", -1);
    return;
  }
  if (json_object_get(msg, "welcome")) {
    out->kind = SDK_MSG_WELCOME;
    return;
  }
  if (json_object_get(msg, "request") || json_object_get(msg, "requests")) {
    out->kind = SDK_MSG_PUSH;
    int64_t seq = bimhub_json_int(msg, "seq", 0);
    out->seq = seq > 0 ? (uint64_t)seq : 0;
    return;
  }
  if (json_object_get(msg, "response") || json_object_get(msg, "responses")) {
    out->kind = SDK_MSG_RESPONSE;
    return;
  }
  /* {"type":"endpoint","payload":{"endpointid":N,...},"endpointid":N}; BIMserver's older
   * form has only the top-level key, and clients read only that one */
  const json_t *payload = json_object_get(msg, "payload");
  int64_t id = bimhub_json_int(msg, "endpointid", -1);
  if (id < 0)
    id = bimhub_json_int(payload, "endpointid", -1);
  if (id >= 0) {
    out->kind = SDK_MSG_ENDPOINT;
    out->endpoint_id = id;
    out->resumed = json_is_true(json_object_get(payload, "resumed"));
    const json_t *hc = json_object_get(payload, "historyComplete");
    out->history_complete = !json_is_boolean(hc) || json_is_true(hc);
    out->endpoint_seq = bimhub_json_int(payload, "seq", -1);
  }
}

static bool is_notification_iface(const char *name)
{
  static const char *const names[] = {
      "NotificationInterface", "org.bimserver.NotificationInterface",
      "Bimsie1NotificationInterface", "org.buildingsmart.bimsie1.Bimsie1NotificationInterface"};
  for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0)
      return true;
  return false;
}

static bool topic_event(const char *method, const json_t *params, struct bimhub_topic_event *ev)
{
  static const struct {
    const char *name;
    bool is_closed, has_poid, has_roid;
  } kinds[] = {
      {"newProgressOnProjectTopic", false, true, false},
      {"closedProgressOnProjectTopic", true, true, false},
      {"newProgressOnServerTopic", false, false, false},
      {"closedProgressOnServerTopic", true, false, false},
      {"newProgressOnRevisionTopic", false, true, true},
      {"closedProgressOnRevisionTopic", true, true, true},
      {"newProgressTopic", false, false, false},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    if (strcmp(method, kinds[i].name) != 0)
      continue;
    ev->method = method;
    ev->is_closed = kinds[i].is_closed;
    ev->poid = kinds[i].has_poid ? bimhub_json_int(params, "poid", -1) : -1;
    ev->roid = kinds[i].has_roid ? bimhub_json_int(params, "roid", -1) : -1;
    ev->topic_id = bimhub_json_int(params, "topicId", -1);
    return true;
  }
  return false;
}

bool sdk_push_dispatch(const struct bimhub_stream_handlers *h, void *arg, const json_t *request,
                       uint64_t seq)
{
  const char *iface = bimhub_json_str(request, "interface");
  const char *method = bimhub_json_str(request, "method");
  if (!is_notification_iface(iface) || !method)
    return false;
  json_t *params = json_object_get(request, "parameters");
  json_t *empty = NULL;
  if (!json_is_object(params))
    params = empty = json_object();
  struct bimhub_topic_event ev;
  bool done = true;
  if (strcmp(method, "newRevision") == 0 && h->on_new_revision)
    h->on_new_revision(arg, bimhub_json_int(params, "poid", -1),
                       bimhub_json_int(params, "roid", -1));
  else if (strcmp(method, "newProject") == 0 && h->on_new_project)
    h->on_new_project(arg, bimhub_json_int(params, "poid", -1));
  else if (strcmp(method, "newUser") == 0 && h->on_new_user)
    h->on_new_user(arg, bimhub_json_int(params, "uoid", -1));
  else if (strcmp(method, "newExtendedData") == 0 && h->on_new_extended_data)
    h->on_new_extended_data(arg, bimhub_json_int(params, "roid", -1),
                            bimhub_json_int(params, "edid", -1));
  else if (strcmp(method, "progress") == 0 && h->on_progress) {
    json_t *state = json_object_get(params, "state");
    json_t *none = NULL;
    if (!state)
      state = none = json_object();
    h->on_progress(arg, bimhub_json_int(params, "topicId", -1), state);
    json_decref(none);
  } else if (h->on_progress_topic && topic_event(method, params, &ev))
    h->on_progress_topic(arg, &ev);
  else
    done = false;
  if (!done && h->on_push)
    h->on_push(arg, method, params, seq);
  json_decref(empty);
  return true;
}

/* ---- subscriptions ---- */

static const struct {
  const char *reg, *unreg;
  const char *a, *b; /* parameter names of a and b besides endPointId */
} subs[] = {
    [BIMHUB_SUB_NEW_REVISION_ON_PROJECT] = {"registerNewRevisionOnSpecificProjectHandler",
                                            "unregisterNewRevisionOnSpecificProjectHandler", "poid",
                                            NULL},
    [BIMHUB_SUB_NEW_REVISION] = {"registerNewRevisionHandler", "unregisterNewRevisionHandler", NULL,
                                 NULL},
    [BIMHUB_SUB_NEW_PROJECT] = {"registerNewProjectHandler", "unregisterNewProjectHandler", NULL,
                                NULL},
    [BIMHUB_SUB_NEW_USER] = {"registerNewUserHandler", "unregisterNewUserHandler", NULL, NULL},
    [BIMHUB_SUB_NEW_EXTENDED_DATA_ON_REVISION] = {"registerNewExtendedDataOnRevisionHandler",
                                                  "unregisterNewExtendedDataOnRevisionHandler",
                                                  "roid", NULL},
    [BIMHUB_SUB_PROGRESS] = {"registerProgressHandler", "unregisterProgressHandler", "topicId",
                             NULL},
    [BIMHUB_SUB_CHANGE_PROGRESS_ON_PROJECT] = {"registerChangeProgressOnProject",
                                               "unregisterChangeProgressOnProject", "poid", NULL},
    [BIMHUB_SUB_CHANGE_PROGRESS_ON_SERVER] = {"registerChangeProgressOnServer",
                                              "unregisterChangeProgressOnServer", NULL, NULL},
    [BIMHUB_SUB_CHANGE_PROGRESS_ON_REVISION] = {"registerChangeProgressOnRevision",
                                                "unregisterChangeProgressOnRevision", "roid",
                                                "poid"},
};

static bool known_kind(enum bimhub_sub_kind kind)
{
  return (unsigned)kind < sizeof subs / sizeof subs[0] && subs[kind].reg;
}

const char *sdk_sub_method(enum bimhub_sub_kind kind, bool is_register)
{
  if (!known_kind(kind))
    return NULL;
  return is_register ? subs[kind].reg : subs[kind].unreg;
}

json_t *sdk_sub_params(enum bimhub_sub_kind kind, int64_t endpoint_id, int64_t a, int64_t b)
{
  if (!known_kind(kind))
    return NULL;
  json_t *p = json_object();
  if (!p)
    return NULL;
  /* the order of the declared parameters, for readers of the wire */
  if (kind == BIMHUB_SUB_PROGRESS)
    json_object_set_new(p, "topicId", json_integer(a));
  json_object_set_new(p, "endPointId", json_integer(endpoint_id));
  if (subs[kind].a && kind != BIMHUB_SUB_PROGRESS)
    json_object_set_new(p, subs[kind].a, json_integer(a));
  if (subs[kind].b)
    json_object_set_new(p, subs[kind].b, json_integer(b));
  return p;
}

long sdk_backoff_ms(unsigned attempt, long min_ms, long max_ms, double rnd)
{
  if (min_ms <= 0)
    min_ms = 1;
  if (max_ms < min_ms)
    max_ms = min_ms;
  long d = min_ms;
  for (unsigned i = 1; i < attempt && d < max_ms; i++)
    d = d > max_ms / 2 ? max_ms : d * 2;
  if (d > max_ms)
    d = max_ms;
  if (rnd < 0)
    rnd = 0;
  if (rnd > 1)
    rnd = 1;
  return d - (long)((double)(d / 4) * rnd);
}
