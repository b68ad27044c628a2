/* checkin.c: check-in workers and project reservations. Each running check-in has a worker
 * thread that drains a bounded queue of chunks through the decompressors into a blob
 * writer and the IFC reader, then commits the blob and the revision in that order. */
#include "checkin/checkin.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/topics.h"
#include "blob/blob.h"
#include "codec/inflate_stream.h"
#include "codec/zip_read.h"
#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "ifc/ifc_reader.h"
#include "model/events.h"
#include "model/model.h"
#include "model/plugins.h"

/* A project taken by a check-in: initiated (until expires_ms) or running. */
struct reservation {
  int64_t poid;
  int64_t topic_id;
  int64_t expires_ms; /* 0 while a check-in runs */
};

struct checkins {
  struct model *m;
  pthread_mutex_t lock;
  pthread_cond_t idle; /* signalled when running drops */
  struct reservation *res;
  size_t nres, capres;
  int running;
  bool stopping;
};

struct chunk {
  struct chunk *next;
  size_t len;
  unsigned char data[];
};

/* Hashing and writing the blob run on a thread of their own, beside the IFC reader on the
 * worker: the two take about the same time per byte, so a check-in goes nearly twice as
 * fast. The worker hands over copies through a bounded queue. */
#define WRITER_QUEUE_BYTES (8u << 20)

struct writer {
  pthread_t thread;
  bool started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct chunk *head, *tail;
  size_t queued;
  bool ended;     /* no more chunks will come */
  enum bh_err rc; /* the first write error */
  struct blob_writer *blob;
};

struct checkin {
  struct checkins *owner;
  struct model *m;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int refs;
  /* what */
  int64_t poid, uoid, service_oid, topic_id, file_size;
  char *comment, *file_name, *project_schema;
  const struct plugin_def *deserializer;
  enum checkin_compression compression;
  bool hide_content; /* errors never quote the file (checkinFromUrl); set before any input */
  /* the queue (lock) */
  struct chunk *head, *tail;
  size_t queued;
  bool input_ended, input_complete;
  checkin_cb drain_cb, done_cb;
  void *drain_arg, *done_arg;
  /* the outcome (lock) */
  bool failed, done;
  enum bh_err rc;
  struct bh_why why;
  int64_t roid;
  /* worker only */
  struct inflate_stream *inflater;
  struct zip_reader *zip;
  struct ifc_reader *reader;
  struct blob_writer *blob; /* owned by the writer thread while it runs */
  struct writer writer;
  uint64_t consumed;
  bool schema_checked;
};

/* ---- reservations (owner lock held) ---- */

static struct reservation *reservation_of(struct checkins *c, int64_t poid)
{
  for (size_t i = 0; i < c->nres; i++)
    if (c->res[i].poid == poid)
      return &c->res[i];
  return NULL;
}

static void reservation_drop(struct checkins *c, int64_t poid)
{
  for (size_t i = 0; i < c->nres; i++) {
    if (c->res[i].poid == poid) {
      c->res[i] = c->res[--c->nres];
      return;
    }
  }
}

static struct reservation *reservation_add(struct checkins *c, int64_t poid, int64_t topic,
                                           int64_t expires_ms)
{
  if (c->nres == c->capres) {
    size_t cap = c->capres ? c->capres * 2 : 16;
    struct reservation *nv = realloc(c->res, cap * sizeof *nv);
    if (!nv)
      return NULL;
    c->res = nv;
    c->capres = cap;
  }
  struct reservation *r = &c->res[c->nres++];
  *r = (struct reservation){poid, topic, expires_ms};
  return r;
}

/* An initiated check-in that never got data frees its project; its topic says why. */
static void reservation_expire(struct checkins *c, int64_t now)
{
  for (size_t i = 0; i < c->nres;) {
    struct reservation *r = &c->res[i];
    if (r->expires_ms != 0 && r->expires_ms <= now) {
      topics_fail(c->m->topics, r->topic_id,
                  "The initiated check-in received no data in time and was cancelled", 0);
      c->res[i] = c->res[--c->nres];
    } else {
      i++;
    }
  }
}

struct checkins *checkins_new(struct model *m)
{
  struct checkins *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->m = m;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->idle, NULL);
  return c;
}

void checkins_free(struct checkins *c)
{
  if (!c)
    return;
  pthread_mutex_lock(&c->lock);
  c->stopping = true;
  while (c->running > 0)
    pthread_cond_wait(&c->idle, &c->lock);
  pthread_mutex_unlock(&c->lock);
  pthread_cond_destroy(&c->idle);
  pthread_mutex_destroy(&c->lock);
  free(c->res);
  free(c);
}

/* ---- checks shared by initiate and start ---- */

static enum bh_err check_project(struct model *m, const struct actor *who, int64_t poid,
                                 struct project_rec *p, struct bh_why *why)
{
  enum bh_err rc = project_get_readable(m, who, poid, p, why);
  if (rc != BH_OK)
    return rc;
  if (!actor_may_checkin(m, who, poid)) {
    project_rec_clear(p);
    return bh_fail(why, BH_DENIED, "No rights to checkin to this project (%lld, %lld)",
                   (long long)poid, (long long)who->grant.write_poid);
  }
  if (!project_can_write(m, who, p)) {
    project_rec_clear(p);
    return bh_fail(why, BH_DENIED, "User has no rights to checkin models to this project");
  }
  struct user_rec u;
  rc = store_user_get(m->st, who->uoid, &u);
  if (rc != BH_OK) {
    project_rec_clear(p);
    return bh_fail(why, rc, "Database error");
  }
  bool ok = user_is_valid_username(u.username) && strchr(u.username, '@');
  user_rec_clear(&u);
  if (!ok) {
    project_rec_clear(p);
    return bh_fail(why, BH_DENIED, "Users must have a valid e-mail address to checkin");
  }
  return BH_OK;
}

static enum bh_err busy(struct bh_why *why, int64_t topic)
{
  return bh_fail(why, BH_STATE,
                 "Checkin in progress on this project (topicId: %lld), please try again later",
                 (long long)topic);
}

enum bh_err checkins_initiate(struct checkins *c, const struct actor *who, int64_t poid,
                              int64_t *topic_id, struct bh_why *why)
{
  struct project_rec p;
  enum bh_err rc = check_project(c->m, who, poid, &p, why);
  if (rc != BH_OK)
    return rc;
  project_rec_clear(&p);
  int64_t now = bh_now_ms();
  pthread_mutex_lock(&c->lock);
  reservation_expire(c, now);
  struct reservation *r = reservation_of(c, poid);
  if (r) {
    rc = busy(why, r->topic_id);
  } else {
    rc = topics_create(c->m->topics, TOPIC_PROJECT, "UPLOAD", "Checkin", poid, -1, who->uoid,
                       ACTOR_SOID(who), true, topic_id);
    if (rc == BH_OK &&
        !reservation_add(c, poid, *topic_id, now + c->m->cfg->checkin_initiate_timeout_s * 1000))
      rc = BH_NOMEM;
  }
  pthread_mutex_unlock(&c->lock);
  return rc;
}

int64_t checkins_topic_of_project(struct checkins *c, int64_t poid)
{
  if (!c)
    return 0;
  pthread_mutex_lock(&c->lock);
  reservation_expire(c, bh_now_ms());
  struct reservation *r = reservation_of(c, poid);
  int64_t t = r ? r->topic_id : 0;
  pthread_mutex_unlock(&c->lock);
  return t;
}

/* ---- the worker's sinks ---- */

static enum bh_err fail(struct checkin *ci, enum bh_err code, int deser_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first failure; the worker acts on it. Worker thread. */
static enum bh_err fail(struct checkin *ci, enum bh_err code, int deser_code, const char *fmt, ...)
{
  pthread_mutex_lock(&ci->lock);
  if (!ci->failed) {
    ci->failed = true;
    ci->rc = code;
    memset(&ci->why, 0, sizeof ci->why);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ci->why.text, sizeof ci->why.text, fmt, ap);
    va_end(ap);
    if (deser_code) {
      ci->why.error_code = deser_code;
      ci->why.error_type = "DeserializerErrorCode";
    }
  }
  pthread_mutex_unlock(&ci->lock);
  return code;
}

#define HIDDEN_CONTENT_ERROR "The file at the URL is not an IFC model this project can take"

static enum bh_err content_fail(struct checkin *ci, enum bh_err code, int deser_code,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A failure that quotes the file: for a file from a URL the reason goes to the log only, as
 * the URL may have been an internal one and its answer is not the client's to read. */
static enum bh_err content_fail(struct checkin *ci, enum bh_err code, int deser_code,
                                const char *fmt, ...)
{
  char text[sizeof ci->why.text];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (!ci->hide_content)
    return fail(ci, code, deser_code, "%s", text);
  BH_LOG(BH_LOG_WARN, BH_C_APP, "checkinFromUrl to project %lld: %s", (long long)ci->poid, text);
  return fail(ci, code, 0, HIDDEN_CONTENT_ERROR);
}

static enum bh_err reader_failed(struct checkin *ci)
{
  const struct ifc_reader_error *e = ifc_reader_error(ci->reader);
  return content_fail(ci, e->err == BH_NOMEM ? BH_NOMEM : BH_BADREQUEST, (int)e->code,
                      "%s (line %llu, byte %llu)", e->message, (unsigned long long)e->line,
                      (unsigned long long)e->offset);
}

static void *writer_main(void *arg)
{
  struct writer *w = arg;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->head && !w->ended)
      pthread_cond_wait(&w->cond, &w->lock);
    struct chunk *c = w->head;
    if (!c)
      break;
    w->head = c->next;
    if (!w->head)
      w->tail = NULL;
    w->queued -= c->len;
    pthread_cond_broadcast(&w->cond); /* room for the worker */
    enum bh_err prior = w->rc;
    pthread_mutex_unlock(&w->lock);
    enum bh_err rc = prior == BH_OK ? blob_writer_write(w->blob, c->data, c->len) : prior;
    free(c);
    pthread_mutex_lock(&w->lock);
    if (w->rc == BH_OK)
      w->rc = rc;
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* Queues a copy of data for the writer thread, waiting while the queue is full. Returns the
 * writer's first error, if any. Worker thread. */
static enum bh_err writer_put(struct writer *w, const void *data, size_t len)
{
  struct chunk *c = malloc(sizeof *c + len);
  if (!c)
    return BH_NOMEM;
  c->next = NULL;
  c->len = len;
  memcpy(c->data, data, len);
  pthread_mutex_lock(&w->lock);
  while (w->queued > WRITER_QUEUE_BYTES && w->rc == BH_OK)
    pthread_cond_wait(&w->cond, &w->lock);
  enum bh_err rc = w->rc;
  if (rc == BH_OK) {
    if (w->tail)
      w->tail->next = c;
    else
      w->head = c;
    w->tail = c;
    w->queued += len;
    pthread_cond_broadcast(&w->cond);
  } else {
    free(c);
  }
  pthread_mutex_unlock(&w->lock);
  return rc;
}

/* Waits for the writer to have written everything; its first error. Worker thread. */
static enum bh_err writer_finish(struct writer *w)
{
  if (!w->started)
    return BH_OK;
  pthread_mutex_lock(&w->lock);
  w->ended = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  w->started = false;
  while (w->head) {
    struct chunk *c = w->head;
    w->head = c->next;
    free(c);
  }
  w->tail = NULL;
  return w->rc;
}

/* The uncompressed IFC bytes: to the blob (on the writer thread) and the reader. */
static enum bh_err sink_ifc(void *arg, const void *data, size_t len)
{
  struct checkin *ci = arg;
  enum bh_err rc = writer_put(&ci->writer, data, len);
  if (rc == BH_TOOBIG)
    return fail(ci, rc, 0, "The model is larger than the limit of %lld bytes",
                (long long)ci->m->cfg->max_upload_bytes);
  if (rc != BH_OK)
    return fail(ci, rc, 0, "Cannot store the model: %s", bh_err_text(rc));
  if (ifc_reader_feed(ci->reader, data, len) != BH_OK)
    return reader_failed(ci);
  if (!ci->schema_checked && ifc_reader_schema(ci->reader)) {
    /* FILE_SCHEMA is in the header: refuse a wrong schema before reading the rest */
    ci->schema_checked = true;
    const char *id = ifc_reader_schema(ci->reader);
    const char *schema = ifc_schema_normalize(id);
    if (!schema)
      return content_fail(ci, BH_BADREQUEST, IFC_ERR_UNSUPPORTED_IFC_SCHEMA_VERSION,
                          "Unsupported IFC schema %s", id);
    if (strcmp(schema, ci->project_schema) != 0)
      return content_fail(ci, BH_BADREQUEST, IFC_ERR_UNSUPPORTED_IFC_SCHEMA_VERSION,
                          "The file's schema %s does not match the project's schema %s", id,
                          ci->project_schema);
  }
  return BH_OK;
}

static enum bh_err sink_zip(void *arg, const void *data, size_t len)
{
  struct checkin *ci = arg;
  if (zip_reader_feed(ci->zip, data, len) != BH_OK) {
    if (ci->failed)
      return ci->rc;
    return content_fail(ci, BH_BADREQUEST, IFC_ERR_IFCZIP_MUST_CONTAIN_EXACTLY_ONE_IFC_FILE,
                        "Invalid ifcZIP: %s", zip_reader_error(ci->zip));
  }
  return BH_OK;
}

/* Bytes as they came from the producer. */
static enum bh_err feed(struct checkin *ci, const void *data, size_t len)
{
  if (ci->inflater) {
    enum bh_err rc = inflate_stream_feed(ci->inflater, data, len);
    if (rc != BH_OK && !ci->failed)
      return fail(ci, rc, 0,
                  rc == BH_TOOBIG ? "The model is larger than the limit"
                                  : "The compressed upload is corrupt");
    return rc;
  }
  return ci->zip ? sink_zip(ci, data, len) : sink_ifc(ci, data, len);
}

static enum bh_err finish_input(struct checkin *ci)
{
  if (ci->inflater && inflate_stream_finish(ci->inflater) != BH_OK)
    return ci->failed ? ci->rc : fail(ci, BH_BADREQUEST, 0, "The compressed upload is truncated");
  if (ci->zip && zip_reader_finish(ci->zip) != BH_OK)
    return ci->failed
               ? ci->rc
               : content_fail(ci, BH_BADREQUEST, IFC_ERR_IFCZIP_MUST_CONTAIN_EXACTLY_ONE_IFC_FILE,
                              "Invalid ifcZIP: %s", zip_reader_error(ci->zip));
  if (ifc_reader_byte_count(ci->reader) == 0)
    return fail(ci, BH_BADREQUEST, IFC_ERR_UNEXPECTED_END_OF_STREAM_WHILE_READING_FIRST_LINE,
                "The upload is empty");
  if (ifc_reader_finish(ci->reader) != BH_OK)
    return reader_failed(ci);
  return BH_OK;
}

/* ---- the revision ---- */

static json_t *string_list(const char **v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, json_string(v[i] ? v[i] : ""));
  return a;
}

static json_t *text_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

/* The IFC header as stored with the revision (SIfcHeader's field names). */
static char *header_json(const struct ifc_header *h, const char *schema_id)
{
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "description", string_list(h->description, h->n_description));
  json_object_set_new(o, "implementationLevel", text_or_null(h->implementation_level));
  json_object_set_new(o, "filename", text_or_null(h->name));
  json_object_set_new(o, "timeStamp", text_or_null(h->time_stamp));
  json_object_set_new(o, "author", string_list(h->author, h->n_author));
  json_object_set_new(o, "organization", string_list(h->organization, h->n_organization));
  json_object_set_new(o, "preProcessorVersion", text_or_null(h->preprocessor_version));
  json_object_set_new(o, "originatingSystem", text_or_null(h->originating_system));
  json_object_set_new(o, "ifcSchemaVersion", text_or_null(schema_id));
  json_object_set_new(o, "authorization", text_or_null(h->authorization));
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  return s;
}

static enum bh_err commit_revision(struct checkin *ci, const char *hash, uint64_t size)
{
  struct model *m = ci->m;
  const struct ifc_type_count *types = NULL;
  size_t ntypes = 0;
  if (ifc_reader_types(ci->reader, &types, &ntypes) != BH_OK)
    return fail(ci, BH_NOMEM, 0, "Out of memory");
  struct type_count *tc = ntypes ? calloc(ntypes, sizeof *tc) : NULL;
  if (ntypes && !tc)
    return fail(ci, BH_NOMEM, 0, "Out of memory");
  for (size_t i = 0; i < ntypes; i++) {
    tc[i].type = (char *)types[i].name;
    tc[i].count = (int64_t)types[i].count;
  }
  const char *schema_id = ifc_reader_schema(ci->reader);
  struct revision_rec r = {.poid = ci->poid,
                           .uoid = ci->uoid,
                           .service_oid = ci->service_oid,
                           .created_ms = bh_now_ms(),
                           .comment = ci->comment,
                           .blob = (char *)hash,
                           .file_name = ci->file_name,
                           .file_size = (int64_t)size,
                           .schema = ci->project_schema,
                           .object_count = (int64_t)ifc_reader_entity_count(ci->reader),
                           .deserializer = (char *)ci->deserializer->class_name,
                           .header_json = header_json(ifc_reader_header(ci->reader), schema_id)};
  enum bh_err rc = store_begin(m->st);
  bool deleted = false;
  if (rc == BH_OK) {
    /* deleteProject may have run while the file came in: no revision for a deleted project */
    struct project_rec p;
    rc = store_project_get(m->st, ci->poid, &p);
    if (rc == BH_OK) {
      deleted = p.state == STATE_DELETED;
      project_rec_clear(&p);
    }
    if (rc == BH_OK && deleted)
      rc = BH_STATE;
    if (rc == BH_OK)
      rc = store_next_oid(m->st, &r.roid);
    if (rc == BH_OK)
      rc = store_revision_max_number(m->st, ci->poid, &r.number);
    r.number++;
    if (rc == BH_OK)
      rc = store_revision_add(m->st, &r, tc, ntypes);
    if (rc == BH_OK)
      rc = outbox_new_revision(m, ci->poid, r.roid, ci->service_oid);
    if (rc == BH_OK)
      rc = store_commit(m->st);
    else
      store_rollback(m->st);
  }
  free(r.header_json);
  free(tc);
  if (deleted)
    return fail(ci, BH_STATE, 0, "The project was deleted during the check-in");
  if (rc != BH_OK)
    return fail(ci, rc, 0, "Cannot save the revision: %s", bh_err_text(rc));
  ci->roid = r.roid;
  return BH_OK;
}

/* ---- the worker ---- */

static void release_project(struct checkin *ci)
{
  pthread_mutex_lock(&ci->owner->lock);
  reservation_drop(ci->owner, ci->poid);
  pthread_mutex_unlock(&ci->owner->lock);
}

/* Takes the next chunk, or NULL at the end of the input. Wakes the producer's drain. */
static struct chunk *next_chunk(struct checkin *ci)
{
  pthread_mutex_lock(&ci->lock);
  while (!ci->head && !ci->input_ended && !ci->failed)
    pthread_cond_wait(&ci->cond, &ci->lock);
  struct chunk *c = ci->failed ? NULL : ci->head;
  if (c) {
    ci->head = c->next;
    if (!ci->head)
      ci->tail = NULL;
    ci->queued -= c->len;
  }
  checkin_cb drain = NULL;
  void *arg = NULL;
  if (ci->drain_cb && ci->queued <= (size_t)ci->m->cfg->checkin_queue_bytes / 4) {
    drain = ci->drain_cb;
    arg = ci->drain_arg;
    ci->drain_cb = NULL;
  }
  pthread_mutex_unlock(&ci->lock);
  if (drain)
    drain(arg);
  return c;
}

static void progress(struct checkin *ci)
{
  if (ci->file_size > 0) {
    int pct = (int)(ci->consumed * 100 / (uint64_t)ci->file_size);
    topics_progress(ci->m->topics, ci->topic_id, "Deserializing...", pct > 99 ? 99 : pct);
  }
}

static void *worker(void *arg)
{
  struct checkin *ci = arg;
  struct model *m = ci->m;
  if (ci->file_size > 0)
    topics_progress(m->topics, ci->topic_id, "Deserializing IFC file...", 0);
  else
    topics_progress(m->topics, ci->topic_id, "Generating inverses/opposites...", -1);

  enum bh_err rc = BH_OK;
  struct chunk *c;
  while ((c = next_chunk(ci)) != NULL) {
    ci->consumed += c->len;
    if (rc == BH_OK && ci->consumed > (uint64_t)m->cfg->max_upload_bytes)
      rc = fail(ci, BH_TOOBIG, 0, "The upload is larger than the limit of %lld bytes",
                (long long)m->cfg->max_upload_bytes);
    if (rc == BH_OK)
      rc = feed(ci, c->data, c->len);
    free(c);
    if (rc == BH_OK)
      progress(ci);
  }
  pthread_mutex_lock(&ci->lock);
  bool complete = ci->input_complete;
  rc = ci->failed ? ci->rc : BH_OK;
  pthread_mutex_unlock(&ci->lock);
  if (rc == BH_OK && !complete)
    rc = fail(ci, BH_CLOSED, 0, "The upload was interrupted");
  if (rc == BH_OK)
    rc = finish_input(ci);
  /* the writer has everything once it stops: its error counts like any other */
  enum bh_err wrc = writer_finish(&ci->writer);
  if (rc == BH_OK && wrc == BH_TOOBIG)
    rc = fail(ci, wrc, 0, "The model is larger than the limit of %lld bytes",
              (long long)m->cfg->max_upload_bytes);
  else if (rc == BH_OK && wrc != BH_OK)
    rc = fail(ci, wrc, 0, "Cannot store the model: %s", bh_err_text(wrc));

  char hash[BLOB_HASH_HEX];
  uint64_t size = 0;
  if (rc == BH_OK) {
    if (ci->file_size > 0)
      topics_progress(m->topics, ci->topic_id, "Generating inverses/opposites...", -1);
    topics_progress(m->topics, ci->topic_id, "Doing other stuff...", -1);
    char title[TOPIC_TEXT_MAX];
    snprintf(title, sizeof title, "Saving to database (%s)", ci->file_name);
    topics_progress(m->topics, ci->topic_id, title, 0);
    rc = blob_writer_commit(ci->blob, hash, &size); /* durable before the revision exists */
    ci->blob = NULL;
    if (rc != BH_OK)
      fail(ci, rc, 0, "Cannot store the model: %s", bh_err_text(rc));
    else
      rc = commit_revision(ci, hash, size);
  }
  blob_writer_abort(ci->blob);
  ci->blob = NULL;
  release_project(ci);
  if (rc == BH_OK) {
    BH_LOG(BH_LOG_INFO, BH_C_APP, "revision %lld of project %lld: %s, %llu bytes",
           (long long)ci->roid, (long long)ci->poid, ci->file_name, (unsigned long long)size);
    struct event e = {.type = EV_NEW_REVISION,
                      .poid = ci->poid,
                      .roid = ci->roid,
                      .uoid = ci->uoid,
                      .actor_uoid = ci->uoid,
                      .edid = -1,
                      .topic_id = -1,
                      .service_oid = ci->service_oid};
    events_publish(m->ev, &e);
    char title[TOPIC_TEXT_MAX];
    snprintf(title, sizeof title, "Checkin of %s", ci->file_name);
    topics_finish(m->topics, ci->topic_id, title, ci->roid);
  } else {
    topics_fail(m->topics, ci->topic_id, ci->why.text, ci->why.error_code);
  }

  pthread_mutex_lock(&ci->lock);
  ci->done = true;
  checkin_cb done = ci->done_cb, drain = ci->drain_cb;
  void *done_arg = ci->done_arg, *drain_arg = ci->drain_arg;
  ci->done_cb = ci->drain_cb = NULL;
  pthread_cond_broadcast(&ci->cond);
  pthread_mutex_unlock(&ci->lock);
  if (drain)
    drain(drain_arg);
  if (done)
    done(done_arg);

  struct checkins *owner = ci->owner;
  checkin_release(ci);
  pthread_mutex_lock(&owner->lock);
  owner->running--;
  pthread_cond_broadcast(&owner->idle);
  pthread_mutex_unlock(&owner->lock);
  return NULL;
}

/* ---- start ---- */

static void checkin_free(struct checkin *ci)
{
  writer_finish(&ci->writer);
  if (ci->writer.blob) {
    pthread_cond_destroy(&ci->writer.cond);
    pthread_mutex_destroy(&ci->writer.lock);
  }
  struct chunk *c = ci->head;
  while (c) {
    struct chunk *next = c->next;
    free(c);
    c = next;
  }
  inflate_stream_free(ci->inflater);
  zip_reader_free(ci->zip);
  ifc_reader_free(ci->reader);
  blob_writer_abort(ci->blob);
  free(ci->comment);
  free(ci->file_name);
  free(ci->project_schema);
  pthread_cond_destroy(&ci->cond);
  pthread_mutex_destroy(&ci->lock);
  free(ci);
}

/* The parts of a check-in the worker needs, made before the project is taken. */
static enum bh_err prepare(struct checkin *ci, const struct checkin_params *p)
{
  const struct bh_config *cfg = ci->m->cfg;
  if (!ci->comment || !ci->file_name || !ci->project_schema)
    return BH_NOMEM;
  ci->reader = ifc_reader_new(NULL);
  if (!ci->reader)
    return BH_NOMEM;
  enum bh_err rc = blob_writer_new(ci->m->blobs, (uint64_t)cfg->max_upload_bytes, &ci->blob);
  if (rc != BH_OK)
    return rc;
  struct writer *w = &ci->writer;
  w->blob = ci->blob;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
    return BH_NOMEM;
  w->started = true;
  inflate_sink after_inflate = sink_ifc;
  if (ci->deserializer->format == PLUGIN_STEP_ZIP) {
    rc = zip_reader_new(&ci->zip, (uint64_t)cfg->max_upload_bytes, sink_ifc, ci);
    if (rc != BH_OK)
      return rc;
    after_inflate = sink_zip;
  }
  if (p->compression != CHECKIN_PLAIN)
    rc = inflate_stream_new(&ci->inflater,
                            p->compression == CHECKIN_GZIP ? INFLATE_GZIP : INFLATE_ZLIB,
                            (uint64_t)cfg->max_upload_bytes, after_inflate, ci);
  return rc;
}

enum bh_err checkin_start(struct checkins *c, const struct actor *who,
                          const struct checkin_params *p, struct checkin **out, int64_t *topic_id,
                          struct bh_why *why)
{
  *out = NULL;
  struct model *m = c->m;
  struct project_rec proj;
  enum bh_err rc = check_project(m, who, p->poid, &proj, why);
  if (rc != BH_OK)
    return rc;
  const struct plugin_def *d = plugin_of_config(m, who->uoid, p->deserializer_oid);
  if (!d || d->is_serializer) {
    project_rec_clear(&proj);
    return bh_fail(why, BH_NOTFOUND, "No deserializer with oid %lld found",
                   (long long)p->deserializer_oid);
  }
  if (!plugin_supports_schema(d, proj.schema)) {
    rc = bh_fail(why, BH_BADREQUEST, "Deserializer %s cannot read models of schema %s", d->name,
                 proj.schema);
    project_rec_clear(&proj);
    return rc;
  }
  struct checkin *ci = calloc(1, sizeof *ci);
  if (!ci) {
    project_rec_clear(&proj);
    return BH_NOMEM;
  }
  pthread_mutex_init(&ci->lock, NULL);
  pthread_cond_init(&ci->cond, NULL);
  ci->owner = c;
  ci->m = m;
  ci->refs = 2; /* the caller and the worker */
  ci->poid = p->poid;
  ci->uoid = who->uoid;
  ci->service_oid = who->is_service ? who->service_oid : -1;
  ci->file_size = p->file_size;
  ci->comment = strdup(p->comment ? p->comment : "");
  ci->file_name = strdup(p->file_name && *p->file_name ? p->file_name : "model.ifc");
  ci->project_schema = strdup(proj.schema);
  ci->deserializer = d;
  ci->compression = p->compression;
  project_rec_clear(&proj);
  rc = prepare(ci, p);
  if (rc != BH_OK) {
    checkin_free(ci);
    return bh_fail(why, rc, "Cannot start the check-in: %s", bh_err_text(rc));
  }

  int64_t now = bh_now_ms();
  pthread_mutex_lock(&c->lock);
  reservation_expire(c, now);
  struct reservation *r = reservation_of(c, p->poid);
  if (c->stopping) {
    rc = bh_fail(why, BH_STATE, "The server is stopping");
  } else if (c->running >= c->m->cfg->max_checkins) {
    rc = bh_fail(why, BH_STATE, "Too many check-ins are running, please try again later");
  } else if (p->topic_id > 0) {
    /* the check-in initiated with initiateCheckin */
    if (!r || r->topic_id != p->topic_id || r->expires_ms == 0)
      rc = r ? busy(why, r->topic_id)
             : bh_fail(why, BH_NOTFOUND, "No initiated check-in with topicId %lld on this project",
                       (long long)p->topic_id);
    else
      r->expires_ms = 0;
    ci->topic_id = p->topic_id;
  } else if (r) {
    rc = busy(why, r->topic_id);
  } else {
    rc = topics_create(m->topics, TOPIC_PROJECT, "UPLOAD", "Checkin", p->poid, -1, who->uoid,
                       ACTOR_SOID(who), true, &ci->topic_id);
    if (rc == BH_OK && !reservation_add(c, p->poid, ci->topic_id, 0))
      rc = BH_NOMEM;
  }
  pthread_t th;
  if (rc == BH_OK) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, worker, ci) != 0) {
      reservation_drop(c, p->poid);
      rc = bh_fail(why, BH_NOMEM, "Cannot start a check-in worker");
    } else {
      c->running++;
    }
    pthread_attr_destroy(&attr);
  }
  pthread_mutex_unlock(&c->lock);
  if (rc != BH_OK) {
    checkin_free(ci);
    return rc;
  }
  *topic_id = ci->topic_id;
  *out = ci;
  return BH_OK;
}

/* ---- the producer's side ---- */

enum bh_err checkin_write(struct checkin *ci, const void *data, size_t len)
{
  if (len == 0)
    return BH_OK;
  struct chunk *c = malloc(sizeof *c + len);
  if (!c) {
    fail(ci, BH_NOMEM, 0, "Out of memory");
    return BH_NOMEM;
  }
  c->next = NULL;
  c->len = len;
  memcpy(c->data, data, len);
  pthread_mutex_lock(&ci->lock);
  enum bh_err rc = BH_OK;
  if (ci->failed || ci->input_ended) {
    rc = BH_CLOSED;
    free(c);
  } else {
    if (ci->tail)
      ci->tail->next = c;
    else
      ci->head = c;
    ci->tail = c;
    ci->queued += len;
    pthread_cond_broadcast(&ci->cond); /* the worker and checkin_wait share it */
  }
  pthread_mutex_unlock(&ci->lock);
  return rc;
}

bool checkin_is_full(struct checkin *ci)
{
  pthread_mutex_lock(&ci->lock);
  bool full = !ci->failed && !ci->done && ci->queued > (size_t)ci->m->cfg->checkin_queue_bytes;
  pthread_mutex_unlock(&ci->lock);
  return full;
}

void checkin_on_drain(struct checkin *ci, checkin_cb cb, void *arg)
{
  pthread_mutex_lock(&ci->lock);
  bool now = ci->failed || ci->done || ci->queued <= (size_t)ci->m->cfg->checkin_queue_bytes / 4;
  if (!now) {
    ci->drain_cb = cb;
    ci->drain_arg = arg;
  }
  pthread_mutex_unlock(&ci->lock);
  if (now)
    cb(arg);
}

void checkin_hide_content(struct checkin *ci)
{
  pthread_mutex_lock(&ci->lock);
  ci->hide_content = true;
  pthread_mutex_unlock(&ci->lock);
}

void checkin_abort(struct checkin *ci, const char *message)
{
  fail(ci, BH_IO, 0, "%s", message);
  checkin_end_input(ci, false);
}

enum bh_err checkins_fail_initiated(struct checkins *c, const struct actor *who, int64_t topic_id,
                                    const char *message)
{
  struct topic_info t;
  if (topics_get(c->m->topics, topic_id, &t) != BH_OK)
    return BH_NOTFOUND;
  if (t.owner_uoid != who->uoid)
    return BH_DENIED;
  enum bh_err rc = BH_NOTFOUND;
  pthread_mutex_lock(&c->lock);
  for (size_t i = 0; i < c->nres; i++) {
    /* only an initiated reservation: a running check-in ends (and frees) by itself */
    if (c->res[i].topic_id == topic_id && c->res[i].expires_ms != 0) {
      c->res[i] = c->res[--c->nres];
      topics_fail(c->m->topics, topic_id, message, 0);
      rc = BH_OK;
      break;
    }
  }
  pthread_mutex_unlock(&c->lock);
  if (rc == BH_OK)
    BH_LOG(BH_LOG_INFO, BH_C_APP, "initiated check-in %lld failed before it started: %s",
           (long long)topic_id, message);
  return rc;
}

void checkins_forget_topic(struct checkins *c, int64_t topic_id)
{
  pthread_mutex_lock(&c->lock);
  for (size_t i = 0; i < c->nres; i++) {
    /* only an initiated reservation: a running check-in frees its project when it ends */
    if (c->res[i].topic_id == topic_id && c->res[i].expires_ms != 0) {
      c->res[i] = c->res[--c->nres];
      break;
    }
  }
  pthread_mutex_unlock(&c->lock);
}

void checkin_end_input(struct checkin *ci, bool complete)
{
  pthread_mutex_lock(&ci->lock);
  ci->input_ended = true;
  ci->input_complete = complete;
  pthread_cond_broadcast(&ci->cond); /* the worker and checkin_wait share it */
  pthread_mutex_unlock(&ci->lock);
}

void checkin_on_done(struct checkin *ci, checkin_cb cb, void *arg)
{
  pthread_mutex_lock(&ci->lock);
  bool now = ci->done;
  if (!now) {
    ci->done_cb = cb;
    ci->done_arg = arg;
  }
  pthread_mutex_unlock(&ci->lock);
  if (now)
    cb(arg);
}

void checkin_wait(struct checkin *ci)
{
  pthread_mutex_lock(&ci->lock);
  while (!ci->done)
    pthread_cond_wait(&ci->cond, &ci->lock);
  pthread_mutex_unlock(&ci->lock);
}

enum bh_err checkin_result(struct checkin *ci, int64_t *roid, struct bh_why *why)
{
  pthread_mutex_lock(&ci->lock);
  enum bh_err rc = ci->done ? (ci->failed ? ci->rc : BH_OK) : BH_STATE;
  if (rc == BH_OK)
    *roid = ci->roid;
  else if (why)
    *why = ci->why;
  pthread_mutex_unlock(&ci->lock);
  return rc;
}

const struct bh_config *checkin_config(const struct checkin *ci)
{
  return ci->m->cfg;
}

int64_t checkin_topic(const struct checkin *ci)
{
  return ci->topic_id;
}

void checkin_retain(struct checkin *ci)
{
  pthread_mutex_lock(&ci->lock);
  ci->refs++;
  pthread_mutex_unlock(&ci->lock);
}

void checkin_release(struct checkin *ci)
{
  if (!ci)
    return;
  pthread_mutex_lock(&ci->lock);
  int refs = --ci->refs;
  pthread_mutex_unlock(&ci->lock);
  if (refs == 0)
    checkin_free(ci);
}
