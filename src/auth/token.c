/* token.c: random tokens from libsodium, hashed with BLAKE2b for storage. */
#include "auth/token.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

void token_new_hash(unsigned char out[32])
{
  char t[TOKEN_TEXT_LEN + 1];
  token_new(t);
  token_hash(t, out);
  sodium_memzero(t, sizeof t);
}

#define SERVICE_TOKEN_VERSION 1

static void put64(unsigned char *p, int64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
}

static int64_t get64(const unsigned char *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return (int64_t)v;
}

void service_token_make(const unsigned char key[SERVICE_TOKEN_KEY_LEN],
                        const struct service_token *t, char out[SERVICE_TOKEN_TEXT_LEN + 1])
{
  unsigned char raw[64] = {SERVICE_TOKEN_VERSION, (unsigned char)t->scope};
  put64(raw + 4, t->uoid);
  put64(raw + 12, t->soid);
  put64(raw + 20, t->roid);
  raw[28] = (unsigned char)((uint64_t)t->expires_s >> 24);
  raw[29] = (unsigned char)((uint64_t)t->expires_s >> 16);
  raw[30] = (unsigned char)((uint64_t)t->expires_s >> 8);
  raw[31] = (unsigned char)t->expires_s;
  crypto_auth_hmacsha256(raw + 32, raw, 32, key);
  sodium_bin2hex(out, SERVICE_TOKEN_TEXT_LEN + 1, raw, sizeof raw);
}

bool service_token_parse(const unsigned char key[SERVICE_TOKEN_KEY_LEN], const char *text,
                         struct service_token *out)
{
  unsigned char raw[64];
  size_t len = 0;
  if (!text || strlen(text) != SERVICE_TOKEN_TEXT_LEN ||
      sodium_hex2bin(raw, sizeof raw, text, SERVICE_TOKEN_TEXT_LEN, NULL, &len, NULL) != 0 ||
      len != sizeof raw)
    return false;
  if (crypto_auth_hmacsha256_verify(raw + 32, raw, 32, key) != 0 || raw[0] != SERVICE_TOKEN_VERSION)
    return false;
  out->scope = raw[1];
  out->uoid = get64(raw + 4);
  out->soid = get64(raw + 12);
  out->roid = get64(raw + 20);
  out->expires_s =
      ((int64_t)raw[28] << 24) | ((int64_t)raw[29] << 16) | ((int64_t)raw[30] << 8) | raw[31];
  return true;
}

enum bh_err service_token_key_load(const char *path, unsigned char key[SERVICE_TOKEN_KEY_LEN])
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, key, SERVICE_TOKEN_KEY_LEN);
    close(fd);
    return n == SERVICE_TOKEN_KEY_LEN ? BH_OK : BH_IO;
  }
  if (errno != ENOENT)
    return BH_IO;
  randombytes_buf(key, SERVICE_TOKEN_KEY_LEN);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return BH_IO;
  bool ok = write(fd, key, SERVICE_TOKEN_KEY_LEN) == SERVICE_TOKEN_KEY_LEN && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return BH_IO;
  }
  return BH_OK;
}
