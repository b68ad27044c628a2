/* stream.h: what a /stream text message means (spec §6.1, §6.2), apart from framing.
 * Transport (transport/ws.c) owns sockets and framing; for each complete text message it
 * calls stream_handle() on a worker thread, one message of a session at a time, and then
 * does what the result says on the loop thread. */
#ifndef BH_STREAM_H
#define BH_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc.h"

/* Per-connection protocol state, embedded in the transport's session. */
struct stream_state {
  uint64_t conn;       /* set by transport: its id of the connection, never 0 */
  int64_t endpoint_id; /* 0 until a valid {"token":...} arrived */
  int64_t uoid;        /* user of that token */
  /* set by stream_handle when an endpoint was opened or resumed: transport calls
   * stream_attach() once the reply is queued, so missed pushes follow the reply */
  bool attach_pending;
  bool attach_replay; /* a resume with a complete history: send what came after lastseq */
  uint64_t attach_lastseq;
  /* the handshake's token, so ending its session closes this connection */
  bool has_login_token;         /* a login token (not a service token) ... */
  unsigned char login_hash[32]; /* ... with this hash */
  uint64_t ended_gen;           /* push_ended_gen() before the token was checked */
};

enum stream_action {
  STREAM_NOTHING,    /* heartbeat, unparseable or unknown message: send nothing */
  STREAM_SEND,       /* send text as one text frame */
  STREAM_SEND_CLOSE, /* send text, then close with close_code */
  STREAM_CLOSE,      /* close with close_code, nothing to send first */
};

struct stream_result {
  enum stream_action action;
  char *text; /* malloc'd, or NULL */
  size_t len;
  int close_code;    /* RFC 6455 code for the *_CLOSE actions */
  unsigned delay_ms; /* > 0: send only after this long (failed login over the socket) */
};

/* The first frame of every connection: {"welcome": <ms>}. Returns malloc'd text. */
char *stream_welcome_text(int64_t now_ms, size_t *len);

/* Handles one complete text message (valid UTF-8, within the size limit). Thread-safe
 * across sessions; the caller runs at most one call per session at a time. */
void stream_handle(struct rpc *rpc, struct stream_state *st, const char *peer_addr, const char *msg,
                   size_t len, struct stream_result *out);
/* Loop thread, after the reply of a handshake that set attach_pending was queued: binds the
 * endpoint to the connection; missed pushes are sent through the push transport at once.
 * False when the handshake's session was ended meanwhile: close the connection (1008). */
bool stream_attach(struct rpc *rpc, struct stream_state *st);
/* Called once when the connection is gone: the endpoint waits for a resume. */
void stream_closed(struct rpc *rpc, struct stream_state *st);

/* How pushes reach connections (transport's, see notify/push.h). Call before serving. */
struct push_transport;
void stream_set_push_transport(struct rpc *rpc, const struct push_transport *t);
void stream_result_free(struct stream_result *r);

#endif
