/* sign.c: Standard Webhooks v1 signing and verification on libsodium's HMAC-SHA256. The key
 * is used at whatever length the secret decodes to (the streaming init/update/final API takes
 * any key length, hashing keys longer than a block as HMAC requires); the fixed-key
 * crypto_auth_hmacsha256() would not. Signatures are compared as their Base64 text, which has
 * one canonical form for 32 bytes, with sodium_memcmp(). */
#include "notify/sign.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/bh_base64.h"

#define SIG_B64_LEN 44 /* Base64 of crypto_auth_hmacsha256_BYTES (32) */

static bool is_b64_char(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=';
}

enum bh_err sign_secret_new(char out[SIGN_SECRET_MAX])
{
  unsigned char key[SIGN_KEY_NEW];
  if (sodium_init() < 0)
    return BH_INTERNAL;
  randombytes_buf(key, sizeof key);
  memcpy(out, SIGN_SECRET_PREFIX, sizeof SIGN_SECRET_PREFIX - 1);
  bh_base64_encode(key, sizeof key, out + sizeof SIGN_SECRET_PREFIX - 1);
  sodium_memzero(key, sizeof key);
  return BH_OK;
}

enum bh_err sign_secret_parse(const char *secret, unsigned char key[SIGN_KEY_MAX], size_t *keylen)
{
  if (!secret)
    return BH_BADREQUEST;
  if (strncmp(secret, SIGN_SECRET_PREFIX, sizeof SIGN_SECRET_PREFIX - 1) == 0)
    secret += sizeof SIGN_SECRET_PREFIX - 1;
  size_t len = strnlen(secret, SIGN_SECRET_MAX);
  /* The decoder skips white space; a secret is one token, so refuse it here. */
  if (len == 0 || len > bh_base64_encoded_len(SIGN_KEY_MAX))
    return BH_BADREQUEST;
  for (size_t i = 0; i < len; i++)
    if (!is_b64_char((unsigned char)secret[i]))
      return BH_BADREQUEST;
  unsigned char buf[(4 * ((SIGN_KEY_MAX + 2) / 3)) * 3 / 4 + 3]; /* what bh_base64_decode asks */
  size_t n = 0;
  enum bh_err rc = BH_BADREQUEST;
  if (bh_base64_decode(secret, len, buf, &n) && n >= SIGN_KEY_MIN && n <= SIGN_KEY_MAX) {
    memcpy(key, buf, n);
    *keylen = n;
    rc = BH_OK;
  }
  sodium_memzero(buf, sizeof buf);
  return rc;
}

/* The raw signature of msg_id "." ts "." body; ts is already decimal text. */
static enum bh_err hmac(const char *secret, const char *msg_id, const char *ts, const void *body,
                        size_t len, unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
  unsigned char key[SIGN_KEY_MAX];
  size_t keylen;
  if (!msg_id || !*msg_id || (len > 0 && !body))
    return BH_BADREQUEST;
  enum bh_err rc = sign_secret_parse(secret, key, &keylen);
  if (rc != BH_OK)
    return rc;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key, keylen);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  if (len > 0)
    crypto_auth_hmacsha256_update(&st, body, len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
  sodium_memzero(key, sizeof key);
  return BH_OK;
}

enum bh_err sign_message(const char *secret, const char *msg_id, int64_t timestamp_s,
                         const void *body, size_t len, char out[SIGN_SIGNATURE_MAX])
{
  if (timestamp_s < 0)
    return BH_BADREQUEST;
  char ts[24];
  snprintf(ts, sizeof ts, "%" PRId64, timestamp_s);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  enum bh_err rc = hmac(secret, msg_id, ts, body, len, mac);
  if (rc != BH_OK)
    return rc;
  memcpy(out, "v1,", 3);
  bh_base64_encode(mac, sizeof mac, out + 3);
  return BH_OK;
}

enum bh_err sign_header_for(const char *const *secrets, size_t n, const char *msg_id,
                            int64_t timestamp_s, const void *body, size_t len, char *out,
                            size_t outlen)
{
  if (n == 0 || !secrets)
    return BH_BADREQUEST;
  if (!out || outlen == 0)
    return BH_TOOBIG;
  out[0] = '\0';
  /* Each entry is SIGN_SIGNATURE_MAX - 1 characters, plus a space or the final NUL. */
  if (outlen / SIGN_SIGNATURE_MAX < n)
    return BH_TOOBIG;
  char *p = out;
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      *p++ = ' ';
    enum bh_err rc = sign_message(secrets[i], msg_id, timestamp_s, body, len, p);
    if (rc != BH_OK) {
      out[0] = '\0';
      return rc;
    }
    p += SIGN_SIGNATURE_MAX - 1;
  }
  return BH_OK;
}

/* Digits only, no sign, no overflow; webhook-timestamp is plain Unix seconds. */
static bool parse_timestamp(const char *s, int64_t *out)
{
  int64_t v = 0;
  if (!s || !*s)
    return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return false;
    if (v > (INT64_MAX - (*s - '0')) / 10)
      return false;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return true;
}

bool sign_verify(const char *secret, const char *msg_id, const char *timestamp, const void *body,
                 size_t len, const char *signature_header, int64_t now_s, int64_t tolerance_s)
{
  int64_t ts;
  if (!signature_header || now_s < 0 || tolerance_s < 0 || !parse_timestamp(timestamp, &ts))
    return false;
  /* Both are non-negative, so the differences cannot overflow. */
  if ((ts < now_s && now_s - ts > tolerance_s) || (ts > now_s && ts - now_s > tolerance_s))
    return false;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  if (hmac(secret, msg_id, timestamp, body, len, mac) != BH_OK)
    return false;
  char want[SIG_B64_LEN + 1];
  bh_base64_encode(mac, sizeof mac, want);
  bool found = false;
  const char *p = signature_header;
  while (*p) {
    while (*p == ' ')
      p++;
    const char *end = p;
    while (*end && *end != ' ')
      end++;
    size_t n = (size_t)(end - p);
    if (n == 3 + SIG_B64_LEN && memcmp(p, "v1,", 3) == 0 &&
        sodium_memcmp(p + 3, want, SIG_B64_LEN) == 0)
      found = true;
    p = end;
  }
  sodium_memzero(mac, sizeof mac);
  return found;
}

void sign_message_id(char out[SIGN_ID_MAX])
{
  static const char url64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char r[SIGN_ID_MAX - 5];
  randombytes_buf(r, sizeof r);
  memcpy(out, "msg_", 4);
  for (size_t i = 0; i < sizeof r; i++)
    out[4 + i] = url64[r[i] & 63]; /* 64 divides 256: uniform */
  out[SIGN_ID_MAX - 1] = '\0';
}
