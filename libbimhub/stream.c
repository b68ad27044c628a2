/* stream.c: struct bimhub_stream, the endpoint client (spec §6, README "Resume, beyond
 * BIMserver"). One thread owns the socket, the session state and the JSON client that
 * makes the registry calls; other threads only add or remove subscriptions and ask for a
 * stop, under the lock, and wake the thread through a pipe. Callbacks are made on that
 * thread with the lock released. */
#include "sdk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sub {
  enum bimhub_sub_kind kind;
  int64_t a, b;
  bool is_registered; /* on the current endpoint */
  bool is_removing;   /* unsubscribe asked; the thread unregisters and frees it */
  struct sub *next;
};

enum session_state { S_WAIT_WELCOME, S_WAIT_ENDPOINT, S_READY };

struct bimhub_stream {
  /* set by _new, read-only afterwards */
  char *base;
  char *token;
  char host[256], port[8], path[512];
  long api_connect_ms, api_total_ms;
  struct bimhub_stream_handlers h;
  void *arg;
  struct bimhub_stream_options o;
  int wake[2];

  pthread_mutex_t lock; /* guards what follows, up to the thread's own state */
  struct sub *subs;
  bool is_stopping;
  bool is_started;
  bool has_thread;
  int64_t endpoint_id; /* the current one, -1 when none */
  pthread_t thread;

  /* the stream's thread only */
  struct bimhub_client *api;
  struct sdk_ws *ws;
  enum session_state st;
  int64_t known_endpoint; /* the endpoint to resume, -1 when none */
  bool had_endpoint;      /* an endpoint was had before: a new one may have missed pushes */
  uint64_t lastseq;       /* "seq" of the last push delivered */
  bool resume_sent;
  bool must_register;   /* subscriptions wait to be (re)registered */
  bool must_announce;   /* BIMHUB_STREAM_CONNECTED after the registrations */
  bool may_have_missed; /* for that announcement */
  bool is_fatal;        /* the session cannot be retried (invalid token) */
  struct bimhub_error fatal_err;
  bool has_session_err; /* a message ended the session */
  struct bimhub_error session_err;
};

static void wake(struct bimhub_stream *s)
{
  char b = 1;
  ssize_t n;
  do
    n = write(s->wake[1], &b, 1);
  while (n < 0 && errno == EINTR);
  /* EAGAIN: the pipe is full, so the thread is woken anyway */
}

static bool stopping(struct bimhub_stream *s)
{
  pthread_mutex_lock(&s->lock);
  bool v = s->is_stopping;
  pthread_mutex_unlock(&s->lock);
  return v;
}

static void set_endpoint(struct bimhub_stream *s, int64_t id)
{
  pthread_mutex_lock(&s->lock);
  s->endpoint_id = id;
  pthread_mutex_unlock(&s->lock);
}

static void report(struct bimhub_stream *s, struct bimhub_stream_status *st)
{
  pthread_mutex_lock(&s->lock);
  st->endpoint_id = s->endpoint_id;
  pthread_mutex_unlock(&s->lock);
  if (s->h.on_status)
    s->h.on_status(s->arg, st);
}

static void report_sub(struct bimhub_stream *s, enum bimhub_stream_event ev,
                       enum bimhub_sub_kind kind, int64_t a, int64_t b,
                       const struct bimhub_error *err)
{
  struct bimhub_stream_status st = {
      .event = ev, .sub_kind = kind, .sub_a = a, .sub_b = b, .error = err};
  report(s, &st);
}

/* ---- life ---- */

struct bimhub_stream *bimhub_stream_new(const struct bimhub_client *client,
                                        const struct bimhub_stream_handlers *handlers, void *arg,
                                        const struct bimhub_stream_options *opts,
                                        struct bimhub_error *err)
{
  if (!client || !bimhub_client_token(client)) {
    sdk_fail(err, BIMHUB_STATE, "A stream needs a client with a token: log in first");
    return NULL;
  }
  bool https = false;
  char *base = sdk_base_url(bimhub_client_url(client), &https);
  if (!base) {
    sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
    return NULL;
  }
  if (https) {
    free(base);
    sdk_fail(err, BIMHUB_INVALID, "wss:// (https) streams are not supported; use http://");
    return NULL;
  }
  struct bimhub_stream *s = calloc(1, sizeof *s);
  if (!s) {
    free(base);
    sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
    return NULL;
  }
  s->base = base;
  s->wake[0] = s->wake[1] = -1;
  if (sdk_ws_url_parts(base, s->host, sizeof s->host, s->port, sizeof s->port, s->path,
                       sizeof s->path) != BIMHUB_OK) {
    sdk_fail(err, BIMHUB_INVALID, "Cannot make a ws:// URL of %s", base);
    goto fail;
  }
  s->token = strdup(bimhub_client_token(client));
  if (!s->token || pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    sdk_fail(err, BIMHUB_NOMEM, "Out of memory or file descriptors");
    goto fail;
  }
  if (handlers)
    s->h = *handlers;
  s->arg = arg;
  if (opts)
    s->o = *opts;
  if (s->o.heartbeat_ms <= 0)
    s->o.heartbeat_ms = 30000;
  if (s->o.idle_timeout_ms <= 0)
    s->o.idle_timeout_ms = 90000;
  if (s->o.connect_timeout_ms <= 0)
    s->o.connect_timeout_ms = 10000;
  if (s->o.reconnect_min_ms <= 0)
    s->o.reconnect_min_ms = 500;
  if (s->o.reconnect_max_ms <= 0)
    s->o.reconnect_max_ms = 30000;
  if (s->o.max_message_bytes == 0)
    s->o.max_message_bytes = 16u << 20;
  s->api_connect_ms = sdk_client_connect_ms(client);
  s->api_total_ms = sdk_client_total_ms(client) ? sdk_client_total_ms(client) : 30000;
  pthread_mutex_init(&s->lock, NULL);
  s->endpoint_id = -1;
  s->known_endpoint = -1;
  return s;
fail:
  if (s->wake[0] >= 0)
    close(s->wake[0]);
  if (s->wake[1] >= 0)
    close(s->wake[1]);
  free(s->token);
  free(s->base);
  free(s);
  return NULL;
}

void bimhub_stream_stop(struct bimhub_stream *s)
{
  if (!s)
    return;
  pthread_mutex_lock(&s->lock);
  s->is_stopping = true;
  pthread_mutex_unlock(&s->lock);
  wake(s);
}

void bimhub_stream_free(struct bimhub_stream *s)
{
  if (!s)
    return;
  bimhub_stream_stop(s);
  pthread_mutex_lock(&s->lock);
  bool join = s->has_thread;
  s->has_thread = false;
  pthread_mutex_unlock(&s->lock);
  if (join)
    pthread_join(s->thread, NULL);
  for (struct sub *n, *u = s->subs; u; u = n) {
    n = u->next;
    free(u);
  }
  close(s->wake[0]);
  close(s->wake[1]);
  pthread_mutex_destroy(&s->lock);
  free(s->token);
  free(s->base);
  free(s);
}

int64_t bimhub_stream_endpoint_id(struct bimhub_stream *s)
{
  if (!s)
    return -1;
  pthread_mutex_lock(&s->lock);
  int64_t id = s->endpoint_id;
  pthread_mutex_unlock(&s->lock);
  return id;
}

/* ---- subscriptions ---- */

static struct sub *find_sub(struct bimhub_stream *s, enum bimhub_sub_kind kind, int64_t a,
                            int64_t b)
{
  for (struct sub *u = s->subs; u; u = u->next)
    if (u->kind == kind && u->a == a && u->b == b)
      return u;
  return NULL;
}

/* Only the ids a kind uses, so that a stray b does not make two subscriptions differ. */
static void normalize_ids(enum bimhub_sub_kind kind, int64_t *a, int64_t *b)
{
  switch (kind) {
  case BIMHUB_SUB_NEW_REVISION:
  case BIMHUB_SUB_NEW_PROJECT:
  case BIMHUB_SUB_NEW_USER:
  case BIMHUB_SUB_CHANGE_PROGRESS_ON_SERVER:
    *a = 0;
    *b = 0;
    break;
  case BIMHUB_SUB_CHANGE_PROGRESS_ON_REVISION:
    break;
  default:
    *b = 0;
  }
}

enum bimhub_rc bimhub_stream_subscribe(struct bimhub_stream *s, enum bimhub_sub_kind kind,
                                       int64_t a, int64_t b)
{
  if (!s || !sdk_sub_method(kind, true))
    return BIMHUB_INVALID;
  normalize_ids(kind, &a, &b);
  pthread_mutex_lock(&s->lock);
  struct sub *u = find_sub(s, kind, a, b);
  if (u) {
    u->is_removing = false;
  } else {
    u = calloc(1, sizeof *u);
    if (!u) {
      pthread_mutex_unlock(&s->lock);
      return BIMHUB_NOMEM;
    }
    u->kind = kind;
    u->a = a;
    u->b = b;
    struct sub **tail = &s->subs; /* in the order given */
    while (*tail)
      tail = &(*tail)->next;
    *tail = u;
  }
  pthread_mutex_unlock(&s->lock);
  wake(s);
  return BIMHUB_OK;
}

enum bimhub_rc bimhub_stream_unsubscribe(struct bimhub_stream *s, enum bimhub_sub_kind kind,
                                         int64_t a, int64_t b)
{
  if (!s || !sdk_sub_method(kind, true))
    return BIMHUB_INVALID;
  normalize_ids(kind, &a, &b);
  pthread_mutex_lock(&s->lock);
  struct sub *u = find_sub(s, kind, a, b);
  bool found = u && !u->is_removing;
  if (found)
    u->is_removing = true;
  pthread_mutex_unlock(&s->lock);
  if (found)
    wake(s);
  return found ? BIMHUB_OK : BIMHUB_NOT_FOUND;
}

static void unlink_sub(struct bimhub_stream *s, struct sub *dead)
{
  for (struct sub **p = &s->subs; *p; p = &(*p)->next)
    if (*p == dead) {
      *p = dead->next;
      free(dead);
      return;
    }
}

static bool is_transport(enum bimhub_rc rc)
{
  return rc == BIMHUB_TRANSPORT || rc == BIMHUB_TIMEOUT || rc == BIMHUB_HTTP ||
         rc == BIMHUB_NOMEM || rc == BIMHUB_PROTOCOL;
}

/* Registers what waits and unregisters what is removed, one registry call at a time, the
 * lock released during each call (only this thread unlinks subscriptions, so the one in
 * hand stays valid). A failed call without a server answer ends the session. */
static enum bimhub_rc sync_subs(struct bimhub_stream *s, struct bimhub_error *err)
{
  if (s->st != S_READY)
    return BIMHUB_OK;
  for (;;) {
    pthread_mutex_lock(&s->lock);
    struct sub *u = s->subs;
    while (u && !u->is_removing && u->is_registered)
      u = u->next;
    if (!u) {
      pthread_mutex_unlock(&s->lock);
      break;
    }
    struct sub todo = *u;
    pthread_mutex_unlock(&s->lock);

    bool unreg = todo.is_removing;
    struct bimhub_error e;
    bimhub_error_clear(&e);
    enum bimhub_rc rc = BIMHUB_OK;
    if (!unreg || todo.is_registered)
      rc = bimhub_client_call(
          s->api, "NotificationRegistryInterface", sdk_sub_method(todo.kind, !unreg),
          sdk_sub_params(todo.kind, s->known_endpoint, todo.a, todo.b), NULL, &e);
    if (is_transport(rc)) {
      if (err)
        *err = e;
      return rc;
    }
    pthread_mutex_lock(&s->lock);
    bool dropped = false;
    if (unreg && u->is_removing) {
      unlink_sub(s, u);
      dropped = true;
    } else if (unreg) {
      u->is_registered = false; /* subscribed again meanwhile: register anew */
    } else if (rc == BIMHUB_OK) {
      u->is_registered = true;
    } else {
      unlink_sub(s, u);
      dropped = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (unreg) {
      if (rc != BIMHUB_OK)
        sdk_log(BIMHUB_LOG_INFO, "stream: %s failed: %s", sdk_sub_method(todo.kind, false),
                e.message);
      if (dropped)
        report_sub(s, BIMHUB_STREAM_UNSUBSCRIBED, todo.kind, todo.a, todo.b, NULL);
    } else {
      report_sub(s, rc == BIMHUB_OK ? BIMHUB_STREAM_SUBSCRIBED : BIMHUB_STREAM_SUBSCRIBE_FAILED,
                 todo.kind, todo.a, todo.b, rc == BIMHUB_OK ? NULL : &e);
    }
  }
  s->must_register = false;
  if (s->must_announce) {
    s->must_announce = false;
    struct bimhub_stream_status st = {.event = BIMHUB_STREAM_CONNECTED,
                                      .may_have_missed = s->may_have_missed,
                                      .history_complete = !s->may_have_missed};
    report(s, &st);
  }
  return BIMHUB_OK;
}

/* ---- messages ---- */

static void send_json(struct bimhub_stream *s, json_t *j)
{
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text || sdk_ws_send_text(s->ws, text, strlen(text)) != BIMHUB_OK) {
    s->has_session_err = true;
    sdk_fail(&s->session_err, BIMHUB_NOMEM, "Cannot queue a message");
  }
  free(text);
}

static void send_token(struct bimhub_stream *s)
{
  s->resume_sent = s->known_endpoint > 0 && !s->o.no_resume;
  if (s->resume_sent)
    send_json(s, json_pack("{s:s,s:I,s:I}", "token", s->token, "endpointid",
                           (json_int_t)s->known_endpoint, "lastseq", (json_int_t)s->lastseq));
  else
    send_json(s, json_pack("{s:s}", "token", s->token));
  s->st = S_WAIT_ENDPOINT;
}

static void on_endpoint(struct bimhub_stream *s, const struct sdk_msg *m)
{
  if (s->st != S_WAIT_ENDPOINT)
    return; /* a second endpoint message: not ours to follow */
  s->st = S_READY;
  if (s->resume_sent && m->resumed && m->endpoint_id == s->known_endpoint) {
    /* the server's count is the truth: should it be behind ours (history lost in a crash),
     * its next pushes must not look like duplicates */
    if (m->endpoint_seq >= 0 && (uint64_t)m->endpoint_seq < s->lastseq)
      s->lastseq = (uint64_t)m->endpoint_seq;
    set_endpoint(s, m->endpoint_id);
    struct bimhub_stream_status st = {.event = BIMHUB_STREAM_RESUMED,
                                      .history_complete = m->history_complete,
                                      .may_have_missed = !m->history_complete};
    report(s, &st);
    s->must_register = true; /* subscriptions added while away */
    return;
  }
  /* a new endpoint: it has no registrations, and pushes sent meanwhile are gone */
  s->may_have_missed = s->had_endpoint;
  s->had_endpoint = true;
  s->known_endpoint = m->endpoint_id;
  s->lastseq = 0;
  set_endpoint(s, m->endpoint_id);
  pthread_mutex_lock(&s->lock);
  for (struct sub *u = s->subs; u; u = u->next)
    u->is_registered = false;
  pthread_mutex_unlock(&s->lock);
  s->must_register = true;
  s->must_announce = true;
}

static void on_push(struct bimhub_stream *s, const json_t *msg, uint64_t seq)
{
  if (seq > 0) {
    if (seq <= s->lastseq)
      return; /* replayed twice: already delivered */
    s->lastseq = seq;
  }
  const json_t *req = json_object_get(msg, "request");
  if (req) {
    sdk_push_dispatch(&s->h, s->arg, req, seq);
    return;
  }
  size_t i;
  json_t *one;
  json_array_foreach(json_object_get(msg, "requests"), i, one)
      sdk_push_dispatch(&s->h, s->arg, one, seq);
}

static void on_text(void *arg, const char *text, size_t len)
{
  struct bimhub_stream *s = arg;
  if (s->is_fatal || s->has_session_err)
    return;
  json_t *msg = json_loadb(text, len, 0, NULL);
  struct sdk_msg m;
  sdk_msg_classify(msg, &m);
  switch (m.kind) {
  case SDK_MSG_WELCOME:
    if (s->st == S_WAIT_WELCOME)
      send_token(s);
    break;
  case SDK_MSG_ENDPOINT:
    on_endpoint(s, &m);
    break;
  case SDK_MSG_ERROR:
    if (s->st == S_WAIT_ENDPOINT && s->resume_sent && m.endpoint_id >= 0) {
      /* the endpoint is gone (forgotten, or not this user's): start a new one */
      sdk_log(BIMHUB_LOG_INFO, "stream: resume of endpoint %" PRId64 " refused: %s", m.endpoint_id,
              m.error);
      s->known_endpoint = -1;
      send_token(s);
    } else if (s->st == S_WAIT_ENDPOINT) {
      s->is_fatal = true;
      sdk_fail(&s->fatal_err, BIMHUB_EXCEPTION, "%s", m.error);
      snprintf(s->fatal_err.type, sizeof s->fatal_err.type, "%s",
               strstr(m.error, "token") ? "AuthenticationException" : "UserException");
    } else {
      sdk_log(BIMHUB_LOG_WARN, "stream: the server says: %s", m.error);
    }
    break;
  case SDK_MSG_PUSH:
    if (s->st == S_READY)
      on_push(s, msg, m.seq);
    break;
  case SDK_MSG_RESPONSE:
  case SDK_MSG_OTHER:
    break;
  }
  json_decref(msg);
}

/* ---- the loop ---- */

static void drain_wake(struct bimhub_stream *s)
{
  char buf[64];
  while (read(s->wake[0], buf, sizeof buf) > 0)
    ;
}

/* Sleeps up to ms, or until woken by a stop. */
static void pause_ms(struct bimhub_stream *s, long ms)
{
  int64_t until = sdk_mono_ms() + ms;
  while (!stopping(s)) {
    int64_t left = until - sdk_mono_ms();
    if (left <= 0)
      return;
    struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
    if (poll(&p, 1, (int)left) > 0)
      drain_wake(s);
  }
}

/* Sends the close frame and what is queued, for a moment at most. */
static void close_gently(struct bimhub_stream *s)
{
  sdk_ws_close(s->ws, 1000);
  int64_t until = sdk_mono_ms() + 1000;
  struct bimhub_error e;
  while (sdk_ws_wants_write(s->ws) && sdk_mono_ms() < until) {
    if (sdk_ws_write(s->ws, &e) != BIMHUB_OK)
      break;
    if (!sdk_ws_wants_write(s->ws))
      break;
    struct pollfd p = {.fd = sdk_ws_fd(s->ws), .events = POLLOUT};
    poll(&p, 1, 100);
  }
}

/* One connection, from the TCP connect to its end. BIMHUB_OK when stopped; *reached_ready
 * tells whether an endpoint was had. */
static enum bimhub_rc session(struct bimhub_stream *s, bool *reached_ready,
                              struct bimhub_error *err)
{
  *reached_ready = false;
  s->st = S_WAIT_WELCOME;
  s->has_session_err = false;
  s->resume_sent = false;
  enum bimhub_rc rc = sdk_ws_connect(&s->ws, s->host, s->port, s->path, s->o.connect_timeout_ms,
                                     s->o.max_message_bytes, on_text, s, err);
  if (rc != BIMHUB_OK)
    return rc;
  int64_t start = sdk_mono_ms();
  int64_t last_hb = start;
  for (;;) {
    if (stopping(s)) {
      close_gently(s);
      rc = BIMHUB_OK;
      break;
    }
    int64_t now = sdk_mono_ms();
    long timeout = (long)(last_hb + s->o.heartbeat_ms - now);
    long idle_left = (long)(sdk_ws_last_rx_ms(s->ws) + s->o.idle_timeout_ms - now);
    if (idle_left < timeout)
      timeout = idle_left;
    if (s->st != S_READY) {
      long hs_left = (long)(start + s->o.connect_timeout_ms - now);
      if (hs_left < timeout)
        timeout = hs_left;
    }
    if (timeout < 0)
      timeout = 0;
    if (sdk_ws_has_buffered(s->ws))
      timeout = 0;
    struct pollfd p[2] = {
        {.fd = sdk_ws_fd(s->ws), .events = POLLIN | (sdk_ws_wants_write(s->ws) ? POLLOUT : 0)},
        {.fd = s->wake[0], .events = POLLIN}};
    int n = poll(p, 2, (int)timeout);
    if (n < 0 && errno != EINTR) {
      rc = sdk_fail(err, BIMHUB_TRANSPORT, "poll: %s", strerror(errno));
      break;
    }
    if (n > 0 && (p[1].revents & POLLIN))
      drain_wake(s);
    if (sdk_ws_has_buffered(s->ws) || (n > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP)))) {
      rc = sdk_ws_read(s->ws, err);
      if (s->is_fatal) {
        rc = s->fatal_err.rc;
        if (err)
          *err = s->fatal_err;
        break;
      }
      if (rc != BIMHUB_OK)
        break;
    }
    if (s->has_session_err) {
      rc = s->session_err.rc;
      if (err)
        *err = s->session_err;
      break;
    }
    if (s->st == S_READY)
      *reached_ready = true;
    /* registrations (HTTP) may take a while: the socket just waits meanwhile */
    rc = sync_subs(s, err);
    if (rc != BIMHUB_OK)
      break;
    now = sdk_mono_ms();
    if (now - last_hb >= s->o.heartbeat_ms) {
      last_hb = now;
      send_json(s, json_pack("{s:b}", "hb", 1));
      sdk_ws_ping(s->ws);
    }
    if (sdk_ws_wants_write(s->ws)) {
      rc = sdk_ws_write(s->ws, err);
      if (rc != BIMHUB_OK)
        break;
    }
    if (now - sdk_ws_last_rx_ms(s->ws) >= s->o.idle_timeout_ms) {
      rc = sdk_fail(err, BIMHUB_TIMEOUT, "Nothing received for %ld ms", s->o.idle_timeout_ms);
      break;
    }
    if (s->st != S_READY && now - start >= s->o.connect_timeout_ms) {
      rc = sdk_fail(err, BIMHUB_TIMEOUT, "No endpoint within %ld ms", s->o.connect_timeout_ms);
      break;
    }
  }
  sdk_ws_free(s->ws);
  s->ws = NULL;
  set_endpoint(s, -1);
  return rc;
}

static enum bimhub_rc run_loop(struct bimhub_stream *s, struct bimhub_error *out_err)
{
  struct bimhub_error err;
  bimhub_error_clear(&err);
  s->api = bimhub_client_new(s->base);
  enum bimhub_rc final = BIMHUB_OK;
  if (!s->api || bimhub_client_set_token(s->api, s->token) != BIMHUB_OK) {
    final = sdk_fail(&err, BIMHUB_NOMEM, "Out of memory");
  } else {
    bimhub_client_set_timeouts(s->api, s->api_connect_ms, s->api_total_ms);
    unsigned attempt = 0;
    while (!stopping(s)) {
      bimhub_error_clear(&err);
      bool was_ready = false;
      enum bimhub_rc rc = session(s, &was_ready, &err);
      if (stopping(s))
        break;
      if (s->is_fatal) {
        final = rc;
        break;
      }
      attempt = was_ready ? 1 : attempt + 1;
      long delay = sdk_backoff_ms(attempt, s->o.reconnect_min_ms, s->o.reconnect_max_ms,
                                  (double)randombytes_uniform(1000) / 1000.0);
      sdk_log(BIMHUB_LOG_INFO, "stream: disconnected (%s); again in %ld ms", err.message, delay);
      struct bimhub_stream_status st = {.event = BIMHUB_STREAM_DISCONNECTED,
                                        .attempt = attempt,
                                        .retry_in_ms = delay,
                                        .error = &err};
      report(s, &st);
      pause_ms(s, delay);
    }
  }
  bimhub_client_free(s->api);
  s->api = NULL;
  struct bimhub_stream_status st = {.event = BIMHUB_STREAM_STOPPED,
                                    .error = final != BIMHUB_OK ? &err : NULL};
  report(s, &st);
  if (final != BIMHUB_OK && out_err)
    *out_err = err;
  return final;
}

static void *thread_main(void *arg)
{
  run_loop(arg, NULL);
  return NULL;
}

static enum bimhub_rc claim_start(struct bimhub_stream *s, struct bimhub_error *err)
{
  pthread_mutex_lock(&s->lock);
  bool was = s->is_started;
  s->is_started = true;
  pthread_mutex_unlock(&s->lock);
  return was ? sdk_fail(err, BIMHUB_STATE, "The stream was already started") : BIMHUB_OK;
}

enum bimhub_rc bimhub_stream_start(struct bimhub_stream *s, struct bimhub_error *err)
{
  if (!s)
    return sdk_fail(err, BIMHUB_INVALID, "no stream");
  enum bimhub_rc rc = claim_start(s, err);
  if (rc != BIMHUB_OK)
    return rc;
  pthread_mutex_lock(&s->lock);
  int e = pthread_create(&s->thread, NULL, thread_main, s);
  s->has_thread = e == 0;
  if (e != 0)
    s->is_started = false;
  pthread_mutex_unlock(&s->lock);
  return e == 0 ? BIMHUB_OK : sdk_fail(err, BIMHUB_NOMEM, "Cannot start a thread: %s", strerror(e));
}

enum bimhub_rc bimhub_stream_run(struct bimhub_stream *s, struct bimhub_error *err)
{
  if (!s)
    return sdk_fail(err, BIMHUB_INVALID, "no stream");
  enum bimhub_rc rc = claim_start(s, err);
  return rc != BIMHUB_OK ? rc : run_loop(s, err);
}
