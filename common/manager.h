/* manager.h - a server process that owns shared objects (Python's Manager).
 *
 * Python:                         C:
 *     manager = Manager()             struct mgr m; mgr_start(&m);
 *     d = manager.dict()              struct proxy d; proxy_create_dict(&m, &d);
 *     ... (other processes use d)     ... (other processes use d: proxy.h)
 *     manager.shutdown()              mgr_shutdown(&m);
 *
 * mgr_start() forks the server.  The server owns every object; no other
 * process ever holds them, it holds a proxy: the socket's address and the
 * object's id (proxy.h).  Each request is one frame on a Unix domain socket
 * (the format is in mgr_wire.h) and each gets one reply.
 *
 * The server
 *   - serves many clients at once from one poll(2) loop, no thread each;
 *     a queue get that has to wait is parked on the server, and the client
 *     gets its reply when an item arrives or its timeout ends, while the
 *     others go on being served;
 *   - lets in only its own user: the socket lives in a fresh directory of
 *     mode 0700, and each connection's peer is checked with SO_PEERCRED;
 *   - answers a request it cannot decode with an error, and closes only a
 *     connection whose framing is lost (an oversized length); it never exits
 *     because of what a client sent;
 *   - goes away with the program: on shutdown, or when the process that
 *     started it dies (PR_SET_PDEATHSIG), it removes its socket and its
 *     directory and exits.
 */
#ifndef MANAGER_H
#define MANAGER_H

#include <sys/types.h>
#include <sys/un.h>

#define MGR_MAX_CLIENTS 64 /* connections served at once */

struct mgr {
    pid_t pid;                                   /* the server process */
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];     /* 0700 */
    char address[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* dir/socket */
};

/* Start a server, a child of the calling process, with its socket in a new
 * directory under $TMPDIR (or /tmp).  Call it from the main thread: the
 * server goes when the thread that started it ends (PR_SET_PDEATHSIG
 * watches the thread, not the process).  Returns 0 when the server is ready to
 * accept connections, or -1 (mgr_error() says why; nothing is left behind).
 * Never exits. */
int mgr_start(struct mgr *m);

/* Ask the server to stop, and wait for it.  It removes its socket and
 * directory first.  Returns 0, or -1 if it had to be killed (mgr_error()). */
int mgr_shutdown(struct mgr *m);

#endif
