/* token.c: random tokens from libsodium, hashed with BLAKE2b for storage. */
#include "auth/token.h"

#include <sodium.h>
#include <string.h>

void token_new(char out[TOKEN_TEXT_LEN + 1])
{
  unsigned char raw[TOKEN_TEXT_LEN / 2];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(out, TOKEN_TEXT_LEN + 1, raw, sizeof raw);
}

bool token_hash(const char *token, unsigned char out[32])
{
  if (!token || strlen(token) != TOKEN_TEXT_LEN)
    return false;
  for (const char *p = token; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  crypto_generichash(out, 32, (const unsigned char *)token, TOKEN_TEXT_LEN, NULL, 0);
  return true;
}
