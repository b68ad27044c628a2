/* callout.c: one blocking libcurl request to a remote service, after the SSRF check. */
#include "notify/callout.h"

#include <curl/curl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/bh_log.h"
#include "config/config.h"
#include "outbound/ssrf.h"

struct body {
  char *p;
  size_t len, max;
  bool too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
  struct body *b = arg;
  size_t len = size * n;
  if (b->len + len > b->max) {
    b->too_big = true;
    return 0;
  }
  char *np = realloc(b->p, b->len + len + 1);
  if (!np)
    return 0;
  b->p = np;
  memcpy(b->p + b->len, data, len);
  b->len += len;
  b->p[b->len] = '\0';
  return len;
}

enum bh_err callout_pin(const struct bh_config *cfg, const char *url, struct curl_slist **pin,
                        struct bh_why *why)
{
  *pin = NULL;
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL;
  enum bh_err rc = BH_BADREQUEST;
  if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
    rc = BH_OK;
  if (rc != BH_OK) {
    curl_url_cleanup(u);
    return bh_fail(why, rc, "Invalid service URL %s", url);
  }
  /* [::1] comes with brackets from curl */
  char bare[256];
  size_t hl = strlen(host);
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
    snprintf(bare, sizeof bare, "%.*s", (int)(hl - 2), host + 1);
  else
    snprintf(bare, sizeof bare, "%s", host);
  struct ssrf_allow allow;
  if (!ssrf_allow_parse(cfg->service_allow ? cfg->service_allow : "", &allow)) {
    rc = bh_fail(why, BH_INTERNAL, "service_allow is not a list of CIDRs");
    goto out;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(bare, port, &hints, &ai) != 0 || !ai) {
    rc = bh_fail(why, BH_BADREQUEST, "Cannot resolve the service host %s", bare);
    goto out;
  }
  const struct addrinfo *ok = NULL;
  enum ssrf_class refused = SSRF_PUBLIC;
  for (const struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
    if (ssrf_allowed(a->ai_addr, &allow))
      ok = a;
    else
      refused = ssrf_classify(a->ai_addr);
  }
  if (!ok) {
    bool listable = refused == SSRF_LOOPBACK || refused == SSRF_PRIVATE;
    rc = bh_fail(why, BH_DENIED, "The service address (%s) is %s", ssrf_class_name(refused),
                 listable ? "not allowed (service_allow)"
                          : "not allowed, whatever service_allow says");
    freeaddrinfo(ai);
    goto out;
  }
  char addr[NI_MAXHOST];
  getnameinfo(ok->ai_addr, ok->ai_addrlen, addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
  freeaddrinfo(ai);
  char entry[1400];
  snprintf(entry, sizeof entry, "%s:%s:%s%s%s", host, port, strchr(addr, ':') ? "[" : "", addr,
           strchr(addr, ':') ? "]" : "");
  *pin = curl_slist_append(NULL, entry);
  rc = *pin ? BH_OK : bh_fail(why, BH_NOMEM, "Out of memory");
out:
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}

/* One request to url (a POST of post_body, or a GET when it is NULL) behind the guard;
 * the answer's body in b. BH_OK only for HTTP 200. */
static enum bh_err perform(const struct bh_config *cfg, const char *url, const char *post_body,
                           struct body *b, struct bh_why *why)
{
  CURL *h = curl_easy_init();
  struct curl_slist *pin = NULL, *headers = NULL;
  enum bh_err rc = h ? callout_pin(cfg, url, &pin, why) : bh_fail(why, BH_NOMEM, "Out of memory");
  if (rc == BH_OK) {
    char err[CURL_ERROR_SIZE] = "";
    long status = 0;
    curl_easy_setopt(h, CURLOPT_RESOLVE, pin);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->service_connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->service_timeout_ms);
    if (post_body) {
      headers = curl_slist_append(NULL, "Content-Type: application/json; charset=UTF-8");
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, post_body);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "bimhub/" BH_VERSION);
    CURLcode cr = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (b->too_big)
      rc = bh_fail(why, BH_TOOBIG, "The service's answer is larger than %lld bytes",
                   (long long)cfg->service_max_response_bytes);
    else if (cr != CURLE_OK)
      rc = bh_fail(why, BH_IO, "The service did not answer: %s",
                   err[0] ? err : curl_easy_strerror(cr));
    else if (status != 200)
      rc = bh_fail(why, BH_IO, "The service answered HTTP %ld", status);
  }
  curl_slist_free_all(headers);
  curl_slist_free_all(pin);
  if (h)
    curl_easy_cleanup(h);
  return rc;
}

static bool http_url(const char *url)
{
  return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

enum bh_err callout_call(const struct bh_config *cfg, const char *base_url, const char *iface,
                         const char *method, json_t *params, json_t **result, struct bh_why *why)
{
  *result = NULL;
  if (!http_url(base_url)) {
    json_decref(params);
    return bh_fail(why, BH_BADREQUEST, "The service URL must start with http:// or https://");
  }
  json_t *env = json_pack("{s:{s:s,s:s,s:o}}", "request", "interface", iface, "method", method,
                          "parameters", params ? params : json_object());
  char *text = env ? json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(env);
  char url[2048];
  size_t bl = strlen(base_url);
  while (bl > 0 && base_url[bl - 1] == '/')
    bl--; /* the URL is the provider's base: /json goes after it */
  snprintf(url, sizeof url, "%.*s/json", (int)bl, base_url);
  struct body b = {.max = (size_t)cfg->service_max_response_bytes};
  enum bh_err rc =
      text ? perform(cfg, url, text, &b, why) : bh_fail(why, BH_NOMEM, "Out of memory");
  if (rc == BH_OK) {
    json_t *reply = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
    json_t *resp = json_object_get(reply, "response");
    json_t *exc = json_object_get(resp, "exception");
    json_t *res = json_object_get(resp, "result");
    if (!json_is_object(resp))
      rc = bh_fail(why, BH_IO, "The service's answer is not a JSON envelope");
    else if (exc)
      rc = bh_fail(why, BH_IO, "The service answered with an exception: %s",
                   json_string_value(json_object_get(exc, "message"))
                       ? json_string_value(json_object_get(exc, "message"))
                       : "(no message)");
    else if (res && !json_is_null(res) && !(json_is_object(res) && json_object_size(res) == 0))
      *result = json_incref(res);
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
  if (!http_url(url))
    return bh_fail(why, BH_BADREQUEST, "The URL must start with http:// or https://");
  struct body b = {.max = (size_t)cfg->service_max_response_bytes};
  enum bh_err rc = perform(cfg, url, NULL, &b, why);
  if (rc == BH_OK) {
    *out = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
    if (!*out)
      rc = bh_fail(why, BH_IO, "The answer of %s is not JSON", url);
  }
  free(b.p);
  return rc;
}
