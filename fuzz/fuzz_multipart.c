/* fuzz_multipart.c: the /upload body reader (outside input). The first line is the
 * Content-Type value, the rest the body. Nothing may crash or read out of bounds, and the
 * body read whole and read in pieces (sizes taken from the input) must give the same parts
 * with the same bytes and the same outcome. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A running hash of every callback and its arguments. */
struct trace {
  uint64_t h;
  int begins, ends;
};

static void mix(struct trace *t, const void *p, size_t n)
{
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    t->h = (t->h ^ b[i]) * 1099511628211u;
}

static bool on_begin(void *arg, const char *name, const char *filename, const char *type)
{
  struct trace *t = arg;
  if (strlen(name) > MULTIPART_NAME_MAX)
    abort();
  t->begins++;
  mix(t, "B", 1);
  mix(t, name, strlen(name) + 1);
  mix(t, filename ? filename : "-", filename ? strlen(filename) + 1 : 1);
  mix(t, type ? type : "-", type ? strlen(type) + 1 : 1);
  return true;
}

static bool on_data(void *arg, const char *p, size_t n)
{
  if (n == 0)
    abort();      /* empty pieces are never handed on */
  mix(arg, p, n); /* pieces may differ in size: only the bytes count */
  return true;
}

static bool on_end(void *arg)
{
  struct trace *t = arg;
  if (t->ends >= t->begins)
    abort();
  t->ends++;
  mix(t, "E", 1);
  return true;
}

static const struct multipart_cbs cbs = {on_begin, on_data, on_end};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr(data, '\n', size);
  if (!nl)
    return 0;
  size_t tlen = (size_t)(nl - data);
  char *type = malloc(tlen + 1);
  if (!type)
    return 0;
  memcpy(type, data, tlen);
  type[tlen] = '\0';
  char boundary[MULTIPART_BOUNDARY_MAX + 1];
  if (!multipart_boundary(type, boundary)) {
    free(type);
    return 0;
  }
  size_t blen = strlen(boundary);
  if (blen == 0 || blen > MULTIPART_BOUNDARY_MAX)
    abort();
  const char *body = (const char *)nl + 1;
  size_t len = size - tlen - 1;

  struct trace whole = {.h = 14695981039346656037u}, parts = whole;
  struct multipart *a = multipart_new(boundary, &cbs, &whole);
  struct multipart *b = multipart_new(boundary, &cbs, &parts);
  if (!a || !b)
    abort();
  bool ok_a = multipart_feed(a, body, len);
  bool ok_b = true;
  for (size_t i = 0, step = 1; i < len && ok_b; step = step * 7 % 61 + 1) {
    size_t n = len - i < step ? len - i : step;
    ok_b = multipart_feed(b, body + i, n);
    i += n;
  }
  if (ok_a != ok_b || whole.h != parts.h || multipart_is_done(a) != multipart_is_done(b))
    abort();
  multipart_free(a);
  multipart_free(b);
  free(type);
  return 0;
}
