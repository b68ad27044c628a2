/* iface_checkin.c: ServiceInterface, the check-in, revision and download part (spec §4.4,
 * §7.3, §7.4): check-ins over /json, revisions, prepared downloads and long actions, the
 * serializer and deserializer look-ups, and what the IFC reader recorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "actions/topics.h"
#include "blob/blob.h"
#include "checkin/checkin.h"
#include "codec/zip_write.h"
#include "common/bh_base64.h"
#include "config/config.h"
#include "ifc/ifc_reader.h"
#include "model/plugins.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

/* ---- check-ins ---- */

struct checkin_call {
  int64_t topic_id, poid, deserializer_oid, file_size;
  const char *comment, *file_name, *data, *url;
  bool sync;
  bool legacy; /* checkin (BIMserver until 1.5.117): the topicId in both modes */
};

/* The final state of a synchronous check-in; the topic ends with the answer (§7.5). */
static enum bh_err sync_result(struct rpc_call *c, struct checkin *ci)
{
  checkin_wait(ci);
  int64_t topic = checkin_topic(ci);
  struct topic_info t;
  enum bh_err rc = topics_get(c->m->topics, topic, &t);
  if (rc != BH_OK) {
    int64_t roid;
    rc = checkin_result(ci, &roid, &c->why);
    return rc == BH_OK ? bh_fail(&c->why, BH_INTERNAL, "The check-in's topic is gone") : rc;
  }
  topics_remove(c->m->topics, topic);
  return rpc_ok(c, sobj_long_action_state(&t));
}

static enum bh_err run_checkin(struct rpc_call *c, const struct checkin_call *k)
{
  unsigned char *bytes = NULL;
  size_t nbytes = 0;
  if (k->url && checkin_url_check(k->url, &c->why) != BH_OK)
    return BH_BADREQUEST;
  if (!k->url) {
    size_t len = k->data ? strlen(k->data) : 0;
    if ((int64_t)(len / 4 * 3) > c->rpc->cfg->max_upload_bytes)
      return bh_fail(&c->why, BH_TOOBIG, "The model is larger than the limit of %lld bytes",
                     (long long)c->rpc->cfg->max_upload_bytes);
    bytes = malloc(len / 4 * 3 + 3);
    if (!bytes)
      return bh_fail(&c->why, BH_NOMEM, "Out of memory");
    if (!bh_base64_decode(k->data ? k->data : "", len, bytes, &nbytes)) {
      free(bytes);
      return bh_fail(&c->why, BH_BADREQUEST, "data is not valid Base64");
    }
  }
  struct checkin_params p = {.poid = k->poid,
                             .deserializer_oid = k->deserializer_oid,
                             .topic_id = k->topic_id,
                             .file_size = k->file_size,
                             .comment = k->comment,
                             .file_name = k->file_name,
                             .compression = CHECKIN_PLAIN};
  struct checkin *ci = NULL;
  int64_t topic = 0;
  enum bh_err rc = checkin_start(c->rpc->checkins, &c->actor, &p, &ci, &topic, &c->why);
  if (rc == BH_OK && k->url) {
    rc = checkin_fetch(ci, k->url, &c->why);
    if (rc != BH_OK)
      checkin_end_input(ci, false);
  } else if (rc == BH_OK) {
    checkin_write(ci, bytes, nbytes); /* a failure shows in the topic, as for uploads */
    checkin_end_input(ci, true);
  }
  free(bytes);
  if (rc != BH_OK) {
    checkin_release(ci);
    return rc;
  }
  if (k->sync && k->legacy) {
    /* the topic stays, as BIMserver's did; a failure is the answer, since a script using
     * this name reads no state object */
    int64_t roid;
    checkin_wait(ci);
    rc = checkin_result(ci, &roid, &c->why);
    if (rc == BH_OK)
      rc = rpc_ok(c, json_integer(topic));
  } else {
    rc = k->sync ? sync_result(c, ci) : rpc_ok(c, json_integer(topic));
  }
  checkin_release(ci);
  return rc;
}

static enum bh_err read_checkin_params(struct rpc_call *c, struct checkin_call *k, bool initiated,
                                       bool from_url)
{
  enum bh_err rc = initiated ? rpc_param_long(c, "topicId", &k->topic_id) : BH_OK;
  if (rc == BH_OK)
    rc = rpc_param_long(c, "poid", &k->poid);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "comment", &k->comment);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "deserializerOid", &k->deserializer_oid);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "fileName", &k->file_name);
  k->file_size = -1;
  if (from_url) {
    if (rc == BH_OK)
      rc = rpc_param_string(c, "url", &k->url);
    if (rc == BH_OK && !k->url)
      rc = bh_fail(&c->why, BH_BADREQUEST, "url must not be null");
  } else {
    if (rc == BH_OK)
      rc = rpc_param_long(c, "fileSize", &k->file_size);
    if (rc == BH_OK)
      rc = rpc_param_string(c, "data", &k->data);
  }
  return rc;
}

static enum bh_err checkin_call(struct rpc_call *c, bool initiated, bool from_url, bool sync)
{
  struct checkin_call k = {.sync = sync};
  enum bh_err rc = read_checkin_params(c, &k, initiated, from_url);
  return rc == BH_OK ? run_checkin(c, &k) : rc;
}

static enum bh_err svc_checkin_sync(struct rpc_call *c)
{
  return checkin_call(c, false, false, true);
}

static enum bh_err svc_checkin_async(struct rpc_call *c)
{
  return checkin_call(c, false, false, false);
}

static enum bh_err svc_checkin_initiated_sync(struct rpc_call *c)
{
  return checkin_call(c, true, false, true);
}

static enum bh_err svc_checkin_initiated_async(struct rpc_call *c)
{
  return checkin_call(c, true, false, false);
}

static enum bh_err svc_checkin_from_url_sync(struct rpc_call *c)
{
  return checkin_call(c, false, true, true);
}

static enum bh_err svc_checkin_from_url_async(struct rpc_call *c)
{
  return checkin_call(c, false, true, false);
}

/* checkin(..., merge, sync): the name BIMserver had until 1.5.117 (1.4: no merge), which
 * became checkinSync and checkinAsync. */
static enum bh_err legacy_checkin_call(struct rpc_call *c, bool from_url)
{
  struct checkin_call k = {.legacy = true};
  enum bh_err rc = read_checkin_params(c, &k, false, from_url);
  if (rc == BH_OK)
    rc = rpc_param_bool(c, "sync", &k.sync);
  return rc == BH_OK ? run_checkin(c, &k) : rc;
}

static enum bh_err svc_checkin_legacy(struct rpc_call *c)
{
  return legacy_checkin_call(c, false);
}

/* checkinFromUrl(..., merge, sync): renamed with checkin, to checkinFromUrlSync/Async. */
static enum bh_err svc_checkin_from_url_legacy(struct rpc_call *c)
{
  return legacy_checkin_call(c, true);
}

static enum bh_err svc_initiate_checkin(struct rpc_call *c)
{
  int64_t poid, deser, topic;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "deserializerOid", &deser); /* not used here, as in BIMserver */
  if (rc == BH_OK)
    rc = checkins_initiate(c->rpc->checkins, &c->actor, poid, &topic, &c->why);
  return rc == BH_OK ? rpc_ok(c, json_integer(topic)) : rc;
}

/* ---- revisions ---- */

static enum bh_err svc_get_revision(struct rpc_call *c)
{
  int64_t roid;
  struct revision_rec r;
  enum bh_err rc = rpc_param_long(c, "roid", &roid);
  if (rc == BH_OK)
    rc = revision_get_readable(c->m, &c->actor, roid, &r, &c->why);
  if (rc != BH_OK)
    return rc;
  json_t *j = sobj_revision(c->m, &r);
  revision_rec_clear(&r);
  return rpc_ok(c, j);
}

static enum bh_err svc_get_all_revisions_of_project(struct rpc_call *c)
{
  int64_t poid;
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_check_readable(c->m, &c->actor, poid, &c->why);
  if (rc != BH_OK)
    return rc;
  struct revision_list l;
  rc = store_revision_list(c->m->st, poid, &l);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  json_t *a = json_array();
  for (size_t i = 0; a && i < l.n; i++)
    json_array_append_new(a, sobj_revision(c->m, &l.v[i]));
  revision_list_clear(&l);
  return rpc_ok(c, a);
}

/* A revision the actor may change: write rights on its project. */
static enum bh_err writable_revision(struct rpc_call *c, int64_t roid)
{
  struct revision_rec r;
  enum bh_err rc = revision_get_readable(c->m, &c->actor, roid, &r, &c->why);
  if (rc != BH_OK)
    return rc;
  struct project_rec p;
  rc = store_project_get(c->m->st, r.poid, &p);
  revision_rec_clear(&r);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  bool ok = project_can_write(c->m, &c->actor, &p);
  project_rec_clear(&p);
  return ok ? BH_OK : bh_fail(&c->why, BH_DENIED, "No rights to change this revision");
}

static enum bh_err svc_set_revision_tag(struct rpc_call *c)
{
  int64_t roid;
  const char *tag;
  enum bh_err rc = rpc_param_long(c, "roid", &roid);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "tag", &tag);
  if (rc == BH_OK)
    rc = writable_revision(c, roid);
  if (rc == BH_OK && store_revision_set_tag(c->m->st, roid, tag) != BH_OK)
    rc = bh_fail(&c->why, BH_STORE, "Database error");
  return rc;
}

static enum bh_err svc_update_revision(struct rpc_call *c)
{
  json_t *o;
  int64_t roid;
  enum bh_err rc = rpc_param_object(c, "sRevision", &o);
  if (rc != BH_OK)
    return rc;
  if (!o || !rpc_json_long(json_object_get(o, "oid"), &roid))
    return bh_fail(&c->why, BH_BADREQUEST, "sRevision.oid is required");
  rc = writable_revision(c, roid);
  json_t *tag = json_object_get(o, "tag"), *comment = json_object_get(o, "comment");
  if (rc == BH_OK && json_is_string(tag))
    rc = store_revision_set_tag(c->m->st, roid, json_string_value(tag));
  if (rc == BH_OK && json_is_string(comment))
    rc = store_revision_set_comment(c->m->st, roid, json_string_value(comment));
  return rc;
}

/* ---- serializers and deserializers ---- */

static enum bh_err plugin_result(struct rpc_call *c, const struct plugin_def *p)
{
  if (!p)
    return BH_OK; /* null: {} */
  /* the configuration's oid is made on first use: a full disk fails here, not for memory */
  int64_t oid;
  enum bh_err rc = plugin_config_oid(c->m, c->actor.uoid, p, &oid);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Cannot store the plugin configuration: %s", bh_err_text(rc));
  return rpc_ok(c, sobj_plugin_config(c->m, c->actor.uoid, p));
}

static enum bh_err by_oid(struct rpc_call *c, bool serializer)
{
  int64_t oid;
  enum bh_err rc = rpc_param_long(c, "oid", &oid);
  if (rc != BH_OK)
    return rc;
  const struct plugin_def *p = plugin_of_config(c->m, c->actor.uoid, oid);
  if (!p || p->is_serializer != serializer)
    return bh_fail(&c->why, BH_NOTFOUND, "No %s with oid %lld found",
                   serializer ? "serializer" : "deserializer", (long long)oid);
  return plugin_result(c, p);
}

static enum bh_err by_name(struct rpc_call *c, const char *param, bool serializer)
{
  const char *name;
  enum bh_err rc = rpc_param_string(c, param, &name);
  if (rc != BH_OK)
    return rc;
  for (size_t i = 0; name && i < plugin_def_count; i++)
    if (plugin_defs[i].is_serializer == serializer && strcmp(plugin_defs[i].name, name) == 0)
      return plugin_result(c, &plugin_defs[i]);
  return BH_OK;
}

static enum bh_err svc_get_deserializer_by_id(struct rpc_call *c)
{
  return by_oid(c, false);
}

static enum bh_err svc_get_serializer_by_id(struct rpc_call *c)
{
  return by_oid(c, true);
}

static enum bh_err svc_get_deserializer_by_name(struct rpc_call *c)
{
  return by_name(c, "deserializerName", false);
}

static enum bh_err svc_get_serializer_by_name(struct rpc_call *c)
{
  return by_name(c, "serializerName", true);
}

static enum bh_err svc_get_serializer_by_content_type(struct rpc_call *c)
{
  const char *ct;
  enum bh_err rc = rpc_param_string(c, "contentType", &ct);
  if (rc != BH_OK)
    return rc;
  for (size_t i = 0; ct && i < plugin_def_count; i++)
    if (plugin_defs[i].is_serializer && strcmp(plugin_defs[i].content_type, ct) == 0)
      return plugin_result(c, &plugin_defs[i]);
  return BH_OK;
}

static enum bh_err svc_get_suggested_deserializer(struct rpc_call *c)
{
  const char *ext;
  int64_t poid;
  struct project_rec p;
  enum bh_err rc = rpc_param_string(c, "extension", &ext);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_get_readable(c->m, &c->actor, poid, &p, &c->why);
  if (rc != BH_OK)
    return rc;
  if (ext && *ext == '.')
    ext++;
  const struct plugin_def *found = NULL;
  for (size_t i = 0; ext && !found && i < plugin_def_count; i++) {
    const struct plugin_def *d = &plugin_defs[i];
    if (!d->is_serializer && strcasecmp(d->extension, ext) == 0 &&
        plugin_supports_schema(d, p.schema))
      found = d;
  }
  project_rec_clear(&p);
  return plugin_result(c, found);
}

/* ---- downloads and long actions ---- */

/* Only the whole model can be served: bimhub keeps the file as it was checked in. */
/* One part of a query that selects every object with every field: includeAllFields true,
 * and at most an include naming a define (itself such a part). */
static bool all_fields_part(json_t *part, json_t *defines)
{
  if (!json_is_object(part) || !json_is_true(json_object_get(part, "includeAllFields")))
    return false;
  const char *key;
  json_t *v;
  json_object_foreach(part, key, v)
  {
    if (strcmp(key, "includeAllFields") == 0)
      continue;
    if (strcmp(key, "include") != 0 || !json_is_string(v) ||
        !json_object_get(defines, json_string_value(v)))
      return false;
  }
  return true;
}

/* The queries that mean the whole model: none, {}, {"includeAllFields":true}, and BIMvie.ws's
 * {"defines":{"AllFields":{"includeAllFields":true,"include":"AllFields"}},
 *  "queries":[{"includeAllFields":true,"include":"AllFields"}]} (defines optional). */
static bool whole_model_query(const char *query)
{
  if (!query || !*query)
    return true;
  json_t *q = json_loads(query, 0, NULL);
  bool whole = json_is_object(q);
  json_t *defines = whole ? json_object_get(q, "defines") : NULL;
  json_t *queries = whole ? json_object_get(q, "queries") : NULL;
  if (whole && json_object_size(q) == 0) {
    json_decref(q);
    return true;
  }
  if (whole && !queries) {
    whole = json_object_size(q) == 1 && json_is_true(json_object_get(q, "includeAllFields"));
    json_decref(q);
    return whole;
  }
  whole = whole && json_is_array(queries) && json_array_size(queries) > 0 &&
          (!defines || json_is_object(defines)) && json_object_size(q) == (size_t)(defines ? 2 : 1);
  const char *key;
  json_t *v;
  json_object_foreach(defines, key, v) whole = whole && all_fields_part(v, defines);
  size_t i;
  json_array_foreach(queries, i, v) whole = whole && all_fields_part(v, defines);
  json_decref(q);
  return whole;
}

static enum bh_err prepare_download(struct rpc_call *c, int64_t roid, int64_t serializer_oid)
{
  struct revision_rec r;
  enum bh_err rc = revision_get_readable(c->m, &c->actor, roid, &r, &c->why);
  if (rc != BH_OK)
    return rc;
  if (!actor_may_read_revision(c->m, &c->actor, &r)) {
    revision_rec_clear(&r);
    return bh_fail(&c->why, BH_DENIED, "No rights to download revision");
  }
  const struct plugin_def *s = plugin_of_config(c->m, c->actor.uoid, serializer_oid);
  if (!s || !s->is_serializer) {
    revision_rec_clear(&r);
    return bh_fail(&c->why, BH_NOTFOUND, "No serializer with oid %lld found",
                   (long long)serializer_oid);
  }
  if (!plugin_supports_schema(s, r.schema)) {
    rc = bh_fail(&c->why, BH_BADREQUEST, "Serializer %s cannot write models of schema %s", s->name,
                 r.schema);
    revision_rec_clear(&r);
    return rc;
  }
  struct project_rec p;
  char base[200] = "model";
  if (store_project_get(c->m->st, r.poid, &p) == BH_OK) {
    snprintf(base, sizeof base, "%s", p.name);
    project_rec_clear(&p);
  }
  struct topic_download d = {.roid = roid,
                             .zip = s->format == PLUGIN_STEP_ZIP,
                             .serializer_oid = serializer_oid,
                             .size = r.file_size};
  snprintf(d.blob, sizeof d.blob, "%s", r.blob);
  snprintf(d.file_name, sizeof d.file_name, "%s.%s", base, s->extension);
  snprintf(d.entry_name, sizeof d.entry_name, "%s.ifc", base);
  snprintf(d.content_type, sizeof d.content_type, "%s", s->content_type);
  revision_rec_clear(&r);
  int64_t topic;
  rc = topics_create(c->m->topics, TOPIC_SERVER, "DOWNLOAD", "Download", -1, -1, c->actor.uoid,
                     ACTOR_SOID(&c->actor), false, &topic);
  if (rc == BH_OK)
    rc = topics_set_download(c->m->topics, topic, &d);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Cannot prepare the download");
  /* the JS Model waits for exactly this title (spec §7.4) */
  topics_progress(c->m->topics, topic, "Done preparing", -1);
  return rpc_ok(c, json_integer(topic));
}

static enum bh_err svc_download(struct rpc_call *c)
{
  json_t *roids = json_object_get(c->params, "roids");
  const char *query;
  int64_t serializer;
  enum bh_err rc = rpc_param_string(c, "query", &query);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "serializerOid", &serializer);
  if (rc != BH_OK)
    return rc;
  if (!json_is_array(roids) || json_array_size(roids) == 0)
    return bh_fail(&c->why, BH_BADREQUEST, "roids must be a list of revision ids");
  if (json_array_size(roids) > 1)
    return bh_fail(&c->why, BH_BADREQUEST,
                   "Downloading several revisions at once is not supported yet");
  int64_t roid;
  if (!rpc_json_long(json_array_get(roids, 0), &roid))
    return bh_fail(&c->why, BH_BADREQUEST, "roids must be a list of revision ids");
  if (!whole_model_query(query))
    return bh_fail(&c->why, BH_BADREQUEST,
                   "Queries other than the whole model ({\"includeAllFields\":true}) are not "
                   "supported yet");
  return prepare_download(c, roid, serializer);
}

static enum bh_err svc_checkout(struct rpc_call *c)
{
  int64_t roid, serializer;
  enum bh_err rc = rpc_param_long(c, "roid", &roid);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "serializerOid", &serializer);
  return rc == BH_OK ? prepare_download(c, roid, serializer) : rc;
}

/* A topic of the caller's (admins: any). */
static enum bh_err own_topic(struct rpc_call *c, int64_t id, struct topic_info *t)
{
  if (topics_get(c->m->topics, id, t) != BH_OK ||
      !actor_owns(&c->actor, t->owner_uoid, t->owner_soid))
    return bh_fail(&c->why, BH_NOTFOUND, "No data found for topicId %lld", (long long)id);
  return BH_OK;
}

struct membuf {
  unsigned char *p;
  size_t len, cap;
};

static enum bh_err membuf_sink(void *arg, const void *data, size_t len)
{
  struct membuf *b = arg;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 65536;
    while (cap < b->len + len)
      cap *= 2;
    unsigned char *np = realloc(b->p, cap);
    if (!np)
      return BH_NOMEM;
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, len);
  b->len += len;
  return BH_OK;
}

/* The download's bytes in memory, zipped when the serializer says so. */
static enum bh_err read_download(struct rpc_call *c, const struct topic_download *d,
                                 struct membuf *out)
{
  if (d->size > c->rpc->cfg->max_download_data_bytes)
    return bh_fail(&c->why, BH_TOOBIG,
                   "The model is larger than %lld bytes: download it from /download",
                   (long long)c->rpc->cfg->max_download_data_bytes);
  uint64_t size;
  int fd = blob_open(c->m->blobs, d->blob, &size);
  if (fd < 0)
    return bh_fail(&c->why, BH_IO, "The model file is missing from the store");
  struct zip_writer *z = NULL;
  enum bh_err rc = d->zip ? zip_writer_new(&z, d->entry_name, time(NULL), membuf_sink, out) : BH_OK;
  unsigned char buf[65536];
  ssize_t n;
  while (rc == BH_OK && (n = read(fd, buf, sizeof buf)) > 0)
    rc = z ? zip_writer_write(z, buf, (size_t)n) : membuf_sink(out, buf, (size_t)n);
  if (rc == BH_OK && z)
    rc = zip_writer_finish(z);
  zip_writer_free(z);
  close(fd);
  return rc == BH_OK ? BH_OK : bh_fail(&c->why, rc, "Cannot read the model");
}

static enum bh_err svc_get_download_data(struct rpc_call *c)
{
  int64_t id;
  struct topic_info t;
  enum bh_err rc = rpc_param_long(c, "topicId", &id);
  if (rc == BH_OK)
    rc = own_topic(c, id, &t);
  if (rc == BH_OK && !t.has_download)
    rc = bh_fail(&c->why, BH_NOTFOUND, "No data found for topicId %lld", (long long)id);
  if (rc == BH_OK) {
    /* the rights that prepared it must still hold: a grant or a project right may be gone */
    struct revision_rec rr;
    rc = revision_get_readable(c->m, &c->actor, t.download.roid, &rr, &c->why);
    if (rc == BH_OK) {
      if (!actor_may_read_revision(c->m, &c->actor, &rr))
        rc = bh_fail(&c->why, BH_DENIED, "No rights to download revision");
      revision_rec_clear(&rr);
    }
  }
  if (rc != BH_OK)
    return rc;
  struct membuf b = {0};
  rc = read_download(c, &t.download, &b);
  char *text = rc == BH_OK ? malloc(bh_base64_encoded_len(b.len) + 1) : NULL;
  if (rc == BH_OK && !text)
    rc = bh_fail(&c->why, BH_NOMEM, "Out of memory");
  if (rc == BH_OK)
    bh_base64_encode(b.p, b.len, text);
  free(b.p);
  if (rc != BH_OK)
    return rc;
  struct revision_rec r;
  int64_t number = 0;
  char project[200] = "";
  if (store_revision_get(c->m->st, t.download.roid, &r) == BH_OK) {
    number = r.number;
    struct project_rec p;
    if (store_project_get(c->m->st, r.poid, &p) == BH_OK) {
      snprintf(project, sizeof project, "%s", p.name);
      project_rec_clear(&p);
    }
    revision_rec_clear(&r);
  }
  json_t *f = json_object();
  if (f) {
    sobj_std(f, -1, NULL);
    json_object_set_new(f, "file", json_string(text));
    json_object_set_new(f, "projectName", json_string(project));
    json_object_set_new(f, "revisionNr", json_integer(number));
    json_object_set_new(f, "serializerOid", json_integer(t.download.serializer_oid));
  }
  free(text);
  return rpc_ok(c, sobj_finish("SCheckoutResult", f));
}

static enum bh_err svc_cleanup_long_action(struct rpc_call *c)
{
  int64_t id;
  struct topic_info t;
  enum bh_err rc = rpc_param_long(c, "topicId", &id);
  if (rc != BH_OK)
    return rc;
  /* unknown ids are ignored silently, as BIMserver does */
  if (own_topic(c, id, &t) == BH_OK) {
    checkins_forget_topic(c->rpc->checkins, id); /* an initiated check-in frees its project */
    topics_remove(c->m->topics, id);
  }
  return BH_OK;
}

static enum bh_err svc_terminate_long_running_action(struct rpc_call *c)
{
  int64_t id;
  struct topic_info t;
  enum bh_err rc = rpc_param_long(c, "topicId", &id);
  if (rc == BH_OK)
    rc = own_topic(c, id, &t);
  /* BIMserver only logs this; running check-ins finish or fail on their own here too */
  return rc;
}

/* ---- what the reader recorded ---- */

/* The container of a type in BIMserver's revision summary. BIMserver classifies by the
 * IFC2X3 inheritance tree; bimhub by names: relationships are IfcRel*, objects are the
 * rooted entities that are neither relationships, types, property definitions nor
 * geometry/representation items. */
static const char *summary_group(const char *type)
{
  if (strncmp(type, "IFCREL", 6) == 0)
    return "IFC Relations";
  static const char *const objects[] = {
      "IFCPROJECT",
      "IFCSITE",
      "IFCBUILDING",
      "IFCBUILDINGSTOREY",
      "IFCSPACE",
      "IFCWALL",
      "IFCWALLSTANDARDCASE",
      "IFCDOOR",
      "IFCWINDOW",
      "IFCSLAB",
      "IFCROOF",
      "IFCSTAIR",
      "IFCSTAIRFLIGHT",
      "IFCRAMP",
      "IFCRAMPFLIGHT",
      "IFCBEAM",
      "IFCCOLUMN",
      "IFCMEMBER",
      "IFCPLATE",
      "IFCRAILING",
      "IFCCOVERING",
      "IFCCURTAINWALL",
      "IFCFOOTING",
      "IFCPILE",
      "IFCOPENINGELEMENT",
      "IFCFURNISHINGELEMENT",
      "IFCFLOWTERMINAL",
      "IFCFLOWSEGMENT",
      "IFCFLOWFITTING",
      "IFCFLOWCONTROLLER",
      "IFCBUILDINGELEMENTPROXY",
      "IFCZONE",
      "IFCGROUP",
      "IFCSYSTEM",
      "IFCGRID",
      "IFCANNOTATION",
      "IFCVIRTUALELEMENT",
      "IFCDISTRIBUTIONPORT",
      "IFCPROXY",
      "IFCELEMENTASSEMBLY",
      "IFCSLABSTANDARDCASE",
      "IFCDOORSTANDARDCASE",
      "IFCWINDOWSTANDARDCASE",
      "IFCACTOR",
      "IFCTASK",
      "IFCPROCEDURE",
      "IFCEVENT",
      "IFCCOSTITEM",
      "IFCSPATIALZONE",
      "IFCEXTERNALSPATIALELEMENT",
      "IFCFASTENER",
      "IFCMECHANICALFASTENER",
      "IFCREINFORCINGBAR",
      "IFCREINFORCINGMESH",
      "IFCTENDON",
      "IFCFLOWSTORAGEDEVICE",
      "IFCFLOWMOVINGDEVICE",
      "IFCFLOWTREATMENTDEVICE",
      "IFCENERGYCONVERSIONDEVICE",
      "IFCDISTRIBUTIONCONTROLELEMENT",
      "IFCDISTRIBUTIONFLOWELEMENT",
      "IFCDISCRETEACCESSORY",
      "IFCSHADINGDEVICE",
      "IFCCHIMNEY",
      "IFCBEAMSTANDARDCASE",
      "IFCCOLUMNSTANDARDCASE",
      "IFCMEMBERSTANDARDCASE",
      "IFCPLATESTANDARDCASE",
  };
  for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
    if (strcmp(type, objects[i]) == 0)
      return "IFC Entities";
  return "Rest";
}

static enum bh_err svc_get_revision_summary(struct rpc_call *c)
{
  int64_t roid;
  struct revision_rec r;
  enum bh_err rc = rpc_param_long(c, "roid", &roid);
  if (rc == BH_OK)
    rc = revision_get_readable(c->m, &c->actor, roid, &r, &c->why);
  if (rc != BH_OK)
    return rc;
  struct type_count *types = NULL;
  size_t n = 0;
  rc = store_revision_types(c->m->st, roid, &types, &n);
  if (rc != BH_OK) {
    revision_rec_clear(&r);
    return bh_fail(&c->why, rc, "Database error");
  }
  static const char *const groups[] = {"IFC Entities", "IFC Relations", "IFC Primitives", "Rest"};
  json_t *list = json_array();
  for (size_t g = 0; list && g < 4; g++) {
    json_t *ts = json_array();
    for (size_t i = 0; ts && i < n; i++) {
      if (strcmp(summary_group(types[i].type), groups[g]) != 0)
        continue;
      json_t *t = json_object();
      sobj_std(t, -1, NULL);
      json_object_set_new(t, "count", json_integer(types[i].count));
      /* as the file writes it (IFCWALL); BIMserver's class names are mixed case */
      json_object_set_new(t, "name", json_string(types[i].type));
      json_object_set_new(t, "schema", json_string(r.schema));
      json_array_append_new(ts, sobj_finish("SRevisionSummaryType", t));
    }
    json_t *cont = json_object();
    sobj_std(cont, -1, NULL);
    json_object_set_new(cont, "name", json_string(groups[g]));
    json_object_set_new(cont, "types", ts);
    json_array_append_new(list, sobj_finish("SRevisionSummaryContainer", cont));
  }
  for (size_t i = 0; i < n; i++)
    free(types[i].type);
  free(types);
  revision_rec_clear(&r);
  json_t *f = json_object();
  if (f) {
    sobj_std(f, -1, NULL);
    json_object_set_new(f, "list", list);
  } else {
    json_decref(list);
  }
  return rpc_ok(c, sobj_finish("SRevisionSummary", f));
}

static enum bh_err svc_get_ifc_header(struct rpc_call *c)
{
  int64_t croid;
  struct revision_rec r;
  enum bh_err rc = rpc_param_long(c, "croid", &croid); /* one concrete revision per revision */
  if (rc == BH_OK)
    rc = revision_get_readable(c->m, &c->actor, croid, &r, &c->why);
  if (rc != BH_OK)
    return rc;
  json_t *h = r.header_json ? json_loads(r.header_json, 0, NULL) : NULL;
  revision_rec_clear(&r);
  if (!h)
    return BH_OK; /* null: {} */
  json_t *ts = json_object_get(h, "timeStamp");
  int64_t ms = json_is_string(ts) ? sobj_parse_time(json_string_value(ts)) : -1;
  json_object_set_new(h, "timeStamp", ms >= 0 ? json_integer(ms) : json_null());
  sobj_std(h, -1, NULL);
  return rpc_ok(c, sobj_finish("SIfcHeader", h));
}

static enum bh_err svc_determine_ifc_version(struct rpc_call *c)
{
  const char *head;
  bool zipped;
  enum bh_err rc = rpc_param_string(c, "head", &head);
  if (rc == BH_OK)
    rc = rpc_param_bool(c, "zipped", &zipped);
  if (rc != BH_OK)
    return rc;
  if (!head)
    return bh_fail(&c->why, BH_BADREQUEST, "head cannot be null");
  if (zipped)
    return bh_fail(&c->why, BH_BADREQUEST,
                   "Determining the schema of a zipped head is not "
                   "supported yet: send the start of the .ifc file");
  size_t len = strlen(head);
  unsigned char *bytes = malloc(len / 4 * 3 + 3);
  size_t n = 0;
  if (!bytes || !bh_base64_decode(head, len, bytes, &n)) {
    free(bytes);
    return bh_fail(&c->why, BH_BADREQUEST, "head is not valid Base64");
  }
  struct ifc_reader *r = ifc_reader_new(NULL);
  if (r)
    ifc_reader_feed(r, bytes, n); /* the start of a file: an error past the header is fine */
  free(bytes);
  const char *id = r ? ifc_reader_schema(r) : NULL;
  const char *schema = id ? ifc_schema_normalize(id) : NULL;
  char upper[16] = "";
  for (size_t i = 0; schema && schema[i] && i + 1 < sizeof upper; i++)
    upper[i] = (char)(schema[i] >= 'a' && schema[i] <= 'z' ? schema[i] - 32 : schema[i]);
  ifc_reader_free(r);
  if (!schema)
    return bh_fail(&c->why, BH_BADREQUEST, "No schema detected");
  return rpc_ok(c, json_string(upper));
}

#define CHECKIN_PARAMS(...)                                                                        \
  RPC_PARAMS(__VA_ARGS__{"poid", "Long"}, {"comment", "String"}, {"deserializerOid", "Long"},      \
             {"fileSize", "Long"}, {"fileName", "String"}, {"data", "DataHandler"},                \
             {"merge", "Boolean", true})

static const struct rpc_method checkin_methods[] = {
    {"checkin",
     RPC_PARAMS({"poid", "Long"}, {"comment", "String"}, {"deserializerOid", "Long"},
                {"fileSize", "Long"}, {"fileName", "String"}, {"data", "DataHandler"},
                {"merge", "Boolean", true}, {"sync", "Boolean"}),
     "Long", RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), RPC_BLOCKING,
     svc_checkin_legacy,
     "Former name of checkinSync/checkinAsync (by sync); returns the topicId either way"},
    {"checkinFromUrl",
     RPC_PARAMS({"poid", "Long"}, {"comment", "String"}, {"deserializerOid", "Long"},
                {"fileName", "String"}, {"url", "String"}, {"merge", "Boolean", true},
                {"sync", "Boolean"}),
     "Long", RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), RPC_BLOCKING,
     svc_checkin_from_url_legacy,
     "Former name of checkinFromUrlSync/checkinFromUrlAsync (by sync); returns the topicId"},
    {"checkinAsync", CHECKIN_PARAMS(), "Long",
     RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), 0, svc_checkin_async,
     "Checks in a Base64 model; returns the topicId at once"},
    {"checkinFromUrlAsync",
     RPC_PARAMS({"poid", "Long"}, {"comment", "String"}, {"deserializerOid", "Long"},
                {"fileName", "String"}, {"url", "String"}, {"merge", "Boolean", true}),
     "Long", RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), 0, svc_checkin_from_url_async,
     "Checks in a model fetched from a URL"},
    {"checkinFromUrlSync",
     RPC_PARAMS({"poid", "Long"}, {"comment", "String"}, {"deserializerOid", "Long"},
                {"fileName", "String"}, {"url", "String"}, {"merge", "Boolean", true}),
     "SLongCheckinActionState", RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION),
     RPC_BLOCKING, svc_checkin_from_url_sync,
     "Checks in a model fetched from a URL and waits for the end"},
    {"checkinInitiatedAsync", CHECKIN_PARAMS({"topicId", "Long"}, ), "Long",
     RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), 0, svc_checkin_initiated_async,
     "Checks in on a topic from initiateCheckin"},
    {"checkinInitiatedSync", CHECKIN_PARAMS({"topicId", "Long"}, ), "SLongCheckinActionState",
     RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), RPC_BLOCKING,
     svc_checkin_initiated_sync, "Checks in on an initiated topic and waits"},
    {"checkinSync", CHECKIN_PARAMS(), "SLongCheckinActionState",
     RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), RPC_BLOCKING, svc_checkin_sync,
     "Checks in a Base64 model and waits for the end"},
    {"checkout", RPC_PARAMS({"roid", "Long"}, {"serializerOid", "Long"}, {"sync", "Boolean"}),
     "Long", RPC_ON(PROJECT_READ, REVISION, "roid", READ_REVISION), 0, svc_checkout,
     "Prepares the download of one revision"},
    {"cleanupLongAction", RPC_PARAMS({"topicId", "Long"}), "void",
     RPC_ON(OWNER, TOPIC, "topicId", OWNER), 0, svc_cleanup_long_action,
     "Drops a long action and its topic"},
    {"determineIfcVersion", RPC_PARAMS({"head", "byte[]"}, {"zipped", "Boolean"}), "String",
     RPC_WHO(USER, OWNER), 0, svc_determine_ifc_version,
     "The schema named in the start of an IFC file"},
    {"download",
     RPC_PARAMS({"roids", "Set<Long>"}, {"query", "String", true}, {"serializerOid", "Long"},
                {"sync", "Boolean"}),
     "Long", RPC_ON(PROJECT_READ, REVISION, "roids", READ_REVISION), 0, svc_download,
     "Prepares the download of a revision (whole model)"},
    {"getAllRevisionsOfProject", RPC_PARAMS({"poid", "Long"}), "List<SRevision>",
     RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0, svc_get_all_revisions_of_project,
     "Revisions of a project, oldest first"},
    {"getDeserializerById", RPC_PARAMS({"oid", "Long"}), "SDeserializerPluginConfiguration",
     RPC_WHO(USER, NONE), 0, svc_get_deserializer_by_id, "One of the caller's deserializers"},
    {"getDeserializerByName", RPC_PARAMS({"deserializerName", "String"}),
     "SDeserializerPluginConfiguration", RPC_WHO(USER, OWNER), 0, svc_get_deserializer_by_name,
     "A deserializer by its name, or null"},
    {"getDownloadData", RPC_PARAMS({"topicId", "Long"}), "SDownloadResult",
     RPC_ON(OWNER, TOPIC, "topicId", OWNER), 0, svc_get_download_data,
     "A prepared download in Base64"},
    {"getIfcHeader", RPC_PARAMS({"croid", "Long"}), "SIfcHeader",
     RPC_ON(PROJECT_READ, REVISION, "croid", OWNER), 0, svc_get_ifc_header,
     "The IFC header of a revision's file"},
    {"getRevision", RPC_PARAMS({"roid", "Long"}), "SRevision",
     RPC_ON(PROJECT_READ, REVISION, "roid", OWNER), 0, svc_get_revision, "One revision"},
    {"getRevisionSummary", RPC_PARAMS({"roid", "Long"}), "SRevisionSummary",
     RPC_ON(PROJECT_READ, REVISION, "roid", OWNER), 0, svc_get_revision_summary,
     "Object counts per type of a revision"},
    {"getSerializerByContentType", RPC_PARAMS({"contentType", "String"}),
     "SSerializerPluginConfiguration", RPC_WHO(USER, OWNER), 0, svc_get_serializer_by_content_type,
     "The first serializer making that content type, or null"},
    {"getSerializerById", RPC_PARAMS({"oid", "Long"}), "SSerializerPluginConfiguration",
     RPC_WHO(USER, OWNER), 0, svc_get_serializer_by_id, "One of the caller's serializers"},
    {"getSerializerByName", RPC_PARAMS({"serializerName", "String"}),
     "SSerializerPluginConfiguration", RPC_WHO(USER, OWNER), 0, svc_get_serializer_by_name,
     "A serializer by its name, or null"},
    {"getSuggestedDeserializerForExtension", RPC_PARAMS({"extension", "String"}, {"poid", "Long"}),
     "SDeserializerPluginConfiguration", RPC_ON(PROJECT_READ, PROJECT, "poid", OWNER), 0,
     svc_get_suggested_deserializer,
     "A deserializer for a file extension and the project's schema, or null"},
    {"initiateCheckin", RPC_PARAMS({"poid", "Long"}, {"deserializerOid", "Long"}), "Long",
     RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), 0, svc_initiate_checkin,
     "Reserves the project for a check-in; returns its topicId"},
    {"setRevisionTag", RPC_PARAMS({"roid", "Long"}, {"tag", "String"}), "void",
     RPC_ON(PROJECT_WRITE, REVISION, "roid", NONE), 0, svc_set_revision_tag, "Tags a revision"},
    {"terminateLongRunningAction", RPC_PARAMS({"topicId", "Long"}), "void",
     RPC_ON(OWNER, TOPIC, "topicId", OWNER), 0, svc_terminate_long_running_action,
     "Accepted for a known topic; has no effect"},
    {"updateRevision", RPC_PARAMS({"sRevision", "SRevision"}), "void",
     RPC_ON(PROJECT_WRITE, REVISION, "sRevision.oid", NONE), 0, svc_update_revision,
     "Changes a revision's comment and tag"},
};

RPC_IFACE(rpc_iface_service_checkin, "ServiceInterface", checkin_methods);

/* ---- Bimsie1ServiceInterface: the 1.3/1.4 signatures ----
 *
 * A call through a Bimsie1* interface name finds its method here first, then in the
 * interface of the same name without the prefix (dispatch.c). These rows are the methods
 * whose 1.3 or 1.4 parameters differ from those of 1.5; each has the access rule of the
 * method it stands for. */

/* Runs the ServiceInterface method of that name on the call as it is now. */
static enum bh_err run_as(struct rpc_call *c, const char *name)
{
  const struct rpc_method *m = rpc_find_method(&rpc_iface_service, name);
  if (!m)
    return bh_fail(&c->why, BH_INTERNAL, "Method %s not found on ServiceInterface", name);
  return m->fn(c);
}

/* Sets a parameter the 1.5 method reads (the call's parameters are its own). */
static enum bh_err set_param(struct rpc_call *c, const char *name, json_t *v)
{
  if (!v)
    return bh_fail(&c->why, BH_BADREQUEST, "Parameter %s must not be null", name);
  return json_object_set_new(c->params, name, v) == 0
             ? BH_OK
             : bh_fail(&c->why, BH_NOMEM, "Server out of memory");
}

static bool param_given(struct rpc_call *c, const char *name)
{
  json_t *v = json_object_get(c->params, name);
  return v && !json_is_null(v);
}

/* 1.3: addProject(projectName), when IFC2x3 was the only schema. */
static enum bh_err b1_add_project(struct rpc_call *c)
{
  enum bh_err rc =
      param_given(c, "schema") ? BH_OK : set_param(c, "schema", json_string("ifc2x3tc1"));
  return rc == BH_OK ? run_as(c, "addProject") : rc;
}

/* 1.3: addProjectAsSubProject(projectName, parentPoid): the parent's schema. */
static enum bh_err b1_add_project_as_sub_project(struct rpc_call *c)
{
  enum bh_err rc = BH_OK;
  int64_t parent;
  struct project_rec p;
  if (!param_given(c, "schema") && rpc_param_long(c, "parentPoid", &parent) == BH_OK &&
      store_project_get(c->m->st, parent, &p) == BH_OK) {
    rc = set_param(c, "schema", json_string(p.schema ? p.schema : "ifc2x3tc1"));
    project_rec_clear(&p);
  }
  return rc == BH_OK ? run_as(c, "addProjectAsSubProject") : rc;
}

/* 1.3: getSuggestedDeserializerForExtension(extension): with no project, the first
 * deserializer for the extension (IFC2x3's for "ifc"). */
static enum bh_err b1_get_suggested_deserializer(struct rpc_call *c)
{
  if (param_given(c, "poid"))
    return svc_get_suggested_deserializer(c);
  const char *ext;
  enum bh_err rc = rpc_param_string(c, "extension", &ext);
  if (rc != BH_OK)
    return rc;
  if (ext && *ext == '.')
    ext++;
  for (size_t i = 0; ext && i < plugin_def_count; i++)
    if (!plugin_defs[i].is_serializer && strcasecmp(plugin_defs[i].extension, ext) == 0)
      return plugin_result(c, &plugin_defs[i]);
  return BH_OK;
}

/* 1.4: download(roid, serializerOid, showOwn, sync): one revision, the whole model. */
static enum bh_err b1_download(struct rpc_call *c)
{
  return svc_checkout(c);
}

/* 1.4 named the topic actionId. */
static enum bh_err b1_get_download_data(struct rpc_call *c)
{
  enum bh_err rc = set_param(c, "topicId", json_incref(json_object_get(c->params, "actionId")));
  return rc == BH_OK ? svc_get_download_data(c) : rc;
}

static enum bh_err b1_terminate_long_running_action(struct rpc_call *c)
{
  enum bh_err rc = set_param(c, "topicId", json_incref(json_object_get(c->params, "actionId")));
  return rc == BH_OK ? svc_terminate_long_running_action(c) : rc;
}

static const struct rpc_method bimsie1_methods[] = {
    {"addProject", RPC_PARAMS({"projectName", "String"}, {"schema", "String", true}), "SProject",
     RPC_WHO(TOP_LEVEL, NONE), 0, b1_add_project,
     "1.3: without schema, an IFC2x3 project; otherwise as ServiceInterface.addProject"},
    {"addProjectAsSubProject",
     RPC_PARAMS({"projectName", "String"}, {"parentPoid", "Long"}, {"schema", "String", true}),
     "SProject", RPC_ON(PROJECT_WRITE, PROJECT, "parentPoid", NONE), 0,
     b1_add_project_as_sub_project, "1.3: without schema, the parent's"},
    {"checkin",
     RPC_PARAMS({"poid", "Long"}, {"comment", "String"}, {"deserializerOid", "Long"},
                {"fileSize", "Long"}, {"fileName", "String"}, {"data", "DataHandler"},
                {"sync", "Boolean"}),
     "Long", RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), RPC_BLOCKING,
     svc_checkin_legacy, "1.4: checks in a Base64 model; returns the topicId either way"},
    {"checkinFromUrl",
     RPC_PARAMS({"poid", "Long"}, {"comment", "String"}, {"deserializerOid", "Long"},
                {"fileName", "String"}, {"url", "String"}, {"sync", "Boolean"}),
     "Long", RPC_ON(PROJECT_WRITE, PROJECT, "poid", WRITE_REVISION), RPC_BLOCKING,
     svc_checkin_from_url_legacy, "1.4: checks in a model fetched from a URL; the topicId"},
    {"download",
     RPC_PARAMS({"roid", "Long"}, {"serializerOid", "Long"}, {"showOwn", "Boolean", true},
                {"sync", "Boolean"}),
     "Long", RPC_ON(PROJECT_READ, REVISION, "roid", READ_REVISION), 0, b1_download,
     "1.4: prepares the download of one revision (whole model); returns its topicId"},
    {"getDownloadData", RPC_PARAMS({"actionId", "Long"}), "SDownloadResult",
     RPC_ON(OWNER, TOPIC, "actionId", OWNER), 0, b1_get_download_data,
     "1.4: getDownloadData(topicId) under its old parameter name"},
    {"getSuggestedDeserializerForExtension",
     RPC_PARAMS({"extension", "String"}, {"poid", "Long", true}),
     "SDeserializerPluginConfiguration", RPC_ON(PROJECT_READ, PROJECT, "poid", OWNER), 0,
     b1_get_suggested_deserializer,
     "1.3: without poid, the first deserializer for the extension; with it, as 1.4 and 1.5"},
    {"terminateLongRunningAction", RPC_PARAMS({"actionId", "Long"}), "void",
     RPC_ON(OWNER, TOPIC, "actionId", OWNER), 0, b1_terminate_long_running_action,
     "1.4: terminateLongRunningAction(topicId) under its old parameter name"},
};

RPC_IFACE(rpc_iface_bimsie1_service, "Bimsie1ServiceInterface", bimsie1_methods);
