/* fuzz_ifc.c: libFuzzer target for the streaming IFC reader (src/ifc/ifc_reader.c).
 * The input is fed in two pieces split at data[0] % size, then finished; the result must
 * not depend on the split, so the same input is also fed whole and the two runs compared.
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_ifc.c src/ifc/ifc_reader.c
 *        src/common/bh_err.c; seeds in fuzz/corpus/ifc/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifc/ifc_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum bh_err run(struct ifc_reader *r, const uint8_t *data, size_t size, size_t split)
{
  enum bh_err rc = ifc_reader_feed(r, data, split);
  if (rc == BH_OK)
    rc = ifc_reader_feed(r, data + split, size - split);
  if (rc == BH_OK)
    rc = ifc_reader_finish(r);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct ifc_reader_limits lim = {.max_record_bytes = 4096,
                                  .max_header_bytes = 4096,
                                  .max_types = 64,
                                  .max_dup_check_id = 1u << 16};
  struct ifc_reader *a = ifc_reader_new(&lim);
  struct ifc_reader *b = ifc_reader_new(&lim);
  if (!a || !b) {
    ifc_reader_free(a);
    ifc_reader_free(b);
    return 0;
  }
  size_t split = size ? data[0] % size : 0;
  enum bh_err ra = run(a, data, size, split);
  enum bh_err rb = run(b, data, size, 0);
  if (ra != rb || ifc_reader_entity_count(a) != ifc_reader_entity_count(b))
    abort();
  const struct ifc_reader_error *ea = ifc_reader_error(a), *eb = ifc_reader_error(b);
  if ((ea == NULL) != (eb == NULL))
    abort();
  if (ea && (ea->code != eb->code || ea->line != eb->line || ea->offset != eb->offset ||
             strcmp(ea->message, eb->message) != 0 || ea->offset > size))
    abort();
  if (!ea) {
    const struct ifc_header *h = ifc_reader_header(a);
    for (size_t i = 0; i < h->n_schemas; i++)
      (void)ifc_schema_normalize(h->schemas[i]);
    const struct ifc_type_count *t;
    size_t n;
    uint64_t sum = 0;
    if (ifc_reader_types(a, &t, &n) == BH_OK)
      for (size_t i = 0; i < n; i++)
        sum += t[i].count;
    if (sum < ifc_reader_entity_count(a))
      abort();
  }
  ifc_reader_free(a);
  ifc_reader_free(b);
  return 0;
}
