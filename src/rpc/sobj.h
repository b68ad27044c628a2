/* sobj.h: BIMserver data objects (spec §5) as JSON: "__type" first, then every field in
 * byte-wise order, as BIMserver writes them. Encoders return a new reference or NULL when
 * out of memory. */
#ifndef BH_SOBJ_H
#define BH_SOBJ_H

#include <jansson.h>
#include <stdint.h>

#include "model/model.h"

/* Takes fields (any order, stolen) and returns the ordered S-object. */
json_t *sobj_finish(const char *type, json_t *fields);
/* Adds oid, rid, uuid. */
void sobj_std(json_t *fields, int64_t oid, const char *uuid);
json_t *sobj_text(const char *s);               /* string or null */
json_t *sobj_ids(const int64_t *ids, size_t n); /* array of integers */

json_t *sobj_user(struct model *m, const struct user_rec *u);
json_t *sobj_project(struct model *m, const struct project_rec *p);
/* SProjectSmall: hasCheckinRights says whether who may change the project (check in). */
json_t *sobj_project_small(struct model *m, const struct actor *who, const struct project_rec *p);
json_t *sobj_version(void);
json_t *sobj_server_info(struct model *m);
json_t *sobj_server_settings(struct model *m);
json_t *sobj_user_settings(struct model *m, int64_t uoid);

struct topic_info;
struct plugin_def;
/* SLongActionState or SLongCheckinActionState of a topic; {} when nothing was sent yet. */
json_t *sobj_long_action_state(const struct topic_info *t);
json_t *sobj_revision(struct model *m, const struct revision_rec *r);
json_t *sobj_plugin_config(struct model *m, int64_t uoid, const struct plugin_def *p);
json_t *sobj_plugin_descriptor(struct model *m, const struct plugin_def *p);
json_t *sobj_file(const struct file_rec *f, json_t *data_b64); /* data: stolen, may be null */
json_t *sobj_ed_schema(struct model *m, const struct ed_schema_rec *e);
json_t *sobj_extended_data(const struct ed_rec *e);
/* Milliseconds since 1970 of an ISO 8601 time stamp as IFC headers write it, or -1. */
int64_t sobj_parse_time(const char *iso);

#endif
