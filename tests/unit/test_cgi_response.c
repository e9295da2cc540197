/* SPDX-License-Identifier: MIT */
/* Table tests of the CGI response header reader: every input is copied to
 * the end of a buffer followed by a PROT_NONE page, so a read past the
 * input crashes instead of passing by luck. */
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

#include "cgi_response.h"

/* A string literal and its length, embedded NULs included. */
#define S(lit) lit, sizeof(lit) - 1

#define CHECK(name, cond)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            fail_msg("%s: %s", (name), #cond);                                 \
    } while (0)

/* Room for the largest generated input plus some. */
#define GUARD_ROOM (64 * 1024)

static ssize_t
parse_guarded(struct guard *g, const char *s, size_t n, struct cgi_response *r)
{
    return cgi_response_parse(guard_put(g, s, n), n, r);
}

/* Every strict prefix of a valid header block is incomplete. */
static void
check_prefixes(struct guard *g, const char *name, const char *s, size_t n)
{
    struct cgi_response r;

    for (size_t k = 0; k < n; k++) {
        ssize_t res = parse_guarded(g, s, k, &r);
        if (res != CGI_INCOMPLETE)
            fail_msg("%s: prefix of %zu bytes gave %zd (%s)", name, k, res,
                     r.error ? r.error : "");
    }
}

struct valid_case {
    const char *name;
    const char *in;
    size_t len;
    size_t body; /* bytes after the header block */
    int status;
    const char *reason;
    const char *location;
    bool has_content_type;
    int64_t content_length;
    /* The fields kept, in order, each as "name: value\n". */
    const char *fields;
};

static const struct valid_case valid_cases[] = {
    {"Content-Type only, LF", S("Content-Type: text/html\n\n"), 0, 200, NULL,
     NULL, 1, -1, "Content-Type: text/html\n"},
    {"Content-Type only, CRLF", S("Content-type: text/plain\r\n\r\n"), 0, 200,
     NULL, NULL, 1, -1, "Content-type: text/plain\n"},
    {"mixed line ends", S("Content-Type: a/b\r\nX-A: 1\n\r\n"), 0, 200, NULL,
     NULL, 1, -1, "Content-Type: a/b\nX-A: 1\n"},
    {"Status with reason",
     S("Status: 404 Not Found\r\n"
       "Content-Type: text/plain\r\n\r\n"),
     0, 404, "Not Found", NULL, 1, -1, "Content-Type: text/plain\n"},
    {"Status without reason", S("Status: 201\nContent-Type: a/b\n\n"), 0, 201,
     NULL, NULL, 1, -1, "Content-Type: a/b\n"},
    {"Status alone", S("Status: 204 No Content\n\n"), 0, 204, "No Content",
     NULL, 0, -1, ""},
    {"Status trailing space", S("status:  500 \t\n\n"), 0, 500, NULL, NULL, 0,
     -1, ""},
    {"Status with tab", S("Status: 418\tTeapot\n\n"), 0, 418, "Teapot", NULL, 0,
     -1, ""},
    {"Location only", S("Location: http://example.com/\r\n\r\n"), 0, 302, NULL,
     "http://example.com/", 0, -1, "Location: http://example.com/\n"},
    {"Location with Status", S("Location: /new\nStatus: 301 Moved\n\n"), 0, 301,
     "Moved", "/new", 0, -1, "Location: /new\n"},
    {"Location with Content-Type",
     S("Content-Type: text/html\n"
       "Location: /x\n\n"),
     0, 302, NULL, "/x", 1, -1, "Content-Type: text/html\nLocation: /x\n"},
    {"Content-Length", S("Content-Type: a/b\nContent-Length: 42\n\n"), 0, 200,
     NULL, NULL, 1, 42, "Content-Type: a/b\nContent-Length: 42\n"},
    {"Content-Length 0", S("Content-Type: a/b\ncontent-length: 0\n\n"), 0, 200,
     NULL, NULL, 1, 0, "Content-Type: a/b\ncontent-length: 0\n"},
    {"order kept",
     S("X-One: 1\r\nContent-Type: text/html\r\n"
       "Status: 200 OK\r\nX-Two: 2\r\nSet-Cookie: a=b\r\n"
       "Set-Cookie: c=d\r\n\r\n"),
     0, 200, "OK", NULL, 1, -1,
     "X-One: 1\nContent-Type: text/html\nX-Two: 2\nSet-Cookie: a=b\n"
     "Set-Cookie: c=d\n"},
    {"OWS trimmed",
     S("Content-Type:text/html\nX-Pad: \t a b \t\n"
       "X-Empty:\n\n"),
     0, 200, NULL, NULL, 1, -1,
     "Content-Type: text/html\nX-Pad: a b\n"
     "X-Empty: \n"},
    {"obs-text", S("Content-Type: a/b\nX-Name: caf\xc3\xa9\n\n"), 0, 200, NULL,
     NULL, 1, -1, "Content-Type: a/b\nX-Name: caf\xc3\xa9\n"},
    {"empty body", S("Content-Type: a/b\r\n\r\n"), 0, 200, NULL, NULL, 1, -1,
     "Content-Type: a/b\n"},
    {"body follows", S("Content-Type: text/plain\n\nhello\n\nworld"), 12, 200,
     NULL, NULL, 1, -1, "Content-Type: text/plain\n"},
    {"body looks like fields",
     S("Status: 200\r\n\r\nStatus: 500\r\n"
       "X: y\r\n\r\n"),
     21, 200, NULL, NULL, 0, -1, ""},
};

static void
check_valid(const struct valid_case *c, const char *buf, ssize_t res,
            const struct cgi_response *r)
{
    const char *n = c->name;
    char fields[1024];
    size_t off = 0;

    if (res < 0)
        fail_msg("%s: gave %zd (%s)", n, res, r->error ? r->error : "");
    CHECK(n, (size_t)res == c->len - c->body);
    CHECK(n, r->status == c->status);
    CHECK(n, span_is(r->reason, r->reason_len, c->reason));
    CHECK(n, span_is(r->location, r->location_len, c->location));
    CHECK(n, r->has_content_type == c->has_content_type);
    CHECK(n, r->content_length == c->content_length);
    CHECK(n, r->error == NULL);
    for (size_t i = 0; i < r->header_count; i++) {
        const struct http_header *h = &r->headers[i];
        CHECK(n, h->name >= buf && h->name + h->name_len <= buf + res);
        CHECK(n, h->value >= buf && h->value + h->value_len <= buf + res);
        CHECK(n, h->name_len + h->value_len + 3 < sizeof(fields) - off);
        off += (size_t)snprintf(fields + off, sizeof(fields) - off,
                                "%.*s: %.*s\n", (int)h->name_len, h->name,
                                (int)h->value_len, h->value);
    }
    fields[off] = '\0';
    if (strcmp(fields, c->fields) != 0)
        fail_msg("%s: fields\n%s, want\n%s", n, fields, c->fields);
}

static void
test_valid(void **state)
{
    struct guard g;
    struct cgi_response r;

    guard_init(&g, GUARD_ROOM);
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct valid_case *c = &valid_cases[i];
        ssize_t res = parse_guarded(&g, c->in, c->len, &r);
        check_valid(c, g.base + g.size - c->len, res, &r);
        size_t block = c->len - c->body;
        res = parse_guarded(&g, c->in, block, &r);
        check_valid(c, g.base + g.size - block, res, &r);
        check_prefixes(&g, c->name, c->in, block);
    }
    guard_close(&g);
}

struct bad_case {
    const char *name;
    const char *in;
    size_t len;
};

static const struct bad_case bad_cases[] = {
    {"no colon", S("garbage\n\n")},
    {"no colon, body follows", S("garbage\nContent-Type: a/b\n\n")},
    {"empty output", S("\n")},
    {"empty output CRLF", S("\r\n")},
    {"only other fields", S("X-A: 1\n\n")},
    {"empty name", S(": x\nContent-Type: a/b\n\n")},
    {"space before colon", S("Content-Type : a/b\n\n")},
    {"continuation line", S("Content-Type: a/b\n  more\n\n")},
    {"Status abc", S("Status: abc\n\n")},
    {"Status 99", S("Status: 99\n\n")},
    {"Status 099", S("Status: 099\n\n")},
    {"Status 600", S("Status: 600\n\n")},
    {"Status 2000", S("Status: 2000\n\n")},
    {"Status 200OK", S("Status: 200OK\n\n")},
    {"Status empty", S("Status:\nContent-Type: a/b\n\n")},
    {"two Status", S("Status: 200\nStatus: 404\n\n")},
    {"empty Location", S("Location:\n\n")},
    {"Content-Length abc", S("Content-Type: a/b\nContent-Length: abc\n\n")},
    {"Content-Length -1", S("Content-Type: a/b\nContent-Length: -1\n\n")},
    {"Content-Length empty", S("Content-Type: a/b\nContent-Length:\n\n")},
    {"Content-Length huge", S("Content-Type: a/b\n"
                              "Content-Length: 9999999999999999999\n\n")},
    {"two Content-Length", S("Content-Type: a/b\nContent-Length: 5\n"
                             "Content-Length: 10\n\n")},
    {"two equal Content-Length", S("Content-Type: a/b\nContent-Length: 5\n"
                                   "content-length: 5\n\n")},
    {"control char in value", S("Content-Type: a\x01/b\n\n")},
    {"NUL in value", S("Content-Type: a\0b\n\n")},
    {"DEL in value", S("Content-Type: a\x7f/b\n\n")},
    {"ESC in value", S("Content-Type: a/b\nX: \x1b[31m\n\n")},
    {"bare CR in value", S("Content-Type: a\rb\n\n")},
    {"bare CR at line end", S("Content-Type: a/b\r\rX: y\n\n")},
    {"bare CR as empty line", S("Content-Type: a/b\n\rX\n")},
    {"NUL in name", S("Content\0Type: a/b\n\n")},
};

static void
test_bad(void **state)
{
    struct guard g;
    struct cgi_response r;

    guard_init(&g, GUARD_ROOM);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        ssize_t res = parse_guarded(&g, c->in, c->len, &r);
        if (res != CGI_BAD)
            fail_msg("%s: gave %zd, want CGI_BAD", c->name, res);
        CHECK(c->name, r.error != NULL);
    }
    guard_close(&g);
}

/* Builds a block of exactly len bytes: Content-Type, then one X-Pad field
 * filling the rest, then the empty line (LF or CRLF line ends). */
static size_t
build_block(char *buf, size_t len, bool crlf)
{
    const char *head =
        crlf ? "Content-Type: a/b\r\nX-Pad: " : "Content-Type: a/b\nX-Pad: ";
    const char *end = crlf ? "\r\n\r\n" : "\n\n";
    size_t hn = strlen(head), en = strlen(end);

    assert_true(len >= hn + en);
    memcpy(buf, head, hn);
    memset(buf + hn, 'p', len - hn - en);
    memcpy(buf + len - en, end, en);
    return len;
}

static void
test_block_limit(void **state)
{
    struct guard g;
    struct cgi_response r;
    char *buf = malloc(GUARD_ROOM);

    assert_non_null(buf);
    guard_init(&g, GUARD_ROOM);
    for (int crlf = 0; crlf <= 1; crlf++) {
        const char *name = crlf ? "largest block CRLF" : "largest block LF";
        size_t n = build_block(buf, CGI_MAX_HEADER_BYTES, crlf);
        if (parse_guarded(&g, buf, n, &r) != (ssize_t)n)
            fail_msg("%s: not accepted (%s)", name, r.error ? r.error : "");
        check_prefixes(&g, name, buf, n);
        /* One byte more is too large, however the lines end. */
        for (size_t extra = 1; extra <= 3; extra++) {
            n = build_block(buf, CGI_MAX_HEADER_BYTES + extra, crlf);
            if (parse_guarded(&g, buf, n, &r) != CGI_BAD)
                fail_msg("%s + %zu: not rejected", name, extra);
        }
        /* A full buffer is never "incomplete". */
        if (parse_guarded(&g, buf, CGI_MAX_HEADER_BYTES, &r) != CGI_BAD)
            fail_msg("%s: incomplete at the limit", name);
    }
    /* Incomplete at the limit at every kind of position. */
    static const char *const tails[] = {"", "X", "X:", "X: y", "X: y\r", "\r"};
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        size_t tl = strlen(tails[t]);
        size_t n = CGI_MAX_HEADER_BYTES;
        /* Complete lines up to the tail. */
        build_block(buf, n - tl + 1, false);
        memcpy(buf + n - tl, tails[t], tl);
        ssize_t res = parse_guarded(&g, buf, n, &r);
        if (res != CGI_BAD)
            fail_msg("tail \"%s\": gave %zd", tails[t], res);
    }
    guard_close(&g);
    free(buf);
}

static void
test_header_count_limit(void **state)
{
    struct guard g;
    struct cgi_response r;
    char *buf = malloc(GUARD_ROOM);

    assert_non_null(buf);
    guard_init(&g, GUARD_ROOM);
    for (int extra = 0; extra <= 1; extra++) {
        /* Status is not among the fields kept, so it does not count. */
        size_t n = (size_t)sprintf(buf, "Status: 200 OK\n"
                                        "Content-Type: a/b\n");
        for (int i = 1; i < CGI_MAX_HEADERS + extra; i++)
            n += (size_t)sprintf(buf + n, "X-%d: %d\n", i, i);
        n += (size_t)sprintf(buf + n, "\n");
        ssize_t res = parse_guarded(&g, buf, n, &r);
        if (extra == 0) {
            assert_int_equal(res, n);
            assert_int_equal(r.header_count, CGI_MAX_HEADERS);
            check_prefixes(&g, "most fields", buf, n);
        } else {
            assert_int_equal(res, CGI_BAD);
            assert_non_null(r.error);
        }
    }
    guard_close(&g);
    free(buf);
}

/* The reader resets every result field, so a struct can be reused. */
static void
test_reuse(void **state)
{
    struct cgi_response r;
    static const char a[] = "Status: 404 Gone\nLocation: /x\n"
                            "Content-Type: a/b\nContent-Length: 3\n\n";
    static const char b[] = "Content-Type: a/b\n\n";

    assert_int_equal(cgi_response_parse(a, sizeof(a) - 1, &r), sizeof(a) - 1);
    assert_int_equal(r.status, 404);
    assert_int_equal(cgi_response_parse(b, sizeof(b) - 1, &r), sizeof(b) - 1);
    assert_int_equal(r.status, 200);
    assert_null(r.reason);
    assert_null(r.location);
    assert_int_equal(r.content_length, -1);
    assert_int_equal(r.header_count, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_block_limit),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_reuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
