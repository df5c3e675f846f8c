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
 * a frame is sent, and the next only once the server has taken it.  No
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
        execl(path, path, (char *)NULL);
        fprintf(stderr, "stage_client: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fd); /* if the server dies, connect() is refused, not queued */
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

/* Wait until the server has read everything sent on fd (1 s at most). */
static void wait_consumed_or(int fd, const char *what, const char *mistake)
{
    long long until = now_ms() + 1000;
    for (;;) {
        int unread = 0;
        if (ioctl(fd, SIOCOUTQ, &unread) == -1)
            err_exit("ioctl SIOCOUTQ");
        if (unread == 0)
            return;
        if (now_ms() > until)
            fail("the server did not read %s within 1 s: %s", what, mistake);
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
    }
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

/* Expect an ok reply with no items (a PING's) on fd within 1 s. */
static void expect_pong(int fd, const char *what, const char *mistake)
{
    int r = reply_within(fd, 1000, &reply);
    if (r == NO_REPLY)
        fail("%s: no reply within 1 s: %s", what, mistake);
    if (r == CLOSED)
        fail("%s: the server closed the connection without a reply: %s", what, mistake);
    if (!reply.ok || reply.count != 0)
        fail("%s: the reply was \"%s\", not ok: %s", what, describe(&reply), mistake);
}

/* Nothing may have come on fd yet (checked without waiting). */
static void expect_silence(int fd, const char *what, const char *mistake)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 0) == 1) {
        int r = reply_within(fd, 100, &reply);
        if (r == CLOSED)
            fail("%s: the server closed the connection: %s", what, mistake);
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
    const struct mgr_reply *rep = call(fd, &r, 1000);
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

/* A bad length: the server must close the connection within 1 s (an error
 * reply first is welcome), and go on serving others. */
static void expect_refused(const char *what, const void *bytes, size_t n, int pongs,
                           const char *mistake)
{
    int fd = connect_server();
    send_bytes(fd, bytes, n);
    for (int k = 0; k < pongs; k++)
        expect_pong(fd, "a PING before the bad frame", FRAME_READER);
    int r = reply_within(fd, 1000, &reply);
    if (r == GOT_REPLY && reply.ok)
        fail("%s: answered \"%s\": %s", what, describe(&reply), mistake);
    if (r == GOT_REPLY)
        r = reply_within(fd, 1000, &reply);
    if (r == NO_REPLY)
        fail("%s: the connection was still open 1 s later: %s", what, mistake);
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
    int r = reply_within(fd, 1000, &reply);
    if (r != GOT_REPLY)
        fail("a frame of exactly 65536 bytes (the most allowed): %s: the buffer must hold "
             "4 + MGR_FRAME_MAX bytes, and only n > MGR_FRAME_MAX is refused",
             r == CLOSED ? "connection closed" : "no reply within 1 s");
    if (reply.ok)
        fail("a frame of 65536 bytes holding a PING and 65531 bytes more: answered ok; "
             "handle_request() must get the payload's whole length");
    uint8_t ping[64];
    send_bytes(fd, ping, ping_frame(ping));
    expect_pong(fd, "a PING after the 65536-byte frame",
                "65536 is the most allowed, not too long (refuse only n > MGR_FRAME_MAX); "
                "a frame that does not decode is answered with an error, and its framing "
                "was fine, so the connection stays open");
    close(fd);
    ok("a frame of exactly 65536 bytes: answered (%s), connection kept", "BadRequest");
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
        wait_consumed_or(fds[k], "the start of a client's frame, while others are mid-frame",
                         "is the server stuck reading another client (a loop of recv() "
                         "until that client's frame is whole)? Return, and let poll() say "
                         "when more has come");
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
    const struct mgr_reply *rep = call(fd, &r, 1000);
    if (!rep->ok || rep->count != 0)
        fail("%s: d['%s'] = ... was answered \"%s\", not ok (no items)", what, key,
             describe(rep));
}

static void expect_items(int fd, uint32_t d, const char *want, const char *what)
{
    struct mgr_request r = { .op = MGR_OP_ITEMS, .id = d };
    const struct mgr_reply *rep = call(fd, &r, 1000);
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
    const struct mgr_reply *rep = call(fd, &r, 1000);
    if (!rep->ok || rep->count != 1 || rep->items[0].value.type != MGR_INT ||
        rep->items[0].value.as.i != 1)
        fail("d['foo'] was answered \"%s\", expected the value 1", describe(rep));
    snprintf(r.key, sizeof r.key, "nokey");
    rep = call(fd, &r, 1000);
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
    rep = call(fd, &r, 1000);
    if (rep->ok || rep->errcode != MGR_E_TYPE)
        fail("a dict set on a Value object was answered \"%s\", expected TypeError "
             "(object_of() checks the kind)", describe(rep));
    r = (struct mgr_request){ .op = MGR_OP_ITEMS, .id = 99 };
    rep = call(fd, &r, 1000);
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
    rep = call(fd, &r, 1000);
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

/* A process of user nobody connects (the abstract address has no
 * permissions: only SO_PEERCRED can keep it out). */
static void stage_other_user(void)
{
    if (geteuid() != 0) {
        ok("SKIP: not root, cannot become another user to connect");
        return;
    }
    struct passwd *nobody = getpwnam("nobody");
    if (nobody == NULL) {
        ok("SKIP: no user 'nobody'");
        return;
    }
    int result[2];
    if (pipe(result) == -1)
        err_exit("pipe");
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        char verdict = '?';
        if (setgid(nobody->pw_gid) == 0 && setuid(nobody->pw_uid) == 0) {
            int fd = try_connect();
            uint8_t frame[64];
            size_t n = ping_frame(frame);
            if (fd == -1)
                verdict = 'c'; /* could not connect */
            else if (send(fd, frame, n, MSG_NOSIGNAL) != (ssize_t)n)
                verdict = 'r';
            else {
                int r = reply_within(fd, 1000, &reply);
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
        fail("a process of user nobody was served (its PING answered ok): peer_allowed() "
             "must ask the kernel who is on the other end (getsockopt SO_PEERCRED) and "
             "refuse a uid other than the server's own (geteuid())");
    if (verdict == 'n')
        fail("a process of user nobody got no answer and no close within 1 s: refuse it "
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
    const struct mgr_reply *rep = call(fd, &r, 1000);
    if (!rep->ok || rep->count != 0)
        fail("%s: q.put(%lld) was answered \"%s\", not ok (no items)", what,
             (long long)item, describe(rep));
}

static void send_get(int fd, uint32_t q, int timeout_ms)
{
    static uint8_t frame[64];
    struct mgr_request r = { .op = MGR_OP_QUEUE_GET, .id = q, .timeout_ms = timeout_ms };
    send_bytes(fd, frame, encode(&r, frame, sizeof frame));
}

/* The reply to a get: the item, or fail. */
static void expect_item(int fd, int64_t want, int ms, const char *what, const char *mistake)
{
    int r = reply_within(fd, ms, &reply);
    if (r == NO_REPLY)
        fail("%s: no reply within %d ms: %s", what, ms, mistake);
    if (r == CLOSED)
        fail("%s: the connection was closed: %s", what, mistake);
    if (!reply.ok || reply.count != 1 || reply.items[0].value.type != MGR_INT ||
        reply.items[0].value.as.i != want)
        fail("%s: answered \"%s\", expected the item %lld: %s", what, describe(&reply),
             (long long)want, mistake);
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

static void stage_queue_now(void)
{
    int fd = connect_server();
    uint32_t q = create(fd, MGR_QUEUE);
    queue_put(fd, q, 1, "a put on an empty queue");
    queue_put(fd, q, 2, "a second put");
    send_get(fd, q, -1);
    expect_item(fd, 1, 1000, "a get when the queue holds 1 and 2",
                "an item that is there is answered at once, oldest first");
    send_get(fd, q, 0);
    expect_item(fd, 2, 1000, "a get with timeout 0 when the queue holds 2",
                "an item that is there is answered at once, oldest first");
    ok("put 1, put 2; get: 1; get(timeout 0): 2");
    send_get(fd, q, 0);
    int r = reply_within(fd, 1000, &reply);
    if (r != GOT_REPLY || reply.ok || reply.errcode != MGR_E_EMPTY)
        fail("a get with timeout 0 on an empty queue: %s, expected Empty at once "
             "(timeout 0 means: do not wait)",
             r == NO_REPLY ? "no reply within 1 s" : r == CLOSED ? "connection closed" :
                                                                   describe(&reply));
    ok("get(timeout 0) on an empty queue: %s", describe(&reply));
    close(fd);
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
    expect_item(a, 5, 1000, "the parked get, after a put of 5",
                "when a put arrives and a get is parked on that queue, hand the item "
                "over and send the get its reply");
    ok("put 5: the parked get received 5, the put was answered ok");

    /* Two parked gets: first come, first served.  The one a parked get
     * would have had goes to the next, if the first hung up. */
    send_get(a, q, -1);
    settled(a, b);
    send_get(c, q, -1);
    settled(c, b);
    queue_put(b, q, 1, "a put with two gets parked");
    expect_item(a, 1, 1000, "the first of two parked gets, after a put of 1",
                "gets are served in the order they came");
    expect_silence(c, "the second parked get, after one put",
                   "one item serves one get");
    queue_put(b, q, 2, "a second put");
    expect_item(c, 2, 1000, "the second parked get, after a put of 2",
                "the next put goes to the next parked get");
    ok("two parked gets, two puts: first come, first served");

    send_get(c, q, -1);
    settled(c, b);
    close(c); /* a client that hangs up while parked */
    queue_put(b, q, 3, "a put after a parked client hung up");
    send_get(b, q, 0);
    expect_item(b, 3, 1000, "a get, after a client parked on the queue hung up and 3 was put",
                "a client that hung up is gone: its parked get must not take the item");
    queue_put(b, other, 0, "a put after a parked client hung up");
    send_get(a, other, -1);
    expect_item(a, 7, 1000, "a get on the other queue", "items wait on their own queue");
    ok("a client that hung up while parked gets no item; items wait on their own queue");
    close(a);
    close(b);
}

static void stage_timeout(void)
{
    int a = connect_server(), b = connect_server(), c = connect_server();
    uint32_t q = create(b, MGR_QUEUE);
    long long start = now_ms();
    send_get(a, q, 100);
    int r = reply_within(a, 1500, &reply);
    long long took = now_ms() - start;
    if (r == NO_REPLY)
        fail("a get with a 100 ms timeout on an empty queue: no reply after 1.5 s: when "
             "its time is up the get is answered Empty - and poll() must wake up for it "
             "(its timeout is the time to the nearest deadline, not -1)");
    if (r == CLOSED)
        fail("a get with a 100 ms timeout: the connection was closed; answer Empty instead");
    if (reply.ok || reply.errcode != MGR_E_EMPTY)
        fail("a get with a 100 ms timeout on an empty queue was answered \"%s\"; "
             "expected an Empty error (MGR_E_EMPTY), like Python's queue.Empty", describe(&reply));
    if (took < 95)
        fail("a get with a 100 ms timeout was answered Empty after %lld ms: wait the "
             "whole timeout", took);
    ok("get(timeout 100 ms) on an empty queue: %s, on time", describe(&reply));

    /* Several deadlines: the nearest first, and a put still wins. */
    start = now_ms();
    send_get(a, q, 300);
    settled(a, b);
    send_get(c, q, 60);
    settled(c, b);
    r = reply_within(c, 1000, &reply);
    took = now_ms() - start;
    if (r != GOT_REPLY || reply.ok || reply.errcode != MGR_E_EMPTY)
        fail("a get with 60 ms, parked after one with 300 ms: %s after %lld ms: poll's "
             "timeout must be the time to the nearest deadline of all parked gets",
             r == GOT_REPLY ? describe(&reply) : "no Empty", took);
    expect_silence(a, "the get with 300 ms, after the 60 ms one ended",
                   "only the get whose time is up is answered (does queue_get() sleep "
                   "until its deadline? Park it and return at once)");
    queue_put(b, q, 8, "a put before the 300 ms were up");
    expect_item(a, 8, 1000, "the 300 ms get, after a put", "a put before the deadline "
                "hands the item over");
    ok("two parked gets (300 ms, 60 ms): the 60 ms one ended Empty first; the other got a put");

    /* A get that waits for ever is not ended by another's deadline. */
    send_get(a, q, -1);
    settled(a, b);
    send_get(c, q, 30);
    r = reply_within(c, 1000, &reply);
    if (r != GOT_REPLY || reply.ok || reply.errcode != MGR_E_EMPTY)
        fail("a get with 30 ms beside one that waits for ever: no Empty");
    expect_silence(a, "a get with no timeout (-1), after another's deadline passed",
                   "a timeout of -1 means wait for ever: no deadline");
    queue_put(b, q, 4, "a put for the get that waits for ever");
    expect_item(a, 4, 1000, "the get with no timeout, after a put", "");
    ok("a get with no timeout outlives another's deadline, and gets the next put");
    close(a);
    close(b);
    close(c);
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

static void stage_no_spin(void)
{
    int a = connect_server(), b = connect_server();
    uint32_t q = create(b, MGR_QUEUE);
    long slept, preempted, slept_after, preempted_after;
    server_switches(&slept, &preempted);
    long before = server_cpu_ms(), runnable = server_runnable_ms();
    long long start = now_ms();
    send_get(a, q, 250);
    int r = reply_within(a, 1500, &reply);
    long long took = now_ms() - start;
    long used = server_cpu_ms() - before;
    runnable = server_runnable_ms() - runnable;
    server_switches(&slept_after, &preempted_after);
    long woken = slept_after - slept, taken = preempted_after - preempted;
    if (r != GOT_REPLY || reply.ok || reply.errcode != MGR_E_EMPTY)
        fail("a get with a 250 ms timeout: no Empty within 1.5 s: is it answered Empty when its time is up?");
    if (runnable > took / 3 || used > 30 || taken > 25)
        fail("while one get waited %lld ms the server was running (or ready to run) for "
             "%ld ms: it spins - poll() with timeout 0 in a loop is busy-waiting; give "
             "poll() the time to the nearest deadline", took, runnable > used ? runnable : used);
    if (woken > 25)
        fail("while one get waited %lld ms the server woke up %ld times: a short fixed "
             "timeout in poll() is polling; give poll() the time to the nearest deadline",
             took, woken);
    ok("while a get waited %s ms, the server slept (CPU %s, woken a few times)", took < 1000 ? "250" : "250+",
       used <= 10 ? "near 0 ms" : "under 30 ms");
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
