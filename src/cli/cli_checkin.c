/* cli_checkin.c: `bimhub checkin` and `bimhub download`.
 *
 * A check-in reserves a topic first (initiateCheckin), registers a progress handler for it on
 * a /stream endpoint (the SDK's stream client), then uploads the file with that topic: the
 * server's progress pushes arrive from the first byte on. The upload's own bytes come from
 * the SDK's progress callback. Both drive one display: a bar redrawn in place on a terminal,
 * or plain lines (one per 10 % of the upload and per new server state) otherwise. When no
 * endpoint can be had (or with --poll) the state is read with getProgress instead; with an
 * endpoint getProgress is still asked now and then, in case a push was missed.
 *
 * SIGINT or SIGTERM during the upload stops it and frees the project (cleanupLongAction);
 * once the upload is done the check-in goes on on the server and only the waiting stops.
 *
 * Threads: the upload and the polling run on the main thread, the pushes arrive on the
 * stream's thread; struct ci's lock guards the state and the terminal. */
#include "cli/cli_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CI_CONNECT_WAIT_MS 5000
#define CI_POLL_MS 250         /* without an endpoint */
#define CI_SAFETY_POLL_MS 2000 /* with one: in case a push was missed */
#define CI_BAR_WIDTH 24

static volatile sig_atomic_t ci_interrupted;

static void on_interrupt(int sig)
{
  (void)sig;
  ci_interrupted = 1;
}

struct ci {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* the stream (its thread writes, the main thread waits) */
  bool is_connected, is_subscribed, has_stream_failed;
  int64_t endpoint;
  char stream_error[BIMHUB_ERROR_MESSAGE_MAX];
  /* progress */
  int64_t topic;
  json_t *state; /* the newest SLongActionState, owned */
  bool is_final;
  int64_t up_done, up_total;
  /* display */
  bool is_tty, is_quiet;
  const char *file_name;
  int up_bucket;         /* lines: the last 10 % step of the upload printed */
  char last_server[600]; /* lines: the last server line printed */
  bool bar_drawn;
};

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int term_columns(void)
{
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
    return ws.ws_col;
  return 80;
}

/* The bar: name [#####-----] pct% label. Under ci->lock. */
static void draw_bar(struct ci *ci)
{
  int pct = -1;
  char label[300];
  const char *title = bimhub_json_str(ci->state, "title");
  bool uploading = ci->up_total <= 0 || ci->up_done < ci->up_total;
  if (ci->state && (!uploading || ci->is_final)) {
    pct = (int)bimhub_json_int(ci->state, "progress", -1);
    snprintf(label, sizeof label, "%s", title ? title : cli_str(ci->state, "state"));
  } else {
    char done[32], total[32];
    cli_format_bytes(ci->up_done, done, sizeof done);
    cli_format_bytes(ci->up_total > 0 ? ci->up_total : 0, total, sizeof total);
    pct = ci->up_total > 0 ? (int)(ci->up_done * 100 / ci->up_total) : -1;
    snprintf(label, sizeof label, "uploading %s / %s%s%s", done, total, title ? ", " : "",
             title ? title : "");
  }
  char bar[CI_BAR_WIDTH + 1];
  int fill = pct < 0 ? 0 : (pct > 100 ? 100 : pct) * CI_BAR_WIDTH / 100;
  for (int i = 0; i < CI_BAR_WIDTH; i++)
    bar[i] = i < fill ? '#' : '-';
  bar[CI_BAR_WIDTH] = '\0';
  char pct_text[8] = "  ?%";
  if (pct >= 0)
    snprintf(pct_text, sizeof pct_text, "%3d%%", pct > 100 ? 100 : pct);
  char line[1024];
  int n = snprintf(line, sizeof line, "%s [%s] %s  %s", ci->file_name, bar, pct_text, label);
  int cols = term_columns() - 1;
  if (n > cols && cols > 0 && (size_t)cols < sizeof line)
    line[cols] = '\0';
  printf("\r\033[K%s", line);
  fflush(stdout);
  ci->bar_drawn = true;
}

/* Lines: the upload every 10 %, a server state when it says something new. Under ci->lock. */
static void print_lines(struct ci *ci)
{
  if (ci->up_total > 0) {
    int bucket = (int)(ci->up_done * 10 / ci->up_total);
    if (bucket > ci->up_bucket) {
      ci->up_bucket = bucket;
      printf("upload %d%% %lld/%lld\n", bucket * 10, (long long)ci->up_done,
             (long long)ci->up_total);
    }
  }
  if (ci->state) {
    int pct = (int)bimhub_json_int(ci->state, "progress", -1);
    char line[600];
    snprintf(line, sizeof line, "server %d%% %s %s", pct < 0 ? 0 : pct, cli_str(ci->state, "state"),
             cli_str(ci->state, "title"));
    /* the same words with a percentage in the same 10 % step add nothing */
    char key[600], last_key[600];
    snprintf(key, sizeof key, "%d %s %s", pct / 10, cli_str(ci->state, "state"),
             cli_str(ci->state, "title"));
    snprintf(last_key, sizeof last_key, "%s", ci->last_server);
    if (strcmp(key, last_key) != 0) {
      snprintf(ci->last_server, sizeof ci->last_server, "%s", key);
      puts(line);
    }
  }
  fflush(stdout);
}

static void show(struct ci *ci)
{
  if (ci->is_quiet)
    return;
  if (ci->is_tty)
    draw_bar(ci);
  else
    print_lines(ci);
}

static bool is_final_state(const json_t *st)
{
  const char *s = bimhub_json_str(st, "state");
  return s && (strcmp(s, "FINISHED") == 0 || strcmp(s, "AS_ERROR") == 0);
}

/* A state from a push or a poll: kept unless a final one is already there. Under ci->lock. */
static void take_state(struct ci *ci, json_t *st)
{
  if (ci->is_final || json_object_size(st) == 0)
    return;
  if (ci->state && json_equal(ci->state, st))
    return;
  json_decref(ci->state);
  ci->state = json_incref(st);
  ci->is_final = is_final_state(st);
  show(ci);
  if (ci->is_final)
    pthread_cond_broadcast(&ci->cond);
}

/* ---- the stream's callbacks (its thread) ---- */

static void on_status(void *arg, const struct bimhub_stream_status *st)
{
  struct ci *ci = arg;
  pthread_mutex_lock(&ci->lock);
  switch (st->event) {
  case BIMHUB_STREAM_CONNECTED:
  case BIMHUB_STREAM_RESUMED:
    ci->is_connected = true;
    ci->endpoint = st->endpoint_id;
    break;
  case BIMHUB_STREAM_SUBSCRIBED:
    if (st->sub_kind == BIMHUB_SUB_PROGRESS && st->sub_a == ci->topic)
      ci->is_subscribed = true;
    break;
  case BIMHUB_STREAM_DISCONNECTED:
  case BIMHUB_STREAM_SUBSCRIBE_FAILED:
  case BIMHUB_STREAM_STOPPED:
    /* before the registration this ends the use of the stream; after it, polling covers */
    if (!ci->is_subscribed) {
      ci->has_stream_failed = true;
      snprintf(ci->stream_error, sizeof ci->stream_error, "%s",
               st->error ? st->error->message : "the endpoint closed");
    }
    break;
  default:
    break;
  }
  pthread_cond_broadcast(&ci->cond);
  pthread_mutex_unlock(&ci->lock);
}

static void on_progress(void *arg, int64_t topic_id, json_t *state)
{
  struct ci *ci = arg;
  pthread_mutex_lock(&ci->lock);
  if (topic_id == ci->topic)
    take_state(ci, state);
  pthread_mutex_unlock(&ci->lock);
}

/* ---- the upload's progress (main thread) ---- */

static int on_upload(void *arg, const struct bimhub_progress *p)
{
  struct ci *ci = arg;
  if (ci_interrupted)
    return 1; /* cuts the upload off */
  if (p->phase != BIMHUB_PROGRESS_UPLOAD)
    return 0;
  pthread_mutex_lock(&ci->lock);
  /* p->total counts the multipart framing too: show the file's bytes */
  ci->up_done = p->total > 0 ? p->done * ci->up_total / p->total : p->done;
  if (ci->up_done > ci->up_total)
    ci->up_done = ci->up_total;
  show(ci);
  pthread_mutex_unlock(&ci->lock);
  return 0;
}

/* Waits (under ci->lock) until pred or ms pass. */
static void wait_locked(struct ci *ci, long ms)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&ci->cond, &ci->lock, &ts);
}

/* Opens the endpoint and registers the topic's progress handler. NULL (and a note in
 * ci->stream_error) when that cannot be done in time: the caller polls. */
static struct bimhub_stream *open_stream(struct cli *c, struct ci *ci)
{
  struct bimhub_stream_handlers h = {.on_status = on_status, .on_progress = on_progress};
  struct bimhub_stream_options o = {.connect_timeout_ms = CI_CONNECT_WAIT_MS};
  struct bimhub_error err = {0};
  struct bimhub_stream *s = bimhub_stream_new(c->api, &h, ci, &o, &err);
  /* the stream's thread keeps SIGINT and SIGTERM blocked: the main thread takes them */
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  enum bimhub_rc rc = s ? bimhub_stream_start(s, &err) : BIMHUB_NOMEM;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != BIMHUB_OK) {
    snprintf(ci->stream_error, sizeof ci->stream_error, "%s", err.message);
    bimhub_stream_free(s);
    return NULL;
  }
  int64_t until = mono_ms() + CI_CONNECT_WAIT_MS + 1000;
  pthread_mutex_lock(&ci->lock);
  while (!ci->is_connected && !ci->has_stream_failed && mono_ms() < until)
    wait_locked(ci, 100);
  bool ok = ci->is_connected && !ci->has_stream_failed;
  if (!ok && !ci->stream_error[0])
    snprintf(ci->stream_error, sizeof ci->stream_error, "no endpoint in time");
  pthread_mutex_unlock(&ci->lock);
  if (!ok) {
    bimhub_stream_free(s);
    return NULL;
  }
  return s;
}

static bool subscribe_topic(struct bimhub_stream *s, struct ci *ci)
{
  if (bimhub_stream_subscribe(s, BIMHUB_SUB_PROGRESS, ci->topic, 0) != BIMHUB_OK)
    return false;
  int64_t until = mono_ms() + CI_CONNECT_WAIT_MS;
  pthread_mutex_lock(&ci->lock);
  while (!ci->is_subscribed && !ci->has_stream_failed && mono_ms() < until)
    wait_locked(ci, 100);
  bool ok = ci->is_subscribed;
  if (!ok && !ci->stream_error[0])
    snprintf(ci->stream_error, sizeof ci->stream_error, "the registration was not confirmed");
  pthread_mutex_unlock(&ci->lock);
  return ok;
}

static void extension_of(const char *path, char *out, size_t len)
{
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash ? slash : path, '.');
  snprintf(out, len, "%s", dot ? dot + 1 : "ifc");
  for (char *p = out; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
}

static int run_checkin(struct cli *c, const struct cli_args *a)
{
  const char *path = a->pos[0];
  struct stat sb;
  if (stat(path, &sb) != 0)
    return cli_fail(CLI_EXIT_FAILED, "cannot read %s: %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return cli_fail(CLI_EXIT_FAILED, "%s is not a file", path);
  FILE *probe = fopen(path, "rb");
  if (!probe)
    return cli_fail(CLI_EXIT_FAILED, "cannot read %s: %s", path, strerror(errno));
  fclose(probe);
  int64_t poid;
  int code = cli_find_poid(c, cli_arg(a, "project"), &poid);
  if (code)
    return code;

  struct bimhub_error err = {0};
  int64_t deserializer = 0;
  const char *des = cli_arg(a, "deserializer");
  if (des && !cli_parse_id(des, &deserializer))
    return cli_fail(CLI_EXIT_USAGE, "checkin: --deserializer takes an oid");
  if (!deserializer) {
    char ext[16];
    extension_of(path, ext, sizeof ext);
    enum bimhub_rc rc = bimhub_get_suggested_deserializer(c->api, ext, poid, &deserializer, &err);
    if (rc == BIMHUB_NOT_FOUND)
      return cli_fail(CLI_EXIT_FAILED, "no deserializer for .%s files in project %lld", ext,
                      (long long)poid);
    if (rc != BIMHUB_OK)
      return cli_fail_rc(rc, &err, "checkin");
  }

  const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  struct ci ci = {.is_tty = c->is_tty,
                  .is_quiet = cli_flag(a, "quiet"),
                  .file_name = name,
                  .up_bucket = -1,
                  .up_total = (int64_t)sb.st_size,
                  .topic = -1};
  pthread_mutex_init(&ci.lock, NULL);
  pthread_cond_init(&ci.cond, NULL);

  struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
  sigemptyset(&sa.sa_mask);
  ci_interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  struct bimhub_stream *s = cli_flag(a, "poll") ? NULL : open_stream(c, &ci);
  json_t *t = NULL;
  enum bimhub_rc rc = bimhub_client_call(
      c->api, "ServiceInterface", "initiateCheckin",
      json_pack("{s:I,s:I}", "poid", (json_int_t)poid, "deserializerOid", (json_int_t)deserializer),
      &t, &err);
  if (rc == BIMHUB_OK && !json_is_integer(t))
    rc = BIMHUB_PROTOCOL;
  if (rc != BIMHUB_OK) {
    json_decref(t);
    bimhub_stream_free(s);
    code = cli_fail_rc(rc, &err, "checkin");
    goto out;
  }
  ci.topic = (int64_t)json_integer_value(t);
  json_decref(t);
  if (s && !subscribe_topic(s, &ci)) {
    bimhub_stream_free(s);
    s = NULL;
  }
  if (!ci.is_quiet && !ci.is_tty) {
    printf("checkin %s (%lld bytes) to project %lld, topic %lld\n", name, (long long)sb.st_size,
           (long long)poid, (long long)ci.topic);
    if (s)
      printf("progress via /stream endpoint %lld\n", (long long)ci.endpoint);
    else if (cli_flag(a, "poll"))
      printf("progress by polling getProgress\n");
    else
      printf("progress by polling getProgress (no /stream: %s)\n", ci.stream_error);
    fflush(stdout);
  }

  if (ci_interrupted) {
    struct bimhub_error ignored;
    bimhub_cleanup_long_action(c->api, ci.topic, &ignored);
    bimhub_stream_free(s);
    code = cli_fail(CLI_EXIT_INTERRUPTED, "checkin interrupted before the upload");
    goto out;
  }
  bimhub_client_set_progress(c->api, on_upload, &ci);
  struct bimhub_checkin_options o = {
      .deserializer_oid = deserializer, .topic_id = ci.topic, .no_wait = true};
  struct bimhub_checkin_result res;
  rc = bimhub_checkin_file(c->api, poid, path, cli_arg(a, "comment"), &o, &res, &err);
  bimhub_client_set_progress(c->api, NULL, NULL);
  json_decref(res.state);
  if (rc != BIMHUB_OK) {
    struct bimhub_error ignored;
    bimhub_cleanup_long_action(c->api, ci.topic, &ignored); /* frees the project */
    bimhub_stream_free(s);
    if (ci.bar_drawn)
      fputc('\n', stdout);
    if (ci_interrupted)
      code = cli_fail(CLI_EXIT_INTERRUPTED,
                      "checkin interrupted: the upload was stopped (no revision; project %lld is "
                      "free again once the server has dropped it)",
                      (long long)poid);
    else
      code = cli_fail_rc(rc, &err, "checkin");
    goto out;
  }

  /* the outcome: pushed, or polled */
  int64_t last_poll = s ? mono_ms() : 0;
  pthread_mutex_lock(&ci.lock);
  while (!ci.is_final && !ci_interrupted) {
    long every = s ? CI_SAFETY_POLL_MS : CI_POLL_MS;
    long left = every - (long)(mono_ms() - last_poll);
    if (left > 0) {
      wait_locked(&ci, left < 200 ? left : 200); /* short: an interrupt is seen soon */
      continue;
    }
    pthread_mutex_unlock(&ci.lock);
    json_t *st = NULL;
    rc = bimhub_get_progress(c->api, ci.topic, &st, &err);
    last_poll = mono_ms();
    pthread_mutex_lock(&ci.lock);
    if (rc != BIMHUB_OK)
      break;
    take_state(&ci, st);
    json_decref(st);
  }
  json_t *final = json_incref(ci.state);
  bool bar = ci.bar_drawn;
  pthread_mutex_unlock(&ci.lock);
  bimhub_stream_free(s);
  if (bar)
    fputc('\n', stdout);

  if (rc != BIMHUB_OK) {
    code = cli_fail_rc(rc, &err, "checkin: waiting for the server");
  } else if (!final || !is_final_state(final)) {
    code = cli_fail(CLI_EXIT_INTERRUPTED,
                    "interrupted: the check-in goes on on the server (topic %lld, project %lld)",
                    (long long)ci.topic, (long long)poid);
    json_decref(final);
    goto out;
  } else if (strcmp(cli_str(final, "state"), "FINISHED") == 0) {
    printf("%lld\n", (long long)bimhub_json_int(final, "roid", -1));
  } else {
    json_t *errors = json_object_get(final, "errors");
    const char *msg = json_string_value(json_array_get(errors, 0));
    code = cli_fail(CLI_EXIT_FAILED, "checkin of %s failed: %s", name,
                    msg ? msg : cli_str(final, "title"));
  }
  json_decref(final);
  struct bimhub_error ignored;
  bimhub_cleanup_long_action(c->api, ci.topic, &ignored);
out:
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  pthread_mutex_lock(&ci.lock);
  json_decref(ci.state);
  ci.state = NULL;
  pthread_mutex_unlock(&ci.lock);
  pthread_cond_destroy(&ci.cond);
  pthread_mutex_destroy(&ci.lock);
  return code;
}

/* ---- download ---- */

struct dl {
  const char *name;
  bool bar_drawn;
};

static int on_download(void *arg, const struct bimhub_progress *p)
{
  struct dl *d = arg;
  if (p->phase != BIMHUB_PROGRESS_DOWNLOAD)
    return 0;
  char done[32];
  cli_format_bytes(p->done, done, sizeof done);
  if (p->total > 0)
    fprintf(stderr, "\r\033[K%s %3d%% %s", d->name, p->percent, done);
  else
    fprintf(stderr, "\r\033[K%s %s", d->name, done);
  d->bar_drawn = true;
  return 0;
}

static int run_download(struct cli *c, const struct cli_args *a)
{
  int64_t roid, serializer = 0;
  if (!cli_parse_id(a->pos[0], &roid))
    return cli_fail(CLI_EXIT_USAGE, "download: ROID must be a revision's oid (got '%s')",
                    a->pos[0]);
  const char *ser = cli_arg(a, "serializer");
  if (ser && !cli_parse_id(ser, &serializer))
    return cli_fail(CLI_EXIT_USAGE, "download: --serializer takes an oid");
  const char *out = cli_arg(a, "output");
  bool to_stdout = strcmp(out, "-") == 0;
  struct dl d = {.name = to_stdout ? "download" : out};
  if (isatty(STDERR_FILENO) == 1 && !cli_flag(a, "quiet"))
    bimhub_client_set_progress(c->api, on_download, &d);
  struct bimhub_error err = {0};
  enum bimhub_rc rc = to_stdout
                          ? bimhub_download_revision_to_fp(c->api, roid, serializer, stdout, &err)
                          : bimhub_download_revision_to_file(c->api, roid, serializer, out, &err);
  if (d.bar_drawn)
    fputc('\n', stderr);
  if (rc == BIMHUB_HTTP && err.http_status >= 400 && err.http_status < 500)
    return cli_fail(CLI_EXIT_FAILED, "download: %s", err.message);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "download");
  struct stat sb;
  if (!to_stdout && !cli_flag(a, "quiet") && stat(out, &sb) == 0)
    printf("%lld bytes written to %s\n", (long long)sb.st_size, out);
  return CLI_EXIT_OK;
}

static const struct cli_opt checkin_opts[] = {
    {"project", 'p', "PROJECT", "the project (name or poid)", true},
    {"comment", 'm', "TEXT", "the revision's comment"},
    {"deserializer", 0, "OID",
     "the deserializer (default: the server's suggestion for the file's "
     "extension)"},
    {"poll", 0, NULL, "follow the progress with getProgress instead of /stream pushes"},
    {"quiet", 'q', NULL, "no progress; print only the roid"},
    {NULL},
};

static const struct cli_opt download_opts[] = {
    {"output", 'o', "FILE", "where to write the model ('-': stdout)", true},
    {"serializer", 0, "OID", "the serializer (default: IFC STEP, the file as checked in)"},
    {"quiet", 'q', NULL, "no progress and no summary"},
    {NULL},
};

const struct cli_cmd cli_checkin_cmds[] = {
    {"checkin", "FILE", 1, 1, "check a model in, with live progress; prints the new roid",
     "Uploads FILE to the project and follows the server's progress: a bar on a terminal,\n"
     "plain lines otherwise (\"upload 40% ...\", \"server 100% FINISHED ...\"). The last line\n"
     "printed is the new revision's roid. The progress comes from the server's pushes on\n"
     "/stream (registerProgressHandler); without an endpoint, from polling getProgress.\n"
     "Ctrl-C during the upload cuts it off: no revision, exit 130.\n",
     checkin_opts, CLI_NEEDS_LOGIN, run_checkin},
    {"download", "ROID", 1, 1, "download a revision's model", NULL, download_opts, CLI_NEEDS_LOGIN,
     run_download},
    {NULL},
};
