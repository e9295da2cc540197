/* SPDX-License-Identifier: MIT */
/* The head of an upstream's answer, read line by line as libcurl's header
 * callback hands it over: the status line (RFC 9112 section 4), the
 * fields (section 5), interim 1xx heads skipped, and what a proxy leaves
 * out (RFC 9110 section 7.6.1). Pure: copies into its own buffer. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forward_http.h"

/* The hop-by-hop fields of RFC 9110 section 7.6.1 and RFC 9112 (TE and
 * Trailer name the connection's abilities; Transfer-Encoding its
 * framing). */
static const char *const hop_fields[] = {
    "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
};

/* Whether the Connection field value v (n bytes) lists name. */
static bool
connection_lists(const char *v, size_t n, const char *name, size_t name_len)
{
    size_t i = 0;

    while (i < n) {
        while (i < n && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
            i++;
        size_t b = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i - b == name_len && name_len > 0 &&
            strncasecmp(v + b, name, name_len) == 0)
            return true;
    }
    return false;
}

bool
forward_is_hop_by_hop(const struct http_header *hs, size_t n,
                      const struct http_header *h)
{
    for (size_t i = 0; i < sizeof(hop_fields) / sizeof(hop_fields[0]); i++)
        if (http_name_is(h->name, h->name_len, hop_fields[i]))
            return true;
    /* Proxy-Connection, Proxy-Authorization, Proxy-Authenticate: a
     * proxy's own business, never the next hop's. */
    if (h->name_len > 6 && strncasecmp(h->name, "proxy-", 6) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (http_name_is(hs[i].name, hs[i].name_len, "connection") &&
            connection_lists(hs[i].value, hs[i].value_len, h->name,
                             h->name_len))
            return true;
    return false;
}

void
forward_head_init(struct forward_head *h)
{
    h->len = 0;
    h->in_status = h->interim = h->done = false;
    h->error = NULL;
    memset(&h->resp, 0, offsetof(struct cgi_response, headers));
    h->resp.content_length = -1;
    h->resp.header_count = 0;
}

static int
bad(struct forward_head *h, const char *why)
{
    h->error = why;
    return FORWARD_HEAD_BAD;
}

/* Copies n bytes to the end of buf; NULL when they do not fit. */
static char *
keep(struct forward_head *h, const char *s, size_t n)
{
    char *p = h->buf + h->len;

    if (n > sizeof(h->buf) - h->len)
        return NULL;
    memcpy(p, s, n);
    h->len += n;
    return p;
}

/* A field value's bytes: no control character but HTAB (RFC 9110
 * section 5.5); kickd copies them to its own client. */
static bool
value_is_clean(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* HTTP-version SP 3DIGIT [SP reason-phrase]; libcurl writes HTTP/2's as
 * "HTTP/2 200 ". A new head starts: an interim one is only skipped. */
static int
status_line(struct forward_head *h, const char *s, size_t n)
{
    size_t i = 5;

    if (n < 10 || strncmp(s, "HTTP/", 5) != 0)
        return bad(h, "malformed status line");
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
        i++;
    if (i == 5 || n - i < 4 || s[i] != ' ')
        return bad(h, "malformed status line");
    const char *d = s + i + 1;
    if (d[0] < '1' || d[0] > '5' || d[1] < '0' || d[1] > '9' || d[2] < '0' ||
        d[2] > '9' || (n - i > 4 && d[3] != ' '))
        return bad(h, "malformed status line");
    forward_head_init(h);
    h->in_status = true;
    h->resp.status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    h->interim = h->resp.status < 200;
    const char *reason = d + 3;
    size_t rn = n - i - 4;
    trim(&reason, &rn);
    if (!value_is_clean(reason, rn))
        return bad(h, "control character in status line");
    if (rn > 0 && !h->interim) {
        h->resp.reason = keep(h, reason, rn);
        h->resp.reason_len = rn;
    }
    return FORWARD_HEAD_MORE;
}

/* An obs-fold line continues the last field's value, which is the last
 * thing in buf: it is joined with one space (RFC 9112 section 5.2). */
static int
fold_line(struct forward_head *h, const char *s, size_t n)
{
    struct cgi_response *r = &h->resp;

    if (r->header_count == 0)
        return bad(h, "malformed field line");
    trim(&s, &n);
    if (!value_is_clean(s, n))
        return bad(h, "control character in field value");
    struct http_header *last = &r->headers[r->header_count - 1];
    if (n == 0)
        return FORWARD_HEAD_MORE;
    if ((last->value_len > 0 && keep(h, " ", 1) == NULL) ||
        keep(h, s, n) == NULL)
        return bad(h, "header block too large");
    if (last->value_len == 0)
        last->value = h->buf + h->len - n;
    last->value_len = (size_t)(h->buf + h->len - last->value);
    return FORWARD_HEAD_MORE;
}

static int
field_line(struct forward_head *h, const char *s, size_t n)
{
    struct cgi_response *r = &h->resp;
    size_t i = 0;

    if (s[0] == ' ' || s[0] == '\t')
        return fold_line(h, s, n);
    while (i < n && http_is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ':')
        return bad(h, "malformed field line");
    const char *v = s + i + 1;
    size_t vn = n - i - 1;
    trim(&v, &vn);
    if (!value_is_clean(v, vn))
        return bad(h, "control character in field value");
    if (r->header_count == CGI_MAX_HEADERS)
        return bad(h, "too many header fields");
    struct http_header *f = &r->headers[r->header_count];
    if ((f->name = keep(h, s, i)) == NULL ||
        (f->value = keep(h, v, vn)) == NULL)
        return bad(h, "header block too large");
    f->name_len = i;
    f->value_len = vn;
    r->header_count++;
    return FORWARD_HEAD_MORE;
}

/* Notes what kickd needs of field f: its length, type and Location. */
static int
field_note(struct forward_head *h, const struct http_header *f)
{
    struct cgi_response *r = &h->resp;
    int64_t n;

    if (http_name_is(f->name, f->name_len, "content-type")) {
        r->has_content_type = true;
    } else if (http_name_is(f->name, f->name_len, "location")) {
        r->location = f->value;
        r->location_len = f->value_len;
    } else if (http_name_is(f->name, f->name_len, "content-length")) {
        /* Lengths that differ make the framing unknowable (RFC 9112
         * section 6.3). */
        if (cgi_response_length_parse(f->value, f->value_len, &n) < 0 ||
            (r->content_length >= 0 && n != r->content_length))
            return bad(h, "malformed Content-Length");
        r->content_length = n;
    }
    return 0;
}

/* The empty line: a final head is complete, without its hop-by-hop
 * fields; a chunked body's Content-Length, if any, is not to be trusted
 * (RFC 9112 section 6.3), and libcurl decodes the chunks anyway. */
static int
head_end(struct forward_head *h)
{
    struct cgi_response *r = &h->resp;
    bool drop[CGI_MAX_HEADERS];
    bool chunked = false;
    size_t n = 0;

    if (!h->in_status)
        return bad(h, "no status line");
    if (h->interim) {
        h->in_status = h->interim = false;
        return FORWARD_HEAD_MORE;
    }
    for (size_t i = 0; i < r->header_count; i++) {
        const struct http_header *f = &r->headers[i];
        if (http_name_is(f->name, f->name_len, "transfer-encoding"))
            chunked = true;
        drop[i] = forward_is_hop_by_hop(r->headers, r->header_count, f);
    }
    for (size_t i = 0; i < r->header_count; i++) {
        const struct http_header *f = &r->headers[i];
        if (drop[i] ||
            (chunked && http_name_is(f->name, f->name_len, "content-length")))
            continue;
        if (field_note(h, f) < 0)
            return FORWARD_HEAD_BAD;
        r->headers[n++] = *f;
    }
    r->header_count = n;
    h->done = true;
    return FORWARD_HEAD_DONE;
}

int
forward_head_line(struct forward_head *h, const char *line, size_t len)
{
    if (h->done)
        return FORWARD_HEAD_DONE;
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return head_end(h);
    if (!h->in_status)
        return status_line(h, line, len);
    if (h->interim)
        return FORWARD_HEAD_MORE;
    return field_line(h, line, len);
}

int64_t
forward_retry_after(const struct cgi_response *r, time_t now)
{
    char date[64];
    int64_t s = 0;

    if (r->status != 429 && r->status != 503)
        return 0;
    for (size_t i = 0; i < r->header_count; i++) {
        const struct http_header *f = &r->headers[i];
        if (!http_name_is(f->name, f->name_len, "retry-after"))
            continue;
        if (f->value_len <= 10 &&
            cgi_response_length_parse(f->value, f->value_len, &s) == 0)
            return s * 1000;
        if (f->value_len >= sizeof(date))
            return 0;
        memcpy(date, f->value, f->value_len);
        date[f->value_len] = '\0';
        time_t t = curl_getdate(date, NULL);
        return t > now ? (int64_t)(t - now) * 1000 : 0;
    }
    return 0;
}
