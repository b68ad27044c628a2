/* budget.h: one process-wide budget for the memory that requests from the network make the
 * server hold: buffered /json bodies and the JSON values built while handling them. Each
 * request has an account; the account reserves from the budget in steps as its memory
 * grows and gives everything back when the request ends. A request whose account cannot
 * grow is refused (HTTP 503 with Retry-After, or 413 when it alone needs more than the
 * whole budget). Jansson's allocations are counted against the account the calling thread
 * entered with budget_enter(); outside an account they are not counted. Thread-safe; an
 * account is used by one thread at a time. Internal to transport. */
#ifndef BH_TRANSPORT_BUDGET_H
#define BH_TRANSPORT_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct budget_acct {
  int64_t held;    /* reserved from the budget */
  int64_t used;    /* of held */
  bool is_refused; /* an allocation was refused */
  bool is_too_big; /* ... and this request alone needs more than the whole budget */
};

/* Sets the size of the budget and, once per process, routes Jansson's allocations through
 * the accounting. Call before the threads that handle requests start. */
void budget_init(int64_t limit_bytes);
/* Counts n more bytes for a. False (and a->is_refused) when the budget cannot hold them;
 * then nothing is counted. */
bool budget_take(struct budget_acct *a, int64_t n);
/* Counts n bytes fewer for a (they were freed); the reservation stays until budget_return(). */
void budget_give(struct budget_acct *a, int64_t n);
/* Gives a's whole reservation back and clears a. */
void budget_return(struct budget_acct *a);
/* Jansson's allocations on this thread count against a until budget_leave(). */
void budget_enter(struct budget_acct *a);
void budget_leave(void);
/* Bytes reserved by all accounts now, and the size of the budget (tests, logs). */
int64_t budget_in_use(void);
int64_t budget_limit(void);

#endif
