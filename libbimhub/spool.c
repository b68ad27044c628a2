/* spool.c: the service's durable notification spool, and the ring of recent delivery ids.
 * A notification is <dir>/<id>.json before it is acknowledged: written to a temporary file,
 * fsync'd, renamed, and the directory fsync'd, so a crash leaves it whole or absent, never
 * half-written. It is removed once its handler succeeded, or moved to <dir>/failed/. */
#include "sdk_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *dir, const char *a, const char *b)
{
  size_t n = strlen(dir) + strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s%s", dir, a, b);
  return p;
}

static bool make_dir(const char *dir)
{
  if (mkdir(dir, 0700) == 0)
    return true;
  struct stat sb;
  return errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int fsync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

enum bimhub_rc sdk_spool_open(struct sdk_spool *sp, const char *dir, struct bimhub_error *err)
{
  memset(sp, 0, sizeof *sp);
  sp->lock_fd = -1;
  if (!dir || !*dir)
    return sdk_fail(err, BIMHUB_INVALID, "A spool directory is needed");
  sp->dir = strdup(dir);
  sp->failed_dir = join(dir, "failed", "");
  if (!sp->dir || !sp->failed_dir) {
    sdk_spool_close(sp);
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  }
  if (!make_dir(sp->dir) || !make_dir(sp->failed_dir)) {
    enum bimhub_rc rc =
        sdk_fail(err, BIMHUB_IO, "Cannot make the spool directory %s: %s", dir, strerror(errno));
    sdk_spool_close(sp);
    return rc;
  }
  char *lock = join(dir, ".lock", "");
  sp->lock_fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
  free(lock);
  if (sp->lock_fd < 0 || flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    enum bimhub_rc rc =
        sdk_fail(err, BIMHUB_IO, "The spool %s is in use by another process (or unusable: %s)", dir,
                 strerror(errno));
    sdk_spool_close(sp);
    return rc;
  }
  /* temporary files of writes a crash interrupted: never acknowledged, so not owed */
  DIR *d = opendir(sp->dir);
  if (!d) {
    enum bimhub_rc rc = sdk_fail(err, BIMHUB_IO, "Cannot read %s: %s", dir, strerror(errno));
    sdk_spool_close(sp);
    return rc;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (e->d_name[0] == '.' && n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0)
      unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
  return BIMHUB_OK;
}

void sdk_spool_close(struct sdk_spool *sp)
{
  if (sp->lock_fd >= 0)
    close(sp->lock_fd); /* releases the lock */
  free(sp->dir);
  free(sp->failed_dir);
  memset(sp, 0, sizeof *sp);
  sp->lock_fd = -1;
}

enum bimhub_rc sdk_spool_put(struct sdk_spool *sp, const char *id, const json_t *record,
                             struct bimhub_error *err)
{
  char *text = json_dumps(record, JSON_COMPACT);
  char *name = join(sp->dir, id, ".json");
  size_t tl = strlen(id) + 6;
  char *tmpname = malloc(tl);
  char *tmp = NULL;
  if (tmpname) {
    snprintf(tmpname, tl, ".%s.tmp", id);
    tmp = join(sp->dir, tmpname, "");
  }
  enum bimhub_rc rc = BIMHUB_OK;
  if (!text || !name || !tmp) {
    rc = sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
    goto out;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    rc = sdk_fail(err, BIMHUB_IO, "Cannot create %s: %s", tmp, strerror(errno));
    goto out;
  }
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  bool ok = off == len && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, name) != 0 || fsync_dir(sp->dir) != 0) {
    rc = sdk_fail(err, BIMHUB_IO, "Cannot write %s: %s", name, strerror(errno));
    unlink(tmp);
  }
out:
  free(text);
  free(name);
  free(tmpname);
  free(tmp);
  return rc;
}

bool sdk_spool_has(struct sdk_spool *sp, const char *id)
{
  char *name = join(sp->dir, id, ".json");
  bool has = name && access(name, F_OK) == 0;
  free(name);
  return has;
}

enum bimhub_rc sdk_spool_remove(struct sdk_spool *sp, const char *id)
{
  char *name = join(sp->dir, id, ".json");
  if (!name)
    return BIMHUB_NOMEM;
  int rc = unlink(name);
  free(name);
  if (rc != 0 && errno != ENOENT)
    return BIMHUB_IO;
  return fsync_dir(sp->dir) == 0 ? BIMHUB_OK : BIMHUB_IO;
}

enum bimhub_rc sdk_spool_fail(struct sdk_spool *sp, const char *id)
{
  char *from = join(sp->dir, id, ".json");
  char *to = join(sp->failed_dir, id, ".json");
  enum bimhub_rc rc = BIMHUB_NOMEM;
  if (from && to)
    rc = rename(from, to) == 0 && fsync_dir(sp->dir) == 0 ? BIMHUB_OK : BIMHUB_IO;
  free(from);
  free(to);
  return rc;
}

static int by_arrival(const void *pa, const void *pb)
{
  json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
  int64_t ta = bimhub_json_int(a, "received_ms", 0), tb = bimhub_json_int(b, "received_ms", 0);
  if (ta != tb)
    return ta < tb ? -1 : 1;
  const char *ia = bimhub_json_str(a, "id"), *ib = bimhub_json_str(b, "id");
  return strcmp(ia ? ia : "", ib ? ib : "");
}

enum bimhub_rc sdk_spool_load(struct sdk_spool *sp, json_t **records, struct bimhub_error *err)
{
  *records = NULL;
  DIR *d = opendir(sp->dir);
  if (!d)
    return sdk_fail(err, BIMHUB_IO, "Cannot read %s: %s", sp->dir, strerror(errno));
  json_t **items = NULL;
  size_t n = 0, cap = 0;
  enum bimhub_rc rc = BIMHUB_OK;
  struct dirent *e;
  while (rc == BIMHUB_OK && (e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0 ||
        len - 5 >= SDK_ID_MAX)
      continue;
    char id[SDK_ID_MAX];
    memcpy(id, e->d_name, len - 5);
    id[len - 5] = '\0';
    char *path = join(sp->dir, e->d_name, "");
    json_t *r = path ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    if (!json_is_object(r) || !json_is_object(json_object_get(r, "request"))) {
      json_decref(r);
      sdk_log(BIMHUB_LOG_ERROR, "service: spooled notification %s is unreadable; moved to failed/",
              id);
      sdk_spool_fail(sp, id);
      continue;
    }
    json_object_set_new(r, "id", json_string(id));
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      json_t **ni = realloc(items, nc * sizeof *ni);
      if (!ni) {
        json_decref(r);
        rc = sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
        break;
      }
      items = ni;
      cap = nc;
    }
    items[n++] = r;
  }
  closedir(d);
  if (n > 1)
    qsort(items, n, sizeof *items, by_arrival);
  json_t *arr = rc == BIMHUB_OK ? json_array() : NULL;
  if (rc == BIMHUB_OK && !arr)
    rc = sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  for (size_t i = 0; i < n; i++) {
    if (arr)
      json_array_append(arr, items[i]);
    json_decref(items[i]);
  }
  free(items);
  *records = arr;
  return rc;
}

/* ---- recent ids ---- */

bool sdk_dedupe_init(struct sdk_dedupe *d, size_t cap)
{
  memset(d, 0, sizeof *d);
  d->ids = calloc(cap ? cap : 1, sizeof *d->ids);
  d->cap = cap ? cap : 1;
  return d->ids != NULL;
}

void sdk_dedupe_free(struct sdk_dedupe *d)
{
  free(d->ids);
  memset(d, 0, sizeof *d);
}

bool sdk_dedupe_has(const struct sdk_dedupe *d, const char *id)
{
  for (size_t i = 0; i < d->n; i++)
    if (strcmp(d->ids[i], id) == 0)
      return true;
  return false;
}

void sdk_dedupe_add(struct sdk_dedupe *d, const char *id)
{
  if (sdk_dedupe_has(d, id))
    return;
  snprintf(d->ids[d->next], SDK_ID_MAX, "%s", id);
  d->next = (d->next + 1) % d->cap;
  if (d->n < d->cap)
    d->n++;
}

void sdk_dedupe_remove(struct sdk_dedupe *d, const char *id)
{
  for (size_t i = 0; i < d->n; i++)
    if (strcmp(d->ids[i], id) == 0)
      d->ids[i][0] = '\0'; /* ids are never empty: the slot matches nothing */
}
