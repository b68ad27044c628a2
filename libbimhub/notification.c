/* notification.c: what a service provider reads and writes (spec §4.8, §5, §8.4): the
 * RemoteServiceInterface names, the fields of a notification, the SServiceDescriptor and
 * SProfileDescriptor objects (every object carries "__type": the server refuses any
 * without), delivery ids, and the Standard Webhooks check (src/notify/sign.c). */
#include "sdk_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "notify/sign.h"

bool sdk_is_remote_iface(const char *name)
{
  static const char *const names[] = {
      "RemoteServiceInterface", "org.bimserver.RemoteServiceInterface",
      "Bimsie1RemoteServiceInterface", "org.buildingsmart.bimsie1.Bimsie1RemoteServiceInterface"};
  for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0)
      return true;
  return false;
}

void sdk_notification_read(const char *method, json_t *params, struct bimhub_notification *n)
{
  memset(n, 0, sizeof *n);
  n->method = method;
  n->parameters = params;
  n->poid = bimhub_json_int(params, "poid", -1);
  n->roid = bimhub_json_int(params, "roid", -1);
  n->edid = bimhub_json_int(params, "edid", -1);
  n->soid = bimhub_json_int(params, "soid", -1);
  n->service_identifier = bimhub_json_str(params, "serviceIdentifier");
  n->profile_identifier = bimhub_json_str(params, "profileIdentifier");
  n->user_token = bimhub_json_str(params, "userToken");
  n->token = bimhub_json_str(params, "token");
  n->api_url = bimhub_json_str(params, "apiUrl");
  n->attempt = 1;
}

json_t *sdk_profiles_json(const struct bimhub_service_desc *desc, bool is_public)
{
  json_t *a = json_array();
  if (!a)
    return NULL;
  if (!desc->profiles || desc->n_profiles == 0) {
    if (is_public)
      json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:b}", "__type", "SProfileDescriptor",
                                         "description", "", "identifier", "default", "name",
                                         "Default", "publicProfile", 1));
    return a;
  }
  for (size_t i = 0; i < desc->n_profiles; i++) {
    const struct bimhub_profile_desc *p = &desc->profiles[i];
    if (p->is_public != is_public || !p->identifier)
      continue;
    json_t *o = json_pack("{s:s,s:s?,s:s,s:s,s:b}", "__type", "SProfileDescriptor", "description",
                          p->description, "identifier", p->identifier, "name",
                          p->name ? p->name : p->identifier, "publicProfile", p->is_public);
    if (!o || json_array_append_new(a, o) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

json_t *bimhub_service_descriptor_json(const struct bimhub_service_desc *d, const char *url)
{
  if (!d || !d->identifier || !d->name)
    return NULL;
  /* fields in byte-wise order after __type, as BIMserver sends S-objects (spec §3) */
  return json_pack("{s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s?, s:s, s:s?, s:s?, s:b, s:s?, s:s?,"
                   " s:s?, s:s, s:s?, s:s?, s:b}",
                   "__type", "SServiceDescriptor", "authorizeUrl", d->authorize_url, "companyUrl",
                   d->company_url, "description", d->description, "identifier", d->identifier,
                   "name", d->name, "newProfileUrl", d->new_profile_url, "notificationProtocol",
                   d->notification_protocol ? d->notification_protocol : "JSON", "providerName",
                   d->provider_name, "readExtendedData", d->read_extended_data, "readRevision",
                   d->read_revision, "registerUrl", d->register_url, "token", d->token, "tokenUrl",
                   d->token_url, "trigger", d->trigger ? d->trigger : "NEW_REVISION", "url",
                   url ? url : d->url, "writeExtendedData", d->write_extended_data, "writeRevision",
                   d->write_revision);
}

static void hex_digest(char prefix, const void *data, size_t len, char out[SDK_ID_MAX])
{
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, data, len);
  out[0] = prefix;
  sodium_bin2hex(out + 1, SDK_ID_MAX - 1, h, sizeof h);
}

void sdk_delivery_id(const char *id, const void *body, size_t len, char out[SDK_ID_MAX])
{
  if (!id) {
    hex_digest('b', body, len, out);
    return;
  }
  size_t n = strlen(id);
  bool safe = n > 0 && n <= 128 && id[0] != '.';
  for (size_t i = 0; safe && i < n; i++) {
    char c = id[i];
    safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  }
  if (safe)
    memcpy(out, id, n + 1);
  else
    hex_digest('h', id, n, out);
}

enum bimhub_rc sdk_check_signature(const char *secret, const char *msg_id, const char *timestamp,
                                   const char *signature, const void *body, size_t len,
                                   int64_t now_s, int64_t tolerance_s, struct bimhub_error *err)
{
  if (!msg_id || !timestamp || !signature)
    return sdk_fail(err, BIMHUB_DENIED,
                    "Missing webhook-id, webhook-timestamp or webhook-signature header");
  /* secret may list several (one per registration of this provider), separated by spaces
   * or commas: any one that verifies will do */
  for (const char *p = secret; p && *p;) {
    size_t n = strcspn(p, " ,");
    char one[SIGN_SECRET_MAX];
    if (n > 0 && n < sizeof one) {
      memcpy(one, p, n);
      one[n] = '\0';
      bool ok = sign_verify(one, msg_id, timestamp, body, len, signature, now_s, tolerance_s);
      memset(one, 0, sizeof one);
      if (ok)
        return BIMHUB_OK;
    }
    p += n;
    p += strspn(p, " ,");
  }
  return sdk_fail(err, BIMHUB_DENIED, "Invalid signature (or timestamp out of tolerance)");
}
