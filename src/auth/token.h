/* token.h: session tokens. A token is 32 random bytes written as 64 lower-case hex digits;
 * the store keeps only a BLAKE2b hash of it, so a copy of the database opens no session. */
#ifndef BH_TOKEN_H
#define BH_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/bh_err.h"

#define TOKEN_TEXT_LEN 64
#define SERVICE_TOKEN_TEXT_LEN 128
#define SERVICE_TOKEN_KEY_LEN 32

enum token_kind {
  TOKEN_LOGIN = 0, /* AuthInterface.login / loginUserToken / setup */
};

/* Fills out with a new random token and its NUL. Any thread. */
void token_new(char out[TOKEN_TEXT_LEN + 1]);
/* Hash of a token for lookup. False when the text cannot be a token (length, characters). */
bool token_hash(const char *token, unsigned char out[32]);
/* The hash of a new random token that is then forgotten: a permanent user token, which
 * nothing gives out (replacing it revokes the old one). */
void token_new_hash(unsigned char out[32]);

/* Service tokens are not stored: the text carries what the token is for and an HMAC-SHA256
 * under a server key, so issuing one costs no database write. 64 bytes as 128 lower-case hex
 * digits: version, scope, owner, service, revision, expiry (Unix seconds), then the HMAC of
 * those 32 bytes. Revocation is by expiry and by the service's state, checked on each use. */
struct service_token {
  int scope;
  int64_t uoid, soid, roid;
  int64_t expires_s;
};
void service_token_make(const unsigned char key[SERVICE_TOKEN_KEY_LEN],
                        const struct service_token *t, char out[SERVICE_TOKEN_TEXT_LEN + 1]);
/* False for anything that is not a service token made with key (length, digits, MAC). */
bool service_token_parse(const unsigned char key[SERVICE_TOKEN_KEY_LEN], const char *text,
                         struct service_token *out);
/* Reads the key from path, or makes a new random one and writes it there (mode 0600). */
enum bh_err service_token_key_load(const char *path, unsigned char key[SERVICE_TOKEN_KEY_LEN]);

#endif
