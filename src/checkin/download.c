/* download.c: GET|POST /download (spec §1.4): a prepared download of a revision, or the file
 * of an extended data, read from the blob store in pieces; zip=on and gzip are made on the
 * fly, so nothing is held whole in memory. Unlike BIMserver, the token must be valid and
 * allowed to read what it asks for, and errors are 4xx with a short text. */
#include "checkin/download.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/topics.h"
#include "blob/blob.h"
#include "codec/deflate_stream.h"
#include "codec/zip_write.h"
#include "common/bh_log.h"
#include "common/bh_time.h"
#include "rpc/rpc_internal.h"

#define READ_CHUNK (64 * 1024)

struct download {
  struct rpc *rpc;
  int fd;
  int64_t topic_id; /* 0 for extended data */
  uint64_t size, sent_input;
  int last_pct;
  /* on-the-fly encoding: output waits in out[off..len) */
  struct zip_writer *zip;
  struct deflate_stream *gz;
  char *out;
  size_t out_len, out_off, out_cap;
  bool input_done, finished;
};

static enum bh_err out_sink(void *arg, const void *data, size_t len)
{
  struct download *d = arg;
  if (d->out_len + len > d->out_cap) {
    size_t cap = d->out_cap ? d->out_cap : READ_CHUNK * 2;
    while (cap < d->out_len + len)
      cap *= 2;
    char *nb = realloc(d->out, cap);
    if (!nb)
      return BH_NOMEM;
    d->out = nb;
    d->out_cap = cap;
  }
  memcpy(d->out + d->out_len, data, len);
  d->out_len += len;
  return BH_OK;
}

static bool parse_id(const char *s, int64_t *out)
{
  if (!s || !*s)
    return false;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (*end)
    return false;
  *out = v;
  return true;
}

static void disposition(struct download_head *h, const char *name)
{
  /* quotes and control characters cannot be in a quoted filename */
  char safe[256];
  size_t k = 0;
  for (const char *p = name; *p && k + 1 < sizeof safe; p++)
    safe[k++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '_' : *p;
  safe[k] = '\0';
  snprintf(h->content_disposition, sizeof h->content_disposition, "inline; filename=\"%s\"", safe);
}

static enum bh_err refuse(int *status, char text[256], int code, const char *msg, enum bh_err rc)
{
  *status = code;
  snprintf(text, 256, "%s", msg);
  return rc;
}

static enum bh_err open_extended_data(struct rpc *rpc, const struct actor *who, const char *edid_s,
                                      struct download *d, struct download_head *head, int *status,
                                      char text[256])
{
  int64_t edid;
  if (!parse_id(edid_s, &edid))
    return refuse(status, text, 400, "edid must be a number", BH_BADREQUEST);
  struct ed_rec e;
  if (store_ed_get(rpc->model.st, edid, &e) != BH_OK)
    return refuse(status, text, 404, "No extended data with that edid", BH_NOTFOUND);
  struct project_rec p;
  struct bh_why why;
  enum bh_err rc = project_get_readable(&rpc->model, who, e.poid, &p, &why);
  if (rc == BH_OK && !actor_may_read_ed(who, e.roid)) {
    project_rec_clear(&p);
    ed_rec_clear(&e);
    return refuse(status, text, 403, "No rights to read this extended data", BH_DENIED);
  }
  int64_t file_oid = e.file_oid;
  ed_rec_clear(&e);
  if (rc != BH_OK)
    return refuse(status, text, 404, "No extended data with that edid", BH_NOTFOUND);
  project_rec_clear(&p);
  struct file_rec f;
  if (store_file_get(rpc->model.st, file_oid, &f) != BH_OK)
    return refuse(status, text, 404, "The extended data has no file", BH_NOTFOUND);
  d->fd = blob_open(rpc->model.blobs, f.blob, &d->size);
  snprintf(head->content_type, sizeof head->content_type, "%s",
           f.mime ? f.mime : "application/octet-stream");
  disposition(head, f.filename ? f.filename : "file");
  file_rec_clear(&f);
  if (d->fd < 0)
    return refuse(status, text, 410, "The file is missing from the store", BH_IO);
  return BH_OK;
}

static enum bh_err open_topic(struct rpc *rpc, const struct actor *who, const char *topic_s,
                              bool want_zip, struct download *d, struct download_head *head,
                              int *status, char text[256])
{
  int64_t id;
  if (!parse_id(topic_s, &id))
    return refuse(status, text, 400, "No valid topicId", BH_BADREQUEST);
  struct topic_info t;
  if (topics_get(rpc->model.topics, id, &t) != BH_OK || !t.has_download)
    return refuse(status, text, 404, "No valid topicId", BH_NOTFOUND);
  if (!actor_owns(who, t.owner_uoid, t.owner_soid))
    return refuse(status, text, 403, "This download belongs to another user", BH_DENIED);
  /* the rights that prepared it must still hold: a grant or a project right may be gone */
  struct revision_rec r;
  struct bh_why why;
  if (revision_get_readable(&rpc->model, who, t.download.roid, &r, &why) != BH_OK)
    return refuse(status, text, 403, "No rights to download revision", BH_DENIED);
  bool may = actor_may_read_revision(&rpc->model, who, &r);
  revision_rec_clear(&r);
  if (!may)
    return refuse(status, text, 403, "No rights to download revision", BH_DENIED);
  d->topic_id = id;
  d->fd = blob_open(rpc->model.blobs, t.download.blob, &d->size);
  if (d->fd < 0)
    return refuse(status, text, 410, "The model file is missing from the store", BH_IO);
  snprintf(head->content_type, sizeof head->content_type, "%s", t.download.content_type);
  disposition(head, t.download.file_name);
  if (t.download.zip || want_zip) {
    char name[300];
    snprintf(name, sizeof name, "%s",
             t.download.entry_name[0] ? t.download.entry_name : t.download.file_name);
    if (zip_writer_new(&d->zip, name, bh_now_ms() / 1000, out_sink, d) != BH_OK)
      return refuse(status, text, 503, "Out of memory", BH_NOMEM);
    snprintf(head->content_type, sizeof head->content_type, "application/zip");
    if (want_zip && !t.download.zip) {
      char zname[300];
      snprintf(zname, sizeof zname, "%s.zip", t.download.file_name);
      disposition(head, zname);
    }
  }
  topics_progress(rpc->model.topics, id, "Downloading...", 0);
  return BH_OK;
}

enum bh_err download_open(struct rpc *rpc, const struct download_request *req,
                          const struct rpc_origin *origin, struct download **out,
                          struct download_head *head, int *err_status, char err_text[256])
{
  *out = NULL;
  memset(head, 0, sizeof *head);
  head->status = 200;
  const char *token = req->token ? req->token : (origin ? origin->header_token : NULL);
  struct actor who = {.uoid = -1};
  if (!token)
    return refuse(err_status, err_text, 401, "Authentication required: give a token", BH_AUTH);
  struct bh_why why;
  if (rpc_resolve_token(rpc, token, &who, &why) != BH_OK)
    return refuse(err_status, err_text, 401, why.text, BH_AUTH);
  struct download *d = calloc(1, sizeof *d);
  if (!d)
    return refuse(err_status, err_text, 503, "Out of memory", BH_NOMEM);
  d->rpc = rpc;
  d->fd = -1;
  d->last_pct = -1;
  enum bh_err rc;
  if (req->action && strcmp(req->action, "extendeddata") == 0)
    rc = open_extended_data(rpc, &who, req->edid, d, head, err_status, err_text);
  else if (req->topic_id)
    rc = open_topic(rpc, &who, req->topic_id, req->zip && strcmp(req->zip, "on") == 0, d, head,
                    err_status, err_text);
  else
    rc = refuse(err_status, err_text, 400, "No valid topicId", BH_BADREQUEST);
  if (rc == BH_OK && !d->zip && req->accept_gzip && d->topic_id &&
      deflate_stream_new(&d->gz, DEFLATE_GZIP, 6, out_sink, d) == BH_OK)
    head->gzip = true;
  if (rc != BH_OK) {
    download_close(d, false);
    return rc;
  }
  if (req->mime && *req->mime)
    snprintf(head->content_type, sizeof head->content_type, "%s", req->mime);
  head->size = (d->zip || d->gz) ? -1 : (int64_t)d->size;
  *out = d;
  return BH_OK;
}

static void report(struct download *d)
{
  if (!d->topic_id || d->size == 0)
    return;
  int pct = (int)(d->sent_input * 100 / d->size);
  if (pct != d->last_pct && pct < 100) {
    d->last_pct = pct;
    topics_progress(d->rpc->model.topics, d->topic_id, NULL, pct);
  }
}

/* Reads the next input chunk through the encoder until output is waiting or all is done. */
static ssize_t encode_more(struct download *d)
{
  char in[READ_CHUNK];
  while (d->out_off == d->out_len && !d->finished) {
    d->out_off = d->out_len = 0;
    if (!d->input_done) {
      ssize_t n = read(d->fd, in, sizeof in);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0) {
        d->input_done = true;
      } else {
        d->sent_input += (uint64_t)n;
        enum bh_err rc = d->zip ? zip_writer_write(d->zip, in, (size_t)n)
                                : deflate_stream_write(d->gz, in, (size_t)n);
        if (rc != BH_OK)
          return -1;
        report(d);
        continue;
      }
    }
    enum bh_err rc = d->zip ? zip_writer_finish(d->zip) : deflate_stream_finish(d->gz);
    if (rc != BH_OK)
      return -1;
    d->finished = true;
  }
  return (ssize_t)(d->out_len - d->out_off);
}

ssize_t download_read(struct download *d, char *buf, size_t max)
{
  if (d->zip || d->gz) {
    ssize_t avail = encode_more(d);
    if (avail <= 0)
      return avail;
    size_t n = (size_t)avail < max ? (size_t)avail : max;
    memcpy(buf, d->out + d->out_off, n);
    d->out_off += n;
    return (ssize_t)n;
  }
  for (;;) {
    ssize_t n = read(d->fd, buf, max);
    if (n < 0 && errno == EINTR)
      continue;
    if (n > 0) {
      d->sent_input += (uint64_t)n;
      report(d);
    }
    return n;
  }
}

void download_close(struct download *d, bool complete)
{
  if (!d)
    return;
  if (d->topic_id && complete)
    topics_finish(d->rpc->model.topics, d->topic_id, "Done", 0);
  if (d->fd >= 0)
    close(d->fd);
  zip_writer_free(d->zip);
  deflate_stream_free(d->gz);
  free(d->out);
  free(d);
}
