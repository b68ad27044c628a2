/* iface_plugin.c: PluginInterface, the serializer and deserializer part (spec §4.5). */
#include <string.h>

#include "model/plugins.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

/* The caller's configurations of one kind that accept one of schemas (NULL: any). */
static enum bh_err list(struct rpc_call *c, bool serializers, const char *const *schemas,
                        size_t nschemas)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < plugin_def_count; i++) {
    const struct plugin_def *p = &plugin_defs[i];
    if (p->is_serializer != serializers)
      continue;
    bool ok = schemas == NULL;
    for (size_t k = 0; !ok && k < nschemas; k++)
      ok = plugin_supports_schema(p, schemas[k]);
    if (ok)
      json_array_append_new(a, sobj_plugin_config(c->m, c->actor.uoid, p));
  }
  return rpc_ok(c, a);
}

static enum bh_err plg_get_all_serializers(struct rpc_call *c)
{
  bool only_enabled;
  enum bh_err rc = rpc_param_bool(c, "onlyEnabled", &only_enabled);
  return rc == BH_OK ? list(c, true, NULL, 0) : rc; /* every configuration is enabled */
}

static enum bh_err plg_get_all_deserializers(struct rpc_call *c)
{
  bool only_enabled;
  enum bh_err rc = rpc_param_bool(c, "onlyEnabled", &only_enabled);
  return rc == BH_OK ? list(c, false, NULL, 0) : rc;
}

static enum bh_err plg_get_all_deserializers_for_project(struct rpc_call *c)
{
  bool only_enabled;
  int64_t poid;
  struct project_rec p;
  enum bh_err rc = rpc_param_bool(c, "onlyEnabled", &only_enabled);
  if (rc == BH_OK)
    rc = rpc_param_long(c, "poid", &poid);
  if (rc == BH_OK)
    rc = project_get_readable(c->m, &c->actor, poid, &p, &c->why);
  if (rc != BH_OK)
    return rc;
  const char *schema = p.schema;
  rc = list(c, false, &schema, 1);
  project_rec_clear(&p);
  return rc;
}

/* Serializers for the schemas of several projects or revisions (those the caller reads). */
static enum bh_err for_ids(struct rpc_call *c, const char *param, bool revisions)
{
  bool only_enabled;
  enum bh_err rc = rpc_param_bool(c, "onlyEnabled", &only_enabled);
  json_t *ids = json_object_get(c->params, param);
  if (rc != BH_OK)
    return rc;
  if (!json_is_array(ids))
    return bh_fail(&c->why, BH_BADREQUEST, "%s must be a list of ids", param);
  const char *schemas[3];
  static const char *const known[] = {"ifc2x3tc1", "ifc4", "ifc4x3"};
  size_t n = 0;
  size_t i;
  json_t *v;
  json_array_foreach(ids, i, v)
  {
    int64_t id;
    if (!rpc_json_long(v, &id))
      return bh_fail(&c->why, BH_BADREQUEST, "%s must be a list of ids", param);
    char schema[16] = "";
    if (revisions) {
      struct revision_rec r;
      if ((rc = revision_get_readable(c->m, &c->actor, id, &r, &c->why)) != BH_OK)
        return rc;
      snprintf(schema, sizeof schema, "%s", r.schema);
      revision_rec_clear(&r);
    } else {
      struct project_rec p;
      if ((rc = project_get_readable(c->m, &c->actor, id, &p, &c->why)) != BH_OK)
        return rc;
      snprintf(schema, sizeof schema, "%s", p.schema);
      project_rec_clear(&p);
    }
    for (size_t k = 0; k < 3; k++) {
      bool seen = false;
      for (size_t j = 0; j < n; j++)
        seen = seen || strcmp(schemas[j], known[k]) == 0;
      if (!seen && strcmp(schema, known[k]) == 0)
        schemas[n++] = known[k];
    }
  }
  return list(c, true, schemas, n);
}

static enum bh_err plg_get_all_serializers_for_poids(struct rpc_call *c)
{
  return for_ids(c, "poids", false);
}

static enum bh_err plg_get_all_serializers_for_roids(struct rpc_call *c)
{
  return for_ids(c, "roids", true);
}

static enum bh_err plg_get_default_serializer(struct rpc_call *c)
{
  for (size_t i = 0; i < plugin_def_count; i++)
    if (plugin_defs[i].is_serializer)
      return rpc_ok(c, sobj_plugin_config(c->m, c->actor.uoid, &plugin_defs[i]));
  return BH_OK;
}

static enum bh_err plg_get_serializer_by_plugin_class_name(struct rpc_call *c)
{
  const char *cls;
  enum bh_err rc = rpc_param_string(c, "pluginClassName", &cls);
  if (rc != BH_OK)
    return rc;
  const struct plugin_def *p = plugin_by_class(cls);
  if (!p || !p->is_serializer)
    return bh_fail(&c->why, BH_NOTFOUND, "No plugin found with classname %s", cls ? cls : "null");
  return rpc_ok(c, sobj_plugin_config(c->m, c->actor.uoid, p));
}

static enum bh_err plg_has_active_serializer(struct rpc_call *c)
{
  const char *ct;
  enum bh_err rc = rpc_param_string(c, "contentType", &ct);
  if (rc != BH_OK)
    return rc;
  bool has = false;
  for (size_t i = 0; ct && i < plugin_def_count; i++)
    has = has || (plugin_defs[i].is_serializer && strcmp(plugin_defs[i].content_type, ct) == 0);
  return rpc_ok(c, json_boolean(has));
}

static enum bh_err plg_get_plugin_descriptor(struct rpc_call *c)
{
  int64_t oid;
  enum bh_err rc = rpc_param_long(c, "oid", &oid);
  if (rc != BH_OK)
    return rc;
  const struct plugin_def *p = oid == -1 ? NULL : plugin_of_descriptor(c->m, oid);
  return p ? rpc_ok(c, sobj_plugin_descriptor(c->m, p)) : BH_OK; /* unknown: null */
}

/* Plugin kinds bimhub has none of (render and query engines, model mergers and compares,
 * internal services):
 * each listing is empty and no default exists (null), as on a BIMserver without them. */
static enum bh_err plg_none_configured(struct rpc_call *c)
{
  bool only_enabled;
  enum bh_err rc = rpc_param_bool(c, "onlyEnabled", &only_enabled);
  return rc == BH_OK ? rpc_ok(c, json_array()) : rc;
}

static enum bh_err plg_no_descriptors(struct rpc_call *c)
{
  return rpc_ok(c, json_array());
}

static enum bh_err plg_no_default(struct rpc_call *c)
{
  (void)c;
  return BH_OK; /* null */
}

static const struct rpc_method plugin_methods[] = {
    {"getAllDeserializers", RPC_PARAMS({"onlyEnabled", "Boolean"}),
     "List<SDeserializerPluginConfiguration>", RPC_WHO(USER, NONE), 0, plg_get_all_deserializers,
     "The caller's deserializers"},
    {"getAllDeserializersForProject", RPC_PARAMS({"onlyEnabled", "Boolean"}, {"poid", "Long"}),
     "List<SDeserializerPluginConfiguration>", RPC_ON(PROJECT_READ, PROJECT, "poid", NONE), 0,
     plg_get_all_deserializers_for_project, "Deserializers that read the project's schema"},
    {"getAllInternalServices", RPC_PARAMS({"onlyEnabled", "Boolean"}),
     "List<SInternalServicePluginConfiguration>", RPC_WHO(USER, NONE), 0, plg_none_configured,
     "Always empty: bimhub runs no internal services"},
    {"getAllModelCompares", RPC_PARAMS({"onlyEnabled", "Boolean"}),
     "List<SModelComparePluginConfiguration>", RPC_WHO(USER, NONE), 0, plg_none_configured,
     "Always empty: bimhub has no model compare plugins"},
    {"getAllModelMergers", RPC_PARAMS({"onlyEnabled", "Boolean"}),
     "List<SModelMergerPluginConfiguration>", RPC_WHO(USER, NONE), 0, plg_none_configured,
     "Always empty: bimhub has no model merger plugins"},
    {"getAllQueryEngines", RPC_PARAMS({"onlyEnabled", "Boolean"}),
     "List<SQueryEnginePluginConfiguration>", RPC_WHO(USER, NONE), 0, plg_none_configured,
     "Always empty: bimhub has no query engine plugins"},
    {"getAllRenderEnginePluginDescriptors", RPC_NO_PARAMS, "List<SPluginDescriptor>",
     RPC_WHO(USER, NONE), 0, plg_no_descriptors, "Always empty: bimhub has no render engines"},
    {"getAllRenderEngines", RPC_PARAMS({"onlyEnabled", "Boolean"}),
     "List<SRenderEnginePluginConfiguration>", RPC_WHO(USER, NONE), 0, plg_none_configured,
     "Always empty: bimhub has no render engines (no geometry)"},
    {"getAllSerializers", RPC_PARAMS({"onlyEnabled", "Boolean"}),
     "List<SSerializerPluginConfiguration>", RPC_WHO(USER, NONE), 0, plg_get_all_serializers,
     "The caller's serializers"},
    {"getAllSerializersForPoids", RPC_PARAMS({"onlyEnabled", "Boolean"}, {"poids", "Set<Long>"}),
     "List<SSerializerPluginConfiguration>", RPC_ON(PROJECT_READ, PROJECT, "poids", NONE), 0,
     plg_get_all_serializers_for_poids, "Serializers for the projects' schemas"},
    {"getAllSerializersForRoids", RPC_PARAMS({"onlyEnabled", "Boolean"}, {"roids", "Set<Long>"}),
     "List<SSerializerPluginConfiguration>", RPC_ON(PROJECT_READ, REVISION, "roids", NONE), 0,
     plg_get_all_serializers_for_roids, "Serializers for the revisions' schemas"},
    {"getDefaultRenderEnginePluginDescriptor", RPC_NO_PARAMS, "SPluginDescriptor",
     RPC_WHO(USER, NONE), 0, plg_no_default, "Always null: bimhub has no render engines"},
    {"getDefaultSerializer", RPC_NO_PARAMS, "SSerializerPluginConfiguration", RPC_WHO(USER, NONE),
     0, plg_get_default_serializer, "The serializer used when none is named"},
    {"getMessagingSerializerByPluginClassName", RPC_PARAMS({"pluginClassName", "String"}),
     "SSerializerPluginConfiguration", RPC_WHO(USER, OWNER), 0,
     plg_get_serializer_by_plugin_class_name,
     "Alias of getSerializerByPluginClassName (removed from BIMserver, still used by JS)"},
    {"getPluginDescriptor", RPC_PARAMS({"oid", "Long"}), "SPluginDescriptor", RPC_WHO(USER, OWNER),
     0, plg_get_plugin_descriptor, "The descriptor of a plugin, or null"},
    {"getSerializerByPluginClassName", RPC_PARAMS({"pluginClassName", "String"}),
     "SSerializerPluginConfiguration", RPC_WHO(USER, OWNER), 0,
     plg_get_serializer_by_plugin_class_name, "The caller's configuration of a serializer plugin"},
    {"hasActiveSerializer", RPC_PARAMS({"contentType", "String"}), "Boolean", RPC_WHO(USER, NONE),
     0, plg_has_active_serializer, "Whether a serializer makes that content type"},
};

RPC_IFACE(rpc_iface_plugin, "PluginInterface", plugin_methods);
