/* ifc_reader.c: the streaming ISO 10303-21 reader.
 *
 * Owns: the syntax check of an exchange structure fed in arbitrary chunks, the decoded
 * HEADER values, the per-type instance counts (a hash table of type names) and the
 * duplicate-id bitmap. It never stores a record: between two chunks only the lexer state,
 * the open-parenthesis stack and the current keyword are kept.
 *
 * The scanner is one function: labels are lexer states, ADV() moves to the next byte and,
 * when the chunk is used up, saves the state to resume at. A statement's byte budget
 * (max_record_bytes) is enforced by shortening the scan end ("lim"), so no per-byte check
 * is needed and the error lands on the same byte however the input is cut. Lines are
 * counted where LF can occur: white space, strings and comments. */
#include "ifc/ifc_reader.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IFC_KW_MAX 128    /* longest keyword; IFC's longest type name is ~50 */
#define IFC_DEPTH_MAX 128 /* nested parentheses */
#define IFC_HP_MAX 16     /* header entity parameters tracked */
#define IFC_DEF_RECORD (16u << 20)
#define IFC_DEF_HEADER (1u << 20)
#define IFC_DEF_TYPES 4096u
#define IFC_DEF_DUP_ID ((uint64_t)1 << 26)

/* ---- character classes ---- */

enum {
  C_WS = 1, /* space, tab, CR, LF */
  C_KW = 2, /* continues a keyword: A-Z a-z 0-9 _ - */
  C_DIGIT = 4,
  C_STRPLAIN = 8, /* string byte needing no attention: 0x20-0x7E but ' and \ */
  C_NUMTAIL = 16, /* may not follow a number or reference: letters digits . + - _ */
  C_HEX = 32,     /* 0-9 A-F */
  C_ENUM = 64,    /* continues an enumeration: A-Z 0-9 _ */
};

/* Each byte's classes, printed from the rules above by a throwaway script. */
/* clang-format off */
static const uint8_t ifc_cls[256] = {
    0,   0,   0,   0,   0,   0,   0,   0,   0,   1,   1,   0,   0,   1,   0,   0,  /* 0x00 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0x10 */
    9,   8,   8,   8,   8,   8,   8,   0,   8,   8,   8,  24,   8,  26,  24,   8,  /* 0x20 */
  126, 126, 126, 126, 126, 126, 126, 126, 126, 126,   8,   8,   8,   8,   8,   8,  /* 0x30 */
    8, 122, 122, 122, 122, 122, 122,  90,  90,  90,  90,  90,  90,  90,  90,  90,  /* 0x40 */
   90,  90,  90,  90,  90,  90,  90,  90,  90,  90,  90,   8,   0,   8,   8,  90,  /* 0x50 */
    8,  26,  26,  26,  26,  26,  26,  26,  26,  26,  26,  26,  26,  26,  26,  26,  /* 0x60 */
   26,  26,  26,  26,  26,  26,  26,  26,  26,  26,  26,   8,   8,   8,   8,   0,  /* 0x70 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0x80 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0x90 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0xA0 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0xB0 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0xC0 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0xD0 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0xE0 */
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  /* 0xF0 */
};
/* clang-format on */

/* Upper halves (0xA0-0xFF) of ISO 8859-2 to -9, for \PB\ ... \PI\ with \S\. 0: unassigned.
 * Generated from the ISO 8859 code charts (Python's codecs) for this file. */
/* clang-format off */
static const uint16_t ifc_latin[8][96] = {
  { /* ISO 8859-2 */
    0x00A0, 0x0104, 0x02D8, 0x0141, 0x00A4, 0x013D, 0x015A, 0x00A7,
    0x00A8, 0x0160, 0x015E, 0x0164, 0x0179, 0x00AD, 0x017D, 0x017B,
    0x00B0, 0x0105, 0x02DB, 0x0142, 0x00B4, 0x013E, 0x015B, 0x02C7,
    0x00B8, 0x0161, 0x015F, 0x0165, 0x017A, 0x02DD, 0x017E, 0x017C,
    0x0154, 0x00C1, 0x00C2, 0x0102, 0x00C4, 0x0139, 0x0106, 0x00C7,
    0x010C, 0x00C9, 0x0118, 0x00CB, 0x011A, 0x00CD, 0x00CE, 0x010E,
    0x0110, 0x0143, 0x0147, 0x00D3, 0x00D4, 0x0150, 0x00D6, 0x00D7,
    0x0158, 0x016E, 0x00DA, 0x0170, 0x00DC, 0x00DD, 0x0162, 0x00DF,
    0x0155, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x013A, 0x0107, 0x00E7,
    0x010D, 0x00E9, 0x0119, 0x00EB, 0x011B, 0x00ED, 0x00EE, 0x010F,
    0x0111, 0x0144, 0x0148, 0x00F3, 0x00F4, 0x0151, 0x00F6, 0x00F7,
    0x0159, 0x016F, 0x00FA, 0x0171, 0x00FC, 0x00FD, 0x0163, 0x02D9,
  },
  { /* ISO 8859-3 */
    0x00A0, 0x0126, 0x02D8, 0x00A3, 0x00A4, 0x0000, 0x0124, 0x00A7,
    0x00A8, 0x0130, 0x015E, 0x011E, 0x0134, 0x00AD, 0x0000, 0x017B,
    0x00B0, 0x0127, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x0125, 0x00B7,
    0x00B8, 0x0131, 0x015F, 0x011F, 0x0135, 0x00BD, 0x0000, 0x017C,
    0x00C0, 0x00C1, 0x00C2, 0x0000, 0x00C4, 0x010A, 0x0108, 0x00C7,
    0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    0x0000, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x0120, 0x00D6, 0x00D7,
    0x011C, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x016C, 0x015C, 0x00DF,
    0x00E0, 0x00E1, 0x00E2, 0x0000, 0x00E4, 0x010B, 0x0109, 0x00E7,
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    0x0000, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x0121, 0x00F6, 0x00F7,
    0x011D, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x016D, 0x015D, 0x02D9,
  },
  { /* ISO 8859-4 */
    0x00A0, 0x0104, 0x0138, 0x0156, 0x00A4, 0x0128, 0x013B, 0x00A7,
    0x00A8, 0x0160, 0x0112, 0x0122, 0x0166, 0x00AD, 0x017D, 0x00AF,
    0x00B0, 0x0105, 0x02DB, 0x0157, 0x00B4, 0x0129, 0x013C, 0x02C7,
    0x00B8, 0x0161, 0x0113, 0x0123, 0x0167, 0x014A, 0x017E, 0x014B,
    0x0100, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x012E,
    0x010C, 0x00C9, 0x0118, 0x00CB, 0x0116, 0x00CD, 0x00CE, 0x012A,
    0x0110, 0x0145, 0x014C, 0x0136, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    0x00D8, 0x0172, 0x00DA, 0x00DB, 0x00DC, 0x0168, 0x016A, 0x00DF,
    0x0101, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x012F,
    0x010D, 0x00E9, 0x0119, 0x00EB, 0x0117, 0x00ED, 0x00EE, 0x012B,
    0x0111, 0x0146, 0x014D, 0x0137, 0x00F4, 0x00F5, 0x00F6, 0x00F7,
    0x00F8, 0x0173, 0x00FA, 0x00FB, 0x00FC, 0x0169, 0x016B, 0x02D9,
  },
  { /* ISO 8859-5 */
    0x00A0, 0x0401, 0x0402, 0x0403, 0x0404, 0x0405, 0x0406, 0x0407,
    0x0408, 0x0409, 0x040A, 0x040B, 0x040C, 0x00AD, 0x040E, 0x040F,
    0x0410, 0x0411, 0x0412, 0x0413, 0x0414, 0x0415, 0x0416, 0x0417,
    0x0418, 0x0419, 0x041A, 0x041B, 0x041C, 0x041D, 0x041E, 0x041F,
    0x0420, 0x0421, 0x0422, 0x0423, 0x0424, 0x0425, 0x0426, 0x0427,
    0x0428, 0x0429, 0x042A, 0x042B, 0x042C, 0x042D, 0x042E, 0x042F,
    0x0430, 0x0431, 0x0432, 0x0433, 0x0434, 0x0435, 0x0436, 0x0437,
    0x0438, 0x0439, 0x043A, 0x043B, 0x043C, 0x043D, 0x043E, 0x043F,
    0x0440, 0x0441, 0x0442, 0x0443, 0x0444, 0x0445, 0x0446, 0x0447,
    0x0448, 0x0449, 0x044A, 0x044B, 0x044C, 0x044D, 0x044E, 0x044F,
    0x2116, 0x0451, 0x0452, 0x0453, 0x0454, 0x0455, 0x0456, 0x0457,
    0x0458, 0x0459, 0x045A, 0x045B, 0x045C, 0x00A7, 0x045E, 0x045F,
  },
  { /* ISO 8859-6 */
    0x00A0, 0x0000, 0x0000, 0x0000, 0x00A4, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x060C, 0x00AD, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x061B, 0x0000, 0x0000, 0x0000, 0x061F,
    0x0000, 0x0621, 0x0622, 0x0623, 0x0624, 0x0625, 0x0626, 0x0627,
    0x0628, 0x0629, 0x062A, 0x062B, 0x062C, 0x062D, 0x062E, 0x062F,
    0x0630, 0x0631, 0x0632, 0x0633, 0x0634, 0x0635, 0x0636, 0x0637,
    0x0638, 0x0639, 0x063A, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0640, 0x0641, 0x0642, 0x0643, 0x0644, 0x0645, 0x0646, 0x0647,
    0x0648, 0x0649, 0x064A, 0x064B, 0x064C, 0x064D, 0x064E, 0x064F,
    0x0650, 0x0651, 0x0652, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
  },
  { /* ISO 8859-7 */
    0x00A0, 0x2018, 0x2019, 0x00A3, 0x20AC, 0x20AF, 0x00A6, 0x00A7,
    0x00A8, 0x00A9, 0x037A, 0x00AB, 0x00AC, 0x00AD, 0x0000, 0x2015,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x0384, 0x0385, 0x0386, 0x00B7,
    0x0388, 0x0389, 0x038A, 0x00BB, 0x038C, 0x00BD, 0x038E, 0x038F,
    0x0390, 0x0391, 0x0392, 0x0393, 0x0394, 0x0395, 0x0396, 0x0397,
    0x0398, 0x0399, 0x039A, 0x039B, 0x039C, 0x039D, 0x039E, 0x039F,
    0x03A0, 0x03A1, 0x0000, 0x03A3, 0x03A4, 0x03A5, 0x03A6, 0x03A7,
    0x03A8, 0x03A9, 0x03AA, 0x03AB, 0x03AC, 0x03AD, 0x03AE, 0x03AF,
    0x03B0, 0x03B1, 0x03B2, 0x03B3, 0x03B4, 0x03B5, 0x03B6, 0x03B7,
    0x03B8, 0x03B9, 0x03BA, 0x03BB, 0x03BC, 0x03BD, 0x03BE, 0x03BF,
    0x03C0, 0x03C1, 0x03C2, 0x03C3, 0x03C4, 0x03C5, 0x03C6, 0x03C7,
    0x03C8, 0x03C9, 0x03CA, 0x03CB, 0x03CC, 0x03CD, 0x03CE, 0x0000,
  },
  { /* ISO 8859-8 */
    0x00A0, 0x0000, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7,
    0x00A8, 0x00A9, 0x00D7, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7,
    0x00B8, 0x00B9, 0x00F7, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x2017,
    0x05D0, 0x05D1, 0x05D2, 0x05D3, 0x05D4, 0x05D5, 0x05D6, 0x05D7,
    0x05D8, 0x05D9, 0x05DA, 0x05DB, 0x05DC, 0x05DD, 0x05DE, 0x05DF,
    0x05E0, 0x05E1, 0x05E2, 0x05E3, 0x05E4, 0x05E5, 0x05E6, 0x05E7,
    0x05E8, 0x05E9, 0x05EA, 0x0000, 0x0000, 0x200E, 0x200F, 0x0000,
  },
  { /* ISO 8859-9 */
    0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7,
    0x00A8, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7,
    0x00B8, 0x00B9, 0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF,
    0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    0x011E, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x0130, 0x015E, 0x00DF,
    0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7,
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    0x011F, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x00F7,
    0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x0131, 0x015F, 0x00FF,
  },
};
/* clang-format on */

/* ---- reader state ---- */

enum section {
  SEC_MAGIC,
  SEC_HEADER_KW,
  SEC_HEADER,
  SEC_DATA_KW,
  SEC_DATA,
  SEC_AFTER_DATA,
  SEC_END
};

enum pstate {
  PS_STMT,         /* a statement: keyword, or '#' in DATA */
  PS_STMT_END,     /* after a statement keyword: ';' or '(' */
  PS_REC_EQ,       /* after #n: '=' */
  PS_REC_BODY,     /* after '=': entity keyword or '(' (complex) */
  PS_OPEN,         /* after an entity or typed-value keyword: '(' */
  PS_VAL_OR_CLOSE, /* after '(': parameter or ')' */
  PS_VAL,          /* after ',': parameter */
  PS_SEP,          /* after a parameter: ',' or ')' */
  PS_COMPLEX,      /* in #n=(...): entity keyword or ')' */
  PS_SEMI,         /* after a statement's last ')': ';' */
};

enum frame { FR_STMT, FR_PART, FR_LIST, FR_TYPED, FR_COMPLEX };

enum stmt_kw { KW_NONE, KW_ISO, KW_HEADER, KW_ENDSEC, KW_DATA, KW_END, KW_HDR_ENTITY, KW_RECORD };

enum hrec { HR_OTHER, HR_FD, HR_FN, HR_FS, HR_N };

enum vkind { VK_NONE, VK_STR, VK_NULL, VK_LIST, VK_OTHER };

enum lstate {
  LS_WS,
  LS_SLASH,
  LS_COMMENT,
  LS_COMMENT_STAR,
  LS_KW,
  LS_HASH,
  LS_HASH_DIGITS,
  LS_NUM_SIGN,
  LS_NUM_INT,
  LS_NUM_FRAC,
  LS_NUM_E,
  LS_NUM_ESIGN,
  LS_NUM_EXP,
  LS_STR,
  LS_STR_Q,
  LS_STR_U8,
  LS_ESC,
  LS_ESC_X,
  LS_XH1,
  LS_XH2,
  LS_X2_BS,
  LS_XG,
  LS_X0_X,
  LS_X0_0,
  LS_X0_BS,
  LS_ESC_S,
  LS_ESC_S_CH,
  LS_ESC_S_Q,
  LS_ESC_P,
  LS_ESC_P_BS,
  LS_ENUM1,
  LS_ENUM,
  LS_BIN1,
  LS_BIN,
};

struct ifc_type {
  uint64_t count;
  uint32_t hash;
  uint32_t len;
  char name[];
};

struct hitem {
  uint32_t off;  /* NUL-terminated string in the header arena */
  uint8_t rec;   /* enum hrec */
  uint8_t param; /* 0-based parameter index */
  uint8_t depth; /* 1: the parameter itself; 2: an element of a list parameter */
};

struct ifc_reader {
  struct ifc_reader_limits lim;

  /* position */
  uint64_t pos;  /* bytes consumed before the current chunk, then after it */
  uint64_t line; /* 1 + LF bytes consumed */
  int last_was_lf;

  /* lexer */
  enum lstate ls;
  enum pstate ps;
  enum section sec;
  uint8_t kw[IFC_KW_MAX];
  uint32_t kwlen;
  uint64_t num; /* instance name being read */
  int is_inst;  /* '#' starts a record (1) or is a reference (0) */
  int num_real;
  int alpha;  /* \P?\ alphabet: 0 = ISO 8859-1 */
  int xwidth; /* 4 or 8 hex digits per \X2\ / \X4\ unit */
  uint32_t xunit, xnib, xgroups, hi_sur;
  uint32_t u8need;
  uint8_t u8lo, u8hi;
  uint8_t xbyte;              /* \X\ byte being read */
  uint8_t open_frame;         /* frame the next '(' opens: FR_STMT, FR_PART or FR_TYPED */
  uint64_t str_off, str_line; /* where the current string opened */

  /* parser */
  uint8_t stack[IFC_DEPTH_MAX];
  uint32_t depth;
  uint32_t pidx;   /* parameter index at depth 1 */
  uint32_t nparts; /* partial records in a complex instance */
  int in_stmt;
  uint64_t stmt_off, stmt_line;
  enum stmt_kw stmt;
  enum hrec hrec;
  int capture; /* inside FILE_DESCRIPTION / FILE_NAME / FILE_SCHEMA */
  int cap_str; /* the current string is kept */

  /* header */
  char *arena;
  size_t arena_len, arena_cap;
  struct hitem *items;
  size_t n_items, cap_items;
  uint8_t hkind[IFC_HP_MAX];
  uint8_t hbad[IFC_HP_MAX];
  int hseen[HR_N];
  const char **hptrs;
  struct ifc_header header;

  /* results */
  uint64_t entities;
  struct ifc_type **types;
  size_t types_cap, types_n;
  struct ifc_type_count *sorted;
  uint8_t *dup;
  size_t dup_len;

  int finished;
  struct ifc_reader_error error;
  int has_error;
};

/* ---- small helpers ---- */

const char *ifc_error_code_name(enum ifc_error_code code)
{
  switch (code) {
  case IFC_ERR_NONE:
    return "NONE";
#define X(name, num)                                                                               \
  case IFC_ERR_##name:                                                                             \
    return #name;
    IFC_ERROR_CODES(X)
#undef X
  }
  return "UNKNOWN";
}

const char *ifc_schema_normalize(const char *id)
{
  static const struct {
    const char *base;
    const char *project;
  } map[] = {{"IFC2X3", "ifc2x3tc1"}, {"IFC4X3", "ifc4x3"}, {"IFC4", "ifc4"}};
  if (!id)
    return NULL;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    size_t n = strlen(map[i].base);
    size_t k = 0;
    for (; k < n; k++) {
      char c = id[k];
      if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
      if (c != map[i].base[k])
        break;
    }
    if (k == n && (id[n] == '\0' || id[n] == '_'))
      return map[i].project;
  }
  return NULL;
}

static int is_syntax_code(enum ifc_error_code c)
{
  return (c >= 400 && c < 900) || c == IFC_ERR_NOT_ENOUGH_FIELDS_FOR_ENTITY;
}

static enum bh_err fail_at(struct ifc_reader *r, enum bh_err err, enum ifc_error_code code,
                           uint64_t off, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static enum bh_err fail_at(struct ifc_reader *r, enum bh_err err, enum ifc_error_code code,
                           uint64_t off, uint64_t line, const char *fmt, ...)
{
  /* Before DATA every syntax error means "no valid header". */
  if (r->sec <= SEC_HEADER && is_syntax_code(code))
    code = IFC_ERR_NO_VALID_IFC_HEADER_FOUND;
  r->has_error = 1;
  r->error.err = err;
  r->error.code = code;
  r->error.offset = off;
  r->error.line = line;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error.message, sizeof r->error.message, fmt, ap);
  va_end(ap);
  return err;
}

/* A printable rendering of a byte for messages. */
static const char *show_byte(char *buf, size_t n, int c)
{
  if (c > 0x20 && c < 0x7f)
    snprintf(buf, n, "'%c'", c);
  else
    snprintf(buf, n, "byte 0x%02X", (unsigned)c);
  return buf;
}

static void kw_text(const struct ifc_reader *r, char *out, size_t n)
{
  size_t k = r->kwlen < n - 1 ? r->kwlen : n - 1;
  memcpy(out, r->kw, k);
  out[k] = '\0';
}

static int kw_is(const struct ifc_reader *r, const char *s)
{
  size_t n = strlen(s);
  return r->kwlen == n && memcmp(r->kw, s, n) == 0;
}

/* Standard keyword: upper {upper | digit}, upper including '_'; user-defined: '!' first. */
static int kw_valid(const struct ifc_reader *r)
{
  uint32_t i = 0;
  if (r->kwlen && r->kw[0] == '!')
    i = 1;
  if (i >= r->kwlen)
    return 0;
  uint8_t c = r->kw[i];
  if (!((c >= 'A' && c <= 'Z') || c == '_'))
    return 0;
  for (i++; i < r->kwlen; i++)
    if (!(ifc_cls[r->kw[i]] & C_ENUM))
      return 0;
  return 1;
}

/* ---- entity type table ---- */

static uint32_t hash_kw(const uint8_t *s, uint32_t n)
{
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 16777619u;
  return h;
}

static enum bh_err types_grow(struct ifc_reader *r)
{
  size_t ncap = r->types_cap ? r->types_cap * 2 : 256;
  struct ifc_type **t = calloc(ncap, sizeof *t);
  if (!t)
    return BH_NOMEM;
  for (size_t i = 0; i < r->types_cap; i++) {
    struct ifc_type *e = r->types[i];
    if (!e)
      continue;
    size_t j = e->hash & (ncap - 1);
    while (t[j])
      j = (j + 1) & (ncap - 1);
    t[j] = e;
  }
  free(r->types);
  r->types = t;
  r->types_cap = ncap;
  return BH_OK;
}

/* Counts one instance of the type in r->kw. */
static enum bh_err type_count(struct ifc_reader *r)
{
  uint32_t h = hash_kw(r->kw, r->kwlen);
  size_t mask = r->types_cap - 1;
  size_t j = h & mask;
  for (;;) {
    struct ifc_type *e = r->types[j];
    if (!e)
      break;
    if (e->hash == h && e->len == r->kwlen && memcmp(e->name, r->kw, r->kwlen) == 0) {
      e->count++;
      return BH_OK;
    }
    j = (j + 1) & mask;
  }
  if (r->types_n >= r->lim.max_types)
    return BH_TOOBIG;
  struct ifc_type *e = malloc(sizeof *e + r->kwlen + 1);
  if (!e)
    return BH_NOMEM;
  e->count = 1;
  e->hash = h;
  e->len = r->kwlen;
  memcpy(e->name, r->kw, r->kwlen);
  e->name[r->kwlen] = '\0';
  r->types[j] = e;
  r->types_n++;
  free(r->sorted); /* any sorted view is stale now */
  r->sorted = NULL;
  if (r->types_n * 2 > r->types_cap)
    return types_grow(r);
  return BH_OK;
}

static const struct ifc_type *type_find(const struct ifc_reader *r, const char *name)
{
  size_t n = strlen(name);
  uint32_t h = hash_kw((const uint8_t *)name, (uint32_t)n);
  size_t mask = r->types_cap - 1;
  for (size_t j = h & mask;; j = (j + 1) & mask) {
    const struct ifc_type *e = r->types[j];
    if (!e)
      return NULL;
    if (e->hash == h && e->len == n && memcmp(e->name, name, n) == 0)
      return e;
  }
}

/* ---- duplicate instance names ---- */

/* 1 if id was seen before; marks it. -1 when the bitmap cannot grow. */
static int dup_mark(struct ifc_reader *r, uint64_t id)
{
  if (r->lim.no_dup_check || id > r->lim.max_dup_check_id)
    return 0;
  size_t byte = (size_t)(id >> 3);
  if (byte >= r->dup_len) {
    size_t max = (size_t)(r->lim.max_dup_check_id >> 3) + 1;
    size_t n = r->dup_len ? r->dup_len : 4096;
    while (n <= byte)
      n *= 2;
    if (n > max)
      n = max;
    uint8_t *d = realloc(r->dup, n);
    if (!d)
      return -1;
    memset(d + r->dup_len, 0, n - r->dup_len);
    r->dup = d;
    r->dup_len = n;
  }
  uint8_t bit = (uint8_t)(1u << (id & 7));
  if (r->dup[byte] & bit)
    return 1;
  r->dup[byte] |= bit;
  return 0;
}

/* ---- header capture ---- */

static enum bh_err arena_add(struct ifc_reader *r, const void *p, size_t n)
{
  if (n > r->lim.max_header_bytes - r->arena_len)
    return BH_TOOBIG;
  if (r->arena_len + n > r->arena_cap) {
    size_t ncap = r->arena_cap ? r->arena_cap : 1024;
    while (ncap < r->arena_len + n)
      ncap *= 2;
    if (ncap > r->lim.max_header_bytes)
      ncap = r->lim.max_header_bytes;
    char *a = realloc(r->arena, ncap);
    if (!a)
      return BH_NOMEM;
    r->arena = a;
    r->arena_cap = ncap;
  }
  memcpy(r->arena + r->arena_len, p, n);
  r->arena_len += n;
  return BH_OK;
}

/* Appends code point cp as UTF-8 to the arena. */
static enum bh_err arena_cp(struct ifc_reader *r, uint32_t cp)
{
  uint8_t b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (uint8_t)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (uint8_t)(0xC0 | (cp >> 6));
    b[1] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (uint8_t)(0xE0 | (cp >> 12));
    b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (uint8_t)(0xF0 | (cp >> 18));
    b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return arena_add(r, b, n);
}

/* Notes what kind of value a captured header entity has at the current place. */
static void hdr_value(struct ifc_reader *r, enum vkind vk)
{
  uint32_t i = r->pidx < IFC_HP_MAX ? r->pidx : IFC_HP_MAX - 1;
  if (r->depth == 1)
    r->hkind[i] = (uint8_t)vk;
  else if (!(r->depth == 2 && r->stack[1] == FR_LIST && vk == VK_STR))
    r->hbad[i] = 1;
}

static enum bh_err hdr_string_start(struct ifc_reader *r)
{
  r->cap_str = r->depth == 1 || (r->depth == 2 && r->stack[1] == FR_LIST);
  if (r->pidx >= IFC_HP_MAX)
    r->cap_str = 0;
  if (!r->cap_str)
    return BH_OK;
  if (r->n_items == r->cap_items) {
    size_t n = r->cap_items ? r->cap_items * 2 : 32;
    if (n > r->lim.max_header_bytes) /* every item holds at least its NUL */
      return BH_TOOBIG;
    struct hitem *it = realloc(r->items, n * sizeof *it);
    if (!it)
      return BH_NOMEM;
    r->items = it;
    r->cap_items = n;
  }
  struct hitem *it = &r->items[r->n_items++];
  it->off = (uint32_t)r->arena_len;
  it->rec = (uint8_t)r->hrec;
  it->param = (uint8_t)r->pidx;
  it->depth = (uint8_t)r->depth;
  return BH_OK;
}

/* Is parameter i of the header entity just read a string (or $)? A list of strings? */
static int hp_string(const struct ifc_reader *r, int i)
{
  return r->hkind[i] == VK_STR || r->hkind[i] == VK_NULL;
}

static int hp_list(const struct ifc_reader *r, int i)
{
  return (r->hkind[i] == VK_LIST && !r->hbad[i]) || r->hkind[i] == VK_NULL;
}

/* Checks the shape of FILE_DESCRIPTION, FILE_NAME or FILE_SCHEMA at its ';'. */
static enum bh_err hdr_record_end(struct ifc_reader *r)
{
  uint32_t np = r->pidx + 1;
  static const char *names[HR_N] = {"", "FILE_DESCRIPTION", "FILE_NAME", "FILE_SCHEMA"};
  enum hrec h = r->hrec;
  if (h == HR_OTHER)
    return BH_OK;
  if (r->hseen[h]) {
    return fail_at(r, BH_BADREQUEST,
                   h == HR_FS ? IFC_ERR_NO_IFC_SCHEMA_VERSION_FOUND
                              : IFC_ERR_NO_VALID_IFC_HEADER_FOUND,
                   r->stmt_off, r->stmt_line, "%s appears twice in the header", names[h]);
  }
  r->hseen[h] = 1;
  int ok;
  if (h == HR_FD)
    ok = np == 2 && hp_list(r, 0) && hp_string(r, 1);
  else if (h == HR_FN)
    ok = np == 7 && hp_string(r, 0) && hp_string(r, 1) && hp_list(r, 2) && hp_list(r, 3) &&
         hp_string(r, 4) && hp_string(r, 5) && hp_string(r, 6);
  else {
    ok = np == 1 && r->hkind[0] == VK_LIST && !r->hbad[0];
    size_t n = 0;
    for (size_t i = 0; ok && i < r->n_items; i++)
      if (r->items[i].rec == HR_FS) {
        n++;
        if (r->arena[r->items[i].off] == '\0')
          ok = 0;
      }
    if (n == 0)
      ok = 0;
  }
  if (!ok && h == HR_FS)
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_IFC_SCHEMA_VERSION_FOUND, r->stmt_off, r->stmt_line,
                   "FILE_SCHEMA must be a non-empty list of schema names");
  if (!ok)
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_VALID_IFC_HEADER_FOUND, r->stmt_off, r->stmt_line,
                   "%s has the wrong number or kind of parameters", names[h]);
  return BH_OK;
}

/* At HEADER's ENDSEC: checks presence and builds struct ifc_header over the arena. */
static enum bh_err hdr_finish(struct ifc_reader *r)
{
  if (!r->hseen[HR_FD] || !r->hseen[HR_FN])
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_VALID_IFC_HEADER_FOUND, r->stmt_off, r->stmt_line,
                   "header lacks %s", r->hseen[HR_FD] ? "FILE_NAME" : "FILE_DESCRIPTION");
  if (!r->hseen[HR_FS])
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_IFC_SCHEMA_VERSION_FOUND, r->stmt_off, r->stmt_line,
                   "header lacks FILE_SCHEMA");
  /* One pointer array: each list gets a slice in item order. */
  r->hptrs = calloc(r->n_items + 1, sizeof *r->hptrs);
  if (!r->hptrs)
    return fail_at(r, BH_NOMEM, IFC_ERR_INTERNAL_BIMSERVER_ERROR, r->stmt_off, r->stmt_line,
                   "out of memory");
  struct ifc_header *h = &r->header;
  size_t used = 0;
  struct {
    uint8_t rec, param;
    const char ***list;
    size_t *n;
  } lists[] = {{HR_FD, 0, &h->description, &h->n_description},
               {HR_FN, 2, &h->author, &h->n_author},
               {HR_FN, 3, &h->organization, &h->n_organization},
               {HR_FS, 0, &h->schemas, &h->n_schemas}};
  for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
    *lists[l].list = r->hptrs + used;
    for (size_t i = 0; i < r->n_items; i++) {
      const struct hitem *it = &r->items[i];
      if (it->rec == lists[l].rec && it->param == lists[l].param && it->depth == 2)
        r->hptrs[used++] = r->arena + it->off;
    }
    *lists[l].n = (size_t)(r->hptrs + used - *lists[l].list);
  }
  struct {
    uint8_t rec, param;
    const char **s;
  } strs[] = {{HR_FD, 1, &h->implementation_level}, {HR_FN, 0, &h->name},
              {HR_FN, 1, &h->time_stamp},           {HR_FN, 4, &h->preprocessor_version},
              {HR_FN, 5, &h->originating_system},   {HR_FN, 6, &h->authorization}};
  for (size_t s = 0; s < sizeof strs / sizeof strs[0]; s++)
    for (size_t i = 0; i < r->n_items; i++) {
      const struct hitem *it = &r->items[i];
      if (it->rec == strs[s].rec && it->param == strs[s].param && it->depth == 1)
        *strs[s].s = r->arena + it->off;
    }
  return BH_OK;
}

/* ---- the scanner ---- */

/* Error raised by an unexpected byte c in parser state ps. */
static enum bh_err unexpected(struct ifc_reader *r, uint64_t off, int c)
{
  char b[16], kw[48];
  show_byte(b, sizeof b, c);
  kw_text(r, kw, sizeof kw);
  uint64_t ln = r->line;
  switch (r->ps) {
  case PS_STMT:
    switch (r->sec) {
    case SEC_MAGIC:
      return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_VALID_IFC_HEADER_FOUND, off, ln,
                     "expected ISO-10303-21; at the start, found %s", b);
    case SEC_HEADER_KW:
      return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_VALID_IFC_HEADER_FOUND, off, ln,
                     "expected HEADER;, found %s", b);
    case SEC_HEADER:
      return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_VALID_IFC_HEADER_FOUND, off, ln,
                     "expected a header entity or ENDSEC;, found %s", b);
    case SEC_DATA_KW:
      return fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, off, ln, "expected DATA;, found %s",
                     b);
    case SEC_DATA:
      return fail_at(r, BH_BADREQUEST, IFC_ERR_INVALID_REFERENCE, off, ln,
                     "expected an entity instance name (#n) or ENDSEC;, found %s", b);
    case SEC_AFTER_DATA:
      return fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, off, ln,
                     "expected DATA; or END-ISO-10303-21;, found %s", b);
    case SEC_END:
      break;
    }
    return fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, off, ln,
                   "unexpected %s after END-ISO-10303-21;", b);
  case PS_STMT_END:
    if (r->stmt == KW_HDR_ENTITY)
      return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_LEFT_PARENTHESIS_FOUND_IN_RECORD, off, ln,
                     "expected '(' after %s, found %s", kw, b);
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, off, ln,
                   "expected ';' after %s, found %s", kw, b);
  case PS_REC_EQ:
    return fail_at(r, BH_BADREQUEST, IFC_ERR_INVALID_REFERENCE, off, ln,
                   "expected '=' after the instance name #%llu, found %s",
                   (unsigned long long)r->num, b);
  case PS_REC_BODY:
    return fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, off, ln,
                   "expected an entity type after '=', found %s", b);
  case PS_OPEN:
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_LEFT_PARENTHESIS_FOUND_IN_RECORD, off, ln,
                   "expected '(' after %s, found %s", kw, b);
  case PS_VAL_OR_CLOSE:
  case PS_VAL:
    if (c == ';')
      return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, off, ln,
                     "';' inside a parameter list");
    return fail_at(r, BH_BADREQUEST, IFC_ERR_UNEXPECTED_FIELD, off, ln,
                   "expected a parameter, found %s", b);
  case PS_SEP:
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, off, ln,
                   "expected ',' or ')' after a parameter, found %s", b);
  case PS_COMPLEX:
    return fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, off, ln,
                   "expected an entity type or ')' in a complex instance, found %s", b);
  case PS_SEMI:
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, off, ln,
                   "expected ';' after the record, found %s", b);
  }
  return fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_DESERIALIZER_ERROR, off, ln, "bad state");
}

/* A keyword just ended while the parser expected a statement. */
static enum bh_err stmt_keyword(struct ifc_reader *r)
{
  char kw[48];
  kw_text(r, kw, sizeof kw);
  enum stmt_kw k = KW_NONE;
  switch (r->sec) {
  case SEC_MAGIC:
    if (kw_is(r, "ISO-10303-21"))
      k = KW_ISO;
    break;
  case SEC_HEADER_KW:
    if (kw_is(r, "HEADER"))
      k = KW_HEADER;
    break;
  case SEC_HEADER:
    if (kw_is(r, "ENDSEC"))
      k = KW_ENDSEC;
    else if (kw_valid(r)) {
      k = KW_HDR_ENTITY;
      r->hrec = kw_is(r, "FILE_DESCRIPTION") ? HR_FD
                : kw_is(r, "FILE_NAME")      ? HR_FN
                : kw_is(r, "FILE_SCHEMA")    ? HR_FS
                                             : HR_OTHER;
    }
    break;
  case SEC_DATA_KW:
    if (kw_is(r, "DATA"))
      k = KW_DATA;
    break;
  case SEC_DATA:
    if (kw_is(r, "ENDSEC"))
      k = KW_ENDSEC;
    break;
  case SEC_AFTER_DATA:
    if (kw_is(r, "DATA"))
      k = KW_DATA;
    else if (kw_is(r, "END-ISO-10303-21"))
      k = KW_END;
    break;
  case SEC_END:
    break;
  }
  if (k == KW_NONE) {
    static const char *want[] = {"ISO-10303-21;",
                                 "HEADER;",
                                 "a header entity or ENDSEC;",
                                 "DATA;",
                                 "an entity instance or ENDSEC;",
                                 "DATA; or END-ISO-10303-21;",
                                 "nothing"};
    return fail_at(r, BH_BADREQUEST,
                   r->sec <= SEC_HEADER ? IFC_ERR_NO_VALID_IFC_HEADER_FOUND
                                        : IFC_ERR_UNKNOWN_ENTITY,
                   r->stmt_off, r->stmt_line, "expected %s, found %s", want[r->sec], kw);
  }
  r->stmt = k;
  r->ps = PS_STMT_END;
  return BH_OK;
}

/* ';' right after a statement keyword. */
static enum bh_err stmt_semicolon(struct ifc_reader *r, uint64_t off)
{
  switch (r->stmt) {
  case KW_ISO:
    r->sec = SEC_HEADER_KW;
    break;
  case KW_HEADER:
    r->sec = SEC_HEADER;
    break;
  case KW_ENDSEC:
    if (r->sec == SEC_HEADER) {
      enum bh_err rc = hdr_finish(r);
      if (rc)
        return rc;
      r->sec = SEC_DATA_KW;
    } else
      r->sec = SEC_AFTER_DATA;
    break;
  case KW_DATA:
    r->sec = SEC_DATA;
    break;
  case KW_END:
    r->sec = SEC_END;
    break;
  default:
    return unexpected(r, off, ';');
  }
  return BH_OK;
}

/* The statement's closing ';' after its parameter list. */
static enum bh_err stmt_end(struct ifc_reader *r)
{
  if (r->stmt == KW_RECORD) {
    r->entities++;
    return BH_OK;
  }
  if (r->stmt == KW_DATA) {
    r->sec = SEC_DATA;
    return BH_OK;
  }
  enum bh_err rc = hdr_record_end(r);
  r->capture = 0;
  return rc;
}

static enum bh_err too_deep(struct ifc_reader *r, uint64_t off)
{
  return fail_at(r, BH_TOOBIG, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, off, r->line,
                 "parentheses nested deeper than %d", IFC_DEPTH_MAX);
}

static enum bh_err str_error(struct ifc_reader *r, uint64_t off, enum ifc_error_code code,
                             const char *what)
{
  return fail_at(r, BH_BADREQUEST, code, off, r->line, "string: %s", what);
}

static enum bh_err header_full(struct ifc_reader *r, enum bh_err rc, uint64_t off)
{
  if (rc == BH_NOMEM)
    return fail_at(r, rc, IFC_ERR_INTERNAL_BIMSERVER_ERROR, off, r->line, "out of memory");
  return fail_at(r, rc, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, off, r->line,
                 "header strings exceed %zu bytes", r->lim.max_header_bytes);
}

/* Emits code point cp of a decoded string (header strings only). */
static enum bh_err str_cp(struct ifc_reader *r, uint32_t cp, uint64_t off)
{
  if (cp == 0)
    return str_error(r, off, IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION, "NUL character");
  if (!r->cap_str)
    return BH_OK;
  enum bh_err rc = arena_cp(r, cp);
  return rc ? header_full(r, rc, off) : BH_OK;
}

static int hexval(uint8_t c)
{
  return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* One \X2\ or \X4\ unit complete. */
static enum bh_err x_unit(struct ifc_reader *r, uint64_t off)
{
  uint32_t u = r->xunit;
  r->xunit = 0;
  r->xnib = 0;
  r->xgroups++;
  if (r->xwidth == 8) {
    if (u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
      return str_error(r, off, IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                       "\\X4\\ value is not a Unicode scalar value");
    return str_cp(r, u, off);
  }
  if (u >= 0xD800 && u <= 0xDBFF) {
    if (r->hi_sur)
      return str_error(r, off, IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                       "unpaired UTF-16 surrogate in \\X2\\");
    r->hi_sur = u;
    return BH_OK;
  }
  if (u >= 0xDC00 && u <= 0xDFFF) {
    if (!r->hi_sur)
      return str_error(r, off, IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                       "unpaired UTF-16 surrogate in \\X2\\");
    uint32_t cp = 0x10000 + ((r->hi_sur - 0xD800) << 10) + (u - 0xDC00);
    r->hi_sur = 0;
    return str_cp(r, cp, off);
  }
  if (r->hi_sur)
    return str_error(r, off, IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                     "unpaired UTF-16 surrogate in \\X2\\");
  return str_cp(r, u, off);
}

/* Value-completion bookkeeping shared by every parameter token. */
#define VALUE_DONE(vk)                                                                             \
  do {                                                                                             \
    if (r->capture)                                                                                \
      hdr_value(r, (vk));                                                                          \
    ps = PS_SEP;                                                                                   \
  } while (0)

#define OFF(ptr) (base + (uint64_t)((ptr)-start))

#define FAIL(expr)                                                                                 \
  do {                                                                                             \
    r->ps = ps;                                                                                    \
    (void)(expr);                                                                                  \
    goto failed;                                                                                   \
  } while (0)

#define ADV(S)                                                                                     \
  do {                                                                                             \
    ++p;                                                                                           \
    if (p >= lim) {                                                                                \
      ls = (S);                                                                                    \
      goto suspend;                                                                                \
    }                                                                                              \
    c = *p;                                                                                        \
  } while (0)

#define IS_VAL_STATE(ps) ((ps) == PS_VAL || (ps) == PS_VAL_OR_CLOSE)

static enum bh_err scan(struct ifc_reader *r, const uint8_t *start, const uint8_t *end)
{
  const uint8_t *p = start;
  const uint8_t *lim = end;
  const uint64_t base = r->pos;
  enum lstate ls = r->ls;
  enum pstate ps = r->ps;
  uint8_t c;
  enum bh_err rc;

  if (r->in_stmt) {
    uint64_t used = base - r->stmt_off;
    uint64_t left = r->lim.max_record_bytes - used;
    if ((uint64_t)(end - p) > left)
      lim = p + left;
  }
  if (p >= lim)
    goto suspend;
  c = *p;

  switch (ls) {
  case LS_WS:
    goto L_WS;
  case LS_SLASH:
    goto L_SLASH;
  case LS_COMMENT:
    goto L_COMMENT;
  case LS_COMMENT_STAR:
    goto L_COMMENT_STAR;
  case LS_KW:
    goto L_KW;
  case LS_HASH:
    goto L_HASH;
  case LS_HASH_DIGITS:
    goto L_HASH_DIGITS;
  case LS_NUM_SIGN:
    goto L_NUM_SIGN;
  case LS_NUM_INT:
    goto L_NUM_INT;
  case LS_NUM_FRAC:
    goto L_NUM_FRAC;
  case LS_NUM_E:
    goto L_NUM_E;
  case LS_NUM_ESIGN:
    goto L_NUM_ESIGN;
  case LS_NUM_EXP:
    goto L_NUM_EXP;
  case LS_STR:
    goto L_STR;
  case LS_STR_Q:
    goto L_STR_Q;
  case LS_STR_U8:
    goto L_STR_U8;
  case LS_ESC:
    goto L_ESC;
  case LS_ESC_X:
    goto L_ESC_X;
  case LS_XH1:
    goto L_XH1;
  case LS_XH2:
    goto L_XH2;
  case LS_X2_BS:
    goto L_X2_BS;
  case LS_XG:
    goto L_XG;
  case LS_X0_X:
    goto L_X0_X;
  case LS_X0_0:
    goto L_X0_0;
  case LS_X0_BS:
    goto L_X0_BS;
  case LS_ESC_S:
    goto L_ESC_S;
  case LS_ESC_S_CH:
    goto L_ESC_S_CH;
  case LS_ESC_S_Q:
    goto L_ESC_S_Q;
  case LS_ESC_P:
    goto L_ESC_P;
  case LS_ESC_P_BS:
    goto L_ESC_P_BS;
  case LS_ENUM1:
    goto L_ENUM1;
  case LS_ENUM:
    goto L_ENUM;
  case LS_BIN1:
    goto L_BIN1;
  case LS_BIN:
    goto L_BIN;
  }
  FAIL(unexpected(r, OFF(p), c));

L_WS:
  while (ifc_cls[c] & C_WS) {
    if (c == '\n')
      r->line++;
    ADV(LS_WS);
  }
  if (ps == PS_STMT && c != '/') {
    /* A statement starts: from here to its ';' it has max_record_bytes. */
    r->in_stmt = 1;
    r->stmt_off = OFF(p);
    r->stmt_line = r->line;
    if ((size_t)(lim - p) > r->lim.max_record_bytes)
      lim = p + r->lim.max_record_bytes;
  }
  switch (c) {
  case '#':
    if (ps == PS_STMT && r->sec == SEC_DATA)
      r->is_inst = 1;
    else if (IS_VAL_STATE(ps))
      r->is_inst = 0;
    else
      FAIL(unexpected(r, OFF(p), c));
    r->num = 0;
    ADV(LS_HASH);
    goto L_HASH;
  case ',':
    if (ps != PS_SEP)
      FAIL(unexpected(r, OFF(p), c));
    if (r->stack[r->depth - 1] == FR_TYPED)
      FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_NO_RIGHT_PARENTHESIS_FOUND_IN_RECORD, OFF(p), r->line,
                   "a typed value takes exactly one parameter"));
    if (r->depth == 1)
      r->pidx++;
    ps = PS_VAL;
    ADV(LS_WS);
    goto L_WS;
  case '(':
    if (ps == PS_OPEN || ps == PS_STMT_END) {
      if (ps == PS_STMT_END) {
        if (r->stmt != KW_HDR_ENTITY && r->stmt != KW_DATA)
          FAIL(unexpected(r, OFF(p), c));
        r->stack[0] = FR_STMT;
        r->depth = 1;
        r->pidx = 0;
        if (r->stmt == KW_HDR_ENTITY && r->hrec != HR_OTHER) {
          r->capture = 1;
          memset(r->hkind, 0, sizeof r->hkind);
          memset(r->hbad, 0, sizeof r->hbad);
        }
      } else {
        if (r->depth >= IFC_DEPTH_MAX)
          FAIL(too_deep(r, OFF(p)));
        if (r->depth == 0)
          r->pidx = 0;
        r->stack[r->depth++] = r->open_frame;
      }
      ps = PS_VAL_OR_CLOSE;
    } else if (IS_VAL_STATE(ps)) {
      if (r->depth >= IFC_DEPTH_MAX)
        FAIL(too_deep(r, OFF(p)));
      if (r->capture)
        hdr_value(r, VK_LIST);
      r->stack[r->depth++] = FR_LIST;
      ps = PS_VAL_OR_CLOSE;
    } else if (ps == PS_REC_BODY) {
      r->stack[0] = FR_COMPLEX;
      r->depth = 1;
      r->nparts = 0;
      ps = PS_COMPLEX;
    } else
      FAIL(unexpected(r, OFF(p), c));
    ADV(LS_WS);
    goto L_WS;
  case ')':
    if (ps == PS_SEP || ps == PS_VAL_OR_CLOSE) {
      uint8_t fr = r->stack[--r->depth];
      if (ps == PS_VAL_OR_CLOSE && fr == FR_TYPED)
        FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_UNEXPECTED_FIELD, OFF(p), r->line,
                     "a typed value takes exactly one parameter, found none"));
      if (fr == FR_STMT)
        ps = PS_SEMI;
      else if (fr == FR_PART)
        ps = PS_COMPLEX;
      else
        ps = PS_SEP;
    } else if (ps == PS_COMPLEX) {
      if (r->nparts == 0)
        FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, OFF(p), r->line,
                     "empty complex instance"));
      r->depth = 0;
      ps = PS_SEMI;
    } else if (ps == PS_VAL) {
      FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_UNEXPECTED_FIELD, OFF(p), r->line,
                   "expected a parameter after ',', found ')'"));
    } else
      FAIL(unexpected(r, OFF(p), c));
    ADV(LS_WS);
    goto L_WS;
  case ';':
    r->ps = ps;
    if (ps == PS_SEMI)
      rc = stmt_end(r);
    else if (ps == PS_STMT_END)
      rc = stmt_semicolon(r, OFF(p));
    else
      rc = unexpected(r, OFF(p), c);
    if (rc)
      goto failed;
    r->in_stmt = 0;
    lim = end;
    ps = PS_STMT;
    ADV(LS_WS);
    goto L_WS;
  case '=':
    if (ps != PS_REC_EQ)
      FAIL(unexpected(r, OFF(p), c));
    ps = PS_REC_BODY;
    ADV(LS_WS);
    goto L_WS;
  case '\'':
    if (!IS_VAL_STATE(ps))
      FAIL(unexpected(r, OFF(p), c));
    r->str_off = OFF(p);
    r->str_line = r->line;
    r->alpha = 0;
    r->cap_str = 0;
    if (r->capture && (rc = hdr_string_start(r)) != BH_OK)
      FAIL(header_full(r, rc, OFF(p)));
    ADV(LS_STR);
    goto L_STR;
  case '$':
    if (!IS_VAL_STATE(ps))
      FAIL(unexpected(r, OFF(p), c));
    VALUE_DONE(VK_NULL);
    ADV(LS_WS);
    goto L_WS;
  case '*':
    if (!IS_VAL_STATE(ps))
      FAIL(unexpected(r, OFF(p), c));
    VALUE_DONE(VK_OTHER);
    ADV(LS_WS);
    goto L_WS;
  case '.':
    if (!IS_VAL_STATE(ps))
      FAIL(unexpected(r, OFF(p), c));
    ADV(LS_ENUM1);
    goto L_ENUM1;
  case '"':
    if (!IS_VAL_STATE(ps))
      FAIL(unexpected(r, OFF(p), c));
    ADV(LS_BIN1);
    goto L_BIN1;
  case '/':
    ADV(LS_SLASH);
    goto L_SLASH;
  case '+':
  case '-':
    if (!IS_VAL_STATE(ps))
      FAIL(unexpected(r, OFF(p), c));
    r->num_real = 0;
    ADV(LS_NUM_SIGN);
    goto L_NUM_SIGN;
  case '0':
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
  case '8':
  case '9':
    if (!IS_VAL_STATE(ps))
      FAIL(unexpected(r, OFF(p), c));
    r->num_real = 0;
    goto L_NUM_INT;
  default:
    if ((ifc_cls[c] & C_KW) || c == '!') {
      if (!(IS_VAL_STATE(ps) || ps == PS_STMT || ps == PS_REC_BODY || ps == PS_COMPLEX))
        FAIL(unexpected(r, OFF(p), c));
      r->kw[0] = c; /* the first byte may be '!' */
      r->kwlen = 1;
      ADV(LS_KW);
      goto L_KW;
    }
    FAIL(unexpected(r, OFF(p), c));
  }

L_KW:
  while (ifc_cls[c] & C_KW) {
    if (r->kwlen == IFC_KW_MAX)
      FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, OFF(p), r->line,
                   "keyword longer than %d characters", IFC_KW_MAX));
    r->kw[r->kwlen++] = c;
    ADV(LS_KW);
  }
  /* The keyword ended at p. */
  if (ps == PS_STMT) {
    r->ps = ps;
    if (stmt_keyword(r))
      goto failed;
    ps = r->ps;
    goto L_WS;
  }
  if (!kw_valid(r)) {
    char kw[48];
    kw_text(r, kw, sizeof kw);
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, OFF(p) - r->kwlen, r->line,
                 "invalid keyword %s (upper-case letters, digits and '_')", kw));
  }
  if (ps == PS_REC_BODY || ps == PS_COMPLEX) {
    rc = type_count(r);
    if (rc) {
      if (rc == BH_NOMEM)
        FAIL(fail_at(r, rc, IFC_ERR_INTERNAL_BIMSERVER_ERROR, OFF(p), r->line, "out of memory"));
      FAIL(fail_at(r, rc, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, OFF(p), r->line,
                   "more than %zu entity types", r->lim.max_types));
    }
    if (ps == PS_COMPLEX) {
      r->nparts++;
      r->open_frame = FR_PART;
    } else
      r->open_frame = FR_STMT;
  } else {
    if (r->capture)
      hdr_value(r, VK_OTHER);
    r->open_frame = FR_TYPED;
    /* A typed value is a value: after its ')' a separator follows. */
  }
  ps = PS_OPEN;
  goto L_WS;

L_HASH:
  if (!(ifc_cls[c] & C_DIGIT))
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_INVALID_REFERENCE, OFF(p), r->line,
                 "'#' must be followed by digits"));
L_HASH_DIGITS:
  while (ifc_cls[c] & C_DIGIT) {
    if (r->num > (UINT64_C(0x7FFFFFFFFFFFFFFF) - 9) / 10)
      FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_INVALID_REFERENCE, OFF(p), r->line,
                   "instance name too large"));
    r->num = r->num * 10 + (uint64_t)(c - '0');
    ADV(LS_HASH_DIGITS);
  }
  if (ifc_cls[c] & C_NUMTAIL)
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_INVALID_REFERENCE, OFF(p), r->line,
                 "invalid instance name"));
  if (r->is_inst) {
    int d = dup_mark(r, r->num);
    if (d < 0)
      FAIL(fail_at(r, BH_NOMEM, IFC_ERR_INTERNAL_BIMSERVER_ERROR, r->stmt_off, r->stmt_line,
                   "out of memory"));
    if (d > 0)
      FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_DUPLICATE_EXPRESS_ID, r->stmt_off, r->stmt_line,
                   "instance #%llu is defined twice", (unsigned long long)r->num));
    r->stmt = KW_RECORD;
    r->depth = 0;
    ps = PS_REC_EQ;
  } else
    VALUE_DONE(VK_OTHER);
  goto L_WS;

L_NUM_SIGN:
  if (!(ifc_cls[c] & C_DIGIT))
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_INVALID_INTEGER_LITERAL, OFF(p), r->line,
                 "a sign must be followed by digits"));
L_NUM_INT:
  while (ifc_cls[c] & C_DIGIT)
    ADV(LS_NUM_INT);
  if (c == '.') {
    r->num_real = 1;
    ADV(LS_NUM_FRAC);
    goto L_NUM_FRAC;
  }
  goto L_NUM_END;
L_NUM_FRAC:
  while (ifc_cls[c] & C_DIGIT)
    ADV(LS_NUM_FRAC);
  if (c == 'E' || c == 'e') {
    ADV(LS_NUM_E);
    goto L_NUM_E;
  }
  goto L_NUM_END;
L_NUM_E:
  if (c == '+' || c == '-')
    ADV(LS_NUM_ESIGN);
L_NUM_ESIGN:
  if (!(ifc_cls[c] & C_DIGIT))
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_INVALID_FLOAT_LITERAL, OFF(p), r->line,
                 "an exponent needs digits"));
L_NUM_EXP:
  while (ifc_cls[c] & C_DIGIT)
    ADV(LS_NUM_EXP);
L_NUM_END:
  if (ifc_cls[c] & C_NUMTAIL)
    FAIL(fail_at(r, BH_BADREQUEST,
                 r->num_real ? IFC_ERR_INVALID_FLOAT_LITERAL : IFC_ERR_INVALID_INTEGER_LITERAL,
                 OFF(p), r->line, "invalid number"));
  VALUE_DONE(VK_OTHER);
  goto L_WS;

L_ENUM1:
  if (!((c >= 'A' && c <= 'Z') || c == '_'))
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_UNEXPECTED_ENUM, OFF(p), r->line,
                 "an enumeration must start with an upper-case letter"));
L_ENUM:
  while (ifc_cls[c] & C_ENUM)
    ADV(LS_ENUM);
  if (c != '.')
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_UNEXPECTED_ENUM, OFF(p), r->line,
                 "an enumeration must end with '.'"));
  VALUE_DONE(VK_OTHER);
  ADV(LS_WS);
  goto L_WS;

L_BIN1:
  if (c < '0' || c > '3')
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_BYTE_ARRAY_NOT_QUOTED, OFF(p), r->line,
                 "a binary must start with a digit 0-3"));
  ADV(LS_BIN);
L_BIN:
  while (ifc_cls[c] & C_HEX)
    ADV(LS_BIN);
  if (c != '"')
    FAIL(fail_at(r, BH_BADREQUEST, IFC_ERR_BYTE_ARRAY_NOT_QUOTED, OFF(p), r->line,
                 "a binary holds upper-case hex digits and ends with '\"'"));
  VALUE_DONE(VK_OTHER);
  ADV(LS_WS);
  goto L_WS;

L_SLASH:
  if (c != '*') {
    r->ps = ps;
    FAIL(unexpected(r, OFF(p) - 1, '/'));
  }
  ADV(LS_COMMENT);
L_COMMENT:
  while (c != '*') {
    if (c == '\n')
      r->line++;
    ADV(LS_COMMENT);
  }
  ADV(LS_COMMENT_STAR);
L_COMMENT_STAR:
  if (c == '/') {
    ADV(LS_WS);
    goto L_WS;
  }
  if (c == '*') {
    ADV(LS_COMMENT_STAR);
    goto L_COMMENT_STAR;
  }
  goto L_COMMENT;

  /* Strings. Plain runs are copied only for captured header strings. */
L_STR:
  for (;;) {
    const uint8_t *s = p;
    while (p < lim && (ifc_cls[*p] & C_STRPLAIN))
      p++;
    if (r->cap_str && p > s && (rc = arena_add(r, s, (size_t)(p - s))) != BH_OK)
      FAIL(header_full(r, rc, OFF(s)));
    if (p >= lim) {
      ls = LS_STR;
      goto suspend;
    }
    c = *p;
    if (c == '\'') {
      ADV(LS_STR_Q);
      goto L_STR_Q;
    }
    if (c == '\\') {
      ADV(LS_ESC);
      goto L_ESC;
    }
    if (c >= 0x80) {
      /* UTF-8 (ISO 10303-21:2016 allows it in strings): checked, copied as is. */
      if (c >= 0xC2 && c <= 0xDF)
        r->u8need = 1, r->u8lo = 0x80, r->u8hi = 0xBF;
      else if (c >= 0xE0 && c <= 0xEF)
        r->u8need = 2, r->u8lo = c == 0xE0 ? 0xA0 : 0x80, r->u8hi = c == 0xED ? 0x9F : 0xBF;
      else if (c >= 0xF0 && c <= 0xF4)
        r->u8need = 3, r->u8lo = c == 0xF0 ? 0x90 : 0x80, r->u8hi = c == 0xF4 ? 0x8F : 0xBF;
      else
        FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                       "invalid UTF-8"));
      if (r->cap_str && (rc = arena_add(r, &c, 1)) != BH_OK)
        FAIL(header_full(r, rc, OFF(p)));
      ADV(LS_STR_U8);
      goto L_STR_U8;
    }
    if (c == '\n')
      r->line++;
    else if (c == '\t') {
      if (r->cap_str && (rc = arena_add(r, &c, 1)) != BH_OK)
        FAIL(header_full(r, rc, OFF(p)));
    } else if (c != '\r')
      FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                     "control character"));
    /* Line ends inside a string are not part of it (ISO 10303-21 ignores them). */
    ADV(LS_STR);
  }
L_STR_U8:
  if (c < r->u8lo || c > r->u8hi)
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "invalid UTF-8"));
  if (r->cap_str && (rc = arena_add(r, &c, 1)) != BH_OK)
    FAIL(header_full(r, rc, OFF(p)));
  r->u8lo = 0x80;
  r->u8hi = 0xBF;
  if (--r->u8need) {
    ADV(LS_STR_U8);
    goto L_STR_U8;
  }
  ADV(LS_STR);
  goto L_STR;
L_STR_Q:
  if (c == '\'') {
    if (r->cap_str && (rc = arena_add(r, "'", 1)) != BH_OK)
      FAIL(header_full(r, rc, OFF(p)));
    ADV(LS_STR);
    goto L_STR;
  }
  /* The string ended before p. */
  if (r->cap_str && (rc = arena_add(r, "", 1)) != BH_OK)
    FAIL(header_full(r, rc, OFF(p)));
  r->cap_str = 0;
  VALUE_DONE(VK_STR);
  goto L_WS;
L_ESC:
  switch (c) {
  case '\\':
    if (r->cap_str && (rc = arena_add(r, "\\", 1)) != BH_OK)
      FAIL(header_full(r, rc, OFF(p)));
    ADV(LS_STR);
    goto L_STR;
  case 'X':
    ADV(LS_ESC_X);
    goto L_ESC_X;
  case 'S':
    ADV(LS_ESC_S);
    goto L_ESC_S;
  case 'P':
    ADV(LS_ESC_P);
    goto L_ESC_P;
  default:
    FAIL(str_error(r, OFF(p) - 1, IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "unknown control directive after '\\' (write '\\\\' for a backslash)"));
  }
L_ESC_X:
  if (c == '\\') {
    ADV(LS_XH1);
    goto L_XH1;
  }
  if (c != '2' && c != '4')
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "expected \\X\\, \\X2\\ or \\X4\\"));
  r->xwidth = c == '2' ? 4 : 8;
  r->xunit = r->xnib = r->xgroups = r->hi_sur = 0;
  ADV(LS_X2_BS);
L_X2_BS:
  if (c != '\\')
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   r->xwidth == 4 ? "expected '\\' after \\X2" : "expected '\\' after \\X4"));
  ADV(LS_XG);
L_XG:
  while (ifc_cls[c] & C_HEX) {
    r->xunit = (r->xunit << 4) | (uint32_t)hexval(c);
    if (++r->xnib == (uint32_t)r->xwidth && (rc = x_unit(r, OFF(p))) != BH_OK)
      goto failed_rc;
    ADV(LS_XG);
  }
  if (c != '\\')
    FAIL(str_error(r, OFF(p),
                   r->xwidth == 4 ? IFC_ERR_STRING_ENCODING_X2_NOT_CLOSED_WITH_X0
                                  : IFC_ERR_STRING_ENCODING_X4_NOT_CLOSED_WITH_X0,
                   r->xwidth == 4 ? "\\X2\\ not closed with \\X0\\"
                                  : "\\X4\\ not closed with \\X0\\"));
  if (r->xnib != 0 || r->xgroups == 0)
    FAIL(str_error(r, OFF(p),
                   r->xwidth == 4
                       ? IFC_ERR_STRING_ENCODING_NUMBER_OF_HEX_CHARS_IN_X2_NOT_DIVISIBLE_BY_4
                       : IFC_ERR_STRING_ENCODING_NUMBER_OF_HEX_CHARS_IN_X4_NOT_DIVISIBLE_BY_8,
                   r->xwidth == 4 ? "hex digits in \\X2\\ not a positive multiple of 4"
                                  : "hex digits in \\X4\\ not a positive multiple of 8"));
  if (r->hi_sur)
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "unpaired UTF-16 surrogate in \\X2\\"));
  ADV(LS_X0_X);
L_X0_X:
  if (c != 'X')
    goto x0_fail;
  ADV(LS_X0_0);
L_X0_0:
  if (c != '0')
    goto x0_fail;
  ADV(LS_X0_BS);
L_X0_BS:
  if (c != '\\')
    goto x0_fail;
  ADV(LS_STR);
  goto L_STR;
x0_fail:
  FAIL(str_error(r, OFF(p),
                 r->xwidth == 4 ? IFC_ERR_STRING_ENCODING_X2_NOT_CLOSED_WITH_X0
                                : IFC_ERR_STRING_ENCODING_X4_NOT_CLOSED_WITH_X0,
                 r->xwidth == 4 ? "\\X2\\ not closed with \\X0\\"
                                : "\\X4\\ not closed with \\X0\\"));
L_XH1:
  if (!(ifc_cls[c] & C_HEX))
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "\\X\\ needs two upper-case hex digits"));
  r->xbyte = (uint8_t)(hexval(c) << 4);
  ADV(LS_XH2);
L_XH2:
  if (!(ifc_cls[c] & C_HEX))
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "\\X\\ needs two upper-case hex digits"));
  r->xbyte = (uint8_t)(r->xbyte | hexval(c));
  if ((rc = str_cp(r, r->xbyte, OFF(p))) != BH_OK)
    goto failed_rc;
  ADV(LS_STR);
  goto L_STR;
L_ESC_S:
  if (c != '\\')
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "expected '\\' after \\S"));
  ADV(LS_ESC_S_CH);
L_ESC_S_CH:
  if (c < 0x20 || c > 0x7e)
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "\\S\\ must be followed by a printable character"));
  if (c == '\'') {
    ADV(LS_ESC_S_Q);
    goto L_ESC_S_Q;
  }
s_char : {
  uint32_t cp = (uint32_t)c + 0x80;
  if (r->alpha)
    cp = ifc_latin[r->alpha - 1][cp - 0xA0];
  if (cp == 0)
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "\\S\\ names no character in this alphabet"));
  if ((rc = str_cp(r, cp, OFF(p))) != BH_OK)
    goto failed_rc;
  ADV(LS_STR);
  goto L_STR;
}
L_ESC_S_Q:
  /* An apostrophe after \S\ is still written twice. */
  if (c != '\'')
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "\\S\\' must be written \\S\\''"));
  goto s_char;
L_ESC_P:
  if (c < 'A' || c > 'I')
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "\\P must be followed by a letter A-I"));
  r->alpha = c - 'A';
  ADV(LS_ESC_P_BS);
L_ESC_P_BS:
  if (c != '\\')
    FAIL(str_error(r, OFF(p), IFC_ERR_STRING_ENCODING_CHARACTER_DECODING_EXCEPTION,
                   "expected '\\' after \\P?"));
  ADV(LS_STR);
  goto L_STR;

suspend:
  r->ls = ls;
  r->ps = ps;
  if (p < end) {
    /* lim was shortened: the statement is longer than allowed. */
    return fail_at(r, BH_TOOBIG, IFC_ERR_UNIMPLEMENTED_BIMSERVER_FEATURE, OFF(p), r->line,
                   "statement longer than %zu bytes", r->lim.max_record_bytes);
  }
  return BH_OK;

failed_rc:
  r->ps = ps;
  (void)rc;
failed:
  return r->error.err;
}

/* ---- public API ---- */

struct ifc_reader *ifc_reader_new(const struct ifc_reader_limits *lim)
{
  struct ifc_reader *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  if (lim)
    r->lim = *lim;
  if (!r->lim.max_record_bytes)
    r->lim.max_record_bytes = IFC_DEF_RECORD;
  if (!r->lim.max_header_bytes)
    r->lim.max_header_bytes = IFC_DEF_HEADER;
  if (!r->lim.max_types)
    r->lim.max_types = IFC_DEF_TYPES;
  if (!r->lim.max_dup_check_id)
    r->lim.max_dup_check_id = IFC_DEF_DUP_ID;
  if (r->lim.max_header_bytes > UINT32_MAX)
    r->lim.max_header_bytes = UINT32_MAX; /* arena offsets are 32-bit */
  r->line = 1;
  if (types_grow(r) != BH_OK) {
    free(r);
    return NULL;
  }
  return r;
}

void ifc_reader_free(struct ifc_reader *r)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->types_cap; i++)
    free(r->types[i]);
  free(r->types);
  free(r->sorted);
  free(r->dup);
  free(r->arena);
  free(r->items);
  free(r->hptrs);
  free(r);
}

enum bh_err ifc_reader_feed(struct ifc_reader *r, const void *buf, size_t n)
{
  if (r->has_error)
    return r->error.err;
  if (r->finished)
    return BH_STATE;
  if (n == 0)
    return BH_OK;
  const uint8_t *p = buf;
  enum bh_err rc = scan(r, p, p + n);
  if (rc == BH_OK) {
    r->pos += n;
    r->last_was_lf = p[n - 1] == '\n';
  }
  return rc;
}

enum bh_err ifc_reader_finish(struct ifc_reader *r)
{
  if (r->has_error)
    return r->error.err;
  if (r->finished)
    return BH_OK;
  uint64_t off = r->pos, ln = r->line;
  if (r->ls == LS_STR || (r->ls > LS_STR_Q && r->ls <= LS_ESC_P_BS))
    return fail_at(r, BH_BADREQUEST, IFC_ERR_EXPECTED_STRING, r->str_off, r->str_line,
                   "input ended inside a string that starts here");
  if (r->sec == SEC_MAGIC)
    return fail_at(r, BH_BADREQUEST, IFC_ERR_UNEXPECTED_END_OF_STREAM_WHILE_READING_FIRST_LINE, off,
                   ln, "input ended before ISO-10303-21;");
  if (r->sec <= SEC_HEADER)
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_VALID_IFC_HEADER_FOUND, off, ln,
                   "input ended inside the header");
  if (r->sec == SEC_END && r->in_stmt)
    return fail_at(r, BH_BADREQUEST, IFC_ERR_UNKNOWN_ENTITY, r->stmt_off, r->stmt_line,
                   "unexpected text after END-ISO-10303-21;");
  if (r->ls == LS_COMMENT || r->ls == LS_COMMENT_STAR || r->ls == LS_SLASH)
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, off, ln,
                   "input ended inside a comment");
  if (r->in_stmt)
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, off, ln,
                   "input ended inside a statement");
  if (r->sec != SEC_END)
    return fail_at(r, BH_BADREQUEST, IFC_ERR_NO_SEMICOLON_FOUND_IN_RECORD, off, ln,
                   "input ended before %s",
                   r->sec == SEC_DATA_KW ? "DATA;"
                   : r->sec == SEC_DATA  ? "ENDSEC;"
                                         : "END-ISO-10303-21;");
  r->finished = 1;
  return BH_OK;
}

const struct ifc_reader_error *ifc_reader_error(const struct ifc_reader *r)
{
  return r->has_error ? &r->error : NULL;
}

const struct ifc_header *ifc_reader_header(const struct ifc_reader *r)
{
  return &r->header;
}

const char *ifc_reader_schema(const struct ifc_reader *r)
{
  return r->header.n_schemas ? r->header.schemas[0] : NULL;
}

uint64_t ifc_reader_entity_count(const struct ifc_reader *r)
{
  return r->entities;
}

uint64_t ifc_reader_byte_count(const struct ifc_reader *r)
{
  return r->pos;
}

uint64_t ifc_reader_line_count(const struct ifc_reader *r)
{
  /* r->line is 1 + LF count; the last line counts only if something is on it. */
  if (r->pos == 0)
    return 0;
  return r->last_was_lf ? r->line - 1 : r->line;
}

uint64_t ifc_reader_type_lookup(const struct ifc_reader *r, const char *name)
{
  const struct ifc_type *e = type_find(r, name);
  return e ? e->count : 0;
}

size_t ifc_reader_type_distinct(const struct ifc_reader *r)
{
  return r->types_n;
}

static int cmp_type(const void *a, const void *b)
{
  return strcmp(((const struct ifc_type_count *)a)->name, ((const struct ifc_type_count *)b)->name);
}

enum bh_err ifc_reader_types(struct ifc_reader *r, const struct ifc_type_count **out, size_t *n)
{
  free(r->sorted);
  r->sorted = malloc((r->types_n ? r->types_n : 1) * sizeof *r->sorted);
  if (!r->sorted)
    return BH_NOMEM;
  size_t k = 0;
  for (size_t i = 0; i < r->types_cap; i++)
    if (r->types[i]) {
      r->sorted[k].name = r->types[i]->name;
      r->sorted[k].count = r->types[i]->count;
      k++;
    }
  qsort(r->sorted, k, sizeof *r->sorted, cmp_type);
  *out = r->sorted;
  *n = k;
  return BH_OK;
}
