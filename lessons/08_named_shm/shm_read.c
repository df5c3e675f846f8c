/* shm_read.c - open a shared memory object by its name and read it.
 *
 * usage: shm_read /NAME [unlink]
 *
 * Python's SharedMemory(name=NAME) and bytes(shm.buf), in C.  This program
 * is not the creator's child and shares nothing with it but the name; the
 * creator may have ended long ago.  It asks fstat(2) how big the object is
 * rather than trusting a size agreed in advance.
 *
 * With `unlink` the reader is the last user and removes the name, like
 * Python's shm.unlink(): once no process maps the object either, the kernel
 * frees its memory.  Without it the object stays in /dev/shm.
 *
 * Expected output (shm_create /NAME, then shm_read /NAME unlink):
 *     Reader: read 'hello from the creator' from /NAME (4096 bytes)
 *     Reader: unlinked /NAME
 *
 * Your job: the two TODOs in main(), opening the object by its name and
 * removing the name.  The lesson is in README.md beside this file.
 *
 * Next: memfd_recv.c and memfd_send.c, the same without a name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "errors.h"
#include "named_shm.h"
#include "say.h"

#define USAGE "shm_read /NAME [unlink]"

int main(int argc, char *argv[])
{
    if (argc < 2)
        usage_exit(USAGE, "which name?");
    const char *name = argv[1];
    bool unlink_it = argc == 3 && strcmp(argv[2], "unlink") == 0;
    if (argc > 3 || (argc == 3 && !unlink_it))
        usage_exit(USAGE, "unexpected argument '%s'", argv[argc - 1]);
    if (!nshm_name_ok(name))
        usage_exit(USAGE, "a name is '/' and 1 to %d more characters, none "
                   "of them '/', not '%s'", NAME_MAX - 1, name);
    speaker_set("Reader");

    int fd = -1;
    /* TODO 1: open the object `name` that the creator made, for reading
     * only (shm_open(3)).  It must already exist: a reader never creates
     * one.  If it fails, stop and say why (err_exit); a missing name
     * (which errno?) deserves a message that says so. */
    if (fd == -1)
        fatal("TODO 1: nothing is open yet");
    size_t size;
    const char *shared = nshm_map(fd, PROT_READ, &size);
    if (shared == NULL)
        fatal("%s: %s", name, nshm_error());
    if (close(fd) == -1)
        err_exit("close");

    /* The creator wrote a string; never read past the end of the object
     * even if nobody put a '\0' in it. */
    say("read '%.*s' from %s (%zu bytes)", (int)strnlen(shared, size), shared,
        name, size);
    if (munmap((void *)shared, size) == -1)
        err_exit("munmap");

    if (unlink_it) {
        /* TODO 2: remove the name (shm_unlink(3)), so that nothing is left
         * in /dev/shm; it can fail, and then this program must not claim
         * it did - say why and stop (err_exit).  Then say so, with
         *     say("unlinked %s", name); */
    }
    return 0;
}
