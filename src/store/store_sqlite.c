/* store_sqlite.c: the store on embedded SQLite (WAL). One connection, serialized by a
 * recursive mutex so a transaction can call the single-row functions. Statements are
 * prepared on first use and kept. The schema is versioned with PRAGMA user_version; each
 * numbered migration runs in one transaction. */
#include "store/store.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/token.h"
#include "common/bh_log.h"
#include "store/store_internal.h"

/* A random (version 4) UUID, as SQL: a user's SUser.uuid, made by the store. */
#define SQL_NEW_UUID                                                                               \
  "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||"                      \
  " substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + abs(random() % 4), 1) ||"    \
  " substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))"

static const char *const migrations[] = {
    /* 1: users, projects, rights, tokens, settings */
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE users(uoid INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " name TEXT NOT NULL, type INTEGER NOT NULL, state INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, created_by INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
    " password_hash TEXT, user_token TEXT NOT NULL UNIQUE);"
    "CREATE TABLE projects(poid INTEGER PRIMARY KEY, number INTEGER NOT NULL, name TEXT NOT NULL,"
    " schema TEXT NOT NULL, description TEXT, export_prefix TEXT NOT NULL,"
    " parent INTEGER NOT NULL, state INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " created_by INTEGER NOT NULL, send_email INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX projects_parent ON projects(parent, name);"
    "CREATE TABLE rights(uoid INTEGER NOT NULL, poid INTEGER NOT NULL, PRIMARY KEY(uoid, poid))"
    " WITHOUT ROWID;"
    "CREATE INDEX rights_poid ON rights(poid, uoid);"
    "CREATE TABLE tokens(hash BLOB PRIMARY KEY, uoid INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, service_oid INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE INDEX tokens_expiry ON tokens(expires_ms);",
    /* 2: revisions and their files, files, extended data, plugin configurations */
    "CREATE TABLE revisions(roid INTEGER PRIMARY KEY, poid INTEGER NOT NULL,"
    " number INTEGER NOT NULL, uoid INTEGER NOT NULL, service_oid INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, comment TEXT, tag TEXT, blob TEXT NOT NULL,"
    " file_name TEXT, file_size INTEGER NOT NULL, schema TEXT NOT NULL,"
    " object_count INTEGER NOT NULL, deserializer TEXT, header TEXT,"
    " UNIQUE(poid, number));"
    "CREATE TABLE revision_types(roid INTEGER NOT NULL, type TEXT NOT NULL,"
    " count INTEGER NOT NULL, PRIMARY KEY(roid, type)) WITHOUT ROWID;"
    "CREATE TABLE files(oid INTEGER PRIMARY KEY, blob TEXT NOT NULL, filename TEXT, mime TEXT,"
    " size INTEGER NOT NULL, uoid INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE ed_schemas(oid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " content_type TEXT NOT NULL, description TEXT, url TEXT, file_oid INTEGER NOT NULL,"
    " size INTEGER NOT NULL);"
    "CREATE TABLE extended_data(oid INTEGER PRIMARY KEY, file_oid INTEGER NOT NULL,"
    " schema_oid INTEGER NOT NULL, title TEXT, url TEXT, added_ms INTEGER NOT NULL,"
    " size INTEGER NOT NULL, time_to_generate INTEGER NOT NULL, uoid INTEGER NOT NULL,"
    " roid INTEGER NOT NULL, poid INTEGER NOT NULL);"
    "CREATE INDEX extended_data_roid ON extended_data(roid, schema_oid);"
    "CREATE INDEX extended_data_poid ON extended_data(poid);"
    "CREATE TABLE plugin_oids(uoid INTEGER NOT NULL, plugin TEXT NOT NULL,"
    " oid INTEGER NOT NULL UNIQUE, PRIMARY KEY(uoid, plugin)) WITHOUT ROWID;",
    /* 3: /stream endpoints, their registrations and the history kept across a restart */
    "CREATE TABLE endpoints(id INTEGER PRIMARY KEY, uoid INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE endpoint_regs(endpoint INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY(endpoint, kind, a, b)) WITHOUT ROWID;"
    "CREATE TABLE endpoint_history(endpoint INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " time_ms INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY(endpoint, seq)) WITHOUT ROWID;",
    /* 4: remote services bound to projects */
    "CREATE TABLE services(soid INTEGER PRIMARY KEY, poid INTEGER NOT NULL, uoid INTEGER NOT NULL,"
    " state INTEGER NOT NULL, created_ms INTEGER NOT NULL, fields TEXT NOT NULL,"
    " secret TEXT NOT NULL);"
    "CREATE INDEX services_poid ON services(poid, state);",
    /* 5: service notifications: the outbox and delivery log, service state and options.
     * AUTOINCREMENT: a delivery id (its webhook-id) never comes
     * back after the log is purged. */
    "ALTER TABLE services ADD COLUMN disabled_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE services ADD COLUMN disabled_reason TEXT;"
    "ALTER TABLE services ADD COLUMN options TEXT NOT NULL DEFAULT '{}';"
    "ALTER TABLE services ADD COLUMN old_secret TEXT;"
    "ALTER TABLE services ADD COLUMN old_secret_until_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE deliveries(id INTEGER PRIMARY KEY AUTOINCREMENT, soid INTEGER NOT NULL,"
    " method TEXT NOT NULL, poid INTEGER NOT NULL, roid INTEGER NOT NULL, edid INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, state INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    " next_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL DEFAULT 0,"
    " last_status INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
    "CREATE INDEX deliveries_pending ON deliveries(soid, id) WHERE state = 0;"
    "CREATE INDEX deliveries_service ON deliveries(soid, created_ms);"
    "CREATE INDEX deliveries_done ON deliveries(last_ms) WHERE state <> 0;"
    "CREATE TABLE delivery_attempts(delivery INTEGER NOT NULL, n INTEGER NOT NULL,"
    " at_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL, status INTEGER NOT NULL,"
    " ok INTEGER NOT NULL, error TEXT, response TEXT, PRIMARY KEY(delivery, n)) WITHOUT ROWID;",
    /* 6: user tokens kept only as their hash, hashed in place (bh_token_hash is defined on
     * the connection, see store_open); login tokens found by user, to end a user's sessions */
    "ALTER TABLE users RENAME COLUMN user_token TO user_token_hash;"
    "UPDATE users SET user_token_hash = bh_token_hash(user_token_hash);"
    "CREATE INDEX tokens_uoid ON tokens(uoid);",
    /* 7: a stable UUID per user (SUser.uuid), given to existing users here; revisions found
     * by who checked them in (getAllRevisionsByUser) */
    "ALTER TABLE users ADD COLUMN uuid TEXT;"
    "UPDATE users SET uuid = " SQL_NEW_UUID ";"
    "CREATE UNIQUE INDEX users_uuid ON users(uuid);"
    "CREATE INDEX revisions_uoid ON revisions(uoid, created_ms);",
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

enum stmt_id {
  S_BEGIN,
  S_COMMIT,
  S_ROLLBACK,
  S_SETTING_GET,
  S_SETTING_SET,
  S_USER_ADD,
  S_USER_GET,
  S_USER_BY_NAME,
  S_USER_BY_TOKEN,
  S_USER_LIST,
  S_USER_SET_PW,
  S_USER_SEEN,
  S_USER_COUNT,
  S_PROJECT_ADD,
  S_PROJECT_GET,
  S_PROJECT_UPDATE,
  S_PROJECT_LIST,
  S_PROJECT_CHILDREN,
  S_PROJECT_BY_NAME,
  S_PROJECT_MAX_NUMBER,
  S_RIGHT_ADD,
  S_RIGHT_REMOVE,
  S_RIGHT_HAS,
  S_RIGHTS_OF_USER,
  S_RIGHTS_OF_PROJECT,
  S_TOKEN_ADD,
  S_TOKEN_GET,
  S_TOKEN_DELETE,
  S_TOKEN_DELETE_USER,
  S_TOKEN_PURGE,
  S_COUNT
};

#define USER_COLS                                                                                  \
  "uoid, username, name, type, state, created_ms, created_by, last_seen_ms, "                      \
  "password_hash, user_token_hash, uuid"
#define PROJECT_COLS                                                                               \
  "poid, number, name, schema, description, export_prefix, parent, state, "                        \
  "created_ms, created_by, send_email"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
    [S_SETTING_SET] = "INSERT INTO settings(key, value) VALUES(?1, ?2)"
                      " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [S_USER_ADD] = "INSERT INTO users(" USER_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,"
                   " coalesce(?11, " SQL_NEW_UUID "))",
    [S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE uoid = ?1",
    [S_USER_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE username = ?1",
    [S_USER_BY_TOKEN] = "SELECT " USER_COLS " FROM users WHERE user_token_hash = ?1",
    [S_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY uoid",
    [S_USER_SET_PW] = "UPDATE users SET password_hash = ?2, user_token_hash = ?3 WHERE uoid = ?1",
    [S_USER_SEEN] = "UPDATE users SET last_seen_ms = ?2 WHERE uoid = ?1",
    [S_USER_COUNT] = "SELECT count(*) FROM users",
    [S_PROJECT_ADD] =
        "INSERT INTO projects(" PROJECT_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    [S_PROJECT_GET] = "SELECT " PROJECT_COLS " FROM projects WHERE poid = ?1",
    [S_PROJECT_UPDATE] = "UPDATE projects SET name=?3, schema=?4, description=?5,"
                         " export_prefix=?6, parent=?7, state=?8, send_email=?11 WHERE poid=?1",
    [S_PROJECT_LIST] = "SELECT " PROJECT_COLS " FROM projects ORDER BY poid",
    [S_PROJECT_CHILDREN] = "SELECT " PROJECT_COLS " FROM projects WHERE parent = ?1 ORDER BY poid",
    [S_PROJECT_BY_NAME] = "SELECT " PROJECT_COLS " FROM projects WHERE parent = ?1 AND name = ?2"
                          " ORDER BY state, poid LIMIT 1",
    [S_PROJECT_MAX_NUMBER] = "SELECT coalesce(max(number), 0) FROM projects",
    [S_RIGHT_ADD] = "INSERT OR IGNORE INTO rights(uoid, poid) VALUES(?1, ?2)",
    [S_RIGHT_REMOVE] = "DELETE FROM rights WHERE uoid = ?1 AND poid = ?2",
    [S_RIGHT_HAS] = "SELECT 1 FROM rights WHERE uoid = ?1 AND poid = ?2",
    [S_RIGHTS_OF_USER] = "SELECT poid FROM rights WHERE uoid = ?1 ORDER BY poid",
    [S_RIGHTS_OF_PROJECT] = "SELECT uoid FROM rights WHERE poid = ?1 ORDER BY uoid",
    [S_TOKEN_ADD] = "INSERT INTO tokens(hash, uoid, kind, created_ms, expires_ms, service_oid)"
                    " VALUES(?1,?2,?3,?4,?5,?6)",
    [S_TOKEN_GET] = "SELECT uoid, kind, created_ms, expires_ms, service_oid FROM tokens"
                    " WHERE hash = ?1",
    [S_TOKEN_DELETE] = "DELETE FROM tokens WHERE hash = ?1",
    [S_TOKEN_DELETE_USER] = "DELETE FROM tokens WHERE uoid = ?1 AND hash IS NOT ?2",
    [S_TOKEN_PURGE] = "DELETE FROM tokens WHERE expires_ms <= ?1",
};

enum bh_err store_fail(struct store *st, int rc, const char *what)
{
  BH_LOG(BH_LOG_ERROR, BH_C_STORE, "%s: %s (%d)", what, sqlite3_errmsg(st->db), rc);
  if (rc == SQLITE_NOMEM)
    return BH_NOMEM;
  if (rc == SQLITE_CONSTRAINT)
    return BH_EXISTS;
  return BH_STORE;
}

static sqlite3_stmt *stmt(struct store *st, enum stmt_id id)
{
  return store_prepared(st, stmt_sql[id]);
}

void store_lock(struct store *st)
{
  pthread_mutex_lock(&st->lock);
}

void store_unlock(struct store *st)
{
  pthread_mutex_unlock(&st->lock);
}

enum bh_err step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_DONE ? BH_OK : store_fail(st, rc, what);
}

char *col_text(sqlite3_stmt *s, int i)
{
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? strdup((const char *)t) : NULL;
}

int bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
  return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

sqlite3_stmt *store_prepared(struct store *st, const char *sql)
{
  uintptr_t h = (uintptr_t)sql;
  for (unsigned i = 0; i < STORE_STMT_SLOTS; i++) {
    unsigned k = (unsigned)((h >> 3) + i) % STORE_STMT_SLOTS;
    if (st->prepared[k].sql == sql)
      return st->prepared[k].stmt;
    if (!st->prepared[k].sql) {
      int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->prepared[k].stmt,
                                  NULL);
      if (rc != SQLITE_OK) {
        store_fail(st, rc, sql);
        return NULL;
      }
      st->prepared[k].sql = sql;
      return st->prepared[k].stmt;
    }
  }
  BH_LOG(BH_LOG_ERROR, BH_C_STORE, "more than %d statements: raise STORE_STMT_SLOTS",
         STORE_STMT_SLOTS);
  return NULL;
}

enum bh_err store_rows(struct store *st, sqlite3_stmt *s, size_t elem_size, row_reader read,
                       void (*clear)(void *elem), void **v, size_t *n, const char *what)
{
  *v = NULL;
  *n = 0;
  size_t cap = 0;
  enum bh_err rc = BH_OK;
  int r;
  while ((r = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      void *nv = realloc(*v, ncap * elem_size);
      if (!nv) {
        rc = BH_NOMEM;
        break;
      }
      *v = nv;
      cap = ncap;
    }
    rc = read(s, (char *)*v + *n * elem_size);
    if (rc != BH_OK)
      break;
    (*n)++;
  }
  if (rc == BH_OK && r != SQLITE_DONE)
    rc = store_fail(st, r, what);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != BH_OK) {
    for (size_t i = 0; i < *n; i++)
      clear((char *)*v + i * elem_size);
    free(*v);
    *v = NULL;
    *n = 0;
  }
  return rc;
}

enum bh_err store_ids(struct store *st, sqlite3_stmt *s, int64_t **ids, size_t *n)
{
  *ids = NULL;
  *n = 0;
  size_t cap = 0;
  enum bh_err rc = BH_OK;
  int r;
  while ((r = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      int64_t *nv = realloc(*ids, ncap * sizeof *nv);
      if (!nv) {
        rc = BH_NOMEM;
        break;
      }
      *ids = nv;
      cap = ncap;
    }
    (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
  }
  if (rc == BH_OK && r != SQLITE_DONE)
    rc = store_fail(st, r, "id list");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != BH_OK) {
    free(*ids);
    *ids = NULL;
    *n = 0;
  }
  return rc;
}

static enum bh_err exec(struct store *st, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc == SQLITE_NOMEM ? BH_NOMEM : BH_STORE;
  }
  return BH_OK;
}

static enum bh_err migrate(struct store *st)
{
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
    return BH_STORE;
  int version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
  sqlite3_finalize(s);
  if (version < 0)
    return BH_STORE;
  if (version > MIGRATION_COUNT) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "database schema %d is newer than this bimhub (%d)", version,
           MIGRATION_COUNT);
    return BH_STATE;
  }
  for (int v = version; v < MIGRATION_COUNT; v++) {
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
    enum bh_err rc = exec(st, "BEGIN IMMEDIATE");
    if (rc == BH_OK)
      rc = exec(st, migrations[v]);
    if (rc == BH_OK)
      rc = exec(st, pragma);
    if (rc == BH_OK)
      rc = exec(st, "COMMIT");
    if (rc != BH_OK) {
      exec(st, "ROLLBACK");
      return rc;
    }
    BH_LOG(BH_LOG_INFO, BH_C_STORE, "database schema migrated to version %d", v + 1);
  }
  return BH_OK;
}

static enum bh_err mkdir_p(const char *dir)
{
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path)
    return BH_BADREQUEST;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] == '/' || path[i] == '\0') {
      char c = path[i];
      path[i] = '\0';
      if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return BH_IO;
      path[i] = c;
    }
  }
  return BH_OK;
}

/* The data dir holds password hashes, token hashes, the service-token key and every model:
 * only its owner may read it. New files are private by the umask `serve` sets; this fixes a
 * dir made by an older bimhub or by hand (symbolic links are left alone). */
static int make_private(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
  (void)ftw;
  mode_t want = type == FTW_D ? 0700 : type == FTW_F ? 0600 : 0;
  if (want && (sb->st_mode & 07777) != want && chmod(path, want) != 0)
    BH_LOG(BH_LOG_WARN, BH_C_STORE, "cannot make %s private: %s", path, strerror(errno));
  return 0;
}

static enum bh_err make_dir_private(const char *dir)
{
  if (chmod(dir, 0700) != 0) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "cannot make data dir %s private (mode 0700): %s", dir,
           strerror(errno));
    return BH_IO;
  }
  nftw(dir, make_private, 16, FTW_PHYS | FTW_MOUNT);
  return BH_OK;
}

/* bh_token_hash(text): a user token's stored form, for migration 6. Text that cannot be a
 * token (none was ever made) becomes a random hash that no token matches. */
static void sql_token_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  (void)argc;
  unsigned char h[32];
  const char *text = (const char *)sqlite3_value_text(argv[0]);
  if (!token_hash(text, h))
    token_new_hash(h);
  sqlite3_result_blob(ctx, h, sizeof h, SQLITE_TRANSIENT);
}

enum bh_err store_open(struct store **out, const struct store_options *opt)
{
  *out = NULL;
  if (mkdir_p(opt->dir) != BH_OK) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "cannot create data dir %s: %s", opt->dir, strerror(errno));
    return BH_IO;
  }
  if (make_dir_private(opt->dir) != BH_OK)
    return BH_IO;
  struct store *st = calloc(1, sizeof *st);
  if (!st)
    return BH_NOMEM;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&st->lock, &attr);
  pthread_mutexattr_destroy(&attr);

  char path[4200];
  snprintf(path, sizeof path, "%s/bimhub.db", opt->dir);
  int rc = sqlite3_open_v2(path, &st->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  enum bh_err err = BH_OK;
  if (rc != SQLITE_OK) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "cannot open %s: %s", path, sqlite3_errstr(rc));
    err = BH_STORE;
    goto fail;
  }
  /* Whatever the umask: the -wal and -shm files SQLite makes take the database's mode. */
  if (chmod(path, 0600) != 0 ||
      sqlite3_create_function(st->db, "bh_token_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                              sql_token_hash, NULL, NULL) != SQLITE_OK) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "cannot set up %s: %s", path, strerror(errno));
    err = BH_STORE;
    goto fail;
  }
  /* One process owns the data dir: an exclusive lock taken once saves the file-lock
   * system calls of every statement (our mutex already serializes the connection) and
   * makes a second server on the same data dir fail at start instead of sharing it. */
  sqlite3_busy_timeout(st->db, 1000);
  st->sync_full = opt->sync_full;
  /* cache_size: 8 MiB of pages (the default 2 MiB thrashes under a delivery backlog); it is
   * only taken as pages are read, so an idle server stays small */
  err = exec(st, opt->sync_full ? "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
                                  " PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                                  " PRAGMA cache_size=-8192;"
                                : "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
                                  " PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                                  " PRAGMA cache_size=-8192;");
  if (err == BH_OK) {
    int rc2 = sqlite3_exec(st->db, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL);
    if (rc2 == SQLITE_BUSY || rc2 == SQLITE_LOCKED) {
      BH_LOG(BH_LOG_ERROR, BH_C_STORE, "data dir %s is in use by another bimhub", opt->dir);
      err = BH_STATE;
    } else if (rc2 != SQLITE_OK) {
      err = store_fail(st, rc2, "lock");
    }
  }
  if (err == BH_OK)
    err = migrate(st);
  if (err != BH_OK)
    goto fail;
  char *next = NULL;
  if (store_setting_get(st, "next_oid", &next) == BH_OK) {
    st->next_oid = strtoll(next, NULL, 10);
    free(next);
  } else {
    st->next_oid = 131073; /* BIMserver-like magnitudes; clients treat ids as opaque */
  }
  *out = st;
  return BH_OK;
fail:
  store_close(st);
  return err;
}

void store_close(struct store *st)
{
  if (!st)
    return;
  for (int i = 0; i < STORE_STMT_SLOTS; i++)
    sqlite3_finalize(st->prepared[i].stmt);
  if (st->db) {
    sqlite3_exec(st->db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close(st->db);
  }
  pthread_mutex_destroy(&st->lock);
  free(st);
}

enum bh_err store_begin(struct store *st)
{
  store_lock(st);
  enum bh_err rc;
  if (st->depth > 0) {
    rc = exec(st, "SAVEPOINT inner");
  } else {
    sqlite3_stmt *s = stmt(st, S_BEGIN);
    rc = s ? step_done(st, s, "begin") : BH_STORE;
  }
  if (rc != BH_OK) {
    store_unlock(st);
    return rc;
  }
  st->depth++;
  return BH_OK;
}

enum bh_err store_begin_relaxed(struct store *st)
{
  store_lock(st);
  if (st->depth == 0 && st->sync_full && exec(st, "PRAGMA synchronous=NORMAL") == BH_OK)
    st->relaxed = true;
  enum bh_err rc = store_begin(st);
  if (rc != BH_OK && st->relaxed) {
    exec(st, "PRAGMA synchronous=FULL");
    st->relaxed = false;
  }
  store_unlock(st);
  return rc;
}

/* After the outermost transaction of store_begin_relaxed(): FULL again for the others. */
static void end_relaxed(struct store *st)
{
  if (st->depth == 0 && st->relaxed) {
    exec(st, "PRAGMA synchronous=FULL");
    st->relaxed = false;
  }
}

static void reload_next_oid(struct store *st)
{
  /* Ids handed out in a rolled-back transaction may be handed out again: nothing that
   * used them was committed. */
  char *next = NULL;
  if (store_setting_get(st, "next_oid", &next) == BH_OK) {
    st->next_oid = strtoll(next, NULL, 10);
    free(next);
  }
}

enum bh_err store_commit(struct store *st)
{
  enum bh_err rc;
  if (st->depth > 1) {
    rc = exec(st, "RELEASE inner");
  } else {
    sqlite3_stmt *s = stmt(st, S_COMMIT);
    rc = s ? step_done(st, s, "commit") : BH_STORE;
    if (rc != BH_OK) {
      sqlite3_stmt *r = stmt(st, S_ROLLBACK);
      if (r)
        step_done(st, r, "rollback");
      reload_next_oid(st);
    }
  }
  st->depth--;
  end_relaxed(st);
  store_unlock(st);
  return rc;
}

void store_rollback(struct store *st)
{
  if (st->depth > 1) {
    exec(st, "ROLLBACK TO inner; RELEASE inner");
  } else {
    sqlite3_stmt *s = stmt(st, S_ROLLBACK);
    if (s)
      step_done(st, s, "rollback");
  }
  st->depth--;
  if (st->depth == 0)
    reload_next_oid(st);
  end_relaxed(st);
  store_unlock(st);
}

enum bh_err store_next_oid(struct store *st, int64_t *oid)
{
  store_lock(st);
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)(st->next_oid + 1));
  enum bh_err rc = store_setting_set(st, "next_oid", buf);
  if (rc == BH_OK)
    *oid = st->next_oid++;
  store_unlock(st);
  return rc;
}

enum bh_err store_setting_get(struct store *st, const char *key, char **value)
{
  *value = NULL;
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_SETTING_GET);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      *value = col_text(s, 0);
      rc = *value ? BH_OK : BH_NOMEM;
    } else {
      rc = r == SQLITE_DONE ? BH_NOTFOUND : store_fail(st, r, "setting get");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_setting_set(struct store *st, const char *key, const char *value)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_SETTING_SET);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    rc = step_done(st, s, "setting set");
  }
  store_unlock(st);
  return rc;
}

/* ---- users ---- */

void user_rec_clear(struct user_rec *u)
{
  free(u->username);
  free(u->name);
  free(u->password_hash);
  memset(u, 0, sizeof *u);
}

void user_list_clear(struct user_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    user_rec_clear(&l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static enum bh_err read_user(sqlite3_stmt *s, void *elem)
{
  struct user_rec *u = elem;
  memset(u, 0, sizeof *u);
  u->uoid = sqlite3_column_int64(s, 0);
  u->username = col_text(s, 1);
  u->name = col_text(s, 2);
  u->type = sqlite3_column_int(s, 3);
  u->state = sqlite3_column_int(s, 4);
  u->created_ms = sqlite3_column_int64(s, 5);
  u->created_by = sqlite3_column_int64(s, 6);
  u->last_seen_ms = sqlite3_column_int64(s, 7);
  u->password_hash = col_text(s, 8);
  if (sqlite3_column_bytes(s, 9) == (int)sizeof u->user_token_hash)
    memcpy(u->user_token_hash, sqlite3_column_blob(s, 9), sizeof u->user_token_hash);
  const unsigned char *uuid = sqlite3_column_text(s, 10);
  if (uuid)
    snprintf(u->uuid, sizeof u->uuid, "%s", (const char *)uuid);
  if (!u->username || !u->name) {
    user_rec_clear(u);
    return BH_NOMEM;
  }
  return BH_OK;
}

enum bh_err store_user_add(struct store *st, const struct user_rec *u)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_USER_ADD);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, u->uoid);
    sqlite3_bind_text(s, 2, u->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, u->name ? u->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, u->type);
    sqlite3_bind_int(s, 5, u->state);
    sqlite3_bind_int64(s, 6, u->created_ms);
    sqlite3_bind_int64(s, 7, u->created_by);
    sqlite3_bind_int64(s, 8, u->last_seen_ms);
    bind_text_or_null(s, 9, u->password_hash);
    sqlite3_bind_blob(s, 10, u->user_token_hash, sizeof u->user_token_hash, SQLITE_STATIC);
    bind_text_or_null(s, 11, u->uuid[0] ? u->uuid : NULL);
    rc = step_done(st, s, "user add");
  }
  store_unlock(st);
  return rc;
}

static enum bh_err user_one(struct store *st, enum stmt_id id, int64_t key_int,
                            const char *key_text, const unsigned char *key_blob,
                            struct user_rec *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *s = stmt(st, id);
  enum bh_err rc = BH_STORE;
  if (s) {
    if (key_text)
      sqlite3_bind_text(s, 1, key_text, -1, SQLITE_STATIC);
    else if (key_blob)
      sqlite3_bind_blob(s, 1, key_blob, 32, SQLITE_STATIC);
    else
      sqlite3_bind_int64(s, 1, key_int);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
      rc = read_user(s, out);
    else
      rc = r == SQLITE_DONE ? BH_NOTFOUND : store_fail(st, r, "user get");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_user_get(struct store *st, int64_t uoid, struct user_rec *out)
{
  return user_one(st, S_USER_GET, uoid, NULL, NULL, out);
}

enum bh_err store_user_by_name(struct store *st, const char *username, struct user_rec *out)
{
  return user_one(st, S_USER_BY_NAME, 0, username, NULL, out);
}

enum bh_err store_user_by_token(struct store *st, const unsigned char user_token_hash[32],
                                struct user_rec *out)
{
  return user_one(st, S_USER_BY_TOKEN, 0, NULL, user_token_hash, out);
}

static void clear_user(void *elem)
{
  user_rec_clear(elem);
}

enum bh_err store_user_list(struct store *st, struct user_list *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_USER_LIST);
  enum bh_err rc = s ? store_rows(st, s, sizeof *out->v, read_user, clear_user, (void **)&out->v,
                                  &out->n, "user list")
                     : BH_STORE;
  store_unlock(st);
  return rc;
}

static enum bh_err update_int_text(struct store *st, enum stmt_id id, int64_t key, const char *text,
                                   int64_t num, bool use_text, const char *what)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, id);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, key);
    if (use_text)
      bind_text_or_null(s, 2, text);
    else
      sqlite3_bind_int64(s, 2, num);
    rc = step_done(st, s, what);
    if (rc == BH_OK && sqlite3_changes(st->db) == 0)
      rc = BH_NOTFOUND;
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_user_set_password(struct store *st, int64_t uoid, const char *hash,
                                    const unsigned char user_token_hash[32])
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_USER_SET_PW);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, uoid);
    bind_text_or_null(s, 2, hash);
    sqlite3_bind_blob(s, 3, user_token_hash, 32, SQLITE_STATIC);
    rc = step_done(st, s, "user set password");
    if (rc == BH_OK && sqlite3_changes(st->db) == 0)
      rc = BH_NOTFOUND;
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_user_set_last_seen(struct store *st, int64_t uoid, int64_t ms)
{
  return update_int_text(st, S_USER_SEEN, uoid, NULL, ms, false, "user last seen");
}

static const char SQL_USER_SET_TYPE[] = "UPDATE users SET type = ?2 WHERE uoid = ?1";

enum bh_err store_user_set_type(struct store *st, int64_t uoid, int type)
{
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_USER_SET_TYPE);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, uoid);
    sqlite3_bind_int(s, 2, type);
    rc = step_done(st, s, "user set type");
    if (rc == BH_OK && sqlite3_changes(st->db) == 0)
      rc = BH_NOTFOUND;
  }
  store_unlock(st);
  return rc;
}

static const char SQL_USER_SET_STATE[] = "UPDATE users SET state = ?2 WHERE uoid = ?1";

enum bh_err store_user_set_state(struct store *st, int64_t uoid, int state)
{
  store_lock(st);
  sqlite3_stmt *s = store_prepared(st, SQL_USER_SET_STATE);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, uoid);
    sqlite3_bind_int(s, 2, state);
    rc = step_done(st, s, "user set state");
    if (rc == BH_OK && sqlite3_changes(st->db) == 0)
      rc = BH_NOTFOUND;
  }
  store_unlock(st);
  return rc;
}

static enum bh_err count_one(struct store *st, enum stmt_id id, int64_t *n)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, id);
  enum bh_err rc = BH_STORE;
  if (s) {
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      *n = sqlite3_column_int64(s, 0);
      rc = BH_OK;
    } else {
      rc = store_fail(st, r, "count");
    }
    sqlite3_reset(s);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_user_count(struct store *st, int64_t *n)
{
  return count_one(st, S_USER_COUNT, n);
}

/* ---- projects ---- */

void project_rec_clear(struct project_rec *p)
{
  free(p->name);
  free(p->schema);
  free(p->description);
  free(p->export_prefix);
  memset(p, 0, sizeof *p);
}

void project_list_clear(struct project_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    project_rec_clear(&l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static enum bh_err read_project(sqlite3_stmt *s, void *elem)
{
  struct project_rec *p = elem;
  memset(p, 0, sizeof *p);
  p->poid = sqlite3_column_int64(s, 0);
  p->number = sqlite3_column_int64(s, 1);
  p->name = col_text(s, 2);
  p->schema = col_text(s, 3);
  p->description = col_text(s, 4);
  p->export_prefix = col_text(s, 5);
  p->parent = sqlite3_column_int64(s, 6);
  p->state = sqlite3_column_int(s, 7);
  p->created_ms = sqlite3_column_int64(s, 8);
  p->created_by = sqlite3_column_int64(s, 9);
  p->send_email_on_new_revision = sqlite3_column_int(s, 10) != 0;
  if (!p->name || !p->schema || !p->export_prefix) {
    project_rec_clear(p);
    return BH_NOMEM;
  }
  return BH_OK;
}

static void bind_project(sqlite3_stmt *s, const struct project_rec *p)
{
  sqlite3_bind_int64(s, 1, p->poid);
  sqlite3_bind_int64(s, 2, p->number);
  sqlite3_bind_text(s, 3, p->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, p->schema, -1, SQLITE_STATIC);
  bind_text_or_null(s, 5, p->description);
  sqlite3_bind_text(s, 6, p->export_prefix ? p->export_prefix : "meter", -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 7, p->parent);
  sqlite3_bind_int(s, 8, p->state);
  sqlite3_bind_int64(s, 9, p->created_ms);
  sqlite3_bind_int64(s, 10, p->created_by);
  sqlite3_bind_int(s, 11, p->send_email_on_new_revision);
}

enum bh_err store_project_add(struct store *st, struct project_rec *p)
{
  store_lock(st);
  int64_t maxn = 0;
  enum bh_err rc = count_one(st, S_PROJECT_MAX_NUMBER, &maxn);
  sqlite3_stmt *s = rc == BH_OK ? stmt(st, S_PROJECT_ADD) : NULL;
  if (s) {
    p->number = maxn + 1;
    bind_project(s, p);
    rc = step_done(st, s, "project add");
  } else if (rc == BH_OK) {
    rc = BH_STORE;
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_project_update(struct store *st, const struct project_rec *p)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_PROJECT_UPDATE);
  enum bh_err rc = BH_STORE;
  if (s) {
    bind_project(s, p);
    rc = step_done(st, s, "project update");
    if (rc == BH_OK && sqlite3_changes(st->db) == 0)
      rc = BH_NOTFOUND;
  }
  store_unlock(st);
  return rc;
}

static enum bh_err project_one(struct store *st, enum stmt_id id, int64_t key, const char *name,
                               struct project_rec *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *s = stmt(st, id);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, key);
    if (name)
      sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
      rc = read_project(s, out);
    else
      rc = r == SQLITE_DONE ? BH_NOTFOUND : store_fail(st, r, "project get");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_project_get(struct store *st, int64_t poid, struct project_rec *out)
{
  return project_one(st, S_PROJECT_GET, poid, NULL, out);
}

enum bh_err store_project_by_name(struct store *st, int64_t parent, const char *name,
                                  struct project_rec *out)
{
  return project_one(st, S_PROJECT_BY_NAME, parent, name, out);
}

static void clear_project(void *elem)
{
  project_rec_clear(elem);
}

static enum bh_err project_many(struct store *st, enum stmt_id id, int64_t key, bool bind_key,
                                struct project_list *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *s = stmt(st, id);
  enum bh_err rc = BH_STORE;
  if (s) {
    if (bind_key)
      sqlite3_bind_int64(s, 1, key);
    rc = store_rows(st, s, sizeof *out->v, read_project, clear_project, (void **)&out->v, &out->n,
                    "project list");
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_project_list(struct store *st, struct project_list *out)
{
  return project_many(st, S_PROJECT_LIST, 0, false, out);
}

enum bh_err store_project_children(struct store *st, int64_t poid, struct project_list *out)
{
  return project_many(st, S_PROJECT_CHILDREN, poid, true, out);
}

/* ---- rights ---- */

static enum bh_err pair_exec(struct store *st, enum stmt_id id, int64_t a, int64_t b,
                             const char *what)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, id);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    rc = step_done(st, s, what);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_right_add(struct store *st, int64_t uoid, int64_t poid)
{
  return pair_exec(st, S_RIGHT_ADD, uoid, poid, "right add");
}

enum bh_err store_right_remove(struct store *st, int64_t uoid, int64_t poid)
{
  return pair_exec(st, S_RIGHT_REMOVE, uoid, poid, "right remove");
}

bool store_right_has(struct store *st, int64_t uoid, int64_t poid)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_RIGHT_HAS);
  bool has = false;
  if (s) {
    sqlite3_bind_int64(s, 1, uoid);
    sqlite3_bind_int64(s, 2, poid);
    has = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
  }
  store_unlock(st);
  return has;
}

static enum bh_err id_list(struct store *st, enum stmt_id id, int64_t key, int64_t **ids, size_t *n)
{
  *ids = NULL;
  *n = 0;
  store_lock(st);
  sqlite3_stmt *s = stmt(st, id);
  enum bh_err rc = s ? BH_OK : BH_STORE;
  size_t cap = 0;
  int r = SQLITE_DONE;
  if (s)
    sqlite3_bind_int64(s, 1, key);
  while (rc == BH_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      int64_t *nv = realloc(*ids, ncap * sizeof *nv);
      if (!nv) {
        rc = BH_NOMEM;
        break;
      }
      *ids = nv;
      cap = ncap;
    }
    (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
  }
  if (rc == BH_OK && r != SQLITE_DONE)
    rc = store_fail(st, r, "id list");
  if (s)
    sqlite3_reset(s);
  store_unlock(st);
  if (rc != BH_OK) {
    free(*ids);
    *ids = NULL;
    *n = 0;
  }
  return rc;
}

enum bh_err store_rights_of_user(struct store *st, int64_t uoid, int64_t **ids, size_t *n)
{
  return id_list(st, S_RIGHTS_OF_USER, uoid, ids, n);
}

enum bh_err store_rights_of_project(struct store *st, int64_t poid, int64_t **ids, size_t *n)
{
  return id_list(st, S_RIGHTS_OF_PROJECT, poid, ids, n);
}

/* ---- tokens ---- */

enum bh_err store_token_add(struct store *st, const unsigned char hash[32],
                            const struct token_rec *t)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_TOKEN_ADD);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, t->uoid);
    sqlite3_bind_int(s, 3, t->kind);
    sqlite3_bind_int64(s, 4, t->created_ms);
    sqlite3_bind_int64(s, 5, t->expires_ms);
    sqlite3_bind_int64(s, 6, t->service_oid);
    rc = step_done(st, s, "token add");
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_token_get(struct store *st, const unsigned char hash[32], struct token_rec *out)
{
  memset(out, 0, sizeof *out);
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_TOKEN_GET);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      out->uoid = sqlite3_column_int64(s, 0);
      out->kind = sqlite3_column_int(s, 1);
      out->created_ms = sqlite3_column_int64(s, 2);
      out->expires_ms = sqlite3_column_int64(s, 3);
      out->service_oid = sqlite3_column_int64(s, 4);
      rc = BH_OK;
    } else {
      rc = r == SQLITE_DONE ? BH_NOTFOUND : store_fail(st, r, "token get");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_token_delete(struct store *st, const unsigned char hash[32])
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_TOKEN_DELETE);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    rc = step_done(st, s, "token delete");
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_token_delete_user(struct store *st, int64_t uoid, const unsigned char *keep,
                                    int64_t *removed)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_TOKEN_DELETE_USER);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, uoid);
    if (keep)
      sqlite3_bind_blob(s, 2, keep, 32, SQLITE_STATIC);
    else
      sqlite3_bind_null(s, 2);
    rc = step_done(st, s, "token delete user");
    if (removed)
      *removed = rc == BH_OK ? sqlite3_changes(st->db) : 0;
  }
  store_unlock(st);
  return rc;
}

enum bh_err store_token_purge_expired(struct store *st, int64_t now_ms, int64_t *removed)
{
  store_lock(st);
  sqlite3_stmt *s = stmt(st, S_TOKEN_PURGE);
  enum bh_err rc = BH_STORE;
  if (s) {
    sqlite3_bind_int64(s, 1, now_ms);
    rc = step_done(st, s, "token purge");
    if (removed)
      *removed = rc == BH_OK ? sqlite3_changes(st->db) : 0;
  }
  store_unlock(st);
  return rc;
}
