/* http.c: the HTTP edge (libmicrohttpd, epoll, internal threads) and the transport's
 * start/stop. A small route table maps a path prefix to a handler; /json feeds rpc,
 * /stream hands the upgraded socket to ws.c, /upload streams a multipart body into the
 * checkin module and /download streams a body out of it. Every answer carries the CORS
 * headers of spec §1.1. A reply that rpc wants delayed (failed login) suspends its
 * connection and a loop timer resumes it; an upload whose queue is full, or whose reply
 * is not known yet, suspends its connection until the upload module calls back. So no
 * HTTP thread ever sleeps, and no request body is ever held whole. */
#include "transport/transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "checkin/download.h"
#include "checkin/upload.h"
#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "rpc/rpc.h"
#include "transport/budget.h"
#include "transport/loop.h"
#include "transport/multipart.h"
#include "transport/sha1.h"
#include "transport/ws.h"

#define HTTP_PEER_MAX 64
#define JSON_TYPE "application/json; charset=UTF-8"
#define TEXT_TYPE "text/plain; charset=UTF-8"
#define UPLOAD_TYPE "text/json; charset=UTF-8" /* what BIMserver's UploadServlet sends */
#define UPLOAD_FIELD_MAX (64 * 1024)           /* one text field's value */
#define DOWNLOAD_BLOCK_BYTES (64 * 1024)       /* one download_read() */
#define HTTP_BUSY_RETRY_S "5"                  /* Retry-After of a 503 for the body budget */

struct http_wake;
struct http_conn;

struct transport {
  const struct bh_config *cfg;
  struct rpc *rpc;
  struct loop *loop;
  struct ws_hub *ws;
  struct MHD_Daemon *daemon;
  MHD_socket listen_fd; /* ours after MHD_quiesce_daemon(), closed after the stop */
  uint16_t port;
  /* Uploads whose connection MHD still has, so a stop can resume the suspended ones
   * (MHD_stop_daemon() aborts on a suspended connection). Lock order: wake_lock, then a
   * wake's own lock. */
  pthread_mutex_t wake_lock;
  struct http_wake *wakes;
  bool is_stopping; /* under wake_lock: no connection is suspended any more */
  /* Connections MHD has that are not upgraded, for the header timeout (http_sweep). */
  pthread_mutex_t conn_lock;
  struct http_conn *conns;
  int64_t sweep_ms;
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
  struct budget_acct budget; /* the body and the JSON made while handling it */
  bool has_reply;            /* reply is waiting for a resume */
  struct rpc_reply reply;
  bool has_answer; /* a fixed answer waits for the end of the request */
  unsigned answer_status;
  const char *answer_text;  /* static, or NULL for an empty body */
  const char *answer_allow; /* static Allow header of a 405, or NULL */
  struct http_upload *up;   /* /upload only */
  struct http_dl *dl;       /* /download: the body in flight (its response owns it) */
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

/* A fixed short body (or none), with an Allow header when allow is not NULL. */
static enum MHD_Result http_send_allow(struct MHD_Connection *c, unsigned status, const char *text,
                                       const char *allow)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      text ? strlen(text) : 0, (void *)(text ? text : ""), MHD_RESPMEM_PERSISTENT);
  if (resp && allow)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
  return http_send(c, status, resp, text ? TEXT_TYPE : NULL);
}

static enum MHD_Result http_send_static(struct MHD_Connection *c, unsigned status, const char *text)
{
  return http_send_allow(c, status, text, NULL);
}

/* Answers with a fixed text (or none). MHD closes the connection after a response queued
 * before the request was read, so a request without a body is answered at its end and
 * its connection stays usable; one with a body is answered at once and not read. */
static enum MHD_Result http_answer_allow(struct http_req *r, struct MHD_Connection *c,
                                         unsigned status, const char *text, const char *allow)
{
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  const char *te =
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
  if (te || (cl && strtoull(cl, NULL, 10) > 0))
    return http_send_allow(c, status, text, allow);
  r->has_answer = true;
  r->answer_status = status;
  r->answer_text = text;
  r->answer_allow = allow;
  return MHD_YES;
}

static enum MHD_Result http_answer(struct http_req *r, struct MHD_Connection *c, unsigned status,
                                   const char *text)
{
  return http_answer_allow(r, c, status, text, NULL);
}

static void http_reply_free_cb(void *cls)
{
  struct rpc_reply *r = cls;
  rpc_reply_free(r);
  free(r);
}

/* Sends an rpc reply as type; the response takes it over (rpc_reply_free() runs when MHD is
 * done with the bytes), so big bodies are not copied. Leaves *reply empty. */
static enum MHD_Result http_send_reply(struct MHD_Connection *c, struct rpc_reply *reply,
                                       const char *type)
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
  return http_send(c, status, resp, type);
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

/* --- header timeout ------------------------------------------------------------------ */

/* libmicrohttpd 0.9.75 has only an idle timeout, which a client sending a header byte now
 * and then never meets. So every connection has a deadline for its request headers: from
 * its start, http_header_timeout_s; after a request on a keep-alive connection,
 * http_idle_timeout_s for the next one. The access handler's first call clears it (the
 * headers are in). The loop looks at the deadlines every sweep_ms and shuts a late socket
 * down, which MHD then sees and closes. Upgraded /stream sockets leave the list. */
struct http_conn {
  struct http_conn *prev, *next; /* t->conns, under conn_lock, while is_listed */
  int fd;
  bool is_listed;
  atomic_llong deadline_ms; /* bh_mono_ms() time; 0: none */
};

static struct http_conn *http_conn_of(struct MHD_Connection *c)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

static void http_conn_set_deadline(struct MHD_Connection *c, int64_t in_s)
{
  struct http_conn *hc = http_conn_of(c);
  if (hc)
    atomic_store(&hc->deadline_ms, in_s > 0 ? bh_mono_ms() + in_s * 1000 : 0);
}

/* Lock held. */
static void http_conn_unlist(struct transport *t, struct http_conn *hc)
{
  if (!hc->is_listed)
    return;
  if (hc->prev)
    hc->prev->next = hc->next;
  else
    t->conns = hc->next;
  if (hc->next)
    hc->next->prev = hc->prev;
  hc->prev = hc->next = NULL;
  hc->is_listed = false;
}

/* MHD's connection start and end. CLOSED comes before MHD closes the socket, so the sweep
 * (under conn_lock) never shuts down a descriptor that was reused. */
static void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
  struct transport *t = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct http_conn *hc = calloc(1, sizeof *hc);
    if (!hc || !ci) {
      free(hc); /* no deadline for this one: the idle timeout still ends it */
      return;
    }
    hc->fd = ci->connect_fd;
    atomic_init(&hc->deadline_ms, bh_mono_ms() + t->cfg->http_header_timeout_s * 1000);
    pthread_mutex_lock(&t->conn_lock);
    hc->next = t->conns;
    if (t->conns)
      t->conns->prev = hc;
    t->conns = hc;
    hc->is_listed = true;
    pthread_mutex_unlock(&t->conn_lock);
    *socket_context = hc;
    return;
  }
  struct http_conn *hc = *socket_context;
  if (!hc)
    return;
  pthread_mutex_lock(&t->conn_lock);
  http_conn_unlist(t, hc);
  pthread_mutex_unlock(&t->conn_lock);
  free(hc);
  *socket_context = NULL;
}

/* An upgraded socket is the WebSocket session's now, with its own timeouts. */
static void http_conn_upgraded(struct transport *t, struct MHD_Connection *c)
{
  struct http_conn *hc = http_conn_of(c);
  if (!hc)
    return;
  pthread_mutex_lock(&t->conn_lock);
  atomic_store(&hc->deadline_ms, 0);
  http_conn_unlist(t, hc);
  pthread_mutex_unlock(&t->conn_lock);
}

/* Loop thread, every sweep_ms until the loop stops. */
static void http_sweep(void *arg)
{
  struct transport *t = arg;
  int64_t now = bh_mono_ms();
  unsigned closed = 0;
  pthread_mutex_lock(&t->conn_lock);
  for (struct http_conn *hc = t->conns; hc; hc = hc->next) {
    long long d = atomic_load(&hc->deadline_ms);
    if (d == 0 || now < d)
      continue;
    atomic_store(&hc->deadline_ms, 0);
    shutdown(hc->fd, SHUT_RDWR);
    closed++;
  }
  pthread_mutex_unlock(&t->conn_lock);
  if (closed > 0)
    BH_LOG(BH_LOG_INFO, BH_C_HTTP,
           "closed %u connection(s) without complete request headers in time", closed);
  loop_post(t->loop, (uint64_t)t->sweep_ms, http_sweep, t); /* BH_CLOSED once stopping */
}

/* --- /json --------------------------------------------------------------------------- */

static void http_resume(void *arg)
{
  MHD_resume_connection(arg);
}

/* A /json envelope that may block (a call to a remote service, a synchronous check-in) runs
 * on a worker of the loop, with the connection suspended, so the HTTP thread's other
 * connections are not held up. */
struct http_json_job {
  uv_work_t req;
  struct transport *t;
  struct http_req *r;
  struct MHD_Connection *c;
  char *token; /* the header token, copied */
};

static void http_json_job_run(uv_work_t *req)
{
  struct http_json_job *j = req->data;
  struct http_req *r = j->r;
  struct rpc_origin origin = {r->peer, j->token};
  rpc_reply_free(&r->reply);
  memset(&r->reply, 0, sizeof r->reply);
  budget_enter(&r->budget);
  rpc_handle_json(j->t->rpc, r->body ? r->body : "", r->len, &origin, true, &r->reply);
  budget_leave();
  r->reply.delay_ms = 0; /* already on a worker: no failed login to slow down further */
}

static void http_json_job_done(uv_work_t *req, int status)
{
  struct http_json_job *j = req->data;
  (void)status; /* a cancelled job leaves no reply: the resumed call answers 503 */
  MHD_resume_connection(j->c);
  free(j->token);
  free(j);
}

static void http_json_job_start(void *arg)
{
  struct http_json_job *j = arg;
  if (uv_queue_work(loop_uv(j->t->loop), &j->req, http_json_job_run, http_json_job_done) != 0)
    http_json_job_done(&j->req, -1);
}

static enum MHD_Result http_json_on_worker(struct http_req *r, struct MHD_Connection *c,
                                           const struct rpc_origin *origin)
{
  struct http_json_job *j = calloc(1, sizeof *j);
  if (j && origin->header_token && !(j->token = strdup(origin->header_token))) {
    free(j);
    j = NULL;
  }
  if (!j) {
    r->reply.needs_worker = false;
    return http_send_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server out of memory\n");
  }
  j->t = r->t;
  j->r = r;
  j->c = c;
  j->req.data = j;
  /* Suspend before posting so the resume can never come first. */
  r->has_reply = true;
  MHD_suspend_connection(c);
  if (loop_post(r->t->loop, 0, http_json_job_start, j) != BH_OK) {
    /* stopping: answer on this thread rather than never */
    http_json_job_run(&j->req);
    http_json_job_done(&j->req, 0);
  }
  return MHD_YES;
}

/* The body budget refused this request: 503 and Retry-After when others hold the budget,
 * 413 when the request alone needs more than all of it. */
static enum MHD_Result http_send_over_budget(struct MHD_Connection *c, const struct http_req *r)
{
  if (r->budget.is_too_big)
    return http_send_static(c, MHD_HTTP_CONTENT_TOO_LARGE,
                            "request needs more memory than http_body_budget_bytes allows\n");
  static const char text[] = "server busy: too many request bodies in memory, retry later\n";
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(sizeof text - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
  if (resp)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, HTTP_BUSY_RETRY_S);
  return http_send(c, MHD_HTTP_SERVICE_UNAVAILABLE, resp, TEXT_TYPE);
}

/* Stops buffering a body the budget refused: the memory and its reservation go now, the
 * rest of the body is read and dropped, and the answer comes at its end. */
static void http_json_drop_body(struct http_req *r)
{
  free(r->body);
  r->body = NULL;
  r->len = r->cap = 0;
  bool is_too_big = r->budget.is_too_big;
  budget_return(&r->budget);
  r->budget.is_refused = true;
  r->budget.is_too_big = is_too_big;
}

static enum MHD_Result http_json_body(struct http_req *r, const char *upload, size_t *upload_size)
{
  uint64_t max = (uint64_t)r->t->cfg->max_json_body_bytes;
  size_t n = *upload_size;
  *upload_size = 0;
  if (r->is_too_big || r->budget.is_refused)
    return MHD_YES; /* refused: thrown away (MHD cannot answer mid-body) */
  if (r->len + n > max) {
    r->is_too_big = true; /* only chunked bodies get here */
    return MHD_YES;
  }
  if (r->len + n + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + n + 1)
      cap *= 2;
    if (cap > max + 1)
      cap = max + 1;
    if (!budget_take(&r->budget, (int64_t)(cap - r->cap))) {
      http_json_drop_body(r);
      return MHD_YES;
    }
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
    uint64_t len = cl ? strtoull(cl, NULL, 10) : 0;
    if (len > max)
      return http_send_static(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
    /* Known not to fit in what the budget has left: the same, and the client may retry. */
    if ((int64_t)len > budget_limit() - budget_in_use()) {
      r->budget.is_refused = true;
      return http_send_over_budget(c, r);
    }
    return MHD_YES;
  }
  if (*upload_size > 0)
    return http_json_body(r, upload, upload_size);
  if (r->is_too_big)
    return http_send_static(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
  if (r->budget.is_refused && !r->has_reply)
    return http_send_over_budget(c, r);
  if (r->has_reply) {
    r->has_reply = false; /* resumed after the delay or the worker */
    if (r->budget.is_refused) {
      rpc_reply_free(&r->reply);
      http_json_drop_body(r); /* the budget is free for others before the answer goes */
      return http_send_over_budget(c, r);
    }
    return http_send_reply(c, &r->reply, JSON_TYPE);
  }

  struct rpc_origin origin = {r->peer, http_header_token(c)};
  budget_enter(&r->budget);
  rpc_handle_json(r->t->rpc, r->body ? r->body : "", r->len, &origin, false, &r->reply);
  budget_leave();
  if (r->budget.is_refused) {
    rpc_reply_free(&r->reply);
    memset(&r->reply, 0, sizeof r->reply);
    http_json_drop_body(r); /* the budget is free for others before the answer goes */
    return http_send_over_budget(c, r);
  }
  if (r->reply.needs_worker)
    return http_json_on_worker(r, c, &origin);
  if (r->reply.delay_ms == 0)
    return http_send_reply(c, &r->reply, JSON_TYPE);

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
  struct transport *t = cls;
  struct http_req *r = con_cls;
  http_conn_upgraded(t, c);
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

/* --- /upload ------------------------------------------------------------------------- */

/* What the upload module's callbacks may touch. Shared by the request (until MHD reports it
 * completed) and by each callback registered with upload_set_drain() or upload_end() (until
 * it runs, possibly long after the connection is gone); the last one frees it. */
struct http_wake {
  atomic_int refs;
  pthread_mutex_t lock;          /* guards the fields below */
  struct MHD_Connection *conn;   /* NULL once MHD reported the request completed */
  bool is_suspended;             /* by us, until a callback or the stop resumes it */
  bool is_ready;                 /* upload_end()'s ready ran: the reply can be taken */
  bool is_stopped;               /* the transport is stopping: drop the request */
  bool is_peer_gone;             /* the client closed: drop the request */
  bool is_watched;               /* a peer check is scheduled (http_peer_watch) */
  struct http_wake *prev, *next; /* the transport's list (under wake_lock) while conn */
};

/* The request's side of an upload. HTTP thread only. */
struct http_upload {
  struct upload *u; /* NULL when the body was refused before an upload began */
  struct http_wake *wake;
  struct multipart *mp; /* NULL once the body ended or was refused */
  bool has_error;
  char error[200]; /* why transport refused the body; answered at its end */
  char *part_name; /* the current part's, NULL before the first part */
  bool is_file;    /* the current part is the file */
  char *field;     /* a text part's value so far */
  size_t field_len, field_cap;
  bool has_file; /* the file part began */
  bool is_ended; /* upload_end() was called */
};

static struct http_wake *http_wake_ref(struct http_wake *w)
{
  atomic_fetch_add(&w->refs, 1);
  return w;
}

static void http_wake_unref(struct http_wake *w)
{
  if (atomic_fetch_sub(&w->refs, 1) != 1)
    return;
  pthread_mutex_destroy(&w->lock);
  free(w);
}

/* A new wake for connection c, on t's list. NULL when out of memory. */
static struct http_wake *http_wake_new(struct transport *t, struct MHD_Connection *c)
{
  struct http_wake *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  if (pthread_mutex_init(&w->lock, NULL) != 0) {
    free(w);
    return NULL;
  }
  atomic_init(&w->refs, 1);
  w->conn = c;
  pthread_mutex_lock(&t->wake_lock);
  w->next = t->wakes;
  if (t->wakes)
    t->wakes->prev = w;
  t->wakes = w;
  w->is_stopped = t->is_stopping;
  pthread_mutex_unlock(&t->wake_lock);
  return w;
}

/* MHD is done with the connection: callbacks still to come must not touch it. */
static void http_wake_detach(struct transport *t, struct http_wake *w)
{
  pthread_mutex_lock(&t->wake_lock);
  if (w->prev)
    w->prev->next = w->next;
  else
    t->wakes = w->next;
  if (w->next)
    w->next->prev = w->prev;
  w->prev = w->next = NULL;
  pthread_mutex_lock(&w->lock);
  w->conn = NULL;
  w->is_suspended = false;
  pthread_mutex_unlock(&w->lock);
  pthread_mutex_unlock(&t->wake_lock);
}

static void http_wake_resume_locked(struct http_wake *w)
{
  if (w->conn && w->is_suspended) {
    w->is_suspended = false;
    MHD_resume_connection(w->conn); /* thread-safe; MHD's thread picks it up */
  }
}

/* upload_set_drain()'s callback. Any thread. */
static void http_wake_drained(void *arg)
{
  struct http_wake *w = arg;
  pthread_mutex_lock(&w->lock);
  http_wake_resume_locked(w);
  pthread_mutex_unlock(&w->lock);
  http_wake_unref(w);
}

/* upload_end()'s callback. Any thread. */
static void http_wake_ready(void *arg)
{
  struct http_wake *w = arg;
  pthread_mutex_lock(&w->lock);
  w->is_ready = true;
  http_wake_resume_locked(w);
  pthread_mutex_unlock(&w->lock);
  http_wake_unref(w);
}

/* Suspends the connection; call it before registering the callback that resumes it, so a
 * callback that runs at once (even inside the registering call) finds something to resume.
 * False once the transport is stopping: the caller then drops the request. Under wake_lock
 * so that transport_stop() either sees this suspension or refuses it. */
static bool http_wake_suspend(struct transport *t, struct http_wake *w)
{
  pthread_mutex_lock(&t->wake_lock);
  bool is_ok = !t->is_stopping;
  if (is_ok) {
    pthread_mutex_lock(&w->lock);
    MHD_suspend_connection(w->conn);
    w->is_suspended = true;
    pthread_mutex_unlock(&w->lock);
  }
  pthread_mutex_unlock(&t->wake_lock);
  return is_ok;
}

/* libmicrohttpd 0.9.75 does not poll a suspended connection, and after a resume it may not
 * look at a socket whose client closed meanwhile; either way an upload cut off while waiting
 * for the check-in worker would hold its project until the idle timeout. So from its first
 * suspension until MHD is done with it, the loop looks at the socket every
 * HTTP_PEER_CHECK_MS: on a hang-up it shuts the socket down (which MHD then sees) and resumes
 * the connection if it is suspended, to be dropped. Loop thread. */
#define HTTP_PEER_CHECK_MS 1000
struct http_peer_watch {
  struct transport *t;
  struct http_wake *w;
};

static void http_peer_check(void *arg)
{
  struct http_peer_watch *pw = arg;
  struct http_wake *w = pw->w;
  bool again = false;
  pthread_mutex_lock(&w->lock);
  if (w->conn && !w->is_stopped && !w->is_peer_gone) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(w->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct pollfd p = {.fd = ci ? ci->connect_fd : -1, .events = POLLRDHUP};
    if (p.fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
      w->is_peer_gone = true;
      shutdown(p.fd, SHUT_RDWR);
      http_wake_resume_locked(w);
    } else {
      again = true;
    }
  }
  if (!again)
    w->is_watched = false;
  pthread_mutex_unlock(&w->lock);
  if (again && loop_post(pw->t->loop, HTTP_PEER_CHECK_MS, http_peer_check, pw) == BH_OK)
    return;
  if (again) {
    pthread_mutex_lock(&w->lock);
    w->is_watched = false;
    pthread_mutex_unlock(&w->lock);
  }
  http_wake_unref(w);
  free(pw);
}

/* Starts watching the connection of an upload that was just suspended (once per upload). */
static void http_peer_watch(struct transport *t, struct http_wake *w)
{
  pthread_mutex_lock(&w->lock);
  bool already = w->is_watched;
  w->is_watched = true;
  pthread_mutex_unlock(&w->lock);
  if (already)
    return;
  struct http_peer_watch *pw = malloc(sizeof *pw);
  if (pw)
    *pw = (struct http_peer_watch){t, http_wake_ref(w)};
  if (!pw || loop_post(t->loop, HTTP_PEER_CHECK_MS, http_peer_check, pw) != BH_OK) {
    if (pw) {
      http_wake_unref(w);
      free(pw);
    }
    pthread_mutex_lock(&w->lock);
    w->is_watched = false; /* the idle timeout still ends it */
    pthread_mutex_unlock(&w->lock);
  }
}

/* Resumes every suspended upload and refuses new suspensions: MHD_stop_daemon() must find
 * none. The handlers then see is_stopped and close their connections. */
static void http_wake_stop_all(struct transport *t)
{
  pthread_mutex_lock(&t->wake_lock);
  t->is_stopping = true;
  for (struct http_wake *w = t->wakes; w; w = w->next) {
    pthread_mutex_lock(&w->lock);
    w->is_stopped = true;
    http_wake_resume_locked(w);
    pthread_mutex_unlock(&w->lock);
  }
  pthread_mutex_unlock(&t->wake_lock);
}

enum http_wake_wait { HTTP_WAKE_GO, HTTP_WAKE_WAIT, HTTP_WAKE_DROP };

/* Whether the handler may go on, must wait for a resume, or must drop the request. */
static enum http_wake_wait http_wake_check(struct http_wake *w)
{
  pthread_mutex_lock(&w->lock);
  enum http_wake_wait rc = w->is_stopped || w->is_peer_gone ? HTTP_WAKE_DROP
                           : w->is_suspended                ? HTTP_WAKE_WAIT
                                                            : HTTP_WAKE_GO;
  pthread_mutex_unlock(&w->lock);
  return rc;
}

static bool http_wake_is_ready(struct http_wake *w)
{
  pthread_mutex_lock(&w->lock);
  bool is_ready = w->is_ready;
  pthread_mutex_unlock(&w->lock);
  return is_ready;
}

/* Waits, suspended, for upload_end()'s ready, which was registered earlier: false when it
 * has come already. A ready that runs between the look and the suspension finds nothing
 * to resume, so the look is repeated after it. */
static bool http_wake_wait_ready(struct transport *t, struct http_wake *w)
{
  if (http_wake_is_ready(w))
    return false;
  if (!http_wake_suspend(t, w))
    return false; /* stopping: the caller answers at once */
  pthread_mutex_lock(&w->lock);
  if (w->is_ready)
    http_wake_resume_locked(w);
  pthread_mutex_unlock(&w->lock);
  http_peer_watch(t, w);
  return true;
}

/* Remembers why the body is refused (the first reason wins). A part name in it keeps only
 * characters that need no JSON escaping. */
static void http_upload_refuse(struct http_upload *up, const char *why, const char *name)
{
  if (up->has_error)
    return;
  up->has_error = true;
  char safe[64] = "";
  if (name) {
    size_t i = 0;
    for (; name[i] && i < sizeof safe - 1; i++) {
      char ch = name[i];
      bool is_plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
      safe[i] = is_plain ? ch : '?';
    }
    safe[i] = '\0';
  }
  snprintf(up->error, sizeof up->error, "%s%s%s", why, name ? ": " : "", safe);
  /* a check-in the upload started, or an initiated one it names, ends with this reason */
  if (up->u && !up->is_ended)
    upload_refuse(up->u, up->error);
}

/* Stops feeding the upload: it learns that the request is dropped; the rest of the body is
 * read and thrown away, and the refusal is the answer. */
static void http_upload_abandon(struct http_upload *up)
{
  multipart_free(up->mp);
  up->mp = NULL;
  if (up->u && !up->is_ended) {
    up->is_ended = true;
    upload_end(up->u, false, http_wake_ready, http_wake_ref(up->wake));
  }
}

/* The multipart reader's callbacks. */
static bool http_upload_part_begin(void *arg, const char *name, const char *filename,
                                   const char *content_type)
{
  struct http_upload *up = arg;
  free(up->part_name);
  up->part_name = strdup(name);
  if (!up->part_name) {
    http_upload_refuse(up, "server out of memory", NULL);
    return false;
  }
  up->is_file = filename != NULL;
  up->field_len = 0;
  if (!filename)
    return true;
  /* Any part with a filename is the file, whatever its name (JS: "file", Java: "data"). */
  if (up->has_file) {
    http_upload_refuse(up, "only one file part is allowed, found another", name);
    return false;
  }
  up->has_file = true;
  upload_file_begin(up->u, filename, content_type);
  return true;
}

static bool http_upload_part_data(void *arg, const char *data, size_t size)
{
  struct http_upload *up = arg;
  if (up->is_file) {
    upload_file_data(up->u, data, size);
    return true;
  }
  if (size > UPLOAD_FIELD_MAX - up->field_len) {
    http_upload_refuse(up, "a form field is longer than 65536 bytes", up->part_name);
    return false;
  }
  if (up->field_len + size + 1 > up->field_cap) {
    size_t cap = up->field_cap ? up->field_cap : 256;
    while (cap < up->field_len + size + 1)
      cap *= 2;
    char *nf = realloc(up->field, cap);
    if (!nf) {
      http_upload_refuse(up, "server out of memory", NULL);
      return false;
    }
    up->field = nf;
    up->field_cap = cap;
  }
  memcpy(up->field + up->field_len, data, size);
  up->field_len += size;
  up->field[up->field_len] = '\0';
  return true;
}

/* A text field is complete at its part's end. */
static bool http_upload_part_end(void *arg)
{
  struct http_upload *up = arg;
  if (!up->is_file)
    upload_field(up->u, up->part_name, up->field_len ? up->field : "", up->field_len);
  up->is_file = false;
  up->field_len = 0;
  return true;
}

static const struct multipart_cbs http_upload_cbs = {http_upload_part_begin, http_upload_part_data,
                                                     http_upload_part_end};

/* At MHD's completion (also of a dropped connection): end the upload if the body did not,
 * then release it. Its callbacks may still come; they hold the wake, not the connection. */
static void http_upload_free(struct transport *t, struct http_upload *up)
{
  multipart_free(up->mp);
  if (up->wake)
    http_wake_detach(t, up->wake);
  if (up->u) {
    if (!up->is_ended)
      upload_end(up->u, false, http_wake_ready, http_wake_ref(up->wake));
    upload_release(up->u);
  }
  if (up->wake)
    http_wake_unref(up->wake);
  free(up->part_name);
  free(up->field);
  free(up);
}

/* A body transport refused: HTTP 400 with BIMserver's exception shape. */
static enum MHD_Result http_upload_send_error(struct MHD_Connection *c, const char *why)
{
  char body[320];
  int n = snprintf(body, sizeof body,
                   "{\"exception\":{\"__type\":\"UserException\",\"message\":\"%s\"}}", why);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
  return http_send(c, MHD_HTTP_BAD_REQUEST, resp, UPLOAD_TYPE);
}

static enum MHD_Result http_upload_begin(struct http_req *r, struct MHD_Connection *c,
                                         const char *method)
{
  if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
    return http_answer_allow(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "only POST is allowed here\n",
                             "POST, OPTIONS");
  struct http_upload *up = calloc(1, sizeof *up);
  if (!up)
    return MHD_NO;
  r->up = up;
  /* A refused body is still read (and thrown away) so the answer can come at its end, on a
   * connection that stays usable, and not as a reset in the middle of the client's send. */
  const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  const size_t mp_len = strlen(MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA);
  if (!type || strncasecmp(type, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA, mp_len) != 0) {
    http_upload_refuse(up, "the request body must be multipart/form-data", NULL);
    return MHD_YES;
  }
  /* Our own reader, not MHD's post processor: that one takes all after "boundary=" as the
   * boundary, and the Java client sends "boundary=X; charset=UTF-8". */
  char boundary[MULTIPART_BOUNDARY_MAX + 1];
  if (!multipart_boundary(type, boundary)) {
    http_upload_refuse(up, "multipart/form-data without a usable boundary", NULL);
    return MHD_YES;
  }
  up->mp = multipart_new(boundary, &http_upload_cbs, up);
  if (!up->mp)
    return MHD_NO; /* out of memory: MHD closes; http_completed() frees the rest */
  up->wake = http_wake_new(r->t, c);
  if (!up->wake)
    return MHD_NO; /* out of memory: MHD closes; http_completed() frees the rest */
  struct rpc_origin origin = {r->peer, http_header_token(c)};
  up->u = upload_new(r->t->rpc, &origin);
  return up->u ? MHD_YES : MHD_NO;
}

static enum MHD_Result http_upload_body(struct http_req *r, const char *data, size_t *size)
{
  struct http_upload *up = r->up;
  if (up->wake) {
    enum http_wake_wait w = http_wake_check(up->wake);
    if (w == HTTP_WAKE_DROP)
      return MHD_NO;
    /* MHD goes on calling with the rest of a chunked read while suspended: leaving the bytes
     * unprocessed keeps them in its buffer until the resume. */
    if (w == HTTP_WAKE_WAIT)
      return MHD_YES;
  }
  size_t n = *size;
  *size = 0;
  if (!up->mp)
    return MHD_YES; /* refused: thrown away */
  if (!multipart_feed(up->mp, data, n)) {
    const char *why = multipart_error(up->mp);
    http_upload_refuse(up, *why ? why : "malformed multipart/form-data body", NULL);
    http_upload_abandon(up);
    return MHD_YES;
  }
  if (!upload_is_full(up->u))
    return MHD_YES;
  if (!http_wake_suspend(r->t, up->wake))
    return MHD_NO;
  upload_set_drain(up->u, http_wake_drained, http_wake_ref(up->wake));
  http_peer_watch(r->t, up->wake);
  return MHD_YES;
}

/* The final call(s): the body is in. Ends the upload and waits for its reply. */
static enum MHD_Result http_upload_finish(struct http_req *r, struct MHD_Connection *c)
{
  struct http_upload *up = r->up;
  if (up->wake) {
    enum http_wake_wait w = http_wake_check(up->wake);
    if (w == HTTP_WAKE_DROP)
      return MHD_NO;
    if (w == HTTP_WAKE_WAIT)
      return MHD_YES; /* MHD calls again after the resume */
  }
  if (up->has_error) {
    /* A check-in the upload started ends first, so its project is free when the client
     * reads the refusal. */
    if (up->u && up->is_ended && http_wake_wait_ready(r->t, up->wake))
      return MHD_YES;
    /* a refusal before there was an upload never reaches upload.c's own warn line */
    if (!up->u)
      BH_LOG(BH_LOG_WARN, BH_C_HTTP, "upload from %s refused: \"%s\"", r->peer, up->error);
    return http_upload_send_error(c, up->error);
  }
  if (!up->is_ended) {
    bool is_whole = multipart_is_done(up->mp);
    multipart_free(up->mp);
    up->mp = NULL;
    if (!is_whole) {
      http_upload_refuse(up, "the multipart/form-data body ends early", NULL);
      http_upload_abandon(up);
      return http_wake_wait_ready(r->t, up->wake) ? MHD_YES : http_upload_send_error(c, up->error);
    }
    if (!http_wake_suspend(r->t, up->wake))
      return MHD_NO;
    up->is_ended = true;
    upload_end(up->u, true, http_wake_ready, http_wake_ref(up->wake));
    return MHD_YES;
  }
  if (!http_wake_is_ready(up->wake))
    return MHD_NO; /* cannot happen: only ready or a stop resumes, and a stop drops above */
  struct rpc_reply reply;
  upload_take_reply(up->u, &reply);
  return http_send_reply(c, &reply, UPLOAD_TYPE);
}

static enum MHD_Result http_upload(struct http_req *r, struct MHD_Connection *c, const char *method,
                                   const char *upload, size_t *upload_size, bool is_first)
{
  if (is_first)
    return http_upload_begin(r, c, method);
  if (!r->up)
    return MHD_NO; /* cannot happen: a first call without r->up answered already */
  if (*upload_size > 0)
    return http_upload_body(r, upload, upload_size);
  return http_upload_finish(r, c);
}

/* --- /download ----------------------------------------------------------------------- */

/* A download body in flight; its MHD response owns it. The connection's thread only. */
struct http_dl {
  struct download *d;
  uint64_t size;  /* MHD_SIZE_UNKNOWN when the module does not know it */
  uint64_t given; /* bytes handed to MHD */
  bool is_at_end; /* the reader handed over the last byte */
  bool is_sent;   /* MHD then reported the request completed without error */
};

static ssize_t http_dl_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  (void)pos;
  struct http_dl *dl = cls;
  ssize_t n = download_read(dl->d, buf, max);
  if (n < 0 || (size_t)n > max)
    return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD cuts the connection */
  if (n == 0) {
    /* MHD never asks past a known size, so this is a body shorter than announced: cutting
     * the connection tells the client; ending normally would leave it waiting. */
    if (dl->size != MHD_SIZE_UNKNOWN)
      return MHD_CONTENT_READER_END_WITH_ERROR;
    dl->is_at_end = true;
    return MHD_CONTENT_READER_END_OF_STREAM;
  }
  dl->given += (uint64_t)n;
  if (dl->size != MHD_SIZE_UNKNOWN && dl->given >= dl->size)
    dl->is_at_end = true;
  return n;
}

static void http_dl_free(void *cls)
{
  struct http_dl *dl = cls;
  /* MHD reports the completion (http_completed) before it frees the response, so is_sent
   * is known here: complete means the client got every byte, not just that we read them. */
  download_close(dl->d, dl->is_at_end && dl->is_sent);
  free(dl);
}

static bool http_q_is_zero(const char *q)
{
  if (*q != '0')
    return false;
  q++;
  if (*q == '.')
    for (q++; *q == '0'; q++)
      ;
  return *q == '\0' || *q == ',' || *q == ';' || *q == ' ' || *q == '\t';
}

/* Does an Accept-Encoding value list gzip without q=0? */
static bool http_accepts_gzip(const char *value)
{
  const char *p = value;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *tok = p;
    while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
      p++;
    bool is_gzip = p - tok == 4 && strncasecmp(tok, "gzip", 4) == 0;
    bool is_refused = false;
    while (*p && *p != ',') {
      if (*p++ != ';')
        continue;
      while (*p == ' ' || *p == '\t')
        p++;
      if ((*p == 'q' || *p == 'Q') && p[1] == '=')
        is_refused = http_q_is_zero(p + 2);
    }
    if (is_gzip && !is_refused)
      return true;
  }
  return false;
}

static const char *http_arg(struct MHD_Connection *c, const char *name)
{
  return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* download_open() refused: its status and line as text/plain (spec §10 row 26). */
static enum MHD_Result http_download_error(struct MHD_Connection *c, enum bh_err rc, int status,
                                           char text[256])
{
  if (status < 200 || status > 599)
    status = bh_err_http(rc);
  text[255] = '\0';
  char body[260];
  int n = snprintf(body, sizeof body, "%s\n", text[0] ? text : bh_err_text(rc));
  struct MHD_Response *resp =
      MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
  return http_send(c, (unsigned)status, resp, TEXT_TYPE);
}

static enum MHD_Result http_download(struct http_req *r, struct MHD_Connection *c,
                                     const char *method, const char *upload, size_t *upload_size,
                                     bool is_first)
{
  (void)upload;
  /* Answered at the end of the request, so a body (the JS client POSTs "null") is read and
   * ignored and the connection stays usable. */
  if (is_first)
    return MHD_YES;
  if (*upload_size > 0) {
    *upload_size = 0;
    return MHD_YES;
  }
  struct rpc_origin origin = {r->peer, http_header_token(c)};
  const char *token = http_arg(c, "token");
  const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
  struct download_request req = {
      .token = token ? token : origin.header_token,
      .topic_id = http_arg(c, "topicId"),
      .zip = http_arg(c, "zip"),
      .mime = http_arg(c, "mime"),
      .action = http_arg(c, "action"),
      .edid = http_arg(c, "edid"),
      .accept_gzip = ae && http_accepts_gzip(ae),
  };
  struct download *d = NULL;
  struct download_head head = {.status = MHD_HTTP_OK, .size = -1};
  int err_status = 0;
  char err_text[256] = "";
  enum bh_err rc = download_open(r->t->rpc, &req, &origin, &d, &head, &err_status, err_text);
  if (rc != BH_OK)
    return http_download_error(c, rc, err_status, err_text);

  struct http_dl *dl = calloc(1, sizeof *dl);
  if (!dl) {
    download_close(d, false);
    return MHD_NO;
  }
  dl->d = d;
  dl->size = head.size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)head.size;
  /* An empty body is all sent once the request completes; HEAD never sends one. */
  dl->is_at_end = dl->size == 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0;
  /* MHD_SIZE_UNKNOWN: chunked for HTTP/1.1, end by closing for HTTP/1.0. */
  struct MHD_Response *resp = MHD_create_response_from_callback(dl->size, DOWNLOAD_BLOCK_BYTES,
                                                                http_dl_read, dl, http_dl_free);
  if (!resp) {
    http_dl_free(dl);
    return MHD_NO;
  }
  head.content_type[sizeof head.content_type - 1] = '\0';
  head.content_disposition[sizeof head.content_disposition - 1] = '\0';
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          head.content_type[0] ? head.content_type : "application/octet-stream");
  if (head.content_disposition[0])
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, head.content_disposition);
  if (head.gzip)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
  http_add_cors(resp, c);
  unsigned status = head.status >= 200 && head.status <= 299 ? (unsigned)head.status : MHD_HTTP_OK;
  enum MHD_Result qrc = MHD_queue_response(c, status, resp);
  if (qrc == MHD_YES)
    r->dl = dl;               /* http_completed() tells it whether the request ended well */
  MHD_destroy_response(resp); /* frees dl now if it was not queued */
  return qrc;
}

/* --- routing ------------------------------------------------------------------------- */

static const struct http_route http_routes[] = {
    {"/json", http_json},
    {"/stream", http_stream},
    {"/upload", http_upload},
    {"/download", http_download},
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
    http_conn_set_deadline(c, 0); /* the headers are in */
    BH_LOG(BH_LOG_DEBUG, BH_C_HTTP, "%s %s %s", r->peer, method, url);
    /* Both framings at once is how requests are smuggled past a proxy that reads the other
     * one (RFC 9112 §6.3 lets a server refuse it): refuse, and the connection closes. */
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) &&
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
      return http_send_static(c, MHD_HTTP_BAD_REQUEST,
                              "Content-Length and Transfer-Encoding together\n");
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
    return http_send_allow(c, r->answer_status, r->answer_text, r->answer_allow);
  }
  if (!r->route)
    return MHD_NO; /* cannot happen: every first call answers or routes */
  return r->route->fn(r, c, method, upload, upload_size, false);
}

static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
  struct transport *t = cls;
  struct http_req *r = *con_cls;
  /* A keep-alive connection has this long for the next request's headers; an upgraded one
   * is off the list already. */
  http_conn_set_deadline(c, t->cfg->http_idle_timeout_s);
  if (!r)
    return;
  if (r->up)
    http_upload_free(t, r->up);
  if (r->dl)
    r->dl->is_sent = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK; /* MHD frees it right after */
  if (r->has_reply)
    rpc_reply_free(&r->reply); /* the client went away while its reply was held */
  free(r->body);
  budget_return(&r->budget);
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
  enum bh_err rc = BH_INTERNAL;
  if (pthread_mutex_init(&t->wake_lock, NULL) != 0)
    goto fail_lock;
  if (pthread_mutex_init(&t->conn_lock, NULL) != 0) {
    pthread_mutex_destroy(&t->wake_lock);
    goto fail_lock;
  }
  budget_init(cfg->http_body_budget_bytes);
  /* a quarter of the timeout, so a late connection goes at most 25 % after its deadline */
  t->sweep_ms = cfg->http_header_timeout_s * 250;
  if (t->sweep_ms > 1000)
    t->sweep_ms = 1000;
  rc = loop_start(&t->loop, cfg->rpc_workers);
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
  struct MHD_OptionItem opts[12];
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
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_conn_notify, t};
  if (cfg->http_per_ip_connection_limit > 0)
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                        (intptr_t)cfg->http_per_ip_connection_limit, NULL};
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
  loop_post(t->loop, (uint64_t)t->sweep_ms, http_sweep, t);
  BH_LOG(BH_LOG_INFO, BH_C_HTTP, "listening on %s port %u", host ? host : "*", (unsigned)t->port);
  *out = t;
  return BH_OK;

fail_daemon:
fail_addr:
  /* the hub's timer lives on the loop: stop it there before the hub goes */
  loop_stop(t->loop, transport_on_stop, t);
  ws_hub_free(t->ws);
  loop_free(t->loop);
  goto fail_loop;
fail_hub:
  loop_stop(t->loop, NULL, NULL);
  loop_free(t->loop);
fail_loop:
  pthread_mutex_destroy(&t->conn_lock);
  pthread_mutex_destroy(&t->wake_lock);
fail_lock:
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
   * delayed reply, and every upload waiting for the upload module is resumed to be
   * dropped: MHD_stop_daemon() must find no suspended connection. 3. MHD ends the rest;
   * upgrades or delays that race with this are answered directly (loop_post fails), and
   * uploads are not suspended again (is_stopping). Upload callbacks that come later find
   * their request detached. */
  t->listen_fd = MHD_quiesce_daemon(t->daemon);
  loop_stop(t->loop, transport_on_stop, t);
  http_wake_stop_all(t);
  MHD_stop_daemon(t->daemon);
  if (t->listen_fd != MHD_INVALID_SOCKET)
    close(t->listen_fd);
  loop_free(t->loop); /* only now: MHD threads could still call loop_post() until here */
  ws_hub_free(t->ws);
  pthread_mutex_destroy(&t->conn_lock);
  pthread_mutex_destroy(&t->wake_lock);
  free(t);
}
