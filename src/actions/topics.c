/* topics.c: the live topics in an array sorted by id (ids only grow, so creation appends),
 * under one lock. Events are published after the lock is released. */
#include "actions/topics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bh_time.h"
#include "model/events.h"

#define PUSH_INTERVAL_MS 200 /* §7.2: at most one progress-only update per 200 ms */

struct topic {
  struct topic_info info;
  struct topic_state sent; /* the last state published */
  int64_t sent_ms;
};

struct topics {
  pthread_mutex_t lock;
  struct events *ev;
  int64_t keep_ms;
  int64_t next_id;
  int64_t max_per_owner; /* 0: no limit */
  struct topic *v;       /* sorted by info.id */
  size_t n, cap;
};

const char *action_state_name(enum action_state s)
{
  switch (s) {
  case ACTION_STARTED:
    return "STARTED";
  case ACTION_ERROR:
    return "AS_ERROR";
  case ACTION_FINISHED:
    return "FINISHED";
  case ACTION_UNKNOWN:
    break;
  }
  return "UNKNOWN";
}

struct topics *topics_new(struct events *ev, int64_t keep_ms)
{
  struct topics *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  pthread_mutex_init(&t->lock, NULL);
  t->ev = ev;
  t->keep_ms = keep_ms;
  t->next_id = 1;
  return t;
}

void topics_free(struct topics *t)
{
  if (!t)
    return;
  pthread_mutex_destroy(&t->lock);
  free(t->v);
  free(t);
}

/* Lock held. */
static struct topic *find(struct topics *t, int64_t id)
{
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (t->v[mid].info.id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < t->n && t->v[lo].info.id == id ? &t->v[lo] : NULL;
}

static void publish(struct topics *t, enum event_type type, const struct topic_info *i)
{
  if (!t->ev)
    return;
  struct event e = {.type = type,
                    .topic_id = i->id,
                    .topic_kind = i->kind,
                    .poid = i->poid,
                    .roid = i->roid,
                    .uoid = i->owner_uoid,
                    .actor_uoid = i->owner_uoid,
                    .edid = -1,
                    .service_oid = -1};
  events_publish(t->ev, &e);
}

void topics_set_max_per_owner(struct topics *t, int64_t max)
{
  pthread_mutex_lock(&t->lock);
  t->max_per_owner = max;
  pthread_mutex_unlock(&t->lock);
}

/* Lock held. */
static bool owner_is_full(const struct topics *t, int64_t owner_uoid)
{
  if (t->max_per_owner <= 0)
    return false;
  int64_t mine = 0;
  for (size_t i = 0; i < t->n; i++)
    mine += t->v[i].info.owner_uoid == owner_uoid;
  return mine >= t->max_per_owner;
}

enum bh_err topics_create(struct topics *t, enum topic_kind kind, const char *type,
                          const char *description, int64_t poid, int64_t roid, int64_t owner_uoid,
                          int64_t owner_soid, bool is_checkin, int64_t *id)
{
  (void)type;
  (void)description;
  topics_expire(t, bh_now_ms()); /* ended topics go as new ones come */
  pthread_mutex_lock(&t->lock);
  if (!is_checkin && owner_is_full(t, owner_uoid)) {
    pthread_mutex_unlock(&t->lock);
    return BH_TOOBIG;
  }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct topic *nv = realloc(t->v, cap * sizeof *nv);
    if (!nv) {
      pthread_mutex_unlock(&t->lock);
      return BH_NOMEM;
    }
    t->v = nv;
    t->cap = cap;
  }
  struct topic *tp = &t->v[t->n++];
  memset(tp, 0, sizeof *tp);
  tp->info.id = t->next_id++;
  tp->info.kind = kind;
  tp->info.poid = poid;
  tp->info.roid = roid;
  tp->info.owner_uoid = owner_uoid;
  tp->info.owner_soid = owner_soid;
  struct topic_state *s = &tp->info.state;
  s->is_checkin = is_checkin;
  s->start_ms = bh_now_ms();
  s->progress = -1;
  s->state = ACTION_STARTED;
  snprintf(s->title, sizeof s->title, "Unknown");
  struct topic_info copy = tp->info;
  *id = copy.id;
  pthread_mutex_unlock(&t->lock);
  publish(t, EV_TOPIC_NEW, &copy);
  return BH_OK;
}

/* Applies the §7.2 rule to the topic's current state; returns whether to publish. Lock held. */
static bool should_send(struct topic *tp, int64_t now)
{
  const struct topic_state *s = &tp->info.state, *last = &tp->sent;
  bool send = !tp->info.has_state || s->state == ACTION_FINISHED || s->state == ACTION_ERROR ||
              s->progress == 100 || s->stage != last->stage || strcmp(s->title, last->title) != 0 ||
              (now - tp->sent_ms > PUSH_INTERVAL_MS && s->progress != last->progress);
  if (send) {
    tp->info.has_state = true;
    tp->sent = *s;
    tp->sent_ms = now;
  }
  return send;
}

/* Runs change on the topic under the lock, then publishes if the rule says so. */
static enum bh_err change(struct topics *t, int64_t id, void (*fn)(struct topic_state *, void *),
                          void *arg)
{
  pthread_mutex_lock(&t->lock);
  struct topic *tp = find(t, id);
  if (!tp) {
    pthread_mutex_unlock(&t->lock);
    return BH_NOTFOUND;
  }
  fn(&tp->info.state, arg);
  bool send = should_send(tp, bh_now_ms());
  struct topic_info copy = tp->info;
  pthread_mutex_unlock(&t->lock);
  if (send)
    publish(t, EV_PROGRESS, &copy);
  return BH_OK;
}

static void set_title(struct topic_state *s, const char *title)
{
  if (title && strcmp(title, s->title) != 0) {
    snprintf(s->title, sizeof s->title, "%s", title);
    s->stage++;
  }
}

struct progress_arg {
  const char *title;
  int progress;
  int64_t roid;
  int code;
};

static void apply_progress(struct topic_state *s, void *arg)
{
  struct progress_arg *a = arg;
  set_title(s, a->title);
  if (a->progress >= -1)
    s->progress = a->progress;
}

static void apply_finish(struct topic_state *s, void *arg)
{
  struct progress_arg *a = arg;
  set_title(s, a->title);
  s->progress = 100;
  s->state = ACTION_FINISHED;
  s->end_ms = bh_now_ms();
  if (a->roid > 0)
    s->roid = a->roid;
}

static void apply_fail(struct topic_state *s, void *arg)
{
  struct progress_arg *a = arg;
  set_title(s, a->title);
  snprintf(s->error, sizeof s->error, "%s", a->title);
  s->progress = 0;
  s->state = ACTION_ERROR;
  s->end_ms = bh_now_ms();
  s->deserialize_error_code = a->code;
}

static void apply_replace(struct topic_state *s, void *arg)
{
  const struct topic_state *n = arg;
  int stage = s->stage;
  bool title_changed = strcmp(s->title, n->title) != 0;
  *s = *n;
  s->stage = stage + (title_changed ? 1 : 0);
}

enum bh_err topics_progress(struct topics *t, int64_t id, const char *title, int progress)
{
  struct progress_arg a = {.title = title, .progress = progress};
  return change(t, id, apply_progress, &a);
}

enum bh_err topics_finish(struct topics *t, int64_t id, const char *title, int64_t roid)
{
  struct progress_arg a = {.title = title, .roid = roid};
  return change(t, id, apply_finish, &a);
}

enum bh_err topics_fail(struct topics *t, int64_t id, const char *message, int deserialize_code)
{
  struct progress_arg a = {.title = message, .code = deserialize_code};
  return change(t, id, apply_fail, &a);
}

enum bh_err topics_set_state(struct topics *t, int64_t id, const struct topic_state *s)
{
  return change(t, id, apply_replace, (void *)s);
}

enum bh_err topics_set_download(struct topics *t, int64_t id, const struct topic_download *d)
{
  pthread_mutex_lock(&t->lock);
  struct topic *tp = find(t, id);
  if (tp) {
    tp->info.download = *d;
    tp->info.has_download = true;
  }
  pthread_mutex_unlock(&t->lock);
  return tp ? BH_OK : BH_NOTFOUND;
}

enum bh_err topics_get(struct topics *t, int64_t id, struct topic_info *out)
{
  pthread_mutex_lock(&t->lock);
  struct topic *tp = find(t, id);
  if (tp)
    *out = tp->info;
  pthread_mutex_unlock(&t->lock);
  return tp ? BH_OK : BH_NOTFOUND;
}

/* Lock held; copies the removed topic's info to gone. */
static void remove_at(struct topics *t, size_t i, struct topic_info *gone)
{
  *gone = t->v[i].info;
  memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof t->v[0]);
  t->n--;
}

enum bh_err topics_remove(struct topics *t, int64_t id)
{
  pthread_mutex_lock(&t->lock);
  struct topic *tp = find(t, id);
  struct topic_info gone;
  if (tp)
    remove_at(t, (size_t)(tp - t->v), &gone);
  pthread_mutex_unlock(&t->lock);
  if (!tp)
    return BH_NOTFOUND;
  publish(t, EV_TOPIC_CLOSED, &gone);
  return BH_OK;
}

enum bh_err topics_list(struct topics *t, int64_t poid, int64_t roid, int64_t **ids, size_t *n)
{
  pthread_mutex_lock(&t->lock);
  *ids = malloc((t->n ? t->n : 1) * sizeof **ids);
  *n = 0;
  for (size_t i = 0; *ids && i < t->n; i++) {
    const struct topic_info *ti = &t->v[i].info;
    bool match = roid != -1 ? ti->roid == roid : poid != -1 ? ti->poid == poid : true;
    if (match)
      (*ids)[(*n)++] = ti->id;
  }
  pthread_mutex_unlock(&t->lock);
  return *ids ? BH_OK : BH_NOMEM;
}

void topics_expire(struct topics *t, int64_t now_ms)
{
  for (;;) {
    struct topic_info gone;
    bool found = false;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
      const struct topic_state *s = &t->v[i].info.state;
      if (s->end_ms > 0 && now_ms - s->end_ms > t->keep_ms) {
        remove_at(t, i, &gone);
        found = true;
        break;
      }
    }
    pthread_mutex_unlock(&t->lock);
    if (!found)
      return;
    publish(t, EV_TOPIC_CLOSED, &gone);
  }
}
