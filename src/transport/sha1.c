/* sha1.c: SHA-1 and the RFC 6455 accept-key derivation. Written from FIPS 180-4 §6.1;
 * a small local base64 encoder keeps libsodium's header out of transport. */
#include "transport/sha1.h"

#include <string.h>

static uint32_t rol32(uint32_t x, unsigned n)
{
  return (x << n) | (x >> (32 - n));
}

static void sha1_block(struct sha1_ctx *c, const uint8_t *p)
{
  uint32_t w[80];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           (uint32_t)p[4 * i + 3];
  for (int i = 16; i < 80; i++)
    w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

  uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & cc) | (~b & d);
      k = 0x5A827999u;
    } else if (i < 40) {
      f = b ^ cc ^ d;
      k = 0x6ED9EBA1u;
    } else if (i < 60) {
      f = (b & cc) | (b & d) | (cc & d);
      k = 0x8F1BBCDCu;
    } else {
      f = b ^ cc ^ d;
      k = 0xCA62C1D6u;
    }
    uint32_t t = rol32(a, 5) + f + e + k + w[i];
    e = d;
    d = cc;
    cc = rol32(b, 30);
    b = a;
    a = t;
  }
  c->h[0] += a;
  c->h[1] += b;
  c->h[2] += cc;
  c->h[3] += d;
  c->h[4] += e;
}

void sha1_init(struct sha1_ctx *c)
{
  static const uint32_t iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  memcpy(c->h, iv, sizeof iv);
  c->total = 0;
  c->used = 0;
}

void sha1_update(struct sha1_ctx *c, const void *data, size_t len)
{
  const uint8_t *p = data;
  c->total += len;
  while (len > 0) {
    size_t take = sizeof c->block - c->used;
    if (take > len)
      take = len;
    memcpy(c->block + c->used, p, take);
    c->used += take;
    p += take;
    len -= take;
    if (c->used == sizeof c->block) {
      sha1_block(c, c->block);
      c->used = 0;
    }
  }
}

void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_DIGEST_LEN])
{
  uint64_t bits = c->total * 8;
  static const uint8_t pad = 0x80;
  static const uint8_t zero[64];
  sha1_update(c, &pad, 1);
  /* Pad with zeros until 8 bytes remain in the block for the length. */
  size_t fill = (c->used <= 56) ? 56 - c->used : 64 + 56 - c->used;
  sha1_update(c, zero, fill);
  uint8_t len_be[8];
  for (int i = 0; i < 8; i++)
    len_be[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha1_update(c, len_be, sizeof len_be);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
}

void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LEN])
{
  struct sha1_ctx c;
  sha1_init(&c);
  sha1_update(&c, data, len);
  sha1_final(&c, out);
}

void sha1_ws_accept(const char *key, size_t key_len, char out[SHA1_WS_ACCEPT_LEN + 1])
{
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  struct sha1_ctx c;
  uint8_t d[SHA1_DIGEST_LEN];
  sha1_init(&c);
  sha1_update(&c, key, key_len);
  sha1_update(&c, guid, sizeof guid - 1);
  sha1_final(&c, d);

  /* 20 bytes = 6 full groups of 3, then 2 bytes: one '=' of padding. */
  size_t o = 0;
  for (size_t i = 0; i < 18; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
    out[o++] = b64[v >> 18 & 63];
    out[o++] = b64[v >> 12 & 63];
    out[o++] = b64[v >> 6 & 63];
    out[o++] = b64[v & 63];
  }
  uint32_t v = (uint32_t)d[18] << 16 | (uint32_t)d[19] << 8;
  out[o++] = b64[v >> 18 & 63];
  out[o++] = b64[v >> 12 & 63];
  out[o++] = b64[v >> 6 & 63];
  out[o++] = '=';
  out[o] = '\0';
}
