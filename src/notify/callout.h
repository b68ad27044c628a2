/* callout.h: bimhub calling a remote service's RemoteServiceInterface (spec §8.2): one JSON
 * request to <baseUrl>/json, bounded in time and size, to an address the SSRF guard allows
 * (the host is resolved once here and the connection pinned to the checked address; no
 * redirects). Blocking: call it from a worker or an HTTP thread, never the loop thread. */
#ifndef BH_CALLOUT_H
#define BH_CALLOUT_H

#include <jansson.h>

#include "common/bh_err.h"

struct bh_config;
struct curl_slist;

/* The SSRF guard: resolves url's host once, checks every address against service_allow and
 * returns in *pin a CURLOPT_RESOLVE list naming the first allowed one, so a DNS answer cannot
 * change between the check and the connection. BH_DENIED (why says which class of address)
 * or BH_BADREQUEST otherwise. Blocking (getaddrinfo). Free *pin with curl_slist_free_all. */
enum bh_err callout_pin(const struct bh_config *cfg, const char *url, struct curl_slist **pin,
                        struct bh_why *why);

/* Sends {"request":{"interface":iface,"method":method,"parameters":params}} (params
 * stolen) and returns the reply's result (a new reference; NULL for a null result). A
 * transport failure, a status other than 200, a body that is not a JSON envelope, or an
 * exception in it is an error with a message in why. */
enum bh_err callout_call(const struct bh_config *cfg, const char *base_url, const char *iface,
                         const char *method, json_t *params, json_t **result, struct bh_why *why);

/* GETs url (behind the same guard, timeouts and size limit) and parses the body as JSON
 * (*out a new reference). */
enum bh_err callout_get_json(const struct bh_config *cfg, const char *url, json_t **out,
                             struct bh_why *why);

#endif
