/* store_internal.h: what the SQLite store's files share: the connection, its lock and
 * the prepared statements. Only src/store includes this. */
#ifndef BH_STORE_INTERNAL_H
#define BH_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_STMT_SLOTS 256

struct store {
  sqlite3 *db;
  /* statements of the other store files, prepared on first use, keyed by their SQL text's
   * address (string literals: stable and unique per statement) */
  struct {
    const char *sql;
    sqlite3_stmt *stmt;
  } prepared[STORE_STMT_SLOTS];
  pthread_mutex_t lock; /* recursive: a transaction calls the single-row functions */
  int64_t next_oid;     /* cached from settings; written back in the same transaction */
  int depth;            /* open transactions of the holding thread; inner ones are savepoints */
  bool sync_full;       /* synchronous=FULL is the connection's normal setting */
  bool relaxed;         /* the open transaction commits without waiting for the disk */
};

enum bh_err store_fail(struct store *st, int rc, const char *what);
void store_lock(struct store *st);
void store_unlock(struct store *st);
/* Runs a statement that returns no rows, then resets it and clears its bindings. */
enum bh_err step_done(struct store *st, sqlite3_stmt *s, const char *what);
char *col_text(sqlite3_stmt *s, int i);
int bind_text_or_null(sqlite3_stmt *s, int i, const char *v);
/* The prepared statement for sql (a string literal). Lock held. NULL on error (logged). */
sqlite3_stmt *store_prepared(struct store *st, const char *sql);
/* Reads one row into *elem (allocating its strings); BH_OK or BH_NOMEM. */
typedef enum bh_err (*row_reader)(sqlite3_stmt *s, void *elem);
/* Steps s (binds done, lock held) and reads every row into a malloc'd array of elements of
 * elem_size; on failure clears what was read (clear, per element) and returns the error.
 * Resets s. */
enum bh_err store_rows(struct store *st, sqlite3_stmt *s, size_t elem_size, row_reader read,
                       void (*clear)(void *elem), void **v, size_t *n, const char *what);
/* malloc'd array of ids from a statement whose first column is an id; binds done. */
enum bh_err store_ids(struct store *st, sqlite3_stmt *s, int64_t **ids, size_t *n);

#endif
