/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 request parser (RFC 9112): a pure function over a buffer.
 * It copies nothing; every pointer it returns points into the caller's
 * buffer and stays valid as long as that buffer is unchanged. */
#ifndef KICKD_HTTP_PARSE_H
#define KICKD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kick_limits.h"

/* Return values besides a byte count. */
#define HTTP_INCOMPLETE (-1) /* need more bytes */
#define HTTP_BAD (-2)        /* rejected: see status and reason */

enum http_method {
    HTTP_OTHER = 0, /* a valid token that kickd does not implement: 501 */
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_PATCH,
    HTTP_OPTIONS,
    HTTP_TRACE,
    HTTP_CONNECT,
};

struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing whitespace removed */
    size_t value_len;
};

struct http_request {
    enum http_method method;
    const char *method_str;
    size_t method_len;
    const char *target; /* origin-form: path and query */
    size_t target_len;
    const char *path; /* target up to '?' */
    size_t path_len;
    const char *query; /* after '?', without it; empty if none */
    size_t query_len;
    int minor_version; /* HTTP/1.minor_version: 0 or 1 */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t header_count;

    /* Derived from the fields. */
    const char *host; /* NULL if none (allowed for HTTP/1.0 only) */
    size_t host_len;
    int64_t content_length; /* -1 if no Content-Length */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* after Connection and the version */
    bool expect_continue;   /* Expect: 100-continue */

    /* When HTTP_BAD is returned: the status to answer (400, 413, 414, 431,
     * 501, 505) and a short static reason. */
    int error_status;
    const char *error_reason;
};

/* Parses the request line and header fields at the start of buf. Returns
 * the length of the header block (through the empty line) on success,
 * HTTP_INCOMPLETE if buf holds only a prefix of a valid block, or HTTP_BAD
 * with req->error_status and req->error_reason set. Leading empty lines
 * are skipped (RFC 9112 section 2.2) and counted in the length. A body's
 * size is not checked here: see max_body in conn. */
ssize_t
http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Returns the first header named name (case-insensitive), or NULL. */
const struct http_header *
http_find_header(const struct http_request *req, const char *name);

/* The state of a chunked body decoder (RFC 9112 section 7.1). Zero it with
 * http_chunked_init before the first call. */
struct http_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk */
    uint64_t total;     /* body bytes so far */
    size_t line_len;    /* bytes of the current size or trailer line */
    size_t trailer_len; /* bytes of the trailer section so far */
    bool size_digits;   /* the current size line has a digit */
    bool done;          /* the last chunk and trailers are read */
    int error_status;   /* set with HTTP_BAD: 400 or 413 */
    const char *error_reason;
};

void
http_chunked_init(struct http_chunked *c);

/* Decodes from buf. Returns the bytes consumed (0 <= n <= len), or HTTP_BAD
 * (bad chunk size or framing, or body over max_body). When body bytes are
 * among those consumed, *data and *data_len name one span of them (inside
 * buf); otherwise *data_len is 0. Call again with the rest of buf until it
 * consumes nothing or c->done is set; the bytes after the body belong to
 * the next request. */
ssize_t
http_chunked_parse(struct http_chunked *c, const char *buf, size_t len,
                   uint64_t max_body, const char **data, size_t *data_len);

/* Whether c is a tchar (RFC 9110 section 5.6.2): a byte of a token such
 * as a method or a field name. */
int
http_is_tchar(unsigned char c);

/* Whether the n bytes at s are the field name lit, ignoring case. */
int
http_name_is(const char *s, size_t n, const char *lit);

/* The reason phrase for a status code ("Not Found"), or "Unknown". */
const char *
http_status_reason(int status);

#endif
