/* fuzz_ssrf.c: the allow-list parser on arbitrary text, then the guard on addresses taken
 * from the same bytes. Nothing may crash or read out of bounds; a parsed list must be within
 * its limits, and an address the guard allows must be public, loopback or private.
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_ssrf.c src/outbound/ssrf.c */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbound/ssrf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct ssrf_allow allow;
  bool parsed = ssrf_allow_parse(text, &allow);
  free(text);
  if (parsed) {
    if (allow.n < 0 || allow.n > SSRF_ALLOW_MAX)
      abort();
    for (int i = 0; i < allow.n; i++)
      if (allow.cidr[i].prefix < 0 || allow.cidr[i].prefix > 128)
        abort();
  }
  /* The last 16 bytes (or fewer, zero-filled) as an IPv6 and the last 4 as an IPv4 address. */
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
  struct sockaddr_in in = {.sin_family = AF_INET};
  size_t n6 = size < 16 ? size : 16, n4 = size < 4 ? size : 4;
  memcpy(in6.sin6_addr.s6_addr + 16 - n6, data + size - n6, n6);
  memcpy((unsigned char *)&in.sin_addr + 4 - n4, data + size - n4, n4);
  const struct sockaddr *sas[] = {(const struct sockaddr *)&in6, (const struct sockaddr *)&in};
  for (size_t i = 0; i < 2; i++) {
    enum ssrf_class c = ssrf_classify(sas[i]);
    bool ok = ssrf_allowed(sas[i], parsed ? &allow : NULL);
    if (ok && c != SSRF_PUBLIC && c != SSRF_LOOPBACK && c != SSRF_PRIVATE)
      abort();
    if (c == SSRF_PUBLIC && !ok)
      abort();
  }
  return 0;
}
