/* bimhub/stream.h: the endpoint client. It keeps a /stream WebSocket open, turns the
 * server's pushes (NotificationInterface) into typed callbacks, and keeps the endpoint's
 * registrations (NotificationRegistryInterface) alive across reconnects.
 *
 *   static void on_rev(void *arg, int64_t poid, int64_t roid) { printf("%lld\n", roid); }
 *   struct bimhub_stream_handlers h = {.on_new_revision = on_rev};
 *   struct bimhub_stream *s = bimhub_stream_new(client, &h, NULL, NULL, &err);
 *   bimhub_stream_subscribe(s, BIMHUB_SUB_NEW_REVISION_ON_PROJECT, poid, 0);
 *   bimhub_stream_start(s, &err);      // its own thread from here on
 *   ...
 *   bimhub_stream_free(s);             // stops and joins the thread
 *
 * The connection: ws://host:port/<prefix>/stream (plain WebSocket; wss:// is not supported
 * and refused by bimhub_stream_new()). On {"welcome":ms} the stream sends {"token":T} and
 * reads its endpoint id from {"endpointid":N}. Then it registers every subscription through
 * the JSON API (its own client on its own thread, with the same URL and token), and
 * delivers each push {"request":{"interface":"NotificationInterface","method":M,
 * "parameters":{...}},"seq":S} to the handler for M.
 *
 * Heartbeats: {"hb":true} and a WebSocket ping every heartbeat_ms; a connection on which
 * nothing (data, pong, the server's pings) arrives for idle_timeout_ms is considered dead.
 *
 * Reconnects: after a dropped connection the stream waits (reconnect_min_ms, doubling up to
 * reconnect_max_ms, with jitter; back to the minimum after a good connection) and connects
 * again. It first asks to resume: {"token":T,"endpointid":N,"lastseq":S} where S is the
 * "seq" of the last push delivered. A server that resumes (bimhub: "resumed":true in the
 * endpoint payload) sends every missed push again, so nothing is lost and the
 * registrations are kept; pushes already delivered (seq <= S) are dropped. A server that
 * does not (BIMserver, or a bimhub that forgot the endpoint) gives a new endpoint id: the
 * stream registers every subscription again and reports BIMHUB_STREAM_CONNECTED with
 * may_have_missed set, since pushes sent while it was away are gone. When a resume comes
 * back with "historyComplete":false the status says so too: reread what you show.
 * An invalid token ends the stream (BIMHUB_STREAM_STOPPED with the error): a new token needs
 * a new stream.
 *
 * Threads and callbacks: bimhub_stream_start() runs the stream on a thread of its own; every
 * callback runs on that thread, one at a time, never inside a bimhub_stream_* call. While a
 * callback runs, nothing else is read: keep them short (hand work to another thread).
 * bimhub_stream_run() runs the same loop on the calling thread instead. Inside a callback
 * you may call bimhub_stream_subscribe(), _unsubscribe(), _stop() and _endpoint_id(), and
 * any bimhub_client function on a client of your own; not bimhub_stream_free(). Every other
 * bimhub_stream_* function is thread-safe. */
#ifndef BIMHUB_STREAM_H
#define BIMHUB_STREAM_H

#include "bimhub/client.h"
#include "bimhub/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bimhub_stream;

/* What a subscription is for, the ids it takes (a, b; pass 0 for the others), the registry
 * method that makes it (unregister... undoes it) and the handler its pushes go to:
 *   NEW_REVISION_ON_PROJECT   a = poid   registerNewRevisionOnSpecificProjectHandler
 *                                        -> on_new_revision
 *   NEW_REVISION                         registerNewRevisionHandler (every project the user
 *                                        reads) -> on_new_revision
 *   NEW_PROJECT                          registerNewProjectHandler -> on_new_project
 *   NEW_USER                             registerNewUserHandler -> on_new_user (admins only)
 *   NEW_EXTENDED_DATA_ON_REVISION  a = roid   registerNewExtendedDataOnRevisionHandler
 *                                        -> on_new_extended_data
 *   PROGRESS                  a = topicId   registerProgressHandler -> on_progress
 *   CHANGE_PROGRESS_ON_PROJECT  a = poid  registerChangeProgressOnProject -> on_progress_topic
 *   CHANGE_PROGRESS_ON_SERVER            registerChangeProgressOnServer -> on_progress_topic
 *   CHANGE_PROGRESS_ON_REVISION  a = roid, b = poid  registerChangeProgressOnRevision
 *                                        -> on_progress_topic */
enum bimhub_sub_kind {
  BIMHUB_SUB_NEW_REVISION_ON_PROJECT,
  BIMHUB_SUB_NEW_REVISION,
  BIMHUB_SUB_NEW_PROJECT,
  BIMHUB_SUB_NEW_USER,
  BIMHUB_SUB_NEW_EXTENDED_DATA_ON_REVISION,
  BIMHUB_SUB_PROGRESS,
  BIMHUB_SUB_CHANGE_PROGRESS_ON_PROJECT,
  BIMHUB_SUB_CHANGE_PROGRESS_ON_SERVER,
  BIMHUB_SUB_CHANGE_PROGRESS_ON_REVISION,
};

enum bimhub_stream_event {
  BIMHUB_STREAM_CONNECTED,        /* a new endpoint is ready and every subscription was
                                     (re)registered (failures reported one by one first) */
  BIMHUB_STREAM_RESUMED,          /* the endpoint was taken back after a reconnect; missed
                                     pushes follow (unless history_complete is false) */
  BIMHUB_STREAM_DISCONNECTED,     /* the connection failed or dropped (error says why); a
                                     reconnect follows after retry_in_ms */
  BIMHUB_STREAM_SUBSCRIBED,       /* a subscription was registered (sub_kind, sub_a, sub_b) */
  BIMHUB_STREAM_SUBSCRIBE_FAILED, /* the server refused a subscription (error); it is dropped */
  BIMHUB_STREAM_UNSUBSCRIBED,     /* a subscription was unregistered (or dropped before it was
                                     registered) */
  BIMHUB_STREAM_STOPPED,          /* the last event: after bimhub_stream_stop(), or a fatal
                                     error (error set: an invalid token) */
};

struct bimhub_stream_status {
  enum bimhub_stream_event event;
  int64_t endpoint_id;           /* the current endpoint, or -1 */
  bool may_have_missed;          /* CONNECTED after a reconnect without resume, or RESUMED with an
                                    incomplete history: pushes were lost, reread your state */
  bool history_complete;         /* RESUMED: every missed push is replayed */
  unsigned attempt;              /* DISCONNECTED: failed attempts in a row (1, 2, ...) */
  long retry_in_ms;              /* DISCONNECTED: wait before the next attempt */
  enum bimhub_sub_kind sub_kind; /* SUBSCRIBED, SUBSCRIBE_FAILED, UNSUBSCRIBED */
  int64_t sub_a, sub_b;
  const struct bimhub_error *error; /* DISCONNECTED, SUBSCRIBE_FAILED, STOPPED: why (or NULL) */
};

/* Callbacks. arg is the one given to bimhub_stream_new(). Handlers left NULL are skipped;
 * a push whose typed handler is NULL goes to on_push when that is set. json_t values are
 * BORROWED for the duration of the call. */
typedef void (*bimhub_stream_status_cb)(void *arg, const struct bimhub_stream_status *st);
typedef void (*bimhub_new_revision_cb)(void *arg, int64_t poid, int64_t roid);
typedef void (*bimhub_new_project_cb)(void *arg, int64_t poid);
typedef void (*bimhub_new_user_cb)(void *arg, int64_t uoid);
typedef void (*bimhub_new_extended_data_cb)(void *arg, int64_t roid, int64_t edid);
/* progress(topicId, state): state is an SLongActionState ("title", "progress", "state"...). */
typedef void (*bimhub_progress_state_cb)(void *arg, int64_t topic_id, json_t *state);

/* newProgressOnProjectTopic(poid, topicId), newProgressOnServerTopic(topicId),
 * newProgressOnRevisionTopic(poid, roid, topicId), newProgressTopic(topicId) and the
 * closed... variants. */
struct bimhub_topic_event {
  const char *method; /* the push's method name */
  bool is_closed;     /* a closed... method */
  int64_t poid;       /* -1 when the method has none */
  int64_t roid;       /* -1 when the method has none */
  int64_t topic_id;
};
typedef void (*bimhub_progress_topic_cb)(void *arg, const struct bimhub_topic_event *ev);
/* Any push: method name, its parameters object, its seq (0 when the server sends none). */
typedef void (*bimhub_push_cb)(void *arg, const char *method, json_t *params, uint64_t seq);

struct bimhub_stream_handlers {
  bimhub_stream_status_cb on_status;
  bimhub_new_revision_cb on_new_revision;
  bimhub_new_project_cb on_new_project;
  bimhub_new_user_cb on_new_user;
  bimhub_new_extended_data_cb on_new_extended_data;
  bimhub_progress_state_cb on_progress;
  bimhub_progress_topic_cb on_progress_topic;
  bimhub_push_cb on_push; /* pushes without a typed handler (unknown methods included) */
};

struct bimhub_stream_options {
  long heartbeat_ms;        /* 0: 30000 */
  long idle_timeout_ms;     /* 0: 90000 */
  long connect_timeout_ms;  /* TCP connect + handshake + endpoint; 0: 10000 */
  long reconnect_min_ms;    /* 0: 500 */
  long reconnect_max_ms;    /* 0: 30000 */
  bool no_resume;           /* always reconnect with a bare token (re-register) */
  size_t max_message_bytes; /* larger messages drop the connection; 0: 16 MiB */
};

/* A stream for the server and token of client (both copied; the client is not used
 * afterwards and may be freed). handlers is copied; opts may be NULL (defaults). NULL on
 * failure: BIMHUB_STATE when the client has no token, BIMHUB_INVALID for an https:// URL
 * (wss is not supported), BIMHUB_NOMEM. Nothing is connected before _start() or _run(). */
BIMHUB_API struct bimhub_stream *
bimhub_stream_new(const struct bimhub_client *client, const struct bimhub_stream_handlers *handlers,
                  void *arg, const struct bimhub_stream_options *opts, struct bimhub_error *err);

/* Starts the stream's thread, which connects and keeps the endpoint until stop/free.
 * BIMHUB_STATE when already started or run. Connection failures are reported through
 * on_status on that thread, never here. */
BIMHUB_API enum bimhub_rc bimhub_stream_start(struct bimhub_stream *s, struct bimhub_error *err);

/* Runs the stream on the calling thread until bimhub_stream_stop() (from a callback or
 * another thread) or a fatal error; returns BIMHUB_OK after a stop, else the fatal error's
 * code. BIMHUB_STATE when already started. */
BIMHUB_API enum bimhub_rc bimhub_stream_run(struct bimhub_stream *s, struct bimhub_error *err);

/* Asks the stream to stop: the socket is closed and on_status gets BIMHUB_STREAM_STOPPED.
 * Returns at once (it does not wait for the thread: bimhub_stream_free() does). Any thread,
 * callbacks included. Registrations are left on the server (an endpoint nobody takes back is
 * forgotten by the server). */
BIMHUB_API void bimhub_stream_stop(struct bimhub_stream *s);

/* Stops the stream if needed, waits for its thread, frees it. Not from a callback. */
BIMHUB_API void bimhub_stream_free(struct bimhub_stream *s);

/* Adds a subscription (kept across reconnects) and, when connected, registers it soon on
 * the stream's thread; the outcome comes as BIMHUB_STREAM_SUBSCRIBED or
 * BIMHUB_STREAM_SUBSCRIBE_FAILED. Unused ids are ignored (pass 0). Adding one that exists
 * does nothing (and reports nothing). BIMHUB_INVALID for an unknown kind. Any thread; may be
 * called before start. */
BIMHUB_API enum bimhub_rc bimhub_stream_subscribe(struct bimhub_stream *s,
                                                  enum bimhub_sub_kind kind, int64_t a, int64_t b);
/* Removes a subscription and unregisters it on the server (BIMHUB_STREAM_UNSUBSCRIBED).
 * BIMHUB_NOT_FOUND when there is no such subscription. Any thread. */
BIMHUB_API enum bimhub_rc
bimhub_stream_unsubscribe(struct bimhub_stream *s, enum bimhub_sub_kind kind, int64_t a, int64_t b);

/* The current endpoint id, or -1 while there is none. Any thread. */
BIMHUB_API int64_t bimhub_stream_endpoint_id(struct bimhub_stream *s);

#ifdef __cplusplus
}
#endif

#endif
