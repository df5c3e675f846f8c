/* mgr_wire.c - see mgr_wire.h for the format. */
#include "mgr_wire.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ==================================================== tagged values */

struct mgr_value mgr_int(int64_t i)
{
    struct mgr_value v = { .type = MGR_INT };
    v.as.i = i;
    return v;
}

struct mgr_value mgr_double(double d)
{
    struct mgr_value v = { .type = MGR_DOUBLE };
    v.as.d = d;
    return v;
}

struct mgr_value mgr_str(const char *s)
{
    struct mgr_value v = { .type = MGR_STR };
    snprintf(v.as.s, sizeof v.as.s, "%s", s);
    return v;
}

/* ==================================================== printing */

/* Python's repr(float): the fewest significant digits that read back as the
 * same double; plain notation for exponents -4 to 15 (always with a ".0"
 * or other decimals: 2.0, not 2), scientific outside them (1e+16, 1e-05). */
static void format_double(double d, char *buf, size_t size)
{
    if (isnan(d) || isinf(d)) {
        snprintf(buf, size, "%s", isnan(d) ? "nan" : d < 0 ? "-inf" : "inf");
        return;
    }
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, size, "%.*e", digits - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    snprintf(buf, size, "%.*e", digits - 1, d);
    int exponent = atoi(strchr(buf, 'e') + 1);
    if (exponent < -4 || exponent >= 16)
        return; /* C's %e already looks like Python's: 1e+16, 1.5e-05 */
    int decimals = digits - 1 - exponent;
    snprintf(buf, size, "%.*f", decimals > 0 ? decimals : 0, d);
    if (strchr(buf, '.') == NULL)
        strncat(buf, ".0", size - strlen(buf) - 1);
}

char *mgr_format_value(const struct mgr_value *v, char *buf, size_t size)
{
    char digits[40]; /* room for any double; then cut to the caller's size */
    switch (v->type) {
    case MGR_INT:
        snprintf(buf, size, "%lld", (long long)v->as.i);
        break;
    case MGR_DOUBLE:
        format_double(v->as.d, digits, sizeof digits);
        snprintf(buf, size, "%s", digits);
        break;
    case MGR_STR:
        snprintf(buf, size, "'%s'", v->as.s);
        break;
    default:
        snprintf(buf, size, "None");
    }
    return buf;
}

/* Shared by the list and dict printers: open, the items, close. */
static char *format_items(const struct mgr_item *items, size_t n, bool keys,
                          char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "%c", keys ? '{' : '[');
    for (size_t k = 0; k < n && used < size; k++) {
        char value[96];
        mgr_format_value(&items[k].value, value, sizeof value);
        if (keys)
            used += (size_t)snprintf(buf + used, size - used, "%s'%s': %s",
                                     k ? ", " : "", items[k].key, value);
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                     k ? ", " : "", value);
    }
    if (used + 2 > size) { /* did not fit: end it visibly */
        if (size >= 5)
            snprintf(buf + size - 5, 5, "...%c", keys ? '}' : ']');
        return buf;
    }
    snprintf(buf + used, size - used, "%c", keys ? '}' : ']');
    return buf;
}

char *mgr_format_list(const struct mgr_item *items, size_t n, char *buf, size_t size)
{
    return format_items(items, n, false, buf, size);
}

char *mgr_format_dict(const struct mgr_item *items, size_t n, char *buf, size_t size)
{
    return format_items(items, n, true, buf, size);
}

const char *mgr_errname(int code)
{
    static const char *const names[] = {
        [MGR_E_BAD_REQUEST] = "BadRequest", [MGR_E_NO_OBJECT] = "NoSuchObject",
        [MGR_E_TYPE] = "TypeError",         [MGR_E_KEY] = "KeyError",
        [MGR_E_INDEX] = "IndexError",       [MGR_E_EMPTY] = "Empty",
        [MGR_E_FULL] = "Full",              [MGR_E_PERMISSION] = "PermissionError",
        [MGR_E_TOO_MANY] = "TooManyConnections", [MGR_E_NO_MEMORY] = "MemoryError",
        [MGR_E_EVICTED] = "Evicted",
    };
    if (code > 0 && (size_t)code < sizeof names / sizeof names[0])
        return names[code];
    return "Error";
}

/* ==================================================== writing bytes */

/* A cursor over an output buffer.  Once something does not fit, `full` is
 * set and every later put is ignored; the caller checks it once at the end. */
struct out {
    uint8_t *p;
    size_t size, len;
    bool full;
};

static void put_bytes(struct out *o, const void *src, size_t n)
{
    if (o->full || n > o->size - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, src, n);
    o->len += n;
}

static void put_uint(struct out *o, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int k = 0; k < bytes; k++)
        b[k] = (uint8_t)(v >> (8 * (bytes - 1 - k)));
    put_bytes(o, b, (size_t)bytes);
}

static void put_str(struct out *o, const char *s)
{
    size_t n = strnlen(s, MGR_STR_MAX - 1);
    put_uint(o, n, 1);
    put_bytes(o, s, n);
}

static void put_value(struct out *o, const struct mgr_value *v)
{
    put_uint(o, (uint64_t)v->type, 1);
    switch (v->type) {
    case MGR_INT:
        put_uint(o, (uint64_t)v->as.i, 8);
        break;
    case MGR_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->as.d, sizeof bits);
        put_uint(o, bits, 8);
        break;
    }
    case MGR_STR:
        put_str(o, v->as.s);
        break;
    default:
        break;
    }
}

/* Start a frame: room for the length, filled in by end_frame. */
static struct out begin_frame(uint8_t *buf, size_t size)
{
    struct out o = { buf, size, 0, false };
    put_uint(&o, 0, 4);
    return o;
}

static size_t end_frame(struct out *o)
{
    size_t payload = o->len - 4;
    if (o->full || payload == 0 || payload > MGR_FRAME_MAX)
        return 0;
    struct out head = { o->p, 4, 0, false };
    put_uint(&head, payload, 4);
    return o->len;
}

/* ==================================================== reading bytes */

/* A cursor over input.  Once a read runs past the end, `bad` is set and
 * every later get returns zeros; the caller checks it once at the end. */
struct in {
    const uint8_t *p;
    size_t size, pos;
    bool bad;
};

static uint64_t get_uint(struct in *i, int bytes)
{
    if (i->bad || (size_t)bytes > i->size - i->pos) {
        i->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++)
        v = v << 8 | i->p[i->pos++];
    return v;
}

/* A str into dst[MGR_STR_MAX]; a NUL byte inside is refused. */
static void get_str(struct in *i, char *dst, size_t max)
{
    size_t n = (size_t)get_uint(i, 1);
    if (i->bad || n >= max || n > i->size - i->pos ||
        memchr(i->p + i->pos, '\0', n) != NULL) {
        i->bad = true;
        dst[0] = '\0';
        return;
    }
    memcpy(dst, i->p + i->pos, n);
    dst[n] = '\0';
    i->pos += n;
}

static void get_value(struct in *i, struct mgr_value *v)
{
    memset(v, 0, sizeof *v);
    v->type = (enum mgr_type)get_uint(i, 1);
    switch (v->type) {
    case MGR_INT:
        v->as.i = (int64_t)get_uint(i, 8);
        break;
    case MGR_DOUBLE: {
        uint64_t bits = get_uint(i, 8);
        memcpy(&v->as.d, &bits, sizeof bits);
        break;
    }
    case MGR_STR:
        get_str(i, v->as.s, sizeof v->as.s);
        break;
    default: /* MGR_NONE is never sent */
        i->bad = true;
    }
}

/* ==================================================== requests */

int mgr_decode_request(const uint8_t *data, size_t size, struct mgr_request *req,
                       char *why, size_t why_size)
{
    struct in in = { data, size, 0, false };
    memset(req, 0, offsetof(struct mgr_request, values));
    req->op = (uint8_t)get_uint(&in, 1);
    req->id = (uint32_t)get_uint(&in, 4);
    if (in.bad) {
        snprintf(why, why_size, "request shorter than its 5-byte header");
        return -1;
    }
    switch (req->op) {
    case MGR_OP_PING:
    case MGR_OP_SHUTDOWN:
    case MGR_OP_ITEMS:
    case MGR_OP_VALUE_GET:
        break;
    case MGR_OP_CREATE:
        req->kind = (uint8_t)get_uint(&in, 1);
        if (req->kind == MGR_VALUE) {
            get_value(&in, &req->value);
        } else if (req->kind == MGR_ARRAY) {
            req->typecode = (uint8_t)get_uint(&in, 1);
            req->count = (uint32_t)get_uint(&in, 4);
            if (req->typecode != 'i' && req->typecode != 'd') {
                snprintf(why, why_size, "array typecode must be 'i' or 'd'");
                return -1;
            }
            if (req->count > MGR_MAX_ITEMS) {
                snprintf(why, why_size, "array of %u elements: at most %d",
                         (unsigned)req->count, MGR_MAX_ITEMS);
                return -1;
            }
            for (uint32_t k = 0; k < req->count && !in.bad; k++)
                get_value(&in, &req->values[k]);
        } else if (req->kind < MGR_VALUE || req->kind > MGR_QUEUE) {
            snprintf(why, why_size, "unknown object kind %u", (unsigned)req->kind);
            return -1;
        }
        break;
    case MGR_OP_VALUE_SET:
    case MGR_OP_LIST_APPEND:
    case MGR_OP_QUEUE_PUT:
        get_value(&in, &req->value);
        break;
    case MGR_OP_ARRAY_GET:
    case MGR_OP_LIST_GET:
        req->index = (uint32_t)get_uint(&in, 4);
        break;
    case MGR_OP_ARRAY_SET:
        req->index = (uint32_t)get_uint(&in, 4);
        get_value(&in, &req->value);
        break;
    case MGR_OP_DICT_GET:
        get_str(&in, req->key, sizeof req->key);
        break;
    case MGR_OP_DICT_SET:
        get_str(&in, req->key, sizeof req->key);
        get_value(&in, &req->value);
        break;
    case MGR_OP_QUEUE_GET:
        req->timeout_ms = (int32_t)(uint32_t)get_uint(&in, 4);
        break;
    default:
        snprintf(why, why_size, "unknown operation %u", (unsigned)req->op);
        return -1;
    }
    if (in.bad) {
        snprintf(why, why_size, "request cut short or malformed (op %u)",
                 (unsigned)req->op);
        return -1;
    }
    if (in.pos != size) {
        snprintf(why, why_size, "%zu bytes after the end of the request",
                 size - in.pos);
        return -1;
    }
    return 0;
}

size_t mgr_encode_request(const struct mgr_request *req, uint8_t *buf, size_t size)
{
    struct out o = begin_frame(buf, size);
    put_uint(&o, req->op, 1);
    put_uint(&o, req->id, 4);
    switch (req->op) {
    case MGR_OP_CREATE:
        put_uint(&o, req->kind, 1);
        if (req->kind == MGR_VALUE)
            put_value(&o, &req->value);
        if (req->kind == MGR_ARRAY) {
            put_uint(&o, req->typecode, 1);
            put_uint(&o, req->count, 4);
            for (uint32_t k = 0; k < req->count && k < MGR_MAX_ITEMS; k++)
                put_value(&o, &req->values[k]);
        }
        break;
    case MGR_OP_VALUE_SET:
    case MGR_OP_LIST_APPEND:
    case MGR_OP_QUEUE_PUT:
        put_value(&o, &req->value);
        break;
    case MGR_OP_ARRAY_GET:
    case MGR_OP_LIST_GET:
        put_uint(&o, req->index, 4);
        break;
    case MGR_OP_ARRAY_SET:
        put_uint(&o, req->index, 4);
        put_value(&o, &req->value);
        break;
    case MGR_OP_DICT_GET:
        put_str(&o, req->key);
        break;
    case MGR_OP_DICT_SET:
        put_str(&o, req->key);
        put_value(&o, &req->value);
        break;
    case MGR_OP_QUEUE_GET:
        put_uint(&o, (uint32_t)req->timeout_ms, 4);
        break;
    default:
        break;
    }
    return end_frame(&o);
}

/* ==================================================== replies */

size_t mgr_encode_ok(const struct mgr_item *items, uint32_t n, uint8_t *buf, size_t size)
{
    struct out o = begin_frame(buf, size);
    put_uint(&o, 0, 1);
    put_uint(&o, n, 4);
    for (uint32_t k = 0; k < n; k++) {
        put_str(&o, items[k].key);
        put_value(&o, &items[k].value);
    }
    return end_frame(&o);
}

size_t mgr_encode_error(int code, const char *message, uint8_t *buf, size_t size)
{
    struct out o = begin_frame(buf, size);
    put_uint(&o, 1, 1);
    put_uint(&o, (uint64_t)code, 1);
    size_t n = strnlen(message, 255);
    put_uint(&o, n, 1);
    put_bytes(&o, message, n);
    return end_frame(&o);
}

int mgr_decode_reply(const uint8_t *data, size_t size, struct mgr_reply *reply,
                     char *why, size_t why_size)
{
    struct in in = { data, size, 0, false };
    reply->ok = get_uint(&in, 1) == 0;
    reply->count = 0;
    if (!reply->ok) {
        reply->errcode = (int)get_uint(&in, 1);
        size_t n = (size_t)get_uint(&in, 1);
        if (in.bad || n > size - in.pos) {
            snprintf(why, why_size, "error reply cut short");
            return -1;
        }
        memcpy(reply->message, data + in.pos, n);
        reply->message[n] = '\0';
        return 0;
    }
    uint32_t n = (uint32_t)get_uint(&in, 4);
    if (n > MGR_MAX_ITEMS) {
        snprintf(why, why_size, "reply with %u items", (unsigned)n);
        return -1;
    }
    for (uint32_t k = 0; k < n && !in.bad; k++) {
        get_str(&in, reply->items[k].key, sizeof reply->items[k].key);
        get_value(&in, &reply->items[k].value);
    }
    if (in.bad || in.pos != size) {
        snprintf(why, why_size, "malformed reply");
        return -1;
    }
    reply->count = n;
    return 0;
}

/* ==================================================== error messages */

static _Thread_local char last_error[256];

const char *mgr_error(void)
{
    return last_error;
}

int mgr_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

/* ==================================================== whole frames */

int mgr_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        /* MSG_NOSIGNAL: a peer that has gone away is an error to return,
         * not a SIGPIPE that kills this process. */
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            int en = errno;
            mgr_fail("send: %s", strerror(en));
            errno = en; /* for a caller that tells EPIPE from the others */
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

long mgr_read_frame(int fd, uint8_t *buf, size_t size)
{
    /* Ask for as much as fits: a whole reply usually comes in one read. */
    size_t have = 0, want = 4;
    while (have < want) {
        ssize_t r = read(fd, buf + have, size - have);
        if (r == 0)
            return mgr_fail("the manager closed the connection");
        if (r == -1) {
            if (errno == EINTR)
                continue;
            return mgr_fail("read: %s", strerror(errno));
        }
        have += (size_t)r;
        if (want == 4 && have >= 4) {
            uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
                         (uint32_t)buf[2] << 8 | buf[3];
            if (n == 0 || n > MGR_FRAME_MAX || n > size - 4)
                return mgr_fail("frame of %u bytes (1 to %d allowed)", (unsigned)n,
                                MGR_FRAME_MAX);
            want = 4 + (size_t)n;
        }
    }
    if (have > want)
        return mgr_fail("%zu bytes after the frame: only one reply was asked for",
                        have - want);
    return (long)(want - 4);
}
