/* notification_test.c: what a service reads and answers: the fields of a notification,
 * the descriptor and profiles (with __type, in BIMserver's field order), delivery ids, and the
 * Standard Webhooks check: a good signature passes, a tampered body, another secret, an old
 * timestamp or missing headers are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "notify/sign.h"
#include "sdk_internal.h"

static void notification_fields(void **state)
{
  (void)state;
  json_t *p =
      json_loads("{\"poid\":131075,\"roid\":196613,\"soid\":720902,"
                 "\"serviceIdentifier\":\"clash\",\"profileIdentifier\":\"default\","
                 "\"userToken\":\"ACME\",\"token\":\"6f1c\",\"apiUrl\":\"http://bim:8080\"}",
                 0, NULL);
  struct bimhub_notification n;
  sdk_notification_read("newRevision", p, &n);
  assert_string_equal(n.method, "newRevision");
  assert_int_equal(n.poid, 131075);
  assert_int_equal(n.roid, 196613);
  assert_int_equal(n.soid, 720902);
  assert_int_equal(n.edid, -1);
  assert_string_equal(n.service_identifier, "clash");
  assert_string_equal(n.profile_identifier, "default");
  assert_string_equal(n.user_token, "ACME");
  assert_string_equal(n.token, "6f1c");
  assert_string_equal(n.api_url, "http://bim:8080");
  assert_ptr_equal(n.parameters, p);
  assert_int_equal(n.attempt, 1);
  json_decref(p);
  p = json_loads("{\"poid\":1,\"roid\":2,\"edid\":3,\"soid\":-1}", 0, NULL);
  sdk_notification_read("newExtendedDataOnRevision", p, &n);
  assert_int_equal(n.edid, 3);
  assert_null(n.token);
  json_decref(p);
  sdk_notification_read("x", NULL, &n);
  assert_int_equal(n.poid, -1);
}

static void interface_names(void **state)
{
  (void)state;
  assert_true(sdk_is_remote_iface("RemoteServiceInterface"));
  assert_true(sdk_is_remote_iface("Bimsie1RemoteServiceInterface"));
  assert_true(sdk_is_remote_iface("org.bimserver.RemoteServiceInterface"));
  assert_true(sdk_is_remote_iface("org.buildingsmart.bimsie1.Bimsie1RemoteServiceInterface"));
  assert_false(sdk_is_remote_iface("ServiceInterface"));
  assert_false(sdk_is_remote_iface(NULL));
}

static void descriptor_and_profiles(void **state)
{
  (void)state;
  struct bimhub_profile_desc profiles[] = {
      {.identifier = "fast", .name = "Fast", .is_public = true},
      {.identifier = "secret", .description = "for members"},
  };
  struct bimhub_service_desc d = {.identifier = "hello",
                                  .name = "Hello",
                                  .provider_name = "ACME",
                                  .read_revision = true,
                                  .write_extended_data = "hello-report",
                                  .profiles = profiles,
                                  .n_profiles = 2};
  json_t *j = bimhub_service_descriptor_json(&d, "http://127.0.0.1:9");
  assert_non_null(j);
  char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_string_equal(
      s, "{\"__type\":\"SServiceDescriptor\",\"authorizeUrl\":null,\"companyUrl\":null,"
         "\"description\":null,\"identifier\":\"hello\",\"name\":\"Hello\",\"newProfileUrl\":null,"
         "\"notificationProtocol\":\"JSON\",\"providerName\":\"ACME\",\"readExtendedData\":null,"
         "\"readRevision\":true,\"registerUrl\":null,\"token\":null,\"tokenUrl\":null,"
         "\"trigger\":\"NEW_REVISION\",\"url\":\"http://127.0.0.1:9\","
         "\"writeExtendedData\":\"hello-report\",\"writeRevision\":false}");
  free(s);
  json_decref(j);
  struct bimhub_service_desc bad = {.name = "x"};
  assert_null(bimhub_service_descriptor_json(&bad, NULL));

  json_t *pub = sdk_profiles_json(&d, true);
  assert_int_equal(json_array_size(pub), 1);
  json_t *p0 = json_array_get(pub, 0);
  assert_string_equal(bimhub_json_str(p0, "__type"), "SProfileDescriptor");
  assert_string_equal(bimhub_json_str(p0, "identifier"), "fast");
  assert_true(json_is_true(json_object_get(p0, "publicProfile")));
  json_decref(pub);
  json_t *priv = sdk_profiles_json(&d, false);
  assert_int_equal(json_array_size(priv), 1);
  assert_string_equal(bimhub_json_str(json_array_get(priv, 0), "name"), "secret");
  json_decref(priv);
  /* no profiles given: one public "default" */
  struct bimhub_service_desc plain = {.identifier = "p", .name = "P"};
  pub = sdk_profiles_json(&plain, true);
  assert_string_equal(bimhub_json_str(json_array_get(pub, 0), "identifier"), "default");
  json_decref(pub);
  priv = sdk_profiles_json(&plain, false);
  assert_int_equal(json_array_size(priv), 0);
  json_decref(priv);
}

static void sservice_from_descriptor(void **state)
{
  (void)state;
  struct bimhub_service_desc d = {
      .identifier = "hello", .name = "Hello", .provider_name = "ACME", .read_revision = true};
  json_t *desc = bimhub_service_descriptor_json(&d, "http://127.0.0.1:9");
  json_t *s = bimhub_sservice_from_descriptor(desc, NULL, "My hello", NULL);
  assert_string_equal(bimhub_json_str(s, "__type"), "SService");
  assert_string_equal(bimhub_json_str(s, "name"), "My hello");
  assert_string_equal(bimhub_json_str(s, "serviceName"), "Hello");
  assert_string_equal(bimhub_json_str(s, "serviceIdentifier"), "hello");
  assert_string_equal(bimhub_json_str(s, "url"), "http://127.0.0.1:9");
  assert_string_equal(bimhub_json_str(s, "trigger"), "NEW_REVISION");
  assert_string_equal(bimhub_json_str(s, "notificationProtocol"), "JSON");
  assert_string_equal(bimhub_json_str(s, "profileIdentifier"), "default");
  assert_true(json_is_true(json_object_get(s, "readRevision")));
  assert_int_equal(bimhub_json_int(s, "writeRevisionId", 0), -1);
  json_decref(s);
  json_decref(desc);
  assert_null(bimhub_sservice_from_descriptor(NULL, NULL, NULL, NULL));
}

static void delivery_ids(void **state)
{
  (void)state;
  char id[SDK_ID_MAX], id2[SDK_ID_MAX];
  sdk_delivery_id("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "b", 1, id);
  assert_string_equal(id, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
  /* unsafe as a file name: hashed */
  sdk_delivery_id("../../etc/passwd", "b", 1, id);
  assert_int_equal(id[0], 'h');
  assert_int_equal(strlen(id), 65);
  assert_null(strchr(id, '/'));
  sdk_delivery_id(".hidden", "b", 1, id);
  assert_int_equal(id[0], 'h');
  /* no id: the body's digest, equal for equal bodies */
  sdk_delivery_id(NULL, "{\"a\":1}", 7, id);
  sdk_delivery_id(NULL, "{\"a\":1}", 7, id2);
  assert_int_equal(id[0], 'b');
  assert_string_equal(id, id2);
  sdk_delivery_id(NULL, "{\"a\":2}", 7, id2);
  assert_string_not_equal(id, id2);
}

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define OTHER "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static void signature_is_checked(void **state)
{
  (void)state;
  const char *body = "{\"request\":{\"interface\":\"RemoteServiceInterface\",\"method\":"
                     "\"newRevision\",\"parameters\":{\"poid\":1,\"roid\":2}}}";
  size_t len = strlen(body);
  int64_t now = 1700000000;
  char sig[SIGN_SIGNATURE_MAX];
  assert_int_equal(sign_message(SECRET, "msg_1", now, body, len, sig), BH_OK);
  struct bimhub_error err;
  assert_int_equal(
      sdk_check_signature(SECRET, "msg_1", "1700000000", sig, body, len, now, 300, &err),
      BIMHUB_OK);
  /* a tampered body */
  char tampered[256];
  snprintf(tampered, sizeof tampered, "%s", body);
  tampered[len - 5] = '3';
  assert_int_equal(
      sdk_check_signature(SECRET, "msg_1", "1700000000", sig, tampered, len, now, 300, &err),
      BIMHUB_DENIED);
  assert_non_null(strstr(err.message, "Invalid signature"));
  /* another id, another secret, a stale timestamp, missing headers */
  assert_int_equal(
      sdk_check_signature(SECRET, "msg_2", "1700000000", sig, body, len, now, 300, &err),
      BIMHUB_DENIED);
  assert_int_equal(
      sdk_check_signature(OTHER, "msg_1", "1700000000", sig, body, len, now, 300, &err),
      BIMHUB_DENIED);
  assert_int_equal(
      sdk_check_signature(SECRET, "msg_1", "1700000000", sig, body, len, now + 301, 300, &err),
      BIMHUB_DENIED);
  assert_int_equal(sdk_check_signature(SECRET, NULL, "1700000000", sig, body, len, now, 300, &err),
                   BIMHUB_DENIED);
  assert_non_null(strstr(err.message, "Missing"));
  assert_int_equal(
      sdk_check_signature(SECRET, "msg_1", "1700000000", NULL, body, len, now, 300, &err),
      BIMHUB_DENIED);
  /* a provider with several registrations: any of its secrets verifies */
  assert_int_equal(
      sdk_check_signature(OTHER " " SECRET, "msg_1", "1700000000", sig, body, len, now, 300, &err),
      BIMHUB_OK);
  assert_int_equal(
      sdk_check_signature(SECRET "," OTHER, "msg_1", "1700000000", sig, body, len, now, 300, &err),
      BIMHUB_OK);
  assert_int_equal(
      sdk_check_signature(OTHER ", " OTHER, "msg_1", "1700000000", sig, body, len, now, 300, &err),
      BIMHUB_DENIED);
  /* rotation: the header holds several signatures; one matching is enough */
  const char *secrets[] = {OTHER, SECRET};
  char header[2 * SIGN_SIGNATURE_MAX];
  assert_int_equal(sign_header_for(secrets, 2, "msg_1", now, body, len, header, sizeof header),
                   BH_OK);
  assert_int_equal(
      sdk_check_signature(SECRET, "msg_1", "1700000000", header, body, len, now, 300, &err),
      BIMHUB_OK);
}

int main(void)
{
  sdk_global_init(); /* libsodium */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(notification_fields),
      cmocka_unit_test(interface_names),
      cmocka_unit_test(descriptor_and_profiles),
      cmocka_unit_test(sservice_from_descriptor),
      cmocka_unit_test(delivery_ids),
      cmocka_unit_test(signature_is_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
