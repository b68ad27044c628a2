/* push.h: the endpoint registry and server pushes (spec §4.6, §4.7, §6.3). An endpoint is
 * opened by a /stream connection's token and belongs to that user; it holds registrations
 * (what it wants to hear), a sequence number, and a bounded history of what was pushed to
 * it, so a client that comes back with its endpoint id and last sequence number misses
 * nothing. Endpoints and registrations survive dropped connections and restarts.
 *
 * Events from the bus become one serialized frame each; the registry finds the endpoints
 * that registered for it and whose user may see it, gives each the next sequence number,
 * keeps the frame in their history and hands one batch to the transport. Thread-safe. */
#ifndef BH_PUSH_H
#define BH_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

struct model;
struct push;

/* A serialized push shared by its receivers: body is the text after "{\"seq\":N," of the
 * frame, i.e. "\"request\":{...}}". */
struct push_frame {
  int refs; /* atomic */
  int64_t time_ms;
  size_t len;
  char body[];
};
void push_frame_ref(struct push_frame *f);
void push_frame_unref(struct push_frame *f);

struct push_target {
  uint64_t conn; /* transport's connection id */
  uint64_t seq;
};

/* How the registry reaches connections; transport implements it. Any thread. send sends
 * "{\"seq\":<seq>," + f->body to each target's connection, skipping those that are gone;
 * close closes connections (code, reason) whose session has ended. */
struct push_transport {
  void *ctx;
  void (*send)(void *ctx, struct push_frame *f, const struct push_target *t, size_t n);
  void (*close)(void *ctx, const uint64_t *conns, size_t n, int code, const char *reason);
};

/* What an endpoint can register for (NotificationRegistryInterface). */
enum push_kind {
  PUSH_PROGRESS,             /* a = topicId */
  PUSH_NEW_REVISION_PROJECT, /* a = poid */
  PUSH_NEW_REVISION,         /* every readable project */
  PUSH_NEW_EXTENDED_DATA,    /* a = roid */
  PUSH_NEW_PROJECT,
  PUSH_NEW_USER,        /* admins only */
  PUSH_CHANGE_PROJECT,  /* a = poid: topics of the project and its revisions */
  PUSH_CHANGE_SERVER,   /* every topic the user may see */
  PUSH_CHANGE_REVISION, /* a = roid, b = poid */
};

struct push_limits {
  int64_t max_endpoints_per_user;
  int64_t max_registrations; /* per endpoint */
  int64_t history_frames;    /* kept per endpoint */
  int64_t history_ms;        /* and for how long; also how long a detached endpoint lives */
};

/* Loads the endpoints and registrations the store holds. Subscribes to m->ev. */
enum bh_err push_new(struct push **out, struct model *m, const struct push_limits *lim);
/* Keeps every endpoint's history and sequence in the store for the next start. */
void push_free(struct push *p);
void push_set_transport(struct push *p, const struct push_transport *t);

/* A new endpoint of uoid (ids from 2, never reused, even across restarts). */
enum bh_err push_endpoint_open(struct push *p, int64_t uoid, int64_t *id, struct bh_why *why);
/* Takes an endpoint back after a reconnect: it must be uoid's. *history_ok is false when the
 * history no longer reaches lastseq (then nothing is replayed: the client must refresh).
 * *seq gets the endpoint's current sequence number. */
enum bh_err push_endpoint_resume(struct push *p, int64_t uoid, int64_t id, uint64_t lastseq,
                                 bool *history_ok, uint64_t *seq, struct bh_why *why);
/* Binds the endpoint to a connection and, with replay, sends it the frames after lastseq (on
 * the calling thread, before any later push). Called by transport after the endpoint reply
 * went out. login_token: the hash of the login token that opened it (NULL for a service
 * token), so push_end_sessions finds it. ended_gen: push_ended_gen() from before that token
 * was checked; when sessions were ended since, nothing is attached and false comes back (the
 * caller checks the token again). */
bool push_endpoint_attach(struct push *p, int64_t id, uint64_t conn,
                          const unsigned char *login_token, uint64_t ended_gen, bool replay,
                          uint64_t lastseq);
/* Counts push_end_sessions calls. */
uint64_t push_ended_gen(struct push *p);
/* Sessions ended (logout, password change): closes the connections of the endpoints attached
 * with login token only, or, with only NULL, with any login token of uoid but keep (NULL:
 * every one), with close code 1008 and reason. The endpoints stay for a resume with a valid
 * token. Returns how many connections it closed. */
size_t push_end_sessions(struct push *p, int64_t uoid, const unsigned char *only,
                         const unsigned char *keep, const char *reason);
/* The connection is gone: the endpoint keeps its registrations for history_ms. */
void push_endpoint_detach(struct push *p, int64_t id, uint64_t conn);

/* Registration calls. The endpoint must be the caller's ("Endpoint with id N not found",
 * errorCode 1, otherwise); what it registers for must be readable by the caller. */
enum bh_err push_register(struct push *p, int64_t caller_uoid, int64_t endpoint,
                          enum push_kind kind, int64_t a, int64_t b, struct bh_why *why);
enum bh_err push_unregister(struct push *p, int64_t caller_uoid, int64_t endpoint,
                            enum push_kind kind, int64_t a, int64_t b, struct bh_why *why);

/* Counts, for tests and metrics. */
size_t push_endpoint_count(struct push *p);

#endif
