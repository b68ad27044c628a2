/* callout.h: bimhub calling a remote service's RemoteServiceInterface (spec §8.2): one JSON
 * request to <baseUrl>/json through the outbound guard (outbound.h: service_allow, the
 * connection pinned to the checked address, no redirects), bounded in time and size. Every
 * refused or unreachable service is the same OUTBOUND_UNREACHABLE, and nothing the service
 * answered is quoted back. Blocking: call it from a worker or an HTTP thread, never the loop
 * thread. */
#ifndef BH_CALLOUT_H
#define BH_CALLOUT_H

#include <jansson.h>

#include "common/bh_err.h"

struct bh_config;

/* Sends {"request":{"interface":iface,"method":method,"parameters":params}} (params
 * stolen) and returns the reply's result (a new reference; NULL for a null result). A
 * refused or failed transport, a status other than 200, a body that is not a JSON envelope,
 * or an exception in it is an error with a message in why. */
enum bh_err callout_call(const struct bh_config *cfg, const char *base_url, const char *iface,
                         const char *method, json_t *params, json_t **result, struct bh_why *why);

/* GETs url (behind the same guard, timeouts and size limit) and parses the body as JSON
 * (*out a new reference). */
enum bh_err callout_get_json(const struct bh_config *cfg, const char *url, json_t **out,
                             struct bh_why *why);

#endif
