/* iface_settings.c: SettingsInterface (spec §4.2): the server settings bimhub keeps. */
#include <stdlib.h>

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
