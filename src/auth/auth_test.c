/* auth_test.c: password hashes, tokens and the failed-login throttle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "auth/password.h"
#include "auth/throttle.h"
#include "auth/token.h"

static void password_round_trip(void **state)
{
  (void)state;
  char h[PASSWORD_HASH_MAX];
  assert_int_equal(password_hash("s3cret", 1, 8192 * 1024, h), BH_OK);
  assert_non_null(strstr(h, "$argon2id$"));
  assert_true(password_verify(h, "s3cret"));
  assert_false(password_verify(h, "s3creT"));
  assert_false(password_verify(NULL, "x"));
  assert_false(password_verify("garbage", "x"));
}

static void tokens_are_random_hex_and_hash_stably(void **state)
{
  (void)state;
  char a[TOKEN_TEXT_LEN + 1], b[TOKEN_TEXT_LEN + 1];
  token_new(a);
  token_new(b);
  assert_int_equal(strlen(a), TOKEN_TEXT_LEN);
  assert_string_not_equal(a, b);
  unsigned char h1[32], h2[32];
  assert_true(token_hash(a, h1));
  assert_true(token_hash(a, h2));
  assert_memory_equal(h1, h2, 32);
  assert_false(token_hash("short", h1));
  char bad[TOKEN_TEXT_LEN + 1];
  memcpy(bad, a, sizeof bad);
  bad[3] = 'G';
  assert_false(token_hash(bad, h1));
}

/* A service token carries its fields under a MAC: they come back intact, and any change to
 * the text, another key or another length is refused. */
static void service_tokens_round_trip_and_refuse_changes(void **state)
{
  (void)state;
  unsigned char key[SERVICE_TOKEN_KEY_LEN], other[SERVICE_TOKEN_KEY_LEN];
  memset(key, 7, sizeof key);
  memset(other, 8, sizeof other);
  struct service_token t = {
      .scope = 1, .uoid = 65537, .soid = 720902, .roid = -1, .expires_s = 1763856000};
  char text[SERVICE_TOKEN_TEXT_LEN + 1];
  service_token_make(key, &t, text);
  assert_int_equal(strlen(text), SERVICE_TOKEN_TEXT_LEN);
  struct service_token got;
  assert_true(service_token_parse(key, text, &got));
  assert_int_equal(got.scope, 1);
  assert_int_equal(got.uoid, 65537);
  assert_int_equal(got.soid, 720902);
  assert_int_equal(got.roid, -1);
  assert_int_equal(got.expires_s, 1763856000);
  assert_false(service_token_parse(other, text, &got));
  for (size_t i = 0; i < SERVICE_TOKEN_TEXT_LEN; i += 7) {
    char changed[SERVICE_TOKEN_TEXT_LEN + 1];
    memcpy(changed, text, sizeof changed);
    changed[i] = changed[i] == 'a' ? 'b' : 'a';
    assert_false(service_token_parse(key, changed, &got));
  }
  text[SERVICE_TOKEN_TEXT_LEN - 1] = '\0';
  assert_false(service_token_parse(key, text, &got));
  assert_false(service_token_parse(key, NULL, &got));
  /* a login token is no service token */
  char login[TOKEN_TEXT_LEN + 1];
  token_new(login);
  assert_false(service_token_parse(key, login, &got));
}

static void throttle_doubles_caps_and_forgets(void **state)
{
  (void)state;
  struct throttle_limits lim = {.base_ms = 100, .max_ms = 500, .window_ms = 15 * 60 * 1000};
  struct throttle *t = throttle_new(&lim);
  assert_int_equal(throttle_failure(t, "a@b.c", "10.0.0.1", 1000), 100);
  assert_int_equal(throttle_failure(t, "A@B.C", "10.0.0.2", 1001), 200);
  assert_int_equal(throttle_failure(t, "a@b.c", "10.0.0.3", 1002), 400);
  assert_int_equal(throttle_failure(t, "a@b.c", "10.0.0.4", 1003), 500);
  /* the address counts on its own: a new user from a guessing address is slowed too */
  assert_int_equal(throttle_failure(t, "x@y.z", "10.0.0.1", 1004), 200);
  throttle_success(t, "a@b.c", "10.0.0.9");
  assert_int_equal(throttle_failure(t, "a@b.c", "10.0.0.9", 1005), 100);
  /* forgotten after the window */
  assert_int_equal(throttle_failure(t, "x@y.z", "10.0.0.1", 1004 + 16 * 60 * 1000), 100);
  throttle_free(t);
}

/* One attempt: begun, then failed. Returns what throttle_begin said (0: it ran). */
static unsigned attempt(struct throttle *t, const char *user, const char *addr, int64_t now)
{
  unsigned delay = 0;
  unsigned wait = throttle_begin(t, user, addr, now, &delay);
  if (wait == 0)
    throttle_failure(t, user, addr, now);
  else
    assert_true(delay > 0);
  return wait;
}

/* Past the limit an attempt is refused before any check, per user name (trimmed, any case)
 * and per address, until the window has passed since the last failure. */
static void throttle_limits_users_and_addresses(void **state)
{
  (void)state;
  struct throttle_limits lim = {
      .base_ms = 10, .max_ms = 100, .user_max = 3, .addr_max = 5, .window_ms = 10000};
  struct throttle *t = throttle_new(&lim);
  for (int i = 0; i < 3; i++)
    assert_int_equal(attempt(t, "a@b.c", "10.0.0.1", 1000 + i), 0);
  assert_int_equal(attempt(t, " A@B.C ", "10.0.0.2", 2000), 10); /* 10 s after the last */
  assert_int_equal(attempt(t, "a@b.c", "10.0.0.2", 11001), 1);
  /* another user from the same address goes on, until the address has 5 failures */
  assert_int_equal(attempt(t, "x@y.z", "10.0.0.1", 2000), 0);
  assert_int_equal(attempt(t, "x@y.z", "10.0.0.1", 2001), 0);
  assert_int_equal(attempt(t, "q@y.z", "10.0.0.1", 2002), 10);
  assert_int_equal(attempt(t, "q@y.z", "10.0.0.3", 2003), 0);
  /* after the window: counted from zero */
  assert_int_equal(attempt(t, "a@b.c", "10.0.0.4", 1002 + 10000), 0);
  /* no user name: the address alone */
  assert_int_equal(attempt(t, NULL, "10.0.0.1", 2004), 10);
  assert_int_equal(attempt(t, "", "10.0.0.5", 2005), 0);
  throttle_free(t);
}

/* Attempts count from their start: parallel ones cannot all pass before the first fails. A
 * success clears the user's count. */
static void throttle_counts_running_attempts(void **state)
{
  (void)state;
  struct throttle_limits lim = {
      .base_ms = 10, .max_ms = 100, .user_max = 3, .addr_max = 100, .window_ms = 10000};
  struct throttle *t = throttle_new(&lim);
  unsigned d;
  for (int i = 0; i < 3; i++)
    assert_int_equal(throttle_begin(t, "p@b.c", "10.0.0.1", 1000, &d), 0);
  assert_true(throttle_begin(t, "p@b.c", "10.0.0.2", 1001, &d) > 0);
  throttle_failure(t, "p@b.c", "10.0.0.1", 1002);
  throttle_failure(t, "p@b.c", "10.0.0.1", 1003);
  throttle_success(t, "p@b.c", "10.0.0.1");
  for (int i = 0; i < 3; i++)
    assert_int_equal(attempt(t, "p@b.c", "10.0.0.1", 1004 + i), 0);
  assert_true(attempt(t, "p@b.c", "10.0.0.1", 1010) > 0);
  throttle_free(t);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(password_round_trip),
      cmocka_unit_test(tokens_are_random_hex_and_hash_stably),
      cmocka_unit_test(service_tokens_round_trip_and_refuse_changes),
      cmocka_unit_test(throttle_doubles_caps_and_forgets),
      cmocka_unit_test(throttle_limits_users_and_addresses),
      cmocka_unit_test(throttle_counts_running_attempts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
