/* store_services.c: remote services bound to projects, on the SQLite store. The SService
 * fields are kept as the JSON object the client gave (validated by the caller), so fields
 * BIMserver adds later pass through unchanged. */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

void service_rec_clear(struct service_rec *s)
{
  free(s->fields);
  free(s->secret);
  free(s->old_secret);
  free(s->disabled_reason);
  free(s->options);
  memset(s, 0, sizeof *s);
}

static const char SQL_SVC_ADD[] = "INSERT INTO services(soid, poid, uoid, state, created_ms,"
                                  " fields, secret) VALUES(?1,?2,?3,?4,?5,?6,?7)";
static const char SQL_SVC_GET[] =
    "SELECT soid, poid, uoid, state, created_ms, fields, secret, old_secret, old_secret_until_ms,"
    " disabled_ms, disabled_reason, options FROM services WHERE soid = ?1";
static const char SQL_SVC_IDS[] =
    "SELECT soid FROM services WHERE poid = ?1 AND state = 0 ORDER BY soid";
static const char SQL_SVC_ALL_IDS[] = "SELECT soid FROM services WHERE state = 0 ORDER BY soid";
static const char SQL_SVC_STATE[] = "UPDATE services SET state = ?2 WHERE soid = ?1";
static const char SQL_SVC_CANCEL[] =
    "UPDATE deliveries SET state = 3, next_ms = 0 WHERE soid = ?1 AND state = 0";
static const char SQL_SVC_DISABLE[] =
    "UPDATE services SET disabled_ms = ?2, disabled_reason = ?3 WHERE soid = ?1";
static const char SQL_SVC_OPTIONS[] = "UPDATE services SET options = ?2 WHERE soid = ?1";
static const char SQL_SVC_ROTATE[] =
    "UPDATE services SET old_secret = secret, secret = ?2, old_secret_until_ms = ?3"
    " WHERE soid = ?1";

enum bh_err store_service_add(struct store *st, const struct service_rec *s)
{
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, SQL_SVC_ADD);
  enum bh_err rc = BH_STORE;
  if (q) {
    sqlite3_bind_int64(q, 1, s->soid);
    sqlite3_bind_int64(q, 2, s->poid);
    sqlite3_bind_int64(q, 3, s->uoid);
    sqlite3_bind_int(q, 4, s->state);
    sqlite3_bind_int64(q, 5, s->created_ms);
    sqlite3_bind_text(q, 6, s->fields, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, s->secret, -1, SQLITE_STATIC);
    rc = step_done(st, q, "service add");
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_service_get(struct store *st, int64_t soid, struct service_rec *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, SQL_SVC_GET);
  enum bh_err rc = BH_STORE;
  if (q) {
    sqlite3_bind_int64(q, 1, soid);
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW) {
      out->soid = sqlite3_column_int64(q, 0);
      out->poid = sqlite3_column_int64(q, 1);
      out->uoid = sqlite3_column_int64(q, 2);
      out->state = sqlite3_column_int(q, 3);
      out->created_ms = sqlite3_column_int64(q, 4);
      out->fields = col_text(q, 5);
      out->secret = col_text(q, 6);
      out->old_secret = col_text(q, 7);
      out->old_secret_until_ms = sqlite3_column_int64(q, 8);
      out->disabled_ms = sqlite3_column_int64(q, 9);
      out->disabled_reason = col_text(q, 10);
      out->options = col_text(q, 11);
      rc = out->fields && out->secret && out->options ? BH_OK : BH_NOMEM;
      if (rc != BH_OK)
        service_rec_clear(out);
    } else {
      rc = r == SQLITE_DONE ? BH_NOTFOUND : store_fail(st, r, "service get");
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_service_ids(struct store *st, int64_t poid, int64_t **ids, size_t *n)
{
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, poid == -1 ? SQL_SVC_ALL_IDS : SQL_SVC_IDS);
  enum bh_err rc = BH_STORE;
  *ids = NULL;
  *n = 0;
  if (q) {
    if (poid != -1)
      sqlite3_bind_int64(q, 1, poid);
    rc = store_ids(st, q, ids, n);
  }
  store_unlock(st);
  return rc;
}

/* Runs sql with ?1 = soid (and ?2 = v when has_v). Lock held. */
static enum bh_err run_soid(struct store *st, const char *sql, int64_t soid, bool has_v, int64_t v,
                            const char *what)
{
  sqlite3_stmt *q = store_prepared(st, sql);
  if (!q)
    return BH_STORE;
  sqlite3_bind_int64(q, 1, soid);
  if (has_v)
    sqlite3_bind_int64(q, 2, v);
  return step_done(st, q, what);
}

enum bh_err store_service_set_state(struct store *st, int64_t soid, int state)
{
  enum bh_err rc = store_begin(st);
  if (rc != BH_OK)
    return rc;
  rc = run_soid(st, SQL_SVC_STATE, soid, true, state, "service state");
  if (rc == BH_OK && state != 0)
    rc = run_soid(st, SQL_SVC_CANCEL, soid, false, 0, "service deliveries cancel");
  if (rc == BH_OK)
    return store_commit(st);
  store_rollback(st);
  return rc;
}

enum bh_err store_service_set_disabled(struct store *st, int64_t soid, int64_t disabled_ms,
                                       const char *reason)
{
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, SQL_SVC_DISABLE);
  enum bh_err rc = BH_STORE;
  if (q) {
    sqlite3_bind_int64(q, 1, soid);
    sqlite3_bind_int64(q, 2, disabled_ms);
    bind_text_or_null(q, 3, reason);
    rc = step_done(st, q, "service disable");
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_service_set_options(struct store *st, int64_t soid, const char *options)
{
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, SQL_SVC_OPTIONS);
  enum bh_err rc = BH_STORE;
  if (q) {
    sqlite3_bind_int64(q, 1, soid);
    sqlite3_bind_text(q, 2, options, -1, SQLITE_STATIC);
    rc = step_done(st, q, "service options");
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_service_rotate_secret(struct store *st, int64_t soid, const char *secret,
                                        int64_t old_until_ms)
{
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, SQL_SVC_ROTATE);
  enum bh_err rc = BH_STORE;
  if (q) {
    sqlite3_bind_int64(q, 1, soid);
    sqlite3_bind_text(q, 2, secret, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, old_until_ms);
    rc = step_done(st, q, "service secret rotate");
  }
  store_unlock(st);
  return rc;
}
