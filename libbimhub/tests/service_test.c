/* service_test.c: the service SDK on a free 127.0.0.1 port, driven with libcurl as the
 * server would: discovery answers, signed notifications (accepted), unsigned and tampered
 * ones (401), dedupe by webhook-id and by body, retries, failures kept in failed/, the spool
 * replayed by a new process on the same directory, and the HTTP edges. */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify/sign.h"
#include "sdk_internal.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* ---- what the handlers saw ---- */

struct calls {
  pthread_mutex_t lock;
  int count;
  int results[8]; /* what the handler answers on call i (default: HANDLED) */
  char method[64], id[SDK_ID_MAX], api_url[128], api_token[64], ident[32];
  int64_t poid, roid, edid;
  unsigned attempt;
  bool had_api;
};

static struct calls calls = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int handler(void *arg, const struct bimhub_notification *n, struct bimhub_client *api)
{
  pthread_mutex_lock(&calls.lock);
  int i = calls.count++;
  snprintf(calls.method, sizeof calls.method, "%s", n->method);
  snprintf(calls.id, sizeof calls.id, "%s", n->id);
  snprintf(calls.ident, sizeof calls.ident, "%s", (const char *)arg);
  calls.poid = n->poid;
  calls.roid = n->roid;
  calls.edid = n->edid;
  calls.attempt = n->attempt;
  calls.had_api = api != NULL;
  snprintf(calls.api_url, sizeof calls.api_url, "%s", api ? bimhub_client_url(api) : "");
  snprintf(calls.api_token, sizeof calls.api_token, "%s",
           api && bimhub_client_token(api) ? bimhub_client_token(api) : "");
  int r = i < 8 ? calls.results[i] : BIMHUB_HANDLED;
  pthread_mutex_unlock(&calls.lock);
  return r;
}

static int count(void)
{
  pthread_mutex_lock(&calls.lock);
  int n = calls.count;
  pthread_mutex_unlock(&calls.lock);
  return n;
}

static bool wait_count(int n, long ms)
{
  for (long t = 0; t < ms; t += 10) {
    if (count() >= n)
      return true;
    sdk_sleep_ms(10);
  }
  return count() >= n;
}

static bool token_check(void *arg, const char *identifier, const char *token)
{
  (void)arg;
  (void)identifier;
  return strcmp(token, "good") == 0;
}

/* ---- a running service ---- */

static char dir[64];
static struct bimhub_service *svc;
static char base[128];

static struct bimhub_service *start(const char *secret, long retry_ms)
{
  static const struct bimhub_profile_desc profiles[] = {
      {.identifier = "default", .name = "Default", .is_public = true},
      {.identifier = "members", .name = "Members only"},
  };
  struct bimhub_service_desc hello = {.identifier = "hello",
                                      .name = "Hello",
                                      .provider_name = "tests",
                                      .profiles = profiles,
                                      .n_profiles = 2,
                                      .on_new_revision = handler,
                                      .on_new_extended_data_on_revision = handler,
                                      .check_token = token_check,
                                      .arg = "hello"};
  struct bimhub_service_desc other = {
      .identifier = "other", .name = "Other", .on_notification = handler, .arg = "other"};
  struct bimhub_service_options o = {.spool_dir = dir,
                                     .secret = secret,
                                     .retry_delay_ms = retry_ms,
                                     .retry_max_delay_ms = retry_ms * 4,
                                     .max_attempts = 3,
                                     .max_body_bytes = 4096};
  struct bimhub_error err;
  struct bimhub_service *s = bimhub_service_new(&o, &err);
  assert_non_null(s);
  assert_int_equal(bimhub_service_add(s, &hello, &err), BIMHUB_OK);
  assert_int_equal(bimhub_service_add(s, &other, &err), BIMHUB_OK);
  assert_int_equal(bimhub_service_add(s, &other, &err), BIMHUB_INVALID); /* identifier taken */
  assert_int_equal(bimhub_service_start(s, &err), BIMHUB_OK);
  assert_true(bimhub_service_port(s) > 0);
  assert_int_equal(bimhub_service_base_url(s, base, sizeof base), BIMHUB_OK);
  assert_int_equal(bimhub_service_add(s, &hello, &err), BIMHUB_STATE); /* after start */
  return s;
}

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/libbimhub-svc-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  pthread_mutex_lock(&calls.lock);
  memset(calls.results, 0, sizeof calls.results);
  calls.count = 0;
  pthread_mutex_unlock(&calls.lock);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  bimhub_service_free(svc);
  svc = NULL;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- HTTP as the server sends it ---- */

struct answer {
  long status;
  struct sdk_buf body;
  json_t *json;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
  return sdk_buf_add(arg, p, size * n) ? size * n : 0;
}

/* POSTs body to path; sign: 0 none, 1 good signature, 2 signature of another body. */
static struct answer post(const char *path, const char *body, int sign, const char *msg_id,
                          const char *method)
{
  struct answer a = {0};
  sdk_buf_init(&a.body, 1 << 20);
  CURL *h = curl_easy_init();
  char url[256];
  snprintf(url, sizeof url, "%s%s", base, path);
  struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
  if (sign) {
    char ts[32], sig[SIGN_SIGNATURE_MAX], line[128];
    int64_t now = (int64_t)time(NULL);
    snprintf(ts, sizeof ts, "%lld", (long long)now);
    const char *signed_body = sign == 1 ? body : "{\"something\":\"else\"}";
    assert_int_equal(sign_message(SECRET, msg_id, now, signed_body, strlen(signed_body), sig),
                     BH_OK);
    snprintf(line, sizeof line, "webhook-id: %s", msg_id);
    hd = curl_slist_append(hd, line);
    snprintf(line, sizeof line, "webhook-timestamp: %s", ts);
    hd = curl_slist_append(hd, line);
    snprintf(line, sizeof line, "webhook-signature: %s", sig);
    hd = curl_slist_append(hd, line);
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
  if (method)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  else
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a.body);
  assert_int_equal(curl_easy_perform(h), CURLE_OK);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(hd);
  curl_easy_cleanup(h);
  a.json = a.body.data ? json_loads(a.body.data, 0, NULL) : NULL;
  return a;
}

static void answer_free(struct answer *a)
{
  sdk_buf_free(&a->body);
  json_decref(a->json);
}

static json_t *result(struct answer *a)
{
  return json_object_get(json_object_get(a->json, "response"), "result");
}

static const char *exception_message(struct answer *a)
{
  return bimhub_json_str(json_object_get(json_object_get(a->json, "response"), "exception"),
                         "message");
}

static char *notification(const char *iface, const char *method, const char *ident, int roid)
{
  char *s = malloc(1024);
  snprintf(s, 1024,
           "{\"request\":{\"interface\":\"%s\",\"method\":\"%s\",\"parameters\":{\"poid\":131075,"
           "\"roid\":%d,\"soid\":720902,\"serviceIdentifier\":\"%s\",\"profileIdentifier\":"
           "\"default\",\"userToken\":\"U\",\"token\":\"SERVICE-TOKEN\",\"apiUrl\":"
           "\"http://127.0.0.1:1/\"}}}",
           iface, method, roid, ident);
  return s;
}

static int spooled(const char *sub)
{
  char cmd[160];
  snprintf(cmd, sizeof cmd, "ls '%s/%s' | grep -c '\\.json$'", dir, sub);
  FILE *p = popen(cmd, "r");
  int n = -1;
  if (p) {
    if (fscanf(p, "%d", &n) != 1)
      n = -1;
    pclose(p);
  }
  return n;
}

/* ---- tests ---- */

static void discovery(void **state)
{
  (void)state;
  svc = start(NULL, 50);
  struct answer a = post("/json",
                         "{\"request\":{\"interface\":\"RemoteServiceInterface\",\"method\":"
                         "\"getService\",\"parameters\":{\"serviceIdentifier\":\"hello\"}}}",
                         0, NULL, NULL);
  assert_int_equal(a.status, 200);
  json_t *d = result(&a);
  assert_string_equal(bimhub_json_str(d, "__type"), "SServiceDescriptor");
  assert_string_equal(bimhub_json_str(d, "identifier"), "hello");
  assert_string_equal(bimhub_json_str(d, "url"), base);
  answer_free(&a);
  /* 1.4's interface name, the other service */
  a = post("/json/",
           "{\"request\":{\"interface\":\"Bimsie1RemoteServiceInterface\",\"method\":"
           "\"getService\",\"parameters\":{\"serviceIdentifier\":\"other\"}}}",
           0, NULL, NULL);
  assert_string_equal(bimhub_json_str(result(&a), "name"), "Other");
  answer_free(&a);
  a = post("/json",
           "{\"request\":{\"interface\":\"RemoteServiceInterface\",\"method\":"
           "\"getService\",\"parameters\":{\"serviceIdentifier\":\"nope\"}}}",
           0, NULL, NULL);
  assert_true(json_is_null(result(&a)));
  answer_free(&a);
  a = post("/json",
           "{\"request\":{\"interface\":\"RemoteServiceInterface\",\"method\":"
           "\"getPublicProfiles\",\"parameters\":{\"serviceIdentifier\":\"hello\"}}}",
           0, NULL, NULL);
  assert_int_equal(json_array_size(result(&a)), 1);
  assert_string_equal(bimhub_json_str(json_array_get(result(&a), 0), "__type"),
                      "SProfileDescriptor");
  answer_free(&a);
#define PRIV                                                                                       \
  "{\"request\":{\"interface\":\"RemoteServiceInterface\",\"method\":\"getPrivateProfiles\","      \
  "\"parameters\":{\"serviceIdentifier\":\"hello\",\"token\":\"%s\"}}}"
  char body[512];
  snprintf(body, sizeof body, PRIV, "good");
  a = post("/json", body, 0, NULL, NULL);
  assert_int_equal(json_array_size(result(&a)), 1);
  assert_string_equal(bimhub_json_str(json_array_get(result(&a), 0), "identifier"), "members");
  answer_free(&a);
  snprintf(body, sizeof body, PRIV, "bad");
  a = post("/json", body, 0, NULL, NULL);
  assert_int_equal(json_array_size(result(&a)), 0);
  answer_free(&a);
  assert_int_equal(count(), 0);
}

static void signed_notification_runs_once(void **state)
{
  (void)state;
  svc = start(SECRET, 50);
  char *body = notification("RemoteServiceInterface", "newRevision", "hello", 196613);
  struct answer a = post("/json", body, 1, "msg_one", NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(json_object_size(result(&a)), 0); /* {"response":{"result":{}}} */
  answer_free(&a);
  assert_true(wait_count(1, 5000));
  pthread_mutex_lock(&calls.lock);
  assert_string_equal(calls.method, "newRevision");
  assert_string_equal(calls.id, "msg_one");
  assert_string_equal(calls.ident, "hello");
  assert_int_equal(calls.poid, 131075);
  assert_int_equal(calls.roid, 196613);
  assert_int_equal(calls.edid, -1);
  assert_int_equal(calls.attempt, 1);
  assert_true(calls.had_api);
  assert_string_equal(calls.api_url, "http://127.0.0.1:1"); /* "/json" is the client's */
  assert_string_equal(calls.api_token, "SERVICE-TOKEN");
  pthread_mutex_unlock(&calls.lock);
  /* the same delivery again: acknowledged, not run */
  a = post("/json", body, 1, "msg_one", NULL);
  assert_int_equal(a.status, 200);
  answer_free(&a);
  sdk_sleep_ms(200);
  assert_int_equal(count(), 1);
  assert_int_equal(spooled(""), 0); /* handled: removed */
  free(body);
}

static void unsigned_and_tampered_are_refused(void **state)
{
  (void)state;
  svc = start(SECRET, 50);
  char *body = notification("RemoteServiceInterface", "newRevision", "hello", 1);
  struct answer a = post("/json", body, 0, NULL, NULL);
  assert_int_equal(a.status, 401);
  assert_non_null(strstr(exception_message(&a), "Missing"));
  answer_free(&a);
  a = post("/json", body, 2, "msg_t", NULL); /* signature of another body */
  assert_int_equal(a.status, 401);
  assert_non_null(strstr(exception_message(&a), "Invalid signature"));
  answer_free(&a);
  /* a new secret applies at once */
  assert_int_equal(bimhub_service_set_secret(svc, "not a secret"), BIMHUB_INVALID);
  assert_int_equal(bimhub_service_set_secret(svc, "whsec_"
                                                  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                   BIMHUB_OK);
  a = post("/json", body, 1, "msg_t2", NULL); /* signed with SECRET: no longer valid */
  assert_int_equal(a.status, 401);
  answer_free(&a);
  sdk_sleep_ms(100);
  assert_int_equal(count(), 0);
  assert_int_equal(spooled(""), 0);
  free(body);
}

static void unsigned_accepted_without_secret_and_deduped_by_body(void **state)
{
  (void)state;
  svc = start(NULL, 50);
  char *body =
      notification("org.bimserver.RemoteServiceInterface", "newExtendedDataOnRevision", "hello", 5);
  struct answer a = post("/json", body, 0, NULL, NULL);
  assert_int_equal(a.status, 200);
  answer_free(&a);
  a = post("/json", body, 0, NULL, NULL);
  assert_int_equal(a.status, 200);
  answer_free(&a);
  assert_true(wait_count(1, 5000));
  sdk_sleep_ms(200);
  assert_int_equal(count(), 1);
  assert_string_equal(calls.method, "newExtendedDataOnRevision");
  assert_int_equal(calls.id[0], 'b'); /* the body's digest */
  /* routed by serviceIdentifier, to the generic handler of "other" */
  char *other = notification("RemoteServiceInterface", "newRevision", "other", 6);
  a = post("/json", other, 0, NULL, NULL);
  assert_int_equal(a.status, 200);
  answer_free(&a);
  assert_true(wait_count(2, 5000));
  assert_string_equal(calls.ident, "other");
  free(other);
  free(body);
}

static void retries_then_succeeds(void **state)
{
  (void)state;
  calls.results[0] = BIMHUB_RETRY;
  calls.results[1] = BIMHUB_RETRY;
  svc = start(NULL, 50);
  char *body = notification("RemoteServiceInterface", "newRevision", "hello", 7);
  struct answer a = post("/json", body, 0, NULL, NULL);
  answer_free(&a);
  assert_true(wait_count(3, 5000));
  assert_int_equal(calls.attempt, 3);
  sdk_sleep_ms(100);
  assert_int_equal(count(), 3);
  assert_int_equal(spooled(""), 0);
  assert_int_equal(spooled("failed"), 0);
  free(body);
}

static void failures_are_kept(void **state)
{
  (void)state;
  for (int i = 0; i < 8; i++)
    calls.results[i] = BIMHUB_RETRY; /* max_attempts is 3 */
  svc = start(NULL, 20);
  char *body = notification("RemoteServiceInterface", "newRevision", "hello", 8);
  struct answer a = post("/json", body, 0, NULL, NULL);
  answer_free(&a);
  assert_true(wait_count(3, 5000));
  sdk_sleep_ms(300);
  assert_int_equal(count(), 3);
  assert_int_equal(spooled(""), 0);
  assert_int_equal(spooled("failed"), 1);
  free(body);
  /* DROP: at once */
  calls.results[3] = BIMHUB_DROP;
  body = notification("RemoteServiceInterface", "newRevision", "hello", 9);
  a = post("/json", body, 0, NULL, NULL);
  answer_free(&a);
  assert_true(wait_count(4, 5000));
  sdk_sleep_ms(200);
  assert_int_equal(count(), 4);
  assert_int_equal(spooled("failed"), 2);
  /* delivered again (the server's redeliver): it runs again */
  a = post("/json", body, 0, NULL, NULL);
  assert_int_equal(a.status, 200);
  answer_free(&a);
  assert_true(wait_count(5, 5000));
  assert_int_equal(calls.attempt, 1);
  free(body);
}

static void spool_is_replayed_by_a_new_process(void **state)
{
  (void)state;
  calls.results[0] = BIMHUB_RETRY; /* then a long wait: the process stops before the retry */
  svc = start(SECRET, 60000);
  char *body = notification("RemoteServiceInterface", "newRevision", "hello", 10);
  struct answer a = post("/json", body, 1, "msg_replay", NULL);
  assert_int_equal(a.status, 200);
  answer_free(&a);
  assert_true(wait_count(1, 5000));
  bimhub_service_free(svc); /* as if killed: the notification is still spooled */
  svc = NULL;
  assert_int_equal(spooled(""), 1);
  svc = start(SECRET, 50);
  assert_true(wait_count(2, 5000));
  assert_string_equal(calls.id, "msg_replay");
  assert_int_equal(calls.attempt, 2); /* the count survived */
  assert_int_equal(calls.roid, 10);
  sdk_sleep_ms(100);
  assert_int_equal(spooled(""), 0);
  /* once handled, a late redelivery of the same id is not run again */
  a = post("/json", body, 1, "msg_replay", NULL);
  assert_int_equal(a.status, 200);
  answer_free(&a);
  sdk_sleep_ms(200);
  assert_int_equal(count(), 2);
  free(body);
}

/* A service process killed with SIGKILL after acknowledging: the next one runs the
 * notification. The child's handler never returns, so only the spool can carry it over. */
static int hang(void *arg, const struct bimhub_notification *n, struct bimhub_client *api)
{
  (void)arg;
  (void)n;
  (void)api;
  for (;;)
    pause();
  return BIMHUB_HANDLED;
}

static void acknowledged_survives_sigkill(void **state)
{
  (void)state;
  int ports[2];
  assert_int_equal(pipe(ports), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    struct bimhub_service_desc d = {
        .identifier = "hello", .name = "Hello", .on_new_revision = hang};
    struct bimhub_service_options o = {.spool_dir = dir, .secret = SECRET};
    struct bimhub_service *s = bimhub_service_new(&o, NULL);
    if (!s || bimhub_service_add(s, &d, NULL) || bimhub_service_start(s, NULL))
      _exit(1);
    unsigned p = bimhub_service_port(s);
    if (write(ports[1], &p, sizeof p) != sizeof p)
      _exit(1);
    for (;;)
      pause();
  }
  close(ports[1]);
  unsigned p = 0;
  assert_int_equal(read(ports[0], &p, sizeof p), sizeof p);
  close(ports[0]);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", p);
  char *body = notification("RemoteServiceInterface", "newRevision", "hello", 11);
  struct answer a = post("/json", body, 1, "msg_killed", NULL);
  assert_int_equal(a.status, 200);
  answer_free(&a);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  assert_int_equal(spooled(""), 1);
  svc = start(SECRET, 50);
  assert_true(wait_count(1, 5000));
  assert_string_equal(calls.id, "msg_killed");
  assert_int_equal(calls.roid, 11);
  sdk_sleep_ms(100);
  assert_int_equal(spooled(""), 0);
  free(body);
}

static void http_edges(void **state)
{
  (void)state;
  svc = start(NULL, 50);
  struct answer a = post("/json", "{not json", 0, NULL, NULL);
  assert_int_equal(a.status, 400);
  answer_free(&a);
  a = post("/json", "{\"request\":{\"interface\":\"ServiceInterface\",\"method\":\"x\"}}", 0, NULL,
           NULL);
  assert_int_equal(a.status, 200);
  assert_non_null(strstr(exception_message(&a), "No service found with name ServiceInterface"));
  answer_free(&a);
  /* a method no handler takes, a service that does not exist */
  char *body = notification("RemoteServiceInterface", "newExtendedDataOnProject", "hello", 1);
  a = post("/json", body, 0, NULL, NULL);
  assert_int_equal(a.status, 200);
  assert_null(exception_message(&a)); /* acknowledged and dropped */
  assert_int_equal(json_object_size(result(&a)), 0);
  answer_free(&a);
  free(body);
  body = notification("RemoteServiceInterface", "newRevision", "missing", 1);
  a = post("/json", body, 0, NULL, NULL);
  assert_non_null(strstr(exception_message(&a), "No service with identifier missing"));
  answer_free(&a);
  free(body);
  a = post("/other", "{}", 0, NULL, NULL);
  assert_int_equal(a.status, 404);
  answer_free(&a);
  a = post("/json", NULL, 0, NULL, "GET");
  assert_int_equal(a.status, 405);
  answer_free(&a);
  char big[8192];
  memset(big, ' ', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  big[0] = '{';
  big[sizeof big - 2] = '}';
  a = post("/json", big, 0, NULL, NULL);
  assert_int_equal(a.status, 413);
  answer_free(&a);
  assert_int_equal(count(), 0);
}

static void options_are_checked(void **state)
{
  (void)state;
  struct bimhub_error err;
  struct bimhub_service_options none = {0};
  assert_null(bimhub_service_new(&none, &err));
  assert_int_equal(err.rc, BIMHUB_INVALID);
  struct bimhub_service_options bad = {.spool_dir = dir, .secret = "whsec_short"};
  assert_null(bimhub_service_new(&bad, &err));
  struct bimhub_service_options ok = {.spool_dir = dir};
  struct bimhub_service *s = bimhub_service_new(&ok, &err);
  assert_non_null(s);
  assert_int_equal(bimhub_service_start(s, &err), BIMHUB_STATE); /* nothing added */
  char buf[8];
  assert_int_equal(bimhub_service_base_url(s, buf, sizeof buf), BIMHUB_STATE);
  struct bimhub_service_desc nameless = {.identifier = "x"};
  assert_int_equal(bimhub_service_add(s, &nameless, &err), BIMHUB_INVALID);
  bimhub_service_free(s);
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  bimhub_set_log(BIMHUB_LOG_OFF, NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(discovery, setup, teardown),
      cmocka_unit_test_setup_teardown(signed_notification_runs_once, setup, teardown),
      cmocka_unit_test_setup_teardown(unsigned_and_tampered_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(unsigned_accepted_without_secret_and_deduped_by_body, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(retries_then_succeeds, setup, teardown),
      cmocka_unit_test_setup_teardown(failures_are_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(spool_is_replayed_by_a_new_process, setup, teardown),
      cmocka_unit_test_setup_teardown(acknowledged_survives_sigkill, setup, teardown),
      cmocka_unit_test_setup_teardown(http_edges, setup, teardown),
      cmocka_unit_test_setup_teardown(options_are_checked, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
