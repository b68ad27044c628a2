/* ssrf_test.c: every class at its range boundaries, every IPv6 form carrying an IPv4
 * address, the allow list's reach (and where it has none), and bad allow lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "outbound/ssrf.h"

static struct sockaddr_storage addr(const char *text)
{
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(443);
  } else {
    assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(443);
  }
  return ss;
}

static enum ssrf_class cls(const char *text)
{
  struct sockaddr_storage ss = addr(text);
  return ssrf_classify((const struct sockaddr *)&ss);
}

static bool allowed(const char *text, const struct ssrf_allow *allow)
{
  struct sockaddr_storage ss = addr(text);
  return ssrf_allowed((const struct sockaddr *)&ss, allow);
}

struct want {
  const char *addr;
  enum ssrf_class cls;
};

static void check(const struct want *w, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    enum ssrf_class got = cls(w[i].addr);
    if (got != w[i].cls)
      fail_msg("%s: %s, want %s", w[i].addr, ssrf_class_name(got), ssrf_class_name(w[i].cls));
  }
}

static void ipv4_classes(void **state)
{
  (void)state;
  static const struct want w[] = {
      {"8.8.8.8", SSRF_PUBLIC},
      {"1.1.1.1", SSRF_PUBLIC},
      {"0.0.0.0", SSRF_UNSPECIFIED},
      {"0.255.255.255", SSRF_UNSPECIFIED},
      {"1.0.0.0", SSRF_PUBLIC},
      {"9.255.255.255", SSRF_PUBLIC},
      {"10.0.0.0", SSRF_PRIVATE},
      {"10.255.255.255", SSRF_PRIVATE},
      {"11.0.0.0", SSRF_PUBLIC},
      {"100.63.255.255", SSRF_PUBLIC},
      {"100.64.0.0", SSRF_PRIVATE},
      {"100.127.255.255", SSRF_PRIVATE},
      {"100.128.0.0", SSRF_PUBLIC},
      {"126.255.255.255", SSRF_PUBLIC},
      {"127.0.0.0", SSRF_LOOPBACK},
      {"127.0.0.1", SSRF_LOOPBACK},
      {"127.255.255.255", SSRF_LOOPBACK},
      {"128.0.0.0", SSRF_PUBLIC},
      {"169.253.255.255", SSRF_PUBLIC},
      {"169.254.0.0", SSRF_LINK_LOCAL},
      {"169.254.169.254", SSRF_LINK_LOCAL},
      {"169.254.255.255", SSRF_LINK_LOCAL},
      {"169.255.0.0", SSRF_PUBLIC},
      {"172.15.255.255", SSRF_PUBLIC},
      {"172.16.0.0", SSRF_PRIVATE},
      {"172.31.255.255", SSRF_PRIVATE},
      {"172.32.0.0", SSRF_PUBLIC},
      {"191.255.255.255", SSRF_PUBLIC},
      {"192.0.0.0", SSRF_RESERVED},
      {"192.0.0.255", SSRF_RESERVED},
      {"192.0.1.0", SSRF_PUBLIC},
      {"192.0.2.0", SSRF_RESERVED},
      {"192.0.2.255", SSRF_RESERVED},
      {"192.0.3.0", SSRF_PUBLIC},
      {"192.88.99.1", SSRF_RESERVED},
      {"192.167.255.255", SSRF_PUBLIC},
      {"192.168.0.0", SSRF_PRIVATE},
      {"192.168.255.255", SSRF_PRIVATE},
      {"192.169.0.0", SSRF_PUBLIC},
      {"198.17.255.255", SSRF_PUBLIC},
      {"198.18.0.0", SSRF_RESERVED},
      {"198.19.255.255", SSRF_RESERVED},
      {"198.20.0.0", SSRF_PUBLIC},
      {"198.51.100.7", SSRF_RESERVED},
      {"203.0.113.7", SSRF_RESERVED},
      {"203.0.114.0", SSRF_PUBLIC},
      {"223.255.255.255", SSRF_PUBLIC},
      {"224.0.0.0", SSRF_MULTICAST},
      {"239.255.255.255", SSRF_MULTICAST},
      {"240.0.0.0", SSRF_RESERVED},
      {"255.255.255.254", SSRF_RESERVED},
      {"255.255.255.255", SSRF_RESERVED},
  };
  check(w, sizeof w / sizeof w[0]);
}

static void ipv6_classes(void **state)
{
  (void)state;
  static const struct want w[] = {
      {"::", SSRF_UNSPECIFIED},
      {"::1", SSRF_LOOPBACK},
      {"2606:4700:4700::1111", SSRF_PUBLIC},
      {"2001:4860:4860::8888", SSRF_PUBLIC},
      {"2000::", SSRF_PUBLIC},
      {"3fff:1000::", SSRF_PUBLIC},
      {"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_PUBLIC},
      {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_RESERVED},
      {"4000::", SSRF_RESERVED},
      {"100::1", SSRF_RESERVED},
      {"::1:0:0:1", SSRF_RESERVED},
      {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_RESERVED},
      {"fc00::", SSRF_PRIVATE},
      {"fd12:3456::1", SSRF_PRIVATE},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_PRIVATE},
      {"fe00::", SSRF_RESERVED},
      {"fe80::", SSRF_LINK_LOCAL},
      {"fe80::1", SSRF_LINK_LOCAL},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_LINK_LOCAL},
      {"fec0::1", SSRF_PRIVATE},
      {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_PRIVATE},
      {"ff00::", SSRF_MULTICAST},
      {"ff02::1", SSRF_MULTICAST},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_MULTICAST},
      {"2001:db8::1", SSRF_RESERVED},
      {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_RESERVED},
      {"2001:db9::", SSRF_PUBLIC},
      {"2001::1", SSRF_RESERVED},
      {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_RESERVED},
      {"2001:1::", SSRF_PUBLIC},
      {"2001:2::1", SSRF_RESERVED},
      {"2001:2:0:ffff::", SSRF_RESERVED},
      {"2001:2:1::", SSRF_PUBLIC},
      {"3fff::1", SSRF_RESERVED},
      {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", SSRF_RESERVED},
      {"64:ff9b:1::1", SSRF_RESERVED},
  };
  check(w, sizeof w / sizeof w[0]);
}

static void embedded_ipv4(void **state)
{
  (void)state;
  static const struct want w[] = {
      /* IPv4-mapped */
      {"::ffff:8.8.8.8", SSRF_PUBLIC},
      {"::ffff:127.0.0.1", SSRF_LOOPBACK},
      {"::ffff:10.1.2.3", SSRF_PRIVATE},
      {"::ffff:169.254.169.254", SSRF_LINK_LOCAL},
      {"::ffff:224.0.0.1", SSRF_MULTICAST},
      {"::ffff:0.0.0.0", SSRF_UNSPECIFIED},
      {"::ffff:255.255.255.255", SSRF_RESERVED},
      /* IPv4-translated (SIIT) */
      {"::ffff:0:127.0.0.1", SSRF_LOOPBACK},
      {"::ffff:0:8.8.8.8", SSRF_PUBLIC},
      /* IPv4-compatible */
      {"::127.0.0.1", SSRF_LOOPBACK},
      {"::10.0.0.1", SSRF_PRIVATE},
      {"::169.254.169.254", SSRF_LINK_LOCAL},
      {"::8.8.8.8", SSRF_PUBLIC},
      {"::2", SSRF_UNSPECIFIED}, /* 0.0.0.2 */
      /* NAT64 well-known prefix */
      {"64:ff9b::7f00:1", SSRF_LOOPBACK},
      {"64:ff9b::169.254.169.254", SSRF_LINK_LOCAL},
      {"64:ff9b::c0a8:101", SSRF_PRIVATE},
      {"64:ff9b::808:808", SSRF_PUBLIC},
      {"64:ff9b::e000:1", SSRF_MULTICAST},
      {"64:ff9b:0:0:0:1:808:808", SSRF_RESERVED}, /* not in the /96 */
      /* 6to4 */
      {"2002:7f00:1::", SSRF_LOOPBACK},
      {"2002:7f00:1:1234::1", SSRF_LOOPBACK},
      {"2002:a9fe:a9fe::", SSRF_LINK_LOCAL},
      {"2002:c0a8:101::1", SSRF_PRIVATE},
      {"2002:a00:1::", SSRF_PRIVATE},
      {"2002:808:808::1", SSRF_PUBLIC},
      {"2002:e000:1::", SSRF_MULTICAST},
      {"2002::", SSRF_UNSPECIFIED},
      {"2002:ffff:ffff::", SSRF_RESERVED},
  };
  check(w, sizeof w / sizeof w[0]);
}

static void other_families(void **state)
{
  (void)state;
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  strcpy(un.sun_path, "/tmp/x");
  assert_int_equal(ssrf_classify((const struct sockaddr *)&un), SSRF_RESERVED);
  assert_int_equal(ssrf_classify(NULL), SSRF_RESERVED);
  struct ssrf_allow all;
  assert_true(ssrf_allow_parse("0.0.0.0/0,::/0", &all));
  assert_false(ssrf_allowed((const struct sockaddr *)&un, &all));
  assert_false(ssrf_allowed(NULL, &all));
  assert_string_equal(ssrf_class_name(SSRF_LINK_LOCAL), "link-local");
  assert_string_equal(ssrf_class_name((enum ssrf_class)99), "reserved");
}

static void allow_list_reach(void **state)
{
  (void)state;
  struct ssrf_allow def, none, ten, all;
  assert_true(ssrf_allow_parse(SSRF_ALLOW_DEFAULT, &def));
  assert_true(ssrf_allow_parse("", &none));
  assert_true(ssrf_allow_parse("10.0.0.0/8, 172.16.0.0/13, fd00::/8", &ten));
  assert_true(ssrf_allow_parse("0.0.0.0/0,::/0", &all));

  /* public: always */
  assert_true(allowed("8.8.8.8", NULL));
  assert_true(allowed("2606:4700:4700::1111", &none));
  assert_true(allowed("::ffff:8.8.8.8", &none));
  /* loopback: by the default list, in every form */
  assert_true(allowed("127.0.0.1", &def));
  assert_true(allowed("127.255.255.255", &def));
  assert_true(allowed("::1", &def));
  assert_true(allowed("::ffff:127.0.0.1", &def));
  assert_true(allowed("64:ff9b::7f00:1", &def));
  assert_true(allowed("2002:7f00:1::", &def));
  assert_false(allowed("127.0.0.1", &none));
  assert_false(allowed("127.0.0.1", NULL));
  assert_false(allowed("::1", &none));
  assert_false(allowed("::ffff:127.0.0.1", &ten));
  /* private: only where an entry reaches, to its last address */
  assert_false(allowed("10.0.0.1", &def));
  assert_true(allowed("10.0.0.0", &ten));
  assert_true(allowed("10.255.255.255", &ten));
  assert_true(allowed("::ffff:10.1.2.3", &ten));
  assert_true(allowed("::ffff:0:10.1.2.3", &ten));
  assert_true(allowed("::10.1.2.3", &ten));
  assert_true(allowed("64:ff9b::a01:203", &ten));
  assert_true(allowed("2002:a01:203::", &ten));
  assert_true(allowed("172.16.0.0", &ten));
  assert_true(allowed("172.23.255.255", &ten));
  assert_false(allowed("172.24.0.0", &ten));
  assert_false(allowed("172.31.255.255", &ten));
  assert_false(allowed("192.168.1.1", &ten));
  assert_false(allowed("100.64.0.1", &ten));
  assert_true(allowed("fd00::", &ten));
  assert_true(allowed("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &ten));
  assert_false(allowed("fc00::1", &ten));
  /* an IPv6 entry reaches the IPv6 form only */
  struct ssrf_allow mapped;
  assert_true(ssrf_allow_parse("::ffff:10.0.0.0/104", &mapped));
  assert_true(allowed("::ffff:10.9.9.9", &mapped));
  assert_false(allowed("10.9.9.9", &mapped));
  /* ::1 is not 0.0.0.1 */
  struct ssrf_allow v4only;
  assert_true(ssrf_allow_parse("0.0.0.0/0", &v4only));
  assert_false(allowed("::1", &v4only));
  assert_true(allowed("::ffff:192.168.0.1", &v4only));
  /* never, whatever the list says */
  const char *never[] = {"169.254.169.254",
                         "::ffff:169.254.169.254",
                         "64:ff9b::a9fe:a9fe",
                         "2002:a9fe:a9fe::",
                         "fe80::1",
                         "224.0.0.1",
                         "ff02::1",
                         "0.0.0.0",
                         "::",
                         "240.0.0.1",
                         "255.255.255.255",
                         "192.0.0.170",
                         "198.18.0.1",
                         "2001:db8::1",
                         "192.0.2.1",
                         "64:ff9b:1::a00:1"};
  for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
    if (allowed(never[i], &all))
      fail_msg("%s allowed", never[i]);
  /* a hand-made list with a nonsense entry matches nothing through it */
  struct ssrf_allow odd = {.n = 1, .cidr = {{.family = AF_INET, .prefix = 40}}};
  assert_false(allowed("10.0.0.1", &odd));
}

static void allow_list_syntax(void **state)
{
  (void)state;
  struct ssrf_allow a;
  assert_true(ssrf_allow_parse(SSRF_ALLOW_DEFAULT, &a));
  assert_int_equal(a.n, 2);
  assert_int_equal(a.cidr[0].family, AF_INET);
  assert_int_equal(a.cidr[0].prefix, 8);
  assert_int_equal(a.cidr[1].family, AF_INET6);
  assert_int_equal(a.cidr[1].prefix, 128);
  assert_true(ssrf_allow_parse("  \t ", &a));
  assert_int_equal(a.n, 0);
  assert_true(ssrf_allow_parse(" 10.0.0.7 ,\tfd00::1 ", &a));
  assert_int_equal(a.n, 2);
  assert_int_equal(a.cidr[0].prefix, 32);
  assert_int_equal(a.cidr[1].prefix, 128);
  assert_true(ssrf_allow_parse("0.0.0.0/0,::/0,10.0.0.0/7,::ffff:0:0/96", &a));
  assert_int_equal(a.n, 4);

  char many[32 * 16 + 16] = "";
  for (int i = 0; i < SSRF_ALLOW_MAX; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%s10.0.%d.0/24", i ? "," : "", i);
  assert_true(ssrf_allow_parse(many, &a));
  assert_int_equal(a.n, SSRF_ALLOW_MAX);
  strcat(many, ",10.1.0.0/16");

  const char *bad[] = {many,
                       ",",
                       "10.0.0.0/8,",
                       ",10.0.0.0/8",
                       "10.0.0.0/8,,::1",
                       "10.0.0.0/33",
                       "::/129",
                       "10.0.0.0/",
                       "/8",
                       "10.0.0/8",
                       "10.0.0.0/8/8",
                       "10.1.0.0/8",
                       "11.0.0.0/7",
                       "fd00::1/8",
                       "10.0.0.0/-1",
                       "10.0.0.0/+8",
                       "10.0.0.0/08",
                       "10.0.0.0/0008",
                       "10.0.0.0 /8",
                       "10.0.0.0/ 8",
                       "10.0.0.0;::1",
                       "localhost",
                       "10.0.0.256",
                       "010.0.0.0/8",
                       "fe80::1%eth0",
                       "[::1]",
                       "::1::1",
                       "1234:5678:9abc:def0:1234:5678:9abc:def0:1",
                       "0000:0000:0000:0000:0000:ffff:255.255.255.255:0/128"};
  a.n = 99;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (ssrf_allow_parse(bad[i], &a) || a.n != 99)
      fail_msg("accepted: %s", bad[i]);
  assert_false(ssrf_allow_parse(NULL, &a));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ipv4_classes),     cmocka_unit_test(ipv6_classes),
      cmocka_unit_test(embedded_ipv4),    cmocka_unit_test(other_families),
      cmocka_unit_test(allow_list_reach), cmocka_unit_test(allow_list_syntax)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
