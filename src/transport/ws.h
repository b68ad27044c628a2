/* ws.h: /stream WebSocket sessions (RFC 6455 framing by wslay) on the transport's loop
 * thread. A session meets the protocol only through rpc/stream.h: each complete text
 * message goes to stream_handle() on a worker, one at a time per session, and the result
 * is carried out here. Internal to transport.
 *
 * Threads: ws_hub_adopt() from an MHD thread (the upgrade callback); everything else on
 * the loop thread, except ws_hub_new()/ws_hub_free() (owner's thread, loop not running
 * sessions: before the first adopt / after loop_stop()). */
#ifndef BH_TRANSPORT_WS_H
#define BH_TRANSPORT_WS_H

#include <stddef.h>

#include "common/bh_err.h"

struct ws_hub;
struct ws_session;
struct loop;
struct rpc;
struct bh_config;
struct MHD_UpgradeResponseHandle;

/* The set of live sessions of one transport. Borrows loop, cfg and rpc. */
enum bh_err ws_hub_new(struct ws_hub **out, struct loop *loop, const struct bh_config *cfg,
                       struct rpc *rpc);
/* Frees the hub. Only after loop_stop() returned (every session is gone by then). */
void ws_hub_free(struct ws_hub *h);

/* MHD thread, inside the upgrade callback: hands the upgraded socket to the loop thread.
 * Always takes over urh: on any failure the connection is closed through
 * MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE). extra_in (bytes MHD read past the
 * request) and peer are copied. MHD keeps owning fd; the session never closes it. */
void ws_hub_adopt(struct ws_hub *h, int fd, struct MHD_UpgradeResponseHandle *urh,
                  const char *extra_in, size_t extra_len, const char *peer);

/* Loop thread, from loop_stop()'s on_stop: refuses new sessions and closes every session
 * with 1001 ("going away") without waiting for the peers' close frames. */
void ws_hub_stop(struct ws_hub *h);

/* Loop thread: number of sessions not yet freed (tests, metrics). */
size_t ws_hub_count(const struct ws_hub *h);

/* Loop thread: queues one text frame (text is copied). BH_CLOSED when the session is
 * closing; BH_TOOBIG when the session's send queue (ws_queue_max_frames /
 * ws_queue_max_bytes) would overflow: the session is then closed with 1008. A single
 * frame larger than ws_queue_max_bytes is accepted when nothing else is queued, so one
 * big reply can always go out. */
enum bh_err ws_session_send_text(struct ws_session *s, const char *text, size_t len);

/* Loop thread: starts the closing handshake with an RFC 6455 code. The memory is freed
 * later, in a libuv close callback; s stays valid until the current callback returns.
 * No-op when already closing. */
void ws_session_close(struct ws_session *s, int code);

#endif
