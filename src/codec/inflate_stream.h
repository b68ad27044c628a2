/* inflate_stream.h: streaming decompression of gzip (RFC 1952, concatenated members
 * allowed), zlib (RFC 1950: what BIMserver's Java client sends as "deflate") and raw
 * deflate (RFC 1951, inside zip entries), with a bound on the output size. Thread: any;
 * one stream belongs to one thread at a time. */
#ifndef BH_INFLATE_STREAM_H
#define BH_INFLATE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

enum inflate_format { INFLATE_GZIP, INFLATE_ZLIB, INFLATE_RAW };

struct inflate_stream;

/* Called with each piece of output (at most 64 KiB each); a non-BH_OK return stops the
 * stream with that code. */
typedef enum bh_err (*inflate_sink)(void *arg, const void *data, size_t len);

/* max_output 0: no limit. On BH_OK *out is owned by the caller (inflate_stream_free). */
enum bh_err inflate_stream_new(struct inflate_stream **out, enum inflate_format fmt,
                               uint64_t max_output, inflate_sink sink, void *arg);
/* Feeds compressed bytes. BH_BADREQUEST for corrupt data (and for bytes after the end of a
 * zlib stream), BH_TOOBIG past max_output, else the sink's code. Errors are sticky. After
 * the end of a gzip member, more bytes start the next member. */
enum bh_err inflate_stream_feed(struct inflate_stream *s, const void *data, size_t len);
/* The input ended: BH_BADREQUEST when the compressed stream is incomplete. */
enum bh_err inflate_stream_finish(struct inflate_stream *s);
/* Bytes after the end of a raw deflate stream in the last feed (zip: the data that
 * follows the entry), for INFLATE_RAW; 0 otherwise. */
size_t inflate_stream_unused(const struct inflate_stream *s);
int inflate_stream_is_done(const struct inflate_stream *s); /* end of stream seen */
void inflate_stream_free(struct inflate_stream *s);

#endif
