/* events.h: the in-process event bus. The model publishes an event after the transaction
 * that made it has committed; subscribers (WebSocket pushes, the service outbox) must be
 * quick and thread-safe: they queue work, they do not do it. Subscribe before serving. */
#ifndef BH_EVENTS_H
#define BH_EVENTS_H

#include <stdint.h>

#include "common/bh_err.h"

enum event_type {
  EV_NEW_PROJECT,       /* poid; uoid = creator */
  EV_NEW_USER,          /* uoid = the new user; actor_uoid = who added it (-1: setup/self) */
  EV_NEW_REVISION,      /* poid, roid; actor_uoid = who checked it in; service_oid */
  EV_NEW_EXTENDED_DATA, /* edid, roid (-1: on a project), poid; actor_uoid */
  EV_PROGRESS,          /* topic_id: its state changed and is to be sent (topics.h) */
  EV_TOPIC_NEW,         /* topic_id, topic_kind, poid, roid */
  EV_TOPIC_CLOSED,      /* topic_id, topic_kind, poid, roid */
};

/* Fields an event type does not use are -1. */
struct event {
  enum event_type type;
  int64_t poid;
  int64_t uoid;
  int64_t actor_uoid;
  int64_t roid;
  int64_t edid;
  int64_t topic_id;
  int topic_kind; /* enum topic_kind */
  int64_t service_oid;
};

typedef void (*events_cb)(const struct event *e, void *arg);

struct events;

struct events *events_new(void);
void events_free(struct events *ev);
/* Not thread-safe against publish: call before the server starts serving. */
enum bh_err events_subscribe(struct events *ev, events_cb cb, void *arg);
/* Calls every subscriber in subscription order, on the calling thread. */
void events_publish(struct events *ev, const struct event *e);
const char *events_type_name(enum event_type t);

#endif
