/* hello_service.c: a complete bimhub service. For every new revision it logs the revision and
 * writes a small text report back to it as extended data (schema "hello-report").
 *   hello_service [PORT [SPOOL_DIR]]      (the signing secret from $HELLO_SECRET, if set)
 * Register it on a project with addServiceToProject, url http://127.0.0.1:PORT. */
#include <stdio.h>
#include <stdlib.h>

#include <bimhub/bimhub.h>

static int on_new_revision(void *arg, const struct bimhub_notification *n,
                           struct bimhub_client *api)
{
  (void)arg;
  printf("hello_service: revision %lld of project %lld\n", (long long)n->roid, (long long)n->poid);
  char text[128];
  int len =
      snprintf(text, sizeof text, "Hello from hello_service, revision %lld\n", (long long)n->roid);
  struct bimhub_error err;
  if (api && bimhub_write_extended_data(api, n->roid, "hello-report", "text/plain", "Hello report",
                                        "hello.txt", text, (size_t)len, &err) == BIMHUB_OK)
    return BIMHUB_HANDLED;
  fprintf(stderr, "hello_service: cannot write back: %s\n", api ? err.message : "no apiUrl");
  return BIMHUB_RETRY; /* the SDK runs it again later */
}

int main(int argc, char **argv)
{
  const char *secret = getenv("HELLO_SECRET");
  struct bimhub_service_desc desc = {.identifier = "hello",
                                     .name = "Hello",
                                     .provider_name = "bimhub examples",
                                     .description = "Says hello to every new revision",
                                     .read_revision = true,
                                     .write_extended_data = "hello-report",
                                     .on_new_revision = on_new_revision};
  struct bimhub_service_options opts = {.port = argc > 1 ? (unsigned)atoi(argv[1]) : 8090,
                                        .spool_dir = argc > 2 ? argv[2] : "hello-spool",
                                        .secret = secret && *secret ? secret : NULL};
  struct bimhub_error err = {0};
  bimhub_set_log(BIMHUB_LOG_INFO, NULL, NULL); /* shows "listening on ..." */
  struct bimhub_service *svc = bimhub_service_new(&opts, &err);
  int failed = !svc || bimhub_service_add(svc, &desc, &err) || bimhub_service_run(svc, &err);
  if (failed)
    fprintf(stderr, "hello_service: %s\n", err.message);
  bimhub_service_free(svc);
  return failed;
}
