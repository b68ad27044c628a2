/* cli_auth.c: `bimhub login` and `bimhub logout`. login asks for the user name and the
 * password on the terminal (the password without echo) unless they are given, logs in and
 * keeps the URL and the token in the credentials file; logout revokes the token on the
 * server and removes the file. */
#include "cli/cli_internal.h"

#include <stdlib.h>
#include <string.h>

static int run_login(struct cli *c, const struct cli_args *a)
{
  (void)c;
  char why[512];
  const char *url = a->n_pos ? a->pos[0] : cli_arg(a, "url");
  if (!url || !url[0])
    url = cli_arg(a, "server");
  if (!url || !url[0])
    url = getenv("BIMHUB_URL");
  if (!url || !url[0])
    return cli_fail(CLI_EXIT_USAGE, "login: which server? (bimhub login URL)");
  struct bimhub_client *api = bimhub_client_new(url);
  if (!api)
    return cli_fail(CLI_EXIT_USAGE, "the URL must start with http:// or https:// (got '%s')", url);

  char user_buf[256], pass_buf[1024];
  const char *user = cli_arg(a, "username");
  if (!user || !user[0])
    user = getenv("BIMHUB_USERNAME");
  const char *pass = cli_arg(a, "password");
  if (!pass || !pass[0])
    pass = getenv("BIMHUB_PASSWORD");
  int code = CLI_EXIT_OK;
  if (!user || !user[0]) {
    if (cli_prompt("Username: ", true, user_buf, sizeof user_buf) != 0 || !user_buf[0])
      code = cli_fail(CLI_EXIT_USAGE, "login: no user name (give --username, or run it on a "
                                      "terminal)");
    user = user_buf;
  }
  if (code == CLI_EXIT_OK && (!pass || !pass[0])) {
    char prompt[300];
    snprintf(prompt, sizeof prompt, "Password for %s: ", user);
    if (cli_prompt(prompt, false, pass_buf, sizeof pass_buf) != 0)
      code = cli_fail(CLI_EXIT_USAGE, "login: no password (give --password or BIMHUB_PASSWORD, "
                                      "or run it on a terminal)");
    pass = pass_buf;
  }
  if (code == CLI_EXIT_OK) {
    struct bimhub_error err = {0};
    enum bimhub_rc rc = bimhub_client_login(api, user, pass, &err);
    if (rc == BIMHUB_EXCEPTION)
      code = cli_fail(CLI_EXIT_FAILED, "login refused: %s", err.message);
    else if (rc != BIMHUB_OK)
      code = cli_fail_rc(rc, &err, "login");
  }
  memset(pass_buf, 0, sizeof pass_buf);
  if (code == CLI_EXIT_OK) {
    struct cli_creds cr = {.url = (char *)bimhub_client_url(api),
                           .username = (char *)user,
                           .token = (char *)bimhub_client_token(api)};
    char path[4096];
    if (cli_creds_save(&cr, why, sizeof why) != 0) {
      code = cli_fail(CLI_EXIT_FAILED, "login: %s", why);
    } else {
      cli_creds_path(path, sizeof path);
      printf("logged in to %s as %s (token kept in %s)\n", cr.url, user, path);
    }
  }
  bimhub_client_free(api);
  return code;
}

static int run_logout(struct cli *c, const struct cli_args *a)
{
  (void)c;
  struct cli_creds cr = {0};
  char why[512];
  if (cli_creds_load(&cr, why, sizeof why) != 0)
    return cli_fail(CLI_EXIT_FAILED, "logout: %s", why);
  const char *url = cli_arg(a, "url");
  const char *token = cli_arg(a, "token");
  if (!url || !url[0])
    url = cli_arg(a, "server");
  if (!url || !url[0])
    url = getenv("BIMHUB_URL");
  if (!token || !token[0])
    token = getenv("BIMHUB_TOKEN");
  if (!url || !url[0])
    url = cr.url;
  if ((!token || !token[0]) && cr.url && url && strcmp(cr.url, url) == 0)
    token = cr.token;

  int code = CLI_EXIT_OK;
  bool revoked = false;
  if (url && url[0] && token && token[0]) {
    struct bimhub_client *api = bimhub_client_new(url);
    if (!api) {
      code =
          cli_fail(CLI_EXIT_USAGE, "the URL must start with http:// or https:// (got '%s')", url);
    } else {
      bimhub_client_set_token(api, token);
      struct bimhub_error err = {0};
      enum bimhub_rc rc = bimhub_client_logout(api, &err);
      revoked = rc == BIMHUB_OK;
      /* a token the server no longer knows is logged out already */
      if (rc != BIMHUB_OK && cli_exit_of(rc, &err) != CLI_EXIT_NOT_LOGGED_IN)
        code = cli_fail_rc(rc, &err, "logout: the token may still be valid");
      bimhub_client_free(api);
    }
  }
  int removed = cli_creds_remove(why, sizeof why);
  if (removed < 0)
    code = cli_fail(CLI_EXIT_FAILED, "logout: %s", why);
  if (code == CLI_EXIT_OK) {
    if (revoked || removed > 0)
      printf("logged out%s%s\n", url ? " of " : "", url ? url : "");
    else
      printf("not logged in\n");
  }
  cli_creds_clear(&cr);
  return code;
}

static const struct cli_opt login_opts[] = {
    {"username", 'u', "USER", "the user name (default: $BIMHUB_USERNAME, else asked)"},
    {"password", 'p', "PASSWORD",
     "the password (default: $BIMHUB_PASSWORD, else asked on the terminal without echo)"},
    {NULL},
};

const struct cli_cmd cli_auth_cmds[] = {
    {"login", "URL", 0, 1, "log in and keep the token for the next commands",
     "Logs in to the server at URL (default: $BIMHUB_URL) and writes the URL and the token to\n"
     "$XDG_CONFIG_HOME/bimhub/credentials (default ~/.config/bimhub/credentials), mode 0600 in a\n"
     "directory of mode 0700. Every other command reads it unless --url/--token or\n"
     "BIMHUB_URL/BIMHUB_TOKEN say otherwise.\n",
     login_opts, CLI_NEEDS_NOTHING, run_login},
    {"logout", "", 0, 0, "revoke the token and forget it",
     "Logs out on the server (the token stops working) and removes the credentials file.\n", NULL,
     CLI_NEEDS_NOTHING, run_logout},
    {NULL},
};
