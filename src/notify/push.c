/* push.c: endpoints in an array sorted by id under one lock. An event is serialized once;
 * each receiving endpoint gets the next sequence number and a reference to the frame in its
 * history ring; the connected ones are handed to the transport in one batch, after the lock
 * is released. Rights are checked per user once per event. */
#include "notify/push.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/topics.h"
#include "common/bh_log.h"
#include "common/bh_time.h"
#include "model/events.h"
#include "model/model.h"
#include "rpc/sobj.h"

struct reg {
  enum push_kind kind;
  int64_t a, b;
};

struct hist {
  uint64_t seq;
  struct push_frame *f;
};

struct endpoint {
  int64_t id, uoid;
  uint64_t seq;
  uint64_t conn;  /* 0: no connection */
  bool has_login; /* conn was opened with a login token, whose hash is login */
  unsigned char login[32];
  int64_t detached_ms; /* when the connection went (or the server started) */
  struct reg *regs;
  size_t nregs, capregs;
  struct hist *ring; /* oldest at start, count entries, capacity cap */
  size_t start, count, cap;
};

struct push {
  struct model *m;
  struct push_limits lim;
  pthread_mutex_t lock;
  struct endpoint **v; /* sorted by id */
  size_t n, cap;
  int64_t next_id;
  uint64_t ended_gen; /* push_end_sessions calls */
  struct push_transport tr;
};

/* ---- frames ---- */

void push_frame_ref(struct push_frame *f)
{
  __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
}

void push_frame_unref(struct push_frame *f)
{
  if (f && __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) == 0)
    free(f);
}

static struct push_frame *frame_from_body(const char *body, size_t len, int64_t time_ms)
{
  struct push_frame *f = malloc(sizeof *f + len + 1);
  if (!f)
    return NULL;
  f->refs = 1;
  f->time_ms = time_ms;
  f->len = len;
  memcpy(f->body, body, len + 1);
  return f;
}

/* {"interface":"NotificationInterface","method":M,"parameters":params} as a frame body.
 * Takes params; its keys must be in the method's declared order (the JS client reads them
 * by position). */
static struct push_frame *frame_new(const char *method, json_t *params)
{
  json_t *req = json_object();
  if (!req || !params) {
    json_decref(req);
    json_decref(params);
    return NULL;
  }
  json_object_set_new(req, "interface", json_string("NotificationInterface"));
  json_object_set_new(req, "method", json_string(method));
  json_object_set_new(req, "parameters", params);
  char *text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(req);
  if (!text)
    return NULL;
  size_t tl = strlen(text);
  struct push_frame *f = malloc(sizeof *f + tl + 12);
  if (f) {
    f->refs = 1;
    f->time_ms = bh_now_ms();
    f->len = (size_t)snprintf(f->body, tl + 12, "\"request\":%s}", text);
  }
  free(text);
  return f;
}

static json_t *ids_params(const char *k1, int64_t v1, const char *k2, int64_t v2, const char *k3,
                          int64_t v3)
{
  json_t *p = json_object();
  if (p && k1)
    json_object_set_new(p, k1, json_integer(v1));
  if (p && k2)
    json_object_set_new(p, k2, json_integer(v2));
  if (p && k3)
    json_object_set_new(p, k3, json_integer(v3));
  return p;
}

/* ---- endpoints (lock held) ---- */

static struct endpoint *find(struct push *p, int64_t id)
{
  size_t lo = 0, hi = p->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (p->v[mid]->id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < p->n && p->v[lo]->id == id ? p->v[lo] : NULL;
}

static void endpoint_free(struct endpoint *e)
{
  for (size_t i = 0; i < e->count; i++)
    push_frame_unref(e->ring[(e->start + i) % e->cap].f);
  free(e->ring);
  free(e->regs);
  free(e);
}

/* Appends (ids only grow). */
static struct endpoint *endpoint_add(struct push *p, int64_t id, int64_t uoid)
{
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    struct endpoint **nv = realloc(p->v, cap * sizeof *nv);
    if (!nv)
      return NULL;
    p->v = nv;
    p->cap = cap;
  }
  struct endpoint *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  e->id = id;
  e->uoid = uoid;
  p->v[p->n++] = e;
  return e;
}

static void endpoint_remove_at(struct push *p, size_t i)
{
  endpoint_free(p->v[i]);
  memmove(&p->v[i], &p->v[i + 1], (p->n - i - 1) * sizeof p->v[0]);
  p->n--;
}

static void history_trim(struct push *p, struct endpoint *e, int64_t now)
{
  while (e->count > 0) {
    struct hist *h = &e->ring[e->start];
    bool too_many = (int64_t)e->count > p->lim.history_frames;
    bool too_old = now - h->f->time_ms > p->lim.history_ms;
    if (!too_many && !too_old)
      break;
    push_frame_unref(h->f);
    e->start = (e->start + 1) % e->cap;
    e->count--;
  }
}

static bool history_add(struct push *p, struct endpoint *e, uint64_t seq, struct push_frame *f)
{
  if (p->lim.history_frames <= 0)
    return true;
  if (e->count == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 8;
    if ((int64_t)cap > p->lim.history_frames + 1)
      cap = (size_t)p->lim.history_frames + 1;
    if (cap <= e->cap) {
      /* full at the limit: the oldest goes */
      push_frame_unref(e->ring[e->start].f);
      e->start = (e->start + 1) % e->cap;
      e->count--;
    } else {
      struct hist *nr = malloc(cap * sizeof *nr);
      if (!nr)
        return false;
      for (size_t i = 0; i < e->count; i++)
        nr[i] = e->ring[(e->start + i) % e->cap];
      free(e->ring);
      e->ring = nr;
      e->start = 0;
      e->cap = cap;
    }
  }
  push_frame_ref(f);
  e->ring[(e->start + e->count) % e->cap] = (struct hist){seq, f};
  e->count++;
  return true;
}

/* Detached endpoints nobody came back for within history_ms go, with what they held. */
static void expire(struct push *p, int64_t now, int64_t *gone, size_t *ngone, size_t max)
{
  for (size_t i = 0; i < p->n;) {
    struct endpoint *e = p->v[i];
    if (e->conn == 0 && now - e->detached_ms > p->lim.history_ms) {
      if (*ngone < max)
        gone[(*ngone)++] = e->id;
      endpoint_remove_at(p, i);
    } else {
      i++;
    }
  }
}

static void forget_in_store(struct push *p, const int64_t *gone, size_t n)
{
  for (size_t i = 0; i < n; i++)
    store_endpoint_delete(p->m->st, gone[i]);
}

/* ---- rights, cached per user for one event ---- */

struct rights_cache {
  int64_t uoid[16];
  signed char ok[16];
  size_t n;
};

static bool user_is_admin(struct push *p, int64_t uoid)
{
  struct user_rec u;
  if (store_user_get(p->m->st, uoid, &u) != BH_OK)
    return false;
  bool admin = u.type == USER_ADMIN && u.state == STATE_ACTIVE;
  user_rec_clear(&u);
  return admin;
}

static struct actor actor_of(struct push *p, int64_t uoid)
{
  struct actor a = {.uoid = uoid, .type = USER_USER};
  struct user_rec u;
  if (store_user_get(p->m->st, uoid, &u) == BH_OK) {
    a.type = (enum user_type)u.type;
    user_rec_clear(&u);
  }
  return a;
}

static bool can_read_project(struct push *p, struct rights_cache *rc, int64_t uoid, int64_t poid)
{
  for (size_t i = 0; i < rc->n; i++)
    if (rc->uoid[i] == uoid)
      return rc->ok[i];
  struct actor a = actor_of(p, uoid);
  struct project_rec pr;
  bool ok = false;
  if (store_project_get(p->m->st, poid, &pr) == BH_OK) {
    ok = project_can_read(p->m, &a, &pr);
    project_rec_clear(&pr);
  }
  if (rc->n < 16) {
    rc->uoid[rc->n] = uoid;
    rc->ok[rc->n++] = ok;
  }
  return ok;
}

static bool is_admin_cached(struct push *p, struct rights_cache *rc, int64_t uoid)
{
  for (size_t i = 0; i < rc->n; i++)
    if (rc->uoid[i] == uoid)
      return rc->ok[i];
  bool ok = user_is_admin(p, uoid);
  if (rc->n < 16) {
    rc->uoid[rc->n] = uoid;
    rc->ok[rc->n++] = ok;
  }
  return ok;
}

/* ---- delivery ---- */

/* Who hears an event: for each endpoint, a registration of kind with (a, b) matching
 * (-2 matches anything), then the right. */
struct match {
  enum push_kind kind;
  int64_t a, b;
};

typedef bool (*may_see_fn)(struct push *p, struct rights_cache *rc, const struct endpoint *e,
                           const struct event *ev);

static bool has_reg(const struct endpoint *e, const struct match *m, size_t nm)
{
  for (size_t i = 0; i < e->nregs; i++)
    for (size_t k = 0; k < nm; k++)
      if (e->regs[i].kind == m[k].kind && (m[k].a == -2 || e->regs[i].a == m[k].a) &&
          (m[k].b == -2 || e->regs[i].b == m[k].b))
        return true;
  return false;
}

static void deliver(struct push *p, struct push_frame *f, const struct match *m, size_t nm,
                    may_see_fn may_see, const struct event *ev)
{
  if (!f)
    return;
  struct push_target *t = NULL;
  size_t nt = 0, capt = 0;
  struct rights_cache rc = {0};
  int64_t now = bh_now_ms();
  int64_t gone[64];
  size_t ngone = 0;
  pthread_mutex_lock(&p->lock);
  expire(p, now, gone, &ngone, 64);
  for (size_t i = 0; i < p->n; i++) {
    struct endpoint *e = p->v[i];
    if (!has_reg(e, m, nm) || (may_see && !may_see(p, &rc, e, ev)))
      continue;
    uint64_t seq = ++e->seq;
    history_trim(p, e, now);
    history_add(p, e, seq, f);
    if (e->conn == 0)
      continue;
    if (nt == capt) {
      size_t cap = capt ? capt * 2 : 64;
      struct push_target *nv = realloc(t, cap * sizeof *nv);
      if (!nv)
        continue; /* kept in its history: the client can resume */
      t = nv;
      capt = cap;
    }
    t[nt++] = (struct push_target){e->conn, seq};
  }
  struct push_transport tr = p->tr;
  pthread_mutex_unlock(&p->lock);
  forget_in_store(p, gone, ngone);
  if (nt > 0 && tr.send)
    tr.send(tr.ctx, f, t, nt);
  free(t);
  push_frame_unref(f);
}

static bool see_project(struct push *p, struct rights_cache *rc, const struct endpoint *e,
                        const struct event *ev)
{
  return can_read_project(p, rc, e->uoid, ev->poid);
}

static bool see_admin(struct push *p, struct rights_cache *rc, const struct endpoint *e,
                      const struct event *ev)
{
  (void)ev;
  return is_admin_cached(p, rc, e->uoid);
}

/* Server topics (downloads, registerProgressTopic) are their owner's; topics on a project
 * or revision are seen by who may read the project. */
static bool see_topic(struct push *p, struct rights_cache *rc, const struct endpoint *e,
                      const struct event *ev)
{
  if (ev->poid > 0)
    return can_read_project(p, rc, e->uoid, ev->poid);
  return e->uoid == ev->uoid || is_admin_cached(p, rc, e->uoid);
}

static void on_progress(struct push *p, const struct event *ev)
{
  struct topic_info t;
  if (topics_get(p->m->topics, ev->topic_id, &t) != BH_OK)
    return;
  json_t *params = json_object();
  if (params) {
    json_object_set_new(params, "topicId", json_integer(ev->topic_id));
    json_object_set_new(params, "state", sobj_long_action_state(&t));
  }
  struct match m = {PUSH_PROGRESS, ev->topic_id, -2};
  deliver(p, frame_new("progress", params), &m, 1, NULL, ev);
}

static void on_topic(struct push *p, const struct event *ev, bool opened)
{
  const char *server = opened ? "newProgressOnServerTopic" : "closedProgressOnServerTopic";
  const char *project = opened ? "newProgressOnProjectTopic" : "closedProgressOnProjectTopic";
  const char *revision = opened ? "newProgressOnRevisionTopic" : "closedProgressOnRevisionTopic";
  switch ((enum topic_kind)ev->topic_kind) {
  case TOPIC_SERVER: {
    struct match m = {PUSH_CHANGE_SERVER, -2, -2};
    deliver(p, frame_new(server, ids_params("topicId", ev->topic_id, NULL, 0, NULL, 0)), &m, 1,
            see_topic, ev);
    break;
  }
  case TOPIC_PROJECT: {
    struct match m = {PUSH_CHANGE_PROJECT, ev->poid, -2};
    deliver(p, frame_new(project, ids_params("poid", ev->poid, "topicId", ev->topic_id, NULL, 0)),
            &m, 1, see_topic, ev);
    break;
  }
  case TOPIC_REVISION: {
    /* announced on the revision, its project and the server (spec §7.1) */
    struct match mr = {PUSH_CHANGE_REVISION, ev->roid, -2};
    deliver(p,
            frame_new(revision,
                      ids_params("poid", ev->poid, "roid", ev->roid, "topicId", ev->topic_id)),
            &mr, 1, see_topic, ev);
    struct match mp = {PUSH_CHANGE_PROJECT, ev->poid, -2};
    deliver(p, frame_new(project, ids_params("poid", ev->poid, "topicId", ev->topic_id, NULL, 0)),
            &mp, 1, see_topic, ev);
    struct match ms = {PUSH_CHANGE_SERVER, -2, -2};
    deliver(p, frame_new(server, ids_params("topicId", ev->topic_id, NULL, 0, NULL, 0)), &ms, 1,
            see_topic, ev);
    break;
  }
  }
}

static void on_event(const struct event *ev, void *arg)
{
  struct push *p = arg;
  switch (ev->type) {
  case EV_NEW_REVISION: {
    struct match m[2] = {{PUSH_NEW_REVISION_PROJECT, ev->poid, -2}, {PUSH_NEW_REVISION, -2, -2}};
    deliver(p, frame_new("newRevision", ids_params("poid", ev->poid, "roid", ev->roid, NULL, 0)), m,
            2, see_project, ev);
    break;
  }
  case EV_NEW_PROJECT: {
    struct match m = {PUSH_NEW_PROJECT, -2, -2};
    deliver(p, frame_new("newProject", ids_params("poid", ev->poid, NULL, 0, NULL, 0)), &m, 1,
            see_project, ev);
    break;
  }
  case EV_NEW_USER: {
    struct match m = {PUSH_NEW_USER, -2, -2};
    deliver(p, frame_new("newUser", ids_params("uoid", ev->uoid, NULL, 0, NULL, 0)), &m, 1,
            see_admin, ev);
    break;
  }
  case EV_NEW_EXTENDED_DATA: {
    if (ev->roid < 0)
      break; /* extended data on a project has no push in BIMserver's interface */
    struct match m = {PUSH_NEW_EXTENDED_DATA, ev->roid, -2};
    deliver(p,
            frame_new("newExtendedData", ids_params("roid", ev->roid, "edid", ev->edid, NULL, 0)),
            &m, 1, see_project, ev);
    break;
  }
  case EV_PROGRESS:
    on_progress(p, ev);
    break;
  case EV_TOPIC_NEW:
    on_topic(p, ev, true);
    break;
  case EV_TOPIC_CLOSED:
    on_topic(p, ev, false);
    break;
  }
}

/* ---- life ---- */

enum bh_err push_new(struct push **out, struct model *m, const struct push_limits *lim)
{
  struct push *p = calloc(1, sizeof *p);
  if (!p)
    return BH_NOMEM;
  p->m = m;
  p->lim = *lim;
  p->next_id = 2; /* BIMserver's first endpoint id */
  pthread_mutex_init(&p->lock, NULL);
  struct endpoint_rec *eps;
  struct endpoint_reg_rec *regs;
  struct endpoint_frame_rec *frames;
  size_t neps, nregs, nframes;
  enum bh_err rc = store_endpoint_load(m->st, &eps, &neps, &regs, &nregs, &frames, &nframes);
  if (rc != BH_OK) {
    push_free(p);
    return rc;
  }
  int64_t now = bh_now_ms();
  for (size_t i = 0; rc == BH_OK && i < neps; i++) {
    struct endpoint *e = endpoint_add(p, eps[i].id, eps[i].uoid);
    if (!e) {
      rc = BH_NOMEM;
      break;
    }
    e->seq = eps[i].seq;
    e->detached_ms = now; /* the client has history_ms from now to come back */
    if (eps[i].id >= p->next_id)
      p->next_id = eps[i].id + 1;
  }
  for (size_t i = 0; rc == BH_OK && i < nregs; i++) {
    struct endpoint *e = find(p, regs[i].endpoint);
    if (!e)
      continue;
    if (e->nregs == e->capregs) {
      size_t cap = e->capregs ? e->capregs * 2 : 4;
      struct reg *nv = realloc(e->regs, cap * sizeof *nv);
      if (!nv) {
        rc = BH_NOMEM;
        break;
      }
      e->regs = nv;
      e->capregs = cap;
    }
    e->regs[e->nregs++] = (struct reg){(enum push_kind)regs[i].kind, regs[i].a, regs[i].b};
  }
  for (size_t i = 0; rc == BH_OK && i < nframes; i++) {
    struct endpoint *e = find(p, frames[i].endpoint);
    struct push_frame *f =
        e ? frame_from_body(frames[i].body, strlen(frames[i].body), frames[i].time_ms) : NULL;
    if (f) {
      history_add(p, e, frames[i].seq, f);
      push_frame_unref(f);
    }
  }
  for (size_t i = 0; i < nframes; i++)
    free(frames[i].body);
  free(frames);
  free(regs);
  free(eps);
  if (rc == BH_OK)
    rc = events_subscribe(m->ev, on_event, p);
  if (rc != BH_OK) {
    push_free(p);
    return rc;
  }
  if (neps)
    BH_LOG(BH_LOG_INFO, BH_C_WS, "%zu endpoints kept from the last run, %zu frames of history",
           neps, nframes);
  *out = p;
  return BH_OK;
}

void push_free(struct push *p)
{
  if (!p)
    return;
  /* Keep sequences and histories for the clients that will resume after a restart: the
   * newest frames of each endpoint, PERSIST_FRAMES at most in all, so a stop stays quick
   * with many endpoints (an endpoint whose history was cut is told so on resume). */
  enum { PERSIST_FRAMES = 200000 };
  size_t quota = p->n ? PERSIST_FRAMES / p->n : 0;
  if (quota == 0)
    quota = 1;
  size_t nframes = 0;
  for (size_t i = 0; i < p->n; i++)
    nframes += p->v[i]->count < quota ? p->v[i]->count : quota;
  struct endpoint_rec *eps = calloc(p->n ? p->n : 1, sizeof *eps);
  struct endpoint_frame_rec *frames = calloc(nframes ? nframes : 1, sizeof *frames);
  if (eps && frames) {
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
      struct endpoint *e = p->v[i];
      eps[i] = (struct endpoint_rec){.id = e->id, .uoid = e->uoid, .seq = e->seq};
      size_t keep = e->count < quota ? e->count : quota;
      for (size_t j = e->count - keep; j < e->count; j++) {
        struct hist *h = &e->ring[(e->start + j) % e->cap];
        frames[k++] = (struct endpoint_frame_rec){e->id, h->seq, h->f->time_ms, h->f->body};
      }
    }
    if (store_endpoint_save(p->m->st, eps, p->n, frames, k) != BH_OK)
      BH_LOG(BH_LOG_WARN, BH_C_WS, "could not keep the endpoints' history for the next start");
  }
  free(eps);
  free(frames);
  for (size_t i = 0; i < p->n; i++)
    endpoint_free(p->v[i]);
  free(p->v);
  pthread_mutex_destroy(&p->lock);
  free(p);
}

void push_set_transport(struct push *p, const struct push_transport *t)
{
  pthread_mutex_lock(&p->lock);
  p->tr = *t;
  pthread_mutex_unlock(&p->lock);
}

size_t push_endpoint_count(struct push *p)
{
  pthread_mutex_lock(&p->lock);
  size_t n = p->n;
  pthread_mutex_unlock(&p->lock);
  return n;
}

static enum bh_err no_endpoint(struct bh_why *why, int64_t id)
{
  enum bh_err rc = bh_fail(why, BH_NOTFOUND, "Endpoint with id %lld not found", (long long)id);
  if (why) {
    why->error_code = 1;
    why->error_type = "DefaultErrorCode";
  }
  return rc;
}

enum bh_err push_endpoint_open(struct push *p, int64_t uoid, int64_t *id, struct bh_why *why)
{
  pthread_mutex_lock(&p->lock);
  int64_t mine = 0;
  for (size_t i = 0; i < p->n; i++)
    mine += p->v[i]->uoid == uoid;
  if (mine >= p->lim.max_endpoints_per_user) {
    pthread_mutex_unlock(&p->lock);
    return bh_fail(why, BH_TOOBIG, "Too many endpoints for this user (limit %lld)",
                   (long long)p->lim.max_endpoints_per_user);
  }
  struct endpoint *e = endpoint_add(p, p->next_id, uoid);
  if (e) {
    p->next_id++;
    e->detached_ms = bh_now_ms(); /* attached when the reply went out */
  }
  pthread_mutex_unlock(&p->lock);
  if (!e)
    return bh_fail(why, BH_NOMEM, "Out of memory");
  int64_t new_id = e->id;
  struct endpoint_rec r = {.id = new_id, .uoid = uoid, .created_ms = bh_now_ms()};
  enum bh_err rc = store_endpoint_add(p->m->st, &r);
  if (rc != BH_OK) {
    /* an id that could not be stored would not survive a restart: give none (disk full) */
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++)
      if (p->v[i]->id == new_id) {
        endpoint_remove_at(p, i);
        break;
      }
    pthread_mutex_unlock(&p->lock);
    return bh_fail(why, rc, "Cannot store the endpoint: %s", bh_err_text(rc));
  }
  *id = new_id;
  return BH_OK;
}

enum bh_err push_endpoint_resume(struct push *p, int64_t uoid, int64_t id, uint64_t lastseq,
                                 bool *history_ok, uint64_t *seq, struct bh_why *why)
{
  pthread_mutex_lock(&p->lock);
  struct endpoint *e = find(p, id);
  if (e)
    history_trim(p, e, bh_now_ms());
  if (!e || e->uoid != uoid) {
    pthread_mutex_unlock(&p->lock);
    return no_endpoint(why, id);
  }
  *seq = e->seq;
  uint64_t oldest = e->count ? e->ring[e->start].seq : e->seq + 1;
  /* complete when nothing after lastseq was dropped: lastseq is the newest or the history
   * starts right after it or earlier */
  *history_ok = lastseq <= e->seq && (lastseq == e->seq || oldest <= lastseq + 1);
  pthread_mutex_unlock(&p->lock);
  return BH_OK;
}

bool push_endpoint_attach(struct push *p, int64_t id, uint64_t conn,
                          const unsigned char *login_token, uint64_t ended_gen, bool replay,
                          uint64_t lastseq)
{
  pthread_mutex_lock(&p->lock);
  if (p->ended_gen != ended_gen) {
    pthread_mutex_unlock(&p->lock);
    return false;
  }
  struct endpoint *e = find(p, id);
  struct push_target *t = NULL;
  struct push_frame **fs = NULL;
  size_t n = 0;
  if (e) {
    e->conn = conn;
    e->has_login = login_token != NULL;
    if (login_token)
      memcpy(e->login, login_token, sizeof e->login);
    if (replay && e->count > 0) {
      t = malloc(e->count * sizeof *t);
      fs = malloc(e->count * sizeof *fs);
      for (size_t i = 0; t && fs && i < e->count; i++) {
        struct hist *h = &e->ring[(e->start + i) % e->cap];
        if (h->seq <= lastseq)
          continue;
        push_frame_ref(h->f);
        fs[n] = h->f;
        t[n++] = (struct push_target){conn, h->seq};
      }
    }
  }
  struct push_transport tr = p->tr;
  pthread_mutex_unlock(&p->lock);
  /* the missed frames, oldest first; the transport sends at once on its own thread */
  for (size_t i = 0; i < n; i++) {
    if (tr.send)
      tr.send(tr.ctx, fs[i], &t[i], 1);
    push_frame_unref(fs[i]);
  }
  free(t);
  free(fs);
  return true;
}

uint64_t push_ended_gen(struct push *p)
{
  pthread_mutex_lock(&p->lock);
  uint64_t g = p->ended_gen;
  pthread_mutex_unlock(&p->lock);
  return g;
}

/* Whether e's connection was opened with a token that push_end_sessions ends. */
static bool session_ends(const struct endpoint *e, int64_t uoid, const unsigned char *only,
                         const unsigned char *keep)
{
  if (e->conn == 0 || !e->has_login)
    return false;
  if (only)
    return memcmp(e->login, only, sizeof e->login) == 0;
  return e->uoid == uoid && !(keep && memcmp(e->login, keep, sizeof e->login) == 0);
}

size_t push_end_sessions(struct push *p, int64_t uoid, const unsigned char *only,
                         const unsigned char *keep, const char *reason)
{
  uint64_t *conns = NULL;
  size_t n = 0, cap = 0;
  int64_t now = bh_now_ms();
  pthread_mutex_lock(&p->lock);
  p->ended_gen++;
  for (size_t i = 0; i < p->n; i++) {
    struct endpoint *e = p->v[i];
    if (!session_ends(e, uoid, only, keep))
      continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      uint64_t *nv = realloc(conns, ncap * sizeof *nv);
      if (nv) {
        conns = nv;
        cap = ncap;
      }
    }
    if (n < cap)
      conns[n++] = e->conn;
    /* detached now: no push is handed to it from here on, even if it cannot be closed */
    e->conn = 0;
    e->has_login = false;
    e->detached_ms = now;
  }
  struct push_transport tr = p->tr;
  pthread_mutex_unlock(&p->lock);
  if (n > 0 && tr.close)
    tr.close(tr.ctx, conns, n, 1008, reason);
  free(conns);
  return n;
}

void push_endpoint_detach(struct push *p, int64_t id, uint64_t conn)
{
  pthread_mutex_lock(&p->lock);
  struct endpoint *e = find(p, id);
  if (e && e->conn == conn) {
    e->conn = 0;
    e->detached_ms = bh_now_ms();
  }
  pthread_mutex_unlock(&p->lock);
}

/* ---- registrations ---- */

static enum bh_err check_target(struct push *p, int64_t uoid, enum push_kind kind, int64_t a,
                                int64_t b, struct bh_why *why)
{
  struct actor who = actor_of(p, uoid);
  switch (kind) {
  case PUSH_PROGRESS: {
    struct topic_info t;
    if (topics_get(p->m->topics, a, &t) != BH_OK)
      return bh_fail(why, BH_NOTFOUND, "Topic with id %lld not found", (long long)a);
    bool ok = t.owner_uoid == uoid || who.type == USER_ADMIN;
    if (!ok && t.poid > 0) {
      struct project_rec pr;
      if (store_project_get(p->m->st, t.poid, &pr) == BH_OK) {
        ok = project_can_read(p->m, &who, &pr);
        project_rec_clear(&pr);
      }
    }
    return ok ? BH_OK : bh_fail(why, BH_NOTFOUND, "Topic with id %lld not found", (long long)a);
  }
  case PUSH_NEW_REVISION_PROJECT:
  case PUSH_CHANGE_PROJECT: {
    struct project_rec pr;
    enum bh_err rc = project_get_readable(p->m, &who, a, &pr, why);
    if (rc == BH_OK)
      project_rec_clear(&pr);
    return rc;
  }
  case PUSH_NEW_EXTENDED_DATA:
  case PUSH_CHANGE_REVISION: {
    struct revision_rec r;
    enum bh_err rc = revision_get_readable(p->m, &who, a, &r, why);
    if (rc == BH_OK)
      revision_rec_clear(&r);
    (void)b;
    return rc;
  }
  case PUSH_NEW_USER:
  case PUSH_NEW_REVISION:
  case PUSH_NEW_PROJECT:
  case PUSH_CHANGE_SERVER:
    return BH_OK; /* filtered per event */
  }
  return BH_OK;
}

enum bh_err push_register(struct push *p, int64_t caller_uoid, int64_t endpoint,
                          enum push_kind kind, int64_t a, int64_t b, struct bh_why *why)
{
  enum bh_err rc = check_target(p, caller_uoid, kind, a, b, why);
  if (rc != BH_OK)
    return rc;
  pthread_mutex_lock(&p->lock);
  struct endpoint *e = find(p, endpoint);
  if (!e || e->uoid != caller_uoid) {
    pthread_mutex_unlock(&p->lock);
    return no_endpoint(why, endpoint);
  }
  for (size_t i = 0; i < e->nregs; i++) {
    if (e->regs[i].kind == kind && e->regs[i].a == a && e->regs[i].b == b) {
      pthread_mutex_unlock(&p->lock);
      return BH_OK; /* registered already */
    }
  }
  if ((int64_t)e->nregs >= p->lim.max_registrations) {
    pthread_mutex_unlock(&p->lock);
    return bh_fail(why, BH_TOOBIG, "Too many registrations on endpoint %lld (limit %lld)",
                   (long long)endpoint, (long long)p->lim.max_registrations);
  }
  if (e->nregs == e->capregs) {
    size_t cap = e->capregs ? e->capregs * 2 : 4;
    struct reg *nv = realloc(e->regs, cap * sizeof *nv);
    if (!nv) {
      pthread_mutex_unlock(&p->lock);
      return bh_fail(why, BH_NOMEM, "Out of memory");
    }
    e->regs = nv;
    e->capregs = cap;
  }
  e->regs[e->nregs++] = (struct reg){kind, a, b};
  pthread_mutex_unlock(&p->lock);
  struct endpoint_reg_rec r = {endpoint, kind, a, b};
  store_endpoint_reg_add(p->m->st, &r);
  return BH_OK;
}

enum bh_err push_unregister(struct push *p, int64_t caller_uoid, int64_t endpoint,
                            enum push_kind kind, int64_t a, int64_t b, struct bh_why *why)
{
  pthread_mutex_lock(&p->lock);
  struct endpoint *e = find(p, endpoint);
  if (!e || e->uoid != caller_uoid) {
    pthread_mutex_unlock(&p->lock);
    return no_endpoint(why, endpoint);
  }
  for (size_t i = 0; i < e->nregs; i++) {
    if (e->regs[i].kind == kind && e->regs[i].a == a && e->regs[i].b == b) {
      e->regs[i] = e->regs[--e->nregs];
      break;
    }
  }
  pthread_mutex_unlock(&p->lock);
  struct endpoint_reg_rec r = {endpoint, kind, a, b};
  store_endpoint_reg_remove(p->m->st, &r);
  return BH_OK;
}
