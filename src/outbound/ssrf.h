/* ssrf.h: the address classes of the outbound guard (outbound.h). URLs come from users
 * (service URLs, checkinFromUrl), so a name may resolve to the server's own loopback, the
 * cloud metadata service (169.254.169.254) or a private network. outbound.c checks every
 * address it resolves with ssrf_allowed() before it pins the connection to it, and again at
 * connect time (libcurl's CURLOPT_OPENSOCKETFUNCTION sees each one), so a name that resolves
 * differently the second time gains nothing.
 *
 * Classes follow the IANA special-purpose registries (RFC 6890 and successors):
 *   SSRF_LOOPBACK     127/8, ::1
 *   SSRF_PRIVATE      10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7 (ULA),
 *                     fec0::/10 (deprecated site-local)
 *   SSRF_LINK_LOCAL   169.254/16 (with 169.254.169.254), fe80::/10
 *   SSRF_MULTICAST    224/4, ff00::/8
 *   SSRF_UNSPECIFIED  0/8 ("this network"), ::
 *   SSRF_RESERVED     240/4 (with 255.255.255.255), 192.0.0/24 (IETF protocol assignments),
 *                     198.18/15 (benchmarking), 192.88.99/24 (6to4 relay anycast), the
 *                     documentation ranges 192.0.2/24, 198.51.100/24, 203.0.113/24,
 *                     2001:db8::/32 and 3fff::/20 (no real service lives there, so a URL
 *                     naming one is a mistake or a probe), 2001::/32 (Teredo: the client
 *                     address is obfuscated), 2001:2::/48 (benchmarking), 64:ff9b:1::/48
 *                     (local-use NAT64, where the embedded address cannot be located),
 *                     every IPv6 address outside 2000::/3 not named above (unassigned,
 *                     e.g. 100::/64 discard-only), and any address family but AF_INET and
 *                     AF_INET6
 *   SSRF_PUBLIC       everything else
 * IPv6 forms that carry an IPv4 address take the class of that address: IPv4-mapped
 * ::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d (other than
 * :: and ::1), NAT64 64:ff9b::/96 and 6to4 2002:aabb:ccdd::/48.
 *
 * Thread-safety: all functions are pure and may run on any thread; nothing allocates. */
#ifndef BH_SSRF_H
#define BH_SSRF_H

#include <stdbool.h>
#include <sys/socket.h>

enum ssrf_class {
  SSRF_PUBLIC,
  SSRF_LOOPBACK,
  SSRF_PRIVATE,
  SSRF_LINK_LOCAL,
  SSRF_MULTICAST,
  SSRF_UNSPECIFIED,
  SSRF_RESERVED,
};

#define SSRF_ALLOW_MAX 32
#define SSRF_ALLOW_DEFAULT "127.0.0.0/8,::1/128"

struct ssrf_cidr {
  int family; /* AF_INET or AF_INET6 */
  int prefix; /* 0..32 or 0..128 */
  unsigned char addr[16];
};

struct ssrf_allow {
  int n;
  struct ssrf_cidr cidr[SSRF_ALLOW_MAX];
};

/* The class of sa, an AF_INET or AF_INET6 address (any other family is SSRF_RESERVED, as
 * is NULL). */
enum ssrf_class ssrf_classify(const struct sockaddr *sa);

/* A fixed lower-case name for c ("public", "loopback", ...), for log lines and errors. */
const char *ssrf_class_name(enum ssrf_class c);

/* Whether an outgoing call may connect to sa: always for SSRF_PUBLIC; for SSRF_LOOPBACK and
 * SSRF_PRIVATE only when an entry of allow (NULL: none) covers sa or, for the IPv6 forms
 * carrying an IPv4 address, that IPv4 address; never for the other classes, whatever allow
 * says. */
bool ssrf_allowed(const struct sockaddr *sa, const struct ssrf_allow *allow);

/* Parses a comma-separated list of at most SSRF_ALLOW_MAX CIDRs, "a.b.c.d/n" or
 * "ipv6/n" (a bare address means /32 or /128); blanks around entries are allowed, and an
 * empty or all-blank text is the empty list. The address must have no bits set past the
 * prefix ("10.1.0.0/8" is refused as a likely typo). False on anything else, leaving out
 * untouched. Example: SSRF_ALLOW_DEFAULT. */
bool ssrf_allow_parse(const char *text, struct ssrf_allow *out);

#endif
