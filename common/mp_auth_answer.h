/* mp_auth_answer.h - the answering half of Python's handshake (mp_auth.h).
 *
 * Sending a frame, computing the answer to a challenge, the client's whole
 * handshake and the server's state machine (which answers the client's
 * challenge too).  The manager (manager.c), its TCP proxies (mgr_tcp.c),
 * remote_bench and the test tools use these.  Lesson 11's auth_client is
 * the exercise of writing them: it includes mp_auth.h only, and its test
 * refuses a build that links anything declared here (it reads the built
 * program's symbols with nm).
 *
 * Errors as in mp_auth.h: -1 and mgr_error() set, never an exit.
 */
#ifndef MP_AUTH_ANSWER_H
#define MP_AUTH_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "mp_auth.h"

/* The answer to challenge[0..n) (the whole message, "#CHALLENGE#"
 * included), as Python's answer_challenge computes it, into out[]
 * (MP_AUTH_MAX bytes).  Returns its length, or -1 for a message that is
 * not a challenge Python would answer. */
long mp_make_answer(const void *key, size_t key_len, const uint8_t *challenge, size_t n,
                    uint8_t *out);

/* ------------------------------------------- the server, step by step */

/* The server's side of the handshake as a state machine, for a server that
 * serves many connections from one poll(2) loop and must never block on
 * one of them.  Feed it each whole frame that arrives; it says what to
 * send back. */
struct mp_server_auth {
    int state;                /* what the next frame must be */
    const uint8_t *key;       /* the server's authkey (not copied) */
    size_t key_len;
    uint8_t message[MP_PREFIX_LEN + MP_NONCE_SHA256]; /* M, to check the answer */
    size_t message_len;
};

enum mp_step {
    MP_STEP_SEND,   /* send the frame in out, then wait for the next frame */
    MP_STEP_DONE,   /* authenticated: send the frame in out, if any */
    MP_STEP_FAILED, /* send the frame in out, if any, then close (mgr_error() says why) */
};

/* Begin: the challenge frame (length included) into out[4 + MP_AUTH_MAX];
 * its length into *out_len.  nonce as for mp_make_challenge.  Returns 0, or
 * -1 if no random bytes could be had. */
int mp_server_auth_begin(struct mp_server_auth *a, const uint8_t *key, size_t key_len,
                         enum mp_proto proto, const uint8_t *nonce, uint8_t *out,
                         size_t *out_len);

/* One whole frame's payload arrived (at most MP_AUTH_MAX bytes: the caller
 * refuses longer ones).  The frame to send (length included, maybe none:
 * *out_len 0) goes into out[4 + MP_AUTH_MAX]. */
enum mp_step mp_server_auth_next(struct mp_server_auth *a, const uint8_t *payload, size_t n,
                                 uint8_t *out, size_t *out_len);

/* ---------------------------------------------- blocking, one connection */

/* conn.send_bytes(buf): the length (4 bytes, big-endian), then the bytes,
 * n < 2^31.  Returns 0 or -1. */
int mp_send_bytes(int fd, const void *buf, size_t n);

/* answer_challenge(connection, authkey), exactly as Python's: read the
 * challenge, send the answer, read the verdict. */
int mp_answer_challenge(int fd, const void *key, size_t key_len);

/* Both directions, in the order Client() and Listener.accept() use. */
int mp_client_handshake(int fd, const void *key, size_t key_len);
int mp_server_handshake(int fd, const void *key, size_t key_len, enum mp_proto proto);

#endif
