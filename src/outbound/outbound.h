/* outbound.h: the one guarded HTTP client for every request bimhub makes to a URL a user
 * gave: checkinFromUrl, calls to remote services, services.json, and the connections of the
 * notification engine. A URL is parsed with libcurl's own parser (http and https only, no
 * user name or password, no zone id), its host resolved once, every address checked against
 * the address classes and service_allow (ssrf.h), and the connection pinned to the checked
 * address (CURLOPT_CONNECT_TO "::ADDR:PORT", which libcurl 7.88 takes for IPv6 addresses too,
 * where its CURLOPT_RESOLVE takes no IPv6 host) and checked again when the socket is opened.
 * No proxy is used and no redirect is followed by libcurl: outbound_request follows them
 * itself, each hop through the same guard.
 *
 * Whatever goes wrong on the way (an address refused, a name that does not resolve, a
 * refused connection, a timeout, TLS, an HTTP status that is not 2xx, a redirect too many)
 * the caller gets OUTBOUND_UNREACHABLE and nothing else; the detail goes to the server log
 * at warn. So an answer never tells a client what is listening where.
 *
 * Threads: any; outbound_request and outbound_target_new block (getaddrinfo, the transfer). */
#ifndef BH_OUTBOUND_H
#define BH_OUTBOUND_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/bh_err.h"
#include "outbound/ssrf.h"

struct bh_config;

/* The one text a client sees for every refused or unreachable target. */
#define OUTBOUND_UNREACHABLE "Cannot fetch the URL: it is not reachable or not allowed"

#define OUTBOUND_URL_MAX 2048

/* A URL as libcurl reads it. */
struct outbound_url {
  char url[OUTBOUND_URL_MAX]; /* normalized: what is sent (127.1 became 127.0.0.1) */
  char host[256];             /* without brackets */
  char origin[300];           /* scheme://host:port, for log lines (no path: it may hold a token) */
  int port;
};

/* Parses url: BH_OK, or BH_BADREQUEST with a reason in why (not http or https, user
 * information, a zone id, no host, port 0, longer than OUTBOUND_URL_MAX). Pure. */
enum bh_err outbound_parse(const char *url, struct outbound_url *out, struct bh_why *why);

/* A checked address, shared by the transfers that use it (deliver.c reuses one a while). */
struct outbound_target {
  atomic_int refs;
  struct outbound_url u;
  struct sockaddr_storage addr; /* the checked address and port */
  socklen_t addrlen;
  struct ssrf_allow allow;
  struct curl_slist *connect_to; /* "::ADDR:PORT" */
};

/* Parses url, resolves its host once and checks every address; *out (one reference) names
 * the first allowed one. BH_BADREQUEST for a URL outbound_parse refuses (its reason in why);
 * anything else that fails is BH_IO with OUTBOUND_UNREACHABLE (what, e.g. "checkinFromUrl",
 * heads the log line). */
enum bh_err outbound_target_new(const struct bh_config *cfg, const char *url, const char *what,
                                struct outbound_target **out, struct bh_why *why);
struct outbound_target *outbound_target_retain(struct outbound_target *t);
void outbound_target_release(struct outbound_target *t);

/* "::ADDR:PORT" for CURLOPT_CONNECT_TO (brackets around an IPv6 ADDR), into buf. False when
 * sa is not AF_INET or AF_INET6 or buf is too small. Pure. */
bool outbound_connect_to_entry(const struct sockaddr *sa, int port, char *buf, size_t len);

/* Sets on h what every guarded transfer has: the target's URL, the pin, the connect-time
 * check, http and https only, no redirects, no proxy, no signals, bimhub's User-Agent. t must
 * outlive the transfer. The caller adds timeouts, body, headers and callbacks. */
void outbound_setup(CURL *h, struct outbound_target *t);

/* The blocking client. */
struct outbound_req {
  const char *url;
  const char *what;         /* heads the log lines */
  const char *post_body;    /* NULL: a GET */
  const char *content_type; /* of post_body */
  int max_redirects;        /* followed, each through the guard; 0: a 3xx is a failure */
  int64_t connect_timeout_ms;
  int64_t timeout_ms; /* the whole request, redirects included */
  int64_t max_bytes;  /* of the (decoded) answer */
  bool any_encoding;  /* Accept-Encoding: whatever libcurl can undo */
  /* The body of the final 2xx answer, in pieces; false stops the transfer (BH_CLOSED). */
  bool (*on_data)(void *arg, const char *data, size_t len);
  void *arg;
};

/* GETs or POSTs r->url. BH_OK once a 2xx answer has been read whole (*status, may be NULL,
 * says which); BH_BADREQUEST for a URL outbound_parse refuses; BH_TOOBIG when the answer is
 * larger than max_bytes; BH_CLOSED when on_data said stop; otherwise BH_IO with
 * OUTBOUND_UNREACHABLE. */
enum bh_err outbound_request(const struct bh_config *cfg, const struct outbound_req *r,
                             long *status, struct bh_why *why);

#endif
