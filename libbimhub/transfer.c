/* transfer.c: the calls that move models: a check-in through POST /upload (multipart,
 * streamed from a file or a read callback) followed by getProgress polling, and a download
 * through ServiceInterface.download + GET /download streamed to a write callback
 * (spec §1.3, §1.4, §7.3, §7.4, §8.6). */
#include "sdk_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRESS_EVERY_MS 100
#define UPLOAD_ANSWER_MAX ((size_t)16 << 20)
#define PREPARE_WAIT_MS (10 * 60 * 1000) /* a download that is never "Done preparing" */

/* ---- progress plumbing ---- */

struct xfer {
  struct bimhub_client *c;
  CURL *curl; /* the handle of the transfer (for its status) */
  bimhub_progress_cb cb;
  void *cb_arg;
  enum bimhub_progress_phase phase;
  int64_t topic_id;
  int64_t last_ms;
  bool aborted;
  /* a read callback (check-in) */
  bimhub_read_cb reader;
  void *reader_arg;
  bool read_failed;
  /* a write callback (download) */
  bimhub_write_cb writer;
  void *writer_arg;
  bool write_aborted;
  long status; /* the answer's HTTP status, read at its first bytes */
  struct sdk_buf errtext;
};

static bool report_bytes(struct xfer *x, int64_t done, int64_t total, bool force)
{
  if (!x->cb)
    return true;
  int64_t now = sdk_mono_ms();
  if (!force && now - x->last_ms < PROGRESS_EVERY_MS)
    return true;
  x->last_ms = now;
  struct bimhub_progress p = {.phase = x->phase,
                              .done = done,
                              .total = total > 0 ? total : -1,
                              .topic_id = x->topic_id,
                              .percent = total > 0 ? (int)(done * 100 / total) : -1};
  if (x->cb(x->cb_arg, &p) != 0) {
    x->aborted = true;
    return false;
  }
  return true;
}

static int xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow)
{
  struct xfer *x = arg;
  bool go_on = x->phase == BIMHUB_PROGRESS_UPLOAD ? report_bytes(x, ulnow, ultotal, false)
                                                  : report_bytes(x, dlnow, dltotal, false);
  return go_on ? 0 : 1;
}

/* ---- check-in ---- */

static size_t read_from_cb(char *buf, size_t size, size_t n, void *arg)
{
  struct xfer *x = arg;
  size_t got = x->reader(x->reader_arg, buf, size * n);
  if (got == (size_t)-1) {
    x->read_failed = true;
    return CURL_READFUNC_ABORT;
  }
  return got;
}

static size_t read_file(void *arg, void *buf, size_t len)
{
  FILE *f = arg;
  size_t got = fread(buf, 1, len, f);
  return got == 0 && ferror(f) ? (size_t)-1 : got;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
  struct sdk_buf *b = arg;
  return sdk_buf_add(b, p, size * n) ? size * n : 0;
}

/* The extension of a file name, without the dot, lower case, in out ("" when none). */
static void extension_of(const char *name, char *out, size_t cap)
{
  const char *dot = strrchr(name, '.');
  const char *slash = strrchr(name, '/');
  out[0] = '\0';
  if (!dot || (slash && dot < slash) || cap == 0)
    return;
  size_t i = 0;
  for (const char *p = dot + 1; *p && i + 1 < cap; p++)
    out[i++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
  out[i] = '\0';
}

/* A final or current SLongCheckinActionState into out and err. */
static enum bimhub_rc state_outcome(json_t *state, struct bimhub_checkin_result *out,
                                    struct bimhub_error *err, bool *is_final)
{
  const char *st = bimhub_json_str(state, "state");
  *is_final = false;
  if (st && strcmp(st, "FINISHED") == 0) {
    *is_final = true;
    if (out)
      out->roid = bimhub_json_int(state, "roid", -1);
    return BIMHUB_OK;
  }
  if (st && strcmp(st, "AS_ERROR") == 0) {
    *is_final = true;
    const char *msg = bimhub_json_str(state, "title");
    json_t *errors = json_object_get(state, "errors");
    if (json_is_array(errors) && json_array_size(errors) > 0 &&
        json_is_string(json_array_get(errors, 0)))
      msg = json_string_value(json_array_get(errors, 0));
    sdk_fail(err, BIMHUB_FAILED, "%s", msg ? msg : "The check-in failed");
    if (err)
      err->code = (long)bimhub_json_int(state, "deserializeErrorCode", 0);
    return BIMHUB_FAILED;
  }
  return BIMHUB_OK;
}

static bool same_state(json_t *a, json_t *b)
{
  return a && b && json_equal(a, b);
}

/* Polls getProgress(topic) until FINISHED or AS_ERROR, reporting each new state. */
static enum bimhub_rc wait_topic(struct xfer *x, const struct bimhub_checkin_options *o,
                                 struct bimhub_checkin_result *out, struct bimhub_error *err)
{
  long every = o && o->poll_interval_ms > 0 ? o->poll_interval_ms : 250;
  long limit = o && o->wait_timeout_ms > 0 ? o->wait_timeout_ms : 0;
  int64_t start = sdk_mono_ms();
  json_t *last = NULL;
  for (;;) {
    json_t *st = NULL;
    enum bimhub_rc rc = bimhub_get_progress(x->c, x->topic_id, &st, err);
    if (rc != BIMHUB_OK) {
      json_decref(last);
      return rc;
    }
    if (json_object_size(st) > 0 && !same_state(st, last)) {
      json_decref(last);
      last = json_incref(st);
      if (out) {
        json_decref(out->state);
        out->state = json_incref(st);
      }
      if (x->cb) {
        struct bimhub_progress p = {.phase = BIMHUB_PROGRESS_SERVER,
                                    .done = -1,
                                    .total = -1,
                                    .topic_id = x->topic_id,
                                    .percent = (int)bimhub_json_int(st, "progress", -1),
                                    .title = bimhub_json_str(st, "title"),
                                    .state = bimhub_json_str(st, "state"),
                                    .raw = st};
        if (x->cb(x->cb_arg, &p) != 0) {
          json_decref(st);
          json_decref(last);
          return sdk_fail(err, BIMHUB_ABORTED,
                          "Stopped waiting for topic %" PRId64 " (the "
                          "check-in goes on)",
                          x->topic_id);
        }
      }
      bool is_final;
      rc = state_outcome(st, out, err, &is_final);
      if (is_final) {
        json_decref(st);
        json_decref(last);
        return rc;
      }
    }
    json_decref(st);
    if (limit && sdk_mono_ms() - start > limit) {
      json_decref(last);
      return sdk_fail(err, BIMHUB_TIMEOUT, "Topic %" PRId64 " did not end within %ld ms",
                      x->topic_id, limit);
    }
    sdk_sleep_ms(every);
  }
}

static enum bimhub_rc checkin(struct bimhub_client *c, int64_t poid, FILE *file,
                              bimhub_read_cb reader, void *reader_arg, int64_t size,
                              const char *file_name, const char *comment,
                              const struct bimhub_checkin_options *o,
                              struct bimhub_checkin_result *out, struct bimhub_error *err)
{
  const char *token = bimhub_client_token(c);
  if (!token)
    return sdk_fail(err, BIMHUB_STATE, "A check-in needs a token: log in first");
  int64_t deserializer = o && o->deserializer_oid > 0 ? o->deserializer_oid : 0;
  if (!deserializer) {
    char ext[16];
    extension_of(file_name, ext, sizeof ext);
    enum bimhub_rc rc =
        bimhub_get_suggested_deserializer(c, ext[0] ? ext : "ifc", poid, &deserializer, err);
    if (rc == BIMHUB_NOT_FOUND)
      return sdk_fail(err, BIMHUB_NOT_FOUND, "No deserializer for .%s files in project %" PRId64,
                      ext[0] ? ext : "ifc", poid);
    if (rc != BIMHUB_OK)
      return rc;
  }
  struct xfer x = {.c = c, .phase = BIMHUB_PROGRESS_UPLOAD, .topic_id = -1};
  x.cb = sdk_client_progress(c, &x.cb_arg);
  x.reader = file ? read_file : reader;
  x.reader_arg = file ? (void *)file : reader_arg;
  if (o && o->topic_id > 0)
    x.topic_id = o->topic_id;

  CURL *h = sdk_client_curl(c);
  curl_mime *mime = curl_mime_init(h);
  if (!mime)
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  char num[3][24];
  snprintf(num[0], sizeof num[0], "%" PRId64, poid);
  snprintf(num[1], sizeof num[1], "%" PRId64, deserializer);
  snprintf(num[2], sizeof num[2], "%" PRId64, x.topic_id);
  /* the text fields first: the server reads the upload as a stream (spec §1.3) */
  const char *fields[][2] = {{"token", token},
                             {"poid", num[0]},
                             {"deserializerOid", num[1]},
                             {"comment", comment ? comment : ""},
                             {"topicId", x.topic_id > 0 ? num[2] : NULL},
                             {"sync", o && o->server_sync ? "true" : NULL}};
  bool ok = true;
  for (size_t i = 0; ok && i < sizeof fields / sizeof fields[0]; i++) {
    if (!fields[i][1])
      continue;
    curl_mimepart *part = curl_mime_addpart(mime);
    ok = part && curl_mime_name(part, fields[i][0]) == CURLE_OK &&
         curl_mime_data(part, fields[i][1], CURL_ZERO_TERMINATED) == CURLE_OK;
  }
  curl_mimepart *fp = ok ? curl_mime_addpart(mime) : NULL;
  ok = fp && curl_mime_name(fp, "file") == CURLE_OK &&
       curl_mime_filename(fp, file_name) == CURLE_OK &&
       curl_mime_type(fp, "application/octet-stream") == CURLE_OK &&
       curl_mime_data_cb(fp, size >= 0 ? (curl_off_t)size : -1, read_from_cb, NULL, NULL, &x) ==
           CURLE_OK;
  if (!ok) {
    curl_mime_free(mime);
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  }
  char *url = malloc(strlen(bimhub_client_url(c)) + 8);
  if (!url) {
    curl_mime_free(mime);
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  }
  sprintf(url, "%s/upload", bimhub_client_url(c));
  struct sdk_buf answer;
  sdk_buf_init(&answer, UPLOAD_ANSWER_MAX);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
  if (x.cb) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  CURLcode code = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t sent = 0;
  curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &sent);
  curl_mime_free(mime);
  free(url);

  enum bimhub_rc rc = BIMHUB_OK;
  if (x.read_failed)
    rc = sdk_fail(err, BIMHUB_IO, "Cannot read the model %s", file_name);
  else if (x.aborted)
    rc = sdk_fail(err, BIMHUB_ABORTED, "The upload was stopped by the progress callback");
  else if (code != CURLE_OK)
    rc = sdk_client_curl_fail(c, code, err);
  else if (status != 200)
    rc = sdk_parse_answer(status, answer.data, answer.len, NULL, err);
  json_t *reply = NULL;
  if (rc == BIMHUB_OK) {
    reply = json_loadb(answer.data ? answer.data : "", answer.len, 0, NULL);
    if (!json_is_object(reply))
      rc = sdk_fail(err, BIMHUB_PROTOCOL, "/upload did not answer a JSON object");
  }
  sdk_buf_free(&answer);
  if (rc == BIMHUB_OK && x.cb && !report_bytes(&x, sent, sent, true))
    rc = sdk_fail(err, BIMHUB_ABORTED, "Stopped by the progress callback");
  json_t *exc = json_object_get(reply, "exception");
  if (rc == BIMHUB_OK && exc && !json_is_null(exc)) {
    rc = sdk_exception_fill(exc, err);
    if (err)
      err->http_status = status;
  }
  if (rc == BIMHUB_OK) {
    if (bimhub_json_str(reply, "__type")) {
      /* sync=true: the answer is the final state */
      x.topic_id = bimhub_json_int(reply, "topicId", x.topic_id);
      if (out)
        out->state = json_incref(reply);
      bool is_final;
      rc = state_outcome(reply, out, err, &is_final);
      if (rc == BIMHUB_OK && !is_final)
        rc = sdk_fail(err, BIMHUB_PROTOCOL, "/upload answered a state that is not final");
    } else {
      int64_t t = bimhub_json_int(reply, "topicId", bimhub_json_int(reply, "checkinid", -1));
      if (t < 0)
        rc = sdk_fail(err, BIMHUB_PROTOCOL, "/upload answered no topicId");
      else
        x.topic_id = t;
      if (out)
        out->topic_id = x.topic_id;
      if (rc == BIMHUB_OK && !(o && o->no_wait))
        rc = wait_topic(&x, o, out, err);
    }
  }
  json_decref(reply);
  if (out)
    out->topic_id = x.topic_id;
  return rc;
}

static void result_init(struct bimhub_checkin_result *out)
{
  if (out) {
    out->topic_id = -1;
    out->roid = -1;
    out->state = NULL;
  }
}

enum bimhub_rc bimhub_checkin_file(struct bimhub_client *c, int64_t poid, const char *path,
                                   const char *comment, const struct bimhub_checkin_options *opts,
                                   struct bimhub_checkin_result *out, struct bimhub_error *err)
{
  result_init(out);
  if (!c || !path)
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_checkin_file: a client and a path are needed");
  FILE *f = fopen(path, "rb");
  if (!f)
    return sdk_fail(err, BIMHUB_IO, "Cannot open %s: %s", path, strerror(errno));
  struct stat sb;
  int64_t size = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
  const char *name = opts && opts->file_name ? opts->file_name : strrchr(path, '/');
  name = name ? (name == strrchr(path, '/') ? name + 1 : name) : path;
  enum bimhub_rc rc = checkin(c, poid, f, NULL, NULL, size, name, comment, opts, out, err);
  fclose(f);
  return rc;
}

enum bimhub_rc bimhub_checkin_read(struct bimhub_client *c, int64_t poid, bimhub_read_cb reader,
                                   void *arg, int64_t size, const char *comment,
                                   const struct bimhub_checkin_options *opts,
                                   struct bimhub_checkin_result *out, struct bimhub_error *err)
{
  result_init(out);
  if (!c || !reader)
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_checkin_read: a client and a reader are needed");
  const char *name = opts && opts->file_name ? opts->file_name : "model.ifc";
  return checkin(c, poid, NULL, reader, arg, size, name, comment, opts, out, err);
}

/* ---- download ---- */

static const char *const step_serializers[] = {
    "org.bimserver.ifc.step.serializer.Ifc2x3tc1StepSerializerPlugin",
    "org.bimserver.ifc.step.serializer.Ifc4StepSerializerPlugin",
    "org.bimserver.ifc.step.serializer.IfcStepStreamingSerializerPlugin",
};

static enum bimhub_rc default_serializer(struct bimhub_client *c, int64_t *oid,
                                         struct bimhub_error *err)
{
  enum bimhub_rc rc = bimhub_get_serializer_by_content_type(c, "application/ifc", oid, err);
  if (rc != BIMHUB_NOT_FOUND && rc != BIMHUB_EXCEPTION)
    return rc;
  for (size_t i = 0; i < sizeof step_serializers / sizeof step_serializers[0]; i++) {
    struct bimhub_error e;
    if (bimhub_get_serializer_by_plugin_class_name(c, step_serializers[i], oid, &e) == BIMHUB_OK)
      return BIMHUB_OK;
  }
  return sdk_fail(err, BIMHUB_NOT_FOUND, "The server has no IFC STEP serializer for this user");
}

/* Waits until the download topic says "Done preparing" (or FINISHED). */
static enum bimhub_rc wait_prepared(struct bimhub_client *c, int64_t topic,
                                    struct bimhub_error *err)
{
  int64_t start = sdk_mono_ms();
  long every = 20;
  for (;;) {
    json_t *st = NULL;
    enum bimhub_rc rc = bimhub_get_progress(c, topic, &st, err);
    if (rc != BIMHUB_OK)
      return rc;
    const char *state = bimhub_json_str(st, "state");
    const char *title = bimhub_json_str(st, "title");
    if (state && strcmp(state, "AS_ERROR") == 0) {
      rc = sdk_fail(err, BIMHUB_FAILED, "%s", title ? title : "The download failed");
      json_decref(st);
      return rc;
    }
    bool ready = (state && strcmp(state, "FINISHED") == 0) ||
                 (title && strcmp(title, "Done preparing") == 0);
    json_decref(st);
    if (ready)
      return BIMHUB_OK;
    if (sdk_mono_ms() - start > PREPARE_WAIT_MS)
      return sdk_fail(err, BIMHUB_TIMEOUT, "Download topic %" PRId64 " was not prepared in time",
                      topic);
    sdk_sleep_ms(every);
    if (every < 500)
      every *= 2;
  }
}

static size_t write_out(char *p, size_t size, size_t n, void *arg)
{
  struct xfer *x = arg;
  size_t len = size * n;
  if (!x->status)
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
  if (x->status != 200) {
    sdk_buf_add(&x->errtext, p, len); /* kept short by its cap; the rest is dropped */
    return len;
  }
  if (x->writer(x->writer_arg, p, len) != 0) {
    x->write_aborted = true;
    return 0;
  }
  return len;
}

enum bimhub_rc bimhub_download_revision(struct bimhub_client *c, int64_t roid,
                                        int64_t serializer_oid, bimhub_write_cb writer, void *arg,
                                        struct bimhub_error *err)
{
  if (!c || !writer)
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_download_revision: a client and a writer needed");
  const char *token = bimhub_client_token(c);
  if (!token)
    return sdk_fail(err, BIMHUB_STATE, "A download needs a token: log in first");
  enum bimhub_rc rc = BIMHUB_OK;
  if (serializer_oid <= 0)
    rc = default_serializer(c, &serializer_oid, err);
  if (rc != BIMHUB_OK)
    return rc;
  json_t *t = NULL;
  rc = bimhub_client_call(c, "ServiceInterface", "download",
                          json_pack("{s:[I],s:s,s:I,s:b}", "roids", (json_int_t)roid, "query",
                                    "{\"includeAllFields\":true}", "serializerOid",
                                    (json_int_t)serializer_oid, "sync", 0),
                          &t, err);
  if (rc == BIMHUB_OK && !json_is_integer(t))
    rc = sdk_fail(err, BIMHUB_PROTOCOL, "download did not answer a topic id");
  int64_t topic = rc == BIMHUB_OK ? (int64_t)json_integer_value(t) : -1;
  json_decref(t);
  if (rc != BIMHUB_OK)
    return rc;
  rc = wait_prepared(c, topic, err);

  if (rc == BIMHUB_OK) {
    CURL *h = sdk_client_curl(c);
    char *etoken = curl_easy_escape(h, token, 0);
    const char *base = bimhub_client_url(c);
    size_t n = strlen(base) + (etoken ? strlen(etoken) : 0) + 64;
    char *url = malloc(n);
    if (!etoken || !url) {
      rc = sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
    } else {
      snprintf(url, n, "%s/download?token=%s&topicId=%" PRId64, base, etoken, topic);
      struct xfer x = {.c = c,
                       .curl = h,
                       .phase = BIMHUB_PROGRESS_DOWNLOAD,
                       .topic_id = topic,
                       .writer = writer,
                       .writer_arg = arg};
      x.cb = sdk_client_progress(c, &x.cb_arg);
      sdk_buf_init(&x.errtext, 400);
      curl_easy_setopt(h, CURLOPT_URL, url);
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* gzip, decoded by libcurl */
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_out);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
      if (x.cb) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      }
      CURLcode code = curl_easy_perform(h);
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      curl_off_t got = 0;
      curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &got);
      if (x.write_aborted)
        rc = sdk_fail(err, BIMHUB_ABORTED, "The download was stopped by the write callback");
      else if (x.aborted)
        rc = sdk_fail(err, BIMHUB_ABORTED, "The download was stopped by the progress callback");
      else if (code != CURLE_OK)
        rc = sdk_client_curl_fail(c, code, err);
      else if (status != 200) {
        rc = sdk_fail(err, BIMHUB_HTTP, "/download answered %ld: %s", status,
                      x.errtext.data ? x.errtext.data : "");
        if (err)
          err->http_status = status;
      } else if (x.cb && !report_bytes(&x, got, got, true)) {
        rc = sdk_fail(err, BIMHUB_ABORTED, "Stopped by the progress callback");
      }
      sdk_buf_free(&x.errtext);
    }
    curl_free(etoken);
    free(url);
  }
  struct bimhub_error ignored;
  bimhub_cleanup_long_action(c, topic, &ignored);
  return rc;
}

static int write_fp(void *arg, const void *data, size_t len)
{
  return fwrite(data, 1, len, arg) == len ? 0 : 1;
}

enum bimhub_rc bimhub_download_revision_to_fp(struct bimhub_client *c, int64_t roid,
                                              int64_t serializer_oid, FILE *fp,
                                              struct bimhub_error *err)
{
  if (!fp)
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_download_revision_to_fp: no FILE");
  enum bimhub_rc rc = bimhub_download_revision(c, roid, serializer_oid, write_fp, fp, err);
  if (rc == BIMHUB_ABORTED && ferror(fp))
    rc = sdk_fail(err, BIMHUB_IO, "Cannot write the model: %s", strerror(errno));
  return rc;
}

enum bimhub_rc bimhub_download_revision_to_file(struct bimhub_client *c, int64_t roid,
                                                int64_t serializer_oid, const char *path,
                                                struct bimhub_error *err)
{
  if (!path)
    return sdk_fail(err, BIMHUB_INVALID, "bimhub_download_revision_to_file: no path");
  size_t n = strlen(path) + 6;
  char *part = malloc(n);
  if (!part)
    return sdk_fail(err, BIMHUB_NOMEM, "Out of memory");
  snprintf(part, n, "%s.part", path);
  FILE *f = fopen(part, "wb");
  if (!f) {
    enum bimhub_rc rc = sdk_fail(err, BIMHUB_IO, "Cannot create %s: %s", part, strerror(errno));
    free(part);
    return rc;
  }
  enum bimhub_rc rc = bimhub_download_revision_to_fp(c, roid, serializer_oid, f, err);
  if (rc == BIMHUB_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
    rc = sdk_fail(err, BIMHUB_IO, "Cannot write %s: %s", part, strerror(errno));
  if (fclose(f) != 0 && rc == BIMHUB_OK)
    rc = sdk_fail(err, BIMHUB_IO, "Cannot write %s: %s", part, strerror(errno));
  if (rc == BIMHUB_OK && rename(part, path) != 0)
    rc = sdk_fail(err, BIMHUB_IO, "Cannot rename %s to %s: %s", part, path, strerror(errno));
  if (rc != BIMHUB_OK)
    unlink(part);
  free(part);
  return rc;
}
