/* upload_download_test.c: POST /upload and /download over real sockets, against
 * tests/support/fake_rpc.c and fake_checkin.c (see fake_checkin.h for what it answers). A raw
 * HTTP/1.1 client talks to a server on 127.0.0.1, port 0, started and stopped around every
 * test; libcurl stands in for a real client where Expect: 100-continue and chunked bodies
 * matter. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include <curl/curl.h>

#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "fake_checkin.h"
#include "rpc/rpc.h"
#include "transport/transport.h"

#define BOUNDARY "----bimhubTestBoundary7MA4YWxkTrZu0gW"
#define MIB (1024u * 1024u)

/* --- fixture ------------------------------------------------------------------------- */

struct fx {
  struct bh_config cfg;
  struct rpc *rpc;
  struct transport *t;
  uint16_t port;
};

static char host_127[] = "127.0.0.1";

static int fx_setup_idle(void **state, int64_t idle_s)
{
  struct fake_checkin_cfg inline_cfg = {0};
  fake_checkin_configure(&inline_cfg);
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->cfg.host = host_127;
  f->cfg.port = 0;
  f->cfg.max_json_body_bytes = 1024; /* /upload must not care */
  f->cfg.ws_max_message_bytes = 1024;
  f->cfg.ws_queue_max_bytes = 4096;
  f->cfg.ws_queue_max_frames = 16;
  f->cfg.http_threads = 2;
  f->cfg.http_connection_limit = 100;
  f->cfg.http_idle_timeout_s = idle_s;
  f->cfg.http_header_timeout_s = 10;
  f->cfg.http_body_budget_bytes = 1 << 20;
  f->cfg.ws_max_message_frames = 64;
  f->cfg.http_connection_memory_bytes = 16384;
  f->cfg.rpc_workers = 2;
  assert_int_equal(rpc_new(&f->rpc, &f->cfg, NULL, NULL), BH_OK);
  assert_int_equal(transport_start(&f->t, &f->cfg, f->rpc), BH_OK);
  f->port = transport_port(f->t);
  *state = f;
  return 0;
}

static int fx_setup(void **state)
{
  return fx_setup_idle(state, 30);
}

/* libmicrohttpd 0.9.75 (edge-triggered epoll) can miss a client's FIN that arrived while
 * the connection was suspended: the read after the resume that drains the socket is short,
 * so MHD stops reading and the EOF edge is gone. The idle timeout then ends the request;
 * tests of vanishing clients use a short one. */
static int fx_setup_short_idle(void **state)
{
  return fx_setup_idle(state, 1);
}

static int fx_teardown(void **state)
{
  struct fx *f = *state;
  transport_stop(f->t);
  rpc_free(f->rpc);
  free(f);
  fake_checkin_pause(false);
  /* Every upload released (the fake aborts on a second release) and its worker done. */
  assert_true(fake_checkin_wait_idle(5000));
  struct fake_checkin_stats st;
  fake_checkin_stats(&st);
  assert_int_equal(st.uploads_released, st.uploads_new);
  assert_int_equal(st.downloads_closed, st.downloads_opened);
  return 0;
}

static void configure_slow(size_t high, size_t low, size_t drain_bytes, unsigned every_us,
                           bool is_paused, unsigned ready_delay_ms)
{
  struct fake_checkin_cfg cfg = {.is_threaded = true,
                                 .high_water = high,
                                 .low_water = low,
                                 .drain_bytes = drain_bytes,
                                 .drain_every_us = every_us,
                                 .is_paused = is_paused,
                                 .ready_delay_ms = ready_delay_ms};
  fake_checkin_configure(&cfg);
}

static struct fake_checkin_stats stats(void)
{
  struct fake_checkin_stats st;
  fake_checkin_stats(&st);
  return st;
}

/* Waits (up to 3 s) until stats().field >= want. */
#define WAIT_STAT(field, want)                                                                     \
  do {                                                                                             \
    int64_t end_ = bh_mono_ms() + 3000;                                                            \
    while (stats().field < (want) && bh_mono_ms() < end_)                                          \
      usleep(5000);                                                                                \
    assert_int_equal(stats().field, (want));                                                       \
  } while (0)

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
  struct timeval stv = {20, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof stv);
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

__attribute__((format(printf, 2, 3))) static void send_fmt(int fd, const char *fmt, ...)
{
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  assert_true(n > 0 && (size_t)n < sizeof buf);
  send_all(fd, buf, (size_t)n);
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

/* Reads up to n bytes (fewer only at EOF); returns the count. */
static size_t conn_read(struct conn *c, void *out, size_t n)
{
  char *o = out;
  size_t got = 0;
  while (got < n) {
    if (c->off == c->have && !conn_fill(c))
      break;
    size_t k = c->have - c->off;
    if (k > n - got)
      k = n - got;
    memcpy(o + got, c->buf + c->off, k);
    c->off += k;
    got += k;
  }
  return got;
}

/* One line without its CRLF into out. 0 on EOF. */
static int conn_line(struct conn *c, char *out, size_t max)
{
  size_t n = 0;
  for (;;) {
    char ch;
    if (conn_read(c, &ch, 1) != 1)
      return 0;
    if (ch == '\n')
      break;
    if (n + 1 < max)
      out[n++] = ch;
  }
  if (n > 0 && out[n - 1] == '\r')
    n--;
  out[n] = '\0';
  return 1;
}

struct resp {
  int status;
  char head[8192];
  char *body;
  size_t len;
  bool is_chunked;
  bool is_cut; /* the connection ended before the announced body did */
};

static void resp_free(struct resp *r)
{
  free(r->body);
  r->body = NULL;
}

static void body_add(struct resp *r, size_t *cap, const char *p, size_t n)
{
  if (r->len + n + 1 > *cap) {
    while (r->len + n + 1 > *cap)
      *cap = *cap ? *cap * 2 : 4096;
    r->body = realloc(r->body, *cap);
    assert_non_null(r->body);
  }
  memcpy(r->body + r->len, p, n);
  r->len += n;
  r->body[r->len] = '\0';
}

/* Value of header name in r->head, or NULL (copied into val). */
static const char *resp_header(const struct resp *r, const char *name, char *val, size_t vlen)
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

/* Reads a response head (interim 1xx included when want_interim). 0 on EOF. */
static int resp_read_head(struct conn *c, struct resp *r)
{
  free(r->body);
  memset(r, 0, sizeof *r);
  size_t n = 0;
  char line[2048];
  for (;;) {
    if (!conn_line(c, line, sizeof line))
      return 0;
    size_t l = strlen(line);
    assert_true(n + l + 2 < sizeof r->head);
    memcpy(r->head + n, line, l);
    memcpy(r->head + n + l, "\r\n", 2);
    n += l + 2;
    r->head[n] = '\0';
    if (l == 0)
      break;
  }
  assert_int_equal(sscanf(r->head, "HTTP/1.%*d %d", &r->status), 1);
  return 1;
}

/* Reads the body that follows a head: chunked, Content-Length, or up to EOF. */
static void resp_read_body(struct conn *c, struct resp *r, bool is_head_request)
{
  size_t cap = 0;
  char v[64], tmp[65536];
  body_add(r, &cap, "", 0);
  if (is_head_request || r->status == 100)
    return;
  if (resp_header(r, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0) {
    r->is_chunked = true;
    for (;;) {
      char line[256];
      if (!conn_line(c, line, sizeof line)) {
        r->is_cut = true;
        return;
      }
      size_t size = strtoul(line, NULL, 16);
      if (size == 0)
        break;
      while (size > 0) {
        size_t k = size < sizeof tmp ? size : sizeof tmp;
        size_t got = conn_read(c, tmp, k);
        body_add(r, &cap, tmp, got);
        if (got < k) {
          r->is_cut = true;
          return;
        }
        size -= got;
      }
      assert_true(conn_line(c, line, sizeof line));
      assert_string_equal(line, "");
    }
    char line[256];
    do /* trailers, then the empty line */
      assert_true(conn_line(c, line, sizeof line));
    while (line[0]);
    return;
  }
  if (resp_header(r, "Content-Length", v, sizeof v)) {
    size_t size = strtoul(v, NULL, 10);
    while (size > 0) {
      size_t k = size < sizeof tmp ? size : sizeof tmp;
      size_t got = conn_read(c, tmp, k);
      body_add(r, &cap, tmp, got);
      if (got < k) {
        r->is_cut = true;
        return;
      }
      size -= got;
    }
    return;
  }
  size_t got;
  while ((got = conn_read(c, tmp, sizeof tmp)) > 0)
    body_add(r, &cap, tmp, got);
}

/* Reads a whole final response, skipping interim ones. */
static int resp_read(struct conn *c, struct resp *r)
{
  do {
    if (!resp_read_head(c, r))
      return 0;
  } while (r->status == 100);
  resp_read_body(c, r, false);
  return 1;
}

/* --- multipart bodies ------------------------------------------------------------------ */

struct sbuf {
  char *p;
  size_t len, cap;
};

static void sb_add(struct sbuf *b, const void *s, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    while (b->len + n + 1 > b->cap)
      b->cap = b->cap ? b->cap * 2 : 1024;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

__attribute__((format(printf, 2, 3))) static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof buf);
  sb_add(b, buf, (size_t)n);
}

static void mp_field(struct sbuf *b, const char *name, const char *value)
{
  sb_fmt(b, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n", name);
  sb_add(b, value, strlen(value));
  sb_add(b, "\r\n", 2);
}

static void mp_file_head(struct sbuf *b, const char *name, const char *filename)
{
  sb_fmt(b,
         "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
         "Content-Type: application/octet-stream\r\n\r\n",
         name, filename);
}

static const char mp_tail[] = "\r\n--" BOUNDARY "--\r\n";

/* The file: size bytes of the download pattern, hashed as the fake hashes. */
static void pattern(uint64_t from, char *out, size_t n)
{
  for (size_t i = 0; i < n; i++)
    out[i] = (char)fake_pattern_byte(from + i);
}

static uint64_t pattern_fnv(uint64_t size)
{
  static char block[65536];
  uint64_t h = FAKE_FNV_INIT;
  for (uint64_t off = 0; off < size; off += sizeof block) {
    size_t n = size - off < sizeof block ? (size_t)(size - off) : sizeof block;
    pattern(off, block, n);
    h = fake_fnv(h, block, n);
  }
  return h;
}

struct up_req {
  const char *path;
  const char *extra_headers; /* each ending in CRLF */
  const char *head;          /* multipart before the file bytes */
  size_t head_len;
  uint64_t file_size;
  const char *tail;         /* after the file bytes (default mp_tail) */
  const char *content_type; /* default: multipart/form-data; boundary=BOUNDARY */
  bool is_chunked;
  bool has_expect;
};

/* Sends a piece, as one chunk when chunked. */
static void send_piece(int fd, bool is_chunked, const void *p, size_t n)
{
  if (n == 0)
    return;
  if (is_chunked)
    send_fmt(fd, "%zx\r\n", n);
  send_all(fd, p, n);
  if (is_chunked)
    send_str(fd, "\r\n");
}

static void send_headers(struct conn *c, const struct up_req *q, uint64_t body_len)
{
  char len[64];
  if (q->is_chunked)
    snprintf(len, sizeof len, "Transfer-Encoding: chunked\r\n");
  else
    snprintf(len, sizeof len, "Content-Length: %llu\r\n", (unsigned long long)body_len);
  send_fmt(c->fd, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n%s%s%s\r\n",
           q->path ? q->path : "/upload",
           q->content_type ? q->content_type : "multipart/form-data; boundary=" BOUNDARY,
           q->extra_headers ? q->extra_headers : "", len,
           q->has_expect ? "Expect: 100-continue\r\n" : "");
  if (q->has_expect) {
    struct resp r = {0};
    assert_true(resp_read_head(c, &r));
    assert_int_equal(r.status, 100);
    resp_free(&r);
  }
}

/* Sends a whole upload request: head, file_size pattern bytes in 64 KiB pieces, tail. */
static void send_upload(struct conn *c, const struct up_req *q)
{
  const char *tail = q->tail ? q->tail : mp_tail;
  send_headers(c, q, q->head_len + q->file_size + strlen(tail));
  send_piece(c->fd, q->is_chunked, q->head, q->head_len);
  static char block[65536];
  for (uint64_t off = 0; off < q->file_size; off += sizeof block) {
    size_t n = q->file_size - off < sizeof block ? (size_t)(q->file_size - off) : sizeof block;
    pattern(off, block, n);
    send_piece(c->fd, q->is_chunked, block, n);
  }
  send_piece(c->fd, q->is_chunked, tail, strlen(tail));
  if (q->is_chunked)
    send_str(c->fd, "0\r\n\r\n");
}

static void expect_file(const struct resp *r, const char *name, uint64_t size)
{
  char want[256];
  snprintf(want, sizeof want,
           "\"file\":{\"name\":\"%s\",\"type\":\"application/octet-stream\",\"bytes\":%llu,"
           "\"fnv\":\"%016llx\"}",
           name, (unsigned long long)size, (unsigned long long)pattern_fnv(size));
  if (!strstr(r->body, want))
    fail_msg("want %s in %.300s", want, r->body);
}

static void expect_upload_headers(const struct resp *r)
{
  char v[128];
  assert_non_null(resp_header(r, "Content-Type", v, sizeof v));
  assert_string_equal(v, "text/json; charset=UTF-8");
  assert_non_null(resp_header(r, "Access-Control-Allow-Origin", v, sizeof v));
}

/* --- /upload ------------------------------------------------------------------------- */

static void upload_js_fields_then_file(void **state)
{
  struct fx *f = *state;
  struct sbuf b = {0};
  mp_field(&b, "token", "tok1");
  mp_field(&b, "deserializerOid", "131126");
  mp_field(&b, "comment", "first \"check-in\" \xc3\xa9");
  mp_field(&b, "poid", "65539");
  mp_field(&b, "topicId", "77");
  mp_file_head(&b, "file", "model.ifc");
  struct up_req q = {.head = b.p,
                     .head_len = b.len,
                     .file_size = 100003,
                     .extra_headers =
                         "Origin: http://app.example\r\nAuthorization: Bearer hdr\r\n"};
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_upload_headers(&r);
  char v[128];
  assert_non_null(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  assert_string_equal(v, "http://app.example");
  assert_non_null(strstr(
      r.body, "{\"peer\":\"127.0.0.1\",\"header_token\":\"hdr\",\"fields\":[[\"token\",\"tok1\"],"
              "[\"deserializerOid\",\"131126\"],[\"comment\",\"first \\\"check-in\\\" \xc3\xa9\"],"
              "[\"poid\",\"65539\"],[\"topicId\",\"77\"]],"));
  expect_file(&r, "model.ifc", 100003);
  assert_non_null(strstr(r.body, "\"completed\":true}"));

  /* Keep-alive: a second upload on the same connection (action=file, an empty file). */
  b.len = 0;
  mp_field(&b, "action", "file");
  mp_field(&b, "token", "tok1");
  mp_file_head(&b, "file", "empty.txt");
  q = (struct up_req){.head = b.p, .head_len = b.len, .file_size = 0};
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"fields\":[[\"action\",\"file\"],[\"token\",\"tok1\"]]"));
  expect_file(&r, "empty.txt", 0);
  resp_free(&r);
  conn_close(&c);
  free(b.p);
  struct fake_checkin_stats st = stats();
  assert_int_equal(st.uploads_new, 2);
  assert_int_equal(st.ends_completed, 2);
  WAIT_STAT(uploads_released, 2);
}

/* The Java client: the charset after the boundary (httpmime), part "data",
 * sync/merge/compression fields, chunked body; also a field after the file is still handed
 * over (the upload decides what it means). */
static void upload_java_part_data_chunked(void **state)
{
  struct fx *f = *state;
  struct sbuf b = {0};
  mp_field(&b, "token", "jtok");
  mp_field(&b, "poid", "65539");
  mp_field(&b, "deserializerOid", "5");
  mp_field(&b, "comment", "");
  mp_field(&b, "merge", "false");
  mp_field(&b, "sync", "true");
  mp_field(&b, "compression", "deflate");
  mp_file_head(&b, "data", "model.ifc.z");
  static const char tail[] = "\r\n--" BOUNDARY "\r\nContent-Disposition: form-data; "
                             "name=\"late\"\r\n\r\nx\r\n--" BOUNDARY "--\r\n";
  struct up_req q = {.head = b.p,
                     .head_len = b.len,
                     .file_size = 777777,
                     .tail = tail,
                     .content_type = "multipart/form-data; boundary=" BOUNDARY "; charset=UTF-8",
                     .is_chunked = true};
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_upload_headers(&r);
  assert_non_null(strstr(r.body, "[\"comment\",\"\"],[\"merge\",\"false\"],[\"sync\",\"true\"],"
                                 "[\"compression\",\"deflate\"],[\"late\",\"x\"]]"));
  expect_file(&r, "model.ifc.z", 777777);
  resp_free(&r);
  conn_close(&c);
  free(b.p);
}

/* 50 MiB through a worker that takes 32 KiB a millisecond, slower than any loopback
 * sender: the queue never holds much more than its high-water mark, so the connection
 * really was paused. */
static void upload_50mib_backpressure(void **state)
{
  struct fx *f = *state;
  enum { HIGH = 512 * 1024, LOW = 256 * 1024 };
  configure_slow(HIGH, LOW, 32 * 1024, 1000, false, 0);
  struct sbuf b = {0};
  mp_field(&b, "token", "t");
  mp_field(&b, "poid", "1");
  mp_file_head(&b, "file", "big.ifc");
  struct up_req q = {.head = b.p, .head_len = b.len, .file_size = 50ull * MIB};
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  int64_t t0 = bh_mono_ms();
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  int64_t ms = bh_mono_ms() - t0;
  assert_int_equal(r.status, 200);
  expect_file(&r, "big.ifc", 50ull * MIB);
  struct fake_checkin_stats st = stats();
  /* Above the mark by at most what one read of MHD (16 KiB pool) and the post processor's
   * 64 KiB buffer can add. */
  if (st.max_queued > HIGH + 96 * 1024)
    fail_msg("queue reached %zu bytes", st.max_queued);
  /* how often it paused depends on the machine's speed; that it paused, and that the
   * queue stayed bounded, does not */
  assert_true(st.full_reports >= 1);
  assert_true(st.drains >= 1);
  print_message("50 MiB upload: %lld ms, queue max %zu, %d pauses\n", (long long)ms, st.max_queued,
                st.full_reports);
  resp_free(&r);
  conn_close(&c);
  free(b.p);
}

/* A chunked body while paused: MHD goes on offering the rest of a read, which must wait. */
static void upload_chunked_backpressure(void **state)
{
  struct fx *f = *state;
  enum { HIGH = 128 * 1024, LOW = 64 * 1024 };
  configure_slow(HIGH, LOW, 32 * 1024, 500, false, 0);
  struct sbuf b = {0};
  mp_field(&b, "token", "t");
  mp_file_head(&b, "file", "c.ifc");
  struct up_req q = {.head = b.p, .head_len = b.len, .file_size = 8 * MIB, .is_chunked = true};
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_file(&r, "c.ifc", 8 * MIB);
  struct fake_checkin_stats st = stats();
  assert_true(st.max_queued <= HIGH + 96 * 1024);
  assert_true(st.full_reports > 10);
  resp_free(&r);
  conn_close(&c);
  free(b.p);
}

/* Drain inside upload_set_drain() and ready inside upload_end(): the inline fake. */
static void upload_immediate_callbacks(void **state)
{
  struct fx *f = *state;
  struct fake_checkin_cfg cfg = {.high_water = 4096};
  fake_checkin_configure(&cfg);
  struct sbuf b = {0};
  mp_field(&b, "token", "t");
  mp_file_head(&b, "file", "i.ifc");
  struct up_req q = {.head = b.p, .head_len = b.len, .file_size = 3 * MIB};
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_file(&r, "i.ifc", 3 * MIB);
  assert_true(stats().full_reports > 10);
  /* The same chunked. */
  q.is_chunked = true;
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_file(&r, "i.ifc", 3 * MIB);
  resp_free(&r);
  conn_close(&c);
  free(b.p);
}

static void upload_expect_100_continue(void **state)
{
  struct fx *f = *state;
  configure_slow(256 * 1024, 128 * 1024, 256 * 1024, 200, false, 50);
  struct sbuf b = {0};
  mp_field(&b, "token", "t");
  mp_file_head(&b, "file", "e.ifc");
  struct up_req q = {.head = b.p, .head_len = b.len, .file_size = 2 * MIB, .has_expect = true};
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  send_upload(&c, &q); /* asserts the 100 Continue before sending the body */
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_file(&r, "e.ifc", 2 * MIB);
  /* And chunked with Expect. */
  q.is_chunked = true;
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_file(&r, "e.ifc", 2 * MIB);
  resp_free(&r);
  conn_close(&c);
  free(b.p);
}

/* --- libcurl as the client ------------------------------------------------------------- */

struct curl_src {
  uint64_t size, pos;
};

static size_t curl_src_read(char *buf, size_t size, size_t nitems, void *arg)
{
  struct curl_src *s = arg;
  size_t n = size * nitems;
  if (n > s->size - s->pos)
    n = (size_t)(s->size - s->pos);
  pattern(s->pos, buf, n);
  s->pos += n;
  return n;
}

static int curl_src_seek(void *arg, curl_off_t offset, int origin)
{
  struct curl_src *s = arg;
  if (origin != SEEK_SET)
    return CURL_SEEKFUNC_CANTSEEK;
  s->pos = (uint64_t)offset;
  return CURL_SEEKFUNC_OK;
}

struct curl_sink {
  struct sbuf body, head;
};

static size_t curl_sink_body(char *p, size_t size, size_t n, void *arg)
{
  struct curl_sink *k = arg;
  sb_add(&k->body, p, size * n);
  return size * n;
}

static size_t curl_sink_head(char *p, size_t size, size_t n, void *arg)
{
  struct curl_sink *k = arg;
  sb_add(&k->head, p, size * n);
  return size * n;
}

/* A multipart upload by libcurl: known size (it sends Expect: 100-continue above 1 MiB), or
 * unknown (chunked, with Expect too). Returns the HTTP status; fills sink. */
static long curl_upload(uint16_t port, uint64_t size, bool is_chunked, struct curl_sink *sink)
{
  CURL *e = curl_easy_init();
  assert_non_null(e);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/upload", (unsigned)port);
  curl_mime *mime = curl_mime_init(e);
  curl_mimepart *part = curl_mime_addpart(mime);
  curl_mime_name(part, "token");
  curl_mime_data(part, "ctok", CURL_ZERO_TERMINATED);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "poid");
  curl_mime_data(part, "42", CURL_ZERO_TERMINATED);
  part = curl_mime_addpart(mime);
  struct curl_src src = {.size = size};
  curl_mime_name(part, "file");
  curl_mime_filename(part, "curl.ifc");
  curl_mime_type(part, "application/octet-stream");
  curl_mime_data_cb(part, is_chunked ? -1 : (curl_off_t)size, curl_src_read, curl_src_seek, NULL,
                    &src);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_MIMEPOST, mime);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_sink_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, curl_sink_head);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, sink);
  /* Wait long for the 100: curl sends the body anyway after 1 s by default, which would hide
   * a server that never answers it. */
  curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, 20000L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
  CURLcode rc = curl_easy_perform(e);
  if (rc != CURLE_OK)
    fail_msg("curl: %s", curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_mime_free(mime);
  curl_easy_cleanup(e);
  return status;
}

static void upload_with_libcurl(void **state)
{
  struct fx *f = *state;
  configure_slow(256 * 1024, 128 * 1024, 128 * 1024, 500, false, 0);
  for (int chunked = 0; chunked < 2; chunked++) {
    struct curl_sink sink = {0};
    uint64_t size = 5 * MIB + 17;
    assert_int_equal(curl_upload(f->port, size, chunked != 0, &sink), 200);
    assert_non_null(sink.head.p);
    assert_non_null(sink.body.p);
    if (!strstr(sink.head.p, "HTTP/1.1 100 Continue"))
      fail_msg("no 100 Continue (chunked=%d): %s", chunked, sink.head.p);
    assert_non_null(strstr(sink.body.p, "\"fields\":[[\"token\",\"ctok\"],[\"poid\",\"42\"]]"));
    struct resp r = {.body = sink.body.p};
    expect_file(&r, "curl.ifc", size);
    free(sink.head.p);
    free(sink.body.p);
  }
}

/* --- refusals -------------------------------------------------------------------------- */

static void upload_not_multipart_400(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  send_str(c.fd, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 4\r\n\r\nnull");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 400);
  expect_upload_headers(&r);
  assert_string_equal(r.body, "{\"exception\":{\"__type\":\"UserException\",\"message\":\"the "
                              "request body must be multipart/form-data\"}}");
  /* The body was read: the connection is still usable. No Content-Type at all, chunked. */
  send_str(c.fd, "POST /upload/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n0\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 400);
  /* multipart without a boundary */
  send_str(c.fd, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data\r\n"
                 "Content-Length: 3\r\n\r\nabc");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(r.body, "boundary"));
  resp_free(&r);
  conn_close(&c);
  assert_int_equal(stats().uploads_new, 0);
}

static void upload_get_405(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct resp r = {0};
  char v[64];
  conn_open(&c, f->port);
  send_str(c.fd, "GET /upload HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 405);
  assert_true(r.len > 0);
  assert_non_null(resp_header(&r, "Allow", v, sizeof v));
  assert_string_equal(v, "POST, OPTIONS");
  /* The preflight still works. */
  send_str(c.fd, "OPTIONS /upload HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  resp_free(&r);
  conn_close(&c);
}

static void upload_field_over_64k_400(void **state)
{
  struct fx *f = *state;
  char *big = malloc(70001);
  assert_non_null(big);
  memset(big, 'c', 70000);
  big[70000] = '\0';
  struct sbuf b = {0};
  mp_field(&b, "token", "t");
  mp_field(&b, "comment", big);
  mp_file_head(&b, "file", "x.ifc");
  struct up_req q = {.head = b.p, .head_len = b.len, .file_size = 300000};
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 400);
  expect_upload_headers(&r);
  assert_string_equal(r.body, "{\"exception\":{\"__type\":\"UserException\",\"message\":\"a form "
                              "field is longer than 65536 bytes: comment\"}}");
  struct fake_checkin_stats st = stats();
  assert_int_equal(st.uploads_new, 1);
  assert_int_equal(st.ends_dropped, 1);
  assert_int_equal(st.ends_completed, 0);

  /* Exactly 64 KiB is fine. */
  big[65536] = '\0';
  b.len = 0;
  mp_field(&b, "comment", big);
  mp_file_head(&b, "file", "x.ifc");
  q = (struct up_req){.head = b.p, .head_len = b.len, .file_size = 10};
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_true(r.len > 65536);
  expect_file(&r, "x.ifc", 10);
  resp_free(&r);
  conn_close(&c);
  free(b.p);
  free(big);
}

static void upload_bad_bodies_400(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct resp r = {0};
  conn_open(&c, f->port);
  /* The body ends before the final boundary. */
  struct sbuf b = {0};
  mp_field(&b, "token", "t");
  mp_file_head(&b, "file", "x.ifc");
  struct up_req q = {.head = b.p, .head_len = b.len, .file_size = 1000, .tail = "\r\n"};
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(r.body, "ends early"));
  /* Two file parts. */
  b.len = 0;
  mp_file_head(&b, "file", "a.ifc");
  sb_fmt(&b, "aaa\r\n");
  mp_file_head(&b, "data", "b.ifc");
  q = (struct up_req){.head = b.p, .head_len = b.len, .file_size = 5};
  send_upload(&c, &q);
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(r.body, "only one file part"));
  resp_free(&r);
  conn_close(&c);
  free(b.p);
  struct fake_checkin_stats st = stats();
  assert_int_equal(st.ends_dropped, 2);
  assert_int_equal(st.ends_completed, 0);
}

/* --- dropped connections --------------------------------------------------------------- */

/* Sends the head and part of the file of a 10 MiB upload, then goes away. */
static void upload_and_vanish(uint16_t port, uint64_t sent)
{
  struct sbuf b = {0};
  mp_field(&b, "token", "t");
  mp_file_head(&b, "file", "gone.ifc");
  struct up_req q = {.head = b.p, .head_len = b.len, .file_size = 10 * MIB};
  struct conn c;
  conn_open(&c, port);
  send_headers(&c, &q, b.len + 10 * MIB + strlen(mp_tail));
  send_all(c.fd, b.p, b.len);
  static char block[65536];
  for (uint64_t off = 0; off < sent; off += sizeof block) {
    pattern(off, block, sizeof block);
    send_all(c.fd, block, sizeof block);
  }
  conn_close(&c);
  free(b.p);
}

static void upload_client_disconnects(void **state)
{
  struct fx *f = *state;
  /* The ready of the dropped upload comes 200 ms after the release: it must find the
   * request's wake alive and its connection gone (ASan watches). */
  configure_slow(256 * 1024, 128 * 1024, 64 * 1024, 1000, false, 200);
  upload_and_vanish(f->port, 2 * MIB);
  WAIT_STAT(uploads_released, 1);
  struct fake_checkin_stats st = stats();
  assert_int_equal(st.ends_dropped, 1);
  assert_int_equal(st.ends_completed, 0);
  assert_int_equal(st.readies, 0); /* still to come, after the release */
  assert_true(fake_checkin_wait_idle(3000));
  assert_int_equal(stats().readies, 1);
}

static void upload_client_disconnects_while_paused(void **state)
{
  struct fx *f = *state;
  /* Paused: the connection stays suspended and MHD cannot see the client leave until the
   * drain resumes it. */
  configure_slow(256 * 1024, 128 * 1024, 64 * 1024, 1000, true, 0);
  upload_and_vanish(f->port, 1 * MIB);
  WAIT_STAT(full_reports, 1);
  usleep(50000);
  assert_int_equal(stats().uploads_released, 0);
  fake_checkin_pause(false);
  WAIT_STAT(uploads_released, 1);
  assert_int_equal(stats().ends_dropped, 1);
}

static void upload_stop_while_suspended(void **state)
{
  struct fx *f = *state;
  /* MHD_stop_daemon() aborts on a suspended connection: the stop must resume it. One
   * waits for a drain, the other for its ready. */
  configure_slow(256 * 1024, 128 * 1024, 64 * 1024, 1000, true, 0);
  struct conn c1, c2;
  struct sbuf b = {0};
  mp_field(&b, "token", "t");
  mp_file_head(&b, "file", "s.ifc");
  struct up_req q = {.head = b.p, .head_len = b.len, .file_size = 5 * MIB};
  conn_open(&c1, f->port);
  send_headers(&c1, &q, b.len + q.file_size + strlen(mp_tail));
  send_all(c1.fd, b.p, b.len);
  static char block[65536];
  for (int i = 0; i < 8; i++) {
    pattern((uint64_t)i * sizeof block, block, sizeof block);
    send_all(c1.fd, block, sizeof block);
  }
  WAIT_STAT(full_reports, 1);
  q.file_size = 1000;
  conn_open(&c2, f->port);
  send_upload(&c2, &q); /* whole: waits for ready, which the paused worker never gives */
  WAIT_STAT(ends_completed, 1);
  transport_stop(f->t);
  f->t = NULL;
  struct fake_checkin_stats st = stats();
  assert_int_equal(st.uploads_released, 2);
  assert_int_equal(st.ends_dropped, 1);
  char ch;
  assert_true(recv(c1.fd, &ch, 1, 0) <= 0);
  assert_true(recv(c2.fd, &ch, 1, 0) <= 0);
  conn_close(&c1);
  conn_close(&c2);
  free(b.p);
  fake_checkin_pause(false);
  assert_true(fake_checkin_wait_idle(3000));
}

/* --- /download ----------------------------------------------------------------------- */

static void expect_pattern(const struct resp *r, size_t size)
{
  assert_int_equal(r->len, size);
  for (size_t i = 0; i < size; i++)
    if ((uint8_t)r->body[i] != fake_pattern_byte(i))
      fail_msg("byte %zu differs", i);
}

static void download_known_size(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct resp r = {0};
  char v[256];
  conn_open(&c, f->port);
  send_str(c.fd, "GET /download?token=T&topicId=200003 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_false(r.is_chunked);
  assert_non_null(resp_header(&r, "Content-Length", v, sizeof v));
  assert_string_equal(v, "200003");
  expect_pattern(&r, 200003);
  assert_non_null(resp_header(&r, "Content-Type", v, sizeof v));
  assert_string_equal(v, "application/ifc");
  assert_non_null(resp_header(&r, "Content-Disposition", v, sizeof v));
  assert_string_equal(v, "inline; filename=\"model.ifc\"");
  assert_null(resp_header(&r, "Content-Encoding", v, sizeof v));
  assert_non_null(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  assert_string_equal(v, "*");
  assert_non_null(resp_header(&r, "Access-Control-Expose-Headers", v, sizeof v));
  assert_string_equal(v, "Content-Length, Data-Title, Output-Type");
  WAIT_STAT(downloads_complete, 1);
  assert_string_equal(stats().last_token, "T");

  /* Same connection: extended data, mime override, /download/... path. */
  send_str(c.fd, "GET /download/x?token=T&action=extendeddata&edid=10&mime=text/csv "
                 "HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_pattern(&r, 10);
  assert_non_null(resp_header(&r, "Content-Type", v, sizeof v));
  assert_string_equal(v, "text/csv");
  /* An empty body. */
  send_str(c.fd, "GET /download?token=T&topicId=0 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_int_equal(r.len, 0);
  WAIT_STAT(downloads_complete, 3);
  resp_free(&r);
  conn_close(&c);
}

static void download_unknown_size_chunked(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct resp r = {0};
  char v[64];
  conn_open(&c, f->port);
  send_str(c.fd, "GET /download?token=T&topicId=u150001 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_true(r.is_chunked);
  assert_false(r.is_cut);
  assert_null(resp_header(&r, "Content-Length", v, sizeof v));
  expect_pattern(&r, 150001);
  WAIT_STAT(downloads_complete, 1);
  conn_close(&c);
  /* HTTP/1.0: no chunks; the end is the close. */
  conn_open(&c, f->port);
  send_str(c.fd, "GET /download?token=T&topicId=u70000 HTTP/1.0\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_false(r.is_chunked);
  expect_pattern(&r, 70000);
  WAIT_STAT(downloads_complete, 2);
  resp_free(&r);
  conn_close(&c);
}

static void download_errors(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct resp r = {0};
  char v[64];
  conn_open(&c, f->port);
  send_str(c.fd, "GET /download?topicId=5 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 401);
  assert_string_equal(r.body, "Token required\n");
  assert_non_null(resp_header(&r, "Content-Type", v, sizeof v));
  assert_string_equal(v, "text/plain; charset=UTF-8");
  assert_non_null(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  send_str(c.fd, "POST /download?token=T&topicId=abc HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nContent-Length: 4\r\n\r\nnull");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 404);
  assert_string_equal(r.body, "No valid topicId\n");
  /* A read error halfway: the connection is cut short of the announced length. */
  send_str(c.fd, "GET /download?token=T&topicId=e1000000 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  assert_true(r.is_cut);
  assert_true(r.len < 1000000);
  resp_free(&r);
  conn_close(&c);
  WAIT_STAT(downloads_closed, 1);
  assert_int_equal(stats().downloads_complete, 0);
}

static void download_methods(void **state)
{
  struct fx *f = *state;
  struct conn c;
  struct resp r = {0};
  char v[64];
  conn_open(&c, f->port);
  /* HEAD: the head only, and the download is not complete. */
  send_str(c.fd, "HEAD /download?token=T&topicId=5000 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(resp_read_head(&c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(resp_header(&r, "Content-Length", v, sizeof v));
  assert_string_equal(v, "5000");
  /* JS: POST with body "null"; the token from the Authorization header. */
  send_str(c.fd, "POST /download?topicId=5000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                 "hdrtok\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\nnull");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_pattern(&r, 5000);
  assert_string_equal(stats().last_token, "hdrtok");
  assert_string_equal(stats().last_header_token, "hdrtok");
  /* Java: POST without a body; PUT works too (any method). */
  send_str(c.fd, "POST /download?token=T&topicId=300 HTTP/1.1\r\nHost: x\r\nToken: h2\r\n"
                 "Content-Length: 0\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_pattern(&r, 300);
  assert_string_equal(stats().last_token, "T"); /* ?token wins */
  assert_string_equal(stats().last_header_token, "h2");
  send_str(c.fd, "PUT /download?token=T&topicId=7 HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  assert_true(resp_read(&c, &r));
  assert_int_equal(r.status, 200);
  expect_pattern(&r, 7);
  resp_free(&r);
  conn_close(&c);
  WAIT_STAT(downloads_closed, 4);
  assert_int_equal(stats().downloads_complete, 3); /* not the HEAD */
}

static void download_gzip_when_accepted(void **state)
{
  struct fx *f = *state;
  static const struct {
    const char *accept; /* NULL: no header */
    const char *query;
    bool is_gzip;
  } cases[] = {
      {"gzip, deflate, br", "", true},
      {"deflate, GZIP;q=0.5", "", true},
      {"br;q=1.0, gzip ; q=0.001", "", true},
      {"gzip;q=0", "", false},
      {"gzip; q=0.000, deflate", "", false},
      {"x-gzip, deflate", "", false},
      {"identity", "", false},
      {NULL, "", false},
      {"gzip", "&zip=on", false}, /* the module decides: zip wins */
  };
  struct conn c;
  struct resp r = {0};
  char v[64];
  conn_open(&c, f->port);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char ae[128] = "";
    if (cases[i].accept)
      snprintf(ae, sizeof ae, "Accept-Encoding: %s\r\n", cases[i].accept);
    send_fmt(c.fd, "GET /download?token=T&topicId=100%s HTTP/1.1\r\nHost: x\r\n%s\r\n",
             cases[i].query, ae);
    assert_true(resp_read(&c, &r));
    assert_int_equal(r.status, 200);
    const char *enc = resp_header(&r, "Content-Encoding", v, sizeof v);
    if (cases[i].is_gzip) {
      assert_non_null(enc);
      assert_string_equal(v, "gzip");
    } else if (enc) {
      fail_msg("case %zu: unexpected Content-Encoding %s", i, v);
    }
    bool want_accept = cases[i].is_gzip || strcmp(cases[i].query, "&zip=on") == 0;
    assert_int_equal(stats().last_accept_gzip, want_accept);
  }
  resp_free(&r);
  conn_close(&c);
}

int main(void)
{
  if (getenv("BH_TEST_QUIET") == NULL)
    bh_log_set_level("warn");
  curl_global_init(CURL_GLOBAL_DEFAULT);
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
  const struct CMUnitTest tests[] = {
      T(upload_js_fields_then_file),
      T(upload_java_part_data_chunked),
      T(upload_50mib_backpressure),
      T(upload_chunked_backpressure),
      T(upload_immediate_callbacks),
      T(upload_expect_100_continue),
      T(upload_with_libcurl),
      T(upload_not_multipart_400),
      T(upload_get_405),
      T(upload_field_over_64k_400),
      T(upload_bad_bodies_400),
      cmocka_unit_test_setup_teardown(upload_client_disconnects, fx_setup_short_idle, fx_teardown),
      cmocka_unit_test_setup_teardown(upload_client_disconnects_while_paused, fx_setup_short_idle,
                                      fx_teardown),
      T(upload_stop_while_suspended),
      T(download_known_size),
      T(download_unknown_size_chunked),
      T(download_errors),
      T(download_methods),
      T(download_gzip_when_accepted),
  };
#undef T
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
