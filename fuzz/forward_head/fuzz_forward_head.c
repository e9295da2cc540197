/* SPDX-License-Identifier: MIT */
/* libFuzzer target of the reader of an upstream answer's head: the input
 * is fed line by line, as libcurl hands a head over; every result keeps
 * its invariants, and Retry-After of a complete head is a sane wait. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forward_http.h"

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static bool
inside(const char *p, size_t n, const struct forward_head *h)
{
    return p >= h->buf && n <= h->len && p <= h->buf + h->len - n;
}

static void
check_done(const struct forward_head *h)
{
    const struct cgi_response *r = &h->resp;

    REQUIRE(h->error == NULL);
    REQUIRE(r->status >= 200 && r->status <= 599);
    if (r->reason != NULL)
        REQUIRE(inside(r->reason, r->reason_len, h) && r->reason_len > 0);
    REQUIRE(r->content_length >= -1);
    REQUIRE(r->header_count <= CGI_MAX_HEADERS);
    for (size_t i = 0; i < r->header_count; i++) {
        const struct http_header *f = &r->headers[i];
        REQUIRE(inside(f->name, f->name_len, h) && f->name_len > 0);
        REQUIRE(inside(f->value, f->value_len, h));
        /* kickd frames its own answer: no hop-by-hop field is kept. */
        REQUIRE(!forward_is_hop_by_hop(r->headers, r->header_count, f));
        for (size_t k = 0; k < f->value_len; k++) {
            unsigned char c = (unsigned char)f->value[k];
            REQUIRE(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
    }
    REQUIRE(forward_retry_after(r, 1700000000) >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct forward_head h;
    const char *p = (const char *)data, *end = p + size;
    int r = FORWARD_HEAD_MORE;

    forward_head_init(&h);
    while (p < end && r == FORWARD_HEAD_MORE) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        /* Each line in a buffer of its own, so an over-read is seen. */
        char *line = malloc(n ? n : 1);
        REQUIRE(line != NULL);
        memcpy(line, p, n);
        r = forward_head_line(&h, line, n);
        free(line);
        p += n;
    }
    if (r == FORWARD_HEAD_BAD)
        REQUIRE(h.error != NULL && !h.done);
    else if (r == FORWARD_HEAD_DONE)
        check_done(&h);
    else
        REQUIRE(!h.done && h.len <= sizeof(h.buf));
    return 0;
}
