/* iface_registry.c: NotificationRegistryInterface (spec §4.6): what the progress topics
 * hold. The registrations of /stream endpoints come with the endpoint registry. */
#include "actions/topics.h"
#include "rpc/rpc_internal.h"
#include "rpc/sobj.h"

static enum bh_err reg_get_progress(struct rpc_call *c)
{
  int64_t id;
  struct topic_info t;
  enum bh_err rc = rpc_param_long(c, "topicId", &id);
  if (rc != BH_OK)
    return rc;
  if (topics_get(c->m->topics, id, &t) != BH_OK)
    return bh_fail(&c->why, BH_NOTFOUND, "No topic found with topicId %lld", (long long)id);
  return rpc_ok(c, sobj_long_action_state(&t)); /* {} until a state was sent */
}

static const struct rpc_method registry_methods[] = {
    {"getProgress", RPC_PARAMS({"topicId", "Long"}), "SLongActionState", RPC_ANY, 0,
     reg_get_progress, "The last state sent on a topic; {} before the first"},
};

RPC_IFACE(rpc_iface_registry, "NotificationRegistryInterface", registry_methods);
