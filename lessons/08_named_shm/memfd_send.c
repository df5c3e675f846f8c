/* memfd_send.c - shared memory without a name: seal it, hand its descriptor over.
 *
 * usage: memfd_send [readonly | hold]
 *
 * memfd_create(2) makes a file that lives in memory and has no name in any
 * directory: nothing in /dev/shm, nothing to clean up.  The way in is a
 * descriptor.  This program writes into such a file, seals its size, then
 * passes the descriptor to another program over a Unix domain socket, as
 * SCM_RIGHTS ancillary data (unix(7)).  The kernel installs a new
 * descriptor in the receiver that refers to the same file: the receiver's
 * reply, written into its own mapping, is what the sender then reads.
 *
 * Seals (fcntl(2), "File Sealing") are promises the kernel keeps for
 * everyone who holds the file: F_SEAL_SHRINK and F_SEAL_GROW fix its size,
 * so that no receiver can shrink it under the sender's mapping (whose next
 * read would die of SIGBUS).  `readonly` adds F_SEAL_FUTURE_WRITE: nobody
 * can map it for writing any more, while the sender's own mapping, made
 * before, still writes.
 *
 * The receiver, memfd_recv, is a separate program started with exec.  It
 * inherits neither the memory (exec replaces it) nor the descriptor
 * (MFD_CLOEXEC closes it on exec): the socket is its way in.
 *
 * `hold` hands nothing over: it keeps the memfd until SIGINT or SIGTERM,
 * then reads it once more.  Meanwhile another process of the same user can
 * open it through /proc/PID/fd/N (README.md, "Look inside").
 *
 * Expected output:
 *     Sender: wrote 'hello through a memfd' into memfd:lesson08 (4096 bytes)
 *     Sender: sealed its size: the receiver can neither shrink nor grow it
 *     Sender: passing the descriptor to the receiver (SCM_RIGHTS)
 *     Receiver: ... (memfd_recv.c)
 *     Sender: found 'hello back from the receiver' in the same memory
 *
 * Your job: TODO 1 in main() makes the memory, TODO 2 in send_fd() hands
 * it over, TODO 3 in seal() seals it.  Do memfd_recv.c first: `make check`
 * tests the receiver before this program.  The lesson is in README.md.
 *
 * Next: memfd_recv.c, the other end.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "named_shm.h"
#include "process.h"
#include "say.h"

#define USAGE "memfd_send [readonly | hold]"
#define TEXT "hello through a memfd"
#define UPDATE "updated by the sender after sealing"
#define SEGMENT_SIZE 4096
/* How long to wait for a live receiver to connect.  It connects within
 * milliseconds; one that ends first is noticed at once. */
#define PATIENCE_MS 5000

/* Where the two programs meet: a socket in a fresh directory. */
struct meeting {
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char receiver[PATH_MAX]; /* memfd_recv, beside this program */
};

/* Remove the socket and its directory.  Done as soon as the receiver is
 * connected: like a shared memory name, a path is only for meeting. */
static void remove_meeting_point(const struct meeting *m)
{
    if (unlink(m->socket) == -1 && errno != ENOENT)
        err_exit("unlink %s", m->socket);
    if (rmdir(m->dir) == -1)
        err_exit("rmdir %s", m->dir);
}

/* Listen on $TMPDIR/lesson08-XXXXXX/socket.  mkdtemp makes the directory
 * with mode 0700, so no other user can reach the socket. */
static int listen_for_receiver(struct meeting *m)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    snprintf(m->dir, sizeof m->dir, "%s/lesson08-XXXXXX", tmp);
    if (mkdtemp(m->dir) == NULL)
        err_exit("mkdtemp %s", m->dir);
    int n = snprintf(m->socket, sizeof m->socket, "%s/socket", m->dir);
    if (n < 0 || (size_t)n >= sizeof m->socket) {
        remove_meeting_point(m);
        fatal("TMPDIR is too long for a socket path: %s", tmp);
    }

    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    memcpy(addr.sun_path, m->socket, sizeof m->socket);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(fd, 1) == -1) {
        int en = errno;
        remove_meeting_point(m);
        err_exit_en(en, "socket %s", m->socket);
    }
    return fd;
}

/* The receiver's process: exec memfd_recv with the socket's path. */
static void run_receiver(void *arg)
{
    const struct meeting *m = arg;
    execl(m->receiver, "memfd_recv", m->socket, (char *)NULL);
    err_exit("exec %s", m->receiver);
}

/* The receiver, while nobody has waited for it.  If this program stops
 * with an error before it does (err_exit, fatal: they call exit), the
 * receiver is stopped and waited for on the way out. */
static pid_t unjoined_receiver;

static void stop_receiver(void)
{
    if (unjoined_receiver > 0) {
        kill(unjoined_receiver, SIGKILL); /* it may have ended: ESRCH is fine */
        while (waitpid(unjoined_receiver, NULL, 0) == -1 && errno == EINTR)
            ;
        unjoined_receiver = 0;
    }
}

/* Accept the receiver's connection.  A receiver that ends before it
 * connects (it could not start, or failed) is noticed at once; one that
 * is alive but slow (a loaded machine, a sanitizer build) gets up to
 * PATIENCE_MS, and is then stopped: never wait for ever. */
static int accept_receiver(int listener, const struct meeting *m, pid_t receiver)
{
    struct pollfd pfd = { .fd = listener, .events = POLLIN };
    for (int waited = 0; waited < PATIENCE_MS; waited += 20) {
        int ready = poll(&pfd, 1, 20);
        if (ready == -1 && errno != EINTR)
            err_exit("poll");
        if (ready > 0) {
            int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
            if (conn == -1)
                err_exit("accept4");
            remove_meeting_point(m);
            return conn;
        }
        int status;
        pid_t ended = waitpid(receiver, &status, WNOHANG);
        if (ended == -1)
            err_exit("waitpid");
        if (ended == receiver) {
            unjoined_receiver = 0;
            remove_meeting_point(m);
            fatal("the receiver ended before it connected (exit status %d)",
                  WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
        }
    }
    if (kill(receiver, SIGKILL) == -1)
        err_exit("kill %ld", (long)receiver);
    process_join(receiver);
    unjoined_receiver = 0;
    remove_meeting_point(m);
    fatal("the receiver did not connect within %d ms", PATIENCE_MS);
}

/* Fix the memfd's size for good: no holder of the file, the receiver
 * included, can shrink it (which would turn the sender's next read of its
 * mapping into SIGBUS) or grow it.  With read_only, nobody can make a new
 * writable mapping or write(2) to it either; mappings made before stay
 * writable.  The memfd must have been made with MFD_ALLOW_SEALING. */
static void seal(int fd, bool read_only)
{
    /* TODO 3: add the seals this comment above promises (fcntl(2), "File
     * sealing"), and F_SEAL_FUTURE_WRITE as well when read_only is true.
     * A failure is an error with errno: err_exit. */
    (void)fd;
    (void)read_only;
}

/* Say which seals the memfd has now, as the kernel tells (F_GET_SEALS). */
static void say_seals(int fd, bool read_only)
{
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals == -1)
        err_exit("fcntl F_GET_SEALS");
    char names[128];
    nshm_seal_names(seals, names, sizeof names);
    bool size_sealed = (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW);
    if (!size_sealed)
        say("did not seal its size (F_GET_SEALS: %s): the receiver could "
            "shrink or grow it", names);
    else if (!read_only)
        say("sealed its size: the receiver can neither shrink nor grow it");
    else if (seals & F_SEAL_FUTURE_WRITE)
        say("sealed it read-only: F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_FUTURE_WRITE");
    else
        say("did not seal it against writing (F_GET_SEALS: %s): the receiver "
            "could map it for writing", names);
}

/* Send fd over the connection as SCM_RIGHTS ancillary data.  It rides on
 * one byte of ordinary data: a stream socket sends nothing for a message of
 * 0 bytes, so there must be at least one. */
static void send_fd(int conn, int fd)
{
    /* TODO 2: send one byte (any), with fd attached as a control message
     * of level SOL_SOCKET and type SCM_RIGHTS (sendmsg(2), unix(7)).
     * Constraints:
     *   - the control buffer must be aligned for a struct cmsghdr, and
     *     sized with the cmsg(3) macros, not by hand;
     *   - fd goes into the message's data as bytes: CMSG_DATA() promises
     *     no alignment (the build refuses a cast to int *);
     *   - if the receiver is gone, sendmsg must fail, not kill this
     *     program with SIGPIPE; a failure is err_exit. */
    (void)conn;
    (void)fd;
}

/* The path of memfd_recv: the folder this program was started from. */
static void find_receiver(struct meeting *m)
{
    ssize_t n = readlink("/proc/self/exe", m->receiver, sizeof m->receiver - 1);
    if (n == -1)
        err_exit("readlink /proc/self/exe");
    m->receiver[n] = '\0';
    char *slash = strrchr(m->receiver, '/');
    size_t dir_len = slash == NULL ? 0 : (size_t)(slash - m->receiver);
    if (dir_len + sizeof "/memfd_recv" > sizeof m->receiver)
        fatal("the path of this program is too long");
    memcpy(m->receiver + dir_len, "/memfd_recv", sizeof "/memfd_recv");
    if (access(m->receiver, X_OK) == -1)
        err_exit("%s (is it built? make)", m->receiver);
}

/* `hold`: keep the memfd open, and say where another process can find it,
 * until SIGINT or SIGTERM (blocked since the start); then read it again.
 * If someone shrank it meanwhile, that read is where SIGBUS strikes. */
static void hold(int fd, const char *shared, size_t size, const sigset_t *stop)
{
    say("holding memfd:lesson08 as /proc/%ld/fd/%d until SIGINT or SIGTERM",
        (long)getpid(), fd);
    while (sigwaitinfo(stop, NULL) == -1)
        if (errno != EINTR)
            err_exit("sigwaitinfo");
    say("still reads '%.*s' in its own mapping", (int)strnlen(shared, size), shared);
}

int main(int argc, char *argv[])
{
    bool read_only = argc == 2 && strcmp(argv[1], "readonly") == 0;
    bool holding = argc == 2 && strcmp(argv[1], "hold") == 0;
    if (argc > 2 || (argc == 2 && !read_only && !holding))
        usage_exit(USAGE, "unexpected argument '%s'", argv[argc - 1]);
    speaker_set("Sender");
    struct meeting m;
    find_receiver(&m);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (holding && sigprocmask(SIG_BLOCK, &stop, NULL) == -1)
        err_exit("sigprocmask");

    int fd = -1;
    /* TODO 1: make the memory (memfd_create(2)): a file in memory with no
     * name in any directory, labelled "lesson08" (the label shows in
     * /proc/PID/fd).  Constraints:
     *   - programs this one starts with exec must not inherit it: they get
     *     it over the socket or not at all;
     *   - seal() below must be able to seal it.
     * Check the call: err_exit. */
    if (fd == -1)
        fatal("TODO 1: there is no memory to share yet");
    if (ftruncate(fd, SEGMENT_SIZE) == -1)
        err_exit("ftruncate");
    size_t size;
    char *shared = nshm_map(fd, PROT_READ | PROT_WRITE, &size);
    if (shared == NULL)
        fatal("the memfd: %s", nshm_error());
    memcpy(shared, TEXT, sizeof TEXT);
    say("wrote '%s' into memfd:lesson08 (%zu bytes)", shared, size);

    /* Sealed after mapping and writing: F_SEAL_FUTURE_WRITE stops new
     * writable mappings, not the one the sender already has. */
    seal(fd, read_only);
    say_seals(fd, read_only);
    if (read_only) {
        memcpy(shared, UPDATE, sizeof UPDATE);
        say("wrote '%s' through its own mapping, made before the seal", shared);
    }
    if (holding) {
        hold(fd, shared, size, &stop);
        return 0;
    }

    /* Said before the receiver starts, so that its lines come after. */
    say("passing the descriptor to the receiver (SCM_RIGHTS)");
    /* Listen before the receiver exists, so its connect cannot miss us. */
    int listener = listen_for_receiver(&m);
    pid_t receiver = process_start("Receiver", run_receiver, &m);
    unjoined_receiver = receiver;
    if (atexit(stop_receiver) != 0)
        fatal("atexit failed");
    int conn = accept_receiver(listener, &m, receiver);
    if (close(listener) == -1)
        err_exit("close");

    send_fd(conn, fd);
    if (close(conn) == -1)
        err_exit("close");

    int status = process_join(receiver);
    unjoined_receiver = 0;
    if (status != 0)
        fatal("the receiver failed (exit status %d)", status);
    /* Read in our own mapping: if the receiver had managed to shrink the
     * file, this is where the sender would die of SIGBUS. */
    say("found '%.*s' in the same memory", (int)strnlen(shared, size), shared);
    if (close(fd) == -1)
        err_exit("close");
    if (munmap(shared, size) == -1)
        err_exit("munmap");
    return 0;
}
