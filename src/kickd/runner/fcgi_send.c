/* SPDX-License-Identifier: MIT */
/* A FastCGI request's bytes on their way to its pool: made, held,
 * written, counted for backpressure, and kept for a second sending. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"
#include "fcgi_record.h"
#include "fcgi_send.h"
#include "kick_limits.h"

struct fcgi_write {
    uv_write_t req;
    struct fcgi_send *s;
    unsigned gen;   /* s->gen when written */
    char *data;
    size_t payload; /* body bytes in data */
};

static int
bytes_add(struct fcgi_bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL)
            return -ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void
bytes_free(struct fcgi_bytes *b)
{
    free(b->p);
    *b = (struct fcgi_bytes){0};
}

/* PHP_VALUE: ini settings for this request, after the route's own
 * PHP_VALUE if its env has one: ignore_user_abort=1 when the route turns
 * it on, max_execution_time when the route sets a time limit (PHP counts
 * CPU time, kickd wall-clock time, so kickd's comes first). Nothing is
 * sent for a route that sets neither: PHP-FPM leaves a request's
 * PHP_VALUE in its worker for the requests that follow, a web server's
 * included, so kickd changes a shared pool's settings only where a route
 * asks it to (README, "The fastcgi runner"). NULL with *none set when
 * there is nothing to send; NULL alone on ENOMEM. */
static char *
php_value_format(const struct cgi_request *cr, const char *user, bool *none)
{
    const struct cfg_route *rt = cr->route;
    char ours[80] = "";
    size_t n = 0;

    if (rt->ignore_user_abort)
        n += (size_t)snprintf(ours, sizeof(ours), "ignore_user_abort=1");
    if (rt->time_limit >= 0)
        n += (size_t)snprintf(ours + n, sizeof(ours) - n,
                              "%smax_execution_time=%d", n ? "\n" : "",
                              rt->time_limit);
    *none = n == 0 && user == NULL;
    if (*none)
        return NULL;
    size_t ulen = user ? strlen(user) : 0;
    char *v = malloc(10 + ulen + 1 + n + 1);
    if (v == NULL)
        return NULL;
    memcpy(v, "PHP_VALUE=", 10);
    memcpy(v + 10, user ? user : "", ulen);
    size_t at = 10 + ulen;
    if (user && n)
        v[at++] = '\n';
    memcpy(v + at, ours, n + 1);
    return v;
}

/* The head: FCGI_BEGIN_REQUEST (a Responder, the connection kept) and
 * the PARAMS stream of env and PHP_VALUE. */
static int
head_format(struct fcgi_send *s, const struct cgi_request *cr,
            char *const *env)
{
    const char *user = NULL;
    size_t n = 0, k = 0;
    int r = -ENOMEM;

    while (env[n]) {
        if (strncmp(env[n], "PHP_VALUE=", 10) == 0)
            user = env[n] + 10;
        n++;
    }
    bool none;
    char *php = php_value_format(cr, user, &none);
    char **pairs = malloc((n + 2) * sizeof(char *));
    if ((php == NULL && !none) || pairs == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], "PHP_VALUE=", 10) != 0)
            pairs[k++] = env[i];
    if (php)
        pairs[k++] = php;
    pairs[k] = NULL;
    ssize_t size = fcgi_params_size(pairs);
    if (size < 0) {
        r = (int)size;
        goto out;
    }
    s->head = malloc(FCGI_RECORD_SIZE(8) + (size_t)size);
    if (s->head == NULL)
        goto out;
    unsigned char *h = (unsigned char *)s->head;
    s->head_len = fcgi_begin_request_format(h, FCGI_REQUEST_ID, true);
    s->head_len += fcgi_params_format(h + s->head_len, FCGI_REQUEST_ID, pairs);
    r = 0;
out:
    free(pairs);
    free(php);
    return r;
}

int
fcgi_send_init(struct fcgi_send *s, const struct cgi_request *cr,
               char *const *env)
{
    s->replayable = true;
    return head_format(s, cr, env);
}

void
fcgi_send_close(struct fcgi_send *s)
{
    free(s->head);
    bytes_free(&s->pend);
    bytes_free(&s->replay);
}

static void
write_cb(uv_write_t *req, int status)
{
    struct fcgi_write *w = (struct fcgi_write *)req;
    struct fcgi_send *s = w->s;
    bool mine = s->stream && w->gen == s->gen;
    bool was_full = s->queued >= CGI_MAX_STDIN_QUEUE;

    s->writes--;
    s->queued -= w->payload;
    free(w->data);
    free(w);
    if (mine && status < 0 && status != UV_ECANCELED)
        s->error_cb(s, status);
    s->written_cb(s, was_full);
}

/* Writes len bytes of data (owned) to the stream; payload of them are
 * body bytes, counted as queued. 0 or a negative errno. */
static int
write_owned(struct fcgi_send *s, char *data, size_t len, size_t payload)
{
    struct fcgi_write *w = malloc(sizeof(*w));
    int r = -ENOMEM;

    if (w) {
        *w = (struct fcgi_write){
            .s = s, .gen = s->gen, .data = data, .payload = payload};
        uv_buf_t b = uv_buf_init(data, (unsigned)len);
        r = uv_write(&w->req, s->stream, &b, 1, write_cb);
    }
    if (r < 0) {
        free(data);
        free(w);
        s->queued -= payload;
        return r;
    }
    s->writes++;
    return 0;
}

static int
write_copy(struct fcgi_send *s, const char *data, size_t len)
{
    char *copy = malloc(len);

    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, data, len);
    return write_owned(s, copy, len, 0);
}

/* STDIN records (rec, owned): written, or held until a stream comes; a
 * copy stays while a second sending may need it. */
static int
queue(struct fcgi_send *s, char *rec, size_t n, size_t payload)
{
    int r;

    if (s->replayable && (s->replay.len + n > FCGI_REPLAY_MAX ||
                          bytes_add(&s->replay, rec, n) < 0))
        fcgi_send_drop_replay(s);
    s->queued += payload;
    if (s->stream)
        return write_owned(s, rec, n, payload);
    r = bytes_add(&s->pend, rec, n);
    free(rec);
    if (r < 0) {
        s->queued -= payload;
        return r;
    }
    s->pend_payload += payload;
    return 0;
}

int
fcgi_send_stdin(struct fcgi_send *s, const char *buf, size_t len)
{
    size_t n = fcgi_stdin_size(len);
    char *rec;

    if (len == 0 || s->ended)
        return 0;
    if ((rec = malloc(n)) == NULL)
        return -ENOMEM;
    fcgi_stdin_format((unsigned char *)rec, FCGI_REQUEST_ID, buf, len);
    return queue(s, rec, n, len);
}

int
fcgi_send_stdin_end(struct fcgi_send *s)
{
    char *rec;

    if (s->ended)
        return 0;
    s->ended = true;
    if ((rec = malloc(FCGI_HEADER_LEN)) == NULL)
        return -ENOMEM;
    fcgi_record_format((unsigned char *)rec, FCGI_STDIN, FCGI_REQUEST_ID,
                       NULL, 0);
    return queue(s, rec, FCGI_HEADER_LEN, 0);
}

int
fcgi_send_start(struct fcgi_send *s, uv_stream_t *stream, bool again)
{
    int r;

    s->stream = stream;
    s->gen++;
    r = write_copy(s, s->head, s->head_len);
    if (r < 0)
        return r;
    /* What was held went out the first time; a second sending takes
     * all of it from the copy. */
    if (again && s->replay.len > 0)
        return write_copy(s, s->replay.p, s->replay.len);
    if (s->pend.len == 0)
        return 0;
    r = write_owned(s, s->pend.p, s->pend.len, s->pend_payload);
    s->pend = (struct fcgi_bytes){0};
    s->pend_payload = 0;
    return r;
}

void
fcgi_send_stop(struct fcgi_send *s)
{
    s->stream = NULL;
    s->gen++;
}

void
fcgi_send_drop_replay(struct fcgi_send *s)
{
    s->replayable = false;
    bytes_free(&s->replay);
}

bool
fcgi_send_can_replay(const struct fcgi_send *s)
{
    return s->replayable;
}

bool
fcgi_send_is_flushed(const struct fcgi_send *s)
{
    return s->stream && uv_stream_get_write_queue_size(s->stream) == 0;
}

bool
fcgi_send_is_idle(const struct fcgi_send *s)
{
    return s->writes == 0;
}
