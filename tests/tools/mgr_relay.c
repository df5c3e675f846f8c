/* mgr_relay.c - a manager server that counts requests and makes them fail.
 *
 * usage: mgr_relay SOCKET_PATH STARTER_PID   (as MGR_SERVER=, manager.h)
 *
 * Lessons 06 and 07 check that their programs handle a proxy call's error
 * and do not poll.  That needs a server that fails on cue and counts what
 * it is asked; this is one.  It takes its listening socket as descriptor 3,
 * as any external server does (common/manager.h), starts common/'s real
 * server behind it (mgr_start()), and relays each connection's frames to it
 * - except where the environment says otherwise:
 *
 *   RELAY_REFUSE=DICT_SET|ITEMS|QUEUE_GET|...
 *                     answer every request with that op with an error
 *                     ("Full: refused by the test's relay") instead
 *   RELAY_SWALLOW_PUTS=1
 *                     answer ok to every put on the first queue created, and
 *                     drop its item: a get on it then finds nothing
 *   RELAY_LOG=FILE    append one line per request to FILE:
 *                     "OP id=N timeout=T pid=P" (timeout for gets only;
 *                     P is the client's pid, from SO_PEERCRED), and one
 *                     line "QUEUE_EMPTY id=N timeout=T pid=P" for each get
 *                     the server answered Empty
 *
 * It ends when the real server does (a SHUTDOWN passes through), or on
 * SIGTERM, which it passes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "manager.h"
#include "mgr_wire.h"

#define LISTEN_FD 3
#define MAX_PAIRS 64

static const char *const OP_NAMES[] = {
    "?", "PING", "SHUTDOWN", "CREATE", "ITEMS", "VALUE_GET", "VALUE_SET",
    "ARRAY_GET", "ARRAY_SET", "LIST_APPEND", "LIST_GET", "DICT_GET", "DICT_SET",
    "QUEUE_PUT", "QUEUE_GET",
};

struct side {
    int fd;
    uint8_t buf[4 + MGR_FRAME_MAX];
    size_t len;
};

struct pair {
    bool used;
    pid_t pid;                  /* the client's */
    struct side client, server;
    uint8_t pending_kind;       /* a CREATE of this kind awaits its reply */
    bool pending_get;           /* a QUEUE_GET awaits its reply ... */
    uint32_t get_id;            /* ... on this queue */
    int32_t get_timeout;        /* ... with this timeout */
};

static struct pair pairs[MAX_PAIRS];
static struct mgr real;
static int refuse_op;
static bool swallow;
static uint32_t swallowed_queue; /* 0 until the first queue is created */
static FILE *log_file;
static bool shutdown_sent;       /* a SHUTDOWN went through to the real server */

static void close_pair(struct pair *p)
{
    close(p->client.fd);
    close(p->server.fd);
    p->used = false;
}

static int connect_real(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", real.address);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        if (fd != -1)
            close(fd);
        return -1;
    }
    return fd;
}

static void accept_pair(void)
{
    int fd = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
    if (fd == -1)
        return;
    struct pair *p = NULL;
    for (int k = 0; k < MAX_PAIRS && p == NULL; k++)
        if (!pairs[k].used)
            p = &pairs[k];
    int up = p == NULL ? -1 : connect_real();
    if (up == -1) {
        close(fd);
        return;
    }
    struct ucred peer = { 0 };
    socklen_t len = sizeof peer;
    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len);
    *p = (struct pair){ .used = true, .pid = peer.pid };
    p->client.fd = fd;
    p->server.fd = up;
}

/* A request frame from the client: log it, then answer it here or pass it on. */
static int from_client(struct pair *p, const uint8_t *frame, size_t n)
{
    static struct mgr_request r;
    static uint8_t out[512];
    char why[128];
    if (mgr_decode_request(frame + 4, n - 4, &r, why, sizeof why) == 0) {
        if (log_file != NULL) {
            fprintf(log_file, "%s id=%u", r.op <= MGR_OP_LAST ? OP_NAMES[r.op] : "?",
                    (unsigned)r.id);
            if (r.op == MGR_OP_QUEUE_GET)
                fprintf(log_file, " timeout=%d", (int)r.timeout_ms);
            fprintf(log_file, " pid=%ld\n", (long)p->pid);
            fflush(log_file);
        }
        if (r.op == refuse_op) {
            size_t len = mgr_encode_error(MGR_E_FULL, "refused by the test's relay", out,
                                          sizeof out);
            return mgr_write_all(p->client.fd, out, len);
        }
        if (swallow && r.op == MGR_OP_QUEUE_PUT && r.id == swallowed_queue) {
            size_t len = mgr_encode_ok(NULL, 0, out, sizeof out);
            return mgr_write_all(p->client.fd, out, len);
        }
        p->pending_kind = r.op == MGR_OP_CREATE ? r.kind : 0;
        if (r.op == MGR_OP_SHUTDOWN)
            shutdown_sent = true;
        p->pending_get = r.op == MGR_OP_QUEUE_GET;
        p->get_id = r.id;
        p->get_timeout = r.timeout_ms;
    }
    return mgr_write_all(p->server.fd, frame, n);
}

/* A reply frame from the server: note the first queue's id, log a get
 * answered Empty, pass it on. */
static int from_server(struct pair *p, const uint8_t *frame, size_t n)
{
    static struct mgr_reply reply;
    char why[128];
    if (p->pending_get && log_file != NULL &&
        mgr_decode_reply(frame + 4, n - 4, &reply, why, sizeof why) == 0 && !reply.ok &&
        reply.errcode == MGR_E_EMPTY) {
        fprintf(log_file, "QUEUE_EMPTY id=%u timeout=%d pid=%ld\n", (unsigned)p->get_id,
                (int)p->get_timeout, (long)p->pid);
        fflush(log_file);
    }
    p->pending_get = false;
    if (p->pending_kind == MGR_QUEUE && swallowed_queue == 0 &&
        mgr_decode_reply(frame + 4, n - 4, &reply, why, sizeof why) == 0 && reply.ok &&
        reply.count == 1)
        swallowed_queue = (uint32_t)reply.items[0].value.as.i;
    p->pending_kind = 0;
    return mgr_write_all(p->client.fd, frame, n);
}

/* Read what is there on one side and pass on every whole frame; -1 when
 * the pair is done (end of file, an error, a bad frame). */
static int pump(struct pair *p, struct side *in, bool is_client)
{
    ssize_t r = recv(in->fd, in->buf + in->len, sizeof in->buf - in->len, MSG_DONTWAIT);
    if (r == -1 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (r <= 0)
        return -1;
    in->len += (size_t)r;
    while (in->len >= 4) {
        uint32_t n = (uint32_t)in->buf[0] << 24 | (uint32_t)in->buf[1] << 16 |
                     (uint32_t)in->buf[2] << 8 | in->buf[3];
        if (n == 0 || n > MGR_FRAME_MAX) {
            /* Pass the bad length on and let the real server judge it. */
            if (mgr_write_all(is_client ? p->server.fd : p->client.fd, in->buf, in->len) == -1)
                return -1;
            in->len = 0;
            return 0;
        }
        if (in->len < 4 + (size_t)n)
            return 0;
        if ((is_client ? from_client(p, in->buf, 4 + n) : from_server(p, in->buf, 4 + n)) == -1)
            return -1;
        in->len -= 4 + (size_t)n;
        memmove(in->buf, in->buf + 4 + n, in->len);
    }
    return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char *argv[])
{
    (void)argv;
    if (argc != 3) /* the path and the starter: the real server checks SHUTDOWN */
        usage_exit("mgr_relay SOCKET_PATH STARTER_PID", "expected 2 arguments");
    const char *op = getenv("RELAY_REFUSE");
    for (int k = 1; op != NULL && k <= MGR_OP_LAST; k++)
        if (strcmp(op, OP_NAMES[k]) == 0)
            refuse_op = k;
    if (op != NULL && refuse_op == 0)
        fatal("RELAY_REFUSE=%s: no such operation", op);
    swallow = getenv("RELAY_SWALLOW_PUTS") != NULL;
    const char *log_path = getenv("RELAY_LOG");
    if (log_path != NULL && (log_file = fopen(log_path, "a")) == NULL)
        err_exit("open %s", log_path);

    /* The real server behind us: the built-in one, whatever MGR_SERVER says. */
    unsetenv("MGR_SERVER");
    if (mgr_start(&real) == -1)
        fatal("starting the real server: %s", mgr_error());
    struct sigaction sa = { .sa_handler = on_term };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct pollfd fds[2 + 2 * MAX_PAIRS];
    while (!stop) {
        int status;
        if (waitpid(real.pid, &status, WNOHANG) == real.pid) {
            real.pid = -1; /* a SHUTDOWN went through: we are done */
            break;
        }
        fds[0] = (struct pollfd){ .fd = LISTEN_FD, .events = POLLIN };
        for (int k = 0; k < MAX_PAIRS; k++) {
            fds[1 + 2 * k] = (struct pollfd){ .fd = pairs[k].used ? pairs[k].client.fd : -1,
                                              .events = POLLIN };
            fds[2 + 2 * k] = (struct pollfd){ .fd = pairs[k].used ? pairs[k].server.fd : -1,
                                              .events = POLLIN };
        }
        /* A timeout only to notice the real server's exit: short once a
         * SHUTDOWN has gone through, so that the relay ends soon after it. */
        if (poll(fds, 1 + 2 * MAX_PAIRS, shutdown_sent ? 2 : 50) == -1) {
            if (errno == EINTR)
                continue;
            err_exit("poll");
        }
        if (fds[0].revents & POLLIN)
            accept_pair();
        for (int k = 0; k < MAX_PAIRS; k++) {
            struct pair *p = &pairs[k];
            if (!p->used)
                continue;
            if ((fds[1 + 2 * k].revents && pump(p, &p->client, true) == -1) ||
                (fds[2 + 2 * k].revents && pump(p, &p->server, false) == -1))
                close_pair(p);
        }
    }
    for (int k = 0; k < MAX_PAIRS; k++)
        if (pairs[k].used)
            close_pair(&pairs[k]);
    if (real.pid > 0)
        mgr_shutdown(&real);
    return 0;
}
