/* sha1_test.c: FIPS 180 vectors and the RFC 6455 §1.3 handshake example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "transport/sha1.h"

static void hex(const uint8_t d[SHA1_DIGEST_LEN], char out[2 * SHA1_DIGEST_LEN + 1])
{
  for (int i = 0; i < SHA1_DIGEST_LEN; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void digest_of(const char *msg, char out[2 * SHA1_DIGEST_LEN + 1])
{
  uint8_t d[SHA1_DIGEST_LEN];
  sha1(msg, strlen(msg), d);
  hex(d, out);
}

static void fips_abc(void **state)
{
  (void)state;
  char h[41];
  digest_of("abc", h);
  assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void empty_string(void **state)
{
  (void)state;
  char h[41];
  digest_of("", h);
  assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void fips_two_blocks(void **state)
{
  (void)state;
  char h[41];
  digest_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", h);
  assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void million_a_in_odd_pieces(void **state)
{
  (void)state;
  char chunk[997];
  memset(chunk, 'a', sizeof chunk);
  struct sha1_ctx c;
  sha1_init(&c);
  size_t left = 1000000;
  while (left > 0) {
    size_t n = left < sizeof chunk ? left : sizeof chunk;
    sha1_update(&c, chunk, n);
    left -= n;
  }
  uint8_t d[SHA1_DIGEST_LEN];
  char h[41];
  sha1_final(&c, d);
  hex(d, h);
  assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void padding_edges(void **state)
{
  (void)state;
  /* 55, 56 and 64 bytes cross the padding boundaries; compare one-shot with byte-wise. */
  static const size_t lens[] = {55, 56, 63, 64, 65, 119, 120};
  char buf[128];
  memset(buf, 'x', sizeof buf);
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    uint8_t a[SHA1_DIGEST_LEN], b[SHA1_DIGEST_LEN];
    sha1(buf, lens[i], a);
    struct sha1_ctx c;
    sha1_init(&c);
    for (size_t j = 0; j < lens[i]; j++)
      sha1_update(&c, buf + j, 1);
    sha1_final(&c, b);
    assert_memory_equal(a, b, SHA1_DIGEST_LEN);
  }
  char h[41];
  digest_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", h); /* 64 */
  assert_string_equal(h, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

static void rfc6455_accept(void **state)
{
  (void)state;
  static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
  char acc[SHA1_WS_ACCEPT_LEN + 1];
  sha1_ws_accept(key, strlen(key), acc);
  assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fips_abc),        cmocka_unit_test(empty_string),
      cmocka_unit_test(fips_two_blocks), cmocka_unit_test(million_a_in_odd_pieces),
      cmocka_unit_test(padding_edges),   cmocka_unit_test(rfc6455_accept),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
