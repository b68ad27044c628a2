/* transport.h: the network edge. An HTTP daemon (libmicrohttpd, epoll) serves /json,
 * /upload and /download (streaming both into and out of the checkin module) and hands
 * /stream upgrades to a libuv loop thread that runs the WebSocket sessions (wslay).
 * Only this module includes microhttpd.h, wslay.h and uv.h. */
#ifndef BH_TRANSPORT_H
#define BH_TRANSPORT_H

#include <stdint.h>

#include "common/bh_err.h"

struct transport;
struct bh_config;
struct rpc;

/* Binds cfg->host:cfg->port (port 0: any free port), starts the loop thread and the HTTP
 * daemon. Borrows cfg and rpc; they must outlive the transport. */
enum bh_err transport_start(struct transport **out, const struct bh_config *cfg, struct rpc *rpc);
/* The port actually bound. */
uint16_t transport_port(const struct transport *t);
/* Stops accepting, closes every WebSocket (1001 "going away"), joins the threads, frees. */
void transport_stop(struct transport *t);

#endif
