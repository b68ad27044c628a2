/* store_endpoints.c: /stream endpoints, their registrations, and their push history
 * (written at shutdown, read at start), on the SQLite store. */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

static const char SQL_EP_ADD[] =
    "INSERT INTO endpoints(id, uoid, seq, created_ms) VALUES(?1,?2,?3,?4)";
static const char SQL_EP_DEL[] = "DELETE FROM endpoints WHERE id = ?1";
static const char SQL_EP_DEL_REGS[] = "DELETE FROM endpoint_regs WHERE endpoint = ?1";
static const char SQL_EP_DEL_HIST[] = "DELETE FROM endpoint_history WHERE endpoint = ?1";
static const char SQL_REG_ADD[] =
    "INSERT OR IGNORE INTO endpoint_regs(endpoint, kind, a, b) VALUES(?1,?2,?3,?4)";
static const char SQL_REG_DEL[] =
    "DELETE FROM endpoint_regs WHERE endpoint = ?1 AND kind = ?2 AND a = ?3 AND b = ?4";
static const char SQL_EP_ALL[] = "SELECT id, uoid, seq, created_ms FROM endpoints ORDER BY id";
static const char SQL_REG_ALL[] = "SELECT endpoint, kind, a, b FROM endpoint_regs";
static const char SQL_HIST_ALL[] =
    "SELECT endpoint, seq, time_ms, body FROM endpoint_history ORDER BY endpoint, seq";
static const char SQL_HIST_CLEAR[] = "DELETE FROM endpoint_history";
static const char SQL_HIST_ADD[] =
    "INSERT INTO endpoint_history(endpoint, seq, time_ms, body) VALUES(?1,?2,?3,?4)";
static const char SQL_EP_SEQ[] = "UPDATE endpoints SET seq = ?2 WHERE id = ?1";

static enum bh_err run(struct store *st, const char *sql, int64_t a, int64_t b, int64_t c,
                       int64_t d, int n, const char *what)
{
  sqlite3_stmt *s = store_prepared(st, sql);
  if (!s)
    return BH_STORE;
  int64_t v[4] = {a, b, c, d};
  for (int i = 0; i < n; i++)
    sqlite3_bind_int64(s, i + 1, v[i]);
  return step_done(st, s, what);
}

enum bh_err store_endpoint_add(struct store *st, const struct endpoint_rec *e)
{
  store_lock(st);
  enum bh_err rc =
      run(st, SQL_EP_ADD, e->id, e->uoid, (int64_t)e->seq, e->created_ms, 4, "endpoint add");
  store_unlock(st);
  return rc;
}

enum bh_err store_endpoint_delete(struct store *st, int64_t id)
{
  enum bh_err rc = store_begin(st);
  if (rc != BH_OK)
    return rc;
  rc = run(st, SQL_EP_DEL_REGS, id, 0, 0, 0, 1, "endpoint regs delete");
  if (rc == BH_OK)
    rc = run(st, SQL_EP_DEL_HIST, id, 0, 0, 0, 1, "endpoint history delete");
  if (rc == BH_OK)
    rc = run(st, SQL_EP_DEL, id, 0, 0, 0, 1, "endpoint delete");
  if (rc == BH_OK)
    return store_commit(st);
  store_rollback(st);
  return rc;
}

enum bh_err store_endpoint_reg_add(struct store *st, const struct endpoint_reg_rec *r)
{
  store_lock(st);
  enum bh_err rc = run(st, SQL_REG_ADD, r->endpoint, r->kind, r->a, r->b, 4, "registration add");
  store_unlock(st);
  return rc;
}

enum bh_err store_endpoint_reg_remove(struct store *st, const struct endpoint_reg_rec *r)
{
  store_lock(st);
  enum bh_err rc = run(st, SQL_REG_DEL, r->endpoint, r->kind, r->a, r->b, 4, "registration remove");
  store_unlock(st);
  return rc;
}

/* Grows *v (of elem bytes each) to hold one more; false when out of memory. */
static bool grow(void **v, size_t n, size_t *cap, size_t elem)
{
  if (n < *cap)
    return true;
  size_t ncap = *cap ? *cap * 2 : 16;
  void *nv = realloc(*v, ncap * elem);
  if (!nv)
    return false;
  *v = nv;
  *cap = ncap;
  return true;
}

enum bh_err store_endpoint_load(struct store *st, struct endpoint_rec **eps, size_t *neps,
                                struct endpoint_reg_rec **regs, size_t *nregs,
                                struct endpoint_frame_rec **frames, size_t *nframes)
{
  *eps = NULL;
  *regs = NULL;
  *frames = NULL;
  *neps = *nregs = *nframes = 0;
  size_t c1 = 0, c2 = 0, c3 = 0;
  enum bh_err rc = BH_OK;
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_EP_ALL);
  while (s && rc == BH_OK && sqlite3_step(s) == SQLITE_ROW) {
    if (!grow((void **)eps, *neps, &c1, sizeof **eps)) {
      rc = BH_NOMEM;
      break;
    }
    struct endpoint_rec *e = &(*eps)[(*neps)++];
    e->id = sqlite3_column_int64(s, 0);
    e->uoid = sqlite3_column_int64(s, 1);
    e->seq = (uint64_t)sqlite3_column_int64(s, 2);
    e->created_ms = sqlite3_column_int64(s, 3);
  }
  if (s)
    sqlite3_reset(s);
  s = rc == BH_OK ? store_prepared(st, SQL_REG_ALL) : NULL;
  while (s && rc == BH_OK && sqlite3_step(s) == SQLITE_ROW) {
    if (!grow((void **)regs, *nregs, &c2, sizeof **regs)) {
      rc = BH_NOMEM;
      break;
    }
    struct endpoint_reg_rec *r = &(*regs)[(*nregs)++];
    r->endpoint = sqlite3_column_int64(s, 0);
    r->kind = sqlite3_column_int(s, 1);
    r->a = sqlite3_column_int64(s, 2);
    r->b = sqlite3_column_int64(s, 3);
  }
  if (s)
    sqlite3_reset(s);
  s = rc == BH_OK ? store_prepared(st, SQL_HIST_ALL) : NULL;
  while (s && rc == BH_OK && sqlite3_step(s) == SQLITE_ROW) {
    if (!grow((void **)frames, *nframes, &c3, sizeof **frames)) {
      rc = BH_NOMEM;
      break;
    }
    struct endpoint_frame_rec *f = &(*frames)[*nframes];
    f->endpoint = sqlite3_column_int64(s, 0);
    f->seq = (uint64_t)sqlite3_column_int64(s, 1);
    f->time_ms = sqlite3_column_int64(s, 2);
    f->body = col_text(s, 3);
    if (!f->body)
      rc = BH_NOMEM;
    else
      (*nframes)++;
  }
  if (s)
    sqlite3_reset(s);
  store_unlock(st);
  if (rc != BH_OK || (!s && *neps)) {
    for (size_t i = 0; i < *nframes; i++)
      free((*frames)[i].body);
    free(*eps);
    free(*regs);
    free(*frames);
    *eps = NULL;
    *regs = NULL;
    *frames = NULL;
    *neps = *nregs = *nframes = 0;
    return rc == BH_OK ? BH_STORE : rc;
  }
  return BH_OK;
}

enum bh_err store_endpoint_save(struct store *st, const struct endpoint_rec *eps, size_t neps,
                                const struct endpoint_frame_rec *frames, size_t nframes)
{
  enum bh_err rc = store_begin(st);
  if (rc != BH_OK)
    return rc;
  rc = run(st, SQL_HIST_CLEAR, 0, 0, 0, 0, 0, "history clear");
  for (size_t i = 0; rc == BH_OK && i < neps; i++)
    rc = run(st, SQL_EP_SEQ, eps[i].id, (int64_t)eps[i].seq, 0, 0, 2, "endpoint seq");
  sqlite3_stmt *s = rc == BH_OK ? store_prepared(st, SQL_HIST_ADD) : NULL;
  for (size_t i = 0; s && rc == BH_OK && i < nframes; i++) {
    sqlite3_bind_int64(s, 1, frames[i].endpoint);
    sqlite3_bind_int64(s, 2, (int64_t)frames[i].seq);
    sqlite3_bind_int64(s, 3, frames[i].time_ms);
    sqlite3_bind_text(s, 4, frames[i].body, -1, SQLITE_STATIC);
    rc = step_done(st, s, "history add");
  }
  if (rc == BH_OK && !s && nframes)
    rc = BH_STORE;
  if (rc == BH_OK)
    return store_commit(st);
  store_rollback(st);
  return rc;
}
