/* SPDX-License-Identifier: MIT */
/* Formatting of kickd's own responses: the Date value and whole answers. */
#include <stdio.h>
#include <string.h>

#include "http_parse.h"
#include "http_response.h"

const char *
http_date_now(struct http_date *d)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now != d->when) {
        d->when = now;
        gmtime_r(&now, &tm);
        strftime(d->text, sizeof(d->text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    }
    return d->text;
}

size_t
http_format_answer(char *out, size_t cap, int status, const char *ctype,
                   const char *body, size_t blen, const char *date,
                   const char *connection, bool head, const char *extra)
{
    /* RFC 9110 section 8.6: a 204 has no Content-Length (nor a body);
     * a 304 may have one only if it is the 200's (section 15.4.5: its
     * fields are the validators and caching ones), so it has none. */
    bool none = status == 204 || status == 304;
    char length[48] = "";

    if (!none)
        snprintf(length, sizeof(length), "Content-Length: %zu\r\n", blen);
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Server: kickd/" KICK_VERSION "\r\n"
                     "Date: %s\r\n"
                     "%s%s%s%s"
                     "%s%s%s%s\r\n",
                     status, http_status_reason(status), date,
                     none ? "" : "Content-Type: ", none ? "" : ctype,
                     none ? "" : "\r\n", length,
                     connection ? "Connection: " : "",
                     connection ? connection : "",
                     connection ? "\r\n" : "", extra ? extra : "");
    if (n < 0 || (size_t)n + (head ? 0 : blen) > cap)
        return 0;
    if (!head) {
        memcpy(out + n, body, blen);
        n += (int)blen;
    }
    return (size_t)n;
}

size_t
http_error_text(char *out, size_t cap, int status, const char *detail)
{
    int n = snprintf(out, cap, "%d %s%s%s\n", status,
                     http_status_reason(status), detail ? ": " : "",
                     detail ? detail : "");

    if (n < 0 || (size_t)n >= cap)
        return cap - 1;
    return (size_t)n;
}
