/* SPDX-License-Identifier: MIT */
/* Table tests of the HTTP/1.1 request parser and chunked decoder: every
 * input is copied to the end of a buffer followed by a PROT_NONE page, so
 * a read past the input crashes instead of passing by luck. */
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

#include "http_parse.h"

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
parse_guarded(struct guard *g, const char *s, size_t n,
              struct http_request *req)
{
    return http_parse_request(guard_put(g, s, n), n, req);
}

/* Every strict prefix of a valid header block is incomplete. */
static void
check_prefixes(struct guard *g, const char *name, const char *s, size_t n)
{
    struct http_request req;

    for (size_t k = 0; k < n; k++) {
        ssize_t r = parse_guarded(g, s, k, &req);
        if (r != HTTP_INCOMPLETE)
            fail_msg("%s: prefix of %zu bytes gave %zd (status %d)", name, k, r,
                     req.error_status);
    }
}

struct valid_case {
    const char *name;
    const char *in;
    size_t len;
    size_t body; /* bytes after the header block */
    enum http_method method;
    const char *path;
    const char *query;
    int minor;
    size_t header_count;
    int64_t content_length;
    bool chunked;
    bool keep_alive;
    bool expect_continue;
    const char *host;
    const char *field; /* a field to look up, or NULL */
    const char *value; /* its expected value */
};

static const struct valid_case valid_cases[] = {
    {"GET", S("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"), 0,
     HTTP_GET, "/index.html", "", 1, 1, -1, 0, 1, 0, "example.com", NULL, NULL},
    {"GET query",
     S("GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\n"
       "Accept: */*\r\n\r\n"),
     0, HTTP_GET, "/a/b", "x=1&y=2", 1, 2, -1, 0, 1, 0, "h", "accept", "*/*"},
    {"empty query", S("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n"), 0, HTTP_GET, "/p",
     "", 1, 1, -1, 0, 1, 0, "h", NULL, NULL},
    {"HEAD", S("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), 0, HTTP_HEAD, "/", "", 1,
     1, -1, 0, 1, 0, "h", NULL, NULL},
    {"DELETE", S("DELETE /x/1 HTTP/1.1\r\nHost: h\r\n\r\n"), 0, HTTP_DELETE,
     "/x/1", "", 1, 1, -1, 0, 1, 0, "h", NULL, NULL},
    {"POST with body",
     S("POST /submit HTTP/1.1\r\nHost: h\r\n"
       "Content-Length: 5\r\n\r\nhello"),
     5, HTTP_POST, "/submit", "", 1, 2, 5, 0, 1, 0, "h", NULL, NULL},
    {"PUT CL 0", S("PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
     0, HTTP_PUT, "/k", "", 1, 2, 0, 0, 1, 0, "h", NULL, NULL},
    {"CL leading zeros",
     S("POST / HTTP/1.1\r\nHost: h\r\n"
       "content-length: 007\r\n\r\n1234567"),
     7, HTTP_POST, "/", "", 1, 2, 7, 0, 1, 0, "h", NULL, NULL},
    {"chunked",
     S("POST /up HTTP/1.1\r\nHost: h\r\n"
       "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
     15, HTTP_POST, "/up", "", 1, 2, -1, 1, 1, 0, "h", NULL, NULL},
    {"chunked any case",
     S("PATCH / HTTP/1.1\r\nHost: h\r\n"
       "transfer-encoding:  Chunked \r\n\r\n"),
     0, HTTP_PATCH, "/", "", 1, 2, -1, 1, 1, 0, "h", NULL, NULL},
    {"1.0 without Host", S("GET / HTTP/1.0\r\n\r\n"), 0, HTTP_GET, "/", "", 0,
     0, -1, 0, 0, 0, NULL, NULL, NULL},
    {"1.0 keep-alive", S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0,
     HTTP_GET, "/", "", 0, 1, -1, 0, 1, 0, NULL, NULL, NULL},
    {"1.0 close", S("GET / HTTP/1.0\r\nHost: h\r\nConnection: close\r\n\r\n"),
     0, HTTP_GET, "/", "", 0, 2, -1, 0, 0, 0, "h", NULL, NULL},
    {"1.1 close", S("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 2, -1, 0, 0, 0, "h", NULL, NULL},
    {"1.1 close in a list",
     S("GET / HTTP/1.1\r\nHost: h\r\n"
       "Connection: Upgrade, CLOSE\r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 2, -1, 0, 0, 0, "h", NULL, NULL},
    {"1.1 keep-alive",
     S("GET / HTTP/1.1\r\nHost: h\r\n"
       "Connection: Keep-Alive, Upgrade\r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 2, -1, 0, 1, 0, "h", NULL, NULL},
    {"close wins over a later keep-alive",
     S("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
       "Connection: keep-alive\r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 3, -1, 0, 0, 0, "h", NULL, NULL},
    {"1.0 close wins over a later keep-alive",
     S("GET / HTTP/1.0\r\nConnection: close\r\n"
       "Connection: keep-alive\r\n\r\n"),
     0, HTTP_GET, "/", "", 0, 2, -1, 0, 0, 0, NULL, NULL, NULL},
    {"absolute-form",
     S("GET http://example.com/p?q=1 HTTP/1.1\r\n"
       "Host: example.com\r\n\r\n"),
     0, HTTP_GET, "/p", "q=1", 1, 1, -1, 0, 1, 0, "example.com", NULL, NULL},
    {"absolute-form no path",
     S("GET http://example.com HTTP/1.1\r\n"
       "Host: example.com\r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 1, -1, 0, 1, 0, "example.com", NULL, NULL},
    {"absolute-form https query",
     S("GET HTTPS://e.com:8443?x=y HTTP/1.1\r\n"
       "Host: e.com:8443\r\n\r\n"),
     0, HTTP_GET, "/", "x=y", 1, 1, -1, 0, 1, 0, "e.com:8443", NULL, NULL},
    {"OPTIONS *", S("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), 0, HTTP_OPTIONS,
     "*", "", 1, 1, -1, 0, 1, 0, "h", NULL, NULL},
    {"leading CRLFs", S("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0,
     HTTP_GET, "/", "", 1, 1, -1, 0, 1, 0, "h", NULL, NULL},
    {"OWS trimmed",
     S("GET / HTTP/1.1\r\nHost: \t h \t\r\n"
       "X-Pad:   a  b \t \r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 2, -1, 0, 1, 0, "h", "x-pad", "a  b"},
    {"empty value",
     S("GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n"
       "X-Blank:  \t \r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 3, -1, 0, 1, 0, "h", "X-Blank", ""},
    {"obs-text in value",
     S("GET / HTTP/1.1\r\nHost: h\r\n"
       "X-Name: caf\xc3\xa9 \x80\xff\r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 2, -1, 0, 1, 0, "h", "x-name",
     "caf\xc3\xa9 \x80\xff"},
    {"field name case", S("GET / HTTP/1.1\r\nHOST: h\r\n\r\n"), 0, HTTP_GET,
     "/", "", 1, 1, -1, 0, 1, 0, "h", "host", "h"},
    {"empty Host", S("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0, HTTP_GET, "/", "",
     1, 1, -1, 0, 1, 0, "", NULL, NULL},
    {"Expect 100-continue",
     S("PUT /f HTTP/1.1\r\nHost: h\r\n"
       "Content-Length: 3\r\n"
       "Expect: 100-Continue\r\n\r\n"),
     0, HTTP_PUT, "/f", "", 1, 3, 3, 0, 1, 1, "h", NULL, NULL},
    /* RFC 9110 section 10.1.1: ignored in an HTTP/1.0 request. */
    {"Expect in 1.0",
     S("PUT /f HTTP/1.0\r\nContent-Length: 3\r\n"
       "Expect: 100-continue\r\n\r\n"),
     0, HTTP_PUT, "/f", "", 0, 2, 3, 0, 0, 0, NULL, NULL, NULL},
    {"other Expect", S("GET / HTTP/1.1\r\nHost: h\r\nExpect: foo\r\n\r\n"), 0,
     HTTP_GET, "/", "", 1, 2, -1, 0, 1, 0, "h", NULL, NULL},
    {"HTTP/1.9 is 1.1", S("GET / HTTP/1.9\r\nHost: h\r\n\r\n"), 0, HTTP_GET,
     "/", "", 1, 1, -1, 0, 1, 0, "h", NULL, NULL},
    {"pipelined",
     S("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
       "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
     28, HTTP_GET, "/1", "", 1, 1, -1, 0, 1, 0, "h", NULL, NULL},
    {"tchar field name",
     S("GET / HTTP/1.1\r\nHost: h\r\n"
       "X!#$%&'*+-.^_`|~9: v\r\n\r\n"),
     0, HTTP_GET, "/", "", 1, 2, -1, 0, 1, 0, "h", "x!#$%&'*+-.^_`|~9", "v"},
};

/* Checks one parse result against a case; fails with the case's name. */
static void
check_valid(const struct valid_case *c, const char *buf, ssize_t r,
            const struct http_request *req)
{
    const char *n = c->name;

    if (r < 0)
        fail_msg("%s: gave %zd (status %d: %s)", n, r, req->error_status,
                 req->error_reason ? req->error_reason : "");
    CHECK(n, (size_t)r == c->len - c->body);
    CHECK(n, req->method == c->method);
    CHECK(n, span_is(req->path, req->path_len, c->path));
    CHECK(n, span_is(req->query, req->query_len, c->query));
    CHECK(n, req->minor_version == c->minor);
    CHECK(n, req->header_count == c->header_count);
    CHECK(n, req->content_length == c->content_length);
    CHECK(n, req->chunked == c->chunked);
    CHECK(n, req->keep_alive == c->keep_alive);
    CHECK(n, req->expect_continue == c->expect_continue);
    CHECK(n, span_is(req->host, req->host_len, c->host));
    CHECK(n, req->error_status == 0);
    /* Borrowed pointers point into the caller's buffer. */
    CHECK(n, req->method_str >= buf && req->method_str < buf + r);
    CHECK(n, req->target >= buf && req->target + req->target_len <= buf + r);
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        CHECK(n, h->name >= buf && h->name + h->name_len <= buf + r);
        CHECK(n, h->value >= buf && h->value + h->value_len <= buf + r);
    }
    if (c->field != NULL) {
        const struct http_header *h = http_find_header(req, c->field);
        CHECK(n, h != NULL);
        CHECK(n, span_is(h->value, h->value_len, c->value));
    }
}

static void
test_valid(void **state)
{
    struct guard g;
    struct http_request req;

    guard_init(&g, GUARD_ROOM);
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct valid_case *c = &valid_cases[i];
        const char *buf = guard_put(&g, c->in, c->len);
        ssize_t r = http_parse_request(buf, c->len, &req);
        check_valid(c, buf, r, &req);
        /* The header block alone parses the same. */
        buf = guard_put(&g, c->in, c->len - c->body);
        r = http_parse_request(buf, c->len - c->body, &req);
        check_valid(c, buf, r, &req);
        check_prefixes(&g, c->name, c->in, c->len - c->body);
    }
    guard_close(&g);
}

static void
test_find_header(void **state)
{
    struct http_request req;
    static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n"
                             "x-a: 2\r\n\r\n";

    assert_int_equal(http_parse_request(in, sizeof(in) - 1, &req),
                     sizeof(in) - 1);
    const struct http_header *h = http_find_header(&req, "X-A");
    assert_non_null(h);
    assert_true(span_is(h->value, h->value_len, "1"));
    assert_null(http_find_header(&req, "X-B"));
    assert_null(http_find_header(&req, "X-"));
}

struct bad_case {
    const char *name;
    const char *in;
    size_t len;
    int status;
};

#define REQ(head) "GET / HTTP/1.1\r\nHost: h\r\n" head "\r\n"

static const struct bad_case bad_cases[] = {
    {"obs-fold", S(REQ("X: a\r\n b\r\n")), 400},
    {"obs-fold tab", S(REQ("X: a\r\n\tb\r\n")), 400},
    {"space before colon", S("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400},
    {"tab before colon", S(REQ("X\t: a\r\n")), 400},
    {"empty field name", S(REQ(": a\r\n")), 400},
    {"bad field name char", S(REQ("X(: a\r\n")), 400},
    {"non-ASCII field name", S(REQ("X-\xc3\x9c: a\r\n")), 400},
    {"field without colon", S(REQ("X-Bare\r\n")), 400},
    {"no Host in 1.1", S("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400},
    {"two Host", S(REQ("host: h\r\n")), 400},
    {"two Host in 1.0", S("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400},
    {"CL then TE",
     S(REQ("Content-Length: 5\r\n"
           "Transfer-Encoding: chunked\r\n")),
     400},
    {"TE then CL",
     S(REQ("Transfer-Encoding: chunked\r\n"
           "Content-Length: 5\r\n")),
     400},
    {"two CL", S(REQ("Content-Length: 5\r\nContent-Length: 6\r\n")), 400},
    {"two equal CL", S(REQ("Content-Length: 5\r\nContent-Length: 5\r\n")), 400},
    {"CL 12a", S(REQ("Content-Length: 12a\r\n")), 400},
    {"CL +5", S(REQ("Content-Length: +5\r\n")), 400},
    {"CL -1", S(REQ("Content-Length: -1\r\n")), 400},
    {"CL list", S(REQ("Content-Length: 5, 5\r\n")), 400},
    {"CL empty", S(REQ("Content-Length:\r\n")), 400},
    {"CL hex", S(REQ("Content-Length: 0x5\r\n")), 400},
    {"CL inner space", S(REQ("Content-Length: 1 2\r\n")), 400},
    {"CL huge", S(REQ("Content-Length: 99999999999999999999\r\n")), 413},
    {"CL int64 max", S(REQ("Content-Length: 9223372036854775807\r\n")), 413},
    {"TE gzip", S(REQ("Transfer-Encoding: gzip\r\n")), 501},
    {"TE gzip, chunked", S(REQ("Transfer-Encoding: gzip, chunked\r\n")), 501},
    {"TE chunked twice",
     S(REQ("Transfer-Encoding: chunked\r\n"
           "Transfer-Encoding: chunked\r\n")),
     501},
    {"TE chunked, chunked", S(REQ("Transfer-Encoding: chunked, chunked\r\n")),
     501},
    {"TE in 1.0", S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
     400},
    {"unknown method", S("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n"), 501},
    {"lowercase method", S("get / HTTP/1.1\r\nHost: h\r\n\r\n"), 501},
    {"method with (", S("GE(T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"method with @", S("G@T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"empty method", S(" / HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"tab after method", S("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"HTTP/2.0", S("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505},
    {"HTTP/0.9", S("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505},
    {"HTTP/1.1x", S("GET / HTTP/1.1x\r\nHost: h\r\n\r\n"), 400},
    {"HTTP/1.x", S("GET / HTTP/1.x\r\nHost: h\r\n\r\n"), 400},
    {"HTTP/11", S("GET / HTTP/11\r\nHost: h\r\n\r\n"), 400},
    {"lowercase version", S("GET / http/1.1\r\nHost: h\r\n\r\n"), 400},
    {"no version", S("GET /\r\nHost: h\r\n\r\n"), 400},
    {"space after version", S("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400},
    {"two spaces", S("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"bare LF everywhere", S("GET / HTTP/1.1\nHost: h\n\n"), 400},
    {"bare LF after field", S("GET / HTTP/1.1\r\nHost: h\n\r\n"), 400},
    {"bare LF at end", S("GET / HTTP/1.1\r\nHost: h\r\n\n"), 400},
    {"bare LF before request", S("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"bare CR in request line", S("GET / HTTP/1.1\rHost: h\r\n\r\n"), 400},
    {"bare CR in field", S("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"), 400},
    {"bare CR in value", S(REQ("X: a\rb\r\n")), 400},
    {"bare CR at end", S("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n"), 400},
    {"bare CR before request", S("\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"control char in value", S(REQ("X: a\x01z\r\n")), 400},
    {"DEL in value", S(REQ("X: a\x7fz\r\n")), 400},
    {"NUL in value", S(REQ("X: a\0z\r\n")), 400},
    {"NUL in target", S("GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"control char in target", S("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"),
     400},
    {"non-ASCII target", S("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n"),
     400},
    {"relative target", S("GET index.html HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"* with GET", S("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
    {"authority-form", S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"), 400},
    {"ftp scheme", S("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400},
};

static void
test_bad(void **state)
{
    struct guard g;
    struct http_request req;

    guard_init(&g, GUARD_ROOM);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        ssize_t r = parse_guarded(&g, c->in, c->len, &req);
        if (r != HTTP_BAD || req.error_status != c->status)
            fail_msg("%s: gave %zd status %d, want %d", c->name, r,
                     req.error_status, c->status);
        CHECK(c->name, req.error_reason != NULL);
    }
    guard_close(&g);
}

/* Builds "GET <target> HTTP/1.1\r\nHost: h\r\n\r\n" with a target of the
 * given length into buf; returns the length. */
static size_t
build_long_target(char *buf, size_t target_len)
{
    size_t n = 0;

    memcpy(buf, "GET /", 5);
    n = 5;
    memset(buf + n, 'a', target_len - 1);
    n += target_len - 1;
    static const char tail[] = " HTTP/1.1\r\nHost: h\r\n\r\n";
    memcpy(buf + n, tail, sizeof(tail) - 1);
    return n + sizeof(tail) - 1;
}

static void
test_request_line_limit(void **state)
{
    struct guard g;
    struct http_request req;
    char *buf = malloc(GUARD_ROOM);
    /* "GET " and the target take the whole limit. */
    size_t fit = HTTP_MAX_REQUEST_LINE - 4;

    assert_non_null(buf);
    guard_init(&g, GUARD_ROOM);
    size_t n = build_long_target(buf, fit);
    assert_int_equal(parse_guarded(&g, buf, n, &req), n);
    assert_int_equal(req.target_len, fit);
    check_prefixes(&g, "longest target", buf, n);

    n = build_long_target(buf, fit + 1);
    assert_int_equal(parse_guarded(&g, buf, n, &req), HTTP_BAD);
    assert_int_equal(req.error_status, 414);
    /* Still incomplete, but already too long. */
    assert_int_equal(parse_guarded(&g, buf, fit + 5, &req), HTTP_BAD);
    assert_int_equal(req.error_status, 414);
    n = build_long_target(buf, 3 * HTTP_MAX_REQUEST_LINE / 2);
    assert_int_equal(parse_guarded(&g, buf, n, &req), HTTP_BAD);
    assert_int_equal(req.error_status, 414);
    guard_close(&g);
    free(buf);
}

/* Builds a 1.1 request whose header block is exactly len bytes, padded
 * with one X-Pad field; returns len. */
static size_t
build_block(char *buf, size_t len)
{
    static const char head[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    size_t n = sizeof(head) - 1;

    memcpy(buf, head, n);
    assert_true(len >= n + 4);
    memset(buf + n, 'p', len - n - 4);
    memcpy(buf + len - 4, "\r\n\r\n", 4);
    return len;
}

static void
test_header_block_limit(void **state)
{
    struct guard g;
    struct http_request req;
    char *buf = malloc(GUARD_ROOM);

    assert_non_null(buf);
    guard_init(&g, GUARD_ROOM);
    size_t n = build_block(buf, HTTP_MAX_HEADER_BYTES);
    assert_int_equal(parse_guarded(&g, buf, n, &req), n);
    check_prefixes(&g, "largest block", buf, n);

    n = build_block(buf, HTTP_MAX_HEADER_BYTES + 1);
    assert_int_equal(parse_guarded(&g, buf, n, &req), HTTP_BAD);
    assert_int_equal(req.error_status, 431);
    /* Incomplete at the limit: it can never become valid. */
    assert_int_equal(parse_guarded(&g, buf, HTTP_MAX_HEADER_BYTES, &req),
                     HTTP_BAD);
    assert_int_equal(req.error_status, 431);
    n = build_block(buf, 2 * HTTP_MAX_HEADER_BYTES);
    assert_int_equal(parse_guarded(&g, buf, n, &req), HTTP_BAD);
    assert_int_equal(req.error_status, 431);
    guard_close(&g);
    free(buf);
}

/* A full buffer of HTTP_MAX_HEADER_BYTES never gives "incomplete", so a
 * connection whose read buffer is that size can never stall. */
static void
test_full_buffer_never_incomplete(void **state)
{
    struct guard g;
    struct http_request req;
    size_t max = HTTP_MAX_HEADER_BYTES;
    char *buf = malloc(max);
    /* Even lengths, so that CRLFs fill the rest exactly. */
    static const char *const tails[] = {
        "",
        "GE",
        "GET ",
        "GET /a",
        "GET /a H",
        "GET /a HTTP/1.",
        "GET / HTTP/1.1",
        "GET /a HTTP/1.1\r",
        "GET / HTTP/1.1\r\n",
        "GET / HTTP/1.1\r\nHost: hh",
    };

    assert_non_null(buf);
    guard_init(&g, GUARD_ROOM);
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        size_t tl = strlen(tails[t]);
        /* Leading empty lines, then a request cut at the buffer's end. */
        assert_int_equal(tl % 2, 0);
        for (size_t k = 0; k < max - tl; k += 2)
            memcpy(buf + k, "\r\n", 2);
        memcpy(buf + max - tl, tails[t], tl);
        ssize_t r = parse_guarded(&g, buf, max, &req);
        if (r != HTTP_BAD)
            fail_msg("tail \"%s\": gave %zd", tails[t], r);
    }
    guard_close(&g);
    free(buf);
}

static void
test_leading_empty_lines(void **state)
{
    struct guard g;
    struct http_request req;
    static const char req_line[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t lead = HTTP_MAX_REQUEST_LINE + 100;
    size_t n = lead + sizeof(req_line) - 1;
    char *buf = malloc(n);

    assert_non_null(buf);
    guard_init(&g, GUARD_ROOM);
    for (size_t k = 0; k < lead; k += 2)
        memcpy(buf + k, "\r\n", 2);
    memcpy(buf + lead, req_line, sizeof(req_line) - 1);
    /* The empty lines count in the block's length, not in the request
     * line's. */
    assert_int_equal(parse_guarded(&g, buf, n, &req), n);
    assert_int_equal(req.method, HTTP_GET);
    check_prefixes(&g, "many leading CRLFs", buf, n);
    guard_close(&g);
    free(buf);
}

static void
test_header_count_limit(void **state)
{
    struct guard g;
    struct http_request req;
    char *buf = malloc(GUARD_ROOM);
    size_t n;

    assert_non_null(buf);
    guard_init(&g, GUARD_ROOM);
    for (int extra = 0; extra <= 1; extra++) {
        n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 1; i < HTTP_MAX_HEADERS + extra; i++)
            n += (size_t)sprintf(buf + n, "X-%d: %d\r\n", i, i);
        n += (size_t)sprintf(buf + n, "\r\n");
        ssize_t r = parse_guarded(&g, buf, n, &req);
        if (extra == 0) {
            assert_int_equal(r, n);
            assert_int_equal(req.header_count, HTTP_MAX_HEADERS);
            check_prefixes(&g, "most fields", buf, n);
        } else {
            assert_int_equal(r, HTTP_BAD);
            assert_int_equal(req.error_status, 431);
        }
    }
    guard_close(&g);
    free(buf);
}

/* The parser resets every result field, so a struct can be reused. */
static void
test_reuse(void **state)
{
    struct http_request req;
    static const char a[] = "POST /a?b HTTP/1.1\r\nHost: h\r\n"
                            "Transfer-Encoding: chunked\r\n"
                            "Expect: 100-continue\r\n\r\n";
    static const char b[] = "GET / HTTP/1.0\r\n\r\n";

    assert_int_equal(http_parse_request(a, sizeof(a) - 1, &req), sizeof(a) - 1);
    assert_true(req.chunked && req.expect_continue && req.host != NULL);
    assert_int_equal(http_parse_request(b, sizeof(b) - 1, &req), sizeof(b) - 1);
    assert_false(req.chunked);
    assert_false(req.expect_continue);
    assert_null(req.host);
    assert_int_equal(req.content_length, -1);
    assert_int_equal(req.header_count, 0);
}

struct chunk_case {
    const char *name;
    const char *in;
    size_t len;
    const char *body;
    size_t body_len;
    uint64_t max_body;
    int status; /* 0: valid */
};

/* Bytes of the next request, after every valid body. */
#define NEXT "GET /next HTTP/1.1\r\n"

static const struct chunk_case chunk_cases[] = {
    {"one chunk", S("5\r\nhello\r\n0\r\n\r\n" NEXT), S("hello"), 100, 0},
    {"several", S("3\r\nabc\r\n4\r\ndefg\r\n1\r\nh\r\n0\r\n\r\n" NEXT),
     S("abcdefgh"), 100, 0},
    {"empty body", S("0\r\n\r\n" NEXT), S(""), 100, 0},
    {"extensions",
     S("5;a=b\r\nhello\r\n3;x;y=\"q ;\"\r\nabc\r\n0;end\r\n"
       "\r\n" NEXT),
     S("helloabc"), 100, 0},
    {"space before ext", S("5 ;a=b\r\nhello\r\n0\t \t;z\r\n\r\n" NEXT),
     S("hello"), 100, 0},
    {"trailers", S("5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-B: two\r\n\r\n" NEXT),
     S("hello"), 100, 0},
    {"uppercase hex",
     S("A\r\n0123456789\r\n1A\r\n"
       "abcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n" NEXT),
     S("0123456789abcdefghijklmnopqrstuvwxyz"), 100, 0},
    {"lowercase hex", S("b\r\n0123456789a\r\n0\r\n\r\n" NEXT), S("0123456789a"),
     100, 0},
    {"leading zeros", S("0005\r\nhello\r\n000\r\n\r\n" NEXT), S("hello"), 100,
     0},
    {"20 digits with zeros",
     S("00000000000000000005\r\nhello\r\n0\r\n\r\n" NEXT), S("hello"), 100, 0},
    {"CRLF in data", S("4\r\n\r\n\r\n\r\n0\r\n\r\n" NEXT), S("\r\n\r\n"), 100,
     0},
    {"binary data", S("3\r\n\0\xff\n\r\n0\r\n\r\n" NEXT), S("\0\xff\n"), 100,
     0},
    {"body at max", S("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" NEXT), S("abcde"), 5,
     0},
    {"zz", S("zz\r\n"), S(""), 100, 400},
    {"-1", S("-1\r\n"), S(""), 100, 400},
    {"empty size line", S("\r\nhello\r\n"), S(""), 100, 400},
    {"ext without size", S(";a\r\n"), S(""), 100, 400},
    {"size overflow", S("10000000000000000\r\n"), S(""), 100, 400},
    {"size overflow ff", S("fffffffffffffffff\r\n"), S(""), 100, 400},
    {"largest size over max", S("ffffffffffffffff\r\n"), S(""),
     HTTP_DEFAULT_MAX_BODY, 413},
    {"0x prefix", S("0x5\r\nhello\r\n"), S(""), 100, 400},
    {"missing CRLF after data", S("5\r\nhello0\r\n\r\n"), S("hello"), 100, 400},
    {"LF only after data", S("5\r\nhello\n0\r\n\r\n"), S("hello"), 100, 400},
    {"CR only after data", S("5\r\nhello\r0\r\n\r\n"), S("hello"), 100, 400},
    {"data longer than size", S("3\r\nhello\r\n0\r\n\r\n"), S("hel"), 100, 400},
    {"bare LF after size", S("5\nhello\r\n0\r\n\r\n"), S(""), 100, 400},
    {"bare CR after size", S("5\rhello\r\n0\r\n\r\n"), S(""), 100, 400},
    {"bare LF in ext", S("5;a\nhello\r\n0\r\n\r\n"), S(""), 100, 400},
    {"bare LF at end", S("0\r\n\n"), S(""), 100, 400},
    {"bare CR at end", S("0\r\n\r\r"), S(""), 100, 400},
    {"bare LF after trailer", S("0\r\nX: y\n\r\n"), S(""), 100, 400},
    {"space then CR", S("5 \r\nhello\r\n0\r\n\r\n"), S(""), 100, 400},
    {"space inside size", S("5 5\r\n"), S(""), 100, 400},
    {"space before size", S(" 5\r\n"), S(""), 100, 400},
    {"space then junk", S("5 x\r\n"), S(""), 100, 400},
    {"control char in ext", S("5;a\x01\r\n"), S(""), 100, 400},
    {"trailer starting with space", S("0\r\n X: y\r\n\r\n"), S(""), 100, 400},
    {"trailer starting with colon", S("0\r\n:y\r\n\r\n"), S(""), 100, 400},
    {"control char in trailer", S("0\r\nX: \x01\r\n\r\n"), S(""), 100, 400},
    {"over max in one chunk", S("6\r\nhello!\r\n0\r\n\r\n"), S(""), 5, 413},
    {"over max across chunks", S("3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"),
     S("abc"), 6, 413},
};

/* Feeds c->in to a decoder in pieces of at most step bytes, each piece at
 * the guard page; checks the decoded body, where it stops, or the error. */
static void
check_chunked(struct guard *g, const struct chunk_case *c, size_t step)
{
    struct http_chunked ch;
    char body[256];
    size_t body_len = 0, off = 0;
    size_t next = c->status ? 0 : strlen(NEXT);
    ssize_t r = 0;

    http_chunked_init(&ch);
    while (off < c->len && !ch.done) {
        size_t n = c->len - off < step ? c->len - off : step;
        const char *buf = guard_put(g, c->in + off, n);
        const char *data;
        size_t data_len;
        r = http_chunked_parse(&ch, buf, n, c->max_body, &data, &data_len);
        if (r == HTTP_BAD)
            break;
        if (r < 0 || (size_t)r > n)
            fail_msg("%s/%zu: gave %zd for %zu bytes", c->name, step, r, n);
        if (data_len > 0) {
            CHECK(c->name, data >= buf && data + data_len <= buf + r);
            CHECK(c->name, body_len + data_len <= sizeof(body));
            memcpy(body + body_len, data, data_len);
            body_len += data_len;
        }
        CHECK(c->name, r > 0);
        off += (size_t)r;
    }
    if (c->status != 0) {
        if (r != HTTP_BAD || ch.error_status != c->status)
            fail_msg("%s/%zu: gave %zd status %d, want %d", c->name, step, r,
                     ch.error_status, c->status);
        CHECK(c->name, ch.error_reason != NULL && !ch.done);
    } else {
        if (!ch.done || off != c->len - next)
            fail_msg("%s/%zu: done %d at %zu, want %zu", c->name, step, ch.done,
                     off, c->len - next);
        const char *data;
        size_t data_len;
        /* Once done, nothing more is consumed. */
        CHECK(c->name, http_chunked_parse(&ch, c->in + off, next, c->max_body,
                                          &data, &data_len) == 0);
        CHECK(c->name, data_len == 0);
    }
    CHECK(c->name, body_len == c->body_len);
    CHECK(c->name, memcmp(body, c->body, body_len) == 0);
    CHECK(c->name, ch.total == body_len);
}

static void
test_chunked(void **state)
{
    struct guard g;

    guard_init(&g, GUARD_ROOM);
    for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
        check_chunked(&g, &chunk_cases[i], SIZE_MAX);
        check_chunked(&g, &chunk_cases[i], 1);
        check_chunked(&g, &chunk_cases[i], 3);
    }
    guard_close(&g);
}

/* The size line and the trailer section have limits of their own. */
static void
test_chunked_limits(void **state)
{
    struct http_chunked ch;
    char *buf = malloc(GUARD_ROOM);
    const char *data;
    size_t data_len, n;

    assert_non_null(buf);
    for (int over = 0; over <= 1; over++) {
        /* "5;" and the extension fill the size line. */
        n = 0;
        buf[n++] = '5';
        buf[n++] = ';';
        memset(buf + n, 'e', HTTP_MAX_CHUNK_LINE - 2 + over);
        n += HTTP_MAX_CHUNK_LINE - 2 + over;
        memcpy(buf + n, "\r\nhello\r\n0\r\n\r\n", 14);
        n += 14;
        http_chunked_init(&ch);
        size_t off = 0;
        ssize_t r = 0;
        while (off < n && !ch.done) {
            r = http_chunked_parse(&ch, buf + off, n - off, 100, &data,
                                   &data_len);
            if (r < 0)
                break;
            off += (size_t)r;
        }
        if (over) {
            assert_int_equal(r, HTTP_BAD);
            assert_int_equal(ch.error_status, 400);
        } else {
            assert_true(ch.done);
            assert_int_equal(off, n);
        }
    }
    for (int over = 0; over <= 1; over++) {
        /* Trailer lines "X: vvvv\r\n" of 100 bytes. */
        n = 0;
        memcpy(buf, "0\r\n", 3);
        n = 3;
        size_t lines = HTTP_MAX_TRAILER_BYTES / 100 + over;
        for (size_t i = 0; i < lines; i++) {
            memcpy(buf + n, "X: ", 3);
            memset(buf + n + 3, 'v', 95);
            memcpy(buf + n + 98, "\r\n", 2);
            n += 100;
        }
        memcpy(buf + n, "\r\n", 2);
        n += 2;
        http_chunked_init(&ch);
        ssize_t r = http_chunked_parse(&ch, buf, n, 100, &data, &data_len);
        if (over) {
            assert_int_equal(r, HTTP_BAD);
            assert_int_equal(ch.error_status, 400);
        } else {
            assert_int_equal(r, n);
            assert_true(ch.done);
        }
    }
    free(buf);
}

static void
test_status_reason(void **state)
{
    static const struct {
        int status;
        const char *reason;
    } cases[] = {
        {100, "Continue"},
        {200, "OK"},
        {204, "No Content"},
        {302, "Found"},
        {400, "Bad Request"},
        {404, "Not Found"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {431, "Request Header Fields Too Large"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
        {0, "Unknown"},
        {299, "Unknown"},
        {999, "Unknown"},
        {-1, "Unknown"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(http_status_reason(cases[i].status),
                            cases[i].reason);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_request_line_limit),
        cmocka_unit_test(test_header_block_limit),
        cmocka_unit_test(test_full_buffer_never_incomplete),
        cmocka_unit_test(test_leading_empty_lines),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_chunked_limits),
        cmocka_unit_test(test_status_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
