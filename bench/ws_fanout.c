/* ws_fanout.c: fan-out benchmark client. Opens N WebSocket connections from one process
 * (epoll, nonblocking sockets, its own minimal RFC 6455 framing), subscribes each one to an
 * event stream, then counts and times the events every connection receives.
 *
 *   ws_fanout HOST PORT N TOKEN POID SECONDS [options]          bimhub /stream
 *   ws_fanout HOST PORT N - POID SECONDS --mqtt [options]       MQTT 3.1.1 over WebSocket
 *
 * bimhub: each connection reads {"welcome":..}, sends {"token":T}, reads its endpoint id and
 * registers it with {"id":1,"request":{"interface":"NotificationRegistryInterface","method":
 * "registerNewRevisionOnSpecificProjectHandler","parameters":{"endPointId":E,"poid":P}},
 * "token":T} on the same socket. Pushes {"request":{..."method":"newRevision","parameters":
 * {"poid":P,"roid":R...}}} are events, keyed by roid. Server pings are answered.
 * MQTT (--mqtt): subprotocol "mqtt", CONNECT (clean session, keep-alive 60 s, PINGREQ every
 * 30 s), SUBSCRIBE to "bimhub/newRevision/POID" at QoS 0; each PUBLISH payload is parsed like
 * a bimhub push, so the roid in it keys the event.
 *
 * Options:
 *   --path P             request path (default /stream, or /mqtt with --mqtt)
 *   --events K --rate R  after READY, a driver thread makes K events at R per second:
 *   --checkin FILE --deserializer OID
 *                        bimhub: each event is a POST /upload of FILE to project POID with
 *                        sync=true (the reply carries the new roid);
 *                        MQTT: each event is one QoS 0 PUBLISH from a separate connection
 *                        with a newRevision-shaped payload padded to --size bytes (default 110).
 *   --idle S             after READY, hold the connections idle S seconds (answering pings;
 *                        the caller measures memory), print "DRIVE", then start the driver
 *   --quiet              no per-event lines
 *
 * Timing (all CLOCK_MONOTONIC, one process, so every difference is on one clock):
 *   t_req   the driver is about to write the request (check-in upload / PUBLISH)
 *   t_resp  the driver has the complete reply (bimhub: the check-in is committed; MQTT: = t_req)
 *   first   the first connection to receive the event, last: the last one
 * Per event: first-t_req (commit path + first delivery), last-t_req (delivery to the last
 * endpoint, the figure a user waits for), last-first (the fan-out itself: from the first
 * socket to the last), t_resp-t_req (bimhub: the check-in). Receiving happens on the main
 * thread while the driver thread waits for its reply, so neither blocks the other.
 *
 * The run ends SECONDS after the driver starts, but not before no push has come for --drain
 * seconds (default 5) after the driver's last event (a backlog drains and is counted), and at
 * most 60 s later.
 * SUMMARY's client_cpu_s (user + system, whole run) tells whether this client was the limit.
 *
 * Output (stdout, flushed): "READY open=.. failed=.. regfail=.. ms=..", per-event lines
 * "EVENT id=.. endpoints=.. first_ms=.. last_ms=.. spread_ms=.. req_ms=..", then
 * "SUMMARY ..." with p50/p99 of those and frames/s. Exit 0 when every connection opened and
 * every event reached every connection. Keep-alive and limits: RLIMIT_NOFILE is raised to
 * the hard limit; at most 256 handshakes are in flight at once. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP 16384
#define OUT_CAP 2048
#define MAX_INFLIGHT 256
#define MAX_EVENTS 65536

enum state {
  S_CONNECTING,
  S_UPGRADE,
  S_WELCOME,
  S_ENDPOINT,
  S_REGISTER,
  S_CONNACK,
  S_SUBACK,
  S_READY,
  S_DEAD
};

struct conn {
  int fd;
  enum state state;
  bool counted_ready;
  int64_t last_send_ns;
  size_t in_len, out_len;
  unsigned char *msg; /* fragments of a text message, or the MQTT byte stream */
  size_t msg_len, msg_cap;
  int msg_op;
  unsigned char in[IN_CAP];
  unsigned char out[OUT_CAP];
};

struct arrival {
  int64_t id; /* roid; 0: free slot */
  int64_t first, last;
  long count;
};

struct driven {
  int64_t id, t_req, t_resp;
};

static struct {
  const char *host, *token, *path, *checkin, *deserializer;
  int port, n;
  int64_t poid;
  double seconds, rate;
  int events, size;
  double idle, quiet_s;
  bool mqtt, quiet;
} g_opt = {.size = 110, .quiet_s = 5};

static int g_epfd;
static struct sockaddr_in g_addr;
static struct conn *g_conns;
static long g_open, g_failed, g_inflight, g_regfail, g_closed, g_next_to_start;
static long g_frames, g_bytes, g_event_frames, g_push_bytes_last;
static int64_t g_first_push, g_last_push;
static struct arrival g_arrivals[MAX_EVENTS * 2];
static long g_narrivals;
static struct driven g_driven[MAX_EVENTS];
static volatile long g_ndriven;
static volatile int g_driver_done;
static int g_pub_fd = -1;
static char g_regerr[256];

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("ws_fanout: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

/* --- frames ------------------------------------------------------------------------- */

/* Builds one masked client frame (FIN set) into dst; returns its length. */
static size_t ws_frame(unsigned char *dst, int opcode, const void *payload, size_t n)
{
  const unsigned char *p = payload;
  size_t h = 0;
  dst[h++] = (unsigned char)(0x80 | opcode);
  if (n < 126) {
    dst[h++] = (unsigned char)(0x80 | n);
  } else if (n < 65536) {
    dst[h++] = 0x80 | 126;
    dst[h++] = (unsigned char)(n >> 8);
    dst[h++] = (unsigned char)n;
  } else {
    dst[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      dst[h++] = (unsigned char)((uint64_t)n >> (8 * i));
  }
  uint32_t key = (uint32_t)random();
  memcpy(dst + h, &key, 4);
  unsigned char *mask = dst + h;
  h += 4;
  for (size_t i = 0; i < n; i++)
    dst[h + i] = p[i] ^ mask[i & 3];
  return h + n;
}

static void conn_kill(struct conn *c, const char *why);

static void conn_flush(struct conn *c)
{
  while (c->out_len > 0) {
    ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (w <= 0) {
      conn_kill(c, "write failed");
      return;
    }
    memmove(c->out, c->out + w, c->out_len - (size_t)w);
    c->out_len -= (size_t)w;
  }
  struct epoll_event ev = {.events = EPOLLIN | (c->out_len ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_send_raw(struct conn *c, const void *p, size_t n)
{
  if (c->state == S_DEAD)
    return;
  if (c->out_len + n > OUT_CAP) {
    conn_kill(c, "output buffer full");
    return;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  c->last_send_ns = now_ns();
  conn_flush(c);
}

static void conn_send_frame(struct conn *c, int opcode, const void *p, size_t n)
{
  unsigned char f[OUT_CAP];
  if (n + 14 > sizeof f) {
    conn_kill(c, "frame too big");
    return;
  }
  conn_send_raw(c, f, ws_frame(f, opcode, p, n));
}

/* --- events ------------------------------------------------------------------------- */

static int64_t json_int_after(const char *s, size_t n, const char *key)
{
  const char *k = memmem(s, n, key, strlen(key));
  if (!k)
    return -1;
  k += strlen(key);
  while (k < s + n && (*k == ' ' || *k == ':'))
    k++;
  if (k >= s + n || *k < '0' || *k > '9')
    return -1;
  return strtoll(k, NULL, 10);
}

static void record_event(const char *text, size_t n)
{
  if (!memmem(text, n, "\"newRevision\"", 13))
    return;
  int64_t id = json_int_after(text, n, "\"roid\"");
  if (id <= 0)
    return;
  int64_t t = now_ns();
  g_event_frames++;
  g_push_bytes_last = (long)n;
  if (!g_first_push)
    g_first_push = t;
  g_last_push = t;
  size_t cap = sizeof g_arrivals / sizeof g_arrivals[0];
  size_t i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 40) % cap;
  while (g_arrivals[i].id != 0 && g_arrivals[i].id != id)
    i = (i + 1) % cap;
  struct arrival *a = &g_arrivals[i];
  if (a->id == 0) {
    if (g_narrivals >= MAX_EVENTS)
      return;
    g_narrivals++;
    a->id = id;
    a->first = t;
  }
  a->last = t;
  a->count++;
}

static struct arrival *arrival_find(int64_t id)
{
  size_t cap = sizeof g_arrivals / sizeof g_arrivals[0];
  size_t i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 40) % cap;
  while (g_arrivals[i].id != 0) {
    if (g_arrivals[i].id == id)
      return &g_arrivals[i];
    i = (i + 1) % cap;
  }
  return NULL;
}

/* --- protocol steps ----------------------------------------------------------------- */

static void conn_ready(struct conn *c)
{
  c->state = S_READY;
  if (!c->counted_ready) {
    c->counted_ready = true;
    g_open++;
    g_inflight--;
  }
}

static void conn_kill(struct conn *c, const char *why)
{
  static int reported;
  if (c->state == S_DEAD)
    return;
  if (c->state == S_READY) {
    g_open--;
    g_closed++;
  } else {
    g_failed++;
    g_inflight--;
  }
  if (reported++ < 5)
    fprintf(stderr, "ws_fanout: connection %ld: %s\n", (long)(c - g_conns), why);
  epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->msg);
  c->msg = NULL;
  c->state = S_DEAD;
}

static void mqtt_send_connect(struct conn *c)
{
  char id[32];
  int idn = snprintf(id, sizeof id, "wf%d-%ld", (int)getpid(), (long)(c - g_conns));
  unsigned char p[64];
  size_t n = 0;
  p[n++] = 0x10;
  p[n++] = (unsigned char)(10 + 2 + idn);
  memcpy(p + n, "\0\4MQTT\4\2\0\74", 10); /* name, level 4, clean session, keep-alive 60 */
  n += 10;
  p[n++] = 0;
  p[n++] = (unsigned char)idn;
  memcpy(p + n, id, (size_t)idn);
  n += (size_t)idn;
  conn_send_frame(c, 0x2, p, n);
}

static void mqtt_send_subscribe(struct conn *c)
{
  char topic[64];
  int tn = snprintf(topic, sizeof topic, "bimhub/newRevision/%" PRId64, g_opt.poid);
  unsigned char p[96];
  size_t n = 0;
  p[n++] = 0x82;
  p[n++] = (unsigned char)(2 + 2 + tn + 1);
  p[n++] = 0;
  p[n++] = 1; /* packet id */
  p[n++] = 0;
  p[n++] = (unsigned char)tn;
  memcpy(p + n, topic, (size_t)tn);
  n += (size_t)tn;
  p[n++] = 0; /* QoS 0 */
  conn_send_frame(c, 0x2, p, n);
}

/* One text message from bimhub. */
static void on_text(struct conn *c, const char *t, size_t n)
{
  char buf[1024];
  switch (c->state) {
  case S_WELCOME:
    if (!memmem(t, n, "\"welcome\"", 9)) {
      conn_kill(c, "no welcome");
      return;
    }
    n = (size_t)snprintf(buf, sizeof buf, "{\"token\":\"%s\"}", g_opt.token);
    c->state = S_ENDPOINT;
    {
      conn_send_frame(c, 0x1, buf, n);
      return;
    }
  case S_ENDPOINT: {
    int64_t ep = json_int_after(t, n, "\"endpointid\"");
    if (ep < 0) {
      char why[160];
      snprintf(why, sizeof why, "no endpoint id: %.*s", (int)(n < 120 ? n : 120), t);
      conn_kill(c, why);
      return;
    }
    n = (size_t)snprintf(
        buf, sizeof buf,
        "{\"id\":1,\"request\":{\"interface\":\"NotificationRegistryInterface\","
        "\"method\":\"registerNewRevisionOnSpecificProjectHandler\",\"parameters\":"
        "{\"endPointId\":%" PRId64 ",\"poid\":%" PRId64 "}},\"token\":\"%s\"}",
        ep, g_opt.poid, g_opt.token);
    c->state = S_REGISTER;
    {
      conn_send_frame(c, 0x1, buf, n);
      return;
    }
  }
  case S_REGISTER:
    if (!memmem(t, n, "\"response\"", 10)) {
      record_event(t, n);
      return;
    } /* something else first: keep waiting */
    if (memmem(t, n, "\"exception\"", 11)) {
      if (g_regfail++ == 0)
        snprintf(g_regerr, sizeof g_regerr, "%.*s", (int)(n < 200 ? n : 200), t);
    }
    {
      conn_ready(c);
      return;
    }
  case S_READY: {
    record_event(t, n);
    return;
  }
  default:
    return;
  }
}

/* MQTT packets from the byte stream carried in binary frames. */
static void on_mqtt_bytes(struct conn *c)
{
  size_t off = 0;
  while (c->msg_len - off >= 2) {
    unsigned char *p = c->msg + off;
    size_t rem = 0, i = 1;
    int shift = 0;
    for (;;) {
      if (i >= c->msg_len - off)
        goto need_more;
      rem |= (size_t)(p[i] & 0x7f) << shift;
      shift += 7;
      if (!(p[i++] & 0x80))
        break;
      if (i > 4) {
        conn_kill(c, "bad MQTT length");
        return;
      }
    }
    if (c->msg_len - off < i + rem)
      goto need_more;
    int type = p[0] >> 4;
    const unsigned char *body = p + i;
    if (type == 2) { /* CONNACK */
      if (rem < 2 || body[1] != 0) {
        conn_kill(c, "CONNACK refused");
        return;
      }
      c->state = S_SUBACK;
      mqtt_send_subscribe(c);
    } else if (type == 9) { /* SUBACK */
      if (rem < 3 || body[2] == 0x80) {
        conn_kill(c, "SUBACK refused");
        return;
      }
      conn_ready(c);
    } else if (type == 3) { /* PUBLISH */
      size_t tl = rem >= 2 ? ((size_t)body[0] << 8 | body[1]) : rem;
      size_t skip = 2 + tl + (((p[0] >> 1) & 3) ? 2 : 0);
      if (skip <= rem)
        record_event((const char *)body + skip, rem - skip);
    } /* PINGRESP (13) and anything else: nothing to do */
    if (c->state == S_DEAD)
      return;
    off += i + rem;
  }
need_more:
  memmove(c->msg, c->msg + off, c->msg_len - off);
  c->msg_len -= off;
}

static void msg_append(struct conn *c, const unsigned char *p, size_t n)
{
  if (c->msg_len + n > c->msg_cap) {
    size_t cap = c->msg_cap ? c->msg_cap : 1024;
    while (cap < c->msg_len + n)
      cap *= 2;
    unsigned char *m = realloc(c->msg, cap);
    if (!m)
      die("out of memory");
    c->msg = m;
    c->msg_cap = cap;
  }
  memcpy(c->msg + c->msg_len, p, n);
  c->msg_len += n;
}

/* Parses the complete server frames in c->in. */
static void on_frames(struct conn *c)
{
  size_t off = 0;
  while (c->state != S_DEAD && c->in_len - off >= 2) {
    unsigned char *f = c->in + off;
    bool fin = f[0] & 0x80;
    int op = f[0] & 0x0f;
    uint64_t len = f[1] & 0x7f;
    size_t h = 2;
    if (f[1] & 0x80) {
      conn_kill(c, "masked server frame");
      return;
    }
    if (len == 126) {
      if (c->in_len - off < 4)
        break;
      len = (uint64_t)f[2] << 8 | f[3];
      h = 4;
    } else if (len == 127) {
      if (c->in_len - off < 10)
        break;
      len = 0;
      for (int i = 0; i < 8; i++)
        len = len << 8 | f[2 + i];
      h = 10;
    }
    if (len > IN_CAP - 16) {
      conn_kill(c, "frame too big");
      return;
    }
    if (c->in_len - off < h + len)
      break;
    unsigned char *p = f + h;
    g_frames++;
    g_bytes += (long)(h + len);
    if (op == 0x9) {
      conn_send_frame(c, 0xA, p, (size_t)len);
    } else if (op == 0x8) {
      conn_send_frame(c, 0x8, p, len >= 2 ? 2 : 0);
      {
        conn_kill(c, "closed by the server");
        return;
      }
    } else if (op == 0xA) {
      /* pong: nothing */
    } else if (g_opt.mqtt) {
      msg_append(c, p, (size_t)len); /* binary or continuation: MQTT is a byte stream */
      on_mqtt_bytes(c);
    } else if (op == 0x1 && fin && c->msg_len == 0) {
      on_text(c, (const char *)p, (size_t)len);
    } else if (op == 0x1 || op == 0x0) {
      msg_append(c, p, (size_t)len);
      if (fin) {
        on_text(c, (const char *)c->msg, c->msg_len);
        c->msg_len = 0;
      }
    }
    off += h + (size_t)len;
  }
  if (c->state == S_DEAD)
    return;
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
}

static void on_upgrade(struct conn *c)
{
  unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!end) {
    if (c->in_len == IN_CAP)
      conn_kill(c, "response head too big");
    return;
  }
  if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
    char line[80];
    snprintf(line, sizeof line, "upgrade refused: %.60s", (const char *)c->in);
    {
      conn_kill(c, line);
      return;
    }
  }
  size_t head = (size_t)(end + 4 - c->in);
  memmove(c->in, c->in + head, c->in_len - head);
  c->in_len -= head;
  if (g_opt.mqtt) {
    c->state = S_CONNACK;
    mqtt_send_connect(c);
  } else {
    c->state = S_WELCOME;
  }
  if (c->in_len)
    on_frames(c);
}

static void send_upgrade(struct conn *c)
{
  unsigned char raw[16];
  for (int i = 0; i < 16; i++)
    raw[i] = (unsigned char)random();
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char key[25];
  for (int i = 0, o = 0; i < 16; i += 3) {
    uint32_t v =
        (uint32_t)raw[i] << 16 | (i + 1 < 16 ? raw[i + 1] << 8 : 0) | (i + 2 < 16 ? raw[i + 2] : 0);
    key[o++] = b64[v >> 18 & 63];
    key[o++] = b64[v >> 12 & 63];
    key[o++] = i + 1 < 16 ? b64[v >> 6 & 63] : '=';
    key[o++] = i + 2 < 16 ? b64[v & 63] : '=';
  }
  key[24] = '\0';
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                   g_opt.path, g_opt.host, g_opt.port, key,
                   g_opt.mqtt ? "Sec-WebSocket-Protocol: mqtt\r\n" : "");
  c->state = S_UPGRADE;
  conn_send_raw(c, req, (size_t)n);
}

static void conn_start(struct conn *c)
{
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    c->state = S_DEAD;
    g_failed++;
    static int said;
    if (!said++)
      perror("ws_fanout: socket");
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->state = S_CONNECTING;
  g_inflight++;
  int r = connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->fd, &ev);
  if (r < 0 && errno != EINPROGRESS)
    conn_kill(c, "connect failed");
}

static void on_event(struct conn *c, uint32_t events)
{
  if (c->state == S_DEAD)
    return;
  if (c->state == S_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      conn_kill(c, strerror(err));
      return;
    }
    send_upgrade(c);
    return;
  }
  if (events & EPOLLOUT)
    conn_flush(c);
  if (c->state == S_DEAD || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
    return;
  for (;;) {
    size_t room = IN_CAP - c->in_len;
    ssize_t r = recv(c->fd, c->in + c->in_len, room, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (r <= 0) {
      conn_kill(c, r == 0 ? "EOF" : strerror(errno));
      return;
    }
    c->in_len += (size_t)r;
    if (c->state == S_UPGRADE)
      on_upgrade(c);
    else
      on_frames(c);
    if (c->state == S_DEAD)
      return;
    if (c->in_len == IN_CAP) {
      conn_kill(c, "input buffer full");
      return;
    }
    if ((size_t)r < room)
      return; /* drained; epoll is level-triggered, so no extra recv() for EAGAIN */
  }
}

/* --- the driver thread (blocking sockets) ------------------------------------------- */

static int tcp_connect_blocking(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static bool write_all(int fd, const void *p, size_t n)
{
  const char *s = p;
  while (n) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    s += w;
    n -= (size_t)w;
  }
  return true;
}

static void sleep_until(int64_t t)
{
  int64_t d = t - now_ns();
  if (d <= 0)
    return;
  struct timespec ts = {d / 1000000000, d % 1000000000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* bimhub: POST /upload (multipart, sync=true) and return the new roid, or -1. */
static char *g_body;
static size_t g_body_len;
static const char *BOUNDARY = "----wsfanout7MA4YWxkTrZu0gW";

static void build_upload_body(void)
{
  FILE *f = fopen(g_opt.checkin, "rb");
  if (!f)
    die("cannot open %s", g_opt.checkin);
  struct stat st;
  fstat(fileno(f), &st);
  size_t cap = (size_t)st.st_size + 4096;
  g_body = malloc(cap);
  int n =
      snprintf(g_body, cap,
               "--%s\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n%s\r\n"
               "--%s\r\nContent-Disposition: form-data; name=\"poid\"\r\n\r\n%" PRId64 "\r\n"
               "--%s\r\nContent-Disposition: form-data; name=\"deserializerOid\"\r\n\r\n%s\r\n"
               "--%s\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nws_fanout\r\n"
               "--%s\r\nContent-Disposition: form-data; name=\"sync\"\r\n\r\ntrue\r\n"
               "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.ifc\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n",
               BOUNDARY, g_opt.token, BOUNDARY, g_opt.poid, BOUNDARY, g_opt.deserializer, BOUNDARY,
               BOUNDARY, BOUNDARY);
  size_t len = (size_t)n + fread(g_body + n, 1, (size_t)st.st_size, f);
  fclose(f);
  len += (size_t)snprintf(g_body + len, cap - len, "\r\n--%s--\r\n", BOUNDARY);
  g_body_len = len;
}

static int64_t checkin_once(void)
{
  static int reported;
  int fd = tcp_connect_blocking();
  if (fd < 0)
    return -1;
  char head[512];
  int hn = snprintf(head, sizeof head,
                    "POST /upload HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
                    "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %zu\r\n\r\n",
                    g_opt.host, g_opt.port, BOUNDARY, g_body_len);
  int64_t roid = -1;
  if (write_all(fd, head, (size_t)hn) && write_all(fd, g_body, g_body_len)) {
    static char resp[65536];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof resp - 1 && (r = recv(fd, resp + n, sizeof resp - 1 - n, 0)) != 0) {
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        break;
      n += (size_t)r;
    }
    resp[n] = '\0';
    char *body = strstr(resp, "\r\n\r\n");
    if (body)
      roid = json_int_after(body, strlen(body), "\"roid\"");
    if (roid <= 0 && reported++ < 3)
      fprintf(stderr, "ws_fanout: check-in without a roid: %.300s\n", body ? body + 4 : resp);
  }
  close(fd);
  return roid;
}

/* MQTT: the publisher's own WebSocket + CONNECT, then PUBLISH frames. */
static int mqtt_publisher(void)
{
  int fd = tcp_connect_blocking();
  if (fd < 0)
    return -1;
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
                   g_opt.path, g_opt.host, g_opt.port);
  unsigned char buf[4096];
  size_t got = 0;
  if (!write_all(fd, req, (size_t)n))
    goto fail;
  while (!memmem(buf, got, "\r\n\r\n", 4)) {
    ssize_t r = recv(fd, buf + got, sizeof buf - got, 0);
    if (r <= 0)
      goto fail;
    got += (size_t)r;
  }
  if (memcmp(buf, "HTTP/1.1 101", 12) != 0)
    goto fail;
  unsigned char pkt[64], fr[128];
  static const unsigned char connect_pkt[] = {0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4,
                                              2,    0,  0, 0, 4,   'w', 'f', 'p', 'b'};
  memcpy(pkt, connect_pkt, sizeof connect_pkt);
  if (!write_all(fd, fr, ws_frame(fr, 0x2, pkt, sizeof connect_pkt)))
    goto fail;
  /* CONNACK: one small binary frame (2 header bytes + 4); a short read loop is enough */
  got = 0;
  while (got < 6) {
    ssize_t r = recv(fd, buf + got, sizeof buf - got, 0);
    if (r <= 0)
      goto fail;
    got += (size_t)r;
  }
  if ((buf[0] & 0x0f) != 0x2 || buf[2] != 0x20 || buf[5] != 0)
    goto fail;
  return fd;
fail:
  close(fd);
  return -1;
}

static bool mqtt_publish(int fd, int64_t id)
{
  char topic[64], payload[4096];
  int tn = snprintf(topic, sizeof topic, "bimhub/newRevision/%" PRId64, g_opt.poid);
  int pn =
      snprintf(payload, sizeof payload,
               "{\"request\":{\"interface\":\"NotificationInterface\",\"method\":\"newRevision\","
               "\"parameters\":{\"poid\":%" PRId64 ",\"roid\":%" PRId64 "}}}",
               g_opt.poid, id);
  /* pad to --size with spaces before the last brace: same JSON, same length as bimhub's */
  if (g_opt.size > pn && g_opt.size < (int)sizeof payload) {
    memset(payload + pn - 1, ' ', (size_t)(g_opt.size - pn));
    payload[g_opt.size - 1] = '}';
    pn = g_opt.size;
  }
  unsigned char pkt[4200], fr[4300];
  size_t rem = 2 + (size_t)tn + (size_t)pn, n = 0;
  pkt[n++] = 0x30;
  do {
    unsigned char b = rem & 0x7f;
    rem >>= 7;
    pkt[n++] = b | (rem ? 0x80 : 0);
  } while (rem);
  pkt[n++] = 0;
  pkt[n++] = (unsigned char)tn;
  memcpy(pkt + n, topic, (size_t)tn);
  n += (size_t)tn;
  memcpy(pkt + n, payload, (size_t)pn);
  n += (size_t)pn;
  return write_all(fd, fr, ws_frame(fr, 0x2, pkt, n));
}

static void *driver_main(void *arg)
{
  (void)arg;
  int pub = -1;
  if (g_opt.mqtt) {
    pub = mqtt_publisher();
    if (pub < 0) {
      fprintf(stderr, "ws_fanout: the MQTT publisher could not connect\n");
      g_driver_done = 1;
      return NULL;
    }
  } else {
    build_upload_body();
  }
  int64_t t0 = now_ns();
  int64_t step = (int64_t)(1e9 / g_opt.rate);
  for (int i = 0; i < g_opt.events && i < MAX_EVENTS; i++) {
    sleep_until(t0 + step * i);
    struct driven d = {.t_req = now_ns()};
    if (g_opt.mqtt) {
      d.id = 1000000 + i;
      if (!mqtt_publish(pub, d.id))
        d.id = -1;
      d.t_resp = d.t_req;
    } else {
      d.id = checkin_once();
      d.t_resp = now_ns();
    }
    g_driven[i] = d;
    __atomic_store_n(&g_ndriven, i + 1, __ATOMIC_RELEASE);
  }
  /* The publisher stays connected until the receiving is over: a broker that is behind may
   * still be reading our PUBLISHes, and closing now can make it drop the unread ones. */
  g_pub_fd = pub;
  __atomic_store_n(&g_driver_done, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* --- main --------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static double pct_ms(int64_t *v, long n, double p)
{
  if (n == 0)
    return -1;
  qsort(v, (size_t)n, sizeof *v, cmp_i64);
  long i = (long)(p * (double)(n - 1) + 0.5);
  return (double)v[i] / 1e6;
}

/* One turn of the event loop (50 ms at most), plus MQTT keep-alive. */
static void pump(void)
{
  struct epoll_event evs[1024];
  int k = epoll_wait(g_epfd, evs, 1024, 50);
  for (int i = 0; i < k; i++)
    on_event(evs[i].data.ptr, evs[i].events);
  static int64_t last_scan;
  int64_t now = now_ns();
  if (g_opt.mqtt && now - last_scan > 1000000000) { /* PINGREQ every 30 s per connection */
    last_scan = now;
    for (long i = 0; i < g_opt.n; i++) {
      struct conn *c = &g_conns[i];
      if (c->state == S_READY && now - c->last_send_ns > 30 * (int64_t)1000000000) {
        static const unsigned char ping[] = {0xc0, 0};
        conn_send_frame(c, 0x2, ping, 2);
      }
    }
  }
}

static void usage(void)
{
  fprintf(stderr, "usage: ws_fanout HOST PORT N TOKEN POID SECONDS [--mqtt] [--path P] "
                  "[--events K --rate R] [--checkin FILE --deserializer OID] [--size BYTES] "
                  "[--idle S] [--drain S] [--quiet]\n");
  exit(2);
}

int main(int argc, char **argv)
{
  if (argc < 7)
    usage();
  g_opt.host = argv[1];
  g_opt.port = atoi(argv[2]);
  g_opt.n = atoi(argv[3]);
  g_opt.token = argv[4];
  g_opt.poid = strtoll(argv[5], NULL, 10);
  g_opt.seconds = atof(argv[6]);
  for (int i = 7; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--mqtt"))
      g_opt.mqtt = true;
    else if (!strcmp(a, "--quiet"))
      g_opt.quiet = true;
    else if (!v)
      usage();
    else if (!strcmp(a, "--path"))
      g_opt.path = v, i++;
    else if (!strcmp(a, "--events"))
      g_opt.events = atoi(v), i++;
    else if (!strcmp(a, "--rate"))
      g_opt.rate = atof(v), i++;
    else if (!strcmp(a, "--checkin"))
      g_opt.checkin = v, i++;
    else if (!strcmp(a, "--deserializer"))
      g_opt.deserializer = v, i++;
    else if (!strcmp(a, "--drain"))
      g_opt.quiet_s = atof(v), i++;
    else if (!strcmp(a, "--idle"))
      g_opt.idle = atof(v), i++;
    else if (!strcmp(a, "--size"))
      g_opt.size = atoi(v), i++;
    else
      usage();
  }
  if (!g_opt.path)
    g_opt.path = g_opt.mqtt ? "/mqtt" : "/stream";
  if (g_opt.n <= 0 || g_opt.seconds <= 0)
    usage();
  bool drive = g_opt.events > 0;
  if (drive && (g_opt.rate <= 0 || (!g_opt.mqtt && (!g_opt.checkin || !g_opt.deserializer))))
    die("--events needs --rate, and for bimhub --checkin FILE --deserializer OID");
  srandom((unsigned)now_ns());

  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < g_opt.n + 64)
    die("RLIMIT_NOFILE hard limit %ld is below N + 64", (long)rl.rlim_cur);

  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons((uint16_t)g_opt.port);
  if (inet_pton(AF_INET, g_opt.host, &g_addr.sin_addr) != 1)
    die("HOST must be an IPv4 address");
  g_conns = calloc((size_t)g_opt.n, sizeof *g_conns);
  if (!g_conns)
    die("out of memory");
  g_epfd = epoll_create1(EPOLL_CLOEXEC);

  /* Phase 1: open and subscribe every connection. */
  int64_t t_start = now_ns();
  int64_t setup_deadline = t_start + 120 * (int64_t)1000000000;
  struct epoll_event evs[1024];
  while (g_open + g_failed + g_closed < g_opt.n) {
    while (g_next_to_start < g_opt.n && g_inflight < MAX_INFLIGHT)
      conn_start(&g_conns[g_next_to_start++]);
    int k = epoll_wait(g_epfd, evs, 1024, 100);
    for (int i = 0; i < k; i++)
      on_event(evs[i].data.ptr, evs[i].events);
    if (now_ns() > setup_deadline) {
      fprintf(stderr, "ws_fanout: setup took over 120 s, giving up on the rest\n");
      for (long i = 0; i < g_opt.n; i++)
        if (g_conns[i].state != S_READY && g_conns[i].state != S_DEAD)
          conn_kill(&g_conns[i], "setup timeout");
      g_failed += g_opt.n - g_next_to_start;
      break;
    }
  }
  int64_t t_ready = now_ns();
  printf("READY open=%ld failed=%ld regfail=%ld ms=%.0f\n", g_open, g_failed, g_regfail,
         (double)(t_ready - t_start) / 1e6);
  if (g_regfail)
    printf("REGERROR %s\n", g_regerr);
  fflush(stdout);

  /* Phase 2: hold the connections idle for --idle seconds (the caller measures memory),
   * then the driver makes events while we receive, until SECONDS have passed (and at least
   * 2 s after the driver's last event, so late deliveries are counted). */
  for (int64_t t_drive = t_ready + (int64_t)(g_opt.idle * 1e9); now_ns() < t_drive;)
    pump();
  if (g_opt.idle > 0) {
    printf("DRIVE open=%ld closed=%ld\n", g_open, g_closed);
    fflush(stdout);
  }
  pthread_t th;
  if (drive && pthread_create(&th, NULL, driver_main, NULL) != 0)
    die("pthread_create");
  long frames_at_ready = g_frames;
  int64_t t_run = now_ns();
  int64_t end = t_run + (int64_t)(g_opt.seconds * 1e9);
  int64_t driver_end = 0;
  for (;;) {
    int64_t now = now_ns();
    if (drive && !driver_end && __atomic_load_n(&g_driver_done, __ATOMIC_ACQUIRE))
      driver_end = now;
    /* with a driver: also until no push came for 2 s after its last event (a backlog
     * drains and is counted), but at most 60 s past SECONDS */
    if (now >= end && (!drive ||
                       (driver_end && now >= driver_end + 2000000000 &&
                        now >= g_last_push + (int64_t)(g_opt.quiet_s * 1e9)) ||
                       now >= end + 60 * (int64_t)1000000000))
      break;
    pump();
  }
  if (drive)
    pthread_join(th, NULL);
  if (g_pub_fd >= 0) {
    static const unsigned char disc[] = {0xe0, 0};
    unsigned char fr[16];
    write_all(g_pub_fd, fr, ws_frame(fr, 0x2, disc, 2));
    close(g_pub_fd);
  }
  int64_t t_end = now_ns();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

  /* Results. */
  long nd = __atomic_load_n(&g_ndriven, __ATOMIC_ACQUIRE);
  int64_t *v_first = calloc((size_t)nd + 1, 8), *v_last = calloc((size_t)nd + 1, 8);
  int64_t *v_spread = calloc((size_t)nd + 1, 8), *v_req = calloc((size_t)nd + 1, 8);
  long nv = 0, complete = 0, missing = 0;
  for (long i = 0; i < nd; i++) {
    struct driven *d = &g_driven[i];
    struct arrival *a = d->id > 0 ? arrival_find(d->id) : NULL;
    if (!a) {
      missing++;
      if (!g_opt.quiet)
        printf("EVENT id=%" PRId64 " endpoints=0 req_ms=%.3f\n", d->id,
               (double)(d->t_resp - d->t_req) / 1e6);
      continue;
    }
    v_first[nv] = a->first - d->t_req;
    v_last[nv] = a->last - d->t_req;
    v_spread[nv] = a->last - a->first;
    v_req[nv] = d->t_resp - d->t_req;
    if (a->count >= g_open)
      complete++;
    if (!g_opt.quiet)
      printf("EVENT id=%" PRId64 " endpoints=%ld first_ms=%.3f last_ms=%.3f spread_ms=%.3f "
             "req_ms=%.3f\n",
             d->id, a->count, (double)v_first[nv] / 1e6, (double)v_last[nv] / 1e6,
             (double)v_spread[nv] / 1e6, (double)v_req[nv] / 1e6);
    nv++;
  }
  if (!drive) { /* no driver: report what arrived, per roid */
    size_t cap = sizeof g_arrivals / sizeof g_arrivals[0];
    for (size_t i = 0; i < cap; i++)
      if (g_arrivals[i].id && !g_opt.quiet)
        printf("EVENT id=%" PRId64 " endpoints=%ld spread_ms=%.3f\n", g_arrivals[i].id,
               g_arrivals[i].count, (double)(g_arrivals[i].last - g_arrivals[i].first) / 1e6);
  }
  double window = g_last_push > g_first_push ? (double)(g_last_push - g_first_push) / 1e9 : 0;
  double p50_first = pct_ms(v_first, nv, 0.5), p99_first = pct_ms(v_first, nv, 0.99);
  double p50_last = pct_ms(v_last, nv, 0.5), p99_last = pct_ms(v_last, nv, 0.99);
  double p50_spread = pct_ms(v_spread, nv, 0.5), p99_spread = pct_ms(v_spread, nv, 0.99);
  double p50_req = pct_ms(v_req, nv, 0.5), p99_req = pct_ms(v_req, nv, 0.99);
  double drive_s = nd > 1 ? (double)(g_driven[nd - 1].t_req - g_driven[0].t_req) / 1e9 : 0;
  printf("SUMMARY mode=%s conns=%ld failed=%ld closed=%ld regfail=%ld events=%ld "
         "delivered_events=%ld complete=%ld missing=%ld event_rate=%.1f push_frames=%ld "
         "push_bytes=%ld frames_per_s=%.0f first_p50_ms=%.3f first_p99_ms=%.3f "
         "last_p50_ms=%.3f last_p99_ms=%.3f spread_p50_ms=%.3f spread_p99_ms=%.3f "
         "req_p50_ms=%.3f req_p99_ms=%.3f frames_after_ready=%ld run_s=%.1f "
         "client_cpu_s=%.2f\n",
         g_opt.mqtt ? "mqtt" : "bimhub", g_open, g_failed, g_closed, g_regfail, nd, nv, complete,
         missing, drive_s > 0 ? (double)(nd - 1) / drive_s : 0, g_event_frames, g_push_bytes_last,
         window > 0 ? (double)g_event_frames / window : 0, p50_first, p99_first, p50_last, p99_last,
         p50_spread, p99_spread, p50_req, p99_req, g_frames - frames_at_ready,
         (double)(t_end - t_run) / 1e9, cpu_s);
  fflush(stdout);
  for (long i = 0; i < g_opt.n; i++)
    if (g_conns[i].state != S_DEAD)
      close(g_conns[i].fd);
  bool ok = g_failed == 0 && g_closed == 0 && (!drive || (complete == nd && nd > 0));
  return ok ? 0 : 1;
}
