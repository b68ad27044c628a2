/* utf8.h: strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF. WebSocket text must be valid UTF-8 (RFC 6455
 * §8.1) and wslay does not check it. Pure functions: any thread, no allocation. */
#ifndef BH_TRANSPORT_UTF8_H
#define BH_TRANSPORT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Incremental validator: text may be fed in pieces split anywhere, even inside a
 * character. Embedded in the caller; needs no cleanup. */
struct utf8_state {
  uint8_t need;   /* continuation bytes still expected for the current character */
  uint8_t lo, hi; /* allowed range of the next continuation byte */
  bool is_bad;    /* sticky: once invalid, always invalid */
};

void utf8_init(struct utf8_state *s);
/* Feeds len bytes. Returns false as soon as the input so far cannot be valid UTF-8. */
bool utf8_feed(struct utf8_state *s, const void *data, size_t len);
/* True when everything fed so far is valid and ends on a character boundary. */
bool utf8_is_complete(const struct utf8_state *s);
/* One-shot: is data[0..len) valid UTF-8? */
bool utf8_valid(const void *data, size_t len);

#endif
