/* SPDX-License-Identifier: MIT */
/* The CGI response header reader (RFC 3875 section 6): the header block a
 * script writes before its body, with lines ending in LF or CRLF. */
#include <string.h>
#include <strings.h>

#include "cgi_response.h"

static ssize_t
bad(struct cgi_response *r, const char *reason)
{
    r->error = reason;
    return CGI_BAD;
}

/* A block still incomplete at the limit can never become valid: the block,
 * through its empty line, is at most CGI_MAX_HEADER_BYTES. */
static ssize_t
incomplete(struct cgi_response *r, size_t len)
{
    if (len >= CGI_MAX_HEADER_BYTES)
        return bad(r, "header block too large");
    return CGI_INCOMPLETE;
}

/* Status: 3DIGIT SP reason-phrase (RFC 3875 section 6.3.3). */
static int
status_parse(struct cgi_response *r, const char *v, size_t n)
{
    /* 1xx is not a final answer: a script cannot give one. */
    if (n < 3 || v[0] < '2' || v[0] > '5' || v[1] < '0' || v[1] > '9' ||
        v[2] < '0' || v[2] > '9')
        return -1;
    if (n > 3 && v[3] != ' ' && v[3] != '\t')
        return -1;
    r->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    if (n > 4) {
        r->reason = v + 4;
        r->reason_len = n - 4;
        while (r->reason_len > 0 &&
               (r->reason[0] == ' ' || r->reason[0] == '\t')) {
            r->reason++;
            r->reason_len--;
        }
        if (r->reason_len == 0)
            r->reason = NULL;
    }
    return 0;
}

int
cgi_response_length_parse(const char *v, size_t n, int64_t *out)
{
    int64_t x = 0;

    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

ssize_t
cgi_response_parse(const char *buf, size_t len, struct cgi_response *r)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0;
    int has_status = 0;

    memset(r, 0, offsetof(struct cgi_response, headers));
    r->content_length = -1;
    r->header_count = 0;
    r->error = NULL;

    for (;;) {
        if (i >= CGI_MAX_HEADER_BYTES)
            return bad(r, "header block too large");
        if (i == len)
            return incomplete(r, len);
        if (p[i] == '\n' || p[i] == '\r') {
            if (p[i] == '\r') {
                if (i + 1 == len)
                    return incomplete(r, len);
                if (p[i + 1] != '\n')
                    return bad(r, "bare CR in header block");
                i++;
            }
            i++;
            break;
        }
        size_t b = i;
        while (i < len && http_is_tchar(p[i]))
            i++;
        if (i == len)
            return incomplete(r, len);
        if (p[i] != ':' || i == b)
            return bad(r, "malformed header line");
        const char *name = buf + b;
        size_t name_len = i - b;
        i++;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        b = i;
        while (i < len && p[i] != '\n' && p[i] != '\r') {
            if (p[i] < 0x20 && p[i] != '\t')
                return bad(r, "control character in header value");
            if (p[i] == 0x7f)
                return bad(r, "control character in header value");
            i++;
        }
        if (i == len)
            return incomplete(r, len);
        size_t e = i;
        if (p[i] == '\r') {
            if (i + 1 == len)
                return incomplete(r, len);
            if (p[i + 1] != '\n')
                return bad(r, "bare CR in header block");
            i++;
        }
        i++;
        while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        const char *value = buf + b;
        size_t value_len = e - b;

        if (http_name_is(name, name_len, "status")) {
            if (has_status++)
                return bad(r, "more than one Status");
            if (status_parse(r, value, value_len) < 0)
                return bad(r, "malformed Status");
            continue;
        }
        if (http_name_is(name, name_len, "content-type")) {
            r->has_content_type = 1;
        } else if (http_name_is(name, name_len, "location")) {
            if (value_len == 0)
                return bad(r, "empty Location");
            r->location = value;
            r->location_len = value_len;
        } else if (http_name_is(name, name_len, "content-length")) {
            /* Two lengths copied to the client would make its framing
             * ambiguous (RFC 9112 section 6.3). */
            if (r->content_length >= 0)
                return bad(r, "more than one Content-Length");
            if (cgi_response_length_parse(value, value_len,
                                          &r->content_length) < 0)
                return bad(r, "malformed Content-Length");
        }
        if (r->header_count == CGI_MAX_HEADERS)
            return bad(r, "too many header fields");
        struct http_header *h = &r->headers[r->header_count++];
        h->name = name;
        h->name_len = name_len;
        h->value = value;
        h->value_len = value_len;
    }
    if (i > CGI_MAX_HEADER_BYTES)
        return bad(r, "header block too large");
    /* RFC 3875 section 6.2: a response is a document (Content-Type), a
     * redirect (Location) or at least says its status. */
    if (!r->has_content_type && !r->location && !has_status)
        return bad(r, "no Content-Type, Location or Status");
    if (!has_status)
        r->status = r->location ? 302 : 200;
    return (ssize_t)i;
}
