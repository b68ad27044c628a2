/* store_test.c: records survive a reopen; lookups, rights, tokens and the oid sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/token.h"
#include "store/store.h"

static char dir[64];

static struct store *open_store(void)
{
  struct store_options opt = {.dir = dir, .sync_full = false};
  struct store *st = NULL;
  assert_int_equal(store_open(&st, &opt), BH_OK);
  return st;
}

static void users_projects_rights_tokens_survive_reopen(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/bimhub-store-test-%d", (int)getpid());
  struct store *st = open_store();

  int64_t a, b;
  assert_int_equal(store_next_oid(st, &a), BH_OK);
  assert_int_equal(store_next_oid(st, &b), BH_OK);
  assert_true(b > a);

  struct user_rec u = {.uoid = a,
                       .username = "Ann@Example.com",
                       .name = "Ann",
                       .type = 2,
                       .created_by = -1,
                       .password_hash = "$argon2id$x",
                       .user_token_hash = {1}};
  assert_int_equal(store_begin(st), BH_OK);
  assert_int_equal(store_user_add(st, &u), BH_OK);
  struct project_rec p = {.poid = b,
                          .name = "Tower",
                          .schema = "ifc4",
                          .parent = -1,
                          .export_prefix = "meter",
                          .created_by = a};
  assert_int_equal(store_project_add(st, &p), BH_OK);
  assert_int_equal(p.number, 1);
  assert_int_equal(store_right_add(st, a, b), BH_OK);
  assert_int_equal(store_commit(st), BH_OK);

  /* a rolled-back transaction leaves nothing */
  assert_int_equal(store_begin(st), BH_OK);
  struct user_rec u2 = {.uoid = 999, .username = "gone@x.y", .name = "", .user_token_hash = {2}};
  assert_int_equal(store_user_add(st, &u2), BH_OK);
  store_rollback(st);

  /* duplicate usernames are refused, case-insensitively */
  struct user_rec dup = u;
  dup.uoid = 77;
  dup.username = "ann@example.COM";
  dup.user_token_hash[0] = 3;
  assert_int_equal(store_user_add(st, &dup), BH_EXISTS);

  unsigned char h[32];
  memset(h, 7, sizeof h);
  struct token_rec t = {
      .uoid = a, .kind = 0, .created_ms = 1, .expires_ms = 5000, .service_oid = -1};
  assert_int_equal(store_token_add(st, h, &t), BH_OK);
  store_close(st);

  st = open_store();
  struct user_rec got;
  assert_int_equal(store_user_by_name(st, "ann@EXAMPLE.com", &got), BH_OK);
  assert_int_equal(got.uoid, a);
  assert_string_equal(got.password_hash, "$argon2id$x");
  /* the store made its UUID, kept across a reopen */
  assert_int_equal(strlen(got.uuid), 36);
  char uuid[40];
  snprintf(uuid, sizeof uuid, "%s", got.uuid);
  user_rec_clear(&got);
  assert_int_equal(store_user_set_type(st, a, 3), BH_OK);
  assert_int_equal(store_user_get(st, a, &got), BH_OK);
  assert_int_equal(got.type, 3);
  assert_string_equal(got.uuid, uuid);
  user_rec_clear(&got);
  assert_int_equal(store_user_set_type(st, 999, 3), BH_NOTFOUND);
  assert_int_equal(store_user_set_state(st, a, 1), BH_OK);
  assert_int_equal(store_user_get(st, a, &got), BH_OK);
  assert_int_equal(got.state, 1);
  user_rec_clear(&got);
  assert_int_equal(store_user_set_state(st, 999, 1), BH_NOTFOUND);
  assert_int_equal(store_user_get(st, 999, &got), BH_NOTFOUND);
  assert_true(store_right_has(st, a, b));
  int64_t *ids;
  size_t n;
  assert_int_equal(store_rights_of_project(st, b, &ids, &n), BH_OK);
  assert_int_equal(n, 1);
  assert_int_equal(ids[0], a);
  free(ids);
  struct project_rec pg;
  assert_int_equal(store_project_by_name(st, -1, "Tower", &pg), BH_OK);
  assert_string_equal(pg.schema, "ifc4");
  project_rec_clear(&pg);

  struct token_rec tg;
  assert_int_equal(store_token_get(st, h, &tg), BH_OK);
  assert_int_equal(tg.uoid, a);
  int64_t removed = 0;
  assert_int_equal(store_token_purge_expired(st, 6000, &removed), BH_OK);
  assert_int_equal(removed, 1);
  assert_int_equal(store_token_get(st, h, &tg), BH_NOTFOUND);

  int64_t c;
  assert_int_equal(store_next_oid(st, &c), BH_OK);
  assert_true(c > b); /* the sequence survives a reopen */
  store_close(st);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static void add_service(struct store *st, int64_t soid, int64_t poid, const char *trigger)
{
  char fields[128];
  snprintf(fields, sizeof fields, "{\"name\":\"s%lld\",\"trigger\":\"%s\"}", (long long)soid,
           trigger);
  struct service_rec s = {.soid = soid,
                          .poid = poid,
                          .uoid = 1,
                          .created_ms = 1,
                          .fields = fields,
                          .secret = "whsec_x"};
  assert_int_equal(store_service_add(st, &s), BH_OK);
}

/* The outbox picks the project's services by trigger, skips the loop-guarded one, keeps event
 * order; attempts change state; requeue, cancel on delete and purge do what they say. */
static void outbox_and_delivery_log(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/bimhub-store-test-ob-%d", (int)getpid());
  struct store *st = open_store();
  add_service(st, 10, 100, "NEW_REVISION");
  add_service(st, 11, 100, "NEW_REVISION");
  add_service(st, 12, 100, "NEW_EXTENDED_DATA");
  add_service(st, 13, 200, "NEW_REVISION");
  struct outbox_event ev = {.trigger = "NEW_REVISION",
                            .method = "newRevision",
                            .service_poid = 100,
                            .poid = 100,
                            .roid = 500,
                            .edid = -1,
                            .exclude_soid = 11,
                            .only_soid = -1};
  int added = 0;
  assert_int_equal(store_outbox_add(st, &ev, 1000, &added), BH_OK);
  assert_int_equal(added, 1); /* 10 only: 11 checked it in, 12 has another trigger */
  ev.exclude_soid = -1;
  ev.roid = 501;
  assert_int_equal(store_outbox_add(st, &ev, 2000, &added), BH_OK);
  assert_int_equal(added, 2);
  ev.only_soid = 11;
  ev.roid = 502;
  assert_int_equal(store_outbox_add(st, &ev, 3000, &added), BH_OK);
  assert_int_equal(added, 1);

  struct delivery_list l;
  assert_int_equal(store_delivery_pending(st, 10, 0, 10, &l), BH_OK);
  assert_int_equal(l.n, 2);
  assert_int_equal(l.v[0].roid, 500);
  assert_int_equal(l.v[1].roid, 501);
  assert_true(l.v[0].id < l.v[1].id);
  assert_string_equal(l.v[0].method, "newRevision");
  assert_int_equal(l.v[0].state, DELIVERY_PENDING);
  int64_t first = l.v[0].id, second = l.v[1].id;
  delivery_list_clear(&l);

  struct delivery_attempt_rec a = {.delivery = first,
                                   .n = 1,
                                   .at_ms = 4000,
                                   .duration_ms = 5,
                                   .status = 500,
                                   .error = "HTTP 500"};
  assert_int_equal(store_delivery_record(st, &a, DELIVERY_PENDING, 9000), BH_OK);
  a = (struct delivery_attempt_rec){
      .delivery = first, .n = 2, .at_ms = 9000, .duration_ms = 3, .status = 200, .ok = true};
  assert_int_equal(store_delivery_record(st, &a, DELIVERY_DELIVERED, 0), BH_OK);
  struct delivery_rec d;
  assert_int_equal(store_delivery_get(st, first, &d), BH_OK);
  assert_int_equal(d.state, DELIVERY_DELIVERED);
  assert_int_equal(d.attempts, 2);
  assert_int_equal(d.last_status, 200);
  assert_null(d.last_error);
  delivery_rec_clear(&d);
  struct delivery_attempt_rec *at;
  size_t nat;
  assert_int_equal(store_delivery_attempts(st, first, &at, &nat), BH_OK);
  assert_int_equal(nat, 2);
  assert_string_equal(at[0].error, "HTTP 500");
  assert_false(at[0].ok);
  assert_true(at[1].ok);
  for (size_t i = 0; i < nat; i++)
    delivery_attempt_rec_clear(&at[i]);
  free(at);

  struct delivery_health h;
  assert_int_equal(store_delivery_health(st, 10, 10000, &h), BH_OK);
  assert_int_equal(h.pending, 1);
  assert_int_equal(h.delivered, 1);
  assert_int_equal(h.attempts_24h, 2);
  assert_int_equal(h.failures_24h, 1);
  assert_int_equal(h.last_failure_ms, 4000);
  assert_int_equal(h.last_success_ms, 9000);
  assert_string_equal(h.last_error, "HTTP 500");
  free(h.last_error);

  /* a pending one cannot be requeued; a delivered one can, and it is pending again */
  assert_int_equal(store_delivery_requeue(st, second, 1), BH_STATE);
  assert_int_equal(store_delivery_requeue(st, first, 11000), BH_OK);
  assert_int_equal(store_delivery_pending(st, 10, 0, 10, &l), BH_OK);
  assert_int_equal(l.n, 2);
  assert_int_equal(l.v[0].next_ms, 11000);
  delivery_list_clear(&l);

  /* deleting a service cancels its pending deliveries */
  assert_int_equal(store_service_set_state(st, 10, 1), BH_OK);
  assert_int_equal(store_delivery_pending(st, 10, 0, 10, &l), BH_OK);
  assert_int_equal(l.n, 0);
  delivery_list_clear(&l);
  assert_int_equal(store_delivery_list(st, 10, DELIVERY_CANCELLED, -1, 10, &l), BH_OK);
  assert_int_equal(l.n, 2);
  assert_true(l.v[0].id > l.v[1].id); /* newest first */
  delivery_list_clear(&l);

  /* the purge removes finished deliveries older than the cut, and their attempts */
  int64_t removed = 0;
  assert_int_equal(store_delivery_purge(st, 1500, &removed), BH_OK);
  assert_int_equal(removed, 0); /* one never attempted counts from its creation (2000) */
  assert_int_equal(store_delivery_purge(st, 20000, &removed), BH_OK);
  assert_int_equal(removed, 2);
  assert_int_equal(store_delivery_pending(st, 11, 0, 10, &l), BH_OK);
  assert_int_equal(l.n, 2); /* pending ones are never purged */
  delivery_list_clear(&l);
  assert_int_equal(store_delivery_get(st, first, &d), BH_NOTFOUND);
  assert_int_equal(store_delivery_attempts(st, first, &at, &nat), BH_OK);
  assert_int_equal(nat, 0);
  free(at);
  store_close(st);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* A user's login tokens end together, but for the one kept; other users' stay. */
static void tokens_of_a_user_end_together(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/bimhub-store-test-tk-%d", (int)getpid());
  struct store *st = open_store();
  unsigned char h1[32], h2[32], h3[32];
  memset(h1, 1, sizeof h1);
  memset(h2, 2, sizeof h2);
  memset(h3, 3, sizeof h3);
  struct token_rec t = {.uoid = 10, .expires_ms = INT64_MAX, .service_oid = -1};
  assert_int_equal(store_token_add(st, h1, &t), BH_OK);
  assert_int_equal(store_token_add(st, h2, &t), BH_OK);
  t.uoid = 11;
  assert_int_equal(store_token_add(st, h3, &t), BH_OK);
  int64_t removed = 0;
  assert_int_equal(store_token_delete_user(st, 10, h1, &removed), BH_OK);
  assert_int_equal(removed, 1);
  struct token_rec got;
  assert_int_equal(store_token_get(st, h1, &got), BH_OK);
  assert_int_equal(store_token_get(st, h2, &got), BH_NOTFOUND);
  assert_int_equal(store_token_get(st, h3, &got), BH_OK);
  assert_int_equal(store_token_delete_user(st, 10, NULL, &removed), BH_OK);
  assert_int_equal(removed, 1);
  assert_int_equal(store_token_get(st, h1, &got), BH_NOTFOUND);
  assert_int_equal(store_token_get(st, h3, &got), BH_OK);
  store_close(st);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static mode_t mode_of(const char *d, const char *name)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", d, name);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  return sb.st_mode & 07777;
}

/* Whatever the umask, the data dir ends 0700 and its files 0600, an old one too; user tokens
 * of a schema-5 database (plain text) become hashes that still find their user. */
static void data_dir_private_and_user_tokens_hashed(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/bimhub-store-test-perm-%d", (int)getpid());
  mode_t old_mask = umask(022);
  struct store *st = open_store();
  struct user_rec u = {.uoid = 5, .username = "old@x.y", .name = "", .created_by = -1};
  assert_int_equal(store_user_add(st, &u), BH_OK);
  store_close(st);
  assert_int_equal(mode_of(dir, "bimhub.db"), 0600);

  /* back to schema 5 and a user token in plain text, as an older bimhub left it */
  const char *token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  char path[256], sql[512];
  snprintf(path, sizeof path, "%s/bimhub.db", dir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  snprintf(sql, sizeof sql,
           "DROP INDEX users_uuid; DROP INDEX revisions_uoid; ALTER TABLE users DROP COLUMN uuid;"
           " DROP INDEX tokens_uoid; ALTER TABLE users RENAME COLUMN user_token_hash TO user_token;"
           " UPDATE users SET user_token = '%s'; PRAGMA user_version = 5;",
           token);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(chmod(dir, 0755), 0);
  assert_int_equal(chmod(path, 0644), 0);
  snprintf(path, sizeof path, "%s/stray", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(chmod(path, 0644), 0);

  st = open_store();
  struct stat sb;
  assert_int_equal(stat(dir, &sb), 0);
  assert_int_equal(sb.st_mode & 07777, 0700);
  assert_int_equal(mode_of(dir, "bimhub.db"), 0600);
  assert_int_equal(mode_of(dir, "bimhub.db-wal"), 0600);
  assert_int_equal(mode_of(dir, "stray"), 0600);
  unsigned char h[32];
  assert_true(token_hash(token, h));
  struct user_rec got;
  assert_int_equal(store_user_by_token(st, h, &got), BH_OK);
  assert_int_equal(got.uoid, 5);
  assert_memory_equal(got.user_token_hash, h, 32);
  /* migration 7 gave the old user a (version 4) UUID */
  assert_int_equal(strlen(got.uuid), 36);
  assert_int_equal(got.uuid[14], '4');
  assert_non_null(strchr("89ab", got.uuid[19]));
  user_rec_clear(&got);
  /* a new password comes with a new user token: the old one finds nobody */
  unsigned char h2[32];
  memset(h2, 9, sizeof h2);
  assert_int_equal(store_user_set_password(st, 5, "$argon2id$y", h2), BH_OK);
  assert_int_equal(store_user_by_token(st, h, &got), BH_NOTFOUND);
  assert_int_equal(store_user_by_token(st, h2, &got), BH_OK);
  user_rec_clear(&got);
  store_close(st);
  umask(old_mask);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(users_projects_rights_tokens_survive_reopen),
      cmocka_unit_test(outbox_and_delivery_log),
      cmocka_unit_test(tokens_of_a_user_end_together),
      cmocka_unit_test(data_dir_private_and_user_tokens_hashed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
