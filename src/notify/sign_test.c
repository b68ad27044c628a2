/* sign_test.c: Standard Webhooks signatures against the specification's vector and one
 * computed independently, verification of tampered, expired and rotated signatures, and the
 * limits of secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "common/bh_base64.h"
#include "notify/sign.h"

/* The test vector of the Standard Webhooks specification and its reference libraries;
 * re-checked when this test was written with
 *   python3 -c "import hmac,hashlib,base64; k=base64.b64decode('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
 *     print(base64.b64encode(hmac.new(k, b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.'
 *     b'{\"test\": 2432232314}', hashlib.sha256).digest()))"
 * -> g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= */
static const char spec_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char spec_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char spec_body[] = "{\"test\": 2432232314}";
static const char spec_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
#define SPEC_TS 1614265330

/* Our own vector, key = bytes 0..31, computed with
 *   python3 -c "import hmac,hashlib,base64; k=bytes(range(32));
 *     print(base64.b64encode(k)); print(base64.b64encode(hmac.new(k,
 *     b'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W.1674087231.{\"type\":\"project.checkin\",'
 *     b'\"data\":{\"poid\":131073}}', hashlib.sha256).digest()))" */
static const char own_secret[] = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
static const char own_id[] = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
static const char own_body[] = "{\"type\":\"project.checkin\",\"data\":{\"poid\":131073}}";
static const char own_sig[] = "v1,jJmht1ncjozZpXnJU+GI5JGZBvsfmjxrmiCYi6G6Pkk=";
#define OWN_TS 1674087231

/* A 64-byte key (bytes 0..63) over an empty body, from
 *   python3 -c "import hmac,hashlib,base64; k=bytes(range(64));
 *     print(base64.b64encode(hmac.new(k, b'msg_1.0.', hashlib.sha256).digest()))" */
static const char long_secret[] =
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
    "LS4vMDEyMzQ1Njc4OTo7PD0+Pw==";
static const char long_sig[] = "v1,HZL6IFGXxAA5+E6GULAHVKyxB+KD+eUDyD0G8JJ0huU=";

static void known_vectors(void **state)
{
  (void)state;
  char sig[SIGN_SIGNATURE_MAX];
  assert_int_equal(sign_message(spec_secret, spec_id, SPEC_TS, spec_body, strlen(spec_body), sig),
                   BH_OK);
  assert_string_equal(sig, spec_sig);
  /* the prefix is optional */
  assert_int_equal(
      sign_message(spec_secret + 6, spec_id, SPEC_TS, spec_body, strlen(spec_body), sig), BH_OK);
  assert_string_equal(sig, spec_sig);
  assert_int_equal(sign_message(own_secret, own_id, OWN_TS, own_body, strlen(own_body), sig),
                   BH_OK);
  assert_string_equal(sig, own_sig);
  assert_int_equal(sign_message(long_secret, "msg_1", 0, NULL, 0, sig), BH_OK);
  assert_string_equal(sig, long_sig);
  assert_int_equal(strlen(sig), SIGN_SIGNATURE_MAX - 1);
}

static void verify_accepts_and_rejects_tampering(void **state)
{
  (void)state;
  const char *b = spec_body;
  size_t n = strlen(b);
  assert_true(sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", "{\"test\": 2432232315}", n,
                           spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n - 1, spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, "msg_p5jXN8AQM9LWM0D4loKWxJeK", "1614265330", b, n,
                           spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265331", b, n, spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(own_secret, spec_id, "1614265330", b, n, spec_sig, SPEC_TS, 300));
  /* a flipped character of the signature, a truncated one, another version */
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n,
                           "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n,
                           "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n,
                           "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n, "", SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n, NULL, SPEC_TS, 300));
  /* malformed timestamps */
  assert_false(sign_verify(spec_secret, spec_id, "+1614265330", b, n, spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330 ", b, n, spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, "", b, n, spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, spec_id, NULL, b, n, spec_sig, SPEC_TS, 300));
  assert_false(
      sign_verify(spec_secret, spec_id, "99999999999999999999", b, n, spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(spec_secret, NULL, "1614265330", b, n, spec_sig, SPEC_TS, 300));
  assert_false(sign_verify(NULL, spec_id, "1614265330", b, n, spec_sig, SPEC_TS, 300));
}

static void verify_tolerance(void **state)
{
  (void)state;
  const char *b = spec_body;
  size_t n = strlen(b);
  assert_true(sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, SPEC_TS + 300, 300));
  assert_true(sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, SPEC_TS - 300, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, SPEC_TS + 301, 300));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, SPEC_TS - 301, 300));
  assert_true(sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, SPEC_TS, 0));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, SPEC_TS, -1));
  assert_false(sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, -1, INT64_MAX));
  assert_true(
      sign_verify(spec_secret, spec_id, "1614265330", b, n, spec_sig, INT64_MAX, INT64_MAX));
}

static void several_signatures(void **state)
{
  (void)state;
  const char *secrets[] = {own_secret, spec_secret};
  const char *b = spec_body;
  size_t n = strlen(b);
  char hdr[2 * SIGN_SIGNATURE_MAX];
  assert_int_equal(sign_header_for(secrets, 2, spec_id, SPEC_TS, b, n, hdr, sizeof hdr), BH_OK);
  assert_int_equal(strlen(hdr), 2 * (SIGN_SIGNATURE_MAX - 1) + 1);
  assert_string_equal(hdr + SIGN_SIGNATURE_MAX, spec_sig);
  assert_int_equal(hdr[SIGN_SIGNATURE_MAX - 1], ' ');
  /* each secret finds its own entry */
  assert_true(sign_verify(spec_secret, spec_id, "1614265330", b, n, hdr, SPEC_TS, 300));
  assert_true(sign_verify(own_secret, spec_id, "1614265330", b, n, hdr, SPEC_TS, 300));
  assert_false(sign_verify(long_secret, spec_id, "1614265330", b, n, hdr, SPEC_TS, 300));
  /* other versions, extra spaces and junk around a good entry */
  const char *mixed = "  v1a,AAAA  junk v1,bad "
                      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=   ";
  assert_true(sign_verify(spec_secret, spec_id, "1614265330", b, n, mixed, SPEC_TS, 300));
  /* one byte too small, no secrets, a bad secret among good ones */
  assert_int_equal(sign_header_for(secrets, 2, spec_id, SPEC_TS, b, n, hdr, sizeof hdr - 1),
                   BH_TOOBIG);
  assert_string_equal(hdr, "");
  assert_int_equal(sign_header_for(secrets, 0, spec_id, SPEC_TS, b, n, hdr, sizeof hdr),
                   BH_BADREQUEST);
  const char *bad[] = {spec_secret, "whsec_!!"};
  assert_int_equal(sign_header_for(bad, 2, spec_id, SPEC_TS, b, n, hdr, sizeof hdr), BH_BADREQUEST);
  assert_string_equal(hdr, "");
  char one[SIGN_SIGNATURE_MAX];
  assert_int_equal(sign_header_for(secrets + 1, 1, spec_id, SPEC_TS, b, n, one, sizeof one), BH_OK);
  assert_string_equal(one, spec_sig);
}

static void bad_secrets(void **state)
{
  (void)state;
  unsigned char key[SIGN_KEY_MAX];
  size_t len = 0;
  char sig[SIGN_SIGNATURE_MAX];
  assert_int_equal(sign_secret_parse(spec_secret, key, &len), BH_OK);
  assert_int_equal(len, 24);
  assert_int_equal(sign_secret_parse(long_secret, key, &len), BH_OK);
  assert_int_equal(len, 64);
  assert_int_equal(key[63], 63);
  /* 16 bytes is the least; padding may be left off */
  assert_int_equal(sign_secret_parse("whsec_AAECAwQFBgcICQoLDA0ODw==", key, &len), BH_OK);
  assert_int_equal(len, 16);
  assert_int_equal(sign_secret_parse("AAECAwQFBgcICQoLDA0ODw", key, &len), BH_OK);
  assert_int_equal(len, 16);
  /* 15 bytes; 65 bytes (still 88 characters); 89+ characters */
  assert_int_equal(sign_secret_parse("whsec_AAECAwQFBgcICQoLDA0O", key, &len), BH_BADREQUEST);
  assert_int_equal(sign_secret_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
                                     "LS4vMDEyMzQ1Njc4OTo7PD0+P0A=",
                                     key, &len),
                   BH_BADREQUEST);
  assert_int_equal(sign_secret_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
                                     "LS4vMDEyMzQ1Njc4OTo7PD0+P0BB",
                                     key, &len),
                   BH_BADREQUEST);
  /* not Base64, white space, URL-safe alphabet, misplaced padding, empty, prefix only */
  assert_int_equal(sign_secret_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", key, &len),
                   BH_BADREQUEST);
  assert_int_equal(sign_secret_parse("whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw", key, &len),
                   BH_BADREQUEST);
  assert_int_equal(sign_secret_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa_w", key, &len),
                   BH_BADREQUEST);
  assert_int_equal(sign_secret_parse("whsec_MfKQ9r8GKYqr=wjUPD8ILPZIo2LaLaSw", key, &len),
                   BH_BADREQUEST);
  assert_int_equal(sign_secret_parse("", key, &len), BH_BADREQUEST);
  assert_int_equal(sign_secret_parse("whsec_", key, &len), BH_BADREQUEST);
  assert_int_equal(sign_secret_parse(NULL, key, &len), BH_BADREQUEST);
  /* and sign_message passes the refusal on, as it does for a bad id or timestamp */
  assert_int_equal(sign_message("whsec_AAAA", spec_id, SPEC_TS, "x", 1, sig), BH_BADREQUEST);
  assert_int_equal(sign_message(spec_secret, "", SPEC_TS, "x", 1, sig), BH_BADREQUEST);
  assert_int_equal(sign_message(spec_secret, NULL, SPEC_TS, "x", 1, sig), BH_BADREQUEST);
  assert_int_equal(sign_message(spec_secret, spec_id, -1, "x", 1, sig), BH_BADREQUEST);
  assert_int_equal(sign_message(spec_secret, spec_id, SPEC_TS, NULL, 1, sig), BH_BADREQUEST);
}

static void new_secrets_and_ids(void **state)
{
  (void)state;
  char a[SIGN_SECRET_MAX], b[SIGN_SECRET_MAX];
  assert_int_equal(sign_secret_new(a), BH_OK);
  assert_int_equal(sign_secret_new(b), BH_OK);
  assert_int_equal(strlen(a), 6 + 44);
  assert_memory_equal(a, "whsec_", 6);
  assert_string_not_equal(a, b);
  unsigned char key[SIGN_KEY_MAX];
  size_t len;
  assert_int_equal(sign_secret_parse(a, key, &len), BH_OK);
  assert_int_equal(len, SIGN_KEY_NEW);
  /* a round trip through a fresh secret */
  char sig[SIGN_SIGNATURE_MAX];
  assert_int_equal(sign_message(a, "msg_x", 1000, "body", 4, sig), BH_OK);
  assert_true(sign_verify(a, "msg_x", "1000", "body", 4, sig, 1000, 300));
  assert_false(sign_verify(b, "msg_x", "1000", "body", 4, sig, 1000, 300));

  char id1[SIGN_ID_MAX], id2[SIGN_ID_MAX];
  sign_message_id(id1);
  sign_message_id(id2);
  assert_int_equal(strlen(id1), SIGN_ID_MAX - 1);
  assert_memory_equal(id1, "msg_", 4);
  assert_string_not_equal(id1, id2);
  for (size_t i = 4; i < SIGN_ID_MAX - 1; i++)
    assert_non_null(
        strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", id1[i]));
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(known_vectors),    cmocka_unit_test(verify_accepts_and_rejects_tampering),
      cmocka_unit_test(verify_tolerance), cmocka_unit_test(several_signatures),
      cmocka_unit_test(bad_secrets),      cmocka_unit_test(new_secrets_and_ids)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
