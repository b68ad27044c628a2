/* bh_base64_test.c: RFC 4648 vectors both ways, and the decoder's leniency and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/bh_base64.h"

static void rfc4648_vectors(void **state)
{
  (void)state;
  const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    char out[16];
    bh_base64_encode(plain[i], strlen(plain[i]), out);
    assert_string_equal(out, coded[i]);
    unsigned char dec[16];
    size_t n;
    assert_true(bh_base64_decode(coded[i], strlen(coded[i]), dec, &n));
    assert_int_equal(n, strlen(plain[i]));
    assert_memory_equal(dec, plain[i], n);
  }
}

static void lenient_but_not_careless(void **state)
{
  (void)state;
  unsigned char dec[16];
  size_t n;
  assert_true(bh_base64_decode("Zm9v\r\nYmFy", 10, dec, &n));
  assert_int_equal(n, 6);
  assert_true(bh_base64_decode("Zm8", 3, dec, &n)); /* no padding */
  assert_int_equal(n, 2);
  assert_false(bh_base64_decode("Zm9v!", 5, dec, &n));
  assert_false(bh_base64_decode("Zg==Zg==", 8, dec, &n));
  assert_false(bh_base64_decode("Z", 1, dec, &n));
  unsigned char all[256];
  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char)i;
  char enc[400];
  bh_base64_encode(all, 256, enc);
  unsigned char back[260];
  assert_true(bh_base64_decode(enc, strlen(enc), back, &n));
  assert_int_equal(n, 256);
  assert_memory_equal(back, all, 256);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(rfc4648_vectors),
                                     cmocka_unit_test(lenient_but_not_careless)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
