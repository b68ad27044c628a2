/* bimhub/common.h: what every part of libbimhub shares: return codes, the error value,
 * versions, logging.
 *
 * Conventions of the whole library (read once, they hold everywhere):
 *
 *  - Every function that can fail returns an enum bimhub_rc: BIMHUB_OK (0) or the kind of
 *    failure, so `if (rc)` means failure. Most also take a `struct bimhub_error *err`, which
 *    may be NULL; on failure it is filled with the details (exception type, message, code,
 *    HTTP status), on success it is left as it was.
 *  - JSON values are jansson's json_t, with jansson's reference words: a parameter documented
 *    as "stolen" is taken by the call, also when the call fails (as json_object_set_new());
 *    "borrowed" means the library does not keep it (the caller still owns it). A json_t
 *    handed out through a `json_t **` is a new reference owned by the caller, who releases
 *    it with json_decref(); it is set to NULL on failure. A json_t given to a callback is
 *    borrowed for the duration of the callback (json_incref() it to keep it).
 *  - Strings passed in are copied when the library needs them later; strings handed out
 *    (const char *) are owned by the library, valid as documented at each function.
 *  - The library never runs a callback inside the call that registered it, not even for an
 *    immediate failure. Callbacks set on a client (bimhub_client_set_progress()) run during
 *    the later calls that transfer data; stream and service callbacks run on the library's
 *    own threads (see stream.h and service.h).
 *  - Objects are opaque (struct bimhub_client, struct bimhub_stream, struct bimhub_service);
 *    each has a _new/_free pair. _free functions accept NULL.
 *  - Ids (oid, poid, roid, uoid, soid, edid, topicId) are int64_t; -1 means "none". */
#ifndef BIMHUB_COMMON_H
#define BIMHUB_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define BIMHUB_API __attribute__((visibility("default")))
#else
#define BIMHUB_API
#endif

#define BIMHUB_VERSION_MAJOR 0
#define BIMHUB_VERSION_MINOR 1
#define BIMHUB_VERSION_PATCH 0
#define BIMHUB_VERSION_STRING "0.1.0"

/* The version of the library actually linked, e.g. "0.1.0". A static string. */
BIMHUB_API const char *bimhub_version(void);

enum bimhub_rc {
  BIMHUB_OK = 0,
  BIMHUB_EXCEPTION, /* the server answered with an exception: err->type, ->message, ->code */
  BIMHUB_HTTP,      /* an HTTP status other than the expected one: err->http_status */
  BIMHUB_TRANSPORT, /* no answer: DNS, connection, TLS, timeout, socket closed (err->message) */
  BIMHUB_PROTOCOL,  /* an answer that is not what the protocol says */
  BIMHUB_NOT_FOUND, /* a look-up answered null or {} (no such schema, serializer...) */
  BIMHUB_FAILED,    /* a long action (check-in, download) ended in AS_ERROR: err->message */
  BIMHUB_ABORTED,   /* a progress or write callback asked to stop */
  BIMHUB_INVALID,   /* a bad argument (NULL where one is needed, unsupported URL scheme...) */
  BIMHUB_IO,        /* a local file or directory could not be read or written */
  BIMHUB_NOMEM,     /* out of memory */
  BIMHUB_STATE,     /* not possible now (no token, already started, stopped...) */
  BIMHUB_TIMEOUT,   /* waited longer than allowed */
  BIMHUB_DENIED,    /* a notification with a missing or bad signature (service side) */
};

/* A short English text for rc ("server exception", ...). A static string. */
BIMHUB_API const char *bimhub_rc_text(enum bimhub_rc rc);

#define BIMHUB_ERROR_TYPE_MAX 64
#define BIMHUB_ERROR_MESSAGE_MAX 512

/* Why a call failed. Plain data, no allocation: declare one on the stack and pass its
 * address; copy it freely. For BIMHUB_EXCEPTION the fields are the server's exception
 * object ({"__type":"UserException","message":...,"errorType":...,"errorCode":...}). */
struct bimhub_error {
  enum bimhub_rc rc;
  long http_status;                       /* the HTTP status of the answer, 0 when none */
  long code;                              /* the exception's errorCode, 0 when it has none */
  char type[BIMHUB_ERROR_TYPE_MAX];       /* exception __type ("UserException",
                                             "ServerException", "AuthenticationException"),
                                             "" when not an exception */
  char error_type[BIMHUB_ERROR_TYPE_MAX]; /* errorType ("DefaultErrorCode"...), or "" */
  char message[BIMHUB_ERROR_MESSAGE_MAX]; /* the server's or the library's words, never
                                             empty after a failure; truncated if longer */
};

/* Resets err to "no error" (rc BIMHUB_OK, empty strings). err may be NULL. */
BIMHUB_API void bimhub_error_clear(struct bimhub_error *err);

/* Logging. The library logs what it cannot report to a caller (a service handler that
 * failed, a stream that reconnects, a refused signature). Tokens, passwords and secrets are
 * never logged. Default: BIMHUB_LOG_WARN and above to stderr. */
enum bimhub_log_level {
  BIMHUB_LOG_DEBUG,
  BIMHUB_LOG_INFO,
  BIMHUB_LOG_WARN,
  BIMHUB_LOG_ERROR,
  BIMHUB_LOG_OFF
};
/* Called on whatever library thread logs; must be thread-safe. msg has no trailing newline
 * and is only valid during the call. */
typedef void (*bimhub_log_cb)(void *arg, enum bimhub_log_level level, const char *msg);

/* Sets the process-wide log threshold and destination. cb NULL: stderr. Thread-safe, but
 * meant to be called once at start-up, before any client, stream or service is made. */
BIMHUB_API void bimhub_set_log(enum bimhub_log_level threshold, bimhub_log_cb cb, void *arg);

/* Lenient readers of S-objects (BIMserver reads scalars leniently too). obj may be NULL or
 * not an object. bimhub_json_int: an integer, a real (truncated), a numeric string or a
 * boolean under key, else dflt. bimhub_json_str: the string under key (borrowed from obj,
 * valid while obj lives), else NULL. */
BIMHUB_API int64_t bimhub_json_int(const json_t *obj, const char *key, int64_t dflt);
BIMHUB_API const char *bimhub_json_str(const json_t *obj, const char *key);

#ifdef __cplusplus
}
#endif

#endif
