/* throttle.c: a small open-addressing table of failure counters keyed by a hash of
 * "u:<lower-case user>" or "a:<address>". */
#include "auth/throttle.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define PROBE 8
#define FORGET_MS (15 * 60 * 1000)

struct slot {
  uint64_t key; /* 0: empty */
  uint32_t failures;
  int64_t last_ms;
};

struct throttle {
  pthread_mutex_t lock;
  unsigned base_ms, max_ms;
  unsigned char hash_key[crypto_shorthash_KEYBYTES];
  struct slot slots[SLOTS];
};

struct throttle *throttle_new(unsigned base_ms, unsigned max_ms)
{
  struct throttle *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  pthread_mutex_init(&t->lock, NULL);
  t->base_ms = base_ms;
  t->max_ms = max_ms;
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

static uint64_t key_of(const struct throttle *t, char kind, const char *s)
{
  unsigned char buf[512];
  size_t n = 0;
  buf[n++] = (unsigned char)kind;
  for (; *s && n < sizeof buf; s++)
    buf[n++] = (unsigned char)tolower((unsigned char)*s);
  uint64_t k;
  crypto_shorthash((unsigned char *)&k, buf, n, t->hash_key);
  return k ? k : 1;
}

/* Finds the slot of key, or claims an empty, forgotten or the stalest one. Lock held. */
static struct slot *find(struct throttle *t, uint64_t key, int64_t now_ms)
{
  struct slot *victim = NULL;
  for (unsigned i = 0; i < PROBE; i++) {
    struct slot *s = &t->slots[(key + i) % SLOTS];
    if (s->key == key) {
      if (now_ms - s->last_ms > FORGET_MS)
        s->failures = 0;
      return s;
    }
    if (s->key == 0 || now_ms - s->last_ms > FORGET_MS) {
      if (!victim || victim->key != 0)
        victim = s;
    } else if (!victim || (victim->key != 0 && s->last_ms < victim->last_ms)) {
      victim = s;
    }
  }
  victim->key = key;
  victim->failures = 0;
  victim->last_ms = now_ms;
  return victim;
}

static unsigned delay_for(const struct throttle *t, uint32_t failures)
{
  uint64_t d = t->base_ms;
  for (uint32_t i = 1; i < failures && d < t->max_ms; i++)
    d *= 2;
  return d > t->max_ms ? t->max_ms : (unsigned)d;
}

unsigned throttle_failure(struct throttle *t, const char *username, const char *addr,
                          int64_t now_ms)
{
  pthread_mutex_lock(&t->lock);
  struct slot *u = find(t, key_of(t, 'u', username ? username : ""), now_ms);
  u->failures++;
  u->last_ms = now_ms;
  uint32_t worst = u->failures;
  struct slot *a = find(t, key_of(t, 'a', addr ? addr : ""), now_ms);
  a->failures++;
  a->last_ms = now_ms;
  if (a->failures > worst)
    worst = a->failures;
  unsigned d = delay_for(t, worst);
  pthread_mutex_unlock(&t->lock);
  return d;
}

void throttle_success(struct throttle *t, const char *username)
{
  pthread_mutex_lock(&t->lock);
  uint64_t key = key_of(t, 'u', username ? username : "");
  for (unsigned i = 0; i < PROBE; i++) {
    struct slot *s = &t->slots[(key + i) % SLOTS];
    if (s->key == key) {
      s->key = 0;
      s->failures = 0;
      break;
    }
  }
  pthread_mutex_unlock(&t->lock);
}
