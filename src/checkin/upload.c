/* upload.c: POST /upload (spec §1.3). The text fields before the file say what the file
 * is: a model to check in (poid, deserializerOid, ... : the bytes go to a check-in worker)
 * or a plain file (action=file: the bytes go to a blob, committed off the network thread).
 * As BIMserver's UploadServlet, the file part acts with the fields seen so far and later
 * fields change nothing (phpClientLib sends sync after the file: the check-in is then
 * asynchronous). A failure once a check-in was started, or of an upload that names an
 * initiated one (topicId), ends its topic with the reason and frees the project at once. */
#include "checkin/upload.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/topics.h"
#include "blob/blob.h"
#include "checkin/checkin.h"
#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

enum field {
  F_TOKEN,
  F_POID,
  F_DESERIALIZER,
  F_COMMENT,
  F_TOPIC,
  F_SYNC,
  F_MERGE,
  F_COMPRESSION,
  F_ACTION,
  F_COUNT
};
static const char *const field_names[F_COUNT] = {"token",   "poid",        "deserializerOid",
                                                 "comment", "topicId",     "sync",
                                                 "merge",   "compression", "action"};

struct upload {
  struct rpc *rpc;
  pthread_mutex_t lock;
  int refs; /* the transport, and a pending completion */
  char peer[64];
  char *header_token;
  char *fields[F_COUNT];
  bool file_seen, in_file;
  /* a failure before or while reading: the reply is this exception */
  bool failed;
  struct bh_why why;
  bool has_actor;
  struct actor actor;
  /* a check-in */
  struct checkin *ci;
  int64_t topic_id;
  bool sync;
  /* a plain file */
  struct blob_writer *bw;
  char *file_name, *mime;
  /* the end */
  upload_cb ready;
  void *ready_arg;
  bool has_reply;
  struct rpc_reply reply;
};

struct upload *upload_new(struct rpc *rpc, const struct rpc_origin *origin)
{
  struct upload *u = calloc(1, sizeof *u);
  if (!u)
    return NULL;
  u->rpc = rpc;
  u->refs = 1;
  pthread_mutex_init(&u->lock, NULL);
  snprintf(u->peer, sizeof u->peer, "%s", origin && origin->peer_addr ? origin->peer_addr : "");
  if (origin && origin->header_token)
    u->header_token = strdup(origin->header_token);
  return u;
}

__attribute__((format(printf, 3, 4))) static void upload_fail(struct upload *u, enum bh_err code,
                                                              const char *fmt, ...)
{
  if (u->failed)
    return;
  u->failed = true;
  memset(&u->why, 0, sizeof u->why);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(u->why.text, sizeof u->why.text, fmt, ap);
  va_end(ap);
  (void)code;
}

void upload_field(struct upload *u, const char *name, const char *value, size_t len)
{
  if (u->file_seen)
    return; /* BIMserver has acted on the file already: a later field changes nothing */
  for (int i = 0; i < F_COUNT; i++) {
    if (strcmp(name, field_names[i]) == 0) {
      free(u->fields[i]);
      u->fields[i] = strndup(value, len);
      return;
    }
  }
  /* other fields are ignored, as BIMserver does */
}

static bool field_long(const struct upload *u, enum field f, int64_t *out)
{
  const char *v = u->fields[f];
  if (!v || !*v)
    return false;
  char *end;
  long long n = strtoll(v, &end, 10);
  if (*end != '\0')
    return false;
  *out = n;
  return true;
}

static bool field_true(const struct upload *u, enum field f)
{
  return u->fields[f] && strcmp(u->fields[f], "true") == 0;
}

/* Resolves the caller; fills u->why and returns false when it cannot. */
static bool authenticate(struct upload *u)
{
  const char *token = u->fields[F_TOKEN] ? u->fields[F_TOKEN] : u->header_token;
  if (!token) {
    upload_fail(u, BH_AUTH, "Authentication required for this call");
    return false;
  }
  struct bh_why why = {0};
  if (rpc_resolve_token(u->rpc, token, &u->actor, &why) != BH_OK) {
    u->failed = true;
    u->why = why;
    return false;
  }
  u->has_actor = true;
  return true;
}

/* The upload failed before a check-in started: the check-in initiated as its topicId (if
 * any, and if the caller is the one who initiated it) ends with reason and frees its
 * project now, not after checkin_initiate_timeout_s. A caller who cannot be identified
 * cannot end anyone's check-in. */
static void fail_initiated(struct upload *u, const char *reason)
{
  int64_t topic = 0;
  if (u->ci || !field_long(u, F_TOPIC, &topic) || topic <= 0)
    return;
  if (!u->has_actor) {
    const char *token = u->fields[F_TOKEN] ? u->fields[F_TOKEN] : u->header_token;
    struct bh_why why = {0};
    if (!token || rpc_resolve_token(u->rpc, token, &u->actor, &why) != BH_OK)
      return;
    u->has_actor = true;
  }
  checkins_fail_initiated(u->rpc->model.checkins, &u->actor, topic, reason);
}

static void start_checkin(struct upload *u, const char *filename)
{
  struct checkin_params p = {.file_size = -1,
                             .comment = u->fields[F_COMMENT],
                             .file_name = filename,
                             .compression = CHECKIN_PLAIN};
  if (!field_long(u, F_POID, &p.poid)) {
    upload_fail(u, BH_BADREQUEST, "No poid");
    return;
  }
  if (!field_long(u, F_DESERIALIZER, &p.deserializer_oid)) {
    upload_fail(u, BH_BADREQUEST, "No deserializerOid");
    return;
  }
  if (u->fields[F_TOPIC] && *u->fields[F_TOPIC] && !field_long(u, F_TOPIC, &p.topic_id)) {
    upload_fail(u, BH_BADREQUEST, "topicId must be a number");
    return;
  }
  const char *comp = u->fields[F_COMPRESSION];
  if (comp && *comp) {
    if (strcmp(comp, "gzip") == 0)
      p.compression = CHECKIN_GZIP;
    else if (strcmp(comp, "deflate") == 0)
      p.compression = CHECKIN_ZLIB; /* BIMserver's Java client: a zlib stream */
    else {
      upload_fail(u, BH_BADREQUEST, "Unknown compression %s (gzip or deflate)", comp);
      return;
    }
  }
  u->sync = field_true(u, F_SYNC);
  struct bh_why why = {0};
  enum bh_err rc = checkin_start(u->rpc->model.checkins, &u->actor, &p, &u->ci, &u->topic_id, &why);
  if (rc != BH_OK) {
    if (!why.text[0])
      bh_fail(&why, rc, "Cannot start the check-in: %s", bh_err_text(rc));
    u->failed = true;
    u->why = why;
  }
}

void upload_file_begin(struct upload *u, const char *filename, const char *content_type)
{
  if (u->file_seen) {
    upload_fail(u, BH_BADREQUEST, "The upload has more than one file");
    return;
  }
  u->file_seen = true;
  u->in_file = true;
  if (u->failed || !authenticate(u))
    return;
  const char *action = u->fields[F_ACTION];
  if (action && strcmp(action, "file") == 0) {
    /* the rule of uploadFile (any user but READ_ONLY) for the same thing over /upload */
    if (u->actor.type == USER_READ_ONLY) {
      upload_fail(u, BH_DENIED, "Read-only users cannot change anything");
      return;
    }
    u->file_name = strdup(filename ? filename : "file");
    u->mime = strdup(content_type ? content_type : "application/octet-stream");
    if (blob_writer_new(u->rpc->model.blobs, (uint64_t)u->rpc->cfg->max_upload_bytes, &u->bw) !=
        BH_OK)
      upload_fail(u, BH_IO, "Cannot store the file");
    return;
  }
  start_checkin(u, filename);
}

void upload_file_data(struct upload *u, const void *data, size_t len)
{
  if (u->failed || len == 0)
    return;
  if (u->ci) {
    /* BH_CLOSED: the check-in failed; its topic says why, the reply still names it */
    checkin_write(u->ci, data, len);
  } else if (u->bw) {
    enum bh_err rc = blob_writer_write(u->bw, data, len);
    if (rc == BH_TOOBIG)
      upload_fail(u, rc, "The file is larger than the limit of %lld bytes",
                  (long long)u->rpc->cfg->max_upload_bytes);
    else if (rc != BH_OK)
      upload_fail(u, rc, "Cannot store the file");
  }
}

bool upload_is_full(struct upload *u)
{
  return u->ci && !u->failed && checkin_is_full(u->ci);
}

void upload_set_drain(struct upload *u, upload_cb drain, void *arg)
{
  if (u->ci && !u->failed)
    checkin_on_drain(u->ci, drain, arg);
  else
    drain(arg);
}

/* ---- replies ---- */

static void set_reply_json(struct upload *u, json_t *j)
{
  u->reply.http_status = 200;
  u->reply.body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  u->reply.len = u->reply.body ? strlen(u->reply.body) : 0;
  if (!u->reply.body)
    u->reply.http_status = 503;
  json_decref(j);
}

static json_t *exception_json(const struct bh_why *why)
{
  return json_pack("{s:{s:s,s:s}}", "exception", "__type",
                   why->exc_type ? why->exc_type : "UserException", "message",
                   why->text[0] ? why->text : "Upload failed");
}

/* A refused upload, or a synchronous one whose check-in failed: one warn line with the
 * reason the reply gives (kept to one line: it may quote a field the client sent). */
static void log_refused(const struct upload *u, json_t *reply)
{
  json_t *exc = json_object_get(reply, "exception");
  const char *why = json_string_value(json_object_get(exc, "message"));
  if (!exc && json_is_string(json_object_get(reply, "state")) &&
      strcmp(json_string_value(json_object_get(reply, "state")), "AS_ERROR") == 0)
    why = json_string_value(json_array_get(json_object_get(reply, "errors"), 0));
  else if (!exc)
    return;
  char text[512];
  snprintf(text, sizeof text, "%s", why ? why : "(no reason)");
  for (char *p = text; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  int64_t poid = -1;
  field_long(u, F_POID, &poid);
  BH_LOG(BH_LOG_WARN, BH_C_HTTP, "upload from %s to project %lld refused: \"%s\"",
         u->peer[0] ? u->peer : "?", (long long)poid, text);
}

static void deliver(struct upload *u, json_t *reply);

/* Every refused upload's reply goes out here (why says the reason). */
static void deliver_refusal(struct upload *u, const struct bh_why *why)
{
  deliver(u, exception_json(why));
}

/* Makes the reply known and tells the transport. Any thread. */
static void deliver(struct upload *u, json_t *reply)
{
  log_refused(u, reply);
  pthread_mutex_lock(&u->lock);
  set_reply_json(u, reply);
  u->has_reply = true;
  upload_cb ready = u->ready;
  void *arg = u->ready_arg;
  u->ready = NULL;
  pthread_mutex_unlock(&u->lock);
  if (ready)
    ready(arg);
}

static void checkin_done(void *arg)
{
  struct upload *u = arg;
  struct topic_info t;
  json_t *reply;
  if (topics_get(u->rpc->model.topics, u->topic_id, &t) == BH_OK) {
    reply = sobj_long_action_state(&t);
    topics_remove(u->rpc->model.topics, u->topic_id); /* sync: the topic ends with the reply */
  } else {
    /* Its topic was ended while it ran (cleanupLongAction): the answer is the result. */
    struct bh_why why = {0};
    int64_t roid = -1;
    enum bh_err rc = checkin_result(u->ci, &roid, &why);
    if (rc == BH_OK) {
      t = (struct topic_info){.id = u->topic_id, .kind = TOPIC_PROJECT, .has_state = true};
      t.state = (struct topic_state){.is_checkin = true,
                                     .state = ACTION_FINISHED,
                                     .progress = 100,
                                     .roid = roid,
                                     .end_ms = bh_now_ms()};
      snprintf(t.state.title, sizeof t.state.title, "Checkin done");
      reply = sobj_long_action_state(&t);
    } else {
      if (!why.text[0])
        bh_fail(&why, rc, "%s", bh_err_text(rc));
      deliver_refusal(u, &why);
      upload_release(u);
      return;
    }
  }
  deliver(u, reply);
  upload_release(u);
}

/* A started check-in whose upload failed has ended (its project is free): the reply is the
 * check-in's failure (its own, when it failed first, as its topic says). */
static void checkin_failed_done(void *arg)
{
  struct upload *u = arg;
  struct bh_why why = {0};
  int64_t roid = -1;
  if (checkin_result(u->ci, &roid, &why) == BH_OK || !why.text[0])
    why = u->why;
  deliver_refusal(u, &why);
  upload_release(u);
}

static void *file_commit(void *arg)
{
  struct upload *u = arg;
  struct model *m = &u->rpc->model;
  char hash[BLOB_HASH_HEX];
  uint64_t size = 0;
  struct file_rec f = {
      .filename = u->file_name, .mime = u->mime, .uoid = u->actor.uoid, .created_ms = bh_now_ms()};
  enum bh_err rc = blob_writer_commit(u->bw, hash, &size);
  u->bw = NULL;
  f.blob = hash;
  f.size = (int64_t)size;
  if (rc == BH_OK)
    rc = store_next_oid(m->st, &f.oid);
  if (rc == BH_OK)
    rc = store_file_add(m->st, &f);
  if (rc == BH_OK) {
    deliver(u, json_pack("{s:I}", "fileId", (json_int_t)f.oid));
  } else {
    struct bh_why why;
    bh_fail(&why, rc, "Cannot store the file: %s", bh_err_text(rc));
    deliver_refusal(u, &why);
  }
  upload_release(u);
  return NULL;
}

void upload_refuse(struct upload *u, const char *reason)
{
  upload_fail(u, BH_BADREQUEST, "%s", reason);
  if (u->ci)
    checkin_abort(u->ci, u->why.text); /* the topic says why, and the project is free */
}

void upload_end(struct upload *u, bool completed, upload_cb ready, void *arg)
{
  pthread_mutex_lock(&u->lock);
  u->ready = ready;
  u->ready_arg = arg;
  pthread_mutex_unlock(&u->lock);
  if (completed && !u->file_seen) {
    if (u->fields[F_ACTION] && strcmp(u->fields[F_ACTION], "file") == 0)
      upload_fail(u, BH_BADREQUEST, "No file in the upload");
    else if (!u->fields[F_POID])
      upload_fail(u, BH_BADREQUEST, "No poid");
    else
      upload_fail(u, BH_BADREQUEST, "No file in the upload");
  }
  if (!completed)
    upload_fail(u, BH_CLOSED, "The upload was interrupted");
  if (u->ci) {
    if (u->failed)
      checkin_abort(u->ci, u->why.text); /* a check-in that failed first keeps its reason */
    else
      checkin_end_input(u->ci, true);
  } else if (u->failed) {
    fail_initiated(u, u->why.text);
  }
  if (u->failed) {
    blob_writer_abort(u->bw);
    u->bw = NULL;
    if (u->ci) {
      /* answered once the check-in has ended, so its project is free when the client reads */
      pthread_mutex_lock(&u->lock);
      u->refs++;
      pthread_mutex_unlock(&u->lock);
      checkin_on_done(u->ci, checkin_failed_done, u);
      return;
    }
    deliver_refusal(u, &u->why);
    return;
  }
  if (u->bw) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&u->lock);
    u->refs++;
    pthread_mutex_unlock(&u->lock);
    /* fsync and the database write stay off the network thread */
    if (pthread_create(&th, &attr, file_commit, u) != 0) {
      u->refs--;
      blob_writer_abort(u->bw);
      u->bw = NULL;
      struct bh_why why;
      bh_fail(&why, BH_NOMEM, "Cannot store the file");
      deliver_refusal(u, &why);
    }
    pthread_attr_destroy(&attr);
    return;
  }
  if (u->sync) {
    pthread_mutex_lock(&u->lock);
    u->refs++;
    pthread_mutex_unlock(&u->lock);
    checkin_on_done(u->ci, checkin_done, u);
    return;
  }
  /* asynchronous: the topic is the answer; JS 0.0.167 reads checkinid, newer clients topicId */
  deliver(u, json_pack("{s:I,s:I}", "topicId", (json_int_t)u->topic_id, "checkinid",
                       (json_int_t)u->topic_id));
}

void upload_take_reply(struct upload *u, struct rpc_reply *out)
{
  pthread_mutex_lock(&u->lock);
  *out = u->reply;
  memset(&u->reply, 0, sizeof u->reply);
  pthread_mutex_unlock(&u->lock);
}

void upload_release(struct upload *u)
{
  if (!u)
    return;
  pthread_mutex_lock(&u->lock);
  int refs = --u->refs;
  pthread_mutex_unlock(&u->lock);
  if (refs > 0)
    return;
  checkin_release(u->ci);
  blob_writer_abort(u->bw);
  rpc_reply_free(&u->reply);
  for (int i = 0; i < F_COUNT; i++)
    free(u->fields[i]);
  free(u->header_token);
  free(u->file_name);
  free(u->mime);
  pthread_mutex_destroy(&u->lock);
  free(u);
}
