/* mgr_tcp.c - the manager on TCP: addresses, the process's authkey, dialing,
 * starting and serving.  See mgr_tcp.h; the handshake itself is mp_auth.c,
 * the server's loop manager.c. */
#include "mgr_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "args.h"
#include "mgr_wire.h"
#include "mp_auth_answer.h"

/* ============================================================ addresses */

bool mgr_is_tcp(const char *address)
{
    return strncmp(address, MGR_TCP_PREFIX, strlen(MGR_TCP_PREFIX)) == 0;
}

int mgr_tcp_sockaddr(const char *address, struct sockaddr_in *out)
{
    if (mgr_is_tcp(address))
        address += strlen(MGR_TCP_PREFIX);
    const char *colon = strrchr(address, ':');
    char host[INET_ADDRSTRLEN];
    long port;
    *out = (struct sockaddr_in){ .sin_family = AF_INET };
    if (colon == NULL || (size_t)(colon - address) >= sizeof host)
        return mgr_fail("'%s' is not A.B.C.D:PORT", address);
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
        return mgr_fail("'%s' is not a numeric IPv4 address", host);
    if (!parse_long(colon + 1, 0, 65535, &port))
        return mgr_fail("'%s' is not a port (0 to 65535)", colon + 1);
    out->sin_port = htons((uint16_t)port);
    return 0;
}

bool mgr_tcp_address_ok(const char *host_port)
{
    struct sockaddr_in a;
    return !mgr_is_tcp(host_port) && mgr_tcp_sockaddr(host_port, &a) == 0;
}

int mgr_tcp_listen(const char *host_port, char *address, size_t size)
{
    struct sockaddr_in a;
    if (mgr_tcp_sockaddr(host_port, &a) == -1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return mgr_fail("socket: %s", strerror(errno));
    /* A server restarted on its port must not wait for the old
     * connections' TIME_WAIT to pass (socket(7): SO_REUSEADDR). */
    int one = 1;
    socklen_t len = sizeof a;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) == -1 || listen(fd, MGR_MAX_CLIENTS) == -1 ||
        getsockname(fd, (struct sockaddr *)&a, &len) == -1) {
        int en = errno;
        close(fd);
        return mgr_fail("listen on %s: %s", host_port, strerror(en));
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    snprintf(address, size, "%s%s:%u", MGR_TCP_PREFIX, ip, (unsigned)ntohs(a.sin_port));
    return fd;
}

/* ============================================================ the client */

static struct {
    uint8_t key[MP_KEY_MAX];
    size_t len;
} authkey;

void proxy_set_authkey(const void *key, size_t key_len)
{
    if (key_len > MP_KEY_MAX)
        key_len = MP_KEY_MAX;
    memcpy(authkey.key, key, key_len);
    authkey.len = key_len;
}

static int set_patience(int fd, int ms)
{
    struct timeval t = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t) == -1)
        return mgr_fail("setsockopt: %s", strerror(errno));
    return 0;
}

int mgr_tcp_dial(const char *address)
{
    struct sockaddr_in a;
    if (mgr_tcp_sockaddr(address, &a) == -1)
        return -1;
    if (authkey.len == 0)
        return mgr_fail("no authkey for %s: call proxy_set_authkey() first", address);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return mgr_fail("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == -1) {
        int en = errno;
        close(fd);
        return mgr_fail("connect to the manager at %s: %s", address, strerror(en));
    }
    /* Client(address, authkey): answer, then challenge - each wait short;
     * afterwards no timeout: a parked queue get may wait as long as it
     * asked. */
    if (set_patience(fd, MGR_TCP_HANDSHAKE_MS) == -1 ||
        mp_client_handshake(fd, authkey.key, authkey.len) == -1 || set_patience(fd, 0) == -1) {
        char why[256];
        snprintf(why, sizeof why, "%s", mgr_error());
        close(fd);
        return mgr_fail("%s (the manager at %s)", why, address);
    }
    return fd;
}

int mgr_connect_tcp(struct mgr *m, const char *host_port)
{
    memset(m, 0, sizeof *m);
    m->exit_fd = -1;
    if (!mgr_tcp_address_ok(host_port))
        return mgr_fail("'%s' is not A.B.C.D:PORT", host_port);
    snprintf(m->address, sizeof m->address, "%s%s", MGR_TCP_PREFIX, host_port);
    int fd = mgr_tcp_dial(m->address); /* is anyone there, and do they know us? */
    if (fd == -1)
        return -1;
    close(fd);
    return 0;
}
