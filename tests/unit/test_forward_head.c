/* SPDX-License-Identifier: MIT */
/* Table tests of the forward runner's reader of an upstream answer's head
 * (forward_head.c) and of Retry-After. Each head is fed line by line, as
 * libcurl's header callback gives it, every line copied to the end of a
 * buffer followed by a PROT_NONE page, so that a read past it crashes. */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "parse_table.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "forward_http.h"

#define CHECK(name, cond)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            fail_msg("%s: %s", (name), #cond);                                 \
    } while (0)

#define GUARD_ROOM (64 * 1024)

static char *guard_base;
static size_t guard_size;

static int
guard_setup(void **state)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    (void)state;
    guard_size = (GUARD_ROOM + page - 1) / page * page;
    guard_base = mmap(NULL, guard_size + page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_base == MAP_FAILED)
        return -1;
    return mprotect(guard_base + guard_size, page, PROT_NONE);
}

static int
guard_teardown(void **state)
{
    (void)state;
    munmap(guard_base, guard_size + (size_t)sysconf(_SC_PAGESIZE));
    return 0;
}

/* Feeds the head in, line by line; returns the last result. */
static int
feed(struct forward_head *h, const char *in)
{
    int r = FORWARD_HEAD_MORE;

    forward_head_init(h);
    while (*in && r == FORWARD_HEAD_MORE) {
        const char *nl = strchr(in, '\n');
        size_t n = nl ? (size_t)(nl - in) + 1 : strlen(in);
        char *p = guard_base + guard_size - n;
        memcpy(p, in, n);
        r = forward_head_line(h, p, n);
        in += n;
    }
    return r;
}

struct good_case {
    const char *name;
    const char *in;
    int status;
    const char *reason;
    int64_t content_length;
    bool has_content_type;
    const char *fields; /* kept, in order, each "name: value\n" */
};

static const struct good_case good_cases[] = {
    {"plain",
     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
     "Content-Length: 5\r\n\r\n",
     200, "OK", 5, true, "Content-Type: text/plain\nContent-Length: 5\n"},
    {"no reason", "HTTP/1.1 204\r\n\r\n", 204, NULL, -1, false, ""},
    {"HTTP/2 as libcurl writes it", "HTTP/2 201 \r\nX-A: 1\r\n\r\n", 201, NULL,
     -1, false, "X-A: 1\n"},
    {"LF only", "HTTP/1.0 404 Not Found\nX-A: b\n\n", 404, "Not Found", -1,
     false, "X-A: b\n"},
    {"interim heads skipped",
     "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
     "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     "HTTP/1.1 500 Internal Server Error\r\nX-Final: 1\r\n\r\n",
     500, "Internal Server Error", -1, false, "X-Final: 1\n"},
    {"hop-by-hop left out",
     "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\n"
     "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nUpgrade: h2c\r\n"
     "Proxy-Authenticate: Basic\r\nTrailer: X-T\r\nTE: trailers\r\n"
     "X-Kept: 2\r\n\r\n",
     200, "OK", -1, false, "X-Kept: 2\n"},
    {"chunked: no length",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 10\r\nContent-Type: a/b\r\n\r\n",
     200, "OK", -1, true, "Content-Type: a/b\n"},
    {"equal lengths",
     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
     "Content-Length: 3\r\n\r\n",
     200, "OK", 3, false, "Content-Length: 3\nContent-Length: 3\n"},
    {"obs-fold joined",
     "HTTP/1.1 200 OK\r\nX-Long: a\r\n  b \r\n\tc\r\n"
     "X-Empty:\r\n more\r\n\r\n",
     200, "OK", -1, false, "X-Long: a b c\nX-Empty: more\n"},
    {"OWS trimmed", "HTTP/1.1 200  Fine \r\nX-Pad:  \t v w \t\r\n\r\n", 200,
     "Fine", -1, false, "X-Pad: v w\n"},
    {"obs-text kept", "HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9\r\n\r\n", 200,
     "OK", -1, false, "X-Name: caf\xc3\xa9\n"},
};

static void
test_good(void **state)
{
    struct forward_head *h = malloc(sizeof(*h));

    (void)state;
    assert_non_null(h);
    for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
        const struct good_case *c = &good_cases[i];
        const struct cgi_response *r = &h->resp;
        char fields[1024];
        size_t off = 0;
        int res = feed(h, c->in);
        if (res != FORWARD_HEAD_DONE)
            fail_msg("%s: gave %d (%s)", c->name, res,
                     h->error ? h->error : "");
        CHECK(c->name, h->done);
        CHECK(c->name, r->status == c->status);
        CHECK(c->name, span_is(r->reason, r->reason_len, c->reason));
        CHECK(c->name, r->content_length == c->content_length);
        CHECK(c->name, r->has_content_type == c->has_content_type);
        for (size_t k = 0; k < r->header_count; k++) {
            const struct http_header *f = &r->headers[k];
            off += (size_t)snprintf(fields + off, sizeof(fields) - off,
                                    "%.*s: %.*s\n", (int)f->name_len, f->name,
                                    (int)f->value_len, f->value);
        }
        fields[off] = '\0';
        if (strcmp(fields, c->fields) != 0)
            fail_msg("%s: fields\n%s, want\n%s", c->name, fields, c->fields);
        /* Once done, more lines (trailers) change nothing. */
        CHECK(c->name,
              forward_head_line(h, "X-T: 1\r\n", 8) == FORWARD_HEAD_DONE);
    }
    free(h);
}

struct bad_case {
    const char *name;
    const char *in;
    const char *error;
};

static const struct bad_case bad_cases[] = {
    {"no status line", "\r\n", "no status line"},
    {"not HTTP", "HTCPCP/1.0 418 Teapot\r\n\r\n", "malformed status line"},
    {"no version", "HTTP/ 200 OK\r\n\r\n", "malformed status line"},
    {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", "malformed status line"},
    {"status 600", "HTTP/1.1 600 X\r\n\r\n", "malformed status line"},
    {"status 4040", "HTTP/1.1 4040\r\n\r\n", "malformed status line"},
    {"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n",
     "control character in status line"},
    {"field without colon", "HTTP/1.1 200 OK\r\ngarbage\r\n\r\n",
     "malformed field line"},
    {"space before colon", "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n",
     "malformed field line"},
    {"empty name", "HTTP/1.1 200 OK\r\n: 1\r\n\r\n", "malformed field line"},
    {"fold first", "HTTP/1.1 200 OK\r\n more\r\n\r\n", "malformed field line"},
    {"control in value", "HTTP/1.1 200 OK\r\nX-A: a\x7f\r\n\r\n",
     "control character in field value"},
    {"bare CR in value", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
     "control character in field value"},
    {"bad length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
     "malformed Content-Length"},
    {"lengths differ",
     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
     "Content-Length: 2\r\n\r\n",
     "malformed Content-Length"},
};

static void
test_bad(void **state)
{
    struct forward_head *h = malloc(sizeof(*h));

    (void)state;
    assert_non_null(h);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        int res = feed(h, c->in);
        if (res != FORWARD_HEAD_BAD || h->error == NULL ||
            strcmp(h->error, c->error) != 0)
            fail_msg("%s: gave %d (%s), want %s", c->name, res,
                     h->error ? h->error : "", c->error);
    }
    free(h);
}

/* More fields than CGI_MAX_HEADERS, or more bytes than the buffer. */
static void
test_limits(void **state)
{
    struct forward_head *h = malloc(sizeof(*h));
    char line[600];
    int res = FORWARD_HEAD_MORE;

    (void)state;
    assert_non_null(h);
    forward_head_init(h);
    forward_head_line(h, "HTTP/1.1 200 OK\r\n", 17);
    for (int i = 0; i <= CGI_MAX_HEADERS && res == FORWARD_HEAD_MORE; i++)
        res = forward_head_line(h, "X-A: 1\r\n", 8);
    assert_int_equal(res, FORWARD_HEAD_BAD);
    assert_string_equal(h->error, "too many header fields");

    forward_head_init(h);
    forward_head_line(h, "HTTP/1.1 200 OK\r\n", 17);
    memset(line, 'v', sizeof(line));
    memcpy(line, "X-B: ", 5);
    res = FORWARD_HEAD_MORE;
    for (int i = 0; i < CGI_MAX_HEADERS && res == FORWARD_HEAD_MORE; i++)
        res = forward_head_line(h, line, sizeof(line));
    assert_int_equal(res, FORWARD_HEAD_BAD);
    assert_string_equal(h->error, "header block too large");
    free(h);
}

struct retry_case {
    int status;
    const char *value; /* NULL: no Retry-After */
    int64_t want;      /* ms, with now = 1700000000 */
};

static const struct retry_case retry_cases[] = {
    {429, "1", 1000},
    {503, "120", 120000},
    {429, "0", 0},
    /* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT. */
    {503, "Tue, 14 Nov 2023 22:13:23 GMT", 3000},
    {429, "Tuesday, 14-Nov-23 22:13:30 GMT", 10000},
    {429, "Tue Nov 14 22:14:20 2023", 60000},
    {503, "Tue, 14 Nov 2023 22:13:00 GMT", 0},
    {429, "soon", 0},
    {429, "-5", 0},
    {500, "7", 0},
    {301, "7", 0},
    {429, NULL, 0},
};

static void
test_retry_after(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(retry_cases) / sizeof(retry_cases[0]); i++) {
        const struct retry_case *c = &retry_cases[i];
        struct cgi_response r = {.status = c->status};
        if (c->value) {
            r.headers[0] = (struct http_header){"retry-after", 11, c->value,
                                                strlen(c->value)};
            r.header_count = 1;
        }
        int64_t got = forward_retry_after(&r, 1700000000);
        if (got != c->want)
            fail_msg("%d Retry-After %s: %lld ms, want %lld", c->status,
                     c->value ? c->value : "(none)", (long long)got,
                     (long long)c->want);
    }
}

/* A Connection field names a field of its own message only. */
static void
test_hop_by_hop(void **state)
{
    struct http_header hs[] = {
        {"Connection", 10, "close, X-A ,x-b", 15},
        {"X-A", 3, "1", 1},
        {"x-B", 3, "2", 1},
        {"X-AB", 4, "3", 1},
        {"Proxy-Authorization", 19, "x", 1},
        {"Proxy", 5, "y", 1},
    };
    bool want[] = {true, true, true, false, true, false};

    (void)state;
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
        if (forward_is_hop_by_hop(hs, 6, &hs[i]) != want[i])
            fail_msg("%s: hop-by-hop should be %d", hs[i].name, want[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),       cmocka_unit_test(test_bad),
        cmocka_unit_test(test_limits),     cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_hop_by_hop),
    };
    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
