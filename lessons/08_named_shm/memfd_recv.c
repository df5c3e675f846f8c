/* memfd_recv.c - receive a descriptor over a Unix socket, map what it opens.
 *
 * usage: memfd_recv SOCKET
 *
 * The other end of memfd_send, which starts it.  It is a program of its
 * own: it shares no memory with the sender and inherits none of its
 * descriptors - it checks that first.  It connects to SOCKET and receives
 * one descriptor as SCM_RIGHTS ancillary data (unix(7), cmsg(3)), refusing
 * any message that is not exactly that.  It asks fstat(2) how big the file
 * behind it is, maps it, reads the sender's text and writes a reply into
 * the same memory - unless the file is sealed against writing
 * (F_SEAL_FUTURE_WRITE), which it then shows.  Last it tries what a
 * careless or hostile receiver could do: grow the file, and shrink it to
 * nothing under the sender's mapping.  The seals refuse both.
 *
 * Expected output (between the sender's lines):
 *     Receiver: no memfd came with exec: it has only what the socket brings
 *     Receiver: got a descriptor for /memfd:lesson08 (deleted), 4096 bytes
 *     Receiver: it is close-on-exec (F_GETFD: FD_CLOEXEC)
 *     Receiver: seals: F_SEAL_SHRINK F_SEAL_GROW
 *     Receiver: read 'hello through a memfd'
 *     Receiver: wrote 'hello back from the receiver'
 *     Receiver: ftruncate to 8192 bytes refused: Operation not permitted
 *     Receiver: ftruncate to 0 bytes refused: Operation not permitted
 *
 * Your job: the TODO in receive_fd(), receiving the descriptor and
 * refusing anything else.  The lesson is in README.md beside this file.
 *
 * Next: memfd_send.c, the sender.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "errors.h"
#include "named_shm.h"
#include "say.h"

#define USAGE "memfd_recv SOCKET"
#define REPLY "hello back from the receiver"

/* Receive one byte and the one descriptor that comes with it; return the
 * descriptor (a new number in this process, for the sender's file).  Stops
 * the program on anything else: end of file, no descriptor, control data
 * cut short, more than one descriptor. */
static int receive_fd(int sock)
{
    union { /* a buffer aligned for a struct cmsghdr (cmsg(3)) */
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    int fd = -1;
    /* TODO: receive one byte and the descriptor that rides on it
     * (recvmsg(2), with `control` as the place for the control data), and
     * take the descriptor out of the control message (cmsg(3)).
     * Constraints:
     *   - the descriptor it installs here must be close-on-exec too;
     *   - recvmsg can be interrupted by a signal: then try again; any
     *     other failure is err_exit;
     *   - stop with fatal() unless the message is exactly what the sender
     *     sends: one byte (0 means the sender hung up), control data that
     *     was not cut short, a first control message that is there, of
     *     level SOL_SOCKET and type SCM_RIGHTS, carrying exactly one
     *     descriptor;
     *   - copy the descriptor out as bytes: CMSG_DATA() promises no
     *     alignment (the build refuses a cast to int *). */
    (void)sock;
    (void)control;
    if (fd == -1)
        fatal("TODO: no descriptor taken out of the message");
    return fd;
}

/* Try to give the file `size` bytes, and say what happened. */
static void try_resize(int fd, size_t size)
{
    if (ftruncate(fd, (off_t)size) == -1)
        say("ftruncate to %zu bytes refused: %s", size, strerror(errno));
    else
        say("ftruncate to %zu bytes done: nothing stopped it", size);
}

int main(int argc, char *argv[])
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (argc != 2)
        usage_exit(USAGE, argc < 2 ? "which socket?" : "too many arguments");
    if (strlen(argv[1]) >= sizeof addr.sun_path)
        usage_exit(USAGE, "SOCKET is longer than %zu bytes", sizeof addr.sun_path - 1);
    memcpy(addr.sun_path, argv[1], strlen(argv[1]) + 1);
    speaker_set("Receiver");

    /* A memfd open here already came through exec, not over the socket. */
    char inherited[256];
    int leaked = nshm_inherited_memfd(inherited, sizeof inherited);
    if (leaked != -1)
        fatal("descriptor %d, open on %s, came with exec: the sender's memfd "
              "is not close-on-exec (MFD_CLOEXEC)", leaked, inherited);
    say("no memfd came with exec: it has only what the socket brings");

    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock == -1)
        err_exit("socket");
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) == -1)
        err_exit("connect %s", argv[1]);
    int fd = receive_fd(sock);
    if (close(sock) == -1)
        err_exit("close");

    /* What the descriptor opens, as the kernel names it: a memfd is shown
     * as /memfd:LABEL, "(deleted)" because no directory holds it. */
    char link[64], what[128];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, what, sizeof what - 1);
    if (len == -1)
        err_exit("readlink %s", link);
    what[len] = '\0';
    /* Close-on-exec, so that no program this one might exec inherits it:
     * the kernel sets that on a received descriptor only if asked. */
    int fd_flags = fcntl(fd, F_GETFD);
    if (fd_flags == -1)
        err_exit("fcntl F_GETFD on %s", what);
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals == -1)
        err_exit("fcntl F_GET_SEALS on %s", what);
    char names[128];
    nshm_seal_names(seals, names, sizeof names);

    /* Map it for writing, to reply; a file sealed against writing refuses
     * that (EPERM), and is mapped for reading only. */
    size_t size;
    bool replying = true;
    char *shared = nshm_map(fd, PROT_READ | PROT_WRITE, &size);
    if (shared == NULL && errno == EPERM && (seals & F_SEAL_FUTURE_WRITE)) {
        replying = false;
        shared = nshm_map(fd, PROT_READ, &size);
    }
    if (shared == NULL)
        fatal("%s: %s", what, nshm_error());
    if (size < sizeof REPLY)
        fatal("%s: %zu bytes is too small for the reply", what, size);

    say("got a descriptor for %s, %zu bytes", what, size);
    if (fd_flags & FD_CLOEXEC)
        say("it is close-on-exec (F_GETFD: FD_CLOEXEC)");
    else
        say("it is not close-on-exec (F_GETFD: %d): a program this one execs "
            "would inherit it", fd_flags);
    say("seals: %s", names);
    if (!replying)
        say("cannot map it for writing: %s (F_SEAL_FUTURE_WRITE)", strerror(EPERM));
    say("read '%.*s'", (int)strnlen(shared, size), shared);
    if (replying) {
        memcpy(shared, REPLY, sizeof REPLY);
        say("wrote '%s'", shared);
    }
    if (munmap(shared, size) == -1)
        err_exit("munmap");

    /* What a careless or hostile receiver could do to the sender. */
    try_resize(fd, 2 * size);
    try_resize(fd, 0);
    if (close(fd) == -1)
        err_exit("close");
    return 0;
}
