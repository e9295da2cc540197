/* SPDX-License-Identifier: MIT */
/* Formatting of kickd's own responses: the Date value and whole answers. */
#ifndef KICKD_HTTP_RESPONSE_H
#define KICKD_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* An IMF-fixdate (RFC 9110 section 5.6.7) of now, recomputed at most once
 * a second into the caller's cache. */
struct http_date {
    time_t when;
    char text[40];
};

const char *
http_date_now(struct http_date *d);

/* Formats a complete response with the body (blen bytes of type ctype)
 * into out (size cap): without the body (its length still given) for
 * HEAD or when the caller sends it apart, with a Connection field when
 * connection is not NULL, and with extra (CRLF-terminated header lines,
 * or NULL). Returns its length, or 0 if it does not fit. */
size_t
http_format_answer(char *out, size_t cap, int status, const char *ctype,
                   const char *body, size_t blen, const char *date,
                   const char *connection, bool head, const char *extra);

/* Writes kickd's error text "STATUS Reason: detail\n" (without ": detail"
 * when detail is NULL) into out (size cap > 0), cut to fit. Returns its
 * length. */
size_t
http_error_text(char *out, size_t cap, int status, const char *detail);

#endif
