/* list_projects.c: logs in and lists the projects the user can read.
 *   list_projects URL USERNAME PASSWORD      e.g. http://127.0.0.1:8082 admin@example.com secret */
#include <stdio.h>

#include <bimhub/bimhub.h>

int main(int argc, char **argv)
{
  if (argc != 4) {
    fprintf(stderr, "usage: %s URL USERNAME PASSWORD\n", argv[0]);
    return 2;
  }
  struct bimhub_error err = {0};
  json_t *projects = NULL;
  struct bimhub_client *c = bimhub_client_new(argv[1]);
  if (!c) {
    fprintf(stderr, "list_projects: %s is not an http(s) URL\n", argv[1]);
    return 2;
  }
  if (bimhub_client_login(c, argv[2], argv[3], &err) != BIMHUB_OK ||
      bimhub_get_all_projects(c, false, true, &projects, &err) != BIMHUB_OK) {
    fprintf(stderr, "list_projects: %s\n", err.message);
    bimhub_client_free(c);
    return 1;
  }
  printf("%-10s %-10s %-12s %s\n", "poid", "parent", "schema", "name");
  size_t i;
  json_t *p;
  json_array_foreach(projects, i, p)
  {
    printf("%-10lld %-10lld %-12s %s\n", (long long)bimhub_json_int(p, "oid", -1),
           (long long)bimhub_json_int(p, "parentId", -1),
           bimhub_json_str(p, "schema") ? bimhub_json_str(p, "schema") : "",
           bimhub_json_str(p, "name") ? bimhub_json_str(p, "name") : "");
  }
  json_decref(projects);
  bimhub_client_logout(c, NULL);
  bimhub_client_free(c);
  return 0;
}
