/* mp_auth.c - Python's connection handshake; see mp_auth.h. */
#include "mp_auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mgr_wire.h"

/* ================================================================ messages */

long mp_make_challenge(enum mp_proto proto, const uint8_t *nonce, uint8_t *out)
{
    size_t n = proto == MP_LEGACY ? MP_NONCE_LEGACY : MP_NONCE_SHA256;
    size_t at = 0;
    memcpy(out, MP_CHALLENGE, MP_CHALLENGE_LEN);
    at += MP_CHALLENGE_LEN;
    if (proto != MP_LEGACY) {
        memcpy(out + at, MP_PREFIX, MP_PREFIX_LEN);
        at += MP_PREFIX_LEN;
    }
    if (nonce != NULL)
        memcpy(out + at, nonce, n);
    else if (random_bytes(out + at, n) == -1)
        return mgr_fail("getrandom: %s", strerror(errno));
    return (long)(at + n);
}

/* What digest an answer or a challenge's M names: "{name}" at its start.
 * Python's _get_digest_name_and_payload(): exactly 20 or 16 bytes is the
 * legacy form, no prefix, MD5 ("" here); otherwise a prefix is needed.
 * Returns the name's length (0 for legacy) and the payload's offset in
 * *skip, or -1 for a form this side does not understand. */
static int digest_of(const uint8_t *m, size_t n, size_t *skip, bool *sha)
{
    if (n == MP_NONCE_LEGACY || n == MD5_SIZE) {
        *skip = 0;
        *sha = false;
        return 0;
    }
    if (n >= MP_PREFIX_LEN && memcmp(m, MP_PREFIX, MP_PREFIX_LEN) == 0) {
        *skip = MP_PREFIX_LEN;
        *sha = true;
        return 6;
    }
    if (n >= 5 && memcmp(m, "{md5}", 5) == 0) {
        *skip = 5;
        *sha = false;
        return 3;
    }
    return -1;
}

long mp_make_answer(const void *key, size_t key_len, const uint8_t *challenge, size_t n,
                    uint8_t *out)
{
    if (n < MP_CHALLENGE_LEN || memcmp(challenge, MP_CHALLENGE, MP_CHALLENGE_LEN) != 0)
        return mgr_fail("AuthenticationError: Protocol error, expected challenge");
    const uint8_t *m = challenge + MP_CHALLENGE_LEN;
    size_t mn = n - MP_CHALLENGE_LEN, skip;
    bool sha;
    if (mn < MP_NONCE_LEGACY)
        return mgr_fail("AuthenticationError: challenge too short: %zu bytes", mn);
    int named = digest_of(m, mn, &skip, &sha);
    if (named == -1)
        return mgr_fail("AuthenticationError: unsupported message length, missing digest "
                        "prefix, or unsupported digest");
    if (named == 0) { /* a legacy server: the raw HMAC-MD5 of M */
        hmac_md5(key, key_len, m, mn, out);
        return MD5_SIZE;
    }
    /* The HMAC covers all of M, its "{name}" included, and the answer
     * names the same digest. */
    memcpy(out, m, skip);
    if (sha) {
        hmac_sha256(key, key_len, m, mn, out + skip);
        return (long)(skip + SHA256_SIZE);
    }
    hmac_md5(key, key_len, m, mn, out + skip);
    return (long)(skip + MD5_SIZE);
}

int mp_check_answer(const void *key, size_t key_len, const uint8_t *message, size_t mn,
                    const uint8_t *answer, size_t an)
{
    size_t skip;
    bool sha;
    if (digest_of(answer, an, &skip, &sha) == -1)
        return mgr_fail("AuthenticationError: unsupported message length, missing digest "
                        "prefix, or unsupported digest");
    uint8_t want[SHA256_SIZE];
    size_t want_len = sha ? SHA256_SIZE : MD5_SIZE;
    if (an - skip != want_len)
        return mgr_fail("AuthenticationError: expected '%s' of length %zu got %zu",
                        sha ? "sha256" : "md5", want_len, an - skip);
    if (sha)
        hmac_sha256(key, key_len, message, mn, want);
    else
        hmac_md5(key, key_len, message, mn, want);
    if (!digest_equal(want, answer + skip, want_len))
        return mgr_fail("AuthenticationError: digest received was wrong");
    return 0;
}

/* ================================================================ frames */

/* A whole frame - length, then payload - into out; returns its length. */
static size_t frame(uint8_t *out, const void *payload, size_t n)
{
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memmove(out + 4, payload, n);
    return 4 + n;
}

/* ================================================================ the server's steps */

enum { WANT_ANSWER = 1, WANT_CHALLENGE, WANT_VERDICT, AUTH_OVER };

int mp_server_auth_begin(struct mp_server_auth *a, const uint8_t *key, size_t key_len,
                         enum mp_proto proto, const uint8_t *nonce, uint8_t *out,
                         size_t *out_len)
{
    uint8_t challenge[MP_AUTH_MAX];
    long n = mp_make_challenge(proto, nonce, challenge);
    if (n == -1)
        return -1;
    a->key = key;
    a->key_len = key_len;
    a->message_len = (size_t)n - MP_CHALLENGE_LEN;
    memcpy(a->message, challenge + MP_CHALLENGE_LEN, a->message_len);
    a->state = WANT_ANSWER;
    *out_len = frame(out, challenge, (size_t)n);
    return 0;
}

enum mp_step mp_server_auth_next(struct mp_server_auth *a, const uint8_t *payload, size_t n,
                                 uint8_t *out, size_t *out_len)
{
    *out_len = 0;
    switch (a->state) {
    case WANT_ANSWER: /* deliver_challenge: is it the right answer? */
        if (mp_check_answer(a->key, a->key_len, a->message, a->message_len, payload, n) == -1) {
            a->state = AUTH_OVER;
            *out_len = frame(out, MP_FAILURE, MP_VERDICT_LEN);
            return MP_STEP_FAILED;
        }
        a->state = WANT_CHALLENGE;
        *out_len = frame(out, MP_WELCOME, MP_VERDICT_LEN);
        return MP_STEP_SEND;
    case WANT_CHALLENGE: { /* answer_challenge: the client's challenge */
        uint8_t answer[MP_AUTH_MAX];
        long an = mp_make_answer(a->key, a->key_len, payload, n, answer);
        if (an == -1) {
            a->state = AUTH_OVER;
            return MP_STEP_FAILED;
        }
        a->state = WANT_VERDICT;
        *out_len = frame(out, answer, (size_t)an);
        return MP_STEP_SEND;
    }
    case WANT_VERDICT:
        a->state = AUTH_OVER;
        if (n == MP_VERDICT_LEN && memcmp(payload, MP_WELCOME, MP_VERDICT_LEN) == 0)
            return MP_STEP_DONE;
        mgr_fail("AuthenticationError: digest sent was rejected");
        return MP_STEP_FAILED;
    default:
        mgr_fail("the handshake is over");
        return MP_STEP_FAILED;
    }
}

/* ================================================================ blocking */

int mp_send_bytes(int fd, const void *buf, size_t n)
{
    if (n > 0x7fffffff)
        return mgr_fail("message of %zu bytes: the 8-byte length form is not written here", n);
    uint8_t head[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    /* One send for a short message (Python joins header and bytes too, so
     * that Nagle's algorithm does not hold the bytes back). */
    uint8_t whole[4 + MP_AUTH_MAX];
    if (n <= MP_AUTH_MAX) {
        memcpy(whole, head, 4);
        memcpy(whole + 4, buf, n);
        return mgr_write_all(fd, whole, 4 + n);
    }
    if (mgr_write_all(fd, head, 4) == -1)
        return -1;
    return mgr_write_all(fd, buf, n);
}

/* Exactly n bytes, or -1. */
static int read_exactly(int fd, uint8_t *p, size_t n, bool first)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r == 0)
            return mgr_fail(first ? "EOFError: the peer closed the connection"
                                  : "OSError: got end of file during message");
        if (r == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return mgr_fail("TimeoutError: no message from the peer in time");
            return mgr_fail("recv: %s", strerror(errno));
        }
        p += r;
        n -= (size_t)r;
        first = false;
    }
    return 0;
}

long mp_recv_bytes(int fd, void *buf, size_t max)
{
    uint8_t head[4];
    if (read_exactly(fd, head, 4, true) == -1)
        return -1;
    uint32_t n = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    /* Python reads 0xffffffff (-1) as "an 8-byte length follows"; any
     * length over max, that one included, is refused before the payload. */
    if (n > max)
        return mgr_fail("OSError: bad message length (%u bytes, at most %zu)", (unsigned)n, max);
    if (read_exactly(fd, buf, n, false) == -1)
        return -1;
    return (long)n;
}

int mp_deliver_challenge(int fd, const void *key, size_t key_len, enum mp_proto proto,
                         const uint8_t *nonce)
{
    uint8_t challenge[MP_AUTH_MAX], answer[MP_AUTH_MAX];
    long n = mp_make_challenge(proto, nonce, challenge);
    if (n == -1 || mp_send_bytes(fd, challenge, (size_t)n) == -1)
        return -1;
    long an = mp_recv_bytes(fd, answer, MP_AUTH_MAX);
    if (an == -1)
        return -1;
    if (mp_check_answer(key, key_len, challenge + MP_CHALLENGE_LEN, (size_t)n - MP_CHALLENGE_LEN,
                        answer, (size_t)an) == -1) {
        char why[256];
        snprintf(why, sizeof why, "%s", mgr_error());
        mp_send_bytes(fd, MP_FAILURE, MP_VERDICT_LEN); /* best effort */
        return mgr_fail("%s", why);
    }
    return mp_send_bytes(fd, MP_WELCOME, MP_VERDICT_LEN);
}

int mp_answer_challenge(int fd, const void *key, size_t key_len)
{
    uint8_t challenge[MP_AUTH_MAX], answer[MP_AUTH_MAX], verdict[MP_AUTH_MAX];
    long n = mp_recv_bytes(fd, challenge, MP_AUTH_MAX);
    if (n == -1)
        return -1;
    long an = mp_make_answer(key, key_len, challenge, (size_t)n, answer);
    if (an == -1 || mp_send_bytes(fd, answer, (size_t)an) == -1)
        return -1;
    long vn = mp_recv_bytes(fd, verdict, MP_AUTH_MAX);
    if (vn == -1)
        return -1;
    if (vn != MP_VERDICT_LEN || memcmp(verdict, MP_WELCOME, MP_VERDICT_LEN) != 0)
        return mgr_fail("AuthenticationError: digest sent was rejected");
    return 0;
}

int mp_client_handshake(int fd, const void *key, size_t key_len)
{
    if (mp_answer_challenge(fd, key, key_len) == -1)
        return -1;
    return mp_deliver_challenge(fd, key, key_len, MP_SHA256, NULL);
}

int mp_server_handshake(int fd, const void *key, size_t key_len, enum mp_proto proto)
{
    if (mp_deliver_challenge(fd, key, key_len, proto, NULL) == -1)
        return -1;
    return mp_answer_challenge(fd, key, key_len);
}
