/* stream_msg_test.c: /stream messages as a client sees them: classification (welcome,
 * both endpoint forms, resume answers, errors, pushes with seq), the dispatch of pushes to
 * typed handlers (and on_push for the rest), the registry calls of subscriptions, the
 * reconnect delay, ws:// URLs and the handshake check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sdk_internal.h"
#include "transport/sha1.h"

static struct sdk_msg classify(const char *text)
{
  json_t *j = json_loads(text, 0, NULL);
  struct sdk_msg m;
  sdk_msg_classify(j, &m);
  json_decref(j);
  return m;
}

static void messages_are_classified(void **state)
{
  (void)state;
  assert_int_equal(classify("{\"welcome\":1700000000000}").kind, SDK_MSG_WELCOME);
  struct sdk_msg m = classify("{\"type\":\"endpoint\",\"payload\":{\"endpointid\":7},"
                              "\"endpointid\":7}");
  assert_int_equal(m.kind, SDK_MSG_ENDPOINT);
  assert_int_equal(m.endpoint_id, 7);
  assert_false(m.resumed);
  assert_true(m.history_complete);
  m = classify("{\"endpointid\":3}"); /* BIMserver's short form */
  assert_int_equal(m.kind, SDK_MSG_ENDPOINT);
  assert_int_equal(m.endpoint_id, 3);
  m = classify("{\"type\":\"endpoint\",\"payload\":{\"endpointid\":7,\"resumed\":true,"
               "\"historyComplete\":false,\"seq\":44},\"endpointid\":7}");
  assert_true(m.resumed);
  assert_false(m.history_complete);
  assert_int_equal(m.endpoint_seq, 44);
  json_t *e = json_loads("{\"error\":\"Invalid token\"}", 0, NULL);
  sdk_msg_classify(e, &m); /* m.error is borrowed from e */
  assert_int_equal(m.kind, SDK_MSG_ERROR);
  assert_string_equal(m.error, "Invalid token");
  assert_int_equal(m.endpoint_id, -1);
  json_decref(e);
  m = classify("{\"error\":\"Endpoint with id 9 not found\",\"endpointid\":9}");
  assert_int_equal(m.kind, SDK_MSG_ERROR);
  assert_int_equal(m.endpoint_id, 9);
  m = classify("{\"seq\":12,\"request\":{\"interface\":\"NotificationInterface\","
               "\"method\":\"newRevision\",\"parameters\":{\"poid\":1,\"roid\":2}}}");
  assert_int_equal(m.kind, SDK_MSG_PUSH);
  assert_int_equal(m.seq, 12);
  assert_int_equal(classify("{\"request\":{}}").seq, 0);
  assert_int_equal(classify("{\"id\":0,\"response\":{\"result\":{}}}").kind, SDK_MSG_RESPONSE);
  assert_int_equal(classify("{\"hello\":1}").kind, SDK_MSG_OTHER);
  assert_int_equal(classify("[1]").kind, SDK_MSG_OTHER);
  assert_int_equal(classify("not json").kind, SDK_MSG_OTHER);
}

/* ---- dispatch ---- */

struct seen {
  int revisions, projects, users, extdata, progress, topics, pushes;
  int64_t a, b, c;
  char method[64];
  bool closed;
  char title[64];
};

static void h_rev(void *arg, int64_t poid, int64_t roid)
{
  struct seen *s = arg;
  s->revisions++;
  s->a = poid;
  s->b = roid;
}
static void h_proj(void *arg, int64_t poid)
{
  struct seen *s = arg;
  s->projects++;
  s->a = poid;
}
static void h_user(void *arg, int64_t uoid)
{
  struct seen *s = arg;
  s->users++;
  s->a = uoid;
}
static void h_ext(void *arg, int64_t roid, int64_t edid)
{
  struct seen *s = arg;
  s->extdata++;
  s->a = roid;
  s->b = edid;
}
static void h_prog(void *arg, int64_t topic, json_t *st)
{
  struct seen *s = arg;
  s->progress++;
  s->a = topic;
  snprintf(s->title, sizeof s->title, "%s",
           bimhub_json_str(st, "title") ? bimhub_json_str(st, "title") : "");
}
static void h_topic(void *arg, const struct bimhub_topic_event *ev)
{
  struct seen *s = arg;
  s->topics++;
  s->a = ev->poid;
  s->b = ev->roid;
  s->c = ev->topic_id;
  s->closed = ev->is_closed;
  snprintf(s->method, sizeof s->method, "%s", ev->method);
}
static void h_push(void *arg, const char *method, json_t *params, uint64_t seq)
{
  struct seen *s = arg;
  s->pushes++;
  s->a = (int64_t)seq;
  s->b = bimhub_json_int(params, "uoid", -1);
  snprintf(s->method, sizeof s->method, "%s", method);
}

static bool dispatch(const struct bimhub_stream_handlers *h, struct seen *s, const char *req,
                     uint64_t seq)
{
  json_t *j = json_loads(req, 0, NULL);
  assert_non_null(j);
  bool r = sdk_push_dispatch(h, s, j, seq);
  json_decref(j);
  return r;
}

static const struct bimhub_stream_handlers all = {
    .on_new_revision = h_rev,
    .on_new_project = h_proj,
    .on_new_user = h_user,
    .on_new_extended_data = h_ext,
    .on_progress = h_prog,
    .on_progress_topic = h_topic,
    .on_push = h_push,
};

static void pushes_reach_typed_handlers(void **state)
{
  (void)state;
  struct seen s = {0};
  assert_true(dispatch(&all, &s,
                       "{\"interface\":\"NotificationInterface\",\"method\":\"newRevision\","
                       "\"parameters\":{\"poid\":131075,\"roid\":196613}}",
                       5));
  assert_int_equal(s.revisions, 1);
  assert_int_equal(s.a, 131075);
  assert_int_equal(s.b, 196613);
  dispatch(&all, &s,
           "{\"interface\":\"NotificationInterface\",\"method\":\"newProject\","
           "\"parameters\":{\"poid\":\"9\"}}",
           0);
  assert_int_equal(s.projects, 1);
  assert_int_equal(s.a, 9); /* lenient, as the server reads */
  dispatch(&all, &s,
           "{\"interface\":\"NotificationInterface\",\"method\":\"newUser\","
           "\"parameters\":{\"uoid\":4}}",
           0);
  assert_int_equal(s.users, 1);
  dispatch(&all, &s,
           "{\"interface\":\"org.bimserver.NotificationInterface\","
           "\"method\":\"newExtendedData\",\"parameters\":{\"roid\":2,\"edid\":3}}",
           0);
  assert_int_equal(s.extdata, 1);
  assert_int_equal(s.b, 3);
  dispatch(&all, &s,
           "{\"interface\":\"NotificationInterface\",\"method\":\"progress\",\"parameters\":"
           "{\"topicId\":7,\"state\":{\"__type\":\"SLongCheckinActionState\",\"title\":"
           "\"Generating inverses/opposites...\"}}}",
           0);
  assert_int_equal(s.progress, 1);
  assert_int_equal(s.a, 7);
  assert_string_equal(s.title, "Generating inverses/opposites...");
  dispatch(&all, &s,
           "{\"interface\":\"NotificationInterface\",\"method\":"
           "\"closedProgressOnRevisionTopic\",\"parameters\":{\"poid\":1,\"roid\":2,"
           "\"topicId\":3}}",
           0);
  assert_int_equal(s.topics, 1);
  assert_true(s.closed);
  assert_int_equal(s.a, 1);
  assert_int_equal(s.b, 2);
  assert_int_equal(s.c, 3);
  dispatch(&all, &s,
           "{\"interface\":\"NotificationInterface\",\"method\":"
           "\"newProgressOnServerTopic\",\"parameters\":{\"topicId\":8}}",
           0);
  assert_int_equal(s.topics, 2);
  assert_false(s.closed);
  assert_int_equal(s.a, -1);
  assert_int_equal(s.c, 8);
  assert_int_equal(s.pushes, 0);
}

static void other_pushes_go_to_on_push(void **state)
{
  (void)state;
  struct seen s = {0};
  dispatch(&all, &s,
           "{\"interface\":\"NotificationInterface\",\"method\":\"somethingNew\","
           "\"parameters\":{\"uoid\":4}}",
           77);
  assert_int_equal(s.pushes, 1);
  assert_string_equal(s.method, "somethingNew");
  assert_int_equal(s.a, 77);
  /* a typed method without its handler goes to on_push too */
  struct bimhub_stream_handlers only_push = {.on_push = h_push};
  memset(&s, 0, sizeof s);
  dispatch(&only_push, &s,
           "{\"interface\":\"NotificationInterface\",\"method\":\"newUser\","
           "\"parameters\":{\"uoid\":4}}",
           0);
  assert_int_equal(s.pushes, 1);
  assert_int_equal(s.b, 4);
  /* no handlers at all: nothing happens, no crash; missing parameters are tolerated */
  struct bimhub_stream_handlers none = {0};
  assert_true(dispatch(&none, &s,
                       "{\"interface\":\"NotificationInterface\",\"method\":"
                       "\"newRevision\"}",
                       0));
  memset(&s, 0, sizeof s);
  assert_true(dispatch(&all, &s,
                       "{\"interface\":\"NotificationInterface\",\"method\":"
                       "\"progress\",\"parameters\":{\"topicId\":1}}",
                       0));
  assert_int_equal(s.progress, 1);
  /* not a notification: refused */
  assert_false(dispatch(&all, &s, "{\"interface\":\"ServiceInterface\",\"method\":\"x\"}", 0));
  assert_false(dispatch(&all, &s, "{\"interface\":\"NotificationInterface\"}", 0));
}

static void subscriptions_map_to_registry_calls(void **state)
{
  (void)state;
  assert_string_equal(sdk_sub_method(BIMHUB_SUB_NEW_REVISION_ON_PROJECT, true),
                      "registerNewRevisionOnSpecificProjectHandler");
  assert_string_equal(sdk_sub_method(BIMHUB_SUB_NEW_REVISION_ON_PROJECT, false),
                      "unregisterNewRevisionOnSpecificProjectHandler");
  assert_string_equal(sdk_sub_method(BIMHUB_SUB_PROGRESS, true), "registerProgressHandler");
  assert_null(sdk_sub_method((enum bimhub_sub_kind)99, true));
  json_t *p = sdk_sub_params(BIMHUB_SUB_NEW_REVISION_ON_PROJECT, 5, 131075, 0);
  char *s = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_string_equal(s, "{\"endPointId\":5,\"poid\":131075}");
  free(s);
  json_decref(p);
  p = sdk_sub_params(BIMHUB_SUB_PROGRESS, 5, 9, 0);
  s = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_string_equal(s, "{\"topicId\":9,\"endPointId\":5}");
  free(s);
  json_decref(p);
  p = sdk_sub_params(BIMHUB_SUB_CHANGE_PROGRESS_ON_REVISION, 5, 2, 1);
  s = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_string_equal(s, "{\"endPointId\":5,\"roid\":2,\"poid\":1}");
  free(s);
  json_decref(p);
  p = sdk_sub_params(BIMHUB_SUB_NEW_PROJECT, 5, 0, 0);
  assert_int_equal(json_object_size(p), 1);
  json_decref(p);
}

static void backoff_doubles_caps_and_jitters(void **state)
{
  (void)state;
  assert_int_equal(sdk_backoff_ms(1, 500, 30000, 0), 500);
  assert_int_equal(sdk_backoff_ms(2, 500, 30000, 0), 1000);
  assert_int_equal(sdk_backoff_ms(3, 500, 30000, 0), 2000);
  assert_int_equal(sdk_backoff_ms(40, 500, 30000, 0), 30000);
  assert_int_equal(sdk_backoff_ms(40, 500, 30000, 1.0), 30000 - 7500);
  assert_int_equal(sdk_backoff_ms(0, 500, 30000, 0), 500);
  long j = sdk_backoff_ms(2, 500, 30000, 0.5);
  assert_true(j <= 1000 && j >= 750);
}

static void ws_urls(void **state)
{
  (void)state;
  char host[64], port[8], path[128];
  assert_int_equal(sdk_ws_url_parts("http://127.0.0.1:8082", host, sizeof host, port, sizeof port,
                                    path, sizeof path),
                   BIMHUB_OK);
  assert_string_equal(host, "127.0.0.1");
  assert_string_equal(port, "8082");
  assert_string_equal(path, "/stream");
  assert_int_equal(sdk_ws_url_parts("http://example.org/bimserver/", host, sizeof host, port,
                                    sizeof port, path, sizeof path),
                   BIMHUB_OK);
  assert_string_equal(host, "example.org");
  assert_string_equal(port, "80");
  assert_string_equal(path, "/bimserver/stream");
  assert_int_equal(
      sdk_ws_url_parts("http://[::1]:9/", host, sizeof host, port, sizeof port, path, sizeof path),
      BIMHUB_OK);
  assert_string_equal(host, "::1");
  assert_string_equal(port, "9");
  assert_int_equal(
      sdk_ws_url_parts("https://x", host, sizeof host, port, sizeof port, path, sizeof path),
      BIMHUB_INVALID);
  assert_int_equal(
      sdk_ws_url_parts("http://x:8a", host, sizeof host, port, sizeof port, path, sizeof path),
      BIMHUB_INVALID);
  assert_int_equal(
      sdk_ws_url_parts("http://:80", host, sizeof host, port, sizeof port, path, sizeof path),
      BIMHUB_INVALID);
}

static void handshake_answers(void **state)
{
  (void)state;
  /* RFC 6455 §1.3's example key and accept */
  const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
  const char *good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                     "\r\n";
  struct bimhub_error err;
  assert_int_equal(sdk_ws_check_handshake(good, strlen(good), key, &err), BIMHUB_OK);
  const char *lower = "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                      "sec-websocket-accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n\r\n";
  assert_int_equal(sdk_ws_check_handshake(lower, strlen(lower), key, &err), BIMHUB_OK);
  const char *bad = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
                    "\r\n";
  assert_int_equal(sdk_ws_check_handshake(bad, strlen(bad), key, &err), BIMHUB_PROTOCOL);
  const char *refused = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  assert_int_equal(sdk_ws_check_handshake(refused, strlen(refused), key, &err), BIMHUB_HTTP);
  assert_non_null(strstr(err.message, "404 Not Found"));
  const char *noupgrade = "HTTP/1.1 101 X\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                          "\r\n";
  assert_int_equal(sdk_ws_check_handshake(noupgrade, strlen(noupgrade), key, &err),
                   BIMHUB_PROTOCOL);
  assert_int_equal(sdk_ws_check_handshake("garbage", 7, key, &err), BIMHUB_PROTOCOL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(messages_are_classified),
      cmocka_unit_test(pushes_reach_typed_handlers),
      cmocka_unit_test(other_pushes_go_to_on_push),
      cmocka_unit_test(subscriptions_map_to_registry_calls),
      cmocka_unit_test(backoff_doubles_caps_and_jitters),
      cmocka_unit_test(ws_urls),
      cmocka_unit_test(handshake_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
