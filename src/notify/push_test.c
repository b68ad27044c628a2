/* push_test.c: the registry without a network: who receives an event, with which sequence
 * numbers, and what a resume replays. A fake transport records the batches. */
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
#include "notify/push.h"

struct sent {
  uint64_t conn, seq;
  char body[256];
};

static struct sent sent[64];
static size_t nsent;

static void fake_send(void *ctx, struct push_frame *f, const struct push_target *t, size_t n)
{
  (void)ctx;
  for (size_t i = 0; i < n && nsent < 64; i++) {
    sent[nsent].conn = t[i].conn;
    sent[nsent].seq = t[i].seq;
    snprintf(sent[nsent].body, sizeof sent[nsent].body, "%s", f->body);
    nsent++;
  }
}

static uint64_t closed[8];
static size_t nclosed;
static int closed_code;

static void fake_close(void *ctx, const uint64_t *conns, size_t n, int code, const char *reason)
{
  (void)ctx;
  assert_non_null(reason);
  for (size_t i = 0; i < n && nclosed < 8; i++)
    closed[nclosed++] = conns[i];
  closed_code = code;
}

static void revision_event(struct events *ev, int64_t poid, int64_t roid)
{
  struct event e = {.type = EV_NEW_REVISION,
                    .poid = poid,
                    .roid = roid,
                    .uoid = -1,
                    .actor_uoid = -1,
                    .edid = -1,
                    .topic_id = -1,
                    .service_oid = -1};
  events_publish(ev, &e);
}

static void fan_out_rights_sequence_and_resume(void **state)
{
  (void)state;
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/bimhub-push-test-%d", (int)getpid());
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
  struct model m;
  assert_int_equal(model_init(&m, st, ev, &cfg), BH_OK);
  struct bh_why why;
  assert_int_equal(model_setup(&m, NULL, "s", "", "", "A", "admin@x.test", "pw", &why), BH_OK);
  struct user_rec admin_u, bob_u;
  assert_int_equal(user_check_login(&m, "admin@x.test", "pw", &admin_u, &why), BH_OK);
  struct actor admin = {.uoid = admin_u.uoid, .type = USER_ADMIN};
  assert_int_equal(
      user_create(&m, &admin, "bob@x.test", "pw", "Bob", USER_USER, false, &bob_u, &why), BH_OK);
  struct project_rec p;
  assert_int_equal(project_create(&m, &admin, "P", "ifc4", -1, &p, &why), BH_OK);

  struct push_limits lim = {.max_endpoints_per_user = 2,
                            .max_registrations = 4,
                            .history_frames = 2,
                            .history_ms = 60000};
  struct push *push;
  assert_int_equal(push_new(&push, &m, &lim), BH_OK);
  struct push_transport tr = {.send = fake_send};
  push_set_transport(push, &tr);

  int64_t ea, eb;
  assert_int_equal(push_endpoint_open(push, admin.uoid, &ea, &why), BH_OK);
  assert_int_equal(ea, 2); /* BIMserver's first endpoint id */
  assert_int_equal(push_endpoint_open(push, bob_u.uoid, &eb, &why), BH_OK);
  assert_true(push_endpoint_attach(push, ea, 100, NULL, push_ended_gen(push), false, 0));
  assert_true(push_endpoint_attach(push, eb, 200, NULL, push_ended_gen(push), false, 0));

  /* bob may not register for a project he cannot read, nor use admin's endpoint */
  assert_int_equal(push_register(push, bob_u.uoid, eb, PUSH_NEW_REVISION_PROJECT, p.poid, 0, &why),
                   BH_NOTFOUND);
  assert_int_equal(push_register(push, bob_u.uoid, ea, PUSH_NEW_REVISION, 0, 0, &why), BH_NOTFOUND);
  assert_int_equal(why.error_code, 1);
  /* a global registration is filtered per event instead */
  assert_int_equal(push_register(push, bob_u.uoid, eb, PUSH_NEW_REVISION, 0, 0, &why), BH_OK);
  assert_int_equal(push_register(push, admin.uoid, ea, PUSH_NEW_REVISION_PROJECT, p.poid, 0, &why),
                   BH_OK);

  revision_event(ev, p.poid, 5001);
  assert_int_equal(nsent, 1); /* only admin: bob cannot read P */
  assert_int_equal(sent[0].conn, 100);
  assert_int_equal(sent[0].seq, 1);
  assert_non_null(strstr(sent[0].body, "\"method\":\"newRevision\""));
  assert_non_null(strstr(sent[0].body, "\"parameters\":{\"poid\":"));

  /* admin drops; two events go to the history only */
  push_endpoint_detach(push, ea, 100);
  nsent = 0;
  revision_event(ev, p.poid, 5002);
  revision_event(ev, p.poid, 5003);
  assert_int_equal(nsent, 0);
  bool complete;
  uint64_t seq;
  assert_int_equal(push_endpoint_resume(push, admin.uoid, ea, 1, &complete, &seq, &why), BH_OK);
  assert_true(complete);
  assert_int_equal(seq, 3);
  assert_int_equal(push_endpoint_resume(push, bob_u.uoid, ea, 1, &complete, &seq, &why),
                   BH_NOTFOUND);
  assert_true(push_endpoint_attach(push, ea, 101, NULL, push_ended_gen(push), true, 1));
  assert_int_equal(nsent, 2);
  assert_int_equal(sent[0].seq, 2);
  assert_int_equal(sent[1].seq, 3);
  assert_int_equal(sent[1].conn, 101);

  /* a history of 2 frames cannot reach back 3 */
  push_endpoint_detach(push, ea, 101);
  for (int i = 0; i < 3; i++)
    revision_event(ev, p.poid, 6000 + i);
  assert_int_equal(push_endpoint_resume(push, admin.uoid, ea, 3, &complete, &seq, &why), BH_OK);
  assert_false(complete);
  assert_int_equal(seq, 6);

  /* limits */
  int64_t extra;
  assert_int_equal(push_endpoint_open(push, bob_u.uoid, &extra, &why), BH_OK);
  assert_int_equal(push_endpoint_open(push, bob_u.uoid, &extra, &why), BH_TOOBIG);
  assert_int_equal(push_endpoint_count(push), 3);

  /* ended sessions: the connections opened with those login tokens close and hear nothing
   * more; a connection of a service token (no login hash) stays */
  struct push_transport tr2 = {.send = fake_send, .close = fake_close};
  push_set_transport(push, &tr2);
  unsigned char h1[32], h2[32];
  memset(h1, 1, sizeof h1);
  memset(h2, 2, sizeof h2);
  uint64_t gen = push_ended_gen(push);
  assert_true(push_endpoint_attach(push, ea, 300, h1, gen, false, 0));
  assert_true(push_endpoint_attach(push, extra, 301, h2, gen, false, 0));
  assert_int_equal(push_end_sessions(push, bob_u.uoid, NULL, NULL, "Password changed"), 1);
  assert_int_equal(nclosed, 1);
  assert_int_equal(closed[0], 301);
  assert_int_equal(closed_code, 1008);
  assert_int_equal(push_end_sessions(push, admin.uoid, NULL, h1, "Password changed"), 0);
  assert_int_equal(push_end_sessions(push, -1, h1, NULL, "Logged out"), 1);
  assert_int_equal(closed[1], 300);
  nsent = 0;
  revision_event(ev, p.poid, 7000);
  assert_int_equal(nsent, 0);
  /* a token checked before sessions were ended is not attached: the caller checks again */
  assert_false(push_endpoint_attach(push, ea, 302, h1, gen, false, 0));
  assert_true(push_endpoint_attach(push, ea, 302, h1, push_ended_gen(push), false, 0));
  revision_event(ev, p.poid, 7001);
  assert_int_equal(nsent, 1);
  assert_int_equal(sent[0].conn, 302);

  push_free(push);
  project_rec_clear(&p);
  user_rec_clear(&admin_u);
  user_rec_clear(&bob_u);
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
  const struct CMUnitTest tests[] = {cmocka_unit_test(fan_out_rights_sequence_and_resume)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
