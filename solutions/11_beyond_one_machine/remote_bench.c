/* remote_bench.c - the manager over a Unix socket, over TCP, and Redis: what each costs here.
 *
 * usage: remote_bench [NAME...]     run the benchmarks (all, or those named)
 *
 * One operation is one request and its reply: d['key'] = k through a
 * proxy (the manager), or HSET (Redis), each on one connection kept open;
 * and, to see the price of the authkey, a whole TCP connect + handshake.
 * Measured as lesson 10 measures: the operations per run are found by
 * doubling until a run takes BENCH_MS (200 ms), then BENCH_RUNS runs (5)
 * are timed and the median, the fastest and the slowest shown.  Starting
 * servers is left out of the timing.  BENCH_FORMAT=tsv prints
 * "name<TAB>median" lines.
 *
 * Redis rows need redis-server on the PATH: the program starts its own,
 * private one (a Unix socket in a fresh folder, a loopback port, nothing
 * saved) and stops it.  Without it, those rows are left out, saying so.
 *
 * Every server here is on this machine: "TCP" is the loopback interface,
 * the kernel's TCP code without a wire.  A real network adds its round-trip
 * time - tens of microseconds in one rack, milliseconds across a city - to
 * every request.  README.md ("What the numbers say") reads the table.
 * This program is complete; `make bench` runs it after lesson 10's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "manager.h"
#include "mgr_tcp.h"
#include "mp_auth_answer.h"
#include "proxy.h"

#define USAGE "remote_bench [NAME...]"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ================================================================ the manager */

static struct mgr unix_mgr, tcp_mgr;
static struct proxy unix_dict, tcp_dict;
static const char KEY[] = "bench key";

static double dict_sets(const struct proxy *d, long ops)
{
    double t0 = now_s();
    for (long k = 0; k < ops; k++)
        proxy_must(proxy_dict_set(d, "key", mgr_int(k)));
    return now_s() - t0;
}

static double manager_unix_dict_set(long ops) { return dict_sets(&unix_dict, ops); }
static double manager_tcp_dict_set(long ops) { return dict_sets(&tcp_dict, ops); }

/* A new connection each time: TCP's three-way handshake, Python's
 * challenge both ways (four frames, two HMACs each side), then close. */
static double manager_tcp_connect(long ops)
{
    struct sockaddr_in a;
    if (mgr_tcp_sockaddr(tcp_mgr.address, &a) == -1)
        fatal("%s", mgr_error());
    double t0 = now_s();
    for (long k = 0; k < ops; k++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd == -1 || connect(fd, (struct sockaddr *)&a, sizeof a) == -1)
            err_exit("connect");
        if (mp_client_handshake(fd, KEY, strlen(KEY)) == -1)
            fatal("%s", mgr_error());
        close(fd);
    }
    return now_s() - t0;
}

/* ================================================================ Redis */

static pid_t redis_pid;
static char redis_dir[80], redis_sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int redis_port;
static int redis_unix_fd = -1, redis_tcp_fd = -1;

/* A port nobody uses right now (the kernel's pick, released again). */
static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof a) == -1 ||
        getsockname(fd, (struct sockaddr *)&a, &len) == -1)
        err_exit("a free port");
    close(fd);
    return ntohs(a.sin_port);
}

static bool have_redis(void)
{
    return system("command -v redis-server >/dev/null 2>&1") == 0;
}

static void start_redis(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(redis_dir, sizeof redis_dir, "%s/redis-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(redis_dir) == NULL)
        err_exit("mkdtemp");
    snprintf(redis_sock, sizeof redis_sock, "%s/redis.sock", redis_dir);
    redis_port = free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    fflush(stdout);
    redis_pid = fork();
    if (redis_pid == -1)
        err_exit("fork");
    if (redis_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", port,
               "--unixsocket", redis_sock, "--unixsocketperm", "700", "--save", "",
               "--appendonly", "no", "--dir", redis_dir, "--logfile", "", (char *)NULL);
        err_exit("exec redis-server");
    }
    /* Wait for both doors, a few seconds at most. */
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    snprintf(un.sun_path, sizeof un.sun_path, "%s", redis_sock);
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)redis_port) };
    for (int tries = 0; tries < 300 && (redis_unix_fd == -1 || redis_tcp_fd == -1); tries++) {
        if (redis_unix_fd == -1) {
            int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (connect(fd, (struct sockaddr *)&un, sizeof un) == 0)
                redis_unix_fd = fd;
            else
                close(fd);
        }
        if (redis_tcp_fd == -1) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (connect(fd, (struct sockaddr *)&in, sizeof in) == 0)
                redis_tcp_fd = fd;
            else
                close(fd);
        }
        usleep(10000);
    }
    if (redis_unix_fd == -1 || redis_tcp_fd == -1)
        fatal("redis-server did not start");
}

static void stop_redis(void)
{
    if (redis_pid <= 0)
        return;
    close(redis_unix_fd);
    close(redis_tcp_fd);
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, NULL, 0);
    unlink(redis_sock);
    rmdir(redis_dir);
    redis_pid = 0;
}

/* HSET bench key k, its RESP written out; the reply is ":0\r\n" or
 * ":1\r\n", read up to its LF. */
static double hsets(int fd, long ops)
{
    char cmd[128], reply[64];
    double t0 = now_s();
    for (long k = 0; k < ops; k++) {
        char num[24];
        int nl = snprintf(num, sizeof num, "%ld", k);
        int n = snprintf(cmd, sizeof cmd, "*4\r\n$4\r\nHSET\r\n$5\r\nbench\r\n$3\r\nkey\r\n$%d\r\n%s\r\n",
                         nl, num);
        if (mgr_write_all(fd, cmd, (size_t)n) == -1)
            fatal("%s", mgr_error());
        size_t got = 0;
        do {
            ssize_t r = read(fd, reply + got, sizeof reply - got);
            if (r <= 0)
                fatal("redis: no reply");
            got += (size_t)r;
        } while (reply[got - 1] != '\n');
        if (reply[0] != ':')
            fatal("redis: %.*s", (int)got, reply);
    }
    return now_s() - t0;
}

static double redis_unix_hset(long ops) { return hsets(redis_unix_fd, ops); }
static double redis_tcp_hset(long ops) { return hsets(redis_tcp_fd, ops); }

/* ================================================================ driver */

static const struct {
    const char *name;
    double (*run)(long ops);
    bool redis;
    const char *what;
} benchmarks[] = {
    { "manager_unix_dict_set", manager_unix_dict_set, false, "d['key'] = k, Unix socket (lesson 10's)" },
    { "manager_tcp_dict_set", manager_tcp_dict_set, false, "d['key'] = k, TCP on 127.0.0.1" },
    { "manager_tcp_connect", manager_tcp_connect, false, "connect + authkey both ways + close" },
    { "redis_unix_hset", redis_unix_hset, true, "HSET bench key k, Unix socket" },
    { "redis_tcp_hset", redis_tcp_hset, true, "HSET bench key k, TCP on 127.0.0.1" },
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

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char *argv[])
{
    for (int a = 1; a < argc; a++) {
        bool known = false;
        for (int k = 0; k < BENCHMARKS; k++)
            known |= strcmp(argv[a], benchmarks[k].name) == 0;
        if (!known)
            usage_exit(USAGE, "no benchmark named '%s'", argv[a]);
    }
    bool tsv = getenv("BENCH_FORMAT") != NULL && strcmp(getenv("BENCH_FORMAT"), "tsv") == 0;
    double target = (double)env_long("BENCH_MS", 200, 1, 60000) / 1000;
    long runs = env_long("BENCH_RUNS", 5, 1, 101);

    proxy_must(mgr_start(&unix_mgr));
    proxy_must(proxy_create_dict(&unix_mgr, &unix_dict));
    proxy_set_authkey(KEY, strlen(KEY));
    proxy_must(mgr_start_tcp(&tcp_mgr, "127.0.0.1:0", KEY, strlen(KEY)));
    proxy_must(proxy_create_dict(&tcp_mgr, &tcp_dict));
    bool redis = have_redis();
    if (redis)
        start_redis();

    if (!tsv)
        printf("%-22s %14s %25s  %s\n", "benchmark", "ops/s median", "min .. max",
               "what one operation is");
    for (int k = 0; k < BENCHMARKS; k++) {
        bool wanted = argc == 1;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], benchmarks[k].name) == 0;
        if (!wanted || (benchmarks[k].redis && !redis))
            continue;
        long ops = 16;
        while (benchmarks[k].run(ops) < target && ops < (1L << 30))
            ops *= 2;
        double rates[101];
        for (long r = 0; r < runs; r++)
            rates[r] = (double)ops / benchmarks[k].run(ops);
        qsort(rates, (size_t)runs, sizeof rates[0], by_value);
        double median = runs % 2 ? rates[runs / 2] : (rates[runs / 2 - 1] + rates[runs / 2]) / 2;
        if (tsv) {
            printf("%s\t%.0f\n", benchmarks[k].name, median);
        } else {
            char range[64];
            snprintf(range, sizeof range, "%.0f .. %.0f", rates[0], rates[runs - 1]);
            printf("%-22s %14.0f %25s  %s\n", benchmarks[k].name, median, range, benchmarks[k].what);
        }
        fflush(stdout);
    }
    if (!redis && !tsv)
        printf("(no redis-server here: the Redis rows are left out; apt-get install redis-server)\n");

    stop_redis();
    proxy_disconnect();
    proxy_must(mgr_shutdown(&tcp_mgr));
    proxy_must(mgr_shutdown(&unix_mgr));
    return 0;
}
