/* utf8.c: strict UTF-8 validation as a byte-at-a-time state machine (RFC 3629 §4 table).
 * The first byte fixes the allowed range of the second one, which is what rejects
 * overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and > U+10FFFF (F4 90..BF)
 * early, so a bad message is refused at its first bad byte. */
#include "transport/utf8.h"

void utf8_init(struct utf8_state *s)
{
  s->need = 0;
  s->lo = 0x80;
  s->hi = 0xBF;
  s->is_bad = false;
}

static bool utf8_lead(struct utf8_state *s, uint8_t b)
{
  s->lo = 0x80;
  s->hi = 0xBF;
  if (b < 0x80)
    return true;
  if (b >= 0xC2 && b <= 0xDF) {
    s->need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    s->need = 2;
    if (b == 0xE0)
      s->lo = 0xA0; /* below: overlong */
    else if (b == 0xED)
      s->hi = 0x9F; /* above: UTF-16 surrogates */
  } else if (b >= 0xF0 && b <= 0xF4) {
    s->need = 3;
    if (b == 0xF0)
      s->lo = 0x90; /* below: overlong */
    else if (b == 0xF4)
      s->hi = 0x8F; /* above: beyond U+10FFFF */
  } else {
    return false; /* 80..C1 (continuation or overlong lead), F5..FF */
  }
  return true;
}

bool utf8_feed(struct utf8_state *s, const void *data, size_t len)
{
  const uint8_t *p = data;
  if (s->is_bad)
    return false;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = p[i];
    if (s->need == 0) {
      if (b < 0x80)
        continue; /* ASCII fast path */
      if (!utf8_lead(s, b))
        goto bad;
    } else {
      if (b < s->lo || b > s->hi)
        goto bad;
      s->lo = 0x80; /* only the second byte has a narrowed range */
      s->hi = 0xBF;
      s->need--;
    }
  }
  return true;
bad:
  s->is_bad = true;
  return false;
}

bool utf8_is_complete(const struct utf8_state *s)
{
  return !s->is_bad && s->need == 0;
}

bool utf8_valid(const void *data, size_t len)
{
  struct utf8_state s;
  utf8_init(&s);
  return utf8_feed(&s, data, len) && utf8_is_complete(&s);
}
