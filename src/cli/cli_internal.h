/* cli_internal.h: what the files of the command line client share: the command table and its
 * option parser, the context a command runs with, error reporting with the exit codes of
 * cli.h, the credentials file and small helpers (ids, times, tables). */
#ifndef CLI_INTERNAL_H
#define CLI_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <bimhub/bimhub.h>

#include "cli/cli.h"

/* ---- options and commands (cli_args.c) ---- */

/* One option of a command. */
struct cli_opt {
  const char *name; /* long name without "--" */
  char short_name;  /* e.g. 'o' for -o; 0 for none */
  const char *arg;  /* NULL: a flag; else the value's name in the help ("FILE") */
  const char *help;
  bool is_required; /* a usage error when missing */
};

#define CLI_MAX_POS 8
#define CLI_MAX_OPTS 32

/* A parsed command line: options by name, positional arguments in order. */
struct cli_args {
  const struct cli_opt *opts[CLI_MAX_OPTS];
  const char *val[CLI_MAX_OPTS]; /* the value, "" for a flag given, NULL when absent */
  size_t n_opts;
  const char *pos[CLI_MAX_POS];
  size_t n_pos;
  bool wants_help;
};

struct cli;
typedef int (*cli_run_fn)(struct cli *c, const struct cli_args *a);

enum cli_needs {
  CLI_NEEDS_NOTHING = 0,
  CLI_NEEDS_LOGIN = 1, /* a client with a URL and a token (flags, environment or credentials) */
};

struct cli_cmd {
  const char *name; /* "project add", "checkin" */
  const char *args; /* positional arguments in the usage line ("NAME"), or "" */
  unsigned min_pos, max_pos;
  const char *summary;        /* one line */
  const char *details;        /* more text for --help, or NULL */
  const struct cli_opt *opts; /* ends with an entry whose name is NULL */
  enum cli_needs needs;
  cli_run_fn run;
};

/* The options every command takes after its own. */
extern const struct cli_opt cli_common_opts[];

/* Parses argv (the words after the command name) against cmd's options and the common ones.
 * Returns 0, or -1 after writing the reason to why (a usage error). */
int cli_args_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a, char *why,
                   size_t why_len);
/* The value of option name, or NULL when it was not given. */
const char *cli_arg(const struct cli_args *a, const char *name);
/* The value of a common option (--url, --token...) even when the command has an option of
 * the same name (service add's --url), or NULL. */
const char *cli_common_arg(const struct cli_args *a, const char *name);
/* Whether flag name was given. */
bool cli_flag(const struct cli_args *a, const char *name);
/* Prints cmd's --help. */
void cli_print_help(const struct cli_cmd *cmd, FILE *out);

/* The commands, each file's table ending with an entry whose name is NULL. */
extern const struct cli_cmd cli_auth_cmds[];
extern const struct cli_cmd cli_project_cmds[];
extern const struct cli_cmd cli_user_cmds[];
extern const struct cli_cmd cli_checkin_cmds[];
extern const struct cli_cmd cli_watch_cmds[];
extern const struct cli_cmd cli_service_cmds[];

/* ---- the context of a command (cli.c) ---- */

struct cli {
  const struct cli_cmd *cmd;
  struct bimhub_client *api; /* CLI_NEEDS_LOGIN: a client with the token; else NULL */
  const char *url;           /* the server's URL when known */
  bool is_tty;               /* stdout is a terminal */
};

/* Prints "bimhub: <text>" on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a failed SDK call: the message on stderr ("bimhub: what: message", what may be
 * NULL) and the exit code for rc (an invalid token: CLI_EXIT_NOT_LOGGED_IN). */
int cli_fail_rc(enum bimhub_rc rc, const struct bimhub_error *err, const char *what);
/* The exit code for an SDK return code. */
int cli_exit_of(enum bimhub_rc rc, const struct bimhub_error *err);

/* Finds a project by poid (all digits) or name; on failure prints why and returns the exit
 * code (CLI_EXIT_FAILED: "project 'x' not found"). *project: a new reference. */
int cli_find_project(struct cli *c, const char *name_or_poid, json_t **project);
/* The same, giving only the poid. */
int cli_find_poid(struct cli *c, const char *name_or_poid, int64_t *poid);

/* ---- credentials (cli_creds.c) ---- */

struct cli_creds {
  char *url;
  char *username;
  char *token;
};

/* The credentials file: $XDG_CONFIG_HOME/bimhub/credentials, else
 * $HOME/.config/bimhub/credentials. -1 when neither variable is set (or the path is too
 * long). */
int cli_creds_path(char *buf, size_t len);
/* Reads the file; a missing file gives empty credentials and 0. -1 with why on a read error. */
int cli_creds_load(struct cli_creds *cr, char *why, size_t why_len);
/* Writes the file atomically, mode 0600, its directory 0700 (made if missing). */
int cli_creds_save(const struct cli_creds *cr, char *why, size_t why_len);
/* Removes the file. 1 when it was removed, 0 when there was none, -1 with why. */
int cli_creds_remove(char *why, size_t why_len);
void cli_creds_clear(struct cli_creds *cr);

/* Asks on the terminal (/dev/tty), with echo or without (passwords). Returns 0 with the line
 * (no newline) in buf; -1 when there is no terminal or input ended. */
int cli_prompt(const char *prompt, bool echo, char *buf, size_t len);

/* ---- helpers (cli_util.c) ---- */

/* A positive decimal id ("131075"). */
bool cli_parse_id(const char *s, int64_t *out);
/* A positive count. */
bool cli_parse_count(const char *s, long min, long max, long *out);
/* A point in time, as Unix ms: ISO 8601 ("2024-05-01", "2024-05-01T12:30:00Z",
 * "2024-05-01T12:30:00.250+02:00"; no zone means UTC), or a duration meaning that long ago
 * ("2h", "30m", "1h30m", "45s", "2d", "1w", "500ms"). now_ms: the current time. */
bool cli_parse_time(const char *s, int64_t now_ms, int64_t *out_ms);
/* Unix ms as ISO 8601 UTC with seconds ("2024-05-01T12:30:00Z"), "-" for ms <= 0. */
void cli_format_time(int64_t ms, char *buf, size_t len);
/* The current time in Unix ms. */
int64_t cli_now_ms(void);
/* Bytes as "2.5 MB" (decimal units). */
void cli_format_bytes(int64_t n, char *buf, size_t len);

/* A table printed with aligned columns. Cells are copied. */
struct cli_table;
struct cli_table *cli_table_new(size_t n_cols, const char *const *headers);
void cli_table_add(struct cli_table *t, ...); /* n_cols strings */
void cli_table_print(struct cli_table *t, FILE *out);
void cli_table_free(struct cli_table *t);

/* json as indented text on stdout, with a newline. */
void cli_print_json(const json_t *j);
/* An integer field as text in buf ("-" when absent or -1). */
const char *cli_id_text(const json_t *o, const char *key, char *buf, size_t len);
/* A string field, or "" when absent or null. */
const char *cli_str(const json_t *o, const char *key);

#endif
