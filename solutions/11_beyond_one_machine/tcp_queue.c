/* tcp_queue.c - lesson 07's program with the manager on TCP, as Python's BaseManager.
 *
 * usage: tcp_queue [ROUNDS]                       one program: a TCP manager
 *                                                 on 127.0.0.1, writer and reader
 *        AUTHKEY=KEY tcp_queue serve HOST:PORT    a manager alone, serving for
 *                                                 ever (PORT 0: the kernel picks)
 *        AUTHKEY=KEY tcp_queue connect HOST:PORT [ROUNDS]
 *                                                 writer and reader, using the
 *                                                 manager at HOST:PORT
 *
 * The same writer and reader as lesson 07, and the same lines; only the
 * manager's address changed: a TCP port instead of a Unix socket, and every
 * connection begins with Python's authkey handshake (mp_auth.h) - the
 * manager challenges each client, each client challenges the manager.
 *
 *     Python (multiprocessing.managers)         C (manager.h, proxy.h)
 *     m = BaseManager(address=(host, port),     mgr_start_tcp(&m, "host:port",
 *                     authkey=key); m.start()                 key, len)
 *     m.get_server().serve_forever()            mgr_serve_tcp("host:port", key, len, ...)
 *     m = BaseManager(address=..., authkey=...) mgr_connect_tcp(&m, "host:port")
 *     m.connect()                               (+ proxy_set_authkey(key, len))
 *
 * `serve` prints "serving on HOST:PORT" (the real port) once it listens,
 * then serves until SIGTERM or SIGINT.  HOST is numeric IPv4; 127.0.0.1
 * unless you name another: a manager reachable from other machines is a
 * decision, not a default.  The one-program form makes a random key, as
 * Python gives every process a random authkey (os.urandom(32)).
 *
 * This program is complete: read it.  The lesson is in README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "digest.h"
#include "errors.h"
#include "manager.h"
#include "mgr_tcp.h"
#include "mp_auth.h"
#include "pace.h"
#include "process.h"
#include "proxy.h"
#include "say.h"

#define USAGE "tcp_queue [ROUNDS] | tcp_queue serve HOST:PORT | tcp_queue connect HOST:PORT [ROUNDS]"

struct shared {
    struct proxy value, array, list, dict, queue;
    struct proxy done; /* the reader's "printed round N" back to the writer */
    int rounds;
};

static int patience_ms(void)
{
    return 2000 + 2 * (int)pace_tick_ms();
}

/* MyProcess1.run(), word for word lesson 07's. */
static void writer(void *arg)
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
        if (proxy_queue_get(&s->done, patience_ms(), &printed) == -1)
            fatal("round %d: no word from the reader: %s", cnt, mgr_error());
        pace_wait(1);
    }
}

/* MyProcess2.run(), word for word lesson 07's. */
static void reader(void *arg)
{
    struct shared *s = arg;
    struct mgr_item items[MGR_MAX_ITEMS];
    char text[2048];
    size_t n;
    for (int round = 0; round < s->rounds; round++) {
        struct mgr_value item, value, slot;
        if (proxy_queue_get(&s->queue, patience_ms(), &item) == -1)
            fatal("round %d: nothing on the queue: %s", round, mgr_error());
        say_stamped("MyProcess2:ValueRead");
        proxy_must(proxy_value_get(&s->value, &value));
        say_stamped("Value %s", mgr_format_value(&value, text, sizeof text));
        proxy_must(proxy_array_get(&s->array, 0, &slot));
        say_stamped("Array %s", mgr_format_value(&slot, text, sizeof text));
        proxy_must(proxy_items(&s->list, items, &n));
        say_stamped("list %s", mgr_format_list(items, n, text, sizeof text));
        proxy_must(proxy_items(&s->dict, items, &n));
        say_stamped("dict %s", mgr_format_dict(items, n, text, sizeof text));
        say_stamped("Queue %s", mgr_format_value(&item, text, sizeof text));
        proxy_must(proxy_queue_put(&s->done, item));
    }
}

/* Make the six objects on the manager m, run writer and reader. */
static int seed_program(const struct mgr *m, int rounds)
{
    struct shared s = { .rounds = rounds };
    struct mgr_value zero_to_nine[10];
    for (int k = 0; k < 10; k++)
        zero_to_nine[k] = mgr_double(k);
    proxy_must(proxy_create_value(m, mgr_int(0), &s.value));
    proxy_must(proxy_create_array(m, 'd', zero_to_nine, 10, &s.array));
    proxy_must(proxy_create_list(m, &s.list));
    proxy_must(proxy_create_dict(m, &s.dict));
    proxy_must(proxy_create_queue(m, &s.queue));
    proxy_must(proxy_create_queue(m, &s.done));
    pid_t w = process_start("MyProcess1", writer, &s);
    pid_t r = process_start("MyProcess2", reader, &s);
    int failed = (process_join(w) != 0) + (process_join(r) != 0);
    return failed ? 1 : 0;
}

/* The key from AUTHKEY, or a usage error. */
static const char *authkey(void)
{
    const char *key = getenv("AUTHKEY");
    if (key == NULL || *key == '\0')
        usage_exit(USAGE, "set AUTHKEY to the manager's authkey");
    if (strlen(key) > MP_KEY_MAX)
        usage_exit(USAGE, "AUTHKEY has more than %d bytes", MP_KEY_MAX);
    return key;
}

static void say_serving(const char *address)
{
    printf("serving on %s\n", address);
    fflush(stdout);
}

int main(int argc, char *argv[])
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        if (argc != 3)
            usage_exit(USAGE, "serve takes HOST:PORT");
        const char *key = authkey();
        if (!mgr_tcp_address_ok(argv[2]))
            usage_exit(USAGE, "'%s' is not a numeric IPv4 HOST:PORT", argv[2]);
        /* get_server().serve_forever() */
        proxy_must(mgr_serve_tcp(argv[2], key, strlen(key), say_serving));
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "connect") == 0) {
        if (argc < 3 || argc > 4)
            usage_exit(USAGE, "connect takes HOST:PORT [ROUNDS]");
        const char *key = authkey();
        int rounds = argc == 4 ? (int)arg_long(argv[3], 1, 200, "ROUNDS", USAGE) : 4;
        pace_tick_ms();
        struct mgr m;
        if (!mgr_tcp_address_ok(argv[2]))
            usage_exit(USAGE, "'%s' is not a numeric IPv4 HOST:PORT", argv[2]);
        proxy_set_authkey(key, strlen(key)); /* current_process().authkey */
        proxy_must(mgr_connect_tcp(&m, argv[2]));
        return seed_program(&m, rounds);
    }
    if (argc > 2)
        usage_exit(USAGE, "too many arguments");
    int rounds = argc == 2 ? (int)arg_long(argv[1], 1, 200, "ROUNDS", USAGE) : 4;
    pace_tick_ms();

    /* Like Python's Manager(): a random authkey for this program and its
     * children, and a server on the loopback interface only. */
    uint8_t key[32];
    if (random_bytes(key, sizeof key) == -1)
        err_exit("getrandom");
    proxy_set_authkey(key, sizeof key);
    struct mgr m;
    proxy_must(mgr_start_tcp(&m, "127.0.0.1:0", key, sizeof key));
    int failed = seed_program(&m, rounds);
    proxy_must(mgr_shutdown(&m));
    return failed;
}
