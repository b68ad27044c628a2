/* zip_read.h: a streaming reader of an ifcZIP upload: a zip archive read front to back
 * (local file headers, never the central directory, so nothing is buffered), yielding the
 * bytes of its one .ifc entry (stored or deflated; data descriptors allowed). Other entries
 * are skipped; a second .ifc entry, encryption, zip64 sizes it cannot follow, or a broken
 * archive are errors with a message. Bounded memory. */
#ifndef BH_ZIP_READ_H
#define BH_ZIP_READ_H

#include <stddef.h>
#include <stdint.h>

#include "codec/inflate_stream.h"
#include "common/bh_err.h"

struct zip_reader;

/* sink gets the uncompressed bytes of the .ifc entry; max_output bounds them and also the
 * inflated size of any deflated entry skipped by inflating it (0: no limit). An entry
 * counts as .ifc when its name ends in ".ifc" (any case), except macOS AppleDouble files
 * ("__MACOSX/...", "._*"). Errors are sticky and have a message. */
enum bh_err zip_reader_new(struct zip_reader **out, uint64_t max_output, inflate_sink sink,
                           void *arg);
enum bh_err zip_reader_feed(struct zip_reader *z, const void *data, size_t len);
/* End of input: BH_BADREQUEST when no .ifc entry was found or the archive is truncated. */
enum bh_err zip_reader_finish(struct zip_reader *z);
/* The reason of the last error, for the client (printable ASCII), or NULL. */
const char *zip_reader_error(const struct zip_reader *z);
/* Name of the .ifc entry once seen, else NULL: the archive's bytes (UTF-8 or CP437, not
 * validated; no NUL). */
const char *zip_reader_entry_name(const struct zip_reader *z);
void zip_reader_free(struct zip_reader *z);

#endif
