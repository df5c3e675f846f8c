/* proxy.h - the client side of the manager: proxies to its objects.
 *
 * A proxy is plain data: the server's socket address, the pid the server's
 * socket must show, the object's id and its kind.  It holds no memory of the object and no open socket, so a
 * child made by fork() can use the proxies its parent made, just like the
 * proxies a Python Process receives.
 *
 * Each call sends one request and waits for its reply.  The connection is
 * per process: the first call in a process connects, later calls reuse it,
 * and a child that inherited its parent's socket opens its own instead -
 * two processes writing frames into one socket would mix them up.  (Use
 * proxies from one thread per process.)
 *
 * Each new connection checks who answers, before a byte is sent: the
 * socket's SO_PEERCRED must show our own uid and the pid of the process
 * that made the manager's socket (struct mgr's `owner`).  On our side of
 * the connection, SO_PEERCRED shows whoever called listen(2) - for a
 * manager, always its starter - so the pid check ties the connection to
 * the very socket the starter made, not to the process that serves it;
 * the uid check is the real defence.  The server's directory is removed
 * when it stops, so once it is gone anyone can make the same path again
 * and listen there; a proxy used after that refuses with "the server at
 * PATH belongs to uid N, not to you: refusing" (another user), or "... is
 * process N, not the manager (process M): refusing" (our own user, another
 * listener), and the impostor receives nothing.
 *
 * A get or put parked on the server may be evicted to make room for a
 * newcomer (MGR_E_EVICTED, manager.h): nothing was taken or added, and
 * the proxy sends it again after a short pause (10 ms), a get with what
 * is left of its timeout - the caller sees only the final answer.
 *
 * A connection the server closed to make room for another client
 * (manager.h) is made again, and the request sent on the new one - only
 * when the server cannot have read the request: the connection was closed
 * before we sent it (end of file seen first, or EPIPE), or it was closed
 * with the request unread (ECONNRESET before any byte of a reply).  A
 * request the server may have read is never sent twice.  After 8 such
 * tries the call fails.
 *
 * Every function returns 0, or -1 with the reason in mgr_error(): a
 * Python-style error from the server ("KeyError: 'nokey'") or a failure to
 * reach it.  None of them exits; proxy_must() is there for main()s that
 * have nothing better to do with an error than to stop.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "manager.h"
#include "mgr_wire.h"

struct proxy {
    char address[sizeof(((struct mgr *)0)->address)];
    pid_t server_pid; /* what SO_PEERCRED must show: the starter, who
                         called listen(2) (0: check the uid only) */
    uint32_t id;
    enum mgr_kind kind;
};

/* manager.dict(), .list(), .Queue(), .Value(typecode, v), .Array(typecode,
 * values): make the object on the server and fill *p with its proxy. */
int proxy_create_dict(const struct mgr *m, struct proxy *p);
int proxy_create_list(const struct mgr *m, struct proxy *p);
int proxy_create_queue(const struct mgr *m, struct proxy *p);
int proxy_create_value(const struct mgr *m, struct mgr_value initial, struct proxy *p);
int proxy_create_array(const struct mgr *m, char typecode, const struct mgr_value *values,
                       size_t n, struct proxy *p);

/* v.value and v.value = x */
int proxy_value_get(const struct proxy *p, struct mgr_value *out);
int proxy_value_set(const struct proxy *p, struct mgr_value v);
/* a[i] and a[i] = x */
int proxy_array_get(const struct proxy *p, uint32_t index, struct mgr_value *out);
int proxy_array_set(const struct proxy *p, uint32_t index, struct mgr_value v);
/* l.append(x) and l[i] */
int proxy_list_append(const struct proxy *p, struct mgr_value v);
int proxy_list_get(const struct proxy *p, uint32_t index, struct mgr_value *out);
/* d[key] = x and d[key] (a missing key: -1 with "KeyError: 'key'") */
int proxy_dict_set(const struct proxy *p, const char *key, struct mgr_value v);
int proxy_dict_get(const struct proxy *p, const char *key, struct mgr_value *out);
/* q.put(x) and q.get(timeout=...): timeout_ms -1 waits for ever, 0 not at
 * all; when nothing came in time, -1 with "Empty: ...". */
int proxy_queue_put(const struct proxy *p, struct mgr_value v);
int proxy_queue_get(const struct proxy *p, int timeout_ms, struct mgr_value *out);

/* A copy of every element of a list, array or dict (a dict's sorted by
 * key): l[:], a[:], d.items().  items[] must hold MGR_MAX_ITEMS.  It is a
 * copy: changing it changes nothing on the server. */
int proxy_items(const struct proxy *p, struct mgr_item *items, size_t *n);

/* A new connection of its own to the server at address (not this
 * process's shared one), checked as above: uid ours, and the pid
 * server_pid unless that is 0.  Returns the socket (close-on-exec,
 * blocking), or -1 (mgr_error() says why). */
int proxy_connect(const char *address, pid_t server_pid);

/* proxy_connect(), but the connect(2) waits at most timeout_ms (at least
 * 1) for room in the server's listen backlog - full while a server is
 * stopped or flooded - then fails ("its backlog stayed full").  The socket
 * it returns is blocking, with no timeout.  mgr_shutdown() uses it. */
int proxy_connect_within(const char *address, pid_t server_pid, int timeout_ms);

/* Close this process's connection, if it has one. */
void proxy_disconnect(void);

/* For main()s: if rc is -1, end the process with mgr_error() as the
 * message (through fatal(), so a child leaves with _exit). */
void proxy_must(int rc);

#endif
