/* blob.c: the content-addressed file store. Owns <data_dir>/tmp (files being written, named
 * blob-XXXXXX) and <data_dir>/blobs/<hh>/<hash> (finished, immutable blobs). A writer hashes
 * while it writes, so committing costs one fsync, one rename and one directory fsync; a
 * crash at any point leaves either a finished blob or a temporary file that the next
 * blob_store_open() deletes. The store itself holds only paths, so any thread may use it. */
#include "blob/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bh_log.h"

struct blob_store {
  char *blobs_dir; /* <data_dir>/blobs */
  char *tmp_dir;   /* <data_dir>/tmp */
};

struct blob_writer {
  struct blob_store *bs;
  int fd;
  uint64_t size;
  uint64_t max_bytes;
  enum bh_err failed; /* a write failed: the file is incomplete and must not be committed */
  crypto_hash_sha256_state sha;
  char tmp_path[PATH_MAX];
};

static char *path_join(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + 1 + lb + 1);
  if (!p)
    return NULL;
  memcpy(p, a, la);
  p[la] = '/';
  memcpy(p + la + 1, b, lb + 1);
  return p;
}

static int mkdir_if_missing(const char *path, bool *created)
{
  if (created)
    *created = false;
  if (mkdir(path, 0750) == 0) {
    if (created)
      *created = true;
    return 0;
  }
  if (errno != EEXIST)
    return -1;
  struct stat st;
  if (stat(path, &st) != 0)
    return -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

/* A rename or a new entry is durable only once its directory is fsync'd. */
static int fsync_dir(const char *path)
{
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

static void remove_leftovers(const char *tmp_dir)
{
  DIR *d = opendir(tmp_dir);
  if (!d) {
    BH_LOG(BH_LOG_WARN, BH_C_STORE, "blob: cannot list %s: %s", tmp_dir, strerror(errno));
    return;
  }
  int dfd = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    if (unlinkat(dfd, e->d_name, 0) == 0)
      BH_LOG(BH_LOG_INFO, BH_C_STORE, "blob: removed leftover %s/%s", tmp_dir, e->d_name);
    else
      BH_LOG(BH_LOG_WARN, BH_C_STORE, "blob: cannot remove %s/%s: %s", tmp_dir, e->d_name,
             strerror(errno));
  }
  closedir(d);
}

enum bh_err blob_store_open(struct blob_store **out, const char *data_dir)
{
  *out = NULL;
  if (sodium_init() < 0)
    return BH_INTERNAL;
  struct blob_store *bs = calloc(1, sizeof *bs);
  if (!bs)
    return BH_NOMEM;
  bs->blobs_dir = path_join(data_dir, "blobs");
  bs->tmp_dir = path_join(data_dir, "tmp");
  if (!bs->blobs_dir || !bs->tmp_dir) {
    blob_store_close(bs);
    return BH_NOMEM;
  }
  bool made_blobs = false, made_tmp = false;
  if (mkdir_if_missing(data_dir, NULL) != 0 || mkdir_if_missing(bs->blobs_dir, &made_blobs) != 0 ||
      mkdir_if_missing(bs->tmp_dir, &made_tmp) != 0 ||
      ((made_blobs || made_tmp) && fsync_dir(data_dir) != 0)) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "blob: cannot create directories under %s: %s", data_dir,
           strerror(errno));
    blob_store_close(bs);
    return BH_IO;
  }
  remove_leftovers(bs->tmp_dir);
  *out = bs;
  return BH_OK;
}

void blob_store_close(struct blob_store *bs)
{
  if (!bs)
    return;
  free(bs->blobs_dir);
  free(bs->tmp_dir);
  free(bs);
}

enum bh_err blob_writer_new(struct blob_store *bs, uint64_t max_bytes, struct blob_writer **out)
{
  *out = NULL;
  struct blob_writer *w = calloc(1, sizeof *w);
  if (!w)
    return BH_NOMEM;
  int n = snprintf(w->tmp_path, sizeof w->tmp_path, "%s/blob-XXXXXX", bs->tmp_dir);
  if (n < 0 || (size_t)n >= sizeof w->tmp_path) {
    free(w);
    return BH_INTERNAL;
  }
  w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
  if (w->fd < 0) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "blob: cannot create a file in %s: %s", bs->tmp_dir,
           strerror(errno));
    free(w);
    return BH_IO;
  }
  w->bs = bs;
  w->max_bytes = max_bytes;
  crypto_hash_sha256_init(&w->sha);
  *out = w;
  return BH_OK;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

enum bh_err blob_writer_write(struct blob_writer *w, const void *data, size_t len)
{
  if (w->failed)
    return w->failed;
  if (len == 0)
    return BH_OK;
  if (w->max_bytes > 0 && (len > w->max_bytes || w->size > w->max_bytes - len))
    return w->failed = BH_TOOBIG;
  if (write_all(w->fd, data, len) != 0) {
    BH_LOG(BH_LOG_ERROR, BH_C_STORE, "blob: write to %s: %s", w->tmp_path, strerror(errno));
    return w->failed = BH_IO;
  }
  crypto_hash_sha256_update(&w->sha, data, len);
  w->size += len;
  return BH_OK;
}

uint64_t blob_writer_size(const struct blob_writer *w)
{
  return w->size;
}

static void writer_free(struct blob_writer *w, bool unlink_tmp)
{
  if (w->fd >= 0)
    close(w->fd);
  if (unlink_tmp && unlink(w->tmp_path) != 0 && errno != ENOENT)
    BH_LOG(BH_LOG_WARN, BH_C_STORE, "blob: cannot remove %s: %s", w->tmp_path, strerror(errno));
  free(w);
}

enum bh_err blob_writer_commit(struct blob_writer *w, char hash[BLOB_HASH_HEX], uint64_t *size)
{
  if (w->failed) {
    enum bh_err rc = w->failed;
    writer_free(w, true);
    return rc;
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&w->sha, digest);
  char hex[BLOB_HASH_HEX];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  uint64_t len = w->size;

  const char *blobs = w->bs->blobs_dir;
  char fan_dir[PATH_MAX], target[PATH_MAX];
  int n1 = snprintf(fan_dir, sizeof fan_dir, "%s/%.2s", blobs, hex);
  int n2 = snprintf(target, sizeof target, "%s/%s", fan_dir, hex);
  if (n1 < 0 || (size_t)n1 >= sizeof fan_dir || n2 < 0 || (size_t)n2 >= sizeof target) {
    writer_free(w, true);
    return BH_INTERNAL;
  }

  bool created = false;
  if (mkdir_if_missing(fan_dir, &created) != 0)
    goto fail_io;
  /* A blob is renamed into place only after its fsync, so an existing one is complete:
   * the same content needs neither a second fsync nor a rename. */
  struct stat st;
  if (stat(target, &st) == 0 && S_ISREG(st.st_mode)) {
    writer_free(w, true);
  } else {
    if (fsync(w->fd) != 0 || rename(w->tmp_path, target) != 0)
      goto fail_io;
    writer_free(w, false);
    /* Two writers of the same content may both rename; the second replaces an identical
     * file, which is harmless. */
    if (fsync_dir(fan_dir) != 0 || (created && fsync_dir(blobs) != 0)) {
      BH_LOG(BH_LOG_ERROR, BH_C_STORE, "blob: fsync of %s: %s", fan_dir, strerror(errno));
      return BH_IO;
    }
  }
  memcpy(hash, hex, BLOB_HASH_HEX);
  if (size)
    *size = len;
  return BH_OK;

fail_io:
  BH_LOG(BH_LOG_ERROR, BH_C_STORE, "blob: commit of %s as %s: %s", w->tmp_path, hex,
         strerror(errno));
  writer_free(w, true);
  return BH_IO;
}

void blob_writer_abort(struct blob_writer *w)
{
  if (w)
    writer_free(w, true);
}

bool blob_hash_valid(const char *hash)
{
  if (!hash)
    return false;
  size_t i = 0;
  for (; hash[i]; i++) {
    char c = hash[i];
    if (i >= BLOB_HASH_HEX - 1 || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return i == BLOB_HASH_HEX - 1;
}

int blob_open(struct blob_store *bs, const char *hash, uint64_t *size)
{
  if (!blob_hash_valid(hash)) {
    errno = EINVAL;
    return -1;
  }
  char path[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/%.2s/%s", bs->blobs_dir, hash, hash);
  if (n < 0 || (size_t)n >= sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  if (size)
    *size = (uint64_t)st.st_size;
  return fd;
}
