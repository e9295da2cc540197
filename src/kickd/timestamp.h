/* SPDX-License-Identifier: MIT */
/* Points in time from outside input: an RFC 3339 date-time or a count of
 * milliseconds since the epoch, as the job API's created_after= and
 * created_before= take them. */
#ifndef KICKD_TIMESTAMP_H
#define KICKD_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

/* Longest accepted text: a date-time with 9 digits of fraction and an
 * offset is 35 characters; more is not a time. */
#define TIMESTAMP_MAX_LEN 40

/* Parses the n bytes at s (not NUL-terminated): digits only are ms since
 * the epoch (at most year 9999); else an RFC 3339 date-time
 * ("2026-12-06T10:00:00Z", "2026-12-06T10:00:00.250+01:00"; 't' or ' '
 * for 'T', 'z' for 'Z'; a fraction beyond ms is cut; second 60, a leap
 * second, is the next second). 0 with *ms set, or -1 if it is neither or
 * names a day that does not exist or a time outside 1970-9999 (UTC). */
int
timestamp_parse(const char *s, size_t n, int64_t *ms);

#endif
