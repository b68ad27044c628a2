/* main.c: the bimhub command. `bimhub serve` reads the configuration, opens the store,
 * starts the dispatcher and the transport, waits for SIGINT/SIGTERM and stops everything
 * in reverse order. Every other command is the command line client (src/cli). */
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/bh_log.h"
#include "config/config.h"
#include "model/events.h"
#include "model/model.h"
#include "rpc/rpc.h"
#include "store/store.h"
#include "transport/transport.h"

extern char **environ;

static void usage(FILE *out)
{
  fputs("Usage: bimhub <command> [options]\n\n"
        "Commands:\n"
        "  serve       run the server (see bimhub serve --help)\n",
        out);
  cli_print_commands(out);
  fputs("\nSee bimhub <command> --help. The client commands find the server and the token in\n"
        "--url/--token, BIMHUB_URL/BIMHUB_TOKEN, or the file `bimhub login` writes.\n\n"
        "Options:\n"
        "  --help      this text\n"
        "  --version   print the version\n",
        out);
}

/* Reads --config FILE (flag first, else BIMHUB_CONFIG), then the environment, then flags. */
static int load_config(struct bh_config *cfg, int argc, char **argv)
{
  char err[512];
  const char *file = getenv("BIMHUB_CONFIG");
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      file = argv[i + 1];
    else if (strncmp(argv[i], "--config=", 9) == 0)
      file = argv[i] + 9;
  }
  if (config_init(cfg) != 0) {
    fputs("bimhub: out of memory\n", stderr);
    return -1;
  }
  if ((file && config_load_file(cfg, file, err, sizeof err) != 0) ||
      config_load_env(cfg, environ, err, sizeof err) != 0 ||
      config_load_args(cfg, argc, argv, err, sizeof err) != 0 ||
      config_finish(cfg, err, sizeof err) != 0) {
    fprintf(stderr, "bimhub: %s\n", err);
    config_free(cfg);
    return -1;
  }
  return 0;
}

/* --admin-user on an empty data dir: create the admin and start RUNNING. */
static int first_admin(struct rpc *rpc, struct store *st, const struct bh_config *cfg)
{
  (void)rpc;
  if (!cfg->admin_user)
    return 0;
  struct events *ev = events_new();
  struct model m;
  int rc = ev && model_init(&m, st, ev, cfg) == BH_OK ? 0 : -1;
  if (rc == 0 && model_server_state(&m) == SERVER_NOT_SETUP) {
    struct bh_why why;
    if (model_setup(&m, NULL, "bimhub", "", "", "Administrator", cfg->admin_user,
                    cfg->admin_password, &why) != BH_OK) {
      fprintf(stderr, "bimhub: cannot create the admin user: %s\n", why.text);
      rc = -1;
    }
  }
  if (ev)
    model_free(&m);
  events_free(ev);
  return rc;
}

static int serve(int argc, char **argv)
{
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      config_print_help(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--print-example-config") == 0) {
      config_print_example(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--print-access") == 0 || strcmp(argv[i], "--print-access-json") == 0) {
      rpc_print_access(stdout, strcmp(argv[i], "--print-access-json") == 0);
      return 0;
    }
  }
  struct bh_config cfg;
  if (load_config(&cfg, argc, argv) != 0)
    return 2;
  if (bh_log_set_level(cfg.log_level) != 0) {
    fprintf(stderr, "bimhub: log_level must be debug, info, warn, error or off\n");
    config_free(&cfg);
    return 2;
  }
  int status = 1;
  struct store *st = NULL;
  struct events *ev = NULL;
  struct rpc *rpc = NULL;
  struct transport *tr = NULL;

  /* Signals are taken by sigwait in this thread only; threads started later inherit the mask. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* Everything the server writes (database, WAL, blobs, keys) is its owner's alone, whatever
   * umask it was started with; store_open also fixes an existing data dir. */
  umask(077);
  struct store_options so = {.dir = cfg.data_dir,
                             .sync_full = strcmp(cfg.sqlite_synchronous, "full") == 0};
  if (store_open(&st, &so) != BH_OK) {
    fprintf(stderr, "bimhub: cannot open the data dir %s\n", cfg.data_dir);
    goto out;
  }
  ev = events_new();
  if (!ev || rpc_new(&rpc, &cfg, st, ev) != BH_OK) {
    fputs("bimhub: out of memory\n", stderr);
    goto out;
  }
  if (first_admin(rpc, st, &cfg) != 0)
    goto out;
  if (transport_start(&tr, &cfg, rpc) != BH_OK) {
    fprintf(stderr, "bimhub: cannot listen on %s:%lld\n", cfg.host, (long long)cfg.port);
    goto out;
  }
  cfg.port = transport_port(tr);
  if (rpc_start_delivery(rpc) != BH_OK) {
    fputs("bimhub: cannot start the notification delivery\n", stderr);
    goto out;
  }
  printf("bimhub listening on http://%s:%lld\n", cfg.host, (long long)cfg.port);
  if (cfg.admin_user)
    printf("log in as %s with the password given by --admin-user/--admin-password\n",
           cfg.admin_user);
  else
    printf("the server may be NOT_SETUP: call AdminInterface.setup, or start it with "
           "--admin-user EMAIL --admin-password PASSWORD\n");
  fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  BH_LOG(BH_LOG_INFO, BH_C_APP, "signal %d: stopping", sig);
  status = 0;
out:
  transport_stop(tr);
  rpc_stop_delivery(rpc);
  rpc_free(rpc);
  events_free(ev);
  store_close(st);
  config_free(&cfg);
  return status;
}

int main(int argc, char **argv)
{
  if (sodium_init() < 0) {
    fputs("bimhub: libsodium failed to start\n", stderr);
    return 1;
  }
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("bimhub %s\n", BH_VERSION);
    return 0;
  }
  if (strcmp(argv[1], "serve") == 0)
    return serve(argc - 2, argv + 2);
  if (cli_is_command(argv[1]))
    return cli_main(argc, argv);
  fprintf(stderr, "bimhub: unknown command '%s' (see bimhub --help)\n", argv[1]);
  return 2;
}
