/* bh_base64.h: standard Base64 with padding (RFC 4648 §4), as BIMserver writes byte[] and
 * DataHandler values. The decoder is lenient the way Java's MIME decoder is: white space is
 * skipped and padding may be missing. */
#ifndef BH_BASE64_H
#define BH_BASE64_H

#include <stdbool.h>
#include <stddef.h>

static inline size_t bh_base64_encoded_len(size_t n)
{
  return (n + 2) / 3 * 4;
}

/* Writes the encoding of in[0..n) and a NUL to out, which holds encoded_len(n) + 1. */
void bh_base64_encode(const void *in, size_t n, char *out);
/* Decodes text[0..len) into out, which holds len * 3 / 4 + 3 bytes. False on a character
 * outside the alphabet or a misplaced '='. */
bool bh_base64_decode(const char *text, size_t len, unsigned char *out, size_t *out_len);

#endif
