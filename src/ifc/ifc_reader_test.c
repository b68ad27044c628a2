/* ifc_reader_test.c (cmocka): the streaming ISO 10303-21 reader against the shared public
 * IFC files, hand-written files for each string encoding and each error, and chunking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ifc/ifc_reader.h"

#ifndef BH_SHARED_DIR
#error "BH_SHARED_DIR must point at the shared directory (set in src/ifc/CMakeLists.txt)"
#endif

/* ---- helpers ---- */

static unsigned char *read_file(const char *name, size_t *n)
{
  char path[512];
  snprintf(path, sizeof path, "%s/data/ifc/%s", BH_SHARED_DIR, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  assert_true(len > 0);
  rewind(f);
  unsigned char *buf = malloc((size_t)len);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return buf;
}

/* Feeds data in chunks of `chunk` bytes (0: all at once) and finishes. */
static enum bh_err parse_lim(const void *data, size_t n, size_t chunk,
                             const struct ifc_reader_limits *lim, struct ifc_reader **out)
{
  struct ifc_reader *r = ifc_reader_new(lim);
  assert_non_null(r);
  const unsigned char *p = data;
  enum bh_err rc = BH_OK;
  if (chunk == 0)
    chunk = n ? n : 1;
  for (size_t off = 0; rc == BH_OK && off < n; off += chunk)
    rc = ifc_reader_feed(r, p + off, n - off < chunk ? n - off : chunk);
  if (rc == BH_OK)
    rc = ifc_reader_finish(r);
  *out = r;
  return rc;
}

static enum bh_err parse(const char *text, size_t chunk, struct ifc_reader **out)
{
  return parse_lim(text, strlen(text), chunk, NULL, out);
}

#define HDR                                                                                        \
  "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1');\n"                                       \
  "FILE_NAME('n','t',('a'),('o'),'p','s','z');\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n"
#define TAIL "ENDSEC;\nEND-ISO-10303-21;\n"

/* Asserts that text fails with (rc, code, line), fed whole and byte by byte, at the same
 * offset both ways; returns that offset. */
static uint64_t expect_error_lim(const char *text, const struct ifc_reader_limits *lim,
                                 enum bh_err rc, enum ifc_error_code code, uint64_t line)
{
  struct ifc_reader *a, *b;
  size_t n = strlen(text);
  enum bh_err ra = parse_lim(text, n, 0, lim, &a);
  enum bh_err rb = parse_lim(text, n, 1, lim, &b);
  const struct ifc_reader_error *ea = ifc_reader_error(a), *eb = ifc_reader_error(b);
  if (ra != rc || !ea || ea->code != code || ea->line != line)
    print_message("input: %s\ngot rc %d code %d line %llu: %s\n", text, (int)ra,
                  ea ? (int)ea->code : -1, ea ? (unsigned long long)ea->line : 0,
                  ea ? ea->message : "(no error)");
  assert_int_equal(ra, rc);
  assert_int_equal(rb, rc);
  assert_non_null(ea);
  assert_non_null(eb);
  assert_int_equal(ea->code, code);
  assert_int_equal(eb->code, code);
  assert_int_equal(ea->line, line);
  assert_int_equal(eb->line, line);
  assert_int_equal(ea->offset, eb->offset);
  assert_string_equal(ea->message, eb->message);
  assert_true(ea->message[0] != '\0');
  /* The reader stays stopped. */
  assert_int_equal(ifc_reader_feed(a, "x", 1), rc);
  assert_int_equal(ifc_reader_finish(a), rc);
  uint64_t off = ea->offset;
  ifc_reader_free(a);
  ifc_reader_free(b);
  return off;
}

static uint64_t expect_error(const char *text, enum ifc_error_code code, uint64_t line)
{
  return expect_error_lim(text, NULL, BH_BADREQUEST, code, line);
}

/* Two readers that read the same input agree on everything they report. */
static void assert_same(struct ifc_reader *a, struct ifc_reader *b)
{
  assert_int_equal(ifc_reader_entity_count(a), ifc_reader_entity_count(b));
  assert_int_equal(ifc_reader_byte_count(a), ifc_reader_byte_count(b));
  assert_int_equal(ifc_reader_line_count(a), ifc_reader_line_count(b));
  const struct ifc_type_count *ta, *tb;
  size_t na, nb;
  assert_int_equal(ifc_reader_types(a, &ta, &na), BH_OK);
  assert_int_equal(ifc_reader_types(b, &tb, &nb), BH_OK);
  assert_int_equal(na, nb);
  for (size_t i = 0; i < na; i++) {
    assert_string_equal(ta[i].name, tb[i].name);
    assert_int_equal(ta[i].count, tb[i].count);
  }
  const struct ifc_header *ha = ifc_reader_header(a), *hb = ifc_reader_header(b);
  assert_int_equal(ha->n_description, hb->n_description);
  for (size_t i = 0; i < ha->n_description; i++)
    assert_string_equal(ha->description[i], hb->description[i]);
  assert_string_equal(ha->name, hb->name);
  assert_int_equal(ha->n_schemas, hb->n_schemas);
  assert_string_equal(ifc_reader_schema(a), ifc_reader_schema(b));
}

/* ---- the shared files ---- */

/* Expected values computed with grep/awk in the shared directory, not with this reader:
 *   entities: grep -cE '^#[0-9]+ *=' FILE            (every record starts a line there)
 *   lines:    awk 'END{print NR}' FILE
 *   types:    grep -oE '^#[0-9]+ *= *[A-Z0-9_]+' FILE | cut -d= -f2 | tr -d ' ' | sort -u | wc -l
 *   per type: the same pipeline ending in sort | uniq -c; first/last type: sort -u, 1st/last line
 *   schema:   grep -oE "FILE_SCHEMA *[(][(]'[^']*'" FILE
 */
static const struct shared_case {
  const char *file;
  const char *schema, *project;
  uint64_t entities, lines;
  size_t types;
  const char *first_type, *last_type;
  struct {
    const char *name;
    uint64_t count;
  } some[3];
} shared_cases[] = {
    {"AC20-FZK-Haus.ifc",
     "IFC4",
     "ifc4",
     44249,
     44259,
     115,
     "IFCANNOTATION",
     "IFCWINDOWTYPE",
     {{"IFCCARTESIANPOINT", 11359}, {"IFCPOLYLOOP", 6452}, {"IFCWALLSTANDARDCASE", 13}}},
    {"Office_A_20110811.ifc",
     "IFC2X3",
     "ifc2x3tc1",
     62930,
     62939,
     102,
     "IFCAPPLICATION",
     "IFCWINDOWSTYLE",
     {{"IFCCARTESIANPOINT", 12063}, {"IFCDOOR", 102}, {"IFCWALLSTANDARDCASE", 487}}},
    {"Sample_entities.ifc",
     "IFC2X3",
     "ifc2x3tc1",
     466,
     475,
     52,
     "IFCAPPLICATION",
     "IFCUNITASSIGNMENT",
     {{"IFCPROPERTYSINGLEVALUE", 81}, {"IFCCARTESIANPOINT", 58}, {"IFCPROJECT", 1}}},
    {"duplex.ifc",
     "IFC2X3",
     "ifc2x3tc1",
     38898,
     38907,
     103,
     "IFCAPPLICATION",
     "IFCWINDOWSTYLE",
     {{"IFCCARTESIANPOINT", 8520}, {"IFCPROPERTYSINGLEVALUE", 5213}, {"IFCWALL", 1}}},
    {"slab-standard-case.ifc",
     "IFC4",
     "ifc4",
     51,
     71,
     32,
     "IFCAPPLICATION",
     "IFCUNITASSIGNMENT",
     {{"IFCDIRECTION", 7}, {"IFCCARTESIANPOINT", 4}, {"IFCPROJECT", 1}}},
    {"tested_sample_project.ifc",
     "IFC2X3",
     "ifc2x3tc1",
     14119,
     14149,
     82,
     "IFCAPPLICATION",
     "IFCWINDOWSTYLE",
     {{"IFCPOLYLOOP", 3254}, {"IFCFACEOUTERBOUND", 3245}, {"IFCDOOR", 1}}},
};

static void shared_files_parse(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof shared_cases / sizeof shared_cases[0]; i++) {
    const struct shared_case *c = &shared_cases[i];
    size_t n;
    unsigned char *data = read_file(c->file, &n);
    struct ifc_reader *r;
    enum bh_err rc = parse_lim(data, n, 1u << 20, NULL, &r);
    if (rc != BH_OK)
      print_message("%s: %s\n", c->file, ifc_reader_error(r)->message);
    assert_int_equal(rc, BH_OK);
    assert_null(ifc_reader_error(r));
    assert_string_equal(ifc_reader_schema(r), c->schema);
    assert_string_equal(ifc_schema_normalize(ifc_reader_schema(r)), c->project);
    assert_int_equal(ifc_reader_entity_count(r), c->entities);
    assert_int_equal(ifc_reader_line_count(r), c->lines);
    assert_int_equal(ifc_reader_byte_count(r), n);
    assert_int_equal(ifc_reader_type_distinct(r), c->types);
    for (size_t k = 0; k < 3; k++)
      assert_int_equal(ifc_reader_type_lookup(r, c->some[k].name), c->some[k].count);
    const struct ifc_type_count *t;
    size_t nt;
    assert_int_equal(ifc_reader_types(r, &t, &nt), BH_OK);
    assert_int_equal(nt, c->types);
    assert_string_equal(t[0].name, c->first_type);
    assert_string_equal(t[nt - 1].name, c->last_type);
    uint64_t sum = 0;
    for (size_t k = 0; k < nt; k++) {
      sum += t[k].count;
      if (k)
        assert_true(strcmp(t[k - 1].name, t[k].name) < 0);
    }
    assert_int_equal(sum, c->entities); /* no complex instances in these files */
    ifc_reader_free(r);
    free(data);
  }
}

static void shared_header_values(void **state)
{
  (void)state;
  size_t n;
  unsigned char *data = read_file("slab-standard-case.ifc", &n);
  struct ifc_reader *r;
  assert_int_equal(parse_lim(data, n, 0, NULL, &r), BH_OK);
  const struct ifc_header *h = ifc_reader_header(r);
  assert_int_equal(h->n_description, 1);
  assert_string_equal(h->description[0], "ViewDefinition [notYetAssigned]");
  assert_string_equal(h->implementation_level, "2;1");
  assert_string_equal(h->name, "");
  assert_string_equal(h->time_stamp, "2014-12-09T00:27:54");
  assert_int_equal(h->n_author, 1);
  assert_string_equal(h->author[0], "Jon");
  assert_int_equal(h->n_organization, 1);
  assert_string_equal(h->organization[0], "Unknown");
  assert_string_equal(h->preprocessor_version, "ggIFC - Exporter by Geometry Gym Pty Ltd");
  assert_string_equal(h->originating_system, "ggIFC - Exporter by Geometry Gym Pty Ltd");
  assert_string_equal(h->authorization, "None");
  assert_int_equal(h->n_schemas, 1);
  ifc_reader_free(r);
  free(data);

  /* '\\' in a header string is one backslash; $ authorization is NULL, () lists empty. */
  data = read_file("AC20-FZK-Haus.ifc", &n);
  assert_int_equal(parse_lim(data, n, 0, NULL, &r), BH_OK);
  h = ifc_reader_header(r);
  assert_string_equal(h->name, "S:\\[IFC]\\[COMPLETE-BUILDINGS]\\FZK-MODELS\\FZK-Haus\\"
                               "ArchiCAD-20\\AC20-FZK-Haus.ifc");
  assert_string_equal(h->organization[0], "Building Designer Office");
  ifc_reader_free(r);
  free(data);

  data = read_file("Sample_entities.ifc", &n);
  assert_int_equal(parse_lim(data, n, 0, NULL, &r), BH_OK);
  h = ifc_reader_header(r);
  assert_null(h->authorization);
  assert_int_equal(h->n_author, 0);
  assert_int_equal(h->n_organization, 0);
  assert_string_equal(h->name, "Sample.ifc (Edited by Simplebim 9.1 SR6)");
  ifc_reader_free(r);
  free(data);
}

/* 1-byte feeding, odd chunk sizes and whole feeding agree on every shared file. */
static void shared_files_chunking(void **state)
{
  (void)state;
  static const size_t chunks[] = {1, 7, 4093};
  for (size_t i = 0; i < sizeof shared_cases / sizeof shared_cases[0]; i++) {
    size_t n;
    unsigned char *data = read_file(shared_cases[i].file, &n);
    struct ifc_reader *whole;
    assert_int_equal(parse_lim(data, n, 0, NULL, &whole), BH_OK);
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
      struct ifc_reader *r;
      assert_int_equal(parse_lim(data, n, chunks[k], NULL, &r), BH_OK);
      assert_same(whole, r);
      ifc_reader_free(r);
    }
    ifc_reader_free(whole);
    free(data);
  }
}

/* ---- hand-written files ---- */

static void minimal_file(void **state)
{
  (void)state;
  static const char text[] = HDR "#1=IFCWALL('2O2Fr$t4X7Zf8NOew3FLOH',$,*,.T.,(1,2.5,-3.E-2),"
                                 "#2,\"0FF\",IFCLABEL('x'),());\n#2=IFCPROJECT();\n" TAIL;
  for (size_t chunk = 0; chunk < 4; chunk++) {
    struct ifc_reader *r;
    assert_int_equal(parse(text, chunk, &r), BH_OK);
    assert_int_equal(ifc_reader_entity_count(r), 2);
    assert_int_equal(ifc_reader_type_lookup(r, "IFCWALL"), 1);
    assert_int_equal(ifc_reader_type_lookup(r, "IFCPROJECT"), 1);
    assert_int_equal(ifc_reader_type_lookup(r, "IFCLABEL"), 0); /* a typed value, not an entity */
    assert_int_equal(ifc_reader_line_count(r), 11);
    ifc_reader_free(r);
  }
}

static void record_forms(void **state)
{
  (void)state;
  /* Multi-line records, CRLF, spaces everywhere, complex instances, nested lists, user
   * keywords, a DATA section with parameters and a second DATA section. */
  static const char text[] =
      "ISO-10303-21;\r\nHEADER;\r\nFILE_DESCRIPTION(('a','b'),'2;1');\r\n"
      "FILE_NAME('n','t',('x','y'),('o'),'p','s','z');\r\nFILE_POPULATION('X','Y',$);\r\n"
      "FILE_SCHEMA(('IFC4X3_ADD2'));\r\nENDSEC;\r\n"
      "DATA('S1',('IFC4X3_ADD2'));\r\n"
      "#1 = IFCCARTESIANPOINTLIST3D (\r\n  ((0.,0.,0.),\r\n   (1.,2.,3.)),\r\n  $) ;\r\n"
      "#2=(IFCA(1)IFCB(#1,'x')IFCC());\r\n"
      "#3 = !USERDEF ( 1 ) ;\r\n"
      "ENDSEC;\r\nDATA;\r\n#4=IFCA(((((1)))));\r\nENDSEC;\r\nEND-ISO-10303-21;";
  for (size_t chunk = 0; chunk < 3; chunk++) {
    struct ifc_reader *r;
    assert_int_equal(parse(text, chunk, &r), BH_OK);
    assert_int_equal(ifc_reader_entity_count(r), 4);
    assert_int_equal(ifc_reader_type_lookup(r, "IFCA"), 2);
    assert_int_equal(ifc_reader_type_lookup(r, "IFCB"), 1);
    assert_int_equal(ifc_reader_type_lookup(r, "IFCC"), 1);
    assert_int_equal(ifc_reader_type_lookup(r, "!USERDEF"), 1);
    assert_int_equal(ifc_reader_line_count(r), 19); /* no LF after the last line */
    assert_string_equal(ifc_reader_schema(r), "IFC4X3_ADD2");
    assert_string_equal(ifc_schema_normalize(ifc_reader_schema(r)), "ifc4x3");
    const struct ifc_header *h = ifc_reader_header(r);
    assert_int_equal(h->n_description, 2);
    assert_string_equal(h->description[1], "b");
    assert_int_equal(h->n_author, 2);
    assert_string_equal(h->author[1], "y");
    ifc_reader_free(r);
  }
}

static void comments_anywhere(void **state)
{
  (void)state;
  static const char text[] =
      "/* lead */ISO-10303-21/**/;/* x */HEADER;\n/* multi\nline\n*/\n"
      "FILE_DESCRIPTION(/*c*/('d')/*c*/,/*c*/'2;1'/*c*/)/*c*/;\n"
      "FILE_NAME('n','t',('a'),('o'),'p','s','z');FILE_SCHEMA(('IFC2X3'));ENDSEC;DATA;\n"
      "/**/#1/*a*/=/*b*/IFCX/*c*/(/*d*/1/*e*/,/*f*/'/*not a comment*/'/*g*/,#2/**/)/*h*/;\n"
      "#2=IFCX(/* ** / * */$);\n"
      "ENDSEC;END-ISO-10303-21;/* trailing\n*/\n";
  struct ifc_reader *r;
  assert_int_equal(parse(text, 0, &r), BH_OK);
  assert_int_equal(ifc_reader_entity_count(r), 2);
  assert_int_equal(ifc_reader_type_lookup(r, "IFCX"), 2);
  assert_int_equal(ifc_reader_line_count(r), 10);
  ifc_reader_free(r);
  assert_int_equal(parse(text, 1, &r), BH_OK);
  assert_int_equal(ifc_reader_entity_count(r), 2);
  ifc_reader_free(r);
  /* Lines inside comments count for error positions. */
  expect_error(HDR "/*\n\n*/#1=IFCX(1)\n#2=IFCX(2);\n" TAIL, IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD,
               11);
}

/* Every string encoding, decoded in a header value. */
static void header_string_encodings(void **state)
{
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"plain", "plain"},
      {"it''s", "it's"},
      {"''''", "''"},
      {"back\\\\slash", "back\\slash"},
      {"\\X\\E4\\X\\DF", "\xC3\xA4\xC3\x9F"}, /* ä ß (ISO 8859-1 bytes) */
      {"Gr\\X2\\00FC00DF\\X0\\e", "Gr\xC3\xBC\xC3\x9F"
                                  "e"},                      /* ü ß */
      {"\\X2\\20AC\\X0\\", "\xE2\x82\xAC"},                  /* € */
      {"\\X2\\D83DDE00\\X0\\", "\xF0\x9F\x98\x80"},          /* U+1F600 via surrogates */
      {"\\X4\\0001F6000000004A\\X0\\", "\xF0\x9F\x98\x80J"}, /* U+1F600 U+004A */
      {"\\S\\D", "\xC3\x84"},                                /* 0x44+0x80 = Ä in 8859-1 */
      {"\\PB\\\\S\\1", "\xC4\x85"},                          /* 0xB1 in 8859-2 = ą */
      {"\\PE\\\\S\\0\\PA\\\\S\\0", "\xD0\x90\xC2\xB0"},      /* 8859-5 А, then 8859-1 ° */
      {"\\S\\''", "\xC2\xA7"},                               /* 0x27+0x80 = § */
      {"caf\xC3\xA9", "caf\xC3\xA9"},                        /* UTF-8 as is */
      {"two\r\nlines", "twolines"},                          /* line ends are not content */
      {"", ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[1024];
    snprintf(text, sizeof text,
             "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('%s'),'2;1');\n"
             "FILE_NAME('%s','t',(),(),'p','s',$);\nFILE_SCHEMA(('IFC2X3'));\nENDSEC;\n"
             "DATA;\n#1=IFCLABEL('%s');\n" TAIL,
             cases[i].in, cases[i].in, cases[i].in);
    for (size_t chunk = 0; chunk < 2; chunk++) {
      struct ifc_reader *r;
      enum bh_err rc = parse(text, chunk, &r);
      if (rc != BH_OK)
        print_message("case %zu: %s\n", i, ifc_reader_error(r)->message);
      assert_int_equal(rc, BH_OK);
      const struct ifc_header *h = ifc_reader_header(r);
      assert_string_equal(h->description[0], cases[i].out);
      assert_string_equal(h->name, cases[i].out);
      ifc_reader_free(r);
    }
  }
}

static void string_encoding_errors(void **state)
{
  (void)state;
  static const struct {
    const char *in;
    enum ifc_error_code code;
  } cases[] = {
      {"\\X2\\00E4", IFC_ERR_STRING_ENCODING_X2_NOT_CLOSED_WITH_X0},
      {"\\X2\\00E4\\X1\\", IFC_ERR_STRING_ENCODING_X2_NOT_CLOSED_WITH_X0},
      {"\\X2\\00E\\X0\\", IFC_ERR_STRING_ENCODING_NUMBER_OF_HEX_CHARS_IN_X2_NOT_DIVISIBLE_BY_4},
      {"\\X2\\\\X0\\", IFC_ERR_STRING_ENCODING_NUMBER_OF_HEX_CHARS_IN_X2_NOT_DIVISIBLE_BY_4},
      {"\\X4\\0001F600", IFC_ERR_STRING_ENCODING_X4_NOT_CLOSED_WITH_X0},
      {"\\X4\\1F600\\X0\\", IFC_ERR_STRING_ENCODING_NUMBER_OF_HEX_CHARS_IN_X4_NOT_DIVISIBLE_BY_8},
      {"\\X4\\00110000\\X0\\", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\\X2\\D83D\\X0\\", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\\X2\\DE00\\X0\\", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\\X\\4", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\\X\\e4", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\\X\\00", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\\Q\\", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"C:\\Users", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\\PZ\\", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\\PC\\\\S\\%",
       IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION}, /* 0xA5 unassigned in 8859-3 */
      {"\\S\\\x01", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"bad\x01", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\xC3(", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
      {"\xED\xA0\x80", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION}, /* surrogate */
      {"\xFF", IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[1024];
    /* In a data record (validated, not decoded) ... */
    snprintf(text, sizeof text, HDR "#1=IFCX(1,\n'%s');\n" TAIL, cases[i].in);
    expect_error(text, cases[i].code, 9);
    /* ... and in the header (decoded), where it keeps its own code. */
    snprintf(text, sizeof text, "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('%s'),'2;1');\n",
             cases[i].in);
    expect_error(text, cases[i].code, 3);
  }
}

static void syntax_errors(void **state)
{
  (void)state;
  static const struct {
    const char *text;
    enum ifc_error_code code;
    uint64_t line;
  } cases[] = {
      /* no or bad header */
      {"", IFC_ERR_UNEXPECTED_END_OF_STREAM_WHILE_READING_FIRST_LINE, 1},
      {"  \n", IFC_ERR_UNEXPECTED_END_OF_STREAM_WHILE_READING_FIRST_LINE, 2},
      {"ISO-10303-21", IFC_ERR_UNEXPECTED_END_OF_STREAM_WHILE_READING_FIRST_LINE, 1},
      {"ISO-10303-22;", IFC_ERR_NO_VALID_IFC_HEADER_FOUND, 1},
      {"<?xml version=\"1.0\"?>", IFC_ERR_NO_VALID_IFC_HEADER_FOUND, 1},
      {"ISO-10303-21;\nDATA;\n", IFC_ERR_NO_VALID_IFC_HEADER_FOUND, 2},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1')\n", IFC_ERR_NO_VALID_IFC_HEADER_FOUND,
       4},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1');\nFILE_NAME('n');\n",
       IFC_ERR_NO_VALID_IFC_HEADER_FOUND, 4},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1';\n", IFC_ERR_NO_VALID_IFC_HEADER_FOUND,
       3},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1');\nFILE_DESCRIPTION(('d'),'2;1');\n",
       IFC_ERR_NO_VALID_IFC_HEADER_FOUND, 4},
      {"ISO-10303-21;\nHEADER;\nFILE_NAME('n','t',('a'),('o'),'p','s','z');\n"
       "FILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n",
       IFC_ERR_NO_VALID_IFC_HEADER_FOUND, 5},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1');\n"
       "FILE_NAME('n','t',('a'),('o'),'p','s','z');\nENDSEC;\nDATA;\n",
       IFC_ERR_NO_IFC_SCHEMA_VERSION_FOUND, 5},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1');\n"
       "FILE_NAME('n','t',('a'),('o'),'p','s','z');\nFILE_SCHEMA(());\nENDSEC;\n",
       IFC_ERR_NO_IFC_SCHEMA_VERSION_FOUND, 5},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1');\n"
       "FILE_NAME('n','t',('a'),('o'),'p','s','z');\nFILE_SCHEMA('IFC4');\nENDSEC;\n",
       IFC_ERR_NO_IFC_SCHEMA_VERSION_FOUND, 5},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1');\n"
       "FILE_NAME('n','t',('a'),('o'),'p','s','z');\nFILE_SCHEMA(('IFC4'));\nENDSEC;\n",
       IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, 7},
      {"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('d'),'2;1');\n"
       "FILE_NAME('n','t',('a'),('o'),'p','s','z');\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nFOO;\n",
       IFC_ERR_UNKNOWN_ENTITY, 7},
      /* truncated */
      {HDR, IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, 8},
      {HDR "#1=IFCX(1,", IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, 8},
      {HDR "#1=IFCX(1)", IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, 8},
      {HDR "#1=IFCX(1,\n'abc);\n#2=IFCX(2);\n", IFC_ERR_EXPECTED_STRING, 9},
      {HDR "ENDSEC;\n", IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, 9},
      {HDR "ENDSEC;\nEND-ISO-10303-21", IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, 9},
      {HDR "/* open comment", IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, 8},
      /* records */
      {HDR "#1=IFCX(1)\n#2=IFCX(2);\n" TAIL, IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, 9},
      {HDR "#1=IFCX 1;\n" TAIL, IFC_ERR_NO_LEFT_PARENTHESIS_FOUND_IN_RECORD, 8},
      {HDR "#1=IFCX(IFCLABEL);\n" TAIL, IFC_ERR_NO_LEFT_PARENTHESIS_FOUND_IN_RECORD, 8},
      {HDR "#1=IFCX(1;\n" TAIL, IFC_ERR_NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, 8},
      {HDR "#1=IFCX(1 2);\n" TAIL, IFC_ERR_NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, 8},
      {HDR "#1=IFCX(IFCLABEL('a','b'));\n" TAIL, IFC_ERR_NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, 8},
      {HDR "#1=IFCX(,1);\n" TAIL, IFC_ERR_UNEXPECTED_FIELD, 8},
      {HDR "#1=IFCX(1,);\n" TAIL, IFC_ERR_UNEXPECTED_FIELD, 8},
      {HDR "#1=IFCX(IFCLABEL());\n" TAIL, IFC_ERR_UNEXPECTED_FIELD, 8},
      {HDR "#1=IFCX(1,&);\n" TAIL, IFC_ERR_UNEXPECTED_FIELD, 8},
      {HDR "#1=IFCX(1 / 2);\n" TAIL, IFC_ERR_NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, 8},
      {HDR "#1=ifcwall(1);\n" TAIL, IFC_ERR_UNKNOWN_ENTITY, 8},
      {HDR "#1=IFC-WALL(1);\n" TAIL, IFC_ERR_UNKNOWN_ENTITY, 8},
      {HDR "#1=();\n" TAIL, IFC_ERR_UNKNOWN_ENTITY, 8},
      {HDR "#1=1;\n" TAIL, IFC_ERR_UNKNOWN_ENTITY, 8},
      {HDR "1=IFCX(1);\n" TAIL, IFC_ERR_INVALID_REFERENCE, 8},
      {HDR "#1 IFCX(1);\n" TAIL, IFC_ERR_INVALID_REFERENCE, 8},
      {HDR "#A=IFCX(1);\n" TAIL, IFC_ERR_INVALID_REFERENCE, 8},
      {HDR "#1=IFCX(#);\n" TAIL, IFC_ERR_INVALID_REFERENCE, 8},
      {HDR "#1=IFCX(#12A);\n" TAIL, IFC_ERR_INVALID_REFERENCE, 8},
      {HDR "#1=IFCX(#99999999999999999999);\n" TAIL, IFC_ERR_INVALID_REFERENCE, 8},
      {HDR "#1=IFCX(1);\n#1=IFCY(2);\n" TAIL, IFC_ERR_DUPLICATE_EXPRESS_ID, 9},
      /* literals */
      {HDR "#1=IFCX(1.2.3);\n" TAIL, IFC_ERR_INVALID_FLOAT_LITERAL, 8},
      {HDR "#1=IFCX(1E5);\n" TAIL, IFC_ERR_INVALID_INTEGER_LITERAL, 8},
      {HDR "#1=IFCX(1.E);\n" TAIL, IFC_ERR_INVALID_FLOAT_LITERAL, 8},
      {HDR "#1=IFCX(-);\n" TAIL, IFC_ERR_INVALID_INTEGER_LITERAL, 8},
      {HDR "#1=IFCX(12a);\n" TAIL, IFC_ERR_INVALID_INTEGER_LITERAL, 8},
      {HDR "#1=IFCX(.t.);\n" TAIL, IFC_ERR_UNEXPECTED_ENUM, 8},
      {HDR "#1=IFCX(.T);\n" TAIL, IFC_ERR_UNEXPECTED_ENUM, 8},
      {HDR "#1=IFCX(\"4F\");\n" TAIL, IFC_ERR_BYTE_ARRAY_NOT_QUOTED, 8},
      {HDR "#1=IFCX(\"0G\");\n" TAIL, IFC_ERR_BYTE_ARRAY_NOT_QUOTED, 8},
      {HDR "#1=IFCX(\"\");\n" TAIL, IFC_ERR_BYTE_ARRAY_NOT_QUOTED, 8},
      /* after the end */
      {HDR TAIL "#1=IFCX(1);\n", IFC_ERR_UNKNOWN_ENTITY, 10},
      {HDR TAIL "JUNK", IFC_ERR_UNKNOWN_ENTITY, 10},
      {HDR TAIL "JUNK;", IFC_ERR_UNKNOWN_ENTITY, 10},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_error(cases[i].text, cases[i].code, cases[i].line);
}

static void error_positions(void **state)
{
  (void)state;
  /* Offsets point at the offending byte; the end of input when it ended too early. */
  assert_int_equal(expect_error("", IFC_ERR_UNEXPECTED_END_OF_STREAM_WHILE_READING_FIRST_LINE, 1),
                   0);
  assert_int_equal(
      expect_error("ISO-10303-21;\r\nHEADER;\r\nX", IFC_ERR_NO_VALID_IFC_HEADER_FOUND, 3), 25);
  const char *t = HDR "#1=IFCX(1 2);\n" TAIL;
  assert_int_equal(expect_error(t, IFC_ERR_NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, 8),
                   (uint64_t)(strstr(t, "(1 2)") - t) + 3);
  t = HDR "#1=IFCX(1);\n\n#1=IFCY(2);\n" TAIL;
  assert_int_equal(expect_error(t, IFC_ERR_DUPLICATE_EXPRESS_ID, 10),
                   (uint64_t)(strstr(t, "#1=IFCY") - t));
  t = HDR "#1=IFCX('ab\ncd);\n";
  assert_int_equal(expect_error(t, IFC_ERR_EXPECTED_STRING, 8), (uint64_t)(strstr(t, "'ab") - t));
}

static void binary_garbage(void **state)
{
  (void)state;
  unsigned char junk[4096];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof junk; i++) {
    x = x * 1103515245u + 12345u;
    junk[i] = (unsigned char)(x >> 16);
  }
  junk[0] = 0x89; /* as in a PNG */
  struct ifc_reader *a, *b;
  assert_int_equal(parse_lim(junk, sizeof junk, 0, NULL, &a), BH_BADREQUEST);
  assert_int_equal(parse_lim(junk, sizeof junk, 1, NULL, &b), BH_BADREQUEST);
  assert_int_equal(ifc_reader_error(a)->code, IFC_ERR_NO_VALID_IFC_HEADER_FOUND);
  assert_int_equal(ifc_reader_error(a)->offset, 0);
  assert_int_equal(ifc_reader_error(b)->offset, 0);
  ifc_reader_free(a);
  ifc_reader_free(b);
  /* Garbage in the middle of the data. */
  char text[512];
  snprintf(text, sizeof text, HDR "#1=IFCX(1);\n%c%c%c\n" TAIL, 0x00, 0xff, 0x10);
  struct ifc_reader *r;
  assert_int_equal(parse_lim(text, strlen(HDR) + 13 + 3, 1, NULL, &r), BH_BADREQUEST);
  assert_int_equal(ifc_reader_error(r)->code, IFC_ERR_INVALID_REFERENCE);
  assert_int_equal(ifc_reader_error(r)->line, 9);
  ifc_reader_free(r);
}

static void limits(void **state)
{
  (void)state;
  struct ifc_reader_limits lim = {.max_record_bytes = 64};
  char text[1024];
  /* A 100-byte record: the error is at its 65th byte, however the input is cut. */
  char big[80];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  snprintf(text, sizeof text, HDR "#1=IFCX(1);\n#2=IFCX(\n'%s');\n" TAIL, big);
  uint64_t off =
      expect_error_lim(text, &lim, BH_TOOBIG, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, 10);
  assert_int_equal(off, (uint64_t)(strstr(text, "#2") - text) + 64);
  /* Exactly 64 bytes is fine: "#2=IFCX('" + 52 + "');" */
  memset(big, 'a', 52);
  big[52] = '\0';
  snprintf(text, sizeof text, HDR "#2=IFCX('%s');\n" TAIL, big);
  struct ifc_reader *r;
  assert_int_equal(parse_lim(text, strlen(text), 1, &lim, &r), BH_OK);
  ifc_reader_free(r);
  big[52] = 'a';
  big[53] = '\0';
  snprintf(text, sizeof text, HDR "#2=IFCX('%s');\n" TAIL, big);
  expect_error_lim(text, &lim, BH_TOOBIG, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, 8);
  /* An unterminated string runs into the limit instead of reading the file to its end. */
  snprintf(text, sizeof text,
           HDR "#1=IFCX('abc);\n#2=IFCX(1);\n#3=IFCX(1);\n#4=IFCX(1);\n"
               "#5=IFCX(1);\n#6=IFCX(1);\n" TAIL);
  expect_error_lim(text, &lim, BH_TOOBIG, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, 13);

  struct ifc_reader_limits types = {.max_types = 2};
  expect_error_lim(HDR "#1=IFCA(1);\n#2=IFCB(1);\n#3=IFCA(1);\n#4=IFCC(1);\n" TAIL, &types,
                   BH_TOOBIG, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, 11);

  struct ifc_reader_limits header = {.max_header_bytes = 16};
  expect_error_lim("ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('0123456789','0123456789'),'2;1');",
                   &header, BH_TOOBIG, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, 3);

  /* Nesting deeper than the parser's stack. */
  char deep[600];
  size_t k = (size_t)snprintf(deep, sizeof deep, "%s#1=IFCX(", HDR);
  for (int i = 0; i < 200; i++)
    deep[k++] = '(';
  deep[k] = '\0';
  expect_error_lim(deep, NULL, BH_TOOBIG, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, 8);

  /* Duplicate detection can be switched off, and stops above max_dup_check_id. */
  static const char dup[] = HDR "#1=IFCX(1);\n#1=IFCX(1);\n#100=IFCX(1);\n#100=IFCX(1);\n" TAIL;
  struct ifc_reader_limits nodup = {.no_dup_check = 1};
  assert_int_equal(parse_lim(dup, strlen(dup), 0, &nodup, &r), BH_OK);
  assert_int_equal(ifc_reader_entity_count(r), 4);
  ifc_reader_free(r);
  struct ifc_reader_limits small = {.max_dup_check_id = 50};
  expect_error_lim(dup, &small, BH_BADREQUEST, IFC_ERR_DUPLICATE_EXPRESS_ID, 9);
  static const char dup100[] = HDR "#100=IFCX(1);\n#100=IFCX(1);\n" TAIL;
  assert_int_equal(parse_lim(dup100, strlen(dup100), 0, &small, &r), BH_OK);
  ifc_reader_free(r);
}

static void api_contract(void **state)
{
  (void)state;
  struct ifc_reader *r = ifc_reader_new(NULL);
  assert_non_null(r);
  assert_null(ifc_reader_schema(r));
  assert_null(ifc_reader_error(r));
  assert_int_equal(ifc_reader_feed(r, NULL, 0), BH_OK);
  assert_int_equal(ifc_reader_line_count(r), 0);
  const struct ifc_type_count *t = NULL;
  size_t n = 99;
  assert_int_equal(ifc_reader_types(r, &t, &n), BH_OK);
  assert_int_equal(n, 0);
  static const char ok[] = HDR TAIL;
  assert_int_equal(ifc_reader_feed(r, ok, strlen(ok)), BH_OK);
  assert_int_equal(ifc_reader_finish(r), BH_OK);
  assert_int_equal(ifc_reader_finish(r), BH_OK);
  assert_int_equal(ifc_reader_feed(r, "x", 1), BH_STATE);
  assert_int_equal(ifc_reader_entity_count(r), 0);
  assert_int_equal(ifc_reader_line_count(r), 9);
  ifc_reader_free(r);
  ifc_reader_free(NULL);

  assert_string_equal(ifc_error_code_name(IFC_ERR_NO_VALID_IFC_HEADER_FOUND),
                      "NO_VALID_IFC_HEADER_FOUND");
  assert_string_equal(ifc_error_code_name(IFC_ERR_NOT_ENOUGH_FIELDS_FOR_ENTITY),
                      "NOT_ENOUGH_FIELDS_FOR_ENTITY");
  assert_int_equal(IFC_ERR_NOT_ENOUGH_FIELDS_FOR_ENTITY, 1802);
  assert_int_equal(IFC_ERR_DUPLICATE_EXPRESS_ID, 407);
  assert_int_equal(IFC_ERR_FILE_NOT_FOUND_EXCEPTION, 1401);
  assert_string_equal(ifc_error_code_name((enum ifc_error_code)12345), "UNKNOWN");
  assert_string_equal(ifc_error_code_name(IFC_ERR_NONE), "NONE");
}

static void schema_normalize(void **state)
{
  (void)state;
  assert_string_equal(ifc_schema_normalize("IFC2X3"), "ifc2x3tc1");
  assert_string_equal(ifc_schema_normalize("ifc2x3"), "ifc2x3tc1");
  assert_string_equal(ifc_schema_normalize("IFC2X3_TC1"), "ifc2x3tc1");
  assert_string_equal(ifc_schema_normalize("IFC4"), "ifc4");
  assert_string_equal(ifc_schema_normalize("IFC4_ADD2_TC1"), "ifc4");
  assert_string_equal(ifc_schema_normalize("IFC4X3"), "ifc4x3");
  assert_string_equal(ifc_schema_normalize("IFC4X3_ADD2"), "ifc4x3");
  assert_null(ifc_schema_normalize("IFC4X1"));
  assert_null(ifc_schema_normalize("IFC2X2_FINAL"));
  assert_null(ifc_schema_normalize("IFC"));
  assert_null(ifc_schema_normalize(""));
  assert_null(ifc_schema_normalize(NULL));
  assert_null(ifc_schema_normalize("IFC45"));
}

/* Random cuts of a file that uses every token kind give the same result as whole feeding. */
static void random_chunks(void **state)
{
  (void)state;
  static const char text[] =
      "ISO-10303-21;\r\nHEADER;/*c*/FILE_DESCRIPTION(('Gr\\X2\\00FC\\X0\\n \\S\\D \\PE\\\\S\\0'),"
      "'2;1');\r\nFILE_NAME('it''s','t',('\\X4\\0001F600\\X0\\'),('o'),'p','s','z');\r\n"
      "FILE_SCHEMA(('IFC4'));ENDSEC;DATA;\r\n"
      "#10=IFCX(1.5E-3,-2,.ENUM_1.,\"3AF\",$,*,#1,IFCLABEL('a\\X\\E4\\\\'),((1,2),()));\r\n"
      "#11=(IFCA(1)IFCB('x''y'));/*\r\n*/\r\nENDSEC;END-ISO-10303-21;\r\n";
  struct ifc_reader *whole;
  assert_int_equal(parse(text, 0, &whole), BH_OK);
  assert_string_equal(ifc_reader_header(whole)->description[0], "Gr\xC3\xBCn \xC3\x84 \xD0\x90");
  assert_string_equal(ifc_reader_header(whole)->author[0], "\xF0\x9F\x98\x80");
  assert_string_equal(ifc_reader_header(whole)->name, "it's");
  size_t n = strlen(text);
  uint32_t x = 7;
  for (int round = 0; round < 200; round++) {
    struct ifc_reader *r = ifc_reader_new(NULL);
    size_t off = 0;
    while (off < n) {
      x = x * 1103515245u + 12345u;
      size_t k = 1 + (x >> 16) % 13;
      if (k > n - off)
        k = n - off;
      assert_int_equal(ifc_reader_feed(r, text + off, k), BH_OK);
      off += k;
    }
    assert_int_equal(ifc_reader_finish(r), BH_OK);
    assert_same(whole, r);
    assert_string_equal(ifc_reader_header(r)->description[0],
                        ifc_reader_header(whole)->description[0]);
    ifc_reader_free(r);
  }
  ifc_reader_free(whole);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shared_files_parse),
      cmocka_unit_test(shared_header_values),
      cmocka_unit_test(shared_files_chunking),
      cmocka_unit_test(minimal_file),
      cmocka_unit_test(record_forms),
      cmocka_unit_test(comments_anywhere),
      cmocka_unit_test(header_string_encodings),
      cmocka_unit_test(string_encoding_errors),
      cmocka_unit_test(syntax_errors),
      cmocka_unit_test(error_positions),
      cmocka_unit_test(binary_garbage),
      cmocka_unit_test(limits),
      cmocka_unit_test(api_contract),
      cmocka_unit_test(schema_normalize),
      cmocka_unit_test(random_chunks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
