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
  memset(s, 0, sizeof *s);
}

static const char SQL_SVC_ADD[] = "INSERT INTO services(soid, poid, uoid, state, created_ms,"
                                  " fields, secret) VALUES(?1,?2,?3,?4,?5,?6,?7)";
static const char SQL_SVC_GET[] =
    "SELECT soid, poid, uoid, state, created_ms, fields, secret FROM services WHERE soid = ?1";
static const char SQL_SVC_IDS[] =
    "SELECT soid FROM services WHERE poid = ?1 AND state = 0 ORDER BY soid";
static const char SQL_SVC_STATE[] = "UPDATE services SET state = ?2 WHERE soid = ?1";

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
      rc = out->fields && out->secret ? BH_OK : BH_NOMEM;
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
  sqlite3_stmt *q = store_prepared(st, SQL_SVC_IDS);
  enum bh_err rc = BH_STORE;
  *ids = NULL;
  *n = 0;
  if (q) {
    sqlite3_bind_int64(q, 1, poid);
    rc = store_ids(st, q, ids, n);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_service_set_state(struct store *st, int64_t soid, int state)
{
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, SQL_SVC_STATE);
  enum bh_err rc = BH_STORE;
  if (q) {
    sqlite3_bind_int64(q, 1, soid);
    sqlite3_bind_int(q, 2, state);
    rc = step_done(st, q, "service state");
  }
  store_unlock(st);
  return rc;
}
