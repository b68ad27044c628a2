/* store_deliveries.c: the notification outbox and delivery log on the SQLite store. A row of
 * deliveries is one notification to one service; it is written in the transaction of its
 * event (store_outbox_add) and changes state as the delivery engine records attempts. */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

void delivery_rec_clear(struct delivery_rec *d)
{
  free(d->method);
  free(d->last_error);
  memset(d, 0, sizeof *d);
}

void delivery_list_clear(struct delivery_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    delivery_rec_clear(&l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

void delivery_attempt_rec_clear(struct delivery_attempt_rec *a)
{
  free(a->error);
  free(a->response);
  memset(a, 0, sizeof *a);
}

/* The services an event reaches are chosen in SQL, so the event and its deliveries are one
 * statement inside the event's own transaction. */
static const char SQL_OUTBOX[] =
    "INSERT INTO deliveries(soid, method, poid, roid, edid, created_ms, state, attempts, next_ms)"
    " SELECT soid, ?1, ?2, ?3, ?4, ?5, 0, 0, ?5 FROM services"
    " WHERE poid = ?6 AND state = 0 AND json_extract(fields, '$.trigger') = ?7"
    " AND soid <> ?8 AND (?9 < 0 OR soid = ?9) ORDER BY soid";

#define DELIVERY_COLS                                                                              \
  "id, soid, poid, roid, edid, method, created_ms, state, attempts, next_ms, last_ms,"             \
  " last_status, last_error"
static const char SQL_PENDING[] = "SELECT " DELIVERY_COLS " FROM deliveries"
                                  " WHERE soid = ?1 AND state = 0 AND id > ?2 ORDER BY id LIMIT ?3";
static const char SQL_GET[] = "SELECT " DELIVERY_COLS " FROM deliveries WHERE id = ?1";
static const char SQL_LIST[] = "SELECT " DELIVERY_COLS " FROM deliveries"
                               " WHERE soid = ?1 AND (?2 < 0 OR state = ?2) AND (?3 < 0 OR id < ?3)"
                               " ORDER BY id DESC LIMIT ?4";
static const char SQL_ATTEMPT_ADD[] =
    "INSERT OR REPLACE INTO delivery_attempts(delivery, n, at_ms, duration_ms, status, ok, error,"
    " response) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)";
static const char SQL_RECORD[] =
    "UPDATE deliveries SET state = ?2, attempts = ?3, next_ms = ?4, last_ms = ?5,"
    " last_status = ?6, last_error = ?7 WHERE id = ?1 AND state = 0";
static const char SQL_ATTEMPTS[] =
    "SELECT delivery, n, at_ms, duration_ms, status, ok, error, response FROM delivery_attempts"
    " WHERE delivery = ?1 ORDER BY n";
static const char SQL_REQUEUE[] =
    "UPDATE deliveries SET state = 0, next_ms = ?2 WHERE id = ?1 AND state IN (1, 2)";
static const char SQL_REQUEUE_SINCE[] = "UPDATE deliveries SET state = 0, next_ms = ?3"
                                        " WHERE soid = ?1 AND created_ms >= ?2 AND state IN (1, 2)";
static const char SQL_COUNTS[] = "SELECT state, count(*) FROM deliveries WHERE soid = ?1"
                                 " GROUP BY state";
static const char SQL_LAST_OK[] =
    "SELECT max(last_ms) FROM deliveries WHERE soid = ?1 AND state = 1";
static const char SQL_RECENT[] =
    "SELECT count(*), sum(a.ok = 0), max(CASE WHEN a.ok = 0 THEN a.at_ms END)"
    " FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery"
    " WHERE d.soid = ?1 AND a.at_ms >= ?2";
static const char SQL_LAST_FAIL[] =
    "SELECT a.at_ms, a.error FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery"
    " WHERE d.soid = ?1 AND a.ok = 0 ORDER BY a.at_ms DESC LIMIT 1";
static const char SQL_PURGE_ATTEMPTS[] =
    "DELETE FROM delivery_attempts WHERE delivery IN"
    " (SELECT id FROM deliveries WHERE state <> 0 AND max(last_ms, created_ms) < ?1)";
static const char SQL_PURGE[] =
    "DELETE FROM deliveries WHERE state <> 0 AND max(last_ms, created_ms) < ?1";

enum bh_err store_outbox_add(struct store *st, const struct outbox_event *e, int64_t now_ms,
                             int *added)
{
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, SQL_OUTBOX);
  enum bh_err rc = BH_STORE;
  if (q) {
    sqlite3_bind_text(q, 1, e->method, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, e->poid);
    sqlite3_bind_int64(q, 3, e->roid);
    sqlite3_bind_int64(q, 4, e->edid);
    sqlite3_bind_int64(q, 5, now_ms);
    sqlite3_bind_int64(q, 6, e->service_poid);
    sqlite3_bind_text(q, 7, e->trigger, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, e->exclude_soid);
    sqlite3_bind_int64(q, 9, e->only_soid);
    rc = step_done(st, q, "outbox add");
    if (added)
      *added = rc == BH_OK ? sqlite3_changes(st->db) : 0;
  }
  store_unlock(st);
  return rc;
}

static enum bh_err read_delivery(sqlite3_stmt *s, void *elem)
{
  struct delivery_rec *d = elem;
  d->id = sqlite3_column_int64(s, 0);
  d->soid = sqlite3_column_int64(s, 1);
  d->poid = sqlite3_column_int64(s, 2);
  d->roid = sqlite3_column_int64(s, 3);
  d->edid = sqlite3_column_int64(s, 4);
  d->method = col_text(s, 5);
  d->created_ms = sqlite3_column_int64(s, 6);
  d->state = sqlite3_column_int(s, 7);
  d->attempts = sqlite3_column_int(s, 8);
  d->next_ms = sqlite3_column_int64(s, 9);
  d->last_ms = sqlite3_column_int64(s, 10);
  d->last_status = sqlite3_column_int(s, 11);
  d->last_error = col_text(s, 12);
  bool missing = !d->method || (sqlite3_column_type(s, 12) != SQLITE_NULL && !d->last_error);
  return missing ? BH_NOMEM : BH_OK;
}

static void clear_delivery(void *elem)
{
  delivery_rec_clear(elem);
}

static enum bh_err read_attempt(sqlite3_stmt *s, void *elem)
{
  struct delivery_attempt_rec *a = elem;
  a->delivery = sqlite3_column_int64(s, 0);
  a->n = sqlite3_column_int(s, 1);
  a->at_ms = sqlite3_column_int64(s, 2);
  a->duration_ms = sqlite3_column_int64(s, 3);
  a->status = sqlite3_column_int(s, 4);
  a->ok = sqlite3_column_int(s, 5) != 0;
  a->error = col_text(s, 6);
  a->response = col_text(s, 7);
  return BH_OK;
}

static void clear_attempt(void *elem)
{
  delivery_attempt_rec_clear(elem);
}

static enum bh_err list(struct store *st, const char *sql, const int64_t *binds, int nbinds,
                        struct delivery_list *out)
{
  out->v = NULL;
  out->n = 0;
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, sql);
  enum bh_err rc = BH_STORE;
  if (q) {
    for (int i = 0; i < nbinds; i++)
      sqlite3_bind_int64(q, i + 1, binds[i]);
    void *v = NULL;
    rc =
        store_rows(st, q, sizeof *out->v, read_delivery, clear_delivery, &v, &out->n, "deliveries");
    out->v = v;
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_delivery_pending(struct store *st, int64_t soid, int64_t after_id, int limit,
                                   struct delivery_list *out)
{
  const int64_t b[] = {soid, after_id, limit};
  return list(st, SQL_PENDING, b, 3, out);
}

enum bh_err store_delivery_list(struct store *st, int64_t soid, int state, int64_t before_id,
                                int limit, struct delivery_list *out)
{
  const int64_t b[] = {soid, state, before_id, limit};
  return list(st, SQL_LIST, b, 4, out);
}

enum bh_err store_delivery_get(struct store *st, int64_t id, struct delivery_rec *out)
{
  struct delivery_list l;
  const int64_t b[] = {id};
  enum bh_err rc = list(st, SQL_GET, b, 1, &l);
  if (rc != BH_OK)
    return rc;
  if (l.n == 0) {
    delivery_list_clear(&l);
    return BH_NOTFOUND;
  }
  *out = l.v[0];
  free(l.v);
  return BH_OK;
}

enum bh_err store_delivery_record(struct store *st, const struct delivery_attempt_rec *a, int state,
                                  int64_t next_ms)
{
  store_lock(st);
  enum bh_err rc = BH_STORE;
  sqlite3_stmt *q = store_prepared(st, SQL_ATTEMPT_ADD);
  if (q) {
    sqlite3_bind_int64(q, 1, a->delivery);
    sqlite3_bind_int(q, 2, a->n);
    sqlite3_bind_int64(q, 3, a->at_ms);
    sqlite3_bind_int64(q, 4, a->duration_ms);
    sqlite3_bind_int(q, 5, a->status);
    sqlite3_bind_int(q, 6, a->ok);
    bind_text_or_null(q, 7, a->error);
    bind_text_or_null(q, 8, a->response);
    rc = step_done(st, q, "delivery attempt");
  }
  q = rc == BH_OK ? store_prepared(st, SQL_RECORD) : NULL;
  if (q) {
    sqlite3_bind_int64(q, 1, a->delivery);
    sqlite3_bind_int(q, 2, state);
    sqlite3_bind_int(q, 3, a->n);
    sqlite3_bind_int64(q, 4, next_ms);
    sqlite3_bind_int64(q, 5, a->at_ms);
    sqlite3_bind_int(q, 6, a->status);
    bind_text_or_null(q, 7, a->ok ? NULL : a->error);
    rc = step_done(st, q, "delivery record");
  } else if (rc == BH_OK) {
    rc = BH_STORE;
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_delivery_attempts(struct store *st, int64_t id, struct delivery_attempt_rec **v,
                                    size_t *n)
{
  *v = NULL;
  *n = 0;
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, SQL_ATTEMPTS);
  enum bh_err rc = BH_STORE;
  if (q) {
    sqlite3_bind_int64(q, 1, id);
    void *rows = NULL;
    rc = store_rows(st, q, sizeof **v, read_attempt, clear_attempt, &rows, n, "attempts");
    *v = rows;
  }
  store_unlock(st);
  return rc;
}

/* Runs an UPDATE/DELETE with up to three int binds; *changes gets the rows changed. */
static enum bh_err change(struct store *st, const char *sql, const int64_t *binds, int nbinds,
                          int64_t *changes, const char *what)
{
  store_lock(st);
  sqlite3_stmt *q = store_prepared(st, sql);
  enum bh_err rc = BH_STORE;
  if (q) {
    for (int i = 0; i < nbinds; i++)
      sqlite3_bind_int64(q, i + 1, binds[i]);
    rc = step_done(st, q, what);
    if (changes)
      *changes = rc == BH_OK ? sqlite3_changes(st->db) : 0;
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_delivery_requeue(struct store *st, int64_t id, int64_t now_ms)
{
  const int64_t b[] = {id, now_ms};
  int64_t n = 0;
  enum bh_err rc = change(st, SQL_REQUEUE, b, 2, &n, "delivery requeue");
  return rc == BH_OK && n == 0 ? BH_STATE : rc;
}

enum bh_err store_delivery_requeue_since(struct store *st, int64_t soid, int64_t since_ms,
                                         int64_t now_ms, int64_t *count)
{
  const int64_t b[] = {soid, since_ms, now_ms};
  return change(st, SQL_REQUEUE_SINCE, b, 3, count, "delivery replay");
}

enum bh_err store_delivery_purge(struct store *st, int64_t before_ms, int64_t *removed)
{
  enum bh_err rc = store_begin(st);
  if (rc != BH_OK)
    return rc;
  const int64_t b[] = {before_ms};
  rc = change(st, SQL_PURGE_ATTEMPTS, b, 1, NULL, "attempts purge");
  if (rc == BH_OK)
    rc = change(st, SQL_PURGE, b, 1, removed, "deliveries purge");
  if (rc == BH_OK)
    return store_commit(st);
  store_rollback(st);
  return rc;
}

enum bh_err store_delivery_health(struct store *st, int64_t soid, int64_t now_ms,
                                  struct delivery_health *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  enum bh_err rc = BH_OK;
  sqlite3_stmt *q = store_prepared(st, SQL_COUNTS);
  if (!q) {
    rc = BH_STORE;
    goto out;
  }
  sqlite3_bind_int64(q, 1, soid);
  int r;
  while ((r = sqlite3_step(q)) == SQLITE_ROW) {
    int64_t n = sqlite3_column_int64(q, 1);
    switch (sqlite3_column_int(q, 0)) {
    case DELIVERY_PENDING:
      out->pending = n;
      break;
    case DELIVERY_DELIVERED:
      out->delivered = n;
      break;
    case DELIVERY_FAILED:
      out->failed = n;
      break;
    case DELIVERY_CANCELLED:
      out->cancelled = n;
      break;
    default:
      break;
    }
  }
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  if (r != SQLITE_DONE) {
    rc = store_fail(st, r, "delivery counts");
    goto out;
  }
  q = store_prepared(st, SQL_LAST_OK);
  if (q) {
    sqlite3_bind_int64(q, 1, soid);
    if (sqlite3_step(q) == SQLITE_ROW)
      out->last_success_ms = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
  }
  q = store_prepared(st, SQL_RECENT);
  if (q) {
    sqlite3_bind_int64(q, 1, soid);
    sqlite3_bind_int64(q, 2, now_ms - 86400000);
    if (sqlite3_step(q) == SQLITE_ROW) {
      out->attempts_24h = sqlite3_column_int64(q, 0);
      out->failures_24h = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
  }
  q = store_prepared(st, SQL_LAST_FAIL);
  if (q) {
    sqlite3_bind_int64(q, 1, soid);
    if (sqlite3_step(q) == SQLITE_ROW) {
      out->last_failure_ms = sqlite3_column_int64(q, 0);
      out->last_error = col_text(q, 1);
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
  }
out:
  store_unlock(st);
  return rc;
}
