/* sha1.h: SHA-1 (FIPS 180-4), only for the WebSocket handshake (RFC 6455 §4.2.2), where
 * the protocol fixes the hash; never use it for anything that needs collision resistance.
 * Pure functions: any thread, no allocation. */
#ifndef BH_TRANSPORT_SHA1_H
#define BH_TRANSPORT_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20
/* Length of a Sec-WebSocket-Accept value: base64 of 20 bytes. */
#define SHA1_WS_ACCEPT_LEN 28

struct sha1_ctx {
  uint32_t h[5];
  uint64_t total; /* bytes hashed so far */
  uint8_t block[64];
  size_t used; /* bytes waiting in block */
};

/* Incremental hashing: init, update any number of times, final once. The caller owns ctx. */
void sha1_init(struct sha1_ctx *c);
void sha1_update(struct sha1_ctx *c, const void *data, size_t len);
void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_DIGEST_LEN]);
/* One-shot digest of data[0..len). */
void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LEN]);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)).
 * Writes SHA1_WS_ACCEPT_LEN characters and a NUL to out. */
void sha1_ws_accept(const char *key, size_t key_len, char out[SHA1_WS_ACCEPT_LEN + 1]);

#endif
