/* mp_replay.c - replay a handshake recorded from real Python against common/mp_auth.c.
 *
 * usage: mp_replay FILE...     (files made by tests/tools/record_handshake.py)
 *
 * For each recording, the C code plays each side in turn, with the random
 * bytes the recording drew, against the other side's recorded frames:
 *   - as the server, through the step-by-step state machine the manager's
 *     poll loop uses (mp_server_auth_begin/next): every frame it sends must
 *     be the recorded server frame, byte for byte;
 *   - as the client, through the blocking mp_answer_challenge and
 *     mp_deliver_challenge, on a socket pair whose other end holds the
 *     recorded server frames: every byte it writes must be the recorded
 *     client bytes;
 *   - each failure must carry Python's own message ("AuthenticationError:
 *     digest received was wrong").
 * Prints one "ok" or "BAD" line per check; exits 1 if any is BAD.  Needs no
 * Python: that is the point.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "mgr_wire.h"
#include "mp_auth_answer.h"

#define MAX_FRAMES 16
#define LINE 1024

struct bytes {
    uint8_t b[4 + MP_AUTH_MAX];
    size_t n;
};

struct recording {
    char title[LINE];
    struct bytes key, client_key, server_nonce, client_nonce;
    bool has_client_key, has_client_nonce;
    struct bytes frame[MAX_FRAMES];
    char from[MAX_FRAMES]; /* 'S' or 'C' */
    int frames;
    char server_result[LINE], client_result[LINE];
};

static int bad;

static void check(bool ok, const char *title, const char *what, const char *detail)
{
    printf("%s  %s: %s%s%s\n", ok ? "ok " : "BAD", title, what, ok || !detail ? "" : ": ",
           ok || !detail ? "" : detail);
    if (!ok)
        bad++;
}

static void hex_in(const char *hex, struct bytes *out)
{
    out->n = 0;
    while (hex[0] && hex[1] && hex[0] != '\n' && out->n < sizeof out->b) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1)
            break;
        out->b[out->n++] = (uint8_t)v;
        hex += 2;
    }
}

static void read_recording(const char *path, struct recording *r)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        err_exit("open %s", path);
    memset(r, 0, sizeof *r);
    snprintf(r->title, sizeof r->title, "%s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    char line[LINE];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "key ", 4) == 0)
            hex_in(line + 4, &r->key);
        else if (strncmp(line, "clientkey ", 10) == 0)
            hex_in(line + 10, &r->client_key), r->has_client_key = true;
        else if (strncmp(line, "nonce server ", 13) == 0)
            hex_in(line + 13, &r->server_nonce);
        else if (strncmp(line, "nonce client ", 13) == 0)
            hex_in(line + 13, &r->client_nonce), r->has_client_nonce = true;
        else if ((line[0] == 'S' || line[0] == 'C') && line[1] == ' ' && r->frames < MAX_FRAMES) {
            r->from[r->frames] = line[0];
            hex_in(line + 2, &r->frame[r->frames++]);
        } else if (strncmp(line, "result server ", 14) == 0)
            snprintf(r->server_result, sizeof r->server_result, "%s", line + 14);
        else if (strncmp(line, "result client ", 14) == 0)
            snprintf(r->client_result, sizeof r->client_result, "%s", line + 14);
    }
    fclose(f);
    if (r->key.n == 0 || r->server_nonce.n == 0 || r->frames < 3)
        fatal("%s: not a recording (key, nonce and frames missing)", path);
}

static bool same(const struct bytes *want, const uint8_t *got, size_t n)
{
    return want->n == n && memcmp(want->b, got, n) == 0;
}

static enum mp_proto proto_of(const struct bytes *nonce)
{
    return nonce->n == MP_NONCE_LEGACY ? MP_LEGACY : MP_SHA256;
}

/* The C server, step by step, against the recorded client frames. */
static void replay_server(const struct recording *r)
{
    struct mp_server_auth a;
    uint8_t out[4 + MP_AUTH_MAX];
    size_t out_len;
    int s = 0; /* next recorded server frame */
    while (s < r->frames && r->from[s] != 'S')
        s++;
    mp_server_auth_begin(&a, r->key.b, r->key.n, proto_of(&r->server_nonce), r->server_nonce.b,
                         out, &out_len);
    bool frames_ok = same(&r->frame[s++], out, out_len);
    enum mp_step step = MP_STEP_SEND;
    bool authenticated = false;
    char error[LINE] = "";
    for (int k = 0; k < r->frames && step == MP_STEP_SEND; k++) {
        if (r->from[k] != 'C')
            continue;
        step = mp_server_auth_next(&a, r->frame[k].b + 4, r->frame[k].n - 4, out, &out_len);
        if (out_len > 0) {
            while (s < r->frames && r->from[s] != 'S')
                s++;
            frames_ok = frames_ok && s < r->frames && same(&r->frame[s++], out, out_len);
        }
        if (step == MP_STEP_DONE)
            authenticated = true;
        if (step == MP_STEP_FAILED)
            snprintf(error, sizeof error, "%s", mgr_error());
    }
    check(frames_ok, r->title, "C as the server sends the recorded server frames", NULL);
    if (strncmp(r->server_result, "got ", 4) == 0) {
        check(authenticated, r->title, "C as the server accepts Python's client", error);
        /* After the handshake: send_bytes(b'HELLO') is framed the same. */
        uint8_t reply[16];
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
            err_exit("socketpair");
        mp_send_bytes(sv[0], "HELLO", 5);
        ssize_t n = read(sv[1], reply, sizeof reply);
        check(n > 0 && same(&r->frame[r->frames - 1], reply, (size_t)n), r->title,
              "send_bytes frames a message as Python does", NULL);
        close(sv[0]);
        close(sv[1]);
    } else {
        check(!authenticated && strcmp(error, r->server_result) == 0, r->title,
              "C as the server refuses, with Python's message", error);
    }
}

/* The C client, blocking, on a socket pair preloaded with the server's frames. */
static void replay_client(const struct recording *r)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
        err_exit("socketpair");
    for (int k = 0; k < r->frames; k++)
        if (r->from[k] == 'S' && write(sv[1], r->frame[k].b, r->frame[k].n) != (ssize_t)r->frame[k].n)
            err_exit("write");
    const struct bytes *key = r->has_client_key ? &r->client_key : &r->key;
    char error[LINE] = "";
    bool ok = mp_answer_challenge(sv[0], key->b, key->n) == 0;
    if (ok && r->has_client_nonce)
        ok = mp_deliver_challenge(sv[0], key->b, key->n, proto_of(&r->client_nonce),
                                  r->client_nonce.b) == 0;
    uint8_t got_reply[16];
    long got = -1;
    if (ok) {
        mp_send_bytes(sv[0], "hello", 5);
        got = mp_recv_bytes(sv[0], got_reply, sizeof got_reply);
    } else {
        snprintf(error, sizeof error, "%s", mgr_error());
    }
    shutdown(sv[0], SHUT_WR);
    /* What the C client wrote, against the recorded client bytes. */
    static uint8_t sent[16 * (4 + MP_AUTH_MAX)], want[sizeof sent];
    size_t sent_n = 0, want_n = 0;
    ssize_t n;
    while ((n = read(sv[1], sent + sent_n, sizeof sent - sent_n)) > 0)
        sent_n += (size_t)n;
    for (int k = 0; k < r->frames; k++)
        if (r->from[k] == 'C') {
            memcpy(want + want_n, r->frame[k].b, r->frame[k].n);
            want_n += r->frame[k].n;
        }
    check(sent_n == want_n && memcmp(sent, want, sent_n) == 0, r->title,
          "C as the client sends the recorded client frames", NULL);
    if (strncmp(r->client_result, "got ", 4) == 0)
        check(got == 5 && memcmp(got_reply, "HELLO", 5) == 0, r->title,
              "C as the client is accepted and reads the reply", error);
    else
        check(strcmp(error, r->client_result) == 0, r->title,
              "C as the client is refused, with Python's message", error);
    close(sv[0]);
    close(sv[1]);
}

int main(int argc, char *argv[])
{
    if (argc < 2)
        usage_exit("mp_replay FILE...", "name at least one recording");
    static struct recording r;
    for (int k = 1; k < argc; k++) {
        read_recording(argv[k], &r);
        replay_server(&r);
        replay_client(&r);
    }
    printf("%s\n", bad ? "some checks disagree with the recordings" : "every recording replays");
    return bad ? 1 : 0;
}
