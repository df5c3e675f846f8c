/* mgr_tcp.h - the manager on TCP, with Python's authkey (lesson 11).
 *
 * Python:                                      C:
 *   m = BaseManager(address=('127.0.0.1', 0),    mgr_start_tcp(&m, "127.0.0.1:0",
 *                   authkey=key); m.start()                    key, key_len);
 *   m.get_server().serve_forever()               mgr_serve_tcp("HOST:PORT", key, key_len, ready);
 *   m = BaseManager(address=(host, port),        proxy_set_authkey(key, key_len);
 *                   authkey=key); m.connect()    mgr_connect_tcp(&m, "HOST:PORT");
 *
 * The same server, objects and proxies as on a Unix socket (manager.h,
 * proxy.h); what changes is who may come in.  A Unix socket's directory
 * and SO_PEERCRED let in only our user.  On TCP anyone who can reach the
 * port can connect, so every connection begins with Python's handshake
 * (mp_auth.h): the server challenges the client, the client challenges
 * the server, and only then are requests read.  A client that fails gets
 * #FAILURE# and loses its connection; one that stalls is closed at the
 * server's stall deadline (MGR_FRAME_TIMEOUT_MS); a handshake frame longer
 * than 256 bytes closes the connection at once.  An authenticated client
 * may do anything - SHUTDOWN too: as in Python, the key is the only
 * credential.
 *
 * An address on TCP is written "tcp:A.B.C.D:PORT" in struct mgr and
 * struct proxy (a Unix socket's is its path), numeric IPv4 only, no name
 * lookup.  Nothing is encrypted (mp_auth.h says why that matters).
 *
 * Every function returns -1 with mgr_error() set on failure and never
 * exits.
 */
#ifndef MGR_TCP_H
#define MGR_TCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "manager.h"

#define MGR_TCP_PREFIX "tcp:"

/* Is address a TCP one ("tcp:...")? */
bool mgr_is_tcp(const char *address);

/* Is host_port "A.B.C.D:PORT", PORT 0 to 65535? */
bool mgr_tcp_address_ok(const char *host_port);

/* "tcp:A.B.C.D:PORT" or "A.B.C.D:PORT" into *out. */
int mgr_tcp_sockaddr(const char *address, struct sockaddr_in *out);

/* A listening TCP socket on host_port (port 0: the kernel picks one);
 * its real address, "tcp:A.B.C.D:PORT", into address[size].  Returns the
 * socket (close-on-exec), or -1. */
int mgr_tcp_listen(const char *host_port, char *address, size_t size);

/* This process's authkey, used by every proxy that connects over TCP from
 * now on; children made by fork() inherit it, as Python's children inherit
 * current_process().authkey.  At most MP_KEY_MAX bytes (more are cut). */
void proxy_set_authkey(const void *key, size_t key_len);

/* Connect to the TCP manager at address and do the client's handshake
 * with this process's authkey; no wait in it lasts more than
 * MGR_TCP_HANDSHAKE_MS.  Returns the socket (blocking, close-on-exec,
 * no timeouts left on it), or -1 ("AuthenticationError: ..." when a key
 * was refused). */
#define MGR_TCP_HANDSHAKE_MS 2000
int mgr_tcp_dial(const char *address);

/* BaseManager(address, authkey).start(): a server process listening on
 * host_port, a child of the caller (it goes with the caller, as the Unix
 * socket server does: manager.h).  m->address is the real address, port
 * included.  mgr_shutdown(&m) stops it. */
int mgr_start_tcp(struct mgr *m, const char *host_port, const void *key, size_t key_len);

/* get_server().serve_forever(): serve on host_port in this process until
 * SIGTERM, SIGINT or SIGHUP (or an authenticated SHUTDOWN).  ready(address)
 * is called once, listening, with the real address ("A.B.C.D:PORT", the
 * "tcp:" left out); it may be NULL.  Returns 0 after a clean stop. */
int mgr_serve_tcp(const char *host_port, const void *key, size_t key_len,
                  void (*ready)(const char *address));

/* BaseManager(address, authkey).connect(): a struct mgr for a server
 * someone else runs - for proxy_create_*() only; there is nothing to shut
 * down (do not call mgr_shutdown on it).  Checks that the server answers
 * and accepts this process's authkey (proxy_set_authkey first). */
int mgr_connect_tcp(struct mgr *m, const char *host_port);

#endif
