/* idle_ws.c: opens N WebSocket connections to /stream, completes each handshake, reads the
 * welcome frame, then holds them all idle for a while (answering pings), to measure what
 * idle /stream clients cost the server.
 *
 *   idle_ws HOST PORT N SECONDS
 *
 * Prints "READY open=<n> failed=<n> ms=<n>" once every connection is welcomed or has
 * failed (stdout, flushed), then "DONE open=<n> closed_by_server=<n>" after SECONDS.
 * At most 256 handshakes are in flight at once so the listen backlog never overflows.
 * Exit code 0 when all N were welcomed and none was closed by the server; 1 otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum conn_state { C_FREE, C_CONNECTING, C_HANDSHAKE, C_WAIT_WELCOME, C_OPEN, C_DEAD };

#define BUF_CAP 2048
#define MAX_INFLIGHT 256

struct conn {
  int fd;
  enum conn_state state;
  size_t len;
  unsigned char buf[BUF_CAP];
};

static const char *g_host;
static int g_port;
static int g_epfd;
static long g_open, g_failed, g_inflight, g_closed_by_server;

static long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_fail(struct conn *c, const char *why)
{
  static int reported;
  if (c->state == C_OPEN) {
    g_open--;
    g_closed_by_server++;
  } else {
    g_failed++;
    g_inflight--;
    if (reported++ < 5)
      fprintf(stderr, "idle_ws: connection failed: %s\n", why);
  }
  epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = C_DEAD;
}

/* Sends one masked client frame (payload up to 125 bytes). */
static void send_frame(struct conn *c, int opcode, const unsigned char *p, size_t n)
{
  unsigned char f[2 + 4 + 125];
  if (n > 125)
    n = 125;
  f[0] = (unsigned char)(0x80 | opcode);
  f[1] = (unsigned char)(0x80 | n);
  uint32_t key = (uint32_t)rand();
  memcpy(f + 2, &key, 4);
  for (size_t i = 0; i < n; i++)
    f[6 + i] = p[i] ^ f[2 + (i & 3)];
  if (write(c->fd, f, 6 + n) < 0) {
    /* the socket is gone; the next read reports it */
  }
}

static int start_connect(struct conn *c)
{
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
  if (inet_pton(AF_INET, g_host, &sa.sin_addr) != 1) {
    fprintf(stderr, "idle_ws: bad IPv4 address %s\n", g_host);
    exit(2);
  }
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    perror("idle_ws: socket (raise ulimit -n)");
    return -1;
  }
  c->len = 0;
  c->state = C_CONNECTING;
  g_inflight++;
  if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
    conn_fail(c, strerror(errno));
    return 0;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

static void send_upgrade(struct conn *c)
{
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET /stream HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   g_host, g_port);
  if (write(c->fd, req, (size_t)n) != n) {
    conn_fail(c, "short write of the upgrade request");
    return;
  }
  c->state = C_HANDSHAKE;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Consumes whole frames from c->buf. */
static void parse_frames(struct conn *c)
{
  for (;;) {
    if (c->len < 2)
      return;
    int opcode = c->buf[0] & 0x0f;
    uint64_t plen = c->buf[1] & 0x7f;
    size_t off = 2;
    if (plen == 126) {
      if (c->len < 4)
        return;
      plen = ((uint64_t)c->buf[2] << 8) | c->buf[3];
      off = 4;
    } else if (plen == 127) {
      if (c->len < 10)
        return;
      plen = 0;
      for (int i = 0; i < 8; i++)
        plen = (plen << 8) | c->buf[2 + i];
      off = 10;
    }
    if (plen > BUF_CAP - off) {
      conn_fail(c, "frame larger than the buffer");
      return;
    }
    if (c->len < off + plen)
      return;
    const unsigned char *p = c->buf + off;
    if (opcode == 0x1 && c->state == C_WAIT_WELCOME) {
      if (plen >= 10 && memmem(p, plen, "\"welcome\"", 9)) {
        c->state = C_OPEN;
        g_open++;
        g_inflight--;
      }
    } else if (opcode == 0x9) {
      send_frame(c, 0xA, p, plen);
    } else if (opcode == 0x8) {
      conn_fail(c, "close frame from the server");
      return;
    }
    memmove(c->buf, c->buf + off + plen, c->len - off - plen);
    c->len -= off + plen;
  }
}

static void on_readable(struct conn *c)
{
  for (;;) {
    if (c->len == BUF_CAP) {
      conn_fail(c, "buffer full");
      return;
    }
    ssize_t r = read(c->fd, c->buf + c->len, BUF_CAP - c->len);
    if (r == 0) {
      conn_fail(c, "connection closed by the server");
      return;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR)
        break;
      conn_fail(c, strerror(errno));
      return;
    }
    c->len += (size_t)r;
  }
  if (c->state == C_HANDSHAKE) {
    unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end)
      return;
    if (c->len < 12 || memcmp(c->buf, "HTTP/1.1 101", 12) != 0) {
      conn_fail(c, "upgrade refused");
      return;
    }
    size_t hl = (size_t)(end - c->buf) + 4;
    memmove(c->buf, c->buf + hl, c->len - hl);
    c->len -= hl;
    c->state = C_WAIT_WELCOME;
  }
  if (c->state == C_WAIT_WELCOME || c->state == C_OPEN)
    parse_frames(c);
}

static void handle(struct epoll_event *ev)
{
  struct conn *c = ev->data.ptr;
  if (c->state == C_DEAD)
    return;
  if (c->state == C_CONNECTING) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
      conn_fail(c, strerror(err));
      return;
    }
    if (ev->events & EPOLLOUT)
      send_upgrade(c);
    return;
  }
  if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    on_readable(c);
}

int main(int argc, char **argv)
{
  if (argc != 5) {
    fprintf(stderr, "usage: idle_ws HOST PORT N SECONDS\n");
    return 2;
  }
  g_host = argv[1];
  g_port = atoi(argv[2]);
  long n = atol(argv[3]);
  long seconds = atol(argv[4]);
  if (g_port <= 0 || n <= 0 || seconds < 0) {
    fprintf(stderr, "idle_ws: bad arguments\n");
    return 2;
  }
  struct conn *conns = calloc((size_t)n, sizeof *conns);
  g_epfd = epoll_create1(EPOLL_CLOEXEC);
  if (!conns || g_epfd < 0) {
    perror("idle_ws");
    return 2;
  }
  struct epoll_event evs[512];
  long next = 0;
  long t0 = now_ms();
  long deadline = t0 + 120000; /* the handshakes of all N, at most */
  while (g_open + g_failed < n && now_ms() < deadline) {
    while (next < n && g_inflight < MAX_INFLIGHT) {
      if (start_connect(&conns[next]) < 0) {
        n = next; /* out of descriptors: hold what we have */
        break;
      }
      next++;
    }
    int k = epoll_wait(g_epfd, evs, 512, 100);
    for (int i = 0; i < k; i++)
      handle(&evs[i]);
  }
  long failed_or_slow = n - g_open;
  printf("READY open=%ld failed=%ld ms=%ld\n", g_open, failed_or_slow, now_ms() - t0);
  fflush(stdout);

  long end = now_ms() + seconds * 1000;
  while (now_ms() < end) {
    int k = epoll_wait(g_epfd, evs, 512, 200);
    for (int i = 0; i < k; i++)
      handle(&evs[i]);
  }
  printf("DONE open=%ld closed_by_server=%ld\n", g_open, g_closed_by_server);
  fflush(stdout);
  for (long i = 0; i < n; i++)
    if (conns[i].state != C_FREE && conns[i].state != C_DEAD)
      close(conns[i].fd);
  free(conns);
  return (failed_or_slow == 0 && g_closed_by_server == 0) ? 0 : 1;
}
