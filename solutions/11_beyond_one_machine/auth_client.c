/* auth_client.c - Python's Client(address, authkey=...) in C: prove the key, then talk.
 *
 * usage: AUTHKEY=KEY auth_client HOST:PORT [MESSAGE...]
 *
 * Connects over TCP to a multiprocessing.connection Listener - Python's
 * own, or this lesson's manager - and does what Client() does:
 *   1. answer the server's challenge (answer_challenge(): your part),
 *   2. challenge the server in turn (mp_deliver_challenge(), common/),
 * then sends each MESSAGE with send_bytes() and prints what comes back:
 *     sent b'hello', got b'HELLO'
 * HOST is a numeric IPv4 address (127.0.0.1, or a namespace's 10.200.x.y);
 * no name lookup.  The key comes from the environment, not the command line,
 * where ps(1) would show it to every user.  A refused key ends the program
 * with Python's message on stderr:
 *     auth_client: AuthenticationError: digest sent was rejected
 * and exit status 1.  No wait for the server lasts longer than a second.
 *
 * The lesson is in README.md beside this file; mp_auth.h describes the
 * handshake byte by byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "args.h"
#include "digest.h"
#include "errors.h"
#include "mgr_wire.h"
#include "mp_auth.h"

#define USAGE "AUTHKEY=KEY auth_client HOST:PORT [MESSAGE...]"
#define PATIENCE_MS 1000

/* conn.send_bytes(buf): the length as 4 bytes, most significant first
 * (network byte order), then the bytes themselves.  0, or -1 with
 * mgr_error() set. */
int send_frame(int fd, const void *buf, size_t n)
{
    uint8_t frame[4 + 4096];
    uint8_t head[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    if (n <= sizeof frame - 4) {
        /* One write, as Python joins a short message to its length: two
         * small writes in a row can wait on Nagle's algorithm (tcp(7)). */
        memcpy(frame, head, 4);
        memcpy(frame + 4, buf, n);
        return mgr_write_all(fd, frame, 4 + n);
    }
    if (mgr_write_all(fd, head, sizeof head) == -1)
        return -1;
    return mgr_write_all(fd, buf, n);
}

/* Python's answer_challenge(connection, authkey): read the challenge,
 * send the answer, read the verdict.  0 if the server said #WELCOME#,
 * -1 (mgr_error() says why, in Python's words) otherwise. */
int answer_challenge(int fd, const uint8_t *key, size_t key_len)
{
    uint8_t message[MP_AUTH_MAX], answer[MP_PREFIX_LEN + SHA256_SIZE];
    long n = mp_recv_bytes(fd, message, sizeof message); /* recv_bytes(256) */
    if (n == -1)
        return -1;
    if (n < MP_CHALLENGE_LEN || memcmp(message, MP_CHALLENGE, MP_CHALLENGE_LEN) != 0)
        return mgr_fail("AuthenticationError: Protocol error, expected challenge");
    const uint8_t *m = message + MP_CHALLENGE_LEN; /* M: what follows #CHALLENGE# */
    size_t mn = (size_t)n - MP_CHALLENGE_LEN, an;
    if (mn == MP_NONCE_LEGACY) {
        /* A Python 3.11 server: the raw HMAC-MD5 of the 20 bytes. */
        hmac_md5(key, key_len, m, mn, answer);
        an = MD5_SIZE;
    } else if (mn > MP_PREFIX_LEN && memcmp(m, MP_PREFIX, MP_PREFIX_LEN) == 0) {
        /* Python 3.12+: "{sha256}", then the HMAC of all of M - its own
         * "{sha256}" included, so the name cannot be swapped unnoticed. */
        memcpy(answer, MP_PREFIX, MP_PREFIX_LEN);
        hmac_sha256(key, key_len, m, mn, answer + MP_PREFIX_LEN);
        an = MP_PREFIX_LEN + SHA256_SIZE;
    } else {
        return mgr_fail("AuthenticationError: unsupported message length, missing digest "
                        "prefix, or unsupported digest");
    }
    if (send_frame(fd, answer, an) == -1)
        return -1;
    uint8_t verdict[MP_AUTH_MAX];
    long vn = mp_recv_bytes(fd, verdict, sizeof verdict);
    if (vn == -1)
        return -1;
    if (vn != MP_VERDICT_LEN || memcmp(verdict, MP_WELCOME, MP_VERDICT_LEN) != 0)
        return mgr_fail("AuthenticationError: digest sent was rejected");
    return 0;
}

/* ------------------------------------------------------------ the rest is given */

/* "HOST:PORT" into an IPv4 address, or a usage error. */
static struct sockaddr_in parse_address(const char *text)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    char host[64];
    const char *colon = strrchr(text, ':');
    long port;
    if (colon == NULL || (size_t)(colon - text) >= sizeof host)
        usage_exit(USAGE, "'%s' is not HOST:PORT", text);
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        usage_exit(USAGE, "'%s' is not a numeric IPv4 address", host);
    if (!parse_long(colon + 1, 1, 65535, &port))
        usage_exit(USAGE, "'%s' is not a port (1 to 65535)", colon + 1);
    addr.sin_port = htons((uint16_t)port);
    return addr;
}

/* bytes' repr, as Python prints it: b'hello', b'\x00\xff'. */
static void print_bytes(const char *what, const uint8_t *p, size_t n)
{
    printf("%sb'", what);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' || p[i] == '\'')
            printf("\\%c", p[i]);
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('\'');
}

int main(int argc, char *argv[])
{
    if (argc < 2)
        usage_exit(USAGE, "name the listener's HOST:PORT");
    struct sockaddr_in addr = parse_address(argv[1]);
    const char *key = getenv("AUTHKEY");
    if (key == NULL || *key == '\0')
        usage_exit(USAGE, "set AUTHKEY to the listener's authkey");
    if (strlen(key) > MP_KEY_MAX)
        usage_exit(USAGE, "AUTHKEY has more than %d bytes", MP_KEY_MAX);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        err_exit("socket");
    /* A silent server gets a second, not for ever. */
    struct timeval patience = { .tv_sec = PATIENCE_MS / 1000, .tv_usec = PATIENCE_MS % 1000 * 1000 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof patience) == -1)
        err_exit("setsockopt");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        err_exit("connect to %s", argv[1]);

    /* Client(address, authkey): answer first, then ask. */
    if (answer_challenge(fd, (const uint8_t *)key, strlen(key)) == -1)
        fatal("%s", mgr_error());
    if (mp_deliver_challenge(fd, key, strlen(key), MP_SHA256, NULL) == -1)
        fatal("%s", mgr_error());

    for (int k = 2; k < argc; k++) {
        uint8_t reply[4096];
        if (send_frame(fd, argv[k], strlen(argv[k])) == -1)
            fatal("send_bytes: %s", mgr_error());
        long n = mp_recv_bytes(fd, reply, sizeof reply);
        if (n == -1)
            fatal("recv_bytes: %s", mgr_error());
        print_bytes("sent ", (const uint8_t *)argv[k], strlen(argv[k]));
        print_bytes(", got ", reply, (size_t)n);
        putchar('\n');
    }
    if (argc == 2)
        printf("authenticated to %s, both ways\n", argv[1]);
    close(fd);
    return 0;
}
