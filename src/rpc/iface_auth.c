/* iface_auth.c: AuthInterface (spec §4.1). */
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "common/bh_time.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

static const char *peer_of(const struct rpc_call *c)
{
  return c->origin ? c->origin->peer_addr : "";
}

/* Past the failed-login limit of the name or the address: refused before any check. */
static enum bh_err too_many(struct rpc_call *c, unsigned wait_s)
{
  return bh_fail(&c->why, BH_AUTH, "Too many failed login attempts, try again in %u s", wait_s);
}

static enum bh_err auth_login(struct rpc_call *c)
{
  const char *username, *password;
  enum bh_err rc = rpc_param_string(c, "username", &username);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "password", &password);
  if (rc != BH_OK)
    return rc;
  /* Counted from here, so parallel requests and the calls of one envelope all count. */
  unsigned wait_s =
      throttle_begin(c->rpc->throttle, username, peer_of(c), bh_now_ms(), &c->delay_ms);
  if (wait_s > 0)
    return too_many(c, wait_s);
  struct user_rec u;
  rc = user_check_login(c->m, username, password, &u, &c->why);
  if (rc != BH_OK) {
    /* Slow the answer, not the server: transport holds this reply for delay_ms. */
    c->delay_ms = throttle_failure(c->rpc->throttle, username, peer_of(c), bh_now_ms());
    return rc;
  }
  throttle_success(c->rpc->throttle, username, peer_of(c));
  /* Expired tokens go here, at a pace set by logins; an index makes it cheap. */
  store_token_purge_expired(c->m->st, bh_now_ms(), NULL);
  char token[TOKEN_TEXT_LEN + 1];
  rc = rpc_issue_token(c->rpc, u.uoid, token);
  if (rc == BH_OK)
    store_user_set_last_seen(c->m->st, u.uoid, bh_now_ms());
  user_rec_clear(&u);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  return rpc_ok(c, json_string(token));
}

static enum bh_err auth_login_user_token(struct rpc_call *c)
{
  const char *token;
  enum bh_err rc = rpc_param_string(c, "token", &token);
  if (rc != BH_OK)
    return rc;
  /* A user token has no name: only its address is counted. */
  unsigned wait_s = throttle_begin(c->rpc->throttle, NULL, peer_of(c), bh_now_ms(), &c->delay_ms);
  if (wait_s > 0)
    return too_many(c, wait_s);
  struct user_rec u;
  if (user_by_user_token(c->m, token, &u) != BH_OK) {
    c->delay_ms = throttle_failure(c->rpc->throttle, NULL, peer_of(c), bh_now_ms());
    rc = bh_fail(&c->why, BH_AUTH, "Invalid token");
    c->why.error_type = "DefaultErrorCode";
    c->why.error_code = 3;
    return rc;
  }
  throttle_success(c->rpc->throttle, NULL, peer_of(c));
  bool usable = u.state == STATE_ACTIVE && u.type != USER_SYSTEM;
  int64_t uoid = u.uoid;
  user_rec_clear(&u);
  if (!usable)
    return bh_fail(&c->why, BH_AUTH, "User account has been deleted");
  char session[TOKEN_TEXT_LEN + 1];
  rc = rpc_issue_token(c->rpc, uoid, session);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "Database error");
  return rpc_ok(c, json_string(session));
}

static enum bh_err auth_logout(struct rpc_call *c)
{
  rpc_forget_token(c->rpc, c->token);
  return BH_OK;
}

static enum bh_err auth_is_logged_in(struct rpc_call *c)
{
  /* BIMserver says true for anonymous sessions too; we say what is true (spec §10). */
  return rpc_ok(c, json_boolean(c->actor.uoid >= 0));
}

static enum bh_err auth_get_access_method(struct rpc_call *c)
{
  return rpc_ok(c, json_string("JSON"));
}

static enum bh_err auth_get_logged_in_user(struct rpc_call *c)
{
  struct user_rec u;
  enum bh_err rc = store_user_get(c->m->st, c->actor.uoid, &u);
  if (rc != BH_OK)
    return bh_fail(&c->why, rc, "User not found");
  json_t *j = sobj_user(c->m, &u);
  user_rec_clear(&u);
  return rpc_ok(c, j);
}

static enum bh_err auth_change_password(struct rpc_call *c)
{
  int64_t uoid;
  const char *old_pw, *new_pw;
  enum bh_err rc = rpc_param_long(c, "uoid", &uoid);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "oldPassword", &old_pw);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "newPassword", &new_pw);
  if (rc != BH_OK)
    return rc;
  /* One's own change keeps the session it came from; an admin's ends every one of the user. */
  const char *keep = uoid == c->actor.uoid ? c->token : NULL;
  rc = user_change_password(c->m, &c->actor, uoid, old_pw, new_pw, keep, &c->why);
  if (rc != BH_OK)
    return rc;
  rpc_end_sessions(c->rpc, uoid, keep, "Session ended: the password was changed");
  return rpc_ok(c, json_true());
}

/* BIMserver mails a reset link. bimhub sends no e-mail, so it says so to everyone, before
 * looking the name up: the answer tells nobody which names exist. */
static enum bh_err auth_request_password_change(struct rpc_call *c)
{
  const char *username, *reset_url;
  enum bh_err rc = rpc_param_string(c, "username", &username);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "resetUrl", &reset_url);
  if (rc != BH_OK)
    return rc;
  return bh_fail(&c->why, BH_STATE,
                 "Error sending email: no mail server is configured on this server; an "
                 "administrator can set a new password with AuthInterface.changePassword");
}

static const struct rpc_method auth_methods[] = {
    {"changePassword",
     RPC_PARAMS({"uoid", "Long"}, {"oldPassword", "String"}, {"newPassword", "String"}), "Boolean",
     RPC_ON(OWNER, USER, "uoid", NONE), 0, auth_change_password, "Changes a user's password"},
    {"getAccessMethod", RPC_NO_PARAMS, "SAccessMethod", RPC_WHO(ANYONE, NONE), 0,
     auth_get_access_method, "How this call reached the server"},
    {"getLoggedInUser", RPC_NO_PARAMS, "SUser", RPC_WHO(USER, OWNER), 0, auth_get_logged_in_user,
     "The user of this session"},
    {"isLoggedIn", RPC_NO_PARAMS, "Boolean", RPC_WHO(ANYONE, NONE), 0, auth_is_logged_in,
     "Whether the call carries a valid token"},
    {"login", RPC_PARAMS({"username", "String"}, {"password", "String"}), "String",
     RPC_WHO(ANYONE, NONE), RPC_NOT_SETUP_OK | RPC_IGNORES_TOKEN, auth_login,
     "Logs in; returns a token"},
    {"loginUserToken", RPC_PARAMS({"token", "String"}), "String", RPC_WHO(ANYONE, NONE),
     RPC_IGNORES_TOKEN, auth_login_user_token, "Logs in with a user's permanent token"},
    {"logout", RPC_NO_PARAMS, "void", RPC_WHO(USER, OWNER), 0, auth_logout,
     "Ends the session of this token"},
    {"requestPasswordChange",
     RPC_PARAMS({"username", "String"}, {"resetUrl", "String"},
                {"includeSiteAddress", "Boolean", true}),
     "void", RPC_WHO(ANYONE, NONE), 0, auth_request_password_change,
     "Refused: bimhub sends no e-mail (an administrator sets a new password)"},
};

RPC_IFACE(rpc_iface_auth, "AuthInterface", auth_methods);
