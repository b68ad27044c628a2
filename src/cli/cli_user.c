/* cli_user.c: `bimhub user add|list`. */
#include "cli/cli_internal.h"

#include <stdlib.h>
#include <string.h>

static int run_user_add(struct cli *c, const struct cli_args *a)
{
  const char *type = cli_arg(a, "type");
  if (!type)
    type = "USER";
  if (strcmp(type, "USER") != 0 && strcmp(type, "ADMIN") != 0 && strcmp(type, "READ_ONLY") != 0)
    return cli_fail(CLI_EXIT_USAGE, "user add: --type must be USER, ADMIN or READ_ONLY");
  const char *password = cli_arg(a, "password");
  struct bimhub_error err = {0};
  json_t *u = NULL;
  enum bimhub_rc rc = password
                          ? bimhub_add_user_with_password(c->api, a->pos[0], password,
                                                          cli_arg(a, "name"), type, &u, &err)
                          : bimhub_add_user(c->api, a->pos[0], cli_arg(a, "name"), type, &u, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "user add");
  if (cli_flag(a, "json"))
    cli_print_json(u);
  else
    printf("%lld\n", (long long)bimhub_json_int(u, "oid", -1));
  json_decref(u);
  return CLI_EXIT_OK;
}

static int run_user_list(struct cli *c, const struct cli_args *a)
{
  struct bimhub_error err = {0};
  json_t *list = NULL;
  enum bimhub_rc rc = bimhub_get_all_users(c->api, &list, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "user list");
  if (cli_flag(a, "json")) {
    cli_print_json(list);
    json_decref(list);
    return CLI_EXIT_OK;
  }
  static const char *const head[] = {"UOID", "USERNAME", "NAME", "TYPE", "STATE", "LAST SEEN"};
  struct cli_table *t = cli_table_new(6, head);
  size_t i;
  json_t *u;
  json_array_foreach(list, i, u)
  {
    char uoid[24], seen[40];
    cli_format_time(bimhub_json_int(u, "lastSeen", 0), seen, sizeof seen);
    cli_table_add(t, cli_id_text(u, "oid", uoid, sizeof uoid), cli_str(u, "username"),
                  cli_str(u, "name"), cli_str(u, "userType"), cli_str(u, "state"), seen);
  }
  cli_table_print(t, stdout);
  cli_table_free(t);
  json_decref(list);
  return CLI_EXIT_OK;
}

static const struct cli_opt add_opts[] = {
    {"name", 'n', "NAME", "the person's name", true},
    {"type", 't', "TYPE", "USER (default), ADMIN or READ_ONLY"},
    {"password", 'p', "PASSWORD", "set this password (without it the user cannot log in yet)"},
    {"json", 0, NULL, "print the new SUser as JSON instead of its uoid"},
    {NULL},
};
static const struct cli_opt list_opts[] = {
    {"json", 0, NULL, "print the SUser list as JSON"},
    {NULL},
};

const struct cli_cmd cli_user_cmds[] = {
    {"user add", "USERNAME", 1, 1, "add a user (admins; prints the uoid)", NULL, add_opts,
     CLI_NEEDS_LOGIN, run_user_add},
    {"user list", "", 0, 0, "list the users", NULL, list_opts, CLI_NEEDS_LOGIN, run_user_list},
    {NULL},
};
