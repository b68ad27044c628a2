/* sdk_internal.h: what libbimhub's files share and its unit tests reach. Nothing here is
 * part of the installed API. Pure functions unless said otherwise. */
#ifndef BIMHUB_SDK_INTERNAL_H
#define BIMHUB_SDK_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bimhub/bimhub.h"

/* ---- common.c ---- */

/* curl_global_init() and sodium_init(), once per process. BIMHUB_NOMEM/BIMHUB_STATE when
 * either fails. Any thread. */
enum bimhub_rc sdk_global_init(void);

/* Fills err (may be NULL) with rc and a printf message; returns rc. */
enum bimhub_rc sdk_fail(struct bimhub_error *err, enum bimhub_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void sdk_log(enum bimhub_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Milliseconds of CLOCK_MONOTONIC, and of the wall clock (Unix ms). */
int64_t sdk_mono_ms(void);
int64_t sdk_wall_ms(void);
/* Sleeps ms milliseconds (restarted on EINTR). */
void sdk_sleep_ms(long ms);

/* A growable byte buffer with a cap; data is always NUL-terminated. */
struct sdk_buf {
  char *data;
  size_t len, cap, max;
};
void sdk_buf_init(struct sdk_buf *b, size_t max);
/* false when past max or out of memory (the buffer keeps what it had). */
bool sdk_buf_add(struct sdk_buf *b, const void *p, size_t n);
void sdk_buf_free(struct sdk_buf *b);

/* ---- envelope.c: the /json envelope (spec §1.2) ---- */

/* A new base URL: url without trailing "/" and "/json"; NULL when url is not http(s):// or
 * out of memory. *is_https (may be NULL) tells the scheme. */
char *sdk_base_url(const char *url, bool *is_https);

/* {"token":T,"request":{"interface":I,"method":M,"parameters":params}}; params is stolen
 * (NULL: {}); token may be NULL (no key). NULL when out of memory. */
json_t *sdk_envelope(const char *token, const char *iface, const char *method, json_t *params);

/* Fills err from an exception value: an object {"__type","message","errorType","errorCode"}
 * or, as /upload sends for "No poid", a bare string. Returns BIMHUB_EXCEPTION. */
enum bimhub_rc sdk_exception_fill(const json_t *exc, struct bimhub_error *err);

/* Reads {"response":{"result":R}} (or "exception") from a parsed reply. *result gets a new
 * reference to R (NULL is fine). BIMHUB_EXCEPTION, or BIMHUB_PROTOCOL for any other shape. */
enum bimhub_rc sdk_reply_result(const json_t *reply, json_t **result, struct bimhub_error *err);

/* The whole answer of POST /json: BIMHUB_HTTP when status is not 200 (the body's start is the
 * message), BIMHUB_PROTOCOL when body is not a JSON object, else sdk_reply_result(). */
enum bimhub_rc sdk_parse_answer(long status, const char *body, size_t len, json_t **result,
                                struct bimhub_error *err);

/* True for null, {} and a missing value: BIMserver's "nothing". */
bool sdk_is_nothing(const json_t *v);

/* ---- client.c ---- */

/* POSTs body (JSON) to <base>/json; *status and out (initialised by the caller) get the
 * answer. BIMHUB_TRANSPORT when there is none. */
enum bimhub_rc sdk_client_post(struct bimhub_client *c, const char *body, size_t len,
                               struct sdk_buf *out, long *status, struct bimhub_error *err);
/* The client's libcurl handle, reset to the client's defaults (timeouts, no progress); for
 * transfer.c. */
void *sdk_client_curl(struct bimhub_client *c);
/* The client's progress callback (may be NULL). */
bimhub_progress_cb sdk_client_progress(const struct bimhub_client *c, void **arg);
/* Fills err from a libcurl result and the client's error text. */
enum bimhub_rc sdk_client_curl_fail(struct bimhub_client *c, int curl_code,
                                    struct bimhub_error *err);
long sdk_client_connect_ms(const struct bimhub_client *c);
long sdk_client_total_ms(const struct bimhub_client *c);

/* ---- api.c ---- */

/* Calls and reads the "oid" of an S-object result; BIMHUB_NOT_FOUND for null/{}. params
 * stolen. */
enum bimhub_rc sdk_call_oid(struct bimhub_client *c, const char *iface, const char *method,
                            json_t *params, int64_t *oid, struct bimhub_error *err);

/* ---- stream_msg.c: /stream messages (spec §6) ---- */

enum sdk_msg_kind {
  SDK_MSG_OTHER,    /* unknown or unparseable: ignored */
  SDK_MSG_WELCOME,  /* {"welcome":ms} */
  SDK_MSG_ENDPOINT, /* {"endpointid":N} or {"type":"endpoint","payload":{...}} */
  SDK_MSG_ERROR,    /* {"error":"..."} (with "endpointid" when a resume was refused) */
  SDK_MSG_PUSH,     /* {"request":{...}} or {"requests":[...]}, with "seq" */
  SDK_MSG_RESPONSE, /* {"id":N,"response":{...}} */
};

struct sdk_msg {
  enum sdk_msg_kind kind;
  int64_t endpoint_id;   /* ENDPOINT; ERROR: the endpoint it names, else -1 */
  bool resumed;          /* ENDPOINT: payload.resumed */
  bool history_complete; /* ENDPOINT: payload.historyComplete (true when absent) */
  int64_t endpoint_seq;  /* ENDPOINT: payload.seq, the endpoint's last seq; -1 when absent */
  const char *error;     /* ERROR: the text (borrowed from the message) */
  uint64_t seq;          /* PUSH: "seq", 0 when absent */
};

/* Classifies one parsed text message. */
void sdk_msg_classify(const json_t *msg, struct sdk_msg *out);

/* Hands one notification request {"interface","method","parameters"} to the handlers: the
 * typed one for its method, else on_push. Returns false when the request is not a
 * NotificationInterface call (nothing called). */
bool sdk_push_dispatch(const struct bimhub_stream_handlers *h, void *arg, const json_t *request,
                       uint64_t seq);

/* The registry method (register or unregister) of a subscription and its parameters (a new
 * object, with endPointId). NULL for an unknown kind. */
const char *sdk_sub_method(enum bimhub_sub_kind kind, bool is_register);
json_t *sdk_sub_params(enum bimhub_sub_kind kind, int64_t endpoint_id, int64_t a, int64_t b);

/* The reconnect delay after `attempt` failures: min doubled per attempt, capped at max, then
 * jittered down by up to a quarter with rnd (0..1). */
long sdk_backoff_ms(unsigned attempt, long min_ms, long max_ms, double rnd);

/* ---- ws.c: a WebSocket client over a plain TCP socket (RFC 6455, wslay) ---- */

struct sdk_ws;
/* Called for each complete text message, on the thread that feeds the socket. */
typedef void (*sdk_ws_text_cb)(void *arg, const char *text, size_t len);

/* host, port, path of a ws:// URL made from an http:// base URL (path = prefix + "/stream").
 * BIMHUB_INVALID for another scheme. */
enum bimhub_rc sdk_ws_url_parts(const char *base_url, char *host, size_t host_len, char *port,
                                size_t port_len, char *path, size_t path_len);

/* Checks a handshake answer (the bytes up to and including the blank line): status 101,
 * Upgrade: websocket, Connection: upgrade, and Sec-WebSocket-Accept for key. */
enum bimhub_rc sdk_ws_check_handshake(const char *resp, size_t len, const char *key,
                                      struct bimhub_error *err);

/* Connects (within timeout_ms), does the opening handshake, and returns a non-blocking
 * socket in *out. Leftover bytes after the handshake are kept for the first read. */
enum bimhub_rc sdk_ws_connect(struct sdk_ws **out, const char *host, const char *port,
                              const char *path, long timeout_ms, size_t max_message,
                              sdk_ws_text_cb on_text, void *arg, struct bimhub_error *err);
int sdk_ws_fd(const struct sdk_ws *ws);
bool sdk_ws_wants_write(const struct sdk_ws *ws);
/* True while bytes read with the handshake wait to be handled (poll cannot tell): call
 * sdk_ws_read() without waiting. */
bool sdk_ws_has_buffered(const struct sdk_ws *ws);
/* Reads and handles whatever the socket holds (text messages go to on_text, pings are
 * answered). BIMHUB_TRANSPORT when the connection ended or failed (err says how). */
enum bimhub_rc sdk_ws_read(struct sdk_ws *ws, struct bimhub_error *err);
/* Writes what is queued, as far as the socket takes it. */
enum bimhub_rc sdk_ws_write(struct sdk_ws *ws, struct bimhub_error *err);
/* Queues a text message / a ping / a close frame. */
enum bimhub_rc sdk_ws_send_text(struct sdk_ws *ws, const char *text, size_t len);
enum bimhub_rc sdk_ws_ping(struct sdk_ws *ws);
void sdk_ws_close(struct sdk_ws *ws, uint16_t code);
/* Monotonic ms of the last bytes received. */
int64_t sdk_ws_last_rx_ms(const struct sdk_ws *ws);
void sdk_ws_free(struct sdk_ws *ws);

/* ---- notification.c: RemoteServiceInterface messages (spec §4.8) ---- */

/* True for RemoteServiceInterface, Bimsie1RemoteServiceInterface and their long names. */
bool sdk_is_remote_iface(const char *name);

/* Fills n from a notification's method and parameters (borrowed; n points into params). */
void sdk_notification_read(const char *method, json_t *params, struct bimhub_notification *n);

/* SProfileDescriptor objects of desc: the public ones, or the others. New reference. */
json_t *sdk_profiles_json(const struct bimhub_service_desc *desc, bool is_public);

/* A delivery id usable as a file name: id itself when it is 1..128 characters of
 * [A-Za-z0-9._-] not starting with '.', else "h" + hex SHA-256 of it. When id is NULL:
 * "b" + hex SHA-256 of the body. out holds SDK_ID_MAX. */
#define SDK_ID_MAX 132
void sdk_delivery_id(const char *id, const void *body, size_t len, char out[SDK_ID_MAX]);

/* Checks the Standard Webhooks headers of a body; BIMHUB_DENIED with a reason. */
enum bimhub_rc sdk_check_signature(const char *secret, const char *msg_id, const char *timestamp,
                                   const char *signature, const void *body, size_t len,
                                   int64_t now_s, int64_t tolerance_s, struct bimhub_error *err);

/* ---- spool.c: the notification spool (one file per delivery id) ---- */

struct sdk_spool {
  char *dir;
  char *failed_dir;
  int lock_fd; /* <dir>/.lock, held (flock) while open: one process per spool */
};

/* Makes dir and dir/failed (0700), takes the directory's lock (BIMHUB_IO when another
 * process holds it) and removes leftover temporary files. */
enum bimhub_rc sdk_spool_open(struct sdk_spool *sp, const char *dir, struct bimhub_error *err);
void sdk_spool_close(struct sdk_spool *sp);
/* Writes record as <dir>/<id>.json durably: temporary file, fsync, rename, fsync dir. */
enum bimhub_rc sdk_spool_put(struct sdk_spool *sp, const char *id, const json_t *record,
                             struct bimhub_error *err);
bool sdk_spool_has(struct sdk_spool *sp, const char *id);
/* Removes <id>.json (fsync of the directory: a done notification is not replayed). */
enum bimhub_rc sdk_spool_remove(struct sdk_spool *sp, const char *id);
/* Moves <id>.json to failed/. */
enum bimhub_rc sdk_spool_fail(struct sdk_spool *sp, const char *id);
/* Every record in the spool, ordered by "received_ms" then id: a new array. Unreadable
 * files are moved to failed/. */
enum bimhub_rc sdk_spool_load(struct sdk_spool *sp, json_t **records, struct bimhub_error *err);

/* Recently seen delivery ids, a bounded ring. Not thread-safe (the caller locks). */
struct sdk_dedupe {
  char (*ids)[SDK_ID_MAX];
  size_t cap, n, next;
};
bool sdk_dedupe_init(struct sdk_dedupe *d, size_t cap);
void sdk_dedupe_free(struct sdk_dedupe *d);
bool sdk_dedupe_has(const struct sdk_dedupe *d, const char *id);
void sdk_dedupe_add(struct sdk_dedupe *d, const char *id);
/* Forgets id (a notification that failed for good may be delivered again and run). */
void sdk_dedupe_remove(struct sdk_dedupe *d, const char *id);

#endif
