/* topics.h: progress topics and the states of long actions (spec §7). A topic has an id
 * from one counter per server start, a kind (server, project or revision), an owner, the
 * last state sent on it, and for downloads what to send. State changes are published on
 * the event bus (EV_PROGRESS) by the rule of §7.2: the first state, a new title or stage,
 * progress 100, an end state, or more than 200 ms and a new progress; a final state is
 * never dropped. Topics live until cleanupLongAction or keep_ms after they ended.
 * Thread-safe. */
#ifndef BH_TOPICS_H
#define BH_TOPICS_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include "common/bh_err.h"

struct events;
struct topics;

enum topic_kind { TOPIC_SERVER, TOPIC_PROJECT, TOPIC_REVISION };
enum action_state { ACTION_UNKNOWN, ACTION_STARTED, ACTION_ERROR, ACTION_FINISHED };

#define TOPIC_TEXT_MAX 512

/* SLongActionState, and SLongCheckinActionState when is_checkin. */
struct topic_state {
  bool is_checkin;
  int64_t start_ms;
  int64_t end_ms; /* 0: not ended (null) */
  int progress;   /* -1 unknown, 0..100 */
  int stage;      /* counts title changes */
  enum action_state state;
  char title[TOPIC_TEXT_MAX];
  char error[TOPIC_TEXT_MAX]; /* the one entry of "errors", or empty */
  int64_t roid;               /* check-in: the new revision, 0 until it exists */
  int deserialize_error_code;
};

/* What a prepared download sends (serializer output of a revision). */
struct topic_download {
  int64_t roid;
  char blob[65];       /* the file in the blob store */
  char file_name[256]; /* Content-Disposition name, with extension */
  char content_type[96];
  bool zip;             /* wrap in a zip archive (the ifcZIP serializer) */
  char entry_name[256]; /* name inside the zip */
  int64_t serializer_oid;
  int64_t size; /* of the blob */
};

struct topic_info {
  int64_t id;
  enum topic_kind kind;
  int64_t poid, roid; /* -1 where the kind has none */
  int64_t owner_uoid;
  int64_t owner_soid; /* the service whose token made it, -1 for a user's own */
  bool has_state;     /* a state was sent (getProgress gives {} before) */
  struct topic_state state;
  bool has_download;
  struct topic_download download;
};

/* keep_ms: how long an ended topic stays. */
struct topics *topics_new(struct events *ev, int64_t keep_ms);
void topics_free(struct topics *t);

/* At most max topics per owner (0: no limit; the default). Check-in topics are never
 * refused, but count. */
void topics_set_max_per_owner(struct topics *t, int64_t max);
/* A new topic; announces it (EV_TOPIC_NEW). type: SProgressTopicType name, description:
 * free text. Its state starts as BIMserver's: STARTED, "Unknown", progress -1, stage 0,
 * and is not sent. BH_TOOBIG when the owner already holds the most topics allowed (ended
 * ones count until they are removed or expire). */
enum bh_err topics_create(struct topics *t, enum topic_kind kind, const char *type,
                          const char *description, int64_t poid, int64_t roid, int64_t owner_uoid,
                          int64_t owner_soid, bool is_checkin, int64_t *id);
/* Moves a topic's state on: a new title increments stage; ACTION_FINISHED/ERROR set end.
 * progress < -1 keeps the current progress. BH_NOTFOUND for an unknown topic. */
enum bh_err topics_progress(struct topics *t, int64_t id, const char *title, int progress);
enum bh_err topics_finish(struct topics *t, int64_t id, const char *title, int64_t roid);
enum bh_err topics_fail(struct topics *t, int64_t id, const char *message, int deserialize_code);
/* Replaces the whole state (updateProgressTopic). */
enum bh_err topics_set_state(struct topics *t, int64_t id, const struct topic_state *s);
enum bh_err topics_set_download(struct topics *t, int64_t id, const struct topic_download *d);
/* A copy of the topic. BH_NOTFOUND when unknown or cleaned up. */
enum bh_err topics_get(struct topics *t, int64_t id, struct topic_info *out);
/* Removes a topic (cleanupLongAction); announces EV_TOPIC_CLOSED. Unknown ids: BH_NOTFOUND. */
enum bh_err topics_remove(struct topics *t, int64_t id);
/* Ids of live topics: all (poid -1 and roid -1), of a project (its own and its revisions'),
 * or of a revision. *ids malloc'd. */
enum bh_err topics_list(struct topics *t, int64_t poid, int64_t roid, int64_t **ids, size_t *n);
/* Drops topics that ended more than keep_ms ago. */
void topics_expire(struct topics *t, int64_t now_ms);

const char *action_state_name(enum action_state s);

#endif
