/* transport_test.c: the whole transport over real sockets, against tests/support/fake_rpc.c
 * (see there for what it answers). A raw HTTP/1.1 and WebSocket client talks to a server on
 * 127.0.0.1, port 0, started and stopped around every test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "rpc/rpc.h"
#include "transport/transport.h"

int fake_rpc_stream_closed_count(void);
int fake_rpc_stream_handled_count(void);

/* --- fixture ------------------------------------------------------------------------- */

struct fx {
  struct bh_config cfg;
  struct rpc *rpc;
  struct transport *t;
  uint16_t port;
};

static char host_127[] = "127.0.0.1";

static int fx_setup_threads(void **state, int64_t http_threads)
{
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->cfg.host = host_127;
  f->cfg.port = 0;
  f->cfg.max_json_body_bytes = 1024;
  f->cfg.ws_max_message_bytes = 1024;
  f->cfg.ws_queue_max_bytes = 4096;
  f->cfg.ws_queue_max_frames = 16;
  f->cfg.http_threads = http_threads;
  f->cfg.http_connection_limit = 1000;
  f->cfg.http_idle_timeout_s = 30;
  f->cfg.http_header_timeout_s = 10;
  f->cfg.http_body_budget_bytes = 1 << 20;
  f->cfg.ws_max_message_frames = 64;
  f->cfg.http_connection_memory_bytes = 16384;
  f->cfg.rpc_workers = 2;
  assert_int_equal(rpc_new(&f->rpc, &f->cfg, NULL, NULL), BH_OK);
  assert_int_equal(transport_start(&f->t, &f->cfg, f->rpc), BH_OK);
  f->port = transport_port(f->t);
  assert_true(f->port != 0);
  *state = f;
  return 0;
}

static int fx_setup(void **state)
{
  return fx_setup_threads(state, 2);
}

static int fx_setup_one_thread(void **state)
{
  return fx_setup_threads(state, 1);
}

static int fx_teardown(void **state)
{
  struct fx *f = *state;
  transport_stop(f->t);
  rpc_free(f->rpc);
  free(f);
  return 0;
}

/* --- raw client ---------------------------------------------------------------------- */

struct conn {
  int fd;
  char buf[1 << 16];
  size_t have, off;
};

static void conn_open(struct conn *c, uint16_t port)
{
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  struct timeval tv = {5, 0}; /* a hang fails the test instead of blocking it */
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
}

static void conn_close(struct conn *c)
{
  close(c->fd);
  c->fd = -1;
}

static void send_all(int fd, const void *p, size_t n)
{
  const char *s = p;
  while (n > 0) {
    ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
    assert_true(k > 0);
    s += k;
    n -= (size_t)k;
  }
}

static void send_str(int fd, const char *s)
{
  send_all(fd, s, strlen(s));
}

/* Makes at least one more byte available; 0 on EOF or timeout. */
static int conn_fill(struct conn *c)
{
  if (c->off == c->have)
    c->off = c->have = 0;
  if (c->have == sizeof c->buf) {
    memmove(c->buf, c->buf + c->off, c->have - c->off);
    c->have -= c->off;
    c->off = 0;
  }
  ssize_t n;
  do
    n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return 0;
  c->have += (size_t)n;
  return 1;
}

static int conn_read(struct conn *c, void *out, size_t n)
{
  char *o = out;
  while (n > 0) {
    if (c->off == c->have && !conn_fill(c))
      return 0;
    size_t k = c->have - c->off;
    if (k > n)
      k = n;
    memcpy(o, c->buf + c->off, k);
    c->off += k;
    o += k;
    n -= k;
  }
  return 1;
}

struct http_resp {
  int status;
  char head[4096];
  char body[4096];
  size_t body_len;
};

/* Value of header name in r->head, or NULL (copied into val). */
static const char *resp_header(const struct http_resp *r, const char *name, char *val, size_t vlen)
{
  size_t n = strlen(name);
  for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
    const char *line = p + 2;
    if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
      const char *v = line + n + 1;
      while (*v == ' ')
        v++;
      const char *e = strstr(v, "\r\n");
      size_t l = e ? (size_t)(e - v) : strlen(v);
      if (l >= vlen)
        l = vlen - 1;
      memcpy(val, v, l);
      val[l] = '\0';
      return val;
    }
  }
  return NULL;
}

/* Reads one response (headers, and a Content-Length body). 0 on EOF before headers. */
static int http_read(struct conn *c, struct http_resp *r)
{
  memset(r, 0, sizeof *r);
  size_t n = 0;
  while (n < 4 || memcmp(r->head + n - 4, "\r\n\r\n", 4) != 0) {
    if (n + 1 >= sizeof r->head || !conn_read(c, r->head + n, 1))
      return 0;
    n++;
  }
  r->head[n] = '\0';
  assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
  char v[64];
  if (resp_header(r, "Content-Length", v, sizeof v)) {
    r->body_len = strtoul(v, NULL, 10);
    assert_true(r->body_len < sizeof r->body);
    assert_true(conn_read(c, r->body, r->body_len));
  }
  r->body[r->body_len] = '\0';
  return 1;
}

static void http_post(struct conn *c, const char *path, const char *extra_headers, const char *body)
{
  char req[2048];
  snprintf(req, sizeof req,
           "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=UTF-8\r\n"
           "%sContent-Length: %zu\r\n\r\n%s",
           path, extra_headers, strlen(body), body);
  send_str(c->fd, req);
}

/* --- WebSocket client ---------------------------------------------------------------- */

static const char ws_key[] = "dGhlIHNhbXBsZSBub25jZQ=="; /* RFC 6455 §1.3 */
static const char ws_accept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

static size_t ws_frame(char *out, int fin, int opcode, const void *payload, size_t n)
{
  static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  uint8_t *o = (uint8_t *)out;
  size_t h = 0;
  o[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  if (n < 126) {
    o[h++] = (uint8_t)(0x80 | n);
  } else if (n < 65536) {
    o[h++] = 0x80 | 126;
    o[h++] = (uint8_t)(n >> 8);
    o[h++] = (uint8_t)n;
  } else {
    o[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      o[h++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  memcpy(o + h, mask, 4);
  h += 4;
  const uint8_t *p = payload;
  for (size_t i = 0; i < n; i++)
    o[h + i] = p[i] ^ mask[i % 4];
  return h + n;
}

static void ws_send(struct conn *c, int fin, int opcode, const void *payload, size_t n)
{
  char *buf = malloc(n + 14);
  assert_non_null(buf);
  size_t len = ws_frame(buf, fin, opcode, payload, n);
  send_all(c->fd, buf, len);
  free(buf);
}

static void ws_send_text(struct conn *c, const char *text)
{
  ws_send(c, 1, 1, text, strlen(text));
}

struct ws_in {
  int opcode;
  char data[8192];
  size_t len;
  int close_code; /* for opcode 8 */
};

/* Reads one server frame (unmasked, whole). 0 on EOF or timeout. */
static int ws_read(struct conn *c, struct ws_in *m)
{
  uint8_t h[2];
  memset(m, 0, sizeof *m);
  if (!conn_read(c, h, 2))
    return 0;
  assert_int_equal(h[1] & 0x80, 0); /* servers never mask */
  m->opcode = h[0] & 0x0f;
  uint64_t n = h[1] & 0x7f;
  if (n == 126) {
    uint8_t e[2];
    assert_true(conn_read(c, e, 2));
    n = (uint64_t)e[0] << 8 | e[1];
  } else if (n == 127) {
    uint8_t e[8];
    assert_true(conn_read(c, e, 8));
    n = 0;
    for (int i = 0; i < 8; i++)
      n = n << 8 | e[i];
  }
  assert_true(n < sizeof m->data);
  assert_true(conn_read(c, m->data, (size_t)n));
  m->len = (size_t)n;
  m->data[n] = '\0';
  if (m->opcode == 8 && n >= 2)
    m->close_code = (uint8_t)m->data[0] << 8 | (uint8_t)m->data[1];
  return 1;
}

static void ws_handshake_req(char *out, size_t max, const char *version, const char *key)
{
  snprintf(out, max,
           "GET /stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: %s\r\n%s%s%s\r\n",
           version, key ? "Sec-WebSocket-Key: " : "", key ? key : "", key ? "\r\n" : "");
}

/* Opens /stream, checks the 101 and the welcome frame. */
static void ws_open(struct conn *c, uint16_t port)
{
  conn_open(c, port);
  char req[512];
  ws_handshake_req(req, sizeof req, "13", ws_key);
  send_str(c->fd, req);
  struct http_resp r;
  assert_true(http_read(c, &r));
  assert_int_equal(r.status, 101);
  char v[128];
  assert_non_null(resp_header(&r, "Sec-WebSocket-Accept", v, sizeof v));
  assert_string_equal(v, ws_accept);
  assert_non_null(resp_header(&r, "Upgrade", v, sizeof v));
  assert_true(strcasecmp(v, "websocket") == 0);
  struct ws_in m;
  assert_true(ws_read(c, &m));
  assert_int_equal(m.opcode, 1);
  assert_true(strncmp(m.data, "{\"welcome\":", 11) == 0);
}

/* Expects a close frame with code, then the end of the connection. */
static void ws_expect_close(struct conn *c, int code)
{
  struct ws_in m;
  assert_true(ws_read(c, &m));
  assert_int_equal(m.opcode, 8);
  assert_int_equal(m.close_code, code);
  uint8_t echo[2] = {(uint8_t)(code >> 8), (uint8_t)code};
  ws_send(c, 1, 8, echo, 2); /* complete the handshake; the server then drops us */
  char b;
  ssize_t n = recv(c->fd, &b, 1, 0);
  if (n != 0)
    fprintf(stderr, "recv after close: %zd errno %d\n", n, errno);
  assert_int_equal(n, 0);
}

/* Waits (up to 2 s) for the loop to finish closing sessions. */
static void wait_closed(int expected)
{
  int64_t end = bh_mono_ms() + 2000;
  while (fake_rpc_stream_closed_count() < expected && bh_mono_ms() < end)
    usleep(10000);
  assert_int_equal(fake_rpc_stream_closed_count(), expected);
}

/* --- HTTP tests ---------------------------------------------------------------------- */

static void post_json_echoes_with_cors(void **state)
{
  struct fx *f = *state;
  struct conn c;
  conn_open(&c, f->port);
  http_post(&c, "/json", "Authorization: Bearer tok123\r\n", "{\"x\":1}");
  struct http_resp r;
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_string_equal(
      r.body, "{\"peer\":\"127.0.0.1\",\"token\":\"tok123\",\"response\":{\"result\":{\"x\":1}}}");
  char v[128];
  assert_non_null(resp_header(&r, "Content-Type", v, sizeof v));
  assert_string_equal(v, "application/json; charset=UTF-8");
  assert_non_null(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  assert_string_equal(v, "*");
  /* Keep-alive: a second request on the same connection, token from "Token". */
  http_post(&c, "/json/sub", "Token: t2\r\n", "{}");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"token\":\"t2\""));
  conn_close(&c);
}

static void json_errors_like_bimserver(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct http_resp r;
  conn_open(&c, f->port);
  http_post(&c, "/json", "", "[1]");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 500);
  assert_int_equal(r.body_len, 0);
  send_str(c.fd, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 500);
  assert_int_equal(r.body_len, 0);
  send_str(c.fd, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 404);
  assert_true(r.body_len > 0);
  conn_close(&c);
}

static void options_preflight(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct http_resp r;
  char v[256];
  conn_open(&c, f->port);
  send_str(c.fd, "OPTIONS /json HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\n"
                 "Access-Control-Request-Method: POST\r\n"
                 "Access-Control-Request-Headers: content-type\r\n\r\n");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 0);
  assert_non_null(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  assert_string_equal(v, "http://app.example");
  assert_non_null(resp_header(&r, "Access-Control-Allow-Headers", v, sizeof v));
  assert_string_equal(v, "Content-Type, Input-Type, Token, Authorization");
  assert_non_null(resp_header(&r, "Access-Control-Expose-Headers", v, sizeof v));
  assert_string_equal(v, "Content-Length, Data-Title, Output-Type");
  assert_non_null(resp_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
  assert_string_equal(v, "GET, POST, OPTIONS");
  /* Any path. */
  send_str(c.fd, "OPTIONS /whatever HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 200);
  conn_close(&c);
}

static void oversized_body_413(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct http_resp r;
  /* Content-Length over the limit: answered before the body is read. */
  conn_open(&c, f->port);
  send_str(c.fd, "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 413);
  assert_true(r.body_len > 0);
  conn_close(&c);
  /* Chunked: noticed on the way, answered at the end. */
  conn_open(&c, f->port);
  send_str(c.fd, "POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  char chunk[700];
  memset(chunk, 'a', sizeof chunk);
  for (int i = 0; i < 3; i++) {
    send_str(c.fd, "2bc\r\n"); /* 700 */
    send_all(c.fd, chunk, sizeof chunk);
    send_str(c.fd, "\r\n");
  }
  send_str(c.fd, "0\r\n\r\n");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 413);
  conn_close(&c);
  /* Just under the limit still works. */
  conn_open(&c, f->port);
  char body[1025];
  memset(body, ' ', 1024);
  body[0] = '{';
  body[1022] = '}';
  body[1023] = ' ';
  body[1024] = '\0';
  http_post(&c, "/json", "", body);
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 200);
  conn_close(&c);
}

static void delayed_reply_blocks_no_thread(void **state)
{
  /* One HTTP thread: if the 300 ms delay slept in it, the fast call would wait too. */
  struct fx *f = *state;
  struct conn slow, fast;
  struct http_resp r;
  conn_open(&slow, f->port);
  conn_open(&fast, f->port);
  int64_t t0 = bh_mono_ms();
  http_post(&slow, "/json", "", "{\"slow\":1}");
  usleep(50000);
  http_post(&fast, "/json", "", "{\"fast\":1}");
  assert_true(http_read(&fast, &r));
  assert_int_equal(r.status, 200);
  assert_true(bh_mono_ms() - t0 < 250);
  assert_true(http_read(&slow, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"slow\":1"));
  assert_true(bh_mono_ms() - t0 >= 290);
  conn_close(&slow);
  conn_close(&fast);
}

static void bad_upgrades(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct http_resp r;
  char req[512], v[64];
  conn_open(&c, f->port);
  ws_handshake_req(req, sizeof req, "8", ws_key);
  send_str(c.fd, req);
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 426);
  assert_non_null(resp_header(&r, "Sec-WebSocket-Version", v, sizeof v));
  assert_string_equal(v, "13");
  conn_close(&c);

  conn_open(&c, f->port);
  ws_handshake_req(req, sizeof req, "13", NULL);
  send_str(c.fd, req);
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 400);
  conn_close(&c);

  conn_open(&c, f->port);
  send_str(c.fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 400);
  conn_close(&c);

  conn_open(&c, f->port);
  send_str(c.fd,
           "GET /stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 400);
  conn_close(&c);
}

/* --- WebSocket tests ----------------------------------------------------------------- */

static void ws_token_and_echo(void **state)
{
  struct fx *f = *state;
  int closed0 = fake_rpc_stream_closed_count();
  struct conn c;
  struct ws_in m;
  ws_open(&c, f->port);
  ws_send_text(&c, "{\"token\":\"good\"}");
  assert_true(ws_read(&c, &m));
  assert_int_equal(m.opcode, 1);
  assert_non_null(strstr(m.data, "\"endpointid\":"));
  /* A message in three fragments, cut inside a 2-byte and a 4-byte character. */
  static const char text[] = "{\"k\":\"\xc3\xa9\xf0\x9f\x98\x80\"}";
  ws_send(&c, 0, 1, text, 8);
  ws_send(&c, 0, 0, text + 8, 3);
  ws_send(&c, 1, 0, text + 11, sizeof text - 1 - 11);
  assert_true(ws_read(&c, &m));
  assert_int_equal(m.opcode, 1);
  char want[64];
  snprintf(want, sizeof want, "{\"echo\":%s}", text);
  assert_string_equal(m.data, want);
  /* Heartbeat: no answer; a ping is answered by a pong. */
  ws_send_text(&c, "{\"hb\":true}");
  ws_send(&c, 1, 9, "pp", 2);
  assert_true(ws_read(&c, &m));
  assert_int_equal(m.opcode, 10);
  assert_string_equal(m.data, "pp");
  /* Client-initiated close is echoed. */
  uint8_t bye[2] = {0x03, 0xe8};
  ws_send(&c, 1, 8, bye, 2);
  assert_true(ws_read(&c, &m));
  assert_int_equal(m.opcode, 8);
  assert_int_equal(m.close_code, 1000);
  char b;
  assert_int_equal(recv(c.fd, &b, 1, 0), 0);
  conn_close(&c);
  wait_closed(closed0 + 1);
}

static void ws_replies_keep_order_and_delay(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct ws_in m;
  ws_open(&c, f->port);
  int64_t t0 = bh_mono_ms();
  ws_send_text(&c, "{\"slow\":1}");
  ws_send_text(&c, "{\"n\":2}");
  assert_true(ws_read(&c, &m));
  assert_string_equal(m.data, "{\"slow\":true}");
  assert_true(bh_mono_ms() - t0 >= 290);
  assert_true(ws_read(&c, &m));
  assert_string_equal(m.data, "{\"echo\":{\"n\":2}}");
  conn_close(&c);
}

static void ws_handshake_with_frame_in_same_packet(void **state)
{
  /* Bytes after the request head reach the session through MHD's extra_in. */
  struct fx *f = *state;
  struct conn c;
  conn_open(&c, f->port);
  char req[1024];
  ws_handshake_req(req, sizeof req, "13", ws_key);
  size_t n = strlen(req);
  n += ws_frame(req + n, 1, 1, "{\"early\":1}", 11);
  send_all(c.fd, req, n);
  struct http_resp r;
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 101);
  struct ws_in m;
  assert_true(ws_read(&c, &m));
  assert_true(strncmp(m.data, "{\"welcome\":", 11) == 0);
  assert_true(ws_read(&c, &m));
  assert_string_equal(m.data, "{\"echo\":{\"early\":1}}");
  conn_close(&c);
}

static void ws_invalid_utf8_1007(void **state)
{
  struct fx *f = *state;
  struct conn c;
  ws_open(&c, f->port);
  /* A surrogate split across two fragments. */
  ws_send(&c, 0, 1, "{\"a\":\"\xed", 7);
  ws_send(&c, 1, 0, "\xa0\x80\"}", 4);
  ws_expect_close(&c, 1007);
  conn_close(&c);
}

static void ws_too_big_1009(void **state)
{
  struct fx *f = *state;
  struct conn c;
  ws_open(&c, f->port);
  char big[2000];
  memset(big, 'a', sizeof big);
  ws_send(&c, 1, 1, big, sizeof big);
  struct ws_in m;
  assert_true(ws_read(&c, &m));
  assert_int_equal(m.opcode, 8);
  assert_int_equal(m.close_code, 1009);
  conn_close(&c);
}

static void ws_binary_1003(void **state)
{
  struct fx *f = *state;
  struct conn c;
  ws_open(&c, f->port);
  ws_send(&c, 1, 2, "\x01\x02", 2);
  ws_expect_close(&c, 1003);
  conn_close(&c);
}

static void ws_bad_token_send_close(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct ws_in m;
  ws_open(&c, f->port);
  ws_send_text(&c, "{\"token\":\"bad\"}");
  assert_true(ws_read(&c, &m));
  assert_string_equal(m.data, "{\"error\":\"Invalid token\"}");
  ws_expect_close(&c, 1008);
  conn_close(&c);
}

static void ws_inbox_overflow_1008(void **state)
{
  /* One slow message holds the worker; 16 more fill the inbox; the 18th overflows. */
  struct fx *f = *state;
  struct conn c;
  ws_open(&c, f->port);
  ws_send_text(&c, "{\"slow\":1}");
  for (int i = 0; i < 20; i++)
    ws_send_text(&c, "{\"n\":1}");
  ws_expect_close(&c, 1008);
  conn_close(&c);
}

static void ws_stop_sends_1001(void **state)
{
  struct fx *f = *state;
  int closed0 = fake_rpc_stream_closed_count();
  struct conn a, b;
  ws_open(&a, f->port);
  ws_open(&b, f->port);
  transport_stop(f->t);
  f->t = NULL;
  assert_int_equal(fake_rpc_stream_closed_count(), closed0 + 2); /* all done by the join */
  struct ws_in m;
  assert_true(ws_read(&a, &m));
  assert_int_equal(m.opcode, 8);
  assert_int_equal(m.close_code, 1001);
  assert_true(ws_read(&b, &m));
  assert_int_equal(m.close_code, 1001);
  conn_close(&a);
  conn_close(&b);
}

static void many_sessions(void **state)
{
  /* Enough sockets to need the raised descriptor limit's headroom in CI. */
  struct fx *f = *state;
  enum { N = 200 };
  static struct conn cs[N];
  int closed0 = fake_rpc_stream_closed_count();
  for (int i = 0; i < N; i++)
    ws_open(&cs[i], f->port);
  for (int i = 0; i < N; i++) {
    char msg[32];
    snprintf(msg, sizeof msg, "{\"i\":%d}", i);
    ws_send_text(&cs[i], msg);
  }
  for (int i = 0; i < N; i++) {
    struct ws_in m;
    char want[48];
    snprintf(want, sizeof want, "{\"echo\":{\"i\":%d}}", i);
    assert_true(ws_read(&cs[i], &m));
    assert_string_equal(m.data, want);
    conn_close(&cs[i]);
  }
  wait_closed(closed0 + N);
}

static void busy_port_fails_cleanly(void **state)
{
  struct fx *f = *state;
  struct bh_config cfg = f->cfg;
  cfg.port = f->port;
  struct transport *t2 = (struct transport *)&cfg; /* must be reset to NULL */
  assert_int_equal(transport_start(&t2, &cfg, f->rpc), BH_IO);
  assert_null(t2);
  /* The first server is unharmed. */
  struct conn c;
  struct http_resp r;
  conn_open(&c, f->port);
  http_post(&c, "/json", "", "{}");
  assert_true(http_read(&c, &r));
  assert_int_equal(r.status, 200);
  conn_close(&c);
}

int main(void)
{
  if (getenv("BH_TEST_QUIET") == NULL)
    bh_log_set_level("warn");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(post_json_echoes_with_cors, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(json_errors_like_bimserver, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(options_preflight, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(oversized_body_413, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(delayed_reply_blocks_no_thread, fx_setup_one_thread,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(bad_upgrades, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(ws_token_and_echo, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(ws_replies_keep_order_and_delay, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(ws_handshake_with_frame_in_same_packet, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(ws_invalid_utf8_1007, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(ws_too_big_1009, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(ws_binary_1003, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(ws_bad_token_send_close, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(ws_inbox_overflow_1008, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(ws_stop_sends_1001, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(many_sessions, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(busy_port_fails_cleanly, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
