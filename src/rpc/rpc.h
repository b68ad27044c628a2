/* rpc.h: the BIMserver JSON API as transport sees it. One struct rpc per server; every
 * function here is thread-safe (called from the HTTP threads and the /stream workers). */
#ifndef BH_RPC_H
#define BH_RPC_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

struct rpc;
struct bh_config;
struct store;
struct events;

/* Who sent a message: used for the token fallback and for slowing down failed logins. */
struct rpc_origin {
  const char *peer_addr;    /* "127.0.0.1", never NULL */
  const char *header_token; /* from "Authorization: Bearer T" or the "Token" header, or NULL */
};

struct rpc_reply {
  char *body; /* malloc'd JSON text, or NULL when the reply has no body */
  size_t len;
  int http_status;   /* 200, or 500 (empty body) for a body that is not a JSON object */
  unsigned delay_ms; /* > 0: hold the reply this long (failed login) without blocking */
  bool needs_worker; /* nothing was run: call again with may_block on a worker thread */
};

/* Creates the dispatcher. Borrows cfg, store and events; they must outlive it. */
enum bh_err rpc_new(struct rpc **out, const struct bh_config *cfg, struct store *st,
                    struct events *ev);
void rpc_free(struct rpc *rpc);
/* Starts sending service notifications (once the public address is known) / stops it. */
enum bh_err rpc_start_delivery(struct rpc *rpc);
void rpc_stop_delivery(struct rpc *rpc);

/* Answers one POST /json body (spec §1.2): single "request", multi "requests", "token",
 * "id". Always fills out (free with rpc_reply_free). Some methods wait on the network or on
 * a check-in (calls to remote services, synchronous check-ins): without may_block, an
 * envelope holding one runs nothing and answers needs_worker, so an event-loop thread can
 * hand it to a worker instead of stalling its other connections. */
void rpc_handle_json(struct rpc *rpc, const char *body, size_t len, const struct rpc_origin *origin,
                     bool may_block, struct rpc_reply *out);
void rpc_reply_free(struct rpc_reply *r);

/* Prints who may call each method (the access column of the method tables), as the
 * Markdown of docs/authorization.md or as JSON for tests. */
void rpc_print_access(FILE *out, bool as_json);

/* Resolves a session token to its user. BH_AUTH for an unknown, revoked or expired token. */
enum bh_err rpc_token_user(struct rpc *rpc, const char *token, int64_t *uoid);

#endif
