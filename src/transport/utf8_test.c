/* utf8_test.c: strict UTF-8 (RFC 3629): boundaries, overlongs, surrogates, range, and
 * characters split across fragments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/utf8.h"

#define VALID(s) assert_true(utf8_valid((s), sizeof(s) - 1))
#define INVALID(s) assert_false(utf8_valid((s), sizeof(s) - 1))

static void accepts_boundaries(void **state)
{
  (void)state;
  VALID("");
  VALID("plain ascii {\"token\":\"x\"}");
  VALID("\x00"); /* U+0000 is a valid character */
  VALID("\x7f");
  VALID("\xc2\x80");                                     /* U+0080 */
  VALID("\xdf\xbf");                                     /* U+07FF */
  VALID("\xe0\xa0\x80");                                 /* U+0800 */
  VALID("\xed\x9f\xbf");                                 /* U+D7FF, just below the surrogates */
  VALID("\xee\x80\x80");                                 /* U+E000, just above */
  VALID("\xef\xbf\xbf");                                 /* U+FFFF */
  VALID("\xf0\x90\x80\x80");                             /* U+10000 */
  VALID("\xf4\x8f\xbf\xbf");                             /* U+10FFFF */
  VALID("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); /* "kosme" in Greek */
}

static void rejects_overlongs(void **state)
{
  (void)state;
  INVALID("\xc0\xaf");
  INVALID("\xc1\xbf");
  INVALID("\xe0\x80\xaf");
  INVALID("\xe0\x9f\xbf");
  INVALID("\xf0\x80\x80\xaf");
  INVALID("\xf0\x8f\xbf\xbf");
}

static void rejects_surrogates_and_range(void **state)
{
  (void)state;
  INVALID("\xed\xa0\x80");             /* U+D800 */
  INVALID("\xed\xbf\xbf");             /* U+DFFF */
  INVALID("\xed\xa0\x80\xed\xb0\x80"); /* a UTF-16 pair written as two 3-byte forms */
  INVALID("\xf4\x90\x80\x80");         /* U+110000 */
  INVALID("\xf5\x80\x80\x80");
  INVALID("\xf8\x88\x80\x80\x80"); /* old 5-byte form */
  INVALID("\xfe");
  INVALID("\xff");
}

static void rejects_broken_sequences(void **state)
{
  (void)state;
  INVALID("\x80"); /* lone continuation */
  INVALID("\xbf");
  INVALID("\xc2"); /* truncated at the end */
  INVALID("\xe1\x80");
  INVALID("\xf1\x80\x80");
  INVALID("\xc2\x41"); /* continuation missing */
  INVALID("\xe1\x80\x41");
  INVALID("a\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
          "edited");
}

static void split_inside_characters(void **state)
{
  (void)state;
  /* Every split point of a text with 2-, 3- and 4-byte characters stays valid. */
  static const char text[] = "a\xc2\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
  size_t n = sizeof text - 1;
  for (size_t cut = 0; cut <= n; cut++) {
    struct utf8_state s;
    utf8_init(&s);
    assert_true(utf8_feed(&s, text, cut));
    assert_true(utf8_feed(&s, text + cut, n - cut));
    assert_true(utf8_is_complete(&s));
  }
  /* A fragment ending mid-character is not complete yet. */
  struct utf8_state s;
  utf8_init(&s);
  assert_true(utf8_feed(&s, "\xf0\x9f", 2));
  assert_false(utf8_is_complete(&s));
  assert_true(utf8_feed(&s, "\x98", 1));
  assert_false(utf8_is_complete(&s));
  assert_true(utf8_feed(&s, "\x80", 1));
  assert_true(utf8_is_complete(&s));
}

static void split_bad_is_sticky(void **state)
{
  (void)state;
  /* A surrogate split after its lead byte is caught on the next fragment. */
  struct utf8_state s;
  utf8_init(&s);
  assert_true(utf8_feed(&s, "ok\xed", 3));
  assert_false(utf8_feed(&s, "\xa0\x80", 2));
  assert_false(utf8_feed(&s, "fine", 4));
  assert_false(utf8_is_complete(&s));
  /* A byte-at-a-time overlong fails at its second byte. */
  utf8_init(&s);
  assert_true(utf8_feed(&s, "\xe0", 1));
  assert_false(utf8_feed(&s, "\x80", 1));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_boundaries),           cmocka_unit_test(rejects_overlongs),
      cmocka_unit_test(rejects_surrogates_and_range), cmocka_unit_test(rejects_broken_sequences),
      cmocka_unit_test(split_inside_characters),      cmocka_unit_test(split_bad_is_sticky),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
