/* multipart_test.c: the boundary among Content-Type parameters in any order, and bodies
 * read whole and one byte at a time: parts, empty parts, delimiter look-alikes inside the
 * data, preamble and epilogue, and malformed bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport/multipart.h"

/* What the callbacks saw, as text: [name|filename|type]data/ for each part. */
struct seen {
  char text[4096];
  size_t len;
  int stop_at_part; /* part_begin of this part (1-based) says stop; 0: never */
  int parts;
};

static void seen_add(struct seen *s, const char *p, size_t n)
{
  assert_true(s->len + n < sizeof s->text);
  memcpy(s->text + s->len, p, n);
  s->len += n;
  s->text[s->len] = '\0';
}

static bool on_begin(void *arg, const char *name, const char *filename, const char *type)
{
  struct seen *s = arg;
  char head[1400];
  snprintf(head, sizeof head, "[%s|%s|%s]", name, filename ? filename : "-", type ? type : "-");
  seen_add(s, head, strlen(head));
  return ++s->parts != s->stop_at_part;
}

static bool on_data(void *arg, const char *data, size_t len)
{
  seen_add(arg, data, len);
  return true;
}

static bool on_end(void *arg)
{
  seen_add(arg, "/", 1);
  return true;
}

static const struct multipart_cbs cbs = {on_begin, on_data, on_end};

/* Reads body whole, byte by byte, and (when short) in two pieces split at every offset:
 * each must see want (NULL: must fail). */
static void read_body(const char *boundary, const char *body, size_t len, const char *want,
                      bool want_done)
{
  size_t splits = len < 2000 ? len + 1 : 0;
  for (size_t run = 0; run < 2 + splits; run++) {
    struct seen s = {0};
    struct multipart *mp = multipart_new(boundary, &cbs, &s);
    assert_non_null(mp);
    bool ok = true;
    if (run == 1) {
      for (size_t i = 0; i < len && ok; i++)
        ok = multipart_feed(mp, body + i, 1);
    } else if (run == 0) {
      ok = multipart_feed(mp, body, len);
    } else {
      size_t at = run - 2;
      ok = multipart_feed(mp, body, at) && multipart_feed(mp, body + at, len - at);
    }
    if (!want) {
      assert_false(ok);
      assert_true(multipart_error(mp)[0] != '\0');
    } else {
      assert_true(ok);
      assert_string_equal(s.text, want);
      assert_int_equal(multipart_is_done(mp), want_done);
    }
    multipart_free(mp);
  }
}

#define READ(b, body, want, done) read_body(b, body, sizeof(body) - 1, want, done)

static void boundary_in_any_order(void **state)
{
  (void)state;
  char b[MULTIPART_BOUNDARY_MAX + 1];
  assert_true(multipart_boundary("multipart/form-data; boundary=abc", b));
  assert_string_equal(b, "abc");
  /* httpmime (BIMserver's Java client): the charset after the boundary */
  assert_true(multipart_boundary("multipart/form-data; boundary=Xy-_9z; charset=UTF-8", b));
  assert_string_equal(b, "Xy-_9z");
  assert_true(multipart_boundary("multipart/form-data; charset=UTF-8; boundary=abc", b));
  assert_string_equal(b, "abc");
  assert_true(multipart_boundary("Multipart/Form-Data;BOUNDARY=\"a b;c\";charset=utf-8", b));
  assert_string_equal(b, "a b;c");
  assert_true(multipart_boundary("multipart/form-data ; boundary = \"q\\\"x\"", b));
  assert_string_equal(b, "q\"x");
  assert_true(multipart_boundary("multipart/form-data; foo=\"boundary=no\"; boundary=yes", b));
  assert_string_equal(b, "yes");

  assert_false(multipart_boundary(NULL, b));
  assert_false(multipart_boundary("multipart/form-data", b));
  assert_false(multipart_boundary("multipart/form-data; charset=UTF-8", b));
  assert_false(multipart_boundary("multipart/form-data; boundary=", b));
  assert_false(multipart_boundary("multipart/form-data; boundary=\"\"", b));
  assert_false(multipart_boundary("multipart/form-data; boundary=\"open", b));
  assert_false(multipart_boundary("multipart/mixed; boundary=abc", b));
  assert_false(multipart_boundary("multipart/form-datax; boundary=abc", b));
  assert_false(multipart_boundary("application/json", b));
  char lng[300];
  memset(lng, 'a', sizeof lng);
  memcpy(lng, "multipart/form-data; boundary=", 30);
  lng[30 + MULTIPART_BOUNDARY_MAX] = '\0';
  assert_true(multipart_boundary(lng, b));
  lng[30 + MULTIPART_BOUNDARY_MAX] = 'a';
  lng[31 + MULTIPART_BOUNDARY_MAX] = '\0';
  assert_false(multipart_boundary(lng, b));
}

static void reads_parts(void **state)
{
  (void)state;
  READ("XB",
       "--XB\r\nContent-Disposition: form-data; name=\"poid\"\r\n\r\n65539\r\n"
       "--XB\r\ncontent-disposition: form-data; name=\"empty\"\r\n\r\n\r\n"
       "--XB\r\nContent-Disposition: form-data; name=\"data\"; filename=\"m.ifc\"\r\n"
       "Content-Type: application/octet-stream\r\n\r\nA\r\nB\r\n-\r\n--X\r\n--XC\r\r\n\r\n"
       "--XB  \r\nContent-Disposition: form-data; name=sync\r\n\r\ntrue\r\n--XB--\r\nepilogue",
       "[poid|-|-]65539/[empty|-|-]/[data|m.ifc|application/octet-stream]"
       "A\r\nB\r\n-\r\n--X\r\n--XC\r\r\n/[sync|-|-]true/",
       true);
  /* a preamble, a filename with a Windows path, an empty filename (a file all the same) */
  READ("b",
       "preamble\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; "
       "filename=\"C:\\dir\\a.ifc\"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; "
       "name=\"g\"; filename=\"\"\r\n\r\n\r\n--b--",
       "[f|C:\\dir\\a.ifc|-]x/[g||-]/", true);
  /* a body that stops before its closing delimiter reads fine but is not done */
  READ("b", "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc\r\n--", "[f|-|-]abc",
       false);
  READ("b", "", "", false);
}

static void refuses_malformed(void **state)
{
  (void)state;
  READ("b", "--bX\r\n\r\n", NULL, false);
  READ("b", "--b-x", NULL, false);
  READ("b", "--b\r\nContent-Disposition: form-data; name=\"open\r\n\r\nx\r\n--b--", NULL, false);
  char name[400];
  memset(name, 'n', sizeof name);
  name[sizeof name - 1] = '\0';
  char body[600];
  int n = snprintf(body, sizeof body,
                   "--b\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nx\r\n--b--", name);
  read_body("b", body, (size_t)n, NULL, false);
  /* a header block that never ends */
  size_t big = MULTIPART_HEADERS_MAX + 100;
  char *hdr = malloc(big + 8);
  assert_non_null(hdr);
  memcpy(hdr, "--b\r\n", 5);
  memset(hdr + 5, 'h', big);
  read_body("b", hdr, big + 5, NULL, false);
  free(hdr);
}

static void callback_stops(void **state)
{
  (void)state;
  const char body[] = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                      "--b\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--b--";
  struct seen s = {.stop_at_part = 2};
  struct multipart *mp = multipart_new("b", &cbs, &s);
  assert_false(multipart_feed(mp, body, sizeof body - 1));
  assert_string_equal(multipart_error(mp), "");
  assert_false(multipart_feed(mp, "x", 1));
  assert_string_equal(s.text, "[a|-|-]1/[b|-|-]");
  multipart_free(mp);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(boundary_in_any_order),
      cmocka_unit_test(reads_parts),
      cmocka_unit_test(refuses_malformed),
      cmocka_unit_test(callback_stops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
