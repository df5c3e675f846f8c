/* redis_queue.c - seed 000's writer and reader, with Redis as the manager.
 *
 * usage: redis_queue run ADDRESS [ROUNDS]   the seed's program on the Redis server
 *                                           at ADDRESS: a Unix socket's path (with
 *                                           a '/') or HOST:PORT (numeric IPv4)
 *        redis_queue encode ARG...          print the command's bytes (RESP), escaped
 *        redis_queue decode [FILE...]       read RESP replies (stdin, or each FILE),
 *                                           print each as redis-py returns it
 *
 * Lesson 07's program with the manager swapped for a Redis server:
 *     Value('i', 0)        a key:  SET value 0 / GET value
 *     Array('d', ...)      a list: RPUSH array 0.0 ... / LSET array 0 / LINDEX array 0
 *     manager.list()       a list: RPUSH list 3 / LRANGE list 0 -1
 *     manager.dict()       a hash: HSET dict val 3 / HGETALL dict
 *     manager.Queue()      a list: RPUSH queue 3 / BLPOP queue TIMEOUT
 * and prints the same lines as lesson 07.  Each process opens its own
 * connection, as each Python process opens its own to a manager.  The keys
 * carry this run's pid ("seed000:1234:value"), so runs never meet, and are
 * deleted at the end.
 *
 * The client speaks RESP, Redis's framing: a command is an array of bulk
 * strings, each with its length in front - lesson 06's length-then-bytes
 * again, in decimal digits and CRLFs instead of 4 binary bytes.  Your part:
 * resp_encode() and resp_read_reply().  A server that goes away mid-run
 * ends the program with a message, never a hang.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "mgr_wire.h"
#include "pace.h"
#include "process.h"
#include "say.h"

#define USAGE "redis_queue run ADDRESS [ROUNDS] | redis_queue encode ARG... | redis_queue decode [FILE...]"
#define RESP_MAX_ITEMS 256 /* elements of one array reply, at most */
#define RESP_STR_MAX 512   /* bytes of one string, its NUL included */
#define PATIENCE_S 2       /* a BLPOP waits this long for the other process */

/* One reply, decoded. */
struct resp_string {
    bool null;               /* $-1: Python's None */
    size_t len;
    char s[RESP_STR_MAX];    /* NUL-terminated too, for printing */
};

struct resp_reply {
    char type;               /* '+' simple string, '-' error, ':' integer,
                                '$' bulk string, '*' array */
    long long integer;       /* ':' */
    struct resp_string str;  /* '+', '-', '$' */
    bool null;               /* '*' with count -1 (or '$' -1: str.null) */
    size_t count;            /* '*': elements in items[] */
    struct resp_string items[RESP_MAX_ITEMS]; /* '*': bulk strings only */
};

/* A connection with a read buffer: RESP is read a line, or n bytes, at a
 * time, and one read(2) may bring the end of one reply and the start of
 * the next. */
struct resp_conn {
    int fd;
    char buf[4096];
    size_t start, end;       /* buf[start..end) is read, not yet used */
};

static char why[512];        /* the last error, for the messages */

/* Set the reason and return -1. */
static int resp_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int resp_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return -1;
}

/* ============================================================ your part */

/* The command argv[0..argc) as RESP into buf[size]:
 *     *<argc>\r\n  then for each argument  $<length>\r\n<bytes>\r\n
 * Returns the number of bytes, or 0 if they do not fit. */
size_t resp_encode(int argc, char *argv[], char *buf, size_t size)
{
    size_t at = 0;
    int n = snprintf(buf, size, "*%d\r\n", argc);
    if (n < 0 || (size_t)n >= size)
        return 0;
    at = (size_t)n;
    for (int k = 0; k < argc; k++) {
        size_t len = strlen(argv[k]);
        n = snprintf(buf + at, size - at, "$%zu\r\n", len);
        if (n < 0 || (size_t)n >= size - at || len + 2 > size - at - (size_t)n)
            return 0;
        at += (size_t)n;
        memcpy(buf + at, argv[k], len); /* the bytes as they are: no escaping */
        at += len;
        memcpy(buf + at, "\r\n", 2);
        at += 2;
    }
    return at;
}

/* Given below, with the connection: one line without its CRLF, and
 * exactly n bytes.  Both return -1 (why says why) when the input ends. */
int read_line(struct resp_conn *c, char *line, size_t size);
int read_exact(struct resp_conn *c, void *buf, size_t n);

/* "$<length>\r\n<bytes>\r\n" after its '$' has been read: the length line
 * is in line.  Reads the bytes by count, never by looking for a CRLF: a
 * bulk string may hold any bytes, "\r\n" included. */
static int read_bulk(struct resp_conn *c, const char *line, struct resp_string *out)
{
    long len;
    if (!parse_long(line, -1, RESP_STR_MAX - 1, &len))
        return resp_fail("bad bulk length '%s' (or longer than %d bytes)", line, RESP_STR_MAX - 1);
    out->null = len == -1;
    out->len = 0;
    out->s[0] = '\0';
    if (out->null)
        return 0;
    char crlf[2];
    if (read_exact(c, out->s, (size_t)len) == -1 || read_exact(c, crlf, 2) == -1)
        return -1;
    if (crlf[0] != '\r' || crlf[1] != '\n')
        return resp_fail("bulk string of %ld bytes not followed by CRLF", len);
    out->len = (size_t)len;
    out->s[len] = '\0';
    return 0;
}

/* Read one whole reply into *r.  Returns 0, or -1 (why says why) on a
 * protocol error or when the connection ends.  An error reply ('-') is a
 * reply like any other: 0, with r->type '-'. */
int resp_read_reply(struct resp_conn *c, struct resp_reply *r)
{
    char line[RESP_STR_MAX];
    if (read_line(c, line, sizeof line) == -1)
        return -1;
    r->type = line[0];
    r->null = false;
    r->count = 0;
    switch (line[0]) {
    case '+':
    case '-':
        r->str.null = false;
        r->str.len = strlen(line + 1);
        memcpy(r->str.s, line + 1, r->str.len + 1);
        return 0;
    case ':': {
        /* A signed 64-bit integer: all of long long's range, nothing
         * beyond it (ERANGE), nothing after the digits. */
        char *end;
        errno = 0;
        long long value = strtoll(line + 1, &end, 10);
        if (end == line + 1 || *end != '\0' || errno == ERANGE || isspace((unsigned char)line[1]))
            return resp_fail("bad integer reply '%s' (a signed 64-bit integer)", line);
        r->integer = value;
        return 0;
    }
    case '$':
        return read_bulk(c, line + 1, &r->str);
    case '*': {
        long count;
        if (!parse_long(line + 1, -1, RESP_MAX_ITEMS, &count))
            return resp_fail("bad array length '%s' (or more than %d elements)", line + 1,
                             RESP_MAX_ITEMS);
        r->null = count == -1;
        for (long k = 0; k < count; k++) {
            if (read_line(c, line, sizeof line) == -1)
                return -1;
            if (line[0] != '$')
                return resp_fail("array element %ld is '%c', not a bulk string", k, line[0]);
            if (read_bulk(c, line + 1, &r->items[k]) == -1)
                return -1;
            r->count++;
        }
        return 0;
    }
    default:
        return resp_fail("reply begins with '%c' (0x%02x): not RESP", line[0],
                         (unsigned char)line[0]);
    }
}

/* ============================================================ the connection (given) */

/* More bytes into the buffer.  -1 at end of file, on an error or after
 * the patience of SO_RCVTIMEO. */
static int fill(struct resp_conn *c)
{
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == sizeof c->buf)
        return resp_fail("a line longer than %zu bytes", sizeof c->buf);
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->end, sizeof c->buf - c->end);
        if (r > 0) {
            c->end += (size_t)r;
            return 0;
        }
        if (r == 0)
            return resp_fail("the Redis server closed the connection (did it stop?)");
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return resp_fail("no reply from the Redis server in %d s", PATIENCE_S + 1);
        return resp_fail("read from the Redis server: %s", strerror(errno));
    }
}

/* One line, up to its CRLF (left out), into line[size], NUL-terminated.
 * Returns its length, or -1. */
int read_line(struct resp_conn *c, char *line, size_t size)
{
    for (;;) {
        char *lf = memchr(c->buf + c->start, '\n', c->end - c->start);
        if (lf != NULL) {
            size_t n = (size_t)(lf - (c->buf + c->start)) + 1;
            if (n < 2 || lf[-1] != '\r')
                return resp_fail("a line that does not end in CRLF");
            if (n - 2 >= size)
                return resp_fail("a line longer than %zu bytes", size - 1);
            memcpy(line, c->buf + c->start, n - 2);
            line[n - 2] = '\0';
            c->start += n;
            if (n == 2)
                return resp_fail("an empty line where a reply should begin");
            return (int)(n - 2);
        }
        if (fill(c) == -1)
            return -1;
    }
}

/* Exactly n bytes into buf, or -1. */
int read_exact(struct resp_conn *c, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        if (c->start == c->end && fill(c) == -1)
            return -1;
        size_t take = c->end - c->start < n ? c->end - c->start : n;
        memcpy(p, c->buf + c->start, take);
        c->start += take;
        p += take;
        n -= take;
    }
    return 0;
}

/* A string as Python's repr() shows it: 'a\r\nb'. */
static void print_string(const struct resp_string *s)
{
    if (s->null) {
        printf("None");
        return;
    }
    putchar('\'');
    for (size_t i = 0; i < s->len; i++) {
        unsigned char b = (unsigned char)s->s[i];
        if (b == '\r')
            printf("\\r");
        else if (b == '\n')
            printf("\\n");
        else if (b == '\\' || b == '\'')
            printf("\\%c", b);
        else if (b < 0x20 || b >= 0x7f)
            printf("\\x%02x", b);
        else
            putchar(b);
    }
    putchar('\'');
}

/* A reply as redis-py (decode_responses=True) gives it to Python. */
static void print_reply(const struct resp_reply *r)
{
    switch (r->type) {
    case '+': print_string(&r->str); break;
    case '-': printf("error: %s", r->str.s); break;
    case ':': printf("%lld", r->integer); break;
    case '$': print_string(&r->str); break;
    default:
        if (r->null) {
            printf("None");
            break;
        }
        printf("[");
        for (size_t k = 0; k < r->count; k++) {
            printf("%s", k ? ", " : "");
            print_string(&r->items[k]);
        }
        printf("]");
    }
    putchar('\n');
}

/* Connect to a Unix socket's path, or HOST:PORT, with a patience. */
static int redis_connect(const char *address)
{
    int fd;
    if (strchr(address, '/') != NULL) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        if (strlen(address) >= sizeof un.sun_path)
            fatal("socket path too long: %s", address);
        strcpy(un.sun_path, address);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd == -1 || connect(fd, (struct sockaddr *)&un, sizeof un) == -1)
            err_exit("connect to the Redis server at %s", address);
    } else {
        struct sockaddr_in in = { .sin_family = AF_INET };
        char host[64];
        const char *colon = strrchr(address, ':');
        long port;
        if (colon == NULL || (size_t)(colon - address) >= sizeof host)
            usage_exit(USAGE, "'%s' is neither a socket path nor HOST:PORT", address);
        memcpy(host, address, (size_t)(colon - address));
        host[colon - address] = '\0';
        if (inet_pton(AF_INET, host, &in.sin_addr) != 1 || !parse_long(colon + 1, 1, 65535, &port))
            usage_exit(USAGE, "'%s' is not a numeric IPv4 HOST:PORT", address);
        in.sin_port = htons((uint16_t)port);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd == -1 || connect(fd, (struct sockaddr *)&in, sizeof in) == -1)
            err_exit("connect to the Redis server at %s", address);
    }
    /* A BLPOP waits PATIENCE_S on the server; a second more here. */
    struct timeval t = { .tv_sec = PATIENCE_S + 1 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t) == -1)
        err_exit("setsockopt");
    return fd;
}

/* ============================================================ the seed's program (given) */

struct shared {
    const char *address;
    char prefix[64];         /* "seed000:PID:" */
    int rounds;
};

static struct resp_conn conn;      /* this process's connection */
static struct resp_reply reply;    /* the last reply */

/* Send one command (words separated by spaces; the last may be passed in
 * full as `tail`) and read its reply into `reply`.  Any failure ends the
 * process, naming the command: these programs have nothing better to do. */
static void redis(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void redis(const char *fmt, ...)
{
    char text[1024], *argv[16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char copy[sizeof text];
    strcpy(copy, text);
    int argc = 0;
    for (char *w = strtok(copy, " "); w != NULL && argc < 16; w = strtok(NULL, " "))
        argv[argc++] = w;
    char out[2048];
    size_t n = resp_encode(argc, argv, out, sizeof out);
    if (n == 0)
        fatal("%s: resp_encode gave no bytes", text);
    if (mgr_write_all(conn.fd, out, n) == -1)
        fatal("%s: %s", text, mgr_error());
    if (resp_read_reply(&conn, &reply) == -1)
        fatal("%s: %s", text, why);
    if (reply.type == '-')
        fatal("%s: the server said: %s", text, reply.str.s);
}

static void open_connection(const struct shared *s)
{
    conn = (struct resp_conn){ .fd = redis_connect(s->address) };
}

/* MyProcess1.run() */
static void writer(void *arg)
{
    struct shared *s = arg;
    char text[64];
    const char *p = s->prefix;
    open_connection(s);
    for (int cnt = 0; cnt < s->rounds; cnt++) {
        say_stamped("MyProcess1:ValueWrite");
        struct mgr_value as_double = mgr_double(cnt);
        redis("SET %svalue %d", p, cnt);                 /* m_val.value = cnt */
        redis("LSET %sarray 0 %s", p,                    /* m_array[0] = cnt */
              mgr_format_value(&as_double, text, sizeof text));
        redis("RPUSH %slist %d", p, cnt);                /* m_list.append(cnt) */
        redis("HSET %sdict val %d", p, cnt);             /* m_dict['val'] = cnt */
        redis("RPUSH %squeue %d", p, cnt);               /* m_queue.put(cnt) */
        redis("BLPOP %sdone %d", p, PATIENCE_S);         /* the reader has printed */
        if (reply.null)
            fatal("round %d: no word from the reader in %d s", cnt, PATIENCE_S);
        pace_wait(1);
    }
}

/* MyProcess2.run() */
static void reader(void *arg)
{
    struct shared *s = arg;
    const char *p = s->prefix;
    char text[2048], item[RESP_STR_MAX];
    open_connection(s);
    for (int round = 0; round < s->rounds; round++) {
        /* q_data = m_queue.get(): the server holds the BLPOP until an item
         * comes, or the timeout ends (a None reply). */
        redis("BLPOP %squeue %d", p, PATIENCE_S);
        if (reply.null || reply.count != 2)
            fatal("round %d: nothing on the queue in %d s", round, PATIENCE_S);
        snprintf(item, sizeof item, "%s", reply.items[1].s);
        say_stamped("MyProcess2:ValueRead");
        redis("GET %svalue", p);
        say_stamped("Value %s", reply.str.s);
        redis("LINDEX %sarray 0", p);
        say_stamped("Array %s", reply.str.s);
        redis("LRANGE %slist 0 -1", p);                  /* m_list[:] */
        size_t at = (size_t)snprintf(text, sizeof text, "[");
        for (size_t k = 0; k < reply.count && at < sizeof text; k++)
            at += (size_t)snprintf(text + at, sizeof text - at, "%s%s", k ? ", " : "",
                                   reply.items[k].s);
        say_stamped("list %s]", text);
        redis("HGETALL %sdict", p);                      /* a flat list: key, value, ... */
        at = (size_t)snprintf(text, sizeof text, "{");
        for (size_t k = 0; k + 1 < reply.count && at < sizeof text; k += 2)
            at += (size_t)snprintf(text + at, sizeof text - at, "%s'%s': %s", k ? ", " : "",
                                   reply.items[k].s, reply.items[k + 1].s);
        say_stamped("dict %s}", text);
        say_stamped("Queue %s", item);
        redis("RPUSH %sdone %s", p, item);
    }
}

static int run(const char *address, int rounds)
{
    struct shared s = { .address = address, .rounds = rounds };
    snprintf(s.prefix, sizeof s.prefix, "seed000:%d:", (int)getpid());
    const char *p = s.prefix;
    open_connection(&s);
    /* Value('i', 0) and Array('d', range(10)); the rest start empty. */
    redis("DEL %svalue %sarray %slist %sdict %squeue %sdone", p, p, p, p, p, p);
    redis("SET %svalue 0", p);
    redis("RPUSH %sarray 0.0 1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0 9.0", p);

    pid_t w = process_start("MyProcess1", writer, &s);
    pid_t r = process_start("MyProcess2", reader, &s);
    int failed = (process_join(w) != 0) + (process_join(r) != 0);
    if (!failed)
        redis("DEL %svalue %sarray %slist %sdict %squeue %sdone", p, p, p, p, p, p);
    close(conn.fd);
    return failed ? 1 : 0;
}

/* `encode`: the bytes, with CR, LF and other non-printing bytes escaped. */
static int encode(int argc, char *argv[])
{
    static char out[65536];
    size_t n = resp_encode(argc, argv, out, sizeof out);
    if (n == 0)
        fatal("resp_encode gave no bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)out[i];
        if (b == '\r')
            printf("\\r");
        else if (b == '\n')
            printf("\\n");
        else if (b == '\\')
            printf("\\\\");
        else if (b < 0x20 || b >= 0x7f)
            printf("\\x%02x", b);
        else
            putchar(b);
    }
    putchar('\n');
    return 0;
}

/* `decode`: each reply in the stream on fd, printed.  0 at the end of the
 * input, or -1 at the first protocol error (reported on stderr). */
static int decode_stream(int fd, const char *name)
{
    conn = (struct resp_conn){ .fd = fd };
    for (;;) {
        /* End of input between replies is the normal end. */
        if (conn.start == conn.end) {
            ssize_t r = read(fd, conn.buf, sizeof conn.buf);
            if (r == 0)
                return 0;
            if (r == -1)
                err_exit("read %s", name);
            conn.start = 0;
            conn.end = (size_t)r;
        }
        if (resp_read_reply(&conn, &reply) == -1) {
            fflush(stdout);
            fprintf(stderr, "redis_queue: decode: %s: %s\n", name, why);
            return -1;
        }
        print_reply(&reply);
    }
}

/* `decode [FILE...]`: stdin, or each FILE on its own; exit 1 if any
 * holds something that is not RESP. */
static int decode(int argc, char *argv[])
{
    if (argc == 0)
        return decode_stream(0, "stdin") == -1 ? 1 : 0;
    int failed = 0;
    for (int k = 0; k < argc; k++) {
        int fd = open(argv[k], O_RDONLY | O_CLOEXEC);
        if (fd == -1)
            err_exit("open %s", argv[k]);
        failed |= decode_stream(fd, argv[k]) == -1;
        close(fd);
    }
    return failed;
}

int main(int argc, char *argv[])
{
    if (argc < 2)
        usage_exit(USAGE, "run, encode or decode?");
    if (strcmp(argv[1], "encode") == 0) {
        if (argc < 3 || argc > 2 + 64)
            usage_exit(USAGE, "encode takes 1 to 64 arguments");
        return encode(argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "decode") == 0)
        return decode(argc - 2, argv + 2);
    if (strcmp(argv[1], "run") != 0 || argc < 3 || argc > 4)
        usage_exit(USAGE, "unknown command or wrong number of arguments");
    int rounds = argc == 4 ? (int)arg_long(argv[3], 1, 200, "ROUNDS", USAGE) : 4;
    pace_tick_ms();
    return run(argv[2], rounds);
}
