/* SPDX-License-Identifier: MIT */
/* The access log: one line per request, in the Combined Log Format with
 * the time taken and the job id added, to stderr, a file, or nowhere. */
#ifndef KICKD_ACCESS_LOG_H
#define KICKD_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Lines are gathered in a buffer and written with one write(2) per loop
 * turn (access_log_flush), or sooner when ACCESS_LOG_FLUSH_AT bytes wait:
 * a line costs no system call of its own, and lines of one kickd never
 * interleave with each other. */
#define ACCESS_LOG_FLUSH_AT 65536 /* bytes */

struct access_log {
    int fd;        /* -1: off */
    char *path;    /* the file, or NULL for stderr and off */
    char *buf;     /* lines not yet written */
    size_t len, cap;
    time_t stamp_sec; /* the second stamp was made for */
    char stamp[32];   /* "06/Dec/2026:23:40:01 +0000" */
};

/* One request as the log sees it. Strings are borrowed for the call; a
 * NULL one is logged as "-". */
struct access_entry {
    const char *remote_addr;
    const char *method, *target; /* NULL: the head did not parse */
    size_t method_len, target_len;
    int minor_version;           /* HTTP/1.x */
    int status;
    uint64_t bytes;              /* body bytes sent */
    const char *referer, *user_agent;
    size_t referer_len, user_agent_len;
    uint64_t ns;                 /* from the request to its end */
    int64_t job;                 /* the job a trigger made, or -1 */
};

/* Opens the log for setting: "stderr", "off" or a file's path (created
 * 0640 if missing, appended to). Returns 0, or a negative errno (the file
 * cannot be opened; a is then off). */
int
access_log_open(struct access_log *a, const char *setting);

/* SIGHUP: the file is opened again (after logrotate moved it), or the log
 * follows a changed setting. Returns 0 or a negative errno (the log keeps
 * its old file). */
int
access_log_reopen(struct access_log *a, const char *setting);

/* Adds e's line; flushes when enough waits. */
void
access_log_add(struct access_log *a, const struct access_entry *e);

/* Writes what waits. */
void
access_log_flush(struct access_log *a);

/* Flushes and closes. */
void
access_log_close(struct access_log *a);

#endif
