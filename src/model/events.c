/* events.c: a fixed list of subscribers, called in order. */
#include "model/events.h"

#include <stdlib.h>

#include "common/bh_log.h"

#define MAX_SUBSCRIBERS 16

struct events {
  struct {
    events_cb cb;
    void *arg;
  } subs[MAX_SUBSCRIBERS];
  int n;
};

struct events *events_new(void)
{
  return calloc(1, sizeof(struct events));
}

void events_free(struct events *ev)
{
  free(ev);
}

enum bh_err events_subscribe(struct events *ev, events_cb cb, void *arg)
{
  if (ev->n == MAX_SUBSCRIBERS)
    return BH_TOOBIG;
  ev->subs[ev->n].cb = cb;
  ev->subs[ev->n].arg = arg;
  ev->n++;
  return BH_OK;
}

void events_publish(struct events *ev, const struct event *e)
{
  BH_LOG(BH_LOG_DEBUG, BH_C_EVENTS, "%s poid=%lld uoid=%lld", events_type_name(e->type),
         (long long)e->poid, (long long)e->uoid);
  for (int i = 0; i < ev->n; i++)
    ev->subs[i].cb(e, ev->subs[i].arg);
}

const char *events_type_name(enum event_type t)
{
  switch (t) {
  case EV_NEW_PROJECT:
    return "newProject";
  case EV_NEW_USER:
    return "newUser";
  case EV_NEW_REVISION:
    return "newRevision";
  case EV_NEW_EXTENDED_DATA:
    return "newExtendedData";
  case EV_PROGRESS:
    return "progress";
  case EV_TOPIC_NEW:
    return "newTopic";
  case EV_TOPIC_CLOSED:
    return "closedTopic";
  }
  return "unknown";
}
