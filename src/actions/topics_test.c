/* topics_test.c: topic ids, the §7.2 sending rule, removal and expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "actions/topics.h"
#include "common/bh_time.h"
#include "model/events.h"

struct count {
  int progress, created, closed;
};

static void on_event(const struct event *e, void *arg)
{
  struct count *c = arg;
  if (e->type == EV_PROGRESS)
    c->progress++;
  else if (e->type == EV_TOPIC_NEW)
    c->created++;
  else if (e->type == EV_TOPIC_CLOSED)
    c->closed++;
}

static void sending_rule_and_life(void **state)
{
  (void)state;
  struct events *ev = events_new();
  struct count c = {0};
  events_subscribe(ev, on_event, &c);
  struct topics *t = topics_new(ev, 1000);
  int64_t a, b;
  assert_int_equal(topics_create(t, TOPIC_PROJECT, "UPLOAD", "Checkin", 5, -1, 9, -1, true, &a),
                   BH_OK);
  assert_int_equal(topics_create(t, TOPIC_SERVER, "DOWNLOAD", "Download", -1, -1, 9, -1, false, &b),
                   BH_OK);
  assert_true(b > a);
  assert_int_equal(c.created, 2);

  struct topic_info info;
  assert_int_equal(topics_get(t, a, &info), BH_OK);
  assert_false(info.has_state); /* getProgress gives {} until something was sent */
  assert_string_equal(info.state.title, "Unknown");

  assert_int_equal(topics_progress(t, a, "Deserializing...", 0), BH_OK);
  assert_int_equal(c.progress, 1); /* first state */
  assert_int_equal(topics_progress(t, a, NULL, 10), BH_OK);
  assert_int_equal(c.progress, 1); /* progress only, within 200 ms: dropped */
  assert_int_equal(topics_progress(t, a, "Saving to database (x.ifc)", 0), BH_OK);
  assert_int_equal(c.progress, 2); /* new title */
  assert_int_equal(topics_get(t, a, &info), BH_OK);
  assert_int_equal(info.state.stage, 2);
  assert_int_equal(topics_finish(t, a, "Checkin of x.ifc", 777), BH_OK);
  assert_int_equal(c.progress, 3); /* a final state is always sent */
  assert_int_equal(topics_get(t, a, &info), BH_OK);
  assert_int_equal(info.state.state, ACTION_FINISHED);
  assert_int_equal(info.state.progress, 100);
  assert_int_equal(info.state.roid, 777);
  assert_true(info.state.end_ms > 0);

  assert_int_equal(topics_fail(t, b, "Serializer failed", 0), BH_OK);
  assert_int_equal(topics_get(t, b, &info), BH_OK);
  assert_string_equal(info.state.error, "Serializer failed");
  assert_string_equal(action_state_name(info.state.state), "AS_ERROR");

  int64_t *ids;
  size_t n;
  assert_int_equal(topics_list(t, 5, -1, &ids, &n), BH_OK);
  assert_int_equal(n, 1);
  assert_int_equal(ids[0], a);
  free(ids);

  assert_int_equal(topics_remove(t, a), BH_OK);
  assert_int_equal(topics_get(t, a, &info), BH_NOTFOUND);
  assert_int_equal(topics_remove(t, a), BH_NOTFOUND);
  assert_int_equal(c.closed, 1);
  topics_expire(t, bh_now_ms() + 500);
  assert_int_equal(topics_get(t, b, &info), BH_OK); /* ended less than keep_ms ago */
  topics_expire(t, bh_now_ms() + 5000);
  assert_int_equal(topics_get(t, b, &info), BH_NOTFOUND);
  assert_int_equal(c.closed, 2);
  topics_free(t);
  events_free(ev);
}

/* One owner's topics are capped; others' and check-ins are not refused; removing frees room. */
static void topics_per_owner_are_limited(void **state)
{
  (void)state;
  struct topics *t = topics_new(NULL, 1000);
  topics_set_max_per_owner(t, 3);
  int64_t id[3], x;
  for (int i = 0; i < 3; i++)
    assert_int_equal(topics_create(t, TOPIC_SERVER, "UPLOAD", "d", -1, -1, 7, -1, false, &id[i]),
                     BH_OK);
  assert_int_equal(topics_create(t, TOPIC_SERVER, "UPLOAD", "d", -1, -1, 7, -1, false, &x),
                   BH_TOOBIG);
  assert_int_equal(topics_create(t, TOPIC_SERVER, "UPLOAD", "d", -1, -1, 8, -1, false, &x), BH_OK);
  assert_int_equal(topics_create(t, TOPIC_PROJECT, "UPLOAD", "Checkin", 1, -1, 7, -1, true, &x),
                   BH_OK);
  assert_int_equal(topics_remove(t, x), BH_OK);
  /* an ended topic still counts until it is removed or expires */
  assert_int_equal(topics_finish(t, id[0], "done", 0), BH_OK);
  assert_int_equal(topics_create(t, TOPIC_SERVER, "UPLOAD", "d", -1, -1, 7, -1, false, &x),
                   BH_TOOBIG);
  assert_int_equal(topics_remove(t, id[0]), BH_OK);
  assert_int_equal(topics_create(t, TOPIC_SERVER, "UPLOAD", "d", -1, -1, 7, -1, false, &x), BH_OK);
  topics_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(sending_rule_and_life),
                                     cmocka_unit_test(topics_per_owner_are_limited)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
