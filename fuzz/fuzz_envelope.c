/* fuzz_envelope.c: the /json envelope decoder and dispatcher on arbitrary bytes, against a
 * real store. Nothing may crash, leak or read out of bounds; the reply is always valid JSON
 * or the empty 500 answer. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bh_log.h"
#include "config/config.h"
#include "model/events.h"
#include "model/model.h"
#include "rpc/rpc.h"
#include "rpc/stream.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rpc *rpc;

static void start(void)
{
  static struct bh_config cfg;
  static char dir[64];
  if (sodium_init() < 0 || config_init(&cfg) != 0)
    abort();
  bh_log_set_level("off");
  cfg.login_fail_delay_ms = 0;
  cfg.argon2_mem_limit_kib = 8;
  cfg.argon2_ops_limit = 1;
  snprintf(dir, sizeof dir, "/tmp/bimhub-fuzz-%d", (int)getpid());
  free(cfg.data_dir);
  cfg.data_dir = strdup(dir);
  struct store_options so = {.dir = dir};
  struct store *st;
  if (store_open(&st, &so) != BH_OK)
    abort();
  struct events *ev = events_new();
  if (rpc_new(&rpc, &cfg, st, ev) != BH_OK)
    abort();
  struct model m;
  model_init(&m, st, ev, &cfg);
  model_setup(&m, NULL, "f", "", "", "Admin", "admin@x.test", "pw", NULL);
  model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!rpc)
    start();
  struct rpc_origin o = {.peer_addr = "127.0.0.1"};
  struct rpc_reply r;
  /* may_block false: methods that call out (remote services, URL check-ins) are never run
   * here, so no input can make the fuzzer reach the network */
  rpc_handle_json(rpc, (const char *)data, size, &o, false, &r);
  if (r.body) {
    json_t *reply = json_loadb(r.body, r.len, 0, NULL);
    if (!reply)
      abort(); /* every reply body must be JSON */
    json_decref(reply);
  }
  if (r.http_status == 500 && r.body)
    abort();
  rpc_reply_free(&r);

  struct stream_state ss = {0};
  struct stream_result sr;
  stream_handle(rpc, &ss, "127.0.0.1", (const char *)data, size, &sr);
  stream_result_free(&sr);
  return 0;
}
