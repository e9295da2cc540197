/* SPDX-License-Identifier: MIT */
/* Who a request is (auth.h): the bearer token or the dashboard's session
 * cookie, compared in constant time, and the rules for requests that
 * change a job. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <strings.h>

#include "auth.h"

int
auth_session_value(const char *token, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (HMAC(EVP_sha256(), token, (int)strlen(token),
             (const unsigned char *)AUTH_SESSION_MSG,
             sizeof(AUTH_SESSION_MSG) - 1, mac, &n) == NULL ||
        n * 2 != AUTH_SESSION_HEX)
        return -1;
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[AUTH_SESSION_HEX] = '\0';
    return 0;
}

bool
auth_token_is(const char *token, const char *given, size_t len)
{
    size_t n = strlen(token);

    /* The length is no secret worth hiding (RFC 6750 tokens are sent as
     * they are); the bytes are compared whole, whatever differs first. */
    return len == n && CRYPTO_memcmp(token, given, n) == 0;
}

/* The value of cookie name in req's Cookie fields (RFC 6265 section
 * 4.2.1: "NAME=VALUE; NAME=VALUE"), without quotes; NULL if none. */
static const char *
cookie_find(const struct http_request *req, const char *name, size_t *len)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (!http_name_is(h->name, h->name_len, "cookie"))
            continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
                p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *e = semi ? semi : end;
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
                const char *v = eq + 1, *ve = e;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                    ve--;
                if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                    v++;
                    ve--;
                }
                *len = (size_t)(ve - v);
                return v;
            }
            p = e;
        }
    }
    return NULL;
}

enum auth_by
auth_check(const char *token, const struct http_request *req,
           bool cookie_ok)
{
    const struct http_header *h;
    char session[AUTH_SESSION_HEX + 1];
    const char *v;
    size_t n;

    if (token == NULL)
        return AUTH_OPEN;
    h = http_find_header(req, "authorization");
    if (h && h->value_len >= 7 && strncasecmp(h->value, "Bearer ", 7) == 0 &&
        auth_token_is(token, h->value + 7, h->value_len - 7))
        return AUTH_BEARER;
    if (!cookie_ok || (v = cookie_find(req, AUTH_COOKIE_NAME, &n)) == NULL ||
        auth_session_value(token, session) < 0)
        return AUTH_NONE;
    return auth_token_is(session, v, n) ? AUTH_COOKIE : AUTH_NONE;
}

/* Whether the Origin field (RFC 6454: "scheme://host[:port]", or "null")
 * names the host of the request's Host field. */
static bool
origin_is_host(const struct http_header *origin,
               const struct http_request *req)
{
    const char *o = origin->value, *end = o + origin->value_len;
    const char *sep = NULL;

    for (const char *p = o; p + 3 <= end; p++) {
        if (memcmp(p, "://", 3) == 0) {
            sep = p + 3;
            break;
        }
    }
    if (sep == NULL || req->host == NULL)
        return false;
    return (size_t)(end - sep) == req->host_len &&
           strncasecmp(sep, req->host, req->host_len) == 0;
}

int
auth_change_check(const struct http_request *req, enum auth_by by,
                  bool read_only, const char **why)
{
    bool marked = http_find_header(req, AUTH_CHANGE_HEADER) != NULL;
    const struct http_header *origin = http_find_header(req, "origin");

    /* The cookie goes with every request the browser makes to kickd, a
     * form another site submits included (SameSite=Strict keeps it from
     * those in today's browsers; this does in any): only the page's own
     * requests carry the header. Without a token, a browser's change from
     * another site says so in its Origin. */
    if (!marked && (by == AUTH_COOKIE ||
                    (by == AUTH_OPEN && origin && !origin_is_host(origin,
                                                                  req)))) {
        *why = "cross-site request refused: X-Kick-Request missing";
        return 403;
    }
    if (read_only && (marked || by == AUTH_COOKIE)) {
        *why = "the dashboard is read-only";
        return 403;
    }
    return 0;
}
