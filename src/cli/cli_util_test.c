/* cli_util_test.c: the command line client's pure parts: ids, times, the option parser, the
 * credentials file (modes 0600/0700, atomic rewrite, removal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_internal.h"

static void ids_and_counts(void **state)
{
  (void)state;
  int64_t id = 0;
  assert_true(cli_parse_id("131075", &id));
  assert_int_equal(id, 131075);
  assert_false(cli_parse_id("0", &id));
  assert_false(cli_parse_id("-3", &id));
  assert_false(cli_parse_id("12a", &id));
  assert_false(cli_parse_id("", &id));
  assert_false(cli_parse_id(NULL, &id));
  assert_false(cli_parse_id("99999999999999999999", &id));
  long n = 0;
  assert_true(cli_parse_count("10", 1, 1000, &n));
  assert_int_equal(n, 10);
  assert_false(cli_parse_count("1001", 1, 1000, &n));
  assert_false(cli_parse_count("0", 1, 1000, &n));
}

static void times(void **state)
{
  (void)state;
  const int64_t now = 1714564800000; /* 2024-05-01T12:00:00Z */
  int64_t t = 0;
  assert_true(cli_parse_time("2h", now, &t));
  assert_int_equal(t, now - 2 * 3600 * 1000);
  assert_true(cli_parse_time("30m", now, &t));
  assert_int_equal(t, now - 30 * 60 * 1000);
  assert_true(cli_parse_time("1h30m", now, &t));
  assert_int_equal(t, now - 90 * 60 * 1000);
  assert_true(cli_parse_time("500ms", now, &t));
  assert_int_equal(t, now - 500);
  assert_true(cli_parse_time("1w", now, &t));
  assert_int_equal(t, now - 7LL * 86400 * 1000);
  assert_true(cli_parse_time("2024-05-01T12:00:00Z", now, &t));
  assert_int_equal(t, now);
  assert_true(cli_parse_time("2024-05-01T14:00:00+02:00", now, &t));
  assert_int_equal(t, now);
  assert_true(cli_parse_time("2024-05-01T11:00:00.250-0100", now, &t));
  assert_int_equal(t, now + 250);
  assert_true(cli_parse_time("2024-05-01", now, &t));
  assert_int_equal(t, now - 12 * 3600 * 1000);
  assert_true(cli_parse_time("2024-05-01T12:00", now, &t));
  assert_int_equal(t, now);
  assert_false(cli_parse_time("yesterday", now, &t));
  assert_false(cli_parse_time("2h ago", now, &t));
  assert_false(cli_parse_time("2024-13-01", now, &t));
  assert_false(cli_parse_time("2024-05-01T12", now, &t));
  assert_false(cli_parse_time("", now, &t));
  assert_false(cli_parse_time("5", now, &t));
  char buf[40];
  cli_format_time(now, buf, sizeof buf);
  assert_string_equal(buf, "2024-05-01T12:00:00Z");
  cli_format_time(-1, buf, sizeof buf);
  assert_string_equal(buf, "-");
  cli_format_bytes(2570803, buf, sizeof buf);
  assert_string_equal(buf, "2.6 MB");
  cli_format_bytes(999, buf, sizeof buf);
  assert_string_equal(buf, "999 B");
}

static int run_nothing(struct cli *c, const struct cli_args *a)
{
  (void)c;
  (void)a;
  return 0;
}

static const struct cli_opt test_opts[] = {
    {"project", 'p', "PROJECT", "the project", true},
    {"url", 0, "URL", "the service's url"},
    {"read-revision", 0, NULL, "a flag"},
    {NULL},
};
static const struct cli_cmd test_cmd = {
    "service add", "NAME", 1, 2, "test", NULL, test_opts, CLI_NEEDS_NOTHING, run_nothing};

static int parse(struct cli_args *a, char *why, size_t len, int argc, ...)
{
  char *argv[16];
  va_list ap;
  va_start(ap, argc);
  for (int i = 0; i < argc; i++)
    argv[i] = va_arg(ap, char *);
  va_end(ap);
  return cli_args_parse(&test_cmd, argc, argv, a, why, len);
}

static void options(void **state)
{
  (void)state;
  struct cli_args a;
  char why[256];
  assert_int_equal(parse(&a, why, sizeof why, 6, "x", "--project=P1", "--url", "http://svc",
                         "--read-revision", "--server"),
                   -1);
  assert_string_equal(why, "--server needs a value (URL)");
  assert_int_equal(parse(&a, why, sizeof why, 7, "x", "-p", "P1", "--url", "http://svc", "--server",
                         "http://srv"),
                   0);
  assert_string_equal(cli_arg(&a, "project"), "P1");
  /* the command's --url hides the common one */
  assert_string_equal(cli_arg(&a, "url"), "http://svc");
  assert_null(cli_common_arg(&a, "url"));
  assert_string_equal(cli_common_arg(&a, "server"), "http://srv");
  assert_false(cli_flag(&a, "read-revision"));
  assert_int_equal(a.n_pos, 1);
  assert_string_equal(a.pos[0], "x");

  assert_int_equal(parse(&a, why, sizeof why, 3, "--project", "P", "--read-revision"), -1);
  assert_string_equal(why, "missing argument: NAME");
  assert_int_equal(parse(&a, why, sizeof why, 1, "x"), -1);
  assert_string_equal(why, "--project is required");
  assert_int_equal(parse(&a, why, sizeof why, 4, "x", "-p", "P", "--nope"), -1);
  assert_string_equal(why, "unknown option '--nope'");
  assert_int_equal(parse(&a, why, sizeof why, 4, "x", "-p", "P", "--read-revision=yes"), -1);
  assert_int_equal(parse(&a, why, sizeof why, 6, "x", "-p", "P", "--", "-y", "z"), -1);
  assert_string_equal(why, "unexpected argument 'z'");
  assert_int_equal(parse(&a, why, sizeof why, 5, "x", "-p", "P", "--", "-y"), 0);
  assert_string_equal(a.pos[1], "-y");
  /* --help needs nothing else */
  assert_int_equal(parse(&a, why, sizeof why, 1, "--help"), 0);
  assert_true(a.wants_help);
  assert_int_equal(parse(&a, why, sizeof why, 1, "-h"), 0);
  assert_true(a.wants_help);
}

static void credentials(void **state)
{
  (void)state;
  char dir[] = "/tmp/bimhub-cli-test-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char xdg[300];
  snprintf(xdg, sizeof xdg, "%s/config", dir);
  setenv("XDG_CONFIG_HOME", xdg, 1);
  char path[4096], why[512];
  assert_int_equal(cli_creds_path(path, sizeof path), 0);
  char want[400];
  snprintf(want, sizeof want, "%s/bimhub/credentials", xdg);
  assert_string_equal(path, want);

  struct cli_creds cr;
  assert_int_equal(cli_creds_load(&cr, why, sizeof why), 0); /* no file: nobody */
  assert_null(cr.token);
  struct cli_creds w = {.url = "http://127.0.0.1:8082", .username = "a@b.c", .token = "t0k"};
  umask(0);
  assert_int_equal(cli_creds_save(&w, why, sizeof why), 0);
  umask(022);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  char bdir[400];
  snprintf(bdir, sizeof bdir, "%s/bimhub", xdg);
  assert_int_equal(stat(bdir, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);
  /* a directory left wider is tightened */
  chmod(bdir, 0755);
  w.token = "t1k";
  assert_int_equal(cli_creds_save(&w, why, sizeof why), 0);
  assert_int_equal(stat(bdir, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);
  assert_int_equal(cli_creds_load(&cr, why, sizeof why), 0);
  assert_string_equal(cr.url, "http://127.0.0.1:8082");
  assert_string_equal(cr.username, "a@b.c");
  assert_string_equal(cr.token, "t1k");
  cli_creds_clear(&cr);
  assert_int_equal(cli_creds_remove(why, sizeof why), 1);
  assert_int_equal(cli_creds_remove(why, sizeof why), 0);
  rmdir(bdir);
  rmdir(xdg);
  rmdir(dir);

  /* HOME without XDG_CONFIG_HOME */
  unsetenv("XDG_CONFIG_HOME");
  setenv("HOME", "/home/someone", 1);
  assert_int_equal(cli_creds_path(path, sizeof path), 0);
  assert_string_equal(path, "/home/someone/.config/bimhub/credentials");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ids_and_counts),
      cmocka_unit_test(times),
      cmocka_unit_test(options),
      cmocka_unit_test(credentials),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
