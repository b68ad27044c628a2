/* server.c: server state, setup and the stored server settings. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/topics.h"
#include "blob/blob.h"
#include "common/bh_log.h"
#include "common/bh_time.h"
#include "config/config.h"
#include "model/model.h"

static void new_uuid(char out[40])
{
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

enum bh_err model_init(struct model *m, struct store *st, struct events *ev,
                       const struct bh_config *cfg)
{
  memset(m, 0, sizeof *m);
  m->st = st;
  m->ev = ev;
  m->cfg = cfg;
  m->start_ms = bh_now_ms();
  enum bh_err rc = blob_store_open(&m->blobs, cfg->data_dir);
  if (rc != BH_OK)
    return rc;
  m->topics = topics_new(ev, cfg->topic_keep_s * 1000);
  if (!m->topics) {
    model_free(m);
    return BH_NOMEM;
  }
  topics_set_max_per_owner(m->topics, cfg->max_topics_per_user);
  char key_path[4096];
  snprintf(key_path, sizeof key_path, "%s/service-token.key", cfg->data_dir);
  if (service_token_key_load(key_path, m->service_key) != BH_OK) {
    BH_LOG(BH_LOG_ERROR, BH_C_AUTH, "cannot read or write %s", key_path);
    model_free(m);
    return BH_IO;
  }
  char *uuid = NULL;
  if (store_setting_get(st, "serverUuid", &uuid) == BH_OK) {
    snprintf(m->server_uuid, sizeof m->server_uuid, "%s", uuid);
    free(uuid);
    return BH_OK;
  }
  new_uuid(m->server_uuid);
  rc = store_setting_set(st, "serverUuid", m->server_uuid);
  if (rc != BH_OK)
    model_free(m);
  return rc;
}

void model_free(struct model *m)
{
  topics_free(m->topics);
  m->topics = NULL;
  blob_store_close(m->blobs);
  m->blobs = NULL;
}

enum server_state model_server_state(struct model *m)
{
  if (m->running)
    return SERVER_RUNNING;
  char *v = NULL;
  if (store_setting_get(m->st, "setupDone", &v) != BH_OK)
    return SERVER_NOT_SETUP;
  free(v);
  m->running = true;
  return SERVER_RUNNING;
}

static bool is_http_url(const char *s)
{
  const char *rest = NULL;
  if (strncmp(s, "http://", 7) == 0)
    rest = s + 7;
  else if (strncmp(s, "https://", 8) == 0)
    rest = s + 8;
  /* "http://http://x" is a doubled scheme, refused like BIMserver does */
  return rest && *rest && strncmp(rest, "http://", 7) != 0 && strncmp(rest, "https://", 8) != 0 &&
         !strchr(rest, ' ');
}

enum bh_err model_set_site_address(struct model *m, const char *url, struct bh_why *why)
{
  if (!url || !is_http_url(url))
    return bh_fail(why, BH_BADREQUEST, "Site address must start with http:// or https://");
  size_t n = strlen(url);
  char *copy = strdup(url);
  if (!copy)
    return BH_NOMEM;
  while (n > 0 && copy[n - 1] == '/')
    copy[--n] = '\0'; /* services append /json themselves */
  enum bh_err rc = store_setting_set(m->st, "siteAddress", copy);
  free(copy);
  return rc;
}

char *model_site_address(struct model *m)
{
  char *v = NULL;
  if (store_setting_get(m->st, "siteAddress", &v) == BH_OK)
    return v;
  if (m->cfg->public_url)
    return strdup(m->cfg->public_url);
  char buf[300];
  snprintf(buf, sizeof buf, "http://%s:%lld", m->cfg->host, (long long)m->cfg->port);
  return strdup(buf);
}

enum bh_err model_setup(struct model *m, const char *site_address, const char *server_name,
                        const char *server_description, const char *server_icon,
                        const char *admin_name, const char *admin_username,
                        const char *admin_password, struct bh_why *why)
{
  if (model_server_state(m) != SERVER_NOT_SETUP)
    return bh_fail(why, BH_STATE, "Server already set-up");
  if (site_address && !is_http_url(site_address))
    return bh_fail(why, BH_BADREQUEST, "Site address must start with http:// or https://");
  if (!admin_username || !*admin_username)
    return bh_fail(why, BH_BADREQUEST, "Admin Username cannot be empty");
  if (!admin_password || !*admin_password)
    return bh_fail(why, BH_BADREQUEST, "Admin Password cannot be empty");

  enum bh_err rc = store_begin(m->st);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  struct actor system = {.uoid = -1, .type = USER_SYSTEM};
  struct user_rec admin = {0};
  if (site_address)
    rc = model_set_site_address(m, site_address, why);
  if (rc == BH_OK)
    rc = store_setting_set(m->st, "name", server_name ? server_name : "");
  if (rc == BH_OK)
    rc = store_setting_set(m->st, "description", server_description ? server_description : "");
  if (rc == BH_OK)
    rc = store_setting_set(m->st, "icon", server_icon ? server_icon : "");
  if (rc == BH_OK)
    rc = user_create(m, &system, admin_username, admin_password,
                     admin_name ? admin_name : "Administrator", USER_ADMIN, false, &admin, why);
  if (rc == BH_OK)
    rc = store_setting_set(m->st, "setupDone", "true");
  if (rc != BH_OK) {
    store_rollback(m->st);
    return rc;
  }
  rc = store_commit(m->st);
  user_rec_clear(&admin);
  if (rc != BH_OK)
    return bh_fail(why, rc, "Database error");
  BH_LOG(BH_LOG_INFO, BH_C_APP, "server set up; state RUNNING");
  return BH_OK;
}

bool model_setting_bool(struct model *m, const char *name, bool def)
{
  char *v = NULL;
  if (store_setting_get(m->st, name, &v) != BH_OK)
    return def;
  bool b = strcmp(v, "true") == 0;
  free(v);
  return b;
}

enum bh_err model_setting_set_bool(struct model *m, const char *name, bool value)
{
  return store_setting_set(m->st, name, value ? "true" : "false");
}

char *model_setting_text(struct model *m, const char *name)
{
  char *v = NULL;
  store_setting_get(m->st, name, &v);
  return v;
}

enum bh_err model_setting_set_text(struct model *m, const char *name, const char *value)
{
  return store_setting_set(m->st, name, value ? value : "");
}
