/* budget_test.c: accounts reserve from one budget and give it back; Jansson's allocations
 * inside an account are counted, so a parse that would need more than the budget fails
 * instead of growing the heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "transport/budget.h"

static void accounts_share_the_budget(void **state)
{
  (void)state;
  budget_init(1 << 20);
  struct budget_acct a = {0}, b = {0};
  assert_true(budget_take(&a, 600 * 1024));
  assert_true(budget_in_use() >= 600 * 1024);
  assert_false(budget_take(&b, 600 * 1024)); /* busy: would fit alone */
  assert_true(b.is_refused);
  assert_false(b.is_too_big);
  assert_true(budget_take(&b, 100 * 1024));
  budget_give(&a, 600 * 1024); /* freed, but still reserved until the request ends */
  assert_true(budget_take(&a, 500 * 1024));
  budget_return(&a);
  budget_return(&b);
  assert_int_equal(budget_in_use(), 0);
  assert_false(budget_take(&a, (1 << 20) + 1)); /* never fits */
  assert_true(a.is_too_big);
  budget_return(&a);
  assert_int_equal(budget_in_use(), 0);
}

/* "[0,0,...]": a few bytes of text, tens of bytes of values each. */
static char *zeros(size_t n, size_t *len)
{
  char *s = malloc(2 * n + 2);
  assert_non_null(s);
  s[0] = '[';
  for (size_t i = 0; i < n; i++) {
    s[1 + 2 * i] = '0';
    s[2 + 2 * i] = ',';
  }
  s[2 * n] = ']';
  s[2 * n + 1] = '\0';
  *len = 2 * n + 1;
  return s;
}

static void parse_is_bounded(void **state)
{
  (void)state;
  budget_init(4 << 20);
  size_t len;
  char *text = zeros(1 << 20, &len); /* 2 MiB of text, far more than 4 MiB of values */
  struct budget_acct a = {0};
  budget_enter(&a);
  json_t *j = json_loadb(text, len, 0, NULL);
  budget_leave();
  assert_null(j);
  assert_true(a.is_refused);
  assert_true(a.is_too_big);
  budget_return(&a);
  assert_int_equal(budget_in_use(), 0);

  /* a small document fits, and what it allocated is counted until it is freed */
  budget_enter(&a);
  j = json_loadb(text, 2001, 0, NULL); /* the first 1000 zeros, ']' replaced below */
  budget_leave();
  assert_null(j); /* cut off: not valid JSON, but no refusal */
  assert_false(a.is_refused);
  text[2000] = ']';
  budget_enter(&a);
  j = json_loadb(text, 2001, 0, NULL);
  int64_t used = a.used;
  char *dump = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  budget_leave();
  assert_non_null(dump);
  assert_true(used > 1000 * 16);
  assert_false(a.is_refused);
  free(dump); /* plain free() still matches Jansson's allocations */
  budget_return(&a);
  assert_int_equal(budget_in_use(), 0);

  /* outside an account nothing is counted or refused */
  j = json_loadb(text, 2001, 0, NULL);
  assert_non_null(j);
  assert_int_equal(budget_in_use(), 0);
  json_decref(j);
  free(text);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accounts_share_the_budget),
      cmocka_unit_test(parse_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
