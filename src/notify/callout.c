/* callout.c: one blocking request to a remote service through the outbound guard. */
#include "notify/callout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bh_log.h"
#include "config/config.h"
#include "outbound/outbound.h"

struct body {
  char *p;
  size_t len;
};

static bool on_data(void *arg, const char *data, size_t len)
{
  struct body *b = arg;
  char *np = realloc(b->p, b->len + len + 1);
  if (!np)
    return false;
  b->p = np;
  memcpy(b->p + b->len, data, len);
  b->len += len;
  b->p[b->len] = '\0';
  return true;
}

/* One request to url (a POST of post_body, or a GET when it is NULL); the answer's body in b.
 * BH_OK only for HTTP 200. */
static enum bh_err perform(const struct bh_config *cfg, const char *url, const char *post_body,
                           struct body *b, struct bh_why *why)
{
  const struct outbound_req r = {.url = url,
                                 .what = "service call",
                                 .post_body = post_body,
                                 .content_type = "application/json; charset=UTF-8",
                                 .connect_timeout_ms = cfg->service_connect_timeout_ms,
                                 .timeout_ms = cfg->service_timeout_ms,
                                 .max_bytes = cfg->service_max_response_bytes,
                                 .on_data = on_data,
                                 .arg = b};
  long status = 0;
  enum bh_err rc = outbound_request(cfg, &r, &status, why);
  if (rc == BH_TOOBIG)
    return bh_fail(why, BH_TOOBIG, "The service's answer is larger than %lld bytes",
                   (long long)cfg->service_max_response_bytes);
  if (rc == BH_CLOSED)
    return bh_fail(why, BH_NOMEM, "Out of memory");
  if (rc == BH_OK && status != 200) {
    BH_LOG(BH_LOG_WARN, BH_C_APP, "outbound (service call): HTTP %ld, not 200", status);
    return bh_fail(why, BH_IO, OUTBOUND_UNREACHABLE);
  }
  return rc;
}

enum bh_err callout_call(const struct bh_config *cfg, const char *base_url, const char *iface,
                         const char *method, json_t *params, json_t **result, struct bh_why *why)
{
  *result = NULL;
  struct outbound_url u;
  if (outbound_parse(base_url, &u, why) != BH_OK) {
    json_decref(params);
    return BH_BADREQUEST;
  }
  json_t *env = json_pack("{s:{s:s,s:s,s:o}}", "request", "interface", iface, "method", method,
                          "parameters", params ? params : json_object());
  char *text = env ? json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(env);
  char url[OUTBOUND_URL_MAX + 8];
  size_t bl = strlen(base_url);
  while (bl > 0 && base_url[bl - 1] == '/')
    bl--; /* the URL is the provider's base: /json goes after it */
  snprintf(url, sizeof url, "%.*s/json", (int)bl, base_url);
  struct body b = {0};
  enum bh_err rc =
      text ? perform(cfg, url, text, &b, why) : bh_fail(why, BH_NOMEM, "Out of memory");
  if (rc == BH_OK) {
    json_t *reply = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
    json_t *resp = json_object_get(reply, "response");
    json_t *exc = json_object_get(resp, "exception");
    json_t *res = json_object_get(resp, "result");
    if (!json_is_object(resp)) {
      rc = bh_fail(why, BH_IO, "The service's answer is not a JSON envelope");
    } else if (exc) {
      /* its words go to the log: the answer is not quoted to the caller */
      const char *msg = json_string_value(json_object_get(exc, "message"));
      BH_LOG(BH_LOG_WARN, BH_C_APP, "outbound (service call): %s: %s answered an exception: %s",
             u.origin, method, msg ? msg : "(no message)");
      rc = bh_fail(why, BH_IO, "The service answered with an exception");
    } else if (res && !json_is_null(res) && !(json_is_object(res) && json_object_size(res) == 0)) {
      *result = json_incref(res);
    }
    json_decref(reply);
  }
  free(b.p);
  free(text);
  return rc;
}

enum bh_err callout_get_json(const struct bh_config *cfg, const char *url, json_t **out,
                             struct bh_why *why)
{
  *out = NULL;
  struct body b = {0};
  enum bh_err rc = perform(cfg, url, NULL, &b, why);
  if (rc == BH_OK) {
    *out = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
    if (!*out)
      rc = bh_fail(why, BH_IO, "The answer of the URL is not JSON");
  }
  free(b.p);
  return rc;
}
