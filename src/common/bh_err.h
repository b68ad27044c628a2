/* bh_err.h: the only list of error codes. Handlers return one of these; only the edges
 * (rpc/dispatch.c, transport) map them to an exception, an HTTP status or a close code. */
#ifndef BH_ERR_H
#define BH_ERR_H

#define BH_ERRORS(X)                                                                               \
  /* name        http  ws    text                                  */                              \
  X(OK, 200, 1000, "ok")                                                                           \
  X(NOMEM, 503, 1011, "server out of memory")                                                      \
  X(BADREQUEST, 400, 1007, "malformed request")                                                    \
  X(TOOBIG, 413, 1009, "message too large")                                                        \
  X(NOTFOUND, 404, 1008, "not found")                                                              \
  X(EXISTS, 409, 1008, "already exists")                                                           \
  X(DENIED, 403, 1008, "not allowed")                                                              \
  X(AUTH, 401, 1008, "authentication required")                                                    \
  X(STORE, 500, 1011, "storage error")                                                             \
  X(IO, 500, 1011, "input/output error")                                                           \
  X(STATE, 409, 1011, "not possible in the current state")                                         \
  X(CLOSED, 499, 1001, "connection closed")                                                        \
  X(INTERNAL, 500, 1011, "internal error")

enum bh_err {
#define X(name, http, ws, text) BH_##name,
  BH_ERRORS(X)
#undef X
};

const char *bh_err_text(enum bh_err e);

/* Why a call failed, in words a client can show ("Project name must be unique"). The code
 * says whose fault it was; rpc/dispatch.c turns both into an exception object. */
struct bh_why {
  char text[256];
  int error_code;         /* BIMserver errorCode (0: none) */
  const char *error_type; /* "DefaultErrorCode", "DeserializerErrorCode" or NULL */
  const char *exc_type;   /* exception __type override (e.g. "AuthenticationException") or NULL */
};
/* Fills why (may be NULL) and returns code, so a failure is one line: return bh_fail(...). */
enum bh_err bh_fail(struct bh_why *why, enum bh_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int bh_err_http(enum bh_err e);
int bh_err_ws_close(enum bh_err e);

#endif
