/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 request parser: request line and header fields (RFC 9112
 * sections 2 to 5), message body framing (section 6) and the chunked
 * transfer coding (section 7.1). Strict where leniency lets two parsers
 * disagree about where a message ends. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"

/* tchar of RFC 9110 section 5.6.2. */
int
http_is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte allowed in a field value: VCHAR, SP, HTAB, obs-text. */
static int
is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
is_hex(unsigned char c, unsigned *v)
{
    if (c >= '0' && c <= '9')
        *v = c - '0';
    else if (c >= 'a' && c <= 'f')
        *v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        *v = c - 'A' + 10;
    else
        return 0;
    return 1;
}

int
http_name_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static ssize_t
bad(struct http_request *req, int status, const char *reason)
{
    req->error_status = status;
    req->error_reason = reason;
    return HTTP_BAD;
}

/* Whether the bytes seen so far already break a limit: a header block that
 * is still incomplete at the limit can never become valid. len counts the
 * whole buffer; line_len the method and target seen so far, or 0 once the
 * target is known to fit. */
static ssize_t
incomplete(struct http_request *req, size_t len, size_t line_len)
{
    if (line_len > HTTP_MAX_REQUEST_LINE)
        return bad(req, 414, "request line too long");
    if (len >= HTTP_MAX_HEADER_BYTES)
        return bad(req, 431, "header block too large");
    return HTTP_INCOMPLETE;
}

static enum http_method
method_parse(const char *s, size_t n)
{
    static const struct {
        const char *name;
        enum http_method m;
    } methods[] = {
        {"GET", HTTP_GET},       {"HEAD", HTTP_HEAD},
        {"POST", HTTP_POST},     {"PUT", HTTP_PUT},
        {"DELETE", HTTP_DELETE}, {"PATCH", HTTP_PATCH},
        {"OPTIONS", HTTP_OPTIONS}, {"TRACE", HTTP_TRACE},
        {"CONNECT", HTTP_CONNECT},
    };
    /* Methods are case-sensitive (RFC 9110 section 9.1). */
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strlen(methods[i].name) == n &&
            memcmp(methods[i].name, s, n) == 0)
            return methods[i].m;
    return HTTP_OTHER;
}

/* Splits the target into path and query. The absolute-form (RFC 9112
 * section 3.2.2) is reduced to its path; the asterisk-form is kept whole. */
static int
target_split(struct http_request *req)
{
    const char *t = req->target;
    size_t n = req->target_len;
    size_t start = 0;

    if (n >= 7 && (strncasecmp(t, "http://", 7) == 0 ||
                   (n >= 8 && strncasecmp(t, "https://", 8) == 0))) {
        start = t[4] == ':' ? 7 : 8;
        while (start < n && t[start] != '/' && t[start] != '?')
            start++;
        if (start == n || t[start] == '?') {
            req->path = "/";
            req->path_len = 1;
            req->query = start < n ? t + start + 1 : t + n;
            req->query_len = start < n ? n - start - 1 : 0;
            return 0;
        }
    } else if (n == 1 && t[0] == '*') {
        if (req->method != HTTP_OPTIONS)
            return -1;
    } else if (t[0] != '/') {
        return -1;
    }
    const char *q = memchr(t + start, '?', n - start);
    req->path = t + start;
    req->path_len = q ? (size_t)(q - req->path) : n - start;
    req->query = q ? q + 1 : t + n;
    req->query_len = q ? (size_t)(t + n - q - 1) : 0;
    return 0;
}

/* Parses a Content-Length value: 1*DIGIT, nothing else (RFC 9110 section
 * 8.6; a list such as "5, 5" is rejected rather than collapsed). */
static int
content_length_parse(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (INT64_MAX - 9) / 10)
            return -2;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Whether the comma-separated list value contains token tok. */
static int
list_has(const char *s, size_t n, const char *tok)
{
    size_t i = 0;

    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t b = i;
        while (i < n && s[i] != ',' && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i > b && http_name_is(s + b, i - b, tok))
            return 1;
    }
    return 0;
}

/* Host = uri-host [ ":" port ] (RFC 9112 section 3.2, RFC 3986 section
 * 3.2.2): an IP literal in brackets, or reg-name characters; an empty
 * value is allowed. */
static int
host_is_valid(const char *s, size_t n)
{
    size_t i = 0;

    if (n > 0 && s[0] == '[') {
        for (i = 1; i < n && s[i] != ']'; i++)
            if (!isxdigit((unsigned char)s[i]) && s[i] != ':' &&
                s[i] != '.')
                return 0;
        if (i == n || i == 1)
            return 0;
        i++;
    } else {
        for (; i < n && s[i] != ':'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!isalnum(c) && !strchr("-._~%!$&'()*+,;=", c))
                return 0;
        }
    }
    if (i == n)
        return 1;
    if (s[i] != ':')
        return 0;
    for (i++; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Derives the framing and connection fields from the header list (RFC
 * 9112 section 6.3) and rejects the combinations that enable request
 * smuggling. */
static ssize_t
fields_check(struct http_request *req)
{
    int hosts = 0, lengths = 0, encodings = 0, closes = 0, keeps = 0;
    const struct http_header *te = NULL;

    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (http_name_is(h->name, h->name_len, "host")) {
            hosts++;
            req->host = h->value;
            req->host_len = h->value_len;
        } else if (http_name_is(h->name, h->name_len, "content-length")) {
            lengths++;
            int r = content_length_parse(h->value, h->value_len,
                                         &req->content_length);
            if (r == -2)
                return bad(req, 413, "content length too large");
            if (r < 0)
                return bad(req, 400, "bad content length");
        } else if (http_name_is(h->name, h->name_len, "transfer-encoding")) {
            encodings++;
            te = h;
        } else if (http_name_is(h->name, h->name_len, "connection")) {
            closes |= list_has(h->value, h->value_len, "close");
            keeps |= list_has(h->value, h->value_len, "keep-alive");
        } else if (http_name_is(h->name, h->name_len, "expect")) {
            /* RFC 9110 section 10.1.1: ignored in an HTTP/1.0 request. */
            if (req->minor_version >= 1 &&
                http_name_is(h->value, h->value_len, "100-continue"))
                req->expect_continue = 1;
        }
    }
    /* RFC 9112 section 9.6: "close" in any Connection field wins. */
    req->keep_alive = !closes && (req->minor_version >= 1 || keeps);
    /* RFC 9112 section 3.2: exactly one Host in HTTP/1.1. */
    if (hosts > 1)
        return bad(req, 400, "more than one Host");
    if (hosts == 0 && req->minor_version >= 1)
        return bad(req, 400, "no Host");
    if (hosts == 1 && !host_is_valid(req->host, req->host_len))
        return bad(req, 400, "bad Host");
    if (lengths > 1)
        return bad(req, 400, "more than one Content-Length");
    if (encodings > 0) {
        /* RFC 9112 section 6.1: Transfer-Encoding with Content-Length,
         * or in HTTP/1.0, is a faulty framing. */
        if (lengths > 0)
            return bad(req, 400, "Content-Length with Transfer-Encoding");
        if (req->minor_version == 0)
            return bad(req, 400, "Transfer-Encoding in HTTP/1.0");
        if (encodings > 1 ||
            !http_name_is(te->value, te->value_len, "chunked"))
            return bad(req, 501, "transfer coding not implemented");
        req->chunked = 1;
    }
    if (req->method == HTTP_OTHER)
        return bad(req, 501, "method not implemented");
    return 0;
}

ssize_t
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0, b;

    memset(req, 0, offsetof(struct http_request, headers));
    req->header_count = 0;
    req->host = NULL;
    req->host_len = 0;
    req->content_length = -1;
    req->chunked = 0;
    req->keep_alive = 0;
    req->expect_continue = 0;
    req->error_status = 0;
    req->error_reason = NULL;

    /* RFC 9112 section 2.2: ignore empty lines before the request line. */
    for (;;) {
        if (i == len)
            return incomplete(req, len, 0);
        if (p[i] != '\r')
            break;
        if (i + 1 == len)
            return incomplete(req, len, 0);
        if (p[i + 1] != '\n')
            return bad(req, 400, "bare CR");
        i += 2;
    }
    size_t line_start = i;

    /* method SP request-target SP HTTP-version CRLF */
    b = i;
    while (i < len && http_is_tchar(p[i]))
        i++;
    if (i == len)
        return incomplete(req, len, len - line_start);
    if (p[i] != ' ' || i == b)
        return bad(req, 400, "bad method");
    req->method_str = buf + b;
    req->method_len = i - b;
    req->method = method_parse(buf + b, i - b);
    b = ++i;
    while (i < len && p[i] > 0x20 && p[i] < 0x7f)
        i++;
    if (i - line_start > HTTP_MAX_REQUEST_LINE)
        return bad(req, 414, "request target too long");
    if (i == len)
        return incomplete(req, len, len - line_start);
    if (p[i] != ' ' || i == b)
        return bad(req, 400, "bad request target");
    req->target = buf + b;
    req->target_len = i - b;
    b = ++i;
    static const char version[] = "HTTP/";
    for (size_t k = 0; k < 8; k++, i++) {
        if (i == len)
            return incomplete(req, len, 0);
        unsigned char c = p[i];
        if (k < 5 ? c != (unsigned char)version[k]
                  : k == 6 ? c != '.' : (c < '0' || c > '9'))
            return bad(req, 400, "bad HTTP version");
    }
    if (i + 1 >= len) {
        if (i < len && p[i] != '\r')
            return bad(req, 400, "bad request line end");
        return incomplete(req, len, 0);
    }
    if (p[i] != '\r' || p[i + 1] != '\n')
        return bad(req, 400, "bad request line end");
    i += 2;
    if (p[b + 5] != '1')
        return bad(req, 505, "HTTP version not supported");
    /* RFC 9110 section 6.2: a higher minor version is served as 1.1. */
    req->minor_version = p[b + 7] == '0' ? 0 : 1;
    if (target_split(req) < 0)
        return bad(req, 400, "bad request target");

    /* field-line = field-name ":" OWS field-value OWS CRLF */
    for (;;) {
        if (i == len)
            return incomplete(req, len, 0);
        if (p[i] == '\r') {
            if (i + 1 == len)
                return incomplete(req, len, 0);
            if (p[i + 1] != '\n')
                return bad(req, 400, "bare CR");
            i += 2;
            break;
        }
        if (p[i] == ' ' || p[i] == '\t')
            return bad(req, 400, "obsolete line folding");
        if (req->header_count == HTTP_MAX_HEADERS)
            return bad(req, 431, "too many header fields");
        struct http_header *h = &req->headers[req->header_count];
        b = i;
        while (i < len && http_is_tchar(p[i]))
            i++;
        if (i == len)
            return incomplete(req, len, 0);
        if (p[i] != ':')
            return bad(req, 400, p[i] == ' ' || p[i] == '\t'
                                     ? "whitespace before colon"
                                     : "bad header field name");
        if (i == b)
            return bad(req, 400, "empty header field name");
        h->name = buf + b;
        h->name_len = i - b;
        i++;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        b = i;
        while (i < len && is_value_char(p[i]))
            i++;
        if (i == len)
            return incomplete(req, len, 0);
        if (p[i] != '\r')
            return bad(req, 400, "bad character in header field");
        if (i + 1 == len)
            return incomplete(req, len, 0);
        if (p[i + 1] != '\n')
            return bad(req, 400, "bare CR");
        size_t e = i;
        while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        h->value = buf + b;
        h->value_len = e - b;
        req->header_count++;
        i += 2;
        if (i > HTTP_MAX_HEADER_BYTES)
            return bad(req, 431, "header block too large");
    }
    if (i > HTTP_MAX_HEADER_BYTES)
        return bad(req, 431, "header block too large");
    ssize_t r = fields_check(req);
    if (r < 0)
        return r;
    return (ssize_t)i;
}

const struct http_header *
http_find_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (http_name_is(req->headers[i].name, req->headers[i].name_len,
                         name))
            return &req->headers[i];
    return NULL;
}

enum {
    CH_SIZE = 0, /* hex digits of chunk-size */
    CH_BWS,      /* whitespace after the size: only ';' may follow */
    CH_EXT,      /* chunk-ext up to CR */
    CH_SIZE_LF,  /* LF ending the size line */
    CH_DATA,     /* chunk-data */
    CH_DATA_CR,  /* CRLF after chunk-data */
    CH_DATA_LF,
    CH_TRAILER,     /* start of a trailer line, or the final CRLF */
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
};

void
http_chunked_init(struct http_chunked *c)
{
    memset(c, 0, sizeof(*c));
    c->state = CH_SIZE;
}

static ssize_t
chunk_bad(struct http_chunked *c, int status, const char *reason)
{
    c->error_status = status;
    c->error_reason = reason;
    return HTTP_BAD;
}

ssize_t
http_chunked_parse(struct http_chunked *c, const char *buf, size_t len,
                   uint64_t max_body, const char **data, size_t *data_len)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0;
    unsigned v;

    *data = NULL;
    *data_len = 0;
    while (i < len && c->state != CH_DONE) {
        unsigned char ch = p[i];
        switch (c->state) {
        case CH_SIZE:
            if (is_hex(ch, &v)) {
                if (c->remaining > (UINT64_MAX >> 4))
                    return chunk_bad(c, 400, "chunk size too large");
                c->remaining = c->remaining << 4 | v;
                c->size_digits = 1;
            } else if (!c->size_digits) {
                return chunk_bad(c, 400, "bad chunk size");
            } else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else if (ch == ';') {
                c->state = CH_EXT;
            } else if (ch == ' ' || ch == '\t') {
                c->state = CH_BWS;
            } else {
                return chunk_bad(c, 400, "bad chunk size");
            }
            break;
        case CH_BWS:
            if (ch == ';')
                c->state = CH_EXT;
            else if (ch != ' ' && ch != '\t')
                return chunk_bad(c, 400, "bad chunk size");
            break;
        case CH_EXT:
            if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (!is_value_char(ch))
                return chunk_bad(c, 400, "bad chunk extension");
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                return chunk_bad(c, 400, "bare CR in chunk size line");
            if (c->remaining > max_body - c->total)
                return chunk_bad(c, 413, "body too large");
            c->line_len = 0;
            c->size_digits = 0;
            c->state = c->remaining == 0 ? CH_TRAILER : CH_DATA;
            i++;
            continue;
        case CH_DATA: {
            size_t n = len - i;
            if (n > c->remaining)
                n = (size_t)c->remaining;
            c->remaining -= n;
            c->total += n;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            *data = buf + i;
            *data_len = n;
            return (ssize_t)(i + n);
        }
        case CH_DATA_CR:
            if (ch != '\r')
                return chunk_bad(c, 400, "chunk data longer than its size");
            c->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                return chunk_bad(c, 400, "bare CR after chunk data");
            c->state = CH_SIZE;
            i++;
            continue;
        case CH_TRAILER:
            if (ch == '\r') {
                c->state = CH_END_LF;
            } else if (http_is_tchar(ch)) {
                c->state = CH_TRAILER_LINE;
            } else {
                return chunk_bad(c, 400, "bad trailer field");
            }
            break;
        case CH_TRAILER_LINE:
            /* Trailer fields are read and dropped (RFC 9112 section
             * 7.1.2: a recipient may discard them). */
            if (ch == '\r')
                c->state = CH_TRAILER_LF;
            else if (!is_value_char(ch))
                return chunk_bad(c, 400, "bad trailer field");
            break;
        case CH_TRAILER_LF:
            if (ch != '\n')
                return chunk_bad(c, 400, "bare CR in trailer");
            c->state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (ch != '\n')
                return chunk_bad(c, 400, "bare CR at end of body");
            c->state = CH_DONE;
            c->done = 1;
            i++;
            continue;
        }
        i++;
        /* The size line counts the bytes of size and extension. */
        if (c->state == CH_SIZE || c->state == CH_BWS || c->state == CH_EXT) {
            if (++c->line_len > HTTP_MAX_CHUNK_LINE)
                return chunk_bad(c, 400, "chunk size line too long");
        } else if (c->state >= CH_TRAILER && c->state <= CH_TRAILER_LF) {
            if (++c->trailer_len > HTTP_MAX_TRAILER_BYTES)
                return chunk_bad(c, 400, "trailer section too large");
        }
    }
    return (ssize_t)i;
}

const char *
http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
