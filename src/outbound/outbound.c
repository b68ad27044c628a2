/* outbound.c: the guarded client (see outbound.h). The URL is parsed once by libcurl's URL
 * parser and the normalized form is what is sent, so the host that was checked is the host
 * libcurl talks to; the wildcard CONNECT_TO entry sends every connection of the transfer to
 * the checked address whatever name libcurl thinks it has, and the open-socket callback
 * refuses any other address. */
#include "outbound/outbound.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"

#define DISCARD_MAX 65536 /* bytes of a redirect's or an error's body read before giving up */

static enum bh_err unreachable(struct bh_why *why)
{
  return bh_fail(why, BH_IO, OUTBOUND_UNREACHABLE);
}

static bool is_http(const char *scheme)
{
  return scheme && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
}

enum bh_err outbound_parse(const char *url, struct outbound_url *out, struct bh_why *why)
{
  memset(out, 0, sizeof *out);
  if (!url || strlen(url) >= OUTBOUND_URL_MAX)
    return bh_fail(why, BH_BADREQUEST, "The URL is missing or too long");
  CURLU *u = curl_url();
  if (!u)
    return bh_fail(why, BH_NOMEM, "Out of memory");
  char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL, *zone = NULL,
       *full = NULL;
  enum bh_err rc = BH_BADREQUEST;
  const char *reason = "The URL is not valid";
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
    goto out;
  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  curl_url_get(u, CURLUPART_HOST, &host, 0);
  curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
  curl_url_get(u, CURLUPART_ZONEID, &zone, 0);
  curl_url_get(u, CURLUPART_URL, &full, 0);
  /* "http://127.0.0.1:80@host/" names host: a user part is refused, not read around */
  bool userinfo = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
                  curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK;
  long portnum = port ? strtol(port, NULL, 10) : 0;
  if (!is_http(scheme))
    reason = "Only http and https URLs can be fetched";
  else if (userinfo)
    reason = "A URL with a user name or password cannot be fetched";
  else if (zone)
    reason = "A URL with an IPv6 zone id cannot be fetched";
  else if (!host || !*host || portnum <= 0 || portnum > 65535 || !full)
    reason = "The URL has no host or no valid port";
  else if (strlen(full) >= sizeof out->url || strlen(host) >= sizeof out->host)
    reason = "The URL is too long";
  else
    rc = BH_OK;
  if (rc == BH_OK) {
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
      snprintf(out->host, sizeof out->host, "%.*s", (int)(hl - 2), host + 1);
    else
      snprintf(out->host, sizeof out->host, "%s", host);
    snprintf(out->url, sizeof out->url, "%s", full);
    snprintf(out->origin, sizeof out->origin, "%s://%s:%ld", scheme, host, portnum);
    out->port = (int)portnum;
  }
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(user);
  curl_free(pass);
  curl_free(zone);
  curl_free(full);
  curl_url_cleanup(u);
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "%s", reason);
}

bool outbound_connect_to_entry(const struct sockaddr *sa, int port, char *buf, size_t len)
{
  char addr[INET6_ADDRSTRLEN];
  int n = -1;
  if (sa && sa->sa_family == AF_INET) {
    struct sockaddr_in in;
    memcpy(&in, sa, sizeof in);
    if (inet_ntop(AF_INET, &in.sin_addr, addr, sizeof addr))
      n = snprintf(buf, len, "::%s:%d", addr, port);
  } else if (sa && sa->sa_family == AF_INET6) {
    struct sockaddr_in6 in6;
    memcpy(&in6, sa, sizeof in6);
    if (inet_ntop(AF_INET6, &in6.sin6_addr, addr, sizeof addr))
      n = snprintf(buf, len, "::[%s]:%d", addr, port);
  }
  return n > 0 && (size_t)n < len;
}

static void address_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
  if (getnameinfo(sa, len, buf, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
    snprintf(buf, size, "?");
}

enum bh_err outbound_target_new(const struct bh_config *cfg, const char *url, const char *what,
                                struct outbound_target **out, struct bh_why *why)
{
  *out = NULL;
  struct outbound_target *t = calloc(1, sizeof *t);
  if (!t)
    return bh_fail(why, BH_NOMEM, "Out of memory");
  atomic_init(&t->refs, 1);
  enum bh_err rc = outbound_parse(url, &t->u, why);
  if (rc != BH_OK) {
    free(t);
    return rc;
  }
  if (!ssrf_allow_parse(cfg->service_allow ? cfg->service_allow : "", &t->allow)) {
    BH_LOG(BH_LOG_ERROR, BH_C_APP, "outbound (%s): service_allow is not a list of CIDRs", what);
    free(t);
    return unreachable(why);
  }
  char port[8];
  snprintf(port, sizeof port, "%d", t->u.port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  int gai = getaddrinfo(t->u.host, port, &hints, &ai);
  if (gai != 0 || !ai) {
    BH_LOG(BH_LOG_WARN, BH_C_APP, "outbound (%s): %s: cannot resolve the host: %s", what,
           t->u.origin, gai_strerror(gai));
    if (ai)
      freeaddrinfo(ai);
    free(t);
    return unreachable(why);
  }
  const struct addrinfo *ok = NULL;
  for (const struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
    if (a->ai_addrlen <= sizeof t->addr && ssrf_allowed(a->ai_addr, &t->allow)) {
      ok = a;
    } else {
      char text[NI_MAXHOST];
      address_text(a->ai_addr, a->ai_addrlen, text, sizeof text);
      enum ssrf_class c = ssrf_classify(a->ai_addr);
      BH_LOG(BH_LOG_WARN, BH_C_APP, "outbound (%s): %s: address %s (%s) refused%s", what,
             t->u.origin, text, ssrf_class_name(c),
             c == SSRF_LOOPBACK || c == SSRF_PRIVATE ? ": not in service_allow"
                                                     : ", whatever service_allow says");
    }
  }
  char entry[INET6_ADDRSTRLEN + 16];
  if (ok) {
    memcpy(&t->addr, ok->ai_addr, ok->ai_addrlen);
    t->addrlen = ok->ai_addrlen;
  }
  freeaddrinfo(ai);
  if (!ok) {
    free(t);
    return unreachable(why);
  }
  if (!outbound_connect_to_entry((const struct sockaddr *)&t->addr, t->u.port, entry,
                                 sizeof entry) ||
      !(t->connect_to = curl_slist_append(NULL, entry))) {
    free(t);
    return bh_fail(why, BH_NOMEM, "Out of memory");
  }
  *out = t;
  return BH_OK;
}

struct outbound_target *outbound_target_retain(struct outbound_target *t)
{
  if (t)
    atomic_fetch_add(&t->refs, 1);
  return t;
}

void outbound_target_release(struct outbound_target *t)
{
  if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
    curl_slist_free_all(t->connect_to);
    free(t);
  }
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
  if (a->ss_family != b->ss_family)
    return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a,
                              *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return false;
}

/* The last word before a connection: only the checked address, and only if still allowed. */
static curl_socket_t open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
  const struct outbound_target *t = arg;
  struct sockaddr_storage ss = {0};
  if (purpose == CURLSOCKTYPE_IPCXN && a->addrlen <= sizeof ss) {
    memcpy(&ss, &a->addr, a->addrlen);
    if (same_address(&ss, &t->addr) && ssrf_allowed((const struct sockaddr *)&ss, &t->allow))
      return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  }
  char text[NI_MAXHOST] = "?";
  if (a->addrlen <= sizeof ss)
    address_text((const struct sockaddr *)&ss, a->addrlen, text, sizeof text);
  BH_LOG(BH_LOG_WARN, BH_C_APP, "outbound: %s: a connection to %s refused at connect time",
         t->u.origin, text);
  return CURL_SOCKET_BAD;
}

void outbound_setup(CURL *h, struct outbound_target *t)
{
  curl_easy_setopt(h, CURLOPT_URL, t->u.url);
  curl_easy_setopt(h, CURLOPT_CONNECT_TO, t->connect_to);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_checked);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, ""); /* a proxy would resolve the name itself */
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "bimhub/" BH_VERSION);
}

/* One hop's transfer. */
struct xfer {
  const struct outbound_req *r;
  CURL *h;
  bool decided, pass; /* whether the body is the answer's (a 2xx) */
  int64_t got;
  bool too_big, stopped;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
  struct xfer *x = arg;
  size_t len = size * n;
  if (!x->decided) {
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    x->pass = status >= 200 && status < 300;
    x->decided = true;
  }
  x->got += (int64_t)len;
  if (!x->pass) /* a redirect's or an error's body: read a little, never shown */
    return x->got > DISCARD_MAX ? 0 : len;
  if (x->r->max_bytes > 0 && x->got > x->r->max_bytes) {
    x->too_big = true;
    return 0;
  }
  if (x->r->on_data && !x->r->on_data(x->r->arg, data, len)) {
    x->stopped = true;
    return 0;
  }
  return len;
}

enum bh_err outbound_request(const struct bh_config *cfg, const struct outbound_req *r,
                             long *status_out, struct bh_why *why)
{
  const char *what = r->what ? r->what : "request";
  int64_t deadline = bh_mono_ms() + r->timeout_ms;
  char url[OUTBOUND_URL_MAX];
  snprintf(url, sizeof url, "%s", r->url ? r->url : "");
  struct curl_slist *headers = NULL;
  if (r->post_body) {
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             r->content_type ? r->content_type : "application/octet-stream");
    headers = curl_slist_append(headers, ct);
    headers = curl_slist_append(headers, "Expect:");
  }
  enum bh_err rc = BH_IO;
  for (int hop = 0;; hop++) {
    struct outbound_target *t = NULL;
    rc = outbound_target_new(cfg, url, what, &t, why);
    if (rc == BH_BADREQUEST && hop > 0) { /* a redirect to a URL we do not fetch */
      BH_LOG(BH_LOG_WARN, BH_C_APP, "outbound (%s): redirected to a refused URL: %s", what,
             why ? why->text : "");
      rc = unreachable(why);
    }
    if (rc != BH_OK)
      break;
    int64_t left = deadline - bh_mono_ms();
    CURL *h = left > 0 ? curl_easy_init() : NULL;
    if (!h) {
      BH_LOG(BH_LOG_WARN, BH_C_APP, "outbound (%s): %s: %s", what, t->u.origin,
             left > 0 ? "out of memory" : "out of time after redirects");
      outbound_target_release(t);
      rc = unreachable(why);
      break;
    }
    struct xfer x = {.r = r, .h = h};
    char err[CURL_ERROR_SIZE] = "";
    outbound_setup(h, t);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(r->connect_timeout_ms < left ? r->connect_timeout_ms : left));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
    if (r->max_bytes > 0)
      curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_bytes);
    if (r->any_encoding)
      curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (r->post_body) {
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->post_body);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    CURLcode cr = curl_easy_perform(h);
    long status = 0;
    char *next = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next);
    if (status_out)
      *status_out = status;
    bool redirect = status >= 300 && status < 400 && next && !x.stopped;
    if (redirect && hop < r->max_redirects && strlen(next) < sizeof url) {
      BH_LOG(BH_LOG_DEBUG, BH_C_APP, "outbound (%s): %s: HTTP %ld, redirected", what, t->u.origin,
             status);
      snprintf(url, sizeof url, "%s", next);
      curl_easy_cleanup(h);
      outbound_target_release(t);
      continue;
    }
    if (x.stopped) {
      rc = BH_CLOSED;
    } else if (status >= 200 && status < 300 && (x.too_big || cr == CURLE_FILESIZE_EXCEEDED)) {
      rc = bh_fail(why, BH_TOOBIG, "The answer is larger than %lld bytes", (long long)r->max_bytes);
    } else if (cr != CURLE_OK || status < 200 || status >= 300) {
      char detail[CURL_ERROR_SIZE + 64];
      if (redirect)
        snprintf(detail, sizeof detail, "HTTP %ld: a redirect %s", status,
                 r->max_redirects ? "too many" : "not followed");
      else if (cr != CURLE_OK)
        snprintf(detail, sizeof detail, "%s", err[0] ? err : curl_easy_strerror(cr));
      else
        snprintf(detail, sizeof detail, "HTTP %ld", status);
      BH_LOG(BH_LOG_WARN, BH_C_APP, "outbound (%s): %s: %s", what, t->u.origin, detail);
      rc = unreachable(why);
    } else {
      rc = BH_OK;
    }
    curl_easy_cleanup(h);
    outbound_target_release(t);
    break;
  }
  curl_slist_free_all(headers);
  return rc;
}
