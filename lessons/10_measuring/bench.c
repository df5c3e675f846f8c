/* bench.c - what does each way of sharing cost, on this machine?
 *
 * usage: bench [NAME...]       run the benchmarks (all, or those named)
 *        bench stats X...      median, min and max of the numbers X...
 *        bench clock           the clock the measurements use, tried out
 *
 * Each benchmark times a loop of operations: a round trip over a socket or
 * a pipe, a request to the manager, an increment of a shared value.  To be
 * honest about it:
 *   - warm up: the number of operations per run is found by doubling until
 *     one run takes BENCH_MS (200 ms by default) - those runs are not kept;
 *   - repeat: BENCH_RUNS runs (5 by default) of that many operations;
 *   - report the median run, and the fastest and slowest, so one lucky or
 *     unlucky run cannot pass for the truth;
 *   - time only the loop: starting servers and children is left out, and
 *     the clock starts only once every child has said it is ready.
 * BENCH_FORMAT=tsv prints "name<TAB>operations per second" (the median),
 * one line each.  With BENCH_PYTHON=path/to/bench.py and python3 on the
 * PATH, the Python original of each operation is measured too and printed
 * beside the C figure.
 *
 * This is lesson 10's program; `make bench` runs the solution.  Your job:
 * TODO 1 to 3, the clock and the statistics every measurement here rests
 * on.  The lesson is in README.md beside this file.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "checked.h"
#include "errors.h"
#include "manager.h"
#include "process.h"
#include "proxy.h"
#include "shared.h"

#define USAGE "bench [NAME...] | bench stats X... | bench clock"

/* ================================================================ statistics */

struct summary {
    double median, min, max;
};

double now(void);

/* qsort's comparator for doubles: negative, zero or positive as *a is
 * smaller than, equal to or larger than *b. */
int by_value(const void *a, const void *b)
{
    /* TODO 2: compare the two doubles that a and b point to.  The result
     * is an int, but the samples differ by fractions too (0.25 and 0.5 must
     * not come out "equal"). */
    (void)a;
    (void)b;
    return 0;
}

/* The median, the smallest and the largest of n > 0 samples.  The samples
 * are sorted in place; with an even n the median is the mean of the middle
 * two. */
struct summary summarise(double *samples, size_t n)
{
    /* TODO 3: sort the samples (qsort(3) with by_value), then fill in the
     * smallest, the largest and the median: the middle sample when n is
     * odd, the mean of the middle two when n is even.  For now every field
     * is just the first sample. */
    (void)n;
    struct summary s = { samples[0], samples[0], samples[0] };
    return s;
}

/* ================================================================ timing */

/* Seconds on a clock that cannot be set: it only goes forward, at a steady
 * rate, whatever is done to the wall clock (clock_gettime(2)).  Its zero is
 * some moment in the past (on Linux, the boot); only differences matter. */
double now(void)
{
    /* TODO 1: return the time in seconds, with its fraction, on the clock
     * a measurement needs: one that never jumps when somebody sets the
     * wall clock (clock_gettime(2) names it).  Check the call.  For now it
     * is the wall clock in whole seconds - too coarse, and it can jump. */
    return (double)time(NULL);
}

/* A benchmark does `ops` operations and returns the seconds its loop took. */
typedef double (*bench_fn)(long ops);

/* Read or write exactly n bytes (a socket or pipe may do less at once). */
static void read_all(int fd, void *buf, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = read(fd, (char *)buf + done, n - done);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            fatal("read: %s", r == 0 ? "end of file" : strerror(errno));
        done += (size_t)r;
    }
}

static void write_all(int fd, const void *buf, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1)
            err_exit("write");
        done += (size_t)w;
    }
}

/* ================================================================ ping-pong */

/* Two processes pass 16 bytes back and forth over `to` and `from`. */
struct pingpong {
    int to_child, from_child, child_in, child_out;
    long ops;
};

static void echo(void *arg)
{
    struct pingpong *p = arg;
    char msg[16];
    for (long k = 0; k < p->ops + 1; k++) { /* + 1: the untimed first one */
        read_all(p->child_in, msg, sizeof msg);
        write_all(p->child_out, msg, sizeof msg);
    }
}

static double pingpong(struct pingpong *p)
{
    pid_t child = process_start("echo", echo, p);
    char msg[16] = "ping, pong, ping";
    /* One round trip before the clock starts: when it is back, the child
     * is running and waiting in its loop. */
    write_all(p->to_child, msg, sizeof msg);
    read_all(p->from_child, msg, sizeof msg);
    double start = now();
    for (long k = 0; k < p->ops; k++) {
        write_all(p->to_child, msg, sizeof msg);
        read_all(p->from_child, msg, sizeof msg);
    }
    double took = now() - start;
    process_join(child);
    return took;
}

static double socket_pingpong(long ops)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
        err_exit("socketpair");
    struct pingpong p = { sv[0], sv[0], sv[1], sv[1], ops };
    double took = pingpong(&p);
    close(sv[0]);
    close(sv[1]);
    return took;
}

static double pipe_pingpong(long ops)
{
    int down[2], up[2];
    if (pipe(down) == -1 || pipe(up) == -1)
        err_exit("pipe");
    struct pingpong p = { down[1], up[0], down[0], up[1], ops };
    double took = pingpong(&p);
    close(down[0]), close(down[1]), close(up[0]), close(up[1]);
    return took;
}

/* ================================================================ manager */

static double manager_dict(long ops, bool set)
{
    struct mgr m;
    struct proxy d;
    proxy_must(mgr_start(&m));
    proxy_must(proxy_create_dict(&m, &d));
    proxy_must(proxy_dict_set(&d, "key", mgr_int(0)));
    struct mgr_value v;
    double start = now();
    for (long k = 0; k < ops; k++)
        proxy_must(set ? proxy_dict_set(&d, "key", mgr_int(k)) : proxy_dict_get(&d, "key", &v));
    double took = now() - start;
    proxy_must(mgr_shutdown(&m));
    return took;
}

static double manager_dict_set(long ops) { return manager_dict(ops, true); }
static double manager_dict_get(long ops) { return manager_dict(ops, false); }

struct producer {
    struct proxy q;
    long ops;
    int ready; /* write end of a pipe: a byte says "connected, ready" */
    int go;    /* read end of a pipe: start when a byte arrives */
};

static void produce(void *arg)
{
    struct producer *p = arg;
    struct mgr_value v;
    (void)proxy_queue_get(&p->q, 0, &v); /* only to connect now: it is empty */
    write_all(p->ready, "!", 1);
    char go;
    read_all(p->go, &go, 1);
    for (long k = 0; k < p->ops; k++)
        proxy_must(proxy_queue_put(&p->q, mgr_int(k)));
}

/* One producer puts, one consumer (us) gets: ops items pass through. */
static double manager_queue_putget(long ops)
{
    struct mgr m;
    int go[2], ready[2];
    if (pipe(go) == -1 || pipe(ready) == -1)
        err_exit("pipe");
    proxy_must(mgr_start(&m));
    struct producer p = { .ops = ops, .ready = ready[1], .go = go[0] };
    proxy_must(proxy_create_queue(&m, &p.q));
    pid_t child = process_start("producer", produce, &p);
    struct mgr_value v;
    (void)proxy_queue_get(&p.q, 0, &v); /* only to connect first: it is empty */
    char byte;
    read_all(ready[0], &byte, 1); /* the producer is connected too */
    double start = now();
    write_all(go[1], "!", 1);
    for (long k = 0; k < ops; k++)
        proxy_must(proxy_queue_get(&p.q, -1, &v));
    double took = now() - start;
    process_join(child);
    proxy_must(mgr_shutdown(&m));
    close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
    return took;
}

/* ================================================================ shared value */

/* Two processes each add one ops/2 times to one shared counter. */
struct counter {
    pthread_mutex_t lock;
    long value;
    atomic_long atomic;
    long each;
    bool use_atomic;
    int ready;              /* write end of a pipe: a byte says "ready" */
    int go;                 /* read end of a pipe: start when a byte arrives */
    double finished[2];     /* when each adder's loop ended (now()) */
};

struct adder {
    struct counter *c;
    int number;             /* 0 or 1: where to note the end of the loop */
};

static void increment(void *arg)
{
    const struct adder *a = arg;
    struct counter *c = a->c;
    write_all(c->ready, "!", 1);
    char go;
    read_all(c->go, &go, 1);
    for (long k = 0; k < c->each; k++) {
        if (c->use_atomic) {
            atomic_fetch_add(&c->atomic, 1);
        } else {
            Pthread_mutex_lock(&c->lock);
            c->value++;
            Pthread_mutex_unlock(&c->lock);
        }
    }
    /* now()'s clock is one clock for the whole system, so the parent can
     * compare this with its own start: the time of exiting and of being
     * reaped stays out of the measurement. */
    c->finished[a->number] = now();
}

static double shared_increments(long ops, bool use_atomic)
{
    struct counter *c = shared_map(sizeof *c);
    shared_mutex_init(&c->lock, SHARED_MUTEX_PLAIN);
    atomic_init(&c->atomic, 0);
    int go[2], ready[2];
    if (pipe(go) == -1 || pipe(ready) == -1)
        err_exit("pipe");
    c->each = ops / 2;
    c->use_atomic = use_atomic;
    c->ready = ready[1];
    c->go = go[0];

    struct adder adders[2] = { { c, 0 }, { c, 1 } };
    pid_t a = process_start("adder", increment, &adders[0]);
    pid_t b = process_start("adder", increment, &adders[1]);
    char bytes[2];
    read_all(ready[0], bytes, 2); /* both adders are running, at the go */
    double start = now();
    write_all(go[1], "!!", 2);
    process_join(a);
    process_join(b);
    double last = c->finished[0] > c->finished[1] ? c->finished[0] : c->finished[1];
    double took = last - start; /* the loops only: from the go to the last one's end */

    long got = use_atomic ? atomic_load(&c->atomic) : c->value;
    if (got != 2 * c->each)
        fatal("lost updates: %ld, expected %ld", got, 2 * c->each);
    pthread_mutex_destroy(&c->lock);
    shared_unmap(c, sizeof *c);
    close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
    return took;
}

static double value_mutex_incr(long ops) { return shared_increments(ops, false); }
static double value_atomic_incr(long ops) { return shared_increments(ops, true); }

/* ================================================================ driver */

static const struct {
    const char *name;
    bench_fn run;
    const char *what;
} benchmarks[] = {
    { "pipe_pingpong", pipe_pingpong, "16 bytes there and back over two pipes" },
    { "socket_pingpong", socket_pingpong, "16 bytes there and back over a Unix socket" },
    { "manager_dict_set", manager_dict_set, "d['key'] = k through a proxy" },
    { "manager_dict_get", manager_dict_get, "d['key'] through a proxy" },
    { "manager_queue_putget", manager_queue_putget, "q.put() in one process, q.get() in another" },
    { "value_mutex_incr", value_mutex_incr, "2 processes: lock, add one, unlock" },
    { "value_atomic_incr", value_atomic_incr, "2 processes: atomic_fetch_add" },
};
enum { BENCHMARKS = sizeof benchmarks / sizeof benchmarks[0] };

static long env_long(const char *name, long fallback, long min, long max)
{
    const char *text = getenv(name);
    long v;
    if (text == NULL || *text == '\0')
        return fallback;
    if (!parse_long(text, min, max, &v))
        fatal("%s must be a whole number from %ld to %ld, not '%s'", name, min, max, text);
    return v;
}

/* Operations per second: warm-up by doubling, then `runs` timed runs. */
static struct summary measure(bench_fn run, long *ops_out)
{
    double target = (double)env_long("BENCH_MS", 200, 1, 60000) / 1000;
    long runs = env_long("BENCH_RUNS", 5, 1, 101);
    long ops = 256;
    while (run(ops) < target && ops < (1L << 30))
        ops *= 2;
    double rates[101];
    for (long k = 0; k < runs; k++)
        rates[k] = (double)ops / run(ops);
    *ops_out = ops;
    return summarise(rates, (size_t)runs);
}

/* The Python figures, if asked for and python3 is there: name -> ops/s. */
static struct {
    char name[32];
    double rate;
} python[BENCHMARKS];
static int python_count = -1; /* -1: not measured */

static void measure_python(void)
{
    const char *script = getenv("BENCH_PYTHON");
    if (script == NULL || *script == '\0')
        return;
    char command[1024];
    snprintf(command, sizeof command, "command -v python3 >/dev/null && python3 '%s'", script);
    fflush(stdout);
    FILE *p = popen(command, "r");
    if (p == NULL)
        return;
    python_count = 0;
    char line[256];
    while (python_count < BENCHMARKS && fgets(line, sizeof line, p) != NULL)
        if (sscanf(line, "%31s %lf", python[python_count].name, &python[python_count].rate) == 2)
            python_count++;
    pclose(p);
}

static double python_rate(const char *name)
{
    for (int k = 0; k < python_count; k++)
        if (strcmp(python[k].name, name) == 0)
            return python[k].rate;
    return 0;
}

static int run_benchmarks(int argc, char *argv[])
{
    bool tsv = getenv("BENCH_FORMAT") != NULL && strcmp(getenv("BENCH_FORMAT"), "tsv") == 0;
    for (int a = 1; a < argc; a++) {
        bool known = false;
        for (int k = 0; k < BENCHMARKS; k++)
            known |= strcmp(argv[a], benchmarks[k].name) == 0;
        if (!known)
            usage_exit(USAGE, "no benchmark named '%s'", argv[a]);
    }
    if (!tsv)
        measure_python();
    if (!tsv)
        printf("%-22s %14s %25s %18s  %s\n", "benchmark", "ops/s median", "min .. max",
               python_count >= 0 ? "Python ops/s" : "", "what one operation is");
    for (int k = 0; k < BENCHMARKS; k++) {
        bool wanted = argc == 1;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], benchmarks[k].name) == 0;
        if (!wanted)
            continue;
        long ops;
        struct summary s = measure(benchmarks[k].run, &ops);
        if (tsv) {
            printf("%s\t%.0f\n", benchmarks[k].name, s.median);
            fflush(stdout);
            continue;
        }
        char range[64], py[32] = "";
        snprintf(range, sizeof range, "%.0f .. %.0f", s.min, s.max);
        double pr = python_rate(benchmarks[k].name);
        if (python_count >= 0)
            snprintf(py, sizeof py, pr > 0 ? "%.0f (C %.1fx)" : "-", pr, s.median / pr);
        printf("%-22s %14.0f %25s %18s  %s\n", benchmarks[k].name, s.median, range, py,
               benchmarks[k].what);
        fflush(stdout);
    }
    if (!tsv && getenv("BENCH_PYTHON") != NULL && python_count < 0)
        printf("(no python3 here: the Python column is left out)\n");
    return 0;
}

/* bench clock: now() itself, and what it measures over a 50 ms sleep. */
static int show_clock(void)
{
    double before = now();
    struct timespec pause = { 0, 50 * 1000 * 1000 };
    while (nanosleep(&pause, &pause) == -1)
        if (errno != EINTR)
            err_exit("nanosleep");
    double after = now();
    printf("now() %.3f s; a 50 ms sleep measured %.1f ms\n", before, (after - before) * 1000);
    return 0;
}

int main(int argc, char *argv[])
{
    if (argc == 2 && strcmp(argv[1], "clock") == 0)
        return show_clock();
    if (argc >= 2 && strcmp(argv[1], "stats") == 0) {
        if (argc < 3 || argc > 103)
            usage_exit(USAGE, "stats takes 1 to 100 numbers");
        double x[100];
        for (int k = 2; k < argc; k++) {
            char *end;
            x[k - 2] = strtod(argv[k], &end);
            if (*end != '\0' || end == argv[k])
                usage_exit(USAGE, "'%s' is not a number", argv[k]);
        }
        struct summary s = summarise(x, (size_t)(argc - 2));
        printf("median %g, min %g, max %g\n", s.median, s.min, s.max);
        return 0;
    }
    return run_benchmarks(argc, argv);
}
