/* cli_watch.c: `bimhub watch`: prints the server's pushes as they arrive, until SIGINT or
 * SIGTERM, as human lines or (--json) one JSON object per line.
 *
 * It keeps one /stream endpoint (the SDK's stream client: heartbeats, reconnects with
 * resume) registered for new revisions (of one project or all), new projects and the
 * progress topics of the projects. Extended data can only be registered per revision, so each
 * new revision gets a registration, and once it is confirmed the revision's extended data is
 * read once: what was added in between is printed too, each edid once. Each progress topic
 * that opens gets a progress registration, dropped when the topic ends; once it is confirmed
 * the topic's state is read once, so a short check-in that ended before the registration
 * still shows its end. A state equal to the last one printed for its topic is not repeated.
 *
 * Threads: the callbacks run on the stream's thread and alone use w->api after the start;
 * the main thread only waits for a signal. */
#include "cli/cli_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WATCH_MAX_PROJECTS 500 /* progress registrations made at start */

struct watch {
  struct bimhub_client *api;
  struct bimhub_stream *s;
  bool is_json, wants_progress;
  int64_t poid;   /* -1: every project */
  int64_t *edids; /* extended data printed already */
  size_t n_edids, cap_edids;
  struct topic_seen *topics; /* progress topics followed */
  size_t n_topics, cap_topics;
  int exit_code; /* set by a fatal stop */
};

struct topic_seen {
  int64_t topic;
  json_t *last; /* the last state printed */
  bool is_final;
};

static struct topic_seen *topic_find(struct watch *w, int64_t topic, bool add)
{
  for (size_t i = 0; i < w->n_topics; i++)
    if (w->topics[i].topic == topic)
      return &w->topics[i];
  if (!add)
    return NULL;
  if (w->n_topics == w->cap_topics) {
    size_t cap = w->cap_topics ? w->cap_topics * 2 : 16;
    struct topic_seen *n = realloc(w->topics, cap * sizeof *n);
    if (!n)
      return NULL;
    w->topics = n;
    w->cap_topics = cap;
  }
  struct topic_seen *t = &w->topics[w->n_topics++];
  *t = (struct topic_seen){.topic = topic};
  return t;
}

static void topic_forget(struct watch *w, int64_t topic)
{
  struct topic_seen *t = topic_find(w, topic, false);
  if (!t)
    return;
  json_decref(t->last);
  *t = w->topics[--w->n_topics];
}

static bool edid_seen(struct watch *w, int64_t edid)
{
  for (size_t i = 0; i < w->n_edids; i++)
    if (w->edids[i] == edid)
      return true;
  if (w->n_edids == w->cap_edids) {
    size_t cap = w->cap_edids ? w->cap_edids * 2 : 64;
    int64_t *n = realloc(w->edids, cap * sizeof *n);
    if (!n)
      return false;
    w->edids = n;
    w->cap_edids = cap;
  }
  w->edids[w->n_edids++] = edid;
  return false;
}

/* Flushes a line; when stdout is gone (`bimhub watch | head -3`) watch ends, exit 0. */
static void flush_line(void)
{
  static bool is_closed;
  if (fflush(stdout) != 0 && !is_closed) {
    is_closed = true;
    kill(getpid(), SIGUSR1); /* wakes the main thread's sigwait */
  }
}

/* One JSON line: {"event":E,"time":ms[,"seq":S], ...fields}. fields is borrowed. */
static void emit_json(const char *event, uint64_t seq, json_t *fields)
{
  json_t *o = json_pack("{s:s,s:I}", "event", event, "time", (json_int_t)cli_now_ms());
  if (!o)
    return;
  if (seq)
    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
  if (fields)
    json_object_update(o, fields);
  char *s = json_dumps(o, JSON_COMPACT);
  if (s) {
    puts(s);
    free(s);
  }
  flush_line();
  json_decref(o);
}

/* One human line, prefixed with the time. */
static void emit_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit_text(const char *fmt, ...)
{
  char when[40];
  cli_format_time(cli_now_ms(), when, sizeof when);
  printf("%s ", when);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  flush_line();
}

static void print_extended_data(struct watch *w, int64_t roid, int64_t edid, uint64_t seq)
{
  if (edid_seen(w, edid))
    return;
  if (w->is_json) {
    json_t *f = json_pack("{s:I,s:I}", "roid", (json_int_t)roid, "edid", (json_int_t)edid);
    emit_json("newExtendedData", seq, f);
    json_decref(f);
  } else {
    emit_text("new extended data %lld on revision %lld", (long long)edid, (long long)roid);
  }
}

/* The extended data of roid added before its registration was confirmed. */
static void catch_up_extended_data(struct watch *w, int64_t roid)
{
  json_t *list = NULL;
  struct bimhub_error err = {0};
  if (bimhub_get_all_extended_data_of_revision(w->api, roid, &list, &err) != BIMHUB_OK)
    return;
  size_t i;
  json_t *ed;
  json_array_foreach(list, i, ed) print_extended_data(w, roid, bimhub_json_int(ed, "oid", -1), 0);
  json_decref(list);
}

static void print_progress(struct watch *w, int64_t topic, json_t *state, uint64_t seq)
{
  const char *st = bimhub_json_str(state, "state");
  bool is_final = st && (strcmp(st, "FINISHED") == 0 || strcmp(st, "AS_ERROR") == 0);
  struct topic_seen *t = topic_find(w, topic, true);
  if (t && (t->is_final || (t->last && json_equal(t->last, state))))
    return;
  if (t) {
    json_decref(t->last);
    t->last = json_incref(state);
    t->is_final = is_final;
  }
  if (is_final)
    bimhub_stream_unsubscribe(w->s, BIMHUB_SUB_PROGRESS, topic, 0);
  if (w->is_json) {
    json_t *f = json_pack("{s:I,s:O}", "topicId", (json_int_t)topic, "state", state);
    emit_json("progress", seq, f);
    json_decref(f);
  } else {
    emit_text("progress of topic %lld: %s %lld%% %s", (long long)topic, cli_str(state, "state"),
              (long long)bimhub_json_int(state, "progress", 0), cli_str(state, "title"));
  }
}

/* The state of a topic reached before its registration was confirmed. */
static void catch_up_progress(struct watch *w, int64_t topic)
{
  json_t *state = NULL;
  struct bimhub_error err = {0};
  if (bimhub_get_progress(w->api, topic, &state, &err) == BIMHUB_OK && json_object_size(state))
    print_progress(w, topic, state, 0);
  json_decref(state);
}

static const char *status_name(enum bimhub_stream_event ev)
{
  switch (ev) {
  case BIMHUB_STREAM_CONNECTED:
    return "connected";
  case BIMHUB_STREAM_RESUMED:
    return "resumed";
  case BIMHUB_STREAM_DISCONNECTED:
    return "disconnected";
  case BIMHUB_STREAM_SUBSCRIBED:
    return "subscribed";
  case BIMHUB_STREAM_SUBSCRIBE_FAILED:
    return "subscribeFailed";
  case BIMHUB_STREAM_UNSUBSCRIBED:
    return "unsubscribed";
  case BIMHUB_STREAM_STOPPED:
    return "stopped";
  }
  return "unknown";
}

static void on_status(void *arg, const struct bimhub_stream_status *st)
{
  struct watch *w = arg;
  if (st->event == BIMHUB_STREAM_SUBSCRIBED &&
      st->sub_kind == BIMHUB_SUB_NEW_EXTENDED_DATA_ON_REVISION) {
    catch_up_extended_data(w, st->sub_a);
    return;
  }
  if (st->event == BIMHUB_STREAM_SUBSCRIBED && st->sub_kind == BIMHUB_SUB_PROGRESS) {
    catch_up_progress(w, st->sub_a);
    return;
  }
  if (st->event == BIMHUB_STREAM_SUBSCRIBED || st->event == BIMHUB_STREAM_UNSUBSCRIBED)
    return; /* routine */
  const char *msg = st->error ? st->error->message : NULL;
  if (w->is_json) {
    json_t *f = json_pack("{s:I}", "endpointId", (json_int_t)st->endpoint_id);
    if (f && st->may_have_missed)
      json_object_set_new(f, "mayHaveMissed", json_true());
    if (f && st->event == BIMHUB_STREAM_RESUMED)
      json_object_set_new(f, "historyComplete", json_boolean(st->history_complete));
    if (f && st->event == BIMHUB_STREAM_DISCONNECTED)
      json_object_set_new(f, "retryInMs", json_integer(st->retry_in_ms));
    if (f && msg)
      json_object_set_new(f, "error", json_string(msg));
    emit_json(status_name(st->event), 0, f);
    json_decref(f);
  } else if (st->event == BIMHUB_STREAM_CONNECTED) {
    fprintf(stderr, "bimhub: watching (endpoint %lld)%s; Ctrl-C stops\n",
            (long long)st->endpoint_id,
            st->may_have_missed ? ", events may have been missed while away" : "");
  } else if (st->event == BIMHUB_STREAM_DISCONNECTED) {
    fprintf(stderr, "bimhub: connection lost (%s); again in %ld ms\n", msg ? msg : "closed",
            st->retry_in_ms);
  } else if (st->event != BIMHUB_STREAM_STOPPED || msg) {
    fprintf(stderr, "bimhub: %s%s%s\n", status_name(st->event), msg ? ": " : "", msg ? msg : "");
  }
  if (st->event == BIMHUB_STREAM_STOPPED && st->error) {
    w->exit_code = cli_exit_of(st->error->rc, st->error);
    if (w->exit_code == CLI_EXIT_OK)
      w->exit_code = CLI_EXIT_FAILED;
    kill(getpid(), SIGUSR1); /* wakes the main thread's sigwait */
  }
}

static void on_push(void *arg, const char *method, json_t *params, uint64_t seq)
{
  struct watch *w = arg;
  int64_t poid = bimhub_json_int(params, "poid", -1);
  int64_t roid = bimhub_json_int(params, "roid", -1);
  int64_t topic = bimhub_json_int(params, "topicId", -1);
  if (strcmp(method, "newExtendedData") == 0) {
    print_extended_data(w, roid, bimhub_json_int(params, "edid", -1), seq);
    return;
  }
  if (strcmp(method, "newRevision") == 0)
    bimhub_stream_subscribe(w->s, BIMHUB_SUB_NEW_EXTENDED_DATA_ON_REVISION, roid, 0);
  else if (strcmp(method, "newProject") == 0 && w->wants_progress && w->poid < 0)
    bimhub_stream_subscribe(w->s, BIMHUB_SUB_CHANGE_PROGRESS_ON_PROJECT, poid, 0);
  else if (strcmp(method, "newProgressOnProjectTopic") == 0 && w->wants_progress)
    bimhub_stream_subscribe(w->s, BIMHUB_SUB_PROGRESS, topic, 0);
  if (strcmp(method, "progress") == 0) {
    print_progress(w, topic, json_object_get(params, "state"), seq);
    return;
  }
  if (strcmp(method, "closedProgressOnProjectTopic") == 0) {
    bimhub_stream_unsubscribe(w->s, BIMHUB_SUB_PROGRESS, topic, 0);
    topic_forget(w, topic);
  }

  if (w->is_json) {
    emit_json(method, seq, params);
  } else if (strcmp(method, "newRevision") == 0) {
    emit_text("new revision %lld in project %lld", (long long)roid, (long long)poid);
  } else if (strcmp(method, "newProject") == 0) {
    emit_text("new project %lld", (long long)poid);
  } else if (strcmp(method, "newProgressOnProjectTopic") == 0) {
    emit_text("topic %lld opened on project %lld", (long long)topic, (long long)poid);
  } else if (strcmp(method, "closedProgressOnProjectTopic") == 0) {
    emit_text("topic %lld closed on project %lld", (long long)topic, (long long)poid);
  } else {
    char *p = json_dumps(params, JSON_COMPACT);
    emit_text("%s %s", method, p ? p : "");
    free(p);
  }
}

static int run_watch(struct cli *c, const struct cli_args *a)
{
  struct watch w = {.api = c->api,
                    .is_json = cli_flag(a, "json"),
                    .wants_progress = !cli_flag(a, "no-progress"),
                    .poid = -1};
  const char *project = cli_arg(a, "project");
  json_t *projects = NULL;
  int code = CLI_EXIT_OK;
  if (project) {
    /* also checks the token: a bad one is exit 4 here rather than a stopped stream */
    code = cli_find_poid(c, project, &w.poid);
  } else {
    struct bimhub_error err = {0};
    enum bimhub_rc rc = bimhub_get_all_projects(c->api, false, true, &projects, &err);
    if (rc != BIMHUB_OK)
      code = cli_fail_rc(rc, &err, "watch");
  }
  if (code)
    return code;

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the stream's thread exists */

  struct bimhub_stream_handlers h = {.on_status = on_status, .on_push = on_push};
  struct bimhub_error err = {0};
  w.s = bimhub_stream_new(c->api, &h, &w, NULL, &err);
  if (!w.s) {
    json_decref(projects);
    return cli_fail_rc(err.rc ? err.rc : BIMHUB_NOMEM, &err, "watch");
  }
  if (w.poid > 0) {
    bimhub_stream_subscribe(w.s, BIMHUB_SUB_NEW_REVISION_ON_PROJECT, w.poid, 0);
    if (w.wants_progress)
      bimhub_stream_subscribe(w.s, BIMHUB_SUB_CHANGE_PROGRESS_ON_PROJECT, w.poid, 0);
  } else {
    bimhub_stream_subscribe(w.s, BIMHUB_SUB_NEW_REVISION, 0, 0);
    bimhub_stream_subscribe(w.s, BIMHUB_SUB_NEW_PROJECT, 0, 0);
    size_t i;
    json_t *p;
    json_array_foreach(projects, i, p)
    {
      if (!w.wants_progress || i >= WATCH_MAX_PROJECTS)
        break;
      bimhub_stream_subscribe(w.s, BIMHUB_SUB_CHANGE_PROGRESS_ON_PROJECT,
                              bimhub_json_int(p, "oid", -1), 0);
    }
  }
  json_decref(projects);
  if (bimhub_stream_start(w.s, &err) != BIMHUB_OK) {
    bimhub_stream_free(w.s);
    return cli_fail_rc(err.rc, &err, "watch");
  }
  int sig = 0;
  sigwait(&set, &sig);
  bimhub_stream_free(w.s); /* joins the thread: w is ours alone again */
  free(w.edids);
  for (size_t i = 0; i < w.n_topics; i++)
    json_decref(w.topics[i].last);
  free(w.topics);
  return sig == SIGUSR1 ? w.exit_code : CLI_EXIT_OK;
}

static const struct cli_opt watch_opts[] = {
    {"project", 'p', "PROJECT", "only this project (name or poid); default: every project"},
    {"json", 0, NULL, "one JSON object per line: {\"event\":...,\"time\":ms,...}"},
    {"no-progress", 0, NULL, "leave out the progress of check-ins and other topics"},
    {NULL},
};

const struct cli_cmd cli_watch_cmds[] = {
    {"watch", "", 0, 0, "print the server's notifications as they arrive, until Ctrl-C",
     "Prints newRevision, newExtendedData (of the revisions seen), newProject, the opening and\n"
     "closing of progress topics and their progress, as they are pushed on /stream. The\n"
     "connection is kept up (heartbeats) and resumed after a drop without losing pushes.\n"
     "With --json, status lines (\"connected\", \"disconnected\", \"resumed\", \"stopped\")\n"
     "are JSON objects too.\n",
     watch_opts, CLI_NEEDS_LOGIN, run_watch},
    {NULL},
};
