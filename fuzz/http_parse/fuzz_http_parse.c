/* SPDX-License-Identifier: MIT */
/* libFuzzer target of the HTTP request parser and chunked decoder: parses
 * pipelined requests, checks the invariants of every result, and decodes a
 * chunked body whole and split in two, which must agree. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

/* Most requests parsed from one input. */
#define MAX_PIPELINED 8

static bool
inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && p <= buf + len - n;
}

/* The outcome of decoding one chunked body. */
struct decoded {
    ssize_t result;   /* HTTP_BAD, or 0 */
    int error_status; /* with HTTP_BAD */
    bool done;
    size_t consumed; /* bytes of input used */
    char *body;
    size_t body_len;
};

/* Feeds len bytes, copied to a buffer of exactly that size so that ASan
 * sees a read past them, to the decoder c; appends the body to d. */
static void
feed(struct http_chunked *c, struct decoded *d, const char *in, size_t len,
     uint64_t max_body)
{
    char *buf = malloc(len ? len : 1);
    size_t off = 0;

    REQUIRE(buf != NULL);
    memcpy(buf, in, len);
    while (off < len && !c->done && d->result == 0) {
        const char *data;
        size_t data_len;
        ssize_t r = http_chunked_parse(c, buf + off, len - off, max_body, &data,
                                       &data_len);
        if (r == HTTP_BAD) {
            REQUIRE(c->error_status == 400 || c->error_status == 413);
            REQUIRE(c->error_reason != NULL);
            d->result = r;
            d->error_status = c->error_status;
            break;
        }
        REQUIRE(r > 0 && (size_t)r <= len - off);
        if (data_len > 0) {
            REQUIRE(inside(data, data_len, buf + off, (size_t)r));
            memcpy(d->body + d->body_len, data, data_len);
            d->body_len += data_len;
        } else {
            REQUIRE(data == NULL);
        }
        off += (size_t)r;
        REQUIRE(c->total == d->body_len && c->total <= max_body);
    }
    d->consumed += off;
    d->done = c->done;
    if (c->done) {
        const char *data;
        size_t data_len;
        REQUIRE(http_chunked_parse(c, buf, len, max_body, &data, &data_len) ==
                0);
        REQUIRE(data_len == 0);
    }
    free(buf);
}

/* Decodes in[0..len) with the input split at cut. */
static void
decode(struct decoded *d, const char *in, size_t len, size_t cut,
       uint64_t max_body)
{
    struct http_chunked c;

    memset(d, 0, sizeof(*d));
    d->body = malloc(len ? len : 1);
    REQUIRE(d->body != NULL);
    http_chunked_init(&c);
    feed(&c, d, in, cut, max_body);
    if (d->result == 0 && !d->done)
        feed(&c, d, in + cut, len - cut, max_body);
}

/* Decodes a chunked body two ways; returns the bytes it used, or 0 if the
 * body is bad or incomplete. */
static size_t
check_chunked(const char *in, size_t len, uint64_t max_body, size_t cut)
{
    struct decoded whole, split;

    decode(&whole, in, len, len, max_body);
    decode(&split, in, len, cut, max_body);
    REQUIRE(whole.result == split.result);
    REQUIRE(whole.error_status == split.error_status);
    REQUIRE(whole.done == split.done);
    REQUIRE(whole.body_len == split.body_len);
    REQUIRE(memcmp(whole.body, split.body, whole.body_len) == 0);
    if (whole.result == 0) {
        REQUIRE(whole.consumed == split.consumed);
        /* Not done means every byte was taken and more are needed. */
        REQUIRE(whole.done || whole.consumed == len);
    }
    size_t used = whole.done ? whole.consumed : 0;
    free(whole.body);
    free(split.body);
    return used;
}

/* Checks one successful parse of the n-byte block at buf. */
static void
check_request(const struct http_request *req, const char *buf, size_t n)
{
    REQUIRE(n > 0 && n <= HTTP_MAX_HEADER_BYTES);
    REQUIRE(req->method != HTTP_OTHER);
    REQUIRE(inside(req->method_str, req->method_len, buf, n));
    REQUIRE(req->method_len > 0);
    REQUIRE(inside(req->target, req->target_len, buf, n));
    REQUIRE(req->target_len > 0);
    /* The absolute-form without a path gets a static "/". */
    REQUIRE(inside(req->path, req->path_len, req->target, req->target_len) ||
            (req->path_len == 1 && req->path[0] == '/'));
    REQUIRE(inside(req->query, req->query_len, req->target, req->target_len));
    REQUIRE(req->minor_version == 0 || req->minor_version == 1);
    REQUIRE(req->header_count <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        REQUIRE(inside(h->name, h->name_len, buf, n) && h->name_len > 0);
        REQUIRE(inside(h->value, h->value_len, buf, n));
        REQUIRE(h->value_len == 0 ||
                (h->value[0] != ' ' && h->value[0] != '\t' &&
                 h->value[h->value_len - 1] != ' ' &&
                 h->value[h->value_len - 1] != '\t'));
    }
    if (req->minor_version == 1)
        REQUIRE(req->host != NULL);
    if (req->host != NULL)
        REQUIRE(inside(req->host, req->host_len, buf, n));
    REQUIRE(!(req->chunked && req->content_length >= 0));
    REQUIRE(!req->chunked || req->minor_version == 1);
    REQUIRE(req->content_length >= -1);
    REQUIRE(req->error_status == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t off = 0;
    /* Vary the body limit and the split point with the input. */
    uint64_t max_body = size % 3 == 0 ? 16 : HTTP_DEFAULT_MAX_BODY;

    for (int k = 0; k < MAX_PIPELINED && off < size; k++) {
        struct http_request req;
        const char *buf = in + off;
        size_t len = size - off;
        ssize_t n = http_parse_request(buf, len, &req);

        if (n == HTTP_INCOMPLETE) {
            REQUIRE(len < HTTP_MAX_HEADER_BYTES);
            return 0;
        }
        if (n == HTTP_BAD) {
            int s = req.error_status;
            REQUIRE(s == 400 || s == 413 || s == 414 || s == 431 || s == 501 ||
                    s == 505);
            REQUIRE(req.error_reason != NULL);
            return 0;
        }
        REQUIRE(n > 0 && (size_t)n <= len);
        check_request(&req, buf, (size_t)n);
        /* The block alone parses the same; one byte less is a prefix. */
        struct http_request again;
        REQUIRE(http_parse_request(buf, (size_t)n, &again) == n);
        REQUIRE(again.header_count == req.header_count);
        REQUIRE(http_parse_request(buf, (size_t)n - 1, &again) ==
                HTTP_INCOMPLETE);
        off += (size_t)n;

        if (req.chunked) {
            size_t rest = size - off;
            size_t cut = rest ? (size_t)data[size - 1] * 131 % (rest + 1) : 0;
            size_t used = check_chunked(in + off, rest, max_body, cut);
            if (used == 0)
                return 0;
            off += used;
        } else if (req.content_length > 0) {
            if ((uint64_t)req.content_length > size - off)
                return 0;
            off += (size_t)req.content_length;
        }
    }
    return 0;
}
