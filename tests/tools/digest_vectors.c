/* digest_vectors.c - check common/digest.c against the published test vectors.
 *
 * usage: digest_vectors
 *
 * Prints one line per vector ("ok   RFC 4231 case 2") and a last line
 * "N of N vectors agree"; exits 1 if any disagrees (the line says "BAD",
 * with what was computed).  The vectors are those of the standards:
 *     SHA-256       FIPS 180-4 examples (NIST's "SHA256.pdf" worked
 *                   examples) and the empty message
 *     MD5           RFC 1321, appendix A.5, the test suite
 *     HMAC-MD5      RFC 2202, section 2, cases 1-7
 *     HMAC-SHA-256  RFC 4231, section 4, cases 1-7 (case 5 truncated to
 *                   128 bits, as the RFC gives it)
 * Also: hashing in pieces gives what hashing at once gives, across block
 * edges; digest_equal() and random_bytes() do what digest.h says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "errors.h"

enum algo { SHA256, MD5, HMAC_MD5, HMAC_SHA256 };

struct vector {
    const char *name;
    enum algo algo;
    /* key and message: text, or `fill` repeated `count` times, or hex */
    const char *key_text;
    int key_fill, key_count;
    const char *key_hex;
    const char *msg_text;
    int msg_fill, msg_count;
    const char *want; /* hex; may be a prefix of the digest (truncation) */
};

static const struct vector vectors[] = {
    { "FIPS 180-4 SHA-256 empty message", SHA256, .msg_text = "",
      .want = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { "FIPS 180-4 SHA-256 one block 'abc'", SHA256, .msg_text = "abc",
      .want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "FIPS 180-4 SHA-256 two blocks", SHA256,
      .msg_text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      .want = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    { "FIPS 180-4 SHA-256 a million 'a'", SHA256, .msg_fill = 'a', .msg_count = 1000000,
      .want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },

    { "RFC 1321 MD5 \"\"", MD5, .msg_text = "", .want = "d41d8cd98f00b204e9800998ecf8427e" },
    { "RFC 1321 MD5 \"a\"", MD5, .msg_text = "a", .want = "0cc175b9c0f1b6a831c399e269772661" },
    { "RFC 1321 MD5 \"abc\"", MD5, .msg_text = "abc", .want = "900150983cd24fb0d6963f7d28e17f72" },
    { "RFC 1321 MD5 \"message digest\"", MD5, .msg_text = "message digest",
      .want = "f96b697d7cb7938d525a2f31aaf161d0" },
    { "RFC 1321 MD5 a..z", MD5, .msg_text = "abcdefghijklmnopqrstuvwxyz",
      .want = "c3fcd3d76192e4007dfb496cca67e13b" },
    { "RFC 1321 MD5 A..Za..z0..9", MD5,
      .msg_text = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      .want = "d174ab98d277d9f5a5611c2c9f419d9f" },
    { "RFC 1321 MD5 8 x 1234567890", MD5,
      .msg_text = "1234567890123456789012345678901234567890"
                  "1234567890123456789012345678901234567890",
      .want = "57edf4a22be3c955ac49da2e2107b67a" },

    { "RFC 2202 HMAC-MD5 case 1", HMAC_MD5, .key_fill = 0x0b, .key_count = 16,
      .msg_text = "Hi There", .want = "9294727a3638bb1c13f48ef8158bfc9d" },
    { "RFC 2202 HMAC-MD5 case 2", HMAC_MD5, .key_text = "Jefe",
      .msg_text = "what do ya want for nothing?", .want = "750c783e6ab0b503eaa86e310a5db738" },
    { "RFC 2202 HMAC-MD5 case 3", HMAC_MD5, .key_fill = 0xaa, .key_count = 16,
      .msg_fill = 0xdd, .msg_count = 50, .want = "56be34521d144c88dbb8c733f0e8b3f6" },
    { "RFC 2202 HMAC-MD5 case 4", HMAC_MD5, .key_hex = "0102030405060708090a0b0c0d0e0f10111213141516171819",
      .msg_fill = 0xcd, .msg_count = 50, .want = "697eaf0aca3a3aea3a75164746ffaa79" },
    { "RFC 2202 HMAC-MD5 case 5", HMAC_MD5, .key_fill = 0x0c, .key_count = 16,
      .msg_text = "Test With Truncation", .want = "56461ef2342edc00f9bab995690efd4c" },
    { "RFC 2202 HMAC-MD5 case 6", HMAC_MD5, .key_fill = 0xaa, .key_count = 80,
      .msg_text = "Test Using Larger Than Block-Size Key - Hash Key First",
      .want = "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd" },
    { "RFC 2202 HMAC-MD5 case 7", HMAC_MD5, .key_fill = 0xaa, .key_count = 80,
      .msg_text = "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
      .want = "6f630fad67cda0ee1fb1f562db3aa53e" },

    { "RFC 4231 HMAC-SHA-256 case 1", HMAC_SHA256, .key_fill = 0x0b, .key_count = 20,
      .msg_text = "Hi There",
      .want = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
    { "RFC 4231 HMAC-SHA-256 case 2", HMAC_SHA256, .key_text = "Jefe",
      .msg_text = "what do ya want for nothing?",
      .want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
    { "RFC 4231 HMAC-SHA-256 case 3", HMAC_SHA256, .key_fill = 0xaa, .key_count = 20,
      .msg_fill = 0xdd, .msg_count = 50,
      .want = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
    { "RFC 4231 HMAC-SHA-256 case 4", HMAC_SHA256,
      .key_hex = "0102030405060708090a0b0c0d0e0f10111213141516171819",
      .msg_fill = 0xcd, .msg_count = 50,
      .want = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
    { "RFC 4231 HMAC-SHA-256 case 5 (truncated)", HMAC_SHA256, .key_fill = 0x0c, .key_count = 20,
      .msg_text = "Test With Truncation", .want = "a3b6167473100ee06e0c796c2955552b" },
    { "RFC 4231 HMAC-SHA-256 case 6", HMAC_SHA256, .key_fill = 0xaa, .key_count = 131,
      .msg_text = "Test Using Larger Than Block-Size Key - Hash Key First",
      .want = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
    { "RFC 4231 HMAC-SHA-256 case 7", HMAC_SHA256, .key_fill = 0xaa, .key_count = 131,
      .msg_text = "This is a test using a larger than block-size key and a larger than "
                  "block-size data. The key needs to be hashed before being used by the "
                  "HMAC algorithm.",
      .want = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

/* Make the bytes a vector describes; returns a malloc'd buffer, length in *n. */
static unsigned char *bytes_of(const char *text, int fill, int count, const char *hex, size_t *n)
{
    unsigned char *p;
    if (hex != NULL) {
        *n = strlen(hex) / 2;
        p = malloc(*n + 1);
        for (size_t i = 0; p != NULL && i < *n; i++) {
            unsigned v;
            sscanf(hex + 2 * i, "%2x", &v);
            p[i] = (unsigned char)v;
        }
    } else if (text != NULL) {
        *n = strlen(text);
        p = malloc(*n + 1);
        if (p != NULL)
            memcpy(p, text, *n);
    } else {
        *n = (size_t)count;
        p = malloc(*n + 1);
        if (p != NULL)
            memset(p, fill, *n);
    }
    if (p == NULL)
        fatal("out of memory");
    return p;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

int main(int argc, char *argv[])
{
    (void)argv;
    if (argc != 1)
        usage_exit("digest_vectors", "no arguments");
    int good = 0, total = 0;
    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
        const struct vector *t = &vectors[v];
        size_t kn = 0, mn;
        unsigned char *key = NULL;
        if (t->algo == HMAC_MD5 || t->algo == HMAC_SHA256)
            key = bytes_of(t->key_text, t->key_fill, t->key_count, t->key_hex, &kn);
        unsigned char *msg = bytes_of(t->msg_text, t->msg_fill, t->msg_count, NULL, &mn);
        uint8_t out[SHA256_SIZE];
        size_t size = SHA256_SIZE;
        switch (t->algo) {
        case SHA256: sha256(msg, mn, out); break;
        case MD5: md5(msg, mn, out); size = MD5_SIZE; break;
        case HMAC_MD5: hmac_md5(key, kn, msg, mn, out); size = MD5_SIZE; break;
        case HMAC_SHA256: hmac_sha256(key, kn, msg, mn, out); break;
        }
        char hex[2 * SHA256_SIZE + 1];
        to_hex(out, size, hex);
        bool ok = strncmp(hex, t->want, strlen(t->want)) == 0;
        printf("%s  %s%s%s\n", ok ? "ok " : "BAD", t->name, ok ? "" : ": computed ", ok ? "" : hex);
        good += ok;
        total++;
        free(key);
        free(msg);
    }

    /* In pieces of every size from 1 to 130 bytes: the same digests. */
    static unsigned char data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    uint8_t whole_s[SHA256_SIZE], whole_m[MD5_SIZE], part_s[SHA256_SIZE], part_m[MD5_SIZE];
    sha256(data, sizeof data, whole_s);
    md5(data, sizeof data, whole_m);
    bool pieces_ok = true;
    for (size_t piece = 1; piece <= 130; piece++) {
        struct sha256 s;
        struct md5 m;
        sha256_init(&s);
        md5_init(&m);
        for (size_t at = 0; at < sizeof data; at += piece) {
            size_t n = sizeof data - at < piece ? sizeof data - at : piece;
            sha256_update(&s, data + at, n);
            md5_update(&m, data + at, n);
        }
        sha256_final(&s, part_s);
        md5_final(&m, part_m);
        if (memcmp(whole_s, part_s, sizeof part_s) != 0 || memcmp(whole_m, part_m, sizeof part_m) != 0)
            pieces_ok = false;
    }
    printf("%s  hashing in pieces of 1..130 bytes gives the same digests\n", pieces_ok ? "ok " : "BAD");
    good += pieces_ok;
    total++;

    uint8_t a[32] = { 1, 2, 3 }, b[32] = { 1, 2, 3 };
    bool eq_ok = digest_equal(a, b, sizeof a);
    b[31] ^= 0x80;
    eq_ok = eq_ok && !digest_equal(a, b, sizeof a);
    b[31] ^= 0x80;
    b[0] ^= 1;
    eq_ok = eq_ok && !digest_equal(a, b, sizeof a) && digest_equal(a, b, 0);
    printf("%s  digest_equal tells equal from unequal, first byte and last\n", eq_ok ? "ok " : "BAD");
    good += eq_ok;
    total++;

    uint8_t r1[40], r2[40];
    bool rnd_ok = random_bytes(r1, sizeof r1) == 0 && random_bytes(r2, sizeof r2) == 0 &&
                  memcmp(r1, r2, sizeof r1) != 0;
    printf("%s  random_bytes gives 40 bytes twice, not the same twice\n", rnd_ok ? "ok " : "BAD");
    good += rnd_ok;
    total++;

    printf("%d of %d vectors agree\n", good, total);
    return good == total ? 0 : 1;
}
