/* iface_admin.c: AdminInterface (spec §4.2): server info, version and first setup. */
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

/* The BIMserver release whose method tables and S-objects bimhub follows (its interfaces
 * are those of 1.6.0 too). Clients compare these numbers, not bimhub's own version: the
 * Python client reads method parameters only from 1.5.183 on, comparing each number on its
 * own, so 1.6.0 would fail it. */
#define ADMIN_API_MAJOR 1
#define ADMIN_API_MINOR 5
#define ADMIN_API_REVISION 188
#define ADMIN_STR2(x) #x
#define ADMIN_STR(x) ADMIN_STR2(x)
/* fullString as BIMserver writes it (a Maven version, so 1.5.188 still parses from it) with
 * bimhub's own version as its qualifier, for clients that show it */
#define ADMIN_FULL_STRING                                                                          \
  ADMIN_STR(ADMIN_API_MAJOR)                                                                       \
  "." ADMIN_STR(ADMIN_API_MINOR) "." ADMIN_STR(ADMIN_API_REVISION) "-bimhub-" BH_VERSION

static json_t *admin_version(void)
{
  json_t *v = sobj_version();
  if (v) {
    json_object_set_new(v, "fullString", json_string(ADMIN_FULL_STRING));
    json_object_set_new(v, "major", json_integer(ADMIN_API_MAJOR));
    json_object_set_new(v, "minor", json_integer(ADMIN_API_MINOR));
    json_object_set_new(v, "revision", json_integer(ADMIN_API_REVISION));
  }
  return v;
}

static enum bh_err admin_get_server_info(struct rpc_call *c)
{
  json_t *info = sobj_server_info(c->m);
  if (info)
    json_object_set_new(info, "version", admin_version());
  return rpc_ok(c, info);
}

static enum bh_err admin_get_version(struct rpc_call *c)
{
  return rpc_ok(c, admin_version());
}

static enum bh_err admin_get_latest_version(struct rpc_call *c)
{
  return BH_OK; /* no online check: null, which is {} on the wire, as BIMserver */
}

static enum bh_err admin_get_server_start_time(struct rpc_call *c)
{
  return rpc_ok(c, json_integer(c->m->start_ms));
}

static enum bh_err admin_setup(struct rpc_call *c)
{
  static const char *const names[] = {"siteAddress",  "serverName", "serverDescription",
                                      "serverIcon",   "adminName",  "adminUsername",
                                      "adminPassword"};
  const char *v[7];
  for (int i = 0; i < 7; i++) {
    enum bh_err rc = rpc_param_string(c, names[i], &v[i]);
    if (rc != BH_OK)
      return rc;
  }
  if (!v[0])
    return bh_fail(&c->why, BH_BADREQUEST, "Site address must start with http:// or https://");
  return model_setup(c->m, v[0], v[1], v[2], v[3], v[4], v[5], v[6], &c->why);
}

static const struct rpc_method admin_methods[] = {
    {"getLatestVersion", RPC_NO_PARAMS, "SVersion", RPC_WHO(ANYONE, NONE), 0,
     admin_get_latest_version, "No online check: always null"},
    {"getServerInfo", RPC_NO_PARAMS, "SServerInfo", RPC_WHO(ANYONE, NONE), RPC_NOT_SETUP_OK,
     admin_get_server_info, "Server state and version; works in every state"},
    {"getServerStartTime", RPC_NO_PARAMS, "Date", RPC_WHO(ANYONE, NONE), 0,
     admin_get_server_start_time, "When this server process started (ms since 1970)"},
    {"getVersion", RPC_NO_PARAMS, "SVersion", RPC_WHO(ANYONE, NONE), RPC_NOT_SETUP_OK,
     admin_get_version,
     "The BIMserver API version served (1.5.188); fullString adds bimhub's own version"},
    {"setup",
     RPC_PARAMS({"siteAddress", "String"}, {"serverName", "String"},
                {"serverDescription", "String"}, {"serverIcon", "String"}, {"adminName", "String"},
                {"adminUsername", "String"}, {"adminPassword", "String"}),
     "void", RPC_WHO(SETUP_ADMIN, NONE), RPC_NOT_SETUP_OK, admin_setup,
     "First setup: settings and the admin user; the server becomes RUNNING"},
};

RPC_IFACE(rpc_iface_admin, "AdminInterface", admin_methods);
