/* cli_service.c: remote services bound to a project (`bimhub service add|list|remove|secret|
 * health|enable|disable`) and their delivery log (`bimhub deliveries`, `delivery`,
 * `redeliver`, `replay`), over ServiceInterface and bimhub's DeliveryInterface. */
#include "cli/cli_internal.h"

#include <stdlib.h>
#include <string.h>

#define DLV "DeliveryInterface"

static int parse_soid(const char *s, int64_t *soid)
{
  if (!cli_parse_id(s, soid))
    return cli_fail(CLI_EXIT_USAGE, "a service is named by its soid (a number), not '%s'", s);
  return CLI_EXIT_OK;
}

/* An extended data schema by oid or name. */
static int find_schema(struct cli *c, const char *name_or_oid, int64_t *oid)
{
  if (cli_parse_id(name_or_oid, oid))
    return CLI_EXIT_OK;
  json_t *s = NULL;
  struct bimhub_error err = {0};
  enum bimhub_rc rc = bimhub_get_extended_data_schema_by_name(c->api, name_or_oid, &s, &err);
  if (rc == BIMHUB_NOT_FOUND)
    return cli_fail(CLI_EXIT_FAILED, "extended data schema '%s' not found", name_or_oid);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, NULL);
  *oid = bimhub_json_int(s, "oid", -1);
  json_decref(s);
  return CLI_EXIT_OK;
}

static int run_service_add(struct cli *c, const struct cli_args *a)
{
  const char *trigger = cli_arg(a, "trigger");
  if (!trigger)
    trigger = "NEW_REVISION";
  if (strcmp(trigger, "NEW_REVISION") != 0 && strcmp(trigger, "NEW_EXTENDED_DATA") != 0 &&
      strcmp(trigger, "NEW_PROJECT") != 0)
    return cli_fail(
        CLI_EXIT_USAGE,
        "service add: --trigger must be NEW_REVISION, NEW_EXTENDED_DATA or NEW_PROJECT");
  int64_t poid, write_poid = -1, write_ed = -1, read_ed = -1;
  int code = cli_find_poid(c, cli_arg(a, "project"), &poid);
  if (!code && cli_arg(a, "write-revision"))
    code = cli_find_poid(c, cli_arg(a, "write-revision"), &write_poid);
  if (!code && cli_arg(a, "write-extended-data"))
    code = find_schema(c, cli_arg(a, "write-extended-data"), &write_ed);
  if (!code && cli_arg(a, "read-extended-data"))
    code = find_schema(c, cli_arg(a, "read-extended-data"), &read_ed);
  if (code)
    return code;
  const char *name = cli_arg(a, "name");
  const char *ident = cli_arg(a, "identifier");
  const char *profile = cli_arg(a, "profile");
  const char *provider = cli_arg(a, "provider");
  const char *desc = cli_arg(a, "description");
  const char *user_token = cli_arg(a, "user-token");
  json_t *svc = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:s,s:s,s:s,s:b}", "__type",
      "SService", "name", name, "serviceName", name, "serviceIdentifier", ident ? ident : name,
      "providerName", provider ? provider : "", "url", cli_arg(a, "url"), "token",
      user_token ? user_token : "", "notificationProtocol", "JSON", "description", desc ? desc : "",
      "trigger", trigger, "readRevision", cli_flag(a, "read-revision"), "readExtendedDataId",
      (json_int_t)read_ed, "writeRevisionId", (json_int_t)write_poid, "writeExtendedDataId",
      (json_int_t)write_ed, "profileIdentifier", profile ? profile : "default", "profileName",
      profile ? profile : "default", "profileDescription", "", "profilePublic", 1);
  if (!svc)
    return cli_fail(CLI_EXIT_FAILED, "out of memory");
  int64_t soid = -1;
  struct bimhub_error err = {0};
  enum bimhub_rc rc = bimhub_add_service_to_project(c->api, poid, svc, &soid, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "service add");
  printf("%lld\n", (long long)soid);
  return CLI_EXIT_OK;
}

static int run_service_list(struct cli *c, const struct cli_args *a)
{
  int64_t poid;
  int code = cli_find_poid(c, cli_arg(a, "project"), &poid);
  if (code)
    return code;
  json_t *list = NULL;
  struct bimhub_error err = {0};
  enum bimhub_rc rc = bimhub_get_all_services_of_project(c->api, poid, &list, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "service list");
  if (cli_flag(a, "json")) {
    cli_print_json(list);
    json_decref(list);
    return CLI_EXIT_OK;
  }
  static const char *const head[] = {"SOID", "NAME", "IDENTIFIER", "TRIGGER", "RIGHTS", "URL"};
  struct cli_table *t = cli_table_new(6, head);
  size_t i;
  json_t *s;
  json_array_foreach(list, i, s)
  {
    char soid[24], rights[160];
    snprintf(rights, sizeof rights, "%s%s%s%s",
             json_is_true(json_object_get(s, "readRevision")) ? "read-revision " : "",
             bimhub_json_int(s, "writeRevisionId", -1) != -1 ? "write-revision " : "",
             bimhub_json_int(s, "readExtendedDataId", -1) != -1 ? "read-ed " : "",
             bimhub_json_int(s, "writeExtendedDataId", -1) != -1 ? "write-ed " : "");
    size_t n = strlen(rights);
    if (n)
      rights[n - 1] = '\0';
    cli_table_add(t, cli_id_text(s, "oid", soid, sizeof soid), cli_str(s, "name"),
                  cli_str(s, "serviceIdentifier"), cli_str(s, "trigger"), n ? rights : "-",
                  cli_str(s, "url"));
  }
  cli_table_print(t, stdout);
  cli_table_free(t);
  json_decref(list);
  return CLI_EXIT_OK;
}

/* A DeliveryInterface or ServiceInterface call taking one id; *result may be NULL. */
static int call_id(struct cli *c, const char *iface, const char *method, const char *key,
                   int64_t id, json_t **result, const char *what)
{
  struct bimhub_error err = {0};
  enum bimhub_rc rc = bimhub_client_call(c->api, iface, method,
                                         json_pack("{s:I}", key, (json_int_t)id), result, &err);
  return rc == BIMHUB_OK ? CLI_EXIT_OK : cli_fail_rc(rc, &err, what);
}

static int run_service_remove(struct cli *c, const struct cli_args *a)
{
  int64_t soid;
  int code = parse_soid(a->pos[0], &soid);
  if (!code)
    code = call_id(c, "ServiceInterface", "deleteService", "oid", soid, NULL, "service remove");
  if (!code)
    printf("service %lld removed\n", (long long)soid);
  return code;
}

static int run_service_secret(struct cli *c, const struct cli_args *a)
{
  int64_t soid;
  int code = parse_soid(a->pos[0], &soid);
  if (code)
    return code;
  bool rotate = cli_flag(a, "rotate");
  json_t *r = NULL;
  code = call_id(c, DLV, rotate ? "rotateServiceSecret" : "getServiceSecret", "soid", soid, &r,
                 "service secret");
  if (!code && !json_is_string(r))
    code = cli_fail(CLI_EXIT_UNREACHABLE, "service secret: the server did not answer a string");
  if (!code)
    puts(json_string_value(r));
  json_decref(r);
  return code;
}

static int run_service_health(struct cli *c, const struct cli_args *a)
{
  int64_t soid;
  int code = parse_soid(a->pos[0], &soid);
  json_t *h = NULL;
  if (!code)
    code = call_id(c, DLV, "getServiceHealth", "soid", soid, &h, "service health");
  if (code)
    return code;
  if (cli_flag(a, "json")) {
    cli_print_json(h);
  } else {
    static const char *const keys[] = {
        "enabled",     "disabledReason",      "pending",     "delivered", "failed",
        "cancelled",   "lastSuccess",         "lastFailure", "lastError", "attempts24h",
        "failures24h", "consecutiveFailures", "inFlight",    "parallel",  "deleted"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      json_t *v = json_object_get(h, keys[i]);
      char buf[64];
      const char *text = "-";
      if (json_is_string(v))
        text = json_string_value(v);
      else if (json_is_boolean(v))
        text = json_is_true(v) ? "yes" : "no";
      else if (json_is_integer(v) && strncmp(keys[i], "last", 4) == 0)
        cli_format_time(json_integer_value(v), buf, sizeof buf), text = buf;
      else if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v)), text = buf;
      printf("%-20s%s\n", keys[i], text);
    }
  }
  json_decref(h);
  return CLI_EXIT_OK;
}

static int run_service_enable(struct cli *c, const struct cli_args *a)
{
  int64_t soid;
  int code = parse_soid(a->pos[0], &soid);
  if (!code)
    code = call_id(c, DLV, "enableService", "soid", soid, NULL, "service enable");
  if (!code)
    printf("service %lld enabled\n", (long long)soid);
  return code;
}

static int run_service_disable(struct cli *c, const struct cli_args *a)
{
  int64_t soid;
  int code = parse_soid(a->pos[0], &soid);
  if (code)
    return code;
  const char *reason = cli_arg(a, "reason");
  struct bimhub_error err = {0};
  enum bimhub_rc rc = bimhub_client_call(
      c->api, DLV, "disableService",
      json_pack("{s:I,s:s?}", "soid", (json_int_t)soid, "reason", reason), NULL, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "service disable");
  printf("service %lld disabled\n", (long long)soid);
  return CLI_EXIT_OK;
}

/* ---- the delivery log ---- */

static void add_delivery_row(struct cli_table *t, const json_t *d)
{
  char id[24], attempts[24], roid[24], created[40], last[40], status[24];
  cli_format_time(bimhub_json_int(d, "created", 0), created, sizeof created);
  cli_format_time(bimhub_json_int(d, "lastAttempt", 0), last, sizeof last);
  int64_t st = bimhub_json_int(d, "lastStatus", 0);
  if (st > 0)
    snprintf(status, sizeof status, "%lld", (long long)st);
  else
    snprintf(status, sizeof status, "-");
  cli_table_add(t, cli_id_text(d, "oid", id, sizeof id), cli_str(d, "state"),
                cli_id_text(d, "attempts", attempts, sizeof attempts), cli_str(d, "method"),
                cli_id_text(d, "roid", roid, sizeof roid), created, last, status,
                cli_str(d, "lastError"));
}

static const char *const delivery_head[] = {"ID",       "STATE",       "ATTEMPTS",
                                            "METHOD",   "ROID",        "CREATED",
                                            "LAST TRY", "LAST STATUS", "LAST ERROR"};

static int run_deliveries(struct cli *c, const struct cli_args *a)
{
  int64_t soid, before = -1;
  long limit = 100;
  int code = parse_soid(cli_arg(a, "service"), &soid);
  if (code)
    return code;
  const char *state = cli_arg(a, "state");
  if (cli_flag(a, "failed")) {
    if (state && strcmp(state, "FAILED") != 0)
      return cli_fail(CLI_EXIT_USAGE, "deliveries: --failed and --state %s disagree", state);
    state = "FAILED";
  }
  if (state && strcmp(state, "PENDING") != 0 && strcmp(state, "DELIVERED") != 0 &&
      strcmp(state, "FAILED") != 0 && strcmp(state, "CANCELLED") != 0)
    return cli_fail(CLI_EXIT_USAGE,
                    "deliveries: --state must be PENDING, DELIVERED, FAILED or CANCELLED");
  if (cli_arg(a, "limit") && !cli_parse_count(cli_arg(a, "limit"), 1, 1000, &limit))
    return cli_fail(CLI_EXIT_USAGE, "deliveries: --limit must be 1 to 1000");
  if (cli_arg(a, "before") && !cli_parse_id(cli_arg(a, "before"), &before))
    return cli_fail(CLI_EXIT_USAGE, "deliveries: --before takes a delivery id");
  json_t *params = json_pack("{s:I,s:s?,s:I}", "soid", (json_int_t)soid, "state", state, "limit",
                             (json_int_t)limit);
  if (params && before > 0)
    json_object_set_new(params, "beforeId", json_integer(before));
  json_t *list = NULL;
  struct bimhub_error err = {0};
  enum bimhub_rc rc = bimhub_client_call(c->api, DLV, "listDeliveries", params, &list, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "deliveries");
  if (cli_flag(a, "json")) {
    cli_print_json(list);
  } else {
    struct cli_table *t = cli_table_new(9, delivery_head);
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) add_delivery_row(t, d);
    cli_table_print(t, stdout);
    cli_table_free(t);
  }
  json_decref(list);
  return CLI_EXIT_OK;
}

static int run_delivery(struct cli *c, const struct cli_args *a)
{
  int64_t id;
  if (!cli_parse_id(a->pos[0], &id))
    return cli_fail(CLI_EXIT_USAGE, "delivery: ID must be a delivery id (a number)");
  json_t *d = NULL;
  int code = call_id(c, DLV, "getDelivery", "id", id, &d, "delivery");
  if (code)
    return code;
  if (cli_flag(a, "json")) {
    cli_print_json(d);
  } else {
    struct cli_table *t = cli_table_new(9, delivery_head);
    add_delivery_row(t, d);
    cli_table_print(t, stdout);
    cli_table_free(t);
    static const char *const head[] = {"TIME", "MS", "HTTP", "OK", "ERROR"};
    t = cli_table_new(5, head);
    size_t i;
    json_t *at;
    json_array_foreach(json_object_get(d, "attemptList"), i, at)
    {
      char when[40], ms[24], http[24];
      cli_format_time(bimhub_json_int(at, "time", 0), when, sizeof when);
      cli_table_add(t, when, cli_id_text(at, "durationMs", ms, sizeof ms),
                    cli_id_text(at, "httpStatus", http, sizeof http),
                    json_is_true(json_object_get(at, "ok")) ? "yes" : "no", cli_str(at, "error"));
    }
    fputs("\nAttempts:\n", stdout);
    cli_table_print(t, stdout);
    cli_table_free(t);
  }
  json_decref(d);
  return CLI_EXIT_OK;
}

static int run_redeliver(struct cli *c, const struct cli_args *a)
{
  int64_t id;
  if (!cli_parse_id(a->pos[0], &id))
    return cli_fail(CLI_EXIT_USAGE, "redeliver: ID must be a delivery id (a number)");
  int code = call_id(c, DLV, "redeliver", "id", id, NULL, "redeliver");
  if (!code)
    printf("delivery %lld queued again\n", (long long)id);
  return code;
}

static int run_replay(struct cli *c, const struct cli_args *a)
{
  int64_t soid, since;
  int code = parse_soid(cli_arg(a, "service"), &soid);
  if (code)
    return code;
  if (!cli_parse_time(cli_arg(a, "since"), cli_now_ms(), &since))
    return cli_fail(CLI_EXIT_USAGE,
                    "replay: --since takes an ISO 8601 time (2024-05-01T12:00:00Z) or a "
                    "duration ago (2h, 30m, 1d)");
  json_t *n = NULL;
  struct bimhub_error err = {0};
  enum bimhub_rc rc = bimhub_client_call(
      c->api, DLV, "replay", json_pack("{s:I,s:I}", "soid", (json_int_t)soid, "since", since), &n,
      &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "replay");
  char when[40];
  cli_format_time(since, when, sizeof when);
  printf("%lld deliveries since %s queued again\n", (long long)json_integer_value(n), when);
  json_decref(n);
  return CLI_EXIT_OK;
}

static const struct cli_opt add_opts[] = {
    {"project", 'p', "PROJECT", "the project (name or poid)", true},
    {"url", 0, "URL",
     "the service's base URL (it answers POST URL/json); the server then comes "
     "from --server, $BIMHUB_URL or `bimhub login`",
     true},
    {"name", 'n', "NAME", "the service's name, unique in the project", true},
    {"identifier", 'i', "ID", "the provider's serviceIdentifier (default: NAME)"},
    {"trigger", 't', "TRIGGER", "NEW_REVISION (default), NEW_EXTENDED_DATA or NEW_PROJECT"},
    {"read-revision", 0, NULL, "may download the project's revisions"},
    {"write-revision", 0, "PROJECT", "may check in to this project (name or poid)"},
    {"write-extended-data", 0, "SCHEMA", "may write extended data of this schema (name or oid)"},
    {"read-extended-data", 0, "SCHEMA", "may read extended data of this schema (name or oid)"},
    {"profile", 0, "ID", "the profile identifier (default: default)"},
    {"provider", 0, "NAME", "the provider's name"},
    {"description", 0, "TEXT", "a description"},
    {"user-token", 0, "TOKEN", "your token at the provider (sent as userToken)"},
    {NULL},
};
static const struct cli_opt project_json_opts[] = {
    {"project", 'p', "PROJECT", "the project (name or poid)", true},
    {"json", 0, NULL, "print JSON"},
    {NULL},
};
static const struct cli_opt secret_opts[] = {
    {"rotate", 0, NULL, "make a new secret (the old one still signs for service_secret_overlap_s)"},
    {NULL},
};
static const struct cli_opt json_opts[] = {
    {"json", 0, NULL, "print JSON"},
    {NULL},
};
static const struct cli_opt disable_opts[] = {
    {"reason", 0, "TEXT", "why (shown by service health)"},
    {NULL},
};
static const struct cli_opt deliveries_opts[] = {
    {"service", 's', "SOID", "the service", true},
    {"failed", 0, NULL, "only the failed ones (the same as --state FAILED)"},
    {"state", 0, "STATE", "PENDING, DELIVERED, FAILED or CANCELLED"},
    {"limit", 'n', "N", "at most N, newest first (default 100, at most 1000)"},
    {"before", 0, "ID", "only deliveries older than this id (paging)"},
    {"json", 0, NULL, "print the SDelivery list as JSON"},
    {NULL},
};
static const struct cli_opt replay_opts[] = {
    {"service", 's', "SOID", "the service", true},
    {"since", 0, "TIME", "ISO 8601 (2024-05-01T12:00:00Z, 2024-05-01) or a duration ago (2h, 30m)",
     true},
    {NULL},
};

const struct cli_cmd cli_service_cmds[] = {
    {"service add", "", 0, 0, "register a remote service on a project (prints its soid)",
     "The server does not contact the service now. Give the service its signing secret\n"
     "(bimhub service secret SOID) so it can verify the notifications.\n",
     add_opts, CLI_NEEDS_LOGIN, run_service_add},
    {"service list", "", 0, 0, "list the services of a project", NULL, project_json_opts,
     CLI_NEEDS_LOGIN, run_service_list},
    {"service remove", "SOID", 1, 1, "remove a service (its tokens stop working)", NULL, NULL,
     CLI_NEEDS_LOGIN, run_service_remove},
    {"service secret", "SOID", 1, 1, "print (or --rotate) the service's whsec_ signing secret",
     NULL, secret_opts, CLI_NEEDS_LOGIN, run_service_secret},
    {"service health", "SOID", 1, 1, "the service's delivery health", NULL, json_opts,
     CLI_NEEDS_LOGIN, run_service_health},
    {"service enable", "SOID", 1, 1, "start sending notifications again", NULL, NULL,
     CLI_NEEDS_LOGIN, run_service_enable},
    {"service disable", "SOID", 1, 1, "stop sending notifications (nothing is lost)", NULL,
     disable_opts, CLI_NEEDS_LOGIN, run_service_disable},
    {"deliveries", "", 0, 0, "a service's notification deliveries, newest first", NULL,
     deliveries_opts, CLI_NEEDS_LOGIN, run_deliveries},
    {"delivery", "ID", 1, 1, "one delivery and its attempts", NULL, json_opts, CLI_NEEDS_LOGIN,
     run_delivery},
    {"redeliver", "ID", 1, 1, "send a delivered or failed delivery again", NULL, NULL,
     CLI_NEEDS_LOGIN, run_redeliver},
    {"replay", "", 0, 0, "send again every delivery of a service since a time", NULL, replay_opts,
     CLI_NEEDS_LOGIN, run_replay},
    {NULL},
};
