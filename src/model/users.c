/* users.c: adding users, checking logins and passwords, and who may see which user. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "auth/token.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "model/events.h"
#include "model/model.h"

static const char *const user_type_names[] = {"SYSTEM", "ADMIN", "USER", "READ_ONLY", "MONITOR"};

bool user_type_parse(const char *s, enum user_type *out)
{
  for (int i = 0; i < 5; i++) {
    if (s && strcmp(s, user_type_names[i]) == 0) {
      *out = (enum user_type)i;
      return true;
    }
  }
  return false;
}

const char *user_type_name(enum user_type t)
{
  return (unsigned)t < 5 ? user_type_names[t] : "USER";
}

/* An e-mail address of the plain kind (local@domain.tld), or BIMserver's special names. */
bool user_is_valid_username(const char *u)
{
  if (!u)
    return false;
  if (strcmp(u, "test") == 0 || strcmp(u, "system") == 0)
    return true;
  const char *at = strchr(u, '@');
  if (!at || at == u || strchr(at + 1, '@'))
    return false;
  const char *dot = strrchr(at + 1, '.');
  if (!dot || dot == at + 1 || dot[1] == '\0')
    return false;
  for (const char *p = u; *p; p++)
    if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
      return false;
  return strlen(u) <= 254;
}

static char *trimmed_lower(const char *s)
{
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  for (size_t i = 0; i < n; i++)
    out[i] = (char)tolower((unsigned char)s[i]);
  out[n] = '\0';
  return out;
}

enum bh_err user_create(struct model *m, const struct actor *who, const char *username,
                        const char *password, const char *name, enum user_type type,
                        bool self_registration, struct user_rec *out, struct bh_why *why)
{
  memset(out, 0, sizeof *out);
  bool by_admin = who->type == USER_ADMIN || who->type == USER_SYSTEM;
  if (!by_admin) {
    /* Unlike BIMserver, only admins add users; self-registration when the server allows
     * it, and never of an admin. */
    if (!self_registration || !model_setting_bool(m, "allowSelfRegistration", false))
      return bh_fail(why, BH_DENIED, "Administrator rights required for this call");
    if (type == USER_ADMIN || type == USER_SYSTEM)
      return bh_fail(why, BH_DENIED, "Cannot create admin user with self registration");
  }
  if (type == USER_SYSTEM)
    return bh_fail(why, BH_BADREQUEST, "Cannot create system users");
  if (!username)
    return bh_fail(why, BH_BADREQUEST, "Invalid username");
  char *uname = trimmed_lower(username);
  if (!uname)
    return BH_NOMEM;
  if (!user_is_valid_username(uname)) {
    free(uname);
    return bh_fail(why, BH_BADREQUEST, "Username must be a valid e-mail address");
  }
  if (password && strlen(password) < 1) {
    free(uname);
    return bh_fail(why, BH_BADREQUEST, "Password cannot be empty");
  }
  char hash[PASSWORD_HASH_MAX];
  if (password && password_hash(password, (uint64_t)m->cfg->argon2_ops_limit,
                                (size_t)m->cfg->argon2_mem_limit_kib * 1024, hash) != BH_OK) {
    free(uname);
    return bh_fail(why, BH_NOMEM, "Out of memory hashing the password");
  }
  /* The permanent user token: only its hash is kept (nothing gives the token out). */
  unsigned char user_token_hash[32];
  token_new_hash(user_token_hash);

  enum bh_err rc = store_begin(m->st);
  if (rc != BH_OK) {
    free(uname);
    return bh_fail(why, rc, "Database error");
  }
  struct user_rec existing;
  if (store_user_by_name(m->st, uname, &existing) == BH_OK) {
    user_rec_clear(&existing);
    store_rollback(m->st);
    rc = bh_fail(why, BH_EXISTS, "A user with the username %s already exists", uname);
    free(uname);
    return rc;
  }
  struct user_rec u = {.username = uname,
                       .name = (char *)(name ? name : ""),
                       .type = type,
                       .state = STATE_ACTIVE,
                       .created_ms = bh_now_ms(),
                       .created_by = who->uoid,
                       .password_hash = password ? hash : NULL};
  memcpy(u.user_token_hash, user_token_hash, sizeof u.user_token_hash);
  rc = store_next_oid(m->st, &u.uoid);
  if (rc == BH_OK)
    rc = store_user_add(m->st, &u);
  if (rc != BH_OK) {
    store_rollback(m->st);
    free(uname);
    return bh_fail(why, rc, "Database error");
  }
  rc = store_commit(m->st);
  free(uname);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  rc = store_user_get(m->st, u.uoid, out);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  struct event e = {.type = EV_NEW_USER,
                    .uoid = u.uoid,
                    .poid = -1,
                    .actor_uoid = who->uoid,
                    .roid = -1,
                    .edid = -1,
                    .topic_id = -1,
                    .service_oid = -1};
  events_publish(m->ev, &e);
  return BH_OK;
}

enum bh_err user_check_login(struct model *m, const char *username, const char *password,
                             struct user_rec *out, struct bh_why *why)
{
  memset(out, 0, sizeof *out);
  char *uname = trimmed_lower(username ? username : "");
  if (!uname)
    return BH_NOMEM;
  enum bh_err rc = store_user_by_name(m->st, uname, out);
  free(uname);
  if (rc == BH_NOTFOUND) {
    /* Spend the same time as a real check, so timing does not tell which names exist. */
    password_verify("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$0000000000000000000000",
                    password ? password : "");
    return bh_fail(why, BH_AUTH, "Invalid username/password combination");
  }
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  if (out->type == USER_SYSTEM) {
    user_rec_clear(out);
    return bh_fail(why, BH_AUTH, "System user cannot login");
  }
  if (out->state == STATE_DELETED) {
    user_rec_clear(out);
    return bh_fail(why, BH_AUTH, "User account has been deleted");
  }
  if (!out->password_hash) {
    user_rec_clear(out);
    return bh_fail(why, BH_AUTH, "Your email address has not been validated yet");
  }
  if (!password_verify(out->password_hash, password ? password : "")) {
    user_rec_clear(out);
    return bh_fail(why, BH_AUTH, "Invalid username/password combination");
  }
  return BH_OK;
}

enum bh_err user_change_password(struct model *m, const struct actor *who, int64_t uoid,
                                 const char *old_password, const char *new_password,
                                 const char *keep_token, struct bh_why *why)
{
  if (who->uoid != uoid && who->type != USER_ADMIN)
    return bh_fail(why, BH_DENIED, "Insufficient rights to change the password of this user");
  struct user_rec u;
  enum bh_err rc = store_user_get(m->st, uoid, &u);
  if (rc != BH_OK)
    return bh_fail(why, rc == BH_NOTFOUND ? BH_NOTFOUND : rc, "User with oid %lld not found",
                   (long long)uoid);
  bool ok = password_verify(u.password_hash, old_password ? old_password : "");
  user_rec_clear(&u);
  if (!ok)
    return bh_fail(why, BH_DENIED, "Old password does not match user's password");
  if (!new_password || !*new_password)
    return bh_fail(why, BH_BADREQUEST, "Password cannot be empty");
  char hash[PASSWORD_HASH_MAX];
  if (password_hash(new_password, (uint64_t)m->cfg->argon2_ops_limit,
                    (size_t)m->cfg->argon2_mem_limit_kib * 1024, hash) != BH_OK)
    return bh_fail(why, BH_NOMEM, "Out of memory hashing the password");
  /* A new user token too: one read from an old copy of the database is useless. */
  unsigned char user_token_hash[32], keep[32];
  token_new_hash(user_token_hash);
  bool keeps = keep_token && token_hash(keep_token, keep);
  rc = store_begin(m->st);
  if (rc == BH_OK) {
    rc = store_user_set_password(m->st, uoid, hash, user_token_hash);
    if (rc == BH_OK)
      rc = store_token_delete_user(m->st, uoid, keeps ? keep : NULL, NULL);
    if (rc == BH_OK)
      rc = store_commit(m->st);
    else
      store_rollback(m->st);
  }
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "Database error");
}

enum bh_err user_by_user_token(struct model *m, const char *token, struct user_rec *out)
{
  unsigned char h[32];
  memset(out, 0, sizeof *out);
  if (!token_hash(token, h))
    return BH_NOTFOUND;
  return store_user_by_token(m->st, h, out);
}

static bool hide_users(struct model *m, const struct actor *who)
{
  return who->type != USER_ADMIN && model_setting_bool(m, "hideUserListForNonAdmin", false);
}

enum bh_err user_get_visible(struct model *m, const struct actor *who, int64_t uoid,
                             struct user_rec *out, struct bh_why *why)
{
  if (hide_users(m, who) && who->uoid != uoid)
    return bh_fail(why, BH_DENIED, "No rights to see this user");
  enum bh_err rc = store_user_get(m->st, uoid, out);
  if (rc == BH_NOTFOUND)
    return bh_fail(why, rc, "User with oid %lld not found", (long long)uoid);
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "Database error");
}

enum bh_err user_by_name_visible(struct model *m, const struct actor *who, const char *username,
                                 struct user_rec *out, struct bh_why *why)
{
  char *uname = trimmed_lower(username ? username : "");
  if (!uname)
    return BH_NOMEM;
  enum bh_err rc = store_user_by_name(m->st, uname, out);
  if (rc == BH_OK && hide_users(m, who) && out->uoid != who->uoid) {
    user_rec_clear(out);
    rc = BH_NOTFOUND;
  }
  if (rc == BH_NOTFOUND)
    rc = bh_fail(why, rc, "User with username \"%s\" not found", username ? username : "");
  else if (rc != BH_OK)
    rc = bh_fail(why, rc, "Database error");
  free(uname);
  return rc;
}

enum bh_err user_list_visible(struct model *m, const struct actor *who, struct user_list *out,
                              struct bh_why *why)
{
  if (hide_users(m, who))
    return bh_fail(why, BH_DENIED, "Administrator rights required for this call");
  enum bh_err rc = store_user_list(m->st, out);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  /* The system user is internal; BIMserver lists only real users. */
  size_t k = 0;
  for (size_t i = 0; i < out->n; i++) {
    if (out->v[i].type == USER_SYSTEM)
      user_rec_clear(&out->v[i]);
    else
      out->v[k++] = out->v[i];
  }
  out->n = k;
  return BH_OK;
}

/* Active administrators other than except_uoid. */
static bool other_admin_exists(struct model *m, int64_t except_uoid)
{
  struct user_list l;
  if (store_user_list(m->st, &l) != BH_OK)
    return true; /* cannot tell: the store refuses the change anyway */
  bool found = false;
  for (size_t i = 0; !found && i < l.n; i++)
    found = l.v[i].uoid != except_uoid && l.v[i].type == USER_ADMIN && l.v[i].state == STATE_ACTIVE;
  user_list_clear(&l);
  return found;
}

enum bh_err user_change_type(struct model *m, const struct actor *who, int64_t uoid,
                             enum user_type type, struct bh_why *why)
{
  if (who->type != USER_ADMIN || who->is_service)
    return bh_fail(why, BH_DENIED, "Only admin users can change other user's types");
  if (type == USER_SYSTEM)
    return bh_fail(why, BH_BADREQUEST, "No user can be made a system user");
  enum bh_err rc = store_begin(m->st);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  struct user_rec u;
  rc = store_user_get(m->st, uoid, &u);
  if (rc != BH_OK) {
    store_rollback(m->st);
    return rc == BH_NOTFOUND ? bh_fail(why, rc, "User with oid %lld not found", (long long)uoid)
                             : bh_fail(why, rc, "Database error");
  }
  bool system = u.type == USER_SYSTEM;
  bool last_admin = u.type == USER_ADMIN && u.state == STATE_ACTIVE && type != USER_ADMIN &&
                    !other_admin_exists(m, uoid);
  user_rec_clear(&u);
  if (system || last_admin) {
    store_rollback(m->st);
    /* with no active administrator left nobody could manage the server again */
    return system ? bh_fail(why, BH_DENIED, "Type of system user cannot be changed")
                  : bh_fail(why, BH_DENIED, "The last administrator must stay an administrator");
  }
  rc = store_user_set_type(m->st, uoid, type);
  if (rc == BH_OK)
    rc = store_commit(m->st);
  else
    store_rollback(m->st);
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "Database error");
}

enum bh_err user_set_deleted(struct model *m, const struct actor *who, int64_t uoid, bool deleted,
                             struct bh_why *why)
{
  if (who->type != USER_ADMIN || who->is_service)
    return bh_fail(why, BH_DENIED,
                   deleted ? "Only administrators can delete users accounts"
                           : "Only administrators can undelete users");
  enum bh_err rc = store_begin(m->st);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  struct user_rec u;
  rc = store_user_get(m->st, uoid, &u);
  if (rc != BH_OK) {
    store_rollback(m->st);
    return rc == BH_NOTFOUND ? bh_fail(why, rc, "User with oid %lld not found", (long long)uoid)
                             : bh_fail(why, rc, "Database error");
  }
  bool system = u.type == USER_SYSTEM;
  bool last_admin =
      deleted && u.type == USER_ADMIN && u.state == STATE_ACTIVE && !other_admin_exists(m, uoid);
  user_rec_clear(&u);
  if (system || last_admin) {
    store_rollback(m->st);
    return system ? bh_fail(why, BH_DENIED, "System user cannot be deleted")
                  : bh_fail(why, BH_DENIED, "The last administrator cannot be deleted");
  }
  rc = store_user_set_state(m->st, uoid, deleted ? STATE_DELETED : STATE_ACTIVE);
  if (rc == BH_OK)
    rc = store_commit(m->st);
  else
    store_rollback(m->st);
  return rc == BH_OK ? BH_OK : bh_fail(why, rc, "Database error");
}
