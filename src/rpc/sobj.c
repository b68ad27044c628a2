/* sobj.c: encoders of the S-objects bimhub sends. Field lists follow spec §5. */
#include "rpc/sobj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/topics.h"
#include "checkin/checkin.h"
#include "config/config.h"
#include "model/plugins.h"

static int key_cmp(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *sobj_finish(const char *type, json_t *fields)
{
  if (!fields)
    return NULL;
  size_t n = json_object_size(fields);
  const char **keys = malloc((n ? n : 1) * sizeof *keys);
  json_t *out = json_object();
  if (!keys || !out) {
    free(keys);
    json_decref(out);
    json_decref(fields);
    return NULL;
  }
  size_t k = 0;
  const char *key;
  json_t *v;
  json_object_foreach(fields, key, v) keys[k++] = key;
  qsort(keys, k, sizeof *keys, key_cmp);
  int rc = json_object_set_new(out, "__type", json_string(type));
  for (size_t i = 0; rc == 0 && i < k; i++)
    rc = json_object_set(out, keys[i], json_object_get(fields, keys[i]));
  free(keys);
  json_decref(fields);
  if (rc != 0) {
    json_decref(out);
    return NULL;
  }
  return out;
}

void sobj_std(json_t *f, int64_t oid, const char *uuid)
{
  json_object_set_new(f, "oid", json_integer(oid));
  json_object_set_new(f, "rid", json_integer(oid == -1 ? 0 : 1));
  json_object_set_new(f, "uuid", sobj_text(uuid));
}

json_t *sobj_text(const char *s)
{
  return s ? json_string(s) : json_null();
}

json_t *sobj_ids(const int64_t *ids, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, json_integer(ids[i]));
  return a;
}

static json_t *nullable_ms(int64_t ms)
{
  return ms > 0 ? json_integer(ms) : json_null();
}

json_t *sobj_user(struct model *m, const struct user_rec *u)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  int64_t *rights = NULL;
  size_t nrights = 0;
  store_rights_of_user(m->st, u->uoid, &rights, &nrights);
  sobj_std(f, u->uoid, u->uuid[0] ? u->uuid : NULL);
  json_object_set_new(f, "createdById", json_integer(u->created_by));
  json_object_set_new(f, "createdOn", nullable_ms(u->created_ms));
  json_object_set_new(f, "extendedData", json_array());
  json_object_set_new(f, "hasRightsOn", sobj_ids(rights, nrights));
  json_object_set_new(f, "lastSeen", nullable_ms(u->last_seen_ms));
  json_object_set_new(f, "logs", json_array());
  json_object_set_new(f, "name", sobj_text(u->name));
  json_object_set_new(f, "oAuthAuthorizationCodes", json_array());
  json_object_set_new(f, "oAuthIssuedAuthorizationCodes", json_array());
  /* BIMserver sends the hash, salt and validation token; we never do (spec §10). */
  json_object_set_new(f, "passwordHash", json_null());
  json_object_set_new(f, "passwordSalt", json_null());
  json_object_set_new(f, "schemas", json_array());
  json_object_set_new(f, "services", json_array());
  json_object_set_new(f, "state", json_string(u->state == STATE_DELETED ? "DELETED" : "ACTIVE"));
  json_object_set_new(f, "token", json_null());
  json_object_set_new(f, "userSettingsId", json_integer(-1));
  json_object_set_new(f, "userType", json_string(user_type_name((enum user_type)u->type)));
  json_object_set_new(f, "username", sobj_text(u->username));
  json_object_set_new(f, "validationToken", json_null());
  json_object_set_new(f, "validationTokenCreated", json_null());
  free(rights);
  return sobj_finish("SUser", f);
}

json_t *sobj_project(struct model *m, const struct project_rec *p)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  int64_t *users = NULL;
  size_t nusers = 0;
  store_rights_of_project(m->st, p->poid, &users, &nusers);
  struct project_list kids = {0};
  store_project_children(m->st, p->poid, &kids);
  int64_t *kid_ids = kids.n ? malloc(kids.n * sizeof *kid_ids) : NULL;
  size_t nkids = 0;
  for (size_t i = 0; kid_ids && i < kids.n; i++)
    kid_ids[nkids++] = kids.v[i].poid;
  project_list_clear(&kids);

  int64_t *eds = NULL, *revs = NULL;
  size_t neds = 0, nrevs = 0;
  store_ed_ids_of_project(m->st, p->poid, &eds, &neds);
  store_revision_ids(m->st, p->poid, &revs, &nrevs);
  sobj_std(f, p->poid, NULL);
  json_object_set_new(f, "checkinInProgress",
                      json_integer(checkins_topic_of_project(m->checkins, p->poid)));
  json_object_set_new(f, "checkouts", json_array());
  json_object_set_new(f, "concreteRevisions", sobj_ids(revs, nrevs));
  json_object_set_new(f, "createdById", json_integer(p->created_by));
  json_object_set_new(f, "createdDate", nullable_ms(p->created_ms));
  json_object_set_new(f, "description", sobj_text(p->description));
  json_object_set_new(f, "exportLengthMeasurePrefix",
                      json_string(p->export_prefix ? p->export_prefix : "meter"));
  json_object_set_new(f, "extendedData", sobj_ids(eds, neds));
  json_object_set_new(f, "geoTagId", json_integer(-1));
  json_object_set_new(f, "hasAuthorizedUsers", sobj_ids(users, nusers));
  json_object_set_new(f, "id", json_integer(p->number));
  int64_t last = nrevs ? revs[nrevs - 1] : -1;
  json_object_set_new(f, "lastConcreteRevisionId", json_integer(last));
  json_object_set_new(f, "lastRevisionId", json_integer(last));
  json_object_set_new(f, "logs", json_array());
  json_object_set_new(f, "modelCheckers", json_array());
  json_object_set_new(f, "name", sobj_text(p->name));
  json_object_set_new(f, "newServices", json_array());
  json_object_set_new(f, "parentId", json_integer(p->parent));
  json_object_set_new(f, "revisions", sobj_ids(revs, nrevs));
  json_object_set_new(f, "schema", sobj_text(p->schema));
  json_object_set_new(f, "sendEmailOnNewRevision", json_boolean(p->send_email_on_new_revision));
  int64_t *svcs = NULL;
  size_t nsvcs = 0;
  store_service_ids(m->st, p->poid, &svcs, &nsvcs);
  json_object_set_new(f, "services", sobj_ids(svcs, nsvcs));
  free(svcs);
  json_object_set_new(f, "state", json_string(p->state == STATE_DELETED ? "DELETED" : "ACTIVE"));
  json_object_set_new(f, "subProjects", sobj_ids(kid_ids, nkids));
  free(users);
  free(kid_ids);
  free(eds);
  free(revs);
  return sobj_finish("SProject", f);
}

json_t *sobj_project_small(struct model *m, const struct actor *who, const struct project_rec *p)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  int64_t *revs = NULL;
  size_t nrevs = 0;
  store_revision_ids(m->st, p->poid, &revs, &nrevs);
  struct project_list kids = {0};
  store_project_children(m->st, p->poid, &kids);
  sobj_std(f, p->poid, NULL);
  json_object_set_new(f, "hasCheckinRights", json_boolean(project_can_write(m, who, p)));
  json_object_set_new(f, "lastRevisionId", json_integer(nrevs ? revs[nrevs - 1] : -1));
  json_object_set_new(f, "name", sobj_text(p->name));
  json_object_set_new(f, "nrRevisions", json_integer((json_int_t)nrevs));
  json_object_set_new(f, "nrSubProjects", json_integer((json_int_t)kids.n));
  json_object_set_new(f, "parentId", json_integer(p->parent));
  json_object_set_new(f, "schema", sobj_text(p->schema));
  json_object_set_new(f, "state", json_string(p->state == STATE_DELETED ? "DELETED" : "ACTIVE"));
  project_list_clear(&kids);
  free(revs);
  return sobj_finish("SProjectSmall", f);
}

json_t *sobj_version(void)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  /* BH_VERSION is "major.minor.revision", fixed at build time */
  const char *p = BH_VERSION;
  char *end;
  long major = strtol(p, &end, 10);
  long minor = *end == '.' ? strtol(end + 1, &end, 10) : 0;
  long rev = *end == '.' ? strtol(end + 1, &end, 10) : 0;
  sobj_std(f, -1, NULL);
  json_object_set_new(f, "date", json_null());
  json_object_set_new(f, "downloadUrl", json_null());
  json_object_set_new(f, "fullString", json_string(BH_VERSION));
  json_object_set_new(f, "major", json_integer(major));
  json_object_set_new(f, "minor", json_integer(minor));
  json_object_set_new(f, "revision", json_integer(rev));
  json_object_set_new(f, "supportEmail", json_null());
  json_object_set_new(f, "supportUrl", json_null());
  return sobj_finish("SVersion", f);
}

json_t *sobj_server_info(struct model *m)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  sobj_std(f, -1, m->server_uuid);
  json_object_set_new(f, "errorMessage", json_null());
  json_object_set_new(
      f, "serverState",
      json_string(model_server_state(m) == SERVER_RUNNING ? "RUNNING" : "NOT_SETUP"));
  json_object_set_new(f, "version", sobj_version());
  return sobj_finish("SServerInfo", f);
}

/* The boolean settings bimhub keeps, with BIMserver's defaults. */
static const struct {
  const char *name;
  bool def;
} bool_settings[] = {
    {"allowSelfRegistration", false},    {"allowUsersToCreateTopLevelProjects", false},
    {"hideUserListForNonAdmin", false},  {"sendConfirmationEmailAfterRegistration", false},
    {"checkinMergingEnabled", false},    {"generateGeometryOnCheckin", false},
    {"cacheOutputFiles", false},         {"pluginStrictVersionChecking", false},
    {"allowOnlyWhitelisted", false},     {"sendEmailOnNewRevision", false},
    {"allowCreateValidatedUser", false}, {"reuseGeometry", false},
    {"storeLastLogin", false},           {"storeServiceRuns", false},
    {"optimizeMappedItems", false},
};

json_t *sobj_server_settings(struct model *m)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  sobj_std(f, -1, NULL);
  for (size_t i = 0; i < sizeof bool_settings / sizeof bool_settings[0]; i++)
    json_object_set_new(
        f, bool_settings[i].name,
        json_boolean(model_setting_bool(m, bool_settings[i].name, bool_settings[i].def)));
  static const char *const texts[] = {"smtpServer",      "emailSenderAddress",
                                      "emailSenderName", "serviceRepositoryUrl",
                                      "smtpUsername",    "name",
                                      "description",     "icon"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    char *v = model_setting_text(m, texts[i]);
    json_object_set_new(f, texts[i], sobj_text(v));
    free(v);
  }
  char *site = model_site_address(m);
  json_object_set_new(f, "siteAddress", sobj_text(site));
  free(site);
  json_object_set_new(f, "smtpPassword", json_null()); /* a secret: never sent */
  json_object_set_new(f, "whitelistedDomains", json_array());
  json_object_set_new(f, "protocolBuffersPort", json_integer(0));
  json_object_set_new(f, "webModules", json_array());
  json_object_set_new(f, "webModuleId", json_integer(-1));
  json_object_set_new(f, "sessionTimeOutSeconds", json_integer(m->cfg->token_lifetime_s));
  json_object_set_new(f, "smtpPort", json_integer(25));
  json_object_set_new(f, "smtpProtocol", json_string("SMTP"));
  json_object_set_new(f, "renderEngineProcesses", json_integer(0));
  json_object_set_new(f, "defaultRenderEnginePluginId", json_integer(-1));
  return sobj_finish("SServerSettings", f);
}

json_t *sobj_user_settings(struct model *m, int64_t uoid)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  json_t *ser = json_array(), *deser = json_array();
  int64_t default_serializer = -1;
  for (size_t i = 0; i < plugin_def_count; i++) {
    int64_t oid;
    if (plugin_config_oid(m, uoid, &plugin_defs[i], &oid) != BH_OK)
      continue;
    if (plugin_defs[i].is_serializer) {
      json_array_append_new(ser, json_integer(oid));
      if (default_serializer == -1)
        default_serializer = oid; /* the first one, as getDefaultSerializer */
    } else {
      json_array_append_new(deser, json_integer(oid));
    }
  }
  sobj_std(f, -1, NULL);
  static const char *const ids[] = {"defaultModelCompareId", "defaultModelMergerId",
                                    "defaultObjectIDMId", "defaultQueryEngineId",
                                    "defaultRenderEngineId"};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    json_object_set_new(f, ids[i], json_integer(-1));
  json_object_set_new(f, "defaultSerializerId", json_integer(default_serializer));
  json_object_set_new(f, "deserializers", deser);
  json_object_set_new(f, "serializers", ser);
  static const char *const lists[] = {"modelCompares", "modelMergers",  "objectIDMs",
                                      "queryEngines",  "renderEngines", "services"};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
    json_object_set_new(f, lists[i], json_array());
  return sobj_finish("SUserSettings", f);
}

json_t *sobj_long_action_state(const struct topic_info *t)
{
  if (!t->has_state)
    return json_object(); /* nothing sent yet: BIMserver's getProgress gives {} */
  const struct topic_state *s = &t->state;
  json_t *f = json_object();
  if (!f)
    return NULL;
  sobj_std(f, -1, NULL);
  json_object_set_new(f, "end", nullable_ms(s->end_ms));
  json_t *errors = json_array();
  if (s->error[0])
    json_array_append_new(errors, json_string(s->error));
  json_object_set_new(f, "errors", errors);
  json_object_set_new(f, "infos", json_array());
  json_object_set_new(f, "progress", json_integer(s->progress));
  json_object_set_new(f, "stage", json_integer(s->stage));
  json_object_set_new(f, "start", nullable_ms(s->start_ms));
  json_object_set_new(f, "state", json_string(action_state_name(s->state)));
  json_object_set_new(f, "title", json_string(s->title));
  json_object_set_new(f, "topicId", json_integer(t->id));
  json_object_set_new(f, "warnings", json_array());
  if (s->is_checkin) {
    json_object_set_new(f, "deserializeErrorCode", json_integer(s->deserialize_error_code));
    json_object_set_new(f, "roid", json_integer(s->roid));
    return sobj_finish("SLongCheckinActionState", f);
  }
  return sobj_finish("SLongActionState", f);
}

json_t *sobj_revision(struct model *m, const struct revision_rec *r)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  int64_t *eds = NULL;
  size_t neds = 0;
  store_ed_ids_of_revision(m->st, r->roid, -1, &eds, &neds);
  sobj_std(f, r->roid, NULL);
  json_object_set_new(f, "bmi", json_integer(0));
  json_object_set_new(f, "bounds", json_null());
  json_object_set_new(f, "boundsMm", json_null());
  json_object_set_new(f, "boundsUntransformed", json_null());
  json_object_set_new(f, "boundsUntransformedMm", json_null());
  json_object_set_new(f, "checkouts", json_array());
  json_object_set_new(f, "comment", sobj_text(r->comment));
  int64_t self = r->roid;
  json_object_set_new(f, "concreteRevisions", sobj_ids(&self, 1));
  json_object_set_new(f, "date", json_integer(r->created_ms));
  json_object_set_new(f, "densityCollectionId", json_integer(-1));
  json_object_set_new(f, "extendedData", sobj_ids(eds, neds));
  json_object_set_new(f, "hasGeometry", json_false());
  json_object_set_new(f, "id", json_integer(r->number));
  json_object_set_new(f, "lastConcreteRevisionId", json_integer(r->roid));
  json_object_set_new(f, "lastError", json_null());
  json_object_set_new(f, "logs", json_array());
  json_object_set_new(f, "nrPrimitives", json_integer(0));
  json_object_set_new(f, "projectId", json_integer(r->poid));
  json_object_set_new(f, "serviceId", json_integer(r->service_oid));
  json_object_set_new(f, "servicesLinked", json_array());
  json_object_set_new(f, "size", json_integer(r->object_count));
  json_object_set_new(f, "tag", sobj_text(r->tag));
  json_object_set_new(f, "userId", json_integer(r->uoid));
  free(eds);
  return sobj_finish("SRevision", f);
}

static void plugin_config_fields(json_t *f, int64_t oid, const struct plugin_def *p,
                                 int64_t descriptor_oid)
{
  sobj_std(f, oid, NULL);
  json_object_set_new(f, "description", json_string(p->description));
  json_object_set_new(f, "enabled", json_true());
  json_object_set_new(f, "name", json_string(p->name));
  json_object_set_new(f, "pluginDescriptorId", json_integer(descriptor_oid));
  json_object_set_new(f, "settingsId", json_integer(-1));
  json_object_set_new(f, "userSettingsId", json_integer(-1));
}

json_t *sobj_plugin_config(struct model *m, int64_t uoid, const struct plugin_def *p)
{
  int64_t oid = -1, descriptor = -1;
  if (plugin_config_oid(m, uoid, p, &oid) != BH_OK ||
      plugin_descriptor_oid(m, p, &descriptor) != BH_OK)
    return NULL;
  json_t *f = json_object();
  if (!f)
    return NULL;
  plugin_config_fields(f, oid, p, descriptor);
  if (!p->is_serializer)
    return sobj_finish("SDeserializerPluginConfiguration", f);
  json_object_set_new(f, "objectIDMId", json_integer(-1));
  json_object_set_new(f, "renderEngineId", json_integer(-1));
  json_object_set_new(f, "streaming", json_true());
  return sobj_finish("SSerializerPluginConfiguration", f);
}

json_t *sobj_plugin_descriptor(struct model *m, const struct plugin_def *p)
{
  int64_t oid = -1;
  if (plugin_descriptor_oid(m, p, &oid) != BH_OK)
    return NULL;
  json_t *f = json_object();
  if (!f)
    return NULL;
  sobj_std(f, oid, NULL);
  json_object_set_new(f, "configurations", json_array());
  json_object_set_new(f, "description", json_string(p->description));
  json_object_set_new(f, "enabled", json_true());
  json_object_set_new(f, "identifier", json_string(p->class_name));
  json_object_set_new(f, "installForNewUsers", json_true());
  json_object_set_new(f, "location", json_null());
  json_object_set_new(f, "name", json_string(p->name));
  json_object_set_new(f, "pluginBundleVersionId", json_integer(-1));
  json_object_set_new(f, "pluginClassName", json_string(p->class_name));
  json_object_set_new(f, "pluginInterfaceClassName",
                      json_string(p->is_serializer
                                      ? "org.bimserver.plugins.serializers.SerializerPlugin"
                                      : "org.bimserver.plugins.deserializers.DeserializerPlugin"));
  json_object_set_new(f, "settingsId", json_integer(-1));
  return sobj_finish("SPluginDescriptor", f);
}

json_t *sobj_file(const struct file_rec *fr, json_t *data_b64)
{
  json_t *f = json_object();
  if (!f) {
    json_decref(data_b64);
    return NULL;
  }
  sobj_std(f, fr->oid, NULL);
  json_object_set_new(f, "data", data_b64 ? data_b64 : json_null());
  json_object_set_new(f, "filename", sobj_text(fr->filename));
  json_object_set_new(f, "mime", sobj_text(fr->mime));
  json_object_set_new(f, "size", json_integer(fr->size));
  return sobj_finish("SFile", f);
}

json_t *sobj_ed_schema(struct model *m, const struct ed_schema_rec *e)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  int64_t *eds = NULL;
  size_t neds = 0;
  store_ed_ids_of_schema(m->st, e->oid, &eds, &neds);
  sobj_std(f, e->oid, NULL);
  json_object_set_new(f, "contentType", sobj_text(e->content_type));
  json_object_set_new(f, "description", sobj_text(e->description));
  json_object_set_new(f, "extendedData", sobj_ids(eds, neds));
  json_object_set_new(f, "fileId", json_integer(e->file_oid));
  json_object_set_new(f, "name", sobj_text(e->name));
  json_object_set_new(f, "size", json_integer(e->size));
  json_object_set_new(f, "url", sobj_text(e->url));
  json_object_set_new(f, "users", json_array());
  free(eds);
  return sobj_finish("SExtendedDataSchema", f);
}

json_t *sobj_extended_data(const struct ed_rec *e)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  sobj_std(f, e->oid, NULL);
  json_object_set_new(f, "added", json_integer(e->added_ms));
  json_object_set_new(f, "fileId", json_integer(e->file_oid));
  json_object_set_new(f, "projectId", json_integer(e->poid));
  json_object_set_new(f, "revisionId", json_integer(e->roid));
  json_object_set_new(f, "schemaId", json_integer(e->schema_oid));
  json_object_set_new(f, "size", json_integer(e->size));
  json_object_set_new(f, "timeToGenerate", json_integer(e->time_to_generate));
  json_object_set_new(f, "title", sobj_text(e->title));
  json_object_set_new(f, "url", sobj_text(e->url));
  json_object_set_new(f, "userId", json_integer(e->uoid));
  return sobj_finish("SExtendedData", f);
}

int64_t sobj_parse_time(const char *iso)
{
  if (!iso)
    return -1;
  struct tm tm = {0};
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (sscanf(iso, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) < 3)
    return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
}
