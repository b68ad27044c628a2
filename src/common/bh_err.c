/* bh_err.c: text, HTTP status and WebSocket close code of each error, from one list. */
#include "common/bh_err.h"

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
