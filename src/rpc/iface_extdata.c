/* iface_extdata.c: ServiceInterface, the extended data and files part (spec §4.4, §5):
 * schemas, files (uploadFile / getFile), and extended data on revisions and projects. New
 * extended data on a revision is an event (newExtendedData, NEW_EXTENDED_DATA services).
 * Unlike BIMserver, every call needs a token and reads only what the caller may read. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "common/bh_base64.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "model/events.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

/* ---- schemas ---- */

static enum bh_err schema_result(struct rpc_call *c, enum bh_err rc, struct ed_schema_rec *e)
{
  if (rc == BH_NOTFOUND)
    return BH_OK; /* null: {} as BIMserver */
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  json_t *j = sobj_ed_schema(c->m, e);
  ed_schema_rec_clear(e);
  return rpc_ok(c, j);
}

static enum bh_err svc_add_extended_data_schema(struct rpc_call *c)
{
  json_t *o;
  enum bh_err rc = rpc_param_object(c, "extendedDataSchema", &o);
  if (rc != BH_OK)
    return rc;
  const char *name = json_string_value(json_object_get(o, "name"));
  const char *ct = json_string_value(json_object_get(o, "contentType"));
  if (!name || !*name)
    return bh_fail(&c->why, BH_BADREQUEST, "ExtendedDataSchema needs a name");
  if (!ct || !*ct)
    return bh_fail(&c->why, BH_BADREQUEST, "ExtendedDataSchema needs a contentType");
  struct ed_schema_rec e = {.name = (char *)name,
                            .content_type = (char *)ct,
                            .description =
                                (char *)json_string_value(json_object_get(o, "description")),
                            .url = (char *)json_string_value(json_object_get(o, "url")),
                            .file_oid = -1};
  rc = store_begin(c->m->st);
  if (rc == BH_OK) {
    struct ed_schema_rec existing;
    if (store_ed_schema_by_name(c->m->st, name, &existing) == BH_OK) {
      ed_schema_rec_clear(&existing);
      store_rollback(c->m->st);
      return bh_fail(&c->why, BH_EXISTS, "ExtendedDataSchema name must be unique");
    }
    rc = store_next_oid(c->m->st, &e.oid);
    if (rc == BH_OK)
      rc = store_ed_schema_add(c->m->st, &e);
    if (rc == BH_OK)
      rc = store_commit(c->m->st);
    else
      store_rollback(c->m->st);
  }
  return rc == BH_OK ? rpc_ok(c, json_integer(e.oid)) : bh_fail(&c->why, rc, "Database error");
}

static enum bh_err svc_get_all_extended_data_schemas(struct rpc_call *c)
{
  int64_t *ids = NULL;
  size_t n = 0;
  if (store_ed_schema_ids(c->m->st, &ids, &n) != BH_OK)
    return bh_fail(&c->why, BH_STORE, "Database error");
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    struct ed_schema_rec e;
    if (store_ed_schema_get(c->m->st, ids[i], &e) == BH_OK) {
      json_array_append_new(a, sobj_ed_schema(c->m, &e));
      ed_schema_rec_clear(&e);
    }
  }
  free(ids);
  return rpc_ok(c, a);
}

static enum bh_err schema_by_name(struct rpc_call *c, const char *param)
{
  const char *name;
  enum bh_err rc = rpc_param_string(c, param, &name);
  if (rc != BH_OK)
    return rc;
  struct ed_schema_rec e;
  return schema_result(c, name ? store_ed_schema_by_name(c->m->st, name, &e) : BH_NOTFOUND, &e);
}

static enum bh_err svc_get_extended_data_schema_by_name(struct rpc_call *c)
{
  return schema_by_name(c, "name");
}

static enum bh_err svc_get_extended_data_schema_by_namespace(struct rpc_call *c)
{
  return schema_by_name(c, "namespace"); /* the 1.4 name of the call */
}

static enum bh_err svc_get_extended_data_schema_by_id(struct rpc_call *c)
{
  int64_t oid;
  enum bh_err rc = rpc_param_long(c, "oid", &oid);
  if (rc != BH_OK)
    return rc;
  struct ed_schema_rec e;
  rc = store_ed_schema_get(c->m->st, oid, &e);
  if (rc == BH_NOTFOUND)
    return bh_fail(&c->why, rc, "No ExtendedDataSchema with oid %lld", (long long)oid);
  return schema_result(c, rc, &e);
}

/* ---- files ---- */

static enum bh_err svc_upload_file(struct rpc_call *c)
{
  json_t *o;
  enum bh_err rc = rpc_param_object(c, "file", &o);
  if (rc != BH_OK)
    return rc;
  if (!o)
    return bh_fail(&c->why, BH_BADREQUEST, "file must not be null");
  const char *data = json_string_value(json_object_get(o, "data"));
  size_t len = data ? strlen(data) : 0;
  if ((int64_t)(len / 4 * 3) > c->rpc->cfg->max_upload_bytes)
    return bh_fail(&c->why, BH_TOOBIG, "The file is larger than the limit");
  unsigned char *bytes = malloc(len / 4 * 3 + 3);
  size_t n = 0;
  if (!bytes)
    return bh_fail(&c->why, BH_NOMEM, "Out of memory");
  if (!bh_base64_decode(data ? data : "", len, bytes, &n)) {
    free(bytes);
    return bh_fail(&c->why, BH_BADREQUEST, "file.data is not valid Base64");
  }
  struct blob_writer *w = NULL;
  char hash[BLOB_HASH_HEX];
  uint64_t size = 0;
  rc = blob_writer_new(c->m->blobs, 0, &w);
  if (rc == BH_OK)
    rc = blob_writer_write(w, bytes, n);
  free(bytes);
  if (rc == BH_OK)
    rc = blob_writer_commit(w, hash, &size);
  else
    blob_writer_abort(w);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Cannot store the file");
  struct file_rec f = {.blob = hash,
                       .filename = (char *)json_string_value(json_object_get(o, "filename")),
                       .mime = (char *)json_string_value(json_object_get(o, "mime")),
                       .size = (int64_t)size,
                       .uoid = c->actor.uoid,
                       .created_ms = bh_now_ms()};
  rc = store_next_oid(c->m->st, &f.oid);
  if (rc == BH_OK)
    rc = store_file_add(c->m->st, &f);
  return rc == BH_OK ? rpc_ok(c, json_integer(f.oid)) : bh_fail(&c->why, rc, "Database error");
}

/* Who may read a file: its uploader, admins, and readers of extended data that uses it. The
 * file's oid alone is no permission (BIMserver checks nothing here). */
static bool file_readable(struct rpc_call *c, const struct file_rec *f)
{
  return f->uoid == c->actor.uoid || c->actor.type == USER_ADMIN;
}

static enum bh_err get_file(struct rpc_call *c, bool with_data)
{
  int64_t oid;
  enum bh_err rc = rpc_param_long(c, "fileId", &oid);
  if (rc != BH_OK)
    return rc;
  struct file_rec f;
  rc = store_file_get(c->m->st, oid, &f);
  if (rc == BH_OK && !file_readable(c, &f)) {
    file_rec_clear(&f);
    rc = BH_NOTFOUND;
  }
  if (rc != BH_OK)
    return bh_fail(&c->why, BH_NOTFOUND, "No file with oid %lld", (long long)oid);
  json_t *data = NULL;
  if (with_data) {
    if (f.size > c->rpc->cfg->max_download_data_bytes) {
      file_rec_clear(&f);
      return bh_fail(&c->why, BH_TOOBIG, "The file is too large to send in Base64");
    }
    uint64_t size;
    int fd = blob_open(c->m->blobs, f.blob, &size);
    unsigned char *bytes = fd >= 0 ? malloc(size ? size : 1) : NULL;
    size_t got = 0;
    while (bytes && got < size) {
      ssize_t r = read(fd, bytes + got, size - got);
      if (r <= 0)
        break;
      got += (size_t)r;
    }
    if (fd >= 0)
      close(fd);
    char *text = bytes && got == size ? malloc(bh_base64_encoded_len(size) + 1) : NULL;
    if (text) {
      bh_base64_encode(bytes, size, text);
      data = json_string(text);
    }
    free(text);
    free(bytes);
    if (!data) {
      file_rec_clear(&f);
      return bh_fail(&c->why, BH_IO, "Cannot read the file");
    }
  }
  json_t *j = sobj_file(&f, data);
  file_rec_clear(&f);
  return rpc_ok(c, j);
}

static enum bh_err svc_get_file(struct rpc_call *c)
{
  return get_file(c, true);
}

static enum bh_err svc_get_file_meta(struct rpc_call *c)
{
  return get_file(c, false);
}

/* ---- extended data ---- */

/* Reads fileId (required), schemaId, title, url, timeToGenerate of an SExtendedData. */
static enum bh_err read_extended_data(struct rpc_call *c, struct ed_rec *e)
{
  json_t *o;
  enum bh_err rc = rpc_param_object(c, "extendedData", &o);
  if (rc != BH_OK)
    return rc;
  if (!o || !rpc_json_long(json_object_get(o, "fileId"), &e->file_oid) || e->file_oid < 0)
    return bh_fail(&c->why, BH_BADREQUEST, "extendedData.fileId is required");
  e->schema_oid = -1;
  rpc_json_long(json_object_get(o, "schemaId"), &e->schema_oid);
  rpc_json_long(json_object_get(o, "timeToGenerate"), &e->time_to_generate);
  e->title = (char *)json_string_value(json_object_get(o, "title"));
  e->url = (char *)json_string_value(json_object_get(o, "url"));
  struct file_rec f;
  rc = store_file_get(c->m->st, e->file_oid, &f);
  if (rc != BH_OK || !file_readable(c, &f)) {
    if (rc == BH_OK)
      file_rec_clear(&f);
    return bh_fail(&c->why, BH_NOTFOUND, "No file with oid %lld", (long long)e->file_oid);
  }
  e->size = f.size;
  file_rec_clear(&f);
  if (e->schema_oid != -1) {
    struct ed_schema_rec s;
    if (store_ed_schema_get(c->m->st, e->schema_oid, &s) != BH_OK)
      return bh_fail(&c->why, BH_NOTFOUND, "No ExtendedDataSchema with oid %lld",
                     (long long)e->schema_oid);
    ed_schema_rec_clear(&s);
  }
  e->uoid = c->actor.uoid;
  e->added_ms = bh_now_ms();
  return BH_OK;
}

/* Stores the extended data and, in the same transaction, its notifications to the
 * project's NEW_EXTENDED_DATA services. */
static enum bh_err add_extended_data(struct rpc_call *c, struct ed_rec *e)
{
  enum bh_err rc = store_begin(c->m->st);
  if (rc == BH_OK)
    rc = store_next_oid(c->m->st, &e->oid);
  if (rc == BH_OK)
    rc = store_ed_add(c->m->st, e);
  if (rc == BH_OK)
    rc = outbox_extended_data(c->m, e->poid, e->roid, e->oid);
  if (rc == BH_OK)
    rc = store_commit(c->m->st);
  else
    store_rollback(c->m->st);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  struct event ev = {.type = EV_NEW_EXTENDED_DATA,
                     .poid = e->poid,
                     .roid = e->roid,
                     .edid = e->oid,
                     .uoid = c->actor.uoid,
                     .actor_uoid = c->actor.uoid,
                     .topic_id = -1,
                     .service_oid = c->actor.is_service ? c->actor.service_oid : -1};
  events_publish(c->m->ev, &ev);
  return BH_OK;
}

static enum bh_err svc_add_extended_data_to_revision(struct rpc_call *c)
{
  int64_t roid;
  struct ed_rec e = {0};
  struct revision_rec r;
  enum bh_err rc = rpc_param_long(c, "roid", &roid);
  if (rc == BH_OK)
    rc = revision_get_readable(c->m, &c->actor, roid, &r, &c->why);
  if (rc != BH_OK)
    return rc;
  if (!actor_may_write_ed(&c->actor, roid)) {
    revision_rec_clear(&r);
    return bh_fail(&c->why, BH_DENIED,
                   "No rights to write extended data to revision (%lld), has rights for %lld",
                   (long long)roid, (long long)c->actor.grant.roid);
  }
  e.roid = roid;
  e.poid = r.poid;
  revision_rec_clear(&r);
  rc = read_extended_data(c, &e);
  return rc == BH_OK ? add_extended_data(c, &e) : rc;
}

static enum bh_err svc_add_extended_data_to_project(struct rpc_call *c)
{
  int64_t poid;
  struct ed_rec e = {0};
  enum bh_err rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_check_readable(c->m, &c->actor, poid, &c->why);
  if (rc != BH_OK)
    return rc;
  if (c->actor.is_service)
    return bh_fail(&c->why, BH_DENIED, "No rights to write extended data to project (%lld)",
                   (long long)poid);
  e.roid = -1;
  e.poid = poid;
  rc = read_extended_data(c, &e);
  return rc == BH_OK ? add_extended_data(c, &e) : rc;
}

/* Extended data the caller may read: of a project they may read. */
static enum bh_err readable_ed(struct rpc_call *c, int64_t oid, struct ed_rec *e)
{
  enum bh_err rc = store_ed_get(c->m->st, oid, e);
  if (rc == BH_OK && !actor_may_read_ed(&c->actor, e->roid)) {
    ed_rec_clear(e);
    return bh_fail(&c->why, BH_DENIED, "No rights to read extended data %lld", (long long)oid);
  }
  if (rc == BH_OK) {
    struct project_rec p;
    rc = project_get_readable(c->m, &c->actor, e->poid, &p, NULL);
    if (rc == BH_OK)
      project_rec_clear(&p);
    else
      ed_rec_clear(e);
  }
  return rc == BH_OK
             ? BH_OK
             : bh_fail(&c->why, BH_NOTFOUND, "No extended data with oid %lld", (long long)oid);
}

static enum bh_err svc_get_extended_data(struct rpc_call *c)
{
  int64_t oid;
  struct ed_rec e;
  enum bh_err rc = rpc_param_long(c, "oid", &oid);
  if (rc == BH_OK)
    rc = readable_ed(c, oid, &e);
  if (rc != BH_OK)
    return rc;
  json_t *j = sobj_extended_data(&e);
  ed_rec_clear(&e);
  return rpc_ok(c, j);
}

/* Extended data of a revision (schema -1: any), all or only the last one. */
static enum bh_err of_revision(struct rpc_call *c, bool by_schema, bool last_only)
{
  int64_t roid, schema = -1;
  enum bh_err rc = rpc_param_long(c, "roid", &roid);
  if (rc == BH_OK && by_schema)
    rc = rpc_param_long(c, "schemaId", &schema);
  if (rc == BH_OK)
    rc = revision_check_readable(c->m, &c->actor, roid, &c->why);
  if (rc == BH_OK && !actor_may_read_ed(&c->actor, roid))
    rc = bh_fail(&c->why, BH_DENIED, "No rights to read extended data of revision %lld",
                 (long long)roid);
  if (rc != BH_OK)
    return rc;
  int64_t *ids = NULL;
  size_t n = 0;
  if (store_ed_ids_of_revision(c->m->st, roid, schema, &ids, &n) != BH_OK)
    return bh_fail(&c->why, BH_STORE, "Database error");
  json_t *a = json_array();
  for (size_t i = last_only && n ? n - 1 : 0; a && i < n; i++) {
    struct ed_rec e;
    if (store_ed_get(c->m->st, ids[i], &e) == BH_OK) {
      json_array_append_new(a, sobj_extended_data(&e));
      ed_rec_clear(&e);
    }
  }
  free(ids);
  if (!last_only)
    return rpc_ok(c, a);
  json_t *one = json_array_size(a) ? json_incref(json_array_get(a, 0)) : NULL;
  json_decref(a);
  return one ? rpc_ok(c, one) : BH_OK; /* none: null, as BIMserver */
}

static enum bh_err svc_get_all_extended_data_of_revision(struct rpc_call *c)
{
  return of_revision(c, false, false);
}

static enum bh_err svc_get_all_extended_data_of_revision_and_schema(struct rpc_call *c)
{
  return of_revision(c, true, false);
}

static enum bh_err svc_get_last_extended_data_of_revision_and_schema(struct rpc_call *c)
{
  return of_revision(c, true, true);
}

static const struct rpc_method extdata_methods[] = {
    {"addExtendedDataSchema", RPC_PARAMS({"extendedDataSchema", "SExtendedDataSchema"}), "Long",
     RPC_WHO(WRITER, OWNER), 0, svc_add_extended_data_schema, "A new schema; names are unique"},
    {"addExtendedDataToProject", RPC_PARAMS({"poid", "Long"}, {"extendedData", "SExtendedData"}),
     "void", RPC_ON(PROJECT_WRITE, PROJECT, "poid", NONE), 0, svc_add_extended_data_to_project,
     "Attaches a file to a project"},
    {"addExtendedDataToRevision", RPC_PARAMS({"roid", "Long"}, {"extendedData", "SExtendedData"}),
     "void", RPC_ON(PROJECT_WRITE, REVISION, "roid", WRITE_ED), 0,
     svc_add_extended_data_to_revision, "Attaches a file to a revision; notifies listeners"},
    {"getAllExtendedDataOfRevision", RPC_PARAMS({"roid", "Long"}), "List<SExtendedData>",
     RPC_ON(PROJECT_READ, REVISION, "roid", READ_ED), 0, svc_get_all_extended_data_of_revision,
     "Extended data of a revision"},
    {"getAllExtendedDataOfRevisionAndSchema", RPC_PARAMS({"roid", "Long"}, {"schemaId", "Long"}),
     "List<SExtendedData>", RPC_ON(PROJECT_READ, REVISION, "roid", READ_ED), 0,
     svc_get_all_extended_data_of_revision_and_schema, "Extended data of a revision in one schema"},
    {"getAllExtendedDataSchemas", RPC_NO_PARAMS, "List<SExtendedDataSchema>", RPC_WHO(USER, OWNER),
     0, svc_get_all_extended_data_schemas, "Every schema, sorted by name"},
    {"getExtendedData", RPC_PARAMS({"oid", "Long"}), "SExtendedData",
     RPC_ON(PROJECT_READ, EXTDATA, "oid", READ_ED), 0, svc_get_extended_data, "One extended data"},
    {"getExtendedDataSchemaById", RPC_PARAMS({"oid", "Long"}), "SExtendedDataSchema",
     RPC_WHO(USER, OWNER), 0, svc_get_extended_data_schema_by_id, "A schema by oid"},
    {"getExtendedDataSchemaByName", RPC_PARAMS({"name", "String"}), "SExtendedDataSchema",
     RPC_WHO(USER, OWNER), 0, svc_get_extended_data_schema_by_name, "A schema by name, or null"},
    {"getExtendedDataSchemaByNamespace", RPC_PARAMS({"namespace", "String"}), "SExtendedDataSchema",
     RPC_WHO(USER, OWNER), 0, svc_get_extended_data_schema_by_namespace,
     "The 1.4 name of getExtendedDataSchemaByName"},
    {"getFile", RPC_PARAMS({"fileId", "Long"}), "SFile", RPC_ON(OWNER, FILE, "fileId", OWNER), 0,
     svc_get_file, "A file with its data in Base64"},
    {"getFileMeta", RPC_PARAMS({"fileId", "Long"}), "SFile", RPC_ON(OWNER, FILE, "fileId", OWNER),
     0, svc_get_file_meta, "A file without its data"},
    {"getLastExtendedDataOfRevisionAndSchema", RPC_PARAMS({"roid", "Long"}, {"schemaId", "Long"}),
     "SExtendedData", RPC_ON(PROJECT_READ, REVISION, "roid", READ_ED), 0,
     svc_get_last_extended_data_of_revision_and_schema,
     "The newest extended data of a revision in one schema, or null"},
    {"uploadFile", RPC_PARAMS({"file", "SFile"}), "Long", RPC_WHO(WRITER, OWNER), 0,
     svc_upload_file, "Stores a file sent in Base64; returns its oid"},
};

RPC_IFACE(rpc_iface_service_extdata, "ServiceInterface", extdata_methods);
