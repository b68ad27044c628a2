/* throttle.c: a small open-addressing table of attempt counters keyed by a hash of
 * "u<trimmed lower-case user>" or "a<address>". */
#include "auth/throttle.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define PROBE 8

struct slot {
  uint64_t key; /* 0: empty */
  uint32_t failures;
  uint32_t running; /* attempts begun and not ended */
  int64_t last_ms;  /* last failure or begin */
};

struct throttle {
  pthread_mutex_t lock;
  struct throttle_limits lim;
  unsigned char hash_key[crypto_shorthash_KEYBYTES];
  struct slot slots[SLOTS];
};

struct throttle *throttle_new(const struct throttle_limits *lim)
{
  struct throttle *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  pthread_mutex_init(&t->lock, NULL);
  t->lim = *lim;
  randombytes_buf(t->hash_key, sizeof t->hash_key); /* keyed: names cannot be made to collide */
  return t;
}

void throttle_free(struct throttle *t)
{
  if (!t)
    return;
  pthread_mutex_destroy(&t->lock);
  free(t);
}

/* Trimmed and lower-cased like the user lookup, so " Admin@X.Y" counts as admin@x.y. False
 * for a blank name. */
static bool key_of(const struct throttle *t, char kind, const char *s, uint64_t *out)
{
  unsigned char buf[512];
  size_t n = 0;
  if (!s)
    return false;
  while (isspace((unsigned char)*s))
    s++;
  size_t len = strlen(s);
  while (len > 0 && isspace((unsigned char)s[len - 1]))
    len--;
  if (len == 0)
    return false;
  buf[n++] = (unsigned char)kind;
  for (size_t i = 0; i < len && n < sizeof buf; i++)
    buf[n++] = (unsigned char)tolower((unsigned char)s[i]);
  uint64_t k;
  crypto_shorthash((unsigned char *)&k, buf, n, t->hash_key);
  *out = k ? k : 1;
  return true;
}

static bool stale(const struct throttle *t, const struct slot *s, int64_t now_ms)
{
  return s->running == 0 && now_ms - s->last_ms >= t->lim.window_ms;
}

/* Which of two taken slots gives way first: an idle one before one with a running attempt,
 * then the older. */
static bool yields_before(const struct slot *a, const struct slot *b)
{
  if ((a->running == 0) != (b->running == 0))
    return a->running == 0;
  return a->last_ms < b->last_ms;
}

/* Finds the slot of key, or claims an empty, forgotten or else the stalest one. Lock held. */
static struct slot *find(struct throttle *t, uint64_t key, int64_t now_ms)
{
  struct slot *victim = NULL;
  for (unsigned i = 0; i < PROBE; i++) {
    struct slot *s = &t->slots[(key + i) % SLOTS];
    if (s->key == key) {
      if (stale(t, s, now_ms))
        s->failures = 0;
      return s;
    }
    if (s->key == 0 || stale(t, s, now_ms)) {
      if (!victim || victim->key != 0)
        victim = s;
    } else if (!victim ||
               (victim->key != 0 && !stale(t, victim, now_ms) && yields_before(s, victim))) {
      victim = s;
    }
  }
  *victim = (struct slot){.key = key, .last_ms = now_ms};
  return victim;
}

static struct slot *find_named(struct throttle *t, char kind, const char *s, int64_t now_ms)
{
  uint64_t key;
  return key_of(t, kind, s, &key) ? find(t, key, now_ms) : NULL;
}

static unsigned delay_for(const struct throttle *t, uint32_t failures)
{
  uint64_t d = t->lim.base_ms;
  for (uint32_t i = 1; i < failures && d < t->lim.max_ms; i++)
    d *= 2;
  return d > t->lim.max_ms ? t->lim.max_ms : (unsigned)d;
}

/* Seconds until s is under max again, 0 when it is. Counts running attempts: each may fail. */
static unsigned over(const struct throttle *t, const struct slot *s, unsigned max, int64_t now_ms)
{
  if (!s || max == 0 || s->failures + s->running < max)
    return 0;
  int64_t left = s->last_ms + t->lim.window_ms - now_ms;
  return left > 0 ? (unsigned)((left + 999) / 1000) : 1;
}

unsigned throttle_begin(struct throttle *t, const char *username, const char *addr, int64_t now_ms,
                        unsigned *delay_ms)
{
  pthread_mutex_lock(&t->lock);
  struct slot *u = find_named(t, 'u', username, now_ms);
  struct slot *a = find_named(t, 'a', addr ? addr : "", now_ms);
  unsigned wait_u = over(t, u, t->lim.user_max, now_ms);
  unsigned wait_a = over(t, a, t->lim.addr_max, now_ms);
  unsigned wait = wait_u > wait_a ? wait_u : wait_a;
  *delay_ms = 0;
  if (wait > 0) {
    uint32_t worst = u && u->failures > (a ? a->failures : 0) ? u->failures : (a ? a->failures : 0);
    *delay_ms = delay_for(t, worst);
  } else {
    if (u) {
      u->running++;
      u->last_ms = now_ms;
    }
    if (a) {
      a->running++;
      a->last_ms = now_ms;
    }
  }
  pthread_mutex_unlock(&t->lock);
  return wait;
}

static void end(struct slot *s)
{
  if (s && s->running > 0)
    s->running--;
}

unsigned throttle_failure(struct throttle *t, const char *username, const char *addr,
                          int64_t now_ms)
{
  pthread_mutex_lock(&t->lock);
  uint32_t worst = 0;
  struct slot *u = find_named(t, 'u', username, now_ms);
  if (u) {
    end(u);
    u->failures++;
    u->last_ms = now_ms;
    worst = u->failures;
  }
  struct slot *a = find_named(t, 'a', addr ? addr : "", now_ms);
  if (a) {
    end(a);
    a->failures++;
    a->last_ms = now_ms;
    if (a->failures > worst)
      worst = a->failures;
  }
  unsigned d = delay_for(t, worst);
  pthread_mutex_unlock(&t->lock);
  return d;
}

/* The slot of key if it is in the table (no claim). Lock held. */
static struct slot *lookup(struct throttle *t, char kind, const char *s)
{
  uint64_t key;
  if (!key_of(t, kind, s, &key))
    return NULL;
  for (unsigned i = 0; i < PROBE; i++) {
    struct slot *sl = &t->slots[(key + i) % SLOTS];
    if (sl->key == key)
      return sl;
  }
  return NULL;
}

void throttle_success(struct throttle *t, const char *username, const char *addr)
{
  pthread_mutex_lock(&t->lock);
  struct slot *u = lookup(t, 'u', username);
  if (u) {
    end(u);
    u->failures = 0;
    if (u->running == 0)
      u->key = 0;
  }
  end(lookup(t, 'a', addr ? addr : ""));
  pthread_mutex_unlock(&t->lock);
}
