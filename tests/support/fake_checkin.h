/* fake_checkin.h: test hooks of fake_checkin.c, the stand-in for checkin/upload.h and
 * checkin/download.h that transport tests link instead of src/checkin.
 *
 * Upload: records the fields in order and counts (and hashes, FNV-1a 64) the file bytes; the
 * bytes themselves are dropped, only their number "waits in the queue". Threaded mode: a
 * worker per upload takes drain_bytes every drain_every_us; the queue is full above
 * high_water and drain fires below low_water. Inline mode: the queue empties whenever
 * upload_set_drain() is called (drain runs inside that call) and ready runs inside
 * upload_end(). The reply echoes what was received:
 *   {"peer":P,"header_token":T|null,"fields":[[name,value],...],
 *    "file":{"name":F,"type":T|null,"bytes":N,"fnv":"hex"}|null,"completed":true|false}
 * The fake aborts on any breach of the header's contract (a call after release, a second
 * release or end, a drain registered while one is pending, data outside the file part).
 *
 * Download: topicId=N serves N bytes of fake_pattern_byte() with a known size, "uN" the
 * same with size -1, "eN" fails (download_read -1) after N/2 bytes; anything else is 404
 * "No valid topicId"; no token is 401 "Token required". action=extendeddata&edid=N serves N
 * bytes as text/plain. mime overrides the type; gzip is head.gzip = accept_gzip && zip is
 * not "on" (the bytes are not really compressed). */
#ifndef BH_FAKE_CHECKIN_H
#define BH_FAKE_CHECKIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_checkin_cfg {
  bool is_threaded;
  size_t high_water;       /* upload_is_full() above this (0: never full) */
  size_t low_water;        /* drain fires below this (threaded) */
  size_t drain_bytes;      /* worker speed: bytes per tick */
  unsigned drain_every_us; /* tick */
  bool is_paused;          /* the worker takes nothing until unpaused */
  unsigned ready_delay_ms; /* the worker waits this long before calling ready */
};

struct fake_checkin_stats {
  int uploads_new, uploads_released, uploads_freed;
  int ends_completed, ends_dropped, readies, drains, full_reports;
  size_t max_queued;
  int downloads_opened, downloads_closed, downloads_complete; /* opened: successfully */
  bool last_accept_gzip;
  char last_token[64]; /* "" when NULL */
  char last_header_token[64];
};

/* Sets the mode for uploads created from now on; resets the counters. */
void fake_checkin_configure(const struct fake_checkin_cfg *cfg);
/* Pauses or resumes every worker. */
void fake_checkin_pause(bool is_paused);
void fake_checkin_stats(struct fake_checkin_stats *out);
/* Waits (up to timeout_ms) until every upload created has been freed (released, and its
 * worker done). True when so. */
bool fake_checkin_wait_idle(int timeout_ms);

/* The download pattern and the upload hash, for the tests to compute the same. */
uint8_t fake_pattern_byte(uint64_t i);
uint64_t fake_fnv(uint64_t h, const void *p, size_t n);
#define FAKE_FNV_INIT 0xcbf29ce484222325ULL

#endif
