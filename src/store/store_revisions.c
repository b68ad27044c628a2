/* store_revisions.c: revisions, files, extended data and plugin configuration ids on the
 * SQLite store. Same rules as store_sqlite.c: the store lock around every statement. */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* Runs one statement with the lock held: bind(s, arg) binds, then step_done. */
#define WITH_STMT(st, sql, what, BIND)                                                             \
  do {                                                                                             \
    store_lock(st);                                                                                \
    sqlite3_stmt *s_ = store_prepared(st, sql);                                                    \
    enum bh_err rc_ = BH_STORE;                                                                    \
    if (s_) {                                                                                      \
      sqlite3_stmt *s = s_;                                                                        \
      BIND;                                                                                        \
      rc_ = step_done(st, s, what);                                                                \
    }                                                                                              \
    store_unlock(st);                                                                              \
    return rc_;                                                                                    \
  } while (0)

/* Reads one row with reader(s, out); BH_NOTFOUND when there is none. Lock held by caller. */

static enum bh_err one_row(struct store *st, sqlite3_stmt *s, row_reader reader, void *out,
                           const char *what)
{
  int r = sqlite3_step(s);
  enum bh_err rc;
  if (r == SQLITE_ROW)
    rc = reader(s, out);
  else
    rc = r == SQLITE_DONE ? BH_NOTFOUND : store_fail(st, r, what);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

/* The row of sql (one int64 parameter) read by reader into out, which is zeroed first. */
static enum bh_err get_by_id(struct store *st, const char *sql, int64_t id, row_reader reader,
                             void *out, size_t out_size, const char *what)
{
  memset(out, 0, out_size);
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, sql);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, id);
    rc = one_row(st, s, reader, out, what);
  }
  store_unlock(st);
  return rc;
}

static enum bh_err ids_by_key(struct store *st, const char *sql, int64_t a, int64_t b, int nkeys,
                              int64_t **ids, size_t *n)
{
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, sql);
  enum bh_err rc = BH_STORE;
  if (s) {
    if (nkeys > 0)
      sqlite3_bind_int64(s, 1, a);
    if (nkeys > 1)
      sqlite3_bind_int64(s, 2, b);
    rc = store_ids(st, s, ids, n);
  }
  store_unlock(st);
  return rc;
}

/* ---- revisions ---- */

#define REVISION_COLS                                                                              \
  "roid, poid, number, uoid, service_oid, created_ms, comment, tag, blob, file_name, "             \
  "file_size, schema, object_count, deserializer, header"

void revision_rec_clear(struct revision_rec *r)
{
  free(r->comment);
  free(r->tag);
  free(r->blob);
  free(r->file_name);
  free(r->schema);
  free(r->deserializer);
  free(r->header_json);
  memset(r, 0, sizeof *r);
}

void revision_list_clear(struct revision_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    revision_rec_clear(&l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static enum bh_err read_revision(sqlite3_stmt *s, void *out)
{
  struct revision_rec *r = out;
  memset(r, 0, sizeof *r);
  r->roid = sqlite3_column_int64(s, 0);
  r->poid = sqlite3_column_int64(s, 1);
  r->number = sqlite3_column_int64(s, 2);
  r->uoid = sqlite3_column_int64(s, 3);
  r->service_oid = sqlite3_column_int64(s, 4);
  r->created_ms = sqlite3_column_int64(s, 5);
  r->comment = col_text(s, 6);
  r->tag = col_text(s, 7);
  r->blob = col_text(s, 8);
  r->file_name = col_text(s, 9);
  r->file_size = sqlite3_column_int64(s, 10);
  r->schema = col_text(s, 11);
  r->object_count = sqlite3_column_int64(s, 12);
  r->deserializer = col_text(s, 13);
  r->header_json = col_text(s, 14);
  if (!r->blob || !r->schema) {
    revision_rec_clear(r);
    return BH_NOMEM;
  }
  return BH_OK;
}

static const char SQL_REV_ADD[] = "INSERT INTO revisions(" REVISION_COLS
                                  ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)";
static const char SQL_REV_TYPE_ADD[] =
    "INSERT INTO revision_types(roid, type, count) VALUES(?1, ?2, ?3)";

enum bh_err store_revision_add(struct store *st, const struct revision_rec *r,
                               const struct type_count *types, size_t ntypes)
{
  enum bh_err rc = store_begin(st);
  if (rc != BH_OK)
    return rc;
  sqlite3_stmt *s = store_prepared(st, SQL_REV_ADD);
  rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, r->roid);
    sqlite3_bind_int64(s, 2, r->poid);
    sqlite3_bind_int64(s, 3, r->number);
    sqlite3_bind_int64(s, 4, r->uoid);
    sqlite3_bind_int64(s, 5, r->service_oid);
    sqlite3_bind_int64(s, 6, r->created_ms);
    bind_text_or_null(s, 7, r->comment);
    bind_text_or_null(s, 8, r->tag);
    bind_text_or_null(s, 9, r->blob);
    bind_text_or_null(s, 10, r->file_name);
    sqlite3_bind_int64(s, 11, r->file_size);
    bind_text_or_null(s, 12, r->schema);
    sqlite3_bind_int64(s, 13, r->object_count);
    bind_text_or_null(s, 14, r->deserializer);
    bind_text_or_null(s, 15, r->header_json);
    rc = step_done(st, s, "revision add");
  }
  sqlite3_stmt *t = rc == BH_OK ? store_prepared(st, SQL_REV_TYPE_ADD) : NULL;
  for (size_t i = 0; rc == BH_OK && i < ntypes; i++) {
    if (!t) {
      rc = BH_STORE;
      break;
    }
    sqlite3_bind_int64(t, 1, r->roid);
    sqlite3_bind_text(t, 2, types[i].type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(t, 3, types[i].count);
    rc = step_done(st, t, "revision type add");
  }
  if (rc != BH_OK) {
    store_rollback(st);
    return rc;
  }
  return store_commit(st);
}

static const char SQL_REV_GET[] = "SELECT " REVISION_COLS " FROM revisions WHERE roid = ?1";

enum bh_err store_revision_get(struct store *st, int64_t roid, struct revision_rec *out)
{
  return get_by_id(st, SQL_REV_GET, roid, read_revision, out, sizeof *out, "revision get");
}

static const char SQL_REV_LIST[] =
    "SELECT " REVISION_COLS " FROM revisions WHERE poid = ?1 ORDER BY number";

static void clear_revision(void *elem)
{
  revision_rec_clear(elem);
}

enum bh_err store_revision_list(struct store *st, int64_t poid, struct revision_list *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_REV_LIST);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, poid);
    rc = store_rows(st, s, sizeof *out->v, read_revision, clear_revision, (void **)&out->v, &out->n,
                    "revision list");
  }
  store_unlock(st);
  return rc;
}

static const char SQL_REV_BY_USER[] =
    "SELECT " REVISION_COLS " FROM revisions WHERE uoid = ?1 ORDER BY created_ms, roid";

enum bh_err store_revision_list_by_user(struct store *st, int64_t uoid, struct revision_list *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_REV_BY_USER);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, uoid);
    rc = store_rows(st, s, sizeof *out->v, read_revision, clear_revision, (void **)&out->v, &out->n,
                    "revisions of user");
  }
  store_unlock(st);
  return rc;
}

static const char SQL_REV_IDS[] = "SELECT roid FROM revisions WHERE poid = ?1 ORDER BY number";

enum bh_err store_revision_ids(struct store *st, int64_t poid, int64_t **ids, size_t *n)
{
  return ids_by_key(st, SQL_REV_IDS, poid, 0, 1, ids, n);
}

static const char SQL_REV_MAX[] = "SELECT coalesce(max(number), 0) FROM revisions WHERE poid = ?1";

enum bh_err store_revision_max_number(struct store *st, int64_t poid, int64_t *n)
{
  int64_t *v = NULL;
  size_t k = 0;
  enum bh_err rc = ids_by_key(st, SQL_REV_MAX, poid, 0, 1, &v, &k);
  *n = rc == BH_OK && k == 1 ? v[0] : 0;
  free(v);
  return rc;
}

static const char SQL_REV_TAG[] = "UPDATE revisions SET tag = ?2 WHERE roid = ?1";
static const char SQL_REV_COMMENT[] = "UPDATE revisions SET comment = ?2 WHERE roid = ?1";

enum bh_err store_revision_set_tag(struct store *st, int64_t roid, const char *tag)
{
  WITH_STMT(st, SQL_REV_TAG, "revision tag",
            (sqlite3_bind_int64(s, 1, roid), bind_text_or_null(s, 2, tag)));
}

enum bh_err store_revision_set_comment(struct store *st, int64_t roid, const char *comment)
{
  WITH_STMT(st, SQL_REV_COMMENT, "revision comment",
            (sqlite3_bind_int64(s, 1, roid), bind_text_or_null(s, 2, comment)));
}

static const char SQL_REV_TYPES[] =
    "SELECT type, count FROM revision_types WHERE roid = ?1 ORDER BY type";

static enum bh_err read_type_count(sqlite3_stmt *s, void *elem)
{
  struct type_count *t = elem;
  t->type = col_text(s, 0);
  t->count = sqlite3_column_int64(s, 1);
  return t->type ? BH_OK : BH_NOMEM;
}

static void clear_type_count(void *elem)
{
  free(((struct type_count *)elem)->type);
}

enum bh_err store_revision_types(struct store *st, int64_t roid, struct type_count **out, size_t *n)
{
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_REV_TYPES);
  enum bh_err rc = BH_STORE;
  *out = NULL;
  *n = 0;
  if (s) {
    sqlite3_bind_int64(s, 1, roid);
    rc = store_rows(st, s, sizeof **out, read_type_count, clear_type_count, (void **)out, n,
                    "revision types");
  }
  store_unlock(st);
  return rc;
}

/* ---- files ---- */

void file_rec_clear(struct file_rec *f)
{
  free(f->blob);
  free(f->filename);
  free(f->mime);
  memset(f, 0, sizeof *f);
}

static const char SQL_FILE_ADD[] = "INSERT INTO files(oid, blob, filename, mime, size, uoid,"
                                   " created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7)";

enum bh_err store_file_add(struct store *st, const struct file_rec *f)
{
  WITH_STMT(st, SQL_FILE_ADD, "file add",
            (sqlite3_bind_int64(s, 1, f->oid), bind_text_or_null(s, 2, f->blob),
             bind_text_or_null(s, 3, f->filename), bind_text_or_null(s, 4, f->mime),
             sqlite3_bind_int64(s, 5, f->size), sqlite3_bind_int64(s, 6, f->uoid),
             sqlite3_bind_int64(s, 7, f->created_ms)));
}

static enum bh_err read_file(sqlite3_stmt *s, void *out)
{
  struct file_rec *f = out;
  memset(f, 0, sizeof *f);
  f->oid = sqlite3_column_int64(s, 0);
  f->blob = col_text(s, 1);
  f->filename = col_text(s, 2);
  f->mime = col_text(s, 3);
  f->size = sqlite3_column_int64(s, 4);
  f->uoid = sqlite3_column_int64(s, 5);
  f->created_ms = sqlite3_column_int64(s, 6);
  if (!f->blob) {
    file_rec_clear(f);
    return BH_NOMEM;
  }
  return BH_OK;
}

static const char SQL_FILE_GET[] =
    "SELECT oid, blob, filename, mime, size, uoid, created_ms FROM files WHERE oid = ?1";

enum bh_err store_file_get(struct store *st, int64_t oid, struct file_rec *out)
{
  return get_by_id(st, SQL_FILE_GET, oid, read_file, out, sizeof *out, "file get");
}

/* ---- extended data schemas ---- */

void ed_schema_rec_clear(struct ed_schema_rec *e)
{
  free(e->name);
  free(e->content_type);
  free(e->description);
  free(e->url);
  memset(e, 0, sizeof *e);
}

static const char SQL_EDS_ADD[] = "INSERT INTO ed_schemas(oid, name, content_type, description,"
                                  " url, file_oid, size) VALUES(?1,?2,?3,?4,?5,?6,?7)";

enum bh_err store_ed_schema_add(struct store *st, const struct ed_schema_rec *e)
{
  WITH_STMT(st, SQL_EDS_ADD, "extended data schema add",
            (sqlite3_bind_int64(s, 1, e->oid), bind_text_or_null(s, 2, e->name),
             bind_text_or_null(s, 3, e->content_type), bind_text_or_null(s, 4, e->description),
             bind_text_or_null(s, 5, e->url), sqlite3_bind_int64(s, 6, e->file_oid),
             sqlite3_bind_int64(s, 7, e->size)));
}

static enum bh_err read_ed_schema(sqlite3_stmt *s, void *out)
{
  struct ed_schema_rec *e = out;
  memset(e, 0, sizeof *e);
  e->oid = sqlite3_column_int64(s, 0);
  e->name = col_text(s, 1);
  e->content_type = col_text(s, 2);
  e->description = col_text(s, 3);
  e->url = col_text(s, 4);
  e->file_oid = sqlite3_column_int64(s, 5);
  e->size = sqlite3_column_int64(s, 6);
  if (!e->name || !e->content_type) {
    ed_schema_rec_clear(e);
    return BH_NOMEM;
  }
  return BH_OK;
}

#define EDS_COLS "oid, name, content_type, description, url, file_oid, size"
static const char SQL_EDS_GET[] = "SELECT " EDS_COLS " FROM ed_schemas WHERE oid = ?1";
static const char SQL_EDS_BY_NAME[] = "SELECT " EDS_COLS " FROM ed_schemas WHERE name = ?1";
static const char SQL_EDS_IDS[] = "SELECT oid FROM ed_schemas ORDER BY name";

enum bh_err store_ed_schema_get(struct store *st, int64_t oid, struct ed_schema_rec *out)
{
  return get_by_id(st, SQL_EDS_GET, oid, read_ed_schema, out, sizeof *out,
                   "extended data schema get");
}

enum bh_err store_ed_schema_by_name(struct store *st, const char *name, struct ed_schema_rec *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_EDS_BY_NAME);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = one_row(st, s, read_ed_schema, out, "extended data schema by name");
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_ed_schema_ids(struct store *st, int64_t **ids, size_t *n)
{
  return ids_by_key(st, SQL_EDS_IDS, 0, 0, 0, ids, n);
}

/* ---- extended data ---- */

void ed_rec_clear(struct ed_rec *e)
{
  free(e->title);
  free(e->url);
  memset(e, 0, sizeof *e);
}

#define ED_COLS                                                                                    \
  "oid, file_oid, schema_oid, title, url, added_ms, size, time_to_generate, uoid, roid, "          \
  "poid"
static const char SQL_ED_ADD[] =
    "INSERT INTO extended_data(" ED_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)";
static const char SQL_ED_GET[] = "SELECT " ED_COLS " FROM extended_data WHERE oid = ?1";
static const char SQL_ED_OF_REV[] = "SELECT oid FROM extended_data WHERE roid = ?1 AND"
                                    " (?2 = -1 OR schema_oid = ?2) ORDER BY oid";
static const char SQL_ED_OF_PROJECT[] =
    "SELECT oid FROM extended_data WHERE poid = ?1 AND roid = -1 ORDER BY oid";
static const char SQL_ED_OF_SCHEMA[] =
    "SELECT oid FROM extended_data WHERE schema_oid = ?1 ORDER BY oid";

enum bh_err store_ed_add(struct store *st, const struct ed_rec *e)
{
  WITH_STMT(st, SQL_ED_ADD, "extended data add",
            (sqlite3_bind_int64(s, 1, e->oid), sqlite3_bind_int64(s, 2, e->file_oid),
             sqlite3_bind_int64(s, 3, e->schema_oid), bind_text_or_null(s, 4, e->title),
             bind_text_or_null(s, 5, e->url), sqlite3_bind_int64(s, 6, e->added_ms),
             sqlite3_bind_int64(s, 7, e->size), sqlite3_bind_int64(s, 8, e->time_to_generate),
             sqlite3_bind_int64(s, 9, e->uoid), sqlite3_bind_int64(s, 10, e->roid),
             sqlite3_bind_int64(s, 11, e->poid)));
}

static enum bh_err read_ed(sqlite3_stmt *s, void *out)
{
  struct ed_rec *e = out;
  memset(e, 0, sizeof *e);
  e->oid = sqlite3_column_int64(s, 0);
  e->file_oid = sqlite3_column_int64(s, 1);
  e->schema_oid = sqlite3_column_int64(s, 2);
  e->title = col_text(s, 3);
  e->url = col_text(s, 4);
  e->added_ms = sqlite3_column_int64(s, 5);
  e->size = sqlite3_column_int64(s, 6);
  e->time_to_generate = sqlite3_column_int64(s, 7);
  e->uoid = sqlite3_column_int64(s, 8);
  e->roid = sqlite3_column_int64(s, 9);
  e->poid = sqlite3_column_int64(s, 10);
  return BH_OK;
}

enum bh_err store_ed_get(struct store *st, int64_t oid, struct ed_rec *out)
{
  return get_by_id(st, SQL_ED_GET, oid, read_ed, out, sizeof *out, "extended data get");
}

enum bh_err store_ed_ids_of_revision(struct store *st, int64_t roid, int64_t schema_oid,
                                     int64_t **ids, size_t *n)
{
  return ids_by_key(st, SQL_ED_OF_REV, roid, schema_oid, 2, ids, n);
}

enum bh_err store_ed_ids_of_project(struct store *st, int64_t poid, int64_t **ids, size_t *n)
{
  return ids_by_key(st, SQL_ED_OF_PROJECT, poid, 0, 1, ids, n);
}

enum bh_err store_ed_ids_of_schema(struct store *st, int64_t schema_oid, int64_t **ids, size_t *n)
{
  return ids_by_key(st, SQL_ED_OF_SCHEMA, schema_oid, 0, 1, ids, n);
}

/* ---- plugin configuration ids ---- */

static const char SQL_PLUGIN_GET[] = "SELECT oid FROM plugin_oids WHERE uoid = ?1 AND plugin = ?2";
static const char SQL_PLUGIN_ADD[] = "INSERT INTO plugin_oids(uoid, plugin, oid) VALUES(?1,?2,?3)";
static const char SQL_PLUGIN_BY_OID[] = "SELECT uoid, plugin FROM plugin_oids WHERE oid = ?1";

enum bh_err store_plugin_oid(struct store *st, int64_t uoid, const char *plugin, int64_t *oid)
{
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_PLUGIN_GET);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, uoid);
    sqlite3_bind_text(s, 2, plugin, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      *oid = sqlite3_column_int64(s, 0);
      rc = BH_OK;
    } else {
      rc = r == SQLITE_DONE ? BH_NOTFOUND : store_fail(st, r, "plugin oid");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  if (rc == BH_NOTFOUND) {
    /* first use: a new stable id, in one transaction with the oid sequence */
    rc = store_begin(st);
    bool began = rc == BH_OK;
    if (rc == BH_OK)
      rc = store_next_oid(st, oid);
    sqlite3_stmt *a = rc == BH_OK ? store_prepared(st, SQL_PLUGIN_ADD) : NULL;
    if (a) {
      sqlite3_bind_int64(a, 1, uoid);
      sqlite3_bind_text(a, 2, plugin, -1, SQLITE_STATIC);
      sqlite3_bind_int64(a, 3, *oid);
      rc = step_done(st, a, "plugin oid add");
    } else if (rc == BH_OK) {
      rc = BH_STORE;
    }
    if (rc == BH_OK)
      rc = store_commit(st);
    else if (began)
      store_rollback(st);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_plugin_by_oid(struct store *st, int64_t oid, int64_t *uoid, char **plugin)
{
  *plugin = NULL;
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_PLUGIN_BY_OID);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, oid);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      *uoid = sqlite3_column_int64(s, 0);
      *plugin = col_text(s, 1);
      rc = *plugin ? BH_OK : BH_NOMEM;
    } else {
      rc = r == SQLITE_DONE ? BH_NOTFOUND : store_fail(st, r, "plugin by oid");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  store_unlock(st);
  return rc;
}
