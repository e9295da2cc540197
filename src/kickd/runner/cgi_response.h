/* SPDX-License-Identifier: MIT */
/* The CGI response header reader (RFC 3875 section 6): parses the header
 * block a script writes before its body. Pure; copies nothing. */
#ifndef KICKD_CGI_RESPONSE_H
#define KICKD_CGI_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http_parse.h"
#include "kick_limits.h"

#define CGI_INCOMPLETE (-1)
#define CGI_BAD (-2)

struct cgi_response {
    int status;         /* from Status:, else 302 with Location, else 200 */
    const char *reason; /* from Status: after the code; NULL if none */
    size_t reason_len;
    const char *location; /* NULL if none */
    size_t location_len;
    bool has_content_type;
    int64_t content_length; /* -1 if the script sent none */
    /* Every field except Status (which becomes the status line); the
     * caller copies them to the response. */
    struct http_header headers[CGI_MAX_HEADERS];
    size_t header_count;
    const char *error; /* short static reason with CGI_BAD */
};

/* Parses the header block at the start of buf. Lines end in LF or CRLF;
 * the block ends at an empty line. Returns the bytes of the block
 * (through the empty line), CGI_INCOMPLETE, or CGI_BAD with r->error set:
 * a line that is not a field, a bad Status, no Content-Type, Location or
 * Status field at all, or a block over CGI_MAX_HEADER_BYTES. */
ssize_t
cgi_response_parse(const char *buf, size_t len, struct cgi_response *r);

/* A Content-Length value: 1 to 18 digits, nothing else. 0, or -1. */
int
cgi_response_length_parse(const char *v, size_t n, int64_t *out);

#endif
