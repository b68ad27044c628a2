/* bh_base64.c: table-driven Base64. */
#include "common/bh_base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void bh_base64_encode(const void *in, size_t n, char *out)
{
  const unsigned char *p = in;
  size_t i = 0, k = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[k++] = alphabet[v >> 18];
    out[k++] = alphabet[(v >> 12) & 63];
    out[k++] = alphabet[(v >> 6) & 63];
    out[k++] = alphabet[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    out[k++] = alphabet[v >> 18];
    out[k++] = alphabet[(v >> 12) & 63];
    out[k++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    out[k++] = '=';
  }
  out[k] = '\0';
}

static int value_of(unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

bool bh_base64_decode(const char *text, size_t len, unsigned char *out, size_t *out_len)
{
  uint32_t acc = 0;
  int bits = 0;
  size_t k = 0;
  bool padding = false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
      continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = value_of(c);
    if (v < 0 || padding)
      return false; /* nothing but padding and white space after the first '=' */
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[k++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  *out_len = k;
  return bits < 6; /* a lone sixth of a byte cannot be */
}
