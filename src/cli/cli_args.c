/* cli_args.c: the option parser and --help of every command. Each command lists its options
 * in a table (struct cli_opt); the parser accepts --name VALUE, --name=VALUE, -x VALUE, flags,
 * and "--" before positional arguments that start with "-". The help text is made from the
 * same table, so they never disagree. */
#include "cli/cli_internal.h"

#include <stdio.h>
#include <string.h>

const struct cli_opt cli_common_opts[] = {
    {"url", 0, "URL", "the server (default: $BIMHUB_URL, else the one of `bimhub login`)"},
    {"server", 0, "URL", "the same as --url (for service add, whose --url is the service's)"},
    {"token", 0, "TOKEN", "the session token (default: $BIMHUB_TOKEN, else `bimhub login`'s)"},
    {"help", 'h', NULL, "this text"},
    {NULL},
};

static int add_table(struct cli_args *a, const struct cli_opt *opts)
{
  for (const struct cli_opt *o = opts; o && o->name; o++) {
    if (a->n_opts == CLI_MAX_OPTS)
      return -1;
    a->opts[a->n_opts] = o;
    a->val[a->n_opts] = NULL;
    a->n_opts++;
  }
  return 0;
}

static int find_long(const struct cli_args *a, const char *name, size_t len)
{
  for (size_t i = 0; i < a->n_opts; i++)
    if (strlen(a->opts[i]->name) == len && strncmp(a->opts[i]->name, name, len) == 0)
      return (int)i;
  return -1;
}

static int find_short(const struct cli_args *a, char c)
{
  for (size_t i = 0; i < a->n_opts; i++)
    if (a->opts[i]->short_name == c)
      return (int)i;
  return -1;
}

int cli_args_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a, char *why,
                   size_t why_len)
{
  memset(a, 0, sizeof *a);
  if (add_table(a, cmd->opts) != 0 || add_table(a, cli_common_opts) != 0) {
    snprintf(why, why_len, "too many options");
    return -1;
  }
  bool only_pos = false;
  for (int i = 0; i < argc; i++) {
    const char *w = argv[i];
    if (only_pos || w[0] != '-' || w[1] == '\0') {
      if (a->n_pos == CLI_MAX_POS) {
        snprintf(why, why_len, "too many arguments");
        return -1;
      }
      a->pos[a->n_pos++] = w;
      continue;
    }
    if (strcmp(w, "--") == 0) {
      only_pos = true;
      continue;
    }
    int k;
    const char *inline_val = NULL;
    if (w[1] == '-') {
      const char *name = w + 2;
      const char *eq = strchr(name, '=');
      k = find_long(a, name, eq ? (size_t)(eq - name) : strlen(name));
      if (eq)
        inline_val = eq + 1;
    } else {
      k = w[2] == '\0' ? find_short(a, w[1]) : -1;
    }
    if (k < 0) {
      snprintf(why, why_len, "unknown option '%s'", w);
      return -1;
    }
    const struct cli_opt *o = a->opts[k];
    if (!o->arg) {
      if (inline_val) {
        snprintf(why, why_len, "--%s takes no value", o->name);
        return -1;
      }
      a->val[k] = "";
    } else if (inline_val) {
      a->val[k] = inline_val;
    } else if (i + 1 < argc) {
      a->val[k] = argv[++i];
    } else {
      snprintf(why, why_len, "--%s needs a value (%s)", o->name, o->arg);
      return -1;
    }
    if (strcmp(o->name, "help") == 0)
      a->wants_help = true;
  }
  if (a->wants_help)
    return 0;
  for (size_t i = 0; i < a->n_opts; i++)
    if (a->opts[i]->is_required && !a->val[i]) {
      snprintf(why, why_len, "--%s is required", a->opts[i]->name);
      return -1;
    }
  if (a->n_pos < cmd->min_pos) {
    snprintf(why, why_len, "missing argument%s: %s", cmd->min_pos - a->n_pos > 1 ? "s" : "",
             cmd->args);
    return -1;
  }
  if (a->n_pos > cmd->max_pos) {
    snprintf(why, why_len, "unexpected argument '%s'", a->pos[cmd->max_pos]);
    return -1;
  }
  return 0;
}

static bool is_common(const struct cli_opt *o)
{
  for (const struct cli_opt *c = cli_common_opts; c->name; c++)
    if (c == o)
      return true;
  return false;
}

const char *cli_common_arg(const struct cli_args *a, const char *name)
{
  for (size_t i = 0; i < a->n_opts; i++)
    if (is_common(a->opts[i]) && strcmp(a->opts[i]->name, name) == 0)
      return a->val[i];
  return NULL;
}

const char *cli_arg(const struct cli_args *a, const char *name)
{
  for (size_t i = 0; i < a->n_opts; i++)
    if (strcmp(a->opts[i]->name, name) == 0)
      return a->val[i];
  return NULL;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
  return cli_arg(a, name) != NULL;
}

#define HELP_COLUMNS 100

/* The width of the left column for opts: the longest "-x, --name ARG", at most 34. */
static size_t left_width(const struct cli_opt *opts, size_t w)
{
  for (const struct cli_opt *o = opts; o && o->name; o++) {
    size_t n = 8 + strlen(o->name) + (o->arg ? strlen(o->arg) + 1 : 0);
    if (n > w && n <= 34)
      w = n;
  }
  return w;
}

/* Prints text wrapped at HELP_COLUMNS, the lines after the first indented by indent. */
static void print_wrapped(const char *text, size_t indent, FILE *out)
{
  size_t room = HELP_COLUMNS - indent, col = 0;
  const char *p = text;
  while (*p) {
    size_t word = strcspn(p, " ");
    if (col && col + 1 + word > room) {
      fprintf(out, "\n%*s", (int)indent, "");
      col = 0;
    } else if (col) {
      fputc(' ', out);
      col++;
    }
    fwrite(p, 1, word, out);
    col += word;
    p += word;
    while (*p == ' ')
      p++;
  }
  fputc('\n', out);
}

/* Prints opts, leaving out those whose name is in shadow (a command's own option that hides a
 * common one of the same name). */
static void print_opts(const struct cli_opt *opts, const struct cli_opt *shadow, size_t width,
                       FILE *out)
{
  for (const struct cli_opt *o = opts; o && o->name; o++) {
    bool hidden = false;
    for (const struct cli_opt *s = shadow; s && s->name; s++)
      hidden |= strcmp(s->name, o->name) == 0;
    if (hidden)
      continue;
    char left[96];
    int n = o->short_name ? snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->name)
                          : snprintf(left, sizeof left, "    --%s", o->name);
    if (o->arg && n > 0 && (size_t)n < sizeof left)
      snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
    char help[512];
    snprintf(help, sizeof help, "%s%s", o->help, o->is_required ? " (required)" : "");
    if (strlen(left) > width)
      fprintf(out, "  %s\n%*s", left, (int)width + 3, "");
    else
      fprintf(out, "  %-*s ", (int)width, left);
    print_wrapped(help, width + 3, out);
  }
}

void cli_print_help(const struct cli_cmd *cmd, FILE *out)
{
  fprintf(out, "Usage: bimhub %s%s%s [options]\n\n%s\n", cmd->name, cmd->args[0] ? " " : "",
          cmd->args, cmd->summary);
  if (cmd->details)
    fprintf(out, "\n%s", cmd->details);
  size_t width = left_width(cli_common_opts, left_width(cmd->opts, 12));
  if (cmd->opts && cmd->opts->name) {
    fputs("\nOptions:\n", out);
    print_opts(cmd->opts, NULL, width, out);
  }
  fputs("\nCommon options:\n", out);
  print_opts(cli_common_opts, cmd->opts, width, out);
  fputs("\nExit codes: 0 ok, 1 refused by the server or failed, 2 usage error,\n"
        "3 cannot reach the server, 4 not logged in.\n",
        out);
}
