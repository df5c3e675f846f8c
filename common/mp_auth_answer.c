/* mp_auth_answer.c - the answering half of Python's handshake; see
 * mp_auth_answer.h (and mp_auth.h for the other half). */
#include "mp_auth_answer.h"

#include <stdbool.h>
#include <string.h>

#include "mgr_wire.h"

/* ================================================================ the answer */

long mp_make_answer(const void *key, size_t key_len, const uint8_t *challenge, size_t n,
                    uint8_t *out)
{
    if (n < MP_CHALLENGE_LEN || memcmp(challenge, MP_CHALLENGE, MP_CHALLENGE_LEN) != 0)
        return mgr_fail("AuthenticationError: Protocol error, expected challenge");
    const uint8_t *m = challenge + MP_CHALLENGE_LEN;
    size_t mn = n - MP_CHALLENGE_LEN, skip;
    bool sha = false;
    if (mn < MP_NONCE_LEGACY)
        return mgr_fail("AuthenticationError: challenge too short: %zu bytes", mn);
    /* Which digest M names (Python's _get_digest_name_and_payload): 20
     * bytes is the legacy form, no prefix; otherwise "{name}" begins it. */
    if (mn == MP_NONCE_LEGACY) {
        skip = 0;
    } else if (memcmp(m, MP_PREFIX, MP_PREFIX_LEN) == 0) {
        skip = MP_PREFIX_LEN;
        sha = true;
    } else if (memcmp(m, "{md5}", 5) == 0) {
        skip = 5;
    } else {
        return mgr_fail("AuthenticationError: unsupported message length, missing digest "
                        "prefix, or unsupported digest");
    }
    if (skip == 0) { /* a legacy server: the raw HMAC-MD5 of M */
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
