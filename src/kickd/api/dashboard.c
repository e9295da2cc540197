/* SPDX-License-Identifier: MIT */
/* The dashboard's page, its files and its login (dashboard.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_error.h"
#include "auth.h"
#include "conn.h"
#include "dashboard.h"
#include "kick_limits.h"
#include "srv.h"
#include "ui_assets.h"

#define LOGIN_PATH "/_kick/login"
#define LOGOUT_PATH "/_kick/logout"

/* Whether the entity-tag at t (n bytes, W/ prefix allowed) is etag,
 * compared weakly (RFC 9110 section 8.8.3.2, as If-None-Match asks). */
static bool
etag_is(const char *t, size_t n, const char *etag)
{
    if (n >= 2 && t[0] == 'W' && t[1] == '/') {
        t += 2;
        n -= 2;
    }
    return n == strlen(etag) && memcmp(t, etag, n) == 0;
}

/* Whether req's If-None-Match names etag, or is "*" (RFC 9110 section
 * 13.1.2): then the client's copy is current. */
static bool
none_match(const struct http_request *req, const char *etag)
{
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (!http_name_is(h->name, h->name_len, "if-none-match"))
            continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                p++;
            const char *b = p;
            /* An entity-tag is quoted: a comma inside the quotes is part
             * of it. */
            if (p + 2 < end && p[0] == 'W' && p[1] == '/')
                p += 2;
            if (p < end && *p == '"') {
                const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
                p = q ? q + 1 : end;
            } else {
                while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                    p++;
            }
            if ((p - b == 1 && *b == '*') ||
                etag_is(b, (size_t)(p - b), etag))
                return true;
        }
    }
    return false;
}

static const struct ui_asset *
asset_find(const char *path)
{
    for (size_t i = 0; i < ui_asset_count; i++)
        if (strcmp(ui_assets[i].path, path) == 0)
            return &ui_assets[i];
    return NULL;
}

/* GET / and /_kick/ui/NAME: revalidated at each use (no-cache) by their
 * ETag, which changes with their bytes. */
static void
asset_serve(struct conn *c, const struct http_request *req, const char *path)
{
    const struct ui_asset *a = asset_find(path);
    char extra[640];

    if (a == NULL) {
        api_error_reply(c, 404, "no such file of the dashboard", NULL);
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        api_error_reply(c, 405, "method not allowed: GET only",
                        "Allow: GET, HEAD\r\n");
        return;
    }
    bool html = strncmp(a->ctype, "text/html", 9) == 0;
    snprintf(extra, sizeof(extra),
             "ETag: %s\r\nCache-Control: no-cache\r\n"
             "X-Content-Type-Options: nosniff\r\n"
             "Referrer-Policy: same-origin\r\n%s%s%s",
             a->etag, html ? "Content-Security-Policy: " : "",
             html ? DASHBOARD_CSP : "", html ? "\r\n" : "");
    if (none_match(req, a->etag)) {
        conn_reply(c, 304, a->ctype, "", 0, extra);
        return;
    }
    conn_reply(c, 200, a->ctype, (const char *)a->data, a->len, extra);
}

static int
hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The form field name of body (application/x-www-form-urlencoded: '+'
 * is a space, %XX a byte) decoded into out (size cap); -1 if it is not
 * there, is malformed or does not fit. */
static int
form_field(const char *body, size_t len, const char *name, char *out,
           size_t cap)
{
    const char *p = body, *end = body + len;
    size_t nlen = strlen(name);

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > nlen && memcmp(p, name, nlen) == 0 &&
            p[nlen] == '=') {
            size_t o = 0;
            for (const char *v = p + nlen + 1; v < e; v++) {
                int ch = (unsigned char)*v;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%') {
                    if (e - v < 3 || hex_digit(v[1]) < 0 || hex_digit(v[2]) < 0)
                        return -1;
                    ch = hex_digit(v[1]) * 16 + hex_digit(v[2]);
                    v += 2;
                }
                if (o + 1 >= cap || ch == 0)
                    return -1;
                out[o++] = (char)ch;
            }
            out[o] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : end;
    }
    return -1;
}

/* The token a login gives: JSON {"token": "..."} or a form's token=...,
 * into out (size cap). -1 if there is none. */
static int
login_token(const struct http_request *req, const char *body, size_t len,
            char *out, size_t cap)
{
    const struct http_header *ct = http_find_header(req, "content-type");

    if (ct && ct->value_len >= 16 &&
        strncasecmp(ct->value, "application/json", 16) == 0) {
        json_t *j = json_loadb(body, len, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "token"));
        int r = t && strlen(t) < cap ? 0 : -1;
        if (r == 0)
            memcpy(out, t, strlen(t) + 1);
        json_decref(j);
        return r;
    }
    return form_field(body, len, "token", out, cap);
}

/* POST /_kick/login: the token, checked, becomes the session cookie
 * (its HMAC, so that the browser never holds the token itself); HttpOnly
 * keeps it from scripts, SameSite=Strict from other sites' requests. */
static void
login(struct conn *c, const struct http_request *req, const char *body,
      size_t len)
{
    const char *token = conn_srv(c)->cfg->token;
    char given[DASHBOARD_MAX_BODY + 1], session[AUTH_SESSION_HEX + 1];
    char extra[256];

    if (token == NULL) { /* nothing to log in to: every request is let in */
        conn_reply(c, 204, "application/json", "", 0,
                   "Cache-Control: no-store\r\n");
        return;
    }
    if (login_token(req, body, len, given, sizeof(given)) < 0) {
        api_error_reply(c, 400, "no token in the body (token=... as a form, "
                        "or JSON {\"token\": \"...\"})", NULL);
        return;
    }
    if (!auth_token_is(token, given, strlen(given))) {
        api_error_reply(c, 401, "wrong token", NULL);
        return;
    }
    if (auth_session_value(token, session) < 0) {
        api_error_reply(c, 503, "could not make the session cookie", NULL);
        return;
    }
    snprintf(extra, sizeof(extra),
             "Set-Cookie: " AUTH_COOKIE_NAME "=%s; HttpOnly; SameSite=Strict; "
             "Path=/\r\nCache-Control: no-store\r\n", session);
    conn_reply(c, 204, "application/json", "", 0, extra);
}

void
dashboard_serve(struct conn *c, const struct http_request *req,
                const char *path, const char *body, size_t body_len)
{
    struct srv *s = conn_srv(c);
    bool in = strcmp(path, LOGIN_PATH) == 0;

    if (s->dashboard == DASHBOARD_OFF) {
        api_error_reply(c, 404, "the dashboard is off", NULL);
        return;
    }
    if (!in && strcmp(path, LOGOUT_PATH) != 0) {
        asset_serve(c, req, path);
        return;
    }
    if (req->method != HTTP_POST) {
        api_error_reply(c, 405, "method not allowed: POST only",
                        "Allow: POST\r\n");
        return;
    }
    if (in) {
        login(c, req, body ? body : "", body_len);
        return;
    }
    conn_reply(c, 204, "application/json", "", 0,
               "Set-Cookie: " AUTH_COOKIE_NAME "=; Max-Age=0; HttpOnly; "
               "SameSite=Strict; Path=/\r\nCache-Control: no-store\r\n");
}

bool
dashboard_change_allowed(struct conn *c, const struct http_request *req)
{
    struct srv *s = conn_srv(c);
    const char *why = NULL;
    int status = auth_change_check(req, conn_auth_by(c),
                                   s->dashboard == DASHBOARD_READ_ONLY, &why);

    if (status == 0)
        return true;
    api_error_reply(c, status, why, NULL);
    return false;
}
