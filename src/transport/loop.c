/* loop.c: one libuv loop on its own thread. The loop is the only owner of its handles;
 * other threads reach it through a mutex-protected list of closures and uv_async_send()
 * (which coalesces, so the async callback drains the whole list). Delayed closures get a
 * uv_timer each and are remembered so a stop can fire them at once: a suspended HTTP
 * connection waiting on one must be resumed before MHD_stop_daemon(). */
#include "transport/loop.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/bh_log.h"

struct loop_item {
  struct loop_item *next; /* posted list, then timer list (doubly linked) */
  struct loop_item *prev;
  loop_fn fn;
  void *arg;
  uint64_t delay_ms;
  struct loop *l;
  uv_timer_t timer; /* used only when delay_ms > 0 */
};

struct loop {
  uv_loop_t uv;
  uv_async_t wake;
  pthread_t thread;
  pthread_mutex_t lock; /* guards posted_*, is_closed, stop_fn, stop_arg */
  struct loop_item *posted_head, *posted_tail;
  bool is_closed; /* no more posts accepted */
  bool has_stop;  /* loop_stop() asked; stop_fn runs after the drain */
  loop_fn stop_fn;
  void *stop_arg;
  struct loop_item *timers; /* armed delays; loop thread only */
};

static void item_timer_closed(uv_handle_t *h)
{
  free(h->data);
}

static void timer_unlink(struct loop_item *it)
{
  struct loop *l = it->l;
  if (it->prev)
    it->prev->next = it->next;
  else
    l->timers = it->next;
  if (it->next)
    it->next->prev = it->prev;
}

static void item_timer_fired(uv_timer_t *t)
{
  struct loop_item *it = t->data;
  timer_unlink(it);
  it->fn(it->arg);
  uv_close((uv_handle_t *)&it->timer, item_timer_closed);
}

static void item_run(struct loop *l, struct loop_item *it)
{
  if (it->delay_ms == 0) {
    it->fn(it->arg);
    free(it);
    return;
  }
  uv_timer_init(&l->uv, &it->timer); /* cannot fail for timers */
  it->timer.data = it;
  it->prev = NULL;
  it->next = l->timers;
  if (l->timers)
    l->timers->prev = it;
  l->timers = it;
  uv_timer_start(&it->timer, item_timer_fired, it->delay_ms, 0);
}

static void loop_fire_all_timers(struct loop *l)
{
  while (l->timers) {
    struct loop_item *it = l->timers;
    uv_timer_stop(&it->timer);
    item_timer_fired(&it->timer);
  }
}

static void loop_woken(uv_async_t *a)
{
  struct loop *l = a->data;
  for (;;) {
    pthread_mutex_lock(&l->lock);
    struct loop_item *list = l->posted_head;
    l->posted_head = l->posted_tail = NULL;
    bool stop_now = l->has_stop && !l->is_closed && list == NULL;
    if (stop_now)
      l->is_closed = true;
    pthread_mutex_unlock(&l->lock);

    if (stop_now) {
      /* Everything posted before is_closed ran; new posts are refused from here. */
      loop_fire_all_timers(l);
      if (l->stop_fn)
        l->stop_fn(l->stop_arg);
      uv_close((uv_handle_t *)&l->wake, NULL);
      return;
    }
    if (!list)
      return;
    while (list) {
      struct loop_item *it = list;
      list = it->next;
      item_run(l, it);
    }
  }
}

static void *loop_main(void *arg)
{
  struct loop *l = arg;
  uv_run(&l->uv, UV_RUN_DEFAULT);
  return NULL;
}

enum bh_err loop_start(struct loop **out, int64_t workers)
{
  *out = NULL;
  if (workers > 0) {
    /* Must precede the first uv_queue_work in the process; libuv caps it at 1024. */
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)workers);
    setenv("UV_THREADPOOL_SIZE", n, 1);
  }
  struct loop *l = calloc(1, sizeof *l);
  if (!l)
    return BH_NOMEM;
  if (uv_loop_init(&l->uv) != 0)
    goto fail_loop;
  if (uv_async_init(&l->uv, &l->wake, loop_woken) != 0)
    goto fail_async;
  l->wake.data = l;
  if (pthread_mutex_init(&l->lock, NULL) != 0)
    goto fail_mutex;
  if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
    goto fail_thread;
  *out = l;
  return BH_OK;
fail_thread:
  pthread_mutex_destroy(&l->lock);
fail_mutex:
  uv_close((uv_handle_t *)&l->wake, NULL);
  uv_run(&l->uv, UV_RUN_DEFAULT);
fail_async:
  uv_loop_close(&l->uv);
fail_loop:
  free(l);
  return BH_INTERNAL;
}

enum bh_err loop_post(struct loop *l, uint64_t delay_ms, loop_fn fn, void *arg)
{
  struct loop_item *it = malloc(sizeof *it);
  if (!it)
    return BH_NOMEM;
  it->next = it->prev = NULL;
  it->fn = fn;
  it->arg = arg;
  it->delay_ms = delay_ms;
  it->l = l;
  pthread_mutex_lock(&l->lock);
  if (l->is_closed) {
    pthread_mutex_unlock(&l->lock);
    free(it);
    return BH_CLOSED;
  }
  if (l->posted_tail)
    l->posted_tail->next = it;
  else
    l->posted_head = it;
  l->posted_tail = it;
  /* Sent under the lock so the async handle cannot be closed in between. */
  uv_async_send(&l->wake);
  pthread_mutex_unlock(&l->lock);
  return BH_OK;
}

uv_loop_t *loop_uv(struct loop *l)
{
  return &l->uv;
}

int loop_is_current(const struct loop *l)
{
  return pthread_equal(pthread_self(), l->thread);
}

void loop_stop(struct loop *l, loop_fn on_stop, void *arg)
{
  pthread_mutex_lock(&l->lock);
  l->has_stop = true;
  l->stop_fn = on_stop;
  l->stop_arg = arg;
  uv_async_send(&l->wake);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->thread, NULL);
  int rc = uv_loop_close(&l->uv);
  if (rc != 0)
    BH_LOG(BH_LOG_ERROR, BH_C_WS, "loop closed with live handles: %s", uv_strerror(rc));
}

void loop_free(struct loop *l)
{
  if (!l)
    return;
  pthread_mutex_destroy(&l->lock);
  free(l);
}
