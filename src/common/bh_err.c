/* bh_err.c: text, HTTP status and WebSocket close code of each error, from one list. */
#include "common/bh_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *text;
  int http;
  int ws;
} bh_err_table[] = {
#define X(name, http, ws, text) {text, http, ws},
    BH_ERRORS(X)
#undef X
};

#define BH_ERR_COUNT (sizeof bh_err_table / sizeof bh_err_table[0])

const char *bh_err_text(enum bh_err e)
{
  return (unsigned)e < BH_ERR_COUNT ? bh_err_table[e].text : "unknown error";
}

int bh_err_http(enum bh_err e)
{
  return (unsigned)e < BH_ERR_COUNT ? bh_err_table[e].http : 500;
}

int bh_err_ws_close(enum bh_err e)
{
  return (unsigned)e < BH_ERR_COUNT ? bh_err_table[e].ws : 1011;
}

enum bh_err bh_fail(struct bh_why *why, enum bh_err code, const char *fmt, ...)
{
  if (why) {
    memset(why, 0, sizeof *why);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->text, sizeof why->text, fmt, ap);
    va_end(ap);
  }
  return code;
}
