/* ifc_reader.h: a streaming reader for ISO 10303-21 (STEP physical file) models, the
 * format of .ifc files.
 *
 * The caller pushes bytes in chunks of any size; the reader checks the syntax of the whole
 * exchange structure, keeps the decoded HEADER values and counts DATA instances per entity
 * type. It never keeps a record: its memory is bounded by ifc_reader_limits whatever the
 * size of the file. The first syntax error stops it and is kept as an error object carrying
 * the BIMserver DeserializerErrorCode, a message, the 1-based line and the byte offset.
 *
 * A reader is used by one thread at a time; it has no callbacks and no globals. */
#ifndef IFC_READER_H
#define IFC_READER_H

#include <stddef.h>
#include <stdint.h>

#include "common/bh_err.h"

/* BIMserver's DeserializerErrorCode (PluginBase/src/org/bimserver/plugins/deserializers/
 * DeserializerErrorCode.java): same names, same numbers (1802 is BIMserver's own value). */
#define IFC_ERROR_CODES(X)                                                                         \
  X(NO_VALID_IFC_HEADER_FOUND, 1)                                                                  \
  X(NO_IFC_SCHEMA_VERSION_FOUND, 2)                                                                \
  X(UNSUPPORTED_IFC_SCHEMA_VERSION, 3)                                                             \
  X(NO_SUITABLE_DESERIALIZER_FOUND, 100)                                                           \
  X(UNEXPECTED_END_OF_STREAM_WHILE_READING_FIRST_LINE, 200)                                        \
  X(IFCZIP_MUST_CONTAIN_EXACTLY_ONE_IFC_FILE, 300)                                                 \
  X(IFCZIP_FILE_CONTAINS_TOO_MANY_FILES, 301)                                                      \
  X(IFCZIP_CONTAINS_EMPTY_IFC_MODEL, 302)                                                          \
  X(IFCZIP_CONTAINS_NO_IFC_FILES, 303)                                                             \
  X(UNKNOWN_ENTITY, 400)                                                                           \
  X(NON_EXISTING_ENTITY_TYPE_USED, 401)                                                            \
  X(NON_EXISTING_ENTITY_REFERENCED, 402)                                                           \
  X(NON_EXISTING_ENUM_LITERAL_USED, 403)                                                           \
  X(NO_SEMICOLON_FOUND_IN_RECORD, 404)                                                             \
  X(NO_LEFT_PARENTHESIS_FOUND_IN_RECORD, 405)                                                      \
  X(NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, 406)                                                     \
  X(DUPLICATE_EXPRESS_ID, 407)                                                                     \
  X(INVALID_GUID, 500)                                                                             \
  X(INVALID_INTEGER_LITERAL, 501)                                                                  \
  X(INVALID_LONG_LITERAL, 502)                                                                     \
  X(INVALID_FLOAT_LITERAL, 503)                                                                    \
  X(INVALID_DOUBLE_LITERAL, 504)                                                                   \
  X(INVALID_REFERENCE, 505)                                                                        \
  X(INVALID_DATETIME_LITERAL, 506)                                                                 \
  X(EXPECTED_STRING, 600)                                                                          \
  X(EXPECTED_RIGHT_PARENTHESIS, 601)                                                               \
  X(EXPECTED_CHARACTER_BUT_EMPTY_FIELD, 602)                                                       \
  X(UNEXPECTED_ENUM, 700)                                                                          \
  X(UNEXPECTED_TYPE, 701)                                                                          \
  X(UNEXPECTED_FIELD, 702)                                                                         \
  X(UNEXPECTED_AGGREGATION, 703)                                                                   \
  X(REFERENCED_OBJECT_CANNOT_BE_STORED_IN_THIS_FIELD, 800)                                         \
  X(IFC_SCHEMA_NOT_SUPPORTED_BY_DESERIALIZER, 801)                                                 \
  X(NOT_ENOUGH_FIELDS_FOR_ENTITY, 1802)                                                            \
  X(EMPTY_MODEL_CANNOT_BE_CHECKED_IN, 803)                                                         \
  X(UNKNOWN_FIELD, 804)                                                                            \
  X(BYTE_ARRAY_NOT_QUOTED, 805)                                                                    \
  X(UNSPECIFIED_IFCXML_ERROR, 900)                                                                 \
  X(INTERNAL_BIMSERVER_ERROR, 1000)                                                                \
  X(UNIMPLEMENTED_BIMSERVER_FEATURE, 1100)                                                         \
  X(UNKNOWN_DESERIALIZER_ERROR, 1200)                                                              \
  X(STRING_ENCODING_UTF32_NOT_SUPPORTED_ON_SYSTEM, 1300)                                           \
  X(STRING_ENCODING_X4_NOT_CLOSED_WITH_X0, 1301)                                                   \
  X(STRING_ENCODING_NUMBER_OF_HEX_CHARS_IN_X4_NOT_DIVISIBLE_BY_8, 1302)                            \
  X(STRING_ENCODING_X2_NOT_CLOSED_WITH_X0, 1303)                                                   \
  X(STRING_ENCODING_NUMBER_OF_HEX_CHARS_IN_X2_NOT_DIVISIBLE_BY_4, 1304)                            \
  X(STRING_ENCODING_CHARACTER_DECODING_EXCEPTION, 1305)                                            \
  X(IO_EXCEPTION, 1400)                                                                            \
  X(FILE_NOT_FOUND_EXCEPTION, 1401)

enum ifc_error_code {
  IFC_ERR_NONE = 0, /* no error: BIMserver's deserializeErrorCode 0 */
#define X(name, num) IFC_ERR_##name = num,
  IFC_ERROR_CODES(X)
#undef X
};

/* The Java constant name of a code ("NO_VALID_IFC_HEADER_FOUND"); "NONE" for 0 and
 * "UNKNOWN" for a number not in the list. Static storage. */
const char *ifc_error_code_name(enum ifc_error_code code);

/* Which DeserializerErrorCode the reader reports (the Java enum has no general "syntax
 * error"; these are the nearest):
 *   UNEXPECTED_END_OF_STREAM_WHILE_READING_FIRST_LINE  input ended (or was empty) before
 *                                       "ISO-10303-21;"
 *   NO_VALID_IFC_HEADER_FOUND           anything wrong before DATA: no "ISO-10303-21;", no
 *                                       "HEADER;", a malformed header entity, FILE_DESCRIPTION or
 *                                       FILE_NAME missing, repeated or of the wrong shape, input
 *                                       ending inside the header. Syntax errors inside the header
 *                                       are reported with this code (string encoding errors keep
 *                                       their own 13xx code).
 *   NO_IFC_SCHEMA_VERSION_FOUND         FILE_SCHEMA missing, empty or not a list of strings
 *   UNKNOWN_ENTITY                      a bad or unexpected keyword: lower case, too long, not an
 *                                       entity type where one is expected, a statement other
 *                                       than DATA/ENDSEC/END-ISO-10303-21, text after the end
 *   NO_SEMICOLON_FOUND_IN_RECORD        ';' missing after a record or statement; input ending
 *                                       inside a record, before ENDSEC; or END-ISO-10303-21;
 *   NO_LEFT_PARENTHESIS_FOUND_IN_RECORD an entity or typed-value keyword not followed by '('
 *   NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD neither ',' nor ')' after a parameter; ';' inside a
 *                                       parameter list; a typed value with more than one value
 *   DUPLICATE_EXPRESS_ID                an instance name defined twice (see max_dup_check_id)
 *   INVALID_REFERENCE                   '#' without digits or over 2^63, '=' missing after an
 *                                       instance name, a statement not starting with '#'
 *   INVALID_INTEGER_LITERAL / INVALID_FLOAT_LITERAL  a malformed number
 *   EXPECTED_STRING                     input ended inside a string (reported where it opened)
 *   UNEXPECTED_ENUM                     a malformed enumeration (.T.)
 *   UNEXPECTED_FIELD                    no parameter where one must be ("(,", ",)", "A()" for a
 *                                       typed value, a byte that starts no token)
 *   BYTE_ARRAY_NOT_QUOTED               a malformed binary ("0FF")
 *   STRING_ENCODING_*                   bad \X\ \X2\ \X4\ \S\ \P?\ directives, invalid UTF-8,
 *                                       control characters in a string
 *   UNIMPLEMENTED_BIMSERVER_FEATURE     a limit was hit (BH_TOOBIG): record, header, types,
 *                                       nesting depth
 *   INTERNAL_BIMSERVER_ERROR            out of memory (BH_NOMEM) */

/* Bounds on everything the reader allocates. A zero field takes the default. */
struct ifc_reader_limits {
  size_t max_record_bytes;   /* one statement, '#' to ';' (comments inside count); 16 MiB */
  size_t max_header_bytes;   /* all decoded HEADER strings together; 1 MiB */
  size_t max_types;          /* distinct entity type names; 4096 */
  uint64_t max_dup_check_id; /* instance names 1..this are checked for duplicates with a bitmap
                                of up to this/8 bytes, grown on demand; larger names are not
                                checked. Default 1 << 26 (8 MiB at most). */
  int no_dup_check;          /* non-zero: no duplicate detection, no bitmap */
};

/* What the HEADER section said, strings decoded to UTF-8. A list absent or given as $ is
 * empty; a string given as $ is NULL. Owned by the reader, valid until ifc_reader_free(). */
struct ifc_header {
  const char **description; /* FILE_DESCRIPTION.description */
  size_t n_description;
  const char *implementation_level; /* FILE_DESCRIPTION.implementation_level, e.g. "2;1" */
  const char *name;                 /* FILE_NAME.name */
  const char *time_stamp;
  const char **author;
  size_t n_author;
  const char **organization;
  size_t n_organization;
  const char *preprocessor_version;
  const char *originating_system;
  const char *authorization;
  const char **schemas; /* FILE_SCHEMA.schema_identifiers as written, e.g. "IFC2X3" */
  size_t n_schemas;
};

/* The first error; err says which bh_err the feed/finish call returned. */
struct ifc_reader_error {
  enum bh_err err;          /* BH_BADREQUEST (syntax), BH_TOOBIG (a limit), BH_NOMEM */
  enum ifc_error_code code; /* see the table above */
  uint64_t line;            /* 1-based line of the offending byte */
  uint64_t offset;          /* 0-based byte offset of the offending byte (the input length when
                               the input ended too early) */
  char message[192];        /* English, NUL-terminated, no file content beyond a keyword */
};

struct ifc_type_count {
  const char *name; /* upper case, as in the file, e.g. "IFCWALL" */
  uint64_t count;   /* instances of this type (each part of a complex instance counts) */
};

/* Returns a new reader, or NULL when out of memory. lim may be NULL (all defaults); it is
 * copied. Free with ifc_reader_free(). */
struct ifc_reader *ifc_reader_new(const struct ifc_reader_limits *lim);

/* Frees the reader and everything its accessors returned. NULL-safe. */
void ifc_reader_free(struct ifc_reader *r);

/* Reads the next n bytes of the file (n may be 0; buf is not kept). How the file is cut
 * into chunks never changes any result. Returns BH_OK, or the error that stopped the
 * reader (BH_BADREQUEST, BH_TOOBIG, BH_NOMEM; see ifc_reader_error()), now or earlier;
 * BH_STATE after ifc_reader_finish(). */
enum bh_err ifc_reader_feed(struct ifc_reader *r, const void *buf, size_t n);

/* Declares the end of input. BH_OK when the file was complete and valid (ended with
 * "END-ISO-10303-21;" and only white space or comments after it); otherwise the error, as
 * for feed. Calling it again returns the same result. */
enum bh_err ifc_reader_finish(struct ifc_reader *r);

/* The error that stopped the reader, or NULL while there is none. Owned by the reader. */
const struct ifc_reader_error *ifc_reader_error(const struct ifc_reader *r);

/* The header values: all empty (NULL / 0) until the reader has passed HEADER's ENDSEC;,
 * complete from then on. Never NULL; owned by the reader. Strings hold no NUL (a \X\00
 * is an error). */
const struct ifc_header *ifc_reader_header(const struct ifc_reader *r);

/* The first FILE_SCHEMA identifier as written ("IFC2X3", "IFC4X3_ADD2"), or NULL if none
 * has been read. Owned by the reader. */
const char *ifc_reader_schema(const struct ifc_reader *r);

/* Maps a schema identifier to BIMserver's project schema string: IFC2X3 (and IFC2X3_*)
 * -> "ifc2x3tc1", IFC4 (and IFC4_*, e.g. IFC4_ADD2_TC1) -> "ifc4", IFC4X3 (and IFC4X3_*)
 * -> "ifc4x3". Case-insensitive. NULL for anything else (callers report
 * UNSUPPORTED_IFC_SCHEMA_VERSION). Static storage. */
const char *ifc_schema_normalize(const char *schema_id);

/* Instances in DATA sections so far: a complex instance counts once. */
uint64_t ifc_reader_entity_count(const struct ifc_reader *r);

/* Bytes fed so far, and lines: the number of LF bytes, plus one when the last byte fed is
 * not a LF (a lone CR does not end a line). */
uint64_t ifc_reader_byte_count(const struct ifc_reader *r);
uint64_t ifc_reader_line_count(const struct ifc_reader *r);

/* Instances of one type so far; name is compared exactly (upper case). 0 if none. */
uint64_t ifc_reader_type_lookup(const struct ifc_reader *r, const char *name);

/* Number of distinct entity types seen so far. */
size_t ifc_reader_type_distinct(const struct ifc_reader *r);

/* Sets *out to the per-type counts sorted by name (byte order) and *n to their number. The
 * array is owned by the reader and valid until the next call of this function, feed or
 * free. BH_NOMEM when the array cannot be allocated (*out and *n then untouched). */
enum bh_err ifc_reader_types(struct ifc_reader *r, const struct ifc_type_count **out, size_t *n);

#endif
