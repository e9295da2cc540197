/* SPDX-License-Identifier: MIT */
/* The request a forward run sends, made of the stored request as a
 * reverse proxy such as nginx makes it: the route's URL with the
 * request's PATH_INFO and query, its method and body, its end-to-end
 * fields, and the fields a proxy adds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward_http.h"

/* Fields kickd sets itself, or libcurl does: the client's are left out. */
static const char *const own_fields[] = {
    "host",            /* libcurl's, from the URL (as nginx's $proxy_host) */
    "content-length",  /* libcurl's, from the body's length */
    "expect",          /* the body is here: nothing to wait for */
    "x-forwarded-for", /* the client's list, extended below */
    "x-forwarded-proto",
    "x-kick-job-id",
    "x-kick-attempt",
};

/* Path bytes that stay as they are (RFC 3986 section 3.3: pchar and
 * "/"); PATH_INFO is decoded, so the others are encoded again. */
static bool
path_keeps(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL);
}

/* base + PATH_INFO, percent-encoded, with one "/" where both have one.
 * NULL on ENOMEM. */
static char *
path_join(const char *base, const char *info)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t b = strlen(base), n;
    char *out;

    if (b > 0 && base[b - 1] == '/' && info[0] == '/')
        b--;
    if ((out = malloc(b + 3 * strlen(info) + 1)) == NULL)
        return NULL;
    memcpy(out, base, b);
    n = b;
    for (const unsigned char *p = (const unsigned char *)info; *p; p++) {
        if (path_keeps(*p)) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return out;
}

/* The URL to ask: the route's, its path extended by PATH_INFO, then the
 * request's query as it came ("&" after the route's own): libcurl's URL
 * API would rewrite its percent-encoding. *url is freed with free(). */
static int
url_build(const struct cgi_request *cr, char **url)
{
    const struct http_request *req = cr->req;
    CURLU *u = curl_url();
    char *path = NULL, *joined = NULL, *base = NULL, *query = NULL;
    int r = -EINVAL;

    if (u == NULL)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, cr->route->forward, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
        goto done;
    if (cr->path_info[0]) {
        if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
            (joined = path_join(path, cr->path_info)) == NULL ||
            curl_url_set(u, CURLUPART_PATH, joined, 0) != CURLUE_OK)
            goto done;
    }
    if (curl_url_get(u, CURLUPART_URL, &base, 0) != CURLUE_OK)
        goto done;
    bool has_query = curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK;
    size_t n = strlen(base);
    r = -ENOMEM;
    if ((*url = malloc(n + req->query_len + 2)) == NULL)
        goto done;
    memcpy(*url, base, n);
    if (req->query_len > 0) {
        (*url)[n++] = has_query ? '&' : '?';
        memcpy(*url + n, req->query, req->query_len);
        n += req->query_len;
    }
    (*url)[n] = '\0';
    r = 0;
done:
    curl_free(path);
    curl_free(base);
    curl_free(query);
    free(joined);
    curl_url_cleanup(u);
    return r;
}

/* Appends "Name: value" (n and v bytes) to *l; "Name;" sends an empty
 * value, where "Name:" would tell libcurl to send no such field. */
static int
field_add(struct curl_slist **l, const char *name, size_t n, const char *v,
          size_t vn)
{
    char *line = malloc(n + vn + 3);
    struct curl_slist *t;

    if (line == NULL)
        return -ENOMEM;
    memcpy(line, name, n);
    if (vn == 0) {
        memcpy(line + n, ";", 2);
    } else {
        memcpy(line + n, ": ", 2);
        memcpy(line + n + 2, v, vn);
        line[n + 2 + vn] = '\0';
    }
    t = curl_slist_append(*l, line);
    free(line);
    if (t == NULL)
        return -ENOMEM;
    *l = t;
    return 0;
}

static int
field_addf(struct curl_slist **l, const char *name, const char *v)
{
    return field_add(l, name, strlen(name), v, strlen(v));
}

/* Whether the client's field h goes to the upstream. */
static bool
field_is_passed(const struct cgi_request *cr, const struct http_header *h)
{
    const struct http_request *req = cr->req;

    for (size_t i = 0; i < sizeof(own_fields) / sizeof(own_fields[0]); i++)
        if (http_name_is(h->name, h->name_len, own_fields[i]))
            return false;
    /* kickd's own token is for kickd, not for the upstream. */
    if (cr->hide_authorization &&
        http_name_is(h->name, h->name_len, "authorization"))
        return false;
    return !forward_is_hop_by_hop(req->headers, req->header_count, h);
}

/* X-Forwarded-For as nginx's $proxy_add_x_forwarded_for makes it: the
 * client's list, if any, then the client's address. */
static int
forwarded_for(const struct cgi_request *cr, struct curl_slist **l)
{
    const struct http_request *req = cr->req;
    size_t n = strlen(cr->remote_addr) + 1, len = 0;
    char *v;
    int r;

    for (size_t i = 0; i < req->header_count; i++)
        if (http_name_is(req->headers[i].name, req->headers[i].name_len,
                         "x-forwarded-for"))
            n += req->headers[i].value_len + 2;
    if ((v = malloc(n)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (!http_name_is(h->name, h->name_len, "x-forwarded-for") ||
            h->value_len == 0)
            continue;
        memcpy(v + len, h->value, h->value_len);
        len += h->value_len;
        memcpy(v + len, ", ", 2);
        len += 2;
    }
    if (cr->remote_addr[0] == '\0' && len >= 2)
        len -= 2;
    memcpy(v + len, cr->remote_addr, strlen(cr->remote_addr));
    len += strlen(cr->remote_addr);
    r = len > 0 ? field_add(l, "X-Forwarded-For", 15, v, len) : 0;
    free(v);
    return r;
}

/* The client's end-to-end fields, then the proxy's own. */
static int
fields_build(const struct cgi_request *cr, struct curl_slist **l)
{
    const struct http_request *req = cr->req;
    bool accept = false;
    char attempt[16];

    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (!field_is_passed(cr, h))
            continue;
        if (http_name_is(h->name, h->name_len, "accept"))
            accept = true;
        if (field_add(l, h->name, h->name_len, h->value, h->value_len) < 0)
            return -ENOMEM;
    }
    snprintf(attempt, sizeof(attempt), "%d", cr->attempt);
    if (forwarded_for(cr, l) < 0 ||
        field_addf(l, "X-Forwarded-Proto", "http") < 0 ||
        (cr->run_id && field_addf(l, "X-Kick-Job-Id", cr->run_id) < 0) ||
        field_addf(l, "X-Kick-Attempt", attempt) < 0)
        return -ENOMEM;
    /* No field libcurl would add on its own: no Expect: 100-continue
     * (the body is at hand), no Accept: the client did not send. */
    struct curl_slist *t = curl_slist_append(*l, "Expect:");
    if (t && !accept)
        t = curl_slist_append(t, "Accept:");
    if (t == NULL)
        return -ENOMEM;
    *l = t;
    return 0;
}

/* The method, and the body's length when there is a body (a length of 0
 * included: Content-Length: 0 is a body). */
static int
method_set(CURL *easy, const struct cgi_request *cr, bool *has_body)
{
    const struct http_request *req = cr->req;
    char *method;

    *has_body = false;
    if (req->method == HTTP_HEAD) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
        return 0;
    }
    *has_body = cr->content_length >= 0;
    if (*has_body) {
        /* An upload of a known length: sent with its Content-Length, as
         * the read callback gives it (the method is set below). */
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)cr->content_length);
    } else if (req->method == HTTP_GET) {
        return 0;
    }
    if ((method = strndup(req->method_str, req->method_len)) == NULL)
        return -ENOMEM;
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    free(method);
    return 0;
}

int
forward_request_set(CURL *easy, const struct cgi_request *cr,
                    struct curl_slist **fields, bool *has_body)
{
    char *url = NULL;
    int r = url_build(cr, &url);

    if (r < 0)
        return r;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    free(url);
    if ((r = fields_build(cr, fields)) < 0)
        return r;
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, *fields);
    return method_set(easy, cr, has_body);
}

void
forward_request_target(const char *url, char *out, size_t n)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;

    out[0] = '\0';
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
        snprintf(out, n, "%s:%s", host, port);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}
