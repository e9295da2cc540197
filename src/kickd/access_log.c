/* SPDX-License-Identifier: MIT */
/* The access log: the Combined Log Format (Apache's "combined", nginx's
 * default) with the request's time in seconds and its job added:
 *
 *   127.0.0.1 - - [06/Dec/2026:23:40:01 +0000] "POST /report HTTP/1.1"
 *   202 25 "-" "curl/7.88.1" 0.002 job=42
 *
 * (one line). Bytes are the body's, as nginx's $body_bytes_sent; a quote,
 * a backslash and bytes outside printable ASCII are written \xHH, as nginx
 * does, so that a request cannot forge a line or a field. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access_log.h"

/* Opens what setting names into *fd and *path. */
static int
target_open(const char *setting, int *fd, char **path)
{
    *fd = -1;
    *path = NULL;
    if (setting == NULL || strcmp(setting, "off") == 0)
        return 0;
    if (strcmp(setting, "stderr") == 0) {
        *fd = STDERR_FILENO;
        return 0;
    }
    /* Close-on-exec: no script inherits the log. */
    int f = open(setting, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (f < 0)
        return -errno;
    if ((*path = strdup(setting)) == NULL) {
        close(f);
        return -ENOMEM;
    }
    *fd = f;
    return 0;
}

int
access_log_open(struct access_log *a, const char *setting)
{
    memset(a, 0, sizeof(*a));
    return target_open(setting, &a->fd, &a->path);
}

static void
target_close(struct access_log *a)
{
    if (a->path)
        close(a->fd);
    free(a->path);
    a->path = NULL;
    a->fd = -1;
}

int
access_log_reopen(struct access_log *a, const char *setting)
{
    int fd;
    char *path;

    /* What was logged before the signal goes to the old file (logrotate
     * has renamed it, and reads it after this). */
    access_log_flush(a);
    int r = target_open(setting, &fd, &path);
    if (r < 0)
        return r;
    target_close(a);
    a->fd = fd;
    a->path = path;
    return 0;
}

void
access_log_flush(struct access_log *a)
{
    size_t off = 0;

    while (a->fd >= 0 && off < a->len) {
        ssize_t n = write(a->fd, a->buf + off, a->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk or a closed stderr: the lines are lost */
        off += (size_t)n;
    }
    a->len = 0;
}

void
access_log_close(struct access_log *a)
{
    access_log_flush(a);
    target_close(a);
    free(a->buf);
    a->buf = NULL;
    a->cap = 0;
}

/* Appends n bytes of s, escaped; or "-" when s is NULL. */
static void
put_escaped(struct access_log *a, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = a->buf + a->len;

    if (s == NULL) {
        *o++ = '-';
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    a->len = (size_t)(o - a->buf);
}

static void
put(struct access_log *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends a formatted piece; the caller made room (at most 128 bytes). */
static void
put(struct access_log *a, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(a->buf + a->len, a->cap - a->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        a->len += (size_t)n < a->cap - a->len ? (size_t)n : 0;
}

/* The time of the line, made again at most once a second. */
static const char *
stamp(struct access_log *a)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now != a->stamp_sec || a->stamp[0] == '\0') {
        gmtime_r(&now, &tm);
        strftime(a->stamp, sizeof(a->stamp), "%d/%b/%Y:%H:%M:%S +0000", &tm);
        a->stamp_sec = now;
    }
    return a->stamp;
}

/* Makes room for need more bytes. Returns 0 or -1. */
static int
reserve(struct access_log *a, size_t need)
{
    if (a->len + need <= a->cap)
        return 0;
    size_t cap = a->cap ? a->cap : 2 * ACCESS_LOG_FLUSH_AT;
    while (cap < a->len + need)
        cap *= 2;
    char *b = realloc(a->buf, cap);
    if (b == NULL)
        return -1;
    a->buf = b;
    a->cap = cap;
    return 0;
}

void
access_log_add(struct access_log *a, const struct access_entry *e)
{
    const char *addr = e->remote_addr && e->remote_addr[0] ? e->remote_addr
                                                           : "-";

    if (a->fd < 0)
        return;
    /* Each escaped byte takes at most 4; the rest fits in 256. */
    size_t need = 256 + 4 * (e->method_len + e->target_len +
                             e->referer_len + e->user_agent_len) +
                  strlen(addr);
    if (reserve(a, need) < 0)
        return; /* out of memory: this line is lost, kickd goes on */
    put(a, "%s - - [%s] \"", addr, stamp(a));
    if (e->method) {
        put_escaped(a, e->method, e->method_len);
        put(a, " ");
        put_escaped(a, e->target, e->target_len);
        put(a, " HTTP/1.%d", e->minor_version);
    } else {
        put(a, "-");
    }
    put(a, "\" %d %" PRIu64 " \"", e->status, e->bytes);
    put_escaped(a, e->referer, e->referer_len);
    put(a, "\" \"");
    put_escaped(a, e->user_agent, e->user_agent_len);
    put(a, "\" %" PRIu64 ".%03" PRIu64, e->ns / 1000000000,
        e->ns / 1000000 % 1000);
    if (e->job >= 0)
        put(a, " job=%" PRId64 "\n", e->job);
    else
        put(a, " job=-\n");
    if (a->len >= ACCESS_LOG_FLUSH_AT)
        access_log_flush(a);
}
