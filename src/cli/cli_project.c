/* cli_project.c: `bimhub project add|list|show` and `bimhub revisions`. */
#include "cli/cli_internal.h"

#include <stdlib.h>
#include <string.h>

static bool schema_ok(const char *s)
{
  return strcmp(s, "ifc2x3tc1") == 0 || strcmp(s, "ifc4") == 0 || strcmp(s, "ifc4x3") == 0;
}

static int run_project_add(struct cli *c, const struct cli_args *a)
{
  const char *schema = cli_arg(a, "schema");
  if (schema && !schema_ok(schema))
    return cli_fail(CLI_EXIT_USAGE, "project add: --schema must be ifc2x3tc1, ifc4 or ifc4x3");
  const char *parent = cli_arg(a, "parent");
  int64_t parent_poid = -1;
  char parent_schema[16] = "ifc2x3tc1";
  if (parent) {
    json_t *pp;
    int code = cli_find_project(c, parent, &pp);
    if (code)
      return code;
    parent_poid = bimhub_json_int(pp, "oid", -1);
    if (schema_ok(cli_str(pp, "schema")))
      snprintf(parent_schema, sizeof parent_schema, "%s", cli_str(pp, "schema"));
    json_decref(pp);
  }
  if (!schema)
    schema = parent_schema;
  struct bimhub_error err = {0};
  json_t *p = NULL;
  enum bimhub_rc rc = parent
                          ? bimhub_add_sub_project(c->api, a->pos[0], parent_poid, schema, &p, &err)
                          : bimhub_add_project(c->api, a->pos[0], schema, &p, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "project add");
  if (cli_flag(a, "json"))
    cli_print_json(p);
  else
    printf("%lld\n", (long long)bimhub_json_int(p, "oid", -1));
  json_decref(p);
  return CLI_EXIT_OK;
}

static int run_project_list(struct cli *c, const struct cli_args *a)
{
  struct bimhub_error err = {0};
  json_t *list = NULL;
  bool all = cli_flag(a, "all");
  enum bimhub_rc rc = bimhub_get_all_projects(c->api, false, !all, &list, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "project list");
  if (cli_flag(a, "json")) {
    cli_print_json(list);
    json_decref(list);
    return CLI_EXIT_OK;
  }
  static const char *const head[] = {"POID",      "NAME",   "SCHEMA", "REVISIONS",
                                     "LAST ROID", "PARENT", "STATE"};
  struct cli_table *t = cli_table_new(7, head);
  size_t i;
  json_t *p;
  json_array_foreach(list, i, p)
  {
    char poid[24], last[24], parent[24], revs[24];
    snprintf(revs, sizeof revs, "%zu", json_array_size(json_object_get(p, "revisions")));
    cli_table_add(t, cli_id_text(p, "oid", poid, sizeof poid), cli_str(p, "name"),
                  cli_str(p, "schema"), revs, cli_id_text(p, "lastRevisionId", last, sizeof last),
                  cli_id_text(p, "parentId", parent, sizeof parent), cli_str(p, "state"));
  }
  cli_table_print(t, stdout);
  cli_table_free(t);
  json_decref(list);
  return CLI_EXIT_OK;
}

static void print_ids(const char *label, json_t *ids)
{
  printf("%-16s", label);
  if (json_array_size(ids) == 0)
    fputs("-", stdout);
  size_t i;
  json_t *v;
  json_array_foreach(ids, i, v) printf("%s%lld", i ? " " : "", (long long)json_integer_value(v));
  fputc('\n', stdout);
}

static int run_project_show(struct cli *c, const struct cli_args *a)
{
  json_t *p;
  int code = cli_find_project(c, a->pos[0], &p);
  if (code)
    return code;
  if (cli_flag(a, "json")) {
    cli_print_json(p);
    json_decref(p);
    return CLI_EXIT_OK;
  }
  char buf[64];
  printf("%-16s%lld\n", "poid", (long long)bimhub_json_int(p, "oid", -1));
  printf("%-16s%s\n", "name", cli_str(p, "name"));
  printf("%-16s%s\n", "schema", cli_str(p, "schema"));
  printf("%-16s%s\n", "state", cli_str(p, "state"));
  if (cli_str(p, "description")[0])
    printf("%-16s%s\n", "description", cli_str(p, "description"));
  printf("%-16s%s\n", "parent", cli_id_text(p, "parentId", buf, sizeof buf));
  cli_format_time(bimhub_json_int(p, "createdDate", 0), buf, sizeof buf);
  printf("%-16s%s\n", "created", buf);
  printf("%-16s%s\n", "last revision", cli_id_text(p, "lastRevisionId", buf, sizeof buf));
  print_ids("revisions", json_object_get(p, "revisions"));
  print_ids("sub-projects", json_object_get(p, "subProjects"));
  print_ids("services", json_object_get(p, "services"));
  print_ids("users", json_object_get(p, "hasAuthorizedUsers"));
  int64_t busy = bimhub_json_int(p, "checkinInProgress", -1);
  if (busy > 0)
    printf("%-16stopic %lld\n", "check-in", (long long)busy);
  json_decref(p);
  return CLI_EXIT_OK;
}

static int run_revisions(struct cli *c, const struct cli_args *a)
{
  int64_t poid;
  int code = cli_find_poid(c, cli_arg(a, "project"), &poid);
  if (code)
    return code;
  struct bimhub_error err = {0};
  json_t *list = NULL;
  enum bimhub_rc rc = bimhub_get_all_revisions_of_project(c->api, poid, &list, &err);
  if (rc != BIMHUB_OK)
    return cli_fail_rc(rc, &err, "revisions");
  if (cli_flag(a, "json")) {
    cli_print_json(list);
    json_decref(list);
    return CLI_EXIT_OK;
  }
  static const char *const head[] = {"ROID",          "ID",     "DATE", "USER", "OBJECTS",
                                     "EXTENDED DATA", "COMMENT"};
  struct cli_table *t = cli_table_new(7, head);
  size_t i;
  json_t *r;
  json_array_foreach(list, i, r)
  {
    char roid[24], id[24], date[40], user[24], size[24], eds[24];
    cli_format_time(bimhub_json_int(r, "date", 0), date, sizeof date);
    snprintf(eds, sizeof eds, "%zu", json_array_size(json_object_get(r, "extendedData")));
    cli_table_add(t, cli_id_text(r, "oid", roid, sizeof roid), cli_id_text(r, "id", id, sizeof id),
                  date, cli_id_text(r, "userId", user, sizeof user),
                  cli_id_text(r, "size", size, sizeof size), eds, cli_str(r, "comment"));
  }
  cli_table_print(t, stdout);
  cli_table_free(t);
  json_decref(list);
  return CLI_EXIT_OK;
}

static const struct cli_opt add_opts[] = {
    {"schema", 's', "SCHEMA", "ifc2x3tc1 (default; with --parent: the parent's), ifc4 or ifc4x3"},
    {"parent", 0, "PROJECT", "make it a sub-project of this project (name or poid)"},
    {"json", 0, NULL, "print the new SProject as JSON instead of its poid"},
    {NULL},
};
static const struct cli_opt list_opts[] = {
    {"all", 'a', NULL, "deleted projects too (admins)"},
    {"json", 0, NULL, "print the SProject list as JSON"},
    {NULL},
};
static const struct cli_opt json_opts[] = {
    {"json", 0, NULL, "print JSON"},
    {NULL},
};
static const struct cli_opt revisions_opts[] = {
    {"project", 'p', "PROJECT", "the project (name or poid)", true},
    {"json", 0, NULL, "print the SRevision list as JSON"},
    {NULL},
};

const struct cli_cmd cli_project_cmds[] = {
    {"project add", "NAME", 1, 1, "add a project (prints its poid)", NULL, add_opts,
     CLI_NEEDS_LOGIN, run_project_add},
    {"project list", "", 0, 0, "list the projects you can read", NULL, list_opts, CLI_NEEDS_LOGIN,
     run_project_list},
    {"project show", "NAME|POID", 1, 1, "show one project", NULL, json_opts, CLI_NEEDS_LOGIN,
     run_project_show},
    {"revisions", "", 0, 0, "list the revisions of a project", NULL, revisions_opts,
     CLI_NEEDS_LOGIN, run_revisions},
    {NULL},
};
