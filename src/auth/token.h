/* token.h: session tokens. A token is 32 random bytes written as 64 lower-case hex digits;
 * the store keeps only a BLAKE2b hash of it, so a copy of the database opens no session. */
#ifndef BH_TOKEN_H
#define BH_TOKEN_H

#include <stdbool.h>

#define TOKEN_TEXT_LEN 64

enum token_kind {
  TOKEN_LOGIN = 0,   /* AuthInterface.login / loginUserToken / setup */
  TOKEN_SERVICE = 1, /* handed to a remote service with a notification */
};

/* Fills out with a new random token and its NUL. Any thread. */
void token_new(char out[TOKEN_TEXT_LEN + 1]);
/* Hash of a token for lookup. False when the text cannot be a token (length, characters). */
bool token_hash(const char *token, unsigned char out[32]);

#endif
