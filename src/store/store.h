/* store.h: what the domain asks of storage. The SQLite backend (store_sqlite.c) implements
 * it; another backend implements the same functions. Nothing outside src/store includes a
 * database header.
 *
 * Threads: every function may be called from any thread; calls are serialized inside the
 * store. store_begin() .. store_commit()/store_rollback() make one transaction that holds
 * the store for the calling thread: the calls in between must come from that thread.
 * Strings in records are heap copies owned by the record; free with *_rec_clear(). */
#ifndef BH_STORE_H
#define BH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

struct store;

struct store_options {
  const char *dir; /* data directory; created if missing */
  bool sync_full;  /* fsync every commit (synchronous=FULL) or not (NORMAL) */
};

enum bh_err store_open(struct store **out, const struct store_options *opt);
void store_close(struct store *st);

enum bh_err store_begin(struct store *st);
enum bh_err store_commit(struct store *st);
void store_rollback(struct store *st);
/* store_begin() for writes a crash may lose without harm (the outcomes of notification
 * attempts: a lost one means the notification is sent again): the commit does not wait for
 * the disk (synchronous=NORMAL for this transaction). Later ordinary commits make it durable
 * too. The same as store_begin() inside another transaction. */
enum bh_err store_begin_relaxed(struct store *st);

/* A new object id from the one server-wide sequence (ids never repeat across types). */
enum bh_err store_next_oid(struct store *st, int64_t *oid);

/* Server-wide key/value settings (site address, server name, flags). *value is malloc'd, or
 * NULL when the key is unset (then BH_NOTFOUND). */
enum bh_err store_setting_get(struct store *st, const char *key, char **value);
enum bh_err store_setting_set(struct store *st, const char *key, const char *value);

/* Users. type: enum user_type in model/users.h; state: 0 active, 1 deleted. */
struct user_rec {
  int64_t uoid;
  char *username;
  char *name;
  int type;
  int state;
  int64_t created_ms;
  int64_t created_by;   /* uoid, -1 for none */
  int64_t last_seen_ms; /* 0: never */
  char *password_hash;  /* argon2id encoded string, NULL: no password yet */
  /* hash (auth/token.h token_hash) of the permanent token for loginUserToken: the token
   * itself is kept nowhere, so a copy of the database opens no session */
  unsigned char user_token_hash[32];
  char uuid[40]; /* SUser.uuid; store_user_add makes one when empty */
};
void user_rec_clear(struct user_rec *u);
struct user_list {
  struct user_rec *v;
  size_t n;
};
void user_list_clear(struct user_list *l);

enum bh_err store_user_add(struct store *st, const struct user_rec *u); /* u->uoid set */
enum bh_err store_user_get(struct store *st, int64_t uoid, struct user_rec *out);
/* Username compared case-insensitively (ASCII). */
enum bh_err store_user_by_name(struct store *st, const char *username, struct user_rec *out);
enum bh_err store_user_by_token(struct store *st, const unsigned char user_token_hash[32],
                                struct user_rec *out);
enum bh_err store_user_list(struct store *st, struct user_list *out); /* by uoid */
/* A new password hash and a new user token (its hash) together. */
enum bh_err store_user_set_password(struct store *st, int64_t uoid, const char *hash,
                                    const unsigned char user_token_hash[32]);
enum bh_err store_user_set_last_seen(struct store *st, int64_t uoid, int64_t ms);
/* type: enum user_type. BH_NOTFOUND for no such user. */
enum bh_err store_user_set_type(struct store *st, int64_t uoid, int type);
/* state: 0 active, 1 deleted. BH_NOTFOUND for no such user. */
enum bh_err store_user_set_state(struct store *st, int64_t uoid, int state);
enum bh_err store_user_count(struct store *st, int64_t *n);

/* Projects. parent -1 for top level; state 0 active, 1 deleted. */
struct project_rec {
  int64_t poid;
  int64_t number; /* SProject.id: 1, 2, ... over the server */
  char *name;
  char *schema; /* lower case: ifc2x3tc1, ifc4, ifc4x3 */
  char *description;
  char *export_prefix; /* SSIPrefix, lower case */
  int64_t parent;
  int state;
  int64_t created_ms;
  int64_t created_by;
  bool send_email_on_new_revision;
};
void project_rec_clear(struct project_rec *p);
struct project_list {
  struct project_rec *v;
  size_t n;
};
void project_list_clear(struct project_list *l);

enum bh_err store_project_add(struct store *st, struct project_rec *p); /* sets number */
enum bh_err store_project_get(struct store *st, int64_t poid, struct project_rec *out);
enum bh_err store_project_update(struct store *st, const struct project_rec *p);
enum bh_err store_project_list(struct store *st, struct project_list *out); /* by poid */
enum bh_err store_project_children(struct store *st, int64_t poid, struct project_list *out);
/* Project of that name among the children of parent (-1: top level), any state. */
enum bh_err store_project_by_name(struct store *st, int64_t parent, const char *name,
                                  struct project_rec *out);

/* Direct rights of a user on a project (SProject.hasAuthorizedUsers / SUser.hasRightsOn). */
enum bh_err store_right_add(struct store *st, int64_t uoid, int64_t poid);
enum bh_err store_right_remove(struct store *st, int64_t uoid, int64_t poid);
bool store_right_has(struct store *st, int64_t uoid, int64_t poid);
/* Ids of the other side, ascending. *ids malloc'd (NULL when n is 0). */
enum bh_err store_rights_of_user(struct store *st, int64_t uoid, int64_t **ids, size_t *n);
enum bh_err store_rights_of_project(struct store *st, int64_t poid, int64_t **ids, size_t *n);

/* Session tokens, stored by a hash of the token, never the token itself. */
struct token_rec {
  int64_t uoid;
  int kind; /* enum token_kind in auth/token.h */
  int64_t created_ms;
  int64_t expires_ms;
  int64_t service_oid; /* -1 (service tokens are signed, not stored: auth/token.h) */
};
enum bh_err store_token_add(struct store *st, const unsigned char hash[32],
                            const struct token_rec *t);
enum bh_err store_token_get(struct store *st, const unsigned char hash[32], struct token_rec *out);
enum bh_err store_token_delete(struct store *st, const unsigned char hash[32]);
/* Deletes every token of uoid except keep (NULL: every one). */
enum bh_err store_token_delete_user(struct store *st, int64_t uoid, const unsigned char *keep,
                                    int64_t *removed);
enum bh_err store_token_purge_expired(struct store *st, int64_t now_ms, int64_t *removed);

/* ---- revisions (store_revisions.c) ---- */

struct revision_rec {
  int64_t roid;
  int64_t poid;
  int64_t number;      /* SRevision.id: 1, 2, ... per project */
  int64_t uoid;        /* who checked it in */
  int64_t service_oid; /* the service whose token checked it in, -1 */
  int64_t created_ms;
  char *comment;
  char *tag;
  char *blob; /* hash of the checked-in file in the blob store */
  char *file_name;
  int64_t file_size;
  char *schema; /* ifc2x3tc1, ifc4, ifc4x3 */
  int64_t object_count;
  char *deserializer; /* plugin class that read it */
  char *header_json;  /* the IFC header as a JSON object (SIfcHeader fields) */
};
void revision_rec_clear(struct revision_rec *r);
struct revision_list {
  struct revision_rec *v;
  size_t n;
};
void revision_list_clear(struct revision_list *l);
struct type_count {
  char *type;
  int64_t count;
};

/* Adds a revision with its per-type counts; r->number must be set (store_revision_count
 * + 1 inside the same transaction). */
enum bh_err store_revision_add(struct store *st, const struct revision_rec *r,
                               const struct type_count *types, size_t ntypes);
enum bh_err store_revision_get(struct store *st, int64_t roid, struct revision_rec *out);
enum bh_err store_revision_list(struct store *st, int64_t poid, struct revision_list *out);
enum bh_err store_revision_ids(struct store *st, int64_t poid, int64_t **ids, size_t *n);
/* Revisions a user checked in, oldest first (getAllRevisionsByUser). */
enum bh_err store_revision_list_by_user(struct store *st, int64_t uoid, struct revision_list *out);
enum bh_err store_revision_max_number(struct store *st, int64_t poid, int64_t *n);
enum bh_err store_revision_set_tag(struct store *st, int64_t roid, const char *tag);
enum bh_err store_revision_set_comment(struct store *st, int64_t roid, const char *comment);
/* Per-type counts, sorted by type. *out malloc'd; free each .type and the array. */
enum bh_err store_revision_types(struct store *st, int64_t roid, struct type_count **out,
                                 size_t *n);

/* ---- files ---- */

struct file_rec {
  int64_t oid;
  char *blob;
  char *filename;
  char *mime;
  int64_t size;
  int64_t uoid;
  int64_t created_ms;
};
void file_rec_clear(struct file_rec *f);
enum bh_err store_file_add(struct store *st, const struct file_rec *f);
enum bh_err store_file_get(struct store *st, int64_t oid, struct file_rec *out);

/* ---- extended data schemas and extended data ---- */

struct ed_schema_rec {
  int64_t oid;
  char *name;
  char *content_type;
  char *description;
  char *url;
  int64_t file_oid;
  int64_t size;
};
void ed_schema_rec_clear(struct ed_schema_rec *s);
enum bh_err store_ed_schema_add(struct store *st, const struct ed_schema_rec *s);
enum bh_err store_ed_schema_get(struct store *st, int64_t oid, struct ed_schema_rec *out);
enum bh_err store_ed_schema_by_name(struct store *st, const char *name, struct ed_schema_rec *out);
enum bh_err store_ed_schema_ids(struct store *st, int64_t **ids, size_t *n); /* by name */

struct ed_rec {
  int64_t oid;
  int64_t file_oid;
  int64_t schema_oid;
  char *title;
  char *url;
  int64_t added_ms;
  int64_t size;
  int64_t time_to_generate;
  int64_t uoid;
  int64_t roid; /* -1 for extended data on a project */
  int64_t poid;
};
void ed_rec_clear(struct ed_rec *e);
enum bh_err store_ed_add(struct store *st, const struct ed_rec *e);
enum bh_err store_ed_get(struct store *st, int64_t oid, struct ed_rec *out);
/* Ids in insertion order: of a revision (schema_oid -1: any schema), of a project (its own,
 * not its revisions'), of a schema. */
enum bh_err store_ed_ids_of_revision(struct store *st, int64_t roid, int64_t schema_oid,
                                     int64_t **ids, size_t *n);
enum bh_err store_ed_ids_of_project(struct store *st, int64_t poid, int64_t **ids, size_t *n);
enum bh_err store_ed_ids_of_schema(struct store *st, int64_t schema_oid, int64_t **ids, size_t *n);

/* ---- plugin configuration ids ---- */

/* The stable oid of (uoid, plugin): made on first use. uoid -1: the plugin's descriptor. */
enum bh_err store_plugin_oid(struct store *st, int64_t uoid, const char *plugin, int64_t *oid);
/* The other way round. BH_NOTFOUND for an oid that is no plugin configuration. */
enum bh_err store_plugin_by_oid(struct store *st, int64_t oid, int64_t *uoid, char **plugin);

/* ---- /stream endpoints (store_endpoints.c) ---- */

struct endpoint_rec {
  int64_t id, uoid, created_ms;
  uint64_t seq;
};
struct endpoint_reg_rec {
  int64_t endpoint;
  int kind;
  int64_t a, b;
};
struct endpoint_frame_rec {
  int64_t endpoint;
  uint64_t seq;
  int64_t time_ms;
  char *body;
};

enum bh_err store_endpoint_add(struct store *st, const struct endpoint_rec *e);
/* Removes the endpoint, its registrations and its history. */
enum bh_err store_endpoint_delete(struct store *st, int64_t id);
enum bh_err store_endpoint_reg_add(struct store *st, const struct endpoint_reg_rec *r);
enum bh_err store_endpoint_reg_remove(struct store *st, const struct endpoint_reg_rec *r);
/* Everything, for loading at start. Arrays malloc'd; free the frames' bodies too. */
enum bh_err store_endpoint_load(struct store *st, struct endpoint_rec **eps, size_t *neps,
                                struct endpoint_reg_rec **regs, size_t *nregs,
                                struct endpoint_frame_rec **frames, size_t *nframes);
/* Replaces every endpoint's sequence and history with the given ones (at shutdown). */
enum bh_err store_endpoint_save(struct store *st, const struct endpoint_rec *eps, size_t neps,
                                const struct endpoint_frame_rec *frames, size_t nframes);

/* ---- remote services (store_services.c) ---- */

/* A service bound to a project. fields: the SService fields as given (a JSON object);
 * secret: the signing secret of its notifications, old_secret the one it replaced, which
 * still signs until old_secret_until_ms. state 0 active, 1 deleted. disabled_ms: when its
 * deliveries were stopped (HTTP 410, or by hand), 0 while enabled. options: a JSON object of
 * delivery options (see notify/outbox.h). */
struct service_rec {
  int64_t soid, poid, uoid;
  int state;
  int64_t created_ms;
  char *fields;
  char *secret;
  char *old_secret;
  int64_t old_secret_until_ms;
  int64_t disabled_ms;
  char *disabled_reason;
  char *options;
};
void service_rec_clear(struct service_rec *s);
enum bh_err store_service_add(struct store *st, const struct service_rec *s);
enum bh_err store_service_get(struct store *st, int64_t soid, struct service_rec *out);
/* Active services of a project, by soid; of the whole server with poid -1. */
enum bh_err store_service_ids(struct store *st, int64_t poid, int64_t **ids, size_t *n);
/* Deleting a service (state 1) also cancels its pending deliveries. */
enum bh_err store_service_set_state(struct store *st, int64_t soid, int state);
/* disabled_ms 0 enables it again; reason may be NULL. */
enum bh_err store_service_set_disabled(struct store *st, int64_t soid, int64_t disabled_ms,
                                       const char *reason);
enum bh_err store_service_set_options(struct store *st, int64_t soid, const char *options);
/* The new secret replaces the current one, which keeps signing until old_until_ms. */
enum bh_err store_service_rotate_secret(struct store *st, int64_t soid, const char *secret,
                                        int64_t old_until_ms);

/* ---- notifications to services: outbox and delivery log (store_deliveries.c) ---- */

enum delivery_state {
  DELIVERY_PENDING = 0,   /* waiting for its next attempt */
  DELIVERY_DELIVERED = 1, /* a 2xx answer without an exception */
  DELIVERY_FAILED = 2,    /* gave up after the retry schedule: parked, can be redelivered */
  DELIVERY_CANCELLED = 3, /* its service was deleted */
};

struct delivery_rec {
  int64_t id; /* also the order of events, and the webhook-id's number */
  int64_t soid, poid, roid, edid;
  char *method; /* newRevision, newExtendedDataOnRevision, ... */
  int64_t created_ms;
  int state;
  int attempts;
  int64_t next_ms;  /* due time of the next attempt (pending) */
  int64_t last_ms;  /* time of the last attempt, 0 for none */
  int last_status;  /* HTTP status of the last attempt, 0 for none or a transport error */
  char *last_error; /* NULL after a success */
};
void delivery_rec_clear(struct delivery_rec *d);
struct delivery_list {
  struct delivery_rec *v;
  size_t n;
};
void delivery_list_clear(struct delivery_list *l);

struct delivery_attempt_rec {
  int64_t delivery;
  int n; /* 1, 2, ... */
  int64_t at_ms, duration_ms;
  int status; /* HTTP status, 0 when no answer */
  bool ok;
  char *error;    /* NULL when ok */
  char *response; /* the first bytes of the answer */
};
void delivery_attempt_rec_clear(struct delivery_attempt_rec *a);

/* One event's notifications, written in the transaction of the event. Services of
 * service_poid whose SService.trigger is trigger and that are active get one delivery each of
 * method, except exclude_soid (the loop guard); only_soid >= 0 limits it to that service. */
struct outbox_event {
  const char *trigger;
  const char *method;
  int64_t service_poid;
  int64_t poid, roid, edid;
  int64_t exclude_soid;
  int64_t only_soid;
};
enum bh_err store_outbox_add(struct store *st, const struct outbox_event *e, int64_t now_ms,
                             int *added);

/* Pending deliveries of a service with id > after_id, in id order, at most limit. */
enum bh_err store_delivery_pending(struct store *st, int64_t soid, int64_t after_id, int limit,
                                   struct delivery_list *out);
/* The outcome of an attempt: the attempt row and the delivery's new state. */
enum bh_err store_delivery_record(struct store *st, const struct delivery_attempt_rec *a, int state,
                                  int64_t next_ms);
enum bh_err store_delivery_get(struct store *st, int64_t id, struct delivery_rec *out);
/* Newest first. state -1: any; before_id -1: from the newest. */
enum bh_err store_delivery_list(struct store *st, int64_t soid, int state, int64_t before_id,
                                int limit, struct delivery_list *out);
/* Attempts of a delivery, in order. *v malloc'd; free with delivery_attempt_rec_clear each. */
enum bh_err store_delivery_attempts(struct store *st, int64_t id, struct delivery_attempt_rec **v,
                                    size_t *n);
/* Makes a delivered or failed delivery pending again, due at now_ms (same id). */
enum bh_err store_delivery_requeue(struct store *st, int64_t id, int64_t now_ms);
/* Requeues every delivered or failed delivery of a service created at or after since_ms. */
enum bh_err store_delivery_requeue_since(struct store *st, int64_t soid, int64_t since_ms,
                                         int64_t now_ms, int64_t *count);
struct delivery_health {
  int64_t pending, delivered, failed, cancelled;
  int64_t last_success_ms, last_failure_ms; /* 0: never */
  int64_t attempts_24h, failures_24h;
  char *last_error; /* of the latest failed attempt, or NULL */
};
enum bh_err store_delivery_health(struct store *st, int64_t soid, int64_t now_ms,
                                  struct delivery_health *out);
/* Removes finished deliveries (and their attempts) whose last attempt, or creation if none, is
 * before before_ms. */
enum bh_err store_delivery_purge(struct store *st, int64_t before_ms, int64_t *removed);

#endif
