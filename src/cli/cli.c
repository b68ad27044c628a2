/* cli.c: the command line client's dispatch. Finds the command ("project add" is a group and
 * a sub-command), parses its options, finds the server and the token (flags, then
 * BIMHUB_URL/BIMHUB_TOKEN, then the credentials file of `bimhub login`), runs it, and maps
 * every failure to one line on stderr and an exit code of cli.h. */
#include "cli/cli_internal.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cli_cmd *const cmd_tables[] = {
    cli_auth_cmds,    cli_project_cmds, cli_user_cmds,
    cli_checkin_cmds, cli_watch_cmds,   cli_service_cmds,
};
#define N_TABLES (sizeof cmd_tables / sizeof cmd_tables[0])

/* `bimhub --help`: commands and groups in this order. */
static const struct {
  const char *name;
  const char *summary; /* NULL: the command's own */
} overview[] = {
    {"login", NULL},
    {"logout", NULL},
    {"project", "projects: add, list, show"},
    {"user", "users: add, list"},
    {"checkin", NULL},
    {"revisions", NULL},
    {"download", NULL},
    {"watch", NULL},
    {"service", "remote services of a project: add, list, remove, secret, health, enable, disable"},
    {"deliveries", NULL},
    {"delivery", NULL},
    {"redeliver", NULL},
    {"replay", NULL},
};
#define N_OVERVIEW (sizeof overview / sizeof overview[0])

/* ---- errors ---- */

int cli_fail(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("bimhub: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return code;
}

static bool is_invalid_token(const struct bimhub_error *err)
{
  return err && (err->code == 3 || strcmp(err->type, "AuthenticationException") == 0);
}

int cli_exit_of(enum bimhub_rc rc, const struct bimhub_error *err)
{
  switch (rc) {
  case BIMHUB_OK:
    return CLI_EXIT_OK;
  case BIMHUB_EXCEPTION:
    return is_invalid_token(err) ? CLI_EXIT_NOT_LOGGED_IN : CLI_EXIT_FAILED;
  case BIMHUB_TRANSPORT:
  case BIMHUB_HTTP:
  case BIMHUB_PROTOCOL:
  case BIMHUB_TIMEOUT:
    return CLI_EXIT_UNREACHABLE;
  case BIMHUB_INVALID:
    return CLI_EXIT_USAGE;
  default:
    return CLI_EXIT_FAILED;
  }
}

int cli_fail_rc(enum bimhub_rc rc, const struct bimhub_error *err, const char *what)
{
  int code = cli_exit_of(rc, err);
  const char *msg = err && err->message[0] ? err->message : bimhub_rc_text(rc);
  if (code == CLI_EXIT_NOT_LOGGED_IN)
    return cli_fail(code, "not logged in: %s (run `bimhub login URL`)", msg);
  if (code == CLI_EXIT_UNREACHABLE && rc != BIMHUB_TIMEOUT)
    return cli_fail(code, "cannot reach the server: %s", msg);
  if (what)
    return cli_fail(code, "%s: %s", what, msg);
  return cli_fail(code, "%s", msg);
}

/* ---- projects by name or poid ---- */

int cli_find_project(struct cli *c, const char *name_or_poid, json_t **project)
{
  struct bimhub_error err = {0};
  int64_t poid;
  *project = NULL;
  if (cli_parse_id(name_or_poid, &poid)) {
    enum bimhub_rc rc = bimhub_get_project_by_poid(c->api, poid, project, &err);
    if (rc == BIMHUB_OK)
      return CLI_EXIT_OK;
    if (rc == BIMHUB_NOT_FOUND || (rc == BIMHUB_EXCEPTION && !is_invalid_token(&err)))
      return cli_fail(CLI_EXIT_FAILED, "project %s not found (%s)", name_or_poid, err.message);
    return cli_fail_rc(rc, &err, NULL);
  }
  json_t *list = NULL;
  enum bimhub_rc rc = bimhub_get_projects_by_name(c->api, name_or_poid, &list, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, NULL);
  /* deleted projects are listed to admins: an active one wins */
  json_t *found = NULL, *p;
  size_t i, n_active = 0;
  json_array_foreach(list, i, p)
  {
    if (strcmp(cli_str(p, "state"), "DELETED") != 0) {
      n_active++;
      found = p;
    }
  }
  if (n_active == 0 && json_array_size(list) == 1)
    found = json_array_get(list, 0);
  int code = CLI_EXIT_OK;
  if (!found) {
    code = cli_fail(CLI_EXIT_FAILED, "project '%s' not found", name_or_poid);
  } else if (n_active > 1) {
    char ids[256] = "";
    size_t used = 0;
    json_array_foreach(list, i, p)
    {
      if (strcmp(cli_str(p, "state"), "DELETED") != 0 && used < sizeof ids - 24)
        used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%lld", used ? ", " : "",
                                 (long long)bimhub_json_int(p, "oid", -1));
    }
    code =
        cli_fail(CLI_EXIT_FAILED, "more than one project is named '%s' (poids %s): give the poid",
                 name_or_poid, ids);
  } else {
    *project = json_incref(found);
  }
  json_decref(list);
  return code;
}

int cli_find_poid(struct cli *c, const char *name_or_poid, int64_t *poid)
{
  json_t *p;
  int code = cli_find_project(c, name_or_poid, &p);
  if (code == CLI_EXIT_OK)
    *poid = bimhub_json_int(p, "oid", -1);
  json_decref(p);
  return code;
}

/* ---- dispatch ---- */

static const struct cli_cmd *find_cmd(const char *first, const char *second, bool *is_group)
{
  *is_group = false;
  for (size_t t = 0; t < N_TABLES; t++)
    for (const struct cli_cmd *c = cmd_tables[t]; c->name; c++) {
      size_t n = strlen(first);
      if (strncmp(c->name, first, n) != 0)
        continue;
      if (c->name[n] == '\0')
        return c;
      if (c->name[n] == ' ') {
        *is_group = true;
        if (second && strcmp(c->name + n + 1, second) == 0)
          return c;
      }
    }
  return NULL;
}

bool cli_is_command(const char *name)
{
  bool is_group;
  return name && (find_cmd(name, NULL, &is_group) != NULL || is_group);
}

void cli_print_commands(FILE *out)
{
  for (size_t i = 0; i < N_OVERVIEW; i++) {
    bool is_group;
    const struct cli_cmd *c = find_cmd(overview[i].name, NULL, &is_group);
    const char *summary = overview[i].summary ? overview[i].summary : c ? c->summary : "";
    fprintf(out, "  %-12s%s\n", overview[i].name, summary);
  }
}

static void print_group(const char *group, FILE *out)
{
  fprintf(out, "Usage: bimhub %s <command> [options]\n\nCommands:\n", group);
  size_t n = strlen(group);
  for (size_t t = 0; t < N_TABLES; t++)
    for (const struct cli_cmd *c = cmd_tables[t]; c->name; c++)
      if (strncmp(c->name, group, n) == 0 && c->name[n] == ' ')
        fprintf(out, "  %-8s%s\n", c->name + n + 1, c->summary);
  fprintf(out, "\nSee bimhub %s <command> --help.\n", group);
}

/* The server and the token: flags, then the environment, then the credentials file (whose
 * token is used only for its own URL). */
static int login_client(struct cli *c, const struct cli_args *a, struct cli_creds *cr)
{
  const char *url = cli_common_arg(a, "server");
  const char *token = cli_common_arg(a, "token");
  if (!url || !url[0])
    url = cli_common_arg(a, "url");
  if (!url || !url[0])
    url = getenv("BIMHUB_URL");
  if (!token || !token[0])
    token = getenv("BIMHUB_TOKEN");
  char why[512];
  if ((!url || !url[0] || !token || !token[0]) && cli_creds_load(cr, why, sizeof why) != 0)
    return cli_fail(CLI_EXIT_NOT_LOGGED_IN, "%s", why);
  if (!url || !url[0])
    url = cr->url;
  if ((!token || !token[0]) && cr->token && cr->url && strcmp(cr->url, url ? url : "") == 0)
    token = cr->token;
  if (!url || !url[0])
    return cli_fail(CLI_EXIT_NOT_LOGGED_IN,
                    "not logged in: run `bimhub login URL`, or set BIMHUB_URL and BIMHUB_TOKEN");
  if (!token || !token[0])
    return cli_fail(CLI_EXIT_NOT_LOGGED_IN,
                    "not logged in to %s: run `bimhub login %s`, or set BIMHUB_TOKEN", url, url);
  c->api = bimhub_client_new(url);
  if (!c->api)
    return cli_fail(CLI_EXIT_USAGE, "the URL must start with http:// or https:// (got '%s')", url);
  bimhub_client_set_token(c->api, token);
  c->url = bimhub_client_url(c->api);
  return CLI_EXIT_OK;
}

int cli_main(int argc, char **argv)
{
  if (argc < 2)
    return cli_fail(CLI_EXIT_USAGE, "no command (see bimhub --help)");
  const char *second = argc > 2 ? argv[2] : NULL;
  bool is_group;
  const struct cli_cmd *cmd = find_cmd(argv[1], second, &is_group);
  if (!cmd && is_group) {
    if (second && (strcmp(second, "--help") == 0 || strcmp(second, "-h") == 0 ||
                   strcmp(second, "help") == 0)) {
      print_group(argv[1], stdout);
      return CLI_EXIT_OK;
    }
    if (!second)
      return cli_fail(CLI_EXIT_USAGE, "%s needs a command (see bimhub %s --help)", argv[1],
                      argv[1]);
    return cli_fail(CLI_EXIT_USAGE, "unknown command '%s %s' (see bimhub %s --help)", argv[1],
                    second, argv[1]);
  }
  if (!cmd)
    return cli_fail(CLI_EXIT_USAGE, "unknown command '%s' (see bimhub --help)", argv[1]);
  int skip = strchr(cmd->name, ' ') ? 3 : 2;

  struct cli_args a;
  char why[512];
  if (cli_args_parse(cmd, argc - skip, argv + skip, &a, why, sizeof why) != 0)
    return cli_fail(CLI_EXIT_USAGE, "%s: %s (see bimhub %s --help)", cmd->name, why, cmd->name);
  if (a.wants_help) {
    cli_print_help(cmd, stdout);
    return CLI_EXIT_OK;
  }
  signal(SIGPIPE, SIG_IGN);
  /* the commands report what matters themselves (watch: reconnects); the SDK's own log only
   * for errors */
  bimhub_set_log(BIMHUB_LOG_ERROR, NULL, NULL);
  struct cli c = {.cmd = cmd, .is_tty = isatty(STDOUT_FILENO) == 1};
  struct cli_creds cr = {0};
  int code = CLI_EXIT_OK;
  if (cmd->needs & CLI_NEEDS_LOGIN)
    code = login_client(&c, &a, &cr);
  if (code == CLI_EXIT_OK)
    code = cmd->run(&c, &a);
  bimhub_client_free(c.api);
  cli_creds_clear(&cr);
  if (fflush(stdout) != 0 && code == CLI_EXIT_OK)
    code = cli_fail(CLI_EXIT_FAILED, "cannot write the output");
  return code;
}
