/* deliver_sink.c: a small, fast receiver of bimhub's service notifications, for
 * bench/bench_deliver.sh. libmicrohttpd with its own epoll threads (a pool of N), keep-alive;
 * every request is answered 200 {"response":{"result":{}}}. For each request it keeps the
 * number after the last '_' of its webhook-id header (-1 without one) and the arrival time
 * (CLOCK_REALTIME, µs: the server's created_ms is wall-clock ms) of its headers, in memory.
 *
 *   deliver_sink PORT [--threads N] [--count N] [--out FILE] [--cap N] [--progress]
 *
 * Prints "READY port=PORT" once listening. When --count requests have arrived (or on
 * SIGTERM/SIGINT, whichever comes first) it writes FILE ("id arrival_us" per line, in arrival
 * order) and prints one line
 *   SINK requests=.. with_id=.. unique=.. dup=.. first_us=.. p10_us=.. p50_us=.. last_us=..
 * (p10_us: arrival of the request at 10 % of the count, or of all received without --count);
 * it keeps answering until SIGTERM/SIGINT, so the last deliveries still get their 200.
 * --progress: "PROGRESS n" on stdout every 200 ms while the count changes.
 * Build: cc -O2 -o deliver_sink deliver_sink.c $(pkg-config --cflags --libs libmicrohttpd) */
#define _GNU_SOURCE
#include <errno.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

struct rec {
  int64_t id;
  int64_t t_us;
};

static struct rec *g_recs;
static size_t g_cap;
static atomic_size_t g_n;       /* slots claimed (may exceed g_cap: those are counted only) */
static atomic_size_t g_written; /* slots whose record is complete */
static size_t g_count;          /* 0: until a signal */
static struct MHD_Response *g_resp;
static volatile sig_atomic_t g_stop;
static int g_done_pipe[2];

static const char BODY[] = "{\"response\":{\"result\":{}}}";

static int64_t now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t id_of(const char *h)
{
  if (!h)
    return -1;
  const char *u = strrchr(h, '_');
  const char *p = u ? u + 1 : h;
  if (*p < '0' || *p > '9')
    return -1;
  return strtoll(p, NULL, 10);
}

/* con_cls: NULL on the first call of a request; then &marker until the body is read. */
static int marker;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
  (void)cls, (void)url, (void)method, (void)version, (void)data;
  if (*con_cls == NULL) {
    /* headers complete: this is the arrival */
    int64_t t = now_us();
    int64_t id = id_of(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id"));
    size_t k = atomic_fetch_add(&g_n, 1);
    if (k < g_cap) {
      g_recs[k].id = id;
      g_recs[k].t_us = t;
    }
    atomic_fetch_add(&g_written, 1);
    if (g_count && k + 1 == g_count) {
      char b = 1;
      if (write(g_done_pipe[1], &b, 1) < 0) {
      }
    }
    *con_cls = &marker;
    return MHD_YES;
  }
  if (*data_size) {
    *data_size = 0; /* the body is not looked at */
    return MHD_YES;
  }
  return MHD_queue_response(c, MHD_HTTP_OK, g_resp);
}

static int cmp_t(const void *a, const void *b)
{
  int64_t x = ((const struct rec *)a)->t_us, y = ((const struct rec *)b)->t_us;
  return (x > y) - (x < y);
}

static int cmp_id(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Writes the records and prints the summary line. */
static void dump(const char *out)
{
  size_t total = atomic_load(&g_n);
  /* wait (briefly) for the records being written by other threads */
  for (int i = 0; i < 1000 && atomic_load(&g_written) < total; i++)
    usleep(1000);
  size_t n = total < g_cap ? total : g_cap;
  struct rec *r = malloc((n ? n : 1) * sizeof *r);
  int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
  if (!r || !ids) {
    fprintf(stderr, "deliver_sink: out of memory\n");
    exit(1);
  }
  memcpy(r, g_recs, n * sizeof *r);
  qsort(r, n, sizeof *r, cmp_t);
  size_t with_id = 0;
  for (size_t i = 0; i < n; i++)
    if (r[i].id >= 0)
      ids[with_id++] = r[i].id;
  qsort(ids, with_id, sizeof *ids, cmp_id);
  size_t unique = 0;
  for (size_t i = 0; i < with_id; i++)
    if (i == 0 || ids[i] != ids[i - 1])
      unique++;
  if (out) {
    FILE *f = fopen(out, "w");
    if (!f) {
      fprintf(stderr, "deliver_sink: cannot write %s: %s\n", out, strerror(errno));
    } else {
      for (size_t i = 0; i < n; i++)
        fprintf(f, "%lld %lld\n", (long long)r[i].id, (long long)r[i].t_us);
      fclose(f);
    }
  }
  size_t base = g_count ? g_count : n;
  size_t k10 = base / 10, k50 = base / 2;
  if (k10 > 0)
    k10--;
  if (k50 > 0)
    k50--;
  printf("SINK requests=%zu with_id=%zu unique=%zu dup=%zu first_us=%lld p10_us=%lld "
         "p50_us=%lld last_us=%lld\n",
         total, with_id, unique, with_id - unique, n ? (long long)r[0].t_us : 0LL,
         k10 < n ? (long long)r[k10].t_us : 0LL, k50 < n ? (long long)r[k50].t_us : 0LL,
         n ? (long long)r[n - 1].t_us : 0LL);
  if (total > g_cap)
    printf("WARNING: %zu requests beyond --cap %zu were counted but not kept\n", total - g_cap,
           g_cap);
  fflush(stdout);
  free(r);
  free(ids);
}

static void on_signal(int sig)
{
  (void)sig;
  g_stop = 1;
  char b = 0;
  if (write(g_done_pipe[1], &b, 1) < 0) {
  }
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: deliver_sink PORT [--threads N] [--count N] [--out FILE] [--cap N] "
                    "[--progress]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  unsigned threads = 2;
  const char *out = NULL;
  bool progress = false;
  g_cap = 16u << 20;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = (unsigned)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--count") && i + 1 < argc)
      g_count = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--out") && i + 1 < argc)
      out = argv[++i];
    else if (!strcmp(argv[i], "--cap") && i + 1 < argc)
      g_cap = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--progress"))
      progress = true;
    else {
      fprintf(stderr, "deliver_sink: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (threads < 1)
    threads = 1;
  if (g_count > g_cap)
    g_cap = g_count;
  /* untouched pages cost nothing */
  g_recs = mmap(NULL, g_cap * sizeof *g_recs, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (g_recs == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  if (pipe(g_done_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  g_resp = MHD_create_response_from_buffer(sizeof BODY - 1, (void *)BODY, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(g_resp, "Content-Type", "application/json; charset=UTF-8");
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO;
  struct MHD_Daemon *d;
  if (threads > 1)
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                         MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, 60000u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
                         MHD_OPTION_END);
  else
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                         MHD_OPTION_CONNECTION_LIMIT, 60000u, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "deliver_sink: cannot listen on port %d\n", port);
    return 1;
  }
  printf("READY port=%d threads=%u count=%zu\n", port, threads, g_count);
  fflush(stdout);

  bool dumped = false;
  size_t last_shown = 0;
  while (!g_stop) {
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(g_done_pipe[0], &rs);
    struct timeval tv = {0, 200000};
    int r = select(g_done_pipe[0] + 1, &rs, NULL, NULL, &tv);
    if (r > 0) {
      char b;
      if (read(g_done_pipe[0], &b, 1) < 0) {
      }
    }
    size_t n = atomic_load(&g_n);
    if (progress && n != last_shown) {
      printf("PROGRESS %zu\n", n);
      fflush(stdout);
      last_shown = n;
    }
    if (!dumped && g_count && n >= g_count) {
      dump(out);
      printf("DONE\n");
      fflush(stdout);
      dumped = true;
    }
  }
  if (!dumped)
    dump(out);
  MHD_stop_daemon(d);
  MHD_destroy_response(g_resp);
  return 0;
}
