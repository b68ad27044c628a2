/* blob.h: the content-addressed file store under <data_dir>/blobs. A blob is written to a
 * temporary file under <data_dir>/tmp while it is hashed (SHA-256) and counted, then
 * fsync'd and renamed to blobs/<hh>/<hash> (and the directory fsync'd), so a crash leaves
 * either a complete blob or a temporary file that blob_store_open() removes. Blobs are
 * immutable; the same content is stored once.
 *
 * Threads: a store may be used from any thread; one writer belongs to one thread at a
 * time. Nothing here runs on the network threads (callers are workers). */
#ifndef BH_BLOB_H
#define BH_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

#define BLOB_HASH_HEX 65 /* 64 hex digits and a NUL */

struct blob_store;
struct blob_writer;

/* Creates <data_dir> (not its parents), <data_dir>/blobs and <data_dir>/tmp if missing and
 * removes every leftover file in tmp (a crash mid-write). So open one store per data_dir,
 * at start-up, before any writer on it exists. BH_IO when a directory cannot be made.
 * On BH_OK *out is owned by the caller (blob_store_close, after every writer is done). */
enum bh_err blob_store_open(struct blob_store **out, const char *data_dir);
void blob_store_close(struct blob_store *bs);

/* A new temporary file. max_bytes > 0 makes blob_writer_write() fail with BH_TOOBIG past
 * it. A failed write (BH_TOOBIG, BH_IO) is sticky: commit then returns it and stores
 * nothing. */
enum bh_err blob_writer_new(struct blob_store *bs, uint64_t max_bytes, struct blob_writer **out);
enum bh_err blob_writer_write(struct blob_writer *w, const void *data, size_t len);
uint64_t blob_writer_size(const struct blob_writer *w);
/* fsync, rename into place (or drop the copy when the blob exists), fsync the directory.
 * Fills hash and size (may be NULL) on BH_OK; frees w in every case. */
enum bh_err blob_writer_commit(struct blob_writer *w, char hash[BLOB_HASH_HEX], uint64_t *size);
/* Removes the temporary file and frees w. NULL-safe. */
void blob_writer_abort(struct blob_writer *w);

/* Opens a blob for reading: returns an O_RDONLY|O_CLOEXEC file descriptor the caller
 * closes, or -1 (errno set; ENOENT for an unknown hash, EINVAL for an invalid one). size
 * (may be NULL) gets its length. */
int blob_open(struct blob_store *bs, const char *hash, uint64_t *size);
/* Whether hash is 64 lower-case hex digits (never trust one from outside before this). */
bool blob_hash_valid(const char *hash);

#endif
