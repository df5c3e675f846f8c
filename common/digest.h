/* digest.h - SHA-256, MD5, their HMACs, a constant-time compare and random
 * bytes: what Python's multiprocessing handshake needs (mp_auth.h).
 *
 * Written here, from the standards, so that a learner can read every step
 * of the handshake down to the bit operations:
 *     SHA-256   FIPS 180-4, section 6.2
 *     MD5       RFC 1321
 *     HMAC      RFC 2104 (test vectors: RFC 2202 for MD5, RFC 4231 for SHA-256)
 * tests/tools/digest_vectors.c checks them against the published vectors.
 *
 * This is for teaching.  Real programs take these from a library that is
 * reviewed, tested against side channels and kept up to date - OpenSSL's
 * libcrypto (what Python's hashlib and hmac use), libsodium, or the kernel's
 * AF_ALG sockets - and a real network service puts TLS around its traffic.
 * MD5 is broken for collisions; it is here only because Python 3.11 and
 * older answer the handshake with HMAC-MD5.
 *
 * None of these functions allocates or exits.
 */
#ifndef DIGEST_H
#define DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_SIZE 32 /* bytes of a SHA-256 digest */
#define MD5_SIZE 16    /* bytes of an MD5 digest */
#define DIGEST_BLOCK 64 /* both hash 64-byte blocks */

/* A hash being computed: init, update as often as needed, final. */
struct sha256 {
    uint32_t h[8];
    uint64_t length;             /* bytes hashed so far */
    uint8_t block[DIGEST_BLOCK]; /* bytes waiting for a whole block */
    size_t used;
};

struct md5 {
    uint32_t h[4];
    uint64_t length;
    uint8_t block[DIGEST_BLOCK];
    size_t used;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
void sha256_final(struct sha256 *c, uint8_t out[SHA256_SIZE]);

void md5_init(struct md5 *c);
void md5_update(struct md5 *c, const void *data, size_t n);
void md5_final(struct md5 *c, uint8_t out[MD5_SIZE]);

/* One call each: the digest of data[0..n). */
void sha256(const void *data, size_t n, uint8_t out[SHA256_SIZE]);
void md5(const void *data, size_t n, uint8_t out[MD5_SIZE]);

/* HMAC(key, message), RFC 2104; a key of any length (a key longer than a
 * block is hashed first, as the RFC says). */
void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                 uint8_t out[SHA256_SIZE]);
void hmac_md5(const void *key, size_t key_len, const void *msg, size_t msg_len,
              uint8_t out[MD5_SIZE]);

/* Are a[0..n) and b[0..n) equal?  Takes the same time wherever the first
 * difference is, so that a peer who times the answers cannot find the
 * right digest byte by byte (Python: hmac.compare_digest). */
bool digest_equal(const void *a, const void *b, size_t n);

/* Fill buf[0..n) with random bytes from the kernel, getrandom(2).  Returns
 * 0, or -1 with errno set.  Waits only until the kernel's pool is
 * initialised at boot; never returns fewer bytes (Python: os.urandom). */
int random_bytes(void *buf, size_t n);

#endif
