/* proxy.c - see proxy.h. */
#include "proxy.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "errors.h"

/* This process's connection: which process opened it, and to where. */
static struct {
    pid_t pid;
    int fd;
    char address[sizeof(((struct mgr *)0)->address)];
} conn = { 0, -1, "" };

void proxy_disconnect(void)
{
    if (conn.fd != -1)
        close(conn.fd);
    conn.fd = -1;
}

/* In a child made by fork(), the parent's connection is not ours: close our
 * copy at once, not at our first call.  Held open by a child that never
 * calls, it would keep the server from seeing the parent hang up. */
static void forget_parents_connection(void)
{
    proxy_disconnect();
}

/* The connection to address for this process, made if need be. */
static int connection(const char *address)
{
    if (conn.fd != -1 && conn.pid == getpid() && strcmp(conn.address, address) == 0)
        return conn.fd;
    /* Another process's socket (we are a fork()ed child), or another
     * server's: closing our copy does not touch the original. */
    proxy_disconnect();
    static bool registered;
    if (!registered) {
        int s = pthread_atfork(NULL, NULL, forget_parents_connection);
        if (s != 0)
            return mgr_fail("pthread_atfork: %s", strerror(s));
        registered = true;
    }

    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", address);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return mgr_fail("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        int en = errno;
        close(fd);
        return mgr_fail("connect to the manager at %s: %s", address, strerror(en));
    }
    conn.pid = getpid();
    conn.fd = fd;
    snprintf(conn.address, sizeof conn.address, "%s", address);
    return fd;
}

/* One request, one reply.  On an error reply, mgr_error() is
 * "KeyError: 'x'" and the like.  A broken connection is closed, so the next
 * call tries afresh. */
static int call(const char *address, const struct mgr_request *req, struct mgr_reply *reply)
{
    static uint8_t frame[4 + MGR_FRAME_MAX];
    size_t n = mgr_encode_request(req, frame, sizeof frame);
    if (n == 0)
        return mgr_fail("request too large for one frame");
    int fd = connection(address);
    if (fd == -1)
        return -1;
    long got;
    if (mgr_write_all(fd, frame, n) == -1) {
        /* A server that refused us ("too many connections") has sent why
         * and closed: read that before saying "Broken pipe". */
        char why[256];
        snprintf(why, sizeof why, "%s", mgr_error());
        got = mgr_read_frame(fd, frame, sizeof frame);
        if (got == -1 || mgr_decode_reply(frame + 4, (size_t)got, reply, why, 0) == -1 ||
            reply->ok) {
            proxy_disconnect();
            return mgr_fail("%s", why);
        }
    } else if ((got = mgr_read_frame(fd, frame, sizeof frame)) == -1) {
        proxy_disconnect();
        return -1;
    }
    char why[128];
    if (mgr_decode_reply(frame + 4, (size_t)got, reply, why, sizeof why) == -1) {
        proxy_disconnect();
        return mgr_fail("bad reply from the manager: %s", why);
    }
    if (!reply->ok) {
        if (reply->errcode == MGR_E_BAD_REQUEST)
            proxy_disconnect(); /* the server may have closed it */
        return mgr_fail("%s: %s", mgr_errname(reply->errcode), reply->message);
    }
    return 0;
}

/* The reply's one value into *out. */
static int call_value(const struct proxy *p, struct mgr_request *req, struct mgr_value *out)
{
    static struct mgr_reply reply;
    req->id = p->id;
    if (call(p->address, req, &reply) == -1)
        return -1;
    if (reply.count != 1)
        return mgr_fail("the manager sent %u values for one", (unsigned)reply.count);
    *out = reply.items[0].value;
    return 0;
}

/* A call whose reply carries nothing but "done". */
static int call_done(const struct proxy *p, struct mgr_request *req)
{
    static struct mgr_reply reply;
    req->id = p->id;
    return call(p->address, req, &reply);
}

static int create(const struct mgr *m, struct mgr_request *req, struct proxy *p)
{
    struct proxy server = { .id = 0 };
    snprintf(server.address, sizeof server.address, "%s", m->address);
    struct mgr_value id;
    req->op = MGR_OP_CREATE;
    if (call_value(&server, req, &id) == -1)
        return -1;
    *p = server;
    p->id = (uint32_t)id.as.i;
    p->kind = (enum mgr_kind)req->kind;
    return 0;
}

/* The requests are large (an array's values); one, reused, is enough. */
static struct mgr_request req;

static struct mgr_request *new_request(uint8_t op)
{
    memset(&req, 0, offsetof(struct mgr_request, values));
    req.op = op;
    return &req;
}

int proxy_create_dict(const struct mgr *m, struct proxy *p)
{
    new_request(MGR_OP_CREATE)->kind = MGR_DICT;
    return create(m, &req, p);
}

int proxy_create_list(const struct mgr *m, struct proxy *p)
{
    new_request(MGR_OP_CREATE)->kind = MGR_LIST;
    return create(m, &req, p);
}

int proxy_create_queue(const struct mgr *m, struct proxy *p)
{
    new_request(MGR_OP_CREATE)->kind = MGR_QUEUE;
    return create(m, &req, p);
}

int proxy_create_value(const struct mgr *m, struct mgr_value initial, struct proxy *p)
{
    new_request(MGR_OP_CREATE)->kind = MGR_VALUE;
    req.value = initial;
    return create(m, &req, p);
}

int proxy_create_array(const struct mgr *m, char typecode, const struct mgr_value *values,
                       size_t n, struct proxy *p)
{
    if (n > MGR_MAX_ITEMS)
        return mgr_fail("an Array holds at most %d elements", MGR_MAX_ITEMS);
    new_request(MGR_OP_CREATE)->kind = MGR_ARRAY;
    req.typecode = (uint8_t)typecode;
    req.count = (uint32_t)n;
    memcpy(req.values, values, n * sizeof values[0]);
    return create(m, &req, p);
}

int proxy_value_get(const struct proxy *p, struct mgr_value *out)
{
    return call_value(p, new_request(MGR_OP_VALUE_GET), out);
}

int proxy_value_set(const struct proxy *p, struct mgr_value v)
{
    new_request(MGR_OP_VALUE_SET)->value = v;
    return call_done(p, &req);
}

int proxy_array_get(const struct proxy *p, uint32_t index, struct mgr_value *out)
{
    new_request(MGR_OP_ARRAY_GET)->index = index;
    return call_value(p, &req, out);
}

int proxy_array_set(const struct proxy *p, uint32_t index, struct mgr_value v)
{
    new_request(MGR_OP_ARRAY_SET)->index = index;
    req.value = v;
    return call_done(p, &req);
}

int proxy_list_append(const struct proxy *p, struct mgr_value v)
{
    new_request(MGR_OP_LIST_APPEND)->value = v;
    return call_done(p, &req);
}

int proxy_list_get(const struct proxy *p, uint32_t index, struct mgr_value *out)
{
    new_request(MGR_OP_LIST_GET)->index = index;
    return call_value(p, &req, out);
}

int proxy_dict_set(const struct proxy *p, const char *key, struct mgr_value v)
{
    if (strlen(key) >= MGR_STR_MAX)
        return mgr_fail("a key has at most %d bytes", MGR_STR_MAX - 1);
    snprintf(new_request(MGR_OP_DICT_SET)->key, sizeof req.key, "%s", key);
    req.value = v;
    return call_done(p, &req);
}

int proxy_dict_get(const struct proxy *p, const char *key, struct mgr_value *out)
{
    if (strlen(key) >= MGR_STR_MAX)
        return mgr_fail("a key has at most %d bytes", MGR_STR_MAX - 1);
    snprintf(new_request(MGR_OP_DICT_GET)->key, sizeof req.key, "%s", key);
    return call_value(p, &req, out);
}

int proxy_queue_put(const struct proxy *p, struct mgr_value v)
{
    new_request(MGR_OP_QUEUE_PUT)->value = v;
    return call_done(p, &req);
}

int proxy_queue_get(const struct proxy *p, int timeout_ms, struct mgr_value *out)
{
    new_request(MGR_OP_QUEUE_GET)->timeout_ms = timeout_ms;
    return call_value(p, &req, out);
}

int proxy_items(const struct proxy *p, struct mgr_item *items, size_t *n)
{
    static struct mgr_reply reply;
    new_request(MGR_OP_ITEMS)->id = p->id;
    if (call(p->address, &req, &reply) == -1)
        return -1;
    memcpy(items, reply.items, reply.count * sizeof items[0]);
    *n = reply.count;
    return 0;
}

int proxy_shutdown_server(const char *address)
{
    static struct mgr_reply reply;
    int rc = call(address, new_request(MGR_OP_SHUTDOWN), &reply);
    proxy_disconnect();
    return rc;
}

void proxy_must(int rc)
{
    if (rc == -1)
        fatal("%s", mgr_error());
}
