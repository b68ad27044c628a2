/* rpc_internal.h: the method tables and the call context shared by dispatch.c and the
 * interface files (iface_*.c). Each interface describes its methods as data: name,
 * parameters in declared order with their Java types, return type, who may call it and the
 * handler. The dispatcher, MetaInterface and the test that every method has a case all
 * read these tables. */
#ifndef BH_RPC_INTERNAL_H
#define BH_RPC_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/throttle.h"
#include "common/bh_err.h"
#include "model/model.h"
#include "rpc/rpc.h"

/* Who may call a method: the access column of the method tables, enforced by
 * rpc/access.c before any handler runs. Project levels are checked on the object the
 * method's target parameter names (a project, or the project a revision, extended data,
 * service, delivery or topic belongs to). docs/authorization.md is printed from the tables
 * (`bimhub serve --print-access`). */
enum rpc_who {
  RPC_WHO_MISSING,   /* no rule: the call is refused (and a unit test fails) */
  RPC_ANYONE,        /* no token needed */
  RPC_REGISTER,      /* administrators; anyone while self-registration is on */
  RPC_SETUP_ADMIN,   /* anyone while NOT_SETUP, then administrators only */
  RPC_USER,          /* any logged-in user, read-only users included */
  RPC_WRITER,        /* a logged-in user who may change things: not READ_ONLY */
  RPC_TOP_LEVEL,     /* administrators; writers while allowUsersToCreateTopLevelProjects */
  RPC_OWNER,         /* whoever made the target (a topic, a file; the user itself), or an admin */
  RPC_PROJECT_READ,  /* rights on the target's project, an ancestor or a descendant */
  RPC_PROJECT_WRITE, /* rights on the target's project or an ancestor, not READ_ONLY */
  RPC_PROJECT_ADMIN, /* changes the project itself, its members and services: the same
                      * users as RPC_PROJECT_WRITE (BIMserver has no separate role), never a
                      * service token */
  RPC_ADMIN,         /* an administrator */
};

/* What the target parameter names. */
enum rpc_target {
  RPC_T_NONE,
  RPC_T_PROJECT,
  RPC_T_REVISION,
  RPC_T_EXTDATA,
  RPC_T_SERVICE,
  RPC_T_DELIVERY,
  RPC_T_TOPIC,
  RPC_T_FILE,
  RPC_T_USER,
};

/* Whether a service token (spec 8.5) may call the method, and with which grant. A service
 * token never has more than its owner, and only inside its service's project tree. */
enum rpc_svc {
  RPC_SVC_NONE,           /* refused: "Real authentication required" */
  RPC_SVC_OWNER,          /* as its owner, inside the project tree of its service */
  RPC_SVC_READ_REVISION,  /* the readRevision grant, on the revision */
  RPC_SVC_WRITE_REVISION, /* writeRevisionId names the project */
  RPC_SVC_READ_ED,        /* readExtendedDataId, on the notification's revision */
  RPC_SVC_WRITE_ED,       /* the notification's revision (writeExtendedDataId for ed events) */
};

struct rpc_access {
  enum rpc_who who;
  enum rpc_target target;
  const char *param; /* names the target: "poid", "sProject.oid"; a list is checked per item */
  enum rpc_svc svc;
};

#define RPC_WHO(who, svc)                                                                          \
  {                                                                                                \
    RPC_##who, RPC_T_NONE, NULL, RPC_SVC_##svc                                                     \
  }
#define RPC_ON(who, target, param, svc)                                                            \
  {                                                                                                \
    RPC_##who, RPC_T_##target, param, RPC_SVC_##svc                                                \
  }

enum rpc_flags {
  RPC_NOT_SETUP_OK = 1,  /* may run while the server is NOT_SETUP */
  RPC_IGNORES_TOKEN = 2, /* a bad envelope token does not fail it (login) */
  RPC_BLOCKING = 4,      /* may wait seconds (network, a check-in): never on a loop thread */
};

struct rpc_param {
  const char *name;
  const char *type; /* Java type as MetaInterface reports it: "long", "String", "SProject" */
  bool optional;    /* may be left out: bimserverapi 0.0.167 omits it (spec §10 row 3) */
};

struct rpc_call;
typedef enum bh_err (*rpc_handler)(struct rpc_call *c);

struct rpc_method {
  const char *name;
  const struct rpc_param *params; /* terminated by {NULL, NULL} */
  const char *returns;            /* "void", "String", "SProject", "List<SProject>" ... */
  struct rpc_access access;
  int flags;
  rpc_handler fn;
  const char *doc;
};

struct rpc_iface {
  const char *name; /* short name: "AuthInterface" */
  const struct rpc_method *methods;
  size_t count;
};

#define RPC_PARAMS(...) ((const struct rpc_param[]){__VA_ARGS__, {NULL, NULL}})
#define RPC_NO_PARAMS ((const struct rpc_param[]){{NULL, NULL}})
#define RPC_IFACE(var, iname, table)                                                               \
  const struct rpc_iface var = {iname, table, sizeof table / sizeof table[0]}

extern const struct rpc_iface rpc_iface_auth, rpc_iface_admin, rpc_iface_settings, rpc_iface_meta,
    rpc_iface_service, rpc_iface_service_checkin, rpc_iface_service_extdata,
    rpc_iface_service_services, rpc_iface_plugin, rpc_iface_registry, rpc_iface_delivery,
    rpc_iface_bimsie1_service;
/* Every method table bimhub serves; several may share an interface name. */
extern const struct rpc_iface *const rpc_ifaces[];
extern const size_t rpc_iface_count;
/* A method of the interface named like ifc, from any of its tables, or NULL. */
const struct rpc_method *rpc_find_method(const struct rpc_iface *ifc, const char *name);

/* Recently resolved tokens, so a call does not cost two database reads. An entry lives at
 * most TOKEN_CACHE_TTL_MS and never past the token's expiry; logout drops it. */
#define TOKEN_CACHE_SLOTS 4096
#define TOKEN_CACHE_TTL_MS 60000
struct token_cache_slot {
  unsigned char hash[32];
  struct actor actor;
  int64_t valid_until_ms; /* 0: empty */
};

struct rpc {
  const struct bh_config *cfg;
  struct deliverer *_Atomic deliver; /* service notifications; NULL until started */
  struct checkins *checkins;
  struct push *push; /* /stream endpoints and pushes */
  pthread_mutex_t token_cache_lock;
  struct token_cache_slot *token_cache; /* TOKEN_CACHE_SLOTS entries */
  uint64_t token_gen; /* counts forgets, under token_cache_lock: see rpc_resolve_token */
  struct model model;
  struct throttle *throttle;
  int64_t next_endpoint_id; /* /stream endpoint ids, from 2, per server start */
  pthread_mutex_t endpoint_lock;
};

/* One call being answered. Handlers read parameters with the rpc_param_* functions, set
 * result (a new reference) and return BH_OK, or fill why and return its code. */
struct rpc_call {
  struct rpc *rpc;
  struct model *m;
  const struct rpc_method *method;
  json_t *params; /* borrowed */
  struct actor actor;
  const char *token; /* the caller's token text, or NULL */
  const struct rpc_origin *origin;
  json_t *result;
  struct bh_why why;
  unsigned delay_ms;
};

/* Lenient readers of §3. Each reports BH_BADREQUEST with a message naming the parameter
 * when the value cannot be read as that type. A JSON null gives has_value false. */
enum bh_err rpc_param_long(struct rpc_call *c, const char *name, int64_t *out);
enum bh_err rpc_param_bool(struct rpc_call *c, const char *name, bool *out);
/* Borrowed string, or NULL for a JSON null. Numbers and booleans come back as text in
 * c-owned storage. */
enum bh_err rpc_param_string(struct rpc_call *c, const char *name, const char **out);
/* An S-object parameter: NULL for null or {}; otherwise __type must be present. */
enum bh_err rpc_param_object(struct rpc_call *c, const char *name, json_t **out);

/* Lenient conversion of one JSON value (also used for object fields). */
bool rpc_json_long(json_t *v, int64_t *out);
bool rpc_json_bool(json_t *v, bool *out);

/* Returns result set to a value (stolen) — NULL means out of memory. */
enum bh_err rpc_ok(struct rpc_call *c, json_t *value);

/* Shared by /json and /stream: answers one request object into a response object
 * ({"result":...} or {"exception":...}). token may be NULL. */
json_t *rpc_run_request(struct rpc *rpc, json_t *request, const char *token,
                        const struct rpc_origin *origin, unsigned *delay_ms);

/* Enforces the method's access column (access.c) for the call's actor; has_token says a
 * valid token was given. Fills c->why on a refusal. */
enum bh_err rpc_access_check(struct rpc_call *c, bool has_token);
/* The rule getProgress follows, for lists of topics: a project's topics to its readers (a
 * service token: in its tree), a server topic to its maker. */
struct topic_info;
bool rpc_may_see_topic(struct rpc_call *c, const struct topic_info *t);
const char *rpc_who_name(enum rpc_who w);
const char *rpc_target_name(enum rpc_target t);
const char *rpc_svc_name(enum rpc_svc s);

/* Resolves a token to an actor. BH_AUTH with why filled for a bad one. */
enum bh_err rpc_resolve_token(struct rpc *rpc, const char *token, struct actor *out,
                              struct bh_why *why);

/* Forgets a token (logout) and closes the /stream connections it opened. */
void rpc_forget_token(struct rpc *rpc, const char *token);
/* Ends the login sessions of uoid but keep_token's (NULL: every one): in the store, the cache
 * and on /stream (close 1008 with reason). Service tokens are not sessions: see token.h. */
void rpc_end_sessions(struct rpc *rpc, int64_t uoid, const char *keep_token, const char *reason);
/* Forgets the cached service tokens of a deleted service (the store's are gone with it). */
void rpc_forget_service_tokens(struct rpc *rpc, int64_t soid);

/* Issues a new login token for a user. */
enum bh_err rpc_issue_token(struct rpc *rpc, int64_t uoid, char out[65]);

#endif
