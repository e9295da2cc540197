/* SPDX-License-Identifier: MIT */
/* Table tests of libkick's request building: form and cookie encoding,
 * URL parsing, and the exact bytes of the request sent mode writes (the
 * correct form of the PHP article's triggerRequest). */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/libkick/kick_internal.h"

#define UA "User-Agent: kick/" KICK_VERSION "\r\n"

static void
check_bytes(const char *name, const char *got, size_t got_len,
            const char *want)
{
    if (got_len != strlen(want) || memcmp(got, want, got_len) != 0)
        fail_msg("%s:\n got: [%.*s]\nwant: [%s]", name, (int)got_len, got,
                 want);
}

static void
test_form_encode(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"", ""},
        {"abcXYZ019", "abcXYZ019"},
        {"-._~", "-._~"},
        {"a b", "a+b"},
        {"  ", "++"},
        {"a&b=c", "a%26b%3Dc"},
        {"1+1", "1%2B1"},
        {"100%", "100%25"},
        {"%41", "%2541"},
        {"x/y?z#w", "x%2Fy%3Fz%23w"},
        {"\"'<>", "%22%27%3C%3E"},
        {"*!()", "%2A%21%28%29"},
        {"\r\n\t", "%0D%0A%09"},
        {"caf\xc3\xa9", "caf%C3%A9"},
        {"\xe2\x82\xac 5", "%E2%82%AC+5"},
        {"\xff\x80", "%FF%80"},
        {"a;b,c", "a%3Bb%2Cc"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct kick__buf b = {0};
        assert_int_equal(kick__form_encode(&b, t[i].in), 0);
        check_bytes(t[i].in, b.data ? b.data : "", b.len, t[i].out);
        kick__buf_close(&b);
    }
}

static void
test_cookie_encode(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"", ""},
        {"abc123", "abc123"},
        {"a%b+c", "a%b+c"}, /* all cookie-octets: as is */
        {"a=b/c:d", "a=b/c:d"},
        {"a b", "a%20b"},
        {"a;b", "a%3Bb"},
        {"a,b", "a%2Cb"},
        {"\"q\"", "%22q%22"},
        {"a\\b", "a%5Cb"},
        {"x y%z+w", "x%20y%25z%2Bw"}, /* encoded: '%' and '+' too */
        {"caf\xc3\xa9", "caf%C3%A9"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct kick__buf b = {0};
        assert_int_equal(kick__cookie_encode(&b, t[i].in), 0);
        check_bytes(t[i].in, b.data ? b.data : "", b.len, t[i].out);
        kick__buf_close(&b);
    }
}

static void
test_url_parse(void **state)
{
    static const struct {
        const char *in;
        int https, ipv6;
        const char *host;
        unsigned port;
        const char *path, *query;
    } t[] = {
        {"http://example.com", 0, 0, "example.com", 80, "/", NULL},
        {"http://example.com/", 0, 0, "example.com", 80, "/", NULL},
        {"HTTP://Example.COM/a", 0, 0, "Example.COM", 80, "/a", NULL},
        {"https://example.com/a/b", 1, 0, "example.com", 443, "/a/b", NULL},
        {"http://127.0.0.1:8080/x.php?a=1&b=2", 0, 0, "127.0.0.1", 8080,
         "/x.php", "a=1&b=2"},
        {"http://127.0.0.1:8080?a=1", 0, 0, "127.0.0.1", 8080, "/", "a=1"},
        {"http://h:/p", 0, 0, "h", 80, "/p", NULL},
        {"http://h/p?", 0, 0, "h", 80, "/p", NULL},
        {"http://h/p#frag", 0, 0, "h", 80, "/p", NULL},
        {"http://h/p?q=1#frag?x", 0, 0, "h", 80, "/p", "q=1"},
        {"https://h:65535/", 1, 0, "h", 65535, "/", NULL},
        {"http://[::1]/", 0, 1, "::1", 80, "/", NULL},
        {"http://[::1]:8080/a?b", 0, 1, "::1", 8080, "/a", "b"},
        {"https://[2001:db8::1:2]:8443", 1, 1, "2001:db8::1:2", 8443, "/",
         NULL},
        {"http://[::ffff:192.0.2.1]/", 0, 1, "::ffff:192.0.2.1", 80, "/",
         NULL},
        {"http://h/a b", 0, 0, "h", 80, "/a%20b", NULL},
        {"http://h/caf\xc3\xa9?q=\xc3\xa9", 0, 0, "h", 80, "/caf%C3%A9",
         "q=%C3%A9"},
        {"http://h/a%2Fb?x=%41", 0, 0, "h", 80, "/a%2Fb", "x=%41"},
        {"http://my-host_1.example/", 0, 0, "my-host_1.example", 80, "/",
         NULL},
    };
    static const char *bad[] = {
        "",
        "example.com",
        "ftp://example.com/",
        "http:/example.com",
        "http://",
        "http:///path",
        "http://:80/",
        "http://h:0/",
        "http://h:65536/",
        "http://h:99999999999999999999/",
        "http://h:8a/",
        "http://h:-1/",
        "http://user:pw@h/",
        "http://[::1/",
        "http://[]/",
        "http://[::g]/",
        "http://[fe80::1%25eth0]/",
        "http://[::1]x/",
        "http://h h/",
        "http://h\r\nX: y/",
        "http://h/a\r\nX: y",
        "http://h/a\tb",
        "http://h/100%",
        "http://h/%zz",
        "http://h/?a=%4",
        "http://h\xc3\xa9/",
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct kick__url u;
        char detail[256];
        int r = kick__url_parse(t[i].in, &u, detail, sizeof(detail));

        if (r != 0)
            fail_msg("%s: %d %s", t[i].in, r, detail);
        assert_int_equal(u.is_https, t[i].https);
        assert_int_equal(u.is_ipv6, t[i].ipv6);
        assert_string_equal(u.host, t[i].host);
        assert_int_equal(u.port, t[i].port);
        assert_string_equal(u.path, t[i].path);
        if (t[i].query == NULL)
            assert_null(u.query);
        else
            assert_string_equal(u.query, t[i].query);
        kick__url_close(&u);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kick__url u;
        char detail[256];
        int r = kick__url_parse(bad[i], &u, detail, sizeof(detail));

        if (r != KICK_EINVAL)
            fail_msg("accepted a bad URL: [%s]", bad[i]);
        if (detail[0] == '\0')
            fail_msg("no detail for [%s]", bad[i]);
        assert_int_equal(kick_url_check(bad[i], NULL, 0), KICK_EINVAL);
    }
}

static struct kick_request *
req(const char *url)
{
    int err = 1;
    struct kick_request *r = kick_request_new(url, &err);

    assert_non_null(r);
    assert_int_equal(err, 0);
    return r;
}

static void
check_format(const char *name, struct kick_request *r, const char *token,
             int flags, const char *want)
{
    struct kick__buf b = {0};

    assert_int_equal(kick__request_format(r, token, flags, &b), 0);
    check_bytes(name, b.data, b.len, want);
    kick__buf_close(&b);
    kick_request_free(r);
}

static void
test_format(void **state)
{
    struct kick_request *r;

    /* No body, no cookies: the head still ends with an empty line. */
    check_format("plain get", req("http://example.com/run.php"), NULL, 0,
                 "GET /run.php HTTP/1.1\r\n"
                 "Host: example.com\r\n" UA "\r\n");

    /* No query: no '?'. A default port is not in Host. */
    check_format("default https port", req("https://example.com:443"),
                 NULL, KICK__HEAD_CLOSE,
                 "GET / HTTP/1.1\r\n"
                 "Host: example.com\r\n" UA "Connection: close\r\n\r\n");

    /* The form body after the empty line, encoded, no stray bytes. */
    r = req("http://127.0.0.1:8080/job.php?x=1");
    assert_int_equal(kick_request_form(r, "name", "a b&c=d"), 0);
    assert_int_equal(kick_request_form(r, "n", "100%+"), 0);
    check_format("form post", r, NULL, KICK__HEAD_CLOSE | KICK__HEAD_ASYNC,
                 "POST /job.php?x=1 HTTP/1.1\r\n"
                 "Host: 127.0.0.1:8080\r\n" UA
                 "Content-Type: application/x-www-form-urlencoded\r\n"
                 "Content-Length: 28\r\n"
                 "Connection: close\r\n"
                 "Prefer: respond-async\r\n"
                 "\r\n"
                 "name=a+b%26c%3Dd&n=100%25%2B");

    /* IPv6 in brackets with its port; query parameters appended. */
    r = req("http://[::1]:8080/p");
    assert_int_equal(kick_request_query(r, "q", "x y"), 0);
    assert_int_equal(kick_request_query(r, "e", ""), 0);
    check_format("ipv6 query", r, NULL, 0,
                 "GET /p?q=x+y&e= HTTP/1.1\r\n"
                 "Host: [::1]:8080\r\n" UA "\r\n");
    r = req("http://[::1]/p?a=1");
    assert_int_equal(kick_request_query(r, "b", "2"), 0);
    check_format("query joined", r, NULL, 0,
                 "GET /p?a=1&b=2 HTTP/1.1\r\n"
                 "Host: [::1]\r\n" UA "\r\n");

    /* Headers, cookies (joined, not base64), a bearer token. */
    r = req("https://h.example:8443/hook");
    assert_int_equal(kick_request_method(r, "PUT"), 0);
    assert_int_equal(kick_request_json(r, "{\"a\": [1, 2]}"), 0);
    assert_int_equal(kick_request_header(r, "X-Trace", "abc def"), 0);
    assert_int_equal(kick_request_cookie(r, "sid", "s3cr=t"), 0);
    assert_int_equal(kick_request_cookie(r, "u", "a b;c"), 0);
    check_format("json put", r, "tok.123", KICK__HEAD_CLOSE,
                 "PUT /hook HTTP/1.1\r\n"
                 "Host: h.example:8443\r\n" UA
                 "Content-Type: application/json\r\n"
                 "Content-Length: 13\r\n"
                 "Connection: close\r\n"
                 "X-Trace: abc def\r\n"
                 "Cookie: sid=s3cr=t; u=a%20b%3Bc\r\n"
                 "Authorization: Bearer tok.123\r\n"
                 "\r\n"
                 "{\"a\": [1, 2]}");

    /* A POST without a body says Content-Length: 0. */
    r = req("http://h/x");
    assert_int_equal(kick_request_method(r, "POST"), 0);
    check_format("empty post", r, NULL, 0,
                 "POST /x HTTP/1.1\r\n"
                 "Host: h\r\n" UA "Content-Length: 0\r\n\r\n");

    /* The caller's fields replace kick's own; a Cookie field is joined
     * with the cookies into one. */
    r = req("http://h/x");
    assert_int_equal(kick_request_header(r, "user-agent", "mine/1"), 0);
    assert_int_equal(kick_request_header(r, "Prefer", "wait=5"), 0);
    assert_int_equal(kick_request_header(r, "Host", "other"), 0);
    assert_int_equal(kick_request_header(r, "Cookie", "a=1"), 0);
    assert_int_equal(kick_request_header(r, "Authorization", "Basic eA=="),
                     0);
    assert_int_equal(kick_request_cookie(r, "b", "2"), 0);
    check_format("overrides", r, "tok",
                 KICK__HEAD_CLOSE | KICK__HEAD_ASYNC,
                 "GET /x HTTP/1.1\r\n"
                 "Connection: close\r\n"
                 "user-agent: mine/1\r\n"
                 "Prefer: wait=5\r\n"
                 "Host: other\r\n"
                 "Authorization: Basic eA==\r\n"
                 "Cookie: a=1; b=2\r\n"
                 "\r\n");

    /* JSON after a form replaces it, and the other way round. */
    r = req("http://h/x");
    assert_int_equal(kick_request_form(r, "a", "1"), 0);
    assert_int_equal(kick_request_json(r, "[]"), 0);
    check_format("json replaces form", r, NULL, 0,
                 "POST /x HTTP/1.1\r\nHost: h\r\n" UA
                 "Content-Type: application/json\r\n"
                 "Content-Length: 2\r\n\r\n[]");
}

static void
test_validation(void **state)
{
    struct kick_request *r = req("http://h/");
    int err = 0;

    assert_int_equal(kick_request_header(r, "X-A", "a\r\nX-B: b"),
                     KICK_EINVAL);
    assert_true(strlen(kick_request_detail(r)) > 0);
    assert_int_equal(kick_request_header(r, "X-A", "a\nb"), KICK_EINVAL);
    assert_int_equal(kick_request_header(r, "X-A", "a\rb"), KICK_EINVAL);
    assert_int_equal(kick_request_header(r, "X A", "v"), KICK_EINVAL);
    assert_int_equal(kick_request_header(r, "X-A:", "v"), KICK_EINVAL);
    assert_int_equal(kick_request_header(r, "", "v"), KICK_EINVAL);
    assert_int_equal(kick_request_header(r, "X-\r\n", "v"), KICK_EINVAL);
    assert_int_equal(kick_request_header(r, "Content-Length", "5"),
                     KICK_EINVAL);
    assert_int_equal(kick_request_header(r, "transfer-encoding", "chunked"),
                     KICK_EINVAL);
    assert_int_equal(kick_request_header(r, "X-Tab", "a\tb"), 0);
    assert_int_equal(kick_request_method(r, "GE T"), KICK_EINVAL);
    assert_int_equal(kick_request_method(r, "GET\r\n"), KICK_EINVAL);
    assert_int_equal(kick_request_method(r, ""), KICK_EINVAL);
    assert_int_equal(kick_request_cookie(r, "a b", "v"), KICK_EINVAL);
    assert_int_equal(kick_request_cookie(r, "a=b", "v"), KICK_EINVAL);
    assert_int_equal(kick_request_json(r, "{bad"), KICK_EINVAL);
    assert_non_null(strstr(kick_request_detail(r), "not JSON"));
    kick_request_free(r);

    assert_null(kick_request_new("http://h:70000/", &err));
    assert_int_equal(err, KICK_EINVAL);
    assert_null(kick_request_new(NULL, &err));
    assert_int_equal(err, KICK_EINVAL);
    kick_request_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_encode),
        cmocka_unit_test(test_cookie_encode),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_validation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
