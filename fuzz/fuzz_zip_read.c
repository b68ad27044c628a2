/* fuzz_zip_read.c: libFuzzer target for the streaming zip reader (src/codec/zip_read.c).
 * The input is fed in two pieces split at data[0] % size, then finished; the result must
 * not depend on the split, so the same input is also fed whole and the two runs compared
 * (code, output size and checksum, entry name). The output limit keeps bombs cheap.
 * Build: clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc fuzz/fuzz_zip_read.c
 *        src/codec/zip_read.c src/codec/inflate_stream.c src/common/bh_err.c -lz;
 *        seeds in fuzz/corpus/zip_read/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/zip_read.h"

#define MAX_OUTPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
  uint64_t len;
  uint32_t crc;
};

static enum bh_err sink(void *arg, const void *p, size_t len)
{
  struct seen *s = arg;
  if (len == 0 || len > MAX_OUTPUT)
    abort(); /* the reader passes non-empty pieces within its limit */
  s->len += len;
  s->crc = (uint32_t)crc32_z(s->crc, p, len);
  return BH_OK;
}

static enum bh_err run(struct zip_reader *z, const uint8_t *data, size_t size, size_t split)
{
  enum bh_err rc = zip_reader_feed(z, data, split);
  if (rc == BH_OK)
    rc = zip_reader_feed(z, data + split, size - split);
  if (rc == BH_OK)
    rc = zip_reader_finish(z);
  return rc;
}

static int same_name(const char *a, const char *b)
{
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct seen sa = {0}, sb = {0};
  struct zip_reader *a, *b;
  if (zip_reader_new(&a, MAX_OUTPUT, sink, &sa) != BH_OK)
    return 0;
  if (zip_reader_new(&b, MAX_OUTPUT, sink, &sb) != BH_OK) {
    zip_reader_free(a);
    return 0;
  }
  size_t split = size ? data[0] % size : 0;
  enum bh_err ra = run(a, data, size, split);
  enum bh_err rb = run(b, data, size, size);
  if (ra != rb || sa.len != sb.len || sa.crc != sb.crc ||
      !same_name(zip_reader_entry_name(a), zip_reader_entry_name(b)))
    abort();
  if (sa.len > MAX_OUTPUT)
    abort();
  /* Every failure says why; success says nothing. */
  if ((ra != BH_OK) != (zip_reader_error(a) != NULL))
    abort();
  if (ra == BH_OK && !zip_reader_entry_name(a))
    abort();
  zip_reader_free(a);
  zip_reader_free(b);
  return 0;
}
