/* stage_client.c - drive a learner's manager server, one stage at a time.
 *
 * usage: stage_client SERVER STAGE
 *
 * Starts the program SERVER with a listening Unix socket as its descriptor
 * 3 (an abstract address: no file to clean up, and no permissions, so that
 * the other-user stage reaches the server's own SO_PEERCRED check), then
 * talks to it byte by byte: frames split at chosen points, two frames in
 * one write, bad lengths, many clients at once, dict requests, parked
 * queue gets.  Lessons 06 (mini_manager) and 07 (mini_queue) test their
 * servers' stages with it.
 *
 * Prints one line per check that held.  The first that does not hold ends
 * it with a line "FAIL: what happened: the likely mistake" and status 1.
 *
 * Stages:
 *   one_request   two_frames   bad_lengths   many_clients   dict_ops
 *   split_frame   other_user   (lesson 06)
 *   queue_now     parked_get   timeout       no_spin        (lesson 07)
 *
 * "The server has read what we sent" is seen with ioctl(SIOCOUTQ), which
 * on a Unix socket counts the bytes the peer has not read yet: a piece of
 * a frame is sent, and the next only once the server has taken it.  Where
 * the server must find several things at once - more bytes than its
 * buffer has room for, or a put and a hang-up in one poll() - it is
 * stopped (SIGSTOP) while they are sent, and let go (SIGCONT) after.  No
 * sleep orders anything here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "mgr_wire.h"

#define USAGE "stage_client SERVER STAGE"

/* How long a reply that is due at once may take (the server has started by
 * then: start_server() waits for it to sleep first). */
#define ANSWER_MS 500
#define ANSWER_TEXT "0.5 s"

static pid_t server = -1;
static struct sockaddr_un address;
static socklen_t address_len;

/* ================================================================ helpers */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        server = -1;
    }
}

/* If the server has died, say how; "" while it runs. */
static const char *server_state(void)
{
    static char text[96];
    int status;
    if (text[0] != '\0' || server <= 0 || waitpid(server, &status, WNOHANG) != server)
        return text;
    server = -1;
    if (WIFSIGNALED(status))
        snprintf(text, sizeof text, " (the server was killed by signal %d: %s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(text, sizeof text, " (the server exited with status %d)", WEXITSTATUS(status));
    return text;
}

static _Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void fail(const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("FAIL: %s%s\n", text, server_state());
    fflush(stdout);
    stop_server();
    exit(1);
}

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void start_server(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        err_exit("socket");
    address.sun_family = AF_UNIX;
    /* Abstract: sun_path[0] is NUL; the name is the bytes after it. */
    int len = snprintf(address.sun_path + 1, sizeof address.sun_path - 1,
                       "stage-client-%ld", (long)getpid());
    address_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    if (bind(fd, (struct sockaddr *)&address, address_len) == -1 || listen(fd, 64) == -1)
        err_exit("bind/listen");
    server = fork();
    if (server == -1)
        err_exit("fork");
    if (server == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* dup2 clears FD_CLOEXEC on the copy; if fd is 3 already, clear it. */
        if ((fd == 3 ? fcntl(fd, F_SETFD, 0) : dup2(fd, 3)) == -1)
            _exit(126);
        /* As mgr_start_program() runs it: a socket path (not used: the
         * socket is descriptor 3) and the starter's pid, ours - the one
         * whose SHUTDOWN the server obeys. */
        char starter[24];
        snprintf(starter, sizeof starter, "%ld", (long)getppid());
        execl(path, path, "@stage-client", starter, (char *)NULL);
        fprintf(stderr, "stage_client: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fd); /* if the server dies, connect() is refused, not queued */

    /* Let it start (a sanitizer build takes a while) before any reply is
     * timed: wait, 1.5 s at most, until it sleeps - in poll(), waiting for
     * its first client - or has ended. */
    char path_stat[64], line[512];
    snprintf(path_stat, sizeof path_stat, "/proc/%ld/stat", (long)server);
    for (long long until = now_ms() + 1500; now_ms() < until;) {
        FILE *f = fopen(path_stat, "r");
        char *p = f != NULL && fgets(line, sizeof line, f) != NULL ? strrchr(line, ')') : NULL;
        if (f != NULL)
            fclose(f);
        if (p == NULL || p[1] == '\0' || p[2] == 'S' || p[2] == 'Z')
            break;
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
    }
}

static int try_connect(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        err_exit("socket");
    if (connect(fd, (struct sockaddr *)&address, address_len) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_server(void)
{
    int fd = try_connect();
    if (fd == -1)
        fail("could not connect to the server: %s", strerror(errno));
    return fd;
}

static void send_bytes(int fd, const void *bytes, size_t n)
{
    if (mgr_write_all(fd, bytes, n) == -1)
        fail("sending to the server: %s: did it close the connection?", mgr_error());
}

/* Stop the server (SIGSTOP, and wait until it has stopped), so that what is
 * sent meanwhile is all there when it runs again: one recv() may then take
 * it all, and one poll() sees data and a hang-up together. */
static void hold_server(void)
{
    int status;
    if (kill(server, SIGSTOP) == -1 || waitpid(server, &status, WUNTRACED) != server)
        fail("could not stop the server for a moment: %s", strerror(errno));
    if (!WIFSTOPPED(status)) {
        server = -1; /* it had ended: its status is taken */
        if (WIFSIGNALED(status))
            fail("the server was killed by signal %d: %s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
        fail("the server exited with status %d", WEXITSTATUS(status));
    }
}

static void release_server(void)
{
    if (kill(server, SIGCONT) == -1)
        fail("could not let the server go on: %s", strerror(errno));
}

/* A process's time so far on a CPU, and waiting for one (ms, from
 * /proc/PID/schedstat: run time, run-queue wait, in ns).  pid 0: this one. */
static void schedstat_ms(pid_t pid, long *run, long *wait)
{
    char path[64];
    unsigned long long r = 0, w = 0;
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/schedstat");
    else
        snprintf(path, sizeof path, "/proc/%ld/schedstat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%llu %llu", &r, &w) != 2)
        fail("cannot read %s", path);
    fclose(f);
    *run = (long)(r / 1000000);
    *wait = (long)(w / 1000000);
}

/* Milliseconds the server and this client have waited for a CPU so far: a
 * time in which neither could answer or notice anything, however correct. */
static long cpu_waits_ms(void)
{
    long run, server_wait, own_wait;
    schedstat_ms(server, &run, &server_wait);
    schedstat_ms(0, &run, &own_wait);
    return server_wait + own_wait;
}

/* Wait until the server has read everything sent on fd (1 s at most).  A
 * server that burns 100 ms of CPU meanwhile, without taking the bytes,
 * spins: poll() reports them again and again and they stay where they are. */
static void wait_consumed_spin(int fd, const char *what, const char *mistake,
                               const char *spinning)
{
    long long start = now_ms(), until = start + 1000;
    long run0, run, wait;
    schedstat_ms(server, &run0, &wait);
    for (;;) {
        int unread = 0;
        if (ioctl(fd, SIOCOUTQ, &unread) == -1)
            err_exit("ioctl SIOCOUTQ");
        if (unread == 0)
            return;
        schedstat_ms(server, &run, &wait);
        if (run - run0 >= 100)
            fail("the server did not take %s (it stayed in the socket), yet it ran %ld ms on the "
                 "CPU in %lld ms: it spins - %s", what, run - run0, now_ms() - start,
                 spinning);
        if (now_ms() > until)
            fail("the server did not read %s within 1 s: %s", what, mistake);
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
    }
}

static void wait_consumed_or(int fd, const char *what, const char *mistake)
{
    wait_consumed_spin(fd, what, mistake,
                       "a recv() with MSG_PEEK, or a return before receiving, leaves the "
                       "bytes unread, and poll() reports them again at once: receive what "
                       "has arrived into the buffer (c->in) and keep it there");
}

static void wait_consumed(int fd, const char *what)
{
    wait_consumed_or(fd, what, "does the poll loop call read_requests() for every client "
                               "that poll() says is readable?");
}

enum { GOT_REPLY = 1, NO_REPLY = 0, CLOSED = -1 };

/* Read exactly n bytes before `until` (ms): GOT_REPLY, NO_REPLY or CLOSED. */
static int read_until(int fd, uint8_t *buf, size_t n, long long until)
{
    while (n > 0) {
        long long left = until - now_ms();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, left < 0 ? 0 : (int)left);
        if (r == -1 && errno == EINTR)
            continue;
        if (r != 1)
            return NO_REPLY;
        ssize_t got = read(fd, buf, n);
        if (got <= 0)
            return CLOSED;
        buf += got;
        n -= (size_t)got;
    }
    return GOT_REPLY;
}

/* One reply frame within ms milliseconds, decoded into *reply. */
static int reply_within(int fd, int ms, struct mgr_reply *reply)
{
    static uint8_t frame[4 + MGR_FRAME_MAX];
    long long until = now_ms() + ms;
    int r = read_until(fd, frame, 4, until);
    if (r != GOT_REPLY)
        return r;
    uint32_t n = (uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 |
                 (uint32_t)frame[2] << 8 | frame[3];
    if (n == 0 || n > MGR_FRAME_MAX)
        fail("the server sent a reply frame of %u bytes: replies are framed like requests "
             "(mgr_encode_ok/mgr_encode_error make whole frames)", (unsigned)n);
    r = read_until(fd, frame + 4, n, until);
    if (r == NO_REPLY)
        fail("the server sent only part of a reply frame");
    if (r == CLOSED)
        fail("the server closed the connection in the middle of a reply");
    char why[128];
    if (mgr_decode_reply(frame + 4, n, reply, why, sizeof why) == -1)
        fail("the server's reply does not decode: %s", why);
    return GOT_REPLY;
}

static struct mgr_reply reply;

/* "ok", "ok with 3 items", "received 5", "KeyError: 'x'" */
static const char *describe(const struct mgr_reply *r)
{
    static char text[400];
    char v[128];
    if (!r->ok)
        snprintf(text, sizeof text, "%s: %s", mgr_errname(r->errcode), r->message);
    else if (r->count == 1 && r->items[0].key[0] == '\0')
        snprintf(text, sizeof text, "received %s", mgr_format_value(&r->items[0].value, v, sizeof v));
    else if (r->count == 0)
        snprintf(text, sizeof text, "ok");
    else
        snprintf(text, sizeof text, "ok with %u items", (unsigned)r->count);
    return text;
}

static size_t encode(const struct mgr_request *r, uint8_t *buf, size_t size)
{
    size_t n = mgr_encode_request(r, buf, size);
    if (n == 0)
        fatal("encode: request does not fit");
    return n;
}

static size_t ping_frame(uint8_t *buf)
{
    struct mgr_request r = { .op = MGR_OP_PING };
    return encode(&r, buf, 64);
}

/* Expect an ok reply with no items (a PING's) on fd within ANSWER_MS. */
static void expect_pong(int fd, const char *what, const char *mistake)
{
    int r = reply_within(fd, ANSWER_MS, &reply);
    if (r == NO_REPLY)
        fail("%s: no reply within " ANSWER_TEXT ": %s", what, mistake);
    if (r == CLOSED)
        fail("%s: the server closed the connection without a reply: %s", what, mistake);
    if (!reply.ok || reply.count != 0)
        fail("%s: the reply was \"%s\", not ok: %s", what, describe(&reply), mistake);
}

/* Lesson 07's bookkeeping, to tell a reply that came too early from one
 * that nobody asked for: the gets sent on each connection and the replies
 * they had, and every item handed out so far (each stage puts distinct
 * items, so one that comes twice was never taken off its queue). */
enum { MAX_FD = 1024, MAX_DELIVERED = 64 };
static int gets_sent[MAX_FD], gets_answered[MAX_FD];
static int64_t delivered[MAX_DELIVERED];
static int delivered_count;

static bool delivered_before(int64_t item)
{
    for (int k = 0; k < delivered_count; k++)
        if (delivered[k] == item)
            return true;
    return false;
}

/* Is this reply an item that was handed out already? */
static bool is_repeated_item(const struct mgr_reply *r)
{
    return r->ok && r->count == 1 && r->items[0].value.type == MGR_INT &&
           delivered_before(r->items[0].value.as.i);
}

static void note_answer(int fd, const struct mgr_reply *r)
{
    if (fd >= 0 && fd < MAX_FD)
        gets_answered[fd]++;
    if (r->ok && r->count == 1 && r->items[0].value.type == MGR_INT &&
        delivered_count < MAX_DELIVERED)
        delivered[delivered_count++] = r->items[0].value.as.i;
}

static _Noreturn void fail_repeated(const char *what)
{
    fail("%s: the server handed out the item %lld a second time: an item handed to a "
         "get (at once, or to a parked one by a put) must be taken off the queue",
         what, (long long)reply.items[0].value.as.i);
}

/* Nothing may have come on fd yet (checked without waiting). */
static void expect_silence(int fd, const char *what, const char *mistake)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 0) == 1) {
        int r = reply_within(fd, 100, &reply);
        if (r == CLOSED)
            fail("%s: the server closed the connection: %s", what, mistake);
        if (r == GOT_REPLY && is_repeated_item(&reply))
            fail_repeated(what);
        if (r == GOT_REPLY && fd < MAX_FD && gets_sent[fd] > 0 &&
            gets_answered[fd] >= gets_sent[fd])
            fail("%s: a reply nobody asked for (\"%s\"): every get this client sent was "
                 "answered already - a get answered twice: unpark it (c->parked = false) "
                 "when you reply to it", what, describe(&reply));
        fail("%s: the server answered \"%s\" too early: %s", what, describe(&reply), mistake);
    }
}

/* One request on fd; its reply within ms (the test's bound). */
static const struct mgr_reply *call(int fd, const struct mgr_request *r, int ms)
{
    static uint8_t frame[4 + MGR_FRAME_MAX];
    send_bytes(fd, frame, encode(r, frame, sizeof frame));
    int got = reply_within(fd, ms, &reply);
    if (got == NO_REPLY)
        fail("request op %u: no reply within %d ms", (unsigned)r->op, ms);
    if (got == CLOSED)
        fail("request op %u: the server closed the connection instead of answering",
             (unsigned)r->op);
    return &reply;
}

static uint32_t create(int fd, enum mgr_kind kind)
{
    struct mgr_request r = { .op = MGR_OP_CREATE, .kind = kind, .value = mgr_int(0) };
    const struct mgr_reply *rep = call(fd, &r, ANSWER_MS);
    if (!rep->ok || rep->count != 1 || rep->items[0].value.type != MGR_INT)
        fail("CREATE was answered \"%s\", not with the new object's id", describe(rep));
    return (uint32_t)rep->items[0].value.as.i;
}

/* ================================================================ lesson 06 */

static const char *FRAME_READER =
    "read_requests() must gather bytes until a whole frame is there, hand its payload "
    "to handle_request(), and keep what follows";

static void stage_one_request(void)
{
    uint8_t frame[64];
    size_t n = ping_frame(frame);
    int fd = connect_server();
    send_bytes(fd, frame, n);
    expect_pong(fd, "a PING sent in one write",
                "does read_requests() recv() the bytes and pass the frame's payload (the "
                "bytes after the 4-byte length) to handle_request()?");
    ok("a PING in one write: answered ok");
    send_bytes(fd, frame, n);
    expect_pong(fd, "a second PING on the same connection, after the first reply",
                "after handling a frame, take it out of the buffer and go on serving "
                "the connection");
    ok("a second PING on the same connection: answered ok");
    close(fd);
}

static void stage_split_frame(void)
{
    uint8_t frame[64];
    size_t n = ping_frame(frame);
    /* Cut points: inside the length, just after it, inside the payload. */
    static const size_t cuts[][4] = { { 1, 2, 3, 0 }, { 4, 0 }, { 2, 6, 0 }, { 7, 0 } };
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        int fd = connect_server();
        size_t from = 0;
        char pieces[64] = "";
        for (const size_t *cut = cuts[k]; *cut != 0; cut++) {
            send_bytes(fd, frame + from, *cut - from);
            wait_consumed(fd, "a piece of a frame");
            expect_silence(fd, "a frame cut short (more bytes still to come)",
                           "one read is not one frame: wait until the length and all "
                           "the bytes it announces are there");
            snprintf(pieces + strlen(pieces), sizeof pieces - strlen(pieces), "%zu+",
                     *cut - from);
            from = *cut;
        }
        send_bytes(fd, frame + from, n - from);
        char what[128];
        snprintf(what, sizeof what, "a PING sent in pieces of %s%zu bytes", pieces, n - from);
        expect_pong(fd, what, "keep the bytes of every read and look for the frame "
                              "again when more arrive");
        ok("%s: answered ok, and only when whole", what);
        close(fd);
    }
}

static void stage_two_frames(void)
{
    uint8_t frames[128];
    size_t one = ping_frame(frames);
    memcpy(frames + one, frames, one);
    int fd = connect_server();
    send_bytes(fd, frames, 2 * one);
    expect_pong(fd, "the first of two PINGs sent in one write", FRAME_READER);
    expect_pong(fd, "the second of two PINGs sent in one write",
                "bytes after a frame are the start of the next one: after handling a "
                "frame, look for another in what is left of the buffer");
    ok("two PINGs in one write: both answered");
    /* A whole frame and the start of the next, then the rest. */
    send_bytes(fd, frames, one + 3);
    wait_consumed(fd, "a frame and 3 bytes of the next");
    expect_pong(fd, "a PING followed by 3 bytes of the next", FRAME_READER);
    expect_silence(fd, "3 bytes of a frame", "the second frame is not whole yet");
    send_bytes(fd, frames + one + 3, one - 3);
    expect_pong(fd, "the rest of the second PING",
                "the 3 bytes after the first frame must be kept (moved to the front of "
                "the buffer), not thrown away");
    ok("a PING and 3 bytes of the next, then the rest: both answered");
    close(fd);
}

/* A bad length: the server must close the connection within ANSWER_MS (an error
 * reply first is welcome), and go on serving others. */
static void expect_refused(const char *what, const void *bytes, size_t n, int pongs,
                           const char *mistake)
{
    int fd = connect_server();
    send_bytes(fd, bytes, n);
    for (int k = 0; k < pongs; k++)
        expect_pong(fd, "a PING before the bad frame", FRAME_READER);
    int r = reply_within(fd, ANSWER_MS, &reply);
    if (r == GOT_REPLY && reply.ok)
        fail("%s: answered \"%s\": %s", what, describe(&reply), mistake);
    if (r == GOT_REPLY)
        r = reply_within(fd, ANSWER_MS, &reply);
    if (r == NO_REPLY)
        fail("%s: the connection was still open " ANSWER_TEXT " later: %s", what, mistake);
    if (r == GOT_REPLY)
        fail("%s: a second reply (\"%s\") instead of closing the connection: %s", what,
             describe(&reply), mistake);
    close(fd);
    int other = connect_server();
    uint8_t ping[64];
    send_bytes(other, ping, ping_frame(ping));
    expect_pong(other, "another client, after that", "only the bad client is dropped");
    close(other);
    ok("%s: connection closed; others still served", what);
}

static void stage_bad_lengths(void)
{
    const char *zero = "a length of 0 is never valid (a request has at least 5 bytes): "
                       "refuse it and close the connection";
    const char *big = "a length over MGR_FRAME_MAX (65536) must be refused at once, before "
                      "waiting for its bytes: close the connection";
    expect_refused("a frame of length 0", "\0\0\0\0", 4, 0, zero);
    expect_refused("a frame of length 0 after a good PING",
                   "\0\0\0\x05\x01\0\0\0\0" "\0\0\0\0", 13, 1, zero);
    expect_refused("a frame of length 4294967295", "\xff\xff\xff\xff" "abcd", 8, 0, big);
    expect_refused("a frame of length 65537", "\0\x01\0\x01" "abcd", 8, 0, big);

    /* 65536 is allowed: a whole frame of it gets an answer, not a close. */
    static uint8_t frame[4 + MGR_FRAME_MAX];
    memset(frame, 0, sizeof frame);
    frame[1] = 0x01;                /* length 65536 */
    frame[4] = MGR_OP_PING;         /* a PING followed by 65531 bytes too many */
    int fd = connect_server();
    if (mgr_write_all(fd, frame, sizeof frame) == -1)
        fail("a frame of exactly 65536 bytes (the most allowed): the server closed the "
             "connection before taking it all: only a length over MGR_FRAME_MAX is refused "
             "(n > MGR_FRAME_MAX, not >=)");
    int r = reply_within(fd, ANSWER_MS, &reply);
    if (r != GOT_REPLY)
        fail("a frame of exactly 65536 bytes (the most allowed): %s: the buffer must hold "
             "4 + MGR_FRAME_MAX bytes, and only n > MGR_FRAME_MAX is refused",
             r == CLOSED ? "connection closed" : "no reply within " ANSWER_TEXT);
    if (reply.ok)
        fail("a frame of 65536 bytes holding a PING and 65531 bytes more: answered ok; "
             "handle_request() must get the payload's whole length");
    uint8_t ping[64];
    const char *most = "65536 is the most allowed, not too long (refuse only n > "
                       "MGR_FRAME_MAX); a frame that does not decode is answered with an "
                       "error, and its framing was fine, so the connection stays open";
    if (mgr_write_all(fd, ping, ping_frame(ping)) == -1)
        fail("a PING after the 65536-byte frame: the server had closed the connection: %s",
             most);
    expect_pong(fd, "a PING after the 65536-byte frame", most);
    close(fd);
    ok("a frame of exactly 65536 bytes: answered (%s), connection kept", "BadRequest");

    /* The same frame, its first 10 bytes first; then, while the server is
     * stopped, the rest and 8 PINGs behind it, so that one recv() could
     * take them all: it must take no more than the buffer has room for. */
    enum { PINGS = 8 };
    static uint8_t rest[sizeof frame + PINGS * 64];
    size_t n = sizeof frame - 10, one = ping_frame(ping);
    memcpy(rest, frame + 10, n);
    for (int k = 0; k < PINGS; k++, n += one)
        memcpy(rest + n, ping, one);
    const char *room = "the buffer overflowed? recv() may take at most the room left in the "
                       "buffer (sizeof c->in - c->in_len), not sizeof c->in";
    fd = connect_server();
    int other = connect_server();
    send_bytes(fd, frame, 10);
    wait_consumed(fd, "the first 10 bytes of a 65536-byte frame");
    hold_server();
    send_bytes(fd, rest, n);
    release_server();
    r = reply_within(fd, ANSWER_MS, &reply);
    if (r != GOT_REPLY || reply.ok)
        fail("a 65536-byte frame sent as 10 bytes, then the rest with %d PINGs behind it: "
             "%s, not an error for the frame: %s", PINGS,
             r == CLOSED ? "the connection was closed" :
             r == NO_REPLY ? "no reply within " ANSWER_TEXT : describe(&reply), room);
    for (int k = 0; k < PINGS; k++)
        expect_pong(fd, "a PING sent right behind a 65536-byte frame", room);
    send_bytes(other, ping, one);
    expect_pong(other, "another client, after a 65536-byte frame and PINGs came in one go",
                room);
    close(fd);
    close(other);
    ok("a 65536-byte frame in two pieces, the second with %d PINGs behind it: all answered, "
       "others still served", PINGS);
}

static void stage_many_clients(void)
{
    enum { N = 20 };
    int fds[N];
    uint8_t frame[64];
    size_t n = ping_frame(frame);
    for (int k = 0; k < N; k++) {
        fds[k] = connect_server();
        send_bytes(fds[k], frame, 7); /* every client mid-frame at once */
        const char *stuck = "is the server stuck reading another client (a loop of recv() "
                            "until that client's frame is whole)? Return, and let poll() say "
                            "when more has come";
        wait_consumed_spin(fds[k], "the start of a client's frame, while others are mid-frame",
                           stuck, stuck);
    }
    /* A client that has sent half a frame must not hold up the others:
     * the newest one finishes first. */
    for (int k = N - 1; k >= 0; k--) {
        send_bytes(fds[k], frame + 7, n - 7);
        expect_pong(fds[k], "a client finishing its PING while 19 others are mid-frame",
                    "each client needs its own buffer, and the server must read only what "
                    "poll() says is there (a loop of recv() until the frame is whole "
                    "blocks everyone else)");
    }
    for (int k = 0; k < N; k++)
        close(fds[k]);
    ok("%d clients, all mid-frame at once, finishing in reverse order: all answered", N);
}

static void dict_set(int fd, uint32_t d, const char *key, struct mgr_value v, const char *what)
{
    struct mgr_request r = { .op = MGR_OP_DICT_SET, .id = d, .value = v };
    snprintf(r.key, sizeof r.key, "%s", key);
    const struct mgr_reply *rep = call(fd, &r, ANSWER_MS);
    if (!rep->ok || rep->count != 0)
        fail("%s: d['%s'] = ... was answered \"%s\", not ok (no items)", what, key,
             describe(rep));
}

static void expect_items(int fd, uint32_t d, const char *want, const char *what)
{
    struct mgr_request r = { .op = MGR_OP_ITEMS, .id = d };
    const struct mgr_reply *rep = call(fd, &r, ANSWER_MS);
    char text[1024];
    if (!rep->ok)
        fail("%s: ITEMS was answered \"%s\"", what, describe(rep));
    mgr_format_dict(rep->items, rep->count, text, sizeof text);
    if (strcmp(text, want) != 0)
        fail("%s: ITEMS gave %s, expected %s (every key with its value, sorted by key)",
             what, text, want);
}

static void stage_dict_ops(void)
{
    int fd = connect_server();
    uint32_t d = create(fd, MGR_DICT), other = create(fd, MGR_DICT);
    uint32_t v = create(fd, MGR_VALUE);
    expect_items(fd, d, "{}", "a new dict");
    dict_set(fd, d, "foo", mgr_int(1), "a new key");
    dict_set(fd, d, "bar", mgr_int(2), "a second key");
    expect_items(fd, d, "{'bar': 2, 'foo': 1}", "after d['foo'] = 1; d['bar'] = 2");
    ok("d['foo'] = 1; d['bar'] = 2; d.items(): {'bar': 2, 'foo': 1}");

    struct mgr_request r = { .op = MGR_OP_DICT_GET, .id = d, .key = "foo" };
    const struct mgr_reply *rep = call(fd, &r, ANSWER_MS);
    if (!rep->ok || rep->count != 1 || rep->items[0].value.type != MGR_INT ||
        rep->items[0].value.as.i != 1)
        fail("d['foo'] was answered \"%s\", expected the value 1", describe(rep));
    snprintf(r.key, sizeof r.key, "nokey");
    rep = call(fd, &r, ANSWER_MS);
    if (rep->ok || rep->errcode != MGR_E_KEY)
        fail("d['nokey'] (a missing key) was answered \"%s\", expected a KeyError "
             "(MGR_E_KEY), as Python raises", describe(rep));
    ok("d['foo']: 1; d['nokey']: %s", describe(rep));

    dict_set(fd, d, "foo", mgr_str("one"), "a key set again");
    expect_items(fd, d, "{'bar': 2, 'foo': 'one'}",
                 "after d['foo'] = 'one' (a key that exists: replace its value)");
    expect_items(fd, other, "{}", "another dict, never set");
    ok("d['foo'] = 'one' replaces: {'bar': 2, 'foo': 'one'}; another dict stays {}");

    r = (struct mgr_request){ .op = MGR_OP_DICT_SET, .id = v, .key = "x", .value = mgr_int(1) };
    rep = call(fd, &r, ANSWER_MS);
    if (rep->ok || rep->errcode != MGR_E_TYPE)
        fail("a dict set on a Value object was answered \"%s\", expected TypeError "
             "(object_of() checks the kind)", describe(rep));
    r = (struct mgr_request){ .op = MGR_OP_ITEMS, .id = 99 };
    rep = call(fd, &r, ANSWER_MS);
    if (rep->ok || rep->errcode != MGR_E_NO_OBJECT)
        fail("ITEMS on object 99 (none) was answered \"%s\", expected NoSuchObject",
             describe(rep));
    ok("a dict operation on a Value: TypeError; on no object: NoSuchObject");

    /* Fill a third dict beyond its room: an error, never an overflow. */
    uint32_t full = create(fd, MGR_DICT);
    char key[16];
    for (int k = 0; k < MGR_MAX_ITEMS; k++) {
        snprintf(key, sizeof key, "k%03d", k);
        dict_set(fd, full, key, mgr_int(k), "filling a dict to MGR_MAX_ITEMS keys");
    }
    r = (struct mgr_request){ .op = MGR_OP_DICT_SET, .id = full, .key = "one-too-many",
                              .value = mgr_int(0) };
    rep = call(fd, &r, ANSWER_MS);
    char refusal[400];
    snprintf(refusal, sizeof refusal, "%s", describe(rep));
    if (rep->ok)
        fail("key number %d was accepted: a dict holds MGR_MAX_ITEMS (%d) keys; the next "
             "new key must get an error (Full), not overflow the array",
             MGR_MAX_ITEMS + 1, MGR_MAX_ITEMS);
    dict_set(fd, full, "k000", mgr_int(-1), "an existing key of a full dict");
    expect_items(fd, d, "{'bar': 2, 'foo': 'one'}", "the first dict, after another filled up");
    ok("key %d of a full dict: %s; existing keys still settable", MGR_MAX_ITEMS + 1,
       refusal);
    close(fd);
}

/* A process of user nobody, still in the server's group, connects (the
 * abstract address has no permissions: only SO_PEERCRED can keep it out). */
static void other_user_refused(void);

/* SHUTDOWN: refused from another process of our user (a child), obeyed from
 * the one that started the server (us: its argv[2]), which then ends. */
static void shutdown_only_from_starter(void)
{
    const char *peer_of = "from_starter() compares the pid that peer_of() gives with the "
                          "starter's: does peer_of() fill in *cred with getsockopt(fd, "
                          "SOL_SOCKET, SO_PEERCRED, ...) and return true when that worked?";
    uint8_t frame[64];
    struct mgr_request shutdown = { .op = MGR_OP_SHUTDOWN };
    size_t n = encode(&shutdown, frame, sizeof frame);
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        server = -1; /* not this process's to stop, whatever happens */
        int fd = try_connect();
        char verdict = 'c';
        if (fd != -1 && send(fd, frame, n, MSG_NOSIGNAL) == (ssize_t)n) {
            int r = reply_within(fd, ANSWER_MS, &reply);
            verdict = r == NO_REPLY ? 'n' : r == CLOSED ? 'x' : reply.ok ? 'o' :
                      reply.errcode == MGR_E_PERMISSION ? 'p' : 'e';
        }
        _exit(verdict);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        fatal("the process that sent a SHUTDOWN of its own did not end normally");
    switch (WEXITSTATUS(status)) {
    case 'o':
        fail("a SHUTDOWN from a process that did not start the server was obeyed: only the "
             "starter's is (from_starter())");
    case 'p':
        break;
    default:
        fail("a SHUTDOWN from a process that did not start the server: no PermissionError "
             "(%c): the given dispatch() refuses it when from_starter() says no",
             WEXITSTATUS(status));
    }
    int fd = connect_server();
    send_bytes(fd, frame, n);
    int r = reply_within(fd, ANSWER_MS, &reply);
    if (r == NO_REPLY || r == CLOSED)
        fail("a SHUTDOWN from the process that started the server: %s: %s",
             r == CLOSED ? "the connection was closed" : "no reply within " ANSWER_TEXT, peer_of);
    if (!reply.ok)
        fail("a SHUTDOWN from the process that started the server was refused (\"%s\"): %s",
             describe(&reply), peer_of);
    long long until = now_ms() + 1000;
    while (waitpid(server, &status, WNOHANG) != server) {
        if (now_ms() > until)
            fail("a SHUTDOWN was answered ok, but the server still ran 1 s later");
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
    }
    server = -1;
    close(fd);
    ok("SHUTDOWN: refused from another process (PermissionError), obeyed from the starter");
}

static void stage_other_user(void)
{
    if (geteuid() == 0 && getpwnam("nobody") != NULL)
        other_user_refused();
    shutdown_only_from_starter();
    if (geteuid() != 0)
        ok("SKIP: not root, cannot become another user to connect");
    else if (getpwnam("nobody") == NULL)
        ok("SKIP: no user 'nobody'");
}

static void other_user_refused(void)
{
    struct passwd *nobody = getpwnam("nobody");
    int result[2];
    if (pipe(result) == -1)
        err_exit("pipe");
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        char verdict = '?';
        /* Only the user changes; the group stays the server's, so that a
         * check of the group (gid) instead of the user lets it in. */
        if (setuid(nobody->pw_uid) == 0) {
            int fd = try_connect();
            uint8_t frame[64];
            size_t n = ping_frame(frame);
            if (fd == -1)
                verdict = 'c'; /* could not connect */
            else if (send(fd, frame, n, MSG_NOSIGNAL) != (ssize_t)n)
                verdict = 'r';
            else {
                int r = reply_within(fd, ANSWER_MS, &reply);
                verdict = r == NO_REPLY ? 'n' : (r == CLOSED || !reply.ok) ? 'r' : 'a';
            }
        }
        if (write(result[1], &verdict, 1) != 1)
            _exit(1);
        _exit(0);
    }
    char verdict;
    if (read(result[0], &verdict, 1) != 1)
        fatal("no word from the other user's process");
    waitpid(pid, NULL, 0);
    close(result[0]);
    close(result[1]);
    if (verdict == '?')
        fail("could not become user nobody to test");
    if (verdict == 'a')
        fail("a process of user nobody (in the server's own group) was served (its PING "
             "answered ok): peer_allowed() must ask the kernel who is on the other end "
             "(getsockopt SO_PEERCRED) and refuse a uid other than the server's own "
             "(geteuid()) - the user, not the group");
    if (verdict == 'n')
        fail("a process of user nobody got no answer and no close within " ANSWER_TEXT ": refuse it "
             "at once (peer_allowed() false: the server closes the connection)");
    int fd = connect_server();
    uint8_t frame[64];
    send_bytes(fd, frame, ping_frame(frame));
    expect_pong(fd, "our own PING, after that", "only the other user is refused");
    close(fd);
    ok("a process of user nobody: refused; our own user: served");
}

/* ================================================================ lesson 07 */

static void queue_put(int fd, uint32_t q, int64_t item, const char *what)
{
    struct mgr_request r = { .op = MGR_OP_QUEUE_PUT, .id = q, .value = mgr_int(item) };
    const struct mgr_reply *rep = call(fd, &r, ANSWER_MS);
    if (is_repeated_item(rep))
        fail("%s: q.put(%lld) was answered with the item %lld, which a get had already: "
             "the client that puts gets ok; the item goes to the parked get, and off the "
             "queue", what, (long long)item, (long long)rep->items[0].value.as.i);
    if (!rep->ok || rep->count != 0)
        fail("%s: q.put(%lld) was answered \"%s\", not ok (no items)", what,
             (long long)item, describe(rep));
}

static void send_get(int fd, uint32_t q, int timeout_ms)
{
    static uint8_t frame[64];
    struct mgr_request r = { .op = MGR_OP_QUEUE_GET, .id = q, .timeout_ms = timeout_ms };
    send_bytes(fd, frame, encode(&r, frame, sizeof frame));
    if (fd < MAX_FD)
        gets_sent[fd]++;
}

/* The reply to a get: the item, or fail. */
static void expect_item(int fd, int64_t want, int ms, const char *what, const char *mistake)
{
    int r = reply_within(fd, ms, &reply);
    if (r == NO_REPLY)
        fail("%s: no reply within %d ms: %s", what, ms, mistake);
    if (r == CLOSED)
        fail("%s: the connection was closed: %s", what, mistake);
    if (is_repeated_item(&reply) && reply.items[0].value.as.i != want)
        fail_repeated(what);
    if (!reply.ok || reply.count != 1 || reply.items[0].value.type != MGR_INT ||
        reply.items[0].value.as.i != want)
        fail("%s: answered \"%s\", expected the item %lld: %s", what, describe(&reply),
             (long long)want, mistake);
    note_answer(fd, &reply);
}

/* The reply to a get: Empty within ms, or fail; the time it took. */
static long long expect_empty(int fd, long long sent, int ms, const char *what)
{
    int r = reply_within(fd, ms, &reply);
    long long took = now_ms() - sent;
    if (r == NO_REPLY)
        fail("%s: no reply within %d ms: when its time is up the get is answered Empty - and "
             "poll() must wake up for it (its timeout is the time to the nearest deadline, "
             "not -1)", what, ms);
    if (r == CLOSED)
        fail("%s: the connection was closed; answer Empty instead", what);
    if (is_repeated_item(&reply))
        fail_repeated(what);
    if (reply.ok || reply.errcode != MGR_E_EMPTY)
        fail("%s: answered \"%s\" after %lld ms; expected an Empty error (MGR_E_EMPTY), like "
             "Python's queue.Empty", what, describe(&reply), took);
    note_answer(fd, &reply);
    return took;
}

/* The server has handled everything sent on fd so far: it read it (SIOCOUTQ)
 * and then answered a PING on another connection. */
static void settled(int fd, int other)
{
    wait_consumed(fd, "a request");
    uint8_t frame[64];
    send_bytes(other, frame, ping_frame(frame));
    expect_pong(other, "a PING from another client", "a get that waits must not stop the "
                "server from serving others (it is parked: no reply yet, and the loop goes on)");
}

/* After fd's get was answered: no second reply comes.  Two PINGs on
 * another connection take the server twice round its loop (past
 * queue_timeout() and the hand-offs), so a second answer would be here. */
static void answered_once(int fd, int other, const char *what)
{
    uint8_t frame[64];
    size_t n = ping_frame(frame);
    for (int k = 0; k < 2; k++) {
        send_bytes(other, frame, n);
        expect_pong(other, "a PING from another client, after a get was answered",
                    "the server must go on serving everyone");
    }
    expect_silence(fd, what, "one get, one reply");
}

static void stage_queue_now(void)
{
    int fd = connect_server();
    uint32_t q = create(fd, MGR_QUEUE);
    queue_put(fd, q, 1, "a put on an empty queue");
    queue_put(fd, q, 2, "a second put");
    send_get(fd, q, -1);
    expect_item(fd, 1, ANSWER_MS, "a get when the queue holds 1 and 2",
                "an item that is there is answered at once, oldest first");
    send_get(fd, q, 0);
    expect_item(fd, 2, ANSWER_MS, "a get with timeout 0 when the queue holds 2",
                "an item that is there is answered at once, oldest first");
    ok("put 1, put 2; get: 1; get(timeout 0): 2");
    send_get(fd, q, 0);
    int r = reply_within(fd, ANSWER_MS, &reply);
    if (r == GOT_REPLY && is_repeated_item(&reply))
        fail_repeated("a get with timeout 0, after both items were taken");
    if (r != GOT_REPLY || reply.ok || reply.errcode != MGR_E_EMPTY)
        fail("a get with timeout 0 on an empty queue: %s, expected Empty at once "
             "(timeout 0 means: do not wait)",
             r == NO_REPLY ? "no reply within " ANSWER_TEXT : r == CLOSED ? "connection closed" :
                                                                   describe(&reply));
    note_answer(fd, &reply);
    ok("get(timeout 0) on an empty queue: %s", describe(&reply));

    /* A put, and the client hangs up at once: the server's poll() reports
     * its data and its hang-up together (poll(2): data can still be read
     * after POLLHUP).  The put is whole: its item must be kept. */
    int quick = connect_server();
    static uint8_t frame[64];
    struct mgr_request put = { .op = MGR_OP_QUEUE_PUT, .id = q, .value = mgr_int(6) };
    size_t n = encode(&put, frame, sizeof frame);
    send_bytes(quick, frame + 32, ping_frame(frame + 32)); /* accepted: in the table */
    expect_pong(quick, "a PING from a new client", "");
    hold_server();
    send_bytes(quick, frame, n);
    close(quick);
    release_server();
    /* The PING is read in the round that sees the put, or later: after its
     * answer, the put has been handled. */
    send_bytes(fd, frame, ping_frame(frame));
    expect_pong(fd, "a PING, after another client put 6 and hung up", "");
    send_get(fd, q, 0);
    expect_item(fd, 6, ANSWER_MS, "a get with timeout 0, after a client put 6 and hung up at once",
                "a whole put that came with a hang-up (POLLIN and POLLHUP in one poll() "
                "round) must still be read and done; only a parked client that hung up "
                "is dropped unread");
    ok("a put whose client hung up at once: its item was kept, and the next get got it");

    /* The other way round: an item there, and a get that comes with its
     * client's hang-up - nobody will read the reply, so it takes nothing. */
    queue_put(fd, q, 9, "a put on an empty queue");
    quick = connect_server();
    send_bytes(quick, frame + 32, ping_frame(frame + 32));
    expect_pong(quick, "a PING from a new client", "");
    struct mgr_request get = { .op = MGR_OP_QUEUE_GET, .id = q, .timeout_ms = -1 };
    n = encode(&get, frame, sizeof frame);
    hold_server();
    send_bytes(quick, frame, n);
    close(quick);
    release_server();
    send_bytes(fd, frame + 32, ping_frame(frame + 32));
    expect_pong(fd, "a PING, after another client sent a get and hung up", "");
    send_get(fd, q, 0);
    expect_item(fd, 9, ANSWER_MS, "a get with timeout 0, after a client sent a get and hung up "
                "at once", "a get whose client has hung up must take no item (the given "
                "loop does not serve it: is c->hung_up still false?)");
    ok("a get whose client hung up at once took nothing: the item stayed for the next get");
    close(fd);
}

/* Two gets parked on q, `first` before `second`: a put goes to `first`.
 * (Done in both orders of the clients' slots, so that a server that looks
 * at the slots rather than at the order of parking fails one of them.) */
static void first_come_first_served(int first, int second, int other, uint32_t q,
                                    int64_t item, const char *order)
{
    char what[160];
    send_get(first, q, -1);
    settled(first, other);
    expect_silence(first, "a get on an empty queue", "an empty queue has nothing to give: "
                   "park the get");
    send_get(second, q, -1);
    settled(second, other);
    queue_put(other, q, item, "a put with two gets parked");
    snprintf(what, sizeof what, "the get parked first (%s), after a put of %lld", order,
             (long long)item);
    struct pollfd p[2] = { { .fd = first, .events = POLLIN }, { .fd = second, .events = POLLIN } };
    if (poll(p, 2, ANSWER_MS) >= 1 && p[1].revents != 0 && p[0].revents == 0 &&
        reply_within(second, ANSWER_MS, &reply) == GOT_REPLY)
        fail("%s: the item went to the get parked second (\"%s\"): gets are served in the "
             "order they were parked, whatever slot their client has - number each parking "
             "(c->park_order) and hand the item to the smallest", what, describe(&reply));
    expect_item(first, item, ANSWER_MS, what,
                "gets are served in the order they were parked, whatever slot their "
                "client has: number each parking (c->park_order) and pick the smallest");
    expect_silence(second, "the get parked second, after one put", "one item serves one get");
    queue_put(other, q, item + 1, "a second put");
    expect_item(second, item + 1, ANSWER_MS, "the get parked second, after another put",
                "the next put goes to the next parked get");
}

static void stage_parked_get(void)
{
    int a = connect_server(), b = connect_server(), c = connect_server();
    uint32_t q = create(b, MGR_QUEUE), other = create(b, MGR_QUEUE);
    send_get(a, q, -1);
    settled(a, b);
    expect_silence(a, "a get (no timeout) on an empty queue",
                   "an empty queue has nothing to give: park the get (no reply) until a put");
    ok("get on an empty queue: no reply yet, others still served");
    queue_put(b, other, 7, "a put on another queue, while a get is parked");
    expect_silence(a, "a get parked on one queue, after a put on another",
                   "hand an item only to a get parked on the same queue");
    queue_put(b, q, 5, "a put while a get is parked");
    expect_item(a, 5, ANSWER_MS, "the parked get, after a put of 5",
                "when a put arrives and a get is parked on that queue, hand the item "
                "over and send the get its reply");
    answered_once(a, b, "the get that received 5 from the put");
    ok("put 5: the parked get received 5, the put was answered ok");

    /* Two parked gets: first come, first served - the later slot first,
     * then the earlier one. */
    first_come_first_served(c, a, b, q, 10, "the client connected later");
    first_come_first_served(a, c, b, q, 20, "the client connected earlier");
    ok("two parked gets, two puts, in either order of connecting: first come, first served");

    /* The one a parked get would have had goes to the next, if the first
     * hung up. */
    send_get(c, q, -1);
    settled(c, b);
    close(c); /* a client that hangs up while parked */
    queue_put(b, q, 3, "a put after a parked client hung up");
    send_get(b, q, 0);
    expect_item(b, 3, ANSWER_MS, "a get, after a client parked on the queue hung up and 3 was put",
                "a client that hung up is gone: its parked get must not take the item");
    queue_put(b, other, 0, "a put after a parked client hung up");
    send_get(a, other, -1);
    expect_item(a, 7, ANSWER_MS, "a get on the other queue", "items wait on their own queue");
    ok("a client that hung up while parked gets no item; items wait on their own queue");
    close(a);
    close(b);
}

/* How late an Empty may be after its deadline: LATE_MS, plus the time the
 * server and this client waited for a CPU meanwhile (a loaded machine). */
enum { LATE_MS = 25, GROUP = 4 };

/* GROUP gets parked together on q, one per client, with timeouts 20, 40,
 * 60 and 80 ms: each must be answered Empty on time - not before its
 * deadline, and at most LATE_MS after it.  A server that wakes up on a fixed
 * timer (every T ms, whatever the deadlines) answers several of them at one
 * tick, and cannot be on time for all four unless T is under 45 ms - which
 * no_spin catches.  Tried up to three times, when only lateness failed:
 * a timer fails every time, a loaded machine not thrice in a row. */
static void group_on_time(const int fds[GROUP], int other, uint32_t q)
{
    char late[400] = "";
    for (int attempt = 0; attempt < 3; attempt++) {
        long long sent[GROUP], took[GROUP];
        int timeouts[GROUP];
        bool done[GROUP] = { false };
        long waits = cpu_waits_ms();
        for (int k = 0; k < GROUP; k++) {
            timeouts[k] = 20 * (k + 1);
            sent[k] = now_ms();
            send_get(fds[k], q, timeouts[k]);
        }
        for (int left = GROUP; left > 0;) {
            struct pollfd p[GROUP];
            for (int k = 0; k < GROUP; k++)
                p[k] = (struct pollfd){ .fd = done[k] ? -1 : fds[k], .events = POLLIN };
            int r = poll(p, GROUP, ANSWER_MS);
            if (r == -1 && errno == EINTR)
                continue;
            if (r <= 0)
                fail("%d gets parked at once, with timeouts of 20 to 80 ms: %d of them had "
                     "no reply " ANSWER_TEXT " later: every overdue get is answered Empty, and poll() "
                     "wakes up for the nearest deadline", GROUP, left);
            for (int k = 0; k < GROUP; k++)
                if (!done[k] && p[k].revents != 0) {
                    char what[96];
                    snprintf(what, sizeof what, "a get with a %d ms timeout, parked beside "
                             "3 others", timeouts[k]);
                    took[k] = expect_empty(fds[k], sent[k], ANSWER_MS, what);
                    done[k] = true;
                    left--;
                }
        }
        waits = cpu_waits_ms() - waits;
        for (int k = 0; k < GROUP; k++)
            if (took[k] < timeouts[k] - 5)
                fail("a get with a %d ms timeout, parked beside 3 others, was answered Empty "
                     "after %lld ms: wait its whole timeout (its own deadline, not another's)",
                     timeouts[k], took[k]);
        late[0] = '\0';
        for (int k = 0; k < GROUP && late[0] == '\0'; k++)
            if (took[k] > timeouts[k] + LATE_MS + waits)
                snprintf(late, sizeof late,
                         "of %d gets parked at once with timeouts of 20, 40, 60 and 80 ms, "
                         "the %d ms one was answered Empty after %lld ms - %lld ms after its "
                         "deadline (the server and this test waited %ld ms for a CPU "
                         "meanwhile): poll() must wake up at the nearest deadline - "
                         "queue_timeout() returns the time left until it, not a fixed "
                         "timeout that checks now and then", GROUP, timeouts[k], took[k],
                         took[k] - timeouts[k], waits);
        if (late[0] == '\0')
            break;
    }
    if (late[0] != '\0')
        fail("%s", late);
    answered_once(fds[0], other, "a get answered Empty, after two more rounds of the loop");
}

static void stage_timeout(void)
{
    int a = connect_server(), b = connect_server(), c = connect_server();
    uint32_t q = create(b, MGR_QUEUE);
    long long start = now_ms();
    send_get(a, q, 50);
    long long took = expect_empty(a, start, ANSWER_MS, "a get with a 50 ms timeout on an empty queue");
    if (took < 45)
        fail("a get with a 50 ms timeout was answered Empty after %lld ms: wait the "
             "whole timeout", took);
    answered_once(a, b, "a get answered Empty, after two more rounds of the loop");
    ok("get(timeout 50 ms) on an empty queue: Empty, not before its time, and only once");

    /* Several deadlines: the nearest first, and a put still wins. */
    send_get(a, q, 300);
    settled(a, b);
    start = now_ms();
    send_get(c, q, 60);
    settled(c, b);
    expect_empty(c, start, ANSWER_MS, "a get with 60 ms, parked after one with 300 ms");
    expect_silence(a, "the get with 300 ms, after the 60 ms one ended",
                   "only the get whose time is up is answered (does queue_get() sleep "
                   "until its deadline? Park it and return at once)");
    queue_put(b, q, 8, "a put before the 300 ms were up");
    expect_item(a, 8, ANSWER_MS, "the 300 ms get, after a put", "a put before the deadline "
                "hands the item over");
    ok("two parked gets (300 ms, 60 ms): the 60 ms one ended Empty first; the other got a put");

    /* A get that waits for ever is not ended by another's deadline. */
    send_get(a, q, -1);
    settled(a, b);
    send_get(c, q, 30);
    expect_empty(c, now_ms(), ANSWER_MS, "a get with 30 ms beside one that waits for ever");
    expect_silence(a, "a get with no timeout (-1), after another's deadline passed",
                   "a timeout of -1 means wait for ever: no deadline");
    queue_put(b, q, 4, "a put for the get that waits for ever");
    expect_item(a, 4, ANSWER_MS, "the get with no timeout, after a put", "");
    ok("a get with no timeout outlives another's deadline, and gets the next put");

    /* Several at once, each on time. */
    int d = connect_server(), e = connect_server();
    const int group[GROUP] = { a, c, d, e };
    group_on_time(group, b, q);
    ok("4 gets parked at once (20, 40, 60, 80 ms): each answered Empty on time, once");
    close(a);
    close(b);
    close(c);
    close(d);
    close(e);
}

/* CPU time the server has used so far, in ms, from /proc/PID/stat. */
static long server_cpu_ms(void)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)server);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(line, sizeof line, f) == NULL)
        fail("cannot read %s", path);
    fclose(f);
    char *p = strrchr(line, ')'); /* the name may hold spaces */
    unsigned long utime = 0, stime = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                            &utime, &stime) != 2)
        fail("cannot parse %s", path);
    return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* The server's context switches (/proc/PID/status): `voluntary` counts its
 * sleeps - a poll() that sleeps until a deadline adds one, a poll() with a
 * 1 ms timeout one per ms; `involuntary` counts the times the scheduler
 * took the CPU from it - a process that never sleeps, on a busy machine.
 * A server that sleeps in poll() until the deadline has a few of each. */
static void server_switches(long *voluntary, long *involuntary)
{
    char path[64], line[256];
    *voluntary = *involuntary = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", (long)server);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail("cannot read %s", path);
    while (fgets(line, sizeof line, f) != NULL) {
        sscanf(line, "voluntary_ctxt_switches: %ld", voluntary);
        sscanf(line, "nonvoluntary_ctxt_switches: %ld", involuntary);
    }
    fclose(f);
    if (*voluntary < 0 || *involuntary < 0)
        fail("no ctxt_switches lines in %s", path);
}

/* Milliseconds the server has been runnable so far - on a CPU, or ready and
 * waiting for one (/proc/PID/schedstat: run time, run-queue wait, in ns).
 * A process asleep in poll() is neither; one that spins is always one of
 * the two, however busy the machine is. */
static long server_runnable_ms(void)
{
    char path[64];
    unsigned long long run = 0, wait = 0;
    snprintf(path, sizeof path, "/proc/%ld/schedstat", (long)server);
    FILE *f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%llu %llu", &run, &wait) != 2)
        fail("cannot read %s", path);
    fclose(f);
    return (long)((run + wait) / 1000000);
}

/* While one get waits NO_SPIN_MS, the server sleeps in one poll(): it wakes
 * up for the get's request and for its deadline, and a few times more at
 * most (MAX_WAKEUPS).  A server on a fixed timer of T ms wakes NO_SPIN_MS / T
 * times: any T under 60 ms fails here, any T over 45 ms fails the timeout
 * stage. */
enum { NO_SPIN_MS = 300, MAX_WAKEUPS = 5 };

static void stage_no_spin(void)
{
    int a = connect_server(), b = connect_server();
    uint32_t q = create(b, MGR_QUEUE);
    long slept, preempted, slept_after, preempted_after;
    server_switches(&slept, &preempted);
    long before = server_cpu_ms(), runnable = server_runnable_ms();
    long long start = now_ms();
    send_get(a, q, NO_SPIN_MS);
    int r = reply_within(a, NO_SPIN_MS + 1000, &reply);
    long long took = now_ms() - start;
    long used = server_cpu_ms() - before;
    runnable = server_runnable_ms() - runnable;
    server_switches(&slept_after, &preempted_after);
    long woken = slept_after - slept, taken = preempted_after - preempted;
    if (r != GOT_REPLY || reply.ok || reply.errcode != MGR_E_EMPTY)
        fail("a get with a %d ms timeout: no Empty within %d ms: is it answered Empty when "
             "its time is up?", NO_SPIN_MS, NO_SPIN_MS + 1000);
    if (runnable > took / 3 || used > 30 || taken > 25)
        fail("while one get waited %lld ms the server was running (or ready to run) for "
             "%ld ms: it spins - poll() with timeout 0 in a loop is busy-waiting; give "
             "poll() the time to the nearest deadline", took, runnable > used ? runnable : used);
    if (woken > MAX_WAKEUPS)
        fail("while one get waited %lld ms the server woke up %ld times (%d at most: for the "
             "request and the deadline): a fixed timeout in poll() - a timer that checks now "
             "and then - is polling; give poll() the time to the nearest deadline",
             took, woken, MAX_WAKEUPS);
    ok("while a get waited %d ms, the server slept (CPU %s, woken at most %d times)",
       NO_SPIN_MS, used <= 10 ? "near 0 ms" : "under 30 ms", MAX_WAKEUPS);
    if (getenv("STAGE_DEBUG"))
        printf("woken %ld took %lld used %ld runnable %ld taken %ld\n", woken, took, used, runnable, taken);
    close(a);
    close(b);
}

/* ================================================================ main */

int main(int argc, char *argv[])
{
    if (argc != 3)
        usage_exit(USAGE, "expected 2 arguments");
    static const struct {
        const char *name;
        void (*run)(void);
    } stages[] = {
        { "one_request", stage_one_request }, { "split_frame", stage_split_frame },
        { "two_frames", stage_two_frames },   { "bad_lengths", stage_bad_lengths },
        { "many_clients", stage_many_clients }, { "dict_ops", stage_dict_ops },
        { "other_user", stage_other_user },   { "queue_now", stage_queue_now },
        { "parked_get", stage_parked_get },   { "timeout", stage_timeout },
        { "no_spin", stage_no_spin },
    };
    void (*run)(void) = NULL;
    for (size_t k = 0; k < sizeof stages / sizeof stages[0]; k++)
        if (strcmp(argv[2], stages[k].name) == 0)
            run = stages[k].run;
    if (run == NULL)
        usage_exit(USAGE, "no stage '%s'", argv[2]);
    signal(SIGPIPE, SIG_IGN);
    start_server(argv[1]);
    run();
    if (*server_state() != '\0')
        fail("the server ended during the stage");
    stop_server();
    return 0;
}
