/* fd_sender.c - a sender for testing lesson 08's receiver: it hands the
 * receiver a good message, or one a careful receiver must refuse.
 *
 * usage: fd_sender MODE RECEIVER
 *        memfd_recv SOCKET   (as a link of that name: a receiver that hangs up)
 *
 * Like memfd_send, it makes a sealed memfd holding 'hello through a
 * memfd', listens on a socket in a fresh directory under $TMPDIR, starts
 * RECEIVER SOCKET (exec) and accepts its connection.  Then, by MODE:
 *
 *   one      one byte with one SCM_RIGHTS descriptor, the memfd (the good case)
 *   none     one byte and no control message at all
 *   two      one byte with two descriptors in one SCM_RIGHTS message.  A
 *            buffer of CMSG_SPACE(sizeof(int)) bytes has room for both on
 *            x86-64 (padding): the receiver gets both, and a cmsg_len
 *            that is not CMSG_LEN(sizeof(int))
 *   three    the same with three: a buffer with room for fewer gets what
 *            fits, and MSG_CTRUNC in msg_flags (the kernel closes the rest)
 *   two-limited  two descriptors, to a receiver started with only 0, 1
 *            and 2 open and a soft RLIMIT_NOFILE of 5: with its socket open
 *            it has room for one more.  The kernel installs one, drops the other
 *            and sets MSG_CTRUNC; cmsg_len then says one descriptor, so
 *            only the MSG_CTRUNC check tells
 *   hangup   nothing: it closes the connection at once
 *
 * It waits for the receiver and prints, on stdout:
 *     fd_sender: the receiver exited with status N
 * (128 + the signal number if a signal killed it), and in mode `one`
 *     fd_sender: found 'TEXT' in the memfd
 * It exits 0 when all of that happened, 1 when it itself failed.
 *
 * Run under the name memfd_recv with one argument, SOCKET (memfd_send starts
 * it so when a link of that name lies beside a copy of memfd_send), it is
 * a receiver that hangs up before the sender can send: it stops its parent,
 * the sender (SIGSTOP, and waits until /proc says it is stopped), connects,
 * closes the connection, lets the parent go on (SIGCONT) and exits 0.  The
 * sender's sendmsg then meets a closed socket, for certain: EPIPE, and
 * SIGPIPE unless it asked for none (MSG_NOSIGNAL).
 *
 * (A receiver has no control over what it is sent: a wrong cmsg_level or
 * cmsg_type cannot be sent this way, because a Unix socket delivers
 * SCM_CREDENTIALS and the like only to a receiver that asked for them.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"

#define USAGE "fd_sender one|none|two|three|two-limited|hangup RECEIVER"
#define SIZE 4096

static int make_memfd(char **shared)
{
    int fd = memfd_create("lesson08", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd == -1)
        err_exit("memfd_create");
    if (ftruncate(fd, SIZE) == -1)
        err_exit("ftruncate");
    *shared = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (*shared == MAP_FAILED)
        err_exit("mmap");
    strcpy(*shared, "hello through a memfd");
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == -1)
        err_exit("F_ADD_SEALS");
    return fd;
}

/* One byte, with `count` descriptors (0: no control message).  A receiver
 * that has already gone (EPIPE, ECONNRESET) is not this tool's failure:
 * its exit status tells the story. */
static void send_byte_and_fds(int conn, const int *fds, int count)
{
    char byte = 'F';
    struct iovec io = { .iov_base = &byte, .iov_len = 1 };
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = { .msg_iov = &io, .msg_iovlen = 1 };
    if (count > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)count * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)count * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)count * sizeof(int));
    }
    if (sendmsg(conn, &msg, MSG_NOSIGNAL) == -1 && errno != EPIPE &&
        errno != ECONNRESET)
        err_exit("sendmsg");
}

/* Close every descriptor above 2 (those /proc/self/fd lists). */
static void close_all_but_stdio(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        err_exit("opendir /proc/self/fd");
    int fds[256], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != dirfd(d))
            fds[n++] = fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* The state letter of process pid (proc(5), /proc/PID/stat), or '?'. */
static char process_state(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return '?';
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    char *paren = got ? strrchr(line, ')') : NULL;
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* As memfd_recv: connect to the sender while it is stopped, and hang up. */
_Noreturn static void hang_up_early(const char *socket_path)
{
    pid_t sender = getppid();
    if (kill(sender, SIGSTOP) == -1)
        err_exit("kill SIGSTOP %ld", (long)sender);
    /* Stopped is 'T' ('t' if a tracer holds it); give it up to 2 s. */
    for (int i = 0; i < 2000; i++) {
        char st = process_state(sender);
        if (st == 'T' || st == 't')
            break;
        struct timespec ms = { 0, 1000000L };
        nanosleep(&ms, NULL);
    }
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock == -1)
        err_exit("socket");
    int connected = connect(sock, (struct sockaddr *)&addr, sizeof addr);
    int en = errno;
    close(sock);
    kill(sender, SIGCONT);
    if (connected == -1)
        err_exit_en(en, "connect %s", socket_path);
    /* At once: the sender, failing now, kills what is left of its receiver
     * (a sanitizer's exit-time helper task would be orphaned). */
    _exit(0);
}

int main(int argc, char *argv[])
{
    const char *me = strrchr(argv[0], '/');
    if (argc == 2 && strcmp(me ? me + 1 : argv[0], "memfd_recv") == 0)
        hang_up_early(argv[1]);
    if (argc != 3)
        usage_exit(USAGE, "MODE and RECEIVER, please");
    const char *mode = argv[1];
    if (strcmp(mode, "one") != 0 && strcmp(mode, "none") != 0 &&
        strcmp(mode, "two") != 0 && strcmp(mode, "three") != 0 &&
        strcmp(mode, "two-limited") != 0 && strcmp(mode, "hangup") != 0)
        usage_exit(USAGE, "no mode '%s'", mode);

    char *shared, *other;
    int fds[3] = { make_memfd(&shared), make_memfd(&other), make_memfd(&other) };

    const char *tmp = getenv("TMPDIR");
    char dir[80], path[108];
    snprintf(dir, sizeof dir, "%s/fd_sender-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        err_exit("mkdtemp %s", dir);
    snprintf(path, sizeof path, "%s/socket", dir);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1 || bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(listener, 1) == -1)
        err_exit("socket %s", path);

    fflush(stdout);
    pid_t receiver = fork();
    if (receiver == -1)
        err_exit("fork");
    if (receiver == 0) {
        if (strcmp(mode, "two-limited") == 0) {
            /* Only 0, 1 and 2 go with exec (make, for one, passes more),
             * so that the limit leaves exactly one slot after the socket. */
            close_all_but_stdio();
            struct rlimit lim;
            if (getrlimit(RLIMIT_NOFILE, &lim) == -1)
                err_exit("getrlimit");
            lim.rlim_cur = 5;
            if (setrlimit(RLIMIT_NOFILE, &lim) == -1)
                err_exit("setrlimit");
        }
        execl(argv[2], "memfd_recv", path, (char *)NULL);
        fprintf(stderr, "fd_sender: exec %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }

    /* The receiver may fail before it connects: then stop waiting at once.
     * A live one gets up to 10 s (a sanitizer build on a loaded machine). */
    struct pollfd pfd = { .fd = listener, .events = POLLIN };
    int conn = -1, status = 0;
    for (int waited = 0; conn == -1 && waited < 10000; waited += 10) {
        int ready = poll(&pfd, 1, 10);
        if (ready == -1 && errno != EINTR)
            err_exit("poll");
        if (ready > 0) {
            conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
            if (conn == -1)
                err_exit("accept4");
        } else if (waitpid(receiver, &status, WNOHANG) == receiver) {
            receiver = 0; /* ended without connecting */
            break;
        }
    }
    if (unlink(path) == -1 || rmdir(dir) == -1)
        err_exit("removing %s", dir);
    if (conn != -1) {
        if (strcmp(mode, "one") == 0)
            send_byte_and_fds(conn, fds, 1);
        else if (strcmp(mode, "none") == 0)
            send_byte_and_fds(conn, fds, 0);
        else if (strcmp(mode, "two") == 0 || strcmp(mode, "two-limited") == 0)
            send_byte_and_fds(conn, fds, 2);
        else if (strcmp(mode, "three") == 0)
            send_byte_and_fds(conn, fds, 3);
        if (close(conn) == -1)
            err_exit("close");
    } else if (receiver != 0) {
        kill(receiver, SIGKILL);
    }
    if (receiver != 0)
        while (waitpid(receiver, &status, 0) == -1)
            if (errno != EINTR)
                err_exit("waitpid");
    int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    printf("fd_sender: the receiver exited with status %d\n", code);
    if (strcmp(mode, "one") == 0)
        printf("fd_sender: found '%s' in the memfd\n", shared);
    return 0;
}
