/* mini_queue.c - the queue of lesson 07's server: a get that waits on it.
 *
 * usage: mini_queue          (with its listening socket as descriptor 3)
 *
 * Built together with given/mini_server.c, which is lesson 06's server
 * grown to every kind of object (read given/mini_server.h first).  This
 * file is the queue: q.put(item), and q.get(timeout=...), which - when the
 * queue is empty - must wait on the server without blocking it: the reply
 * is held back (the get is "parked") until a put brings an item or the
 * get's time is up.  The lesson is in README.md; `make check LESSON=07`
 * tests it stage by stage.
 *
 *     MGR_SERVER=build/lessons/07_manager_queue/mini_queue \
 *         build/lessons/07_manager_queue/manager_queue
 *
 * The queue holds at most MGR_MAX_ITEMS items; a put beyond that is
 * answered Full at once (Python's put_nowait() on a full Queue(maxsize)).
 */
#include "mini_server.h"

#include <string.h>

/* The queue's items are q->items[0 .. q->count), oldest first; a queue's
 * id is its index in s->objects.  The server is one process with one
 * thread: nothing here may sleep or wait - a wait is a note in the
 * client's slot (mini_server.h), and a reply sent later. */

void queue_put(struct server *s, struct client *c, struct object *q, struct mgr_value item)
{
    /* TODO 1: q.put(item), and the hand-off.
     *  - Store the item at the back (a full queue: MGR_E_FULL), and answer
     *    the putting client ok.
     *  - If gets are parked on this queue, each item goes to one of them,
     *    the one that has waited longest first, as its reply; that client
     *    is parked no more.  A get parked on another queue gets nothing. */
    (void)s;
    (void)q;
    (void)item;
    reply_error(c, MGR_E_BAD_REQUEST, "queue put: not written yet");
}

void queue_get(struct server *s, struct client *c, struct object *q, int32_t timeout_ms)
{
    /* TODO 2: q.get(timeout=...).
     *  - An item there: answer it at once (the oldest).
     *  - None, and timeout_ms is 0: answer Empty (MGR_E_EMPTY) at once.
     *  - None, otherwise: park the client - send nothing now, and note what
     *    it waits for, and until when (-1: for ever; a deadline on the
     *    monotonic clock, now_ms(), never the wall clock, which can jump).
     *    Return at once: the server goes on serving everyone else. */
    (void)s;
    (void)q;
    (void)timeout_ms;
    reply_error(c, MGR_E_BAD_REQUEST, "queue get: not written yet");
}

int queue_timeout(struct server *s)
{
    /* TODO 3: Empty on time, without spinning.  The given loop calls this
     * before every poll() and sleeps in poll() for as long as it returns.
     *  - A parked get whose deadline has passed: answer it Empty, and it is
     *    parked no more.
     *  - Return the milliseconds until the nearest deadline still ahead,
     *    so that poll() wakes up just for it; -1 when no parked get has a
     *    deadline (poll then waits for a request, however long).  Never a
     *    short fixed timeout "to check now and then": that is polling. */
    (void)s;
    return -1;
}
