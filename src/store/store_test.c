/* store_test.c: records survive a reopen; lookups, rights, tokens and the oid sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
                       .user_token = "t1"};
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
  struct user_rec u2 = {.uoid = 999, .username = "gone@x.y", .name = "", .user_token = "t2"};
  assert_int_equal(store_user_add(st, &u2), BH_OK);
  store_rollback(st);

  /* duplicate usernames are refused, case-insensitively */
  struct user_rec dup = u;
  dup.uoid = 77;
  dup.username = "ann@example.COM";
  dup.user_token = "t3";
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
  user_rec_clear(&got);
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

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(users_projects_rights_tokens_survive_reopen),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
