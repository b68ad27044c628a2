/* blob_test.c: the content-addressed store in a fresh directory under /tmp per test:
 * commit and read back, deduplication, abort, size limit, crash leftovers, hash checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "common/bh_log.h"

#define HELLO_SHA256 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct fixture {
  char dir[64];
  char path[256];
  struct blob_store *bs;
};

static int setup(void **state)
{
  struct fixture *f = calloc(1, sizeof *f);
  if (!f)
    return -1;
  strcpy(f->dir, "/tmp/bh-blob-test-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  if (blob_store_open(&f->bs, f->dir) != BH_OK)
    return -1;
  *state = f;
  return 0;
}

static void remove_tree(const char *path)
{
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char sub[512];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      remove_tree(sub);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  blob_store_close(f->bs);
  remove_tree(f->dir);
  free(f);
  return 0;
}

/* Regular files under path, recursively. */
static int count_files(const char *path)
{
  DIR *d = opendir(path);
  if (!d)
    return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char sub[512];
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    struct stat st;
    if (lstat(sub, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode))
      n += count_files(sub);
    else if (S_ISREG(st.st_mode))
      n++;
  }
  closedir(d);
  return n;
}

static const char *sub(struct fixture *f, const char *name)
{
  snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
  return f->path;
}

static void store(struct fixture *f, const void *data, size_t len, char hash[BLOB_HASH_HEX])
{
  struct blob_writer *w;
  assert_int_equal(blob_writer_new(f->bs, 0, &w), BH_OK);
  assert_int_equal(blob_writer_write(w, data, len), BH_OK);
  assert_int_equal(blob_writer_size(w), len);
  uint64_t size = 0;
  assert_int_equal(blob_writer_commit(w, hash, &size), BH_OK);
  assert_int_equal(size, len);
}

static void commit_then_read_back(void **state)
{
  struct fixture *f = *state;
  char hash[BLOB_HASH_HEX];
  store(f, "hello", 5, hash);
  assert_string_equal(hash, HELLO_SHA256);
  struct stat st;
  assert_int_equal(stat(sub(f, "blobs/2c/" HELLO_SHA256), &st), 0);
  assert_int_equal(count_files(sub(f, "tmp")), 0);

  uint64_t size = 0;
  int fd = blob_open(f->bs, hash, &size);
  assert_true(fd >= 0);
  assert_int_equal(size, 5);
  assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  char buf[16];
  assert_int_equal(read(fd, buf, sizeof buf), 5);
  assert_memory_equal(buf, "hello", 5);
  assert_int_equal(write(fd, "x", 1), -1); /* read-only */
  close(fd);
}

static void empty_blob(void **state)
{
  struct fixture *f = *state;
  struct blob_writer *w;
  assert_int_equal(blob_writer_new(f->bs, 0, &w), BH_OK);
  char hash[BLOB_HASH_HEX];
  uint64_t size = 1;
  assert_int_equal(blob_writer_commit(w, hash, &size), BH_OK);
  assert_string_equal(hash, EMPTY_SHA256);
  assert_int_equal(size, 0);
}

static void large_blob_in_pieces(void **state)
{
  struct fixture *f = *state;
  size_t len = 3 * 1024 * 1024 + 17;
  unsigned char *data = malloc(len);
  assert_non_null(data);
  randombytes_buf(data, len);
  struct blob_writer *w;
  assert_int_equal(blob_writer_new(f->bs, 0, &w), BH_OK);
  for (size_t off = 0, step = 1; off < len; off += step, step = step * 3 + 1) {
    size_t n = len - off < step ? len - off : step;
    assert_int_equal(blob_writer_write(w, data + off, n), BH_OK);
  }
  char hash[BLOB_HASH_HEX];
  uint64_t size;
  assert_int_equal(blob_writer_commit(w, hash, &size), BH_OK);
  assert_int_equal(size, len);

  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, data, len);
  char hex[BLOB_HASH_HEX];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  assert_string_equal(hash, hex);

  int fd = blob_open(f->bs, hash, &size);
  assert_true(fd >= 0);
  assert_int_equal(size, len);
  unsigned char *back = malloc(len);
  assert_non_null(back);
  size_t got = 0;
  ssize_t n;
  while ((n = read(fd, back + got, len - got)) > 0)
    got += (size_t)n;
  close(fd);
  assert_int_equal(got, len);
  assert_memory_equal(back, data, len);
  free(back);
  free(data);
}

static void same_content_stored_once(void **state)
{
  struct fixture *f = *state;
  struct blob_writer *a, *b;
  assert_int_equal(blob_writer_new(f->bs, 0, &a), BH_OK);
  assert_int_equal(blob_writer_new(f->bs, 0, &b), BH_OK);
  assert_int_equal(count_files(sub(f, "tmp")), 2);
  assert_int_equal(blob_writer_write(a, "hello", 5), BH_OK);
  assert_int_equal(blob_writer_write(b, "hel", 3), BH_OK);
  assert_int_equal(blob_writer_write(b, "lo", 2), BH_OK);
  char ha[BLOB_HASH_HEX], hb[BLOB_HASH_HEX];
  assert_int_equal(blob_writer_commit(a, ha, NULL), BH_OK);
  assert_int_equal(blob_writer_commit(b, hb, NULL), BH_OK);
  assert_string_equal(ha, hb);
  assert_int_equal(count_files(sub(f, "blobs")), 1);
  assert_int_equal(count_files(sub(f, "tmp")), 0);

  char hc[BLOB_HASH_HEX];
  store(f, "hello", 5, hc);
  assert_string_equal(hc, ha);
  store(f, "other", 5, hc);
  assert_int_equal(count_files(sub(f, "blobs")), 2);
}

static void abort_leaves_nothing(void **state)
{
  struct fixture *f = *state;
  struct blob_writer *w;
  assert_int_equal(blob_writer_new(f->bs, 0, &w), BH_OK);
  assert_int_equal(blob_writer_write(w, "partial", 7), BH_OK);
  blob_writer_abort(w);
  blob_writer_abort(NULL);
  assert_int_equal(count_files(sub(f, "tmp")), 0);
  assert_int_equal(count_files(sub(f, "blobs")), 0);
}

static void max_bytes_is_enforced(void **state)
{
  struct fixture *f = *state;
  struct blob_writer *w;
  assert_int_equal(blob_writer_new(f->bs, 10, &w), BH_OK);
  assert_int_equal(blob_writer_write(w, "123456", 6), BH_OK);
  assert_int_equal(blob_writer_write(w, "7890", 4), BH_OK); /* exactly the limit */
  assert_int_equal(blob_writer_write(w, "x", 1), BH_TOOBIG);
  assert_int_equal(blob_writer_write(w, "", 0), BH_TOOBIG); /* sticky */
  char hash[BLOB_HASH_HEX];
  assert_int_equal(blob_writer_commit(w, hash, NULL), BH_TOOBIG);
  assert_int_equal(count_files(sub(f, "tmp")), 0);
  assert_int_equal(count_files(sub(f, "blobs")), 0);

  /* One write larger than the whole limit. */
  assert_int_equal(blob_writer_new(f->bs, 4, &w), BH_OK);
  assert_int_equal(blob_writer_write(w, "12345", 5), BH_TOOBIG);
  blob_writer_abort(w);
  assert_int_equal(count_files(sub(f, "tmp")), 0);
}

static void open_removes_leftovers(void **state)
{
  struct fixture *f = *state;
  struct blob_writer *w;
  assert_int_equal(blob_writer_new(f->bs, 0, &w), BH_OK);
  assert_int_equal(blob_writer_write(w, "crash", 5), BH_OK);
  char hash[BLOB_HASH_HEX];
  store(f, "kept", 4, hash);
  FILE *fp = fopen(sub(f, "tmp/stray"), "w");
  assert_non_null(fp);
  fputs("x", fp);
  fclose(fp);
  assert_int_equal(mkdir(sub(f, "tmp/subdir"), 0700), 0); /* not a file: left alone */
  assert_int_equal(count_files(sub(f, "tmp")), 2);

  /* A second store on the same directory, as after a restart; w stands for the crash. */
  struct blob_store *again;
  assert_int_equal(blob_store_open(&again, f->dir), BH_OK);
  assert_int_equal(count_files(sub(f, "tmp")), 0);
  struct stat st;
  assert_int_equal(stat(sub(f, "tmp/subdir"), &st), 0);
  int fd = blob_open(again, hash, NULL);
  assert_true(fd >= 0);
  close(fd);
  blob_store_close(again);
  blob_writer_abort(w); /* its file is gone already: must not fail */
}

static void open_unknown_and_invalid(void **state)
{
  struct fixture *f = *state;
  uint64_t size = 0;
  errno = 0;
  assert_int_equal(blob_open(f->bs, HELLO_SHA256, &size), -1);
  assert_int_equal(errno, ENOENT);
  errno = 0;
  assert_int_equal(blob_open(f->bs, "../../etc/passwd", &size), -1);
  assert_int_equal(errno, EINVAL);
}

static void hash_validation(void **state)
{
  (void)state;
  assert_true(blob_hash_valid(HELLO_SHA256));
  assert_true(blob_hash_valid(EMPTY_SHA256));
  assert_false(blob_hash_valid(NULL));
  assert_false(blob_hash_valid(""));
  assert_false(blob_hash_valid("2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"));
  assert_false(blob_hash_valid("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982"));
  assert_false(
      blob_hash_valid("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240"));
  assert_false(blob_hash_valid("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g"));
  assert_false(
      blob_hash_valid("../cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982"));
  assert_false(blob_hash_valid("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98 "));
}

static void open_creates_directories(void **state)
{
  (void)state;
  char dir[64] = "/tmp/bh-blob-test-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char nested[128];
  snprintf(nested, sizeof nested, "%s/data", dir);
  struct blob_store *bs;
  assert_int_equal(blob_store_open(&bs, nested), BH_OK);
  char p[192];
  struct stat st;
  snprintf(p, sizeof p, "%s/blobs", nested);
  assert_int_equal(stat(p, &st), 0);
  snprintf(p, sizeof p, "%s/tmp", nested);
  assert_int_equal(stat(p, &st), 0);
  blob_store_close(bs);
  remove_tree(dir);

  /* A data_dir that cannot be made. */
  assert_int_equal(blob_store_open(&bs, "/proc/nonexistent/bimhub"), BH_IO);
  assert_null(bs);
}

int main(void)
{
  bh_log_set_level("off");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(commit_then_read_back, setup, teardown),
      cmocka_unit_test_setup_teardown(empty_blob, setup, teardown),
      cmocka_unit_test_setup_teardown(large_blob_in_pieces, setup, teardown),
      cmocka_unit_test_setup_teardown(same_content_stored_once, setup, teardown),
      cmocka_unit_test_setup_teardown(abort_leaves_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(max_bytes_is_enforced, setup, teardown),
      cmocka_unit_test_setup_teardown(open_removes_leftovers, setup, teardown),
      cmocka_unit_test_setup_teardown(open_unknown_and_invalid, setup, teardown),
      cmocka_unit_test(hash_validation),
      cmocka_unit_test(open_creates_directories),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
