/* mini_manager.c - your own manager server: one poll(2) loop, dicts.
 *
 * usage: mini_manager [SOCKET_PATH STARTER_PID]   (listening socket: descriptor 3)
 *
 * A small server that speaks the manager's wire format (common/mgr_wire.h),
 * so that manager_dict and common/'s proxies work with it unchanged:
 *
 *     MGR_SERVER=build/solutions/06_manager_dict/mini_manager \
 *         build/solutions/06_manager_dict/manager_dict
 *
 * Whoever starts it (mgr_start_program() in common/manager.c, or a test)
 * has made the socket, bound it in a private directory and called listen();
 * the server finds it as descriptor 3, and in argv the socket's path and
 * the pid of the process that started it (manager.h has the contract).  It
 * serves PING, CREATE of a dict or a value, the value's get and set, the
 * dict's get, set and items, and SHUTDOWN - from the starter only.  It runs
 * until SHUTDOWN or a signal ends it; the starter removes the socket.
 *
 * What it leaves out, on purpose, is the hardening of common/manager.c:
 * replies are sent in one go (a client that does not read its replies is
 * dropped), a half-sent frame has no deadline, and there is no spare
 * descriptor for running out of them.  Lesson 06's README walks through
 * both servers.
 *
 * Next: lesson 07 gives this server a queue whose get waits on the server.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "mgr_wire.h"

#define USAGE "mini_manager [SOCKET_PATH STARTER_PID]   (listening socket: descriptor 3)"
#define LISTEN_FD 3
#define MAX_CLIENTS 32
#define MAX_OBJECTS 64

/* ================================================================ state */

struct client {
    int fd;                         /* -1: a free slot */
    uint8_t in[4 + MGR_FRAME_MAX];  /* bytes received, not yet handled */
    size_t in_len;
};

struct object {
    enum mgr_kind kind;             /* MGR_DICT or MGR_VALUE */
    struct mgr_value value;         /* a value's */
    uint32_t count;                 /* a dict's keys in use ... */
    struct mgr_item items[MGR_MAX_ITEMS]; /* ... and the keys with their values */
};

struct server {
    struct client clients[MAX_CLIENTS];
    struct object objects[MAX_OBJECTS + 1]; /* ids 1..object_count; 0 is none */
    uint32_t object_count;
    bool stopping;                  /* a SHUTDOWN was answered */
    struct mgr_request request;     /* the one being handled (large) */
};

/* ================================================================ replies
 * Each reply is one frame, sent at once.  A proxy waits for every reply
 * before it sends again, so the socket's buffer always has room; a client
 * whose buffer is full is not reading, and is dropped rather than allowed
 * to stall the server. */

static void drop_client(struct client *c)
{
    close(c->fd);
    c->fd = -1;
    c->in_len = 0;
}

static void send_frame(struct client *c, const uint8_t *frame, size_t n)
{
    ssize_t w = send(c->fd, frame, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w != (ssize_t)n)
        drop_client(c);
}

static void reply_items(struct client *c, const struct mgr_item *items, uint32_t n)
{
    static uint8_t frame[4 + MGR_FRAME_MAX];
    send_frame(c, frame, mgr_encode_ok(items, n, frame, sizeof frame));
}

static void reply_ok(struct client *c)
{
    reply_items(c, NULL, 0);
}

static void reply_value(struct client *c, struct mgr_value v)
{
    struct mgr_item item = { .key = "", .value = v };
    reply_items(c, &item, 1);
}

static void reply_error(struct client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_error(struct client *c, int code, const char *fmt, ...)
{
    char message[200];
    uint8_t frame[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    send_frame(c, frame, mgr_encode_error(code, message, frame, sizeof frame));
}

/* ================================================================ objects */

/* The object with this id, if it is of this kind; otherwise the client
 * gets the error (NoSuchObject or TypeError) and the answer is NULL. */
static struct object *object_of(struct server *s, struct client *c, uint32_t id,
                                enum mgr_kind kind)
{
    if (id == 0 || id > s->object_count) {
        reply_error(c, MGR_E_NO_OBJECT, "no object with id %u", (unsigned)id);
        return NULL;
    }
    if (s->objects[id].kind != kind) {
        reply_error(c, MGR_E_TYPE, "object %u is not a %s", (unsigned)id,
                    kind == MGR_DICT ? "dict" : "Value");
        return NULL;
    }
    return &s->objects[id];
}

static void create(struct server *s, struct client *c, const struct mgr_request *r)
{
    if (r->kind != MGR_DICT && r->kind != MGR_VALUE) {
        reply_error(c, MGR_E_BAD_REQUEST, "this server makes dicts and values only");
        return;
    }
    if (s->object_count == MAX_OBJECTS) {
        reply_error(c, MGR_E_FULL, "the server holds %d objects already", MAX_OBJECTS);
        return;
    }
    struct object *o = &s->objects[++s->object_count];
    *o = (struct object){ .kind = (enum mgr_kind)r->kind, .value = r->value };
    reply_value(c, mgr_int(s->object_count));
}

/* The dict's keys are kept sorted, so that items come back in one order
 * every time (Python keeps insertion order; either is a valid dict). */
static uint32_t dict_find(const struct object *d, const char *key, bool *found)
{
    uint32_t k = 0;
    while (k < d->count && strcmp(d->items[k].key, key) < 0)
        k++;
    *found = k < d->count && strcmp(d->items[k].key, key) == 0;
    return k;
}

static void dict_set(struct object *d, struct client *c, const struct mgr_request *r)
{
    bool found;
    uint32_t k = dict_find(d, r->key, &found);
    if (!found) {
        if (d->count == MGR_MAX_ITEMS) {
            reply_error(c, MGR_E_FULL, "the dict has %d keys already", MGR_MAX_ITEMS);
            return;
        }
        memmove(&d->items[k + 1], &d->items[k], (d->count - k) * sizeof d->items[0]);
        d->count++;
        snprintf(d->items[k].key, sizeof d->items[k].key, "%s", r->key);
    }
    d->items[k].value = r->value;
    reply_ok(c);
}

static void dict_get(struct object *d, struct client *c, const struct mgr_request *r)
{
    bool found;
    uint32_t k = dict_find(d, r->key, &found);
    if (found)
        reply_value(c, d->items[k].value);
    else
        reply_error(c, MGR_E_KEY, "'%s'", r->key);
}

/* ================================================================ requests */

/* The process whose SHUTDOWN is obeyed: argv[2], the one that started the
 * server (0, when run without arguments: anyone's). */
static pid_t starter;

/* Who is at the other end of fd: its pid, uid and gid, into *cred, as the
 * kernel recorded them when it connected (or accepted).  false when the
 * kernel cannot say. */
static bool peer_of(int fd, struct ucred *cred)
{
    socklen_t len = sizeof *cred;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == 0;
}

/* Did the process that started the server make this connection? */
static bool from_starter(int fd)
{
    struct ucred peer;
    if (starter == 0)
        return true;
    return peer_of(fd, &peer) && peer.pid == starter;
}

/* Do one decoded request and answer it. */
static void dispatch(struct server *s, struct client *c, const struct mgr_request *r)
{
    struct object *o;
    switch (r->op) {
    case MGR_OP_PING:
        reply_ok(c);
        break;
    case MGR_OP_CREATE:
        create(s, c, r);
        break;
    case MGR_OP_SHUTDOWN:
        if (!from_starter(c->fd)) {
            reply_error(c, MGR_E_PERMISSION, "only the process that started the server "
                        "may shut it down");
            break;
        }
        s->stopping = true;
        reply_ok(c);
        break;
    case MGR_OP_VALUE_GET:
        if ((o = object_of(s, c, r->id, MGR_VALUE)) != NULL)
            reply_value(c, o->value);
        break;
    case MGR_OP_VALUE_SET:
        if ((o = object_of(s, c, r->id, MGR_VALUE)) != NULL) {
            o->value = r->value;
            reply_ok(c);
        }
        break;
    case MGR_OP_DICT_SET:
        if ((o = object_of(s, c, r->id, MGR_DICT)) != NULL)
            dict_set(o, c, r);
        break;
    case MGR_OP_DICT_GET:
        if ((o = object_of(s, c, r->id, MGR_DICT)) != NULL)
            dict_get(o, c, r);
        break;
    case MGR_OP_ITEMS:
        if ((o = object_of(s, c, r->id, MGR_DICT)) != NULL)
            reply_items(c, o->items, o->count);
        break;
    default:
        reply_error(c, MGR_E_BAD_REQUEST, "operation %u is not served here", (unsigned)r->op);
    }
}

/* One whole frame's payload: decode it, then do it.  A payload that does
 * not decode is answered with BadRequest; the framing is still intact, so
 * the connection stays open. */
static void handle_request(struct server *s, struct client *c, const uint8_t *payload,
                           size_t n)
{
    char why[128];
    if (mgr_decode_request(payload, n, &s->request, why, sizeof why) == -1)
        reply_error(c, MGR_E_BAD_REQUEST, "%s", why);
    else
        dispatch(s, c, &s->request);
}

/* poll() said c->fd is readable (or hung up, or failed): take what has
 * arrived and handle every whole frame in it. */
static void read_requests(struct server *s, struct client *c)
{
    ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (r == -1 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return; /* nothing after all: poll will say when */
    if (r <= 0) {
        drop_client(c); /* hung up or failed, even mid-frame */
        return;
    }
    c->in_len += (size_t)r;

    while (c->in_len >= 4) {
        uint32_t n = (uint32_t)c->in[0] << 24 | (uint32_t)c->in[1] << 16 |
                     (uint32_t)c->in[2] << 8 | c->in[3];
        if (n == 0 || n > MGR_FRAME_MAX) {
            /* Where the next frame starts is lost: close. */
            reply_error(c, MGR_E_BAD_REQUEST, "frame of %u bytes (1 to %d allowed)",
                        (unsigned)n, MGR_FRAME_MAX);
            if (c->fd != -1)
                drop_client(c);
            return;
        }
        if (c->in_len < 4 + (size_t)n)
            return; /* the rest has not come yet */
        handle_request(s, c, c->in + 4, n);
        if (c->fd == -1)
            return; /* dropped while answering */
        c->in_len -= 4 + (size_t)n;
        memmove(c->in, c->in + 4 + n, c->in_len);
    }
}

/* ================================================================ accepting */

/* Is the process at the other end of fd of our own user? */
static bool peer_allowed(int fd)
{
    struct ucred peer;
    return peer_of(fd, &peer) && peer.uid == geteuid();
}

static void accept_client(struct server *s)
{
    int fd = accept4(LISTEN_FD, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1)
        return; /* the client left already, or no descriptors: it can retry */
    struct client *c = NULL;
    for (int k = 0; k < MAX_CLIENTS && c == NULL; k++)
        if (s->clients[k].fd == -1)
            c = &s->clients[k];
    struct client refused = { .fd = fd };
    if (!peer_allowed(fd))
        reply_error(&refused, MGR_E_PERMISSION, "not the server's user");
    else if (c == NULL)
        reply_error(&refused, MGR_E_FULL, "too many connections");
    else {
        c->fd = fd;
        c->in_len = 0;
        return;
    }
    if (refused.fd != -1)
        close(fd);
}

/* ================================================================ the loop */

int main(int argc, char *argv[])
{
    long pid = 0;
    if (argc != 1 && (argc != 3 || !parse_long(argv[2], 1, INT_MAX, &pid)))
        usage_exit(USAGE, "expected a socket path and the starter's pid, or nothing");
    starter = (pid_t)pid;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1 || !listening)
        usage_exit(USAGE, "descriptor 3 is not a listening socket");

    static struct server s; /* large: in static storage, not on the stack */
    for (int k = 0; k < MAX_CLIENTS; k++)
        s.clients[k].fd = -1;

    struct pollfd fds[1 + MAX_CLIENTS];
    while (!s.stopping) {
        fds[0] = (struct pollfd){ .fd = LISTEN_FD, .events = POLLIN };
        for (int k = 0; k < MAX_CLIENTS; k++) /* a free slot's -1 is skipped */
            fds[1 + k] = (struct pollfd){ .fd = s.clients[k].fd, .events = POLLIN };
        if (poll(fds, 1 + MAX_CLIENTS, -1) == -1) {
            if (errno == EINTR)
                continue;
            err_exit("poll");
        }
        if (fds[0].revents & POLLIN)
            accept_client(&s);
        for (int k = 0; k < MAX_CLIENTS; k++)
            if (fds[1 + k].revents != 0 && s.clients[k].fd != -1)
                read_requests(&s, &s.clients[k]);
    }
    for (int k = 0; k < MAX_CLIENTS; k++)
        if (s.clients[k].fd != -1)
            drop_client(&s.clients[k]);
    return 0;
}
