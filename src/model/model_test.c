/* model_test.c: rights rules on a project tree, and the events the model publishes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "model/events.h"
#include "model/model.h"

struct seen {
  int projects, users;
  int64_t last_poid;
};

static void on_event(const struct event *e, void *arg)
{
  struct seen *s = arg;
  if (e->type == EV_NEW_PROJECT) {
    s->projects++;
    s->last_poid = e->poid;
  } else if (e->type == EV_NEW_USER) {
    s->users++;
  }
}

static void rights_follow_the_tree_and_events_follow_commits(void **state)
{
  (void)state;
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/bimhub-model-test-%d", (int)getpid());
  struct bh_config cfg;
  config_init(&cfg);
  cfg.argon2_mem_limit_kib = 8192;
  cfg.argon2_ops_limit = 1;
  free(cfg.data_dir);
  cfg.data_dir = strdup(dir);
  struct store_options so = {.dir = dir};
  struct store *st;
  assert_int_equal(store_open(&st, &so), BH_OK);
  struct events *ev = events_new();
  struct seen seen = {0};
  assert_int_equal(events_subscribe(ev, on_event, &seen), BH_OK);
  struct model m;
  assert_int_equal(model_init(&m, st, ev, &cfg), BH_OK);
  assert_int_equal(model_server_state(&m), SERVER_NOT_SETUP);
  struct bh_why why;
  assert_int_equal(model_setup(&m, NULL, "s", "", "", "A", "admin@x.test", "pw", &why), BH_OK);
  assert_int_equal(model_server_state(&m), SERVER_RUNNING);
  assert_int_equal(model_setup(&m, NULL, "s", "", "", "A", "b@x.test", "pw", &why), BH_STATE);
  assert_int_equal(seen.users, 1);

  struct user_rec admin_u, bob_u, eve_u;
  assert_int_equal(user_check_login(&m, "ADMIN@x.test", "pw", &admin_u, &why), BH_OK);
  struct actor admin = {.uoid = admin_u.uoid, .type = USER_ADMIN};
  assert_int_equal(
      user_create(&m, &admin, "bob@x.test", "pw", "Bob", USER_USER, false, &bob_u, &why), BH_OK);
  assert_int_equal(
      user_create(&m, &admin, "eve@x.test", "pw", "Eve", USER_USER, false, &eve_u, &why), BH_OK);
  struct actor bob = {.uoid = bob_u.uoid, .type = USER_USER};
  struct actor eve = {.uoid = eve_u.uoid, .type = USER_USER};
  struct user_rec tmp;
  assert_int_equal(user_create(&m, &bob, "x@x.test", "pw", "X", USER_USER, false, &tmp, &why),
                   BH_DENIED);

  struct project_rec root, mid, leaf, dup;
  assert_int_equal(project_create(&m, &bob, "R", "ifc4", -1, &root, &why), BH_DENIED);
  assert_int_equal(project_create(&m, &admin, "R", "IFC2X3TC1", -1, &root, &why), BH_OK);
  assert_string_equal(root.schema, "ifc2x3tc1");
  assert_int_equal(project_create(&m, &admin, "M", "ifc4", root.poid, &mid, &why), BH_OK);
  assert_int_equal(project_create(&m, &admin, "L", "ifc4", mid.poid, &leaf, &why), BH_OK);
  assert_int_equal(project_create(&m, &admin, "L", "ifc4", mid.poid, &dup, &why), BH_EXISTS);
  assert_int_equal(seen.projects, 3);
  assert_int_equal(seen.last_poid, leaf.poid);

  /* bob gets rights on the middle project: reads root (path), mid and leaf; writes mid, leaf */
  assert_int_equal(project_add_user(&m, &admin, bob.uoid, mid.poid, &why), BH_OK);
  assert_true(project_can_read(&m, &bob, &root));
  assert_true(project_can_read(&m, &bob, &leaf));
  assert_false(project_can_write(&m, &bob, &root));
  assert_true(project_can_write(&m, &bob, &leaf));
  assert_false(project_can_read(&m, &eve, &root));
  struct project_list l;
  assert_int_equal(project_list_readable(&m, &eve, false, true, &l), BH_OK);
  assert_int_equal(l.n, 0);
  project_list_clear(&l);
  assert_int_equal(project_list_readable(&m, &bob, false, true, &l), BH_OK);
  assert_int_equal(l.n, 3);
  project_list_clear(&l);
  assert_int_equal(project_add_user(&m, &eve, eve.uoid, mid.poid, &why), BH_NOTFOUND);

  /* deleting the root hides the tree from bob; admins still see it */
  assert_int_equal(project_set_deleted(&m, &admin, root.poid, true, &why), BH_OK);
  struct project_rec got;
  assert_int_equal(project_get_readable(&m, &bob, leaf.poid, &got, &why), BH_NOTFOUND);
  assert_int_equal(project_get_readable(&m, &admin, leaf.poid, &got, &why), BH_OK);
  assert_int_equal(got.state, STATE_DELETED);
  project_rec_clear(&got);

  project_rec_clear(&root);
  project_rec_clear(&mid);
  project_rec_clear(&leaf);
  user_rec_clear(&admin_u);
  user_rec_clear(&bob_u);
  user_rec_clear(&eve_u);
  model_free(&m);
  events_free(ev);
  store_close(st);
  config_free(&cfg);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rights_follow_the_tree_and_events_follow_commits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
