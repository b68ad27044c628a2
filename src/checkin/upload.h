/* upload.h: POST /upload (spec §1.3) as transport sees it. Transport parses the multipart
 * body as a stream and calls these in order: upload_field() for each text field, then
 * upload_file_begin() and upload_file_data() for the file part, then upload_end(). The
 * bytes go to a worker through a bounded queue; transport pauses reading (suspends the
 * connection) while upload_is_full() and resumes when the drain callback fires.
 *
 * Threads: upload_new .. upload_end and upload_take_reply from one HTTP thread (the
 * connection's); the callbacks given to upload_set_drain / upload_end may run on any
 * thread, possibly inside the call that registered them. upload_release() exactly once. */
#ifndef BH_UPLOAD_H
#define BH_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "common/bh_err.h"
#include "rpc/rpc.h"

struct upload;
typedef void (*upload_cb)(void *arg);

/* A new upload. origin is copied. Never fails but for memory (NULL). */
struct upload *upload_new(struct rpc *rpc, const struct rpc_origin *origin);

/* A complete text field (token, poid, deserializerOid, comment, topicId, sync, merge,
 * compression, action). As BIMserver's UploadServlet, the file part acts with the fields
 * seen before it: a field after the file changes nothing. */
void upload_field(struct upload *u, const char *name, const char *value, size_t len);
/* The file part starts (any part name; filename may be NULL). */
void upload_file_begin(struct upload *u, const char *filename, const char *content_type);
/* Bytes of the file part. Always takes them (copies into the queue, or drops them once the
 * upload has failed). */
void upload_file_data(struct upload *u, const void *data, size_t len);
/* True while more than the queue's high-water mark waits for the worker: stop reading. */
bool upload_is_full(struct upload *u);
/* drain(arg) runs once when the queue falls below its low-water mark (at once if it already
 * has, or when the upload fails, upload_end(u, false) included). Replaces an earlier
 * registration (transport registers only after the previous drain ran). */
void upload_set_drain(struct upload *u, upload_cb drain, void *arg);

/* Transport refuses the body (malformed, over a limit) for this reason and will end the
 * upload as dropped: a check-in it started, or an initiated one its topicId names, fails
 * with this reason. */
void upload_refuse(struct upload *u, const char *reason);

/* The body ended (completed=true), or the request is being dropped (false). ready(arg) runs
 * once when the reply is known: for an asynchronous check-in when the queued file is safe
 * with the worker, for sync=true when the check-in has ended, for a failed upload whose
 * check-in had started when that check-in has ended (its project is free then); after false
 * too (the reply is then not taken). ready and a pending drain may run after
 * upload_release(). */
void upload_end(struct upload *u, bool completed, upload_cb ready, void *arg);
/* After ready: the reply (JSON, Content-Type text/json as BIMserver). Fills out; the
 * transport frees it with rpc_reply_free(). */
void upload_take_reply(struct upload *u, struct rpc_reply *out);
/* The transport is done with u (after the reply, or on a dropped connection). */
void upload_release(struct upload *u);

#endif
