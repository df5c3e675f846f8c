/* manager_queue.c - one process writes five shared objects, another reads them.
 *
 * usage: manager_queue [ROUNDS]      (default 4, as in the seed's output)
 *        PATIENCE_MS=N in the environment: how long either side waits for
 *        the other before it gives up (default 5000 ms + two ticks)
 *
 * The C version of seed 000: a manager holds a Value, an Array, a list, a
 * dict and a Queue.  Each round the writer (MyProcess1) sets the value and
 * the array's first slot, appends to the list, sets dict['val'] and puts
 * the round's number on the queue.  The reader (MyProcess2) blocks on the
 * queue - the server parks its get until an item arrives - and prints all
 * five.
 *
 * Why the five lines always agree: the writer does not start the next round
 * until the reader has printed this one.  The reader says so on a second
 * queue, `done`; the writer waits there.  (In the seed, a one-second sleep
 * makes this true most of the time; a handshake makes it true every time.)
 *
 * Expected output, per round (timestamps as in the seed):
 *     [2019-12-11 19:16:21] : MyProcess1:ValueWrite
 *     [2019-12-11 19:16:21] : MyProcess2:ValueRead
 *     [2019-12-11 19:16:21] : Value 0
 *     [2019-12-11 19:16:21] : Array 0.0
 *     [2019-12-11 19:16:21] : list [0]
 *     [2019-12-11 19:16:21] : dict {'val': 0}
 *     [2019-12-11 19:16:21] : Queue 0
 */
#include <stdlib.h>

#include "args.h"
#include "errors.h"
#include "manager.h"
#include "pace.h"
#include "process.h"
#include "proxy.h"
#include "say.h"

#define USAGE "manager_queue [ROUNDS]"

/* What both processes get: proxies to the five objects and the handshake. */
struct shared {
    struct proxy value, array, list, dict, queue;
    struct proxy done; /* the reader's "printed round N" back to the writer */
    int rounds;
    int patience_ms;   /* how long either side waits for the other */
};

/* How long either side waits for the other before giving up with an error
 * (instead of hanging): PATIENCE_MS, or longer than a round can take,
 * ticks included. */
static int patience_ms(void)
{
    const char *text = getenv("PATIENCE_MS");
    long ms;
    if (text == NULL)
        return 5000 + 2 * (int)pace_tick_ms();
    if (!parse_long(text, 1, 600000, &ms))
        usage_exit(USAGE, "PATIENCE_MS must be a whole number of ms from 1 to 600000, not '%s'",
                   text);
    return (int)ms;
}

/* MyProcess1.run(): write all five, then wait for the reader's "done". */
void writer(void *arg)
{
    struct shared *s = arg;
    for (int cnt = 0; cnt < s->rounds; cnt++) {
        say_stamped("MyProcess1:ValueWrite");
        proxy_must(proxy_value_set(&s->value, mgr_int(cnt)));
        proxy_must(proxy_array_set(&s->array, 0, mgr_int(cnt)));
        proxy_must(proxy_list_append(&s->list, mgr_int(cnt)));
        proxy_must(proxy_dict_set(&s->dict, "val", mgr_int(cnt)));
        proxy_must(proxy_queue_put(&s->queue, mgr_int(cnt)));

        struct mgr_value printed;
        if (proxy_queue_get(&s->done, s->patience_ms, &printed) == -1)
            fatal("round %d: no word from the reader: %s", cnt, mgr_error());
        pace_wait(1);
    }
}

/* Print the five, as the seed's MyProcess2 does after each get. */
void print_round(const struct shared *s, const struct mgr_value *from_queue)
{
    struct mgr_value value, slot;
    struct mgr_item items[MGR_MAX_ITEMS];
    size_t n;
    char text[2048];

    say_stamped("MyProcess2:ValueRead");
    proxy_must(proxy_value_get(&s->value, &value));
    say_stamped("Value %s", mgr_format_value(&value, text, sizeof text));
    proxy_must(proxy_array_get(&s->array, 0, &slot));
    say_stamped("Array %s", mgr_format_value(&slot, text, sizeof text));
    proxy_must(proxy_items(&s->list, items, &n));
    say_stamped("list %s", mgr_format_list(items, n, text, sizeof text));
    proxy_must(proxy_items(&s->dict, items, &n));
    say_stamped("dict %s", mgr_format_dict(items, n, text, sizeof text));
    say_stamped("Queue %s", mgr_format_value(from_queue, text, sizeof text));
}

/* MyProcess2.run(): block on the queue, print the five, say "done". */
void reader(void *arg)
{
    struct shared *s = arg;
    for (int round = 0; round < s->rounds; round++) {
        struct mgr_value item = mgr_int(-1);
        /* q.get(timeout=...): the server parks this request until the
         * writer's put arrives; no process polls. */
        if (proxy_queue_get(&s->queue, s->patience_ms, &item) == -1)
            fatal("round %d: nothing on the queue: %s", round, mgr_error());
        print_round(s, &item);
        proxy_must(proxy_queue_put(&s->done, item));
    }
}

int main(int argc, char *argv[])
{
    if (argc > 2)
        usage_exit(USAGE, "too many arguments");
    struct shared s = { .rounds = 4 };
    if (argc == 2)
        s.rounds = (int)arg_long(argv[1], 1, 200, "ROUNDS", USAGE);
    pace_tick_ms(); /* a bad TICK_MS is reported here, once */
    s.patience_ms = patience_ms();

    struct mgr manager;
    proxy_must(mgr_start(&manager));
    struct mgr_value zero_to_nine[10];
    for (int k = 0; k < 10; k++)
        zero_to_nine[k] = mgr_double(k);
    proxy_must(proxy_create_value(&manager, mgr_int(0), &s.value));   /* Value('i', 0) */
    proxy_must(proxy_create_array(&manager, 'd', zero_to_nine, 10, &s.array)); /* Array('d', range(10)) */
    proxy_must(proxy_create_list(&manager, &s.list));
    proxy_must(proxy_create_dict(&manager, &s.dict));
    proxy_must(proxy_create_queue(&manager, &s.queue));
    proxy_must(proxy_create_queue(&manager, &s.done));

    pid_t w = process_start("MyProcess1", writer, &s);
    pid_t r = process_start("MyProcess2", reader, &s);
    int failed = (process_join(w) != 0) + (process_join(r) != 0);

    proxy_must(mgr_shutdown(&manager));
    return failed ? 1 : 0;
}
