/* checkin.h: the check-in pipeline. A check-in takes the bytes of a model file from a
 * producer (an /upload request, a decoded JSON call, a URL fetch), and on a worker thread of
 * its own decompresses them (gzip, zlib, ifcZIP), writes them to a temporary blob while
 * hashing them, and reads them with the streaming IFC reader. At the end the blob is made
 * durable and only then is the revision committed; a failure at any point leaves no
 * revision and no file. Progress goes to the check-in's topic (spec §7.3).
 *
 * One check-in per project at a time, as BIMserver: initiateCheckin reserves the project
 * for a while (checkin_initiate_timeout_s), a started check-in holds it until it ends.
 *
 * Threads: any thread may call these; a check-in's producer calls checkin_write and
 * checkin_end_input from one thread. Callbacks run on the worker thread, or inside the
 * registering call when the condition already holds. */
#ifndef BH_CHECKIN_H
#define BH_CHECKIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

struct model;
struct actor;
struct checkins;
struct checkin;

enum checkin_compression { CHECKIN_PLAIN, CHECKIN_GZIP, CHECKIN_ZLIB };

struct checkin_params {
  int64_t poid;
  int64_t deserializer_oid;
  int64_t topic_id;  /* from initiateCheckin, or 0 to make a topic */
  int64_t file_size; /* -1 when unknown (then no percentage while reading) */
  const char *comment;
  const char *file_name;
  enum checkin_compression compression;
};

typedef void (*checkin_cb)(void *arg);

struct checkins *checkins_new(struct model *m);
/* Stops every running check-in (they fail with "server stopping") and waits for them. */
void checkins_free(struct checkins *c);

/* initiateCheckin: checks the rights, reserves the project, makes its topic. */
enum bh_err checkins_initiate(struct checkins *c, const struct actor *who, int64_t poid,
                              int64_t *topic_id, struct bh_why *why);

/* The topic of the check-in that holds poid (initiated or running), or 0. */
int64_t checkins_topic_of_project(struct checkins *c, int64_t poid);

/* Starts a check-in: checks the project, the rights and the deserializer, takes the
 * project, and starts the worker. *out is held by the caller until checkin_release. */
enum bh_err checkin_start(struct checkins *c, const struct actor *who,
                          const struct checkin_params *p, struct checkin **out, int64_t *topic_id,
                          struct bh_why *why);
/* Queues bytes of the file (copied). BH_CLOSED once the check-in has failed: the producer
 * may stop sending. */
enum bh_err checkin_write(struct checkin *ci, const void *data, size_t len);
/* Whether more than checkin_queue_bytes wait for the worker. */
bool checkin_is_full(struct checkin *ci);
/* cb(arg) once, when the queue has room again (or the check-in failed or ended). */
void checkin_on_drain(struct checkin *ci, checkin_cb cb, void *arg);
/* The input is complete (or, with complete=false, will never be: the check-in fails). */
void checkin_end_input(struct checkin *ci, bool complete);
/* The input will never be complete, for this reason (shown in the topic). */
void checkin_abort(struct checkin *ci, const char *message);
/* An upload for the check-in initiated as topic_id failed before the check-in could start:
 * the topic ends in error with message and the project is free again. Only for the user
 * who initiated it (BH_DENIED otherwise); BH_NOTFOUND when no such check-in waits. */
enum bh_err checkins_fail_initiated(struct checkins *c, const struct actor *who, int64_t topic_id,
                                    const char *message);
/* cleanupLongAction of an initiated check-in's topic: the project is free again. */
void checkins_forget_topic(struct checkins *c, int64_t topic_id);
/* cb(arg) once, when the check-in has ended either way. */
void checkin_on_done(struct checkin *ci, checkin_cb cb, void *arg);
/* Blocks until the check-in ended. */
void checkin_wait(struct checkin *ci);
/* After the end: BH_OK and the new revision, or the failure in why. */
enum bh_err checkin_result(struct checkin *ci, int64_t *roid, struct bh_why *why);
int64_t checkin_topic(const struct checkin *ci);
struct bh_config;
const struct bh_config *checkin_config(const struct checkin *ci);
/* Another holder (a fetch thread); each holder calls checkin_release once. */
void checkin_retain(struct checkin *ci);
void checkin_release(struct checkin *ci);

/* Errors of this check-in never quote the file (its reader's and schema errors say only that
 * the file is not a model the project can take; the detail goes to the log). Before any
 * input. */
void checkin_hide_content(struct checkin *ci);

/* checkinFromUrl: fetches url on a thread of its own through the outbound guard
 * (outbound.h: service_allow, redirects re-checked, the fetch timeouts and the upload limit)
 * into the check-in, and ends its input. Every network failure shows as the same error. */
enum bh_err checkin_fetch(struct checkin *ci, const char *url, struct bh_why *why);
/* Whether checkin_fetch would take url (http or https, no user name...); BH_BADREQUEST
 * and the reason in why if not. Check before checkin_start. */
enum bh_err checkin_url_check(const char *url, struct bh_why *why);

#endif
