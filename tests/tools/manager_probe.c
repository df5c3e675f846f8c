/* manager_probe.c - send a manager server what no proxy ever would.
 *
 * usage: manager_probe
 *
 * Starts a manager, stores {'bar': 2, 'foo': 1} in a dict and 7 in a
 * value, then tries one bad thing after another on connections of its own:
 * garbage, a request cut short, an oversized length, an unknown object, a
 * wrong operation, a missing key, a client that hangs up or is killed in the
 * middle of a request, a client killed while its get is parked, and a
 * process of another user.  After each it prints what the server answered
 * and checks, through an ordinary proxy, that the stored data is intact and
 * the server still answers.  tests/06_manager_dict.sh compares the lines.
 * Exit status 0 when every check held.
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "manager.h"
#include "proxy.h"
#include "say.h"

static struct mgr manager;
static struct proxy dict, value, queue;
static int broken; /* checks that failed */

/* A raw connection of our own, outside the proxy machinery. */
static int raw_connect(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", manager.address);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        err_exit("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        err_exit("connect");
    return fd;
}

static void raw_send(int fd, const void *bytes, size_t n)
{
    if (mgr_write_all(fd, bytes, n) == -1)
        fatal("%s", mgr_error());
}

/* Read exactly n bytes, waiting at most 5 s for each piece: 0, or -1 on
 * end of file, error or time-out.  Unlike mgr_read_frame(), never reads
 * past what it was asked for, so pipelined replies come one at a time. */
static int read_exactly(int fd, uint8_t *buf, size_t n)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (n > 0) {
        if (poll(&p, 1, 5000) != 1)
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

/* What came back on fd within 5 s: "Name: message", "ok", or "no reply,
 * connection closed"; then whether the connection was closed after it. */
static void describe_reply(int fd, char *text, size_t size, bool check_open)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 5000) != 1) {
        snprintf(text, size, "no answer within 5 s");
        return;
    }
    static uint8_t frame[4 + MGR_FRAME_MAX];
    static struct mgr_reply reply;
    char why[128];
    long n = read_one_frame(fd, frame);
    if (n == -1) {
        snprintf(text, size, "no reply, connection closed");
        return;
    }
    if (mgr_decode_reply(frame + 4, (size_t)n, &reply, why, sizeof why) == -1)
        snprintf(text, size, "undecodable reply: %s", why);
    else if (reply.ok && reply.count == 1)
        snprintf(text, size, "received %s",
                 mgr_format_value(&reply.items[0].value, why, sizeof why));
    else if (reply.ok)
        snprintf(text, size, "ok");
    else
        snprintf(text, size, "%s: %s", mgr_errname(reply.errcode), reply.message);
    if (!check_open)
        return;
    /* Still open after the reply?  A ping on it is answered; a closed one
     * gives end of file (or EPIPE). */
    struct mgr_request ping = { .op = MGR_OP_PING };
    size_t len = mgr_encode_request(&ping, frame, sizeof frame);
    if (mgr_write_all(fd, frame, len) == -1 || read_one_frame(fd, frame) == -1)
        strncat(text, "; connection closed", size - strlen(text) - 1);
}

/* A single request's answer, and whether the connection stayed open. */
static void describe_answer(int fd, char *text, size_t size)
{
    describe_reply(fd, text, size, true);
}

/* The stored data is still there and the server answers: the line ends
 * with "data intact" or says what is wrong. */
static void check_intact(const char *what, const char *answer)
{
    struct mgr_item items[MGR_MAX_ITEMS];
    size_t n;
    struct mgr_value v;
    char text[256];
    if (proxy_items(&dict, items, &n) == -1 || proxy_value_get(&value, &v) == -1) {
        put_line("%s: %s; SERVER LOST: %s", what, answer, mgr_error());
        broken++;
        return;
    }
    mgr_format_dict(items, n, text, sizeof text);
    if (strcmp(text, "{'bar': 2, 'foo': 1}") != 0 || v.type != MGR_INT || v.as.i != 7) {
        put_line("%s: %s; DATA CHANGED: %s", what, answer, text);
        broken++;
        return;
    }
    put_line("%s: %s; data intact", what, answer);
}

/* Send bytes on a fresh connection, describe the answer, check the data. */
static void probe(const char *what, const void *bytes, size_t n)
{
    int fd = raw_connect();
    char answer[400];
    raw_send(fd, bytes, n);
    describe_answer(fd, answer, sizeof answer);
    close(fd);
    check_intact(what, answer);
}

/* A well-formed frame for a request the server must refuse. */
static void probe_request(const char *what, struct mgr_request *r)
{
    static uint8_t frame[4 + MGR_FRAME_MAX];
    size_t n = mgr_encode_request(r, frame, sizeof frame);
    probe(what, frame, n);
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

/* A child parks a get on the queue, and is killed there.  The next item put
 * must not go to the dead client: a get of ours receives it. */
static void probe_killed_while_parked(void)
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
    if (proxy_queue_put(&queue, mgr_int(42)) == -1 || proxy_queue_get(&queue, 1000, &got) == -1)
        snprintf(answer, sizeof answer, "item lost: %s", mgr_error());
    else
        snprintf(answer, sizeof answer, "the next get received %lld", (long long)got.as.i);
    check_intact("client killed while its get was parked", answer);
}

/* One connection parks a get; meanwhile the proxy is served; then a put
 * wakes the parked get with the item. */
static void probe_parked_get_blocks_nobody(void)
{
    int fd = raw_connect();
    struct mgr_request r = { .op = MGR_OP_QUEUE_GET, .id = queue.id, .timeout_ms = -1 };
    static uint8_t frame[64];
    raw_send(fd, frame, mgr_encode_request(&r, frame, sizeof frame));
    struct mgr_value v;
    char answer[400];
    if (proxy_dict_get(&dict, "foo", &v) == -1) {
        snprintf(answer, sizeof answer, "others blocked: %s", mgr_error());
    } else {
        proxy_must(proxy_queue_put(&queue, mgr_int(5)));
        char woke[128];
        describe_answer(fd, woke, sizeof woke);
        snprintf(answer, sizeof answer, "dict answered while a get was parked; the get then got: %s",
                 woke);
    }
    close(fd);
    check_intact("a parked get", answer);
}

/* A put on a full queue waits for room, as Python's Queue(maxsize).put()
 * does: it is answered when a get has taken an item, and its item is last. */
static void probe_put_on_a_full_queue(void)
{
    for (int k = 0; k < MGR_MAX_ITEMS; k++)
        proxy_must(proxy_queue_put(&queue, mgr_int(k)));
    int fd = raw_connect();
    struct mgr_request r = { .op = MGR_OP_QUEUE_PUT, .id = queue.id, .value = mgr_int(-1) };
    static uint8_t frame[64];
    raw_send(fd, frame, mgr_encode_request(&r, frame, sizeof frame));
    struct mgr_value first, last = mgr_int(0);
    char answer[400], woke[128];
    proxy_must(proxy_queue_get(&queue, 0, &first));
    describe_answer(fd, woke, sizeof woke);
    close(fd);
    for (int k = 1; k <= MGR_MAX_ITEMS; k++)
        proxy_must(proxy_queue_get(&queue, 0, &last));
    snprintf(answer, sizeof answer, "after a get took %lld, the put was answered: %s; "
             "its item came last: %lld", (long long)first.as.i, woke, (long long)last.as.i);
    check_intact("a put on a full queue", answer);
}

/* Two gets in one write: the first waits for ever, the second 50 ms.  One
 * item serves the first; the second must still end in Empty - its deadline
 * counts although it was parked while handling input, not after a poll. */
static void probe_pipelined_gets(void)
{
    int fd = raw_connect();
    struct mgr_request r = { .op = MGR_OP_QUEUE_GET, .id = queue.id, .timeout_ms = -1 };
    static uint8_t frames[128];
    size_t n = mgr_encode_request(&r, frames, sizeof frames);
    r.timeout_ms = 50;
    n += mgr_encode_request(&r, frames + n, sizeof frames - n);
    raw_send(fd, frames, n);
    proxy_must(proxy_queue_put(&queue, mgr_int(9)));
    char first[128], second[128], answer[300];
    describe_reply(fd, first, sizeof first, false);
    describe_reply(fd, second, sizeof second, false);
    close(fd);
    snprintf(answer, sizeof answer, "the first %s; the second: %s", first, second);
    check_intact("two gets in one write", answer);
}

/* A client sends 40 requests for a long list - more answer than a socket
 * buffer holds - and shuts its side down (SHUT_WR): it will send no more,
 * but it still reads.  It gets all 40 answers. */
static void probe_half_close(void)
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
    check_intact("a client that half-closes", answer);
}

/* A get with a timeout and nothing to get ends in Empty, on time. */
static void probe_get_timeout(void)
{
    struct mgr_value v;
    char answer[256];
    if (proxy_queue_get(&queue, 50, &v) == 0)
        snprintf(answer, sizeof answer, "got an item from an empty queue");
    else
        snprintf(answer, sizeof answer, "%s", mgr_error());
    check_intact("get with a 50 ms timeout", answer);
}

/* A process of another user must not get in.  Needs root to become one. */
static void probe_other_user(void)
{
    if (geteuid() != 0) {
        put_line("another user: not tested (run as root to test it)");
        return;
    }
    struct passwd *nobody = getpwnam("nobody");
    if (nobody == NULL) {
        put_line("another user: not tested (no user 'nobody')");
        return;
    }
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
    if (en == -1)
        put_line("another user: not tested (could not become 'nobody')");
    else if (en == 0) {
        put_line("another user: CONNECTED - the socket is open to everyone");
        broken++;
    } else
        check_intact("another user", strerror(en));
}

int main(int argc, char *argv[])
{
    (void)argv;
    if (argc > 1)
        usage_exit("manager_probe", "takes no arguments");
    proxy_must(mgr_start(&manager));
    proxy_must(proxy_create_dict(&manager, &dict));
    proxy_must(proxy_create_value(&manager, mgr_int(7), &value));
    proxy_must(proxy_create_queue(&manager, &queue));
    proxy_must(proxy_dict_set(&dict, "foo", mgr_int(1)));
    proxy_must(proxy_dict_set(&dict, "bar", mgr_int(2)));

    probe("garbage", "\0\0\0\x10" "hello, manager!\n", 20);
    probe("a header cut short", "\0\0\0\x03\x0b\0\0", 7);
    probe("an oversized length", "\xff\xff\xff\xff" "more", 8);
    probe("an empty frame", "\0\0\0\0", 4);
    probe("a string longer than it says", "\0\0\0\x08\x0b\0\0\0\x01\x09" "ab", 12);
    probe("bytes after the request", "\0\0\0\x07\x01\0\0\0\0" "!!", 11);

    struct mgr_request r = { .op = MGR_OP_DICT_GET, .id = 99 };
    snprintf(r.key, sizeof r.key, "foo");
    probe_request("an unknown object", &r);
    r.id = queue.id;
    probe_request("a dict operation on a queue", &r);
    r.id = dict.id;
    snprintf(r.key, sizeof r.key, "nokey");
    probe_request("a missing key", &r);
    r = (struct mgr_request){ .op = MGR_OP_CREATE, .kind = 9 };
    probe_request("an unknown kind of object", &r);

    probe_dying_client("a client that hangs up mid-request", false);
    probe_dying_client("a client killed mid-request", true);
    probe_killed_while_parked();
    probe_parked_get_blocks_nobody();
    probe_put_on_a_full_queue();
    probe_pipelined_gets();
    probe_half_close();
    probe_get_timeout();
    probe_other_user();

    proxy_must(mgr_shutdown(&manager));
    return broken ? 1 : 0;
}
