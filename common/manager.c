/* manager.c - the manager server: one process, one poll(2) loop, all objects.
 * See manager.h for what it promises and mgr_wire.h for the wire format. */
#include "manager.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mgr_tcp.h"
#include "mgr_wire.h"
#include "mp_auth_answer.h"
#include "proxy.h"

/* ============================================================ the objects */

/* Every kind of object is kept the same way: a value, or up to
 * MGR_MAX_ITEMS items (a dict's kept sorted by key, so that printing it
 * gives the same line every time). */
struct object {
    enum mgr_kind kind;
    uint8_t typecode;       /* arrays: 'i' or 'd' */
    uint32_t count;         /* items in use */
    struct mgr_item *items; /* arrays, lists, dicts, queues */
    struct mgr_value value; /* values */
};

/* The Python name of an object kind, for error messages.  Never NULL. */
static const char *kind_name(enum mgr_kind kind)
{
    switch (kind) {
    case MGR_VALUE: return "Value";
    case MGR_ARRAY: return "Array";
    case MGR_LIST: return "list";
    case MGR_DICT: return "dict";
    case MGR_QUEUE: return "Queue";
    }
    return "?";
}

/* The kind of object each operation is for (0: any / none). */
static enum mgr_kind kind_for(uint8_t op)
{
    switch (op) {
    case MGR_OP_VALUE_GET: case MGR_OP_VALUE_SET: return MGR_VALUE;
    case MGR_OP_ARRAY_GET: case MGR_OP_ARRAY_SET: return MGR_ARRAY;
    case MGR_OP_LIST_APPEND: case MGR_OP_LIST_GET: return MGR_LIST;
    case MGR_OP_DICT_GET: case MGR_OP_DICT_SET: return MGR_DICT;
    case MGR_OP_QUEUE_PUT: case MGR_OP_QUEUE_GET: return MGR_QUEUE;
    default: return 0;
    }
}

/* ============================================================ the clients */

struct client {
    int fd;                 /* -1: a free slot */
    pid_t peer_pid;         /* SO_PEERCRED: who connected */
    uint8_t *in;            /* bytes received, not yet a whole frame */
    size_t in_len;
    uint8_t *out;           /* one reply, being sent */
    size_t out_len, out_sent;
    bool closing;           /* close once the reply is out */
    bool half_closed;       /* read end of file: answer what came, then close */
    uint8_t parked;         /* 0, or waiting in MGR_OP_QUEUE_GET / _PUT */
    uint32_t park_queue;    /* ... on this queue */
    struct mgr_value park_item; /* ... a put's item, while the queue is full */
    long long park_until;   /* ... until this time in ms (-1: for ever) */
    unsigned long park_seq; /* ... since this many parkings: first come first served */
    long long stall_since;  /* waiting for the rest of a frame since (ms; 0: not) */
    long long out_since;    /* a reply waiting for room in the socket since */
    long long last_active;  /* last byte read or reply sent: the idlest goes first */
                            /* (out_since counts from the last byte sent) */
    bool authed;            /* TCP: the handshake is done (always, on a Unix socket) */
    struct mp_server_auth auth; /* TCP: where the handshake is (mp_auth_answer.h) */
};

struct server {
    int listen_fd, signal_fd;
    pid_t starter;          /* the only process whose SHUTDOWN counts */
    int frame_timeout_ms;   /* for a stalled frame or reply */
    int spare_fd;           /* kept open to refuse a client when out of fds */
    bool stopping;
    struct object objects[MGR_MAX_OBJECTS + 1]; /* id 1..count; 0 is no object */
    uint32_t object_count;
    struct client clients[MGR_MAX_CLIENTS];
    unsigned long parkings;
    struct mgr_request request; /* the one being handled */
    /* TCP (mgr_tcp.h): every connection proves the key first; 0 bytes:
     * a Unix socket, where SO_PEERCRED says who connects instead. */
    uint8_t authkey[MP_KEY_MAX];
    size_t authkey_len;
};

#define BUFFER_SIZE (4 + MGR_FRAME_MAX) /* a whole frame, length included */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Close the connection and free its buffers; the slot becomes free. */
static void close_client(struct client *c)
{
    close(c->fd);
    free(c->in);
    free(c->out);
    *c = (struct client){ .fd = -1 };
}

/* Send what is left of the reply, without blocking.  A peer that is gone
 * just loses its connection. */
static void flush_reply(struct client *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->out_since == 0)
                    c->out_since = now_ms(); /* the client is not reading */
                return; /* poll says when to go on */
            }
            c->closing = true;
            c->out_sent = c->out_len;
            break;
        }
        c->out_sent += (size_t)w;
        c->out_since = 0; /* it takes the reply: its clock starts again */
    }
    c->out_len = c->out_sent = 0;
    c->out_since = 0;
    c->last_active = now_ms();
    if (c->closing)
        close_client(c);
}

/* Make the client's reply an ok with n items (sent by flush_reply). */
static void reply_items(struct client *c, const struct mgr_item *items, uint32_t n)
{
    c->out_len = mgr_encode_ok(items, n, c->out, BUFFER_SIZE);
    c->out_sent = 0;
}

/* Make the client's reply an ok with the one value v. */
static void reply_value(struct client *c, struct mgr_value v)
{
    struct mgr_item item = { .key = "", .value = v };
    reply_items(c, &item, 1);
}

/* Make the client's reply an error: code and a printf-style message. */
static void reply_error(struct client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_error(struct client *c, int code, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    c->out_len = mgr_encode_error(code, message, c->out, BUFFER_SIZE);
    c->out_sent = 0;
}

/* ============================================================ operations */

/* An array keeps the type its typecode names; Python's Array('d') takes an
 * int and stores it as a float, and Array('i') refuses a float. */
static bool fit_to_array(uint8_t typecode, struct mgr_value *v)
{
    if (typecode == 'd' && v->type == MGR_INT)
        *v = mgr_double((double)v->as.i);
    return v->type == (typecode == 'd' ? MGR_DOUBLE : MGR_INT);
}

/* CREATE: a new object as the request says; replies with its id, or an
 * error if the manager is full or an array element has the wrong type. */
static void create(struct server *s, struct client *c, const struct mgr_request *r)
{
    if (s->object_count == MGR_MAX_OBJECTS) {
        reply_error(c, MGR_E_FULL, "the manager holds %d objects already", MGR_MAX_OBJECTS);
        return;
    }
    struct object o = { .kind = (enum mgr_kind)r->kind, .typecode = r->typecode };
    if (o.kind == MGR_VALUE) {
        o.value = r->value;
    } else {
        o.items = calloc(MGR_MAX_ITEMS, sizeof *o.items);
        if (o.items == NULL) {
            reply_error(c, MGR_E_FULL, "out of memory");
            return;
        }
    }
    if (o.kind == MGR_ARRAY) {
        for (uint32_t k = 0; k < r->count; k++) {
            o.items[k].value = r->values[k];
            if (!fit_to_array(o.typecode, &o.items[k].value)) {
                free(o.items);
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
static uint32_t dict_find(const struct object *o, const char *key, bool *found)
{
    uint32_t k = 0;
    while (k < o->count && strcmp(o->items[k].key, key) < 0)
        k++;
    *found = k < o->count && strcmp(o->items[k].key, key) == 0;
    return k;
}

/* d[key] = value, keeping the keys sorted; Full when a new key has no room. */
static void dict_set(struct object *o, struct client *c, const struct mgr_request *r)
{
    bool found;
    uint32_t k = dict_find(o, r->key, &found);
    if (!found) {
        if (o->count == MGR_MAX_ITEMS) {
            reply_error(c, MGR_E_FULL, "dict has %d keys already", MGR_MAX_ITEMS);
            return;
        }
        memmove(&o->items[k + 1], &o->items[k], (o->count - k) * sizeof o->items[0]);
        o->count++;
        snprintf(o->items[k].key, sizeof o->items[k].key, "%s", r->key);
    }
    o->items[k].value = r->value;
    reply_items(c, NULL, 0);
}

/* Has the peer gone - closed its socket, or died?  Asked without waiting,
 * just before an item is handed to a parked client: given to a dead one, it
 * would be lost.  (A peer that only shut down its sending side, SHUT_WR,
 * still reads: poll reports POLLHUP only when both directions are shut.) */
static bool peer_gone(int fd)
{
    struct pollfd p = { .fd = fd, .events = 0 };
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* The client parked longest in `op` on queue `id`, or NULL.  One whose
 * peer has gone meanwhile is closed on the way and skipped. */
static struct client *first_parked(struct server *s, uint32_t id, uint8_t op)
{
    for (;;) {
        struct client *first = NULL;
        for (int k = 0; k < MGR_MAX_CLIENTS; k++) {
            struct client *c = &s->clients[k];
            if (c->fd != -1 && c->parked == op && c->park_queue == id &&
                (first == NULL || c->park_seq < first->park_seq))
                first = c;
        }
        if (first == NULL || !peer_gone(first->fd))
            return first;
        close_client(first);
    }
}

/* Hold the client's reply: it waits in op on queue id, for timeout_ms
 * (-1: for ever), behind every client parked before it. */
static void park(struct server *s, struct client *c, uint8_t op, uint32_t id, int timeout_ms)
{
    c->parked = op;
    c->park_queue = id;
    c->park_until = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    c->park_seq = ++s->parkings;
}

/* After queue `id` changed: give items to parked gets while there are
 * items, and take the items of parked puts while there is room. */
static void settle_queue(struct server *s, uint32_t id)
{
    struct object *q = &s->objects[id];
    struct client *c;
    for (;;) {
        if (q->count > 0 && (c = first_parked(s, id, MGR_OP_QUEUE_GET)) != NULL) {
            c->parked = 0;
            reply_value(c, q->items[0].value);
            q->count--;
            memmove(&q->items[0], &q->items[1], q->count * sizeof q->items[0]);
        } else if (q->count < MGR_MAX_ITEMS &&
                   (c = first_parked(s, id, MGR_OP_QUEUE_PUT)) != NULL) {
            c->parked = 0;
            q->items[q->count++] = (struct mgr_item){ .key = "", .value = c->park_item };
            reply_items(c, NULL, 0);
        } else {
            return;
        }
        flush_reply(c);
    }
}

/* Carry out one decoded request of client c: make its reply, or park it.
 * Any request is answered; none can make the server exit but a SHUTDOWN
 * from the starter, which sets s->stopping. */
static void execute(struct server *s, struct client *c, const struct mgr_request *r)
{
    if (r->op == MGR_OP_PING) {
        reply_items(c, NULL, 0);
        return;
    }
    if (r->op == MGR_OP_SHUTDOWN) {
        /* On TCP there is no peer pid: the key is the only credential,
         * as in Python, where any authenticated client may shut down. */
        if (s->starter != 0 && s->authkey_len == 0 && c->peer_pid != s->starter) {
            reply_error(c, MGR_E_PERMISSION, "only the process that started the manager "
                        "may shut it down");
            return;
        }
        s->stopping = true;
        reply_items(c, NULL, 0);
        return;
    }
    if (r->op == MGR_OP_CREATE) {
        create(s, c, r);
        return;
    }
    if (r->id == 0 || r->id > s->object_count) {
        reply_error(c, MGR_E_NO_OBJECT, "no object with id %u", (unsigned)r->id);
        return;
    }
    struct object *o = &s->objects[r->id];
    enum mgr_kind wanted = kind_for(r->op);
    if ((wanted != 0 && o->kind != wanted) ||
        (r->op == MGR_OP_ITEMS && (o->kind == MGR_VALUE || o->kind == MGR_QUEUE))) {
        reply_error(c, MGR_E_TYPE, "object %u is a %s: operation %u is not for it",
                    (unsigned)r->id, kind_name(o->kind), (unsigned)r->op);
        return;
    }

    struct mgr_value v = r->value;
    bool found;
    switch (r->op) {
    case MGR_OP_ITEMS:
        reply_items(c, o->items, o->count);
        break;
    case MGR_OP_VALUE_GET:
        reply_value(c, o->value);
        break;
    case MGR_OP_VALUE_SET:
        o->value = v;
        reply_items(c, NULL, 0);
        break;
    case MGR_OP_ARRAY_GET:
    case MGR_OP_LIST_GET:
        if (r->index >= o->count)
            reply_error(c, MGR_E_INDEX, "%s index %u out of range (length %u)",
                        kind_name(o->kind), (unsigned)r->index, (unsigned)o->count);
        else
            reply_value(c, o->items[r->index].value);
        break;
    case MGR_OP_ARRAY_SET:
        if (r->index >= o->count)
            reply_error(c, MGR_E_INDEX, "Array index %u out of range (length %u)",
                        (unsigned)r->index, (unsigned)o->count);
        else if (!fit_to_array(o->typecode, &v))
            reply_error(c, MGR_E_TYPE, "Array('%c') cannot hold that type", o->typecode);
        else {
            o->items[r->index].value = v;
            reply_items(c, NULL, 0);
        }
        break;
    case MGR_OP_LIST_APPEND:
        if (o->count == MGR_MAX_ITEMS) {
            reply_error(c, MGR_E_FULL, "list holds %d items already", MGR_MAX_ITEMS);
            break;
        }
        o->items[o->count++] = (struct mgr_item){ .key = "", .value = v };
        reply_items(c, NULL, 0);
        break;
    case MGR_OP_QUEUE_PUT:
        if (o->count == MGR_MAX_ITEMS) {
            /* Full: like Python's Queue(maxsize).put(), wait for room. */
            park(s, c, MGR_OP_QUEUE_PUT, r->id, -1);
            c->park_item = v;
        } else {
            o->items[o->count++] = (struct mgr_item){ .key = "", .value = v };
            reply_items(c, NULL, 0);
        }
        settle_queue(s, r->id);
        break;
    case MGR_OP_DICT_GET: {
        uint32_t k = dict_find(o, r->key, &found);
        if (found)
            reply_value(c, o->items[k].value);
        else
            reply_error(c, MGR_E_KEY, "'%s'", r->key);
        break;
    }
    case MGR_OP_DICT_SET:
        dict_set(o, c, r);
        break;
    case MGR_OP_QUEUE_GET:
        if (peer_gone(c->fd)) {
            c->closing = true; /* it asked, then left: keep the item */
        } else if (o->count > 0) {
            reply_value(c, o->items[0].value);
            o->count--;
            memmove(&o->items[0], &o->items[1], o->count * sizeof o->items[0]);
        } else if (r->timeout_ms == 0) {
            reply_error(c, MGR_E_EMPTY, "the queue is empty");
        } else {
            /* Park: no reply now.  settle_queue() or the deadline answers. */
            park(s, c, MGR_OP_QUEUE_GET, r->id, r->timeout_ms);
        }
        settle_queue(s, r->id);
        break;
    }
}

/* ============================================================ the loop */

static void handle_frames(struct server *s, struct client *c);

/* Handle every whole frame the client has sent, one at a time: the next is
 * looked at only when the reply to this one is out and it is not parked.
 * A frame begun and not finished starts the client's stall clock. */
static void handle_input(struct server *s, struct client *c)
{
    handle_frames(s, c);
    /* Part of a frame, and we are waiting for the rest: its clock runs.
     * So it does for a TCP client mid-handshake, with nothing sent yet:
     * each step of the handshake must come within the frame timeout. */
    if (c->fd != -1 && !c->parked && c->out_len == 0 && (c->in_len > 0 || !c->authed)) {
        if (c->stall_since == 0)
            c->stall_since = now_ms();
    } else {
        c->stall_since = 0;
    }
}

/* One frame of the handshake, whose length is n: a step of Python's
 * deliver_challenge() and answer_challenge() (mp_auth.h).  A frame longer
 * than Python's recv_bytes(256) allows closes the connection unanswered, as
 * Python's "bad message length" does; a wrong answer gets #FAILURE#, then
 * the connection closes.  Until the handshake is done, no request is read. */
static bool authenticate(struct client *c, uint32_t n)
{
    if (n > MP_AUTH_MAX) {
        close_client(c);
        return false;
    }
    if (c->in_len < 4 + (size_t)n)
        return false; /* the rest of the frame has not arrived yet */
    enum mp_step step = mp_server_auth_next(&c->auth, c->in + 4, n, c->out, &c->out_len);
    c->out_sent = 0;
    c->in_len -= 4 + (size_t)n;
    memmove(c->in, c->in + 4 + n, c->in_len);
    c->stall_since = 0;
    if (step == MP_STEP_DONE)
        c->authed = true;
    if (step == MP_STEP_FAILED) {
        c->closing = true;
        c->in_len = 0; /* nothing more it sent is looked at */
    }
    if (c->out_len > 0)
        flush_reply(c);
    else if (c->closing)
        close_client(c);
    return true;
}

/* handle_input() without the stall clock. */
static void handle_frames(struct server *s, struct client *c)
{
    while (c->fd != -1 && !s->stopping && !c->parked && c->out_len == 0 && c->in_len >= 4) {
        uint32_t n = (uint32_t)c->in[0] << 24 | (uint32_t)c->in[1] << 16 |
                     (uint32_t)c->in[2] << 8 | c->in[3];
        if (!c->authed) {
            if (!authenticate(c, n))
                return;
            continue;
        }
        if (n == 0 || n > MGR_FRAME_MAX) {
            /* The framing is lost: nothing after this can be trusted. */
            reply_error(c, MGR_E_BAD_REQUEST,
                        "frame of %u bytes (1 to %d allowed); closing the connection",
                        (unsigned)n, MGR_FRAME_MAX);
            c->closing = true;
            c->in_len = 0;
            flush_reply(c);
            return;
        }
        if (c->in_len < 4 + (size_t)n)
            return; /* the rest of the frame has not arrived yet */
        char why[128];
        if (mgr_decode_request(c->in + 4, n, &s->request, why, sizeof why) == -1)
            reply_error(c, MGR_E_BAD_REQUEST, "%s", why);
        else
            execute(s, c, &s->request);
        c->in_len -= 4 + (size_t)n;
        memmove(c->in, c->in + 4 + n, c->in_len);
        c->stall_since = 0; /* a whole frame came: the next one's clock starts */
        if (c->out_len > 0)
            flush_reply(c);
        else if (c->closing)
            close_client(c);
    }
}

/* Take what the client sent (poll said it is readable) and handle the whole
 * frames in it; a read error loses only this connection. */
static void read_client(struct server *s, struct client *c)
{
    ssize_t r = recv(c->fd, c->in + c->in_len, BUFFER_SIZE - c->in_len, MSG_DONTWAIT);
    if (r == -1 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        close_client(c); /* gone, even mid-request: only its connection is lost */
        return;
    }
    if (r == 0)
        c->half_closed = true; /* no more requests: answer the whole ones */
    if (r > 0) {
        c->in_len += (size_t)r;
        c->last_active = now_ms();
    }
    handle_input(s, c);
}

/* Is there something to read on fd (a request, or its end of file)? */
static bool readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

/* The table is full: close the connection whose frame or reply has been
 * stalled longest; or else the one idle longest (no request in progress),
 * preferring one with nothing unread in its socket.  A request that came
 * in unread since the last poll is lost with its connection, and the
 * client sees ECONNRESET before any reply: the proxy then sends it again
 * on a new connection (proxy.h).  When there is none of these, the get or
 * put parked longest is closed, with an "Evicted" reply first: nothing was
 * taken from the queue or put on it, and the proxy sends the request
 * again, with the time that is left.  A connection of the starter's with
 * something unread comes last of all: that may be its SHUTDOWN.  Returns
 * the freed slot, or NULL if there was nobody to close. */
static struct client *make_room(struct server *s)
{
    struct client *stalled = NULL, *idle = NULL, *busy_idle = NULL, *parked = NULL;
    struct client *starters = NULL; /* the starter's, something unread */
    long long stalled_since = 0;
    for (int k = 0; k < MGR_MAX_CLIENTS; k++) {
        struct client *c = &s->clients[k];
        long long since = c->stall_since ? c->stall_since : c->out_since;
        if (c->fd != -1 && c->parked && (parked == NULL || c->park_seq < parked->park_seq))
            parked = c;
        if (c->fd == -1 || c->parked)
            continue;
        if (since != 0) {
            if (stalled == NULL || since < stalled_since)
                stalled = c, stalled_since = since;
        } else if (c->in_len == 0 && c->out_len == 0) {
            bool unread = readable(c->fd);
            struct client **best = unread ? &busy_idle : &idle;
            if (unread && s->starter != 0 && c->peer_pid == s->starter)
                best = &starters;
            if (*best == NULL || c->last_active < (*best)->last_active)
                *best = c;
        }
    }
    struct client *victim = stalled != NULL ? stalled : idle != NULL ? idle : busy_idle;
    if (victim == NULL && parked != NULL) {
        victim = parked;
        victim->parked = 0; /* a put's item was never added */
        reply_error(victim, MGR_E_EVICTED, "closed to make room for another connection; "
                    "nothing was taken or added: send the request again");
        victim->closing = true;
        flush_reply(victim); /* and closes it, unless its socket is full */
    }
    if (victim == NULL)
        victim = starters;
    if (victim != NULL && victim->fd != -1)
        close_client(victim);
    return victim;
}

/* Send a newcomer one error reply, best effort, and close it. */
static void refuse(int fd, int code, const char *why)
{
    uint8_t frame[512];
    size_t n = mgr_encode_error(code, why, frame, sizeof frame);
    send(fd, frame, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

/* Take a new connection, if it is from our own user and there is room. */
static void accept_client(struct server *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    /* Out of descriptors: as good as a full table.  Close a connection
     * the way make_room() chooses, and take the newcomer in its place. */
    if (fd == -1 && (errno == EMFILE || errno == ENFILE) && make_room(s) != NULL)
        fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd == -1 && (errno == EMFILE || errno == ENFILE) && s->spare_fd != -1) {
        /* Nobody to close: the connection would stay pending and poll
         * would wake us again at once.  Free the spare, take it, refuse
         * it, and keep the spare again. */
        close(s->spare_fd);
        fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd != -1)
            refuse(fd, MGR_E_TOO_MANY, "too many connections: the manager is out of "
                   "descriptors");
        s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return;
    }
    if (fd == -1)
        return; /* e.g. the peer already left; nothing to do */

    struct ucred peer;
    socklen_t len = sizeof peer;
    const char *refusal = NULL;
    peer.pid = 0;
    if (s->authkey_len == 0 && /* TCP: the handshake decides instead */
        (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == -1 || peer.uid != geteuid()))
        refusal = "permission denied: the manager serves only its own user";
    struct client *c = NULL;
    for (int k = 0; k < MGR_MAX_CLIENTS && c == NULL; k++)
        if (s->clients[k].fd == -1)
            c = &s->clients[k];
    int code = MGR_E_PERMISSION; /* the refusal above, unless one below */
    if (refusal == NULL && c == NULL && (c = make_room(s)) == NULL)
        refusal = "too many connections", code = MGR_E_TOO_MANY;
    if (refusal == NULL) {
        c->in = malloc(BUFFER_SIZE);
        c->out = malloc(BUFFER_SIZE);
        if (c->in == NULL || c->out == NULL) {
            free(c->in);
            free(c->out);
            c->in = c->out = NULL;
            refusal = "out of memory", code = MGR_E_NO_MEMORY;
        }
    }
    if (refusal != NULL) {
        refuse(fd, code, refusal);
        return;
    }
    c->fd = fd;
    c->peer_pid = peer.pid;
    c->last_active = now_ms();
    c->authed = s->authkey_len == 0;
    if (!c->authed) {
        /* Listener.accept(): the challenge goes out first. */
        if (mp_server_auth_begin(&c->auth, s->authkey, s->authkey_len, MP_SHA256, NULL, c->out,
                                 &c->out_len) == -1) {
            close_client(c);
            return;
        }
        flush_reply(c);
    }
}

/* Answer "Empty" to every parked get whose time is up; returns the time in
 * ms until the next deadline (-1: none, 0: someone was answered and may
 * have more frames waiting). */
static int expire_parked(struct server *s)
{
    long long now = now_ms(), next = -1;
    bool answered = false;
    for (int k = 0; k < MGR_MAX_CLIENTS; k++) {
        struct client *c = &s->clients[k];
        if (c->fd == -1 || !c->parked || c->park_until < 0)
            continue;
        if (c->park_until <= now) {
            c->parked = 0;
            reply_error(c, MGR_E_EMPTY, "nothing arrived on the queue in time");
            flush_reply(c);
            answered = true;
        } else if (next < 0 || c->park_until - now < next) {
            next = c->park_until - now;
        }
    }
    return answered ? 0 : (int)next;
}

/* Close every connection whose frame or reply has been stalled for the
 * frame timeout; returns the time in ms until the next such deadline
 * (-1: none). */
static int expire_stalled(struct server *s)
{
    long long now = now_ms(), next = -1;
    for (int k = 0; k < MGR_MAX_CLIENTS; k++) {
        struct client *c = &s->clients[k];
        long long since = c->stall_since ? c->stall_since : c->out_since;
        if (c->fd == -1 || since == 0)
            continue;
        long long left = since + s->frame_timeout_ms - now;
        if (left <= 0)
            close_client(c); /* no reply: it is not reading, or mid-frame */
        else if (next < 0 || left < next)
            next = left;
    }
    return (int)next;
}

/* The poll loop: until a stop signal, or a SHUTDOWN from the starter.
 * Every wait in it is bounded by the next deadline (a parked get's, a
 * stalled frame's); no client can block it.  Returns 0, or -1 if poll(2)
 * itself failed (mgr_error() says why). */
static int serve(struct server *s)
{
    /* Only live descriptors go to poll: nfds above RLIMIT_NOFILE is EINVAL
     * even when most entries are -1.  slot[i] is the client of fds[i]. */
    struct pollfd fds[2 + MGR_MAX_CLIENTS];
    int slot[2 + MGR_MAX_CLIENTS];
    while (!s->stopping) {
        /* A client whose input was held back (by a reply or a parking) may
         * have whole frames waiting: look at them before sleeping.  A
         * half-closed client with nothing left to answer is done. */
        for (int k = 0; k < MGR_MAX_CLIENTS; k++) {
            struct client *c = &s->clients[k];
            if (c->fd != -1)
                handle_input(s, c);
            if (c->fd != -1 && c->half_closed && c->out_len == 0 && !c->parked)
                close_client(c); /* every whole request answered */
        }
        if (s->stopping)
            break;
        /* Only now: a get parked just above has its deadline counted too. */
        int timeout = expire_parked(s), stall = expire_stalled(s);
        if (timeout < 0 || (stall >= 0 && stall < timeout))
            timeout = stall;

        int n = 0;
        fds[n++] = (struct pollfd){ .fd = s->signal_fd, .events = POLLIN };
        fds[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
        int first_client = n;
        for (int k = 0; k < MGR_MAX_CLIENTS; k++) {
            struct client *c = &s->clients[k];
            if (c->fd == -1)
                continue;
            /* POLLHUP and POLLERR, a peer gone, come whatever is asked. */
            short events = 0;
            if (c->out_len > 0)
                events = POLLOUT;
            else if (!c->parked && !c->half_closed)
                events = POLLIN;
            slot[n] = k;
            fds[n++] = (struct pollfd){ .fd = c->fd, .events = events };
        }
        if (poll(fds, (nfds_t)n, timeout) == -1) {
            if (errno == EINTR)
                continue;
            return mgr_fail("poll: %s", strerror(errno));
        }
        if (fds[0].revents & POLLIN)
            return 0; /* SIGTERM, SIGINT or SIGHUP: the program is going away */
        for (int i = first_client; i < n; i++) {
            struct client *c = &s->clients[slot[i]];
            short rev = fds[i].revents;
            if (c->fd != fds[i].fd || rev == 0)
                continue; /* closed (or the slot reused) since the poll */
            if (rev & POLLOUT)
                flush_reply(c);
            if (c->fd != -1 && (rev & POLLIN))
                read_client(s, c);
            if (c->fd == -1)
                continue;
            if ((rev & (POLLHUP | POLLERR)) && !(rev & POLLIN))
                close_client(c); /* gone both ways, nothing left to read */
        }
        /* Accept after reading: a newcomer that finds the table full is
         * given the slot of a stalled or idle client, and what the others
         * sent has been seen by then. */
        if (fds[1].revents & POLLIN)
            accept_client(s);
    }
    return 0;
}

/* ============================================================ descriptors */

/* The first line of an entry returned by getdents64(2); glibc before 2.30
 * has no wrapper, so the call goes through syscall(2). */
struct dirent64_head {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* Is fd one to keep: 0, 1, 2 or one of keep[]? */
static bool kept(int fd, const int *keep, int nkeep)
{
    for (int k = 0; k < nkeep; k++)
        if (keep[k] == fd)
            return true;
    return fd <= 2;
}

/* Without close_range(2) (ENOSYS before Linux 5.9): walk /proc/self/fd and
 * close what is not kept, again until a pass finds nothing to close (the
 * listing may move under the closes); without /proc, close every number up
 * to the limit.  No malloc: this runs in a child of a program that may have
 * threads. */
static int close_by_listing(const int *keep, int nkeep)
{
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir == -1) {
        struct rlimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) == -1)
            return -1;
        rlim_t top = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (1 << 20)
                         ? (1 << 20) : limit.rlim_cur;
        for (int fd = 3; (rlim_t)fd < top; fd++)
            if (!kept(fd, keep, nkeep))
                close(fd);
        return 0;
    }
    for (bool again = true; again;) {
        again = false;
        if (lseek(dir, 0, SEEK_SET) == -1)
            break;
        _Alignas(8) char buf[4096];
        long n;
        while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
            for (long at = 0; at < n;) {
                struct dirent64_head *e = (struct dirent64_head *)(buf + at);
                at += e->reclen;
                if (e->name[0] < '0' || e->name[0] > '9')
                    continue; /* "." and ".." */
                int fd = atoi(e->name);
                if (fd != dir && !kept(fd, keep, nkeep)) {
                    close(fd);
                    again = true;
                }
            }
        }
        if (n == -1) {
            close(dir);
            return -1;
        }
    }
    close(dir);
    return 0;
}

/* Close every descriptor but 0, 1, 2 and the nkeep in keep[] (in
 * increasing order).  Returns 0, or -1 with errno. */
static int close_all_but(const int *keep, int nkeep)
{
    unsigned first = 3;
    for (int k = 0; k <= nkeep; k++) {
        if (k < nkeep && keep[k] < 3)
            continue; /* 0, 1 and 2 stay anyway */
        unsigned last = k < nkeep ? (unsigned)keep[k] - 1 : ~0U;
        if (first <= last && close_range(first, last, 0) == -1) {
            if (errno == ENOSYS || errno == EINVAL)
                return close_by_listing(keep, nkeep);
            return -1;
        }
        if (k < nkeep)
            first = (unsigned)keep[k] + 1;
    }
    return 0;
}

/* ============================================================ start-up */

/* What the server side tells mgr_start() on the exit pipe, once: ready
 * (value = the server's pid), or which step failed (value = errno). */
struct start_report {
    int32_t what; /* 'R' ready, else one of the steps below */
    int32_t value;
};

/* The words for a start-up step that failed (struct start_report). */
static const char *step_name(int32_t what)
{
    switch (what) {
    case 'p': return "prctl(PR_SET_PDEATHSIG)";
    case 'o': return "the starter died during start-up";
    case 'c': return "closing inherited descriptors";
    case 's': return "signalfd";
    case 'f': return "fork";
    case 'x': return "execv";
    case 'm': return "setting up descriptors and signals";
    }
    return "start-up";
}

/* Tell mgr_start() how start-up went, in one write (atomic: < PIPE_BUF).
 * Returns false if nobody read it: the starter has gone (EPIPE; the caller
 * must ignore SIGPIPE). */
static bool report(int fd, int32_t what, int32_t value)
{
    struct start_report r = { what, value };
    ssize_t w;
    while ((w = write(fd, &r, sizeof r)) == -1 && errno == EINTR)
        ;
    return w == (ssize_t)sizeof r;
}

/* Remove the socket and its directory; either may be gone already. */
static void remove_files(const struct mgr *m)
{
    if (mgr_is_tcp(m->address))
        return; /* a TCP port leaves nothing on disk */
    unlink(m->address);
    rmdir(m->dir);
}

/* The signals a server takes as "the program is going away". */
static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

/* The environment variable `name` if it is a whole number of ms from 1 to
 * an hour (nothing else around it), else `fallback`. */
static int env_ms(const char *name, int fallback)
{
    const char *e = getenv(name);
    if (e == NULL || *e == '\0')
        return fallback;
    char *end;
    errno = 0;
    long ms = strtol(e, &end, 10);
    if (errno != 0 || *end != '\0' || ms < 1 || ms > 3600000)
        return fallback;
    return (int)ms;
}

/* $MGR_FRAME_TIMEOUT_MS if it is a valid number (env_ms), else the default. */
static int frame_timeout_ms(void)
{
    return env_ms("MGR_FRAME_TIMEOUT_MS", MGR_FRAME_TIMEOUT_MS_DEFAULT);
}

/* Set by serve_on(): did its loop end on an error (poll failed)?
 * mgr_error() then says why. */
static bool serve_failed;

/* The server proper: set up, serve until told to stop, let go of
 * everything.  signal_fd is a signalfd for the stop signals (blocked). */
static void serve_on(int listen_fd, int signal_fd, pid_t starter, int frame_ms,
                     const uint8_t *key, size_t key_len)
{
    static struct server s; /* large; one per server process */
    memset(&s, 0, sizeof s);
    if (key_len > MP_KEY_MAX)
        key_len = MP_KEY_MAX;
    if (key_len > 0)
        memcpy(s.authkey, key, key_len);
    s.authkey_len = key_len;
    s.listen_fd = listen_fd;
    s.signal_fd = signal_fd;
    s.starter = starter;
    s.frame_timeout_ms = frame_ms;
    s.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int k = 0; k < MGR_MAX_CLIENTS; k++)
        s.clients[k].fd = -1;
    serve_failed = serve(&s) == -1;

    /* Last replies (the shutdown's "ok") go out, then everything goes. */
    for (int k = 0; k < MGR_MAX_CLIENTS; k++)
        if (s.clients[k].fd != -1) {
            flush_reply(&s.clients[k]);
            if (s.clients[k].fd != -1)
                close_client(&s.clients[k]);
        }
    for (uint32_t id = 1; id <= s.object_count; id++)
        free(s.objects[id].items);
    if (s.spare_fd != -1)
        close(s.spare_fd);
    close(listen_fd);
    memset(s.authkey, 0, sizeof s.authkey);
}

/* mgr_serve(), with an authkey for TCP (key_len 0: none). */
static int serve_keyed(int listen_fd, pid_t starter, const uint8_t *key, size_t key_len)
{
    sigset_t stop, old;
    stop_signals(&stop);
    sigprocmask(SIG_BLOCK, &stop, &old);
    struct sigaction ignore = { .sa_handler = SIG_IGN }, pipe_was;
    sigaction(SIGPIPE, &ignore, &pipe_was);
    int signal_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd == -1) {
        int en = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        sigaction(SIGPIPE, &pipe_was, NULL);
        return mgr_fail("signalfd: %s", strerror(en));
    }
    serve_on(listen_fd, signal_fd, starter, frame_timeout_ms(), key, key_len);
    /* The loop only saw the signalfd readable; reading it takes the stop
     * signal off the pending list, so that restoring the mask below does
     * not deliver it (and kill the caller) after all. */
    struct signalfd_siginfo info;
    while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info)
        ;
    close(signal_fd);
    /* A stop signal that ended the loop was read from the signalfd; any
     * other pending one is dropped with it before the mask comes back. */
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigaction(SIGPIPE, &pipe_was, NULL);
    if (serve_failed)
        return -1; /* mgr_error(): the poll that failed */
    return 0;
}

/* See manager.h.  Restores the signal mask and SIGPIPE's action on return. */
int mgr_serve(int listen_fd, pid_t starter)
{
    return serve_keyed(listen_fd, starter, NULL, 0);
}

/* See mgr_tcp.h. */
int mgr_serve_tcp(const char *host_port, const void *key, size_t key_len,
                  void (*ready)(const char *address))
{
    char address[sizeof(((struct mgr *)0)->address)];
    if (key_len == 0)
        return mgr_fail("a TCP manager needs an authkey");
    int fd = mgr_tcp_listen(host_port, address, sizeof address);
    if (fd == -1)
        return -1;
    if (ready != NULL)
        ready(address + strlen(MGR_TCP_PREFIX));
    return serve_keyed(fd, 0, key, key_len);
}

/* The built-in server's process, from fork() to _exit(). */
static _Noreturn void run_server(int listen_fd, int exit_wr, pid_t starter,
                                 int frame_ms, const struct mgr *m,
                                 const uint8_t *key, size_t key_len)
{
    sigset_t stop;
    stop_signals(&stop); /* already blocked by mgr_start, across the fork */
    signal(SIGPIPE, SIG_IGN);
    int32_t failed = 0;
    int en = 0, signal_fd = -1;
    /* If the program that started us dies, we get SIGTERM; if it died
     * before this line, our parent is already someone else. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
        failed = 'p', en = errno;
    else if (getppid() != starter)
        failed = 'o';
    /* Close every descriptor inherited from the program but stdin, stdout,
     * stderr, the listening socket and the exit pipe: a client connection
     * or a pipe end of the program's, held open here, would hide its
     * hang-up. */
    int keep[2] = { listen_fd < exit_wr ? listen_fd : exit_wr,
                    listen_fd < exit_wr ? exit_wr : listen_fd };
    if (!failed && close_all_but(keep, 2) == -1)
        failed = 'c', en = errno;
    if (!failed && (signal_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
        failed = 's', en = errno;
    if (failed) {
        close(listen_fd);
        remove_files(m);
        report(exit_wr, failed, en);
        _exit(1);
    }
    report(exit_wr, 'R', (int32_t)getpid());
    serve_on(listen_fd, signal_fd, starter, frame_ms, key, key_len);
    remove_files(m);
    if (serve_failed) {
        /* Nobody waits for a return value here: say it where the starter's
         * errors go, and exit with a failure. */
        fprintf(stderr, "manager (process %ld): %s: the server stopped\n", (long)getpid(),
                mgr_error());
        _exit(1);
    }
    _exit(0);
}

/* $MGR_SHUTDOWN_TIMEOUT_MS if it is a valid number (env_ms), else the
 * default. */
static int shutdown_timeout_ms(void)
{
    return env_ms("MGR_SHUTDOWN_TIMEOUT_MS", MGR_SHUTDOWN_TIMEOUT_MS_DEFAULT);
}

/* Wait up to ms for one of the (blocked) signals in set: true if one came. */
static bool wait_signal(const sigset_t *set, int ms)
{
    long long until = now_ms() + ms;
    for (;;) {
        long long left = until - now_ms();
        if (left <= 0)
            return false;
        struct timespec ts = { left / 1000, (left % 1000) * 1000000 };
        if (sigtimedwait(set, NULL, &ts) != -1)
            return true;
        if (errno != EINTR)
            return false;
    }
}

/* The keeper of a server program: it runs the program in a child of its
 * own, waits for it, and removes the socket and the directory after it,
 * however it ended.  If the starter dies, it stops the program - also when
 * the starter dies before it has read the report "ready". */
static _Noreturn void run_keeper(const char *path, int listen_fd, int exit_wr, pid_t starter,
                                 const struct mgr *m)
{
    sigset_t wake;
    stop_signals(&wake);
    sigaddset(&wake, SIGCHLD);
    signal(SIGCHLD, SIG_DFL); /* not SIG_IGN: we want to reap the program */
    /* A report to a starter that has died is EPIPE, not death by SIGPIPE,
     * which would leave the socket and the directory behind.  (The program
     * gets SIGPIPE's default back before execv.) */
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &wake, NULL);
    int32_t failed = 0;
    int en = 0;
    int ran[2] = { -1, -1 }; /* close-on-exec: end of file once execv worked */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
        failed = 'p', en = errno;
    else if (getppid() != starter)
        failed = 'o';
    int keep[2] = { listen_fd < exit_wr ? listen_fd : exit_wr,
                    listen_fd < exit_wr ? exit_wr : listen_fd };
    if (!failed && close_all_but(keep, 2) == -1)
        failed = 'c', en = errno;
    if (!failed && pipe2(ran, O_CLOEXEC) == -1)
        failed = 'f', en = errno;
    pid_t keeper = getpid(), program = -1;
    if (!failed && (program = fork()) == -1)
        failed = 'f', en = errno;
    if (program == 0) {
        /* The program: fd 3 the listening socket, nothing else open but
         * 0, 1, 2 and `ran` (closed by execv), default signals. */
        char pid_text[24];
        snprintf(pid_text, sizeof pid_text, "%ld", (long)starter);
        char *argv[] = { (char *)path, (char *)m->address, pid_text, NULL };
        int32_t step = 'm';
        /* Every descriptor here is close-on-exec; fd 3 may be any of them,
         * so keep the report's end out of the way before taking fd 3. */
        int report_fd = fcntl(ran[1], F_DUPFD_CLOEXEC, 10);
        if (report_fd == -1)
            report_fd = ran[1];
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1) {
            step = 'p';
        } else if (getppid() == keeper &&
                   /* dup2 clears close-on-exec on fd 3; so must fcntl if
                    * the socket is fd 3 already */
                   (listen_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(listen_fd, 3)) != -1) {
            signal(SIGPIPE, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            execv(path, argv);
            step = 'x';
        }
        report(report_fd, step, errno);
        _exit(127);
    }
    if (!failed) {
        close(ran[1]);
        close(listen_fd);
        struct start_report r;
        ssize_t got;
        while ((got = read(ran[0], &r, sizeof r)) == -1 && errno == EINTR)
            ;
        close(ran[0]);
        if (got == (ssize_t)sizeof r)
            failed = r.what, en = r.value;
    }
    if (failed) {
        if (program > 0)
            while (waitpid(program, NULL, 0) == -1 && errno == EINTR)
                ;
        remove_files(m);
        report(exit_wr, failed, en);
        _exit(1);
    }
    /* Nobody took "ready": the starter died during start-up.  Stop the
     * program at once, as if the starter's death signal had come. */
    bool starter_gone = !report(exit_wr, 'R', (int32_t)program);

    int status = 0;
    for (;;) {
        int sig = starter_gone ? SIGTERM : sigwaitinfo(&wake, NULL);
        if (sig == SIGCHLD) {
            pid_t w = waitpid(program, &status, WNOHANG);
            if (w == program || (w == -1 && errno == ECHILD))
                break;
        } else if (sig != -1) {
            /* The starter died, or the program is being stopped: ask the
             * program to go, then make it. */
            kill(program, SIGTERM);
            sigset_t child;
            sigemptyset(&child);
            sigaddset(&child, SIGCHLD);
            int ms = shutdown_timeout_ms();
            while (waitpid(program, &status, WNOHANG) == 0)
                if (!wait_signal(&child, ms)) {
                    kill(program, SIGKILL);
                    waitpid(program, &status, 0);
                    break;
                }
            break;
        }
    }
    remove_files(m);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* The directory, the listening socket and the exit pipe.  Returns the
 * listening socket, or -1 (mgr_error() says why; nothing left behind). */
static int make_socket(struct mgr *m, int exit_pipe[2])
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    if ((size_t)snprintf(m->dir, sizeof m->dir, "%s/manager-XXXXXX", tmp) >= sizeof m->dir ||
        (size_t)snprintf(m->address, sizeof m->address, "%s/manager-XXXXXX/socket", tmp) >=
            sizeof m->address)
        return mgr_fail("TMPDIR is too long for a socket path");
    /* mkdtemp makes the directory with mode 0700: only our user can reach
     * the socket inside.  (The abstract namespace has no permissions.) */
    if (mkdtemp(m->dir) == NULL)
        return mgr_fail("mkdtemp %s: %s", m->dir, strerror(errno));
    memcpy(m->address, m->dir, strlen(m->dir)); /* the XXXXXX, filled in */

    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", m->address);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(fd, MGR_MAX_CLIENTS) == -1 || pipe2(exit_pipe, O_CLOEXEC) == -1) {
        int en = errno;
        if (fd != -1)
            close(fd);
        remove_files(m);
        return mgr_fail("socket %s: %s", m->address, strerror(en));
    }
    return fd;
}

/* Fork the server side (the built-in server, or the keeper of `path`), and
 * wait for its report. */
static int start_on(struct mgr *m, const char *path, int fd, int exit_pipe[2],
                    const uint8_t *key, size_t key_len);

static int start(struct mgr *m, const char *path)
{
    int exit_pipe[2];
    int fd = make_socket(m, exit_pipe);
    if (fd == -1)
        return -1;
    return start_on(m, path, fd, exit_pipe, NULL, 0);
}

/* The listening socket fd is made: fork the server side on it. */
static int start_on(struct mgr *m, const char *path, int fd, int exit_pipe[2],
                    const uint8_t *key, size_t key_len)
{
    int frame_ms = frame_timeout_ms();

    /* Listening before the fork: when mgr_start returns, a connect() is
     * queued by the kernel even if the server has not reached poll() yet.
     * The server blocks SIGTERM, SIGINT and SIGHUP to take them in its
     * loop; block them across fork() too, so that a Ctrl-C in between
     * cannot kill it before it has, leaving the socket behind. */
    sigset_t stop, old;
    stop_signals(&stop);
    sigprocmask(SIG_BLOCK, &stop, &old);
    pid_t starter = getpid();
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        close(exit_pipe[0]);
        if (path == NULL)
            run_server(fd, exit_pipe[1], starter, frame_ms, m, key, key_len);
        run_keeper(path, fd, exit_pipe[1], starter, m);
    }
    int en = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fd);
    close(exit_pipe[1]);
    if (child == -1) {
        close(exit_pipe[0]);
        remove_files(m);
        return mgr_fail("fork: %s", strerror(en));
    }

    struct start_report r = { 0, 0 };
    ssize_t got;
    while ((got = read(exit_pipe[0], &r, sizeof r)) == -1 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof r && r.what == 'R') {
        m->pid = (pid_t)r.value;
        m->child = child;
        m->owner = starter;
        m->exit_fd = exit_pipe[0];
        return 0;
    }
    close(exit_pipe[0]);
    while (waitpid(child, NULL, 0) == -1 && errno == EINTR)
        ;
    remove_files(m);
    if (got != (ssize_t)sizeof r)
        return mgr_fail("the manager died while starting");
    if (path != NULL && (r.what == 'x' || r.what == 'm'))
        return mgr_fail("cannot run %s: %s", path, strerror(r.value));
    return mgr_fail("starting the manager: %s%s%s", step_name(r.what), r.value ? ": " : "",
                    r.value ? strerror(r.value) : "");
}

/* See manager.h. */
int mgr_start(struct mgr *m)
{
    const char *program = getenv("MGR_SERVER");
    return start(m, program != NULL && *program != '\0' ? program : NULL);
}

/* See manager.h. */
int mgr_start_program(struct mgr *m, const char *path)
{
    return start(m, path);
}

/* See mgr_tcp.h: the built-in server, on a TCP socket, with a key. */
int mgr_start_tcp(struct mgr *m, const char *host_port, const void *key, size_t key_len)
{
    if (key_len == 0)
        return mgr_fail("a TCP manager needs an authkey");
    m->dir[0] = '\0';
    int fd = mgr_tcp_listen(host_port, m->address, sizeof m->address);
    if (fd == -1)
        return -1;
    int exit_pipe[2];
    if (pipe2(exit_pipe, O_CLOEXEC) == -1) {
        int en = errno;
        close(fd);
        return mgr_fail("pipe2: %s", strerror(en));
    }
    /* The starter's proxies (and mgr_shutdown) speak with this key, as a
     * Python BaseManager's proxies use the manager's authkey. */
    proxy_set_authkey(key, key_len);
    return start_on(m, NULL, fd, exit_pipe, key, key_len);
}

/* ============================================================ the end */

/* Wait until fd is readable or `until` (now_ms()) has come: true if it is. */
static bool readable_by(int fd, long long until)
{
    for (;;) {
        long long left = until - now_ms();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n = poll(&p, 1, left > 0 ? (int)left : 0);
        if (n == 1)
            return true;
        if (n == 0 || errno != EINTR)
            return false;
    }
}

/* Send SHUTDOWN and wait for its reply until `until`.  Returns 0 on "ok",
 * or -1 (mgr_error()). */
static int ask_to_stop(const struct mgr *m, long long until)
{
    long long left = until - now_ms();
    int fd = proxy_connect_within(m->address, m->owner, left > 0 ? (int)left : 1);
    if (fd == -1)
        return -1;
    uint8_t frame[512];
    struct mgr_request req = { .op = MGR_OP_SHUTDOWN };
    size_t n = mgr_encode_request(&req, frame, sizeof frame);
    size_t have = 0, want = 4;
    int rc = mgr_write_all(fd, frame, n);
    while (rc == 0 && have < want) {
        if (!readable_by(fd, until)) {
            rc = mgr_fail("the manager did not answer the shutdown in time");
            break;
        }
        ssize_t r = read(fd, frame + have, want - have);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = mgr_fail("the manager closed the connection without answering");
            break;
        }
        have += (size_t)r;
        if (have == 4) {
            uint32_t len = (uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 |
                           (uint32_t)frame[2] << 8 | frame[3];
            if (len == 0 || len > sizeof frame - 4) {
                rc = mgr_fail("bad reply to the shutdown");
                break;
            }
            want = 4 + len;
        }
    }
    close(fd);
    if (rc == -1)
        return -1;
    static struct mgr_reply reply;
    char why[128];
    if (mgr_decode_reply(frame + 4, want - 4, &reply, why, sizeof why) == -1)
        return mgr_fail("bad reply to the shutdown: %s", why);
    if (!reply.ok)
        return mgr_fail("the manager refused to stop: %s: %s", mgr_errname(reply.errcode),
                        reply.message);
    return 0;
}

/* See manager.h: SHUTDOWN, a deadline for the reply and one for the exit,
 * then SIGKILL; reap; remove the files whoever should have. */
int mgr_shutdown(struct mgr *m)
{
    int ms = shutdown_timeout_ms();
    long long until = now_ms() + ms;
    int rc = ask_to_stop(m, until);
    char why[256];
    snprintf(why, sizeof why, "%s", rc == -1 ? mgr_error() : "");
    /* The exit pipe reads end of file once the server side has exited.
     * One that said "ok" is on its way out: it gets its own deadline. */
    if (rc == 0)
        until = now_ms() + ms;
    char byte;
    bool gone = false;
    while (!gone && readable_by(m->exit_fd, until)) {
        ssize_t r = read(m->exit_fd, &byte, 1);
        gone = r == 0 || (r == -1 && errno != EINTR);
    }
    if (!gone) {
        /* Stopped, hung, or it ignored us: SIGKILL works on all of them. */
        kill(m->pid, SIGKILL);
        if (m->child != m->pid && !readable_by(m->exit_fd, now_ms() + ms))
            kill(m->child, SIGKILL); /* the keeper itself is stuck */
        char before[sizeof why];
        snprintf(before, sizeof before, "%s", rc == -1 ? why : "");
        if (snprintf(why, sizeof why, "%.180s%sthe manager did not stop within %d ms: killed it",
                     before, before[0] ? "; " : "", ms) < 0)
            why[0] = '\0';
        rc = -1;
    }
    int status;
    int en = 0;
    while (waitpid(m->child, &status, 0) == -1)
        if (errno != EINTR) {
            en = errno;
            break;
        }
    close(m->exit_fd);
    m->exit_fd = -1;
    remove_files(m); /* a killed server could not */
    if (en != 0)
        return mgr_fail("waitpid on the manager: %s", strerror(en));
    if (rc == -1)
        return mgr_fail("%s", why);
    return 0;
}
