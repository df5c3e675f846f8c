/* typecodes.c - what a multiprocessing typecode is in C, and how big.
 *
 * usage: typecodes
 *
 * multiprocessing.Value('i', 0) and multiprocessing.Array('d', range(10))
 * name their element type with a one-letter typecode, which sharedctypes.py
 * turns into a ctypes type (typecode_to_type), which is a plain C type.
 * (Seed 000's manager.Value and manager.Array take the same letters but
 * are no ctypes: README.md says what they are.)  In C there is no code to look up: the struct in the
 * shared mapping simply declares an int or a double.  This prints the
 * table with the sizes on this machine (sizeof).  Your job: the TODO at
 * the end of the table.  The lesson is in README.md beside this file.
 *
 * Expected output on 64-bit Linux: the table in README.md.
 */
#include <stddef.h>
#include <wchar.h>

#include "errors.h"
#include "say.h"

struct row {
    const char *code;   /* the typecode, as Python writes it */
    const char *ctype;  /* the ctypes type multiprocessing makes of it */
    const char *c_type; /* the C type that is */
    size_t size;        /* sizeof that C type, here */
    const char *note;
};

/* ROW('i', c_int, int, "...") keeps each name and its sizeof together. */
#define ROW(code, ctype, c_type, note) { code, #ctype, #c_type, sizeof(c_type), note }

static const struct row table[] = {
    ROW("'c'", c_char, char, "seed 002's Value('c', '0'): b'0' in Python 3"),
    ROW("'u'", c_wchar, wchar_t, ""),
    ROW("'b'", c_byte, signed char, ""),
    ROW("'B'", c_ubyte, unsigned char, ""),
    ROW("'h'", c_short, short, ""),
    ROW("'H'", c_ushort, unsigned short, ""),
    ROW("'i'", c_int, int, "Value('i', 0) in seed 002"),
    ROW("'I'", c_uint, unsigned int, ""),
    ROW("'l'", c_long, long, "4 bytes on 64-bit Windows"),
    ROW("'L'", c_ulong, unsigned long, ""),
    ROW("'q'", c_longlong, long long, ""),
    ROW("'Q'", c_ulonglong, unsigned long long, ""),
    ROW("'f'", c_float, float, ""),
    ROW("'d'", c_double, double, "Array('d', range(10)) in lesson 04"),
    /* TODO: one more row, for the type seed 002 shares a string with:
     * ctypes.c_char_p.  It has no typecode ("-").  Which C type is it, and
     * what does that type hold?  Put that in its note, as the README's
     * table says it. */
};

int main(int argc, char *argv[])
{
    if (argc > 1)
        usage_exit("typecodes", "unexpected argument '%s'", argv[1]);

    put_line("%-8s  %-11s  %-18s  %5s  %s", "typecode", "ctypes", "C type",
             "bytes", "note");
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const struct row *r = &table[i];
        put_line("%-8s  %-11s  %-18s  %5zu%s%s", r->code, r->ctype, r->c_type,
                 r->size, *r->note ? "  " : "", r->note);
    }
    return 0;
}
