/* fetch.c: checkinFromUrl. A thread per fetch runs libcurl's easy interface into the
 * check-in's queue, waiting while the queue is full. Only http and https, redirects only to
 * those, and the transfer bounded in time and size. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checkin/checkin.h"
#include "common/bh_log.h"
#include "config/config.h"
#include "model/model.h"

struct fetch {
  struct checkin *ci;
  char *url;
  long timeout_s, connect_timeout_s;
  curl_off_t max_bytes;
  pthread_mutex_t lock;
  pthread_cond_t room;
  bool has_room;
};

static void on_drain(void *arg)
{
  struct fetch *f = arg;
  pthread_mutex_lock(&f->lock);
  f->has_room = true;
  pthread_cond_signal(&f->room);
  pthread_mutex_unlock(&f->lock);
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
  struct fetch *f = arg;
  size_t len = size * n;
  if (checkin_write(f->ci, data, len) != BH_OK)
    return 0; /* the check-in failed: stop the transfer */
  if (checkin_is_full(f->ci)) {
    pthread_mutex_lock(&f->lock);
    f->has_room = false;
    pthread_mutex_unlock(&f->lock);
    checkin_on_drain(f->ci, on_drain, f);
    pthread_mutex_lock(&f->lock);
    while (!f->has_room)
      pthread_cond_wait(&f->room, &f->lock);
    pthread_mutex_unlock(&f->lock);
  }
  return len;
}

static void *fetch_main(void *arg)
{
  struct fetch *f = arg;
  bool ok = false;
  CURL *h = curl_easy_init();
  if (h) {
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, f->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, f->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, f->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, f->max_bytes);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* any compression curl can undo */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    CURLcode rc = curl_easy_perform(h);
    ok = rc == CURLE_OK;
    if (!ok) {
      char why[CURL_ERROR_SIZE + 64];
      snprintf(why, sizeof why, "Cannot fetch the model from the URL: %s",
               err[0] ? err : curl_easy_strerror(rc));
      BH_LOG(BH_LOG_WARN, BH_C_APP, "checkinFromUrl: %s", why);
      checkin_abort(f->ci, why);
    }
    curl_easy_cleanup(h);
  } else {
    checkin_abort(f->ci, "Cannot fetch the model from the URL: out of memory");
  }
  if (ok)
    checkin_end_input(f->ci, true);
  checkin_release(f->ci);
  pthread_cond_destroy(&f->room);
  pthread_mutex_destroy(&f->lock);
  free(f->url);
  free(f);
  return NULL;
}

bool checkin_url_allowed(const char *url)
{
  return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

enum bh_err checkin_fetch(struct checkin *ci, const char *url, struct bh_why *why)
{
  if (!checkin_url_allowed(url))
    return bh_fail(why, BH_BADREQUEST, "Only http and https URLs can be checked in");
  const struct bh_config *cfg = checkin_config(ci);
  struct fetch *f = calloc(1, sizeof *f);
  if (!f || !(f->url = strdup(url))) {
    free(f);
    return bh_fail(why, BH_NOMEM, "Out of memory");
  }
  f->ci = ci;
  f->timeout_s = (long)cfg->fetch_timeout_s;
  f->connect_timeout_s = (long)cfg->fetch_connect_timeout_s;
  f->max_bytes = (curl_off_t)cfg->max_upload_bytes;
  pthread_mutex_init(&f->lock, NULL);
  pthread_cond_init(&f->room, NULL);
  checkin_retain(ci);
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&th, &attr, fetch_main, f);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    checkin_release(ci);
    pthread_cond_destroy(&f->room);
    pthread_mutex_destroy(&f->lock);
    free(f->url);
    free(f);
    return bh_fail(why, BH_NOMEM, "Cannot start the download of the URL");
  }
  return BH_OK;
}
