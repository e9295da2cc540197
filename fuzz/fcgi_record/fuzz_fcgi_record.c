/* SPDX-License-Identifier: MIT */
/* libFuzzer target of the FastCGI record reader (a pool's answer is
 * outside input): the input read whole, byte by byte and in pieces of a
 * size it chooses gives the same events and the same error; and the input
 * written as STDOUT records reads back the same. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_record.h"

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

struct result {
    unsigned char *out, *err; /* as long as the input */
    size_t out_len, err_len;
    size_t lasts; /* pieces that ended their record */
    bool ended;
    uint32_t app_status;
    int protocol_status;
    const char *error;
};

/* Reads data in pieces of step bytes (0: whole). */
static void
read_all(const uint8_t *data, size_t size, size_t step, struct result *r)
{
    struct fcgi_parser p;
    size_t at = 0;

    fcgi_parser_init(&p, 1);
    while (at < size && r->error == NULL) {
        size_t n = step == 0 || size - at < step ? size - at : step;
        /* Each piece in a buffer of its own: ASan sees a read past it. */
        char *piece = malloc(n);
        REQUIRE(piece != NULL);
        memcpy(piece, data + at, n);
        size_t off = 0;
        while (off < n) {
            struct fcgi_event ev;
            ssize_t used = fcgi_parse(&p, piece + off, n - off, &ev);
            if (used == FCGI_BAD) {
                REQUIRE(p.error != NULL);
                r->error = p.error;
                break;
            }
            REQUIRE(used > 0 && (size_t)used <= n - off);
            if (ev.kind == FCGI_EV_STDOUT || ev.kind == FCGI_EV_STDERR) {
                REQUIRE(ev.len > 0 && ev.data >= piece + off &&
                        ev.data + ev.len <= piece + off + used);
                unsigned char *dst = ev.kind == FCGI_EV_STDOUT ? r->out
                                                               : r->err;
                size_t *len = ev.kind == FCGI_EV_STDOUT ? &r->out_len
                                                        : &r->err_len;
                REQUIRE(*len + ev.len <= size);
                memcpy(dst + *len, ev.data, ev.len);
                *len += ev.len;
                r->lasts += ev.last;
            } else if (ev.kind == FCGI_EV_END) {
                REQUIRE(!r->ended);
                r->ended = true;
                r->app_status = ev.app_status;
                r->protocol_status = ev.protocol_status;
            }
            off += (size_t)used;
        }
        free(piece);
        at += n;
    }
}

static void
result_init(struct result *r, size_t size)
{
    memset(r, 0, sizeof(*r));
    r->out = malloc(size + 1);
    r->err = malloc(size + 1);
    REQUIRE(r->out && r->err);
}

static void
result_free(struct result *r)
{
    free(r->out);
    free(r->err);
}

static bool
same(const struct result *a, const struct result *b)
{
    return a->out_len == b->out_len && a->err_len == b->err_len &&
           a->lasts == b->lasts &&
           memcmp(a->out, b->out, a->out_len) == 0 &&
           memcmp(a->err, b->err, a->err_len) == 0 && a->ended == b->ended &&
           a->app_status == b->app_status &&
           a->protocol_status == b->protocol_status &&
           (a->error == NULL) == (b->error == NULL) &&
           (a->error == NULL || strcmp(a->error, b->error) == 0);
}

/* The input as the content of STDOUT records of a size it chooses, then
 * an END_REQUEST: the reader gives it back. */
static void
round_trip(const uint8_t *data, size_t size)
{
    size_t chunk = size > 0 ? 1 + data[0] * 257u % FCGI_MAX_CONTENT : 1;
    size_t cap = (size / chunk + 2) * FCGI_RECORD_SIZE(chunk) + 16;
    unsigned char *buf = malloc(cap);
    unsigned char end[8] = {0, 0, 1, 2, FCGI_OVERLOADED};
    size_t n = 0;
    struct result r;

    REQUIRE(buf != NULL);
    for (size_t at = 0; at < size; at += chunk) {
        size_t k = size - at < chunk ? size - at : chunk;
        n += fcgi_record_format(buf + n, FCGI_STDOUT, 1, data + at, k);
    }
    n += fcgi_record_format(buf + n, FCGI_END_REQUEST, 1, end, sizeof(end));
    REQUIRE(n <= cap);
    result_init(&r, n);
    read_all(buf, n, 0, &r);
    REQUIRE(r.error == NULL && r.ended && r.app_status == 258 &&
            r.protocol_status == FCGI_OVERLOADED);
    REQUIRE(r.out_len == size && memcmp(r.out, data, size) == 0);
    result_free(&r);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result whole, bytes, pieces;
    size_t step = size > 0 ? 1 + data[size - 1] % 37 : 1;

    result_init(&whole, size);
    result_init(&bytes, size);
    result_init(&pieces, size);
    read_all(data, size, 0, &whole);
    read_all(data, size, 1, &bytes);
    read_all(data, size, step, &pieces);
    REQUIRE(same(&whole, &bytes));
    REQUIRE(same(&whole, &pieces));
    result_free(&whole);
    result_free(&bytes);
    result_free(&pieces);
    round_trip(data, size);
    return 0;
}
