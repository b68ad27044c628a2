/* sign.h: Standard Webhooks v1 signatures (https://www.standardwebhooks.com, "Signature
 * scheme"). A service is given a secret "whsec_" + Base64(key); each delivery carries the
 * headers webhook-id, webhook-timestamp (Unix seconds) and webhook-signature, whose value
 * is one or more space-separated "v1," + Base64(HMAC-SHA256(key, id "." timestamp "." body)).
 * Several entries let a service rotate secrets: it accepts the delivery if any one matches.
 *
 * Thread-safety: every function here is pure and may run on any thread, except
 * sign_secret_new() and sign_message_id(), which draw from libsodium's generator (itself
 * thread-safe once sodium_init() has succeeded, as app/main.c does at start). Nothing here
 * allocates, and keys are wiped from the stack before returning; secrets are never logged. */
#ifndef BH_SIGN_H
#define BH_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

#define SIGN_SECRET_PREFIX "whsec_"
#define SIGN_KEY_MIN 16 /* shortest key accepted from a secret, in bytes */
#define SIGN_KEY_MAX 64 /* longest key, in bytes */
#define SIGN_KEY_NEW 32 /* length of keys made by sign_secret_new() */
/* "whsec_" + Base64 of SIGN_KEY_MAX bytes (88 characters) + NUL */
#define SIGN_SECRET_MAX (6 + 88 + 1)
/* "v1," + Base64 of a 32-byte HMAC-SHA256 (44 characters) + NUL */
#define SIGN_SIGNATURE_MAX (3 + 44 + 1)
/* "msg_" + 24 URL-safe characters + NUL */
#define SIGN_ID_MAX (4 + 24 + 1)

/* Writes a new secret, "whsec_" + Base64 of SIGN_KEY_NEW random bytes, to out. BH_INTERNAL
 * if libsodium cannot be initialised. */
enum bh_err sign_secret_new(char out[SIGN_SECRET_MAX]);

/* Decodes secret (with or without the "whsec_" prefix) into key[0..*keylen). The Base64 must
 * use the standard alphabet (padding may be omitted) with no white space, and decode to
 * SIGN_KEY_MIN..SIGN_KEY_MAX bytes. BH_BADREQUEST otherwise (key and keylen are then
 * unspecified). */
enum bh_err sign_secret_parse(const char *secret, unsigned char key[SIGN_KEY_MAX], size_t *keylen);

/* Writes "v1," + Base64(HMAC-SHA256(key, msg_id "." timestamp_s "." body)) to out, the
 * timestamp in decimal. BH_BADREQUEST for a bad secret, a NULL or empty msg_id, or a
 * negative timestamp. body may be NULL when len is 0. */
enum bh_err sign_message(const char *secret, const char *msg_id, int64_t timestamp_s,
                         const void *body, size_t len, char out[SIGN_SIGNATURE_MAX]);

/* The webhook-signature header value for n >= 1 secrets: one sign_message() signature per
 * secret, in order, joined by single spaces, NUL-terminated in out[0..outlen). Needs
 * outlen >= n * SIGN_SIGNATURE_MAX. BH_BADREQUEST as sign_message() or for n == 0,
 * BH_TOOBIG when out is too small (out is then the empty string). */
enum bh_err sign_header_for(const char *const *secrets, size_t n, const char *msg_id,
                            int64_t timestamp_s, const void *body, size_t len, char *out,
                            size_t outlen);

/* True if signature_header holds a "v1," entry (entries separated by one or more spaces;
 * other versions are skipped) equal to the signature of (msg_id, timestamp, body) under
 * secret, compared in constant time, and timestamp (decimal digits only, as received in
 * webhook-timestamp) lies within tolerance_s seconds of now_s either way. False for any
 * malformed argument, including a negative now_s or tolerance_s. */
bool sign_verify(const char *secret, const char *msg_id, const char *timestamp, const void *body,
                 size_t len, const char *signature_header, int64_t now_s, int64_t tolerance_s);

/* Writes a new message id, "msg_" + 24 random characters of A-Z a-z 0-9 '-' '_' (144 bits),
 * to out. Requires sodium_init() to have succeeded. */
void sign_message_id(char out[SIGN_ID_MAX]);

#endif
