/* stream.c: the meaning of /stream text messages (spec §6.1, §6.2): heartbeat, handshake
 * token, RPC over the socket. Framing and sockets are transport's. */
#include "rpc/stream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "common/bh_log.h"
#include "common/bh_time.h"
#include "notify/push.h"
#include "rpc/rpc_internal.h"

char *stream_welcome_text(int64_t now_ms, size_t *len)
{
  char buf[48];
  int n = snprintf(buf, sizeof buf, "{\"welcome\":%lld}", (long long)now_ms);
  *len = (size_t)n;
  return strdup(buf);
}

static void set_json(struct stream_result *out, enum stream_action action, json_t *j)
{
  out->action = action;
  out->text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  out->len = out->text ? strlen(out->text) : 0;
  if (!out->text) {
    out->action = STREAM_CLOSE;
    out->close_code = 1011;
  }
  json_decref(j);
}

/* {"token":T} opens an endpoint; {"token":T,"endpointid":N,"lastseq":S} takes endpoint N
 * back and replays what it missed after S (bimhub's extension; clients that do not send it
 * behave as with BIMserver). */
static void handle_token(struct rpc *rpc, struct stream_state *st, json_t *msg,
                         struct stream_result *out)
{
  const char *token = json_string_value(json_object_get(msg, "token"));
  struct actor a = {0};
  uint64_t ended_gen = push_ended_gen(rpc->push); /* before the check: see stream_attach */
  if (!token || rpc_resolve_token(rpc, token, &a, NULL) != BH_OK) {
    /* BIMserver stays silent here and the client hangs; we say so and close (spec §10.7). */
    set_json(out, STREAM_SEND_CLOSE, json_pack("{s:s}", "error", "Invalid token"));
    out->close_code = 1008;
    return;
  }
  if (st->endpoint_id > 0) {
    /* a second token on one connection: the connection moves to the new endpoint */
    push_endpoint_detach(rpc->push, st->endpoint_id, st->conn);
    st->endpoint_id = 0;
  }
  json_t *want = json_object_get(msg, "endpointid");
  struct bh_why why;
  json_t *payload = NULL;
  int64_t id = 0;
  if (json_is_integer(want)) {
    id = json_integer_value(want);
    json_t *ls = json_object_get(msg, "lastseq");
    uint64_t lastseq =
        json_is_integer(ls) && json_integer_value(ls) > 0 ? (uint64_t)json_integer_value(ls) : 0;
    bool complete = false;
    uint64_t seq = 0;
    if (push_endpoint_resume(rpc->push, a.uoid, id, lastseq, &complete, &seq, &why) != BH_OK) {
      set_json(out, STREAM_SEND,
               json_pack("{s:s,s:I}", "error", why.text, "endpointid", (json_int_t)id));
      return;
    }
    /* history lost: nothing is replayed and the client refreshes its state */
    st->attach_replay = complete;
    st->attach_lastseq = lastseq;
    payload = json_pack("{s:I,s:b,s:b,s:I}", "endpointid", (json_int_t)id, "resumed", 1,
                        "historyComplete", complete, "seq", (json_int_t)seq);
  } else {
    if (push_endpoint_open(rpc->push, a.uoid, &id, &why) != BH_OK) {
      set_json(out, STREAM_SEND, json_pack("{s:s}", "error", why.text));
      return;
    }
    st->attach_replay = false;
    st->attach_lastseq = 0;
    payload = json_pack("{s:I}", "endpointid", (json_int_t)id);
  }
  st->endpoint_id = id;
  st->uoid = a.uoid;
  st->attach_pending = true;
  st->has_login_token = !a.is_service && token_hash(token, st->login_hash);
  st->ended_gen = ended_gen;
  set_json(out, STREAM_SEND,
           json_pack("{s:s, s:o, s:I}", "type", "endpoint", "payload", payload, "endpointid",
                     (json_int_t)id));
}

void stream_handle(struct rpc *rpc, struct stream_state *st, const char *peer_addr, const char *msg,
                   size_t len, struct stream_result *out)
{
  memset(out, 0, sizeof *out);
  out->action = STREAM_NOTHING;
  json_t *j = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(j)) {
    json_decref(j); /* unparseable text is ignored, as BIMserver does */
    return;
  }
  if (json_object_get(j, "hb")) {
    json_decref(j);
    return;
  }
  if (json_object_get(j, "action")) {
    set_json(out, STREAM_SEND,
             json_pack("{s:s}", "error",
                       "Binary model downloads over /stream are not supported yet; use "
                       "/download"));
    json_decref(j);
    return;
  }
  json_t *request = json_object_get(j, "request");
  if (request) {
    const char *token = json_string_value(json_object_get(j, "token"));
    struct rpc_origin origin = {.peer_addr = peer_addr ? peer_addr : "", .header_token = NULL};
    json_t *resp = rpc_run_request(rpc, request, token, &origin, &out->delay_ms);
    json_t *reply = json_object();
    json_t *id = json_object_get(j, "id");
    if (reply && id)
      json_object_set(reply, "id", id);
    if (reply)
      json_object_set_new(reply, "response", resp ? resp : json_null());
    else
      json_decref(resp);
    set_json(out, STREAM_SEND, reply);
    json_decref(j);
    return;
  }
  if (json_object_get(j, "token"))
    handle_token(rpc, st, j, out);
  json_decref(j);
}

bool stream_attach(struct rpc *rpc, struct stream_state *st)
{
  if (!st->attach_pending)
    return true;
  st->attach_pending = false;
  const unsigned char *login = st->has_login_token ? st->login_hash : NULL;
  for (int tries = 0; tries < 3; tries++) {
    if (push_endpoint_attach(rpc->push, st->endpoint_id, st->conn, login, st->ended_gen,
                             st->attach_replay, st->attach_lastseq))
      return true;
    /* Sessions were ended after the token was checked: check it again, in the store (rare,
     * so the read on this thread costs nothing in practice). */
    st->ended_gen = push_ended_gen(rpc->push);
    struct token_rec t;
    if (login &&
        (store_token_get(rpc->model.st, login, &t) != BH_OK || t.expires_ms <= bh_now_ms()))
      return false;
  }
  return false;
}

void stream_closed(struct rpc *rpc, struct stream_state *st)
{
  BH_LOG(BH_LOG_DEBUG, BH_C_WS, "endpoint %lld closed", (long long)st->endpoint_id);
  if (st->endpoint_id > 0)
    push_endpoint_detach(rpc->push, st->endpoint_id, st->conn);
  st->endpoint_id = 0;
}

void stream_set_push_transport(struct rpc *rpc, const struct push_transport *t)
{
  push_set_transport(rpc->push, t);
}

void stream_result_free(struct stream_result *r)
{
  free(r->text);
  r->text = NULL;
}
