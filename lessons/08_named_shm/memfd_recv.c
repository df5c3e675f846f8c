/* memfd_recv.c - receive a descriptor over a Unix socket, map what it opens.
 *
 * usage: memfd_recv SOCKET
 *
 * The other end of memfd_send, which starts it.  It is a program of its
 * own: it shares no memory with the sender and inherits none of its
 * descriptors.  It connects to SOCKET and receives one descriptor as
 * SCM_RIGHTS ancillary data (unix(7), cmsg(3)), asks fstat(2) how big the
 * file behind it is, maps it, reads the sender's text and writes a reply
 * into the same memory.
 *
 * Your job: the TODO in receive_fd(), taking the descriptor out of the
 * message.  The lesson is in README.md beside this file.
 *
 * Expected output (between the sender's lines):
 *     Receiver: got a descriptor for /memfd:lesson08 (deleted), 4096 bytes
 *     Receiver: read 'hello through a memfd'
 *     Receiver: wrote 'hello back from the receiver'
 *
 * Next: README.md, "Look inside".
 */
#include <errno.h>
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

/* Receive one byte and the descriptor that comes with it; return the
 * descriptor (a new number in this process, for the sender's file). */
static int receive_fd(int sock)
{
    char byte;
    struct iovec io = { .iov_base = &byte, .iov_len = 1 };
    union { /* a buffer aligned for a struct cmsghdr (cmsg(3)) */
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {
        .msg_iov = &io, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof control.buf,
    };
    /* MSG_CMSG_CLOEXEC: the received descriptor too is closed on exec. */
    ssize_t n;
    while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) == -1)
        if (errno != EINTR)
            err_exit("recvmsg");
    if (n == 0)
        fatal("the sender hung up without sending anything");
    if (msg.msg_flags & MSG_CTRUNC)
        fatal("the control message did not fit: a descriptor was lost");

    int fd = -1;
    /* TODO: take the descriptor out of the control message, the way
     * memfd_send.c's send_fd() put it in (cmsg(3) names the macros).
     * Check that the first control message is there and is what you
     * expect - level, type and length - and stop with fatal() if not. */
    if (fd == -1)
        fatal("TODO: no descriptor taken out of the message");
    return fd;
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

    size_t size;
    char *shared = nshm_map(fd, PROT_READ | PROT_WRITE, &size);
    if (shared == NULL)
        fatal("%s: %s", what, nshm_error());
    if (close(fd) == -1)
        err_exit("close");
    if (size < sizeof REPLY)
        fatal("%s: %zu bytes is too small for the reply", what, size);

    say("got a descriptor for %s, %zu bytes", what, size);
    say("read '%.*s'", (int)strnlen(shared, size), shared);
    memcpy(shared, REPLY, sizeof REPLY);
    say("wrote '%s'", shared);
    if (munmap(shared, size) == -1)
        err_exit("munmap");
    return 0;
}
