/* mini_server.c - the given part of lesson 07's server (see mini_server.h).
 *
 * usage: mini_queue [SOCKET_PATH STARTER_PID]   (listening socket: descriptor 3)
 *
 * Lesson 06's mini_manager, finished and grown to every kind of object
 * seed 000 uses: Value, Array, list, dict - and a Queue, whose two
 * operations are handed to the queue part, mini_queue.c.  Read it, do not
 * edit it: `make check LESSON=07` builds it together with your file.
 *
 * Two things are new since lesson 06, both for the queue:
 *   - a parked client is left alone: none of its requests is read or
 *     handled until the queue part answers it, and the frames it sent
 *     meanwhile are handled after that, in order;
 *   - poll()'s timeout comes from queue_timeout(), so the loop wakes up
 *     for a deadline even when no client sends anything.
 */
#include "mini_server.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"

#define USAGE "mini_queue [SOCKET_PATH STARTER_PID]   (listening socket: descriptor 3)"

long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ================================================================ replies */

static void drop_client(struct client *c)
{
    close(c->fd);
    *c = (struct client){ .fd = -1 }; /* parked no more, buffer empty */
}

static void send_frame(struct client *c, const uint8_t *frame, size_t n)
{
    if (c->hung_up)
        return; /* nobody there to read it */
    ssize_t w = send(c->fd, frame, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w != (ssize_t)n)
        drop_client(c); /* gone, or not reading its replies */
}

static void reply_items(struct client *c, const struct mgr_item *items, uint32_t n)
{
    static uint8_t frame[4 + MGR_FRAME_MAX];
    send_frame(c, frame, mgr_encode_ok(items, n, frame, sizeof frame));
}

void reply_ok(struct client *c)
{
    reply_items(c, NULL, 0);
}

void reply_value(struct client *c, struct mgr_value v)
{
    struct mgr_item item = { .key = "", .value = v };
    reply_items(c, &item, 1);
}

void reply_error(struct client *c, int code, const char *fmt, ...)
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

static const char *kind_name(enum mgr_kind kind)
{
    static const char *names[] = { "?", "Value", "Array", "list", "dict", "Queue" };
    return kind <= MGR_QUEUE ? names[kind] : "?";
}

static struct object *object_of(struct server *s, struct client *c, uint32_t id,
                                enum mgr_kind kind)
{
    if (id == 0 || id > s->object_count) {
        reply_error(c, MGR_E_NO_OBJECT, "no object with id %u", (unsigned)id);
        return NULL;
    }
    struct object *o = &s->objects[id];
    if (o->kind != kind) {
        reply_error(c, MGR_E_TYPE, "object %u is a %s, not a %s", (unsigned)id,
                    kind_name(o->kind), kind_name(kind));
        return NULL;
    }
    return o;
}

/* Array('d') takes an int and stores a float, as Python's does; Array('i')
 * refuses a float. */
static bool fit_to_array(uint8_t typecode, struct mgr_value *v)
{
    if (typecode == 'd' && v->type == MGR_INT)
        *v = mgr_double((double)v->as.i);
    return v->type == (typecode == 'd' ? MGR_DOUBLE : MGR_INT);
}

static void create(struct server *s, struct client *c, const struct mgr_request *r)
{
    if (s->object_count == MAX_OBJECTS) {
        reply_error(c, MGR_E_FULL, "the server holds %d objects already", MAX_OBJECTS);
        return;
    }
    struct object o = { .kind = (enum mgr_kind)r->kind, .typecode = r->typecode,
                        .value = r->value };
    if (o.kind == MGR_ARRAY) {
        for (uint32_t k = 0; k < r->count; k++) {
            o.items[k].value = r->values[k];
            if (!fit_to_array(o.typecode, &o.items[k].value)) {
                reply_error(c, MGR_E_TYPE, "Array('%c') element %u has the wrong type",
                            o.typecode, (unsigned)k);
                return;
            }
        }
        o.count = r->count;
    }
    s->objects[++s->object_count] = o;
    reply_value(c, mgr_int(s->object_count));
}

/* Where key is in a dict's sorted items, or where it would go. */
static uint32_t dict_find(const struct object *d, const char *key, bool *found)
{
    uint32_t k = 0;
    while (k < d->count && strcmp(d->items[k].key, key) < 0)
        k++;
    *found = k < d->count && strcmp(d->items[k].key, key) == 0;
    return k;
}

static void dict_set(struct object *d, struct client *c, const char *key, struct mgr_value v)
{
    bool found;
    uint32_t k = dict_find(d, key, &found);
    if (!found) {
        if (d->count == MGR_MAX_ITEMS) {
            reply_error(c, MGR_E_FULL, "the dict has %d keys already", MGR_MAX_ITEMS);
            return;
        }
        memmove(&d->items[k + 1], &d->items[k], (d->count - k) * sizeof d->items[0]);
        d->count++;
        snprintf(d->items[k].key, sizeof d->items[k].key, "%s", key);
    }
    d->items[k].value = v;
    reply_ok(c);
}

static void dict_get(struct object *d, struct client *c, const char *key)
{
    bool found;
    uint32_t k = dict_find(d, key, &found);
    if (found)
        reply_value(c, d->items[k].value);
    else
        reply_error(c, MGR_E_KEY, "'%s'", key);
}

/* a[i] and l[i]: the item, or IndexError. */
static void item_get(struct object *o, struct client *c, uint32_t index)
{
    if (index >= o->count)
        reply_error(c, MGR_E_INDEX, "%s index %u out of range", kind_name(o->kind),
                    (unsigned)index);
    else
        reply_value(c, o->items[index].value);
}

/* ================================================================ requests */

/* The process whose SHUTDOWN is obeyed: argv[2], the one that started the
 * server (0, when run without arguments: anyone's). */
static pid_t starter;

/* Did the process that started the server make this connection?  (The
 * kernel records the peer's pid at connect(2): SO_PEERCRED.) */
static bool from_starter(int fd)
{
    struct ucred peer;
    socklen_t len = sizeof peer;
    if (starter == 0)
        return true;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid == starter;
}

static void dispatch(struct server *s, struct client *c, const struct mgr_request *r)
{
    struct object *o = NULL;
    struct mgr_value v = r->value;
    switch (r->op) {
    case MGR_OP_PING:
        reply_ok(c);
        return;
    case MGR_OP_CREATE:
        create(s, c, r);
        return;
    case MGR_OP_SHUTDOWN:
        if (!from_starter(c->fd)) {
            reply_error(c, MGR_E_PERMISSION, "only the process that started the server "
                        "may shut it down");
            return;
        }
        s->stopping = true;
        reply_ok(c);
        return;
    case MGR_OP_ITEMS: /* of an Array, a list or a dict */
        if (r->id >= 1 && r->id <= s->object_count) {
            o = &s->objects[r->id];
            if (o->kind == MGR_ARRAY || o->kind == MGR_LIST || o->kind == MGR_DICT) {
                reply_items(c, o->items, o->count);
                return;
            }
        }
        reply_error(c, o == NULL ? MGR_E_NO_OBJECT : MGR_E_TYPE,
                    "object %u has no items to give", (unsigned)r->id);
        return;
    case MGR_OP_VALUE_GET:
        if ((o = object_of(s, c, r->id, MGR_VALUE)) != NULL)
            reply_value(c, o->value);
        return;
    case MGR_OP_VALUE_SET:
        if ((o = object_of(s, c, r->id, MGR_VALUE)) != NULL) {
            o->value = v;
            reply_ok(c);
        }
        return;
    case MGR_OP_ARRAY_GET:
        if ((o = object_of(s, c, r->id, MGR_ARRAY)) != NULL)
            item_get(o, c, r->index);
        return;
    case MGR_OP_ARRAY_SET:
        if ((o = object_of(s, c, r->id, MGR_ARRAY)) == NULL)
            return;
        if (r->index >= o->count)
            reply_error(c, MGR_E_INDEX, "Array index %u out of range", (unsigned)r->index);
        else if (!fit_to_array(o->typecode, &v))
            reply_error(c, MGR_E_TYPE, "Array('%c') cannot hold that type", o->typecode);
        else {
            o->items[r->index].value = v;
            reply_ok(c);
        }
        return;
    case MGR_OP_LIST_APPEND:
        if ((o = object_of(s, c, r->id, MGR_LIST)) == NULL)
            return;
        if (o->count == MGR_MAX_ITEMS) {
            reply_error(c, MGR_E_FULL, "the list holds %d items already", MGR_MAX_ITEMS);
            return;
        }
        o->items[o->count++] = (struct mgr_item){ .key = "", .value = v };
        reply_ok(c);
        return;
    case MGR_OP_LIST_GET:
        if ((o = object_of(s, c, r->id, MGR_LIST)) != NULL)
            item_get(o, c, r->index);
        return;
    case MGR_OP_DICT_SET:
        if ((o = object_of(s, c, r->id, MGR_DICT)) != NULL)
            dict_set(o, c, r->key, v);
        return;
    case MGR_OP_DICT_GET:
        if ((o = object_of(s, c, r->id, MGR_DICT)) != NULL)
            dict_get(o, c, r->key);
        return;
    case MGR_OP_QUEUE_PUT:
        if ((o = object_of(s, c, r->id, MGR_QUEUE)) != NULL)
            queue_put(s, c, o, v);
        return;
    case MGR_OP_QUEUE_GET:
        if (c->hung_up)
            return; /* a get nobody waits for: it must take no item */
        if ((o = object_of(s, c, r->id, MGR_QUEUE)) != NULL)
            queue_get(s, c, o, r->timeout_ms);
        return;
    }
    reply_error(c, MGR_E_BAD_REQUEST, "operation %u is not served here", (unsigned)r->op);
}

/* ================================================================ frames */

/* The length at the front of c->in (there are at least 4 bytes). */
static uint32_t frame_length(const struct client *c)
{
    return (uint32_t)c->in[0] << 24 | (uint32_t)c->in[1] << 16 |
           (uint32_t)c->in[2] << 8 | c->in[3];
}

/* Is a whole frame waiting in c's buffer (or a bad length, to refuse)? */
static bool frame_waiting(const struct client *c)
{
    if (c->in_len < 4)
        return false;
    uint32_t n = frame_length(c);
    return n == 0 || n > MGR_FRAME_MAX || c->in_len >= 4 + (size_t)n;
}

/* Handle the whole frames in c's buffer, in order, until it is empty, the
 * client is parked by one of them, or the client is dropped. */
static void handle_frames(struct server *s, struct client *c)
{
    while (c->fd != -1 && !c->parked && frame_waiting(c)) {
        uint32_t n = frame_length(c);
        if (n == 0 || n > MGR_FRAME_MAX) {
            reply_error(c, MGR_E_BAD_REQUEST, "frame of %u bytes (1 to %d allowed)",
                        (unsigned)n, MGR_FRAME_MAX);
            if (c->fd != -1)
                drop_client(c); /* where the next frame starts is lost */
            return;
        }
        char why[128];
        if (mgr_decode_request(c->in + 4, n, &s->request, why, sizeof why) == -1)
            reply_error(c, MGR_E_BAD_REQUEST, "%s", why);
        else
            dispatch(s, c, &s->request);
        if (c->fd == -1)
            return;
        c->in_len -= 4 + (size_t)n;
        memmove(c->in, c->in + 4 + n, c->in_len);
    }
}

static void read_requests(struct server *s, struct client *c)
{
    ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (r == -1 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        drop_client(c);
        return;
    }
    c->in_len += (size_t)r;
    handle_frames(s, c);
}

/* ================================================================ accepting */

static bool peer_allowed(int fd)
{
    struct ucred peer;
    socklen_t len = sizeof peer;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 &&
           peer.uid == geteuid();
}

static void accept_client(struct server *s)
{
    int fd = accept4(LISTEN_FD, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1)
        return;
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
        *c = (struct client){ .fd = fd };
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

    static struct server s;
    for (int k = 0; k < MAX_CLIENTS; k++)
        s.clients[k].fd = -1;

    struct pollfd fds[1 + MAX_CLIENTS];
    while (!s.stopping) {
        /* Requests that waited behind a parked get go first.  Then the
         * deadlines: a get parked just now counts too. */
        for (int k = 0; k < MAX_CLIENTS; k++)
            handle_frames(&s, &s.clients[k]);
        int timeout = queue_timeout(&s);
        for (int k = 0; k < MAX_CLIENTS; k++) /* just answered, with frames waiting */
            if (s.clients[k].fd != -1 && !s.clients[k].parked && frame_waiting(&s.clients[k]))
                timeout = 0;

        fds[0] = (struct pollfd){ .fd = LISTEN_FD, .events = POLLIN };
        for (int k = 0; k < MAX_CLIENTS; k++) {
            struct client *c = &s.clients[k];
            /* A parked client is not read from: 0 asks for nothing but a
             * hang-up (POLLHUP, POLLERR), which poll reports anyway. */
            fds[1 + k] = (struct pollfd){ .fd = c->fd, .events = c->parked ? 0 : POLLIN };
        }
        if (poll(fds, 1 + MAX_CLIENTS, timeout) == -1) {
            if (errno == EINTR)
                continue;
            err_exit("poll");
        }
        if (fds[0].revents & POLLIN)
            accept_client(&s);
        /* Clients that hung up first, before anyone else's requests of
         * this round, so that no item goes to a client that is gone: a
         * parked one is dropped.  Another is read to the end (round by
         * round, until recv() returns 0 and read_requests() drops it):
         * what it sent before it closed can still be read after POLLHUP
         * (poll(2)), and a put followed at once by a close is a whole put.
         * Marked hung_up, it gets no replies and its gets take nothing. */
        for (int k = 0; k < MAX_CLIENTS; k++) {
            struct client *c = &s.clients[k];
            if (c->fd == -1 || !(fds[1 + k].revents & (POLLHUP | POLLERR)))
                continue;
            if (c->parked) {
                drop_client(c);
            } else {
                c->hung_up = true;
                read_requests(&s, c);
            }
        }
        for (int k = 0; k < MAX_CLIENTS; k++)
            if (s.clients[k].fd != -1 && !s.clients[k].parked && (fds[1 + k].revents & POLLIN) &&
                !(fds[1 + k].revents & (POLLHUP | POLLERR)))
                read_requests(&s, &s.clients[k]);
    }
    for (int k = 0; k < MAX_CLIENTS; k++)
        if (s.clients[k].fd != -1)
            drop_client(&s.clients[k]);
    return 0;
}
