/* codec_test.c: gzip, zlib and raw deflate streams (round trips, concatenated members,
 * corrupt and truncated input, output limit) and the zip reader and writer: our archive
 * read back in every chunking, checked by Python's zipfile and unzip; archives made by
 * Python's zipfile (stored, deflated, streamed with descriptors and zip64 fields); and the
 * errors: two .ifc entries, none, truncation at every byte, CRC mismatch, encryption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "codec/deflate_stream.h"
#include "codec/inflate_stream.h"
#include "codec/zip_read.h"
#include "codec/zip_write.h"
#include "common/bh_log.h"

struct buf {
  unsigned char *p;
  size_t len, cap;
};

static enum bh_err buf_sink(void *arg, const void *data, size_t len)
{
  struct buf *b = arg;
  if (len == 0)
    return BH_OK;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len)
      cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p)
      return BH_NOMEM;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, len);
  b->len += len;
  return BH_OK;
}

static void buf_free(struct buf *b)
{
  free(b->p);
  memset(b, 0, sizeof *b);
}

static enum bh_err failing_sink(void *arg, const void *data, size_t len)
{
  (void)arg;
  (void)data;
  (void)len;
  return BH_IO;
}

/* Deterministic pseudo-random numbers (xorshift64): test runs repeat exactly. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Compressible text with some noise, like an IFC file. */
static unsigned char *sample(size_t len)
{
  unsigned char *p = malloc(len);
  assert_non_null(p);
  for (size_t i = 0; i < len; i++)
    p[i] = (i % 61 == 60)     ? '\n'
           : (rng() % 8 == 0) ? (unsigned char)rng()
                              : (unsigned char)('A' + i % 26);
  return p;
}

static struct buf pack(enum deflate_format fmt, const void *data, size_t len)
{
  struct buf out = {0};
  struct deflate_stream *s;
  assert_int_equal(deflate_stream_new(&s, fmt, 6, buf_sink, &out), BH_OK);
  /* Written in uneven pieces, to exercise the streaming path. */
  const unsigned char *p = data;
  for (size_t off = 0, step = 1; off < len; off += step, step = step * 2 + 3) {
    size_t n = len - off < step ? len - off : step;
    assert_int_equal(deflate_stream_write(s, p + off, n), BH_OK);
  }
  assert_int_equal(deflate_stream_finish(s), BH_OK);
  deflate_stream_free(s);
  return out;
}

/* Inflates data fed in pieces of chunk bytes (0: random sizes); returns the first error of
 * feed or finish. */
static enum bh_err decompress(enum inflate_format fmt, uint64_t max, const void *data, size_t len,
                              size_t chunk, struct buf *out)
{
  struct inflate_stream *s;
  assert_int_equal(inflate_stream_new(&s, fmt, max, buf_sink, out), BH_OK);
  const unsigned char *p = data;
  enum bh_err rc = BH_OK;
  for (size_t off = 0; off < len && rc == BH_OK;) {
    size_t n = chunk ? chunk : 1 + rng() % 5000;
    if (n > len - off)
      n = len - off;
    rc = inflate_stream_feed(s, p + off, n);
    off += n;
  }
  if (rc == BH_OK)
    rc = inflate_stream_finish(s);
  inflate_stream_free(s);
  return rc;
}

static void gzip_round_trip(void **state)
{
  (void)state;
  size_t len = 300000;
  unsigned char *data = sample(len);
  struct buf gz = pack(DEFLATE_GZIP, data, len);
  assert_true(gz.len < len);
  assert_int_equal(gz.p[0], 0x1f);
  assert_int_equal(gz.p[1], 0x8b);
  size_t chunks[] = {1, 7, 65536, 0, gz.len};
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    struct buf out = {0};
    assert_int_equal(decompress(INFLATE_GZIP, 0, gz.p, gz.len, chunks[i], &out), BH_OK);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.p, data, len);
    buf_free(&out);
  }
  buf_free(&gz);
  free(data);
}

static void zlib_and_raw_round_trip(void **state)
{
  (void)state;
  size_t len = 100000;
  unsigned char *data = sample(len);
  /* zlib format as Java's DeflaterOutputStream sends it; deflate_stream writes no zlib. */
  uLongf zlen = compressBound(len);
  unsigned char *z = malloc(zlen);
  assert_non_null(z);
  assert_int_equal(compress2(z, &zlen, data, len, 6), Z_OK);
  struct buf out = {0};
  assert_int_equal(decompress(INFLATE_ZLIB, 0, z, zlen, 3, &out), BH_OK);
  assert_int_equal(out.len, len);
  assert_memory_equal(out.p, data, len);
  buf_free(&out);

  /* Bytes after a zlib stream are an error. */
  unsigned char *zx = malloc(zlen + 1);
  assert_non_null(zx);
  memcpy(zx, z, zlen);
  zx[zlen] = 'x';
  assert_int_equal(decompress(INFLATE_ZLIB, 0, zx, zlen + 1, 0, &out), BH_BADREQUEST);
  buf_free(&out);
  assert_int_equal(decompress(INFLATE_ZLIB, 0, zx, zlen + 1, 1, &out), BH_BADREQUEST);
  buf_free(&out);
  free(zx);
  free(z);

  struct buf raw = pack(DEFLATE_RAW, data, len);
  assert_int_equal(decompress(INFLATE_RAW, 0, raw.p, raw.len, 0, &out), BH_OK);
  assert_int_equal(out.len, len);
  assert_memory_equal(out.p, data, len);
  buf_free(&out);
  buf_free(&raw);
  free(data);
}

static void raw_reports_unused_input(void **state)
{
  (void)state;
  struct buf raw = pack(DEFLATE_RAW, "hello, hello, hello", 19);
  assert_int_equal(buf_sink(&raw, "TRAILER", 7), BH_OK);
  struct buf out = {0};
  struct inflate_stream *s;
  assert_int_equal(inflate_stream_new(&s, INFLATE_RAW, 0, buf_sink, &out), BH_OK);
  assert_int_equal(inflate_stream_feed(s, raw.p, raw.len), BH_OK);
  assert_true(inflate_stream_is_done(s));
  assert_int_equal(inflate_stream_unused(s), 7);
  assert_int_equal(inflate_stream_finish(s), BH_OK);
  inflate_stream_free(s);
  assert_int_equal(out.len, 19);
  buf_free(&out);

  /* One byte at a time: the stream ends on the byte before the trailer. */
  assert_int_equal(inflate_stream_new(&s, INFLATE_RAW, 0, buf_sink, &out), BH_OK);
  size_t end = raw.len - 7;
  for (size_t i = 0; i < raw.len; i++) {
    assert_int_equal(inflate_stream_feed(s, raw.p + i, 1), BH_OK);
    assert_int_equal(inflate_stream_is_done(s), i + 1 >= end);
    assert_int_equal(inflate_stream_unused(s), i >= end ? 1 : 0);
  }
  inflate_stream_free(s);
  assert_memory_equal(out.p, "hello, hello, hello", 19);
  buf_free(&out);
  buf_free(&raw);
}

static void gzip_concatenated_members(void **state)
{
  (void)state;
  struct buf a = pack(DEFLATE_GZIP, "hello ", 6);
  struct buf b = pack(DEFLATE_GZIP, "world", 5);
  struct buf empty = pack(DEFLATE_GZIP, "", 0);
  assert_int_equal(buf_sink(&a, b.p, b.len), BH_OK);
  assert_int_equal(buf_sink(&a, empty.p, empty.len), BH_OK);
  assert_int_equal(buf_sink(&a, b.p, b.len), BH_OK);
  for (size_t chunk = 0; chunk < 4; chunk++) {
    struct buf out = {0};
    assert_int_equal(decompress(INFLATE_GZIP, 0, a.p, a.len, chunk ? chunk : a.len, &out), BH_OK);
    assert_int_equal(out.len, 16);
    assert_memory_equal(out.p, "hello worldworld", 16);
    buf_free(&out);
  }
  /* A member cut short after a complete one is still truncated. */
  struct buf out = {0};
  assert_int_equal(decompress(INFLATE_GZIP, 0, a.p, a.len - 3, 0, &out), BH_BADREQUEST);
  buf_free(&out);
  buf_free(&a);
  buf_free(&b);
  buf_free(&empty);
}

static void corrupt_and_truncated_input(void **state)
{
  (void)state;
  size_t len = 50000;
  unsigned char *data = sample(len);
  struct buf gz = pack(DEFLATE_GZIP, data, len);
  struct buf out = {0};

  /* Not gzip at all. */
  assert_int_equal(decompress(INFLATE_GZIP, 0, "plain text", 10, 0, &out), BH_BADREQUEST);
  buf_free(&out);
  assert_int_equal(decompress(INFLATE_ZLIB, 0, "plain text", 10, 0, &out), BH_BADREQUEST);
  buf_free(&out);
  /* Nothing at all. */
  assert_int_equal(decompress(INFLATE_GZIP, 0, "", 0, 0, &out), BH_BADREQUEST);
  buf_free(&out);

  /* A flipped byte in the body: the deflate data or gzip's CRC-32 catches it. */
  gz.p[gz.len / 2] ^= 0x55;
  assert_int_equal(decompress(INFLATE_GZIP, 0, gz.p, gz.len, 0, &out), BH_BADREQUEST);
  buf_free(&out);
  gz.p[gz.len / 2] ^= 0x55;
  /* A wrong length in the trailer. */
  gz.p[gz.len - 1] ^= 1;
  assert_int_equal(decompress(INFLATE_GZIP, 0, gz.p, gz.len, 0, &out), BH_BADREQUEST);
  buf_free(&out);
  gz.p[gz.len - 1] ^= 1;

  /* Truncated anywhere: feeding succeeds, finishing fails. */
  size_t cuts[] = {1, 10, gz.len / 3, gz.len - 8, gz.len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    assert_int_equal(decompress(INFLATE_GZIP, 0, gz.p, cuts[i], 0, &out), BH_BADREQUEST);
    buf_free(&out);
  }
  assert_int_equal(decompress(INFLATE_GZIP, 0, gz.p, gz.len, 0, &out), BH_OK);
  buf_free(&out);

  /* The sink's error stops the stream, and stays. */
  struct inflate_stream *s;
  assert_int_equal(inflate_stream_new(&s, INFLATE_GZIP, 0, failing_sink, NULL), BH_OK);
  assert_int_equal(inflate_stream_feed(s, gz.p, gz.len), BH_IO);
  assert_int_equal(inflate_stream_feed(s, gz.p, 1), BH_IO);
  assert_int_equal(inflate_stream_finish(s), BH_IO);
  inflate_stream_free(s);

  struct deflate_stream *d;
  assert_int_equal(deflate_stream_new(&d, DEFLATE_GZIP, 0, buf_sink, &out), BH_INTERNAL);
  assert_int_equal(deflate_stream_new(&d, DEFLATE_GZIP, 10, buf_sink, &out), BH_INTERNAL);
  assert_int_equal(deflate_stream_new(&d, DEFLATE_RAW, 1, failing_sink, NULL), BH_OK);
  assert_int_equal(deflate_stream_write(d, data, len), BH_OK); /* level 1 may hold it all */
  assert_int_equal(deflate_stream_finish(d), BH_IO);
  assert_int_equal(deflate_stream_write(d, data, 1), BH_IO);
  deflate_stream_free(d);
  buf_free(&gz);
  free(data);
}

static void max_output_bounds_a_bomb(void **state)
{
  (void)state;
  size_t len = 20 * 1024 * 1024; /* 20 MiB of zeros deflate to ~20 KiB */
  unsigned char *zeros = calloc(1, len);
  assert_non_null(zeros);
  struct buf gz = pack(DEFLATE_GZIP, zeros, len);
  assert_true(gz.len < 64 * 1024);
  struct buf out = {0};
  assert_int_equal(decompress(INFLATE_GZIP, 1000, gz.p, gz.len, 0, &out), BH_TOOBIG);
  assert_true(out.len <= 1000);
  buf_free(&out);
  assert_int_equal(decompress(INFLATE_GZIP, len - 1, gz.p, gz.len, 0, &out), BH_TOOBIG);
  buf_free(&out);
  assert_int_equal(decompress(INFLATE_GZIP, len, gz.p, gz.len, 0, &out), BH_OK);
  assert_int_equal(out.len, len);
  buf_free(&out);
  buf_free(&gz);
  free(zeros);
}

/* ---- zip ---- */

struct zip_result {
  enum bh_err rc;
  struct buf out;
  char name[256];
  char error[256];
};

/* Reads a whole archive fed in pieces of chunk bytes (0: random sizes). */
static struct zip_result read_zip(const void *data, size_t len, size_t chunk, uint64_t max)
{
  struct zip_result r = {0};
  struct zip_reader *z;
  assert_int_equal(zip_reader_new(&z, max, buf_sink, &r.out), BH_OK);
  const unsigned char *p = data;
  for (size_t off = 0; off < len && r.rc == BH_OK;) {
    size_t n = chunk ? chunk : rng() % 3000; /* zero-length feeds too */
    if (n > len - off)
      n = len - off;
    r.rc = zip_reader_feed(z, p + off, n);
    off += n;
  }
  if (r.rc == BH_OK)
    r.rc = zip_reader_finish(z);
  if (zip_reader_entry_name(z))
    snprintf(r.name, sizeof r.name, "%s", zip_reader_entry_name(z));
  if (zip_reader_error(z))
    snprintf(r.error, sizeof r.error, "%s", zip_reader_error(z));
  if (r.rc == BH_OK)
    assert_null(zip_reader_error(z));
  else
    assert_non_null(zip_reader_error(z));
  zip_reader_free(z);
  return r;
}

static struct buf make_zip(const char *name, const void *data, size_t len, int64_t mtime)
{
  struct buf out = {0};
  struct zip_writer *z;
  assert_int_equal(zip_writer_new(&z, name, mtime, buf_sink, &out), BH_OK);
  const unsigned char *p = data;
  for (size_t off = 0; off < len;) {
    size_t n = 1 + rng() % 20000;
    if (n > len - off)
      n = len - off;
    assert_int_equal(zip_writer_write(z, p + off, n), BH_OK);
    off += n;
  }
  assert_int_equal(zip_writer_finish(z), BH_OK);
  zip_writer_free(z);
  return out;
}

static void write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static unsigned char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  struct buf b = {0};
  unsigned char tmp[8192];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    assert_int_equal(buf_sink(&b, tmp, n), BH_OK);
  fclose(f);
  *len = b.len;
  return b.p ? b.p : calloc(1, 1);
}

static char work_dir[64];

static const char *work_path(const char *name)
{
  static char path[160];
  snprintf(path, sizeof path, "%s/%s", work_dir, name);
  return path;
}

static void zip_round_trip(void **state)
{
  (void)state;
  size_t len = 200000;
  unsigned char *data = sample(len);
  int64_t mtime = 1700000000; /* 2023-11-14T22:13:20Z */
  struct buf zip = make_zip("Ünïcode model.ifc", data, len, mtime);

  size_t chunks[] = {1, 2, 29, 4096, 0, 0, 0, zip.len};
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    struct zip_result r = read_zip(zip.p, zip.len, chunks[i], 0);
    assert_int_equal(r.rc, BH_OK);
    assert_string_equal(r.name, "Ünïcode model.ifc");
    assert_int_equal(r.out.len, len);
    assert_memory_equal(r.out.p, data, len);
    buf_free(&r.out);
  }
  /* The limit applies to the .ifc entry. */
  struct zip_result r = read_zip(zip.p, zip.len, 0, len - 1);
  assert_int_equal(r.rc, BH_TOOBIG);
  assert_non_null(strstr(r.error, "larger than the limit"));
  buf_free(&r.out);

  /* Other readers: Python's zipfile always, unzip when installed. */
  write_file(work_path("ours.zip"), zip.p, zip.len);
  write_file(work_path("ours.expected"), data, len);
  char cmd[1024], zip_path[160];
  snprintf(zip_path, sizeof zip_path, "%s", work_path("ours.zip"));
  snprintf(cmd, sizeof cmd,
           "python3 -c \"import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); "
           "assert z.testzip() is None, 1; i=z.infolist(); assert len(i)==1, 2; "
           "assert i[0].filename=='\\u00dcn\\u00efcode model.ifc', i[0].filename; "
           "assert i[0].date_time==(2023,11,14,22,13,20), i[0].date_time; "
           "assert z.read(i[0])==open(sys.argv[2],'rb').read(), 3\" %s %s",
           zip_path, work_path("ours.expected"));
  assert_int_equal(system(cmd), 0);
  if (system("command -v unzip >/dev/null 2>&1") == 0) {
    snprintf(cmd, sizeof cmd, "unzip -tq %s >/dev/null", zip_path);
    assert_int_equal(system(cmd), 0);
  }

  /* An empty entry, and a name that is not .ifc. */
  struct buf empty = make_zip("empty.ifc", "", 0, 0);
  r = read_zip(empty.p, empty.len, 1, 0);
  assert_int_equal(r.rc, BH_OK);
  assert_int_equal(r.out.len, 0);
  buf_free(&r.out);
  buf_free(&empty);
  struct buf other = make_zip("model.txt", data, 100, mtime);
  r = read_zip(other.p, other.len, 0, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_string_equal(r.error, "the archive holds no .ifc file");
  buf_free(&r.out);
  buf_free(&other);

  struct zip_writer *zw;
  assert_int_equal(zip_writer_new(&zw, "", 0, buf_sink, &other), BH_BADREQUEST);
  assert_int_equal(zip_writer_new(&zw, "x.ifc", 0, failing_sink, NULL), BH_IO);
  buf_free(&zip);
  free(data);
}

static void zip_truncated_anywhere(void **state)
{
  (void)state;
  unsigned char data[3000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (unsigned char)"IFCWALL"[i % 7];
  struct buf zip = make_zip("m.ifc", data, sizeof data, 1700000000);
  for (size_t cut = 0; cut < zip.len; cut++) {
    /* The end record is not needed: reading stops at the central directory. */
    size_t cd = zip.len - 22 - (46 + 5 + 9);
    struct zip_result r = read_zip(zip.p, cut, cut % 3 + 1, 0);
    if (cut >= cd + 4) {
      assert_int_equal(r.rc, BH_OK);
    } else {
      assert_int_equal(r.rc, BH_BADREQUEST);
      assert_true(strstr(r.error, "truncated") || strstr(r.error, "empty"));
    }
    buf_free(&r.out);
  }
  buf_free(&zip);
}

static void zip_corruption(void **state)
{
  (void)state;
  unsigned char data[5000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (unsigned char)(rng() % 4 + 'a');
  struct buf zip = make_zip("m.ifc", data, sizeof data, 1700000000);
  size_t desc = zip.len - 22 - (46 + 5 + 9) - 16;
  assert_int_equal(zip.p[desc], 'P');
  assert_int_equal(zip.p[desc + 3], 8);

  /* CRC-32 in the descriptor. */
  zip.p[desc + 4] ^= 1;
  struct zip_result r = read_zip(zip.p, zip.len, 0, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_string_equal(r.error, "CRC-32 mismatch in entry m.ifc");
  buf_free(&r.out);
  zip.p[desc + 4] ^= 1;
  /* Sizes in the descriptor. */
  zip.p[desc + 8] ^= 1;
  r = read_zip(zip.p, zip.len, 0, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_non_null(strstr(r.error, "data descriptor does not match"));
  buf_free(&r.out);
  zip.p[desc + 8] ^= 1;

  /* Encrypted (flag bit 0) and an unknown method. */
  zip.p[6] |= 1;
  r = read_zip(zip.p, zip.len, 0, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_non_null(strstr(r.error, "encrypted"));
  buf_free(&r.out);
  zip.p[6] &= (unsigned char)~1u;
  zip.p[8] = 12; /* bzip2 */
  r = read_zip(zip.p, zip.len, 0, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_non_null(strstr(r.error, "method 12"));
  buf_free(&r.out);
  zip.p[8] = 8;

  /* Garbage between the descriptor and the central directory. */
  struct buf g = {0};
  assert_int_equal(buf_sink(&g, zip.p, desc + 16), BH_OK);
  assert_int_equal(buf_sink(&g, "junk", 4), BH_OK);
  assert_int_equal(buf_sink(&g, zip.p + desc + 16, zip.len - desc - 16), BH_OK);
  r = read_zip(g.p, g.len, 0, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_non_null(strstr(r.error, "unexpected data"));
  buf_free(&r.out);
  buf_free(&g);

  /* Not a zip. */
  r = read_zip("ISO-10303-21;\n", 14, 1, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_string_equal(r.error, "not a zip archive");
  r = read_zip("", 0, 1, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_string_equal(r.error, "the archive is empty");

  /* Errors stay. */
  struct zip_reader *z;
  assert_int_equal(zip_reader_new(&z, 0, buf_sink, &r.out), BH_OK);
  assert_int_equal(zip_reader_feed(z, "GARBAGE!", 8), BH_BADREQUEST);
  assert_int_equal(zip_reader_feed(z, zip.p, zip.len), BH_BADREQUEST);
  assert_int_equal(zip_reader_finish(z), BH_BADREQUEST);
  assert_string_equal(zip_reader_error(z), "not a zip archive");
  zip_reader_free(z);

  /* The consumer's error. */
  assert_int_equal(zip_reader_new(&z, 0, failing_sink, NULL), BH_OK);
  assert_int_equal(zip_reader_feed(z, zip.p, zip.len), BH_IO);
  assert_string_equal(zip_reader_error(z), "entry m.ifc was rejected: input/output error");
  zip_reader_free(z);
  buf_free(&zip);
}

/* ---- archives from Python's zipfile ---- */

static const char py_script[] =
    "import io, os, sys, zipfile\n"
    "d = sys.argv[1]\n"
    "model = b'ISO-10303-21;\\nHEADER;\\nENDSEC;\\nDATA;\\n' + b''.join(\n"
    "    b'#%d=IFCCARTESIANPOINT((%d.,%d.,0.));\\n' % (i, i * 3, i * 7) for i in range(1, 20001)\n"
    ") + b'ENDSEC;\\nEND-ISO-10303-21;\\n'\n"
    "open(os.path.join(d, 'model.expected'), 'wb').write(model)\n"
    "junk = bytes((i * 7919) % 251 for i in range(5000))\n"
    "S, D = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED\n"
    "class Unseekable(io.RawIOBase):\n"
    "    def __init__(self, f): self.f = f\n"
    "    def writable(self): return True\n"
    "    def write(self, b): return self.f.write(b)\n"
    "def make(name, entries, stream=False, method=D):\n"
    "    with open(os.path.join(d, name), 'wb') as f:\n"
    "        with zipfile.ZipFile(Unseekable(f) if stream else f, 'w', compression=method) as z:\n"
    "            for n, data, m in entries:\n"
    "                if n.endswith('/'):\n"
    "                    z.writestr(zipfile.ZipInfo(n), b'')\n"
    "                elif m == 'z64':\n"
    "                    with z.open(n, 'w', force_zip64=True) as e:\n"
    "                        e.write(data)\n"
    "                else:\n"
    "                    z.writestr(n, data, compress_type=m)\n"
    "make('stored.zip', [('docs/', b'', S), ('docs/readme.txt', b'read me ' * 100, D),\n"
    "                    ('model.ifc', model, S), ('junk.bin', junk, D)])\n"
    "make('deflated.zip', [('readme.txt', b'hi', S), ('sub/Model.IFC', model, D),\n"
    "                      ('notes.txt', b'n' * 1000, D), ('junk.bin', junk, S)])\n"
    "make('streamed.zip', [('readme.txt', b'read me ' * 100, D), ('model.ifc', model, 'z64'),\n"
    "                      ('junk.bin', junk, D)], stream=True)\n"
    "make('streamed_stored.zip', [('model.ifc', model, S)], stream=True, method=S)\n"
    "make('two.zip', [('a.ifc', b'a', D), ('b/B.IFC', b'b', S)])\n"
    "make('macos.zip', [('model.ifc', model, D), ('__MACOSX/', b'', S),\n"
    "                   ('__MACOSX/._model.ifc', b'apple', S)])\n"
    "make('none.zip', [('readme.txt', b'no model here', D)])\n";

static unsigned char *expected_model;
static size_t expected_len;

static int py_setup(void **state)
{
  (void)state;
  char script[160];
  snprintf(script, sizeof script, "%s", work_path("make_zips.py"));
  write_file(script, py_script, sizeof py_script - 1);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "python3 %s %s", script, work_dir);
  if (system(cmd) != 0)
    return -1;
  expected_model = read_file(work_path("model.expected"), &expected_len);
  return expected_model ? 0 : -1;
}

static int py_teardown(void **state)
{
  (void)state;
  free(expected_model);
  return 0;
}

static struct zip_result read_py(const char *name, size_t chunk)
{
  size_t len;
  unsigned char *zip = read_file(work_path(name), &len);
  assert_non_null(zip);
  struct zip_result r = read_zip(zip, len, chunk, 0);
  free(zip);
  return r;
}

static void check_py_ok(const char *file, const char *entry)
{
  size_t chunks[] = {1, 0, 0, 1 << 20};
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    struct zip_result r = read_py(file, chunks[i]);
    if (r.rc != BH_OK)
      fail_msg("%s: %s", file, r.error);
    assert_string_equal(r.name, entry);
    assert_int_equal(r.out.len, expected_len);
    assert_memory_equal(r.out.p, expected_model, expected_len);
    buf_free(&r.out);
  }
}

static void check_py_fails(const char *file, const char *message_part)
{
  size_t chunks[] = {1, 0};
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    struct zip_result r = read_py(file, chunks[i]);
    assert_int_equal(r.rc, BH_BADREQUEST);
    if (!strstr(r.error, message_part))
      fail_msg("%s: \"%s\" lacks \"%s\"", file, r.error, message_part);
    buf_free(&r.out);
  }
}

static void python_archives(void **state)
{
  (void)state;
  check_py_ok("stored.zip", "model.ifc");
  check_py_ok("deflated.zip", "sub/Model.IFC");
  check_py_ok("streamed.zip", "model.ifc"); /* descriptors, zip64 extra and descriptor */
  check_py_ok("macos.zip", "model.ifc");
  check_py_fails("streamed_stored.zip", "cannot be read as a stream");
  check_py_fails("two.zip", "more than one .ifc file (a.ifc and b/B.IFC)");
  check_py_fails("none.zip", "no .ifc file");
}

static void python_archive_crc_mismatch(void **state)
{
  (void)state;
  size_t len;
  unsigned char *zip = read_file(work_path("stored.zip"), &len);
  assert_non_null(zip);
  unsigned char *model = memmem(zip, len, "#100=", 5);
  assert_non_null(model);
  model[1] = '7';
  struct zip_result r = read_zip(zip, len, 0, 0);
  assert_int_equal(r.rc, BH_BADREQUEST);
  assert_string_equal(r.error, "CRC-32 mismatch in entry model.ifc");
  buf_free(&r.out);
  free(zip);
}

int main(void)
{
  bh_log_set_level("off");
  snprintf(work_dir, sizeof work_dir, "/tmp/bh-codec-test-XXXXXX");
  if (!mkdtemp(work_dir))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gzip_round_trip),
      cmocka_unit_test(zlib_and_raw_round_trip),
      cmocka_unit_test(raw_reports_unused_input),
      cmocka_unit_test(gzip_concatenated_members),
      cmocka_unit_test(corrupt_and_truncated_input),
      cmocka_unit_test(max_output_bounds_a_bomb),
      cmocka_unit_test(zip_round_trip),
      cmocka_unit_test(zip_truncated_anywhere),
      cmocka_unit_test(zip_corruption),
  };
  const struct CMUnitTest py_tests[] = {
      cmocka_unit_test(python_archives),
      cmocka_unit_test(python_archive_crc_mismatch),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("python zipfile", py_tests, py_setup, py_teardown);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", work_dir);
  if (getenv("BH_KEEP"))
    snprintf(cmd, sizeof cmd, "true");
  if (system(cmd) != 0)
    failed++;
  return failed;
}
