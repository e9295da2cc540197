/* SPDX-License-Identifier: MIT */
/* libFuzzer target of the CGI response header reader: checks the
 * invariants of every result and that the block alone parses the same. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "cgi_response.h"

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static bool
inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && p <= buf + len - n;
}

static void
check_response(const struct cgi_response *r, const char *buf, size_t n)
{
    REQUIRE(n > 0 && n <= CGI_MAX_HEADER_BYTES);
    REQUIRE(buf[n - 1] == '\n');
    REQUIRE(r->error == NULL);
    REQUIRE(r->status >= 100 && r->status <= 599);
    REQUIRE(r->has_content_type || r->location != NULL || r->status != 0);
    if (r->reason != NULL)
        REQUIRE(inside(r->reason, r->reason_len, buf, n));
    if (r->location != NULL)
        REQUIRE(inside(r->location, r->location_len, buf, n) &&
                r->location_len > 0);
    REQUIRE(r->content_length >= -1);
    REQUIRE(r->header_count <= CGI_MAX_HEADERS);
    for (size_t i = 0; i < r->header_count; i++) {
        const struct http_header *h = &r->headers[i];
        REQUIRE(inside(h->name, h->name_len, buf, n) && h->name_len > 0);
        REQUIRE(inside(h->value, h->value_len, buf, n));
        /* Status becomes the status line, never a field. */
        REQUIRE(!(h->name_len == 6 && strncasecmp(h->name, "status", 6) == 0));
        for (size_t k = 0; k < h->value_len; k++) {
            unsigned char c = (unsigned char)h->value[k];
            REQUIRE(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct cgi_response r, again;
    ssize_t n = cgi_response_parse(buf, size, &r);

    if (n == CGI_INCOMPLETE) {
        /* A full buffer is never incomplete. */
        REQUIRE(size < CGI_MAX_HEADER_BYTES);
        return 0;
    }
    if (n == CGI_BAD) {
        REQUIRE(r.error != NULL);
        return 0;
    }
    REQUIRE(n > 0 && (size_t)n <= size);
    check_response(&r, buf, (size_t)n);
    /* The block alone parses the same; one byte less is a prefix. */
    REQUIRE(cgi_response_parse(buf, (size_t)n, &again) == n);
    REQUIRE(again.status == r.status && again.header_count == r.header_count &&
            again.content_length == r.content_length);
    REQUIRE(cgi_response_parse(buf, (size_t)n - 1, &again) == CGI_INCOMPLETE);
    return 0;
}
