/* ws.c: a WebSocket client (RFC 6455) over one non-blocking TCP socket. The opening
 * handshake is done here (HTTP/1.1 Upgrade, Sec-WebSocket-Key, the Accept check with the
 * server's SHA-1); the framing (masking, fragments, control frames, automatic pongs, the
 * close handshake) is wslay's, in client mode. Used by one thread at a time (stream.c). */
#include "sdk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "common/bh_base64.h"
#include "transport/sha1.h"

#define HANDSHAKE_MAX 8192

struct sdk_ws {
  int fd;
  wslay_event_context_ptr ctx;
  sdk_ws_text_cb on_text;
  void *arg;
  /* bytes read with the handshake's answer that belong to the first frames */
  char *pre;
  size_t pre_len, pre_off;
  int64_t last_rx_ms;
  bool eof;
  int sys_errno;
};

/* ---- URL ---- */

enum bimhub_rc sdk_ws_url_parts(const char *base_url, char *host, size_t host_len, char *port,
                                size_t port_len, char *path, size_t path_len)
{
  if (!base_url || strncasecmp(base_url, "http://", 7) != 0)
    return BIMHUB_INVALID;
  const char *a = base_url + 7;
  const char *end = a + strcspn(a, "/?#");
  const char *h = a, *hend, *p = NULL;
  if (*a == '[') {
    hend = memchr(a, ']', (size_t)(end - a));
    if (!hend)
      return BIMHUB_INVALID;
    h = a + 1;
    p = hend + 1 < end && hend[1] == ':' ? hend + 2 : NULL;
  } else {
    const char *colon = memchr(a, ':', (size_t)(end - a));
    hend = colon ? colon : end;
    p = colon ? colon + 1 : NULL;
  }
  size_t hl = (size_t)(hend - h);
  size_t pl = p ? (size_t)(end - p) : 2;
  const char *prefix = end;
  size_t prefix_len = strcspn(prefix, "?#");
  while (prefix_len > 0 && prefix[prefix_len - 1] == '/')
    prefix_len--;
  if (hl == 0 || hl >= host_len || pl == 0 || pl >= port_len ||
      prefix_len + sizeof "/stream" > path_len)
    return BIMHUB_INVALID;
  memcpy(host, h, hl);
  host[hl] = '\0';
  if (p) {
    for (size_t i = 0; i < pl; i++)
      if (p[i] < '0' || p[i] > '9')
        return BIMHUB_INVALID;
    memcpy(port, p, pl);
    port[pl] = '\0';
  } else {
    memcpy(port, "80", 3);
  }
  memcpy(path, prefix, prefix_len);
  memcpy(path + prefix_len, "/stream", sizeof "/stream");
  return BIMHUB_OK;
}

/* ---- handshake ---- */

/* Whether a comma-separated header value holds token (case-insensitive). */
static bool has_token(const char *v, size_t len, const char *token)
{
  size_t tl = strlen(token);
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    size_t s = i;
    while (i < len && v[i] != ',')
      i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
      e--;
    if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
      return true;
  }
  return false;
}

enum bimhub_rc sdk_ws_check_handshake(const char *resp, size_t len, const char *key,
                                      struct bimhub_error *err)
{
  const char *eol = memchr(resp, '\n', len);
  if (!eol || len < 12 || strncmp(resp, "HTTP/1.1 ", 9) != 0)
    return sdk_fail(err, BIMHUB_PROTOCOL, "The /stream answer is not HTTP/1.1");
  if (strncmp(resp + 9, "101", 3) != 0) {
    int n = (int)(eol - resp);
    while (n > 0 && (resp[n - 1] == '\r'))
      n--;
    return sdk_fail(err, BIMHUB_HTTP, "/stream refused the upgrade: %.*s", n, resp);
  }
  char want[SHA1_WS_ACCEPT_LEN + 1];
  sha1_ws_accept(key, strlen(key), want);
  bool upgrade = false, connection = false, accept = false;
  const char *p = eol + 1, *end = resp + len;
  while (p < end) {
    const char *le = memchr(p, '\n', (size_t)(end - p));
    if (!le)
      le = end;
    size_t ll = (size_t)(le - p);
    if (ll > 0 && p[ll - 1] == '\r')
      ll--;
    if (ll == 0)
      break;
    const char *colon = memchr(p, ':', ll);
    if (colon) {
      size_t nl = (size_t)(colon - p);
      const char *v = colon + 1;
      size_t vl = ll - nl - 1;
      while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
      }
      while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
      if (nl == 7 && strncasecmp(p, "Upgrade", 7) == 0)
        upgrade = vl == 9 && strncasecmp(v, "websocket", 9) == 0;
      else if (nl == 10 && strncasecmp(p, "Connection", 10) == 0)
        connection = has_token(v, vl, "upgrade");
      else if (nl == 20 && strncasecmp(p, "Sec-WebSocket-Accept", 20) == 0)
        accept = vl == SHA1_WS_ACCEPT_LEN && memcmp(v, want, SHA1_WS_ACCEPT_LEN) == 0;
    }
    p = le + 1;
  }
  if (!upgrade || !connection)
    return sdk_fail(err, BIMHUB_PROTOCOL, "The /stream answer lacks Upgrade/Connection headers");
  if (!accept)
    return sdk_fail(err, BIMHUB_PROTOCOL, "The /stream answer has a wrong Sec-WebSocket-Accept");
  return BIMHUB_OK;
}

static long left_ms(int64_t deadline)
{
  int64_t l = deadline - sdk_mono_ms();
  return l > 0 ? (long)l : 0;
}

/* Waits for fd to be ready for events, up to the deadline. */
static enum bimhub_rc wait_fd(int fd, short events, int64_t deadline, struct bimhub_error *err,
                              const char *what)
{
  for (;;) {
    long ms = left_ms(deadline);
    if (ms == 0)
      return sdk_fail(err, BIMHUB_TIMEOUT, "Timed out while %s", what);
    struct pollfd pfd = {.fd = fd, .events = events};
    int n = poll(&pfd, 1, (int)ms);
    if (n > 0)
      return BIMHUB_OK;
    if (n < 0 && errno != EINTR)
      return sdk_fail(err, BIMHUB_TRANSPORT, "poll: %s", strerror(errno));
  }
}

static int connect_to(const char *host, const char *port, int64_t deadline,
                      struct bimhub_error *err)
{
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0) {
    sdk_fail(err, BIMHUB_TRANSPORT, "Cannot resolve %s: %s", host, gai_strerror(gai));
    return -1;
  }
  int fd = -1;
  int last = 0;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = errno;
      close(fd);
      fd = -1;
      continue;
    }
    struct bimhub_error e;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (wait_fd(fd, POLLOUT, deadline, &e, "connecting") != BIMHUB_OK ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
      last = soerr ? soerr : ETIMEDOUT;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    sdk_fail(err, last == ETIMEDOUT ? BIMHUB_TIMEOUT : BIMHUB_TRANSPORT,
             "Cannot connect to %s port %s: %s", host, port, strerror(last ? last : ECONNREFUSED));
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static enum bimhub_rc send_all(int fd, const char *p, size_t len, int64_t deadline,
                               struct bimhub_error *err)
{
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      enum bimhub_rc rc = wait_fd(fd, POLLOUT, deadline, err, "sending the handshake");
      if (rc != BIMHUB_OK)
        return rc;
    } else {
      return sdk_fail(err, BIMHUB_TRANSPORT, "send: %s", strerror(errno));
    }
  }
  return BIMHUB_OK;
}

/* ---- wslay callbacks ---- */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
  (void)flags;
  struct sdk_ws *ws = user;
  if (ws->pre_off < ws->pre_len) {
    size_t n = ws->pre_len - ws->pre_off;
    if (n > len)
      n = len;
    memcpy(buf, ws->pre + ws->pre_off, n);
    ws->pre_off += n;
    return (ssize_t)n;
  }
  for (;;) {
    ssize_t n = recv(ws->fd, buf, len, 0);
    if (n > 0) {
      ws->last_rx_ms = sdk_mono_ms();
      return n;
    }
    if (n == 0) {
      ws->eof = true;
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
      return -1;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else {
      ws->sys_errno = errno;
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    }
    return -1;
  }
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
  (void)flags;
  struct sdk_ws *ws = user;
  for (;;) {
    ssize_t n = send(ws->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0)
      return n;
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else {
      ws->sys_errno = errno;
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    }
    return -1;
  }
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
  (void)ctx;
  (void)user;
  randombytes_buf(buf, len);
  return 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
  (void)ctx;
  struct sdk_ws *ws = user;
  if (arg->opcode == WSLAY_TEXT_FRAME && ws->on_text)
    ws->on_text(ws->arg, (const char *)arg->msg, arg->msg_length);
}

/* ---- the connection ---- */

enum bimhub_rc sdk_ws_connect(struct sdk_ws **out, const char *host, const char *port,
                              const char *path, long timeout_ms, size_t max_message,
                              sdk_ws_text_cb on_text, void *arg, struct bimhub_error *err)
{
  *out = NULL;
  enum bimhub_rc rc = sdk_global_init();
  if (rc != BIMHUB_OK)
    return sdk_fail(err, rc, "Cannot initialise libsodium");
  int64_t deadline = sdk_mono_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
  int fd = connect_to(host, port, deadline, err);
  if (fd < 0)
    return err ? err->rc : BIMHUB_TRANSPORT;

  unsigned char raw[16];
  char key[32];
  randombytes_buf(raw, sizeof raw);
  bh_base64_encode(raw, sizeof raw, key);
  bool v6 = strchr(host, ':') != NULL;
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "User-Agent: libbimhub/" BIMHUB_VERSION_STRING "\r\n\r\n",
                   path, v6 ? "[" : "", host, v6 ? "]" : "", port, key);
  if (n < 0 || (size_t)n >= sizeof req) {
    close(fd);
    return sdk_fail(err, BIMHUB_INVALID, "The /stream URL is too long");
  }
  rc = send_all(fd, req, (size_t)n, deadline, err);

  /* the answer's headers; what follows them already belongs to the WebSocket */
  char *buf = rc == BIMHUB_OK ? malloc(HANDSHAKE_MAX) : NULL;
  size_t len = 0, head = 0;
  if (rc == BIMHUB_OK && !buf)
    rc = sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  while (rc == BIMHUB_OK && head == 0) {
    ssize_t got = recv(fd, buf + len, HANDSHAKE_MAX - len, 0);
    if (got > 0) {
      size_t from = len > 3 ? len - 3 : 0;
      len += (size_t)got;
      for (size_t i = from; i + 4 <= len && head == 0; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
          head = i + 4;
      if (head == 0 && len == HANDSHAKE_MAX)
        rc = sdk_fail(err, BIMHUB_PROTOCOL, "The /stream answer's headers are too long");
    } else if (got == 0) {
      rc = sdk_fail(err, BIMHUB_TRANSPORT,
                    "The server closed the connection during the "
                    "handshake");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      rc = wait_fd(fd, POLLIN, deadline, err, "waiting for the handshake's answer");
    } else {
      rc = sdk_fail(err, BIMHUB_TRANSPORT, "recv: %s", strerror(errno));
    }
  }
  if (rc == BIMHUB_OK)
    rc = sdk_ws_check_handshake(buf, head, key, err);

  struct sdk_ws *ws = rc == BIMHUB_OK ? calloc(1, sizeof *ws) : NULL;
  if (rc == BIMHUB_OK && !ws)
    rc = sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  if (rc != BIMHUB_OK) {
    free(buf);
    close(fd);
    return rc;
  }
  ws->fd = fd;
  ws->on_text = on_text;
  ws->arg = arg;
  ws->last_rx_ms = sdk_mono_ms();
  if (len > head) {
    memmove(buf, buf + head, len - head);
    ws->pre = buf;
    ws->pre_len = len - head;
  } else {
    free(buf);
  }
  struct wslay_event_callbacks cbs = {
      .recv_callback = on_recv,
      .send_callback = on_send,
      .genmask_callback = on_genmask,
      .on_msg_recv_callback = on_msg,
  };
  if (wslay_event_context_client_init(&ws->ctx, &cbs, ws) != 0) {
    sdk_ws_free(ws);
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  }
  wslay_event_config_set_max_recv_msg_length(ws->ctx, max_message ? max_message : 16u << 20);
  *out = ws;
  return BIMHUB_OK;
}

int sdk_ws_fd(const struct sdk_ws *ws)
{
  return ws->fd;
}

bool sdk_ws_wants_write(const struct sdk_ws *ws)
{
  return wslay_event_want_write(ws->ctx) != 0;
}

int64_t sdk_ws_last_rx_ms(const struct sdk_ws *ws)
{
  return ws->last_rx_ms;
}

static enum bimhub_rc ended(struct sdk_ws *ws, struct bimhub_error *err)
{
  if (wslay_event_get_close_received(ws->ctx)) {
    uint16_t code = wslay_event_get_status_code_received(ws->ctx);
    return sdk_fail(err, BIMHUB_TRANSPORT, "The server closed the WebSocket (code %u)", code);
  }
  if (ws->eof)
    return sdk_fail(err, BIMHUB_TRANSPORT, "The server closed the connection");
  if (ws->sys_errno)
    return sdk_fail(err, BIMHUB_TRANSPORT, "Socket error: %s", strerror(ws->sys_errno));
  return sdk_fail(err, BIMHUB_TRANSPORT, "The WebSocket ended");
}

enum bimhub_rc sdk_ws_read(struct sdk_ws *ws, struct bimhub_error *err)
{
  /* the handshake's leftover bytes first, then whatever the socket holds (wslay reads until
   * the socket would block) */
  if (wslay_event_recv(ws->ctx) != 0)
    return ended(ws, err);
  if (ws->pre && ws->pre_off >= ws->pre_len) {
    free(ws->pre);
    ws->pre = NULL;
    ws->pre_len = ws->pre_off = 0;
  }
  if (wslay_event_get_close_received(ws->ctx)) {
    wslay_event_send(ws->ctx); /* the close reply wslay queued */
    return ended(ws, err);
  }
  if (!wslay_event_want_read(ws->ctx))
    return ended(ws, err); /* a message over the limit: wslay closed with 1009 */
  return BIMHUB_OK;
}

enum bimhub_rc sdk_ws_write(struct sdk_ws *ws, struct bimhub_error *err)
{
  if (wslay_event_send(ws->ctx) != 0)
    return ended(ws, err);
  return BIMHUB_OK;
}

bool sdk_ws_has_buffered(const struct sdk_ws *ws)
{
  return ws->pre_off < ws->pre_len;
}

enum bimhub_rc sdk_ws_send_text(struct sdk_ws *ws, const char *text, size_t len)
{
  struct wslay_event_msg m = {
      .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)text, .msg_length = len};
  return wslay_event_queue_msg(ws->ctx, &m) == 0 ? BIMHUB_OK : BIMHUB_STATE;
}

enum bimhub_rc sdk_ws_ping(struct sdk_ws *ws)
{
  struct wslay_event_msg m = {.opcode = WSLAY_PING, .msg = (const uint8_t *)"", .msg_length = 0};
  return wslay_event_queue_msg(ws->ctx, &m) == 0 ? BIMHUB_OK : BIMHUB_STATE;
}

void sdk_ws_close(struct sdk_ws *ws, uint16_t code)
{
  wslay_event_queue_close(ws->ctx, code, NULL, 0);
}

void sdk_ws_free(struct sdk_ws *ws)
{
  if (!ws)
    return;
  if (ws->ctx)
    wslay_event_context_free(ws->ctx);
  if (ws->fd >= 0)
    close(ws->fd);
  free(ws->pre);
  free(ws);
}
