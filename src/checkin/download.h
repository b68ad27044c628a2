/* download.h: GET or POST /download (spec §1.4) as transport sees it: a prepared download
 * (?token=T&topicId=N[&zip=on][&mime=M]) or an extended-data file
 * (?token=T&action=extendeddata&edid=N), streamed from the blob store in pieces.
 *
 * Threads: all on the connection's HTTP thread; download_read() may do file reads (page
 * cache) and compression, never network or database waits. */
#ifndef BH_DOWNLOAD_H
#define BH_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/bh_err.h"
#include "rpc/rpc.h"

struct download;

/* The query string values (NULL when absent) and what the client accepts. */
struct download_request {
  const char *token; /* ?token, or the header token from origin */
  const char *topic_id;
  const char *zip; /* "on" */
  const char *mime;
  const char *action; /* "extendeddata" */
  const char *edid;
  bool accept_gzip; /* Accept-Encoding lists gzip */
};

/* What to send: headers, and the body through download_read(). */
struct download_head {
  int status; /* 200 */
  char content_type[128];
  char content_disposition[300];
  bool gzip;    /* send Content-Encoding: gzip */
  int64_t size; /* body length, -1 when unknown (compressed on the fly) */
};

/* Opens a download. On failure returns the error and fills err_status (400, 401, 403, 404,
 * 410...) and err_text (one short line) for a text/plain answer. */
enum bh_err download_open(struct rpc *rpc, const struct download_request *req,
                          const struct rpc_origin *origin, struct download **out,
                          struct download_head *head, int *err_status, char err_text[256]);
/* The next bytes of the body into buf. Returns the count, 0 at the end, -1 on an error
 * (the transport then cuts the connection). With a known size the transport stops after
 * size bytes without asking for the 0; a 0 before that is an error. */
ssize_t download_read(struct download *d, char *buf, size_t max);
/* Done, once per opened download (also for HEAD, which reads nothing): complete says whether
 * every byte was sent (the topic then becomes FINISHED). */
void download_close(struct download *d, bool complete);

#endif
