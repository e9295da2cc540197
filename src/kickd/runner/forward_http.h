/* SPDX-License-Identifier: MIT */
/* The HTTP side of the forward runner: the request libcurl sends for a
 * run (forward_request.c) and the head of the upstream's answer, read
 * line by line as libcurl hands it over (forward_head.c). Either way the
 * hop-by-hop fields stay behind (RFC 9110 section 7.6.1): kickd frames
 * its own messages. */
#ifndef KICKD_FORWARD_HTTP_H
#define KICKD_FORWARD_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cgi.h"
#include "cgi_response.h"
#include "http_parse.h"

/* Whether field h of the message whose fields are hs[0..n) is
 * hop-by-hop: one of RFC 9110's and RFC 9112's, a Proxy-* field, or one
 * that a Connection field of the message names. */
bool
forward_is_hop_by_hop(const struct http_header *hs, size_t n,
                      const struct http_header *h);

/* Sets on easy what cr asks: the URL (the route's, with the request's
 * PATH_INFO appended to its path and the query to its query), the
 * method, the end-to-end fields plus X-Forwarded-For, X-Forwarded-Proto,
 * X-Kick-Job-Id and X-Kick-Attempt, and the body's length. *fields is
 * the field list easy uses until it is cleaned up; the caller frees it
 * (curl_slist_free_all), also on failure. 0, -ENOMEM, or -EINVAL for a
 * URL that libcurl refuses. *has_body: a body is to be sent. */
int
forward_request_set(CURL *easy, const struct cgi_request *cr,
                    struct curl_slist **fields, bool *has_body);

/* "host:port" of the route's URL, for messages; "" if it has none. */
void
forward_request_target(const char *url, char *out, size_t n);

#define FORWARD_HEAD_MORE 0
#define FORWARD_HEAD_DONE 1
#define FORWARD_HEAD_BAD (-1)

/* An upstream answer's head as it arrives: interim (1xx) heads are
 * skipped; the final one becomes resp, whose strings point into buf. */
struct forward_head {
    char buf[CGI_MAX_HEADER_BYTES];
    size_t len;
    bool in_status; /* a status line came: fields follow */
    bool interim;   /* ... of a 1xx answer, skipped */
    bool done;
    struct cgi_response resp;
    const char *error; /* with FORWARD_HEAD_BAD: a short static reason */
};

void
forward_head_init(struct forward_head *h);

/* Takes one line of the head (with its CRLF or LF, as libcurl's header
 * callback gives it). Returns FORWARD_HEAD_MORE, FORWARD_HEAD_DONE when
 * the final head is complete (h->resp holds it, hop-by-hop fields left
 * out, Content-Length too when the body is chunked), or FORWARD_HEAD_BAD
 * with h->error. */
int
forward_head_line(struct forward_head *h, const char *line, size_t len);

/* The wait a 429 or 503 answer asks for with Retry-After (RFC 9110
 * section 10.2.3: delay-seconds or an HTTP-date, against now), in ms;
 * 0 for other answers, without the field, or with a bad one. */
int64_t
forward_retry_after(const struct cgi_response *r, time_t now);

#endif
