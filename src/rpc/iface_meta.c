/* iface_meta.c: MetaInterface (spec §4.3), answered from the method tables themselves, so
 * it lists exactly what bimhub serves. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

/* BIMserver 1.4 put its Bimsie1 interfaces in their own name space. */
static const char *iface_namespace(const struct rpc_iface *ifc)
{
  return strncmp(ifc->name, "Bimsie1", 7) == 0 ? "org.buildingsmart.bimsie1" : "org.bimserver";
}

static int iface_cmp(const void *a, const void *b)
{
  const struct rpc_iface *x = *(const struct rpc_iface *const *)a;
  const struct rpc_iface *y = *(const struct rpc_iface *const *)b;
  int ns = strcmp(iface_namespace(x), iface_namespace(y));
  return ns ? ns : strcmp(x->name, y->name);
}

static int method_cmp(const void *a, const void *b)
{
  return strcmp((*(const struct rpc_method *const *)a)->name,
                (*(const struct rpc_method *const *)b)->name);
}

static json_t *iface_json(const struct rpc_iface *ifc)
{
  char full[128];
  snprintf(full, sizeof full, "%s.%s", iface_namespace(ifc), ifc->name);
  json_t *f = json_object();
  if (!f)
    return NULL;
  json_object_set_new(f, "name", json_string(full));
  json_object_set_new(f, "nameSpace", json_string(iface_namespace(ifc)));
  json_object_set_new(f, "simpleName", json_string(ifc->name));
  return sobj_finish("SServiceInterface", f);
}

/* The Python client passes full names; short names are accepted too. Bimsie1ServiceInterface
 * lists only the methods whose 1.3/1.4 form differs from 1.5: a call through any Bimsie1
 * name of a method not listed there runs the 1.5 method (dispatch.c). */
static const struct rpc_iface *iface_by_name(struct rpc_call *c, const char *param)
{
  const char *name;
  if (rpc_param_string(c, param, &name) != BH_OK || !name)
    return NULL;
  const char *simple = name;
  if (strncmp(name, "org.bimserver.", 14) == 0)
    simple = name + 14;
  else if (strncmp(name, "org.buildingsmart.bimsie1.", 26) == 0)
    simple = name + 26;
  for (size_t i = 0; i < rpc_iface_count; i++)
    if (strcmp(rpc_ifaces[i]->name, simple) == 0)
      return rpc_ifaces[i];
  bh_fail(&c->why, BH_NOTFOUND, "No service interface with name %s", name);
  return NULL;
}

static const struct rpc_method *method_by_name(struct rpc_call *c, const struct rpc_iface *ifc,
                                               const char *param)
{
  const char *name;
  if (rpc_param_string(c, param, &name) != BH_OK || !name)
    return NULL;
  const struct rpc_method *m = rpc_find_method(ifc, name);
  if (!m)
    bh_fail(&c->why, BH_NOTFOUND, "Method %s not found on %s", name, ifc->name);
  return m;
}

static json_t *method_json(const struct rpc_method *m)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  json_object_set_new(f, "doc", sobj_text(m->doc));
  json_object_set_new(f, "name", json_string(m->name));
  json_object_set_new(f, "returnDoc", json_string(m->returns));
  return sobj_finish("SServiceMethod", f);
}

static enum bh_err meta_get_service_interfaces(struct rpc_call *c)
{
  const struct rpc_iface *sorted[32];
  size_t n = 0;
  for (size_t i = 0; i < rpc_iface_count && n < 32; i++) {
    bool seen = false;
    for (size_t k = 0; k < n; k++)
      seen = seen || strcmp(sorted[k]->name, rpc_ifaces[i]->name) == 0;
    if (!seen)
      sorted[n++] = rpc_ifaces[i];
  }
  qsort(sorted, n, sizeof sorted[0], iface_cmp);
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, iface_json(sorted[i]));
  return rpc_ok(c, a);
}

static enum bh_err meta_get_service_interface(struct rpc_call *c)
{
  const struct rpc_iface *ifc = iface_by_name(c, "serviceInterfaceName");
  return ifc ? rpc_ok(c, iface_json(ifc)) : BH_NOTFOUND;
}

static enum bh_err meta_get_service_methods(struct rpc_call *c)
{
  const struct rpc_iface *ifc = iface_by_name(c, "serviceInterfaceName");
  if (!ifc)
    return BH_NOTFOUND;
  size_t total = 0;
  for (size_t k = 0; k < rpc_iface_count; k++)
    if (strcmp(rpc_ifaces[k]->name, ifc->name) == 0)
      total += rpc_ifaces[k]->count;
  const struct rpc_method **sorted = malloc((total ? total : 1) * sizeof *sorted);
  if (!sorted)
    return BH_NOMEM;
  size_t n = 0;
  for (size_t k = 0; k < rpc_iface_count; k++)
    if (strcmp(rpc_ifaces[k]->name, ifc->name) == 0)
      for (size_t i = 0; i < rpc_ifaces[k]->count; i++)
        sorted[n++] = &rpc_ifaces[k]->methods[i];
  qsort(sorted, n, sizeof *sorted, method_cmp);
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, method_json(sorted[i]));
  free(sorted);
  return rpc_ok(c, a);
}

static enum bh_err meta_get_service_method(struct rpc_call *c)
{
  const struct rpc_iface *ifc = iface_by_name(c, "serviceInterfaceName");
  const struct rpc_method *m = ifc ? method_by_name(c, ifc, "methodName") : NULL;
  return m ? rpc_ok(c, method_json(m)) : BH_NOTFOUND;
}

static json_t *type_json(const char *type)
{
  json_t *f = json_object();
  if (!f)
    return NULL;
  static const char *const simple[][2] = {
      {"Long", "LONG"},     {"long", "LONG"},       {"Integer", "INT"},
      {"int", "INT"},       {"Boolean", "BOOLEAN"}, {"boolean", "BOOLEAN"},
      {"String", "STRING"}, {"Double", "DOUBLE"},   {"Date", "DATE"},
  };
  const char *st = "CLASS";
  for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
    if (strcmp(simple[i][0], type) == 0)
      st = simple[i][1];
  sobj_std(f, -1, NULL);
  json_object_set_new(f, "fields", json_array());
  json_object_set_new(f, "name", json_string(type));
  json_object_set_new(f, "simpleName", json_string(type));
  json_object_set_new(f, "simpleType", json_string(st));
  return sobj_finish("SServiceType", f);
}

static enum bh_err meta_get_service_method_parameters(struct rpc_call *c)
{
  const struct rpc_iface *ifc = iface_by_name(c, "serviceInterfaceName");
  const struct rpc_method *m = ifc ? method_by_name(c, ifc, "serviceMethodName") : NULL;
  if (!m)
    return BH_NOTFOUND;
  json_t *a = json_array();
  for (const struct rpc_param *p = m->params; a && p->name; p++) {
    json_t *f = json_object();
    if (!f)
      break;
    json_object_set_new(f, "doc", json_null());
    json_object_set_new(f, "genericType", json_null());
    json_object_set_new(f, "name", json_string(p->name));
    json_object_set_new(f, "type", type_json(p->type));
    json_array_append_new(a, sobj_finish("SServiceParameter", f));
  }
  return rpc_ok(c, a);
}

static const struct rpc_method meta_methods[] = {
    {"getServiceInterface", RPC_PARAMS({"serviceInterfaceName", "String"}), "SServiceInterface",
     RPC_WHO(ANYONE, NONE), RPC_NOT_SETUP_OK, meta_get_service_interface, "One interface"},
    {"getServiceInterfaces", RPC_NO_PARAMS, "List<SServiceInterface>", RPC_WHO(ANYONE, NONE),
     RPC_NOT_SETUP_OK, meta_get_service_interfaces, "Every interface, sorted by full name"},
    {"getServiceMethod", RPC_PARAMS({"serviceInterfaceName", "String"}, {"methodName", "String"}),
     "SServiceMethod", RPC_WHO(ANYONE, NONE), RPC_NOT_SETUP_OK, meta_get_service_method,
     "One method"},
    {"getServiceMethodParameters",
     RPC_PARAMS({"serviceInterfaceName", "String"}, {"serviceMethodName", "String"}),
     "List<SServiceParameter>", RPC_WHO(ANYONE, NONE), RPC_NOT_SETUP_OK,
     meta_get_service_method_parameters, "Parameters of a method, in declared order"},
    {"getServiceMethods", RPC_PARAMS({"serviceInterfaceName", "String"}), "List<SServiceMethod>",
     RPC_WHO(ANYONE, NONE), RPC_NOT_SETUP_OK, meta_get_service_methods,
     "Methods of an interface, sorted by name"},
};

RPC_IFACE(rpc_iface_meta, "MetaInterface", meta_methods);
