/* proxy.c - see proxy.h. */
#include "proxy.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "mgr_tcp.h"

/* This process's connection: which process opened it, and to where. */
static struct {
    pid_t pid;
    int fd;
    char address[sizeof(((struct mgr *)0)->address)];
} conn = { 0, -1, "" };

void proxy_disconnect(void)
{
    if (conn.fd != -1)
        close(conn.fd);
    conn.fd = -1;
}

/* In a child made by fork(), the parent's connection is not ours: close our
 * copy at once, not at our first call.  Held open by a child that never
 * calls, it would keep the server from seeing the parent hang up. */
static void forget_parents_connection(void)
{
    proxy_disconnect();
}

/* The longest proxy_connect() may wait for room in the server's backlog,
 * in this thread: -1 for ever; proxy_connect_within() sets it. */
static _Thread_local int connect_wait_ms = -1;

int proxy_connect_within(const char *address, pid_t server_pid, int timeout_ms)
{
    connect_wait_ms = timeout_ms < 1 ? 1 : timeout_ms;
    int fd = proxy_connect(address, server_pid);
    connect_wait_ms = -1;
    return fd;
}

int proxy_connect(const char *address, pid_t server_pid)
{
    /* TCP (lesson 11): no peer credentials; the authkey handshake instead. */
    if (mgr_is_tcp(address))
        return mgr_tcp_dial(address);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", address);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return mgr_fail("socket: %s", strerror(errno));
    /* A blocking connect(2) to an AF_UNIX socket whose backlog is full
     * waits until the server accepts - for ever, if it is stopped - or
     * until SO_SNDTIMEO, after which it fails with EAGAIN.  (A nonblocking
     * one fails at once with EAGAIN, and there is no POLLOUT to wait for.) */
    struct timeval wait = { connect_wait_ms / 1000, connect_wait_ms % 1000 * 1000 };
    if (connect_wait_ms > 0 &&
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait) == -1) {
        int en = errno;
        close(fd);
        return mgr_fail("SO_SNDTIMEO: %s", strerror(en));
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        int en = errno;
        close(fd);
        if (en == EAGAIN && connect_wait_ms > 0)
            return mgr_fail("connect to the manager at %s: its backlog stayed full for %d ms",
                            address, connect_wait_ms);
        return mgr_fail("connect to the manager at %s: %s", address, strerror(en));
    }
    struct timeval never = { 0, 0 };
    if (connect_wait_ms > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &never, sizeof never); /* blocking again */
    /* Who listens there?  The kernel recorded it when the socket was made
     * to listen; nobody can fake it. */
    struct ucred peer;
    socklen_t len = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == -1) {
        int en = errno;
        close(fd);
        return mgr_fail("SO_PEERCRED of the manager at %s: %s", address, strerror(en));
    }
    if (peer.uid != geteuid()) {
        close(fd);
        return mgr_fail("the server at %s belongs to uid %u, not to you: refusing", address,
                        (unsigned)peer.uid);
    }
    if (server_pid > 0 && peer.pid != server_pid) {
        close(fd);
        return mgr_fail("the server at %s is process %ld, not the manager (process %ld): "
                        "refusing", address, (long)peer.pid, (long)server_pid);
    }
    return fd;
}

/* The connection to address for this process, made if need be. */
static int connection(const char *address, pid_t server_pid)
{
    if (conn.fd != -1 && conn.pid == getpid() && strcmp(conn.address, address) == 0) {
        /* Between requests nothing may arrive: anything readable is the
         * server's end of file (it closed the idle connection) or junk. */
        struct pollfd p = { .fd = conn.fd, .events = POLLIN | POLLRDHUP };
        if (poll(&p, 1, 0) == 0)
            return conn.fd;
    }
    /* Another process's socket (we are a fork()ed child), another
     * server's, or one the server closed: closing our copy does not touch
     * the original. */
    proxy_disconnect();
    static bool registered;
    if (!registered) {
        int s = pthread_atfork(NULL, NULL, forget_parents_connection);
        if (s != 0)
            return mgr_fail("pthread_atfork: %s", strerror(s));
        registered = true;
    }
    int fd = proxy_connect(address, server_pid);
    if (fd == -1)
        return -1;
    conn.pid = getpid();
    conn.fd = fd;
    snprintf(conn.address, sizeof conn.address, "%s", address);
    return fd;
}

/* Send the request and wait for the first byte of its reply.  Returns 0
 * when there is something to read (a reply, or a refusal that the server
 * sent before closing), 1 if the server closed the connection without
 * reading the request (safe to send again), or -1 (mgr_error()). */
static int send_request(int fd, const uint8_t *frame, size_t n)
{
    bool refused = false; /* the peer had closed before we sent */
    if (mgr_write_all(fd, frame, n) == -1) {
        if (errno != EPIPE && errno != ECONNRESET)
            return -1;
        refused = true;
    }
    uint8_t first;
    ssize_t r;
    while ((r = recv(fd, &first, 1, MSG_PEEK)) == -1 && errno == EINTR)
        ;
    if (r == 1)
        return 0;
    /* ECONNRESET: closed with our request unread.  End of file after a
     * send that worked: the server read the request and closed - not safe
     * to send again; mgr_read_frame() says "closed". */
    if ((r == -1 && errno == ECONNRESET) || (r == 0 && refused))
        return 1;
    return 0;
}

/* Tries of one request on connections the server closed unread. */
#define MAX_ATTEMPTS 8

/* The pause before a parked get or put that was evicted goes back: with
 * more processes parked than the server has connections, each return
 * evicts another, and this keeps that round from spinning. */
#define EVICTED_PAUSE_MS 10

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Error replies after which the server closes the connection (or may
 * have): a lost framing, a refused newcomer, an evicted get or put. */
static bool closes_connection(int errcode)
{
    return errcode == MGR_E_BAD_REQUEST || errcode == MGR_E_TOO_MANY ||
           errcode == MGR_E_NO_MEMORY || errcode == MGR_E_PERMISSION ||
           errcode == MGR_E_EVICTED;
}

static int call_once(const char *address, pid_t server_pid, const struct mgr_request *req,
                     struct mgr_reply *reply);

/* One request, one reply.  On an error reply, mgr_error() is
 * "KeyError: 'x'" and the like.  A broken connection is closed, so the next
 * call tries afresh.  A get or put parked on the server and evicted from
 * it (MGR_E_EVICTED: nothing taken, nothing added) is sent again, a get
 * with the part of its timeout that is left. */
static int call(const char *address, pid_t server_pid, struct mgr_request *req,
                struct mgr_reply *reply)
{
    int32_t timeout_ms = req->timeout_ms;
    long long until = now_ms() + timeout_ms;
    for (;;) {
        int rc = call_once(address, server_pid, req, reply);
        if (rc == 0 || reply->ok || reply->errcode != MGR_E_EVICTED ||
            (req->op != MGR_OP_QUEUE_GET && req->op != MGR_OP_QUEUE_PUT)) {
            req->timeout_ms = timeout_ms;
            return rc;
        }
        long long left = until - now_ms();
        int pause_ms = EVICTED_PAUSE_MS;
        if (req->op == MGR_OP_QUEUE_GET && timeout_ms >= 0 && left < pause_ms)
            pause_ms = left > 0 ? (int)left : 0;
        poll(NULL, 0, pause_ms);
        if (req->op == MGR_OP_QUEUE_GET && timeout_ms > 0) {
            left = until - now_ms();
            req->timeout_ms = left > 0 ? (int32_t)left : 0; /* 0: one last look */
        }
    }
}

/* call() without the re-sending of an evicted request.  reply->ok is false
 * and reply->errcode set when the server answered with an error. */
static int call_once(const char *address, pid_t server_pid, const struct mgr_request *req,
                     struct mgr_reply *reply)
{
    static uint8_t frame[4 + MGR_FRAME_MAX];
    reply->ok = true; /* until an error reply says otherwise */
    size_t n = mgr_encode_request(req, frame, sizeof frame);
    if (n == 0)
        return mgr_fail("request too large for one frame");
    long got = -1;
    for (int attempt = 1;; attempt++) {
        int fd = connection(address, server_pid);
        if (fd == -1)
            return -1;
        int sent = send_request(fd, frame, n);
        if (sent == 1 && attempt < MAX_ATTEMPTS) {
            proxy_disconnect(); /* closed with the request unread: anew */
            continue;
        }
        if (sent == 1)
            mgr_fail("the manager closed the connection %d times before reading the request",
                     attempt);
        else if (sent == 0)
            got = mgr_read_frame(fd, frame, sizeof frame);
        break;
    }
    if (got == -1) {
        proxy_disconnect();
        return -1;
    }
    char why[128];
    if (mgr_decode_reply(frame + 4, (size_t)got, reply, why, sizeof why) == -1) {
        reply->ok = true; /* not an error reply: no errcode to go by */
        proxy_disconnect();
        return mgr_fail("bad reply from the manager: %s", why);
    }
    if (!reply->ok) {
        if (closes_connection(reply->errcode))
            proxy_disconnect(); /* the server has closed it, or may have */
        return mgr_fail("%s: %s", mgr_errname(reply->errcode), reply->message);
    }
    return 0;
}

/* The reply's one value into *out. */
static int call_value(const struct proxy *p, struct mgr_request *req, struct mgr_value *out)
{
    static struct mgr_reply reply;
    req->id = p->id;
    if (call(p->address, p->server_pid, req, &reply) == -1)
        return -1;
    if (reply.count != 1)
        return mgr_fail("the manager sent %u values for one", (unsigned)reply.count);
    *out = reply.items[0].value;
    return 0;
}

/* A call whose reply carries nothing but "done". */
static int call_done(const struct proxy *p, struct mgr_request *req)
{
    static struct mgr_reply reply;
    req->id = p->id;
    return call(p->address, p->server_pid, req, &reply);
}

static int create(const struct mgr *m, struct mgr_request *req, struct proxy *p)
{
    struct proxy server = { .id = 0 };
    snprintf(server.address, sizeof server.address, "%s", m->address);
    server.server_pid = m->owner;
    struct mgr_value id;
    req->op = MGR_OP_CREATE;
    if (call_value(&server, req, &id) == -1)
        return -1;
    *p = server;
    p->id = (uint32_t)id.as.i;
    p->kind = (enum mgr_kind)req->kind;
    return 0;
}

/* The requests are large (an array's values); one, reused, is enough. */
static struct mgr_request req;

static struct mgr_request *new_request(uint8_t op)
{
    memset(&req, 0, offsetof(struct mgr_request, values));
    req.op = op;
    return &req;
}

int proxy_create_dict(const struct mgr *m, struct proxy *p)
{
    new_request(MGR_OP_CREATE)->kind = MGR_DICT;
    return create(m, &req, p);
}

int proxy_create_list(const struct mgr *m, struct proxy *p)
{
    new_request(MGR_OP_CREATE)->kind = MGR_LIST;
    return create(m, &req, p);
}

int proxy_create_queue(const struct mgr *m, struct proxy *p)
{
    new_request(MGR_OP_CREATE)->kind = MGR_QUEUE;
    return create(m, &req, p);
}

int proxy_create_value(const struct mgr *m, struct mgr_value initial, struct proxy *p)
{
    new_request(MGR_OP_CREATE)->kind = MGR_VALUE;
    req.value = initial;
    return create(m, &req, p);
}

int proxy_create_array(const struct mgr *m, char typecode, const struct mgr_value *values,
                       size_t n, struct proxy *p)
{
    if (n > MGR_MAX_ITEMS)
        return mgr_fail("an Array holds at most %d elements", MGR_MAX_ITEMS);
    new_request(MGR_OP_CREATE)->kind = MGR_ARRAY;
    req.typecode = (uint8_t)typecode;
    req.count = (uint32_t)n;
    memcpy(req.values, values, n * sizeof values[0]);
    return create(m, &req, p);
}

int proxy_value_get(const struct proxy *p, struct mgr_value *out)
{
    return call_value(p, new_request(MGR_OP_VALUE_GET), out);
}

int proxy_value_set(const struct proxy *p, struct mgr_value v)
{
    new_request(MGR_OP_VALUE_SET)->value = v;
    return call_done(p, &req);
}

int proxy_array_get(const struct proxy *p, uint32_t index, struct mgr_value *out)
{
    new_request(MGR_OP_ARRAY_GET)->index = index;
    return call_value(p, &req, out);
}

int proxy_array_set(const struct proxy *p, uint32_t index, struct mgr_value v)
{
    new_request(MGR_OP_ARRAY_SET)->index = index;
    req.value = v;
    return call_done(p, &req);
}

int proxy_list_append(const struct proxy *p, struct mgr_value v)
{
    new_request(MGR_OP_LIST_APPEND)->value = v;
    return call_done(p, &req);
}

int proxy_list_get(const struct proxy *p, uint32_t index, struct mgr_value *out)
{
    new_request(MGR_OP_LIST_GET)->index = index;
    return call_value(p, &req, out);
}

int proxy_dict_set(const struct proxy *p, const char *key, struct mgr_value v)
{
    if (strlen(key) >= MGR_STR_MAX)
        return mgr_fail("a key has at most %d bytes", MGR_STR_MAX - 1);
    snprintf(new_request(MGR_OP_DICT_SET)->key, sizeof req.key, "%s", key);
    req.value = v;
    return call_done(p, &req);
}

int proxy_dict_get(const struct proxy *p, const char *key, struct mgr_value *out)
{
    if (strlen(key) >= MGR_STR_MAX)
        return mgr_fail("a key has at most %d bytes", MGR_STR_MAX - 1);
    snprintf(new_request(MGR_OP_DICT_GET)->key, sizeof req.key, "%s", key);
    return call_value(p, &req, out);
}

int proxy_queue_put(const struct proxy *p, struct mgr_value v)
{
    new_request(MGR_OP_QUEUE_PUT)->value = v;
    return call_done(p, &req);
}

int proxy_queue_get(const struct proxy *p, int timeout_ms, struct mgr_value *out)
{
    new_request(MGR_OP_QUEUE_GET)->timeout_ms = timeout_ms;
    return call_value(p, &req, out);
}

int proxy_items(const struct proxy *p, struct mgr_item *items, size_t *n)
{
    static struct mgr_reply reply;
    new_request(MGR_OP_ITEMS)->id = p->id;
    if (call(p->address, p->server_pid, &req, &reply) == -1)
        return -1;
    memcpy(items, reply.items, reply.count * sizeof items[0]);
    *n = reply.count;
    return 0;
}

void proxy_must(int rc)
{
    if (rc == -1)
        fatal("%s", mgr_error());
}
