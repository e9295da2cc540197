/* SPDX-License-Identifier: MIT */
/* kick_request_*: a trigger request built once and sent many times: the
 * URL parsed (RFC 3986), form fields and query values percent-encoded as
 * application/x-www-form-urlencoded, cookies, checked header fields, and
 * the exact HTTP/1.1 bytes (RFC 9112) that sent mode writes. */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kick_internal.h"

static const char hex[] = "0123456789ABCDEF";

void
kick__buf_close(struct kick__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int
kick__buf_add(struct kick__buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL)
            return KICK_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
kick__buf_adds(struct kick__buf *b, const char *s)
{
    return kick__buf_add(b, s, strlen(s));
}

static int
add_escape(struct kick__buf *b, unsigned char c)
{
    char e[3] = {'%', hex[c >> 4], hex[c & 15]};

    return kick__buf_add(b, e, 3);
}

static int
is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

static int
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* RFC 9110 section 5.6.2: tchar. */
static int
is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int
is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return 0;
    return 1;
}

int
kick__form_encode(struct kick__buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int r = 0;

    /* Runs of bytes that stay are copied at once. */
    while (*p && r == 0) {
        size_t n = 0;

        while (p[n] && (is_alnum(p[n]) || strchr("-._~", p[n])))
            n++;
        if (n > 0) {
            r = kick__buf_add(b, (const char *)p, n);
            p += n;
        } else if (*p == ' ') {
            r = kick__buf_add(b, "+", 1);
            p++;
        } else {
            r = add_escape(b, *p++);
        }
    }
    return r;
}

/* RFC 6265 section 4.1.1: cookie-octet. */
static int
is_cookie_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2B) ||
           (c >= 0x2D && c <= 0x3A) || (c >= 0x3C && c <= 0x5B) ||
           (c >= 0x5D && c <= 0x7E);
}

int
kick__cookie_encode(struct kick__buf *b, const char *s)
{
    const unsigned char *p;
    int plain = 1, r = 0;

    for (p = (const unsigned char *)s; *p; p++)
        if (!is_cookie_octet(*p))
            plain = 0;
    if (plain)
        return kick__buf_adds(b, s);
    /* '%' and '+' too, so that a decoder (PHP's urldecode of $_COOKIE
     * included) gets the value back. */
    for (p = (const unsigned char *)s; *p && r == 0; p++) {
        if (is_cookie_octet(*p) && *p != '%' && *p != '+')
            r = kick__buf_add(b, (const char *)p, 1);
        else
            r = add_escape(b, *p);
    }
    return r;
}

/* Copies the path or query s[0..n) into a new string: bytes a URL may not
 * hold but a browser would send encoded (space, '"', '<', '>', '\', '^',
 * '`', '{', '|', '}', non-ASCII) become %XX; a control byte or a '%'
 * without two hex digits is an error. */
static int
copy_part(const char *s, size_t n, char **out, char *detail, size_t size)
{
    struct kick__buf b = {0};
    int r = 0;

    *out = NULL;
    for (size_t i = 0; i < n && r == 0; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f) {
            snprintf(detail, size, "control character 0x%02x in the URL",
                     c);
            r = KICK_EINVAL;
        } else if (c == '%' && !(i + 2 < n &&
                                 is_hex((unsigned char)s[i + 1]) &&
                                 is_hex((unsigned char)s[i + 2]))) {
            snprintf(detail, size, "'%%' not followed by two hex digits "
                                   "in the URL");
            r = KICK_EINVAL;
        } else if (c >= 0x80 || strchr(" \"<>\\^`{|}", c)) {
            r = add_escape(&b, c);
        } else {
            r = kick__buf_add(&b, (const char *)&c, 1);
        }
    }
    if (r == 0 && b.data == NULL)
        r = kick__buf_add(&b, "", 0);
    if (r < 0) {
        kick__buf_close(&b);
        return r;
    }
    *out = b.data;
    return 0;
}

static int
parse_authority(const char *a, size_t n, struct kick__url *u, char *detail,
                size_t size)
{
    const char *host = a, *port = NULL;
    size_t host_len;

    if (memchr(a, '@', n)) {
        snprintf(detail, size, "user info in the URL is not supported "
                               "(use a header or --token)");
        return KICK_EINVAL;
    }
    if (n > 0 && a[0] == '[') {
        const char *end = memchr(a, ']', n);
        char addr[INET6_ADDRSTRLEN + 8];
        unsigned char bin[16];

        if (end == NULL) {
            snprintf(detail, size, "no ']' after the IPv6 address");
            return KICK_EINVAL;
        }
        host = a + 1;
        host_len = (size_t)(end - host);
        if (host_len == 0 || host_len >= sizeof(addr)) {
            snprintf(detail, size, "bad IPv6 address");
            return KICK_EINVAL;
        }
        memcpy(addr, host, host_len);
        addr[host_len] = '\0';
        if (inet_pton(AF_INET6, addr, bin) != 1) {
            snprintf(detail, size, "bad IPv6 address '%s'", addr);
            return KICK_EINVAL;
        }
        u->is_ipv6 = 1;
        if (end + 1 < a + n) {
            if (end[1] != ':') {
                snprintf(detail, size, "unexpected text after ']'");
                return KICK_EINVAL;
            }
            port = end + 2;
        }
    } else {
        const char *colon = memchr(a, ':', n);

        host_len = colon ? (size_t)(colon - a) : n;
        if (colon)
            port = colon + 1;
        for (size_t i = 0; i < host_len; i++) {
            unsigned char c = (unsigned char)a[i];
            if (!is_alnum(c) && !strchr("-._~", c)) {
                if (c < 0x20 || c >= 0x7f)
                    snprintf(detail, size, "bad byte 0x%02x in the host",
                             c);
                else
                    snprintf(detail, size, "bad character '%c' in the host",
                             c);
                return KICK_EINVAL;
            }
        }
    }
    if (host_len == 0) {
        snprintf(detail, size, "no host in the URL");
        return KICK_EINVAL;
    }
    u->host = strndup(host, host_len);
    if (u->host == NULL)
        return KICK_ENOMEM;
    /* RFC 3986 section 3.2.3: an empty port is the default one. */
    if (port && port < a + n) {
        unsigned long v = 0;

        for (const char *p = port; p < a + n; p++) {
            if (*p < '0' || *p > '9' || v > 65535) {
                snprintf(detail, size, "bad port '%.*s'",
                         (int)(a + n - port), port);
                return KICK_EINVAL;
            }
            v = v * 10 + (unsigned long)(*p - '0');
        }
        if (v == 0 || v > 65535) {
            snprintf(detail, size, "port %lu out of range (1-65535)", v);
            return KICK_EINVAL;
        }
        u->port = (unsigned)v;
    }
    return 0;
}

int
kick__url_parse(const char *text, struct kick__url *u, char *detail,
                size_t size)
{
    const char *p, *auth, *path, *query, *end;
    int r;

    memset(u, 0, sizeof(*u));
    detail[0] = '\0';
    if (strncasecmp(text, "http://", 7) == 0) {
        p = text + 7;
        u->port = 80;
    } else if (strncasecmp(text, "https://", 8) == 0) {
        p = text + 8;
        u->port = 443;
        u->is_https = 1;
    } else {
        const char *colon = strstr(text, "://");
        if (colon && colon > text && colon - text < 16)
            snprintf(detail, size, "unsupported scheme '%.*s' (http or "
                                   "https)", (int)(colon - text), text);
        else
            snprintf(detail, size, "not an http:// or https:// URL");
        return KICK_EINVAL;
    }
    auth = p;
    p += strcspn(p, "/?#");
    r = parse_authority(auth, (size_t)(p - auth), u, detail, size);
    if (r < 0)
        goto fail;
    /* The fragment is the client's own; it is never sent. */
    end = p + strcspn(p, "#");
    path = p;
    query = memchr(path, '?', (size_t)(end - path));
    if (query == NULL)
        query = end;
    if (query == path)
        u->path = strdup("/");
    else
        r = copy_part(path, (size_t)(query - path), &u->path, detail, size);
    if (r < 0 || u->path == NULL) {
        r = r < 0 ? r : KICK_ENOMEM;
        goto fail;
    }
    if (query < end && query + 1 < end) {
        r = copy_part(query + 1, (size_t)(end - query - 1), &u->query,
                      detail, size);
        if (r < 0)
            goto fail;
    }
    return 0;
fail:
    if (r == KICK_ENOMEM)
        snprintf(detail, size, "out of memory");
    kick__url_close(u);
    return r;
}

void
kick__url_close(struct kick__url *u)
{
    free(u->host);
    free(u->path);
    free(u->query);
    memset(u, 0, sizeof(*u));
}

int
kick_url_check(const char *url, char *detail, size_t size)
{
    struct kick__url u;
    char tmp[256];
    int r;

    if (url == NULL)
        return KICK_EINVAL;
    if (detail == NULL || size == 0) {
        detail = tmp;
        size = sizeof(tmp);
    }
    r = kick__url_parse(url, &u, detail, size);
    if (r == 0)
        kick__url_close(&u);
    return r;
}

struct kick_request *
kick_request_new(const char *url, int *err)
{
    struct kick_request *r;
    int e;

    if (url == NULL) {
        *err = KICK_EINVAL;
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        *err = KICK_ENOMEM;
        return NULL;
    }
    e = kick__url_parse(url, &r->url, r->detail, sizeof(r->detail));
    if (e < 0) {
        free(r);
        *err = e;
        return NULL;
    }
    *err = 0;
    return r;
}

void
kick_request_free(struct kick_request *r)
{
    if (r == NULL)
        return;
    kick__url_close(&r->url);
    free(r->method);
    kick__buf_close(&r->query);
    kick__buf_close(&r->form);
    free(r->json);
    kick__buf_close(&r->cookies);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r);
}

const char *
kick_request_detail(const struct kick_request *r)
{
    return r->detail;
}

static int
invalid(struct kick_request *r, const char *what, const char *s)
{
    snprintf(r->detail, sizeof(r->detail), "%s '%.120s'", what, s);
    return KICK_EINVAL;
}

int
kick_request_method(struct kick_request *r, const char *method)
{
    char *m;

    if (method == NULL || !is_token(method))
        return invalid(r, "bad method", method ? method : "");
    m = strdup(method);
    if (m == NULL)
        return KICK_ENOMEM;
    free(r->method);
    r->method = m;
    return 0;
}

/* Appends "name=value", both encoded, to an '&'-joined list. */
static int
add_pair(struct kick__buf *b, const char *name, const char *value)
{
    size_t len = b->len;
    int e = 0;

    if (b->len > 0)
        e = kick__buf_add(b, "&", 1);
    if (e == 0)
        e = kick__form_encode(b, name);
    if (e == 0)
        e = kick__buf_add(b, "=", 1);
    if (e == 0)
        e = kick__form_encode(b, value ? value : "");
    if (e < 0 && b->data) {
        b->len = len;
        b->data[len] = '\0';
    }
    return e;
}

int
kick_request_form(struct kick_request *r, const char *name,
                  const char *value)
{
    int e;

    if (name == NULL)
        return invalid(r, "no form field name", "");
    e = add_pair(&r->form, name, value);
    if (e < 0)
        return e;
    r->has_form = 1;
    free(r->json);
    r->json = NULL;
    return 0;
}

int
kick_request_data(struct kick_request *r, const void *data, size_t len)
{
    size_t was = r->form.len;
    int e = 0;

    if (data == NULL && len > 0)
        return invalid(r, "no data", "");
    if (r->form.len > 0)
        e = kick__buf_add(&r->form, "&", 1);
    if (e == 0) /* also when len is 0: an empty body is still a body */
        e = kick__buf_add(&r->form, data, len);
    if (e < 0) {
        if (r->form.data) {
            r->form.len = was;
            r->form.data[was] = '\0';
        }
        return e;
    }
    r->has_form = 1;
    free(r->json);
    r->json = NULL;
    return 0;
}

int
kick_request_query(struct kick_request *r, const char *name,
                   const char *value)
{
    if (name == NULL)
        return invalid(r, "no query parameter name", "");
    return add_pair(&r->query, name, value);
}

int
kick_request_cookie(struct kick_request *r, const char *name,
                    const char *value)
{
    size_t len = r->cookies.len;
    int e = 0;

    if (name == NULL || !is_token(name))
        return invalid(r, "bad cookie name", name ? name : "");
    if (r->cookies.len > 0)
        e = kick__buf_add(&r->cookies, "; ", 2);
    if (e == 0)
        e = kick__buf_adds(&r->cookies, name);
    if (e == 0)
        e = kick__buf_add(&r->cookies, "=", 1);
    if (e == 0)
        e = kick__cookie_encode(&r->cookies, value ? value : "");
    if (e < 0 && r->cookies.data) {
        r->cookies.len = len;
        r->cookies.data[len] = '\0';
    }
    return e;
}

int
kick_request_header(struct kick_request *r, const char *name,
                    const char *value)
{
    struct kick__header *h;

    if (name == NULL || !is_token(name))
        return invalid(r, "bad header name", name ? name : "");
    if (strcasecmp(name, "Content-Length") == 0 ||
        strcasecmp(name, "Transfer-Encoding") == 0)
        return invalid(r, "kick frames the body itself; not allowed:",
                       name);
    if (value == NULL)
        value = "";
    /* RFC 9110 section 5.5: no CR, LF, NUL or other control byte but
     * HTAB in a field value: they would split or end the head. */
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return invalid(r, "control character in the value of header",
                           name);
    h = realloc(r->headers, (r->n_headers + 1) * sizeof(*h));
    if (h == NULL)
        return KICK_ENOMEM;
    r->headers = h;
    h = &r->headers[r->n_headers];
    h->name = strdup(name);
    h->value = strdup(value);
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        return KICK_ENOMEM;
    }
    r->n_headers++;
    return 0;
}

int
kick_request_json(struct kick_request *r, const char *json)
{
    json_error_t jerr;
    json_t *j;
    char *copy;

    if (json == NULL)
        return invalid(r, "no JSON body", "");
    j = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (j == NULL) {
        snprintf(r->detail, sizeof(r->detail), "not JSON: %s (at %d:%d)",
                 jerr.text, jerr.line, jerr.column);
        return KICK_EINVAL;
    }
    json_decref(j);
    copy = strdup(json);
    if (copy == NULL)
        return KICK_ENOMEM;
    free(r->json);
    r->json = copy;
    kick__buf_close(&r->form);
    r->has_form = 0;
    return 0;
}

const char *
kick__request_body(const struct kick_request *r, const char **type,
                   size_t *len)
{
    if (r->json) {
        *type = "application/json";
        *len = strlen(r->json);
        return r->json;
    }
    if (r->has_form) {
        *type = "application/x-www-form-urlencoded";
        *len = r->form.len;
        return r->form.data;
    }
    *type = NULL;
    *len = 0;
    return NULL;
}

const char *
kick__request_method(const struct kick_request *r)
{
    if (r->method)
        return r->method;
    return r->json || r->has_form ? "POST" : "GET";
}

int
kick__request_target(const struct kick_request *r, struct kick__buf *b)
{
    const char *q = r->url.query;
    int e = kick__buf_adds(b, r->url.path);

    if (e == 0 && (q || r->query.len > 0))
        e = kick__buf_add(b, "?", 1);
    if (e == 0 && q)
        e = kick__buf_adds(b, q);
    if (e == 0 && q && r->query.len > 0)
        e = kick__buf_add(b, "&", 1);
    if (e == 0 && r->query.len > 0)
        e = kick__buf_add(b, r->query.data, r->query.len);
    return e;
}

/* Appends host[:port] as the Host field wants it (RFC 9112 section 3.2):
 * the port only when it is not the scheme's default. */
static int
add_host(const struct kick__url *u, struct kick__buf *b)
{
    char port[16] = "";

    if (u->port != (u->is_https ? 443u : 80u))
        snprintf(port, sizeof(port), ":%u", u->port);
    if (kick__buf_adds(b, u->is_ipv6 ? "[" : "") < 0 ||
        kick__buf_adds(b, u->host) < 0 ||
        kick__buf_adds(b, u->is_ipv6 ? "]" : "") < 0 ||
        kick__buf_adds(b, port) < 0)
        return KICK_ENOMEM;
    return 0;
}

int
kick__request_origin(const struct kick_request *r, struct kick__buf *b)
{
    if (kick__buf_adds(b, r->url.is_https ? "https://" : "http://") < 0)
        return KICK_ENOMEM;
    return add_host(&r->url, b);
}

static const char *
header_get(const struct kick_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static int
add_field(struct kick__buf *b, const char *name, const char *value)
{
    if (kick__buf_adds(b, name) < 0 || kick__buf_add(b, ": ", 2) < 0 ||
        kick__buf_adds(b, value) < 0 || kick__buf_add(b, "\r\n", 2) < 0)
        return KICK_ENOMEM;
    return 0;
}

/* RFC 9110 section 8.6: a request whose method defines a body says
 * Content-Length even when the body is empty. */
static int
method_has_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

int
kick__request_head(const struct kick_request *r, const char *token,
                   int flags, struct kick__buf *b)
{
    const char *type;
    size_t len;
    const char *body = kick__request_body(r, &type, &len);
    int e = 0;

    if ((flags & KICK__HEAD_HOST) && !header_get(r, "Host")) {
        e = kick__buf_adds(b, "Host: ");
        if (e == 0)
            e = add_host(&r->url, b);
        if (e == 0)
            e = kick__buf_add(b, "\r\n", 2);
    }
    if (e == 0 && !header_get(r, "User-Agent"))
        e = add_field(b, "User-Agent", "kick/" KICK_VERSION);
    if (e == 0 && type && !header_get(r, "Content-Type"))
        e = add_field(b, "Content-Type", type);
    if (e == 0 && (flags & KICK__HEAD_HOST) &&
        (body || method_has_body(kick__request_method(r)))) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", len);
        e = add_field(b, "Content-Length", n);
    }
    if (e == 0 && (flags & KICK__HEAD_CLOSE) && !header_get(r, "Connection"))
        e = add_field(b, "Connection", "close");
    /* RFC 7240: kickd stores the job and answers 202 at once for a route
     * in auto mode; any other server ignores the preference. */
    if (e == 0 && (flags & KICK__HEAD_ASYNC) && !header_get(r, "Prefer"))
        e = add_field(b, "Prefer", "respond-async");
    for (size_t i = 0; i < r->n_headers && e == 0; i++) {
        /* RFC 6265 section 5.4: one Cookie field; it is joined below. */
        if (strcasecmp(r->headers[i].name, "Cookie") == 0 &&
            r->cookies.len > 0)
            continue;
        e = add_field(b, r->headers[i].name, r->headers[i].value);
    }
    if (e == 0 && r->cookies.len > 0) {
        const char *own = header_get(r, "Cookie");
        e = kick__buf_adds(b, "Cookie: ");
        if (e == 0 && own && *own)
            e = kick__buf_adds(b, own);
        if (e == 0 && own && *own)
            e = kick__buf_add(b, "; ", 2);
        if (e == 0)
            e = kick__buf_add(b, r->cookies.data, r->cookies.len);
        if (e == 0)
            e = kick__buf_add(b, "\r\n", 2);
    }
    if (e == 0 && token && *token && !header_get(r, "Authorization")) {
        e = kick__buf_adds(b, "Authorization: Bearer ");
        if (e == 0)
            e = kick__buf_adds(b, token);
        if (e == 0)
            e = kick__buf_add(b, "\r\n", 2);
    }
    return e;
}

int
kick__request_format(const struct kick_request *r, const char *token,
                     int flags, struct kick__buf *b)
{
    const char *type;
    size_t len;
    const char *body = kick__request_body(r, &type, &len);
    int e;

    /* RFC 9112 section 3: method SP request-target SP HTTP-version. */
    e = kick__buf_adds(b, kick__request_method(r));
    if (e == 0)
        e = kick__buf_add(b, " ", 1);
    if (e == 0)
        e = kick__request_target(r, b);
    if (e == 0)
        e = kick__buf_adds(b, " HTTP/1.1\r\n");
    if (e == 0)
        e = kick__request_head(r, token, flags | KICK__HEAD_HOST, b);
    /* The empty line always ends the head, body or none. */
    if (e == 0)
        e = kick__buf_add(b, "\r\n", 2);
    if (e == 0 && body)
        e = kick__buf_add(b, body, len);
    return e;
}
