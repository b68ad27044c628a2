/* envelope.c: the /json envelope in both directions (spec §1.2, §3 "Exceptions"): the
 * request object a call is sent as, and the reading of {"response":{"result"|"exception"}}
 * into a result or a struct bimhub_error. Pure functions on jansson values. */
#include "sdk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *sdk_base_url(const char *url, bool *is_https)
{
  if (!url)
    return NULL;
  bool https = strncasecmp(url, "https://", 8) == 0;
  if (!https && strncasecmp(url, "http://", 7) != 0)
    return NULL;
  size_t scheme = https ? 8 : 7;
  size_t n = strlen(url);
  for (;;) {
    if (n > scheme && url[n - 1] == '/')
      n--;
    else if (n >= scheme + 5 && strncmp(url + n - 5, "/json", 5) == 0)
      n -= 5;
    else
      break;
  }
  if (n <= scheme)
    return NULL; /* no host */
  if (is_https)
    *is_https = https;
  return strndup(url, n);
}

json_t *sdk_envelope(const char *token, const char *iface, const char *method, json_t *params)
{
  if (!params)
    params = json_object();
  json_t *req = json_object();
  json_t *env = json_object();
  if (!params || !req || !env || !iface || !method) {
    json_decref(params);
    json_decref(req);
    json_decref(env);
    return NULL;
  }
  json_object_set_new(req, "interface", json_string(iface));
  json_object_set_new(req, "method", json_string(method));
  json_object_set_new(req, "parameters", params);
  if (token)
    json_object_set_new(env, "token", json_string(token));
  json_object_set_new(env, "request", req);
  return env;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
  snprintf(dst, cap, "%s", src ? src : "");
}

enum bimhub_rc sdk_exception_fill(const json_t *exc, struct bimhub_error *err)
{
  if (!err)
    return BIMHUB_EXCEPTION;
  memset(err, 0, sizeof *err);
  err->rc = BIMHUB_EXCEPTION;
  if (json_is_string(exc)) {
    copy_text(err->type, sizeof err->type, "UserException");
    copy_text(err->message, sizeof err->message, json_string_value(exc));
  } else {
    const char *type = bimhub_json_str(exc, "__type");
    copy_text(err->type, sizeof err->type, type ? type : "UserException");
    copy_text(err->message, sizeof err->message, bimhub_json_str(exc, "message"));
    copy_text(err->error_type, sizeof err->error_type, bimhub_json_str(exc, "errorType"));
    err->code = (long)bimhub_json_int(exc, "errorCode", 0);
  }
  if (!err->message[0])
    copy_text(err->message, sizeof err->message, err->type);
  return BIMHUB_EXCEPTION;
}

enum bimhub_rc sdk_reply_result(const json_t *reply, json_t **result, struct bimhub_error *err)
{
  if (result)
    *result = NULL;
  const json_t *resp = json_object_get(reply, "response");
  if (!json_is_object(resp))
    return sdk_fail(err, BIMHUB_PROTOCOL, "The answer has no \"response\" object");
  const json_t *exc = json_object_get(resp, "exception");
  if (exc && !json_is_null(exc))
    return sdk_exception_fill(exc, err);
  json_t *res = json_object_get(resp, "result");
  if (!res)
    return sdk_fail(err, BIMHUB_PROTOCOL, "The response has neither \"result\" nor \"exception\"");
  if (result)
    *result = json_incref(res);
  return BIMHUB_OK;
}

enum bimhub_rc sdk_parse_answer(long status, const char *body, size_t len, json_t **result,
                                struct bimhub_error *err)
{
  if (result)
    *result = NULL;
  if (status != 200) {
    /* the body's start, on one line: enough to say what went wrong */
    char text[160];
    size_t n = 0;
    for (size_t i = 0; body && i < len && n + 1 < sizeof text; i++)
      text[n++] = (body[i] == '\n' || body[i] == '\r') ? ' ' : body[i];
    text[n] = '\0';
    sdk_fail(err, BIMHUB_HTTP, "HTTP %ld%s%s", status, n ? ": " : "", text);
    if (err)
      err->http_status = status;
    return BIMHUB_HTTP;
  }
  json_error_t jerr;
  json_t *reply = body ? json_loadb(body, len, 0, &jerr) : NULL;
  if (!json_is_object(reply)) {
    json_decref(reply);
    enum bimhub_rc rc = sdk_fail(err, BIMHUB_PROTOCOL, "The answer is not a JSON object");
    if (err)
      err->http_status = status;
    return rc;
  }
  enum bimhub_rc rc = sdk_reply_result(reply, result, err);
  if (rc != BIMHUB_OK && err)
    err->http_status = status;
  json_decref(reply);
  return rc;
}

bool sdk_is_nothing(const json_t *v)
{
  return !v || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0);
}
