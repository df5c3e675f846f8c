/* auth_client.c - Python's Client(address, authkey=...) in C: prove the key, then talk.
 *
 * usage: AUTHKEY=KEY auth_client HOST:PORT [MESSAGE...]
 *
 * Connects over TCP to a multiprocessing.connection Listener - Python's
 * own, or this lesson's manager - and does what Client() does:
 *   1. answer the server's challenge (answer_challenge(): your part, TODO 2),
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

/* conn.send_bytes(buf): one frame - its length, then the bytes.  0, or -1
 * with mgr_error() set. */
int send_frame(int fd, const void *buf, size_t n)
{
    /* TODO 1: send the length of the message as 4 bytes in the order
     * Python's struct.pack("!i", n) gives them (read mp_auth.h and lesson
     * 06's framing), then the n bytes.  A short write is not an error:
     * mgr_write_all() (mgr_wire.h) sends everything or fails. */
    (void)fd;
    (void)buf;
    (void)n;
    return mgr_fail("send_frame is not written yet (TODO 1)");
}

/* Python's answer_challenge(connection, authkey): read the challenge,
 * send the answer, read the verdict.  0 if the server said #WELCOME#,
 * -1 (mgr_error() says why, in Python's words) otherwise. */
int answer_challenge(int fd, const uint8_t *key, size_t key_len)
{
    /* TODO 2: the client's half of the handshake, as CPython 3.12's
     * answer_challenge() and _create_response() do it:
     *   - receive the challenge with mp_recv_bytes(), at most MP_AUTH_MAX
     *     bytes (Python's recv_bytes(256)); it must begin with
     *     MP_CHALLENGE ("#CHALLENGE#"): the rest is the message M;
     *   - a 3.12+ server's M begins with MP_PREFIX ("{sha256}"): answer
     *     with that prefix followed by the HMAC-SHA256 of M, keyed with
     *     the authkey (digest.h) - which bytes of the challenge does
     *     Python's HMAC cover? (mp_auth.h, and the README's diagram);
     *   - a 3.11 server's M is just MP_NONCE_LEGACY random bytes: answer
     *     with their raw HMAC-MD5, no prefix;
     *   - anything else: fail with Python's AuthenticationError message;
     *   - send the answer with send_frame(), then receive the verdict:
     *     anything but MP_WELCOME is "AuthenticationError: digest sent was
     *     rejected".
     * Every failure returns -1 through mgr_fail(), never exits. */
    (void)fd;
    (void)key;
    (void)key_len;
    return mgr_fail("answer_challenge is not written yet (TODO 2)");
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
