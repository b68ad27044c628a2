/* outbound_test.c: what the guard's URL parser takes and refuses (the forms that reached
 * internal hosts before: numeric IPv4 spellings, user information, zone ids), the normalized
 * host it checks, and the CONNECT_TO entry it pins with, IPv6 included. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "outbound/outbound.h"

static void takes(const char *url, const char *host, int port, const char *normalized)
{
  struct outbound_url u;
  struct bh_why why = {0};
  if (outbound_parse(url, &u, &why) != BH_OK)
    fail_msg("refused %s: %s", url, why.text);
  assert_string_equal(u.host, host);
  assert_int_equal(u.port, port);
  if (normalized)
    assert_string_equal(u.url, normalized);
}

static void refuses(const char *url)
{
  struct outbound_url u;
  struct bh_why why = {0};
  if (outbound_parse(url, &u, &why) != BH_BADREQUEST)
    fail_msg("took %s (host %s)", url, u.host);
  assert_true(why.text[0] != '\0');
}

static void numeric_forms(void **state)
{
  (void)state;
  /* every spelling of 127.0.0.1 becomes the address that is checked and sent */
  const char *forms[] = {"http://127.1/",      "http://2130706433/", "http://0x7f000001/",
                         "http://0177.0.0.1/", "http://0x7f.1/",     "http://127.0.0.1/"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
    takes(forms[i], "127.0.0.1", 80, "http://127.0.0.1/");
  takes("http://[::1]:8080/x?y=1", "::1", 8080, "http://[::1]:8080/x?y=1");
  takes("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", 80, NULL);
  takes("https://Example.TEST/a", "Example.TEST", 443, NULL);
  takes("HTTP://h:8082", "h", 8082, "http://h:8082/");
  takes("http://%6c%6fcalhost/", "localhost", 80, "http://localhost/");
}

static void refused_forms(void **state)
{
  (void)state;
  const char *bad[] = {"ftp://127.0.0.1/x",
                       "file:///etc/passwd",
                       "gopher://127.0.0.1:70/",
                       "javascript:alert(1)",
                       "127.0.0.1:8081",
                       "",
                       "http://",
                       "http:h",
                       "http://user@127.0.0.1:99/",
                       "http://127.0.0.1:99@localhost:98/",
                       "http://:@h/",
                       "http://@h/",
                       "http://u:p@h/",
                       "http://h\\@e/",
                       "http://[fe80::1%25eth0]/",
                       "http://h:0/",
                       "http://h:99999/",
                       "http://h%00x/",
                       "http://exa mple/",
                       "dict://127.0.0.1:11211/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    refuses(bad[i]);
  struct outbound_url u;
  assert_int_equal(outbound_parse(NULL, &u, NULL), BH_BADREQUEST);
  char longer[OUTBOUND_URL_MAX + 16] = "http://h/";
  memset(longer + 9, 'a', sizeof longer - 10);
  longer[sizeof longer - 1] = '\0';
  refuses(longer);
}

static void connect_to_entries(void **state)
{
  (void)state;
  char buf[80];
  struct sockaddr_in in = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
  assert_true(outbound_connect_to_entry((struct sockaddr *)&in, 8080, buf, sizeof buf));
  assert_string_equal(buf, "::127.0.0.2:8080");
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
  inet_pton(AF_INET6, "::1", &in6.sin6_addr);
  assert_true(outbound_connect_to_entry((struct sockaddr *)&in6, 443, buf, sizeof buf));
  assert_string_equal(buf, "::[::1]:443");
  assert_false(outbound_connect_to_entry((struct sockaddr *)&in6, 443, buf, 8)); /* too small */
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  assert_false(outbound_connect_to_entry((struct sockaddr *)&un, 80, buf, sizeof buf));
  assert_false(outbound_connect_to_entry(NULL, 80, buf, sizeof buf));
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(numeric_forms),
                                     cmocka_unit_test(refused_forms),
                                     cmocka_unit_test(connect_to_entries)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
