/* watch_revisions.c: prints every new revision and project as the server pushes them over
 * /stream, reconnecting (and resuming) by itself, until Ctrl-C.
 *   watch_revisions URL USERNAME PASSWORD */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include <bimhub/bimhub.h>

static void on_status(void *arg, const struct bimhub_stream_status *st)
{
  (void)arg;
  const char *what[] = {"connected",        "resumed",      "disconnected", "subscribed",
                        "subscribe failed", "unsubscribed", "stopped"};
  printf("[%s] endpoint %lld%s%s\n", what[st->event], (long long)st->endpoint_id,
         st->may_have_missed ? " (pushes may have been missed)" : "",
         st->error ? st->error->message : "");
  fflush(stdout);
}

static void on_new_revision(void *arg, int64_t poid, int64_t roid)
{
  (void)arg;
  printf("new revision %lld in project %lld\n", (long long)roid, (long long)poid);
  fflush(stdout);
}

static void on_new_project(void *arg, int64_t poid)
{
  (void)arg;
  printf("new project %lld\n", (long long)poid);
  fflush(stdout);
}

int main(int argc, char **argv)
{
  if (argc != 4) {
    fprintf(stderr, "usage: %s URL USERNAME PASSWORD\n", argv[0]);
    return 2;
  }
  struct bimhub_error err = {0};
  struct bimhub_client *c = bimhub_client_new(argv[1]);
  if (!c || bimhub_client_login(c, argv[2], argv[3], &err) != BIMHUB_OK) {
    fprintf(stderr, "watch_revisions: %s\n", c ? err.message : "not an http URL");
    bimhub_client_free(c);
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the stream's thread exists */
  struct bimhub_stream_handlers h = {
      .on_status = on_status, .on_new_revision = on_new_revision, .on_new_project = on_new_project};
  struct bimhub_stream *s = bimhub_stream_new(c, &h, NULL, NULL, &err);
  bimhub_client_free(c); /* the stream copied the URL and the token */
  if (!s || bimhub_stream_subscribe(s, BIMHUB_SUB_NEW_REVISION, 0, 0) != BIMHUB_OK ||
      bimhub_stream_subscribe(s, BIMHUB_SUB_NEW_PROJECT, 0, 0) != BIMHUB_OK ||
      bimhub_stream_start(s, &err) != BIMHUB_OK) {
    fprintf(stderr, "watch_revisions: %s\n", err.message);
    bimhub_stream_free(s);
    return 1;
  }
  int sig;
  sigwait(&set, &sig);
  bimhub_stream_free(s);
  return 0;
}
