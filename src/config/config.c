/* config.c: the option table. One row per setting drives the config file, the environment,
 * the command line, --help and the example file, so they cannot drift apart. */
#include "config/config.h"

#include "notify/backoff.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum cfg_kind { CFG_INT, CFG_STR };

struct cfg_opt {
  const char *name; /* file and environment form: data_dir; the flag is --data-dir */
  enum cfg_kind kind;
  size_t offset;
  int64_t min, max, def; /* CFG_INT */
  const char *def_str;   /* CFG_STR; NULL means unset */
  const char *help;
};

#define INT_OPT(name, field, min, max, def, help)                                                  \
  {                                                                                                \
    name, CFG_INT, offsetof(struct bh_config, field), min, max, def, NULL, help                    \
  }
#define STR_OPT(name, field, def, help)                                                            \
  {                                                                                                \
    name, CFG_STR, offsetof(struct bh_config, field), 0, 0, 0, def, help                           \
  }

/* About three days of attempts: the Standard Webhooks example schedule, then 20 h and 24 h. */
#define DELIVERY_SCHEDULE_DEFAULT "0,5s,5m,30m,2h,5h,10h,10h,20h,24h"

static const struct cfg_opt cfg_opts[] = {
    STR_OPT("host", host, "127.0.0.1", "address to listen on"),
    INT_OPT("port", port, 0, 65535, 8082, "TCP port (0: any free port, printed at start)"),
    STR_OPT("public_url", public_url, NULL,
            "site address given to services as apiUrl (default http://HOST:PORT)"),
    STR_OPT("data_dir", data_dir, "./bimhub-data", "where the database and files live"),
    STR_OPT("admin_user", admin_user, NULL,
            "on an empty data dir: create this admin (an e-mail) and start RUNNING"),
    STR_OPT("admin_password", admin_password, NULL, "password of --admin-user"),
    STR_OPT("log_level", log_level, "info", "debug, info, warn, error or off"),
    INT_OPT("max_json_body_bytes", max_json_body_bytes, 1024, INT64_C(1) << 40, 64 << 20,
            "largest /json request body"),
    INT_OPT("http_body_budget_bytes", http_body_budget_bytes, 1 << 20, INT64_C(1) << 42, 512 << 20,
            "memory for all buffered /json bodies, /stream messages and the JSON made from them "
            "together (over it: HTTP 503 with Retry-After, or close 1013)"),
    INT_OPT("ws_max_message_bytes", ws_max_message_bytes, 1024, 1 << 30, 1 << 20,
            "largest /stream message from a client (larger: close 1009)"),
    INT_OPT("ws_max_message_frames", ws_max_message_frames, 1, 1 << 24, 1024,
            "frames one /stream message from a client may come in (more: close 1009)"),
    INT_OPT("ws_queue_max_bytes", ws_queue_max_bytes, 4096, 1 << 30, 1 << 20,
            "bytes queued to one /stream client before it is closed (1008)"),
    INT_OPT("ws_queue_max_frames", ws_queue_max_frames, 16, 1000000, 1000,
            "frames queued to one /stream client before it is closed (1008)"),
    INT_OPT("http_threads", http_threads, 1, 64, 2, "HTTP threads (one epoll loop each)"),
    INT_OPT("http_connection_limit", http_connection_limit, 16, 1000000, 20000,
            "open HTTP and /stream connections at most"),
    INT_OPT("http_idle_timeout_s", http_idle_timeout_s, 1, 86400, 60,
            "close an idle HTTP keep-alive connection after this long"),
    INT_OPT("http_header_timeout_s", http_header_timeout_s, 1, 3600, 10,
            "close a new connection that has not sent its request headers after this long"),
    INT_OPT("http_per_ip_connection_limit", http_per_ip_connection_limit, 0, 1000000, 256,
            "open connections from one client address at most (0: no limit; behind a proxy "
            "every client has the proxy's address)"),
    INT_OPT("http_connection_memory_bytes", http_connection_memory_bytes, 4096, 1 << 20, 16384,
            "memory for one connection's request line and headers (also kept by each /stream "
            "socket)"),
    INT_OPT("ws_ping_interval_s", ws_ping_interval_s, 1, 3600, 30,
            "send a ping to each /stream client this often"),
    INT_OPT("ws_idle_timeout_s", ws_idle_timeout_s, 2, 86400, 90,
            "close a /stream client from which nothing came for this long (1001)"),
    INT_OPT("max_endpoints_per_user", max_endpoints_per_user, 1, 1000000, 1000,
            "/stream endpoints one user may hold, connected or waiting for a resume"),
    INT_OPT("max_registrations_per_endpoint", max_registrations_per_endpoint, 1, 1000000, 1000,
            "notification registrations of one endpoint"),
    INT_OPT("max_topics_per_user", max_topics_per_user, 1, 1000000, 1000,
            "progress topics one user may hold (registerProgressTopic and downloads; ended ones "
            "count until cleaned up or expired)"),
    INT_OPT("endpoint_history_frames", endpoint_history_frames, 0, 1000000, 1000,
            "pushes kept per endpoint so a client that reconnects misses nothing"),
    INT_OPT("endpoint_history_s", endpoint_history_s, 1, 86400 * 7, 600,
            "how long pushes are kept; an endpoint without a connection lives as long"),
    INT_OPT("rpc_workers", rpc_workers, 1, 128, 4, "worker threads for /stream calls"),
    INT_OPT("max_upload_bytes", max_upload_bytes, 1024, INT64_C(1) << 42, INT64_C(2) << 30,
            "largest model file accepted by a check-in (after decompression)"),
    INT_OPT("checkin_queue_bytes", checkin_queue_bytes, 65536, 1 << 30, 4 << 20,
            "upload bytes held for a check-in worker before the upload is paused"),
    INT_OPT("checkin_initiate_timeout_s", checkin_initiate_timeout_s, 1, 86400 * 7, 1800,
            "an initiated check-in that receives no data frees its project after this long"),
    INT_OPT("max_checkins", max_checkins, 1, 1024, 8, "check-ins running at the same time"),
    INT_OPT("topic_keep_s", topic_keep_s, 1, 86400 * 7, 1800,
            "an ended progress topic (and its download) is kept this long unless cleaned up"),
    INT_OPT("max_download_data_bytes", max_download_data_bytes, 1024, INT64_C(1) << 32, 64 << 20,
            "largest model getDownloadData sends as Base64 (larger: use /download)"),
    INT_OPT("fetch_timeout_s", fetch_timeout_s, 1, 86400, 300,
            "checkinFromUrl: the whole transfer may take this long"),
    INT_OPT("fetch_connect_timeout_s", fetch_connect_timeout_s, 1, 600, 10,
            "checkinFromUrl: connecting may take this long"),
    INT_OPT("fetch_max_redirects", fetch_max_redirects, 0, 20, 5,
            "checkinFromUrl: redirects followed, each checked like the first URL"),
    INT_OPT("service_connect_timeout_ms", service_connect_timeout_ms, 100, 600000, 5000,
            "connecting to a remote service may take this long"),
    INT_OPT("service_timeout_ms", service_timeout_ms, 100, 3600000, 10000,
            "a whole call to a remote service may take this long"),
    INT_OPT("service_max_response_bytes", service_max_response_bytes, 1024, 1 << 30, 1 << 20,
            "largest answer read from a remote service"),
    STR_OPT("service_allow", service_allow, "127.0.0.0/8,::1/128",
            "loopback and private CIDRs remote services and checkinFromUrl may reach (public "
            "addresses always; link-local, multicast and reserved never)"),
    INT_OPT("service_token_lifetime_s", service_token_lifetime_s, 60, INT64_C(365) * 86400, 86400,
            "lifetime of the token sent with each notification"),
    INT_OPT("service_secret_overlap_s", service_secret_overlap_s, 0, INT64_C(30) * 86400, 86400,
            "after a secret rotation, the old secret still signs notifications this long"),
    INT_OPT("service_extdata_new_revision", service_extdata_new_revision, 0, 1, 0,
            "1: NEW_EXTENDED_DATA services also get newRevision after newExtendedDataOnRevision, "
            "as BIMserver does"),
    STR_OPT("delivery_retry_schedule", delivery_retry_schedule, DELIVERY_SCHEDULE_DEFAULT,
            "waits before each notification attempt (ms, s, m, h); after the last one a "
            "delivery is parked as failed"),
    INT_OPT("delivery_retry_after_max_s", delivery_retry_after_max_s, 1, INT64_C(7) * 86400, 86400,
            "longest Retry-After a service may ask for"),
    INT_OPT("delivery_threads", delivery_threads, 1, 64, 2,
            "threads sending notifications (each service is sent by one of them, in order)"),
    INT_OPT("delivery_max_in_flight", delivery_max_in_flight, 1, 100000, 512,
            "notification requests open at once"),
    INT_OPT("delivery_max_in_flight_per_service", delivery_max_in_flight_per_service, 1, 10000, 64,
            "requests open at once to one service that allows parallel delivery"),
    INT_OPT("delivery_log_keep_s", delivery_log_keep_s, 60, INT64_C(3650) * 86400,
            INT64_C(30) * 86400, "finished deliveries and their attempts are kept this long"),
    INT_OPT("token_lifetime_s", token_lifetime_s, 1, INT64_C(10) * 365 * 86400, 30 * 86400,
            "lifetime of a login token"),
    INT_OPT(
        "login_fail_delay_ms", login_fail_delay_ms, 0, 60000, 1000,
        "delay of the answer to a failed login; doubles per failure of the same user or address"),
    INT_OPT("login_fail_delay_max_ms", login_fail_delay_max_ms, 0, 600000, 30000,
            "longest failed-login delay"),
    INT_OPT("login_max_failures", login_max_failures, 1, 1000000, 10,
            "failed logins of one user name within the window; then its logins are refused"),
    INT_OPT("login_max_failures_per_address", login_max_failures_per_address, 1, 1000000, 100,
            "failed logins from one client address within the window; then its logins are "
            "refused"),
    INT_OPT("login_failure_window_s", login_failure_window_s, 1, 86400, 900,
            "how long failed logins count (refused until this long after the last one)"),
    INT_OPT("argon2_ops_limit", argon2_ops_limit, 1, 100, 2,
            "argon2id passes (libsodium opslimit)"),
    INT_OPT("argon2_mem_limit_kib", argon2_mem_limit_kib, 8, 4 << 20, 19456,
            "argon2id memory in KiB (libsodium memlimit / 1024)"),
    STR_OPT("sqlite_synchronous", sqlite_synchronous, "full",
            "full (every commit reaches the disk) or normal (faster, may lose the last commits "
            "on power loss, never on a crash)"),
};

#define CFG_COUNT (sizeof cfg_opts / sizeof cfg_opts[0])

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
  if (!err || !errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static const struct cfg_opt *find_opt(const char *name, size_t len)
{
  for (size_t i = 0; i < CFG_COUNT; i++) {
    const char *n = cfg_opts[i].name;
    if (strlen(n) != len)
      continue;
    size_t k = 0;
    while (k < len && (n[k] == name[k] || (n[k] == '_' && name[k] == '-')))
      k++;
    if (k == len)
      return &cfg_opts[i];
  }
  return NULL;
}

static int set_opt(struct bh_config *cfg, const struct cfg_opt *o, const char *value, char *err,
                   size_t errlen)
{
  char *field = (char *)cfg + o->offset;
  if (o->kind == CFG_STR) {
    char *copy = strdup(value);
    if (!copy) {
      set_err(err, errlen, "%s: out of memory", o->name);
      return -1;
    }
    free(*(char **)field);
    *(char **)field = copy;
    return 0;
  }
  errno = 0;
  char *end = NULL;
  long long v = strtoll(value, &end, 10);
  if (errno || end == value || *end != '\0') {
    set_err(err, errlen, "%s: not a whole number: '%s'", o->name, value);
    return -1;
  }
  if (v < o->min || v > o->max) {
    set_err(err, errlen, "%s: out of range %lld..%lld", o->name, (long long)o->min,
            (long long)o->max);
    return -1;
  }
  *(int64_t *)field = v;
  return 0;
}

int config_init(struct bh_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < CFG_COUNT; i++) {
    const struct cfg_opt *o = &cfg_opts[i];
    char *field = (char *)cfg + o->offset;
    if (o->kind == CFG_INT) {
      *(int64_t *)field = o->def;
    } else if (o->def_str) {
      *(char **)field = strdup(o->def_str);
      if (!*(char **)field) {
        config_free(cfg);
        return -1;
      }
    }
  }
  return 0;
}

void config_free(struct bh_config *cfg)
{
  for (size_t i = 0; i < CFG_COUNT; i++) {
    if (cfg_opts[i].kind == CFG_STR) {
      char **field = (char **)((char *)cfg + cfg_opts[i].offset);
      free(*field);
      *field = NULL;
    }
  }
}

int config_set(struct bh_config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
  const struct cfg_opt *o = find_opt(name, strlen(name));
  if (!o) {
    set_err(err, errlen, "unknown option '%s'", name);
    return -1;
  }
  return set_opt(cfg, o, value, err, errlen);
}

static char *trim(char *s)
{
  while (isspace((unsigned char)*s))
    s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

int config_load_file(struct bh_config *cfg, const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    set_err(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
    return -1;
  }
  char line[4096];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
      continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      set_err(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
      rc = -1;
      break;
    }
    *eq = '\0';
    char *name = trim(s), *value = trim(eq + 1);
    size_t vl = strlen(value);
    if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
      value[vl - 1] = '\0';
      value++;
    }
    char inner[256];
    if (config_set(cfg, name, value, inner, sizeof inner) != 0) {
      set_err(err, errlen, "%s: %s", path, inner);
      rc = -1;
    }
  }
  fclose(f);
  return rc;
}

int config_load_env(struct bh_config *cfg, char *const *envp, char *err, size_t errlen)
{
  for (; envp && *envp; envp++) {
    const char *kv = *envp;
    if (strncmp(kv, "BIMHUB_", 7) != 0)
      continue;
    const char *eq = strchr(kv, '=');
    if (!eq)
      continue;
    char name[64];
    size_t n = (size_t)(eq - kv - 7);
    if (n == 0 || n >= sizeof name)
      continue;
    for (size_t i = 0; i < n; i++)
      name[i] = (char)tolower((unsigned char)kv[7 + i]);
    name[n] = '\0';
    if (strcmp(name, "config") == 0)
      continue; /* read by the caller before anything else */
    const struct cfg_opt *o = find_opt(name, n);
    if (!o)
      continue; /* BIMHUB_BIN and other helpers' variables are not ours */
    char inner[256];
    if (set_opt(cfg, o, eq + 1, inner, sizeof inner) != 0) {
      set_err(err, errlen, "environment BIMHUB_%s: %s", name, inner);
      return -1;
    }
  }
  return 0;
}

int config_load_args(struct bh_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
  for (int i = 0; i < argc; i++) {
    const char *flag = argv[i];
    const char *a = flag;
    if (strncmp(a, "--", 2) != 0) {
      set_err(err, errlen, "unexpected argument '%s'", a);
      return -1;
    }
    a += 2;
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    const char *value;
    if (eq) {
      value = eq + 1;
    } else {
      if (i + 1 >= argc) {
        set_err(err, errlen, "--%s needs a value", a);
        return -1;
      }
      value = argv[++i];
    }
    if (nlen == 6 && strncmp(a, "config", 6) == 0)
      continue; /* the caller reads --config first */
    const struct cfg_opt *o = find_opt(a, nlen);
    if (!o) {
      set_err(err, errlen, "unknown option '%s' (see bimhub serve --help)", flag);
      return -1;
    }
    if (set_opt(cfg, o, value, err, errlen) != 0)
      return -1;
  }
  return 0;
}

int config_finish(struct bh_config *cfg, char *err, size_t errlen)
{
  if ((cfg->admin_user == NULL) != (cfg->admin_password == NULL)) {
    set_err(err, errlen, "--admin-user and --admin-password go together");
    return -1;
  }
  if (strcmp(cfg->sqlite_synchronous, "full") != 0 &&
      strcmp(cfg->sqlite_synchronous, "normal") != 0) {
    set_err(err, errlen, "sqlite_synchronous must be full or normal, not '%s'",
            cfg->sqlite_synchronous);
    return -1;
  }
  if (cfg->public_url && strncmp(cfg->public_url, "http://", 7) != 0 &&
      strncmp(cfg->public_url, "https://", 8) != 0) {
    set_err(err, errlen, "public_url must start with http:// or https://, not '%s'",
            cfg->public_url);
    return -1;
  }
  if (cfg->http_body_budget_bytes < cfg->max_json_body_bytes) {
    set_err(err, errlen,
            "http_body_budget_bytes (%lld) must be at least max_json_body_bytes (%lld)",
            (long long)cfg->http_body_budget_bytes, (long long)cfg->max_json_body_bytes);
    return -1;
  }
  struct backoff_schedule sched;
  if (!backoff_schedule_parse(cfg->delivery_retry_schedule, &sched)) {
    set_err(err, errlen,
            "delivery_retry_schedule must be 1 to %d waits like 0,5s,5m,2h (at most 7 days "
            "each), not '%s'",
            BACKOFF_STEPS_MAX, cfg->delivery_retry_schedule);
    return -1;
  }
  return 0;
}

static void print_flag(FILE *out, const char *name)
{
  fputs("  --", out);
  for (const char *p = name; *p; p++)
    fputc(*p == '_' ? '-' : *p, out);
}

void config_print_help(FILE *out)
{
  fputs("Usage: bimhub serve [OPTIONS]\n\n"
        "Serves the BIMserver JSON API (/json) and notification stream (/stream).\n"
        "Each option is also read from the environment as BIMHUB_<NAME> and from a config\n"
        "file (--config FILE, lines 'name = value'). Precedence: file < environment < flags.\n\n"
        "  --config FILE\n      read options from FILE\n",
        out);
  for (size_t i = 0; i < CFG_COUNT; i++) {
    const struct cfg_opt *o = &cfg_opts[i];
    print_flag(out, o->name);
    fputs(o->kind == CFG_INT ? " N" : " TEXT", out);
    fprintf(out, "\n      %s", o->help);
    if (o->kind == CFG_INT)
      fprintf(out, " (default %lld)\n", (long long)o->def);
    else if (o->def_str)
      fprintf(out, " (default %s)\n", o->def_str);
    else
      fputc('\n', out);
  }
}

void config_print_example(FILE *out)
{
  fputs("# bimhub.conf: every option with its default. Lines are 'name = value'.\n", out);
  for (size_t i = 0; i < CFG_COUNT; i++) {
    const struct cfg_opt *o = &cfg_opts[i];
    fprintf(out, "\n# %s\n", o->help);
    if (o->kind == CFG_INT)
      fprintf(out, "%s = %lld\n", o->name, (long long)o->def);
    else if (o->def_str)
      fprintf(out, "%s = %s\n", o->name, o->def_str);
    else
      fprintf(out, "# %s =\n", o->name);
  }
}
