/* SPDX-License-Identifier: MIT */
/* Table tests of the FastCGI record layer: the records kickd writes,
 * checked byte for byte and by a reader of the test's own, and the reader
 * of a pool's answer, fed every stream whole, split in two at every byte,
 * and one byte at a time, each piece at the end of a buffer followed by a
 * PROT_NONE page so that a read past it crashes. */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "parse_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_record.h"

/* A string literal and its length, embedded NULs included. */
#define S(lit) lit, sizeof(lit) - 1

/* Record headers of request 1: version 1, type, id. */
#define OUT "\x01\x06\x00\x01"
#define ERR "\x01\x07\x00\x01"
#define END "\x01\x03\x00\x01"
#define END_OK END "\x00\x08\x00\x00" "\0\0\0\0" "\0\0\0\0"

/* Room for the largest piece fed at once. */
#define GUARD_ROOM (256 * 1024)

/* What a reader made of a stream. */
struct got {
    char out[GUARD_ROOM];
    size_t out_len;
    char err[1024];
    size_t err_len;
    bool ended;
    uint32_t app_status;
    int protocol_status;
    const char *error;
};

static void
event_take(struct got *r, const struct fcgi_event *ev, const char *piece,
           size_t used)
{
    if (ev->kind == FCGI_EV_STDOUT || ev->kind == FCGI_EV_STDERR) {
        /* Data lies inside what was consumed. */
        assert_true(ev->len > 0);
        assert_true(ev->data >= piece &&
                    ev->data + ev->len <= piece + used);
    }
    if (ev->kind == FCGI_EV_STDOUT) {
        assert_true(r->out_len + ev->len <= sizeof(r->out));
        memcpy(r->out + r->out_len, ev->data, ev->len);
        r->out_len += ev->len;
    } else if (ev->kind == FCGI_EV_STDERR) {
        assert_true(r->err_len + ev->len <= sizeof(r->err));
        memcpy(r->err + r->err_len, ev->data, ev->len);
        r->err_len += ev->len;
    } else if (ev->kind == FCGI_EV_END) {
        assert_false(r->ended);
        r->ended = true;
        r->app_status = ev->app_status;
        r->protocol_status = ev->protocol_status;
    }
}

/* Feeds n bytes as one piece read from the socket: parsed until all are
 * used or an error, each call on the rest at the guard page. */
static void
feed(struct fcgi_parser *p, struct guard *g, const char *s, size_t n,
     struct got *r)
{
    while (n > 0 && r->error == NULL) {
        char *piece = guard_put(g, s, n);
        struct fcgi_event ev;
        ssize_t used = fcgi_parse(p, piece, n, &ev);
        if (used == FCGI_BAD) {
            assert_non_null(p->error);
            r->error = p->error;
            return;
        }
        assert_true(used > 0 && (size_t)used <= n);
        event_take(r, &ev, piece, (size_t)used);
        s += used;
        n -= (size_t)used;
    }
}

/* Parses s cut at the given offsets (ascending, within n). */
static void
parse_split(struct guard *g, const char *s, size_t n, const size_t *cuts,
            size_t ncuts, struct got *r)
{
    struct fcgi_parser p;
    size_t at = 0;

    memset(r, 0, sizeof(*r));
    fcgi_parser_init(&p, 1);
    for (size_t i = 0; i <= ncuts && r->error == NULL; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        feed(&p, g, s + at, end - at, r);
        at = end;
    }
}

struct read_case {
    const char *name;
    const char *in;
    size_t len;
    const char *out;   /* STDOUT, all of it */
    const char *err;   /* STDERR */
    bool ended;
    uint32_t app_status;
    int protocol_status;
    const char *error; /* NULL, or the reader's reason */
};

static const struct read_case read_cases[] = {
    {"stdout and end", S(OUT "\x00\x05\x03\x00" "hello\0\0\0" END_OK),
     "hello", "", true, 0, FCGI_REQUEST_COMPLETE, NULL},
    {"PHP-FPM's answer",
     S(OUT "\x00\x1a\x00\x00" "Content-type: text/html\r\n\r"
       OUT "\x00\x03\x00\x00" "\nhi"
       ERR "\x00\x04\x04\x00" "oops\0\0\0\0"
       OUT "\x00\x00\x00\x00"
       END "\x00\x08\x00\x00" "\0\0\0\x03" "\0\0\0\0"),
     "Content-type: text/html\r\n\r\nhi", "oops", true, 3,
     FCGI_REQUEST_COMPLETE, NULL},
    {"padding of 255",
     S(OUT "\x00\x01\xff\x00" "x"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       END_OK),
     "x", "", true, 0, 0, NULL},
    {"end padded",
     S(END "\x00\x08\x08\x00" "\x00\x00\x01\x00" "\x00\0\0\0"
       "\0\0\0\0\0\0\0\0"),
     "", "", true, 256, FCGI_REQUEST_COMPLETE, NULL},
    {"app status big-endian",
     S(END "\x00\x08\x00\x00" "\xde\xad\xbe\xef" "\x00\0\0\0"), "", "", true,
     0xdeadbeefu, 0, NULL},
    {"overloaded", S(END "\x00\x08\x00\x00" "\0\0\0\0" "\x02\0\0\0"), "", "",
     true, 0, FCGI_OVERLOADED, NULL},
    {"cannot multiplex", S(END "\x00\x08\x00\x00" "\0\0\0\0" "\x01\0\0\0"),
     "", "", true, 0, FCGI_CANT_MPX_CONN, NULL},
    {"unknown role", S(END "\x00\x08\x00\x00" "\0\0\0\0" "\x03\0\0\0"), "",
     "", true, 0, FCGI_UNKNOWN_ROLE, NULL},
    {"a protocol status of its own",
     S(END "\x00\x08\x00\x00" "\0\0\0\0" "\x09\0\0\0"), "", "", true, 0, 9,
     NULL},
    {"management records skipped",
     S("\x01\x0a\x00\x00\x00\x12\x06\x00" "\x0f\x01" "FCGI_MPXS_CONNS" "0"
       "\0\0\0\0\0\0"
       "\x01\x0b\x00\x00\x00\x08\x00\x00" "\x09\0\0\0\0\0\0\0"
       OUT "\x00\x02\x06\x00" "ok\0\0\0\0\0\0" END_OK),
     "ok", "", true, 0, 0, NULL},
    {"incomplete stdout", S(OUT "\x00\x05\x03\x00" "hel"), "hel", "", false,
     0, 0, NULL},
    {"incomplete header", S(OUT "\x00\x05"), "", "", false, 0, 0, NULL},
    {"incomplete end", S(OUT "\x00\x01\x07\x00" "a\0\0\0\0\0\0\0" END
                         "\x00\x08\x00\x00" "\0\0\0"),
     "a", "", false, 0, 0, NULL},
    {"end without its padding",
     S(END "\x00\x08\x04\x00" "\0\0\0\0" "\0\0\0\0" "\0\0"), "", "", false, 0,
     0, NULL},
    {"version 0", S("\x00\x06\x00\x01\x00\x00\x00\x00"), "", "", false, 0, 0,
     "not FastCGI version 1"},
    {"version 2 after output",
     S(OUT "\x00\x02\x00\x00" "ab" "\x02\x06\x00\x01\x00\x00\x00\x00"), "ab",
     "", false, 0, 0, "not FastCGI version 1"},
    {"begin request from a server",
     S("\x01\x01\x00\x01\x00\x08\x00\x00" "\0\x01\x01\0\0\0\0\0"), "", "",
     false, 0, 0, "a record type a server does not send"},
    {"stdin from a server", S("\x01\x05\x00\x01\x00\x00\x00\x00"), "", "",
     false, 0, 0, "a record type a server does not send"},
    {"type 0", S("\x01\x00\x00\x01\x00\x00\x00\x00"), "", "", false, 0, 0,
     "a record type a server does not send"},
    {"type 12", S("\x01\x0c\x00\x00\x00\x00\x00\x00"), "", "", false, 0, 0,
     "a record type a server does not send"},
    {"type 255", S("\x01\xff\x00\x01\x00\x00\x00\x00"), "", "", false, 0, 0,
     "a record type a server does not send"},
    {"stdout of request 2", S("\x01\x06\x00\x02\x00\x01\x07\x00" "x"), "", "",
     false, 0, 0, "a record of another request"},
    {"stdout of request 256", S("\x01\x06\x01\x01\x00\x00\x00\x00"), "", "",
     false, 0, 0, "a record of another request"},
    {"end of request 0", S("\x01\x03\x00\x00\x00\x08\x00\x00"), "", "", false,
     0, 0, "a record of another request"},
    {"end of 7 bytes", S(END "\x00\x07\x01\x00" "\0\0\0\0\0\0\0\0"), "", "",
     false, 0, 0, "FCGI_END_REQUEST of a bad length"},
    {"end of 9 bytes", S(END "\x00\x09\x00\x00"), "", "", false, 0, 0,
     "FCGI_END_REQUEST of a bad length"},
    {"end of 65535 bytes", S(END "\xff\xff\x00\x00"), "", "", false, 0, 0,
     "FCGI_END_REQUEST of a bad length"},
    {"unknown type of 9 bytes", S("\x01\x0b\x00\x00\x00\x09\x00\x00"), "", "",
     false, 0, 0, "FCGI_UNKNOWN_TYPE of a bad length"},
    {"get values result with an id",
     S("\x01\x0a\x00\x01\x00\x00\x00\x00"), "", "", false, 0, 0,
     "a management record with a request id"},
    {"bytes after the end", S(OUT "\x00\x01\x07\x00" "a\0\0\0\0\0\0\0"
                              END_OK "\x01"),
     "a", "", true, 0, 0, "bytes after FCGI_END_REQUEST"},
    {"a record after the end", S(END_OK OUT "\x00\x00\x00\x00"), "", "", true,
     0, 0, "bytes after FCGI_END_REQUEST"},
};

static void
check_got(const struct read_case *c, const struct got *r, const char *how,
          size_t at)
{
    const char *n = c->name;

    if ((r->error == NULL) != (c->error == NULL) ||
        (r->error && strcmp(r->error, c->error) != 0))
        fail_msg("%s (%s %zu): error %s, want %s", n, how, at,
                 r->error ? r->error : "none", c->error ? c->error : "none");
    if (r->out_len != strlen(c->out) || memcmp(r->out, c->out, r->out_len))
        fail_msg("%s (%s %zu): stdout '%.*s', want '%s'", n, how, at,
                 (int)r->out_len, r->out, c->out);
    if (r->err_len != strlen(c->err) || memcmp(r->err, c->err, r->err_len))
        fail_msg("%s (%s %zu): stderr '%.*s', want '%s'", n, how, at,
                 (int)r->err_len, r->err, c->err);
    if (r->ended != c->ended)
        fail_msg("%s (%s %zu): ended %d, want %d", n, how, at, r->ended,
                 c->ended);
    if (c->ended && (r->app_status != c->app_status ||
                     r->protocol_status != c->protocol_status))
        fail_msg("%s (%s %zu): status %u/%d, want %u/%d", n, how, at,
                 r->app_status, r->protocol_status, c->app_status,
                 c->protocol_status);
}

/* Every stream whole, cut in two at every byte, and byte by byte: the
 * same events in the same order, the same error. */
static void
test_read(void **state)
{
    struct guard g;
    struct got *r = malloc(sizeof(*r));
    size_t cuts[4096];

    (void)state;
    assert_non_null(r);
    guard_init(&g, GUARD_ROOM);
    for (size_t i = 0; i < sizeof(read_cases) / sizeof(read_cases[0]); i++) {
        const struct read_case *c = &read_cases[i];
        parse_split(&g, c->in, c->len, NULL, 0, r);
        check_got(c, r, "whole", 0);
        for (size_t k = 1; k < c->len; k++) {
            parse_split(&g, c->in, c->len, &k, 1, r);
            check_got(c, r, "cut at", k);
        }
        assert_true(c->len <= sizeof(cuts) / sizeof(cuts[0]));
        for (size_t k = 1; k < c->len; k++)
            cuts[k - 1] = k;
        parse_split(&g, c->in, c->len, cuts, c->len ? c->len - 1 : 0, r);
        check_got(c, r, "byte by byte", 0);
    }
    guard_close(&g);
    free(r);
}

/* Every strict prefix of a complete answer is incomplete: no end, no
 * error. */
static void
test_prefixes(void **state)
{
    struct guard g;
    struct got *r = malloc(sizeof(*r));

    (void)state;
    assert_non_null(r);
    guard_init(&g, GUARD_ROOM);
    for (size_t i = 0; i < sizeof(read_cases) / sizeof(read_cases[0]); i++) {
        const struct read_case *c = &read_cases[i];
        if (!c->ended || c->error)
            continue;
        for (size_t k = 0; k < c->len; k++) {
            parse_split(&g, c->in, k, NULL, 0, r);
            if (r->ended || r->error)
                fail_msg("%s: prefix of %zu bytes ended or failed (%s)",
                         c->name, k, r->error ? r->error : "ended");
        }
    }
    guard_close(&g);
    free(r);
}

/* A STDOUT record of the largest content, then the end. */
static void
test_read_large(void **state)
{
    struct guard g;
    struct got *r = malloc(sizeof(*r));
    size_t n = FCGI_RECORD_SIZE(FCGI_MAX_CONTENT) + FCGI_RECORD_SIZE(8);
    unsigned char *in = calloc(1, n);
    char *data = malloc(FCGI_MAX_CONTENT);
    unsigned char end[8] = {0, 0, 0, 7, 0};

    (void)state;
    assert_true(r && in && data);
    for (size_t i = 0; i < FCGI_MAX_CONTENT; i++)
        data[i] = (char)('a' + i % 26);
    size_t k = fcgi_record_format(in, FCGI_STDOUT, 1, data, FCGI_MAX_CONTENT);
    assert_int_equal(k, 8 + 65536);
    assert_int_equal(in[6], 1); /* padding to a multiple of 8 */
    fcgi_record_format(in + k, FCGI_END_REQUEST, 1, end, 8);
    guard_init(&g, GUARD_ROOM);
    size_t cuts[] = {3, 8, 9, 4000, 65543, 65544, 65545, 65550};
    parse_split(&g, (const char *)in, n, cuts, 8, r);
    assert_null(r->error);
    assert_true(r->ended && r->app_status == 7);
    assert_int_equal(r->out_len, FCGI_MAX_CONTENT);
    assert_memory_equal(r->out, data, FCGI_MAX_CONTENT);
    guard_close(&g);
    free(data);
    free(in);
    free(r);
}

/* A piece says whether it ends its record, however the record is cut. */
static void
test_piece_last(void **state)
{
    static const char in[] = ERR "\x00\x05\x03\x00" "hello\0\0\0" END_OK;
    struct fcgi_parser p;
    struct fcgi_event ev;

    (void)state;
    for (size_t cut = 9; cut < 13; cut++) {
        size_t lasts = 0, at = 0, n = sizeof(in) - 1;
        fcgi_parser_init(&p, 1);
        while (at < n) {
            size_t piece = at < cut ? cut - at : n - at;
            ssize_t k = fcgi_parse(&p, in + at, piece, &ev);
            assert_true(k > 0);
            if (ev.kind == FCGI_EV_STDERR) {
                assert_true(ev.last == (ev.data + ev.len == in + 13));
                lasts += ev.last;
            }
            at += (size_t)k;
        }
        assert_int_equal(lasts, 1);
    }
}

static void
test_record_format(void **state)
{
    unsigned char out[64];

    (void)state;
    assert_int_equal(FCGI_RECORD_SIZE(0), 8);
    assert_int_equal(FCGI_RECORD_SIZE(1), 16);
    assert_int_equal(FCGI_RECORD_SIZE(8), 16);
    assert_int_equal(FCGI_RECORD_SIZE(9), 24);
    memset(out, 0xaa, sizeof(out));
    assert_int_equal(fcgi_record_format(out, FCGI_STDIN, 0x0102, "hello", 5),
                     16);
    assert_memory_equal(out, "\x01\x05\x01\x02\x00\x05\x03\x00hello\0\0\0",
                        16);
    assert_int_equal(fcgi_record_format(out, FCGI_PARAMS, 1, NULL, 0), 8);
    assert_memory_equal(out, "\x01\x04\x00\x01\x00\x00\x00\x00", 8);
    assert_int_equal(fcgi_begin_request_format(out, 1, true), 16);
    assert_memory_equal(out,
                        "\x01\x01\x00\x01\x00\x08\x00\x00"
                        "\x00\x01\x01\x00\x00\x00\x00\x00",
                        16);
    fcgi_begin_request_format(out, 1, false);
    assert_int_equal(out[10], 0);
}

/* The test's own reader of records kickd writes: checks every header
 * (version 1, the id, padding to 8, type) and gathers the contents;
 * returns the record count, stops after an empty record. */
static size_t
records_read(const unsigned char *p, size_t n, int type, unsigned char *out,
             size_t *out_len, size_t *max_content)
{
    size_t count = 0, at = 0;

    *out_len = 0;
    *max_content = 0;
    while (at < n) {
        assert_true(n - at >= 8);
        size_t len = (size_t)p[at + 4] << 8 | p[at + 5];
        assert_int_equal(p[at], 1);
        assert_int_equal(p[at + 1], type);
        assert_int_equal(p[at + 2] << 8 | p[at + 3], 1);
        assert_int_equal((len + p[at + 6]) % 8, 0);
        assert_true(p[at + 6] < 8);
        assert_true(n - at >= 8 + len + p[at + 6]);
        memcpy(out + *out_len, p + at + 8, len);
        *out_len += len;
        if (len > *max_content)
            *max_content = len;
        count++;
        at += 8 + len + p[at + 6];
        if (len == 0)
            break;
    }
    assert_int_equal(at, n);
    return count;
}

/* A name-value pair as section 3.4 writes it. */
static size_t
pair_encode(unsigned char *p, const char *name, size_t nl, const char *value,
            size_t vl)
{
    size_t at = 0;
    size_t lens[2] = {nl, vl};

    for (int i = 0; i < 2; i++) {
        if (lens[i] < 128) {
            p[at++] = (unsigned char)lens[i];
        } else {
            p[at++] = (unsigned char)(0x80 | lens[i] >> 24);
            p[at++] = (unsigned char)(lens[i] >> 16);
            p[at++] = (unsigned char)(lens[i] >> 8);
            p[at++] = (unsigned char)lens[i];
        }
    }
    memcpy(p + at, name, nl);
    memcpy(p + at + nl, value, vl);
    return at + nl + vl;
}

static void
test_params(void **state)
{
    char v127[128], v128[129], v300[301];
    char *pairs[8];
    unsigned char out[4096], content[4096], want[4096];
    size_t len, max, w = 0;

    (void)state;
    memset(v127, 'a', 127);
    v127[127] = '\0';
    memset(v128, 'b', 128);
    v128[128] = '\0';
    snprintf(v300, sizeof(v300), "V=%0298d", 0);
    pairs[0] = "REQUEST_METHOD=GET";
    pairs[1] = "EMPTY=";
    pairs[2] = "NOVALUE";
    pairs[3] = v127; /* a name of 127 bytes, no value */
    pairs[4] = v128; /* 128: four bytes of length */
    pairs[5] = v300;
    pairs[6] = "PHP_VALUE=a=1\nb=2";
    pairs[7] = NULL;
    ssize_t n = fcgi_params_size(pairs);
    assert_true(n > 0 && (size_t)n <= sizeof(out));
    assert_int_equal(fcgi_params_format(out, 1, pairs), (size_t)n);
    assert_int_equal(records_read(out, (size_t)n, FCGI_PARAMS, content, &len,
                                  &max),
                     2);
    w += pair_encode(want + w, "REQUEST_METHOD", 14, "GET", 3);
    w += pair_encode(want + w, "EMPTY", 5, "", 0);
    w += pair_encode(want + w, "NOVALUE", 7, "", 0);
    w += pair_encode(want + w, v127, 127, "", 0);
    w += pair_encode(want + w, v128, 128, "", 0);
    w += pair_encode(want + w, "V", 1, v300 + 2, 298);
    w += pair_encode(want + w, "PHP_VALUE", 9, "a=1\nb=2", 7);
    assert_int_equal(len, w);
    assert_memory_equal(content, want, w);
    /* A length of 128 takes four bytes: 0x80000080. */
    assert_memory_equal(content + 19 + 7 + 9 + 129, "\x80\x00\x00\x80\x00",
                        5);

    pairs[0] = NULL;
    assert_int_equal(fcgi_params_size(pairs), 8);
    assert_int_equal(fcgi_params_format(out, 1, pairs), 8);
    assert_memory_equal(out, "\x01\x04\x00\x01\x00\x00\x00\x00", 8);
}

/* Pairs beyond one record's content go to the next record, whole; a pair
 * larger than a record cannot be sent. */
static void
test_params_split(void **state)
{
    enum { N = 40, VLEN = 4000 };
    char *pairs[N + 1];
    unsigned char *out, *content;
    size_t len, max;

    (void)state;
    for (int i = 0; i < N; i++) {
        pairs[i] = malloc(VLEN + 16);
        assert_non_null(pairs[i]);
        int k = snprintf(pairs[i], 16, "N%02d=", i);
        memset(pairs[i] + k, 'a' + i % 26, VLEN);
        pairs[i][k + VLEN] = '\0';
    }
    pairs[N] = NULL;
    ssize_t n = fcgi_params_size(pairs);
    assert_true(n > 0);
    out = malloc((size_t)n);
    content = malloc((size_t)n);
    assert_true(out && content);
    assert_int_equal(fcgi_params_format(out, 1, pairs), (size_t)n);
    /* 40 pairs of 1 + 4 + 3 + 4000 bytes: 16 in a record of 64128, then
     * 16, then 8, then the empty record. */
    assert_int_equal(records_read(out, (size_t)n, FCGI_PARAMS, content, &len,
                                  &max),
                     4);
    assert_int_equal(max, 16 * 4008);
    assert_int_equal(len, N * 4008);
    for (int i = 0; i < N; i++) {
        const unsigned char *p = content + (size_t)i * 4008;
        assert_int_equal(p[0], 3);
        assert_memory_equal(p + 1, "\x80\x00\x0f\xa0", 4);
        assert_memory_equal(p + 5, pairs[i], 3);
        assert_int_equal(p[8], 'a' + i % 26);
    }
    free(out);
    free(content);
    for (int i = 0; i < N; i++)
        free(pairs[i]);

    char *big = malloc(70000);
    assert_non_null(big);
    memset(big, 'x', 69999);
    big[0] = 'B';
    big[1] = '=';
    big[69999] = '\0';
    char *one[] = {"A=1", big, NULL};
    assert_int_equal(fcgi_params_size(one), -E2BIG);
    free(big);
}

static void
test_stdin(void **state)
{
    size_t sizes[] = {1, 7, 8, 65534, 65535, 65536, 65535 * 2, 150000};
    unsigned char *out = malloc(fcgi_stdin_size(150000) + 8);
    unsigned char *content = malloc(150000);
    char *data = malloc(150000);
    size_t len, max;

    (void)state;
    assert_true(out && content && data);
    for (size_t i = 0; i < 150000; i++)
        data[i] = (char)(i * 7);
    assert_int_equal(fcgi_stdin_size(65535), 8 + 65536);
    assert_int_equal(fcgi_stdin_size(65536), 8 + 65536 + 16);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = fcgi_stdin_format(out, 1, data, sizes[i]);
        assert_int_equal(n, fcgi_stdin_size(sizes[i]));
        n += fcgi_record_format(out + n, FCGI_STDIN, 1, NULL, 0);
        size_t count = records_read(out, n, FCGI_STDIN, content, &len, &max);
        assert_int_equal(count, (sizes[i] + 65534) / 65535 + 1);
        assert_int_equal(len, sizes[i]);
        assert_true(max <= FCGI_MAX_CONTENT);
        assert_memory_equal(content, data, sizes[i]);
    }
    free(out);
    free(content);
    free(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_format),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_params_split),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_read_large),
        cmocka_unit_test(test_piece_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
