/* string_trap.c - a pointer in shared memory points into one process only.
 *
 * usage: string_trap
 *
 * Seed 002 shares a string as Value(c_char_p, ...): what that shares is a
 * char *, an address.  An address means "this place in MY memory"; in
 * another process the same number names a place in ITS memory, which
 * holds something else, or nothing at all.  A string shared between
 * processes must be the characters themselves, in a char array inside the
 * shared mapping (Python: Array('c', 32), or a ctypes char array).
 *
 * The writer puts a string in memory of its own, and stores both its
 * address and a copy of its characters in the shared struct.  After the
 * writer has ended, the reader looks at both.  The address is valid in
 * the reader too - fork() gave every process the same layout - but the
 * reader's own memory there still holds what the parent had: nothing.
 *
 * Expected output (the address varies from run to run):
 *     MainProcess: the char array in shared memory holds an older string, 'an older message, longer still'
 *     Writer: my string 'Hello from the writer' is at 0x55d4c2a1e040 in my memory
 *     Writer: stored that address in shared memory
 *     Reader: the char array in shared memory holds 'Hello from the writer'
 *     Reader: the pointer in shared memory says 0x55d4c2a1e040
 *     Reader: at 0x55d4c2a1e040 my memory holds ''
 *
 * Next: lesson 04, an Array.
 */
#include <stdio.h>

#include "errors.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define MESSAGE "Hello from the writer"
/* What the char array holds before the writer's copy: 30 characters and
 * its '\0', longer than MESSAGE. */
#define OLDER "an older message, longer still"

/* Two ways to put a string in the shared mapping. */
struct shared_strings {
    char *pointer;  /* Value(c_char_p): only an address */
    char text[32];  /* a char array: the characters themselves */
};

/* Ordinary memory: after fork() each process has a copy of its own. */
static char own_string[32];

static void writer(void *arg)
{
    struct shared_strings *shared = arg;
    snprintf(own_string, sizeof own_string, "%s", MESSAGE);
    say("my string '%s' is at %p in my memory", own_string, (void *)own_string);

    shared->pointer = own_string;
    say("stored that address in shared memory");
    snprintf(shared->text, sizeof shared->text, "%s", own_string);
}

static void reader(void *arg)
{
    struct shared_strings *shared = arg;
    say("the char array in shared memory holds '%s'", shared->text);
    say("the pointer in shared memory says %p", (void *)shared->pointer);
    /* Follow the pointer only to a place known to be mapped here: any
     * other address could crash the reader, or worse, seem to work. */
    if (shared->pointer != own_string) {
        say("that is no address I know of; I do not follow it");
        return;
    }
    say("at %p my memory holds '%s'", (void *)shared->pointer, shared->pointer);
}

int main(int argc, char *argv[])
{
    if (argc > 1)
        usage_exit("string_trap", "unexpected argument '%s'", argv[1]);

    struct shared_strings *shared = shared_map(sizeof *shared);
    /* A fresh MAP_ANONYMOUS mapping is all zero bytes (mmap(2)), and
     * Python zeroes its shared Values and Arrays too (sharedctypes.py), so
     * a first copy would end well by luck.  Here the program itself puts
     * an older, longer string in the array first, as memory used a second
     * time holds one: the writer's copy must bring its own end. */
    snprintf(shared->text, sizeof shared->text, "%s", OLDER);
    say("the char array in shared memory holds an older string, '%s'", shared->text);

    /* One after the other: joining the writer orders its writes before
     * the reader's reads, so no lock is needed here. */
    if (process_join(process_start("Writer", writer, shared)) != 0)
        fatal("the writer failed");
    if (process_join(process_start("Reader", reader, shared)) != 0)
        fatal("the reader failed");

    shared_unmap(shared, sizeof *shared);
    return 0;
}
