/* manager_dict.c - two processes fill one dict that a server process owns.
 *
 * usage: manager_dict          the seed's example
 *        manager_dict trap     a copy of the dict is only a copy
 *
 * The C version of seed 002's Manager example.  The dict lives in a manager
 * server (common/manager.c), a process of its own.  The workers and main
 * hold only proxies: a socket address and an object id.  d[key] = value is
 * a request over the socket; the server does it and answers.
 *
 * Expected output (the two Worker lines in either order):
 *     Worker: Setting foo to 1
 *     Worker: Setting bar to 2
 *     Main: Dictionary contents: {'bar': 2, 'foo': 1}
 *
 * Next: lesson 07 adds a queue, a list, a value and an array.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "manager.h"
#include "process.h"
#include "proxy.h"
#include "say.h"

#define USAGE "manager_dict [trap]"

struct job {
    struct proxy d;     /* copied into the child by fork: an address and an id */
    const char *key;
    int value;
};

/* d[key] = value, through the proxy. */
void worker(void *arg)
{
    struct job *job = arg;
    proxy_must(proxy_dict_set(&job->d, job->key, mgr_int(job->value)));
    say("Setting %s to %d", job->key, job->value);
}

/* print('Main: Dictionary contents:', d) */
void print_dict(const char *label, const struct proxy *d)
{
    struct mgr_item items[MGR_MAX_ITEMS];
    size_t n;
    char text[1024];
    proxy_must(proxy_items(d, items, &n));
    say("%s%s", label, mgr_format_dict(items, n, text, sizeof text));
}

/* The nested-object trap: what a proxy hands back is a copy.  Changing the
 * copy changes nothing on the server, as in Python, where d['l'].append(1)
 * appends to a copy of the list that d['l'] returned. */
static void show_trap(const struct proxy *d)
{
    struct mgr_item copy[MGR_MAX_ITEMS];
    size_t n;
    char text[1024];
    proxy_must(proxy_items(d, copy, &n));
    copy[1].value = mgr_int(100); /* copy['foo'] = 100 (keys are sorted) */
    say("changed my copy: %s", mgr_format_dict(copy, n, text, sizeof text));
    print_dict("the manager's:  ", d);
}

/* with multiprocessing.Manager() as manager: ... - the with-statement
 * shuts the manager down however the block ends, an exception included.
 * Here atexit(3) does that: main's every way out (return, fatal(),
 * proxy_must()) goes through exit(), which runs this.  The workers leave
 * with _exit(), which does not, so they never stop their parent's server. */
static struct mgr manager;
static bool manager_running;

static void shut_manager_down(void)
{
    if (manager_running && mgr_shutdown(&manager) == -1)
        fprintf(stderr, "manager_dict: shutting the manager down: %s\n", mgr_error());
    manager_running = false;
}

int main(int argc, char *argv[])
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "trap") != 0))
        usage_exit(USAGE, "unexpected argument '%s'", argv[1]);
    speaker_set("Main");

    proxy_must(mgr_start(&manager)); /* with multiprocessing.Manager() as manager: */
    manager_running = true;
    atexit(shut_manager_down);
    struct job jobs[2] = { { .key = "foo", .value = 1 }, { .key = "bar", .value = 2 } };
    proxy_must(proxy_create_dict(&manager, &jobs[0].d)); /* d = manager.dict() */
    jobs[1].d = jobs[0].d;

    pid_t workers[2];
    for (int k = 0; k < 2; k++)
        workers[k] = process_start("Worker", worker, &jobs[k]);
    int failed = 0;
    for (int k = 0; k < 2; k++) /* join both, even when the first failed */
        failed += process_join(workers[k]) != 0;
    if (failed > 0)
        fatal("%d worker(s) failed", failed);

    print_dict("Dictionary contents: ", &jobs[0].d);
    if (argc == 2)
        show_trap(&jobs[0].d);

    return 0; /* and shut_manager_down() runs */
}
