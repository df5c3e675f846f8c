/* mp_auth.h - Python's multiprocessing.connection handshake, byte for byte.
 *
 * A Listener(address, authkey=K) and a Client(address, authkey=K) prove to
 * each other that both know K, without sending it (CPython:
 * Lib/multiprocessing/connection.py, deliver_challenge and
 * answer_challenge).  Every message is framed as send_bytes() frames it: a
 * 4-byte big-endian length, then the bytes - the same framing as the
 * manager's requests (mgr_wire.h).
 *
 *     server (Listener.accept)              client (Client)
 *     deliver_challenge:
 *       "#CHALLENGE#" + M            ---->   answer_challenge:
 *                                    <----     A = answer(K, M)
 *       check A: "#WELCOME#"         ---->     (or "#FAILURE#" and close)
 *     answer_challenge:                      deliver_challenge:
 *                                    <----     "#CHALLENGE#" + M'
 *       A' = answer(K, M')           ---->
 *                                    <----     check A': "#WELCOME#"
 *
 * Two versions, told apart by the length of M:
 *   Python 3.12 and newer: M = "{sha256}" + 40 random bytes, and
 *       answer(K, M) = "{sha256}" + HMAC-SHA256(K, M) - over the whole of M,
 *       its "{sha256}" included, so that no one can swap the name for a
 *       weaker digest's.  An answer of exactly 16 bytes, without a prefix,
 *       is taken as the legacy HMAC-MD5 (an old client).
 *   Python 3.11 and older: M = 20 random bytes, and answer(K, M) =
 *       HMAC-MD5(K, M), the raw 16 bytes.
 * A new client answers an old server's 20-byte M the old way; an old
 * client answers a new server's M with HMAC-MD5 over all of it, which the
 * new server accepts.  So a new server talks to both.
 *
 * Each side reads every handshake message with recv_bytes(256): a frame
 * longer than MP_AUTH_MAX bytes is refused ("bad message length") and the
 * connection closed.  Only "{sha256}" and "{md5}" answers are understood
 * here; Python also knows sha384 and two SHA-3s, which its clients never
 * choose unless a server asks for them.
 *
 * The authkey proves who connects.  It does not encrypt anything: every
 * byte after the handshake crosses the network in the clear.
 *
 * This header is the half a program may use that writes its own client
 * answer (lesson 11's auth_client): the challenge, the check of an answer,
 * receiving a frame, deliver_challenge().  Sending a frame and answering a
 * challenge are not here: auth_client writes its own, and its test
 * refuses a build that links the manager's.
 *
 * Errors: every function returns -1 and sets mgr_error() (mgr_wire.h) to a
 * message named like Python's exception: "AuthenticationError: digest
 * received was wrong".  None of them exits.
 */
#ifndef MP_AUTH_H
#define MP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define MP_AUTH_MAX 256     /* bytes in one handshake message, at most */
#define MP_NONCE_SHA256 40  /* random bytes of a 3.12+ challenge (MESSAGE_LENGTH) */
#define MP_NONCE_LEGACY 20  /* random bytes of a 3.11 challenge */
#define MP_PREFIX "{sha256}"
#define MP_PREFIX_LEN 8
#define MP_CHALLENGE "#CHALLENGE#"
#define MP_CHALLENGE_LEN 11
#define MP_WELCOME "#WELCOME#"
#define MP_FAILURE "#FAILURE#"
#define MP_VERDICT_LEN 9    /* both words have 9 bytes */
#define MP_KEY_MAX 256      /* bytes of an authkey kept here, at most */

/* Which challenge a server sends. */
enum mp_proto {
    MP_SHA256 = 0, /* Python 3.12+: "{sha256}" + 40 bytes (the default) */
    MP_LEGACY = 1, /* Python 3.11 and older: 20 bytes, HMAC-MD5 */
};

/* ------------------------------------------------------ one message */

/* The challenge message a server sends, "#CHALLENGE#" + M, into out[]
 * (MP_AUTH_MAX bytes).  nonce: the random bytes to use (40 or 20 of them,
 * by proto), or NULL for fresh ones from getrandom(2) - tests replaying a
 * recorded handshake pass the recorded ones.  Returns its length, or -1. */
long mp_make_challenge(enum mp_proto proto, const uint8_t *nonce, uint8_t *out);

/* Does answer[0..an) answer message[0..mn) (M: what followed
 * "#CHALLENGE#")?  0 if it does, -1 (with the reason) if not.  The digests
 * are compared in constant time. */
int mp_check_answer(const void *key, size_t key_len, const uint8_t *message, size_t mn,
                    const uint8_t *answer, size_t an);

/* ---------------------------------------------- blocking, one connection */

/* conn.recv_bytes(max): one frame's payload into buf[max].  Returns its
 * length, or -1: end of file, an error, a timeout (SO_RCVTIMEO), or a
 * frame longer than max ("bad message length", as Python says; the rest
 * of such a frame is not read). */
long mp_recv_bytes(int fd, void *buf, size_t max);

/* deliver_challenge(connection, authkey), exactly as Python's: send a
 * challenge, check the answer; a wrong answer gets "#FAILURE#". */
int mp_deliver_challenge(int fd, const void *key, size_t key_len, enum mp_proto proto,
                         const uint8_t *nonce);

#endif
