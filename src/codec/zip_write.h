/* zip_write.h: writes a zip archive of one entry as a stream (for /download?zip=on and the
 * ifcZIP serializer): local header with a data descriptor, the entry deflated on the fly,
 * the descriptor (CRC-32 and sizes), the central directory and its end record; zip64
 * records when the entry passes 4 GiB. The output goes to a sink as it is made. */
#ifndef BH_ZIP_WRITE_H
#define BH_ZIP_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "codec/inflate_stream.h"
#include "common/bh_err.h"

struct zip_writer;

/* name: the entry's file name (UTF-8, 1..65535 bytes, else BH_BADREQUEST). mtime_unix: its
 * modification time. The local header goes to the sink before this returns; errors from
 * the sink are returned and are sticky. On BH_OK *out is owned by the caller. */
enum bh_err zip_writer_new(struct zip_writer **out, const char *name, int64_t mtime_unix,
                           inflate_sink sink, void *arg);
enum bh_err zip_writer_write(struct zip_writer *z, const void *data, size_t len);
/* Writes the rest of the archive. */
enum bh_err zip_writer_finish(struct zip_writer *z);
void zip_writer_free(struct zip_writer *z);

#endif
