/* SPDX-License-Identifier: MIT */
/* Tables of auth.c: the session cookie's value (HMAC-SHA256 of a known
 * message, checked against values computed apart), how a request is
 * authenticated (bearer, cookie among others, neither), and which
 * requests that change a job go on (CSRF, read-only). Requests are real
 * heads run through the parser. */
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

#include "auth.h"
#include "http_parse.h"

/* HMAC-SHA256(key, "kick-dashboard-session"), by Python's hmac module. */
#define SEKRET_SESSION                                                      \
    "b0f7257b6fa36f75e59ce3f97c92cae82415af54ae71b1b75a4098c568da6c2d"
#define CHANGE_ME_SESSION                                                   \
    "1d26d95db0b1deaaf7bc889cb251be0cbfa8daf36cb5da310bdd69e920cc5ad7"

/* Parses head (its fields, then the blank line added) into req; the text
 * stays in buf, which the request points into. */
static void
parse(const char *fields, char *buf, size_t cap, struct http_request *req)
{
    int n = snprintf(buf, cap, "DELETE /jobs/1 HTTP/1.1\r\n%s\r\n", fields);

    assert_true(n > 0 && (size_t)n < cap);
    assert_int_equal(http_parse_request(buf, (size_t)n, req), n);
}

static void
test_session_value(void **state)
{
    char out[AUTH_SESSION_HEX + 1];

    assert_int_equal(auth_session_value("sekret", out), 0);
    assert_string_equal(out, SEKRET_SESSION);
    assert_int_equal(auth_session_value("change-me", out), 0);
    assert_string_equal(out, CHANGE_ME_SESSION);
    assert_true(auth_token_is("sekret", "sekret", 6));
    assert_false(auth_token_is("sekret", "sekreT", 6));
    assert_false(auth_token_is("sekret", "sekret", 5));
    assert_false(auth_token_is("sekret", "sekrets", 7));
    assert_false(auth_token_is("sekret", "", 0));
}

static void
test_check(void **state)
{
    static const struct {
        const char *token; /* NULL: kickd has none */
        bool cookie_ok;
        const char *fields;
        enum auth_by want;
    } t[] = {
        {NULL, true, "Host: a\r\n", AUTH_OPEN},
        {NULL, true, "Host: a\r\nAuthorization: Bearer x\r\n", AUTH_OPEN},
        {"sekret", true, "Host: a\r\n", AUTH_NONE},
        {"sekret", true, "Host: a\r\nAuthorization: Bearer sekret\r\n",
         AUTH_BEARER},
        {"sekret", false, "Host: a\r\nAuthorization: bearer sekret\r\n",
         AUTH_BEARER},
        {"sekret", true, "Host: a\r\nAuthorization: Bearer sekre\r\n",
         AUTH_NONE},
        {"sekret", true, "Host: a\r\nAuthorization: Basic sekret\r\n",
         AUTH_NONE},
        {"sekret", true, "Host: a\r\nAuthorization: Bearer\r\n", AUTH_NONE},
        {"sekret", true, "Host: a\r\nCookie: kick_session=" SEKRET_SESSION
                         "\r\n",
         AUTH_COOKIE},
        /* Not while the dashboard is off. */
        {"sekret", false, "Host: a\r\nCookie: kick_session=" SEKRET_SESSION
                          "\r\n",
         AUTH_NONE},
        {"sekret", true, "Host: a\r\nCookie: a=1; kick_session="
                         SEKRET_SESSION "; b=2\r\n",
         AUTH_COOKIE},
        {"sekret", true, "Host: a\r\nCookie: a=1\r\nCookie: kick_session=\""
                         SEKRET_SESSION "\"\r\n",
         AUTH_COOKIE},
        {"sekret", true, "Host: a\r\nCookie: kick_session=" CHANGE_ME_SESSION
                         "\r\n",
         AUTH_NONE},
        {"sekret", true, "Host: a\r\nCookie: xkick_session=" SEKRET_SESSION
                         "\r\n",
         AUTH_NONE},
        {"sekret", true, "Host: a\r\nCookie: kick_session=" SEKRET_SESSION
                         "0\r\n",
         AUTH_NONE},
        {"sekret", true, "Host: a\r\nCookie: kick_session=\r\n", AUTH_NONE},
        {"sekret", true, "Host: a\r\nCookie: kick_session\r\n", AUTH_NONE},
        /* The token itself is no cookie: only its HMAC is. */
        {"sekret", true, "Host: a\r\nCookie: kick_session=sekret\r\n",
         AUTH_NONE},
        /* A wrong bearer beside a good cookie: the cookie counts. */
        {"sekret", true, "Host: a\r\nAuthorization: Bearer no\r\n"
                         "Cookie: kick_session=" SEKRET_SESSION "\r\n",
         AUTH_COOKIE},
    };
    char buf[1024];
    struct http_request req;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        parse(t[i].fields, buf, sizeof(buf), &req);
        enum auth_by got = auth_check(t[i].token, &req, t[i].cookie_ok);
        if (got != t[i].want)
            fail_msg("case %zu (%s): got %d, want %d", i, t[i].fields, got,
                     t[i].want);
    }
}

#define CSRF "cross-site request refused: X-Kick-Request missing"
#define RO "the dashboard is read-only"

static void
test_change(void **state)
{
    static const struct {
        enum auth_by by;
        bool read_only;
        const char *fields;
        const char *why; /* NULL: it goes on */
    } t[] = {
        {AUTH_BEARER, false, "Host: a\r\n", NULL},
        {AUTH_BEARER, true, "Host: a\r\n", NULL},
        {AUTH_BEARER, false, "Host: a\r\nOrigin: http://evil\r\n", NULL},
        {AUTH_BEARER, true, "Host: a\r\nX-Kick-Request: 1\r\n", RO},
        {AUTH_COOKIE, false, "Host: a\r\n", CSRF},
        {AUTH_COOKIE, false, "Host: a\r\nX-Kick-Request: 1\r\n", NULL},
        {AUTH_COOKIE, false, "Host: a\r\nx-kick-request: 1\r\n", NULL},
        {AUTH_COOKIE, true, "Host: a\r\n", CSRF},
        {AUTH_COOKIE, true, "Host: a\r\nX-Kick-Request: 1\r\n", RO},
        {AUTH_OPEN, false, "Host: a\r\n", NULL},
        {AUTH_OPEN, false, "Host: a:8080\r\nOrigin: http://a:8080\r\n", NULL},
        {AUTH_OPEN, false, "Host: A:8080\r\nOrigin: http://a:8080\r\n", NULL},
        {AUTH_OPEN, false, "Host: a:8080\r\nOrigin: http://evil:8080\r\n",
         CSRF},
        {AUTH_OPEN, false, "Host: a:8080\r\nOrigin: http://a:8081\r\n", CSRF},
        {AUTH_OPEN, false, "Host: a:8080\r\nOrigin: http://a:8080x\r\n",
         CSRF},
        {AUTH_OPEN, false, "Host: a\r\nOrigin: null\r\n", CSRF},
        {AUTH_OPEN, false, "Host: a\r\nOrigin: \r\n", CSRF},
        {AUTH_OPEN, false, "Host: a\r\nOrigin: http://evil\r\n"
                           "X-Kick-Request: 1\r\n",
         NULL},
        {AUTH_OPEN, true, "Host: a\r\n", NULL},
        {AUTH_OPEN, true, "Host: a\r\nX-Kick-Request: 1\r\n", RO},
        {AUTH_OPEN, true, "Host: a\r\nOrigin: http://evil\r\n", CSRF},
    };
    char buf[1024];
    struct http_request req;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *why = NULL;
        parse(t[i].fields, buf, sizeof(buf), &req);
        int r = auth_change_check(&req, t[i].by, t[i].read_only, &why);
        if (t[i].why == NULL ? r != 0
                             : r != 403 || strcmp(why, t[i].why) != 0)
            fail_msg("case %zu (%s): got %d %s", i, t[i].fields, r,
                     r ? why : "");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_value),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
