/* digest.c - SHA-256 (FIPS 180-4), MD5 (RFC 1321), HMAC (RFC 2104), a
 * constant-time compare and getrandom(2).  See digest.h: for teaching. */
#include "digest.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t rotl(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

/* ================================================================ SHA-256 */

/* FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

void sha256_init(struct sha256 *c)
{
    /* 5.3.3: the square roots of the first 8 primes, fractional parts. */
    static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(c->h, h0, sizeof h0);
    c->length = 0;
    c->used = 0;
}

/* 6.2.2: one 64-byte block into the state.  Words are big-endian. */
static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t big1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = k + big1 + ch + K256[t] + w[t];
        uint32_t big0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = big0 + maj;
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

void sha256_update(struct sha256 *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    c->length += n;
    while (n > 0) {
        size_t take = DIGEST_BLOCK - c->used;
        if (take > n)
            take = n;
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used == DIGEST_BLOCK) {
            sha256_block(c->h, c->block);
            c->used = 0;
        }
    }
}

/* 5.1.1 padding: a 1 bit, zeros, then the length in bits as 64 bits; the
 * only difference between SHA-256's and MD5's is that byte order. */
static void pad(uint8_t *block, size_t *used, uint64_t length, bool big_endian,
                void (*compress)(uint32_t *, const uint8_t *), uint32_t *h)
{
    uint64_t bits = length * 8;
    block[(*used)++] = 0x80;
    if (*used > DIGEST_BLOCK - 8) {
        memset(block + *used, 0, DIGEST_BLOCK - *used);
        compress(h, block);
        *used = 0;
    }
    memset(block + *used, 0, DIGEST_BLOCK - 8 - *used);
    for (int k = 0; k < 8; k++)
        block[big_endian ? DIGEST_BLOCK - 1 - k : DIGEST_BLOCK - 8 + k] = (uint8_t)(bits >> (8 * k));
    compress(h, block);
    *used = 0;
}

void sha256_final(struct sha256 *c, uint8_t out[SHA256_SIZE])
{
    pad(c->block, &c->used, c->length, true, sha256_block, c->h);
    for (int k = 0; k < 8; k++) {
        out[4 * k] = (uint8_t)(c->h[k] >> 24);
        out[4 * k + 1] = (uint8_t)(c->h[k] >> 16);
        out[4 * k + 2] = (uint8_t)(c->h[k] >> 8);
        out[4 * k + 3] = (uint8_t)c->h[k];
    }
    memset(c, 0, sizeof *c); /* no key material left behind in HMAC */
}

void sha256(const void *data, size_t n, uint8_t out[SHA256_SIZE])
{
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, data, n);
    sha256_final(&c, out);
}

/* ================================================================ MD5 */

/* RFC 1321, 3.4: T[i] = floor(2^32 * |sin(i)|), i = 1..64, and the shift
 * amounts of each round. */
static const uint32_t T[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const uint8_t S[4][4] = { { 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 } };

void md5_init(struct md5 *c)
{
    c->h[0] = 0x67452301;
    c->h[1] = 0xefcdab89;
    c->h[2] = 0x98badcfe;
    c->h[3] = 0x10325476;
    c->length = 0;
    c->used = 0;
}

/* 3.4: one block, four rounds of sixteen steps.  Words are little-endian. */
static void md5_block(uint32_t h[4], const uint8_t *p)
{
    uint32_t x[16];
    for (int t = 0; t < 16; t++)
        x[t] = (uint32_t)p[4 * t] | (uint32_t)p[4 * t + 1] << 8 |
               (uint32_t)p[4 * t + 2] << 16 | (uint32_t)p[4 * t + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g, round = i / 16;
        switch (round) {
        case 0: f = (b & c) | (~b & d); g = i; break;                 /* F */
        case 1: f = (b & d) | (c & ~d); g = (5 * i + 1) % 16; break;  /* G */
        case 2: f = b ^ c ^ d; g = (3 * i + 5) % 16; break;           /* H */
        default: f = c ^ (b | ~d); g = (7 * i) % 16; break;           /* I */
        }
        uint32_t next = b + rotl(a + f + T[i] + x[g], S[round][i % 4]);
        a = d;
        d = c;
        c = b;
        b = next;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void md5_update(struct md5 *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    c->length += n;
    while (n > 0) {
        size_t take = DIGEST_BLOCK - c->used;
        if (take > n)
            take = n;
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used == DIGEST_BLOCK) {
            md5_block(c->h, c->block);
            c->used = 0;
        }
    }
}

void md5_final(struct md5 *c, uint8_t out[MD5_SIZE])
{
    pad(c->block, &c->used, c->length, false, md5_block, c->h);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 4; j++)
            out[4 * k + j] = (uint8_t)(c->h[k] >> (8 * j));
    memset(c, 0, sizeof *c);
}

void md5(const void *data, size_t n, uint8_t out[MD5_SIZE])
{
    struct md5 c;
    md5_init(&c);
    md5_update(&c, data, n);
    md5_final(&c, out);
}

/* ================================================================ HMAC */

/* The hash of two pieces one after the other, H(a || b), for HMAC. */
typedef void (*hash_two)(const void *a, size_t na, const void *b, size_t nb, uint8_t *out);

static void sha256_two(const void *a, size_t na, const void *b, size_t nb, uint8_t *out)
{
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, a, na);
    sha256_update(&c, b, nb);
    sha256_final(&c, out);
}

static void md5_two(const void *a, size_t na, const void *b, size_t nb, uint8_t *out)
{
    struct md5 c;
    md5_init(&c);
    md5_update(&c, a, na);
    md5_update(&c, b, nb);
    md5_final(&c, out);
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || message)), K padded with zeros
 * to a block (hashed first if longer than a block).  Both hashes here have
 * 64-byte blocks; size is the digest's length (at most SHA256_SIZE). */
static void hmac(hash_two h, size_t size, const void *key, size_t key_len,
                 const void *msg, size_t msg_len, uint8_t *out)
{
    uint8_t k[DIGEST_BLOCK] = { 0 }, pad_block[DIGEST_BLOCK], inner[SHA256_SIZE];
    if (key_len > DIGEST_BLOCK)
        h(key, key_len, NULL, 0, k);
    else if (key_len > 0)
        memcpy(k, key, key_len);
    for (int i = 0; i < DIGEST_BLOCK; i++)
        pad_block[i] = k[i] ^ 0x36;
    h(pad_block, sizeof pad_block, msg, msg_len, inner);
    for (int i = 0; i < DIGEST_BLOCK; i++)
        pad_block[i] = k[i] ^ 0x5c;
    h(pad_block, sizeof pad_block, inner, size, out);
    memset(k, 0, sizeof k);
    memset(pad_block, 0, sizeof pad_block);
}

void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                 uint8_t out[SHA256_SIZE])
{
    hmac(sha256_two, SHA256_SIZE, key, key_len, msg, msg_len, out);
}

void hmac_md5(const void *key, size_t key_len, const void *msg, size_t msg_len,
              uint8_t out[MD5_SIZE])
{
    hmac(md5_two, MD5_SIZE, key, key_len, msg, msg_len, out);
}

/* ================================================================ compare, random */

bool digest_equal(const void *a, const void *b, size_t n)
{
    /* Look at every byte whatever came before: OR the differences together
     * and test once at the end.  volatile keeps the compiler from turning
     * the loop back into an early exit. */
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

int random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        /* Up to 256 bytes come in one call, or the call fails; a signal can
         * still cut a larger request short, so loop. */
        ssize_t got = getrandom(p, n, 0);
        if (got == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}
