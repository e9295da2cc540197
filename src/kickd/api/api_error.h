/* SPDX-License-Identifier: MIT */
/* The job API's errors, for api.c and follow.c alike. */
#ifndef KICKD_API_ERROR_H
#define KICKD_API_ERROR_H

struct conn;

/* An error of the job API: {"error": "reason"} as JSON (extra: more
 * header lines, such as a 405's Allow). Triggers and /metrics keep
 * kickd's text/plain answers. A reason may quote the request, whose
 * bytes need not be UTF-8: all but printable ASCII becomes '?'. */
void
api_error_reply(struct conn *c, int status, const char *reason,
                const char *extra);

#endif
