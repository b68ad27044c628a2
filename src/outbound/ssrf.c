/* ssrf.c: address classes by prefix tables, embedded IPv4 addresses unwrapped first, and the
 * allow list as plain prefix compares. The tables are in the order they are searched; the
 * first match wins, so a narrower prefix must come before a wider one it lies in. */
#include "outbound/ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

struct range4 {
  uint32_t net;
  int prefix;
  enum ssrf_class cls;
};

static const struct range4 special4[] = {
    {0x00000000, 8, SSRF_UNSPECIFIED}, /* 0/8 "this network" */
    {0x0a000000, 8, SSRF_PRIVATE},     /* 10/8 */
    {0x64400000, 10, SSRF_PRIVATE},    /* 100.64/10 shared address space (CGNAT) */
    {0x7f000000, 8, SSRF_LOOPBACK},    /* 127/8 */
    {0xa9fe0000, 16, SSRF_LINK_LOCAL}, /* 169.254/16, cloud metadata services */
    {0xac100000, 12, SSRF_PRIVATE},    /* 172.16/12 */
    {0xc0000000, 24, SSRF_RESERVED},   /* 192.0.0/24 IETF protocol assignments */
    {0xc0000200, 24, SSRF_RESERVED},   /* 192.0.2/24 TEST-NET-1 */
    {0xc0586300, 24, SSRF_RESERVED},   /* 192.88.99/24 6to4 relay anycast */
    {0xc0a80000, 16, SSRF_PRIVATE},    /* 192.168/16 */
    {0xc6120000, 15, SSRF_RESERVED},   /* 198.18/15 benchmarking */
    {0xc6336400, 24, SSRF_RESERVED},   /* 198.51.100/24 TEST-NET-2 */
    {0xcb007100, 24, SSRF_RESERVED},   /* 203.0.113/24 TEST-NET-3 */
    {0xe0000000, 4, SSRF_MULTICAST},   /* 224/4 */
    {0xf0000000, 4, SSRF_RESERVED},    /* 240/4, with 255.255.255.255 */
};

static bool prefix_match(const unsigned char *a, const unsigned char *net, int prefix)
{
  int whole = prefix / 8, rest = prefix % 8;
  if (memcmp(a, net, (size_t)whole) != 0)
    return false;
  if (rest == 0)
    return true;
  unsigned char mask = (unsigned char)(0xff << (8 - rest));
  return (a[whole] & mask) == (net[whole] & mask);
}

static enum ssrf_class classify4(const unsigned char a[4])
{
  uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
  for (size_t i = 0; i < sizeof special4 / sizeof special4[0]; i++) {
    uint32_t mask = 0xffffffffu << (32 - special4[i].prefix);
    if ((v & mask) == special4[i].net)
      return special4[i].cls;
  }
  return SSRF_PUBLIC;
}

/* Where an IPv6 address carries an IPv4 one, a pointer to those 4 bytes in a; else NULL. */
static const unsigned char *embedded4(const unsigned char a[16])
{
  static const unsigned char zero[12];
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
  static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
  if (memcmp(a, mapped, 12) == 0 || memcmp(a, translated, 12) == 0 || memcmp(a, nat64, 12) == 0)
    return a + 12;
  if (memcmp(a, zero, 12) == 0) /* IPv4-compatible, but :: and ::1 are themselves */
    return a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1 ? NULL : a + 12;
  if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 */
    return a + 2;
  return NULL;
}

struct range6 {
  unsigned char net[16];
  int prefix;
  enum ssrf_class cls;
};

static const struct range6 special6[] = {
    {{0x20, 0x01, 0x0d, 0xb8}, 32, SSRF_RESERVED}, /* 2001:db8::/32 documentation */
    {{0x20, 0x01, 0x00, 0x00}, 32, SSRF_RESERVED}, /* 2001::/32 Teredo */
    {{0x20, 0x01, 0x00, 0x02}, 48, SSRF_RESERVED}, /* 2001:2::/48 benchmarking */
    {{0x3f, 0xff}, 20, SSRF_RESERVED},             /* 3fff::/20 documentation */
    {{0xfc}, 7, SSRF_PRIVATE},                     /* fc00::/7 unique local */
    {{0xfe, 0x80}, 10, SSRF_LINK_LOCAL},           /* fe80::/10 */
    {{0xfe, 0xc0}, 10, SSRF_PRIVATE},              /* fec0::/10 site-local */
    {{0xff}, 8, SSRF_MULTICAST},                   /* ff00::/8 */
};

static enum ssrf_class classify6(const unsigned char a[16])
{
  static const unsigned char zero[16];
  if (memcmp(a, zero, 16) == 0)
    return SSRF_UNSPECIFIED;
  if (memcmp(a, zero, 15) == 0 && a[15] == 1)
    return SSRF_LOOPBACK;
  const unsigned char *v4 = embedded4(a);
  if (v4)
    return classify4(v4);
  for (size_t i = 0; i < sizeof special6 / sizeof special6[0]; i++)
    if (prefix_match(a, special6[i].net, special6[i].prefix))
      return special6[i].cls;
  /* Outside global unicast 2000::/3 nothing is assigned for use on the Internet (64:ff9b:1::/48
   * and 100::/64 among it). */
  return (a[0] & 0xe0) == 0x20 ? SSRF_PUBLIC : SSRF_RESERVED;
}

enum ssrf_class ssrf_classify(const struct sockaddr *sa)
{
  if (!sa)
    return SSRF_RESERVED;
  if (sa->sa_family == AF_INET) {
    struct sockaddr_in in;
    memcpy(&in, sa, sizeof in);
    return classify4((const unsigned char *)&in.sin_addr);
  }
  if (sa->sa_family == AF_INET6) {
    struct sockaddr_in6 in6;
    memcpy(&in6, sa, sizeof in6);
    return classify6(in6.sin6_addr.s6_addr);
  }
  return SSRF_RESERVED;
}

const char *ssrf_class_name(enum ssrf_class c)
{
  switch (c) {
  case SSRF_PUBLIC:
    return "public";
  case SSRF_LOOPBACK:
    return "loopback";
  case SSRF_PRIVATE:
    return "private";
  case SSRF_LINK_LOCAL:
    return "link-local";
  case SSRF_MULTICAST:
    return "multicast";
  case SSRF_UNSPECIFIED:
    return "unspecified";
  case SSRF_RESERVED:
    return "reserved";
  }
  return "reserved";
}

static bool covered(const struct ssrf_allow *allow, int family, const unsigned char *a)
{
  for (int i = 0; allow && i < allow->n && i < SSRF_ALLOW_MAX; i++) {
    const struct ssrf_cidr *c = &allow->cidr[i];
    if (c->family == family && c->prefix >= 0 && c->prefix <= (family == AF_INET ? 32 : 128) &&
        prefix_match(a, c->addr, c->prefix))
      return true;
  }
  return false;
}

bool ssrf_allowed(const struct sockaddr *sa, const struct ssrf_allow *allow)
{
  enum ssrf_class cls = ssrf_classify(sa);
  if (cls == SSRF_PUBLIC)
    return true;
  if (cls != SSRF_LOOPBACK && cls != SSRF_PRIVATE)
    return false;
  if (sa->sa_family == AF_INET) {
    struct sockaddr_in in;
    memcpy(&in, sa, sizeof in);
    return covered(allow, AF_INET, (const unsigned char *)&in.sin_addr);
  }
  struct sockaddr_in6 in6;
  memcpy(&in6, sa, sizeof in6);
  const unsigned char *a = in6.sin6_addr.s6_addr;
  if (covered(allow, AF_INET6, a))
    return true;
  const unsigned char *v4 = embedded4(a);
  return v4 && covered(allow, AF_INET, v4);
}

static bool is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* One entry, text[0..len) with blanks already trimmed. */
static bool parse_cidr(const char *text, size_t len, struct ssrf_cidr *out)
{
  char addr[INET6_ADDRSTRLEN];
  const char *slash = memchr(text, '/', len);
  size_t alen = slash ? (size_t)(slash - text) : len;
  if (alen == 0 || alen >= sizeof addr)
    return false;
  memcpy(addr, text, alen);
  addr[alen] = '\0';
  struct ssrf_cidr c = {0};
  int max;
  if (inet_pton(AF_INET, addr, c.addr) == 1) {
    c.family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
    c.family = AF_INET6;
    max = 128;
  } else {
    return false;
  }
  c.prefix = max;
  if (slash) {
    const char *p = slash + 1, *end = text + len;
    if (p == end || end - p > 3 || (*p == '0' && end - p > 1))
      return false;
    c.prefix = 0;
    for (; p < end; p++) {
      if (*p < '0' || *p > '9')
        return false;
      c.prefix = c.prefix * 10 + (*p - '0');
    }
    if (c.prefix > max)
      return false;
  }
  /* No host bits: "10.1.0.0/8" is far more likely a typo than meant as 10/8. */
  for (int bit = c.prefix; bit < max; bit++)
    if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
      return false;
  *out = c;
  return true;
}

bool ssrf_allow_parse(const char *text, struct ssrf_allow *out)
{
  struct ssrf_allow a = {0};
  if (!text)
    return false;
  const char *p = text;
  while (is_blank(*p))
    p++;
  if (*p != '\0') {
    for (;;) {
      while (is_blank(*p))
        p++;
      const char *end = p;
      while (*end && *end != ',')
        end++;
      const char *last = end;
      while (last > p && is_blank(last[-1]))
        last--;
      if (a.n == SSRF_ALLOW_MAX || !parse_cidr(p, (size_t)(last - p), &a.cidr[a.n]))
        return false;
      a.n++;
      if (*end == '\0')
        break;
      p = end + 1;
    }
  }
  *out = a;
  return true;
}
