/* plugins.h: the deserializers and serializers bimhub has, described as BIMserver plugin
 * configurations so its clients find them: each user has one configuration per plugin with
 * an oid that never changes (the deserializerOid / serializerOid of the API). */
#ifndef BH_PLUGINS_H
#define BH_PLUGINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

struct model;

enum plugin_format { PLUGIN_STEP, PLUGIN_STEP_ZIP };

struct plugin_def {
  const char *class_name; /* pluginClassName */
  const char *name;       /* configuration name */
  const char *description;
  bool is_serializer;
  const char *schema;    /* ifc2x3tc1, ifc4, ifc4x3, or NULL for every schema */
  const char *extension; /* without the dot */
  const char *content_type;
  enum plugin_format format;
};

/* The catalogue, in the order clients see it. */
extern const struct plugin_def plugin_defs[];
extern const size_t plugin_def_count;

const struct plugin_def *plugin_by_class(const char *class_name);
bool plugin_supports_schema(const struct plugin_def *p, const char *schema);
/* The oid of uoid's configuration of p (made on first use), and of p's descriptor. */
enum bh_err plugin_config_oid(struct model *m, int64_t uoid, const struct plugin_def *p,
                              int64_t *oid);
enum bh_err plugin_descriptor_oid(struct model *m, const struct plugin_def *p, int64_t *oid);
/* The plugin behind a configuration oid, if it is uoid's (or any user's when uoid is -1).
 * NULL when it is not. */
const struct plugin_def *plugin_of_config(struct model *m, int64_t uoid, int64_t oid);
/* The plugin behind a descriptor oid, or NULL. */
const struct plugin_def *plugin_of_descriptor(struct model *m, int64_t oid);

#endif
