/* SPDX-License-Identifier: MIT */
/* Who a request is, for kickd's token: the bearer token (RFC 6750) or the
 * dashboard's session cookie, and whether a request that changes a job
 * may go on (the dashboard's rule against cross-site requests, and its
 * read-only mode). Pure functions of the request and the settings. */
#ifndef KICKD_AUTH_H
#define KICKD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parse.h"

/* The name of the dashboard's session cookie. */
#define AUTH_COOKIE_NAME "kick_session"
/* Its value: HMAC-SHA256 in lower-case hex. */
#define AUTH_SESSION_HEX 64
/* The message the session value is the HMAC of, keyed by the token. */
#define AUTH_SESSION_MSG "kick-dashboard-session"
/* The header a page sends with a change; a cross-site form cannot send
 * it, and a cross-site fetch cannot without a CORS preflight that kickd
 * never grants. */
#define AUTH_CHANGE_HEADER "x-kick-request"

enum auth_by {
    AUTH_OPEN,   /* kickd has no token: nothing is asked */
    AUTH_BEARER, /* Authorization: Bearer with the token */
    AUTH_COOKIE, /* the dashboard's session cookie for the token */
    AUTH_NONE,   /* a token is asked, and neither came right */
};

/* The session cookie's value for token into out (AUTH_SESSION_HEX + 1
 * bytes, NUL-terminated). 0, or -1 if libcrypto failed. */
int
auth_session_value(const char *token, char *out);

/* Whether given (len bytes) is token, in a time that does not tell where
 * they differ. */
bool
auth_token_is(const char *token, const char *given, size_t len);

/* How req is authenticated for token (NULL: kickd has none). The session
 * cookie counts only with cookie_ok (the dashboard is not off). */
enum auth_by
auth_check(const char *token, const struct http_request *req,
           bool cookie_ok);

/* Whether req, which changes a job, may go on: 0, or 403 with why (a
 * static string). A change authenticated by the cookie, or with no token
 * one whose Origin names another host than its Host, needs the header
 * AUTH_CHANGE_HEADER (CSRF); with read_only, a change that has it or the
 * cookie (the page's) is refused, one with the bearer token (an
 * operator's curl) is not. */
int
auth_change_check(const struct http_request *req, enum auth_by by,
                  bool read_only, const char **why);

#endif
