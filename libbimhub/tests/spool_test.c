/* spool_test.c: the notification spool and the ring of recent ids: records are written
 * whole, found, replayed in arrival order, removed or moved to failed/; leftover temporary
 * files and unreadable records do not stop a start; the ring forgets the oldest id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sdk_internal.h"

static char dir[64];

static int make_dir(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/libbimhub-spool-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static json_t *record(const char *id, int64_t received)
{
  return json_pack("{s:s,s:I,s:i,s:{s:s,s:s,s:{s:i}}}", "id", id, "received_ms",
                   (json_int_t)received, "attempts", 0, "request", "interface",
                   "RemoteServiceInterface", "method", "newRevision", "parameters", "roid", 2);
}

static bool exists(const char *a, const char *b)
{
  char p[256];
  snprintf(p, sizeof p, "%s/%s%s", dir, a, b);
  return access(p, F_OK) == 0;
}

static void write_file(const char *name, const char *text)
{
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void put_load_remove_fail(void **state)
{
  (void)state;
  struct sdk_spool sp;
  struct bimhub_error err;
  assert_int_equal(sdk_spool_open(&sp, dir, &err), BIMHUB_OK);
  json_t *r1 = record("msg_b", 2000), *r2 = record("msg_a", 1000), *r3 = record("msg_c", 2000);
  assert_int_equal(sdk_spool_put(&sp, "msg_b", r1, &err), BIMHUB_OK);
  assert_int_equal(sdk_spool_put(&sp, "msg_a", r2, &err), BIMHUB_OK);
  assert_int_equal(sdk_spool_put(&sp, "msg_c", r3, &err), BIMHUB_OK);
  assert_true(sdk_spool_has(&sp, "msg_a"));
  assert_false(sdk_spool_has(&sp, "msg_z"));
  assert_false(exists(".msg_a", ".tmp")); /* renamed, not left behind */
  /* overwrite keeps one file */
  json_object_set_new(r1, "attempts", json_integer(2));
  assert_int_equal(sdk_spool_put(&sp, "msg_b", r1, &err), BIMHUB_OK);

  json_t *all = NULL;
  assert_int_equal(sdk_spool_load(&sp, &all, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(all), 3);
  /* by received_ms, then id */
  assert_string_equal(bimhub_json_str(json_array_get(all, 0), "id"), "msg_a");
  assert_string_equal(bimhub_json_str(json_array_get(all, 1), "id"), "msg_b");
  assert_string_equal(bimhub_json_str(json_array_get(all, 2), "id"), "msg_c");
  assert_int_equal(bimhub_json_int(json_array_get(all, 1), "attempts", 0), 2);
  json_decref(all);

  assert_int_equal(sdk_spool_remove(&sp, "msg_a"), BIMHUB_OK);
  assert_false(sdk_spool_has(&sp, "msg_a"));
  assert_int_equal(sdk_spool_remove(&sp, "msg_a"), BIMHUB_OK); /* gone already: fine */
  assert_int_equal(sdk_spool_fail(&sp, "msg_b"), BIMHUB_OK);
  assert_false(sdk_spool_has(&sp, "msg_b"));
  assert_true(exists("failed/msg_b", ".json"));
  assert_int_equal(sdk_spool_load(&sp, &all, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(all), 1);
  json_decref(all);
  sdk_spool_remove(&sp, "msg_c");
  json_decref(r1);
  json_decref(r2);
  json_decref(r3);
  sdk_spool_close(&sp);
}

static void leftovers_and_garbage_at_open(void **state)
{
  (void)state;
  struct sdk_spool sp;
  struct bimhub_error err;
  assert_int_equal(sdk_spool_open(&sp, dir, &err), BIMHUB_OK);
  sdk_spool_close(&sp);
  /* a write a crash interrupted, a record that is not JSON, one without a request */
  write_file(".msg_x.tmp", "{\"id\":");
  write_file("msg_bad.json", "{not json");
  write_file("msg_norq.json", "{\"id\":\"msg_norq\"}");
  write_file("notes.txt", "ignored");
  json_t *ok = record("msg_ok", 5);
  assert_int_equal(sdk_spool_open(&sp, dir, &err), BIMHUB_OK);
  assert_false(exists(".msg_x", ".tmp"));
  assert_int_equal(sdk_spool_put(&sp, "msg_ok", ok, &err), BIMHUB_OK);
  json_t *all = NULL;
  assert_int_equal(sdk_spool_load(&sp, &all, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(all), 1);
  assert_string_equal(bimhub_json_str(json_array_get(all, 0), "id"), "msg_ok");
  assert_true(exists("failed/msg_bad", ".json"));
  assert_true(exists("failed/msg_norq", ".json"));
  json_decref(all);
  json_decref(ok);
  sdk_spool_close(&sp);
}

static void spool_dir_problems(void **state)
{
  (void)state;
  struct sdk_spool sp, other;
  struct bimhub_error err;
  /* one user at a time */
  assert_int_equal(sdk_spool_open(&sp, dir, &err), BIMHUB_OK);
  assert_int_equal(sdk_spool_open(&other, dir, &err), BIMHUB_IO);
  assert_non_null(strstr(err.message, "in use"));
  sdk_spool_close(&sp);
  assert_int_equal(sdk_spool_open(&other, dir, &err), BIMHUB_OK);
  sdk_spool_close(&other);
  assert_int_equal(sdk_spool_open(&sp, NULL, &err), BIMHUB_INVALID);
  char file[128];
  snprintf(file, sizeof file, "%s/plainfile", dir);
  write_file("plainfile", "x");
  assert_int_equal(sdk_spool_open(&sp, file, &err), BIMHUB_IO);
}

static void ring_forgets_the_oldest(void **state)
{
  (void)state;
  struct sdk_dedupe d;
  assert_true(sdk_dedupe_init(&d, 3));
  sdk_dedupe_add(&d, "a");
  sdk_dedupe_add(&d, "b");
  sdk_dedupe_add(&d, "b"); /* no double entry */
  sdk_dedupe_add(&d, "c");
  assert_true(sdk_dedupe_has(&d, "a"));
  sdk_dedupe_add(&d, "d");
  assert_false(sdk_dedupe_has(&d, "a"));
  assert_true(sdk_dedupe_has(&d, "b"));
  assert_true(sdk_dedupe_has(&d, "d"));
  assert_false(sdk_dedupe_has(&d, "zz"));
  sdk_dedupe_remove(&d, "b");
  assert_false(sdk_dedupe_has(&d, "b"));
  assert_true(sdk_dedupe_has(&d, "d"));
  sdk_dedupe_remove(&d, "never");
  sdk_dedupe_free(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(put_load_remove_fail, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(leftovers_and_garbage_at_open, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(spool_dir_problems, make_dir, remove_dir),
      cmocka_unit_test(ring_forgets_the_oldest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
