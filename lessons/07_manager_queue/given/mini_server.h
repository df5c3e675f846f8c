/* mini_server.h - lesson 07's server: the given part and the queue part.
 *
 * The program mini_queue is built from two files:
 *
 *     given/mini_server.c   given: the poll(2) loop, accepting and the
 *                           SO_PEERCRED check, the frame reader, and the
 *                           Value, Array, list and dict operations - what
 *                           you wrote for lesson 06's mini_manager, grown
 *                           to every kind of object seed 000 uses
 *     mini_queue.c          yours: the queue, whose get waits on the server
 *
 * This header is what the two share: the server's state, a few helpers the
 * given part offers, and the three functions the queue part provides.
 */
#ifndef MINI_SERVER_H
#define MINI_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgr_wire.h"

#define LISTEN_FD 3     /* the listening socket, made by whoever starts us */
#define MAX_CLIENTS 32
#define MAX_OBJECTS 64

struct client {
    int fd;                         /* -1: a free slot */
    uint8_t in[4 + MGR_FRAME_MAX];  /* bytes received, not yet handled */
    size_t in_len;
    bool hung_up;                   /* the given loop saw it hang up: what it
                                     * sent is still read and done, but no
                                     * reply is sent, and a get of its own is
                                     * not served (nobody to take the item) */

    /* For the queue part: a get that waits on the server.  While `parked`
     * is true the given loop neither reads from this client nor handles
     * the requests it has sent since; it still notices a hang-up, and
     * then drops the client (drop_client() sets parked back to false).
     * The other three fields mean what the queue part makes them mean. */
    bool parked;
    uint32_t park_queue;            /* e.g. which queue it waits on */
    long long park_until;           /* e.g. a deadline in now_ms() time */
    unsigned long park_order;       /* e.g. for first come, first served */
};

struct object {
    enum mgr_kind kind;
    uint8_t typecode;               /* an Array's: 'i' or 'd' */
    struct mgr_value value;         /* a Value's */
    uint32_t count;                 /* items in use ... */
    struct mgr_item items[MGR_MAX_ITEMS]; /* ... of an Array, list, dict or queue */
};

struct server {
    struct client clients[MAX_CLIENTS];
    struct object objects[MAX_OBJECTS + 1]; /* ids 1..object_count; 0 is none */
    uint32_t object_count;
    unsigned long parkings;         /* free for the queue part to count with */
    bool stopping;                  /* a SHUTDOWN was answered */
    struct mgr_request request;     /* the one being handled (large) */
};

/* ------------------------------------------------ given (mini_server.c) */

/* Milliseconds on CLOCK_MONOTONIC: a clock that never jumps (clock_gettime(2)). */
long long now_ms(void);

/* The one reply to the client's request: ok with no items, ok with one
 * value, or an error (code from enum mgr_errcode, message printf-style).
 * Sent at once; a client that cannot take it is dropped (c->fd is -1). */
void reply_ok(struct client *c);
void reply_value(struct client *c, struct mgr_value v);
void reply_error(struct client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------ yours (mini_queue.c) */

/* q.put(item) from client c, on the queue q. */
void queue_put(struct server *s, struct client *c, struct object *q, struct mgr_value item);

/* q.get(timeout=...) from client c, on the queue q: timeout_ms -1 waits
 * for ever, 0 not at all. */
void queue_get(struct server *s, struct client *c, struct object *q, int32_t timeout_ms);

/* Called before every poll(): answer the parked gets whose time is up, and
 * return the timeout for poll() in ms (-1: no deadline to wake up for). */
int queue_timeout(struct server *s);

#endif
