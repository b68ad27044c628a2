/* fetch.c: checkinFromUrl. A thread per fetch runs the guarded outbound client into the
 * check-in's queue, waiting while the queue is full. The client checks the address of the URL
 * and of each redirect against service_allow; every failure on the way is the same
 * OUTBOUND_UNREACHABLE, and what the URL answered is never quoted back (the check-in hides
 * its content from its errors). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkin/checkin.h"
#include "common/bh_log.h"
#include "config/config.h"
#include "model/model.h"
#include "outbound/outbound.h"

struct fetch {
  struct checkin *ci;
  char *url;
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

static bool on_data(void *arg, const char *data, size_t len)
{
  struct fetch *f = arg;
  if (checkin_write(f->ci, data, len) != BH_OK)
    return false; /* the check-in failed: stop the transfer */
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
  return true;
}

static void *fetch_main(void *arg)
{
  struct fetch *f = arg;
  const struct bh_config *cfg = checkin_config(f->ci);
  const struct outbound_req r = {.url = f->url,
                                 .what = "checkinFromUrl",
                                 .max_redirects = (int)cfg->fetch_max_redirects,
                                 .connect_timeout_ms = cfg->fetch_connect_timeout_s * 1000,
                                 .timeout_ms = cfg->fetch_timeout_s * 1000,
                                 .max_bytes = cfg->max_upload_bytes,
                                 .any_encoding = true,
                                 .on_data = on_data,
                                 .arg = f};
  struct bh_why why = {0};
  enum bh_err rc = outbound_request(cfg, &r, NULL, &why);
  if (rc == BH_OK)
    checkin_end_input(f->ci, true);
  else if (rc == BH_TOOBIG) {
    char text[128];
    snprintf(text, sizeof text, "The model is larger than the limit of %lld bytes",
             (long long)cfg->max_upload_bytes);
    checkin_abort(f->ci, text);
  } else if (rc == BH_CLOSED)
    checkin_end_input(f->ci, false); /* the check-in failed first and says why */
  else
    checkin_abort(f->ci, why.text[0] ? why.text : OUTBOUND_UNREACHABLE);
  checkin_release(f->ci);
  pthread_cond_destroy(&f->room);
  pthread_mutex_destroy(&f->lock);
  free(f->url);
  free(f);
  return NULL;
}

enum bh_err checkin_url_check(const char *url, struct bh_why *why)
{
  struct outbound_url u;
  return outbound_parse(url, &u, why);
}

enum bh_err checkin_fetch(struct checkin *ci, const char *url, struct bh_why *why)
{
  if (checkin_url_check(url, why) != BH_OK)
    return BH_BADREQUEST;
  struct fetch *f = calloc(1, sizeof *f);
  if (!f || !(f->url = strdup(url))) {
    free(f);
    return bh_fail(why, BH_NOMEM, "Out of memory");
  }
  f->ci = ci;
  checkin_hide_content(ci);
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
