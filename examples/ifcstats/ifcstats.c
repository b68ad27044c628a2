/* ifcstats.c: bimhub-ifcstats, a remote service that does real work with libbimhub.
 *
 * For every newRevision it downloads the revision with the notification's token, streams it
 * through bimhub's IFC reader (src/ifc/ifc_reader.c: syntax, header, instances per type; the
 * model is never held in memory), and writes a JSON report back to the revision as extended
 * data of the schema "bimhub-ifcstats" (made on first use). The report format is in
 * examples/ifcstats/README.md.
 *
 * Durability is the SDK's: a notification is spooled (fsync) before it is acknowledged, the
 * handler runs on a worker thread, a failure is retried, and notifications acknowledged but
 * not handled when the process died run again at the next start. The handler is idempotent:
 * when the service may read its own schema's extended data (register it with
 * --read-extended-data bimhub-ifcstats), a revision that has a report already is skipped.
 *
 *   bimhub-ifcstats --listen 127.0.0.1:8091 --secret whsec_... --spool ./ifcstats-spool
 */
#define _GNU_SOURCE /* sigwait, pthread_sigmask, strdup */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bimhub/bimhub.h>

#include "ifc/ifc_reader.h"

#define IFCSTATS_SCHEMA "bimhub-ifcstats"
#define IFCSTATS_CONTENT_TYPE "application/json"
#define IFCSTATS_IDENTIFIER "bimhub-ifcstats"
#define IFCSTATS_VERSION "1"

struct config {
  long delay_ms; /* before each notification is worked on (demos and crash tests) */
};

/* One download being read. */
struct reading {
  struct ifc_reader *r;
  int64_t bytes;
  bool has_failed; /* the reader stopped: the rest is only counted */
};

static int feed(void *arg, const void *data, size_t len)
{
  struct reading *rd = arg;
  rd->bytes += (int64_t)len;
  if (!rd->has_failed && ifc_reader_feed(rd->r, data, len) != BH_OK)
    rd->has_failed = true;
  return 0;
}

static uint64_t count_of(struct ifc_reader *r, const char *type)
{
  return ifc_reader_type_lookup(r, type);
}

static json_t *string_list(const char **v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *text_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

/* The report of a model read to the end (see README.md). NULL when out of memory. */
static json_t *make_report(const struct bimhub_notification *n, struct reading *rd)
{
  struct ifc_reader *r = rd->r;
  enum bh_err done = rd->has_failed ? BH_BADREQUEST : ifc_reader_finish(r);
  const struct ifc_reader_error *e = ifc_reader_error(r);
  const struct ifc_header *h = ifc_reader_header(r);
  const char *schema = ifc_reader_schema(r);
  json_t *types = json_object();
  const struct ifc_type_count *tc = NULL;
  size_t ntypes = 0;
  if (types && ifc_reader_types(r, &tc, &ntypes) == BH_OK)
    for (size_t i = 0; i < ntypes; i++)
      json_object_set_new(types, tc[i].name, json_integer((json_int_t)tc[i].count));
  json_t *header = json_pack(
      "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name", text_or_null(h->name), "timeStamp",
      text_or_null(h->time_stamp), "description", string_list(h->description, h->n_description),
      "author", string_list(h->author, h->n_author), "organization",
      string_list(h->organization, h->n_organization), "preprocessorVersion",
      text_or_null(h->preprocessor_version), "originatingSystem",
      text_or_null(h->originating_system), "schemas", string_list(h->schemas, h->n_schemas));
  json_t *rep = json_pack(
      "{s:s,s:s,s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o,s:o}", "generator",
      "bimhub-ifcstats " BIMHUB_VERSION_STRING, "format", IFCSTATS_VERSION, "poid",
      (json_int_t)n->poid, "roid", (json_int_t)n->roid, "schema", text_or_null(schema), "fileSize",
      (json_int_t)rd->bytes, "lines", (json_int_t)ifc_reader_line_count(r), "entityTotal",
      (json_int_t)ifc_reader_entity_count(r), "storeys",
      (json_int_t)count_of(r, "IFCBUILDINGSTOREY"), "spaces", (json_int_t)count_of(r, "IFCSPACE"),
      "walls", (json_int_t)(count_of(r, "IFCWALL") + count_of(r, "IFCWALLSTANDARDCASE")), "doors",
      (json_int_t)count_of(r, "IFCDOOR"), "windows", (json_int_t)count_of(r, "IFCWINDOW"), "valid",
      done == BH_OK, "header", header ? header : json_null(), "types", types ? types : json_null());
  if (rep && e) {
    json_object_set_new(rep, "error",
                        json_pack("{s:s,s:i,s:s,s:I,s:I}", "code", ifc_error_code_name(e->code),
                                  "codeNumber", (int)e->code, "message", e->message, "line",
                                  (json_int_t)e->line, "offset", (json_int_t)e->offset));
  }
  return rep;
}

/* Whether roid has a report already (only answerable with read rights on the schema). */
static bool has_report(struct bimhub_client *api, int64_t roid)
{
  json_t *schema = NULL, *list = NULL;
  struct bimhub_error err;
  if (bimhub_get_extended_data_schema_by_name(api, IFCSTATS_SCHEMA, &schema, &err) != BIMHUB_OK)
    return false;
  int64_t oid = bimhub_json_int(schema, "oid", -1);
  json_decref(schema);
  if (bimhub_get_all_extended_data_of_revision(api, roid, &list, &err) != BIMHUB_OK)
    return false; /* no read rights (or no answer): write it, at worst twice */
  bool found = false;
  size_t i;
  json_t *ed;
  json_array_foreach(list, i, ed) found |= bimhub_json_int(ed, "schemaId", -2) == oid;
  json_decref(list);
  return found;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static int on_new_revision(void *arg, const struct bimhub_notification *n,
                           struct bimhub_client *api)
{
  const struct config *cfg = arg;
  if (!api) {
    fprintf(stderr, "bimhub-ifcstats: notification %s has no apiUrl: dropped\n", n->id);
    return BIMHUB_DROP;
  }
  if (cfg->delay_ms > 0)
    sleep_ms(cfg->delay_ms);
  if (has_report(api, n->roid)) {
    printf("bimhub-ifcstats: revision %lld has a report already\n", (long long)n->roid);
    fflush(stdout);
    return BIMHUB_HANDLED;
  }
  struct reading rd = {.r = ifc_reader_new(NULL)};
  if (!rd.r)
    return BIMHUB_RETRY;
  struct bimhub_error err = {0};
  enum bimhub_rc rc = bimhub_download_revision(api, n->roid, 0, feed, &rd, &err);
  if (rc != BIMHUB_OK) {
    fprintf(stderr, "bimhub-ifcstats: cannot download revision %lld (attempt %u): %s\n",
            (long long)n->roid, n->attempt, err.message);
    ifc_reader_free(rd.r);
    return BIMHUB_RETRY;
  }
  json_t *rep = make_report(n, &rd);
  char *text = rep ? json_dumps(rep, JSON_INDENT(2)) : NULL;
  int result = BIMHUB_RETRY;
  if (text) {
    char file_name[64], title[64];
    snprintf(file_name, sizeof file_name, "ifcstats-%lld.json", (long long)n->roid);
    snprintf(title, sizeof title, "IFC statistics of revision %lld", (long long)n->roid);
    rc = bimhub_write_extended_data(api, n->roid, IFCSTATS_SCHEMA, IFCSTATS_CONTENT_TYPE, title,
                                    file_name, text, strlen(text), &err);
    if (rc == BIMHUB_OK) {
      printf(
          "bimhub-ifcstats: revision %lld of project %lld: %lld entities, %lld walls, "
          "%lld doors, %lld windows, %lld spaces, %lld storeys (%lld bytes, %s)\n",
          (long long)n->roid, (long long)n->poid, (long long)bimhub_json_int(rep, "entityTotal", 0),
          (long long)bimhub_json_int(rep, "walls", 0), (long long)bimhub_json_int(rep, "doors", 0),
          (long long)bimhub_json_int(rep, "windows", 0),
          (long long)bimhub_json_int(rep, "spaces", 0),
          (long long)bimhub_json_int(rep, "storeys", 0), (long long)rd.bytes,
          bimhub_json_str(rep, "schema") ? bimhub_json_str(rep, "schema") : "no schema");
      fflush(stdout);
      result = BIMHUB_HANDLED;
    } else {
      fprintf(stderr, "bimhub-ifcstats: cannot write the report of revision %lld: %s\n",
              (long long)n->roid, err.message);
    }
  }
  free(text);
  json_decref(rep);
  ifc_reader_free(rd.r);
  return result;
}

static void usage(FILE *out)
{
  fputs("Usage: bimhub-ifcstats [options]\n\n"
        "A bimhub remote service: for every new revision it reads the model and writes an IFC\n"
        "statistics report (JSON) back to the revision as extended data of the schema\n"
        "\"" IFCSTATS_SCHEMA "\". Register it with\n"
        "  bimhub service add --project P --url http://HOST:PORT --name ifcstats \\\n"
        "      --identifier " IFCSTATS_IDENTIFIER " --read-revision\n\n"
        "Options:\n"
        "  --listen HOST:PORT   where to listen (default 127.0.0.1:8091; port 0: any free one)\n"
        "  --secret SECRET      the service's whsec_ signing secret (bimhub service secret SOID);\n"
        "                       default $BIMHUB_IFCSTATS_SECRET; without one, unsigned\n"
        "                       notifications are accepted\n"
        "  --spool DIR          notifications not handled yet (default ./ifcstats-spool)\n"
        "  --api-url URL        reach the server here instead of the notification's apiUrl\n"
        "  --workers N          notifications worked on at once (default 1)\n"
        "  --max-attempts N     runs of one notification before it is set aside (default 5)\n"
        "  --delay-ms N         wait N ms before working on each notification (demos, tests)\n"
        "  --help, --version\n\n"
        "It prints \"bimhub-ifcstats listening on http://HOST:PORT\" once ready, a line per\n"
        "report, and stops on SIGINT or SIGTERM (notifications not handled stay spooled).\n",
        out);
}

/* "HOST:PORT", "[v6]:PORT", ":PORT" or "PORT". */
static int parse_listen(const char *s, char *host, size_t host_len, unsigned *port)
{
  const char *colon = strrchr(s, ':');
  const char *port_s = colon ? colon + 1 : s;
  char *end;
  errno = 0;
  long p = strtol(port_s, &end, 10);
  if (!*port_s || *end || errno || p < 0 || p > 65535)
    return -1;
  *port = (unsigned)p;
  if (!colon || colon == s) {
    snprintf(host, host_len, "127.0.0.1");
    return 0;
  }
  const char *h = s;
  size_t n = (size_t)(colon - s);
  if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
    h++;
    n -= 2;
  }
  if (n == 0 || n >= host_len)
    return -1;
  memcpy(host, h, n);
  host[n] = '\0';
  return 0;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
  char *end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || !*s || *end || errno || v < min || v > max)
    return false;
  *out = v;
  return true;
}

int main(int argc, char **argv)
{
  char host[256] = "127.0.0.1";
  unsigned port = 8091;
  const char *secret = getenv("BIMHUB_IFCSTATS_SECRET");
  const char *spool = "ifcstats-spool";
  const char *api_url = NULL;
  long workers = 1, max_attempts = 5;
  struct config cfg = {0};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = true;
    if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(o, "--version") == 0) {
      printf("bimhub-ifcstats %s (libbimhub %s)\n", BIMHUB_VERSION_STRING, bimhub_version());
      return 0;
    } else if (strcmp(o, "--listen") == 0) {
      ok = v && parse_listen(v, host, sizeof host, &port) == 0;
    } else if (strcmp(o, "--secret") == 0) {
      secret = v;
    } else if (strcmp(o, "--spool") == 0) {
      spool = v;
    } else if (strcmp(o, "--api-url") == 0) {
      api_url = v;
    } else if (strcmp(o, "--workers") == 0) {
      ok = parse_long(v, 1, 64, &workers);
    } else if (strcmp(o, "--max-attempts") == 0) {
      ok = parse_long(v, 1, 1000, &max_attempts);
    } else if (strcmp(o, "--delay-ms") == 0) {
      ok = parse_long(v, 0, 3600000, &cfg.delay_ms);
    } else {
      fprintf(stderr, "bimhub-ifcstats: unknown option '%s' (see --help)\n", o);
      return 2;
    }
    if (!v || !ok) {
      fprintf(stderr, "bimhub-ifcstats: %s needs a valid value (see --help)\n", o);
      return 2;
    }
    i++;
  }
  if (!spool || !spool[0]) {
    fputs("bimhub-ifcstats: --spool needs a directory\n", stderr);
    return 2;
  }
  if (secret && !secret[0])
    secret = NULL;

  bimhub_set_log(BIMHUB_LOG_INFO, NULL, NULL);
  if (!secret)
    fputs("bimhub-ifcstats: no secret: unsigned notifications are accepted\n", stderr);
  struct bimhub_service_desc desc = {
      .identifier = IFCSTATS_IDENTIFIER,
      .name = "IFC statistics",
      .description = "Counts the instances of each IFC type of every new revision (storeys, "
                     "spaces, walls, doors, windows...) and writes a JSON report back",
      .provider_name = "bimhub examples",
      .read_revision = true,
      .write_extended_data = IFCSTATS_SCHEMA,
      .on_new_revision = on_new_revision,
      .arg = &cfg};
  struct bimhub_service_options opts = {.host = host,
                                        .port = port,
                                        .spool_dir = spool,
                                        .secret = secret,
                                        .workers = (unsigned)workers,
                                        .max_attempts = (unsigned)max_attempts,
                                        .api_url = api_url};

  /* every thread the service starts inherits this mask; only sigwait below takes them */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct bimhub_error err = {0};
  struct bimhub_service *svc = bimhub_service_new(&opts, &err);
  if (!svc || bimhub_service_add(svc, &desc, &err) != BIMHUB_OK ||
      bimhub_service_start(svc, &err) != BIMHUB_OK) {
    fprintf(stderr, "bimhub-ifcstats: %s\n", err.message);
    bimhub_service_free(svc);
    return 1;
  }
  char url[300];
  bimhub_service_base_url(svc, url, sizeof url);
  printf("bimhub-ifcstats listening on %s\n", url);
  fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  bimhub_service_stop(svc);
  bimhub_service_free(svc);
  return 0;
}
