/* tcp_hostile.c - clients without the key try the TCP manager; it must give them nothing.
 *
 * usage: tcp_hostile
 *
 * Starts a manager on 127.0.0.1 (mgr_start_tcp) with a key, makes a dict
 * {'x': 1} through an honest proxy, then tries, each on its own new
 * connection:
 *   - a wrong key;
 *   - no key at all: a DICT_SET request where the answer should be;
 *   - an answer cut short after 2 bytes of its length, left hanging while
 *     the honest proxy is served (the server closes it at its stall
 *     deadline, MGR_FRAME_TIMEOUT_MS, set to 100 ms here);
 *   - an answer that announces 100000 bytes (Python reads at most 256);
 *   - garbage: an HTTP request, as a browser pointed at the port sends;
 *   - an answer recorded from an honest handshake, replayed on a new
 *     connection (the new challenge's random bytes differ).
 * For each it prints what the hostile client got - only the challenge, and
 * #FAILURE# where Python sends it, then the connection closed - and
 * whether the dict is intact and the honest proxy still served.  Exit 0
 * if every attempt got nothing and changed nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "errors.h"
#include "manager.h"
#include "mgr_tcp.h"
#include "mgr_wire.h"
#include "mp_auth_answer.h"
#include "proxy.h"

static const char KEY[] = "lesson-11 secret";
static struct mgr manager;
static struct proxy dict;
static int bad;

/* A raw TCP connection to the manager, with a 1.5 s patience. */
static int dial(void)
{
    struct sockaddr_in a;
    if (mgr_tcp_sockaddr(manager.address, &a) == -1)
        fatal("%s", mgr_error());
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval t = { .tv_sec = 1, .tv_usec = 500000 };
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t) == -1 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) == -1)
        err_exit("connect to the manager");
    return fd;
}

/* Everything the server sends from now until it closes: "closed" and the
 * bytes, or "kept open" if it had not closed within the patience. */
static bool drain(int fd, uint8_t *buf, size_t size, size_t *n)
{
    *n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + *n, size - *n, 0);
        if (r == 0 || (r == -1 && errno == ECONNRESET))
            return true;
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return false; /* timed out: still open */
        *n += (size_t)r;
        if (*n == size)
            return false;
    }
}

/* What a frame sequence is: "challenge", "challenge + #FAILURE#", ... */
static void describe(const uint8_t *b, size_t n, char *out, size_t size)
{
    size_t at = 0, used = 0;
    out[0] = '\0';
    while (at + 4 <= n) {
        uint32_t len = (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 |
                       (uint32_t)b[at + 2] << 8 | b[at + 3];
        if (at + 4 + len > n)
            break;
        const char *what = "a frame";
        if (len > MP_CHALLENGE_LEN && memcmp(b + at + 4, MP_CHALLENGE, MP_CHALLENGE_LEN) == 0)
            what = "the challenge";
        else if (len == MP_VERDICT_LEN && memcmp(b + at + 4, MP_FAILURE, MP_VERDICT_LEN) == 0)
            what = "#FAILURE#";
        else if (len == MP_VERDICT_LEN && memcmp(b + at + 4, MP_WELCOME, MP_VERDICT_LEN) == 0)
            what = "#WELCOME#";
        used += (size_t)snprintf(out + used, size - used, "%s%s", used ? " + " : "", what);
        at += 4 + len;
    }
    if (at < n)
        snprintf(out + used, size - used, "%s%zu more bytes", used ? " + " : "", n - at);
}

/* The dict as the honest proxy sees it; one line per attempt. */
static void report(const char *attempt, bool closed, const uint8_t *got, size_t n,
                   const char *allowed)
{
    char seen[256];
    describe(got, n, seen, sizeof seen);
    struct mgr_item items[MGR_MAX_ITEMS];
    size_t count;
    char text[256] = "(no answer)";
    bool served = proxy_items(&dict, items, &count) == 0;
    if (served)
        mgr_format_dict(items, count, text, sizeof text);
    /* allowed: what may have come, alternatives separated by '|' */
    bool allowed_seen = false;
    for (const char *a = allowed;; a = strchr(a, '|') + 1) {
        size_t len = strcspn(a, "|");
        allowed_seen |= strlen(seen) == len && strncmp(seen, a, len) == 0;
        if (a[len] == '\0')
            break;
    }
    bool ok = closed && allowed_seen && served && strcmp(text, "{'x': 1}") == 0;
    printf("%s: got %s, then %s; the honest proxy %s %s\n", attempt,
           seen[0] ? (strchr(allowed, '|') ? "at most the challenge" : seen) : (strchr(allowed, '|') ? "at most the challenge" : "nothing"),
           closed ? "the connection closed" : "the connection stayed open",
           served ? "reads" : "is not served:", served ? text : mgr_error());
    if (!ok)
        bad++;
}

/* A request frame: DICT_SET x = 666, the change the attacker wants. */
static size_t evil_request(uint8_t *frame, size_t size)
{
    static struct mgr_request req;
    req.op = MGR_OP_DICT_SET;
    req.id = dict.id;
    strcpy(req.key, "x");
    req.value = mgr_int(666);
    return mgr_encode_request(&req, frame, size);
}

int main(void)
{
    static uint8_t buf[1 << 16];
    size_t n;
    setenv("MGR_FRAME_TIMEOUT_MS", "100", 1);
    proxy_set_authkey(KEY, strlen(KEY));
    proxy_must(mgr_start_tcp(&manager, "127.0.0.1:0", KEY, strlen(KEY)));
    proxy_must(proxy_create_dict(&manager, &dict));
    proxy_must(proxy_dict_set(&dict, "x", mgr_int(1)));

    /* A wrong key: Python's Client(address, authkey=b'wrong'). */
    int fd = dial();
    int rc = mp_client_handshake(fd, "wrong", 5);
    printf("wrong key: the client's handshake says %s\n",
           rc == 0 ? "it is in (it must not be)" : mgr_error());
    bad += rc == 0;
    n = evil_request(buf, sizeof buf);
    mgr_write_all(fd, buf, n); /* may fail: the server has closed */
    bool closed = drain(fd, buf, sizeof buf, &n);
    report("wrong key, then a DICT_SET anyway", closed, buf, n, "");
    close(fd);

    /* No key: a request where the answer should be. */
    fd = dial();
    n = evil_request(buf, sizeof buf);
    mgr_write_all(fd, buf, n);
    closed = drain(fd, buf, sizeof buf, &n);
    report("no key, a DICT_SET instead of the answer", closed, buf, n, "the challenge + #FAILURE#");
    close(fd);

    /* Cut short: two bytes of the answer's length, then silence.  The
     * honest proxy is served meanwhile (report() reads the dict while the
     * stalled connection is still open), and the stall is closed. */
    fd = dial();
    long cn = mp_recv_bytes(fd, buf, MP_AUTH_MAX);
    if (cn == -1)
        fatal("no challenge: %s", mgr_error());
    mgr_write_all(fd, "\0\0", 2);
    struct mgr_item items[MGR_MAX_ITEMS];
    size_t count;
    char text[64] = "";
    if (proxy_items(&dict, items, &count) == 0)
        mgr_format_dict(items, count, text, sizeof text);
    printf("cut short: while it hangs, the honest proxy reads %s\n", text[0] ? text : mgr_error());
    bad += strcmp(text, "{'x': 1}") != 0;
    closed = drain(fd, buf, sizeof buf, &n);
    report("cut short after 2 bytes of the length", closed, buf, n, "");
    close(fd);

    /* Oversized: an answer of 100000 bytes announced. */
    fd = dial();
    if (mp_recv_bytes(fd, buf, MP_AUTH_MAX) == -1)
        fatal("no challenge: %s", mgr_error());
    uint8_t head[4] = { 0, 1, 0x86, 0xa0 }; /* 100000, big-endian */
    mgr_write_all(fd, head, 4);
    memset(buf, 'A', 300);
    mgr_write_all(fd, buf, 300);
    closed = drain(fd, buf, sizeof buf, &n);
    report("an answer of 100000 bytes announced", closed, buf, n, "");
    close(fd);

    /* Garbage: what a browser sends. */
    fd = dial();
    const char *http = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    mgr_write_all(fd, http, strlen(http));
    /* The server closes with the garbage unread, which makes the kernel
     * reset the connection: the challenge, sent first, may be lost with
     * it.  Either way nothing else comes. */
    closed = drain(fd, buf, sizeof buf, &n);
    report("garbage (an HTTP request)", closed, buf, n, "|the challenge");
    close(fd);

    /* Replay: an honest answer to one challenge, sent to another. */
    fd = dial();
    uint8_t challenge[MP_AUTH_MAX], answer[MP_AUTH_MAX];
    cn = mp_recv_bytes(fd, challenge, sizeof challenge);
    long an = cn == -1 ? -1 : mp_make_answer(KEY, strlen(KEY), challenge, (size_t)cn, answer);
    close(fd); /* the honest client leaves before sending it */
    if (an == -1)
        fatal("no answer to replay: %s", mgr_error());
    fd = dial();
    mp_send_bytes(fd, answer, (size_t)an);
    closed = drain(fd, buf, sizeof buf, &n);
    report("an honest answer replayed on a new connection", closed, buf, n,
           "the challenge + #FAILURE#");
    close(fd);

    /* And the honest way in, for comparison. */
    fd = dial();
    rc = mp_client_handshake(fd, KEY, strlen(KEY));
    printf("the right key: %s\n", rc == 0 ? "authenticated, both ways" : mgr_error());
    bad += rc != 0;
    close(fd);

    proxy_must(mgr_shutdown(&manager));
    printf("%s\n", bad ? "SOME ATTEMPTS GOT SOMETHING" : "every attempt got nothing and changed nothing");
    return bad ? 1 : 0;
}
