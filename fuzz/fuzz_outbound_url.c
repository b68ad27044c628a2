/* fuzz_outbound_url.c: the outbound guard's URL check on arbitrary text. Nothing may crash or
 * read out of bounds; a URL it takes must be http or https with a host, a port in 1..65535
 * and no user information left in what is sent, and its CONNECT_TO entry for an address made
 * of the same bytes must have the "::ADDR:PORT" shape. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbound/outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct outbound_url u;
  struct bh_why why = {0};
  enum bh_err rc = outbound_parse(text, &u, &why);
  free(text);
  if (rc == BH_OK) {
    if (strncmp(u.url, "http://", 7) != 0 && strncmp(u.url, "https://", 8) != 0)
      abort();
    if (!u.host[0] || u.port <= 0 || u.port > 65535)
      abort();
    const char *auth = strstr(u.url, "://") + 3;
    size_t alen = strcspn(auth, "/?#");
    if (memchr(auth, '@', alen) || strchr(u.origin, '@'))
      abort(); /* user information would let the text name another host */
  } else if (rc != BH_BADREQUEST && rc != BH_NOMEM) {
    abort();
  }
  if (size >= 16) {
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    memcpy(&in6.sin6_addr, data, 16);
    char entry[80];
    if (!outbound_connect_to_entry((struct sockaddr *)&in6, (int)(data[0] | data[1] << 8), entry,
                                   sizeof entry) ||
        strncmp(entry, "::[", 3) != 0 || !strstr(entry, "]:"))
      abort();
  }
  return 0;
}
