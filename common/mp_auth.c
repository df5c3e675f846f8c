/* mp_auth.c - Python's connection handshake, the half that does not answer
 * a challenge; see mp_auth.h.  The answering half is mp_auth_answer.c. */
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

/* ================================================================ blocking */

/* One handshake message (at most MP_AUTH_MAX bytes) as one frame, in one
 * write.  Private: a program that writes its own frame sender links this
 * file (mp_auth_answer.c has the public one, mp_send_bytes). */
static int send_message(int fd, const void *buf, size_t n)
{
    uint8_t whole[4 + MP_AUTH_MAX];
    if (n > MP_AUTH_MAX)
        return mgr_fail("a handshake message of %zu bytes (at most %d)", n, MP_AUTH_MAX);
    whole[0] = (uint8_t)(n >> 24);
    whole[1] = (uint8_t)(n >> 16);
    whole[2] = (uint8_t)(n >> 8);
    whole[3] = (uint8_t)n;
    memcpy(whole + 4, buf, n);
    return mgr_write_all(fd, whole, 4 + n);
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
    if (n == -1 || send_message(fd, challenge, (size_t)n) == -1)
        return -1;
    long an = mp_recv_bytes(fd, answer, MP_AUTH_MAX);
    if (an == -1)
        return -1;
    if (mp_check_answer(key, key_len, challenge + MP_CHALLENGE_LEN, (size_t)n - MP_CHALLENGE_LEN,
                        answer, (size_t)an) == -1) {
        char why[256];
        snprintf(why, sizeof why, "%s", mgr_error());
        send_message(fd, MP_FAILURE, MP_VERDICT_LEN); /* best effort */
        return mgr_fail("%s", why);
    }
    return send_message(fd, MP_WELCOME, MP_VERDICT_LEN);
}

