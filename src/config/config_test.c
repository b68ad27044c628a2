/* config_test.c: the option table is consistent and every source of settings works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static void defaults_are_the_documented_ones(void **state)
{
  (void)state;
  struct bh_config c;
  assert_int_equal(config_init(&c), 0);
  assert_string_equal(c.host, "127.0.0.1");
  assert_int_equal(c.port, 8082);
  assert_string_equal(c.data_dir, "./bimhub-data");
  assert_int_equal(c.max_json_body_bytes, 64 << 20);
  assert_int_equal(c.ws_max_message_bytes, 1 << 20);
  assert_int_equal(c.token_lifetime_s, 30 * 86400);
  assert_null(c.admin_user);
  char err[256];
  assert_int_equal(config_finish(&c, err, sizeof err), 0);
  config_free(&c);
}

static void flags_env_and_file_in_order(void **state)
{
  (void)state;
  struct bh_config c;
  char err[256];
  assert_int_equal(config_init(&c), 0);
  char path[] = "/tmp/bimhub-config-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "# comment\nport = 9000\ndata_dir = \"/tmp/x\"\nhost=0.0.0.0\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  assert_int_equal(config_load_file(&c, path, err, sizeof err), 0);
  unlink(path);
  assert_int_equal(c.port, 9000);
  assert_string_equal(c.data_dir, "/tmp/x");

  char *env[] = {"BIMHUB_PORT=9001", "BIMHUB_BIN=/x", "PATH=/bin", NULL};
  assert_int_equal(config_load_env(&c, env, err, sizeof err), 0);
  assert_int_equal(c.port, 9001);

  char *argv[] = {"--port",           "9002", "--data-dir=/tmp/y", "--admin-user", "a@b.c",
                  "--admin-password", "pw"};
  assert_int_equal(config_load_args(&c, 7, argv, err, sizeof err), 0);
  assert_int_equal(c.port, 9002);
  assert_string_equal(c.data_dir, "/tmp/y");
  assert_string_equal(c.host, "0.0.0.0");
  assert_int_equal(config_finish(&c, err, sizeof err), 0);
  config_free(&c);
}

static void bad_values_are_refused_with_a_message(void **state)
{
  (void)state;
  struct bh_config c;
  char err[256];
  assert_int_equal(config_init(&c), 0);
  char *a1[] = {"--port", "70000"};
  assert_int_equal(config_load_args(&c, 2, a1, err, sizeof err), -1);
  assert_non_null(strstr(err, "out of range"));
  char *a2[] = {"--port", "12x"};
  assert_int_equal(config_load_args(&c, 2, a2, err, sizeof err), -1);
  assert_non_null(strstr(err, "not a whole number"));
  char *a3[] = {"--no-such-thing", "1"};
  assert_int_equal(config_load_args(&c, 2, a3, err, sizeof err), -1);
  assert_non_null(strstr(err, "--no-such-thing"));
  char *a4[] = {"--port"};
  assert_int_equal(config_load_args(&c, 1, a4, err, sizeof err), -1);
  char *a5[] = {"--admin-user", "a@b.c"};
  assert_int_equal(config_load_args(&c, 2, a5, err, sizeof err), 0);
  assert_int_equal(config_finish(&c, err, sizeof err), -1);
  config_free(&c);
}

static void help_and_example_list_every_option(void **state)
{
  (void)state;
  char *help = NULL, *example = NULL;
  size_t hl = 0, el = 0;
  FILE *h = open_memstream(&help, &hl);
  FILE *e = open_memstream(&example, &el);
  config_print_help(h);
  config_print_example(e);
  fclose(h);
  fclose(e);
  const char *names[] = {"port",
                         "data_dir",
                         "max_json_body_bytes",
                         "ws_max_message_bytes",
                         "token_lifetime_s",
                         "login_fail_delay_ms",
                         "public_url"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    assert_non_null(strstr(example, names[i]));
    char flag[64] = "--";
    for (size_t k = 0; names[i][k]; k++)
      flag[2 + k] = names[i][k] == '_' ? '-' : names[i][k], flag[3 + k] = '\0';
    assert_non_null(strstr(help, flag));
  }
  free(help);
  free(example);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_are_the_documented_ones),
      cmocka_unit_test(flags_env_and_file_in_order),
      cmocka_unit_test(bad_values_are_refused_with_a_message),
      cmocka_unit_test(help_and_example_list_every_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
