/* envelope_test.c: the /json envelope both ways: base URLs, the request object, results,
 * exceptions (object and string forms, errorCode, errorType), HTTP statuses, lenient readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sdk_internal.h"

static void base_url_drops_json_and_slashes(void **state)
{
  (void)state;
  struct {
    const char *in, *out;
  } cases[] = {
      {"http://127.0.0.1:8082", "http://127.0.0.1:8082"},
      {"http://127.0.0.1:8082/", "http://127.0.0.1:8082"},
      {"http://127.0.0.1:8082/json", "http://127.0.0.1:8082"},
      {"http://h/bimserver/json/", "http://h/bimserver"},
      {"HTTPS://h:1/x//", "HTTPS://h:1/x"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *b = sdk_base_url(cases[i].in, NULL);
    assert_non_null(b);
    assert_string_equal(b, cases[i].out);
    free(b);
  }
  bool https = false;
  char *b = sdk_base_url("https://x", &https);
  assert_true(https);
  free(b);
  assert_null(sdk_base_url("ftp://x", NULL));
  assert_null(sdk_base_url("http://", NULL));
  assert_null(sdk_base_url("http:///json", NULL));
  assert_null(sdk_base_url(NULL, NULL));
}

static void envelope_has_token_request_and_parameters(void **state)
{
  (void)state;
  json_t *e = sdk_envelope("T0K", "ServiceInterface", "getProjectByPoid",
                           json_pack("{s:I}", "poid", (json_int_t)42));
  assert_non_null(e);
  assert_string_equal(json_string_value(json_object_get(e, "token")), "T0K");
  json_t *r = json_object_get(e, "request");
  assert_string_equal(bimhub_json_str(r, "interface"), "ServiceInterface");
  assert_string_equal(bimhub_json_str(r, "method"), "getProjectByPoid");
  assert_int_equal(bimhub_json_int(json_object_get(r, "parameters"), "poid", 0), 42);
  json_decref(e);
  /* no token: no key; no params: {} */
  e = sdk_envelope(NULL, "AuthInterface", "logout", NULL);
  assert_null(json_object_get(e, "token"));
  assert_true(json_is_object(json_object_get(json_object_get(e, "request"), "parameters")));
  assert_int_equal(json_object_size(json_object_get(json_object_get(e, "request"), "parameters")),
                   0);
  json_decref(e);
}

static void result_is_returned_as_new_reference(void **state)
{
  (void)state;
  json_t *reply = json_loads("{\"response\":{\"result\":[1,2,3]}}", 0, NULL);
  json_t *res = NULL;
  struct bimhub_error err;
  assert_int_equal(sdk_reply_result(reply, &res, &err), BIMHUB_OK);
  json_decref(reply); /* the result outlives the reply */
  assert_int_equal(json_array_size(res), 3);
  json_decref(res);
}

static void exception_fields_are_extracted(void **state)
{
  (void)state;
  const char *body = "{\"response\":{\"exception\":{\"__type\":\"AuthenticationException\","
                     "\"message\":\"Invalid token\",\"errorType\":\"DefaultErrorCode\","
                     "\"errorCode\":3}}}";
  json_t *res = (json_t *)1;
  struct bimhub_error err;
  assert_int_equal(sdk_parse_answer(200, body, strlen(body), &res, &err), BIMHUB_EXCEPTION);
  assert_null(res);
  assert_int_equal(err.rc, BIMHUB_EXCEPTION);
  assert_string_equal(err.type, "AuthenticationException");
  assert_string_equal(err.message, "Invalid token");
  assert_string_equal(err.error_type, "DefaultErrorCode");
  assert_int_equal(err.code, 3);
  assert_int_equal(err.http_status, 200);
  /* 1.5.120 sent errorCode without errorType; codes may come as text */
  const char *old = "{\"response\":{\"exception\":{\"__type\":\"UserException\",\"message\":\"m\","
                    "\"errorCode\":\"1\"}}}";
  assert_int_equal(sdk_parse_answer(200, old, strlen(old), NULL, &err), BIMHUB_EXCEPTION);
  assert_int_equal(err.code, 1);
  assert_string_equal(err.error_type, "");
}

static void exception_as_string_and_without_message(void **state)
{
  (void)state;
  json_t *s = json_string("No poid"); /* /upload's old form */
  struct bimhub_error err;
  assert_int_equal(sdk_exception_fill(s, &err), BIMHUB_EXCEPTION);
  assert_string_equal(err.type, "UserException");
  assert_string_equal(err.message, "No poid");
  json_decref(s);
  json_t *o = json_pack("{s:s}", "__type", "ServerException");
  sdk_exception_fill(o, &err);
  assert_string_equal(err.message, "ServerException"); /* never empty */
  json_decref(o);
  assert_int_equal(sdk_exception_fill(o = json_object(), NULL), BIMHUB_EXCEPTION); /* err NULL */
  json_decref(o);
}

static void long_messages_are_truncated(void **state)
{
  (void)state;
  char big[2000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  json_t *o = json_pack("{s:s,s:s}", "__type", "UserException", "message", big);
  struct bimhub_error err;
  sdk_exception_fill(o, &err);
  assert_int_equal(strlen(err.message), BIMHUB_ERROR_MESSAGE_MAX - 1);
  json_decref(o);
}

static void http_status_and_bad_bodies(void **state)
{
  (void)state;
  struct bimhub_error err;
  assert_int_equal(sdk_parse_answer(500, "", 0, NULL, &err), BIMHUB_HTTP);
  assert_int_equal(err.http_status, 500);
  assert_string_equal(err.message, "HTTP 500");
  assert_int_equal(sdk_parse_answer(413, "too\nbig", 7, NULL, &err), BIMHUB_HTTP);
  assert_string_equal(err.message, "HTTP 413: too big");
  assert_int_equal(sdk_parse_answer(200, "[1]", 3, NULL, &err), BIMHUB_PROTOCOL);
  assert_int_equal(sdk_parse_answer(200, "{", 1, NULL, &err), BIMHUB_PROTOCOL);
  const char *noresp = "{\"responses\":[]}";
  assert_int_equal(sdk_parse_answer(200, noresp, strlen(noresp), NULL, &err), BIMHUB_PROTOCOL);
  const char *empty = "{\"response\":{}}";
  assert_int_equal(sdk_parse_answer(200, empty, strlen(empty), NULL, &err), BIMHUB_PROTOCOL);
  /* null exception counts as none */
  const char *ok = "{\"response\":{\"exception\":null,\"result\":{}}}";
  json_t *res = NULL;
  assert_int_equal(sdk_parse_answer(200, ok, strlen(ok), &res, &err), BIMHUB_OK);
  assert_true(sdk_is_nothing(res));
  json_decref(res);
}

static void lenient_readers(void **state)
{
  (void)state;
  json_t *o =
      json_loads("{\"a\":12,\"b\":\"34\",\"c\":7.9,\"d\":true,\"e\":\"x\",\"f\":null}", 0, NULL);
  assert_int_equal(bimhub_json_int(o, "a", -1), 12);
  assert_int_equal(bimhub_json_int(o, "b", -1), 34);
  assert_int_equal(bimhub_json_int(o, "c", -1), 7);
  assert_int_equal(bimhub_json_int(o, "d", -1), 1);
  assert_int_equal(bimhub_json_int(o, "e", -1), -1);
  assert_int_equal(bimhub_json_int(o, "f", -1), -1);
  assert_int_equal(bimhub_json_int(o, "zz", -5), -5);
  assert_int_equal(bimhub_json_int(NULL, "a", -2), -2);
  assert_string_equal(bimhub_json_str(o, "e"), "x");
  assert_null(bimhub_json_str(o, "a"));
  json_decref(o);
  assert_true(sdk_is_nothing(NULL));
  json_t *n = json_null();
  assert_true(sdk_is_nothing(n));
}

static void errors_and_texts(void **state)
{
  (void)state;
  struct bimhub_error err;
  assert_int_equal(sdk_fail(&err, BIMHUB_IO, "file %s", "x"), BIMHUB_IO);
  assert_string_equal(err.message, "file x");
  sdk_fail(&err, BIMHUB_NOMEM, "%s", "");
  assert_string_equal(err.message, "out of memory");
  bimhub_error_clear(&err);
  assert_int_equal(err.rc, BIMHUB_OK);
  bimhub_error_clear(NULL);
  for (int rc = BIMHUB_OK; rc <= BIMHUB_DENIED; rc++)
    assert_true(strlen(bimhub_rc_text((enum bimhub_rc)rc)) > 0);
  assert_string_equal(bimhub_version(), BIMHUB_VERSION_STRING);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(base_url_drops_json_and_slashes),
      cmocka_unit_test(envelope_has_token_request_and_parameters),
      cmocka_unit_test(result_is_returned_as_new_reference),
      cmocka_unit_test(exception_fields_are_extracted),
      cmocka_unit_test(exception_as_string_and_without_message),
      cmocka_unit_test(long_messages_are_truncated),
      cmocka_unit_test(http_status_and_bad_bodies),
      cmocka_unit_test(lenient_readers),
      cmocka_unit_test(errors_and_texts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
