/* outbox.c: which services an event notifies, with what (spec §8.3 and the NEW_PROJECT and
 * project extended data additions). Rows go into the outbox in the event's transaction; the
 * delivery engine (notify/deliver.c) sends them. */
#include "config/config.h"
#include "common/bh_time.h"
#include "model/model.h"

static enum bh_err add(struct model *m, struct outbox_event e, int *added)
{
  return store_outbox_add(m->st, &e, bh_now_ms(), added);
}

enum bh_err outbox_new_revision(struct model *m, int64_t poid, int64_t roid, int64_t by_soid)
{
  /* loop guard: the service whose token checked the revision in is not told about it */
  return add(m,
             (struct outbox_event){.trigger = "NEW_REVISION",
                                   .method = "newRevision",
                                   .service_poid = poid,
                                   .poid = poid,
                                   .roid = roid,
                                   .edid = -1,
                                   .exclude_soid = by_soid,
                                   .only_soid = -1},
             NULL);
}

enum bh_err outbox_extended_data(struct model *m, int64_t poid, int64_t roid, int64_t edid)
{
  struct outbox_event e = {.trigger = "NEW_EXTENDED_DATA",
                           .method = roid == -1 ? "newExtendedDataOnProject"
                                                : "newExtendedDataOnRevision",
                           .service_poid = poid,
                           .poid = poid,
                           .roid = roid,
                           .edid = edid,
                           .exclude_soid = -1,
                           .only_soid = -1};
  enum bh_err rc = add(m, e, NULL);
  if (rc == BH_OK && roid != -1 && m->cfg->service_extdata_new_revision) {
    /* BIMserver's habit (spec §10 #21), on request */
    e.method = "newRevision";
    e.edid = -1;
    rc = add(m, e, NULL);
  }
  return rc;
}

enum bh_err outbox_new_project(struct model *m, int64_t parent_poid, int64_t poid)
{
  if (parent_poid == -1)
    return BH_OK;
  return add(m,
             (struct outbox_event){.trigger = "NEW_PROJECT",
                                   .method = "newProject",
                                   .service_poid = parent_poid,
                                   .poid = poid,
                                   .roid = -1,
                                   .edid = -1,
                                   .exclude_soid = -1,
                                   .only_soid = -1},
             NULL);
}

enum bh_err outbox_trigger_revision(struct model *m, int64_t soid, int64_t poid, int64_t roid,
                                    int *added)
{
  return add(m,
             (struct outbox_event){.trigger = "NEW_REVISION",
                                   .method = "newRevision",
                                   .service_poid = poid,
                                   .poid = poid,
                                   .roid = roid,
                                   .edid = -1,
                                   .exclude_soid = -1,
                                   .only_soid = soid},
             added);
}

enum bh_err outbox_trigger_extended_data(struct model *m, int64_t soid, int64_t poid, int64_t roid,
                                         int64_t edid, int *added)
{
  return add(m,
             (struct outbox_event){.trigger = "NEW_EXTENDED_DATA",
                                   .method = roid == -1 ? "newExtendedDataOnProject"
                                                        : "newExtendedDataOnRevision",
                                   .service_poid = poid,
                                   .poid = poid,
                                   .roid = roid,
                                   .edid = edid,
                                   .exclude_soid = -1,
                                   .only_soid = soid},
             added);
}
