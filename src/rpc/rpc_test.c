/* rpc_test.c: the envelope rules of spec §1.2/§2/§3 through rpc_handle_json, on a real
 * store in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "model/events.h"
#include "model/model.h"
#include "rpc/rpc.h"
#include "rpc/rpc_internal.h"
#include "store/store.h"

struct fixture {
  char dir[64];
  struct bh_config cfg;
  struct store *st;
  struct events *ev;
  struct rpc *rpc;
};

static int setup(void **state)
{
  struct fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/bimhub-rpc-test-%d", (int)getpid());
  config_init(&f->cfg);
  f->cfg.login_fail_delay_ms = 50;
  f->cfg.argon2_mem_limit_kib = 8192;
  f->cfg.argon2_ops_limit = 1;
  free(f->cfg.data_dir);
  f->cfg.data_dir = strdup(f->dir);
  struct store_options so = {.dir = f->dir};
  assert_int_equal(store_open(&f->st, &so), BH_OK);
  f->ev = events_new();
  assert_int_equal(rpc_new(&f->rpc, &f->cfg, f->st, f->ev), BH_OK);
  struct model m;
  model_init(&m, f->st, f->ev, &f->cfg);
  struct bh_why why;
  assert_int_equal(model_setup(&m, NULL, "t", "", "", "Admin", "admin@x.test", "pw", &why), BH_OK);
  model_free(&m);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  rpc_free(f->rpc);
  events_free(f->ev);
  store_close(f->st);
  config_free(&f->cfg);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  if (system(cmd) != 0)
    return -1;
  free(f);
  return 0;
}

/* Posts body and returns the parsed reply (NULL for an empty body); status in *status. */
static json_t *post(struct fixture *f, const char *body, int *status, unsigned *delay)
{
  struct rpc_origin o = {.peer_addr = "127.0.0.1"};
  struct rpc_reply r;
  rpc_handle_json(f->rpc, body, strlen(body), &o, true, &r);
  *status = r.http_status;
  if (delay)
    *delay = r.delay_ms;
  json_t *j = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
  rpc_reply_free(&r);
  return j;
}

static const char *exc_message(json_t *reply)
{
  return json_string_value(
      json_object_get(json_object_get(json_object_get(reply, "response"), "exception"), "message"));
}

/* Every method says who may call it, and the columns fit together: no method is left to the
 * handler alone, a service grant always has a target to check it on, and the levels that
 * never admit a service token do not list one. */
static void every_method_has_an_access_rule(void **state)
{
  (void)state;
  for (size_t i = 0; i < rpc_iface_count; i++) {
    const struct rpc_iface *ifc = rpc_ifaces[i];
    for (size_t k = 0; k < ifc->count; k++) {
      const struct rpc_method *m = &ifc->methods[k];
      const struct rpc_access *a = &m->access;
      if (a->who == RPC_WHO_MISSING || (a->target != RPC_T_NONE) != (a->param != NULL))
        fail_msg("%s.%s: incomplete access rule", ifc->name, m->name);
      bool project_level = a->who == RPC_PROJECT_READ || a->who == RPC_PROJECT_WRITE ||
                           a->who == RPC_PROJECT_ADMIN || a->who == RPC_OWNER;
      if (project_level && a->target == RPC_T_NONE)
        fail_msg("%s.%s: a project level needs a target", ifc->name, m->name);
      if (a->svc > RPC_SVC_OWNER && a->target == RPC_T_NONE)
        fail_msg("%s.%s: a grant needs a target", ifc->name, m->name);
      bool never_service = a->who == RPC_ADMIN || a->who == RPC_SETUP_ADMIN ||
                           a->who == RPC_PROJECT_ADMIN || a->who == RPC_ANYONE ||
                           a->who == RPC_REGISTER || a->who == RPC_TOP_LEVEL;
      if (never_service && a->svc != RPC_SVC_NONE)
        fail_msg("%s.%s: lists service tokens where they never come", ifc->name, m->name);
    }
  }
}

static void unparseable_bodies_get_500_and_nothing(void **state)
{
  struct fixture *f = *state;
  int status;
  assert_null(post(f, "{not json", &status, NULL));
  assert_int_equal(status, 500);
  assert_null(post(f, "[1,2]", &status, NULL));
  assert_int_equal(status, 500);
  assert_null(post(f, "", &status, NULL));
  assert_int_equal(status, 500);
}

static void server_info_by_every_interface_name(void **state)
{
  struct fixture *f = *state;
  const char *names[] = {"AdminInterface", "org.bimserver.AdminInterface", "Bimsie1AdminInterface",
                         "org.buildingsmart.bimsie1.Bimsie1AdminInterface"};
  for (size_t i = 0; i < 4; i++) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"id\":7,\"request\":{\"interface\":\"%s\",\"method\":\"getServerInfo\","
             "\"parameters\":{}}}",
             names[i]);
    int status;
    json_t *r = post(f, body, &status, NULL);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    json_t *info = json_object_get(json_object_get(r, "response"), "result");
    assert_string_equal(json_string_value(json_object_get(info, "serverState")), "RUNNING");
    /* __type first, then alphabetical */
    void *it = json_object_iter(info);
    assert_string_equal(json_object_iter_key(it), "__type");
    assert_string_equal(json_object_iter_key(json_object_iter_next(info, it)), "errorMessage");
    json_decref(r);
  }
}

static void errors_say_what_is_wrong(void **state)
{
  struct fixture *f = *state;
  int status;
  json_t *r = post(f, "{\"request\":{\"interface\":\"NoSuch\",\"method\":\"x\"}}", &status, NULL);
  assert_string_equal(exc_message(r), "No service found with name NoSuch");
  json_decref(r);
  r = post(f, "{\"request\":{\"interface\":\"AuthInterface\",\"method\":\"getServerInfo\"}}",
           &status, NULL);
  assert_string_equal(
      exc_message(r),
      "Method getServerInfo not found on AuthInterface (suggestion: AdminInterface)");
  json_decref(r);
  r = post(f,
           "{\"request\":{\"interface\":\"AuthInterface\",\"method\":\"login\","
           "\"parameters\":{\"username\":\"a\"}}}",
           &status, NULL);
  assert_string_equal(exc_message(r), "Missing parameter: login -> password");
  json_decref(r);
  r = post(f,
           "{\"token\":\"0123\",\"request\":{\"interface\":\"AdminInterface\","
           "\"method\":\"getServerInfo\",\"parameters\":{}}}",
           &status, NULL);
  assert_string_equal(exc_message(r), "Invalid token");
  json_t *e = json_object_get(json_object_get(r, "response"), "exception");
  assert_int_equal(json_integer_value(json_object_get(e, "errorCode")), 3);
  json_decref(r);
  r = post(f, "{}", &status, NULL);
  assert_int_equal(json_object_size(r), 0);
  json_decref(r);
}

static void login_then_multi_call_with_the_token(void **state)
{
  struct fixture *f = *state;
  int status;
  unsigned delay = 0;
  json_t *r = post(f,
                   "{\"request\":{\"interface\":\"AuthInterface\",\"method\":\"login\","
                   "\"parameters\":{\"username\":\"admin@x.test\",\"password\":\"nope\"}}}",
                   &status, &delay);
  assert_string_equal(exc_message(r), "Invalid username/password combination");
  assert_true(delay >= 50);
  json_decref(r);
  r = post(f,
           "{\"request\":{\"interface\":\"AuthInterface\",\"method\":\"login\","
           "\"parameters\":{\"username\":\" Admin@X.test \",\"password\":\"pw\"}}}",
           &status, &delay);
  const char *tok = json_string_value(json_object_get(json_object_get(r, "response"), "result"));
  assert_non_null(tok);
  assert_int_equal(delay, 0);
  char body[1024];
  snprintf(body, sizeof body,
           "{\"token\":\"%s\",\"requests\":["
           "{\"interface\":\"ServiceInterface\",\"method\":\"addProject\","
           "\"parameters\":{\"projectName\":\"P\",\"schema\":\"IFC4\"}},"
           "{\"interface\":\"ServiceInterface\",\"method\":\"addProject\","
           "\"parameters\":{\"projectName\":\"P\",\"schema\":\"ifc4\"}},"
           "{\"interface\":\"ServiceInterface\",\"method\":\"getAllProjects\","
           "\"parameters\":{\"onlyTopLevel\":\"true\",\"onlyActive\":1}}]}",
           tok);
  json_decref(r);
  r = post(f, body, &status, NULL);
  json_t *rs = json_object_get(r, "responses");
  assert_int_equal(json_array_size(rs), 3);
  json_t *p = json_object_get(json_array_get(rs, 0), "result");
  assert_string_equal(json_string_value(json_object_get(p, "schema")), "ifc4");
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(json_array_get(rs, 1), "exception"), "message")),
                      "Project name must be unique");
  assert_int_equal(json_array_size(json_object_get(json_array_get(rs, 2), "result")), 1);
  json_decref(r);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_method_has_an_access_rule),
      cmocka_unit_test_setup_teardown(unparseable_bodies_get_500_and_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(server_info_by_every_interface_name, setup, teardown),
      cmocka_unit_test_setup_teardown(errors_say_what_is_wrong, setup, teardown),
      cmocka_unit_test_setup_teardown(login_then_multi_call_with_the_token, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
