/* multipart.h: a streaming multipart/form-data reader (RFC 7578, RFC 2046 §5.1) for
 * /upload. libmicrohttpd 0.9.75's post processor takes everything after "boundary=" in the
 * Content-Type as the boundary, so "boundary=X; charset=UTF-8" (how httpmime, the Java
 * client's library, writes it) loses every field; this reader takes the parameters in any
 * order. It holds no part in memory: the callbacks get each part's bytes as they come. */
#ifndef BH_MULTIPART_H
#define BH_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define MULTIPART_BOUNDARY_MAX 200 /* RFC 2046 says 70; some clients go further */
#define MULTIPART_NAME_MAX 256     /* a part's name */
#define MULTIPART_HEADERS_MAX 8192 /* a part's header block */

/* The callbacks return false to stop reading (the reader then refuses every later byte). */
struct multipart_cbs {
  /* A part begins. filename is NULL for a text field (a part without a filename parameter);
   * content_type is NULL when the part has none. The strings live until the call returns. */
  bool (*part_begin)(void *arg, const char *name, const char *filename, const char *content_type);
  bool (*part_data)(void *arg, const char *data, size_t len);
  /* The part ended (its closing delimiter was read). */
  bool (*part_end)(void *arg);
};

struct multipart;

/* The boundary parameter of a multipart/form-data Content-Type value, quoted or not, among
 * any other parameters in any order (names are case-insensitive). False when the type is
 * not multipart/form-data or has no usable boundary (empty, too long, or not closed). */
bool multipart_boundary(const char *content_type, char out[MULTIPART_BOUNDARY_MAX + 1]);

/* NULL when out of memory. */
struct multipart *multipart_new(const char *boundary, const struct multipart_cbs *cbs, void *arg);
/* Reads the next bytes of the body. False when the body is malformed (multipart_error()
 * says why) or a callback stopped it (multipart_error() is then ""). */
bool multipart_feed(struct multipart *mp, const char *data, size_t len);
/* Whether the closing delimiter was read (the rest is epilogue, ignored). */
bool multipart_is_done(const struct multipart *mp);
const char *multipart_error(const struct multipart *mp);
void multipart_free(struct multipart *mp);

#endif
