/* mini_queue.c - the queue of lesson 07's server: a get that waits on it.
 *
 * usage: mini_queue          (with its listening socket as descriptor 3)
 *
 * Built together with given/mini_server.c, which is lesson 06's server
 * grown to every kind of object (see given/mini_server.h).  This file is
 * the queue: q.put(item), and q.get(timeout=...), which - when the queue
 * is empty - is parked on the server: no reply, no thread, no polling,
 * just a note in the client's slot.  A put hands its item to the get that
 * has waited longest; a deadline that passes first is answered Empty.
 *
 *     MGR_SERVER=build/solutions/07_manager_queue/mini_queue \
 *         build/solutions/07_manager_queue/manager_queue
 *
 * The queue holds at most MGR_MAX_ITEMS items; a put beyond that is
 * answered Full at once (Python's put_nowait() on a full Queue(maxsize)).
 * common/manager.c parks such a put instead, until a get makes room.
 */
#include "mini_server.h"

#include <string.h>

/* The client that has waited longest in a get on queue q, or NULL. */
static struct client *first_parked(struct server *s, const struct object *q)
{
    uint32_t id = (uint32_t)(q - s->objects);
    struct client *first = NULL;
    for (int k = 0; k < MAX_CLIENTS; k++) {
        struct client *c = &s->clients[k];
        if (c->fd != -1 && c->parked && c->park_queue == id &&
            (first == NULL || c->park_order < first->park_order))
            first = c;
    }
    return first;
}

/* Take the oldest item off q. */
static struct mgr_value take(struct object *q)
{
    struct mgr_value v = q->items[0].value;
    q->count--;
    memmove(&q->items[0], &q->items[1], q->count * sizeof q->items[0]);
    return v;
}

void queue_put(struct server *s, struct client *c, struct object *q, struct mgr_value item)
{
    if (q->count == MGR_MAX_ITEMS) {
        reply_error(c, MGR_E_FULL, "the queue holds %d items already", MGR_MAX_ITEMS);
        return;
    }
    q->items[q->count++] = (struct mgr_item){ .key = "", .value = item };
    reply_ok(c);
    /* The hand-off: items to parked gets, oldest first, while both last.
     * (A reply that fails drops that client; the item is sent regardless,
     * as it would be lost with a client that died after receiving it.) */
    struct client *waiting;
    while (q->count > 0 && (waiting = first_parked(s, q)) != NULL) {
        waiting->parked = false;
        reply_value(waiting, take(q));
    }
}

void queue_get(struct server *s, struct client *c, struct object *q, int32_t timeout_ms)
{
    if (q->count > 0) {
        reply_value(c, take(q));
    } else if (timeout_ms == 0) {
        reply_error(c, MGR_E_EMPTY, "the queue is empty");
    } else {
        /* Park: no reply now.  A put or the deadline will answer. */
        c->parked = true;
        c->park_queue = (uint32_t)(q - s->objects);
        c->park_until = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
        c->park_order = ++s->parkings;
    }
}

int queue_timeout(struct server *s)
{
    long long now = now_ms(), next = -1;
    for (int k = 0; k < MAX_CLIENTS; k++) {
        struct client *c = &s->clients[k];
        if (c->fd == -1 || !c->parked || c->park_until < 0)
            continue;
        if (c->park_until <= now) {
            c->parked = false;
            reply_error(c, MGR_E_EMPTY, "nothing arrived on the queue in time");
        } else if (next == -1 || c->park_until - now < next) {
            next = c->park_until - now;
        }
    }
    return (int)next;
}
