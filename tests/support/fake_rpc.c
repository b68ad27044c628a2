/* fake_rpc.c: a stand-in for rpc.h and stream.h so transport can be tested alone (linked
 * instead of src/rpc). It decides by substring, no JSON parsing:
 *   rpc_handle_json: not starting with '{' -> 500, no body; otherwise
 *     {"peer":P,"token":T|null,"response":{"result":BODY}}, held 300 ms when BODY has "slow".
 *   stream_handle: "hb" -> nothing; "token" with "bad" -> {"error":"Invalid token"} + close
 *     1008; "token" -> endpoint reply (ids 2, 3, ...); "slow" -> {"slow":true} after 300 ms;
 *     "bye" -> close 1000; anything else -> {"echo":MSG}.
 * Counters let tests see that stream_closed() ran once per session. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "rpc/stream.h"

/* Test hooks; transport_test.c declares them too. */
int fake_rpc_stream_closed_count(void);
int fake_rpc_stream_handled_count(void);

struct rpc {
  int unused;
};

static atomic_int closed_count;
static atomic_int handled_count;
static atomic_llong next_endpoint = 2;

int fake_rpc_stream_closed_count(void)
{
  return atomic_load(&closed_count);
}

int fake_rpc_stream_handled_count(void)
{
  return atomic_load(&handled_count);
}

enum bh_err rpc_new(struct rpc **out, const struct bh_config *cfg, struct store *st,
                    struct events *ev)
{
  (void)cfg;
  (void)st;
  (void)ev;
  *out = calloc(1, sizeof **out);
  return *out ? BH_OK : BH_NOMEM;
}

void rpc_free(struct rpc *rpc)
{
  free(rpc);
}

static char *fake_printf_n(size_t *len, const char *fmt1, const char *a, size_t alen, const char *b,
                           const char *c, size_t clen, const char *d)
{
  /* "<fmt1 pieces>": a (alen bytes) b c (clen bytes) d, all concatenated. */
  size_t n1 = strlen(fmt1), nb = strlen(b), nd = strlen(d);
  size_t n = n1 + alen + nb + clen + nd;
  char *s = malloc(n + 1);
  if (!s)
    return NULL;
  char *p = s;
  memcpy(p, fmt1, n1);
  p += n1;
  memcpy(p, a, alen);
  p += alen;
  memcpy(p, b, nb);
  p += nb;
  memcpy(p, c, clen);
  p += clen;
  memcpy(p, d, nd);
  p += nd;
  *p = '\0';
  *len = n;
  return s;
}

static int contains(const char *hay, size_t len, const char *needle)
{
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(hay + i, needle, n) == 0)
      return 1;
  return 0;
}

void rpc_handle_json(struct rpc *rpc, const char *body, size_t len, const struct rpc_origin *origin,
                     bool may_block, struct rpc_reply *out)
{
  (void)rpc;
  memset(out, 0, sizeof *out);
  if (len == 0 || body[0] != '{') {
    out->http_status = 500;
    return;
  }
  char tok[300];
  if (origin->header_token)
    snprintf(tok, sizeof tok, "\"%.200s\"", origin->header_token);
  else
    snprintf(tok, sizeof tok, "null");
  char head[400];
  snprintf(head, sizeof head, "{\"peer\":\"%.64s\",\"token\":", origin->peer_addr);
  out->body = fake_printf_n(&out->len, head, tok, strlen(tok), ",\"response\":{\"result\":", body,
                            len, "}}");
  out->http_status = 200;
  if (contains(body, len, "\"slow\""))
    out->delay_ms = 300;
}

void rpc_reply_free(struct rpc_reply *r)
{
  free(r->body);
  r->body = NULL;
  r->len = 0;
}

enum bh_err rpc_token_user(struct rpc *rpc, const char *token, int64_t *uoid)
{
  (void)rpc;
  if (strcmp(token, "good") != 0)
    return BH_AUTH;
  *uoid = 1;
  return BH_OK;
}

char *stream_welcome_text(int64_t now_ms, size_t *len)
{
  char *s = malloc(48);
  if (!s)
    return NULL;
  int n = snprintf(s, 48, "{\"welcome\":%lld}", (long long)now_ms);
  *len = (size_t)n;
  return s;
}

static void set_text(struct stream_result *out, const char *text)
{
  out->text = strdup(text);
  out->len = out->text ? strlen(out->text) : 0;
}

void stream_handle(struct rpc *rpc, struct stream_state *st, const char *peer_addr, const char *msg,
                   size_t len, struct stream_result *out)
{
  (void)rpc;
  (void)peer_addr;
  memset(out, 0, sizeof *out);
  atomic_fetch_add(&handled_count, 1);
  if (contains(msg, len, "\"hb\"")) {
    out->action = STREAM_NOTHING;
  } else if (contains(msg, len, "\"token\"") && contains(msg, len, "bad")) {
    out->action = STREAM_SEND_CLOSE;
    out->close_code = 1008;
    set_text(out, "{\"error\":\"Invalid token\"}");
  } else if (contains(msg, len, "\"token\"")) {
    st->endpoint_id = atomic_fetch_add(&next_endpoint, 1);
    st->uoid = 1;
    char buf[128];
    snprintf(buf, sizeof buf,
             "{\"type\":\"endpoint\",\"payload\":{\"endpointid\":%lld},"
             "\"endpointid\":%lld}",
             (long long)st->endpoint_id, (long long)st->endpoint_id);
    out->action = STREAM_SEND;
    set_text(out, buf);
  } else if (contains(msg, len, "slow")) {
    out->action = STREAM_SEND;
    out->delay_ms = 300;
    set_text(out, "{\"slow\":true}");
  } else if (contains(msg, len, "bye")) {
    out->action = STREAM_CLOSE;
    out->close_code = 1000;
  } else {
    out->action = STREAM_SEND;
    out->text = fake_printf_n(&out->len, "{\"echo\":", msg, len, "}", "", 0, "");
  }
}

void stream_closed(struct rpc *rpc, struct stream_state *st)
{
  (void)rpc;
  (void)st;
  atomic_fetch_add(&closed_count, 1);
}

void stream_result_free(struct stream_result *r)
{
  free(r->text);
  r->text = NULL;
  r->len = 0;
}

/* --- the push side of stream.h, for the transport tests ---------------------------------- */

#include "notify/push.h"

static struct push_transport fake_push_tr;

bool stream_attach(struct rpc *rpc, struct stream_state *st)
{
  (void)rpc;
  st->attach_pending = false;
  return true;
}

void stream_set_push_transport(struct rpc *rpc, const struct push_transport *t)
{
  (void)rpc;
  fake_push_tr = *t;
}

void push_frame_ref(struct push_frame *f)
{
  __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
}

void push_frame_unref(struct push_frame *f)
{
  if (f && __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) == 0)
    free(f);
}
