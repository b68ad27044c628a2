/* password.h: argon2id password hashes (libsodium's encoded string form, which carries its
 * own salt and cost parameters, so old hashes keep verifying after the costs change). */
#ifndef BH_PASSWORD_H
#define BH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

#define PASSWORD_HASH_MAX 128 /* >= crypto_pwhash_STRBYTES */

/* Any thread. Takes tens of milliseconds by design. */
enum bh_err password_hash(const char *password, uint64_t ops_limit, size_t mem_limit_bytes,
                          char out[PASSWORD_HASH_MAX]);
bool password_verify(const char *hash, const char *password);

#endif
