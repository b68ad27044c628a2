/* cli.h: the bimhub command line client (every command but `serve`), built on libbimhub.
 * src/app/main.c hands it any command it does not run itself. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes every command keeps (docs/cli.md): scripts may rely on them. */
enum cli_exit {
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAILED = 1,        /* the server refused (an exception), or the operation failed */
  CLI_EXIT_USAGE = 2,         /* bad command line */
  CLI_EXIT_UNREACHABLE = 3,   /* no answer from the server (connection, timeout, not bimhub) */
  CLI_EXIT_NOT_LOGGED_IN = 4, /* no URL or token, or the token is invalid or expired */
  CLI_EXIT_INTERRUPTED = 130, /* SIGINT or SIGTERM stopped a check-in (128 + SIGINT) */
};

/* True when argv[1] names a command of the client (so main() should call cli_main()). */
bool cli_is_command(const char *name);

/* Runs `bimhub <command> ...` (argv[0] is the program, argv[1] the command). Returns the exit
 * code. Prints results on stdout and one line per error on stderr. */
int cli_main(int argc, char **argv);

/* The client's part of `bimhub --help`: one line per command group. */
void cli_print_commands(FILE *out);

#endif
