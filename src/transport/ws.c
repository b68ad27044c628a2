/* ws.c: /stream sessions. Each upgraded socket becomes a ws_session on the loop thread:
 * a uv_poll on the fd MHD lent us, a wslay event context for framing (ping/pong, close
 * handshake, fragment reassembly, size limit), and a small pipeline
 *
 *   text message -> inbox (bounded) -> stream_handle() on a worker -> [delay timer] -> send
 *
 * so that one session never has two messages in stream_handle() at once and replies keep
 * the order of the requests. The session memory lives until its three handles are closed
 * and no work item refers to it; only then stream_closed() runs and the memory goes.
 * Transport translates, decides nothing: what to answer is stream.h's business. */
#include "transport/ws.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "notify/push.h"
#include "rpc/stream.h"
#include "transport/budget.h"
#include "transport/loop.h"
#include "transport/utf8.h"

/* How long we wait for the peer's close frame after sending ours. */
#define WS_CLOSE_WAIT_MS 5000
/* What wslay keeps per received frame besides its payload, about. */
#define WS_FRAME_COST 64
/* "Try Again Later" (IANA WebSocket close code registry): the body budget is full. */
#define WS_CLOSE_BUSY 1013
#define WS_PEER_MAX 64

/* Sessions by connection id, for pushes (loop thread only). Ids only grow; chains are short
 * with this many buckets for tens of thousands of sessions. */
#define WS_BUCKETS (1u << 16)

struct ws_hub {
  struct loop *loop;
  const struct bh_config *cfg;
  struct rpc *rpc;
  struct ws_session *head; /* every session not yet freed; loop thread only */
  size_t count;
  bool is_stopping;
  uint64_t next_conn;
  struct ws_session **by_conn; /* WS_BUCKETS chains through ws_session.conn_next */
  uv_timer_t tick;             /* pings and idle timeouts */
  bool has_tick;
};

/* One text message waiting for its turn in stream_handle(). */
struct ws_msg {
  struct ws_msg *next;
  int64_t cost; /* counted in the session's budget account until freed */
  size_t len;
  char text[];
};

struct ws_job {
  uv_work_t req;
  struct ws_session *s;
  struct ws_msg *msg;
  struct stream_result res;
  struct budget_acct budget; /* the JSON made while handling msg */
};

struct ws_session {
  struct ws_hub *hub;
  struct ws_session *prev, *next;
  int fd; /* owned by MHD; we only recv/send on it */
  struct MHD_UpgradeResponseHandle *urh;
  char peer[WS_PEER_MAX];
  char *extra; /* bytes MHD read past the handshake, fed first */
  size_t extra_len, extra_off;
  wslay_event_context_ptr ctx;
  uv_poll_t poll;
  uv_timer_t delay;                 /* holds a delayed stream_result */
  uv_timer_t close_wait;            /* gives the peer time to answer our close */
  int poll_events;                  /* what poll is started with, -1: not started */
  int close_after_flush;            /* > 0: send this close code once the queue is empty */
  int open_handles;                 /* handles not yet through their close callback */
  bool is_dead;                     /* handles closing: no more I/O */
  bool is_close_waiting;            /* close_wait armed */
  bool is_draining;                 /* close sent, wslay stopped reading: drop input */
  bool is_busy;                     /* a message is in a worker or the delay timer */
  bool has_job;                     /* a uv_work_t refers to this session */
  bool is_close_queued;             /* our close frame waits in wslay's queue */
  bool is_peer_gone;                /* recv saw the end of the stream or an error */
  int64_t msg_frames;               /* frames of the data message being received */
  int64_t msg_cost;                 /* what it has counted in budget so far */
  struct budget_acct budget;        /* the message being received and the inbox */
  struct ws_msg *in_head, *in_tail; /* inbox, bounded by ws_queue_max_* */
  size_t in_count, in_bytes;
  struct ws_session *conn_next; /* chain of hub->by_conn */
  int64_t last_recv_ms;         /* anything from the peer: idle timeout */
  int64_t last_ping_ms;
  struct stream_result delayed; /* waiting for the delay timer */
  struct stream_state state;    /* touched by the worker only while has_job */
};

/* What MHD's thread hands to the loop thread. */
struct ws_adopt {
  struct ws_hub *hub;
  int fd;
  struct MHD_UpgradeResponseHandle *urh;
  char peer[WS_PEER_MAX];
  size_t extra_len;
  char extra[];
};

static void session_kill(struct ws_session *s);
static void session_update(struct ws_session *s);
static void session_polled(uv_poll_t *p, int status, int events);
static void session_next(struct ws_session *s);

/* --- teardown ------------------------------------------------------------------------ */

static void msg_free(struct ws_session *s, struct ws_msg *m)
{
  budget_release(&s->budget, m->cost);
  free(m);
}

static void inbox_clear(struct ws_session *s)
{
  while (s->in_head) {
    struct ws_msg *m = s->in_head;
    s->in_head = m->next;
    msg_free(s, m);
  }
  s->in_tail = NULL;
  s->in_count = 0;
  s->in_bytes = 0;
}

static void session_free_if_done(struct ws_session *s)
{
  if (!s->is_dead || s->open_handles > 0 || s->has_job)
    return;
  struct ws_hub *h = s->hub;
  stream_closed(h->rpc, &s->state);
  struct ws_session **pp = &h->by_conn[s->state.conn % WS_BUCKETS];
  while (*pp && *pp != s)
    pp = &(*pp)->conn_next;
  if (*pp)
    *pp = s->conn_next;
  if (s->prev)
    s->prev->next = s->next;
  else
    h->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  h->count--;
  inbox_clear(s);
  stream_result_free(&s->delayed);
  wslay_event_context_free(s->ctx);
  budget_return(&s->budget);
  free(s->extra);
  free(s);
}

static void session_handle_closed(uv_handle_t *handle)
{
  struct ws_session *s = handle->data;
  if (handle == (uv_handle_t *)&s->poll) {
    /* libuv no longer watches the fd: give the socket back to MHD, which closes it. */
    MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
    s->urh = NULL;
  }
  s->open_handles--;
  session_free_if_done(s);
}

/* Ends the session now: no more I/O. Safe inside wslay and libuv callbacks of s, because
 * the memory goes only in the close callbacks, on a later loop turn. */
static void session_kill(struct ws_session *s)
{
  if (s->is_dead)
    return;
  s->is_dead = true;
  BH_LOG(BH_LOG_DEBUG, BH_C_WS, "session %s ends (sent %u, received %u)", s->peer,
         (unsigned)wslay_event_get_status_code_sent(s->ctx),
         (unsigned)wslay_event_get_status_code_received(s->ctx));
  uv_close((uv_handle_t *)&s->poll, session_handle_closed);
  uv_close((uv_handle_t *)&s->delay, session_handle_closed);
  uv_close((uv_handle_t *)&s->close_wait, session_handle_closed);
}

static void session_close_waited(uv_timer_t *t)
{
  struct ws_session *s = t->data;
  BH_LOG(BH_LOG_DEBUG, BH_C_WS, "session %s: no close frame from peer", s->peer);
  session_kill(s);
}

static bool session_is_closing(const struct ws_session *s)
{
  return s->is_dead || s->is_close_queued || s->close_after_flush > 0 ||
         wslay_event_get_close_sent(s->ctx) || wslay_event_get_close_received(s->ctx) ||
         !wslay_event_get_write_enabled(s->ctx);
}

/* reason: NULL or a short text (at most 123 bytes go out). */
static void session_close_why(struct ws_session *s, int code, const char *reason)
{
  assert(loop_is_current(s->hub->loop));
  if (session_is_closing(s))
    return;
  /* Messages not yet handled are dropped: the peer will not get their answers anyway. */
  inbox_clear(s);
  size_t rlen = reason ? strnlen(reason, 123) : 0;
  int rc = wslay_event_queue_close(s->ctx, (uint16_t)code, (const uint8_t *)reason, rlen);
  if (rc != 0) {
    session_kill(s);
    return;
  }
  s->is_close_queued = true;
  session_update(s);
}

void ws_session_close(struct ws_session *s, int code)
{
  session_close_why(s, code, NULL);
}

/* --- wslay I/O callbacks ------------------------------------------------------------- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user)
{
  (void)flags; /* always 0 in wslay 1.1 */
  struct ws_session *s = user;
  if (s->extra_off < s->extra_len) {
    size_t n = s->extra_len - s->extra_off;
    if (n > len)
      n = len;
    memcpy(buf, s->extra + s->extra_off, n);
    s->extra_off += n;
    return (ssize_t)n;
  }
  ssize_t n;
  do
    n = recv(s->fd, buf, len, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    s->last_recv_ms = bh_mono_ms();
    return n;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
  } else {
    s->is_peer_gone = true;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); /* EOF or reset */
  }
  return -1;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *user)
{
  struct ws_session *s = user;
  int sflags = MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0);
  ssize_t n;
  do
    n = send(s->fd, data, len, sflags);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
  else
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
  return -1;
}

/* A close frame's body is empty or at least a 2-byte code (RFC 6455 §5.5.1); wslay would
 * take one byte as "no code" and echo it. A data message may come in at most
 * ws_max_message_frames frames: wslay keeps a piece of memory per frame, even an empty one,
 * so the byte limit alone does not bound it. Past the limit: 1009, "a message that is too
 * big for it to process" (§7.4.1), as for too many bytes; reading stops as wslay does for
 * its own 1009. */
static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
  struct ws_session *s = user;
  if (arg->opcode == WSLAY_CONNECTION_CLOSE && arg->payload_length == 1)
    wslay_event_queue_close(ctx, WSLAY_CODE_PROTOCOL_ERROR, NULL, 0);
  if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
    s->msg_frames = 1;
  else if (arg->opcode == WSLAY_CONTINUATION_FRAME)
    s->msg_frames++;
  if (s->msg_frames > s->hub->cfg->ws_max_message_frames && !session_is_closing(s)) {
    BH_LOG(BH_LOG_INFO, BH_C_WS, "session %s: message in more than %lld frames, closing", s->peer,
           (long long)s->hub->cfg->ws_max_message_frames);
    ws_session_close(s, WSLAY_CODE_MESSAGE_TOO_BIG);
    wslay_event_shutdown_read(ctx);
    return;
  }
  /* A data frame's payload is held until its message is handled: it counts against
   * http_body_budget_bytes like a /json body. Over it: 1013, and reading stops. */
  if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME ||
      arg->opcode == WSLAY_CONTINUATION_FRAME) {
    int64_t cost = (int64_t)arg->payload_length + WS_FRAME_COST;
    if (budget_take(&s->budget, cost)) {
      s->msg_cost += cost;
    } else if (!session_is_closing(s)) {
      BH_LOG(BH_LOG_INFO, BH_C_WS, "session %s: request body budget full, closing", s->peer);
      ws_session_close(s, WS_CLOSE_BUSY);
      wslay_event_shutdown_read(ctx);
    }
  }
}

/* --- stream_handle() pipeline --------------------------------------------------------- */

static void job_work(uv_work_t *req)
{
  struct ws_job *j = req->data;
  struct ws_session *s = j->s;
  budget_enter(&j->budget);
  stream_handle(s->hub->rpc, &s->state, s->peer, j->msg->text, j->msg->len, &j->res);
  budget_leave();
}

/* Carries out a stream_result on the loop thread. */
static void session_apply(struct ws_session *s, struct stream_result *r)
{
  switch (r->action) {
  case STREAM_NOTHING:
    break;
  case STREAM_SEND:
    if (r->text)
      ws_session_send_text(s, r->text, r->len);
    /* an opened or resumed endpoint: its missed pushes follow the reply */
    if (s->state.attach_pending && !session_is_closing(s) && !stream_attach(s->hub->rpc, &s->state))
      session_close_why(s, 1008, "Session ended");
    break;
  case STREAM_SEND_CLOSE:
    /* wslay sends control frames ahead of queued data, so the close waits for the flush. */
    if (r->text && ws_session_send_text(s, r->text, r->len) == BH_OK && !session_is_closing(s)) {
      inbox_clear(s);
      s->close_after_flush = r->close_code;
    } else {
      ws_session_close(s, r->close_code);
    }
    break;
  case STREAM_CLOSE:
    ws_session_close(s, r->close_code);
    break;
  }
}

static void session_delay_fired(uv_timer_t *t)
{
  struct ws_session *s = t->data;
  session_apply(s, &s->delayed);
  stream_result_free(&s->delayed);
  memset(&s->delayed, 0, sizeof s->delayed);
  s->is_busy = false;
  session_next(s);
  session_update(s);
}

static void job_done(uv_work_t *req, int status)
{
  struct ws_job *j = req->data;
  struct ws_session *s = j->s;
  s->has_job = false;
  msg_free(s, j->msg);
  bool is_refused = j->budget.is_refused;
  budget_return(&j->budget);
  if (is_refused && status == 0 && !s->is_dead) {
    /* the JSON would not fit in the budget: what it answered is not the answer */
    BH_LOG(BH_LOG_INFO, BH_C_WS, "session %s: request body budget full, closing", s->peer);
    stream_result_free(&j->res);
    memset(&j->res, 0, sizeof j->res);
    ws_session_close(s, WS_CLOSE_BUSY);
  }
  if (status != 0 || s->is_dead) {
    stream_result_free(&j->res); /* zeroed when the work was cancelled */
    free(j);
    s->is_busy = false;
    session_free_if_done(s);
    return;
  }
  if (j->res.delay_ms > 0) {
    /* Hold this answer and everything after it: a failed login is answered late. */
    s->delayed = j->res;
    free(j);
    uv_timer_start(&s->delay, session_delay_fired, s->delayed.delay_ms, 0);
    return;
  }
  session_apply(s, &j->res);
  stream_result_free(&j->res);
  free(j);
  s->is_busy = false;
  session_next(s);
  session_update(s);
}

static void session_start_job(struct ws_session *s, struct ws_msg *m)
{
  struct ws_job *j = calloc(1, sizeof *j);
  if (!j) {
    msg_free(s, m);
    ws_session_close(s, bh_err_ws_close(BH_NOMEM));
    return;
  }
  j->s = s;
  j->msg = m;
  j->req.data = j;
  if (uv_queue_work(loop_uv(s->hub->loop), &j->req, job_work, job_done) != 0) {
    msg_free(s, m);
    free(j);
    ws_session_close(s, bh_err_ws_close(BH_INTERNAL));
    return;
  }
  s->is_busy = true;
  s->has_job = true;
}

static void session_next(struct ws_session *s)
{
  if (s->is_busy || !s->in_head || session_is_closing(s))
    return;
  struct ws_msg *m = s->in_head;
  s->in_head = m->next;
  if (!s->in_head)
    s->in_tail = NULL;
  s->in_count--;
  s->in_bytes -= m->len;
  session_start_job(s, m);
}

/* cost: what the message counted in the session's budget account; it stays counted while
 * the message waits in the inbox and is handled. */
static void session_take_text(struct ws_session *s, const uint8_t *text, size_t len, int64_t cost)
{
  const struct bh_config *cfg = s->hub->cfg;
  if (s->is_busy) {
    /* An empty inbox takes any message the size limit let through; then the caps hold. */
    if (s->in_count > 0 && ((int64_t)s->in_count + 1 > cfg->ws_queue_max_frames ||
                            (int64_t)(s->in_bytes + len) > cfg->ws_queue_max_bytes)) {
      BH_LOG(BH_LOG_INFO, BH_C_WS, "session %s: inbox full, closing", s->peer);
      budget_release(&s->budget, cost);
      ws_session_close(s, 1008);
      return;
    }
  }
  struct ws_msg *m = malloc(sizeof *m + len + 1);
  if (!m) {
    budget_release(&s->budget, cost);
    ws_session_close(s, bh_err_ws_close(BH_NOMEM));
    return;
  }
  m->cost = cost;
  m->next = NULL;
  m->len = len;
  memcpy(m->text, text, len);
  m->text[len] = '\0'; /* convenience for stream_handle(); len stays authoritative */
  if (s->in_tail)
    s->in_tail->next = m;
  else
    s->in_head = m;
  s->in_tail = m;
  s->in_count++;
  s->in_bytes += len;
  session_next(s);
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
  (void)ctx;
  struct ws_session *s = user;
  /* A control message may come between the frames of a data message: only a data
   * message takes the cost counted for its frames. */
  int64_t cost = 0;
  if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) {
    cost = s->msg_cost;
    s->msg_cost = 0;
  }
  if (session_is_closing(s)) {
    budget_release(&s->budget, cost);
    return;
  }
  switch (arg->opcode) {
  case WSLAY_TEXT_FRAME:
    /* wslay reassembled the fragments, so a character split across them is whole here.
     * (wslay 1.1 also checks UTF-8 while reading; this check does not rely on that.) */
    if (!utf8_valid(arg->msg, arg->msg_length)) {
      BH_LOG(BH_LOG_INFO, BH_C_WS, "session %s: text is not UTF-8, closing", s->peer);
      budget_release(&s->budget, cost);
      ws_session_close(s, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA);
      return;
    }
    session_take_text(s, arg->msg, arg->msg_length, cost);
    break;
  case WSLAY_BINARY_FRAME:
    budget_release(&s->budget, cost);
    ws_session_close(s, WSLAY_CODE_UNSUPPORTED_DATA);
    break;
  default:
    break; /* ping, pong and close are answered by wslay itself */
  }
}

/* --- polling ------------------------------------------------------------------------- */

/* Reads and drops what the peer sent after wslay stopped reading; true once the peer has
 * ended (or the socket failed). Closing a socket with unread bytes, or before a peer that
 * is still sending stops, makes the kernel send a reset, and a reset can destroy our close
 * frame in the peer's receive buffer before the peer reads it. */
static bool session_drain(struct ws_session *s)
{
  char junk[4096];
  ssize_t n;
  do
    n = recv(s->fd, junk, sizeof junk, 0);
  while (n > 0 || (n < 0 && errno == EINTR));
  return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Matches the poll to what wslay wants; ends the session when it wants nothing. */
static void session_update(struct ws_session *s)
{
  if (s->is_dead)
    return;
  if (s->close_after_flush > 0 && !wslay_event_want_write(s->ctx)) {
    int code = s->close_after_flush;
    s->close_after_flush = 0;
    if (wslay_event_queue_close(s->ctx, (uint16_t)code, NULL, 0) != 0) {
      session_kill(s);
      return;
    }
  }
  int want = 0;
  if (wslay_event_want_read(s->ctx))
    want |= UV_READABLE;
  if (wslay_event_want_write(s->ctx))
    want |= UV_WRITABLE;
  if (s->is_draining) {
    want = UV_READABLE;
  } else if (want == 0) {
    if (!wslay_event_get_close_sent(s->ctx) || wslay_event_get_close_received(s->ctx)) {
      session_kill(s); /* close handshake done, or I/O failed */
      return;
    }
    /* wslay failed the connection (1007, 1009, protocol error) and stopped reading: tell
     * the peer we are done sending, drop what it still sends until it ends (close_wait
     * bounds that), then close. */
    s->is_draining = true;
    shutdown(s->fd, SHUT_WR);
    want = UV_READABLE;
  }
  /* Bounded wait for the flush and for the peer's close frame. */
  if ((s->close_after_flush > 0 || wslay_event_get_close_sent(s->ctx)) && !s->is_close_waiting) {
    s->is_close_waiting = true;
    uv_timer_start(&s->close_wait, session_close_waited, WS_CLOSE_WAIT_MS, 0);
  }
  if (want != s->poll_events) {
    if (uv_poll_start(&s->poll, want, session_polled) != 0) {
      session_kill(s);
      return;
    }
    s->poll_events = want;
  }
}

static void session_polled(uv_poll_t *p, int status, int events)
{
  struct ws_session *s = p->data;
  if (s->is_dead)
    return;
  if (status < 0) {
    session_kill(s);
    return;
  }
  if (s->is_draining) {
    if (session_drain(s))
      session_kill(s);
    return;
  }
  int rc = (events & UV_READABLE) ? wslay_event_recv(s->ctx) : 0;
  if (rc != 0) {
    if (!s->is_peer_gone && !wslay_event_get_close_sent(s->ctx)) {
      /* The peer is there but wslay gave up on a malformed frame header (an oversized or
       * fragmented control frame); RFC 6455 §7.4 wants a 1002 first: one best effort. */
      static const unsigned char close_1002[] = {0x88, 0x02, 0x03, 0xEA};
      ssize_t ignored = send(s->fd, close_1002, sizeof close_1002, MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)ignored;
    }
    session_kill(s);
    return;
  }
  if (!s->is_dead && (events & UV_WRITABLE) && wslay_event_send(s->ctx) != 0) {
    session_kill(s);
    return;
  }
  session_update(s);
}

enum bh_err ws_session_send_text(struct ws_session *s, const char *text, size_t len)
{
  assert(loop_is_current(s->hub->loop));
  if (session_is_closing(s))
    return BH_CLOSED;
  const struct bh_config *cfg = s->hub->cfg;
  size_t count = wslay_event_get_queued_msg_count(s->ctx);
  size_t bytes = wslay_event_get_queued_msg_length(s->ctx);
  bool over = (int64_t)count + 1 > cfg->ws_queue_max_frames ||
              (count > 0 && (int64_t)(bytes + len) > cfg->ws_queue_max_bytes);
  if (over && wslay_event_want_write(s->ctx)) {
    /* A burst within one loop turn is not a slow reader: hand what the socket takes to the
     * kernel first, then count again. */
    wslay_event_send(s->ctx);
    count = wslay_event_get_queued_msg_count(s->ctx);
    bytes = wslay_event_get_queued_msg_length(s->ctx);
    over = (int64_t)count + 1 > cfg->ws_queue_max_frames ||
           (count > 0 && (int64_t)(bytes + len) > cfg->ws_queue_max_bytes);
  }
  if (over) {
    /* A client that does not read must not grow our heap. */
    BH_LOG(BH_LOG_INFO, BH_C_WS, "session %s: send queue full, closing", s->peer);
    ws_session_close(s, 1008);
    return BH_TOOBIG;
  }
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
  int rc = wslay_event_queue_msg(s->ctx, &m);
  if (rc == WSLAY_ERR_NOMEM) {
    session_kill(s);
    return BH_NOMEM;
  }
  if (rc != 0)
    return BH_CLOSED;
  /* Write now: the socket almost always takes it, which spares two epoll_ctl calls and a
   * loop turn per frame (it matters when one event goes to thousands of sessions). */
  if (wslay_event_send(s->ctx) != 0) {
    session_kill(s);
    return BH_CLOSED;
  }
  session_update(s); /* polls for writable only if something is left */
  return BH_OK;
}

/* --- adoption ------------------------------------------------------------------------ */

static void adopt_refuse(struct ws_adopt *a)
{
  MHD_upgrade_action(a->urh, MHD_UPGRADE_ACTION_CLOSE);
  free(a);
}

static void session_open(void *arg)
{
  struct ws_adopt *a = arg;
  struct ws_hub *h = a->hub;
  if (h->is_stopping) {
    adopt_refuse(a);
    return;
  }
  struct ws_session *s = calloc(1, sizeof *s);
  if (!s) {
    adopt_refuse(a);
    return;
  }
  s->hub = h;
  s->budget.is_exact = true; /* thousands of sessions, each with a message now and then */
  s->state.conn = ++h->next_conn;
  s->last_recv_ms = s->last_ping_ms = bh_mono_ms();
  s->fd = a->fd;
  s->urh = a->urh;
  memcpy(s->peer, a->peer, sizeof s->peer);
  s->poll_events = -1;
  if (a->extra_len > 0) {
    s->extra = malloc(a->extra_len);
    if (!s->extra)
      goto fail;
    memcpy(s->extra, a->extra, a->extra_len);
    s->extra_len = a->extra_len;
  }
  static const struct wslay_event_callbacks cbs = {
      .recv_callback = ws_recv_cb,
      .send_callback = ws_send_cb,
      .on_frame_recv_start_callback = ws_frame_start_cb,
      .on_msg_recv_callback = ws_msg_cb,
  };
  if (wslay_event_context_server_init(&s->ctx, &cbs, s) != 0)
    goto fail;
  wslay_event_config_set_max_recv_msg_length(s->ctx, (uint64_t)h->cfg->ws_max_message_bytes);
  /* uv_poll never closes the fd; MHD keeps it until MHD_upgrade_action(CLOSE). */
  if (uv_poll_init_socket(loop_uv(h->loop), &s->poll, s->fd) != 0)
    goto fail;
  s->poll.data = s;
  uv_timer_init(loop_uv(h->loop), &s->delay);
  uv_timer_init(loop_uv(h->loop), &s->close_wait);
  s->delay.data = s;
  s->close_wait.data = s;
  s->open_handles = 3;
  s->next = h->head;
  if (h->head)
    h->head->prev = s;
  h->head = s;
  h->count++;
  s->conn_next = h->by_conn[s->state.conn % WS_BUCKETS];
  h->by_conn[s->state.conn % WS_BUCKETS] = s;
  free(a);

  session_update(s); /* starts the poll for reading */
  BH_LOG(BH_LOG_DEBUG, BH_C_WS, "session %s opened", s->peer);
  size_t wlen = 0;
  char *welcome = stream_welcome_text(bh_now_ms(), &wlen);
  if (!welcome) {
    ws_session_close(s, bh_err_ws_close(BH_NOMEM));
    return;
  }
  ws_session_send_text(s, welcome, wlen);
  free(welcome);
  /* Bytes that came with the handshake will not wake the poll: read them now. */
  if (s->extra_len > 0 && !s->is_dead && wslay_event_recv(s->ctx) != 0) {
    session_kill(s);
    return;
  }
  session_update(s);
  return;
fail:
  if (s->ctx)
    wslay_event_context_free(s->ctx);
  free(s->extra);
  free(s);
  adopt_refuse(a);
}

void ws_hub_adopt(struct ws_hub *h, int fd, struct MHD_UpgradeResponseHandle *urh,
                  const char *extra_in, size_t extra_len, const char *peer)
{
  struct ws_adopt *a = malloc(sizeof *a + extra_len);
  if (!a) {
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    return;
  }
  a->hub = h;
  a->fd = fd;
  a->urh = urh;
  snprintf(a->peer, sizeof a->peer, "%s", peer ? peer : "?");
  a->extra_len = extra_len;
  if (extra_len > 0)
    memcpy(a->extra, extra_in, extra_len);
  if (loop_post(h->loop, 0, session_open, a) != BH_OK)
    adopt_refuse(a); /* stopping: the loop takes no new sessions */
}

/* --- hub ----------------------------------------------------------------------------- */

/* --- pushes ------------------------------------------------------------------------- */

static struct ws_session *session_by_conn(struct ws_hub *h, uint64_t conn)
{
  for (struct ws_session *s = h->by_conn[conn % WS_BUCKETS]; s; s = s->conn_next)
    if (s->state.conn == conn)
      return s;
  return NULL;
}

/* Loop thread: one frame to its targets, each with its own "{"seq":N," in front. */
static void push_now(struct ws_hub *h, struct push_frame *f, const struct push_target *t, size_t n)
{
  char small[512];
  size_t need = f->len + 32;
  char *buf = need <= sizeof small ? small : malloc(need);
  if (!buf)
    return; /* the frames stay in the endpoints' history */
  for (size_t i = 0; i < n; i++) {
    struct ws_session *s = session_by_conn(h, t[i].conn);
    if (!s || session_is_closing(s))
      continue;
    int k = snprintf(buf, need, "{\"seq\":%llu,", (unsigned long long)t[i].seq);
    memcpy(buf + k, f->body, f->len);
    ws_session_send_text(s, buf, (size_t)k + f->len);
  }
  if (buf != small)
    free(buf);
}

struct push_job {
  struct ws_hub *h;
  struct push_frame *f;
  size_t n;
  struct push_target t[];
};

static void push_job_run(void *arg)
{
  struct push_job *j = arg;
  if (!j->h->is_stopping)
    push_now(j->h, j->f, j->t, j->n);
  push_frame_unref(j->f);
  free(j);
}

/* push_transport.send: any thread. On the loop thread (a resume) the frames go at once, so
 * they follow the endpoint reply and precede later pushes; from elsewhere, one closure per
 * event carries every target to the loop. */
static void push_send(void *ctx, struct push_frame *f, const struct push_target *t, size_t n)
{
  struct ws_hub *h = ctx;
  if (loop_is_current(h->loop)) {
    push_now(h, f, t, n);
    return;
  }
  struct push_job *j = malloc(sizeof *j + n * sizeof *t);
  if (!j)
    return;
  j->h = h;
  j->f = f;
  j->n = n;
  memcpy(j->t, t, n * sizeof *t);
  push_frame_ref(f);
  if (loop_post(h->loop, 0, push_job_run, j) != BH_OK) {
    push_frame_unref(f);
    free(j);
  }
}

/* push_transport.close: sessions whose token was ended (logout, password change). */
struct close_job {
  struct ws_hub *h;
  int code;
  char reason[124];
  size_t n;
  uint64_t conns[];
};

static void close_job_run(void *arg)
{
  struct close_job *j = arg;
  for (size_t i = 0; i < j->n && !j->h->is_stopping; i++) {
    struct ws_session *s = session_by_conn(j->h, j->conns[i]);
    if (s)
      session_close_why(s, j->code, j->reason);
  }
  free(j);
}

static void push_close(void *ctx, const uint64_t *conns, size_t n, int code, const char *reason)
{
  struct ws_hub *h = ctx;
  struct close_job *j = malloc(sizeof *j + n * sizeof *conns);
  if (!j)
    return; /* push detached them already: they hear nothing more */
  j->h = h;
  j->code = code;
  snprintf(j->reason, sizeof j->reason, "%s", reason ? reason : "");
  j->n = n;
  memcpy(j->conns, conns, n * sizeof *conns);
  if (loop_is_current(h->loop))
    close_job_run(j);
  else if (loop_post(h->loop, 0, close_job_run, j) != BH_OK)
    free(j);
}

/* --- pings and idle timeouts ---------------------------------------------------------- */

#define WS_TICK_MS 500

static void hub_tick(uv_timer_t *t)
{
  struct ws_hub *h = t->data;
  int64_t now = bh_mono_ms();
  int64_t idle = h->cfg->ws_idle_timeout_s * 1000, every = h->cfg->ws_ping_interval_s * 1000;
  for (struct ws_session *s = h->head; s; s = s->next) {
    if (session_is_closing(s))
      continue;
    if (now - s->last_recv_ms > idle) {
      BH_LOG(BH_LOG_INFO, BH_C_WS, "session %s: nothing received for %llds, closing", s->peer,
             (long long)h->cfg->ws_idle_timeout_s);
      ws_session_close(s, 1001);
    } else if (now - s->last_ping_ms >= every) {
      /* a pong, or anything else, counts as a sign of life */
      s->last_ping_ms = now;
      struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
      if (wslay_event_queue_msg(s->ctx, &m) == 0)
        session_update(s);
    }
  }
}

static void hub_start_tick(void *arg)
{
  struct ws_hub *h = arg;
  if (h->is_stopping || uv_timer_init(loop_uv(h->loop), &h->tick) != 0)
    return;
  h->tick.data = h;
  h->has_tick = true;
  uv_timer_start(&h->tick, hub_tick, WS_TICK_MS, WS_TICK_MS);
}

/* --- hub ----------------------------------------------------------------------------- */

enum bh_err ws_hub_new(struct ws_hub **out, struct loop *loop, const struct bh_config *cfg,
                       struct rpc *rpc)
{
  struct ws_hub *h = calloc(1, sizeof *h);
  if (!h)
    return BH_NOMEM;
  h->by_conn = calloc(WS_BUCKETS, sizeof *h->by_conn);
  if (!h->by_conn) {
    free(h);
    return BH_NOMEM;
  }
  h->loop = loop;
  h->cfg = cfg;
  h->rpc = rpc;
  if (rpc) {
    struct push_transport tr = {.ctx = h, .send = push_send, .close = push_close};
    stream_set_push_transport(rpc, &tr);
  }
  if (loop_post(loop, 0, hub_start_tick, h) != BH_OK) {
    free(h->by_conn);
    free(h);
    return BH_INTERNAL;
  }
  *out = h;
  return BH_OK;
}

void ws_hub_free(struct ws_hub *h)
{
  if (!h)
    return;
  if (h->rpc) {
    struct push_transport none = {0};
    stream_set_push_transport(h->rpc, &none);
  }
  free(h->by_conn);
  free(h);
}

void ws_hub_stop(struct ws_hub *h)
{
  h->is_stopping = true;
  if (h->has_tick) {
    uv_close((uv_handle_t *)&h->tick, NULL);
    h->has_tick = false;
  }
  for (struct ws_session *s = h->head; s; s = s->next) {
    if (s->is_dead)
      continue;
    /* Best effort: one nonblocking attempt to get the 1001 out, then the socket goes. */
    if (s->close_after_flush > 0) {
      wslay_event_queue_close(s->ctx, (uint16_t)s->close_after_flush, NULL, 0);
      s->close_after_flush = 0;
    } else if (!session_is_closing(s)) {
      wslay_event_queue_close(s->ctx, WSLAY_CODE_GOING_AWAY, NULL, 0);
    }
    wslay_event_send(s->ctx);
    session_kill(s);
  }
}

size_t ws_hub_count(const struct ws_hub *h)
{
  return h->count;
}
