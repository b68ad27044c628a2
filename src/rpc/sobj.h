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
json_t *sobj_version(void);
json_t *sobj_server_info(struct model *m);
json_t *sobj_server_settings(struct model *m);
json_t *sobj_user_settings(struct model *m, int64_t uoid);

#endif
