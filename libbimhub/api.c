/* api.c: typed helpers over bimhub_client_call() for the calls clients and services make
 * most (projects, users, revisions, plugins, extended data, services on projects). Each is
 * one call with the parameter names of spec §4; results are the server's S-objects. */
#include "sdk_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/bh_base64.h"

#define SVC "ServiceInterface"

/* One call whose result goes to *out (when out is not NULL). params stolen. */
static enum bimhub_rc call(struct bimhub_client *c, const char *iface, const char *method,
                           json_t *params, json_t **out, struct bimhub_error *err)
{
  if (out)
    *out = NULL;
  if (!c) {
    json_decref(params);
    return sdk_fail(err, BIMHUB_INVALID, "no client");
  }
  return bimhub_client_call(c, iface, method, params, out, err);
}

/* json_pack fails (NULL) only when out of memory or for a NULL string argument. */
static enum bimhub_rc need(json_t *params, struct bimhub_error *err)
{
  return params ? BIMHUB_OK
                : sdk_fail(err, BIMHUB_INVALID, "a required argument is NULL (or out of memory)");
}

/* A call whose result must be an array. */
static enum bimhub_rc call_list(struct bimhub_client *c, const char *iface, const char *method,
                                json_t *params, json_t **out, struct bimhub_error *err)
{
  json_t *r = NULL;
  enum bimhub_rc rc = call(c, iface, method, params, &r, err);
  if (rc == BIMHUB_OK && !json_is_array(r)) {
    json_decref(r);
    r = NULL;
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "%s did not answer a list", method);
  }
  if (out)
    *out = r;
  else
    json_decref(r);
  return rc;
}

/* A call whose result must be an S-object; BIMHUB_NOT_FOUND for null or {}. */
static enum bimhub_rc call_object(struct bimhub_client *c, const char *iface, const char *method,
                                  json_t *params, json_t **out, struct bimhub_error *err)
{
  json_t *r = NULL;
  enum bimhub_rc rc = call(c, iface, method, params, &r, err);
  if (rc == BIMHUB_OK && sdk_is_nothing(r)) {
    json_decref(r);
    r = NULL;
    rc = sdk_fail(err, BIMHUB_NOT_FOUND, "%s found nothing", method);
  } else if (rc == BIMHUB_OK && !json_is_object(r)) {
    json_decref(r);
    r = NULL;
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "%s did not answer an object", method);
  }
  if (out)
    *out = r;
  else
    json_decref(r);
  return rc;
}

/* A call whose result is a number (an oid). */
static enum bimhub_rc call_long(struct bimhub_client *c, const char *iface, const char *method,
                                json_t *params, int64_t *out, struct bimhub_error *err)
{
  json_t *r = NULL;
  enum bimhub_rc rc = call(c, iface, method, params, &r, err);
  if (rc == BIMHUB_OK && !json_is_integer(r))
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "%s did not answer a number", method);
  if (rc == BIMHUB_OK && out)
    *out = (int64_t)json_integer_value(r);
  json_decref(r);
  return rc;
}

enum bimhub_rc sdk_call_oid(struct bimhub_client *c, const char *iface, const char *method,
                            json_t *params, int64_t *oid, struct bimhub_error *err)
{
  json_t *r = NULL;
  enum bimhub_rc rc = call_object(c, iface, method, params, &r, err);
  if (rc == BIMHUB_OK) {
    int64_t v = bimhub_json_int(r, "oid", -1);
    if (v < 0)
      rc = sdk_fail(err, BIMHUB_PROTOCOL, "%s answered an object without oid", method);
    else if (oid)
      *oid = v;
  }
  json_decref(r);
  return rc;
}

/* ---- projects and users ---- */

enum bimhub_rc bimhub_add_project(struct bimhub_client *c, const char *name, const char *schema,
                                  json_t **project, struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s,s:s}", "projectName", name, "schema", schema);
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : call_object(c, SVC, "addProject", p, project, err);
}

enum bimhub_rc bimhub_add_sub_project(struct bimhub_client *c, const char *name,
                                      int64_t parent_poid, const char *schema, json_t **project,
                                      struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s,s:I,s:s}", "projectName", name, "parentPoid", (json_int_t)parent_poid,
                        "schema", schema);
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : call_object(c, SVC, "addProjectAsSubProject", p, project, err);
}

enum bimhub_rc bimhub_get_all_projects(struct bimhub_client *c, bool only_top_level,
                                       bool only_active, json_t **projects,
                                       struct bimhub_error *err)
{
  return call_list(
      c, SVC, "getAllProjects",
      json_pack("{s:b,s:b}", "onlyTopLevel", only_top_level, "onlyActive", only_active), projects,
      err);
}

enum bimhub_rc bimhub_get_project_by_poid(struct bimhub_client *c, int64_t poid, json_t **project,
                                          struct bimhub_error *err)
{
  return call_object(c, SVC, "getProjectByPoid", json_pack("{s:I}", "poid", (json_int_t)poid),
                     project, err);
}

enum bimhub_rc bimhub_get_projects_by_name(struct bimhub_client *c, const char *name,
                                           json_t **projects, struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s}", "name", name);
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : call_list(c, SVC, "getProjectsByName", p, projects, err);
}

enum bimhub_rc bimhub_delete_project(struct bimhub_client *c, int64_t poid,
                                     struct bimhub_error *err)
{
  return call(c, SVC, "deleteProject", json_pack("{s:I}", "poid", (json_int_t)poid), NULL, err);
}

enum bimhub_rc bimhub_add_user(struct bimhub_client *c, const char *username, const char *name,
                               const char *type, json_t **user, struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s,s:s,s:s,s:b,s:s}", "username", username, "name", name, "type", type,
                        "selfRegistration", 0, "resetUrl", "");
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : call_object(c, SVC, "addUser", p, user, err);
}

enum bimhub_rc bimhub_add_user_with_password(struct bimhub_client *c, const char *username,
                                             const char *password, const char *name,
                                             const char *type, json_t **user,
                                             struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "username", username, "password", password,
                        "name", name, "type", type, "selfRegistration", 0, "resetUrl", "");
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : call_object(c, SVC, "addUserWithPassword", p, user, err);
}

enum bimhub_rc bimhub_get_all_users(struct bimhub_client *c, json_t **users,
                                    struct bimhub_error *err)
{
  return call_list(c, SVC, "getAllUsers", NULL, users, err);
}

enum bimhub_rc bimhub_add_user_to_project(struct bimhub_client *c, int64_t uoid, int64_t poid,
                                          struct bimhub_error *err)
{
  return call(c, SVC, "addUserToProject",
              json_pack("{s:I,s:I}", "uoid", (json_int_t)uoid, "poid", (json_int_t)poid), NULL,
              err);
}

/* ---- revisions ---- */

enum bimhub_rc bimhub_get_all_revisions_of_project(struct bimhub_client *c, int64_t poid,
                                                   json_t **revisions, struct bimhub_error *err)
{
  return call_list(c, SVC, "getAllRevisionsOfProject", json_pack("{s:I}", "poid", (json_int_t)poid),
                   revisions, err);
}

enum bimhub_rc bimhub_get_revision(struct bimhub_client *c, int64_t roid, json_t **revision,
                                   struct bimhub_error *err)
{
  return call_object(c, SVC, "getRevision", json_pack("{s:I}", "roid", (json_int_t)roid), revision,
                     err);
}

/* ---- plugins, topics ---- */

enum bimhub_rc bimhub_get_suggested_deserializer(struct bimhub_client *c, const char *extension,
                                                 int64_t poid, int64_t *oid,
                                                 struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s,s:I}", "extension", extension, "poid", (json_int_t)poid);
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : sdk_call_oid(c, SVC, "getSuggestedDeserializerForExtension", p, oid, err);
}

enum bimhub_rc bimhub_get_serializer_by_content_type(struct bimhub_client *c,
                                                     const char *content_type, int64_t *oid,
                                                     struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s}", "contentType", content_type);
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : sdk_call_oid(c, SVC, "getSerializerByContentType", p, oid, err);
}

enum bimhub_rc bimhub_get_serializer_by_plugin_class_name(struct bimhub_client *c,
                                                          const char *class_name, int64_t *oid,
                                                          struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s}", "pluginClassName", class_name);
  enum bimhub_rc rc = need(p, err);
  return rc ? rc
            : sdk_call_oid(c, "PluginInterface", "getSerializerByPluginClassName", p, oid, err);
}

enum bimhub_rc bimhub_get_progress(struct bimhub_client *c, int64_t topic_id, json_t **state,
                                   struct bimhub_error *err)
{
  json_t *r = NULL;
  enum bimhub_rc rc = call(c, "NotificationRegistryInterface", "getProgress",
                           json_pack("{s:I}", "topicId", (json_int_t)topic_id), &r, err);
  if (rc == BIMHUB_OK && json_is_null(r)) {
    json_decref(r);
    r = json_object();
  }
  if (rc == BIMHUB_OK && !json_is_object(r)) {
    json_decref(r);
    r = NULL;
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "getProgress did not answer an object");
  }
  if (state)
    *state = r;
  else
    json_decref(r);
  return rc;
}

enum bimhub_rc bimhub_cleanup_long_action(struct bimhub_client *c, int64_t topic_id,
                                          struct bimhub_error *err)
{
  return call(c, SVC, "cleanupLongAction", json_pack("{s:I}", "topicId", (json_int_t)topic_id),
              NULL, err);
}

/* ---- extended data and files ---- */

enum bimhub_rc bimhub_upload_file(struct bimhub_client *c, const char *filename, const char *mime,
                                  const void *data, size_t len, int64_t *file_id,
                                  struct bimhub_error *err)
{
  if (!filename || (!data && len > 0))
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_upload_file: a file name and data are needed");
  if (len > ((size_t)1 << 30))
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_upload_file: over 1 GiB, use /upload");
  char *b64 = malloc(bh_base64_encoded_len(len) + 1);
  if (!b64)
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  bh_base64_encode(data, len, b64);
  json_t *file =
      json_pack("{s:s,s:s,s:s,s:s,s:I}", "__type", "SFile", "data", b64, "filename", filename,
                "mime", mime ? mime : "application/octet-stream", "size", (json_int_t)len);
  free(b64);
  if (!file)
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  return call_long(c, SVC, "uploadFile", json_pack("{s:o}", "file", file), file_id, err);
}

enum bimhub_rc bimhub_get_file(struct bimhub_client *c, int64_t file_id, json_t **file,
                               struct bimhub_error *err)
{
  return call_object(c, SVC, "getFile", json_pack("{s:I}", "fileId", (json_int_t)file_id), file,
                     err);
}

enum bimhub_rc bimhub_get_file_data(struct bimhub_client *c, int64_t file_id, void **data,
                                    size_t *len, struct bimhub_error *err)
{
  if (!data || !len)
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_get_file_data: data and len are needed");
  *data = NULL;
  *len = 0;
  json_t *f = NULL;
  enum bimhub_rc rc = bimhub_get_file(c, file_id, &f, err);
  if (rc != BIMHUB_OK)
    return rc;
  const char *b64 = bimhub_json_str(f, "data");
  size_t n = b64 ? strlen(b64) : 0;
  unsigned char *out = malloc(n * 3 / 4 + 4);
  size_t got = 0;
  if (!out)
    rc = sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  else if (n > 0 && !bh_base64_decode(b64, n, out, &got))
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "The file's data is not Base64");
  if (rc == BIMHUB_OK) {
    out[got] = '\0';
    *data = out;
    *len = got;
  } else {
    free(out);
  }
  json_decref(f);
  return rc;
}

enum bimhub_rc bimhub_get_extended_data_schema_by_name(struct bimhub_client *c, const char *name,
                                                       json_t **schema, struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s}", "name", name);
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : call_object(c, SVC, "getExtendedDataSchemaByName", p, schema, err);
}

enum bimhub_rc bimhub_add_extended_data_schema(struct bimhub_client *c, const char *name,
                                               const char *content_type, const char *description,
                                               int64_t *oid, struct bimhub_error *err)
{
  json_t *s = json_pack("{s:s,s:s,s:s,s:s?}", "__type", "SExtendedDataSchema", "name", name,
                        "contentType", content_type, "description", description);
  enum bimhub_rc rc = need(s, err);
  return rc ? rc
            : call_long(c, SVC, "addExtendedDataSchema",
                        json_pack("{s:o}", "extendedDataSchema", s), oid, err);
}

enum bimhub_rc bimhub_add_extended_data_to_revision(struct bimhub_client *c, int64_t roid,
                                                    const char *title, int64_t schema_oid,
                                                    int64_t file_id, struct bimhub_error *err)
{
  json_t *ed = json_pack("{s:s,s:s?,s:I,s:I}", "__type", "SExtendedData", "title", title,
                         "schemaId", (json_int_t)schema_oid, "fileId", (json_int_t)file_id);
  enum bimhub_rc rc = need(ed, err);
  return rc ? rc
            : call(c, SVC, "addExtendedDataToRevision",
                   json_pack("{s:I,s:o}", "roid", (json_int_t)roid, "extendedData", ed), NULL, err);
}

enum bimhub_rc bimhub_get_all_extended_data_of_revision(struct bimhub_client *c, int64_t roid,
                                                        json_t **list, struct bimhub_error *err)
{
  return call_list(c, SVC, "getAllExtendedDataOfRevision",
                   json_pack("{s:I}", "roid", (json_int_t)roid), list, err);
}

enum bimhub_rc bimhub_write_extended_data(struct bimhub_client *c, int64_t roid,
                                          const char *schema_name, const char *content_type,
                                          const char *title, const char *file_name,
                                          const void *data, size_t len, struct bimhub_error *err)
{
  if (!schema_name || !content_type || !file_name)
    return sdk_fail(err, BIMHUB_INVALID,
                    "bimhub_write_extended_data: schema name, content type and file name needed");
  json_t *schema = NULL;
  int64_t schema_oid = -1, file_id = -1;
  enum bimhub_rc rc = bimhub_get_extended_data_schema_by_name(c, schema_name, &schema, err);
  if (rc == BIMHUB_OK) {
    schema_oid = bimhub_json_int(schema, "oid", -1);
  } else if (rc == BIMHUB_NOT_FOUND) {
    rc = bimhub_add_extended_data_schema(c, schema_name, content_type, NULL, &schema_oid, err);
    if (rc == BIMHUB_EXCEPTION) {
      /* somebody made it meanwhile ("name must be unique"): read it again */
      struct bimhub_error again;
      if (bimhub_get_extended_data_schema_by_name(c, schema_name, &schema, &again) == BIMHUB_OK) {
        schema_oid = bimhub_json_int(schema, "oid", -1);
        rc = BIMHUB_OK;
      }
    }
  }
  json_decref(schema);
  if (rc == BIMHUB_OK && schema_oid < 0)
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "The schema %s has no oid", schema_name);
  if (rc == BIMHUB_OK)
    rc = bimhub_upload_file(c, file_name, content_type, data, len, &file_id, err);
  if (rc == BIMHUB_OK)
    rc = bimhub_add_extended_data_to_revision(c, roid, title ? title : file_name, schema_oid,
                                              file_id, err);
  return rc;
}

/* ---- services on projects ---- */

enum bimhub_rc bimhub_add_service_to_project(struct bimhub_client *c, int64_t poid,
                                             json_t *sservice, int64_t *soid,
                                             struct bimhub_error *err)
{
  if (!json_is_object(sservice)) {
    json_decref(sservice);
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_add_service_to_project: an SService is needed");
  }
  return call_long(c, SVC, "addServiceToProject",
                   json_pack("{s:I,s:o}", "poid", (json_int_t)poid, "sService", sservice), soid,
                   err);
}

enum bimhub_rc bimhub_get_all_services_of_project(struct bimhub_client *c, int64_t poid,
                                                  json_t **services, struct bimhub_error *err)
{
  return call_list(c, SVC, "getAllServicesOfProject", json_pack("{s:I}", "poid", (json_int_t)poid),
                   services, err);
}

enum bimhub_rc bimhub_delete_service(struct bimhub_client *c, int64_t soid,
                                     struct bimhub_error *err)
{
  return call(c, SVC, "deleteService", json_pack("{s:I}", "oid", (json_int_t)soid), NULL, err);
}

enum bimhub_rc bimhub_get_service_descriptor(struct bimhub_client *c, const char *base_url,
                                             const char *identifier, json_t **descriptor,
                                             struct bimhub_error *err)
{
  json_t *p = json_pack("{s:s,s:s}", "baseUrl", base_url, "serviceIdentifier", identifier);
  enum bimhub_rc rc = need(p, err);
  return rc ? rc : call_object(c, SVC, "getServiceDescriptor", p, descriptor, err);
}

enum bimhub_rc bimhub_get_service_secret(struct bimhub_client *c, int64_t soid, char *out,
                                         size_t len, struct bimhub_error *err)
{
  if (!out || len == 0)
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_get_service_secret: no buffer");
  out[0] = '\0';
  json_t *r = NULL;
  enum bimhub_rc rc = call(c, "DeliveryInterface", "getServiceSecret",
                           json_pack("{s:I}", "soid", (json_int_t)soid), &r, err);
  if (rc == BIMHUB_OK && !json_is_string(r))
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "getServiceSecret did not answer a string");
  if (rc == BIMHUB_OK && (size_t)snprintf(out, len, "%s", json_string_value(r)) >= len) {
    out[0] = '\0';
    rc = sdk_fail(err, BIMHUB_INVALID, "The secret does not fit in %zu bytes", len);
  }
  json_decref(r);
  return rc;
}

json_t *bimhub_sservice_from_descriptor(const json_t *descriptor, const char *base_url,
                                        const char *name, const char *profile_identifier)
{
  if (!json_is_object(descriptor))
    return NULL;
  const char *dname = bimhub_json_str(descriptor, "name");
  const char *trigger = bimhub_json_str(descriptor, "trigger");
  json_t *read_revision = json_object_get(descriptor, "readRevision");
  return json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s?, s:b, s:I, s:I, s:I,"
                   " s:s, s:s?, s:s, s:b}",
                   "__type", "SService", "name", name ? name : dname, "serviceName", dname,
                   "serviceIdentifier", bimhub_json_str(descriptor, "identifier"), "providerName",
                   bimhub_json_str(descriptor, "providerName"), "description",
                   bimhub_json_str(descriptor, "description"), "trigger",
                   trigger ? trigger : "NEW_REVISION", "notificationProtocol", "JSON", "url",
                   base_url ? base_url : bimhub_json_str(descriptor, "url"), "readRevision",
                   json_is_true(read_revision), "readExtendedDataId", (json_int_t)-1,
                   "writeExtendedDataId", (json_int_t)-1, "writeRevisionId", (json_int_t)-1,
                   "profileIdentifier", profile_identifier ? profile_identifier : "default",
                   "profileName", profile_identifier ? profile_identifier : "default",
                   "profileDescription", "", "profilePublic", 1);
}
