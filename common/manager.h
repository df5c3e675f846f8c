/* manager.h - a server process that owns shared objects (Python's Manager).
 *
 * Python:                         C:
 *     manager = Manager()             struct mgr m; mgr_start(&m);
 *     d = manager.dict()              struct proxy d; proxy_create_dict(&m, &d);
 *     ... (other processes use d)     ... (other processes use d: proxy.h)
 *     manager.shutdown()              mgr_shutdown(&m);
 *
 * mgr_start() forks the server.  The server owns every object; no other
 * process ever holds them, it holds a proxy: the socket's address, the
 * pid its other end must show and the object's id (proxy.h).  Each request is one frame on
 * a Unix domain socket (the format is in mgr_wire.h) and each gets one reply.
 *
 * The server
 *   - serves many clients at once from one poll(2) loop, no thread each;
 *     a queue get that has to wait is parked on the server, and the client
 *     gets its reply when an item arrives or its timeout ends, while the
 *     others go on being served;
 *   - lets in only its own user: the socket lives in a fresh directory of
 *     mode 0700, and each connection's peer is checked with SO_PEERCRED.
 *     The proxies check the other end too: its uid must be theirs - the
 *     real defence - and its pid the starter's.  (A client's SO_PEERCRED
 *     shows whoever called listen(2), which is always the starter: the pid
 *     check ties the connection to the socket the starter made, not to the
 *     process that serves it.  See `owner` below, and proxy.h);
 *   - answers a request it cannot decode with an error, and closes only a
 *     connection whose framing is lost (a length of 0 or more than
 *     MGR_FRAME_MAX) or that stalls (below); nothing a client sends makes
 *     it exit.  SHUTDOWN is obeyed only from the process that started the
 *     server (its SO_PEERCRED pid); anyone else gets "PermissionError".
 *     (A process that inherited the starter's connection counts as the
 *     starter: the kernel records the peer at connect(2).  The proxies
 *     never hand a connection to a child.)
 *   - goes away with the program: on shutdown, or when the process that
 *     started it dies (PR_SET_PDEATHSIG), it removes its socket and its
 *     directory and exits - also when the starter dies during mgr_start().
 *     Only a starter killed before its fork(2) (SIGKILL right inside
 *     mgr_start) can leave the new directory, with or without the socket,
 *     behind: no other process knows of it yet, and only a helper process
 *     started earlier could clean up after it.
 *
 * == Limits ==
 *
 * Connections.  The server serves MGR_MAX_CLIENTS connections at once, and
 * every process that uses a proxy keeps one open (proxy.h).  A frame that
 * has begun must be complete within MGR_FRAME_TIMEOUT_MS (default 2000) of
 * the moment the server started waiting for its rest, and a client whose
 * socket is full must take some of its reply within the same time;
 * otherwise that connection is closed.  (So a client that goes on taking
 * a large reply, but more slowly than a little every MGR_FRAME_TIMEOUT_MS,
 * is closed too, mid-reply.)  When a newcomer finds the table full - or
 * the server is out of descriptors (EMFILE), which counts the same - the
 * server makes room: it closes the connection whose frame or reply has
 * been stalled longest, or else the one that has been idle longest (no
 * request in progress; one with nothing unread in its socket first - a
 * request that arrived unread is lost with the connection, and its proxy
 * sends it again).  When every connection holds a parked get or put, the
 * one parked longest is closed, after an "Evicted" reply (MGR_E_EVICTED:
 * nothing was taken from the queue or added to it); its proxy sends the
 * request again, a get with the time it has left.  The starter's own
 * connection with a request unread (its SHUTDOWN, perhaps) is closed only
 * when there is nothing else.  A newcomer is refused only when there is
 * no connection to close (in practice: out of descriptors, none open),
 * with "TooManyConnections"; a newcomer of another user gets "PermissionError",
 * and one the server has no memory for "MemoryError".
 *
 * So a program with more than MGR_MAX_CLIENTS - 1 processes using proxies
 * at once works, a little slower: a process whose idle connection was
 * closed to make room reconnects by itself at its next call (the proxy
 * sends the request again on a new connection when the server closed the
 * old one before reading it; a request the server has read is never sent
 * twice, but for an evicted get or put, which the server answered
 * "Evicted" without doing it).  With more processes parked in gets than
 * there are connections, they take turns: each return evicts another.
 *
 * Queues hold at most MGR_MAX_ITEMS (256) items.  A put on a full queue
 * waits, parked on the server, until a get makes room - like Python's
 * Queue(maxsize=256), unlike manager.Queue(), which is unbounded.
 *
 * == Running a server program of your own ==
 *
 * mgr_start_program() runs an external program as the server, with the
 * same promises to the caller as mgr_start().  The contract for the
 * program:
 *   - fd 3 is a listening AF_UNIX stream socket (blocking, not
 *     close-on-exec), already bound and listening: connections queue in
 *     its backlog, so the program needs no "ready" signal.  It accepts on
 *     fd 3 and serves the wire format of mgr_wire.h.
 *   - argv[1] is the socket's path (to print; do not unlink it), argv[2]
 *     the pid, in decimal, of the process that started the server: the one
 *     whose SHUTDOWN it should obey.
 *   - fds 0, 1, 2 are the starter's; every other descriptor is closed.
 *     SIGTERM, SIGINT, SIGHUP and SIGPIPE have their default action, and no
 *     signal is blocked.
 *   - it serves until a SHUTDOWN request (answered "ok", then exit 0) or
 *     until a signal ends it.  It must be the server itself: it must not
 *     fork and leave the serving to a child.  The keeper watches the
 *     program, not its children: once the program has exited, the keeper
 *     removes the socket and the directory and exits, and its SIGTERM and
 *     SIGKILL (on the starter's death, or when mgr_shutdown() gives up) go
 *     to the program alone - a child left serving would go on, on a path
 *     that is gone, with nobody to stop it.  (The proxies' pid check would
 *     not notice: it sees the starter, who called listen(2), whoever
 *     serves.)
 *   - it removes nothing.  A small keeper process between the starter and
 *     the program removes the socket and the directory once the program
 *     has exited, however it ended; if the starter dies, the keeper
 *     SIGTERMs the program (SIGKILL after MGR_SHUTDOWN_TIMEOUT_MS), then
 *     removes them.
 *
 * Environment:
 *   MGR_SERVER=PATH           mgr_start() runs PATH instead of the built-in
 *                             server (as mgr_start_program(m, PATH)), so
 *                             every program can be run against another
 *                             server unchanged.
 *   MGR_FRAME_TIMEOUT_MS=N    the stall deadline of the built-in server
 *                             (read by mgr_start; default 2000).
 *   MGR_SHUTDOWN_TIMEOUT_MS=N how long mgr_shutdown() waits for the server
 *                             to take its connection, answer and exit
 *                             (default 1000).
 *   Each N is a whole number of milliseconds, 1 to 3600000; anything else
 *   (empty, "10ms", "0", "-5") means the default.
 */
#ifndef MANAGER_H
#define MANAGER_H

#include <sys/types.h>
#include <sys/un.h>

#define MGR_MAX_CLIENTS 64               /* connections served at once */
#define MGR_FRAME_TIMEOUT_MS_DEFAULT 2000 /* a stalled frame or reply */
#define MGR_SHUTDOWN_TIMEOUT_MS_DEFAULT 1000

struct mgr {
    pid_t pid;   /* the server process */
    pid_t child; /* the process mgr_shutdown() reaps: the server itself,
                    or the keeper of a server program */
    pid_t owner; /* the process that made the listening socket: the caller
                    of mgr_start().  A client's SO_PEERCRED shows the
                    credentials of whoever called listen(2), so this is
                    the pid the proxies expect to see (proxy.h): it ties
                    a connection to the socket mgr_start() made; it says
                    nothing about which process serves it (the uid check
                    is the real defence) */
    int exit_fd; /* read end of a pipe whose write end only the server side
                    holds: end of file once it has exited */
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];     /* 0700 */
    char address[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* dir/socket */
};

/* Start a server, a child of the calling process, with its socket in a new
 * directory under $TMPDIR (or /tmp).  Runs the program named by
 * $MGR_SERVER instead of the built-in server when that is set and not
 * empty.  Call it from the main thread: the server goes when the thread
 * that started it ends (PR_SET_PDEATHSIG watches the thread, not the
 * process).  Returns 0 when the server is ready to accept connections, or
 * -1 (mgr_error() says why; nothing is left behind).  Never exits. */
int mgr_start(struct mgr *m);

/* Like mgr_start(), but the server is the program at `path` (run with
 * execv, no PATH search), under the contract above.  Returns 0 once the
 * program has been executed (a connect() then waits in the backlog until
 * it accepts), or -1 if it could not be run (mgr_error(): "cannot run
 * PATH: ..."; nothing is left behind).  Never exits. */
int mgr_start_program(struct mgr *m, const char *path);

/* The built-in server's loop, run in the calling process on listen_fd, an
 * AF_UNIX stream socket already listening: a server program needs no more
 * than `return mgr_serve(3, atoi(argv[2])) == 0 ? 0 : 1;` (the contract
 * above; a reference to compare a server of one's own with).  Serves until
 * a SHUTDOWN from the process `starter` (0: from anyone), or until SIGTERM,
 * SIGINT or SIGHUP, which it blocks and takes through a signalfd while it
 * runs.  Closes listen_fd and returns 0, or -1 if it could not start or
 * its poll(2) failed (mgr_error()).  Removes nothing, never exits. */
int mgr_serve(int listen_fd, pid_t starter);

/* Ask the server to stop, and wait for it - never for ever: if it has not
 * answered and exited within MGR_SHUTDOWN_TIMEOUT_MS (a server stopped
 * with SIGSTOP, whose listen backlog may be full, so that even connect(2)
 * would wait; one that lost the request), it is killed with SIGKILL and
 * reaped.  Either way the socket and the directory are gone on return.
 * Returns 0, or -1 if the server had to be killed or refused
 * (mgr_error()).  Call it from the process that called mgr_start(), once.
 * Never exits. */
int mgr_shutdown(struct mgr *m);

#endif
