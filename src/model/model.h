/* model.h: the domain rules of users, projects and the server: who may see and change
 * what, names and schemas, server state. Functions take the acting user, check rights,
 * write through the store in one transaction, and publish events after the commit. On
 * failure they fill a bh_why with the words BIMserver clients expect. Thread-safe. */
#ifndef BH_MODEL_H
#define BH_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/token.h"
#include "common/bh_err.h"
#include "store/store.h"

struct events;
struct bh_config;
struct blob_store;
struct topics;
struct checkins;

enum user_type { USER_SYSTEM, USER_ADMIN, USER_USER, USER_READ_ONLY, USER_MONITOR };
enum object_state { STATE_ACTIVE = 0, STATE_DELETED = 1 };
enum server_state { SERVER_NOT_SETUP, SERVER_RUNNING };

/* What a service token was issued for (spec §8.5), which decides what it may touch. */
enum service_scope {
  SCOPE_REVISION = 0,      /* newRevision: reads the project tree, writes ed to roid */
  SCOPE_EXTENDED_DATA = 1, /* newExtendedDataOn*: reads roid, writes ed to it if granted */
  SCOPE_PROJECT = 2,       /* newProject: reads the project tree, writes no extended data */
};

/* The explicit rights of a service token: the SService's grants and the token's context. */
struct service_grant {
  int64_t poid;       /* the service's project */
  int64_t roid;       /* the revision the notification was about, -1 */
  int scope;          /* enum service_scope */
  bool read_revision; /* SService.readRevision */
  int64_t write_poid; /* SService.writeRevisionId: the project it may check in to, -1 */
  bool read_ed;       /* SService.readExtendedDataId set */
  bool write_ed;      /* SService.writeExtendedDataId set */
};

/* The service a service token acts for, -1 for a user's own session. */
#define ACTOR_SOID(a) ((a)->is_service ? (a)->service_oid : INT64_C(-1))

/* Who is calling, resolved from the token. */
struct actor {
  int64_t uoid; /* -1: anonymous */
  enum user_type type;
  bool is_service; /* a service token (explicit rights only) */
  int64_t service_oid;
  struct service_grant grant; /* when is_service */
};

struct model {
  struct store *st;
  struct events *ev;
  const struct bh_config *cfg;
  struct blob_store *blobs;  /* model files and uploaded files */
  struct topics *topics;     /* progress topics and long actions */
  struct checkins *checkins; /* running check-ins and project reservations (set by rpc) */
  int64_t start_ms;
  char server_uuid[40];
  unsigned char service_key[SERVICE_TOKEN_KEY_LEN]; /* signs service tokens (auth/token.h) */
  _Atomic bool running; /* cached: once set up, a server never goes back to NOT_SETUP */
};

/* Opens the blob store under cfg->data_dir (removing leftovers of a crash) and makes the
 * topic registry. Free with model_free(). */
enum bh_err model_init(struct model *m, struct store *st, struct events *ev,
                       const struct bh_config *cfg);
void model_free(struct model *m);

/* ---- server (model/server.c) ---- */
enum server_state model_server_state(struct model *m);
/* setup(): stores the settings, creates the admin, state becomes RUNNING. A NULL
 * site_address keeps the configured one (--public-url, or http://HOST:PORT). */
enum bh_err model_setup(struct model *m, const char *site_address, const char *server_name,
                        const char *server_description, const char *server_icon,
                        const char *admin_name, const char *admin_username,
                        const char *admin_password, struct bh_why *why);
/* Boolean and text settings of SServerSettings, by their field names. */
bool model_setting_bool(struct model *m, const char *name, bool def);
enum bh_err model_setting_set_bool(struct model *m, const char *name, bool value);
char *model_setting_text(struct model *m, const char *name); /* malloc'd or NULL */
enum bh_err model_setting_set_text(struct model *m, const char *name, const char *value);
enum bh_err model_set_site_address(struct model *m, const char *url, struct bh_why *why);
/* Site address: the stored one, else --public-url / http://HOST:PORT. malloc'd. */
char *model_site_address(struct model *m);

/* ---- users (model/users.c) ---- */
bool user_type_parse(const char *s, enum user_type *out);
const char *user_type_name(enum user_type t);
/* addUser / addUserWithPassword. password NULL: no password yet. */
enum bh_err user_create(struct model *m, const struct actor *who, const char *username,
                        const char *password, const char *name, enum user_type type,
                        bool self_registration, struct user_rec *out, struct bh_why *why);
/* Checks a login; on success the user. Failures are all "Invalid username/password
 * combination" except the distinct BIMserver cases (deleted, no password, system). */
enum bh_err user_check_login(struct model *m, const char *username, const char *password,
                             struct user_rec *out, struct bh_why *why);
/* Sets a new password and a new user token (the old one stops working) and ends the user's
 * login sessions in the store, all but keep_token (the caller's own, or NULL: every one).
 * The caller ends them in the token cache and on /stream too (rpc_end_sessions). */
enum bh_err user_change_password(struct model *m, const struct actor *who, int64_t uoid,
                                 const char *old_password, const char *new_password,
                                 const char *keep_token, struct bh_why *why);
/* The user of a permanent user token (AuthInterface.loginUserToken). BH_NOTFOUND for any
 * text that is no user's token. */
enum bh_err user_by_user_token(struct model *m, const char *token, struct user_rec *out);
enum bh_err user_get_visible(struct model *m, const struct actor *who, int64_t uoid,
                             struct user_rec *out, struct bh_why *why);
enum bh_err user_by_name_visible(struct model *m, const struct actor *who, const char *username,
                                 struct user_rec *out, struct bh_why *why);
enum bh_err user_list_visible(struct model *m, const struct actor *who, struct user_list *out,
                              struct bh_why *why);
bool user_is_valid_username(const char *username);
/* changeUserType: admins only; never the system user, never to SYSTEM, and never the last
 * active administrator to another type. The caller drops cached sessions of uoid. */
enum bh_err user_change_type(struct model *m, const struct actor *who, int64_t uoid,
                             enum user_type type, struct bh_why *why);
/* deleteUser / undeleteUser: admins only; never the system user, never the last active
 * administrator. A deleted user cannot log in; the caller ends its sessions. */
enum bh_err user_set_deleted(struct model *m, const struct actor *who, int64_t uoid, bool deleted,
                             struct bh_why *why);

/* ---- projects (model/projects.c) ---- */
/* schema in any case (ifc2x3tc1, ifc4, ifc4x3); out gets the lower-case form. */
bool project_schema_normalize(const char *schema, char out[16]);
enum bh_err project_create(struct model *m, const struct actor *who, const char *name,
                           const char *schema, int64_t parent_poid, struct project_rec *out,
                           struct bh_why *why);
/* Read right: admin; or rights on the project, one of its ancestors or descendants.
 * Deleted projects: admins only. */
bool project_can_read(struct model *m, const struct actor *who, const struct project_rec *p);
/* Write right (change it, manage its users): admin, or direct rights on it or an ancestor. */
bool project_can_write(struct model *m, const struct actor *who, const struct project_rec *p);
enum bh_err project_get_readable(struct model *m, const struct actor *who, int64_t poid,
                                 struct project_rec *out, struct bh_why *why);
enum bh_err project_list_readable(struct model *m, const struct actor *who, bool only_top,
                                  bool only_active, struct project_list *out);
enum bh_err project_update(struct model *m, const struct actor *who,
                           const struct project_rec *changes, struct bh_why *why);
/* deleteProject / undeleteProject: the project and its sub-projects change state. */
enum bh_err project_set_deleted(struct model *m, const struct actor *who, int64_t poid,
                                bool deleted, struct bh_why *why);
/* The same checks when the caller needs no record. */
enum bh_err project_check_readable(struct model *m, const struct actor *who, int64_t poid,
                                   struct bh_why *why);
enum bh_err revision_check_readable(struct model *m, const struct actor *who, int64_t roid,
                                    struct bh_why *why);
/* A revision whose project the actor may read; "Revision does not exist" otherwise. */
enum bh_err revision_get_readable(struct model *m, const struct actor *who, int64_t roid,
                                  struct revision_rec *out, struct bh_why *why);
/* Readable projects as BIMserver lists them for getAllProjectsSmall (poid -1) and
 * getAllRelatedProjects (the tree poid is in): each top-level project, then its sub-projects
 * by name, depth first; deleted ones for admins only. */
enum bh_err project_tree_readable(struct model *m, const struct actor *who, int64_t poid,
                                  struct project_list *out);
/* Projects uoid has direct rights on; deleted ones only when who is an admin. */
enum bh_err project_list_of_user(struct model *m, const struct actor *who, int64_t uoid,
                                 struct project_list *out);
/* Projects who may add users to (write right) on which uoid has no direct rights. */
enum bh_err project_list_not_of_user(struct model *m, const struct actor *who, int64_t uoid,
                                     struct project_list *out);
/* Revisions uoid checked in, in projects who may read, oldest first. */
enum bh_err revisions_of_user_readable(struct model *m, const struct actor *who, int64_t uoid,
                                       struct revision_list *out);
/* ---- service tokens (model/service_rights.c, spec §8.5) ---- */
/* The top of poid's project tree, or -1. */
int64_t project_root(struct model *m, int64_t poid);
/* Fills g from the service's SService fields and the token's context. BH_NOTFOUND when the
 * service is gone. */
enum bh_err service_grant_load(struct model *m, int64_t soid, int64_t roid, int scope,
                               struct service_grant *g);
/* Each is true for any actor that is not a service; for a service, what §8.5 grants. */
bool actor_may_read_revision(struct model *m, const struct actor *who,
                             const struct revision_rec *r);
bool actor_may_checkin(struct model *m, const struct actor *who, int64_t poid);
/* Whether who made what (owner_soid -1: a user's own session made it) or is a real
 * administrator. A service token owns only what its own service made, never its owner's. */
bool actor_owns(const struct actor *who, int64_t owner_uoid, int64_t owner_soid);
bool actor_may_write_ed(const struct actor *who, int64_t roid);
bool actor_may_read_ed(const struct actor *who, int64_t roid);
/* A service token for a notification (never logged): signed, not stored. */
void service_token_issue(struct model *m, int64_t uoid, int64_t soid, int64_t roid, int scope,
                         char out[SERVICE_TOKEN_TEXT_LEN + 1]);

/* ---- the notification outbox (model/outbox.c) ----
 * Each writes the deliveries an event causes; call inside the event's own transaction. */
enum bh_err outbox_new_revision(struct model *m, int64_t poid, int64_t roid, int64_t by_soid);
enum bh_err outbox_extended_data(struct model *m, int64_t poid, int64_t roid, int64_t edid);
enum bh_err outbox_new_project(struct model *m, int64_t parent_poid, int64_t poid);
/* triggerNewRevision / triggerNewExtendedData: one delivery to soid if its trigger matches;
 * *added 0 when it does not. */
enum bh_err outbox_trigger_revision(struct model *m, int64_t soid, int64_t poid, int64_t roid,
                                    int *added);
enum bh_err outbox_trigger_extended_data(struct model *m, int64_t soid, int64_t poid, int64_t roid,
                                         int64_t edid, int *added);

enum bh_err project_add_user(struct model *m, const struct actor *who, int64_t uoid, int64_t poid,
                             struct bh_why *why);
enum bh_err project_remove_user(struct model *m, const struct actor *who, int64_t uoid,
                                int64_t poid, struct bh_why *why);
/* After uoid lost rights or was deleted: disables (with a reason) each active service uoid
 * owns on a project uoid can no longer read (a deleted user reads none), so nobody's
 * notifications go out with a token of a user without rights. *soids (malloc'd) lists them
 * for the delivery engine. */
enum bh_err services_disable_ownerless(struct model *m, int64_t uoid, int64_t **soids, size_t *n);

#endif
