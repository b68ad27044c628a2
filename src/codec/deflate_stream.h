/* deflate_stream.h: streaming compression to gzip (for Content-Encoding: gzip) or raw
 * deflate (inside zip entries). Output goes to a sink as it is made. */
#ifndef BH_DEFLATE_STREAM_H
#define BH_DEFLATE_STREAM_H

#include <stddef.h>

#include "codec/inflate_stream.h"
#include "common/bh_err.h"

enum deflate_format { DEFLATE_GZIP, DEFLATE_RAW };

struct deflate_stream;

/* level: zlib level 1..9 (6 is zlib's default); BH_INTERNAL for any other. The sink gets
 * pieces of at most 64 KiB; its non-BH_OK return stops the stream with that code (sticky).
 * On BH_OK *out is owned by the caller (deflate_stream_free). */
enum bh_err deflate_stream_new(struct deflate_stream **out, enum deflate_format fmt, int level,
                               inflate_sink sink, void *arg);
enum bh_err deflate_stream_write(struct deflate_stream *s, const void *data, size_t len);
enum bh_err deflate_stream_finish(struct deflate_stream *s);
void deflate_stream_free(struct deflate_stream *s);

#endif
