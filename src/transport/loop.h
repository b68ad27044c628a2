/* loop.h: the transport's libuv loop thread. Other threads hand it closures through a
 * locked queue and one uv_async; /stream sessions, timers and uv_queue_work completions
 * all run on it. Internal to transport. */
#ifndef BH_TRANSPORT_LOOP_H
#define BH_TRANSPORT_LOOP_H

#include <stdint.h>

#include <uv.h>

#include "common/bh_err.h"

struct loop;
typedef void (*loop_fn)(void *arg);

/* Creates the loop and starts its thread. workers > 0 sets UV_THREADPOOL_SIZE first (libuv
 * reads it once per process, at the first uv_queue_work). Caller thread; the caller owns
 * *out and ends it with loop_stop(), then loop_free(). */
enum bh_err loop_start(struct loop **out, int64_t workers);

/* Runs fn(arg) on the loop thread, after delay_ms (0: as soon as possible). Any thread.
 * Returns BH_OK when fn will run exactly once (closures posted before loop_stop() always
 * run; pending delays fire at once when the loop stops), BH_CLOSED once the loop is
 * stopping and BH_NOMEM: then fn will never run and the caller handles arg itself. */
enum bh_err loop_post(struct loop *l, uint64_t delay_ms, loop_fn fn, void *arg);

/* The libuv loop, for handles and uv_queue_work. Use it only on the loop thread. */
uv_loop_t *loop_uv(struct loop *l);

/* Is the calling thread the loop thread? For assertions. Any thread. */
int loop_is_current(const struct loop *l);

/* Stops the loop. Any thread but the loop thread; once. Order: the closures already posted
 * run, pending delays fire, then on_stop(arg) runs on the loop thread (close your handles
 * there); the loop then runs until every handle is closed and every queued work item is
 * done, and the thread is joined. Afterwards loop_post() keeps answering BH_CLOSED, so
 * other threads may still hold l until loop_free(). */
void loop_stop(struct loop *l, loop_fn on_stop, void *arg);
/* Frees a stopped loop (NULL-safe). No other thread may use l any more. */
void loop_free(struct loop *l);

#endif
