/* mgr_wire.h - what travels between the manager server and its proxies.
 *
 * Lessons 06 and 07 use a manager: a server process that owns a dict, a
 * list, a value, an array and a queue, reached by other processes through a
 * Unix domain socket (manager.h is the server, proxy.h the client side).
 * This file is the part both sides share: the tagged values that are
 * stored, the wire format, and printing values the way Python does.
 *
 * == The wire format ==
 *
 * Every message is a frame: a 4-byte length N (big-endian), then N bytes of
 * payload, 1 <= N <= MGR_FRAME_MAX.  The length comes first so that the
 * reader knows how much to wait for before it decodes anything.
 *
 * A request payload:
 *     u8 op, u32 object id (0 when the op names no object), then the op's
 *     arguments (below), and nothing after them.
 * A reply payload:
 *     u8 0 (ok), u32 count, then count items, each a key (str) and a value
 *     - or -
 *     u8 1 (error), u8 error code (enum mgr_errcode), str message.
 *
 * The pieces:
 *     u8, u32, i32, i64   big-endian integers
 *     str                 u8 length (at most MGR_STR_MAX - 1), then the bytes
 *     value               u8 type, then i64 (int), the 8 bytes of an IEEE
 *                         double read as u64 (double), or a str (str)
 *
 * Arguments by op:
 *     CREATE       u8 kind, then for VALUE a value; for ARRAY u8 typecode
 *                  ('i' or 'd'), u32 count, count values; else nothing.
 *                  The reply's one value is the new object's id.
 *     VALUE_SET    value                 VALUE_GET     -
 *     ARRAY_SET    u32 index, value      ARRAY_GET     u32 index
 *     LIST_APPEND  value                 LIST_GET      u32 index
 *     DICT_SET     str key, value        DICT_GET      str key
 *     QUEUE_PUT    value                 QUEUE_GET     i32 timeout in ms
 *                                                      (-1: wait for ever)
 *     ITEMS        - (every element of a list, array or dict, in order;
 *                    a dict's sorted by key)
 *     PING, SHUTDOWN  - (object id 0).  SHUTDOWN is obeyed only from the
 *                  process that started the server (the SO_PEERCRED pid of
 *                  the connection); anyone else gets PermissionError.
 */
#ifndef MGR_WIRE_H
#define MGR_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MGR_FRAME_MAX 65536 /* bytes of payload in one frame, at most */
#define MGR_STR_MAX 64      /* a short string, its terminating NUL included */
#define MGR_MAX_ITEMS 256   /* elements in one list, dict, array or queue */
#define MGR_MAX_OBJECTS 256 /* objects one server holds */

/* ---------------------------------------------------------- tagged values */

enum mgr_type { MGR_NONE = 0, MGR_INT = 1, MGR_DOUBLE = 2, MGR_STR = 3 };

/* One stored element; the type travels with it, so 0 and 0.0 stay apart. */
struct mgr_value {
    enum mgr_type type;
    union {
        int64_t i;
        double d;
        char s[MGR_STR_MAX];
    } as;
};

struct mgr_value mgr_int(int64_t i);
struct mgr_value mgr_double(double d);
struct mgr_value mgr_str(const char *s); /* cut to MGR_STR_MAX - 1 bytes */

/* One element of a reply: a dict's key and value, or a value alone. */
struct mgr_item {
    char key[MGR_STR_MAX];
    struct mgr_value value;
};

/* ------------------------------------------------- printing like Python */

/* Write repr(value) into buf: 3, 2.0, 0.1, 'foo'.  Returns buf. */
char *mgr_format_value(const struct mgr_value *v, char *buf, size_t size);

/* Write "[0, 1, 2]" (values of items) or "{'bar': 2, 'foo': 1}" (keys and
 * values) into buf; "..." ends it if it does not fit.  Returns buf. */
char *mgr_format_list(const struct mgr_item *items, size_t n, char *buf, size_t size);
char *mgr_format_dict(const struct mgr_item *items, size_t n, char *buf, size_t size);

/* ------------------------------------------------------- the messages */

enum mgr_op {
    MGR_OP_PING = 1, MGR_OP_SHUTDOWN, MGR_OP_CREATE, MGR_OP_ITEMS,
    MGR_OP_VALUE_GET, MGR_OP_VALUE_SET, MGR_OP_ARRAY_GET, MGR_OP_ARRAY_SET,
    MGR_OP_LIST_APPEND, MGR_OP_LIST_GET, MGR_OP_DICT_GET, MGR_OP_DICT_SET,
    MGR_OP_QUEUE_PUT, MGR_OP_QUEUE_GET,
    MGR_OP_LAST = MGR_OP_QUEUE_GET
};

enum mgr_kind { MGR_VALUE = 1, MGR_ARRAY, MGR_LIST, MGR_DICT, MGR_QUEUE };

/* Errors a reply can carry; named like the Python exceptions they mirror. */
enum mgr_errcode {
    MGR_E_BAD_REQUEST = 1, /* the request could not be decoded */
    MGR_E_NO_OBJECT,       /* no object with that id */
    MGR_E_TYPE,            /* TypeError: wrong op for the object, wrong type */
    MGR_E_KEY,             /* KeyError: no such key in the dict */
    MGR_E_INDEX,           /* IndexError: index out of range */
    MGR_E_EMPTY,           /* queue.Empty: get timed out */
    MGR_E_FULL,            /* a limit (items, objects) was reached */
    MGR_E_PERMISSION,      /* PermissionError: SHUTDOWN from another process,
                              or a connection from another user */
    /* Refusals of a connection, each sent just before the server closes it: */
    MGR_E_TOO_MANY,        /* TooManyConnections: no room, nobody to close */
    MGR_E_NO_MEMORY,       /* MemoryError: no buffers for the newcomer */
    MGR_E_EVICTED,         /* Evicted: a parked get or put was closed to make
                              room; nothing was taken or added - send the
                              request again (the proxy does) */
};

/* The name of an error code: "KeyError", "Empty", ...  Never NULL. */
const char *mgr_errname(int code);

/* A decoded request.  values[] is used by CREATE of an ARRAY only. */
struct mgr_request {
    uint8_t op;
    uint32_t id;
    uint8_t kind;           /* CREATE */
    uint8_t typecode;       /* CREATE of an ARRAY: 'i' or 'd' */
    uint32_t index;         /* ARRAY_GET/SET, LIST_GET */
    int32_t timeout_ms;     /* QUEUE_GET */
    char key[MGR_STR_MAX];  /* DICT_GET/SET */
    struct mgr_value value; /* VALUE_SET, ARRAY_SET, LIST_APPEND, DICT_SET,
                               QUEUE_PUT, CREATE of a VALUE */
    uint32_t count;         /* CREATE of an ARRAY */
    struct mgr_value values[MGR_MAX_ITEMS];
};

/* Decode one request payload (the bytes after the length) into *req.
 * Returns 0, or -1 with a one-line reason in why[why_size].  Reads only
 * data[0..size); never allocates, never exits, never trusts a length.
 * This is the fuzz target's entry point (tests/fuzz/). */
int mgr_decode_request(const uint8_t *data, size_t size, struct mgr_request *req,
                       char *why, size_t why_size);

/* Encode *req as a whole frame (length included) into buf.  Returns the
 * frame's length, or 0 if it does not fit in size bytes. */
size_t mgr_encode_request(const struct mgr_request *req, uint8_t *buf, size_t size);

/* A reply, decoded. */
struct mgr_reply {
    bool ok;
    int errcode;                       /* when !ok */
    char message[256];                 /* when !ok */
    uint32_t count;                    /* when ok */
    struct mgr_item items[MGR_MAX_ITEMS];
};

/* Encode an ok reply with n items (keys may be "") as a whole frame into
 * buf; returns its length, or 0 if it does not fit. */
size_t mgr_encode_ok(const struct mgr_item *items, uint32_t n, uint8_t *buf, size_t size);

/* Encode an error reply as a whole frame; returns its length (> 0). */
size_t mgr_encode_error(int code, const char *message, uint8_t *buf, size_t size);

/* Decode a reply payload; returns 0, or -1 with a reason in why. */
int mgr_decode_reply(const uint8_t *data, size_t size, struct mgr_reply *reply,
                     char *why, size_t why_size);

/* ------------------------------------------------------- error messages */

/* The reason the last manager or proxy call of this thread failed. */
const char *mgr_error(void);

/* Set that reason (printf-style) and return -1, for `return mgr_fail(...)`. */
int mgr_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------- whole frames */

/* Write all n bytes to fd, through partial writes and EINTR, without
 * SIGPIPE.  Returns 0, or -1 (mgr_error() says why; errno is send(2)'s). */
int mgr_write_all(int fd, const void *buf, size_t n);

/* Read one whole frame, the length included, from a blocking fd into
 * buf[size]; the payload starts at buf + 4.  For a connection with one
 * request outstanding: bytes beyond the frame are an error.  Returns the
 * payload's length, or -1 on end of file, error or a bad length
 * (mgr_error() says which). */
long mgr_read_frame(int fd, uint8_t *buf, size_t size);

#endif
