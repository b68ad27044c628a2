/* http.c: the HTTP edge (libmicrohttpd, epoll, internal threads) and the transport's
 * start/stop. A small route table maps a path prefix to a handler; /json feeds rpc,
 * /stream hands the upgraded socket to ws.c. Every answer carries the CORS headers of
 * spec §1.1. A reply that rpc wants delayed (failed login) suspends its connection and
 * a loop timer resumes it, so no HTTP thread ever sleeps. */
#include "transport/transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/bh_log.h"
#include "config/config.h"
#include "rpc/rpc.h"
#include "transport/loop.h"
#include "transport/sha1.h"
#include "transport/ws.h"

#define HTTP_PEER_MAX 64
#define JSON_TYPE "application/json; charset=UTF-8"
#define TEXT_TYPE "text/plain; charset=UTF-8"

struct transport {
  const struct bh_config *cfg;
  struct rpc *rpc;
  struct loop *loop;
  struct ws_hub *ws;
  struct MHD_Daemon *daemon;
  MHD_socket listen_fd; /* ours after MHD_quiesce_daemon(), closed after the stop */
  uint16_t port;
};

struct http_req;
/* A route handler runs for every access-handler call of its request: first with
 * is_first (headers only), then once per body piece, then with *upload_size == 0. */
typedef enum MHD_Result (*http_route_fn)(struct http_req *r, struct MHD_Connection *c,
                                         const char *method, const char *upload,
                                         size_t *upload_size, bool is_first);
struct http_route {
  const char *prefix; /* matches "/x" and "/x/..." */
  http_route_fn fn;
};

/* Per-request state (MHD's con_cls), freed in http_completed(). */
struct http_req {
  struct transport *t;
  const struct http_route *route;
  char peer[HTTP_PEER_MAX];
  char *body;
  size_t len, cap;
  bool is_http11; /* upgrades need HTTP/1.1 */
  bool is_too_big;
  bool has_reply; /* reply is waiting for a resume */
  struct rpc_reply reply;
  bool has_answer; /* a fixed answer waits for the end of the request */
  unsigned answer_status;
  const char *answer_text; /* static, or NULL for an empty body */
};

/* --- responses ----------------------------------------------------------------------- */

static void http_add_cors(struct MHD_Response *resp, struct MHD_Connection *c)
{
  const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);
  MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin ? origin : "*");
  if (origin)
    MHD_add_response_header(resp, "Vary", "Origin"); /* the answer depends on it */
  MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                          "Content-Type, Input-Type, Token, Authorization");
  MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                          "Content-Length, Data-Title, Output-Type");
  MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
}

static enum MHD_Result http_send(struct MHD_Connection *c, unsigned status,
                                 struct MHD_Response *resp, const char *type)
{
  if (!resp)
    return MHD_NO; /* out of memory: MHD closes the connection */
  if (type)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  http_add_cors(resp, c);
  enum MHD_Result rc = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return rc;
}

/* A fixed short body (or none). */
static enum MHD_Result http_send_static(struct MHD_Connection *c, unsigned status, const char *text)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      text ? strlen(text) : 0, (void *)(text ? text : ""), MHD_RESPMEM_PERSISTENT);
  return http_send(c, status, resp, text ? TEXT_TYPE : NULL);
}

/* Answers with a fixed text (or none). MHD closes the connection after a response queued
 * before the request was read, so a request without a body is answered at its end and
 * its connection stays usable; one with a body is answered at once and not read. */
static enum MHD_Result http_answer(struct http_req *r, struct MHD_Connection *c, unsigned status,
                                   const char *text)
{
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  const char *te =
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
  if (te || (cl && strtoull(cl, NULL, 10) > 0))
    return http_send_static(c, status, text);
  r->has_answer = true;
  r->answer_status = status;
  r->answer_text = text;
  return MHD_YES;
}

static void http_reply_free_cb(void *cls)
{
  struct rpc_reply *r = cls;
  rpc_reply_free(r);
  free(r);
}

/* Sends an rpc reply; the response takes it over (rpc_reply_free() runs when MHD is done
 * with the bytes), so big bodies are not copied. Leaves *reply empty. */
static enum MHD_Result http_send_reply(struct MHD_Connection *c, struct rpc_reply *reply)
{
  unsigned status = (unsigned)reply->http_status;
  if (status < 100 || status > 999)
    status = MHD_HTTP_INTERNAL_SERVER_ERROR; /* MHD would refuse it and drop the client */
  struct MHD_Response *resp = NULL;
  struct rpc_reply *held = NULL;
  if (reply->body) {
    held = malloc(sizeof *held);
    if (held) {
      *held = *reply;
      resp = MHD_create_response_from_buffer_with_free_callback_cls(held->len, held->body,
                                                                    http_reply_free_cb, held);
      if (!resp)
        free(held);
    }
    if (!resp)
      rpc_reply_free(reply);
  } else {
    rpc_reply_free(reply);
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  }
  memset(reply, 0, sizeof *reply);
  return http_send(c, status, resp, JSON_TYPE);
}

/* --- request helpers ----------------------------------------------------------------- */

static void http_peer(struct MHD_Connection *c, char out[HTTP_PEER_MAX])
{
  snprintf(out, HTTP_PEER_MAX, "?");
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr)
    return;
  const struct sockaddr *sa = ci->client_addr;
  char host[HTTP_PEER_MAX];
  /* inet_ntop, not getnameinfo: this runs for every request and needs no scope id */
  const void *addr = sa->sa_family == AF_INET6
                         ? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
                         : (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
  if (!inet_ntop(sa->sa_family, addr, host, sizeof host))
    return;
  /* A v4 client on a dual-stack socket reads better (and matches v4 peers) without the
   * mapping prefix. */
  const char *h = strncmp(host, "::ffff:", 7) == 0 && strchr(host + 7, '.') ? host + 7 : host;
  snprintf(out, HTTP_PEER_MAX, "%s", h);
}

/* Token from "Authorization: Bearer T", else from the "Token" header, else NULL. */
static const char *http_header_token(struct MHD_Connection *c)
{
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
    auth += 7;
    while (*auth == ' ' || *auth == '\t')
      auth++;
    if (*auth)
      return auth;
  }
  const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Token");
  return tok && *tok ? tok : NULL;
}

/* Does a comma-separated header value contain token (case-insensitive)? */
static bool http_has_token(const char *value, const char *token)
{
  size_t tlen = strlen(token);
  const char *p = value;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *end = p;
    while (*end && *end != ',')
      end++;
    const char *last = end;
    while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
      last--;
    if ((size_t)(last - p) == tlen && strncasecmp(p, token, tlen) == 0)
      return true;
    p = end;
  }
  return false;
}

/* --- /json --------------------------------------------------------------------------- */

static void http_resume(void *arg)
{
  MHD_resume_connection(arg);
}

static enum MHD_Result http_json(struct http_req *r, struct MHD_Connection *c, const char *method,
                                 const char *upload, size_t *upload_size, bool is_first)
{
  const struct bh_config *cfg = r->t->cfg;
  uint64_t max = (uint64_t)cfg->max_json_body_bytes;
  if (is_first) {
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
      return http_answer(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL); /* as BIMserver */
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    /* Known too big: answer before reading; MHD then closes instead of reading on. */
    if (cl && strtoull(cl, NULL, 10) > max)
      return http_send_static(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
    return MHD_YES;
  }
  if (*upload_size > 0) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (r->is_too_big || r->len + n > max) {
      /* Only chunked bodies get here (MHD cannot answer mid-body): drop the rest. */
      r->is_too_big = true;
      return MHD_YES;
    }
    if (r->len + n + 1 > r->cap) {
      size_t cap = r->cap ? r->cap : 4096;
      while (cap < r->len + n + 1)
        cap *= 2;
      char *nb = realloc(r->body, cap);
      if (!nb)
        return MHD_NO;
      r->body = nb;
      r->cap = cap;
    }
    memcpy(r->body + r->len, upload, n);
    r->len += n;
    r->body[r->len] = '\0';
    return MHD_YES;
  }
  if (r->is_too_big)
    return http_send_static(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
  if (r->has_reply) {
    r->has_reply = false; /* resumed after the delay */
    return http_send_reply(c, &r->reply);
  }

  struct rpc_origin origin = {r->peer, http_header_token(c)};
  rpc_handle_json(r->t->rpc, r->body ? r->body : "", r->len, &origin, &r->reply);
  if (r->reply.delay_ms == 0)
    return http_send_reply(c, &r->reply);

  /* Suspend before posting so the resume can never come first. */
  r->has_reply = true;
  MHD_suspend_connection(c);
  if (loop_post(r->t->loop, r->reply.delay_ms, http_resume, c) != BH_OK)
    MHD_resume_connection(c); /* stopping: answer now rather than never */
  return MHD_YES;
}

/* --- /stream ------------------------------------------------------------------------- */

static void http_upgraded(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                          size_t extra_in_size, MHD_socket sock,
                          struct MHD_UpgradeResponseHandle *urh)
{
  (void)c;
  struct transport *t = cls;
  struct http_req *r = con_cls;
  ws_hub_adopt(t->ws, sock, urh, extra_in, extra_in_size, r ? r->peer : "?");
}

static bool http_ws_key_ok(const char *key)
{
  /* base64 of 16 random bytes (RFC 6455 §4.1): 22 characters and "==". */
  if (!key || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
    return false;
  for (int i = 0; i < 22; i++) {
    char ch = key[i];
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
          ch == '+' || ch == '/'))
      return false;
  }
  return true;
}

static enum MHD_Result http_stream(struct http_req *r, struct MHD_Connection *c, const char *method,
                                   const char *upload, size_t *upload_size, bool is_first)
{
  (void)upload;
  (void)upload_size;
  if (!is_first)
    return MHD_NO; /* every first call queues a response or defers an answer */
  const char *upgrade = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
  const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
  const char *ver =
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_SEC_WEBSOCKET_VERSION);
  const char *key =
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_SEC_WEBSOCKET_KEY);

  if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 || !upgrade || !http_has_token(upgrade, "websocket"))
    return http_answer(r, c, MHD_HTTP_BAD_REQUEST, "WebSocket upgrade expected\n");
  if (!ver || strcmp(ver, "13") != 0) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen("unsupported WebSocket version\n"), (void *)"unsupported WebSocket version\n",
        MHD_RESPMEM_PERSISTENT);
    if (resp)
      MHD_add_response_header(resp, MHD_HTTP_HEADER_SEC_WEBSOCKET_VERSION, "13");
    return http_send(c, MHD_HTTP_UPGRADE_REQUIRED, resp, TEXT_TYPE);
  }
  if (!r->is_http11 || !conn || !http_has_token(conn, "upgrade") || !http_ws_key_ok(key))
    return http_answer(r, c, MHD_HTTP_BAD_REQUEST, "bad WebSocket handshake\n");

  char accept[SHA1_WS_ACCEPT_LEN + 1];
  sha1_ws_accept(key, strlen(key), accept);
  struct MHD_Response *resp = MHD_create_response_for_upgrade(http_upgraded, r->t);
  if (!resp)
    return MHD_NO;
  /* MHD adds "Connection: Upgrade" itself to a 101; adding it too doubles the value, which
   * strict clients (the websocket package) refuse. */
  MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_SEC_WEBSOCKET_ACCEPT, accept);
  enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
  MHD_destroy_response(resp);
  return rc;
}

/* --- routing ------------------------------------------------------------------------- */

/* /upload and /download slot in here. */
static const struct http_route http_routes[] = {
    {"/json", http_json},
    {"/stream", http_stream},
};

static const struct http_route *http_route_find(const char *url)
{
  for (size_t i = 0; i < sizeof http_routes / sizeof http_routes[0]; i++) {
    size_t n = strlen(http_routes[i].prefix);
    if (strncmp(url, http_routes[i].prefix, n) == 0 && (url[n] == '\0' || url[n] == '/'))
      return &http_routes[i];
  }
  return NULL;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_size, void **con_cls)
{
  struct transport *t = cls;
  struct http_req *r = *con_cls;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r)
      return MHD_NO;
    r->t = t;
    r->is_http11 = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
    http_peer(c, r->peer);
    *con_cls = r;
    BH_LOG(BH_LOG_DEBUG, BH_C_HTTP, "%s %s %s", r->peer, method, url);
    if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) /* CORS preflight, any path */
      return http_answer(r, c, MHD_HTTP_OK, NULL);
    r->route = http_route_find(url);
    if (!r->route)
      return http_answer(r, c, MHD_HTTP_NOT_FOUND, "not found\n");
    return r->route->fn(r, c, method, upload, upload_size, true);
  }
  if (r->has_answer) {
    if (*upload_size > 0) {
      *upload_size = 0; /* MHD says "no body", but be safe: drop it */
      return MHD_YES;
    }
    r->has_answer = false;
    return http_send_static(c, r->answer_status, r->answer_text);
  }
  if (!r->route)
    return MHD_NO; /* cannot happen: every first call answers or routes */
  return r->route->fn(r, c, method, upload, upload_size, false);
}

static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)c;
  (void)toe;
  struct http_req *r = *con_cls;
  if (!r)
    return;
  if (r->has_reply)
    rpc_reply_free(&r->reply); /* the client went away while its reply was held */
  free(r->body);
  free(r);
  *con_cls = NULL;
}

/* MHD's format strings come from the library: the attribute lets the compilers check calls. */
__attribute__((format(printf, 2, 0))) static void http_log(void *cls, const char *fmt, va_list ap)
{
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && msg[n - 1] == '\n')
    msg[--n] = '\0';
  BH_LOG(BH_LOG_WARN, BH_C_HTTP, "microhttpd: %s", msg);
}

/* --- start / stop -------------------------------------------------------------------- */

/* Ten thousand /stream clients need ten thousand descriptors; the soft limit is often
 * 1024. Raising it to the hard limit needs no privilege. */
static void http_raise_nofile(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
    return;
  rlim_t old = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    BH_LOG(BH_LOG_WARN, BH_C_HTTP, "cannot raise the open file limit above %llu",
           (unsigned long long)old);
}

static void transport_on_stop(void *arg)
{
  struct transport *t = arg;
  ws_hub_stop(t->ws);
}

enum bh_err transport_start(struct transport **out, const struct bh_config *cfg, struct rpc *rpc)
{
  *out = NULL;
  http_raise_nofile();
  struct transport *t = calloc(1, sizeof *t);
  if (!t)
    return BH_NOMEM;
  t->cfg = cfg;
  t->rpc = rpc;
  t->listen_fd = MHD_INVALID_SOCKET;
  enum bh_err rc = loop_start(&t->loop, cfg->rpc_workers);
  if (rc != BH_OK)
    goto fail_loop;
  rc = ws_hub_new(&t->ws, t->loop, cfg, rpc);
  if (rc != BH_OK)
    goto fail_hub;

  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)cfg->port);
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  const char *host = cfg->host && *cfg->host ? cfg->host : NULL;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0) {
    BH_LOG(BH_LOG_ERROR, BH_C_HTTP, "cannot resolve %s: %s", host ? host : "*", gai_strerror(gai));
    rc = BH_IO;
    goto fail_addr;
  }

  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_UPGRADE | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_TURBO | MHD_USE_ERROR_LOG;
  if (ai->ai_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  struct MHD_OptionItem opts[8];
  size_t n = 0;
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                      (intptr_t)cfg->http_connection_limit, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                      (intptr_t)cfg->http_idle_timeout_s, NULL};
  /* MHD keeps this pool for an upgraded /stream socket too: it sets the idle cost. */
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                      (intptr_t)cfg->http_connection_memory_bytes, NULL};
  /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: its 1 means SO_REUSEPORT, which would let a
   * second server share our port; MHD's default SO_REUSEADDR is what restarts need. */
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, t};
  if (cfg->http_threads > 1)
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->http_threads, NULL};
  opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  /* The logger must come first, or MHD logs the other options' problems to stderr. */
  t->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, http_access, t,
                               MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL, MHD_OPTION_ARRAY, opts,
                               MHD_OPTION_END);
  freeaddrinfo(ai);
  if (!t->daemon) {
    BH_LOG(BH_LOG_ERROR, BH_C_HTTP, "cannot listen on %s:%lld", host ? host : "*",
           (long long)cfg->port);
    rc = BH_IO;
    goto fail_daemon;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(t->daemon, MHD_DAEMON_INFO_BIND_PORT);
  t->port = di ? di->port : (uint16_t)cfg->port;
  BH_LOG(BH_LOG_INFO, BH_C_HTTP, "listening on %s port %u", host ? host : "*", (unsigned)t->port);
  *out = t;
  return BH_OK;

fail_daemon:
fail_addr:
  ws_hub_free(t->ws);
fail_hub:
  loop_stop(t->loop, NULL, NULL);
  loop_free(t->loop);
fail_loop:
  free(t);
  return rc;
}

uint16_t transport_port(const struct transport *t)
{
  return t->port;
}

void transport_stop(struct transport *t)
{
  if (!t)
    return;
  /* 1. No new connections. 2. The loop closes every session (1001) and resumes every
   * delayed reply: MHD_stop_daemon() must find no suspended connection. 3. MHD ends the
   * rest; upgrades or delays that race with this are answered directly (loop_post fails). */
  t->listen_fd = MHD_quiesce_daemon(t->daemon);
  loop_stop(t->loop, transport_on_stop, t);
  MHD_stop_daemon(t->daemon);
  if (t->listen_fd != MHD_INVALID_SOCKET)
    close(t->listen_fd);
  loop_free(t->loop); /* only now: MHD threads could still call loop_post() until here */
  ws_hub_free(t->ws);
  free(t);
}
