/* client.c: struct bimhub_client, one libcurl easy handle (so its connection is reused
 * between calls) and the session token; POST /json and the envelope around each call. */
#include "sdk_internal.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define JSON_ANSWER_MAX ((size_t)1 << 30) /* getFile of a big file is Base64 in one answer */

struct bimhub_client {
  char *base; /* without /json */
  char *json_url;
  char *token; /* NULL: anonymous */
  CURL *curl;
  long connect_ms, total_ms;
  bimhub_progress_cb progress;
  void *progress_arg;
  char errbuf[CURL_ERROR_SIZE];
};

struct bimhub_client *bimhub_client_new(const char *base_url)
{
  if (sdk_global_init() != BIMHUB_OK)
    return NULL;
  struct bimhub_client *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->base = sdk_base_url(base_url, NULL);
  if (!c->base)
    goto fail;
  size_t n = strlen(c->base);
  c->json_url = malloc(n + 6);
  if (!c->json_url)
    goto fail;
  memcpy(c->json_url, c->base, n);
  memcpy(c->json_url + n, "/json", 6);
  c->curl = curl_easy_init();
  if (!c->curl)
    goto fail;
  c->connect_ms = 10000;
  return c;
fail:
  bimhub_client_free(c);
  return NULL;
}

void bimhub_client_free(struct bimhub_client *c)
{
  if (!c)
    return;
  if (c->curl)
    curl_easy_cleanup(c->curl);
  free(c->base);
  free(c->json_url);
  free(c->token);
  free(c);
}

const char *bimhub_client_url(const struct bimhub_client *c)
{
  return c ? c->base : NULL;
}

void bimhub_client_set_timeouts(struct bimhub_client *c, long connect_ms, long total_ms)
{
  if (!c)
    return;
  c->connect_ms = connect_ms > 0 ? connect_ms : 0;
  c->total_ms = total_ms > 0 ? total_ms : 0;
}

long sdk_client_connect_ms(const struct bimhub_client *c)
{
  return c->connect_ms;
}

long sdk_client_total_ms(const struct bimhub_client *c)
{
  return c->total_ms;
}

void bimhub_client_set_progress(struct bimhub_client *c, bimhub_progress_cb cb, void *arg)
{
  if (!c)
    return;
  c->progress = cb;
  c->progress_arg = arg;
}

bimhub_progress_cb sdk_client_progress(const struct bimhub_client *c, void **arg)
{
  *arg = c->progress_arg;
  return c->progress;
}

enum bimhub_rc bimhub_client_set_token(struct bimhub_client *c, const char *token)
{
  if (!c)
    return BIMHUB_INVALID;
  char *t = NULL;
  if (token && !(t = strdup(token)))
    return BIMHUB_NOMEM;
  free(c->token);
  c->token = t;
  return BIMHUB_OK;
}

const char *bimhub_client_token(const struct bimhub_client *c)
{
  return c ? c->token : NULL;
}

/* ---- HTTP ---- */

void *sdk_client_curl(struct bimhub_client *c)
{
  CURL *h = c->curl;
  curl_easy_reset(h); /* keeps the connection cache */
  c->errbuf[0] = '\0';
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "libbimhub/" BIMHUB_VERSION_STRING);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (c->connect_ms)
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
  if (c->total_ms)
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->total_ms);
  return h;
}

enum bimhub_rc sdk_client_curl_fail(struct bimhub_client *c, int curl_code,
                                    struct bimhub_error *err)
{
  CURLcode code = (CURLcode)curl_code;
  enum bimhub_rc rc = code == CURLE_OPERATION_TIMEDOUT ? BIMHUB_TIMEOUT : BIMHUB_TRANSPORT;
  if (code == CURLE_OUT_OF_MEMORY)
    rc = BIMHUB_NOMEM;
  return sdk_fail(err, rc, "%s: %s", c->base, c->errbuf[0] ? c->errbuf : curl_easy_strerror(code));
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
  struct sdk_buf *b = arg;
  return sdk_buf_add(b, p, size * n) ? size * n : 0;
}

enum bimhub_rc sdk_client_post(struct bimhub_client *c, const char *body, size_t len,
                               struct sdk_buf *out, long *status, struct bimhub_error *err)
{
  CURL *h = sdk_client_curl(c);
  struct curl_slist *hdrs =
      curl_slist_append(NULL, "Content-Type: application/json; charset=UTF-8");
  struct curl_slist *more = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
  if (!more) {
    curl_slist_free_all(hdrs);
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  }
  hdrs = more;
  curl_easy_setopt(h, CURLOPT_URL, c->json_url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  CURLcode code = curl_easy_perform(h);
  curl_slist_free_all(hdrs);
  if (code == CURLE_WRITE_ERROR)
    return sdk_fail(err, BIMHUB_PROTOCOL, "The answer is larger than %zu bytes", out->max);
  if (code != CURLE_OK)
    return sdk_client_curl_fail(c, code, err);
  long st = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
  *status = st;
  return BIMHUB_OK;
}

/* Posts env (stolen) and gives the whole reply object. */
static enum bimhub_rc post_envelope(struct bimhub_client *c, json_t *env, json_t **reply,
                                    json_t **result, struct bimhub_error *err)
{
  if (reply)
    *reply = NULL;
  if (result)
    *result = NULL;
  if (!env)
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  char *body = json_dumps(env, JSON_COMPACT);
  json_decref(env);
  if (!body)
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  struct sdk_buf out;
  sdk_buf_init(&out, JSON_ANSWER_MAX);
  long status = 0;
  enum bimhub_rc rc = sdk_client_post(c, body, strlen(body), &out, &status, err);
  free(body);
  if (rc == BIMHUB_OK) {
    if (reply) {
      /* the raw reply: only the HTTP status and JSON syntax are checked */
      json_t *j = status == 200 ? json_loadb(out.data ? out.data : "", out.len, 0, NULL) : NULL;
      if (status != 200) {
        rc = sdk_parse_answer(status, out.data, out.len, NULL, err);
      } else if (!json_is_object(j)) {
        json_decref(j);
        rc = sdk_fail(err, BIMHUB_PROTOCOL, "The answer is not a JSON object");
      } else {
        *reply = j;
      }
    } else {
      rc = sdk_parse_answer(status, out.data, out.len, result, err);
    }
  }
  sdk_buf_free(&out);
  return rc;
}

enum bimhub_rc bimhub_client_call(struct bimhub_client *c, const char *interface_name,
                                  const char *method, json_t *params, json_t **result,
                                  struct bimhub_error *err)
{
  if (result)
    *result = NULL;
  if (!c || !interface_name || !method) {
    json_decref(params);
    return sdk_fail(err, BIMHUB_INVALID,
                    "bimhub_client_call: client, interface and method are "
                    "required");
  }
  json_t *res = NULL;
  enum bimhub_rc rc =
      post_envelope(c, sdk_envelope(c->token, interface_name, method, params), NULL, &res, err);
  if (rc == BIMHUB_OK && result)
    *result = res;
  else
    json_decref(res);
  return rc;
}

enum bimhub_rc bimhub_client_request(struct bimhub_client *c, json_t *envelope, json_t **reply,
                                     struct bimhub_error *err)
{
  if (reply)
    *reply = NULL;
  if (!c || !json_is_object(envelope)) {
    json_decref(envelope);
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_client_request: an envelope object is needed");
  }
  if (c->token && !json_object_get(envelope, "token"))
    json_object_set_new(envelope, "token", json_string(c->token));
  json_t *r = NULL;
  enum bimhub_rc rc = post_envelope(c, envelope, &r, NULL, err);
  if (reply)
    *reply = r;
  else
    json_decref(r);
  return rc;
}

/* ---- the session ---- */

enum bimhub_rc bimhub_client_login(struct bimhub_client *c, const char *username,
                                   const char *password, struct bimhub_error *err)
{
  if (!c || !username || !password)
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_client_login: username and password needed");
  /* no token in the envelope: a stale one would fail the login (spec §10 #17) */
  json_t *res = NULL;
  enum bimhub_rc rc = post_envelope(
      c,
      sdk_envelope(NULL, "AuthInterface", "login",
                   json_pack("{s:s,s:s}", "username", username, "password", password)),
      NULL, &res, err);
  if (rc == BIMHUB_OK && !json_is_string(res))
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "login did not answer a token");
  if (rc == BIMHUB_OK)
    rc = bimhub_client_set_token(c, json_string_value(res));
  if (rc == BIMHUB_NOMEM)
    sdk_fail(err, rc, "Out of memory");
  json_decref(res);
  return rc;
}

enum bimhub_rc bimhub_client_logout(struct bimhub_client *c, struct bimhub_error *err)
{
  if (!c)
    return sdk_fail(err, BIMHUB_INVALID, "no client");
  if (!c->token)
    return BIMHUB_OK;
  enum bimhub_rc rc = bimhub_client_call(c, "AuthInterface", "logout", NULL, NULL, err);
  bimhub_client_set_token(c, NULL);
  return rc;
}
