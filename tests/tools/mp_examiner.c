/* mp_examiner.c - a Listener that examines a client's handshake and names its mistakes.
 *
 * usage: mp_examiner sha256|legacy KEY PROG [ARG...]
 *
 * Listens on 127.0.0.1, on a port the kernel picks, and runs PROG with its
 * arguments, every ARG that is exactly "ADDR" replaced by 127.0.0.1:PORT.
 * Then it is the server of Python's handshake for PROG's one connection -
 * a 3.12 server's "{sha256}" challenge, or a 3.11 server's 20 bytes - with
 * the authkey KEY, and checks what comes back byte by byte against what
 * Python's client sends.  A wrong answer is looked at against the usual
 * mistakes (the length's byte order, the prefix left out, the HMAC over
 * other bytes, MD5 for SHA-256...) and refused with #FAILURE#, as Python
 * refuses it.  After the handshake it answers each message with the same
 * bytes in upper case, until PROG closes.
 *
 * When PROG has ended, it prints what it found, one line each, all
 * starting "examiner: " ("examiner: answer ok: ..." or "examiner: MISTAKE:
 * ..."), and exits 0 if the handshake and every message were right, 1 if
 * not.  Never waits more than about 2 s for PROG.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest.h"
#include "errors.h"
#include "mgr_wire.h"
#include "mp_auth_answer.h"

#define USAGE "mp_examiner sha256|legacy KEY PROG [ARG...]"

static char findings[16][512];
static int nfindings;
static bool mistakes;

static void found(bool mistake, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void found(bool mistake, const char *fmt, ...)
{
    if (nfindings == 16)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(findings[nfindings++], sizeof findings[0], fmt, ap);
    va_end(ap);
    mistakes = mistakes || mistake;
}

/* Exactly n bytes, or how many came before end of file / the timeout. */
static size_t read_some(int fd, uint8_t *p, size_t n)
{
    size_t have = 0;
    while (have < n) {
        ssize_t r = recv(fd, p + have, n - have, 0);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    return have;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* A frame's length, checked; names a length sent in the wrong order.
 * Returns the length, or -1 (and a finding). */
static long read_length(int fd, const char *what, size_t max, const char *hint)
{
    uint8_t head[4];
    size_t got = read_some(fd, head, 4);
    if (got == 0) {
        found(true, "MISTAKE: the client closed the connection without sending %s%s", what,
              hint);
        return -1;
    }
    if (got < 4) {
        found(true, "MISTAKE: %s began with only %zu bytes, not the 4-byte length", what, got);
        return -1;
    }
    uint32_t n = be32(head);
    if (n <= max)
        return (long)n;
    if (le32(head) <= max)
        found(true, "MISTAKE: the length of %s came in the wrong byte order: bytes "
                    "%02x %02x %02x %02x read as %u (more than the %zu allowed; Python says "
                    "'bad message length'); it is %u least significant byte first - send it "
                    "big-endian, most significant byte first (network byte order, "
                    "struct.pack('!i', n))",
              what, head[0], head[1], head[2], head[3], (unsigned)n, max, (unsigned)le32(head));
    else
        found(true, "MISTAKE: %s announced %u bytes, more than the %zu allowed", what,
              (unsigned)n, max);
    return -1;
}

/* How many raw bytes a[0..an) spells as hex text ("3fa0..."), an optional
 * "{sha256}" or "{md5}" in front: 32 or 16 (the length of a SHA-256 or an
 * MD5 digest), or 0 if it is not such text. */
static size_t hex_digest_of(const uint8_t *a, size_t an)
{
    if (an >= MP_PREFIX_LEN && memcmp(a, MP_PREFIX, MP_PREFIX_LEN) == 0)
        a += MP_PREFIX_LEN, an -= MP_PREFIX_LEN;
    else if (an >= 5 && memcmp(a, "{md5}", 5) == 0)
        a += 5, an -= 5;
    if (an != 2 * SHA256_SIZE && an != 2 * MD5_SIZE)
        return 0;
    for (size_t i = 0; i < an; i++)
        if (!isxdigit(a[i]))
            return 0;
    return an / 2;
}

/* What was wrong with the answer: the usual mistakes, tried one by one. */
static void diagnose(const uint8_t *key, size_t kn, const uint8_t *challenge, size_t cn,
                     const uint8_t *a, size_t an)
{
    const uint8_t *m = challenge + MP_CHALLENGE_LEN;
    size_t mn = cn - MP_CHALLENGE_LEN;
    bool modern = mn != MP_NONCE_LEGACY;
    uint8_t t[MP_PREFIX_LEN + SHA256_SIZE], h[SHA256_SIZE];
    memcpy(t, MP_PREFIX, MP_PREFIX_LEN);
#define IS(bytes, len) (an == (len) && memcmp(a, (bytes), (len)) == 0)
    size_t hex = hex_digest_of(a, an);
    if (hex != 0) {
        found(true, "MISTAKE: the digest was sent as hex text; send the raw %zu bytes "
                    "(.digest(), not .hexdigest()): %s",
              modern ? (size_t)SHA256_SIZE : (size_t)MD5_SIZE,
              modern ? "\"{sha256}\" + the 32 bytes of the HMAC-SHA256"
                     : "the 16 bytes of the HMAC-MD5, no prefix");
        return;
    }
    if (modern) {
        hmac_sha256(key, kn, m, mn, h);
        if (IS(h, SHA256_SIZE)) {
            found(true, "MISTAKE: the answer is the right HMAC-SHA256 but without its "
                        "{sha256} prefix: a 3.12 answer is \"{sha256}\" + the 32-byte digest "
                        "(a 32-byte answer without the prefix is refused)");
            return;
        }
        hmac_sha256(key, kn, m + MP_PREFIX_LEN, mn - MP_PREFIX_LEN, t + MP_PREFIX_LEN);
        if (IS(t, sizeof t)) {
            found(true, "MISTAKE: the HMAC is over the wrong bytes: over the 40 random bytes "
                        "alone; Python's covers all of M, the {sha256} prefix included");
            return;
        }
        hmac_sha256(key, kn, challenge, cn, t + MP_PREFIX_LEN);
        if (IS(t, sizeof t)) {
            found(true, "MISTAKE: the HMAC is over the wrong bytes: #CHALLENGE# included; "
                        "Python's covers only what follows #CHALLENGE#");
            return;
        }
        hmac_sha256(m, mn, key, kn, t + MP_PREFIX_LEN);
        if (IS(t, sizeof t)) {
            found(true, "MISTAKE: the HMAC's key and message are swapped: the authkey is "
                        "the key, the challenge the message");
            return;
        }
        sha256(m, mn, t + MP_PREFIX_LEN);
        if (IS(t, sizeof t)) {
            found(true, "MISTAKE: the answer is a plain SHA-256 of M, not an HMAC with the "
                        "authkey");
            return;
        }
        hmac_md5(key, kn, m, mn, h);
        if (IS(h, MD5_SIZE)) {
            found(true, "MISTAKE: a {sha256} challenge answered with the legacy raw "
                        "HMAC-MD5; Python 3.12's client answers \"{sha256}\" + HMAC-SHA256");
            return;
        }
    } else {
        hmac_sha256(key, kn, m, mn, t + MP_PREFIX_LEN);
        if (IS(t, sizeof t) || IS(t + MP_PREFIX_LEN, SHA256_SIZE)) {
            found(true, "MISTAKE: a 3.11 server's 20-byte challenge answered with "
                        "HMAC-SHA256; it takes the raw 16-byte HMAC-MD5, no prefix");
            return;
        }
        hmac_md5(key, kn, challenge, cn, h);
        if (IS(h, MD5_SIZE)) {
            found(true, "MISTAKE: the HMAC-MD5 is over the wrong bytes: #CHALLENGE# "
                        "included; Python's covers only the 20 bytes after it");
            return;
        }
        hmac_md5(key, kn, m, mn, h);
        if (an == 5 + MD5_SIZE && memcmp(a, "{md5}", 5) == 0 && memcmp(a + 5, h, MD5_SIZE) == 0) {
            found(true, "MISTAKE: the legacy answer has a {md5} prefix; a 3.11 server "
                        "takes the raw 16 bytes");
            return;
        }
    }
#undef IS
    found(true, "MISTAKE: the answer (%zu bytes) is not what Python's client sends for this "
                "challenge, nor a known mistake: a wrong key, or the wrong bytes hashed?", an);
}

/* The handshake, then the messages, on the one connection. */
static void examine(int fd, enum mp_proto proto, const uint8_t *key, size_t kn)
{
    uint8_t challenge[MP_AUTH_MAX], answer[MP_AUTH_MAX], want[MP_AUTH_MAX];
    long cn = mp_make_challenge(proto, NULL, challenge);
    if (cn == -1 || mp_send_bytes(fd, challenge, (size_t)cn) == -1) {
        found(true, "could not send the challenge: %s", mgr_error());
        return;
    }
    long an = read_length(fd, "the answer", MP_AUTH_MAX,
                          proto == MP_LEGACY
                              ? " (a 3.11 server's challenge is 20 random bytes and no "
                                "{sha256}: is that case answered, with the raw HMAC-MD5?)"
                              : " (its own error is on stderr)");
    if (an == -1)
        return;
    if (read_some(fd, answer, (size_t)an) != (size_t)an) {
        found(true, "MISTAKE: the answer announced %ld bytes but fewer came", an);
        return;
    }
    long wn = mp_make_answer(key, kn, challenge, (size_t)cn, want);
    if (an != wn || memcmp(answer, want, (size_t)an) != 0) {
        diagnose(key, kn, challenge, (size_t)cn, answer, (size_t)an);
        mp_send_bytes(fd, MP_FAILURE, MP_VERDICT_LEN);
        return;
    }
    found(false, "answer ok: %s", proto == MP_LEGACY ? "the raw HMAC-MD5 of the 20 bytes"
                                                     : "{sha256} + HMAC-SHA256 of all of M");
    mp_send_bytes(fd, MP_WELCOME, MP_VERDICT_LEN);
    /* The client's own challenge, answered correctly. */
    if (mp_answer_challenge(fd, key, kn) == -1) {
        found(true, "the client's challenge of the server failed: %s", mgr_error());
        return;
    }
    int messages = 0;
    for (;;) {
        uint8_t head[4];
        size_t got = read_some(fd, head, 4);
        if (got == 0)
            break;
        long n = got == 4 && be32(head) <= 65536 ? (long)be32(head) : -1;
        if (n == -1) {
            if (got == 4 && le32(head) <= 65536)
                found(true, "MISTAKE: a message's length came in the wrong byte order (%u "
                            "least significant byte first): send_frame must send it big-endian",
                      (unsigned)le32(head));
            else
                found(true, "MISTAKE: a message did not begin with a sane 4-byte length");
            return;
        }
        static uint8_t buf[65536];
        if (read_some(fd, buf, (size_t)n) != (size_t)n) {
            found(true, "MISTAKE: a message announced %ld bytes but fewer came", n);
            return;
        }
        for (long i = 0; i < n; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z')
                buf[i] = (uint8_t)(buf[i] - 'a' + 'A');
        if (mp_send_bytes(fd, buf, (size_t)n) == -1)
            return;
        messages++;
    }
    found(false, "%d message(s) answered", messages);
}

int main(int argc, char *argv[])
{
    if (argc < 4)
        usage_exit(USAGE, "a protocol, a key and a program");
    enum mp_proto proto;
    if (strcmp(argv[1], "sha256") == 0)
        proto = MP_SHA256;
    else if (strcmp(argv[1], "legacy") == 0)
        proto = MP_LEGACY;
    else
        usage_exit(USAGE, "protocol '%s' is not sha256 or legacy", argv[1]);
    const uint8_t *key = (const uint8_t *)argv[2];
    size_t kn = strlen(argv[2]);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    if (lfd == -1 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(lfd, 4) == -1 || getsockname(lfd, (struct sockaddr *)&addr, &len) == -1)
        err_exit("listen on 127.0.0.1");
    char where[32];
    snprintf(where, sizeof where, "127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
    for (int k = 3; k < argc; k++)
        if (strcmp(argv[k], "ADDR") == 0)
            argv[k] = where;

    fflush(stdout);
    pid_t child = fork();
    if (child == -1)
        err_exit("fork");
    if (child == 0) {
        execv(argv[3], argv + 3);
        err_exit("exec %s", argv[3]);
    }

    /* Wait for the connection, or for the program to end without one. */
    int fd = -1, status = 0;
    bool ended = false;
    for (int waited = 0; fd == -1 && !ended && waited < 2000; waited += 50) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        if (poll(&p, 1, 50) == 1)
            fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        else if (waitpid(child, &status, WNOHANG) == child)
            ended = true;
    }
    if (fd == -1) {
        found(true, "MISTAKE: the program %s without connecting",
              ended ? "ended" : "did not connect within 2 s, or ended");
    } else {
        struct timeval patience = { .tv_sec = 1, .tv_usec = 500000 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
        examine(fd, proto, key, kn);
        close(fd);
    }
    close(lfd);
    if (!ended) {
        /* Its wait for us is short (a second at most); then it must end. */
        for (int waited = 0; waited < 3000; waited += 10) {
            if (waitpid(child, &status, WNOHANG) == child) {
                ended = true;
                break;
            }
            usleep(10000);
        }
        if (!ended) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            found(true, "MISTAKE: the program did not end after the connection closed");
        }
    }
    fflush(stdout);
    for (int k = 0; k < nfindings; k++)
        printf("examiner: %s\n", findings[k]);
    printf("examiner: the program exited with status %d\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return mistakes ? 1 : 0;
}
