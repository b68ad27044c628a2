/* iface_settings.c: SettingsInterface (spec §4.2): the server settings bimhub keeps. */
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

/* Setters work for admins, and for anyone while the server is NOT_SETUP. */
static enum bh_err require_admin_or_setup(struct rpc_call *c)
{
  if (model_server_state(c->m) == SERVER_NOT_SETUP || c->actor.type == USER_ADMIN)
    return BH_OK;
  if (c->actor.uoid < 0)
    return bh_fail(&c->why, BH_AUTH, "Authentication required for this call");
  return bh_fail(&c->why, BH_DENIED, "Administrator rights required for this call");
}

static enum bh_err settings_get_server_settings(struct rpc_call *c)
{
  return rpc_ok(c, sobj_server_settings(c->m));
}

static enum bh_err settings_get_site_address(struct rpc_call *c)
{
  char *s = model_site_address(c->m);
  enum bh_err rc = rpc_ok(c, json_string(s ? s : ""));
  free(s);
  return rc;
}

static enum bh_err settings_set_site_address(struct rpc_call *c)
{
  const char *url;
  enum bh_err rc = require_admin_or_setup(c);
  if (rc == BH_OK)
    rc = rpc_param_string(c, "siteAddress", &url);
  return rc == BH_OK ? model_set_site_address(c->m, url, &c->why) : rc;
}

static enum bh_err set_text(struct rpc_call *c, const char *param, const char *setting)
{
  const char *v;
  enum bh_err rc = require_admin_or_setup(c);
  if (rc == BH_OK)
    rc = rpc_param_string(c, param, &v);
  if (rc == BH_OK)
    rc = model_setting_set_text(c->m, setting, v);
  return rc;
}

static enum bh_err settings_get_service_repository_url(struct rpc_call *c)
{
  char *v = model_setting_text(c->m, "serviceRepositoryUrl");
  enum bh_err rc = rpc_ok(c, json_string(v ? v : ""));
  free(v);
  return rc;
}

static enum bh_err settings_set_service_repository_url(struct rpc_call *c)
{
  return set_text(c, "serviceRepositoryUrl", "serviceRepositoryUrl");
}

static enum bh_err set_flag(struct rpc_call *c, const char *param, const char *setting)
{
  bool v;
  enum bh_err rc = require_admin_or_setup(c);
  if (rc == BH_OK)
    rc = rpc_param_bool(c, param, &v);
  if (rc == BH_OK)
    rc = model_setting_set_bool(c->m, setting, v);
  return rc;
}

static enum bh_err get_flag(struct rpc_call *c, const char *setting)
{
  return rpc_ok(c, json_boolean(model_setting_bool(c->m, setting, false)));
}

#define FLAG(get_fn, set_fn, param, setting)                                                       \
  static enum bh_err get_fn(struct rpc_call *c)                                                    \
  {                                                                                                \
    return get_flag(c, setting);                                                                   \
  }                                                                                                \
  static enum bh_err set_fn(struct rpc_call *c)                                                    \
  {                                                                                                \
    return set_flag(c, param, setting);                                                            \
  }

FLAG(is_allow_self_registration, set_allow_self_registration, "allowSelfRegistration",
     "allowSelfRegistration")
FLAG(is_allow_top_level, set_allow_top_level, "allowUsersToCreateTopLevelProjects",
     "allowUsersToCreateTopLevelProjects")
FLAG(is_hide_user_list, set_hide_user_list, "hideUserListForNonAdmin", "hideUserListForNonAdmin")

static enum bh_err set_server_name(struct rpc_call *c)
{
  return set_text(c, "serverName", "name");
}

static enum bh_err set_server_description(struct rpc_call *c)
{
  return set_text(c, "serverDescription", "description");
}

static enum bh_err set_server_icon(struct rpc_call *c)
{
  return set_text(c, "serverIcon", "icon");
}

/* The SServerSettings fields setServerSettings changes: those bimhub acts on. The others
 * must come back as getServerSettings gave them (BIMvie.ws sends the whole form). */
static const struct {
  const char *field;
  bool flag; /* a Boolean; else a String */
} settable[] = {
    {"allowSelfRegistration", true},
    {"allowUsersToCreateTopLevelProjects", true},
    {"hideUserListForNonAdmin", true},
    {"serviceRepositoryUrl", false},
    {"siteAddress", false},
    {"name", false},
    {"description", false},
    {"icon", false},
};

static int settable_index(const char *field)
{
  for (size_t i = 0; i < sizeof settable / sizeof settable[0]; i++)
    if (strcmp(settable[i].field, field) == 0)
      return (int)i;
  return -1;
}

static bool blank(json_t *v)
{
  return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ||
         (json_is_array(v) && json_array_size(v) == 0);
}

/* Whether a field's value is the one bimhub reports, read as leniently as parameters
 * (form inputs send "25" for 25, "" for null); null leaves a field as it is. */
static bool same_value(json_t *given, json_t *current)
{
  if (json_is_null(given))
    return true; /* not given: unchanged (an empty select in a form) */
  if (blank(given) || blank(current))
    return blank(given) && blank(current);
  if (json_is_boolean(current)) {
    bool b;
    return rpc_json_bool(given, &b) && b == json_is_true(current);
  }
  if (json_is_integer(current)) {
    int64_t n;
    return rpc_json_long(given, &n) && n == json_integer_value(current);
  }
  return json_equal(given, current);
}

/* Why a field other than the settable ones cannot change here. */
static const char *fixed_reason(const char *field)
{
  if (strcmp(field, "sessionTimeOutSeconds") == 0)
    return "it is the token_lifetime_s option of bimhub's configuration";
  if (strncmp(field, "smtp", 4) == 0 || strncmp(field, "email", 5) == 0 ||
      strncmp(field, "send", 4) == 0)
    return "bimhub sends no e-mail";
  return "bimhub has no such feature";
}

static enum bh_err apply_server_settings(struct rpc_call *c, json_t *o, json_t *current)
{
  const char *key;
  json_t *v;
  enum bh_err rc = BH_OK;
  json_object_foreach(o, key, v)
  {
    int i = settable_index(key);
    if (i < 0 || json_is_null(v))
      continue;
    json_t *cur = json_object_get(current, key);
    if (settable[i].flag) {
      bool b;
      rpc_json_bool(v, &b);
      rc = model_setting_set_bool(c->m, key, b);
    } else if (same_value(v, cur)) {
      continue;
    } else if (strcmp(key, "siteAddress") == 0) {
      rc = model_set_site_address(c->m, json_string_value(v), &c->why);
    } else {
      rc = model_setting_set_text(c->m, key, json_string_value(v));
    }
    if (rc != BH_OK)
      return c->why.text[0] ? rc : bh_fail(&c->why, rc, "Database error");
  }
  return BH_OK;
}

static enum bh_err settings_set_server_settings(struct rpc_call *c)
{
  json_t *o;
  enum bh_err rc = rpc_param_object(c, "serverSettings", &o);
  if (rc != BH_OK)
    return rc;
  if (!o)
    return bh_fail(&c->why, BH_BADREQUEST, "serverSettings must not be null");
  json_t *current = sobj_server_settings(c->m);
  if (!current)
    return bh_fail(&c->why, BH_NOMEM, "Out of memory");
  /* Everything is checked before anything changes. */
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v)
  {
    if (strcmp(key, "__type") == 0 || strcmp(key, "oid") == 0 || strcmp(key, "rid") == 0 ||
        strcmp(key, "uuid") == 0)
      continue;
    json_t *cur = json_object_get(current, key);
    int i = settable_index(key);
    bool b;
    if (!cur && i < 0)
      rc = bh_fail(&c->why, BH_BADREQUEST, "SServerSettings has no field %s", key);
    else if (i >= 0 && settable[i].flag && !json_is_null(v) && !rpc_json_bool(v, &b))
      rc = bh_fail(&c->why, BH_BADREQUEST, "%s must be a Boolean", key);
    else if (i >= 0 && !settable[i].flag && !json_is_null(v) && !json_is_string(v))
      rc = bh_fail(&c->why, BH_BADREQUEST, "%s must be a String", key);
    else if (i < 0 && !same_value(v, cur))
      rc = bh_fail(&c->why, BH_BADREQUEST, "%s cannot be changed on this server: %s", key,
                   fixed_reason(key));
    if (rc != BH_OK)
      break;
  }
  if (rc == BH_OK && (rc = store_begin(c->m->st)) != BH_OK)
    bh_fail(&c->why, rc, "Database error");
  if (rc == BH_OK) {
    rc = apply_server_settings(c, o, current);
    if (rc == BH_OK && (rc = store_commit(c->m->st)) != BH_OK)
      bh_fail(&c->why, rc, "Database error");
    if (rc != BH_OK)
      store_rollback(c->m->st);
  }
  json_decref(current);
  return rc;
}

/* bimhub never merges check-ins: each is a revision of its own. */
static enum bh_err settings_is_checkin_merging_enabled(struct rpc_call *c)
{
  return rpc_ok(c, json_false());
}

static const struct rpc_method settings_methods[] = {
    {"getServerSettings", RPC_NO_PARAMS, "SServerSettings", RPC_WHO(ADMIN, NONE), 0,
     settings_get_server_settings, "All server settings (secrets left out)"},
    {"getServiceRepositoryUrl", RPC_NO_PARAMS, "String", RPC_WHO(USER, NONE), 0,
     settings_get_service_repository_url,
     "Where getAllServiceDescriptors reads <url>/services.json (empty: nowhere)"},
    {"getSiteAddress", RPC_NO_PARAMS, "String", RPC_WHO(ADMIN, NONE), 0, settings_get_site_address,
     "The site address, given to services as apiUrl"},
    {"isAllowSelfRegistration", RPC_NO_PARAMS, "Boolean", RPC_WHO(ANYONE, NONE), 0,
     is_allow_self_registration, "Whether anyone may register"},
    {"isAllowUsersToCreateTopLevelProjects", RPC_NO_PARAMS, "Boolean", RPC_WHO(ANYONE, NONE), 0,
     is_allow_top_level, "Whether non-admins may create top-level projects"},
    {"isCheckinMergingEnabled", RPC_NO_PARAMS, "Boolean", RPC_WHO(USER, NONE), 0,
     settings_is_checkin_merging_enabled, "Always false: bimhub does not merge check-ins"},
    {"isHideUserListForNonAdmin", RPC_NO_PARAMS, "Boolean", RPC_WHO(ANYONE, NONE), 0,
     is_hide_user_list, "Whether only admins see the user list"},
    {"setAllowSelfRegistration", RPC_PARAMS({"allowSelfRegistration", "Boolean"}), "void",
     RPC_WHO(SETUP_ADMIN, NONE), RPC_NOT_SETUP_OK, set_allow_self_registration,
     "Admin only once set up"},
    {"setAllowUsersToCreateTopLevelProjects",
     RPC_PARAMS({"allowUsersToCreateTopLevelProjects", "Boolean"}), "void",
     RPC_WHO(SETUP_ADMIN, NONE), RPC_NOT_SETUP_OK, set_allow_top_level, "Admin only once set up"},
    {"setHideUserListForNonAdmin", RPC_PARAMS({"hideUserListForNonAdmin", "Boolean"}), "void",
     RPC_WHO(SETUP_ADMIN, NONE), RPC_NOT_SETUP_OK, set_hide_user_list, "Admin only once set up"},
    {"setServerDescription", RPC_PARAMS({"serverDescription", "String"}), "void",
     RPC_WHO(SETUP_ADMIN, NONE), RPC_NOT_SETUP_OK, set_server_description,
     "Admin only once set up"},
    {"setServerSettings", RPC_PARAMS({"serverSettings", "SServerSettings"}), "void",
     RPC_WHO(SETUP_ADMIN, NONE), RPC_NOT_SETUP_OK, settings_set_server_settings,
     "Changes the settings bimhub acts on; the others must stay as getServerSettings gives them"},
    {"setServerIcon", RPC_PARAMS({"serverIcon", "String"}), "void", RPC_WHO(SETUP_ADMIN, NONE),
     RPC_NOT_SETUP_OK, set_server_icon, "Admin only once set up"},
    {"setServerName", RPC_PARAMS({"serverName", "String"}), "void", RPC_WHO(SETUP_ADMIN, NONE),
     RPC_NOT_SETUP_OK, set_server_name, "Admin only once set up"},
    {"setServiceRepositoryUrl", RPC_PARAMS({"serviceRepositoryUrl", "String"}), "void",
     RPC_WHO(SETUP_ADMIN, NONE), RPC_NOT_SETUP_OK, settings_set_service_repository_url,
     "Admin only once set up"},
    {"setSiteAddress", RPC_PARAMS({"siteAddress", "String"}), "void", RPC_WHO(SETUP_ADMIN, NONE),
     RPC_NOT_SETUP_OK, settings_set_site_address, "Admin only once set up"},
};

RPC_IFACE(rpc_iface_settings, "SettingsInterface", settings_methods);
