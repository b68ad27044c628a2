/* plugins.c: the plugin catalogue. bimhub stores models as they were checked in, so every
 * IFC serializer gives back the checked-in file byte for byte; the schema-specific ones
 * accept only revisions of their schema, the first one accepts all. */
#include "model/plugins.h"

#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define DESER "org.bimserver.ifc.step.deserializer."
#define SER "org.bimserver.ifc.step.serializer."

const struct plugin_def plugin_defs[] = {
    {DESER "Ifc2x3tc1StepStreamingDeserializerPlugin", "Ifc2x3tc1 (Streaming)",
     "IFC STEP files of schema IFC2X3", false, "ifc2x3tc1", "ifc", "application/ifc", PLUGIN_STEP},
    {DESER "Ifc4StepStreamingDeserializerPlugin", "Ifc4 (Streaming)",
     "IFC STEP files of schema IFC4", false, "ifc4", "ifc", "application/ifc", PLUGIN_STEP},
    {DESER "Ifc4x3StepStreamingDeserializerPlugin", "Ifc4x3 (Streaming)",
     "IFC STEP files of schema IFC4X3", false, "ifc4x3", "ifc", "application/ifc", PLUGIN_STEP},
    {DESER "Ifc2x3tc1StepZipDeserializerPlugin", "IfcZip 2x3tc1",
     "ifcZIP archives holding one IFC2X3 STEP file", false, "ifc2x3tc1", "ifczip",
     "application/zip", PLUGIN_STEP_ZIP},
    {DESER "Ifc4StepZipDeserializerPlugin", "IfcZip 4",
     "ifcZIP archives holding one IFC4 STEP file", false, "ifc4", "ifczip", "application/zip",
     PLUGIN_STEP_ZIP},
    {DESER "Ifc4x3StepZipDeserializerPlugin", "IfcZip 4x3",
     "ifcZIP archives holding one IFC4X3 STEP file", false, "ifc4x3", "ifczip", "application/zip",
     PLUGIN_STEP_ZIP},
    {SER "IfcStepStreamingSerializerPlugin", "Ifc (Streaming)",
     "The checked-in IFC STEP file, any schema", true, NULL, "ifc", "application/ifc", PLUGIN_STEP},
    {SER "Ifc2x3tc1StepStreamingSerializerPlugin", "Ifc2x3tc1 (Streaming)",
     "The checked-in IFC2X3 STEP file", true, "ifc2x3tc1", "ifc", "application/ifc", PLUGIN_STEP},
    {SER "Ifc4StepStreamingSerializerPlugin", "Ifc4 (Streaming)", "The checked-in IFC4 STEP file",
     true, "ifc4", "ifc", "application/ifc", PLUGIN_STEP},
    {SER "Ifc4x3StepStreamingSerializerPlugin", "Ifc4x3 (Streaming)",
     "The checked-in IFC4X3 STEP file", true, "ifc4x3", "ifc", "application/ifc", PLUGIN_STEP},
    {SER "IfcStepZipSerializerPlugin", "IfcZip",
     "The checked-in IFC STEP file in an ifcZIP archive", true, NULL, "ifczip", "application/zip",
     PLUGIN_STEP_ZIP},
};
const size_t plugin_def_count = sizeof plugin_defs / sizeof plugin_defs[0];

const struct plugin_def *plugin_by_class(const char *class_name)
{
  for (size_t i = 0; class_name && i < plugin_def_count; i++)
    if (strcmp(plugin_defs[i].class_name, class_name) == 0)
      return &plugin_defs[i];
  return NULL;
}

bool plugin_supports_schema(const struct plugin_def *p, const char *schema)
{
  return !p->schema || (schema && strcmp(p->schema, schema) == 0);
}

enum bh_err plugin_config_oid(struct model *m, int64_t uoid, const struct plugin_def *p,
                              int64_t *oid)
{
  return store_plugin_oid(m->st, uoid, p->class_name, oid);
}

enum bh_err plugin_descriptor_oid(struct model *m, const struct plugin_def *p, int64_t *oid)
{
  return store_plugin_oid(m->st, -1, p->class_name, oid);
}

const struct plugin_def *plugin_of_config(struct model *m, int64_t uoid, int64_t oid)
{
  int64_t owner;
  char *cls = NULL;
  if (store_plugin_by_oid(m->st, oid, &owner, &cls) != BH_OK)
    return NULL;
  const struct plugin_def *p =
      owner != -1 && (uoid == -1 || owner == uoid) ? plugin_by_class(cls) : NULL;
  free(cls);
  return p;
}

const struct plugin_def *plugin_of_descriptor(struct model *m, int64_t oid)
{
  int64_t owner;
  char *cls = NULL;
  if (store_plugin_by_oid(m->st, oid, &owner, &cls) != BH_OK)
    return NULL;
  const struct plugin_def *p = owner == -1 ? plugin_by_class(cls) : NULL;
  free(cls);
  return p;
}
