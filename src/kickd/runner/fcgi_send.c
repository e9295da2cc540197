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
 * the PARAMS stream of env and PHP_VALUE, with room for extra bytes
 * after it. */
static int
head_format(struct fcgi_send *s, const struct cgi_request *cr,
            char *const *env, size_t extra)
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
    s->head = malloc(FCGI_RECORD_SIZE(8) + (size_t)size + extra);
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

/* The bytes of the whole STDIN stream when it is known at the start: the
 * empty record alone for a request without a body, the records of
 * cr->body then the empty one for a body at hand (a job's); 0 for a body
 * still to come. */
static size_t
stdin_known_size(const struct cgi_request *cr)
{
    if (cr->content_length <= 0)
        return FCGI_HEADER_LEN;
    if (cr->body == NULL)
        return 0;
    return fcgi_stdin_size((size_t)cr->content_length) + FCGI_HEADER_LEN;
}

int
fcgi_send_init(struct fcgi_send *s, const struct cgi_request *cr,
               char *const *env)
{
    size_t known = stdin_known_size(cr);
    int r;

    s->replayable = true;
    if ((r = head_format(s, cr, env, known)) < 0 || known == 0)
        return r;
    /* The whole STDIN stream goes with the head, in one write. */
    unsigned char *p = (unsigned char *)s->head + s->head_len;
    size_t n = 0;
    if (cr->content_length > 0)
        n = fcgi_stdin_format(p, FCGI_REQUEST_ID, cr->body,
                              (size_t)cr->content_length);
    n += fcgi_record_format(p + n, FCGI_STDIN, FCGI_REQUEST_ID, NULL, 0);
    s->head_len += n;
    s->ended = true;
    /* As for a body that comes in pieces: a longer one is not sent
     * again (FCGI_REPLAY_MAX). */
    if (n > FCGI_REPLAY_MAX)
        s->replayable = false;
    return 0;
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

/* Bytes with no body bytes among them go to the socket at once when it
 * takes them all: no write request, so no completion (libuv's would
 * also rearm the socket in epoll, a system call). libuv refuses while
 * earlier writes are queued, so the order holds; a failure is left to
 * the write request that follows, to come as any other. Returns the
 * buffers left (those of b moved past the bytes written). */
static unsigned
write_now(struct fcgi_send *s, uv_buf_t *b, unsigned n)
{
    int r = uv_try_write(s->stream, b, n);
    unsigned i = 0;

    for (size_t done = r > 0 ? (size_t)r : 0; i < n && done > 0;) {
        if (done >= b[i].len) {
            done -= b[i].len;
            i++;
        } else {
            b[i].base += done;
            b[i].len -= done;
            done = 0;
        }
    }
    memmove(b, b + i, (n - i) * sizeof(*b));
    return n - i;
}

/* Writes the n buffers of b to the stream in one write; owned (may be
 * NULL) is freed once they are written, and payload of their bytes are
 * body bytes, counted as queued: those go through a write request,
 * whose completion frees room in the body queue (written_cb). 0 or a
 * negative errno. */
static int
write_bufs(struct fcgi_send *s, uv_buf_t *b, unsigned n, char *owned,
           size_t payload)
{
    struct fcgi_write *w;
    int r = -ENOMEM;

    if (payload == 0 && (n = write_now(s, b, n)) == 0) {
        free(owned);
        return 0;
    }
    if ((w = malloc(sizeof(*w))) != NULL) {
        *w = (struct fcgi_write){
            .s = s, .gen = s->gen, .data = owned, .payload = payload};
        r = uv_write(&w->req, s->stream, b, n, write_cb);
    }
    if (r < 0) {
        free(owned);
        free(w);
        s->queued -= payload;
        return r;
    }
    s->writes++;
    return 0;
}

/* Writes len bytes of data (owned); payload of them are body bytes. */
static int
write_owned(struct fcgi_send *s, char *data, size_t len, size_t payload)
{
    uv_buf_t b = uv_buf_init(data, (unsigned)len);

    return write_bufs(s, &b, 1, data, payload);
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
    /* The head is s's until fcgi_send_close, after every write. */
    uv_buf_t b[2] = {uv_buf_init(s->head, (unsigned)s->head_len)};
    char *more = NULL;
    size_t payload = 0;

    s->stream = stream;
    s->gen++;
    /* The head and what was held, in one write. What was held went out
     * the first time; a second sending takes all of it from the copy,
     * which may still grow or go. */
    if (again && s->replay.len > 0) {
        if ((more = malloc(s->replay.len)) == NULL)
            return -ENOMEM;
        memcpy(more, s->replay.p, s->replay.len);
        b[1] = uv_buf_init(more, (unsigned)s->replay.len);
    } else if (s->pend.len > 0) {
        more = s->pend.p;
        b[1] = uv_buf_init(more, (unsigned)s->pend.len);
        payload = s->pend_payload;
        s->pend = (struct fcgi_bytes){0};
        s->pend_payload = 0;
    }
    return write_bufs(s, b, more ? 2 : 1, more, payload);
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
