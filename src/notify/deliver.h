/* deliver.h: the delivery engine of service notifications. It reads the outbox (rows written
 * in the transaction of each event, model/outbox.c), POSTs each notification to its service
 * with libcurl's multi interface on delivery_threads threads of its own (each service is
 * sent by one of them), signs it (Standard Webhooks), and
 * records every attempt. A delivery succeeds on a 2xx whose body is a JSON envelope without
 * an exception; anything else is retried on the configured schedule (with jitter, or after
 * the service's Retry-After) and then parked as failed. HTTP 410 disables the service.
 *
 * Order: per service, deliveries go out in event order, one at a time, and a failing head
 * holds back only its own service; a service with the "parallel" option gets up to
 * delivery_max_in_flight_per_service at once, in any order. Connections are kept alive and
 * reused. Memory is bounded: a window of pending rows per service, at most
 * delivery_max_in_flight requests open.
 *
 * After a restart every pending delivery is due at once: no notification waits out a
 * backoff that began before the stop.
 *
 * Threads: all functions but start/stop may be called from any thread and return at once.
 * Start it once the public address is known (apiUrl goes into every notification). */
#ifndef BH_DELIVER_H
#define BH_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/bh_err.h"

struct deliverer;
struct model;
struct event;

enum bh_err deliverer_start(struct deliverer **out, struct model *m);
/* Stops sending (open requests are dropped; they stay pending for the next start) and frees. */
void deliverer_stop(struct deliverer *d);

/* New outbox rows for the services of poid (-1: any service). */
void deliverer_kick_project(struct deliverer *d, int64_t poid);
/* An event of the bus: kicks the services it may concern. */
void deliverer_on_event(struct deliverer *d, const struct event *e);
/* Reread a service (its state, options, secrets) and its pending rows from the start, after a
 * redelivery, a replay, a re-enable or a change. */
void deliverer_reload_service(struct deliverer *d, int64_t soid);

/* What the engine knows of a service right now. */
struct deliverer_service_info {
  bool known;               /* the engine has loaded it */
  int in_flight;            /* requests open */
  int consecutive_failures; /* failed attempts since the last success */
};
void deliverer_service_info(struct deliverer *d, int64_t soid, struct deliverer_service_info *out);

/* The webhook-id of a delivery: "msg_" + a tag of this server + "_" + the delivery id, the
 * same across attempts and restarts. out needs 64 bytes. */
void deliverer_message_id(const struct model *m, int64_t delivery_id, char out[64]);

#endif
