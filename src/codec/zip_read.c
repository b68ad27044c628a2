/* zip_read.c: the ifcZIP upload reader. Owns a state machine over the archive read front
 * to back: local file header, name and extra field, entry data, optional data descriptor,
 * and so on until the central directory, whose bytes are then ignored. The .ifc entry goes
 * to the caller's sink (inflated when method 8) and its CRC-32 and sizes are checked; other
 * entries are passed over, counting bytes when their size is known and otherwise inflating
 * into nothing to find where they end. Memory: one header buffer (at most 30 + 64 KiB name
 * + 64 KiB extra, as the 16-bit length fields allow) and one inflater at a time.
 *
 * Not read: the central directory (the upload is a stream; zip files whose local headers
 * lie, such as those with central-directory encryption, are refused), multi-disk archives,
 * entries stored (method 0) with a data descriptor and no size in their local header. */
#include "codec/zip_read.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_DESC 0x08074b50u
#define SIG_SPAN_ONE 0x30304b50u /* "PK00": a spanned archive that fits on one disk */

#define LOCAL_FIXED 26 /* local header after its signature */
#define FLAG_ENCRYPTED 0x0001u
#define FLAG_DESCRIPTOR 0x0008u
#define FLAG_CD_ENCRYPTED 0x2000u
#define SIZE_MAX32 0xffffffffu
#define SHOWN_MAX 64
#define HB_MIN 64 /* holds every fixed-size record */

enum zstate {
  ZS_SIG,        /* 4-byte record signature */
  ZS_LOCAL,      /* fixed part of a local header */
  ZS_NAME_EXTRA, /* file name and extra field */
  ZS_STORED,     /* data of a stored entry (or of any entry of known size being skipped) */
  ZS_DEFLATED,   /* data of a deflated entry, self-delimiting */
  ZS_DESC,       /* data descriptor */
  ZS_CENTRAL,    /* central directory reached: the rest is ignored */
  ZS_FAILED,
};

struct zip_reader {
  enum zstate state;
  enum bh_err err;
  uint64_t max_output;
  inflate_sink sink;
  void *arg;
  uint64_t offset; /* bytes of the archive consumed, for messages */

  /* Header bytes collected across feeds. */
  unsigned char *hb;
  size_t hb_cap, hb_have, hb_need;

  /* The current entry. */
  uint16_t flags, method, name_len, extra_len;
  uint32_t hdr_crc;
  uint64_t hdr_csize, hdr_usize;
  bool has_zip64_extra;
  bool is_ifc;           /* this entry's bytes go to the sink */
  bool size_unknown;     /* stored, descriptor, no size in the local header: must be empty */
  bool sink_failed;      /* the error came from the caller's sink */
  char *entry;           /* current entry's name, NUL-terminated */
  uint64_t left;         /* ZS_STORED: bytes still to pass */
  uint64_t csize, usize; /* counted compressed and uncompressed bytes */
  uint32_t crc;
  struct inflate_stream *inf;

  char *ifc_name; /* the .ifc entry, once seen */
  char shown[SHOWN_MAX];
  char msg[256];
};

static uint16_t le16(const unsigned char *p)
{
  return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
  return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static enum bh_err fail(struct zip_reader *z, enum bh_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum bh_err fail(struct zip_reader *z, enum bh_err code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(z->msg, sizeof z->msg, fmt, ap);
  va_end(ap);
  z->state = ZS_FAILED;
  z->err = code;
  return code;
}

/* Entry names are bytes from the client (UTF-8 or CP437, unchecked): messages show them
 * shortened and with anything but printable ASCII replaced, so a message is always safe to
 * put in a JSON reply. */
static const char *shown(char out[SHOWN_MAX], const char *name)
{
  size_t i = 0;
  for (; name && name[i] && i < SHOWN_MAX - 4; i++) {
    unsigned char c = (unsigned char)name[i];
    out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  if (name && name[i]) {
    memcpy(out + i, "...", 3);
    i += 3;
  }
  out[i] = '\0';
  return out;
}

static const char *short_name(struct zip_reader *z)
{
  return shown(z->shown, z->entry ? z->entry : "?");
}

enum bh_err zip_reader_new(struct zip_reader **out, uint64_t max_output, inflate_sink sink,
                           void *arg)
{
  *out = NULL;
  struct zip_reader *z = calloc(1, sizeof *z);
  if (!z)
    return BH_NOMEM;
  z->max_output = max_output;
  z->sink = sink;
  z->arg = arg;
  z->hb = malloc(HB_MIN);
  if (!z->hb) {
    free(z);
    return BH_NOMEM;
  }
  z->hb_cap = HB_MIN;
  z->state = ZS_SIG;
  z->hb_need = 4;
  *out = z;
  return BH_OK;
}

/* Collects bytes into hb until hb_need are there. Returns how many of data it took. */
static size_t collect(struct zip_reader *z, const unsigned char *data, size_t len)
{
  size_t n = z->hb_need - z->hb_have;
  if (n > len)
    n = len;
  memcpy(z->hb + z->hb_have, data, n);
  z->hb_have += n;
  return n;
}

static enum bh_err expect(struct zip_reader *z, enum zstate st, size_t need)
{
  if (need > z->hb_cap) {
    unsigned char *p = realloc(z->hb, need);
    if (!p)
      return fail(z, BH_NOMEM, "out of memory");
    z->hb = p;
    z->hb_cap = need;
  }
  z->state = st;
  z->hb_have = 0;
  z->hb_need = need;
  return BH_OK;
}

static bool name_is_ifc(const char *name, size_t len)
{
  if (len < 4 || name[len - 1] == '/')
    return false;
  const char *ext = name + len - 4;
  if (!(ext[0] == '.' && (ext[1] | 0x20) == 'i' && (ext[2] | 0x20) == 'f' &&
        (ext[3] | 0x20) == 'c'))
    return false;
  /* macOS adds AppleDouble companions ("__MACOSX/x/._model.ifc") that are not models. */
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  if (strncmp(name, "__MACOSX/", 9) == 0 || strncmp(base, "._", 2) == 0)
    return false;
  return true;
}

/* The sink of the current entry's uncompressed bytes: counted, checksummed, and passed on
 * for the .ifc entry. */
static enum bh_err entry_out(void *arg, const void *data, size_t len)
{
  struct zip_reader *z = arg;
  if (z->max_output > 0 && (len > z->max_output || z->usize > z->max_output - len))
    return BH_TOOBIG;
  z->usize += len;
  z->crc = (uint32_t)crc32_z(z->crc, data, len);
  if (!z->is_ifc || !z->sink)
    return BH_OK;
  enum bh_err rc = z->sink(z->arg, data, len);
  if (rc)
    z->sink_failed = true;
  return rc;
}

static enum bh_err entry_fail(struct zip_reader *z, enum bh_err rc)
{
  /* The consumer's own error keeps its code; it knows better what went wrong. */
  if (z->sink_failed)
    return fail(z, rc, "entry %s was rejected: %s", short_name(z), bh_err_text(rc));
  switch (rc) {
  case BH_TOOBIG:
    return fail(z, rc, "entry %s is larger than the limit of %llu bytes", short_name(z),
                (unsigned long long)z->max_output);
  case BH_BADREQUEST:
    return fail(z, rc, "entry %s: corrupt deflate data", short_name(z));
  case BH_NOMEM:
    return fail(z, rc, "out of memory");
  default:
    return fail(z, rc, "entry %s could not be read", short_name(z));
  }
}

/* The extra field: only the zip64 record (id 1) matters; it holds the 8-byte sizes of
 * the fields the fixed header marks with 0xFFFFFFFF, uncompressed size first. */
static enum bh_err parse_extra(struct zip_reader *z, const unsigned char *p, size_t len)
{
  while (len >= 4) {
    uint16_t id = le16(p), n = le16(p + 2);
    p += 4;
    len -= 4;
    if (n > len)
      break; /* some writers pad the extra field; a torn last record is ignored */
    if (id == 0x0001) {
      z->has_zip64_extra = true;
      const unsigned char *q = p;
      size_t qn = n;
      /* APPNOTE 4.5.3: in a local header both sizes must be present. */
      bool both = n >= 16;
      if (z->hdr_usize == SIZE_MAX32 || both) {
        if (qn < 8)
          return fail(z, BH_BADREQUEST, "entry %s: short zip64 extra field", short_name(z));
        if (z->hdr_usize == SIZE_MAX32)
          z->hdr_usize = le64(q);
        q += 8;
        qn -= 8;
      }
      if (z->hdr_csize == SIZE_MAX32 || both) {
        if (qn < 8)
          return fail(z, BH_BADREQUEST, "entry %s: short zip64 extra field", short_name(z));
        if (z->hdr_csize == SIZE_MAX32)
          z->hdr_csize = le64(q);
      }
    }
    p += n;
    len -= n;
  }
  return BH_OK;
}

static enum bh_err begin_entry(struct zip_reader *z)
{
  const unsigned char *h = z->hb;
  z->flags = le16(h + 2);
  z->method = le16(h + 4);
  z->hdr_crc = le32(h + 10);
  z->hdr_csize = le32(h + 14);
  z->hdr_usize = le32(h + 18);
  z->name_len = le16(h + 22);
  z->extra_len = le16(h + 24);
  z->has_zip64_extra = false;
  return expect(z, ZS_NAME_EXTRA, (size_t)z->name_len + z->extra_len);
}

static enum bh_err start_data(struct zip_reader *z)
{
  free(z->entry);
  z->entry = malloc((size_t)z->name_len + 1);
  if (!z->entry)
    return fail(z, BH_NOMEM, "out of memory");
  memcpy(z->entry, z->hb, z->name_len);
  z->entry[z->name_len] = '\0';
  if (memchr(z->entry, '\0', z->name_len))
    return fail(z, BH_BADREQUEST, "an entry name contains a NUL byte");
  enum bh_err rc = parse_extra(z, z->hb + z->name_len, z->extra_len);
  if (rc)
    return rc;

  bool has_desc = z->flags & FLAG_DESCRIPTOR;
  if (z->flags & (FLAG_ENCRYPTED | FLAG_CD_ENCRYPTED))
    return fail(z, BH_BADREQUEST, "entry %s is encrypted; encrypted archives are not supported",
                short_name(z));
  z->is_ifc = name_is_ifc(z->entry, z->name_len);
  if (z->is_ifc) {
    if (z->ifc_name) {
      char first[SHOWN_MAX];
      return fail(z, BH_BADREQUEST, "the archive holds more than one .ifc file (%s and %s)",
                  shown(first, z->ifc_name), short_name(z));
    }
    if (z->method != 0 && z->method != 8)
      return fail(z, BH_BADREQUEST,
                  "entry %s uses compression method %u; only stored (0) and deflate (8) are "
                  "supported",
                  short_name(z), z->method);
    z->ifc_name = strdup(z->entry);
    if (!z->ifc_name)
      return fail(z, BH_NOMEM, "out of memory");
  }
  z->csize = z->usize = 0;
  z->crc = 0;
  z->size_unknown = false;

  if (z->method == 8 && (z->is_ifc || has_desc)) {
    rc = inflate_stream_new(&z->inf, INFLATE_RAW, 0, entry_out, z);
    if (rc)
      return fail(z, rc, "out of memory");
    z->state = ZS_DEFLATED;
    return BH_OK;
  }
  if (has_desc && z->hdr_csize == 0 && z->hdr_usize == 0) {
    if (z->method != 0)
      return fail(z, BH_BADREQUEST,
                  "entry %s (method %u) has no size in its local header and cannot be "
                  "skipped",
                  short_name(z), z->method);
    /* A stored entry whose size only its descriptor knows can be followed only when it is
     * empty (directories written by some tools): the descriptor must come next. */
    z->size_unknown = true;
  } else if ((z->hdr_csize == SIZE_MAX32 || z->hdr_usize == SIZE_MAX32) && !z->has_zip64_extra) {
    return fail(z, BH_BADREQUEST, "entry %s has zip64 sizes without a zip64 extra field",
                short_name(z));
  }
  if (z->is_ifc && z->method == 0 && !z->size_unknown && z->hdr_csize != z->hdr_usize && !has_desc)
    return fail(z, BH_BADREQUEST, "stored entry %s has different sizes", short_name(z));
  z->left = z->size_unknown ? 0 : z->hdr_csize;
  z->state = ZS_STORED;
  return BH_OK;
}

/* The entry's data ended: check it, or read its descriptor. */
static enum bh_err end_data(struct zip_reader *z)
{
  inflate_stream_free(z->inf);
  z->inf = NULL;
  if (z->flags & FLAG_DESCRIPTOR)
    return expect(z, ZS_DESC, 8);
  if (z->is_ifc) {
    if (z->crc != z->hdr_crc)
      return fail(z, BH_BADREQUEST, "CRC-32 mismatch in entry %s", short_name(z));
    if (z->usize != z->hdr_usize)
      return fail(z, BH_BADREQUEST, "entry %s: size does not match its header", short_name(z));
  }
  if (z->method == 8 && z->is_ifc && z->csize != z->hdr_csize)
    return fail(z, BH_BADREQUEST, "entry %s: compressed size does not match its header",
                short_name(z));
  return expect(z, ZS_SIG, 4);
}

/* Data descriptor: [signature] CRC-32, compressed size, uncompressed size; sizes take 8
 * bytes when the local header had a zip64 extra field or when they do not fit in 4 (what
 * Java and Go write). The signature is optional, so the first 8 bytes decide. */
static enum bh_err on_desc(struct zip_reader *z)
{
  const unsigned char *d = z->hb;
  uint32_t crc = z->crc;
  bool wide = z->has_zip64_extra || z->csize >= SIZE_MAX32 || z->usize >= SIZE_MAX32;
  size_t w = wide ? 8 : 4;
  if (z->hb_need == 8) {
    bool has_sig = le32(d) == SIG_DESC;
    if (has_sig && crc == SIG_DESC && le32(d + 4) != crc)
      has_sig = false;                          /* no signature; the CRC merely equals it */
    z->hb_need = (has_sig ? 4 : 0) + 4 + 2 * w; /* keeps the 8 bytes read; fits HB_MIN */
    return BH_OK;
  }
  size_t off = z->hb_need - (4 + 2 * w);
  uint32_t dcrc = le32(d + off);
  uint64_t dcsize = wide ? le64(d + off + 4) : le32(d + off + 4);
  uint64_t dusize = wide ? le64(d + off + 4 + w) : le32(d + off + 8);
  if (z->size_unknown) {
    if (dcrc != 0 || dcsize != 0 || dusize != 0)
      return fail(z, BH_BADREQUEST,
                  "stored entry %s has a data descriptor and no size in its local header; "
                  "such entries cannot be read as a stream (deflate it, or store it with its "
                  "size)",
                  short_name(z));
  } else {
    if (z->is_ifc && dcrc != crc)
      return fail(z, BH_BADREQUEST, "CRC-32 mismatch in entry %s", short_name(z));
    if (dcsize != z->csize || dusize != z->usize)
      return fail(z, BH_BADREQUEST, "entry %s: the data descriptor does not match its data",
                  short_name(z));
  }
  return expect(z, ZS_SIG, 4);
}

static enum bh_err on_sig(struct zip_reader *z)
{
  uint32_t sig = le32(z->hb);
  switch (sig) {
  case SIG_LOCAL:
    return expect(z, ZS_LOCAL, LOCAL_FIXED);
  case SIG_CENTRAL:
  case SIG_END:
  case SIG_END64:
    z->state = ZS_CENTRAL;
    return BH_OK;
  case SIG_DESC:
  case SIG_SPAN_ONE:
    if (z->offset == 4) /* spanning marker at the very start */
      return expect(z, ZS_SIG, 4);
    break;
  default:
    break;
  }
  if (z->offset == 4)
    return fail(z, BH_BADREQUEST, "not a zip archive");
  return fail(z, BH_BADREQUEST, "unexpected data after entry %s (offset %llu)", short_name(z),
              (unsigned long long)(z->offset - 4));
}

static enum bh_err feed(struct zip_reader *z, const unsigned char *p, size_t len)
{
  while (len > 0) {
    enum bh_err rc = BH_OK;
    size_t n = 0;
    switch (z->state) {
    case ZS_SIG:
    case ZS_LOCAL:
    case ZS_NAME_EXTRA:
    case ZS_DESC:
      n = collect(z, p, len);
      break;
    case ZS_STORED:
      n = len < z->left ? len : (size_t)z->left;
      if (n == 0)
        break;
      if (z->is_ifc) {
        rc = entry_out(z, p, n);
        if (rc)
          return entry_fail(z, rc);
      } else {
        /* Not limited (the upload limit bounds it) and not passed on; the CRC only helps
         * to tell a data descriptor's signature from its CRC. */
        z->crc = (uint32_t)crc32_z(z->crc, p, n);
        z->usize += n;
      }
      z->csize += n;
      z->left -= n;
      break;
    case ZS_DEFLATED:
      rc = inflate_stream_feed(z->inf, p, len);
      if (rc)
        return entry_fail(z, rc);
      n = len - inflate_stream_unused(z->inf);
      z->csize += n;
      break;
    case ZS_CENTRAL:
      z->offset += len;
      return BH_OK; /* the central directory repeats what the local headers said */
    case ZS_FAILED:
      return z->err;
    }
    p += n;
    len -= n;
    z->offset += n;

    switch (z->state) {
    case ZS_SIG:
      if (z->hb_have == z->hb_need)
        rc = on_sig(z);
      break;
    case ZS_LOCAL:
      if (z->hb_have == z->hb_need)
        rc = begin_entry(z);
      break;
    case ZS_NAME_EXTRA:
      if (z->hb_have == z->hb_need)
        rc = start_data(z);
      break;
    case ZS_DESC:
      if (z->hb_have == z->hb_need)
        rc = on_desc(z);
      break;
    case ZS_STORED:
      if (z->left == 0)
        rc = end_data(z);
      break;
    case ZS_DEFLATED:
      if (inflate_stream_is_done(z->inf))
        rc = end_data(z);
      break;
    default:
      break;
    }
    if (rc)
      return rc;
  }
  /* An entry can end without any byte after its header (an empty stored file). */
  if (z->state == ZS_STORED && z->left == 0)
    return end_data(z);
  return BH_OK;
}

enum bh_err zip_reader_feed(struct zip_reader *z, const void *data, size_t len)
{
  if (z->state == ZS_FAILED)
    return z->err;
  return feed(z, data, len);
}

enum bh_err zip_reader_finish(struct zip_reader *z)
{
  if (z->state == ZS_FAILED)
    return z->err;
  if (z->state == ZS_STORED && z->left == 0) {
    enum bh_err rc = end_data(z);
    if (rc)
      return rc;
  }
  if (z->state != ZS_CENTRAL) {
    if (z->offset == 0)
      return fail(z, BH_BADREQUEST, "the archive is empty");
    if (z->entry)
      return fail(z, BH_BADREQUEST, "the archive is truncated (in or after entry %s)",
                  short_name(z));
    return fail(z, BH_BADREQUEST, "the archive is truncated");
  }
  if (!z->ifc_name)
    return fail(z, BH_BADREQUEST, "the archive holds no .ifc file");
  return BH_OK;
}

const char *zip_reader_error(const struct zip_reader *z)
{
  return z->msg[0] ? z->msg : NULL;
}

const char *zip_reader_entry_name(const struct zip_reader *z)
{
  return z->ifc_name;
}

void zip_reader_free(struct zip_reader *z)
{
  if (!z)
    return;
  inflate_stream_free(z->inf);
  free(z->hb);
  free(z->entry);
  free(z->ifc_name);
  free(z);
}
