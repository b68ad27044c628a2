/* password.c: argon2id through libsodium's crypto_pwhash_str. */
#include "auth/password.h"

#include <sodium.h>
#include <string.h>

_Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");

enum bh_err password_hash(const char *password, uint64_t ops_limit, size_t mem_limit_bytes,
                          char out[PASSWORD_HASH_MAX])
{
  if (crypto_pwhash_str_alg(out, password, strlen(password), ops_limit, mem_limit_bytes,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return BH_NOMEM;
  return BH_OK;
}

bool password_verify(const char *hash, const char *password)
{
  if (!hash || !password)
    return false;
  return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}
