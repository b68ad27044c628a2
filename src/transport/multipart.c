/* multipart.c: a streaming multipart/form-data reader. The body is a preamble, then parts
 * each introduced by the delimiter CRLF "--" boundary (the first one may start the body
 * without the CRLF), then the closing delimiter with "--" after it and an epilogue. A part
 * is a header block (Content-Disposition with name and filename, Content-Type) and a blank
 * line, then its bytes up to the next delimiter. The delimiter starts with CR and the
 * boundary holds no CR, so after a partial match fails only the byte at hand can start a
 * new one: the matched bytes are part data, and the reader needs no buffer for the body. */
#include "transport/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MP_FILENAME_MAX 1024
#define MP_TYPE_MAX 256
#define MP_FORMDATA "multipart/form-data"

enum mp_state {
  MP_PREAMBLE, /* matching the first delimiter, bytes before it are thrown away */
  MP_AFTER_DELIM,
  MP_CLOSE_DASH, /* one '-' after a delimiter: the second makes it the closing one */
  MP_PADDING,    /* spaces after a delimiter, before its CRLF */
  MP_LF,
  MP_HEADERS,
  MP_BODY,
  MP_EPILOGUE,
  MP_FAILED
};

struct multipart {
  struct multipart_cbs cbs;
  void *arg;
  enum mp_state state;
  char delim[4 + MULTIPART_BOUNDARY_MAX + 1]; /* CRLF "--" boundary */
  size_t dlen;
  size_t matched; /* bytes of delim matched so far */
  /* the part's header block */
  char line[MULTIPART_HEADERS_MAX + 1];
  size_t line_len, block_len;
  char name[MULTIPART_NAME_MAX + 1];
  char filename[MP_FILENAME_MAX + 1];
  char type[MP_TYPE_MAX + 1];
  bool has_filename, has_type;
  char error[128];
};

static const char *mp_skip_ws(const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* One "name=value" parameter at p (just after its ';'): the name into name (cut to ncap),
 * the value, unquoted, into val. In a quoted value \" and \\ stand for " and \; any other
 * backslash stays (old browsers send Windows paths unescaped). *too_long when the value
 * did not fit. Returns where the parameter ends, or NULL when a quoted value is not closed. */
static const char *mp_param(const char *p, char *name, size_t ncap, char *val, size_t vcap,
                            bool *too_long)
{
  size_t n = 0, v = 0;
  *too_long = false;
  p = mp_skip_ws(p);
  for (; *p && *p != '=' && *p != ';' && *p != ' ' && *p != '\t'; p++)
    if (n + 1 < ncap)
      name[n++] = *p;
  name[n] = '\0';
  val[0] = '\0';
  p = mp_skip_ws(p);
  if (*p != '=')
    return p; /* a parameter without a value: nothing to read */
  p = mp_skip_ws(p + 1);
  if (*p == '"') {
    for (p++; *p && *p != '"'; p++) {
      if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
        p++;
      if (v + 1 < vcap)
        val[v++] = *p;
      else
        *too_long = true;
    }
    if (*p != '"')
      return NULL;
    p++;
  } else {
    for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
      if (v + 1 < vcap)
        val[v++] = *p;
      else
        *too_long = true;
    }
  }
  val[v] = '\0';
  return mp_skip_ws(p);
}

/* The next parameter's start after the value's type, or NULL at the end. */
static const char *mp_next_param(const char *p)
{
  p = strchr(p, ';');
  return p ? p + 1 : NULL;
}

bool multipart_boundary(const char *content_type, char out[MULTIPART_BOUNDARY_MAX + 1])
{
  out[0] = '\0';
  if (!content_type)
    return false;
  const char *p = mp_skip_ws(content_type);
  size_t tlen = strlen(MP_FORMDATA);
  if (strncasecmp(p, MP_FORMDATA, tlen) != 0)
    return false;
  p = mp_skip_ws(p + tlen);
  if (*p != '\0' && *p != ';')
    return false; /* multipart/form-dataX */
  char name[16], val[MULTIPART_BOUNDARY_MAX + 2];
  while ((p = mp_next_param(p)) != NULL) {
    bool too_long;
    const char *end = mp_param(p, name, sizeof name, val, sizeof val, &too_long);
    if (!end)
      return false;
    if (strcasecmp(name, "boundary") == 0) {
      size_t n = strlen(val);
      if (too_long || n == 0 || n > MULTIPART_BOUNDARY_MAX)
        return false;
      for (size_t i = 0; i < n; i++)
        if ((unsigned char)val[i] < 0x20 || val[i] == 0x7f)
          return false;
      memcpy(out, val, n + 1);
      return true; /* the first one counts */
    }
    p = end;
  }
  return false;
}

struct multipart *multipart_new(const char *boundary, const struct multipart_cbs *cbs, void *arg)
{
  size_t n = strlen(boundary);
  if (n == 0 || n > MULTIPART_BOUNDARY_MAX)
    return NULL;
  struct multipart *mp = calloc(1, sizeof *mp);
  if (!mp)
    return NULL;
  mp->cbs = *cbs;
  mp->arg = arg;
  memcpy(mp->delim, "\r\n--", 4);
  memcpy(mp->delim + 4, boundary, n + 1);
  mp->dlen = 4 + n;
  mp->state = MP_PREAMBLE;
  mp->matched = 2; /* the body may start with the first delimiter, without its CRLF */
  return mp;
}

void multipart_free(struct multipart *mp)
{
  free(mp);
}

bool multipart_is_done(const struct multipart *mp)
{
  return mp->state == MP_EPILOGUE;
}

const char *multipart_error(const struct multipart *mp)
{
  return mp->error;
}

static bool mp_fail(struct multipart *mp, const char *why)
{
  mp->state = MP_FAILED;
  snprintf(mp->error, sizeof mp->error, "%s", why);
  return false;
}

/* A callback said stop. */
static bool mp_stop(struct multipart *mp)
{
  mp->state = MP_FAILED;
  mp->error[0] = '\0';
  return false;
}

/* Bytes of the current part (thrown away in the preamble). */
static bool mp_emit(struct multipart *mp, const char *p, size_t n)
{
  if (n == 0 || mp->state != MP_BODY)
    return true;
  return mp->cbs.part_data(mp->arg, p, n) || mp_stop(mp);
}

static void mp_headers_begin(struct multipart *mp)
{
  mp->state = MP_HEADERS;
  mp->line_len = mp->block_len = 0;
  mp->name[0] = mp->filename[0] = mp->type[0] = '\0';
  mp->has_filename = mp->has_type = false;
}

static bool mp_disposition(struct multipart *mp, const char *value)
{
  char pname[16], val[MP_FILENAME_MAX + 2];
  for (const char *p = mp_next_param(value); p;) {
    bool too_long;
    const char *end = mp_param(p, pname, sizeof pname, val, sizeof val, &too_long);
    if (!end)
      return mp_fail(mp, "malformed multipart/form-data body: a quoted parameter is not closed");
    if (strcasecmp(pname, "name") == 0) {
      if (too_long || strlen(val) > MULTIPART_NAME_MAX)
        return mp_fail(mp, "a form part name is longer than 256 bytes");
      memcpy(mp->name, val, strlen(val) + 1);
    } else if (strcasecmp(pname, "filename") == 0) {
      if (too_long || strlen(val) > MP_FILENAME_MAX)
        return mp_fail(mp, "a file name is longer than 1024 bytes");
      memcpy(mp->filename, val, strlen(val) + 1);
      mp->has_filename = true;
    }
    p = mp_next_param(end);
  }
  return true;
}

/* One complete header line (without its CRLF); the empty one ends the block. */
static bool mp_header_line(struct multipart *mp)
{
  char *line = mp->line;
  size_t n = mp->line_len;
  if (n > 0 && line[n - 1] == '\r')
    n--;
  line[n] = '\0';
  mp->line_len = 0;
  if (n == 0) {
    mp->state = MP_BODY;
    mp->matched = 0;
    return mp->cbs.part_begin(mp->arg, mp->name, mp->has_filename ? mp->filename : NULL,
                              mp->has_type ? mp->type : NULL) ||
           mp_stop(mp);
  }
  char *colon = strchr(line, ':');
  if (!colon || line[0] == ' ' || line[0] == '\t')
    return true; /* not a header, or an obsolete folded line: nothing we read */
  *colon = '\0';
  const char *value = mp_skip_ws(colon + 1);
  if (strcasecmp(line, "Content-Disposition") == 0)
    return mp_disposition(mp, value);
  if (strcasecmp(line, "Content-Type") == 0) {
    size_t vn = strlen(value);
    while (vn > 0 && (value[vn - 1] == ' ' || value[vn - 1] == '\t'))
      vn--;
    if (vn > MP_TYPE_MAX)
      return mp_fail(mp, "a part's Content-Type is longer than 256 bytes");
    memcpy(mp->type, value, vn);
    mp->type[vn] = '\0';
    mp->has_type = true;
  }
  return true;
}

/* A whole delimiter ends at data[end]: the part (if any) ends. */
static size_t mp_delimiter(struct multipart *mp, size_t end)
{
  mp->matched = 0;
  bool was_part = mp->state == MP_BODY;
  mp->state = MP_AFTER_DELIM;
  if (was_part && !mp->cbs.part_end(mp->arg))
    mp_stop(mp);
  return end;
}

/* Preamble or part bytes: looks for the delimiter. Returns how much of data it used. A run
 * of data goes on in one piece until a delimiter, or the start of one at the end of data. */
static size_t mp_scan(struct multipart *mp, const char *data, size_t len)
{
  size_t i = 0;
  /* a delimiter begun in an earlier piece */
  while (mp->matched > 0 && i < len) {
    if (data[i] == mp->delim[mp->matched]) {
      i++;
      if (++mp->matched == mp->dlen)
        return mp_delimiter(mp, i);
      continue;
    }
    /* not a delimiter after all: what matched was data; this byte is looked at again */
    size_t k = mp->matched;
    mp->matched = 0;
    if (!mp_emit(mp, mp->delim, k))
      return i;
  }
  size_t start = i;
  while (i < len) {
    const char *cr = memchr(data + i, '\r', len - i);
    if (!cr)
      break;
    i = (size_t)(cr - data);
    size_t n = len - i < mp->dlen ? len - i : mp->dlen;
    if (memcmp(data + i, mp->delim, n) != 0) {
      i++;
      continue;
    }
    if (!mp_emit(mp, data + start, i - start))
      return i;
    if (n == mp->dlen)
      return mp_delimiter(mp, i + n);
    mp->matched = n; /* the rest may come in the next piece */
    return len;
  }
  mp_emit(mp, data + start, len - start);
  return len;
}

bool multipart_feed(struct multipart *mp, const char *data, size_t len)
{
  size_t i = 0;
  while (i < len) {
    if (mp->state == MP_FAILED)
      return false;
    if (mp->state == MP_PREAMBLE || mp->state == MP_BODY) {
      i += mp_scan(mp, data + i, len - i);
      continue;
    }
    if (mp->state == MP_EPILOGUE)
      return true;
    char c = data[i++];
    switch (mp->state) {
    case MP_AFTER_DELIM:
      if (c == '-')
        mp->state = MP_CLOSE_DASH;
      else if (c == ' ' || c == '\t')
        mp->state = MP_PADDING;
      else if (c == '\r')
        mp->state = MP_LF;
      else if (c == '\n')
        mp_headers_begin(mp);
      else
        return mp_fail(mp, "malformed multipart/form-data body: text after a boundary");
      break;
    case MP_CLOSE_DASH:
      if (c != '-')
        return mp_fail(mp, "malformed multipart/form-data body: text after a boundary");
      mp->state = MP_EPILOGUE;
      break;
    case MP_PADDING:
    case MP_LF:
      if (c == '\n')
        mp_headers_begin(mp);
      else if (c == '\r' && mp->state == MP_PADDING)
        mp->state = MP_LF;
      else if (mp->state == MP_LF || (c != ' ' && c != '\t'))
        return mp_fail(mp, "malformed multipart/form-data body: text after a boundary");
      break;
    case MP_HEADERS:
      if (++mp->block_len > MULTIPART_HEADERS_MAX)
        return mp_fail(mp, "a form part's headers are longer than 8192 bytes");
      if (c == '\n') {
        if (!mp_header_line(mp))
          return false;
      } else {
        mp->line[mp->line_len++] = c;
      }
      break;
    default:
      return false;
    }
  }
  return mp->state != MP_FAILED;
}
