/* config.h: every setting of the server, from one option table (config.c) that drives the
 * config file, the BIMHUB_<NAME> environment variables, the command line, --help and
 * bimhub.conf.example. Precedence: default < file < environment < command line. */
#ifndef BH_CONFIG_H
#define BH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct bh_config {
  /* where and how to listen */
  char *host;
  int64_t port;     /* 0: pick a free port (the chosen one is printed) */
  char *public_url; /* site address given to services as apiUrl; default http://HOST:PORT */
  char *data_dir;
  char *admin_user; /* with admin_password: create the admin on an empty data dir */
  char *admin_password;
  char *log_level;
  /* limits */
  int64_t max_json_body_bytes;
  int64_t http_body_budget_bytes; /* all buffered bodies and their JSON, all connections */
  int64_t ws_max_message_bytes;
  int64_t ws_queue_max_bytes;
  int64_t ws_queue_max_frames;
  int64_t ws_max_message_frames; /* frames of one fragmented message from a client */
  int64_t http_threads;
  int64_t http_connection_limit;
  int64_t http_idle_timeout_s;
  int64_t http_header_timeout_s;        /* a new connection must send its headers within */
  int64_t http_per_ip_connection_limit; /* 0: none */
  int64_t http_connection_memory_bytes;
  int64_t rpc_workers;
  int64_t ws_ping_interval_s; /* server pings on /stream */
  int64_t ws_idle_timeout_s;  /* close a /stream client silent this long */
  int64_t max_endpoints_per_user;
  int64_t max_registrations_per_endpoint;
  int64_t max_topics_per_user;     /* progress topics a user may hold */
  int64_t endpoint_history_frames; /* pushes kept per endpoint for a resume */
  int64_t endpoint_history_s;      /* and for how long; a detached endpoint lives as long */
  /* auth */
  int64_t token_lifetime_s;
  int64_t login_fail_delay_ms; /* first delay after a failed login; doubles per failure */
  int64_t login_fail_delay_max_ms;
  int64_t login_max_failures;             /* per user name and window; then refused */
  int64_t login_max_failures_per_address; /* per client address and window */
  int64_t login_failure_window_s;
  int64_t argon2_ops_limit; /* libsodium crypto_pwhash opslimit */
  int64_t argon2_mem_limit_kib;
  /* check-ins, downloads, long actions */
  int64_t max_upload_bytes;           /* largest model file (after decompression) */
  int64_t checkin_queue_bytes;        /* upload bytes waiting for the check-in worker */
  int64_t checkin_initiate_timeout_s; /* an initiated check-in without data frees the project */
  int64_t max_checkins;               /* check-ins running at once */
  int64_t topic_keep_s;               /* an ended progress topic is kept this long */
  int64_t max_download_data_bytes;    /* largest model getDownloadData returns in Base64 */
  int64_t fetch_timeout_s;            /* checkinFromUrl: whole transfer */
  int64_t fetch_connect_timeout_s;
  int64_t fetch_max_redirects; /* each hop through the outbound guard */
  /* remote services */
  int64_t service_connect_timeout_ms;
  int64_t service_timeout_ms; /* a whole call to a service */
  int64_t service_max_response_bytes;
  char *service_allow;                  /* loopback/private CIDRs outbound requests may reach */
  int64_t service_token_lifetime_s;     /* tokens handed out with notifications */
  int64_t service_secret_overlap_s;     /* a rotated secret keeps signing this long */
  int64_t service_extdata_new_revision; /* 1: also newRevision after newExtendedDataOnRevision */
  /* notification delivery */
  char *delivery_retry_schedule;              /* backoff.h syntax */
  int64_t delivery_retry_after_max_s;         /* longest Retry-After honoured */
  int64_t delivery_threads;                   /* delivery lanes, each service on one */
  int64_t delivery_max_in_flight;             /* requests open at once, all services */
  int64_t delivery_max_in_flight_per_service; /* for services with parallel delivery */
  int64_t delivery_log_keep_s; /* finished deliveries and their attempts kept this long */
  /* store */
  char *sqlite_synchronous; /* "full" or "normal" */
};

/* Fills cfg with the defaults. Allocates the default strings; free with config_free(). */
int config_init(struct bh_config *cfg);
void config_free(struct bh_config *cfg);
/* Applies "name = value" lines of a file. On error writes one line to err (size errlen). */
int config_load_file(struct bh_config *cfg, const char *path, char *err, size_t errlen);
/* Applies BIMHUB_<NAME> variables from envp (NULL-terminated "K=V" strings). */
int config_load_env(struct bh_config *cfg, char *const *envp, char *err, size_t errlen);
/* Applies --name VALUE / --name=VALUE flags from argv[0..argc). --config FILE is read
 * first wherever it stands, then the rest. Unknown flags are errors. */
int config_load_args(struct bh_config *cfg, int argc, char **argv, char *err, size_t errlen);
/* Sets one option by its name (underscore or dash form). */
int config_set(struct bh_config *cfg, const char *name, const char *value, char *err,
               size_t errlen);
/* Derived values: fills public_url when empty. Checks cross-option rules. */
int config_finish(struct bh_config *cfg, char *err, size_t errlen);
/* The --help text of `bimhub serve` and the example file, from the table. */
void config_print_help(FILE *out);
void config_print_example(FILE *out);

#endif
