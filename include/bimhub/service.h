/* bimhub/service.h: the service SDK. A service provider is an HTTP server answering
 * RemoteServiceInterface at POST <its base URL>/json (spec §4.8, §8): the server asks it to
 * describe itself (getService, getPublicProfiles, getPrivateProfiles) and notifies it of new
 * revisions and extended data (newRevision, newExtendedDataOnRevision,
 * newExtendedDataOnProject). This SDK is that server:
 *
 *   static int on_rev(void *arg, const struct bimhub_notification *n, struct bimhub_client *api)
 *   {
 *     printf("revision %lld of project %lld\n", (long long)n->roid, (long long)n->poid);
 *     return BIMHUB_HANDLED;
 *   }
 *   struct bimhub_service_desc d = {.identifier = "hello", .name = "Hello",
 *                                   .on_new_revision = on_rev};
 *   struct bimhub_service_options o = {.port = 8090, .spool_dir = "./spool"};
 *   struct bimhub_service *svc = bimhub_service_new(&o, &err);
 *   bimhub_service_add(svc, &d, &err);
 *   bimhub_service_run(svc, &err);     // until SIGINT or SIGTERM
 *   bimhub_service_free(svc);
 *
 * Answers (HTTP 200, {"response":{"result":...}}; failures {"response":{"exception":{...}}}):
 *   getService(serviceIdentifier)          the SServiceDescriptor made from the description
 *   getPublicProfiles(serviceIdentifier)   its public profiles (SProfileDescriptor)
 *   getPrivateProfiles(serviceIdentifier, token)  its non-public profiles, when the token is
 *                                          not empty and check_token (if set) accepts it
 *   newRevision, newExtendedDataOnRevision, newExtendedDataOnProject, and any other method:
 *                                          a notification (below)
 * The interface may be named RemoteServiceInterface or Bimsie1RemoteServiceInterface (with
 * or without the org.bimserver. / org.buildingsmart.bimsie1. prefix). A notification method
 * nobody handles (no typed handler and no on_notification) is acknowledged with
 * {"response":{"result":{}}} and dropped (logged): bimhub's delivery retries any answer with
 * an exception. A notification for a serviceIdentifier this provider does not have (when it
 * has more than one service) is answered with a UserException, so it is retried and shows
 * in the server's delivery log until the provider knows the service.
 *
 * Notifications are durable before they are acknowledged:
 *  1. Signature: when a secret is configured, the Standard Webhooks headers webhook-id,
 *     webhook-timestamp and webhook-signature must be present and valid for the exact body
 *     (HMAC-SHA256 with the secret's key; the timestamp within signature_tolerance_s of
 *     now), otherwise HTTP 401 and nothing is kept. Without a secret everything is accepted.
 *  2. Dedupe: the delivery id is webhook-id (or, for an unsigned request without one, a
 *     SHA-256 digest of the body). A delivery whose id is pending in the spool or was seen
 *     recently (the last dedupe_ids ids) is acknowledged and not run again; one that failed
 *     for good is forgotten, so a redelivery (DeliveryInterface.redeliver) runs it again.
 *  3. Spool: the notification is written to <spool_dir>/<id>.json (temporary file, fsync,
 *     rename, fsync of the directory) and only then answered with {"response":{"result":{}}}.
 *  4. A worker thread runs the handler, off the request path, in arrival order (with one
 *     worker, the default, strictly one after the other). The handler gets the fields of the
 *     notification and a client for apiUrl (+ "/json") holding the notification's token.
 *     BIMHUB_HANDLED: the spool file is deleted. BIMHUB_RETRY: run again after
 *     retry_delay_ms, doubling up to retry_max_delay_ms, at most max_attempts runs in all;
 *     then (or at once on BIMHUB_DROP) the file is moved to <spool_dir>/failed/ and kept.
 *  5. At start, the spool is replayed: every notification acknowledged but not handled
 *     before the process stopped (or was killed) runs again, its attempt count kept. So a
 *     handler may see a notification more than once (at-least-once: make handlers
 *     idempotent); it never loses one that was acknowledged.
 *
 * Threads: libmicrohttpd's thread answers requests; handlers run on the worker threads
 * (`workers`), never on the thread that called a bimhub_service_* function. A handler may
 * use the given client (valid only during the call) and anything thread-safe; it must not
 * call bimhub_service_stop() or _free() for its own service. bimhub_service_set_secret() and
 * bimhub_service_stop() may be called from any other thread. */
#ifndef BIMHUB_SERVICE_H
#define BIMHUB_SERVICE_H

#include "bimhub/client.h"
#include "bimhub/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bimhub_service;

/* One notification, as the handler sees it. Every pointer is owned by the SDK and valid only
 * during the handler call. Ids the method does not carry are -1; strings it does not carry
 * are NULL. */
struct bimhub_notification {
  const char *method;             /* "newRevision", "newExtendedDataOnRevision", ... */
  const char *id;                 /* the delivery id (webhook-id or a body digest) */
  int64_t poid, roid, edid, soid; /* soid: the SService on the server's side */
  const char *service_identifier; /* which of this provider's services */
  const char *profile_identifier;
  const char *user_token; /* the SService's token: the user's token at this provider */
  const char *token;      /* a fresh token for the server's API (the client's) */
  const char *api_url;    /* the server's base URL, without /json */
  json_t *parameters;     /* BORROWED: the whole "parameters" object */
  unsigned attempt;       /* 1 on the first run, then 2, 3... (across restarts too) */
  int64_t received_ms;    /* when it was acknowledged (Unix ms) */
};

enum bimhub_handler_result {
  BIMHUB_HANDLED = 0, /* done: the notification is forgotten */
  BIMHUB_RETRY = 1,   /* failed for now: run again later (see max_attempts) */
  BIMHUB_DROP = 2,    /* failed for good: keep it in <spool_dir>/failed/, do not retry */
};

/* A notification handler. api is a client of n->api_url (or of the api_url option) with
 * n->token set (no login call is made), or NULL when there is no URL to use; it is freed
 * when the handler returns. Runs on a worker thread. */
typedef int (*bimhub_notification_cb)(void *arg, const struct bimhub_notification *n,
                                      struct bimhub_client *api);
/* May the holder of token (the user's token at this provider) see the private profiles of
 * service identifier? Runs on the HTTP thread: answer quickly. */
typedef bool (*bimhub_token_check_cb)(void *arg, const char *identifier, const char *token);

/* SProfileDescriptor. */
struct bimhub_profile_desc {
  const char *identifier; /* required */
  const char *name;       /* NULL: the identifier */
  const char *description;
  bool is_public; /* public profiles are listed by getPublicProfiles, the others by
                     getPrivateProfiles */
};

/* A service: its SServiceDescriptor, profiles and handlers. Strings may be NULL unless said
 * otherwise (NULL fields are sent as null). Everything is copied by bimhub_service_add(). */
struct bimhub_service_desc {
  const char *identifier; /* required; unique within this provider */
  const char *name;       /* required */
  const char *description;
  const char *provider_name;
  const char *company_url;
  const char *url;                   /* the provider's base URL as the server should call it;
                                        NULL: http://<host>:<port> of this server */
  const char *trigger;               /* NULL: "NEW_REVISION" (or NEW_EXTENDED_DATA,
                                        NEW_PROJECT) */
  const char *notification_protocol; /* NULL: "JSON" */
  bool read_revision;
  bool write_revision;
  const char *read_extended_data;  /* schema name the service reads, or NULL */
  const char *write_extended_data; /* schema name the service writes, or NULL */
  const char *token, *token_url, *authorize_url, *register_url, *new_profile_url;
  const struct bimhub_profile_desc *profiles; /* NULL/0: one public profile "default" */
  size_t n_profiles;
  bimhub_notification_cb on_new_revision;                  /* newRevision */
  bimhub_notification_cb on_new_extended_data_on_revision; /* newExtendedDataOnRevision */
  bimhub_notification_cb on_new_extended_data_on_project;  /* newExtendedDataOnProject */
  bimhub_notification_cb on_notification; /* any method without a typed handler above */
  bimhub_token_check_cb check_token;      /* getPrivateProfiles; NULL: any non-empty token */
  void *arg;                              /* given to every callback of this service */
};

struct bimhub_service_options {
  const char *host;           /* address to listen on; NULL: "127.0.0.1" ("0.0.0.0": all IPv4) */
  unsigned port;              /* 0: a free port (see bimhub_service_port()) */
  const char *spool_dir;      /* required: made if missing (mode 0700); one service process per
                                 directory */
  const char *secret;         /* "whsec_<Base64 key>" (the secret the server gave the service),
                                 several separated by spaces or commas (one per registration:
                                 any one that verifies will do), or NULL: accept unsigned
                                 notifications */
  long signature_tolerance_s; /* 0: 300 */
  unsigned workers;           /* handler threads; 0: 1 */
  unsigned max_attempts;      /* 0: 5 */
  long retry_delay_ms;        /* 0: 1000 */
  long retry_max_delay_ms;    /* 0: 60000 */
  size_t max_body_bytes;      /* larger requests get 413; 0: 1 MiB */
  size_t dedupe_ids;          /* delivery ids remembered after they ran; 0: 4096 */
  const char *api_url;        /* when set, the handler's client uses this base URL instead of
                                 the notification's apiUrl (a server behind NAT or a proxy) */
  long api_connect_timeout_ms, api_timeout_ms; /* the handler client's timeouts; 0: 10000, 0 */
};

/* A provider with the given options (copied). No socket is opened and the spool is not read
 * before start. NULL on failure (BIMHUB_INVALID: no spool_dir, a secret that does not parse;
 * BIMHUB_NOMEM). */
BIMHUB_API struct bimhub_service *bimhub_service_new(const struct bimhub_service_options *opts,
                                                     struct bimhub_error *err);

/* Adds a service (copied). Before start only: BIMHUB_STATE after. BIMHUB_INVALID when
 * identifier or name is missing or the identifier is taken. */
BIMHUB_API enum bimhub_rc bimhub_service_add(struct bimhub_service *svc,
                                             const struct bimhub_service_desc *desc,
                                             struct bimhub_error *err);

/* Makes the spool directory, queues what it holds (replay), starts the workers and the HTTP
 * server; returns once it listens. BIMHUB_TRANSPORT when it cannot listen, BIMHUB_IO for the
 * spool, BIMHUB_STATE when already started or no service was added. */
BIMHUB_API enum bimhub_rc bimhub_service_start(struct bimhub_service *svc,
                                               struct bimhub_error *err);

/* The port it listens on (useful with port 0), or 0 before start. */
BIMHUB_API unsigned bimhub_service_port(const struct bimhub_service *svc);

/* Writes this provider's base URL, "http://<host>:<port>" (the address given to the server
 * as the service url; 127.0.0.1 when host is 0.0.0.0 or ::), to buf. BIMHUB_STATE before start,
 * BIMHUB_INVALID if len is too small. */
BIMHUB_API enum bimhub_rc bimhub_service_base_url(const struct bimhub_service *svc, char *buf,
                                                  size_t len);

/* Replaces the secret (NULL: accept unsigned notifications). Any thread; applies to the next
 * request. BIMHUB_INVALID for a secret that does not parse (the old one stays). */
BIMHUB_API enum bimhub_rc bimhub_service_set_secret(struct bimhub_service *svc, const char *secret);

/* Stops answering (the HTTP server closes), lets running handlers finish and stops the
 * workers. Notifications not handled yet stay in the spool for the next start. Returns when
 * everything has stopped. Not from a handler. A stopped service cannot start again. */
BIMHUB_API void bimhub_service_stop(struct bimhub_service *svc);

/* bimhub_service_start(), then waits until SIGINT or SIGTERM arrives or
 * bimhub_service_stop() is called from another thread, then stops. It blocks SIGINT and
 * SIGTERM in the calling thread (and so in the threads it starts) while it runs, and
 * restores the mask before returning. */
BIMHUB_API enum bimhub_rc bimhub_service_run(struct bimhub_service *svc, struct bimhub_error *err);

/* Stops if needed, then frees. NULL is fine. */
BIMHUB_API void bimhub_service_free(struct bimhub_service *svc);

/* The SServiceDescriptor of desc as getService answers it (a new reference), with url as
 * its url (NULL: desc->url). For tests and for registering a service by hand. */
BIMHUB_API json_t *bimhub_service_descriptor_json(const struct bimhub_service_desc *desc,
                                                  const char *url);

#ifdef __cplusplus
}
#endif

#endif
