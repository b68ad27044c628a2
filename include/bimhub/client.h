/* bimhub/client.h: the JSON API client (BIMserver protocol, /json, /upload, /download).
 *
 *   struct bimhub_client *c = bimhub_client_new("http://127.0.0.1:8082");
 *   struct bimhub_error err;
 *   if (bimhub_client_login(c, "admin@example.com", "secret", &err) == BIMHUB_OK) {
 *     json_t *projects;
 *     if (bimhub_get_all_projects(c, true, true, &projects, &err) == BIMHUB_OK)
 *       ...; json_decref(projects);
 *   }
 *   bimhub_client_free(c);
 *
 * Threads: a client is used by one thread at a time (it keeps one libcurl handle and its
 * connection). Use one client per thread, or hold your own lock around every call on a
 * shared client. Different clients are independent. Every call blocks until the answer
 * (or the timeout, see bimhub_client_set_timeouts()).
 *
 * libcurl and libsodium are initialised by the first bimhub_client_new() (once per
 * process, thread-safe). A program that also uses libcurl directly may call
 * curl_global_init() itself first; the library never calls curl_global_cleanup().
 *
 * Errors: BIMHUB_EXCEPTION when the server answered {"response":{"exception":{...}}}
 * (err->type, ->message, ->code: errorCode, e.g. 3 for an invalid token); BIMHUB_HTTP for a
 * status other than 200 (err->http_status; /json answers 500 to a body that is not JSON);
 * BIMHUB_TRANSPORT when there was no answer; BIMHUB_PROTOCOL when the answer is not an
 * envelope. */
#ifndef BIMHUB_CLIENT_H
#define BIMHUB_CLIENT_H

#include <stdio.h>

#include "bimhub/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bimhub_client;

/* ---- life ---- */

/* A client of the server at base_url ("http://host:port", or with a path prefix
 * "https://host/bimserver"); a trailing "/" or "/json" is removed. Copies base_url. NULL when
 * out of memory or base_url does not start with http:// or https://. Makes no request. */
BIMHUB_API struct bimhub_client *bimhub_client_new(const char *base_url);
/* Frees the client (does not log out). NULL is fine. */
BIMHUB_API void bimhub_client_free(struct bimhub_client *c);

/* The base URL without /json, owned by the client, valid until bimhub_client_free(). */
BIMHUB_API const char *bimhub_client_url(const struct bimhub_client *c);

/* Limits for each HTTP request: connect_ms to connect, total_ms for the whole request
 * (uploads and downloads included: leave it 0 for big files). 0 means no limit. Defaults:
 * 10000 and 0. Each getProgress poll of a check-in is one such request; the wait as a whole
 * is bounded by bimhub_checkin_options.wait_timeout_ms. */
BIMHUB_API void bimhub_client_set_timeouts(struct bimhub_client *c, long connect_ms, long total_ms);

/* ---- the session token ---- */

/* AuthInterface.login(username, password); on success the client keeps the token and sends
 * it with every later call. A wrong password is a BIMHUB_EXCEPTION ("Invalid
 * username/password combination"; the server answers it after a delay). */
BIMHUB_API enum bimhub_rc bimhub_client_login(struct bimhub_client *c, const char *username,
                                              const char *password, struct bimhub_error *err);
/* Uses token (copied) for later calls; NULL forgets the token (anonymous calls). */
BIMHUB_API enum bimhub_rc bimhub_client_set_token(struct bimhub_client *c, const char *token);
/* The current token, or NULL. Owned by the client; valid until the next login, set_token,
 * logout or free. */
BIMHUB_API const char *bimhub_client_token(const struct bimhub_client *c);
/* AuthInterface.logout(); the client forgets its token whatever the answer. */
BIMHUB_API enum bimhub_rc bimhub_client_logout(struct bimhub_client *c, struct bimhub_error *err);

/* ---- calls ---- */

/* Calls interface.method(params) over POST <base>/json with the envelope
 * {"token":T,"request":{"interface":I,"method":M,"parameters":params}} (no "token" key when
 * the client has none). Interface names may be short ("ServiceInterface") or full
 * ("org.bimserver.ServiceInterface").
 *   params: STOLEN, also on failure; NULL sends {}. Build it with json_pack("{s:I}", ...);
 *           json_incref() an object you want to keep.
 *   result: if not NULL, receives the "result" value (a new reference: json_decref() it), or
 *           NULL on failure. Void methods give {} (as BIMserver).
 * Returns BIMHUB_OK, or BIMHUB_EXCEPTION / HTTP / TRANSPORT / PROTOCOL / NOMEM. */
BIMHUB_API enum bimhub_rc bimhub_client_call(struct bimhub_client *c, const char *interface_name,
                                             const char *method, json_t *params, json_t **result,
                                             struct bimhub_error *err);

/* Posts a whole envelope as it is to <base>/json (a multi-call {"requests":[...]}, an "id"
 * ...), adding the client's "token" when the envelope has none. envelope is STOLEN. *reply
 * receives the whole parsed answer object, uninterpreted (exceptions inside it are not
 * errors here). BIMHUB_HTTP for a status other than 200. */
BIMHUB_API enum bimhub_rc bimhub_client_request(struct bimhub_client *c, json_t *envelope,
                                                json_t **reply, struct bimhub_error *err);

/* ---- progress of transfers ---- */

enum bimhub_progress_phase {
  BIMHUB_PROGRESS_UPLOAD,   /* bytes of a check-in sent to /upload */
  BIMHUB_PROGRESS_SERVER,   /* a new state of the server's progress topic (getProgress) */
  BIMHUB_PROGRESS_DOWNLOAD, /* bytes received from /download */
};

struct bimhub_progress {
  enum bimhub_progress_phase phase;
  int64_t done;      /* UPLOAD/DOWNLOAD: bytes so far, as on the wire (a gzip'd download
                        counts compressed bytes, and so does total) */
  int64_t total;     /* UPLOAD/DOWNLOAD: bytes in all, -1 when unknown */
  int64_t topic_id;  /* the server topic, -1 before the server named it */
  int percent;       /* 0-100, -1 when unknown (SERVER: the state's "progress") */
  const char *title; /* SERVER: the state's title ("Generating inverses/opposites..."); else
                        NULL. Valid during the callback. */
  const char *state; /* SERVER: "STARTED", "FINISHED", "AS_ERROR"...; else NULL */
  json_t *raw;       /* SERVER: the SLongActionState object, BORROWED; else NULL */
};

/* Return 0 to go on, anything else to stop: the running call then returns BIMHUB_ABORTED
 * (an upload is cut off; while waiting for the server, the check-in itself goes on and its
 * topic id is in the call's result). */
typedef int (*bimhub_progress_cb)(void *arg, const struct bimhub_progress *p);

/* Sets (or with cb NULL removes) the progress callback of later check-ins and downloads on
 * this client. It runs on the thread making those calls, inside them; UPLOAD and DOWNLOAD
 * at most about every 100 ms plus once at the end, SERVER once per new state. */
BIMHUB_API void bimhub_client_set_progress(struct bimhub_client *c, bimhub_progress_cb cb,
                                           void *arg);

/* ---- projects and users (ServiceInterface) ---- */

/* addProject(projectName, schema): schema "ifc2x3tc1", "ifc4" or "ifc4x3". *project: the new
 * SProject (may be NULL to ignore). */
BIMHUB_API enum bimhub_rc bimhub_add_project(struct bimhub_client *c, const char *name,
                                             const char *schema, json_t **project,
                                             struct bimhub_error *err);
/* addProjectAsSubProject(projectName, parentPoid, schema). */
BIMHUB_API enum bimhub_rc bimhub_add_sub_project(struct bimhub_client *c, const char *name,
                                                 int64_t parent_poid, const char *schema,
                                                 json_t **project, struct bimhub_error *err);
/* getAllProjects(onlyTopLevel, onlyActive) -> array of SProject. */
BIMHUB_API enum bimhub_rc bimhub_get_all_projects(struct bimhub_client *c, bool only_top_level,
                                                  bool only_active, json_t **projects,
                                                  struct bimhub_error *err);
/* getProjectByPoid(poid) -> SProject. */
BIMHUB_API enum bimhub_rc bimhub_get_project_by_poid(struct bimhub_client *c, int64_t poid,
                                                     json_t **project, struct bimhub_error *err);
/* getProjectsByName(name) -> array of SProject. */
BIMHUB_API enum bimhub_rc bimhub_get_projects_by_name(struct bimhub_client *c, const char *name,
                                                      json_t **projects, struct bimhub_error *err);
/* deleteProject(poid) (marks it DELETED). */
BIMHUB_API enum bimhub_rc bimhub_delete_project(struct bimhub_client *c, int64_t poid,
                                                struct bimhub_error *err);

/* addUser(username, name, type, selfRegistration=false, resetUrl=""): type "ADMIN", "USER"
 * or "READ_ONLY". The user has no password: see bimhub_add_user_with_password(). */
BIMHUB_API enum bimhub_rc bimhub_add_user(struct bimhub_client *c, const char *username,
                                          const char *name, const char *type, json_t **user,
                                          struct bimhub_error *err);
/* addUserWithPassword(username, password, name, type, selfRegistration=false, resetUrl=""). */
BIMHUB_API enum bimhub_rc bimhub_add_user_with_password(struct bimhub_client *c,
                                                        const char *username, const char *password,
                                                        const char *name, const char *type,
                                                        json_t **user, struct bimhub_error *err);
/* getAllUsers() -> array of SUser. */
BIMHUB_API enum bimhub_rc bimhub_get_all_users(struct bimhub_client *c, json_t **users,
                                               struct bimhub_error *err);
/* addUserToProject(uoid, poid). */
BIMHUB_API enum bimhub_rc bimhub_add_user_to_project(struct bimhub_client *c, int64_t uoid,
                                                     int64_t poid, struct bimhub_error *err);

/* ---- revisions ---- */

/* getAllRevisionsOfProject(poid) -> array of SRevision. */
BIMHUB_API enum bimhub_rc bimhub_get_all_revisions_of_project(struct bimhub_client *c, int64_t poid,
                                                              json_t **revisions,
                                                              struct bimhub_error *err);
/* getRevision(roid) -> SRevision. */
BIMHUB_API enum bimhub_rc bimhub_get_revision(struct bimhub_client *c, int64_t roid,
                                              json_t **revision, struct bimhub_error *err);

/* ---- plugins, topics ---- */

/* getSuggestedDeserializerForExtension(extension, poid): the oid of a deserializer for files
 * with that extension ("ifc", "ifczip"; a leading "." is fine) in that project.
 * BIMHUB_NOT_FOUND when the server has none. */
BIMHUB_API enum bimhub_rc bimhub_get_suggested_deserializer(struct bimhub_client *c,
                                                            const char *extension, int64_t poid,
                                                            int64_t *oid, struct bimhub_error *err);
/* getSerializerByContentType(contentType) -> oid ("application/ifc"). BIMHUB_NOT_FOUND. */
BIMHUB_API enum bimhub_rc bimhub_get_serializer_by_content_type(struct bimhub_client *c,
                                                                const char *content_type,
                                                                int64_t *oid,
                                                                struct bimhub_error *err);
/* PluginInterface.getSerializerByPluginClassName(pluginClassName) -> oid. */
BIMHUB_API enum bimhub_rc bimhub_get_serializer_by_plugin_class_name(struct bimhub_client *c,
                                                                     const char *class_name,
                                                                     int64_t *oid,
                                                                     struct bimhub_error *err);
/* NotificationRegistryInterface.getProgress(topicId) -> SLongActionState; {} when the topic
 * has no state yet (then *state is {} and the call succeeds). */
BIMHUB_API enum bimhub_rc bimhub_get_progress(struct bimhub_client *c, int64_t topic_id,
                                              json_t **state, struct bimhub_error *err);
/* ServiceInterface.cleanupLongAction(topicId). */
BIMHUB_API enum bimhub_rc bimhub_cleanup_long_action(struct bimhub_client *c, int64_t topic_id,
                                                     struct bimhub_error *err);

/* ---- check-in ---- */

struct bimhub_checkin_options {
  int64_t deserializer_oid; /* 0: getSuggestedDeserializerForExtension(the file name's
                               extension, poid) */
  int64_t topic_id;         /* 0: the server makes a topic; else one from initiateCheckin */
  const char *file_name;    /* name the server records; NULL: the path's last component
                               (bimhub_checkin_file) or "model.ifc" (bimhub_checkin_read) */
  bool no_wait;             /* return once the upload is answered, with the topic id only */
  bool server_sync;         /* send sync=true: the server answers /upload with the final
                               state (no SERVER progress while it works) */
  long poll_interval_ms;    /* getProgress polling while waiting; 0: 250 */
  long wait_timeout_ms;     /* give up waiting after this long (BIMHUB_TIMEOUT; the check-in
                               goes on); 0: no limit */
};

struct bimhub_checkin_result {
  int64_t topic_id; /* the server's topic (-1 if the upload was refused) */
  int64_t roid;     /* the new revision when the check-in FINISHED, else -1 */
  json_t *state;    /* the last SLongCheckinActionState seen, a new reference owned by the
                       caller (json_decref), or NULL */
};

/* Checks the file at path in to project poid: POST <base>/upload (multipart: token, poid,
 * deserializerOid, comment, topicId, sync, then the file streamed from disk), then, unless
 * no_wait, polls getProgress(topicId) until FINISHED or AS_ERROR. opts may be NULL
 * (defaults); comment may be NULL. Progress callbacks (UPLOAD, then SERVER) as set with
 * bimhub_client_set_progress(). Returns BIMHUB_OK when the check-in finished (out->roid is
 * the revision), BIMHUB_FAILED when it ended in AS_ERROR (err->message: the server's words,
 * err->code: the deserializeErrorCode), BIMHUB_EXCEPTION when /upload refused it, BIMHUB_IO
 * when the file cannot be read, BIMHUB_ABORTED, BIMHUB_TIMEOUT. out may be NULL; when given,
 * it is filled in every case (and its state must be released by the caller). The topic is
 * not cleaned up (the server forgets ended topics after a while; see
 * bimhub_cleanup_long_action()). */
BIMHUB_API enum bimhub_rc bimhub_checkin_file(struct bimhub_client *c, int64_t poid,
                                              const char *path, const char *comment,
                                              const struct bimhub_checkin_options *opts,
                                              struct bimhub_checkin_result *out,
                                              struct bimhub_error *err);

/* Reads up to len bytes into buf; returns the count, 0 at the end, or (size_t)-1 on an error
 * (the call then fails with BIMHUB_IO). */
typedef size_t (*bimhub_read_cb)(void *arg, void *buf, size_t len);

/* As bimhub_checkin_file(), with the model read through reader(arg, ...) on the calling thread
 * during this call; size is its length in bytes or -1 when unknown (the upload is then
 * chunked). */
BIMHUB_API enum bimhub_rc
bimhub_checkin_read(struct bimhub_client *c, int64_t poid, bimhub_read_cb reader, void *arg,
                    int64_t size, const char *comment, const struct bimhub_checkin_options *opts,
                    struct bimhub_checkin_result *out, struct bimhub_error *err);

/* ---- download ---- */

/* Receives each piece of a download in order; return 0 to go on, anything else to stop
 * (the call then returns BIMHUB_ABORTED). Runs on the calling thread. */
typedef int (*bimhub_write_cb)(void *arg, const void *data, size_t len);

/* Downloads revision roid as the serializer serializer_oid makes it (0: the IFC STEP
 * serializer, getSerializerByContentType("application/ifc"), falling back to
 * getSerializerByPluginClassName of BIMserver's IFC2x3/IFC4 STEP serializers):
 * ServiceInterface.download([roid], "{\"includeAllFields\":true}", serializerOid, false),
 * getProgress until "Done preparing" (or FINISHED), GET <base>/download?token=..&topicId=..
 * streamed into writer, then cleanupLongAction(topicId). DOWNLOAD progress as set with
 * bimhub_client_set_progress(). BIMHUB_HTTP when /download refuses (err->message: its text). */
BIMHUB_API enum bimhub_rc bimhub_download_revision(struct bimhub_client *c, int64_t roid,
                                                   int64_t serializer_oid, bimhub_write_cb writer,
                                                   void *arg, struct bimhub_error *err);
/* The same into fp (not closed; not flushed beyond fwrite). */
BIMHUB_API enum bimhub_rc bimhub_download_revision_to_fp(struct bimhub_client *c, int64_t roid,
                                                         int64_t serializer_oid, FILE *fp,
                                                         struct bimhub_error *err);
/* The same into the file path: written to "<path>.part", then renamed over path once
 * complete, so path never holds a partial model; the .part file is removed on failure. */
BIMHUB_API enum bimhub_rc bimhub_download_revision_to_file(struct bimhub_client *c, int64_t roid,
                                                           int64_t serializer_oid, const char *path,
                                                           struct bimhub_error *err);

/* ---- extended data and files ---- */

/* uploadFile({"__type":"SFile","data":<Base64>,"filename","mime","size"}) -> *file_id. data
 * is borrowed (encoded during the call); mime NULL: "application/octet-stream". */
BIMHUB_API enum bimhub_rc bimhub_upload_file(struct bimhub_client *c, const char *filename,
                                             const char *mime, const void *data, size_t len,
                                             int64_t *file_id, struct bimhub_error *err);
/* getFile(fileId) -> SFile (with its data in Base64). */
BIMHUB_API enum bimhub_rc bimhub_get_file(struct bimhub_client *c, int64_t file_id, json_t **file,
                                          struct bimhub_error *err);
/* getFile(fileId), with the data decoded: *data is malloc'd (free() it) and NUL-terminated
 * after *len bytes for convenience. */
BIMHUB_API enum bimhub_rc bimhub_get_file_data(struct bimhub_client *c, int64_t file_id,
                                               void **data, size_t *len, struct bimhub_error *err);
/* getExtendedDataSchemaByName(name) -> SExtendedDataSchema; BIMHUB_NOT_FOUND when the server
 * has none of that name. */
BIMHUB_API enum bimhub_rc bimhub_get_extended_data_schema_by_name(struct bimhub_client *c,
                                                                  const char *name, json_t **schema,
                                                                  struct bimhub_error *err);
/* addExtendedDataSchema({"__type":"SExtendedDataSchema","name","contentType","description"})
 * -> *oid. description may be NULL. */
BIMHUB_API enum bimhub_rc bimhub_add_extended_data_schema(struct bimhub_client *c, const char *name,
                                                          const char *content_type,
                                                          const char *description, int64_t *oid,
                                                          struct bimhub_error *err);
/* addExtendedDataToRevision(roid, {"__type":"SExtendedData","title","schemaId","fileId"}). */
BIMHUB_API enum bimhub_rc bimhub_add_extended_data_to_revision(struct bimhub_client *c,
                                                               int64_t roid, const char *title,
                                                               int64_t schema_oid, int64_t file_id,
                                                               struct bimhub_error *err);
/* getAllExtendedDataOfRevision(roid) -> array of SExtendedData. */
BIMHUB_API enum bimhub_rc bimhub_get_all_extended_data_of_revision(struct bimhub_client *c,
                                                                   int64_t roid, json_t **list,
                                                                   struct bimhub_error *err);
/* What a service usually does to write back a report, in one call: the schema named
 * schema_name (created with content_type when the server has none), uploadFile(file_name,
 * content_type, data), addExtendedDataToRevision(roid, title, schema, file). */
BIMHUB_API enum bimhub_rc bimhub_write_extended_data(struct bimhub_client *c, int64_t roid,
                                                     const char *schema_name,
                                                     const char *content_type, const char *title,
                                                     const char *file_name, const void *data,
                                                     size_t len, struct bimhub_error *err);

/* ---- services bound to projects ---- */

/* addServiceToProject(poid, sService) -> *soid. sservice is STOLEN; see
 * bimhub_sservice_from_descriptor() to make one. The server does not contact the service. */
BIMHUB_API enum bimhub_rc bimhub_add_service_to_project(struct bimhub_client *c, int64_t poid,
                                                        json_t *sservice, int64_t *soid,
                                                        struct bimhub_error *err);
/* getAllServicesOfProject(poid) -> array of SService. */
BIMHUB_API enum bimhub_rc bimhub_get_all_services_of_project(struct bimhub_client *c, int64_t poid,
                                                             json_t **services,
                                                             struct bimhub_error *err);
/* deleteService(oid). */
BIMHUB_API enum bimhub_rc bimhub_delete_service(struct bimhub_client *c, int64_t soid,
                                                struct bimhub_error *err);
/* getServiceDescriptor(baseUrl, serviceIdentifier): the server asks the provider at
 * <baseUrl>/json -> SServiceDescriptor. */
BIMHUB_API enum bimhub_rc bimhub_get_service_descriptor(struct bimhub_client *c,
                                                        const char *base_url,
                                                        const char *identifier, json_t **descriptor,
                                                        struct bimhub_error *err);

/* DeliveryInterface.getServiceSecret(soid) (bimhub's own interface; BIMserver has none): the
 * "whsec_..." secret the server signs the service's notifications with, copied to out
 * (BIMHUB_INVALID when len is too small; 128 bytes always suffice). Give it to the service
 * (bimhub_service_options.secret or bimhub_service_set_secret()). */
BIMHUB_API enum bimhub_rc bimhub_get_service_secret(struct bimhub_client *c, int64_t soid,
                                                    char *out, size_t len,
                                                    struct bimhub_error *err);

/* A new SService for addServiceToProject from an SServiceDescriptor (as getService of a
 * provider, or bimhub_get_service_descriptor(), gives it; borrowed): name (NULL: the
 * descriptor's name), serviceName, serviceIdentifier, providerName, description, trigger,
 * notificationProtocol "JSON", url = base_url (NULL: the descriptor's url), readRevision,
 * readExtendedDataId/writeExtendedDataId/writeRevisionId -1, profileIdentifier =
 * profile_identifier (NULL: "default"), profilePublic true. Returns a new reference, or NULL
 * when out of memory or descriptor is not an object. Adjust the ids (writeRevisionId: the
 * poid the service may check in to; write/readExtendedDataId: schema oids) before adding. */
BIMHUB_API json_t *bimhub_sservice_from_descriptor(const json_t *descriptor, const char *base_url,
                                                   const char *name,
                                                   const char *profile_identifier);

#ifdef __cplusplus
}
#endif

#endif
