/* shm_create.c - make a named shared memory object, write into it, and go.
 *
 * usage: shm_create [hold] [/NAME [TEXT]]
 *
 * Python's SharedMemory(name=NAME, create=True, size=4096), in C.  The
 * object gets a name other programs can open: /NAME is the file
 * /dev/shm/NAME.  O_EXCL makes the creation fail if the name is taken, so
 * that two runs never end up sharing by accident.  The creator does not
 * unlink the name: the object and its bytes outlive this program, for
 * shm_read to find later.
 *
 * Without NAME the name is made from the pid, /lesson08-PID.
 * With `hold` the creator stays, as an owner that cleans up after itself:
 * it waits for SIGINT or SIGTERM, then unlinks the name.  SIGKILL cannot be
 * caught, so a killed holder leaves the object behind.
 *
 * Expected output:
 *     Creator: wrote 'hello from the creator' to /NAME (4096 bytes)
 *
 * Your job: the two TODOs in main(), creating the object and giving it
 * its size.  The lesson is in README.md beside this file; `make check`
 * tells you how you are doing, `make hint` helps when you are stuck.
 *
 * Next: shm_read.c, the other program.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "errors.h"
#include "named_shm.h"
#include "say.h"

#define USAGE "shm_create [hold] [/NAME [TEXT]]"
#define SEGMENT_SIZE 4096

/* Something failed after this program made the object: remove it, then
 * stop.  It is ours to remove because O_EXCL guaranteed it was new. */
static _Noreturn void remove_and_stop(const char *name, const char *why)
{
    if (shm_unlink(name) == -1)
        err_exit("shm_unlink %s (after: %s)", name, why);
    fatal("%s: %s (removed it)", name, why);
}

/* Wait for SIGINT or SIGTERM, blocked since the start so that one sent
 * early waits for us.  sigwaitinfo takes it here, in ordinary code, where
 * shm_unlink is safe to call (in a signal handler it would not be). */
static void hold_until_stopped(const sigset_t *stop, const char *name)
{
    say("holding %s until SIGINT or SIGTERM", name);
    int sig;
    while ((sig = sigwaitinfo(stop, NULL)) == -1)
        if (errno != EINTR)
            err_exit("sigwaitinfo");
    if (shm_unlink(name) == -1)
        err_exit("shm_unlink %s", name);
    say("got %s: unlinked %s", sig == SIGINT ? "SIGINT" : "SIGTERM", name);
}

int main(int argc, char *argv[])
{
    int arg = 1;
    bool hold = arg < argc && strcmp(argv[arg], "hold") == 0;
    if (hold)
        arg++;
    char default_name[32];
    snprintf(default_name, sizeof default_name, "/lesson08-%ld", (long)getpid());
    const char *name = arg < argc ? argv[arg++] : default_name;
    const char *text = arg < argc ? argv[arg++] : "hello from the creator";
    if (arg < argc)
        usage_exit(USAGE, "unexpected argument '%s'", argv[arg]);
    if (!nshm_name_ok(name))
        usage_exit(USAGE, "a name is '/' and 1 to %d more characters, none "
                   "of them '/', not '%s'", NAME_MAX - 1, name);
    if (strlen(text) >= SEGMENT_SIZE)
        usage_exit(USAGE, "TEXT must be shorter than %d bytes", SEGMENT_SIZE);
    speaker_set("Creator");

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (hold && sigprocmask(SIG_BLOCK, &stop, NULL) == -1)
        err_exit("sigprocmask");

    int fd = -1;
    /* TODO 1: create the shared memory object `name` (shm_open(3)), open
     * for reading and writing.  Constraints:
     *   - it must be a NEW object: if the name is taken already, do not
     *     use what is there - stop with a message saying the name already
     *     exists (fatal), and let any other failure report its errno
     *     (err_exit);
     *   - only our own user may open it: nobody else may read it or write
     *     it, whatever the umask.
     * README.md, "The life of an object", says why each matters. */
    if (fd == -1)
        fatal("TODO 1: no shared memory object is open yet");

    /* TODO 2: a new object is 0 bytes long: give it SEGMENT_SIZE bytes.
     * That can fail (a file size limit, a full /dev/shm): then the object
     * is still ours, and must not stay behind - remove_and_stop(name, why),
     * with why saying what went wrong (strerror(3)). */

    size_t size;
    char *shared = nshm_map(fd, PROT_READ | PROT_WRITE, &size);
    if (shared == NULL)
        remove_and_stop(name, nshm_error());
    if (close(fd) == -1) /* the mapping keeps the object open */
        err_exit("close");

    memcpy(shared, text, strlen(text) + 1);
    say("wrote '%s' to %s (%zu bytes)", shared, name, size);

    if (hold)
        hold_until_stopped(&stop, name);
    if (munmap(shared, size) == -1)
        err_exit("munmap");
    return 0;
}
