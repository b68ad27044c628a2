/* live_test.c: the client, the stream and the service SDK against a real bimhub, started
 * here on a free 127.0.0.1 port with a fresh data directory (BIMHUB_BIN names the binary,
 * BIMHUB_IFC_DIR the sample models; without them the test is skipped). One server for the
 * whole group; the stream test restarts it on the same port to see a resume. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sdk_internal.h"

#define ADMIN "admin@bimhub.test"
#define PASSWORD "admin-secret-1"

static const char *bin, *ifc_dir;
static char data_dir[64], model[512], url[64];
static int port;
static pid_t server = -1;

static int free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  int p = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &l) == 0)
    p = ntohs(a.sin_port);
  close(fd);
  return p;
}

/* Starts the server (its stdout to a file in the data dir) and waits for "listening on". */
static bool server_start(void)
{
  static int starts;
  char out[128];
  snprintf(out, sizeof out, "%s/server-%d.out", data_dir, ++starts);
  char portarg[16];
  snprintf(portarg, sizeof portarg, "%d", port);
  server = fork();
  if (server == 0) {
    if (!freopen(out, "w", stdout))
      _exit(126);
    execl(bin, bin, "serve", "--host", "127.0.0.1", "--port", portarg, "--data-dir", data_dir,
          "--admin-user", ADMIN, "--admin-password", PASSWORD, "--log-level", "warn",
          "--login-fail-delay-ms", "50", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 400; i++) { /* 20 s */
    FILE *f = fopen(out, "r");
    char line[256];
    bool up = false;
    while (f && !up && fgets(line, sizeof line, f))
      up = strstr(line, "listening on") != NULL;
    if (f)
      fclose(f);
    if (up)
      return true;
    if (waitpid(server, NULL, WNOHANG) == server) {
      server = -1;
      return false;
    }
    sdk_sleep_ms(50);
  }
  return false;
}

static void server_stop(void)
{
  if (server <= 0)
    return;
  kill(server, SIGTERM);
  int st;
  waitpid(server, &st, 0);
  server = -1;
}

static int group_setup(void **state)
{
  (void)state;
  bin = getenv("BIMHUB_BIN");
  ifc_dir = getenv("BIMHUB_IFC_DIR");
  snprintf(model, sizeof model, "%s/tested_sample_project.ifc", ifc_dir ? ifc_dir : ".");
  struct stat sb;
  if (!bin || stat(bin, &sb) != 0 || stat(model, &sb) != 0)
    return 0; /* skipped, see the tests */
  snprintf(data_dir, sizeof data_dir, "/tmp/libbimhub-live-XXXXXX");
  if (!mkdtemp(data_dir))
    return -1;
  port = free_port();
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  signal(SIGPIPE, SIG_IGN);
  return server_start() ? 0 : -1;
}

static int group_teardown(void **state)
{
  (void)state;
  server_stop();
  if (data_dir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    if (system(cmd) != 0)
      return -1;
  }
  return 0;
}

#define NEED_SERVER()                                                                              \
  do {                                                                                             \
    if (server <= 0)                                                                               \
      skip();                                                                                      \
  } while (0)

static struct bimhub_client *login(void)
{
  struct bimhub_client *c = bimhub_client_new(url);
  struct bimhub_error err;
  assert_non_null(c);
  enum bimhub_rc rc = bimhub_client_login(c, ADMIN, PASSWORD, &err);
  if (rc)
    fail_msg("login: %s", err.message);
  return c;
}

static int64_t new_project(struct bimhub_client *c, const char *name)
{
  json_t *p = NULL;
  struct bimhub_error err;
  if (bimhub_add_project(c, name, "ifc2x3tc1", &p, &err) != BIMHUB_OK)
    fail_msg("addProject: %s", err.message);
  int64_t poid = bimhub_json_int(p, "oid", -1);
  json_decref(p);
  assert_true(poid > 0);
  return poid;
}

static bool files_equal(const char *a, const char *b)
{
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
  return system(cmd) == 0;
}

/* ---- the JSON API ---- */

static void client_calls_and_errors(void **state)
{
  (void)state;
  NEED_SERVER();
  struct bimhub_error err;
  struct bimhub_client *c = bimhub_client_new(url);
  assert_int_equal(bimhub_client_login(c, ADMIN, "wrong", &err), BIMHUB_EXCEPTION);
  assert_string_equal(err.type, "UserException");
  assert_null(bimhub_client_token(c));
  bimhub_client_free(c);

  c = login();
  int64_t poid = new_project(c, "live-projects");
  json_t *p = NULL, *list = NULL;
  assert_int_equal(bimhub_get_project_by_poid(c, poid, &p, &err), BIMHUB_OK);
  assert_string_equal(bimhub_json_str(p, "name"), "live-projects");
  json_decref(p);
  assert_int_equal(bimhub_get_projects_by_name(c, "live-projects", &list, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(list), 1);
  json_decref(list);
  assert_int_equal(bimhub_get_all_projects(c, true, true, &list, &err), BIMHUB_OK);
  assert_true(json_array_size(list) >= 1);
  json_decref(list);
  assert_int_equal(bimhub_add_project(c, "live-projects", "ifc2x3tc1", NULL, &err),
                   BIMHUB_EXCEPTION);
  assert_non_null(strstr(err.message, "unique"));
  assert_int_equal(bimhub_get_project_by_poid(c, 987654321, NULL, &err), BIMHUB_EXCEPTION);

  json_t *u = NULL;
  assert_int_equal(bimhub_add_user_with_password(c, "live-user@bimhub.test", "live-user-secret-1",
                                                 "Live", "USER", &u, &err),
                   BIMHUB_OK);
  int64_t uoid = bimhub_json_int(u, "oid", -1);
  json_decref(u);
  assert_int_equal(bimhub_add_user_to_project(c, uoid, poid, &err), BIMHUB_OK);
  assert_int_equal(bimhub_add_user(c, "live-nopass@bimhub.test", "NoPass", "READ_ONLY", NULL, &err),
                   BIMHUB_OK);
  assert_int_equal(bimhub_get_all_users(c, &list, &err), BIMHUB_OK);
  assert_true(json_array_size(list) >= 3);
  json_decref(list);

  /* a raw multi-call envelope */
  json_t *reply = NULL;
  assert_int_equal(
      bimhub_client_request(c,
                            json_pack("{s:[{s:s,s:s,s:{}},{s:s,s:s,s:{}}]}", "requests",
                                      "interface", "AdminInterface", "method", "getServerInfo",
                                      "parameters", "interface", "AuthInterface", "method",
                                      "isLoggedIn", "parameters"),
                            &reply, &err),
      BIMHUB_OK);
  json_t *rs = json_object_get(reply, "responses");
  assert_int_equal(json_array_size(rs), 2);
  assert_true(json_is_true(json_object_get(json_array_get(rs, 1), "result")));
  json_decref(reply);

  /* an invalid token is an AuthenticationException with errorCode 3 */
  struct bimhub_client *bad = bimhub_client_new(url);
  bimhub_client_set_token(bad, "0000");
  assert_int_equal(bimhub_get_all_projects(bad, true, true, NULL, &err), BIMHUB_EXCEPTION);
  assert_int_equal(err.code, 3);
  bimhub_client_free(bad);

  /* transport errors */
  struct bimhub_client *nobody = bimhub_client_new("http://127.0.0.1:1");
  assert_int_equal(bimhub_client_login(nobody, ADMIN, PASSWORD, &err), BIMHUB_TRANSPORT);
  bimhub_client_free(nobody);

  assert_int_equal(bimhub_client_logout(c, &err), BIMHUB_OK);
  assert_null(bimhub_client_token(c));
  bimhub_client_free(c);
}

/* ---- check-in, download, extended data ---- */

struct progress_seen {
  int upload, server, download;
  bool finished;
  int64_t upload_total;
  int stop_after_download;
};

static int on_progress(void *arg, const struct bimhub_progress *p)
{
  struct progress_seen *s = arg;
  if (p->phase == BIMHUB_PROGRESS_UPLOAD) {
    s->upload++;
    s->upload_total = p->total;
  } else if (p->phase == BIMHUB_PROGRESS_SERVER) {
    s->server++;
    assert_non_null(p->raw);
    if (p->state && strcmp(p->state, "FINISHED") == 0)
      s->finished = true;
  } else {
    s->download++;
    if (s->stop_after_download && s->download >= s->stop_after_download)
      return 1;
  }
  return 0;
}

static int refuse(void *arg, const void *data, size_t len)
{
  (void)arg;
  (void)data;
  (void)len;
  return 1;
}

struct reader {
  FILE *f;
};

static size_t read_model(void *arg, void *buf, size_t len)
{
  struct reader *r = arg;
  return fread(buf, 1, len, r->f);
}

static void checkin_download_extended_data(void **state)
{
  (void)state;
  NEED_SERVER();
  struct bimhub_error err;
  struct bimhub_client *c = login();
  int64_t poid = new_project(c, "live-checkin");
  struct progress_seen seen = {0};
  bimhub_client_set_progress(c, on_progress, &seen);
  struct bimhub_checkin_result r;
  enum bimhub_rc rc = bimhub_checkin_file(c, poid, model, "first", NULL, &r, &err);
  if (rc)
    fail_msg("checkin: %s", err.message);
  assert_true(r.roid > 0);
  assert_true(r.topic_id > 0);
  assert_string_equal(bimhub_json_str(r.state, "state"), "FINISHED");
  json_decref(r.state);
  assert_true(seen.upload >= 1);
  assert_true(seen.upload_total > 0);
  assert_true(seen.server >= 1);
  assert_true(seen.finished);

  json_t *revs = NULL, *rev = NULL;
  assert_int_equal(bimhub_get_all_revisions_of_project(c, poid, &revs, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(revs), 1);
  json_decref(revs);
  assert_int_equal(bimhub_get_revision(c, r.roid, &rev, &err), BIMHUB_OK);
  assert_string_equal(bimhub_json_str(rev, "comment"), "first");
  json_decref(rev);

  /* the model comes back byte for byte */
  char out[128];
  snprintf(out, sizeof out, "%s/out.ifc", data_dir);
  rc = bimhub_download_revision_to_file(c, r.roid, 0, out, &err);
  if (rc)
    fail_msg("download: %s", err.message);
  assert_true(files_equal(out, model));
  assert_true(seen.download >= 1);
  int64_t ser = 0;
  assert_int_equal(bimhub_get_serializer_by_content_type(c, "application/ifc", &ser, &err),
                   BIMHUB_OK);
  FILE *fp = fopen(out, "wb");
  assert_int_equal(bimhub_download_revision_to_fp(c, r.roid, ser, fp, &err), BIMHUB_OK);
  fclose(fp);
  assert_true(files_equal(out, model));
  assert_int_equal(bimhub_download_revision(c, r.roid, 0, refuse, NULL, &err), BIMHUB_ABORTED);
  seen.stop_after_download = 1;
  assert_int_equal(bimhub_download_revision(c, r.roid, 0, refuse, NULL, &err), BIMHUB_ABORTED);
  seen.stop_after_download = 0;
  assert_int_equal(bimhub_download_revision_to_file(c, 987654321, 0, out, &err), BIMHUB_EXCEPTION);

  /* extended data, twice on the same schema */
  rc = bimhub_write_extended_data(c, r.roid, "live-report", "text/plain", "Report", "r.txt",
                                  "hello", 5, &err);
  if (rc)
    fail_msg("extended data: %s", err.message);
  assert_int_equal(bimhub_write_extended_data(c, r.roid, "live-report", "text/plain", "Again",
                                              "r2.txt", "again", 5, &err),
                   BIMHUB_OK);
  json_t *eds = NULL;
  assert_int_equal(bimhub_get_all_extended_data_of_revision(c, r.roid, &eds, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(eds), 2);
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(bimhub_get_file_data(c, bimhub_json_int(json_array_get(eds, 0), "fileId", -1),
                                        &data, &len, &err),
                   BIMHUB_OK);
  assert_int_equal(len, 5);
  assert_memory_equal(data, "hello", 5);
  free(data);
  json_decref(eds);
  assert_int_equal(bimhub_get_extended_data_schema_by_name(c, "no-such-schema", NULL, &err),
                   BIMHUB_NOT_FOUND);

  /* a reader, no waiting; then the server's sync mode */
  bimhub_client_set_progress(c, NULL, NULL);
  struct reader rd = {.f = fopen(model, "rb")};
  struct bimhub_checkin_options nowait = {.no_wait = true, .file_name = "second.ifc"};
  assert_int_equal(bimhub_checkin_read(c, poid, read_model, &rd, -1, "second", &nowait, &r, &err),
                   BIMHUB_OK);
  fclose(rd.f);
  assert_true(r.topic_id > 0);
  assert_int_equal(r.roid, -1);
  for (int i = 0; i < 200; i++) { /* wait until the project is free again */
    json_t *st = NULL;
    bimhub_get_progress(c, r.topic_id, &st, &err);
    bool done = bimhub_json_str(st, "state") && strcmp(bimhub_json_str(st, "state"), "STARTED");
    json_decref(st);
    if (done)
      break;
    sdk_sleep_ms(50);
  }
  struct bimhub_checkin_options sync = {.server_sync = true};
  assert_int_equal(bimhub_checkin_file(c, poid, model, "third", &sync, &r, &err), BIMHUB_OK);
  assert_true(r.roid > 0);
  json_decref(r.state);

  /* a file that is not IFC: the check-in ends in AS_ERROR */
  char junk[128];
  snprintf(junk, sizeof junk, "%s/junk.ifc", data_dir);
  FILE *j = fopen(junk, "w");
  fputs("this is not a STEP file\n", j);
  fclose(j);
  rc = bimhub_checkin_file(c, poid, junk, NULL, NULL, &r, &err);
  assert_int_equal(rc, BIMHUB_FAILED);
  assert_true(strlen(err.message) > 0);
  json_decref(r.state);
  assert_int_equal(bimhub_checkin_file(c, poid, "/no/such/file.ifc", NULL, NULL, &r, &err),
                   BIMHUB_IO);
  bimhub_client_free(c);
}

/* ---- services: the server asks our provider for its descriptor ---- */

static int noop(void *arg, const struct bimhub_notification *n, struct bimhub_client *api)
{
  (void)arg;
  (void)n;
  (void)api;
  return BIMHUB_HANDLED;
}

static void services_on_projects(void **state)
{
  (void)state;
  NEED_SERVER();
  char spool[128];
  snprintf(spool, sizeof spool, "%s/spool", data_dir);
  struct bimhub_service_options o = {.spool_dir = spool};
  struct bimhub_service_desc d = {.identifier = "live",
                                  .name = "Live",
                                  .provider_name = "tests",
                                  .read_revision = true,
                                  .on_new_revision = noop};
  struct bimhub_error err;
  struct bimhub_service *svc = bimhub_service_new(&o, &err);
  assert_int_equal(bimhub_service_add(svc, &d, &err), BIMHUB_OK);
  assert_int_equal(bimhub_service_start(svc, &err), BIMHUB_OK);
  char base[128];
  bimhub_service_base_url(svc, base, sizeof base);

  struct bimhub_client *c = login();
  int64_t poid = new_project(c, "live-services");
  json_t *desc = NULL;
  enum bimhub_rc rc = bimhub_get_service_descriptor(c, base, "live", &desc, &err);
  if (rc)
    fail_msg("getServiceDescriptor: %s", err.message);
  assert_string_equal(bimhub_json_str(desc, "name"), "Live");
  int64_t soid = -1;
  rc = bimhub_add_service_to_project(
      c, poid, bimhub_sservice_from_descriptor(desc, base, NULL, NULL), &soid, &err);
  if (rc)
    fail_msg("addServiceToProject: %s", err.message);
  json_decref(desc);
  json_t *list = NULL;
  assert_int_equal(bimhub_get_all_services_of_project(c, poid, &list, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(list), 1);
  assert_int_equal(bimhub_json_int(json_array_get(list, 0), "oid", -1), soid);
  assert_string_equal(bimhub_json_str(json_array_get(list, 0), "serviceIdentifier"), "live");
  json_decref(list);
  assert_int_equal(bimhub_delete_service(c, soid, &err), BIMHUB_OK);
  assert_int_equal(bimhub_get_all_services_of_project(c, poid, &list, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(list), 0);
  json_decref(list);
  bimhub_client_free(c);
  bimhub_service_free(svc);
}

/* ---- the server's own signed deliveries to an SDK service ---- */

struct delivered {
  pthread_mutex_t lock;
  int count;
  int64_t roid;
  char id[SDK_ID_MAX], api_url[128];
  bool wrote_back;
};

static int on_delivered(void *arg, const struct bimhub_notification *n, struct bimhub_client *api)
{
  struct delivered *d = arg;
  struct bimhub_error err;
  json_t *rev = NULL;
  bool ok = api && bimhub_get_revision(api, n->roid, &rev, &err) == BIMHUB_OK &&
            bimhub_write_extended_data(api, n->roid, "delivered-report", "text/plain",
                                       "Delivered report", "d.txt", "ok", 2, &err) == BIMHUB_OK;
  json_decref(rev);
  pthread_mutex_lock(&d->lock);
  d->count++;
  d->roid = n->roid;
  d->wrote_back = ok;
  snprintf(d->id, sizeof d->id, "%s", n->id);
  snprintf(d->api_url, sizeof d->api_url, "%s", api ? bimhub_client_url(api) : "");
  pthread_mutex_unlock(&d->lock);
  return ok ? BIMHUB_HANDLED : BIMHUB_RETRY;
}

static void server_delivers_signed_notifications(void **state)
{
  (void)state;
  NEED_SERVER();
  struct delivered got = {.lock = PTHREAD_MUTEX_INITIALIZER};
  char spool[128];
  snprintf(spool, sizeof spool, "%s/delivered-spool", data_dir);
  struct bimhub_service_options o = {.spool_dir = spool};
  struct bimhub_service_desc d = {.identifier = "delivered",
                                  .name = "Delivered",
                                  .read_revision = true,
                                  .on_new_revision = on_delivered,
                                  .arg = &got};
  struct bimhub_error err;
  struct bimhub_service *svc = bimhub_service_new(&o, &err);
  assert_int_equal(bimhub_service_add(svc, &d, &err), BIMHUB_OK);
  assert_int_equal(bimhub_service_start(svc, &err), BIMHUB_OK);
  char base[128];
  bimhub_service_base_url(svc, base, sizeof base);

  struct bimhub_client *c = login();
  int64_t poid = new_project(c, "live-delivered");
  json_t *desc = bimhub_service_descriptor_json(&d, base);
  int64_t soid = -1;
  enum bimhub_rc rc = bimhub_add_service_to_project(
      c, poid, bimhub_sservice_from_descriptor(desc, NULL, NULL, NULL), &soid, &err);
  json_decref(desc);
  if (rc)
    fail_msg("addServiceToProject: %s", err.message);
  char secret[128];
  rc = bimhub_get_service_secret(c, soid, secret, sizeof secret, &err);
  if (rc == BIMHUB_EXCEPTION && strstr(err.message, "No service found")) {
    bimhub_client_free(c); /* a server without DeliveryInterface */
    bimhub_service_free(svc);
    skip();
  }
  if (rc)
    fail_msg("getServiceSecret: %s", err.message);
  assert_int_equal(strncmp(secret, "whsec_", 6), 0);
  assert_int_equal(bimhub_service_set_secret(svc, secret), BIMHUB_OK); /* unsigned: refused */

  struct bimhub_checkin_result r;
  assert_int_equal(bimhub_checkin_file(c, poid, model, "delivered", NULL, &r, &err), BIMHUB_OK);
  json_decref(r.state);
  bool seen = false;
  for (int i = 0; i < 400 && !seen; i++) { /* 20 s */
    pthread_mutex_lock(&got.lock);
    seen = got.count > 0 && got.wrote_back;
    pthread_mutex_unlock(&got.lock);
    if (!seen)
      sdk_sleep_ms(50);
  }
  assert_true(seen);
  assert_int_equal(got.roid, r.roid);
  assert_string_equal(got.api_url, url);
  assert_true(strlen(got.id) > 0);
  json_t *eds = NULL;
  assert_int_equal(bimhub_get_all_extended_data_of_revision(c, r.roid, &eds, &err), BIMHUB_OK);
  assert_int_equal(json_array_size(eds), 1);
  json_decref(eds);
  bimhub_client_free(c);
  bimhub_service_free(svc);
}

/* ---- examples/hello_service as the server will call it ---- */

static bool port_open(int p)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)p),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static void hello_service_writes_back(void **state)
{
  (void)state;
  NEED_SERVER();
  const char *hello = getenv("HELLO_SERVICE_BIN");
  struct stat sb;
  if (!hello || stat(hello, &sb) != 0)
    skip();
  struct bimhub_error err;
  struct bimhub_client *c = login();
  int64_t poid = new_project(c, "live-hello");
  struct bimhub_checkin_result r;
  assert_int_equal(bimhub_checkin_file(c, poid, model, "for hello", NULL, &r, &err), BIMHUB_OK);
  json_decref(r.state);

  int hp = free_port();
  char portarg[16], spool[128];
  snprintf(portarg, sizeof portarg, "%d", hp);
  snprintf(spool, sizeof spool, "%s/hello-spool", data_dir);
  pid_t pid = fork();
  if (pid == 0) {
    unsetenv("HELLO_SECRET");
    execl(hello, hello, portarg, spool, (char *)NULL);
    _exit(127);
  }
  bool up = false;
  for (int i = 0; i < 200 && !up; i++) {
    up = port_open(hp);
    if (!up)
      sdk_sleep_ms(50);
  }
  assert_true(up);
  /* the notification the server sends (spec §8.4), posted as it would */
  char hurl[64];
  snprintf(hurl, sizeof hurl, "http://127.0.0.1:%d", hp);
  struct bimhub_client *as_server = bimhub_client_new(hurl);
  json_t *params = json_pack("{s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "poid", (json_int_t)poid, "roid",
                             (json_int_t)r.roid, "soid", (json_int_t)-1, "serviceIdentifier",
                             "hello", "profileIdentifier", "default", "userToken", "", "token",
                             bimhub_client_token(c), "apiUrl", url);
  assert_int_equal(
      bimhub_client_call(as_server, "RemoteServiceInterface", "newRevision", params, NULL, &err),
      BIMHUB_OK);
  json_t *desc = NULL;
  assert_int_equal(bimhub_client_call(as_server, "RemoteServiceInterface", "getService",
                                      json_pack("{s:s}", "serviceIdentifier", "hello"), &desc,
                                      &err),
                   BIMHUB_OK);
  assert_string_equal(bimhub_json_str(desc, "__type"), "SServiceDescriptor");
  json_decref(desc);
  bimhub_client_free(as_server);
  bool written = false;
  for (int i = 0; i < 200 && !written; i++) {
    json_t *eds = NULL;
    if (bimhub_get_all_extended_data_of_revision(c, r.roid, &eds, &err) == BIMHUB_OK &&
        json_array_size(eds) == 1)
      written = !strcmp(bimhub_json_str(json_array_get(eds, 0), "title"), "Hello report");
    json_decref(eds);
    if (!written)
      sdk_sleep_ms(50);
  }
  assert_true(written);
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  bimhub_client_free(c);
}

/* ---- the stream ---- */

struct watch {
  pthread_mutex_t lock;
  int connected, resumed, disconnected, subscribed, failed, stopped;
  int revisions, projects, progress;
  int64_t last_roid, last_poid, endpoint;
  bool missed;
};

static void w_status(void *arg, const struct bimhub_stream_status *st)
{
  struct watch *w = arg;
  pthread_mutex_lock(&w->lock);
  switch (st->event) {
  case BIMHUB_STREAM_CONNECTED:
    w->connected++;
    w->missed = st->may_have_missed;
    w->endpoint = st->endpoint_id;
    break;
  case BIMHUB_STREAM_RESUMED:
    w->resumed++;
    w->endpoint = st->endpoint_id;
    break;
  case BIMHUB_STREAM_DISCONNECTED:
    w->disconnected++;
    break;
  case BIMHUB_STREAM_SUBSCRIBED:
    w->subscribed++;
    break;
  case BIMHUB_STREAM_SUBSCRIBE_FAILED:
    w->failed++;
    break;
  case BIMHUB_STREAM_UNSUBSCRIBED:
    break;
  case BIMHUB_STREAM_STOPPED:
    w->stopped++;
    break;
  }
  pthread_mutex_unlock(&w->lock);
}

static void w_rev(void *arg, int64_t poid, int64_t roid)
{
  struct watch *w = arg;
  pthread_mutex_lock(&w->lock);
  w->revisions++;
  w->last_poid = poid;
  w->last_roid = roid;
  pthread_mutex_unlock(&w->lock);
}

static void w_proj(void *arg, int64_t poid)
{
  struct watch *w = arg;
  pthread_mutex_lock(&w->lock);
  w->projects++;
  w->last_poid = poid;
  pthread_mutex_unlock(&w->lock);
}

static void w_prog(void *arg, int64_t topic, json_t *st)
{
  (void)topic;
  (void)st;
  struct watch *w = arg;
  pthread_mutex_lock(&w->lock);
  w->progress++;
  pthread_mutex_unlock(&w->lock);
}

static int field(struct watch *w, const int *f)
{
  pthread_mutex_lock(&w->lock);
  int v = *f;
  pthread_mutex_unlock(&w->lock);
  return v;
}

static bool wait_for(struct watch *w, const int *f, int n, long ms)
{
  for (long t = 0; t < ms; t += 20) {
    if (field(w, f) >= n)
      return true;
    sdk_sleep_ms(20);
  }
  return field(w, f) >= n;
}

static int64_t checkin(struct bimhub_client *c, int64_t poid)
{
  struct bimhub_checkin_result r;
  struct bimhub_error err;
  if (bimhub_checkin_file(c, poid, model, "stream", NULL, &r, &err) != BIMHUB_OK)
    fail_msg("checkin: %s", err.message);
  json_decref(r.state);
  return r.roid;
}

static void stream_pushes_reconnects_and_resumes(void **state)
{
  (void)state;
  NEED_SERVER();
  struct bimhub_error err;
  struct bimhub_client *c = login();
  int64_t poid = new_project(c, "live-stream");
  struct watch w = {.lock = PTHREAD_MUTEX_INITIALIZER}, w2 = {.lock = PTHREAD_MUTEX_INITIALIZER};
  struct bimhub_stream_handlers h = {.on_status = w_status,
                                     .on_new_revision = w_rev,
                                     .on_new_project = w_proj,
                                     .on_progress = w_prog};
  struct bimhub_stream_options o = {.reconnect_min_ms = 100, .reconnect_max_ms = 400};
  struct bimhub_stream *s = bimhub_stream_new(c, &h, &w, &o, &err);
  assert_non_null(s);
  /* a second stream that never resumes: it re-registers on a new endpoint */
  struct bimhub_stream_options o2 = {
      .reconnect_min_ms = 100, .reconnect_max_ms = 400, .no_resume = true};
  struct bimhub_stream *s2 = bimhub_stream_new(c, &h, &w2, &o2, &err);
  assert_int_equal(bimhub_stream_subscribe(s, BIMHUB_SUB_NEW_REVISION_ON_PROJECT, poid, 0),
                   BIMHUB_OK);
  assert_int_equal(bimhub_stream_subscribe(s, BIMHUB_SUB_NEW_PROJECT, 0, 0), BIMHUB_OK);
  assert_int_equal(bimhub_stream_subscribe(s, BIMHUB_SUB_NEW_PROJECT, 0, 0), BIMHUB_OK); /* dup */
  assert_int_equal(bimhub_stream_subscribe(s, BIMHUB_SUB_PROGRESS, 987654321, 0), BIMHUB_OK);
  assert_int_equal(bimhub_stream_subscribe(s2, BIMHUB_SUB_NEW_REVISION, 0, 0), BIMHUB_OK);
  assert_int_equal(bimhub_stream_unsubscribe(s, BIMHUB_SUB_NEW_USER, 0, 0), BIMHUB_NOT_FOUND);
  assert_int_equal(bimhub_stream_endpoint_id(s), -1);
  assert_int_equal(bimhub_stream_start(s, &err), BIMHUB_OK);
  assert_int_equal(bimhub_stream_start(s, &err), BIMHUB_STATE);
  assert_int_equal(bimhub_stream_start(s2, &err), BIMHUB_OK);
  assert_true(wait_for(&w, &w.connected, 1, 10000));
  assert_true(wait_for(&w2, &w2.connected, 1, 10000));
  assert_false(w.missed);
  assert_int_equal(field(&w, &w.subscribed), 2);
  assert_int_equal(field(&w, &w.failed), 1); /* the unknown topic */
  assert_true(bimhub_stream_endpoint_id(s) > 0);

  int64_t other = new_project(c, "live-stream-2");
  assert_true(wait_for(&w, &w.projects, 1, 5000));
  assert_int_equal(w.last_poid, other);
  int64_t roid = checkin(c, poid);
  assert_true(wait_for(&w, &w.revisions, 1, 5000));
  assert_int_equal(w.last_roid, roid);
  assert_true(wait_for(&w2, &w2.revisions, 1, 5000));

  /* the server goes away and comes back on the same port */
  int64_t ep = bimhub_stream_endpoint_id(s);
  server_stop();
  assert_true(wait_for(&w, &w.disconnected, 1, 5000));
  assert_true(server_start());
  assert_true(wait_for(&w, &w.resumed, 1, 15000));
  assert_int_equal(bimhub_stream_endpoint_id(s), ep);
  assert_true(wait_for(&w2, &w2.connected, 2, 15000));
  assert_true(w2.missed);
  struct bimhub_client *c2 = login();
  roid = checkin(c2, poid);
  assert_true(wait_for(&w, &w.revisions, 2, 5000));
  assert_int_equal(w.last_roid, roid);
  assert_true(wait_for(&w2, &w2.revisions, 2, 5000));
  sdk_sleep_ms(300);
  assert_int_equal(field(&w, &w.revisions), 2); /* nothing twice */

  assert_int_equal(bimhub_stream_unsubscribe(s, BIMHUB_SUB_NEW_REVISION_ON_PROJECT, poid, 0),
                   BIMHUB_OK);
  sdk_sleep_ms(300);
  checkin(c2, poid);
  assert_true(wait_for(&w2, &w2.revisions, 3, 5000));
  sdk_sleep_ms(300);
  assert_int_equal(field(&w, &w.revisions), 2);

  bimhub_stream_free(s);
  bimhub_stream_free(s2);
  assert_int_equal(w.stopped, 1);
  bimhub_client_free(c);
  bimhub_client_free(c2);
}

static void stream_with_a_bad_token_stops(void **state)
{
  (void)state;
  NEED_SERVER();
  struct bimhub_error err;
  struct bimhub_client *c = bimhub_client_new(url);
  bimhub_client_set_token(c, "0123456789");
  struct watch w = {.lock = PTHREAD_MUTEX_INITIALIZER};
  struct bimhub_stream_handlers h = {.on_status = w_status};
  struct bimhub_stream *s = bimhub_stream_new(c, &h, &w, NULL, &err);
  assert_non_null(s);
  assert_int_equal(bimhub_stream_run(s, &err), BIMHUB_EXCEPTION); /* on this thread */
  assert_non_null(strstr(err.message, "Invalid token"));
  assert_int_equal(w.stopped, 1);
  assert_int_equal(w.connected, 0);
  bimhub_stream_free(s);
  bimhub_client_free(c);
  /* no token, https: refused at once */
  c = bimhub_client_new(url);
  assert_null(bimhub_stream_new(c, &h, &w, NULL, &err));
  assert_int_equal(err.rc, BIMHUB_STATE);
  bimhub_client_free(c);
  c = bimhub_client_new("https://127.0.0.1:1");
  bimhub_client_set_token(c, "x");
  assert_null(bimhub_stream_new(c, &h, &w, NULL, &err));
  assert_int_equal(err.rc, BIMHUB_INVALID);
  bimhub_client_free(c);
}

int main(void)
{
  bimhub_set_log(BIMHUB_LOG_OFF, NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(client_calls_and_errors),
      cmocka_unit_test(checkin_download_extended_data),
      cmocka_unit_test(services_on_projects),
      cmocka_unit_test(hello_service_writes_back),
      cmocka_unit_test(server_delivers_signed_notifications),
      cmocka_unit_test(stream_pushes_reconnects_and_resumes),
      cmocka_unit_test(stream_with_a_bad_token_stops),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
