/* manager_probe.c - send a manager server what no proxy ever would.
 *
 * usage: manager_probe [--server PROGRAM | --self-server] [--cases NAME,NAME...]
 *                      [--brief]
 *        manager_probe --list
 *
 * Starts a manager (the built-in server, or PROGRAM run under the contract
 * of mgr_start_program() in manager.h), stores {'bar': 2, 'foo': 1} in a
 * dict, then runs the cases one after the other, each on connections of
 * its own: garbage, a request cut short, an oversized length, an unknown
 * object, a missing key, clients that hang up or are killed in the middle
 * of a request, another user, and so on (--list names them all, with what
 * each needs of the server).  After each it prints what the server
 * answered and checks, through an ordinary proxy, that the stored data is
 * intact and the server still answers.
 *
 *   --server PROGRAM  probe that program instead of the built-in server
 *   --self-server     probe the built-in server run as a server program
 *                     (this binary, serving through mgr_serve(), started
 *                     by mgr_start() with MGR_SERVER set: the path of
 *                     mgr_start_program() and its keeper)
 *   --cases A,B       run only the cases named (in the order of --list);
 *                     a case needing a queue or a list is for a server
 *                     that has them: leave it out for one that has not
 *   --brief           one line a case, "NAME: passed", "NAME: FAILED: ..."
 *                     or "NAME: skipped: ...", whatever the server's wording
 *   --list            print "NAME<TAB>NEEDS<TAB>WHAT" for every case, exit
 *
 * The full lines (without --brief) are stable for one server:
 * tests/06_manager_dict.sh compares them with the built-in server's.
 * Exit status 0 when every case run passed, 1 if one failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "manager.h"
#include "proxy.h"
#include "say.h"

#define USAGE "manager_probe [--server PROGRAM | --self-server] [--cases NAME,...] [--brief] | --list"
#define WAIT_MS 1000     /* for one answer */
#define CASE_SECONDS 2   /* for one whole case: a server that hangs fails */

static bool self_server; /* --self-server: this binary is the server program */
static struct mgr manager;
static struct proxy dict, queue;
static const char *server_program; /* NULL: the built-in server */
static bool brief;
static char failure[512];          /* why the current case failed, or "" */
static char skipped[256];          /* why it was not run, or "" */

/* ---------------------------------------------------------- verdicts */

static void fail_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_case(const char *fmt, ...)
{
    if (failure[0] != '\0')
        return; /* the first reason is the one to show */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(failure, sizeof failure, fmt, ap);
    va_end(ap);
}

/* A case's full line: printed unless --brief. */
static void show(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void show(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!brief)
        put_line("%s", line);
}

static void skip_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void skip_case(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(skipped, sizeof skipped, fmt, ap);
    va_end(ap);
}

/* CLOCK_MONOTONIC in milliseconds. */
static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start a manager the way this run probes: the built-in server (or
 * $MGR_SERVER's), PROGRAM, or this binary as a server program. */
static int start_manager(struct mgr *m)
{
    if (!self_server)
        return server_program != NULL ? mgr_start_program(m, server_program) : mgr_start(m);
    /* Through $MGR_SERVER, which mgr_start() reads: both ways are tested. */
    setenv("MGR_PROBE_SERVE", "1", 1);
    setenv("MGR_SERVER", "/proc/self/exe", 1);
    int rc = mgr_start(m);
    unsetenv("MGR_PROBE_SERVE");
    unsetenv("MGR_SERVER");
    return rc;
}

/* ---------------------------------------------------------- raw clients */

/* A raw connection of our own to address, outside the proxy machinery;
 * -1 (errno) if there is nobody to connect to. */
static int raw_try_connect(const char *address)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", address);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        err_exit("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        int en = errno;
        close(fd);
        errno = en;
        return -1;
    }
    return fd;
}

/* raw_try_connect(), or end the probe. */
static int raw_connect_to(const char *address)
{
    int fd = raw_try_connect(address);
    if (fd == -1)
        err_exit("connect to %s", address);
    return fd;
}

/* A raw connection to the manager being probed; ends the probe if none. */
static int raw_connect(void)
{
    return raw_connect_to(manager.address);
}

/* Send all n bytes, or end the probe. */
static void raw_send(int fd, const void *bytes, size_t n)
{
    if (mgr_write_all(fd, bytes, n) == -1)
        fatal("%s", mgr_error());
}

/* Read exactly n bytes, waiting at most WAIT_MS for each piece: 0, or -1
 * on end of file, error or time-out.  Unlike mgr_read_frame(), never reads
 * past what it was asked for, so pipelined replies come one at a time. */
static int read_exactly(int fd, uint8_t *buf, size_t n)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (n > 0) {
        if (poll(&p, 1, WAIT_MS) != 1)
            return -1;
        ssize_t r = read(fd, buf, n);
        if (r <= 0)
            return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One reply frame from fd; its payload's length, or -1. */
static long read_one_frame(int fd, uint8_t *frame)
{
    if (read_exactly(fd, frame, 4) == -1)
        return -1;
    uint32_t n = (uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 |
                 (uint32_t)frame[2] << 8 | frame[3];
    if (n == 0 || n > MGR_FRAME_MAX || read_exactly(fd, frame + 4, n) == -1)
        return -1;
    return (long)n;
}

/* What came back on a raw connection. */
struct answer {
    char text[400]; /* "Name: message", "ok", "received 5", "no reply, ..." */
    bool replied;   /* a reply frame came */
    bool ok;        /* ... and it was ok */
    int errcode;    /* ... or this error */
    bool timed_out; /* nothing at all within WAIT_MS */
    bool closed;    /* the connection was closed after it (if checked) */
};

/* What came back on fd within WAIT_MS; then, if check_open, whether the
 * connection was closed after it. */
static void describe_reply(int fd, struct answer *a, bool check_open)
{
    *a = (struct answer){ .replied = false };
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, WAIT_MS) != 1) {
        snprintf(a->text, sizeof a->text, "no answer within %d ms", WAIT_MS);
        a->timed_out = true;
        return;
    }
    static uint8_t frame[4 + MGR_FRAME_MAX];
    static struct mgr_reply reply;
    char why[128];
    long n = read_one_frame(fd, frame);
    if (n == -1) {
        snprintf(a->text, sizeof a->text, "no reply, connection closed");
        a->closed = true;
        return;
    }
    if (mgr_decode_reply(frame + 4, (size_t)n, &reply, why, sizeof why) == -1) {
        snprintf(a->text, sizeof a->text, "undecodable reply: %s", why);
    } else {
        a->replied = true;
        a->ok = reply.ok;
        a->errcode = reply.ok ? 0 : reply.errcode;
        if (reply.ok && reply.count == 1)
            snprintf(a->text, sizeof a->text, "received %s",
                     mgr_format_value(&reply.items[0].value, why, sizeof why));
        else if (reply.ok)
            snprintf(a->text, sizeof a->text, "ok");
        else
            snprintf(a->text, sizeof a->text, "%s: %s", mgr_errname(reply.errcode),
                     reply.message);
    }
    if (!check_open)
        return;
    /* Still open after the reply?  A ping on it is answered; a closed one
     * gives end of file (or EPIPE). */
    struct mgr_request ping = { .op = MGR_OP_PING };
    size_t len = mgr_encode_request(&ping, frame, sizeof frame);
    if (mgr_write_all(fd, frame, len) == -1 || read_one_frame(fd, frame) == -1) {
        strncat(a->text, "; connection closed", sizeof a->text - strlen(a->text) - 1);
        a->closed = true;
    }
}

/* The stored data is still there and the server answers: the line ends
 * with "data intact" or says what is wrong. */
static void check_intact(const char *what, const char *answer)
{
    struct mgr_item items[MGR_MAX_ITEMS];
    size_t n;
    char text[256];
    if (proxy_items(&dict, items, &n) == -1) {
        show("%s: %s; SERVER LOST: %s", what, answer, mgr_error());
        fail_case("%s; then the server was lost: %s", answer, mgr_error());
        return;
    }
    mgr_format_dict(items, n, text, sizeof text);
    if (strcmp(text, "{'bar': 2, 'foo': 1}") != 0) {
        show("%s: %s; DATA CHANGED: %s", what, answer, text);
        fail_case("%s; then the dict was %s, not {'bar': 2, 'foo': 1}", answer, text);
        return;
    }
    show("%s: %s; data intact", what, answer);
}

/* What a case wants of the server's answer to bad bytes. */
enum want {
    WANT_ERROR,    /* an error reply (or the connection closed), not "ok" */
    WANT_CLOSED,   /* the connection closed: the framing is lost */
    WANT_KEYERROR, /* a KeyError reply */
};

/* Fail the case if the answer is not what `want` asks for. */
static void judge(const struct answer *a, enum want want)
{
    if (a->timed_out)
        fail_case("no answer within %d ms: does the server wait for bytes that never come?",
                  WAIT_MS);
    else if (want == WANT_CLOSED && !a->closed)
        fail_case("%s: after a bad length nothing can be trusted; the connection must be "
                  "closed", a->text);
    else if (want == WANT_KEYERROR && !(a->replied && !a->ok && a->errcode == MGR_E_KEY))
        fail_case("%s: a missing key must get a KeyError reply", a->text);
    else if (a->replied && a->ok)
        fail_case("%s: a request the server cannot decode must get an error", a->text);
}

/* Send bytes on a fresh connection, describe the answer, check the data. */
static void probe(const char *what, const void *bytes, size_t n, enum want want)
{
    int fd = raw_connect();
    struct answer a;
    raw_send(fd, bytes, n);
    describe_reply(fd, &a, true);
    close(fd);
    judge(&a, want);
    check_intact(what, a.text);
}

/* A well-formed frame for a request the server must refuse. */
static void probe_request(const char *what, struct mgr_request *r, enum want want)
{
    static uint8_t frame[4 + MGR_FRAME_MAX];
    size_t n = mgr_encode_request(r, frame, sizeof frame);
    probe(what, frame, n, want);
}

/* ---------------------------------------------------------- the cases */

static void case_garbage(void)
{
    probe("garbage", "\0\0\0\x10" "hello, manager!\n", 20, WANT_ERROR);
}

static void case_short_header(void)
{
    probe("a header cut short", "\0\0\0\x03\x0b\0\0", 7, WANT_ERROR);
}

static void case_oversized_length(void)
{
    probe("an oversized length", "\xff\xff\xff\xff" "more", 8, WANT_CLOSED);
}

static void case_empty_frame(void)
{
    probe("an empty frame", "\0\0\0\0", 4, WANT_CLOSED);
}

static void case_long_string(void)
{
    probe("a string longer than it says", "\0\0\0\x08\x0b\0\0\0\x01\x09" "ab", 12, WANT_ERROR);
}

static void case_trailing_bytes(void)
{
    probe("bytes after the request", "\0\0\0\x07\x01\0\0\0\0" "!!", 11, WANT_ERROR);
}

static void case_unknown_object(void)
{
    struct mgr_request r = { .op = MGR_OP_DICT_GET, .id = 99 };
    snprintf(r.key, sizeof r.key, "foo");
    probe_request("an unknown object", &r, WANT_ERROR);
}

static void case_wrong_kind(void)
{
    struct mgr_request r = { .op = MGR_OP_DICT_GET, .id = queue.id };
    snprintf(r.key, sizeof r.key, "foo");
    probe_request("a dict operation on a queue", &r, WANT_ERROR);
}

static void case_missing_key(void)
{
    struct mgr_request r = { .op = MGR_OP_DICT_GET, .id = dict.id };
    snprintf(r.key, sizeof r.key, "nokey");
    probe_request("a missing key", &r, WANT_KEYERROR);
}

static void case_unknown_kind(void)
{
    struct mgr_request r = { .op = MGR_OP_CREATE, .kind = 9 };
    probe_request("an unknown kind of object", &r, WANT_ERROR);
}

/* A child sends the first bytes of a frame, then dies: by hanging up, or
 * by SIGKILL from us while the server waits for the rest. */
static void probe_dying_client(const char *what, bool killed)
{
    int ready[2];
    if (pipe(ready) == -1)
        err_exit("pipe");
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        int fd = raw_connect();
        raw_send(fd, "\0\0\0\x20\x0b\0\0", 7); /* 32 bytes announced, 3 sent */
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        if (killed)
            pause(); /* until the SIGKILL */
        _exit(0);
    }
    char x;
    if (read(ready[0], &x, 1) != 1)
        fatal("the child did not get going");
    if (killed)
        kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(ready[0]);
    close(ready[1]);
    check_intact(what, killed ? "killed" : "hung up");
}

static void case_hangup_mid_request(void)
{
    probe_dying_client("a client that hangs up mid-request", false);
}

static void case_killed_mid_request(void)
{
    probe_dying_client("a client killed mid-request", true);
}

/* A child parks a get on the queue, and is killed there.  The next item put
 * must not go to the dead client: a get of ours receives it. */
static void case_killed_while_parked(void)
{
    int sent[2];
    if (pipe(sent) == -1)
        err_exit("pipe");
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        int fd = raw_connect();
        struct mgr_request r = { .op = MGR_OP_QUEUE_GET, .id = queue.id, .timeout_ms = -1 };
        static uint8_t frame[64];
        raw_send(fd, frame, mgr_encode_request(&r, frame, sizeof frame));
        if (write(sent[1], "x", 1) != 1)
            _exit(1);
        pause(); /* until the SIGKILL */
        _exit(0);
    }
    char x;
    if (read(sent[0], &x, 1) != 1)
        fatal("the child did not get going");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(sent[0]);
    close(sent[1]);
    /* Whether the server parked the get before the child died or reads it
     * only now, the item must come to us, not go to the dead client. */
    struct mgr_value got;
    char answer[128];
    if (proxy_queue_put(&queue, mgr_int(42)) == -1 || proxy_queue_get(&queue, 1000, &got) == -1) {
        snprintf(answer, sizeof answer, "item lost: %s", mgr_error());
        fail_case("%s: was the item handed to the dead client?", answer);
    } else {
        snprintf(answer, sizeof answer, "the next get received %lld", (long long)got.as.i);
        if (got.type != MGR_INT || got.as.i != 42)
            fail_case("%s, not the 42 just put", answer);
    }
    check_intact("client killed while its get was parked", answer);
}

/* One connection parks a get; meanwhile the proxy is served; then a put
 * wakes the parked get with the item. */
static void case_parked_get(void)
{
    int fd = raw_connect();
    struct mgr_request r = { .op = MGR_OP_QUEUE_GET, .id = queue.id, .timeout_ms = -1 };
    static uint8_t frame[64];
    raw_send(fd, frame, mgr_encode_request(&r, frame, sizeof frame));
    struct mgr_value v;
    char answer[600];
    if (proxy_dict_get(&dict, "foo", &v) == -1) {
        snprintf(answer, sizeof answer, "others blocked: %s", mgr_error());
        fail_case("%s", answer);
    } else {
        proxy_must(proxy_queue_put(&queue, mgr_int(5)));
        struct answer woke;
        describe_reply(fd, &woke, true);
        snprintf(answer, sizeof answer, "dict answered while a get was parked; the get then got: %s",
                 woke.text);
        if (strncmp(woke.text, "received 5", 10) != 0)
            fail_case("the parked get, woken by a put of 5, got: %s", woke.text);
    }
    close(fd);
    check_intact("a parked get", answer);
}

/* A put on a full queue waits for room, as Python's Queue(maxsize).put()
 * does: it is answered when a get has taken an item, and its item is last. */
static void case_full_queue_put(void)
{
    for (int k = 0; k < MGR_MAX_ITEMS; k++)
        proxy_must(proxy_queue_put(&queue, mgr_int(k)));
    int fd = raw_connect();
    struct mgr_request r = { .op = MGR_OP_QUEUE_PUT, .id = queue.id, .value = mgr_int(-1) };
    static uint8_t frame[64];
    raw_send(fd, frame, mgr_encode_request(&r, frame, sizeof frame));
    struct mgr_value first, last = mgr_int(0);
    char answer[600];
    struct answer woke;
    proxy_must(proxy_queue_get(&queue, 0, &first));
    describe_reply(fd, &woke, true);
    close(fd);
    for (int k = 1; k <= MGR_MAX_ITEMS; k++)
        proxy_must(proxy_queue_get(&queue, 0, &last));
    snprintf(answer, sizeof answer, "after a get took %lld, the put was answered: %s; "
             "its item came last: %lld", (long long)first.as.i, woke.text, (long long)last.as.i);
    if (!woke.ok || first.as.i != 0 || last.as.i != -1)
        fail_case("%s", answer);
    check_intact("a put on a full queue", answer);
}

/* Two gets in one write: the first waits for ever, the second 50 ms.  One
 * item serves the first; the second must still end in Empty - its deadline
 * counts although it was parked while handling input, not after a poll. */
static void case_pipelined_gets(void)
{
    int fd = raw_connect();
    struct mgr_request r = { .op = MGR_OP_QUEUE_GET, .id = queue.id, .timeout_ms = -1 };
    static uint8_t frames[128];
    size_t n = mgr_encode_request(&r, frames, sizeof frames);
    r.timeout_ms = 50;
    n += mgr_encode_request(&r, frames + n, sizeof frames - n);
    raw_send(fd, frames, n);
    proxy_must(proxy_queue_put(&queue, mgr_int(9)));
    struct answer first, second;
    char answer[900];
    describe_reply(fd, &first, false);
    describe_reply(fd, &second, false);
    close(fd);
    snprintf(answer, sizeof answer, "the first %s; the second: %s", first.text, second.text);
    if (strcmp(first.text, "received 9") != 0 || second.errcode != MGR_E_EMPTY)
        fail_case("%s (wanted 9, then Empty after 50 ms)", answer);
    check_intact("two gets in one write", answer);
}

/* A client sends 40 requests for a long list - more answer than a socket
 * buffer holds - and shuts its side down (SHUT_WR): it will send no more,
 * but it still reads.  It gets all 40 answers. */
static void case_half_close(void)
{
    struct proxy list;
    proxy_must(proxy_create_list(&manager, &list));
    for (int k = 0; k < MGR_MAX_ITEMS; k++)
        proxy_must(proxy_list_append(&list, mgr_str("a string as long as a short string may be, to fill the buffer")));
    int fd = raw_connect();
    struct mgr_request r = { .op = MGR_OP_ITEMS, .id = list.id };
    static uint8_t frames[64];
    size_t one = mgr_encode_request(&r, frames, sizeof frames);
    for (int k = 0; k < 40; k++)
        raw_send(fd, frames, one);
    shutdown(fd, SHUT_WR);
    static uint8_t frame[4 + MGR_FRAME_MAX];
    int replies = 0;
    while (read_one_frame(fd, frame) != -1)
        replies++;
    close(fd);
    char answer[64];
    snprintf(answer, sizeof answer, "%d replies to 40 requests", replies);
    if (replies != 40)
        fail_case("%s: a half-close (SHUT_WR) is the end of the requests, not of the replies",
                  answer);
    check_intact("a client that half-closes", answer);
}

/* A get with a timeout and nothing to get ends in Empty, on time. */
static void case_get_timeout(void)
{
    struct mgr_value v;
    char answer[256];
    if (proxy_queue_get(&queue, 50, &v) == 0) {
        snprintf(answer, sizeof answer, "got an item from an empty queue");
        fail_case("%s", answer);
    } else {
        snprintf(answer, sizeof answer, "%s", mgr_error());
        if (strncmp(answer, "Empty", 5) != 0)
            fail_case("%s: wanted Empty", answer);
    }
    check_intact("get with a 50 ms timeout", answer);
}

/* Become user nobody in a child (root only): 0, or -1 with the reason for
 * skipping in skipped[]. */
static struct passwd *nobody_or_skip(void)
{
    if (geteuid() != 0) {
        skip_case("run as root to test it");
        return NULL;
    }
    struct passwd *nobody = getpwnam("nobody");
    if (nobody == NULL)
        skip_case("no user 'nobody'");
    return nobody;
}

/* A process of another user must not get in.  Needs root to become one. */
static void case_other_user(void)
{
    struct passwd *nobody = nobody_or_skip();
    if (nobody == NULL)
        return;
    int result[2];
    if (pipe(result) == -1)
        err_exit("pipe");
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        int en = 0;
        if (setgid(nobody->pw_gid) == -1 || setuid(nobody->pw_uid) == -1)
            en = -1;
        else {
            struct sockaddr_un addr = { .sun_family = AF_UNIX };
            snprintf(addr.sun_path, sizeof addr.sun_path, "%s", manager.address);
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            en = connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1 ? errno : 0;
        }
        if (write(result[1], &en, sizeof en) != sizeof en)
            _exit(1);
        _exit(0);
    }
    int en;
    if (read(result[0], &en, sizeof en) != sizeof en)
        fatal("no result from the other user's process");
    waitpid(pid, NULL, 0);
    close(result[0]);
    close(result[1]);
    if (en == -1) {
        skip_case("could not become 'nobody'");
    } else if (en == 0) {
        show("another user: CONNECTED - the socket is open to everyone");
        fail_case("a process of user nobody connected: is the directory 0700?");
    } else {
        check_intact("another user", strerror(en));
    }
}

/* A process that is not the starter sends SHUTDOWN: the server must stay. */
static void case_shutdown_by_other(void)
{
    int result[2];
    if (pipe(result) == -1)
        err_exit("pipe");
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        int fd = raw_connect();
        struct mgr_request r = { .op = MGR_OP_SHUTDOWN };
        static uint8_t frame[64];
        raw_send(fd, frame, mgr_encode_request(&r, frame, sizeof frame));
        static struct answer a;
        describe_reply(fd, &a, false);
        if (write(result[1], &a, sizeof a) != sizeof a)
            _exit(1);
        _exit(0);
    }
    static struct answer a;
    if (read(result[0], &a, sizeof a) != sizeof a)
        fatal("no answer from the child that sent SHUTDOWN");
    waitpid(pid, NULL, 0);
    close(result[0]);
    close(result[1]);
    if (a.replied && a.ok)
        fail_case("a process that did not start the server sent SHUTDOWN and got \"ok\": "
                  "obey SHUTDOWN only from the starter (its SO_PEERCRED pid)");
    check_intact("SHUTDOWN from a process that did not start the server", a.text);
}

/* ---------------------------------------------------------- impostors */

/* Listen at address as `user` (NULL: as ourselves) in a child: tell `ready`
 * when listening, then take one connection, count what it sends until it
 * closes (answering "ok" to a whole frame, as the rogue of issue 9 did) and
 * write the count to `result`.  Returns the child's pid. */
static pid_t rogue_listener(const char *address, const struct passwd *user, int ready,
                            int result)
{
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid != 0)
        return pid;
    long got = -1;
    if (user != NULL && (setgid(user->pw_gid) == -1 || setuid(user->pw_uid) == -1))
        _exit(1);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", address);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l == -1 || bind(l, (struct sockaddr *)&addr, sizeof addr) == -1 || listen(l, 4) == -1)
        _exit(1);
    if (write(ready, "x", 1) != 1)
        _exit(1);
    struct pollfd p = { .fd = l, .events = POLLIN };
    if (poll(&p, 1, WAIT_MS) == 1) {
        int fd = accept(l, NULL, NULL);
        uint8_t buf[4096];
        ssize_t r;
        got = 0;
        p.fd = fd;
        while (poll(&p, 1, WAIT_MS) == 1 && (r = read(fd, buf, sizeof buf)) > 0) {
            if (got < 4 && got + r >= 4) { /* pretend: "ok" */
                static uint8_t ok[16];
                size_t n = mgr_encode_ok(NULL, 0, ok, sizeof ok);
                if (write(fd, ok, n) < 0)
                    break;
            }
            got += r;
        }
    }
    unlink(address);
    if (write(result, &got, sizeof got) != sizeof got)
        _exit(1);
    _exit(0);
}

/* A manager that was: started, given a dict, stopped; its proxy kept. */
static void dead_manager(struct mgr *m, struct proxy *p)
{
    proxy_must(start_manager(m));
    proxy_must(proxy_create_dict(m, p));
    proxy_must(mgr_shutdown(m));
    proxy_disconnect();
}

/* Someone listens at the old address of a manager that has stopped; a
 * proxy kept from it sets a "password".  The proxy must refuse before it
 * sends anything: the listener receives 0 bytes. */
static void impostor(const char *what, const struct passwd *user, const char *refusal)
{
    struct mgr old;
    struct proxy p;
    /* Another user reaches the address only in a directory open to all,
     * as /tmp is (a test's TMPDIR is private). */
    char *tmpdir = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    if (user != NULL)
        setenv("TMPDIR", "/tmp", 1);
    dead_manager(&old, &p);
    if (tmpdir != NULL)
        setenv("TMPDIR", tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(tmpdir);
    if (mkdir(old.dir, 0700) == -1)
        err_exit("mkdir %s", old.dir);
    if (user != NULL && chown(old.dir, user->pw_uid, user->pw_gid) == -1)
        err_exit("chown %s", old.dir);
    int ready[2], result[2];
    if (pipe(ready) == -1 || pipe(result) == -1)
        err_exit("pipe");
    pid_t pid = rogue_listener(old.address, user, ready[1], result[1]);
    close(ready[1]);
    close(result[1]);
    char x;
    long got = -1;
    char answer[300];
    if (read(ready[0], &x, 1) != 1) {
        snprintf(answer, sizeof answer, "could not listen there");
        fail_case("%s", answer);
    } else {
        int rc = proxy_dict_set(&p, "password", mgr_str("hunter2"));
        char error[256];
        snprintf(error, sizeof error, "%s", rc == -1 ? mgr_error() : "");
        proxy_disconnect(); /* the rogue sees end of file and reports */
        if (read(result[0], &got, sizeof got) != sizeof got)
            got = -1;
        if (rc == 0)
            fail_case("the proxy sent d['password'] = 'hunter2' to a listener that is not "
                      "the manager, and took its \"ok\": check SO_PEERCRED after connect");
        else if (strstr(error, refusal) == NULL)
            fail_case("the proxy failed, but not with \"...%s\": %s", refusal, error);
        if (got != 0)
            fail_case("the impostor received %ld bytes: refuse before sending", got);
        snprintf(answer, sizeof answer, "the proxy %s; the impostor received %ld bytes",
                 rc == -1 && strstr(error, refusal) ? "refused" : "did not refuse", got);
    }
    waitpid(pid, NULL, 0);
    unlink(old.address);
    rmdir(old.dir);
    close(ready[0]);
    close(result[0]);
    check_intact(what, answer);
}

static void case_impostor(void)
{
    impostor("a listener of our own user at a stopped manager's address", NULL,
             "not the manager");
}

static void case_rogue_server(void)
{
    struct passwd *nobody = nobody_or_skip();
    if (nobody != NULL)
        impostor("user nobody listening at a stopped manager's address", nobody,
                 "not to you: refusing");
}

/* ---------------------------------------------------------- stalls */

/* Read exactly n bytes from a pipe (blocking): 0, or -1. */
static int read_pipe(int fd, char *buf, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, buf, n);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

/* 64 clients each announce a 64 KiB frame, send 100 bytes of it, and stop.
 * An honest client connecting meanwhile must be served at once, not told
 * "too many connections" (and not after the stall deadline). */
static void case_stalled_clients(void)
{
    int stalled[MGR_MAX_CLIENTS];
    static uint8_t start[104] = { 0, 1, 0, 0 }; /* 65536 bytes announced */
    proxy_disconnect(); /* our own connection must not take a slot */
    for (int k = 0; k < MGR_MAX_CLIENTS; k++) {
        stalled[k] = raw_connect();
        raw_send(stalled[k], start, sizeof start);
    }
    long long began = now_ms();
    struct mgr_value v;
    char answer[400];
    int rc = proxy_dict_get(&dict, "foo", &v);
    long long took = now_ms() - began;
    if (rc == -1) {
        snprintf(answer, sizeof answer, "an honest client was refused: %s", mgr_error());
        fail_case("%s - with the table full of stalled clients, make room for newcomers",
                  answer);
    } else {
        snprintf(answer, sizeof answer, "an honest client was served during the attack");
        if (took >= 1000)
            fail_case("the honest client waited %lld ms: was it served only once the "
                      "stalled ones timed out?", took);
    }
    for (int k = 0; k < MGR_MAX_CLIENTS; k++)
        close(stalled[k]);
    check_intact("64 clients stalled mid-frame", answer);
}

/* Wait (up to WAIT_MS) until process pid, a child of ours, sits blocked in
 * system call nr (/proc/PID/syscall): true if it does. */
static bool blocked_in(pid_t pid, long nr)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/syscall", (long)pid);
    for (long long until = now_ms() + WAIT_MS; now_ms() < until;) {
        FILE *f = fopen(path, "r");
        long got = -1;
        if (f != NULL) {
            if (fscanf(f, "%ld", &got) != 1)
                got = -1; /* "running" */
            fclose(f);
        }
        if (got == nr)
            return true;
        sched_yield();
    }
    return false;
}

/* 64 gets parked for ever fill the table.  Each newcomer then evicts the
 * get parked longest (an "Evicted" reply: nothing taken) - here a child's
 * get through a proxy, which sends it again: it must still receive the
 * item put later.  An honest client is served, and mgr_shutdown stops the
 * server cleanly.  On a manager of its own. */
static void case_parked_clients(void)
{
    struct mgr m;
    struct proxy d, q;
    proxy_must(start_manager(&m));
    proxy_must(proxy_create_dict(&m, &d));
    proxy_must(proxy_create_queue(&m, &q));
    proxy_must(proxy_dict_set(&d, "x", mgr_int(7)));
    proxy_disconnect(); /* it must not take a slot */
    int result[2];
    if (pipe(result) == -1)
        err_exit("pipe");
    fflush(stdout);
    pid_t child = fork();
    if (child == -1)
        err_exit("fork");
    if (child == 0) {
        struct mgr_value got = mgr_int(0);
        char text[256];
        if (proxy_queue_get(&q, -1, &got) == 0)
            snprintf(text, sizeof text, "received %lld", (long long)got.as.i);
        else
            snprintf(text, sizeof text, "%s", mgr_error());
        if (write(result[1], text, sizeof text) != sizeof text)
            _exit(1);
        _exit(0);
    }
    /* Its get is sent once it waits for the reply: then it is parked
     * before any of ours, which come on connections made later. */
    bool waiting = blocked_in(child, SYS_recvfrom);
    enum { RAW = MGR_MAX_CLIENTS - 1 };
    int parked[RAW];
    struct mgr_request r = { .op = MGR_OP_QUEUE_GET, .id = q.id, .timeout_ms = -1 };
    static uint8_t frame[64];
    size_t n = mgr_encode_request(&r, frame, sizeof frame);
    for (int k = 0; k < RAW; k++) {
        parked[k] = raw_connect_to(m.address);
        raw_send(parked[k], frame, n);
    }
    struct mgr_value v = mgr_int(0);
    char answer[600], honest[300], woken[256] = "no report";
    if (proxy_dict_get(&d, "x", &v) == -1) {
        snprintf(honest, sizeof honest, "refused: %s", mgr_error());
        fail_case("an honest client, with 64 gets parked, was %s - make room by evicting "
                  "the get parked longest", honest);
    } else {
        snprintf(honest, sizeof honest, "served");
    }
    for (int k = 0; k < RAW; k++)
        close(parked[k]);
    if (proxy_queue_put(&q, mgr_int(5)) == -1)
        fail_case("the put after the parked gets: %s", mgr_error());
    if (read_pipe(result[0], woken, sizeof woken) == -1)
        snprintf(woken, sizeof woken, "no report");
    waitpid(child, NULL, 0);
    close(result[0]);
    close(result[1]);
    if (!waiting)
        fail_case("the child's get was not sent within %d ms", WAIT_MS);
    else if (strcmp(woken, "received 5") != 0)
        fail_case("the proxy's get, evicted to make room, ended with: %s - it must be sent "
                  "again (nothing was taken) and receive the 5 put later", woken);
    proxy_disconnect();
    int rc = mgr_shutdown(&m);
    snprintf(answer, sizeof answer, "an honest client was %s; the proxy's get, evicted, %s; "
             "mgr_shutdown: %s", honest, woken, rc == 0 ? "ok" : mgr_error());
    if (rc == -1)
        fail_case("mgr_shutdown with 63 gets parked: %s - the starter's SHUTDOWN must always "
                  "get in", mgr_error());
    check_intact("64 gets parked for ever", answer);
}


/* More processes use proxies at once than the server has connections:
 * 70 children each make a call and keep their connection, then each makes
 * a second call.  Every call must succeed: a newcomer takes the slot of
 * the idlest connection, whose process connects again at its next call. */
static void case_many_clients(void)
{
    enum { N = MGR_MAX_CLIENTS + 6 };
    int go[2], done[2];
    pid_t pids[N];
    if (pipe(go) == -1 || pipe(done) == -1)
        err_exit("pipe");
    fflush(stdout);
    for (int k = 0; k < N; k++) {
        if ((pids[k] = fork()) == -1)
            err_exit("fork");
        if (pids[k] == 0) {
            struct mgr_value v;
            char ok = proxy_dict_get(&dict, "foo", &v) == 0 ? '1' : '0', x;
            if (write(done[1], &ok, 1) != 1 || read_pipe(go[0], &x, 1) == -1)
                _exit(1);
            ok = proxy_dict_get(&dict, "bar", &v) == 0 ? '1' : '0';
            if (write(done[1], &ok, 1) != 1)
                _exit(1);
            _exit(0);
        }
    }
    char first[N], second[N], go_bytes[N];
    memset(go_bytes, 'g', sizeof go_bytes);
    int failed_first = 0, failed_second = 0;
    if (read_pipe(done[0], first, N) == -1 || write(go[1], go_bytes, N) != N ||
        read_pipe(done[0], second, N) == -1)
        fatal("the %d children did not report", N);
    for (int k = 0; k < N; k++) {
        waitpid(pids[k], NULL, 0);
        failed_first += first[k] != '1';
        failed_second += second[k] != '1';
    }
    close(go[0]), close(go[1]), close(done[0]), close(done[1]);
    char answer[200];
    snprintf(answer, sizeof answer, "%d processes, 2 calls each: %d and %d calls failed", N,
             failed_first, failed_second);
    if (failed_first + failed_second > 0)
        fail_case("%s: with more processes than connections, close an idle one to make "
                  "room (and the proxy must connect again)", answer);
    check_intact("more processes with proxies than connections", answer);
}

/* ---------------------------------------------------------- descriptor limits */

#define LOW_FD_LIMIT 40 /* below 2 + MGR_MAX_CLIENTS */

/* Start a manager whose server runs with RLIMIT_NOFILE's soft limit at
 * `soft` (ours is put back at once).  Returns as start_manager() does. */
static int start_limited(struct mgr *m, rlim_t soft)
{
    struct rlimit was, low;
    if (getrlimit(RLIMIT_NOFILE, &was) == -1)
        err_exit("getrlimit");
    low = was;
    low.rlim_cur = soft;
    if (setrlimit(RLIMIT_NOFILE, &low) == -1)
        err_exit("setrlimit");
    int rc = start_manager(m);
    if (setrlimit(RLIMIT_NOFILE, &was) == -1)
        err_exit("setrlimit");
    return rc;
}

/* A server allowed fewer descriptors than it has slots for clients must
 * still serve: poll(2) refuses (EINVAL) more entries than RLIMIT_NOFILE,
 * even entries of fd -1, so it may be handed only the live ones. */
static void case_low_fd_limit(void)
{
    struct mgr m;
    proxy_must(start_limited(&m, LOW_FD_LIMIT));
    struct proxy d;
    struct mgr_value v = mgr_int(0);
    char answer[400];
    if (proxy_create_dict(&m, &d) == -1 || proxy_dict_set(&d, "x", mgr_int(7)) == -1 ||
        proxy_dict_get(&d, "x", &v) == -1) {
        snprintf(answer, sizeof answer, "the server was lost: %s", mgr_error());
        fail_case("%s - did its poll fail (EINVAL: more entries than RLIMIT_NOFILE) and "
                  "the loop take that for a stop?", answer);
    } else {
        snprintf(answer, sizeof answer, "a dict made, set and read: %lld", (long long)v.as.i);
    }
    proxy_disconnect();
    if (mgr_shutdown(&m) == -1) {
        strncat(answer, "; mgr_shutdown failed", sizeof answer - strlen(answer) - 1);
        fail_case("mgr_shutdown of the limited server: %s", mgr_error());
    }
    char line[128];
    snprintf(line, sizeof line, "a server limited to %d descriptors", LOW_FD_LIMIT);
    check_intact(line, answer);
}

/* A server out of descriptors (EMFILE) treats it as a full table: it
 * closes the idlest connection and takes the newcomer.  63 clients each
 * make one call and stay connected, on a server limited to LOW_FD_LIMIT
 * descriptors; every one is served, then so is an honest proxy. */
static void case_out_of_fds(void)
{
    enum { IDLE = MGR_MAX_CLIENTS - 1 };
    struct mgr m;
    proxy_must(start_limited(&m, LOW_FD_LIMIT));
    int idle[IDLE], served = 0;
    struct mgr_request ping = { .op = MGR_OP_PING };
    static uint8_t request[64];
    size_t n = mgr_encode_request(&ping, request, sizeof request);
    for (int k = 0; k < IDLE; k++) {
        struct answer a = { .ok = false };
        idle[k] = raw_try_connect(m.address);
        if (idle[k] != -1 && mgr_write_all(idle[k], request, n) == 0)
            describe_reply(idle[k], &a, false);
        served += a.ok;
    }
    struct proxy d;
    struct mgr_value v = mgr_int(0);
    char answer[400];
    int rc = proxy_create_dict(&m, &d);
    if (rc == 0)
        rc = proxy_dict_set(&d, "x", mgr_int(7));
    if (rc == 0)
        rc = proxy_dict_get(&d, "x", &v);
    snprintf(answer, sizeof answer, "%d idle clients, %d served; then an honest client: %s",
             IDLE, served, rc == 0 ? "served" : mgr_error());
    if (served != IDLE || rc == -1)
        fail_case("%s - out of descriptors (EMFILE), close the idlest connection as for a "
                  "full table, then accept", answer);
    proxy_disconnect();
    for (int k = 0; k < IDLE; k++)
        if (idle[k] != -1)
            close(idle[k]);
    if (mgr_shutdown(&m) == -1)
        fail_case("mgr_shutdown of the limited server: %s", mgr_error());
    char line[128];
    snprintf(line, sizeof line, "a server out of descriptors (limit %d)", LOW_FD_LIMIT);
    check_intact(line, answer);
}

/* A frame begun and never finished: the connection is closed once the
 * frame timeout has passed - on a manager of its own, started with
 * MGR_FRAME_TIMEOUT_MS=100 (unless set), so that the case is quick. */
static void case_frame_deadline(void)
{
    bool was_set = getenv("MGR_FRAME_TIMEOUT_MS") != NULL;
    if (!was_set)
        setenv("MGR_FRAME_TIMEOUT_MS", "100", 1);
    int ms = atoi(getenv("MGR_FRAME_TIMEOUT_MS"));
    struct mgr m;
    proxy_must(start_manager(&m));
    if (!was_set)
        unsetenv("MGR_FRAME_TIMEOUT_MS");
    int fd = raw_connect_to(m.address);
    raw_send(fd, "\0\0\0\x20\x0b\0\0", 7); /* 32 bytes announced, 3 sent */
    long long began = now_ms();
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char answer[200];
    uint8_t buf[512];
    bool closed = false;
    while (!closed && poll(&p, 1, ms + WAIT_MS - (int)(now_ms() - began)) == 1) {
        ssize_t r = read(fd, buf, sizeof buf);
        closed = r <= 0;
    }
    long long took = now_ms() - began;
    close(fd);
    proxy_must(mgr_shutdown(&m));
    if (!closed) {
        snprintf(answer, sizeof answer, "still open after %d ms", ms + WAIT_MS);
        fail_case("a frame stalled half-sent kept its connection for %d ms: give a partial "
                  "frame a deadline", ms + WAIT_MS);
    } else {
        snprintf(answer, sizeof answer, "closed after the %d ms deadline", ms);
        if (took < ms / 2)
            fail_case("closed after %lld ms, long before the %d ms deadline", took, ms);
    }
    check_intact("a frame stalled half-sent", answer);
}

/* ---------------------------------------------------------- shutdown */

static volatile sig_atomic_t rescue_pid, rescued;

/* Connect to address without blocking until its listen backlog is full
 * (EAGAIN), at most `max` times; the connections go into fds[].  Returns
 * how many were made. */
static int fill_backlog(const char *address, int *fds, int max)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", address);
    int n = 0;
    while (n < max) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd == -1)
            err_exit("socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
            close(fd);
            break;
        }
        fds[n++] = fd;
    }
    return n;
}

/* text, with every `address` in it replaced by "ADDRESS": the line shown
 * is then the same in every run. */
static void mask_address(char *text, size_t size, const char *address)
{
    char *at, rest[512];
    size_t len = strlen(address);
    while (len > 0 && (at = strstr(text, address)) != NULL) {
        snprintf(rest, sizeof rest, "%s", at + len);
        snprintf(at, size - (size_t)(at - text), "ADDRESS%s", rest);
    }
}

/* mgr_shutdown of a server stopped by SIGSTOP must not wait for ever: it
 * gives up after MGR_SHUTDOWN_TIMEOUT_MS (this probe sets 100 ms), kills
 * and reaps the server and removes its files.  The stopped server's listen
 * backlog is full, too: mgr_shutdown's own connect(2) must not wait for
 * ever either.  After 1 s a watchdog kills the server itself so that a
 * hanging mgr_shutdown returns to be judged. */
static void case_stopped_server(void)
{
    struct mgr m;
    proxy_must(start_manager(&m));
    kill(m.pid, SIGSTOP);
    if (m.child == m.pid) /* ours to wait for: make sure it has stopped */
        waitpid(m.pid, NULL, WUNTRACED);
    enum { MAX_BACKLOG = 4 * MGR_MAX_CLIENTS };
    int backlog[MAX_BACKLOG];
    int queued = fill_backlog(m.address, backlog, MAX_BACKLOG);
    rescue_pid = m.pid;
    rescued = 0;
    alarm(1);
    setenv("MGR_SHUTDOWN_TIMEOUT_MS", "100", 1);
    int rc = mgr_shutdown(&m);
    unsetenv("MGR_SHUTDOWN_TIMEOUT_MS");
    alarm(CASE_SECONDS);
    rescue_pid = 0;
    for (int k = 0; k < queued; k++)
        close(backlog[k]);
    char answer[400], error[256];
    snprintf(error, sizeof error, "%s", rc == -1 ? mgr_error() : "");
    mask_address(error, sizeof error, m.address);
    struct stat st;
    bool left = stat(m.dir, &st) == 0;
    if (left) { /* not ours to leave behind */
        unlink(m.address);
        rmdir(m.dir);
    }
    if (rescued)
        fail_case("mgr_shutdown still waited after 1 s for a stopped server with a full "
                  "backlog (freed only by killing the server): give it a deadline - its "
                  "connect(2) too - then SIGKILL");
    else if (queued == MAX_BACKLOG)
        fail_case("%d connections to a stopped server, and the backlog was not full",
                  queued);
    else if (rc != -1)
        fail_case("mgr_shutdown returned 0 for a server it could not stop");
    if (left)
        fail_case("the server's directory %s was left behind", m.dir);
    snprintf(answer, sizeof answer, "mgr_shutdown %s%s%s", rescued ? "hung" :
             rc == -1 ? "gave up in time: " : "returned 0", rescued ? "" : error,
             left ? "; FILES LEFT BEHIND" : "");
    check_intact("a server stopped by SIGSTOP", answer);
}

/* ---------------------------------------------------------- descriptors */

/* How many of pid's descriptors are the file with inode `ino`. */
static int fds_on(pid_t pid, ino_t ino)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    int count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char link[64 + sizeof e->d_name];
        struct stat st;
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.' && stat(link, &st) == 0 && st.st_ino == ino)
            count++;
    }
    closedir(d);
    return count;
}

/* In a child: make close_range(2) fail with ENOSYS, as on Linux before
 * 5.9, by a seccomp filter.  (It does not check the architecture: a test
 * tool's filter.)  Returns 0, or -1 if it cannot be done here. */
static int forbid_close_range(void)
{
#ifdef __NR_close_range
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof filter / sizeof filter[0], filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
        return -1;
    return syscall(__NR_close_range, 1000, 1000, 0) == -1 && errno == ENOSYS ? 0 : -1;
#else
    return -1;
#endif
}

/* A server started while close_range(2) gives ENOSYS must still close the
 * descriptors it inherited: a pipe end open in the starter is not open in
 * the server.  Run in a child, which says by its exit status: 0 none
 * leaked, 1 leaked, 3 not testable here. */
static void case_no_close_range(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        int p[2];
        struct stat st;
        if (forbid_close_range() == -1)
            _exit(3);
        if (pipe(p) == -1 || fstat(p[1], &st) == -1)
            _exit(3);
        struct mgr m;
        proxy_must(start_manager(&m));
        int leaked = fds_on(m.pid, st.st_ino) + (m.child != m.pid ? fds_on(m.child, st.st_ino) : 0);
        proxy_must(mgr_shutdown(&m));
        _exit(leaked ? 1 : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 2;
    const char *answer = "the server holds none of the starter's descriptors";
    if (code == 3) {
        skip_case("cannot make close_range fail here (seccomp)");
        return;
    }
    if (code == 1) {
        answer = "the server holds a pipe of the starter's";
        fail_case("%s: close_range gave ENOSYS and nothing else closed the inherited "
                  "descriptors", answer);
    } else if (code != 0) {
        answer = "the child testing it failed";
        fail_case("%s (status %d)", answer, status);
    }
    check_intact("close_range giving ENOSYS", answer);
}

/* ---------------------------------------------------------- a starter killed */

#define KILLED_STARTERS 20
#define FORCED_KILLS 5 /* of them, killed as they begin to wait for "ready" */

/* The low 32 bits of a system call's argument k, in struct seccomp_data. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LOW(k) (offsetof(struct seccomp_data, args) + 8 * (k))
#else
#define ARG_LOW(k) (offsetof(struct seccomp_data, args) + 8 * (k) + 4)
#endif

/* In a starter, just before mgr_start(): kill this process the moment it
 * reads the 8-byte report "ready" from the exit pipe - that is, once the
 * server side is forked, before it can have reported (it still has to set
 * up, and a keeper to run its program).  The exit pipe's read end will be
 * the second descriptor mgr_start() opens (socket, then pipe2); fds below
 * 10 are filled first so that no descriptor the server side opens after
 * the fork can have that number.  Returns 0, or -1 if it cannot be done. */
static int die_reading_the_report(void)
{
#ifdef __NR_read
    int fd;
    while ((fd = open("/dev/null", O_RDONLY)) != -1 && fd < 10)
        ; /* each kept open: no hole below 10 */
    if (fd == -1)
        return -1;
    int next[3] = { fd, open("/dev/null", O_RDONLY), open("/dev/null", O_RDONLY) };
    if (next[1] == -1 || next[2] == -1)
        return -1;
    uint32_t exit_rd = (uint32_t)next[1]; /* pipe2's first, the read end */
    for (int k = 0; k < 3; k++)
        close(next[k]);
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_read, 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(0)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, exit_rd, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(2)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 8, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof filter / sizeof filter[0], filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
        return -1;
    return 0;
#else
    return -1;
#endif
}

/* What killed_starters() found. */
struct kill_tally {
    int runs;        /* starters killed */
    int before_fork; /* killed before the server side was forked */
    int left;        /* ... after it: the server side left its files */
    int sigpipe;     /* processes of the server side that died of SIGPIPE */
};

/* Remove what is in dir: manager directories (and the sockets in them),
 * and any file (ThreadSanitizer leaves tsan.rodata.PID files of processes
 * that were killed).  Returns how many manager directories there were. */
static int remove_managers(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX + sizeof e->d_name + 8];
        if (strncmp(e->d_name, "manager-", 8) == 0) {
            snprintf(path, sizeof path, "%s/%s/socket", dir, e->d_name);
            unlink(path);
            count++;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (rmdir(path) == -1)
            unlink(path);
    }
    closedir(d);
    return count;
}

/* In a child of the probe, a subreaper (so that every process of a
 * killed starter's server side comes back to it to be reaped): start a
 * manager in a child, the starter, and SIGKILL the starter at moments
 * spread over the time a start takes - measured first, with one start
 * let through; reap everything, see what was left in a TMPDIR of its own.
 * Returns the tally; the probe's alarm() is inherited. */
static struct kill_tally killed_starters(void)
{
    struct kill_tally t = { 0, 0, 0, 0 };
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        err_exit("PR_SET_CHILD_SUBREAPER");
    prctl(PR_SET_TIMERSLACK, 1); /* sleeps of a few microseconds */
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/killed-starters-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        err_exit("mkdtemp %s", dir);
    setenv("TMPDIR", dir, 1);
    long long start_ns = 0;
    for (int run = 0; run <= KILLED_STARTERS; run++) {
        int started[2];
        if (pipe(started) == -1)
            err_exit("pipe");
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t starter = fork();
        if (starter == -1)
            err_exit("fork");
        bool forced = run > 0 && run <= FORCED_KILLS;
        if (starter == 0) {
            struct mgr m;
            close(started[0]);
            if (forced && die_reading_the_report() == -1)
                _exit(3);
            if (start_manager(&m) == 0 && write(started[1], "x", 1) != 1)
                _exit(1);
            pause(); /* until the SIGKILL */
            _exit(0);
        }
        close(started[1]);
        if (run == 0) { /* how long a start takes here, now */
            char x;
            if (read(started[0], &x, 1) != 1)
                fatal("the first starter did not start its manager");
            clock_gettime(CLOCK_MONOTONIC, &t1);
            start_ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
        } else if (forced) {
            /* Killed by the filter, or (if it could not be set up, or a
             * sanitizer's runtime opened a descriptor of its own) it
             * started: then this is one more kill after the start. */
            char x;
            if (read(started[0], &x, 1) == -1)
                err_exit("read");
        } else {
            long long ns = start_ns * (run - FORCED_KILLS - 1) / (KILLED_STARTERS - FORCED_KILLS);
            struct timespec pause_for = { ns / 1000000000, ns % 1000000000 };
            nanosleep(&pause_for, NULL);
        }
        kill(starter, SIGKILL);
        close(started[0]);
        bool forked = false;
        int status;
        for (pid_t w; (w = waitpid(-1, &status, 0)) != -1 || errno == EINTR;) {
            if (w == -1 || w == starter)
                continue;
            forked = true; /* a process of the server side, reaped */
            if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)
                t.sigpipe++;
        }
        int left = remove_managers(dir);
        if (run == 0)
            continue; /* the measurement */
        t.runs++;
        if (!forked)
            t.before_fork += left > 0;
        else if (left > 0)
            t.left++;
    }
    rmdir(dir);
    return t;
}

/* A program whose starter dies during mgr_start() leaves nothing behind:
 * the server side, once forked, stops and removes its socket and its
 * directory - the keeper of a server program too, which must not die of
 * SIGPIPE telling the dead starter "ready".  (A starter killed before the
 * fork may leave its directory: nobody else knows of it - manager.h.) */
static void case_killed_starter(void)
{
    int result[2];
    if (pipe(result) == -1)
        err_exit("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        struct kill_tally t = killed_starters();
        if (write(result[1], &t, sizeof t) != sizeof t)
            _exit(1);
        _exit(0);
    }
    struct kill_tally t = { -1, 0, 0, 0 };
    if (read_pipe(result[0], (char *)&t, sizeof t) == -1)
        fail_case("the child killing starters did not report");
    waitpid(pid, NULL, 0);
    close(result[0]);
    close(result[1]);
    char answer[300];
    snprintf(answer, sizeof answer, "%d starters killed during mgr_start: %s", KILLED_STARTERS,
             t.left == 0 && t.sigpipe == 0 ? "nothing left behind by a server side"
                                           : "FILES LEFT BEHIND");
    if (t.sigpipe > 0)
        fail_case("%d of %d killed starters' server sides died of SIGPIPE (files left: %d): "
                  "the report \"ready\" to a dead starter is EPIPE - ignore SIGPIPE, then "
                  "stop and clean up", t.sigpipe, t.runs, t.left);
    else if (t.left > 0)
        fail_case("%d of %d killed starters left their socket and directory behind, after "
                  "the fork", t.left, t.runs);

    check_intact("a starter killed while starting", answer);
}

/* ---------------------------------------------------------- the table */

struct probe_case {
    const char *name;
    const char *needs; /* what the server must have besides a dict: "queue", "list" */
    void (*run)(void);
    const char *what;
};

static const struct probe_case cases[] = {
    { "garbage", "-", case_garbage, "a frame of text: an error reply" },
    { "short-header", "-", case_short_header, "a request shorter than its header: an error" },
    { "oversized-length", "-", case_oversized_length,
      "a length over MGR_FRAME_MAX: the connection closed" },
    { "empty-frame", "-", case_empty_frame, "a length of 0: the connection closed" },
    { "long-string", "-", case_long_string, "a string running past the frame: an error" },
    { "trailing-bytes", "-", case_trailing_bytes, "bytes after a whole request: an error" },
    { "unknown-object", "-", case_unknown_object, "an object id never made: an error" },
    { "wrong-kind", "queue", case_wrong_kind, "a dict get on a queue: an error" },
    { "missing-key", "-", case_missing_key, "a dict get of a missing key: KeyError" },
    { "unknown-kind", "-", case_unknown_kind, "CREATE of kind 9: an error" },
    { "hangup-mid-request", "-", case_hangup_mid_request,
      "a client hangs up with its frame half sent" },
    { "killed-mid-request", "-", case_killed_mid_request,
      "a client is killed with its frame half sent" },
    { "killed-while-parked", "queue", case_killed_while_parked,
      "a client killed in a parked get does not swallow the next item" },
    { "parked-get", "queue", case_parked_get, "a parked get blocks nobody, a put wakes it" },
    { "full-queue-put", "queue", case_full_queue_put,
      "a put on a full queue waits for a get" },
    { "pipelined-gets", "queue", case_pipelined_gets,
      "two gets in one write: the second times out" },
    { "half-close", "list", case_half_close, "40 requests, then SHUT_WR: 40 replies" },
    { "get-timeout", "queue", case_get_timeout, "a get with a 50 ms timeout: Empty" },
    { "other-user", "-", case_other_user, "user nobody cannot connect (root only)" },
    { "shutdown-by-other", "-", case_shutdown_by_other,
      "SHUTDOWN from a process that did not start the server: refused" },
    { "impostor", "-", case_impostor,
      "our own listener at a stopped manager's address: the proxy refuses" },
    { "rogue-server", "-", case_rogue_server,
      "user nobody's listener there: the proxy refuses, sends 0 bytes (root only)" },
    { "stalled-clients", "-", case_stalled_clients,
      "64 clients stall mid-frame: an honest one is served at once" },
    { "parked-clients", "queue", case_parked_clients,
      "64 gets parked for ever: the longest-parked is evicted, an honest one served" },
    { "many-clients", "-", case_many_clients,
      "70 processes keep connections: each one's two calls succeed" },
    { "low-fd-limit", "-", case_low_fd_limit,
      "a server with RLIMIT_NOFILE 40: it serves, and stops when asked" },
    { "out-of-fds", "-", case_out_of_fds,
      "63 idle clients of a server with RLIMIT_NOFILE 40: all served, then another" },
    { "frame-deadline", "-", case_frame_deadline,
      "a frame stalled half-sent: closed after MGR_FRAME_TIMEOUT_MS" },
    { "stopped-server", "-", case_stopped_server,
      "mgr_shutdown of a SIGSTOPped server, backlog full: gives up, kills, cleans up" },
    { "killed-starter", "-", case_killed_starter,
      "20 starters killed during mgr_start: no server side dies of SIGPIPE, none leaves files" },
    { "no-close-range", "-", case_no_close_range,
      "close_range made ENOSYS: the server still closes inherited fds" },
};
#define NCASES (sizeof cases / sizeof cases[0])

/* A case that hangs (a proxy call to a server that never answers) ends the
 * probe with a line that says which. */
static char hang_line[256];

/* SIGALRM: free a stopped server (case_stopped_server), or say which case
 * hangs and end the probe (its server goes too: PR_SET_PDEATHSIG). */
static void on_alarm(int sig)
{
    (void)sig;
    if (rescue_pid > 0) { /* case_stopped_server's watchdog */
        kill((pid_t)rescue_pid, SIGKILL);
        rescue_pid = 0;
        rescued = 1;
        return;
    }
    if (write(STDOUT_FILENO, hang_line, strlen(hang_line)) < 0) {
        /* nothing left to do */
    }
    _exit(1);
}

int main(int argc, char *argv[])
{
    if (getenv("MGR_PROBE_SERVE") != NULL) {
        /* Run by --self-server as a server program: fd 3, argv[2]. */
        if (argc != 3)
            usage_exit("MGR_PROBE_SERVE=1 manager_probe ADDRESS STARTER_PID",
                       "wrong arguments");
        proxy_must(mgr_serve(3, (pid_t)atol(argv[2])));
        return 0;
    }
    bool selected[NCASES], list = false, any_selected = false;
    for (size_t k = 0; k < NCASES; k++)
        selected[k] = false;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[a], "--brief") == 0) {
            brief = true;
        } else if (strcmp(argv[a], "--self-server") == 0) {
            self_server = true;
        } else if (strcmp(argv[a], "--server") == 0 && a + 1 < argc) {
            server_program = argv[++a];
        } else if (strcmp(argv[a], "--cases") == 0 && a + 1 < argc) {
            char names[1024];
            snprintf(names, sizeof names, "%s", argv[++a]);
            for (char *save, *name = strtok_r(names, ",", &save); name != NULL;
                 name = strtok_r(NULL, ",", &save)) {
                size_t k = 0;
                while (k < NCASES && strcmp(cases[k].name, name) != 0)
                    k++;
                if (k == NCASES)
                    usage_exit(USAGE, "no case named '%s' (--list names them)", name);
                selected[k] = any_selected = true;
            }
        } else {
            usage_exit(USAGE, "unexpected argument '%s'", argv[a]);
        }
    }
    if (list) {
        for (size_t k = 0; k < NCASES; k++)
            printf("%s\t%s\t%s\n", cases[k].name, cases[k].needs, cases[k].what);
        return 0;
    }
    bool need_queue = false;
    for (size_t k = 0; k < NCASES; k++) {
        if (!any_selected)
            selected[k] = true;
        if (selected[k] && strcmp(cases[k].needs, "queue") == 0)
            need_queue = true;
    }

    proxy_must(start_manager(&manager));
    proxy_must(proxy_create_dict(&manager, &dict));
    if (need_queue)
        proxy_must(proxy_create_queue(&manager, &queue));
    proxy_must(proxy_dict_set(&dict, "foo", mgr_int(1)));
    proxy_must(proxy_dict_set(&dict, "bar", mgr_int(2)));

    signal(SIGALRM, on_alarm);
    int failed = 0;
    for (size_t k = 0; k < NCASES; k++) {
        if (!selected[k])
            continue;
        failure[0] = skipped[0] = '\0';
        snprintf(hang_line, sizeof hang_line, "%s: FAILED: no answer within %d s: the "
                 "server hangs\n", cases[k].name, CASE_SECONDS);
        fflush(stdout);
        alarm(CASE_SECONDS);
        cases[k].run();
        alarm(0);
        if (skipped[0] != '\0') {
            if (brief)
                put_line("%s: skipped: %s", cases[k].name, skipped);
            else
                put_line("%s: not tested (%s)", cases[k].name, skipped);
        } else if (failure[0] != '\0') {
            failed++;
            put_line("%s: FAILED: %s", cases[k].name, failure);
        } else if (brief) {
            put_line("%s: passed", cases[k].name);
        }
    }

    proxy_must(mgr_shutdown(&manager));
    return failed ? 1 : 0;
}
