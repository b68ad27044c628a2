/* inflate_stream.c: zlib's inflate behind a feed/finish interface. Owns one z_stream and one
 * output chunk; output leaves through the sink chunk by chunk, so memory stays bounded
 * whatever the compression ratio, and the output limit is checked before each chunk. */
#include "codec/inflate_stream.h"

#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#define OUT_CHUNK (64 * 1024)

struct inflate_stream {
  z_stream z;
  enum inflate_format fmt;
  uint64_t max_output;
  uint64_t total_out;
  inflate_sink sink;
  void *arg;
  enum bh_err err; /* sticky: once failed, every call returns it */
  bool done;
  size_t unused;
  unsigned char out[OUT_CHUNK];
};

static enum bh_err zerr(int zrc)
{
  switch (zrc) {
  case Z_MEM_ERROR:
    return BH_NOMEM;
  case Z_DATA_ERROR:
  case Z_NEED_DICT:
    return BH_BADREQUEST;
  default:
    return BH_INTERNAL;
  }
}

enum bh_err inflate_stream_new(struct inflate_stream **out, enum inflate_format fmt,
                               uint64_t max_output, inflate_sink sink, void *arg)
{
  *out = NULL;
  struct inflate_stream *s = calloc(1, sizeof *s);
  if (!s)
    return BH_NOMEM;
  int bits = fmt == INFLATE_GZIP ? 16 + MAX_WBITS : fmt == INFLATE_ZLIB ? MAX_WBITS : -MAX_WBITS;
  int zrc = inflateInit2(&s->z, bits);
  if (zrc != Z_OK) {
    free(s);
    return zerr(zrc);
  }
  s->fmt = fmt;
  s->max_output = max_output;
  s->sink = sink;
  s->arg = arg;
  *out = s;
  return BH_OK;
}

static enum bh_err emit(struct inflate_stream *s, size_t n)
{
  if (n == 0)
    return BH_OK;
  if (s->max_output > 0 && (n > s->max_output || s->total_out > s->max_output - n))
    return BH_TOOBIG;
  s->total_out += n;
  return s->sink ? s->sink(s->arg, s->out, n) : BH_OK;
}

static enum bh_err feed(struct inflate_stream *s, const unsigned char *data, size_t len)
{
  s->unused = 0;
  if (len == 0)
    return BH_OK;
  if (s->done) {
    if (s->fmt == INFLATE_RAW) {
      s->unused = len;
      return BH_OK;
    }
    if (s->fmt == INFLATE_ZLIB)
      return BH_BADREQUEST; /* data after the end of the zlib stream */
    /* gzip: another member follows (RFC 1952 §2.2 allows concatenation). */
    if (inflateReset(&s->z) != Z_OK)
      return BH_INTERNAL;
    s->done = false;
  }
  s->z.next_in = (unsigned char *)data;
  s->z.avail_in = 0;
  size_t left = len;
  for (;;) {
    if (s->z.avail_in == 0 && left > 0) {
      /* avail_in is a uInt: hand over at most 1 GiB per round. */
      size_t n = left > (1u << 30) ? (1u << 30) : left;
      s->z.avail_in = (uInt)n;
      left -= n;
    }
    s->z.next_out = s->out;
    s->z.avail_out = OUT_CHUNK;
    int zrc = inflate(&s->z, Z_NO_FLUSH);
    enum bh_err rc = emit(s, OUT_CHUNK - s->z.avail_out);
    if (rc)
      return rc;
    if (zrc == Z_STREAM_END) {
      size_t rest = s->z.avail_in + left;
      if (rest == 0 || s->fmt == INFLATE_RAW) {
        s->done = true;
        s->unused = rest;
        return BH_OK;
      }
      if (s->fmt == INFLATE_ZLIB)
        return BH_BADREQUEST;
      if (inflateReset(&s->z) != Z_OK)
        return BH_INTERNAL;
      continue;
    }
    if (zrc != Z_OK && zrc != Z_BUF_ERROR)
      return zerr(zrc);
    /* With output room left over, inflate has taken all the input it was given. */
    if (s->z.avail_out != 0 && s->z.avail_in == 0 && left == 0)
      return BH_OK;
  }
}

enum bh_err inflate_stream_feed(struct inflate_stream *s, const void *data, size_t len)
{
  if (s->err)
    return s->err;
  return s->err = feed(s, data, len);
}

enum bh_err inflate_stream_finish(struct inflate_stream *s)
{
  if (s->err)
    return s->err;
  if (!s->done)
    return s->err = BH_BADREQUEST;
  return BH_OK;
}

size_t inflate_stream_unused(const struct inflate_stream *s)
{
  return s->unused;
}

int inflate_stream_is_done(const struct inflate_stream *s)
{
  return s->done;
}

void inflate_stream_free(struct inflate_stream *s)
{
  if (!s)
    return;
  inflateEnd(&s->z);
  free(s);
}
