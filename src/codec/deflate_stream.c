/* deflate_stream.c: zlib's deflate behind a write/finish interface. Owns one z_stream and
 * one output chunk that is handed to the sink whenever it fills, so memory stays bounded. */
#include "codec/deflate_stream.h"

#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#define OUT_CHUNK (64 * 1024)

struct deflate_stream {
  z_stream z;
  inflate_sink sink;
  void *arg;
  enum bh_err err; /* sticky */
  bool finished;
  unsigned char out[OUT_CHUNK];
};

enum bh_err deflate_stream_new(struct deflate_stream **out, enum deflate_format fmt, int level,
                               inflate_sink sink, void *arg)
{
  *out = NULL;
  if (level < 1 || level > 9)
    return BH_INTERNAL;
  struct deflate_stream *s = calloc(1, sizeof *s);
  if (!s)
    return BH_NOMEM;
  int bits = fmt == DEFLATE_GZIP ? 16 + MAX_WBITS : -MAX_WBITS;
  int zrc = deflateInit2(&s->z, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY);
  if (zrc != Z_OK) {
    free(s);
    return zrc == Z_MEM_ERROR ? BH_NOMEM : BH_INTERNAL;
  }
  s->sink = sink;
  s->arg = arg;
  *out = s;
  return BH_OK;
}

/* Runs deflate over the pending input with flush, handing every full chunk to the sink;
 * returns once the input is taken (Z_NO_FLUSH) or the stream has ended (Z_FINISH). */
static enum bh_err run(struct deflate_stream *s, const unsigned char *data, size_t len, int flush)
{
  s->z.next_in = (unsigned char *)data;
  s->z.avail_in = 0;
  size_t left = len;
  for (;;) {
    if (s->z.avail_in == 0 && left > 0) {
      size_t n = left > (1u << 30) ? (1u << 30) : left; /* avail_in is a uInt */
      s->z.avail_in = (uInt)n;
      left -= n;
    }
    s->z.next_out = s->out;
    s->z.avail_out = OUT_CHUNK;
    int zrc = deflate(&s->z, left > 0 ? Z_NO_FLUSH : flush);
    if (zrc == Z_STREAM_ERROR)
      return BH_INTERNAL;
    size_t n = OUT_CHUNK - s->z.avail_out;
    if (n > 0 && s->sink) {
      enum bh_err rc = s->sink(s->arg, s->out, n);
      if (rc)
        return rc;
    }
    if (zrc == Z_STREAM_END)
      return BH_OK;
    /* Room left in the chunk means deflate has nothing more to say for now. */
    if (flush == Z_NO_FLUSH && s->z.avail_out != 0 && s->z.avail_in == 0 && left == 0)
      return BH_OK;
  }
}

enum bh_err deflate_stream_write(struct deflate_stream *s, const void *data, size_t len)
{
  if (s->err)
    return s->err;
  if (s->finished)
    return s->err = BH_STATE;
  if (len == 0)
    return BH_OK;
  return s->err = run(s, data, len, Z_NO_FLUSH);
}

enum bh_err deflate_stream_finish(struct deflate_stream *s)
{
  if (s->err)
    return s->err;
  if (s->finished)
    return BH_OK;
  s->finished = true;
  return s->err = run(s, NULL, 0, Z_FINISH);
}

void deflate_stream_free(struct deflate_stream *s)
{
  if (!s)
    return;
  deflateEnd(&s->z);
  free(s);
}
