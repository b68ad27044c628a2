/* budget.c: the reservation is one atomic counter; an account reserves in steps of
 * BUDGET_STEP so that small requests touch it once or twice. Jansson gives no size to its
 * free function, so both hooks ask malloc_usable_size(), and blocks are plain malloc blocks:
 * json_dumps() results may still be released with free(). */
#include "transport/budget.h"

#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define BUDGET_STEP (16 * 1024)

static atomic_llong budget_used;
static atomic_llong budget_max = INT64_MAX;
static _Thread_local struct budget_acct *budget_current;
static pthread_once_t budget_once = PTHREAD_ONCE_INIT;

static bool budget_reserve(int64_t n)
{
  long long cur = atomic_load(&budget_used);
  long long max = atomic_load(&budget_max);
  do {
    if (n > max - cur)
      return false;
  } while (!atomic_compare_exchange_weak(&budget_used, &cur, cur + n));
  return true;
}

bool budget_take(struct budget_acct *a, int64_t n)
{
  if (n <= a->held - a->used) {
    a->used += n;
    return true;
  }
  int64_t need = n - (a->held - a->used);
  int64_t step = need < BUDGET_STEP ? BUDGET_STEP : need;
  if (!budget_reserve(step)) {
    step = need;
    if (!budget_reserve(step)) {
      a->is_refused = true;
      if (a->used + n > atomic_load(&budget_max))
        a->is_too_big = true;
      return false;
    }
  }
  a->held += step;
  a->used += n;
  return true;
}

void budget_give(struct budget_acct *a, int64_t n)
{
  /* a block allocated before the account was entered may be freed inside it */
  a->used = n < a->used ? a->used - n : 0;
}

void budget_return(struct budget_acct *a)
{
  if (a->held > 0)
    atomic_fetch_sub(&budget_used, a->held);
  *a = (struct budget_acct){0};
}

static void *budget_json_malloc(size_t n)
{
  void *p = malloc(n);
  struct budget_acct *a = budget_current;
  if (p && a && !budget_take(a, (int64_t)malloc_usable_size(p))) {
    free(p);
    return NULL; /* Jansson fails the parse or the value: the caller sees an error */
  }
  return p;
}

static void budget_json_free(void *p)
{
  struct budget_acct *a = budget_current;
  if (p && a)
    budget_give(a, (int64_t)malloc_usable_size(p));
  free(p);
}

static void budget_install(void)
{
  json_set_alloc_funcs(budget_json_malloc, budget_json_free);
}

void budget_init(int64_t limit_bytes)
{
  atomic_store(&budget_max, limit_bytes);
  pthread_once(&budget_once, budget_install);
}

void budget_enter(struct budget_acct *a)
{
  budget_current = a;
}

void budget_leave(void)
{
  budget_current = NULL;
}

int64_t budget_in_use(void)
{
  return atomic_load(&budget_used);
}

int64_t budget_limit(void)
{
  return atomic_load(&budget_max);
}
