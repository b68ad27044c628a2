/* zip_write.c: a one-entry zip archive written as a stream. Owns the entry's deflater and
 * the running CRC-32 and sizes. The local header cannot know the sizes, so it sets flag bit
 * 3 and the sizes follow the data in a descriptor; like Java and Go, the descriptor takes
 * 8-byte sizes only when they pass 4 GiB, and then the central directory gets a zip64
 * extra field and the end record a zip64 end record and locator (readers take the sizes
 * from the central directory). An extended-timestamp field (0x5455) keeps the exact
 * mtime, which the DOS fields round to 2 s and cannot place in a time zone. */
#include "codec/zip_write.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "codec/deflate_stream.h"

#define SIZE_MAX32 0xffffffffu
#define FLAGS 0x0808u           /* bit 3: data descriptor; bit 11: the name is UTF-8 */
#define MADE_BY (3u << 8 | 45u) /* Unix, APPNOTE 4.5 */
#define FILE_MODE 0100644u      /* regular file, rw-r--r-- */
#define DEFLATE_LEVEL 6

struct zip_writer {
  inflate_sink sink;
  void *arg;
  char *name;
  size_t name_len;
  uint16_t dos_time, dos_date;
  bool has_unix_time;
  uint32_t unix_time;
  uint32_t crc;
  uint64_t usize, csize;
  uint64_t offset; /* bytes written so far */
  struct deflate_stream *ds;
  enum bh_err err; /* sticky */
  bool finished;
};

static unsigned char *put16(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  return p + 2;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
  put16(p, v);
  put16(p + 2, v >> 16);
  return p + 4;
}

static unsigned char *put64(unsigned char *p, uint64_t v)
{
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
  return p + 8;
}

static enum bh_err out(struct zip_writer *z, const void *data, size_t len)
{
  z->offset += len;
  return z->sink(z->arg, data, len);
}

/* The deflater's output: counted as the compressed size and passed through. */
static enum bh_err deflated_out(void *arg, const void *data, size_t len)
{
  struct zip_writer *z = arg;
  z->csize += len;
  return out(z, data, len);
}

/* DOS fields hold local time by tradition; a server has no client zone, so UTC it is (the
 * extended timestamp carries the true instant). Clamped to the DOS range 1980..2107. */
static void dos_time(int64_t t, uint16_t *dtime, uint16_t *ddate)
{
  const int64_t lo = 315532800;    /* 1980-01-01T00:00:00Z */
  const int64_t hi = 4354819198LL; /* 2107-12-31T23:59:58Z */
  if (t < lo)
    t = lo;
  if (t > hi)
    t = hi;
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  *dtime = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
  *ddate = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

static unsigned char *put_timestamp(const struct zip_writer *z, unsigned char *p)
{
  if (!z->has_unix_time)
    return p;
  p = put16(p, 0x5455);
  p = put16(p, 5);
  *p++ = 1; /* mtime present */
  return put32(p, z->unix_time);
}

enum bh_err zip_writer_new(struct zip_writer **outp, const char *name, int64_t mtime_unix,
                           inflate_sink sink, void *arg)
{
  *outp = NULL;
  size_t name_len = strlen(name);
  if (name_len == 0 || name_len > 0xffff)
    return BH_BADREQUEST;
  struct zip_writer *z = calloc(1, sizeof *z);
  if (!z)
    return BH_NOMEM;
  z->sink = sink;
  z->arg = arg;
  z->name = malloc(name_len);
  if (!z->name) {
    free(z);
    return BH_NOMEM;
  }
  memcpy(z->name, name, name_len);
  z->name_len = name_len;
  dos_time(mtime_unix, &z->dos_time, &z->dos_date);
  /* The field is a signed 32-bit count (unzip reads it so); times past 2038 are left out. */
  z->has_unix_time = mtime_unix >= 0 && mtime_unix <= INT32_MAX;
  z->unix_time = (uint32_t)mtime_unix;

  enum bh_err rc = deflate_stream_new(&z->ds, DEFLATE_RAW, DEFLATE_LEVEL, deflated_out, z);
  if (rc) {
    zip_writer_free(z);
    return rc;
  }

  unsigned char h[30 + 9], *p = h;
  p = put32(p, 0x04034b50);
  p = put16(p, 20); /* version needed: 2.0, deflate */
  p = put16(p, FLAGS);
  p = put16(p, 8);
  p = put16(p, z->dos_time);
  p = put16(p, z->dos_date);
  p = put32(p, 0); /* CRC-32 and sizes: in the descriptor */
  p = put32(p, 0);
  p = put32(p, 0);
  p = put16(p, (uint32_t)name_len);
  p = put16(p, z->has_unix_time ? 9 : 0);
  unsigned char *extra = p;
  p = put_timestamp(z, extra);
  if ((rc = out(z, h, 30)) != BH_OK || (rc = out(z, z->name, name_len)) != BH_OK ||
      (rc = out(z, extra, (size_t)(p - extra))) != BH_OK) {
    zip_writer_free(z);
    return rc;
  }
  *outp = z;
  return BH_OK;
}

enum bh_err zip_writer_write(struct zip_writer *z, const void *data, size_t len)
{
  if (z->err)
    return z->err;
  if (z->finished)
    return z->err = BH_STATE;
  if (len == 0)
    return BH_OK;
  z->crc = (uint32_t)crc32_z(z->crc, data, len);
  z->usize += len;
  return z->err = deflate_stream_write(z->ds, data, len);
}

static enum bh_err write_tail(struct zip_writer *z)
{
  enum bh_err rc = deflate_stream_finish(z->ds);
  if (rc)
    return rc;
  bool big = z->usize >= SIZE_MAX32 || z->csize >= SIZE_MAX32;

  unsigned char d[24], *p = d;
  p = put32(p, 0x08074b50);
  p = put32(p, z->crc);
  if (big) {
    p = put64(p, z->csize);
    p = put64(p, z->usize);
  } else {
    p = put32(p, (uint32_t)z->csize);
    p = put32(p, (uint32_t)z->usize);
  }
  if ((rc = out(z, d, (size_t)(p - d))) != BH_OK)
    return rc;

  uint64_t cd_offset = z->offset;
  bool zip64 = big || cd_offset >= SIZE_MAX32;
  unsigned char c[46 + 20 + 9], *q = c;
  q = put32(q, 0x02014b50);
  q = put16(q, MADE_BY);
  q = put16(q, zip64 ? 45 : 20);
  q = put16(q, FLAGS);
  q = put16(q, 8);
  q = put16(q, z->dos_time);
  q = put16(q, z->dos_date);
  q = put32(q, z->crc);
  q = put32(q, big ? SIZE_MAX32 : (uint32_t)z->csize);
  q = put32(q, big ? SIZE_MAX32 : (uint32_t)z->usize);
  q = put16(q, (uint32_t)z->name_len);
  q = put16(q, (big ? 20 : 0) + (z->has_unix_time ? 9 : 0));
  q = put16(q, 0);               /* comment */
  q = put16(q, 0);               /* disk */
  q = put16(q, 0);               /* internal attributes */
  q = put32(q, FILE_MODE << 16); /* external attributes: Unix mode */
  q = put32(q, 0);               /* local header offset */
  unsigned char *extra = q;
  if (big) {
    q = put16(q, 0x0001);
    q = put16(q, 16);
    q = put64(q, z->usize);
    q = put64(q, z->csize);
  }
  q = put_timestamp(z, q);
  if ((rc = out(z, c, 46)) != BH_OK || (rc = out(z, z->name, z->name_len)) != BH_OK ||
      (rc = out(z, extra, (size_t)(q - extra))) != BH_OK)
    return rc;
  uint64_t cd_size = z->offset - cd_offset;

  unsigned char e[56 + 20 + 22], *r = e;
  if (zip64) {
    uint64_t end64_offset = z->offset;
    r = put32(r, 0x06064b50);
    r = put64(r, 44); /* size of the rest of this record */
    r = put16(r, MADE_BY);
    r = put16(r, 45);
    r = put32(r, 0); /* this disk */
    r = put32(r, 0); /* disk with the central directory */
    r = put64(r, 1); /* entries on this disk */
    r = put64(r, 1); /* entries */
    r = put64(r, cd_size);
    r = put64(r, cd_offset);
    r = put32(r, 0x07064b50); /* zip64 end locator */
    r = put32(r, 0);
    r = put64(r, end64_offset);
    r = put32(r, 1); /* disks */
  }
  r = put32(r, 0x06054b50);
  r = put16(r, 0);
  r = put16(r, 0);
  r = put16(r, 1);
  r = put16(r, 1);
  r = put32(r, (uint32_t)cd_size);
  r = put32(r, cd_offset >= SIZE_MAX32 ? SIZE_MAX32 : (uint32_t)cd_offset);
  r = put16(r, 0); /* comment */
  return out(z, e, (size_t)(r - e));
}

enum bh_err zip_writer_finish(struct zip_writer *z)
{
  if (z->err)
    return z->err;
  if (z->finished)
    return BH_OK;
  z->finished = true;
  return z->err = write_tail(z);
}

void zip_writer_free(struct zip_writer *z)
{
  if (!z)
    return;
  deflate_stream_free(z->ds);
  free(z->name);
  free(z);
}
