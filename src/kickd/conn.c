/* SPDX-License-Identifier: MIT */
/* One client connection: reads a request head, checks it, runs the route's
 * script attached to the connection, feeds it the body and streams its
 * response back; then the next request (keep-alive, pipelining). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ctl.h"
#include "run.h"
#include "conn.h"
#include "http_parse.h"
#include "kick_limits.h"
#include "log.h"
#include "srv.h"

/* The read buffer holds one request head (at most HTTP_MAX_HEADER_BYTES)
 * plus room to read body bytes and pipelined requests behind it. */
#define CONN_BUF_SIZE (HTTP_MAX_HEADER_BYTES + 16384)

/* How long a closing connection keeps reading and dropping what the client
 * still sends, so that its unread bytes do not turn our close into a reset
 * that destroys the answer before it is read (nginx's lingering close). */
#define CONN_LINGER_TIME 2000 /* ms */

enum conn_state {
    C_HEAD,     /* reading a request head */
    C_BODY,     /* reading the body towards the script */
    C_RESPONSE, /* the body is read; the script answers */
    C_LINGER,   /* answered; the write side is shut; draining input */
};

enum conn_timer {
    T_NONE,
    T_HEADER, /* the head must be complete in time */
    T_IDLE,   /* keep-alive: nothing has arrived since the last answer */
    T_BODY,   /* the next body bytes must arrive in time */
    T_LINGER,
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    struct srv *srv;
    struct conn *prev, *next;
    struct conn *flush_next; /* in srv's list of conns with staged bytes */
    bool flush_queued;
    struct conn_write *stage; /* bytes waiting for the flush check */
    uint64_t id;
    enum conn_state state;
    enum conn_timer timer_kind;
    int handles; /* open libuv handles; the conn is freed at 0 */
    bool closing;
    bool reading;
    bool draining;     /* kickd stops: close after this response */
    bool keep_alive;   /* after this response, read the next request */
    bool stdin_full;   /* reading paused: the script's stdin is full */

    /* The current request; its head is at the start of buf. */
    struct http_request req;
    size_t head_len;
    struct route_table *routes;
    const struct cfg_route *route;
    char *path; /* decoded path */
    int64_t body_left; /* Content-Length bytes still to read */
    bool chunked;
    bool gather; /* the body is kept in c->body, not streamed */
    bool api;    /* the request is for kickd's control endpoint */
    bool detach; /* the request becomes a detached job */
    bool preferred; /* ... because of Prefer: respond-async */
    bool in_process; /* inside process(): it goes on by itself */
    struct api_pending *pending; /* an answer waiting for the store */
    int64_t body_max;
    struct http_chunked ch;
    char *body; /* a chunked body, gathered to learn its length */
    size_t body_len, body_cap;

    /* The response. */
    struct run *run;
    bool head_sent;
    bool resp_chunked;
    bool resp_no_body;
    bool resp_done;
    int64_t resp_left; /* bytes the script's Content-Length still allows */
    size_t write_queued;

    char remote_addr[64];
    int remote_port;
    char local_addr[64];
    int local_port;
    size_t len; /* bytes in buf */
    char buf[CONN_BUF_SIZE];
};

/* Writes made during one turn of the loop are gathered and handed to the
 * socket together when the turn's I/O is done (srv's flush check): a small
 * answer (head, body, last chunk) leaves as one segment. */
#define CONN_STAGE_PARTS 8 /* pieces (head, chunks) in one write */

struct conn_write {
    uv_write_t req;
    struct conn *c;
    size_t bytes;
    unsigned nbufs, nowned, nlines;
    uv_buf_t bufs[4 * CONN_STAGE_PARTS];
    char *owned[2 * CONN_STAGE_PARTS]; /* freed when written */
    char lines[CONN_STAGE_PARTS][24];  /* chunk-size lines */
};

static void process(struct conn *c);
static void request_done(struct conn *c);
static void read_start(struct conn *c);
static void api_call(struct conn *c);

static void
handle_close_cb(uv_handle_t *h)
{
    struct conn *c = h->data;

    if (--c->handles == 0)
        free(c);
}

void
conn_close(struct conn *c)
{
    struct srv *s = c->srv;

    if (c->closing)
        return;
    c->closing = true;
    if (c->stage) {
        for (unsigned i = 0; i < c->stage->nowned; i++)
            free(c->stage->owned[i]);
        c->write_queued -= c->stage->bytes;
        free(c->stage);
        c->stage = NULL;
    }
    if (c->pending) {
        api_abandon(c->pending);
        c->pending = NULL;
    }
    if (c->flush_queued) {
        struct conn **p = &s->flushes;
        while (*p != c)
            p = &(*p)->flush_next;
        *p = c->flush_next;
        c->flush_queued = false;
    }
    /* The client is gone: to a script still running, an abort. */
    if (c->run) {
        run_abort(c->run);
        c->run = NULL;
    }
    free(c->body);
    c->body = NULL;
    free(c->path);
    c->path = NULL;
    route_table_unref(c->routes);
    c->routes = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->conn_count--;
    uv_close((uv_handle_t *)&c->timer, handle_close_cb);
    uv_close((uv_handle_t *)&c->tcp, handle_close_cb);
}

static void
timer_cb(uv_timer_t *t);

static void
timer_set(struct conn *c, enum conn_timer kind)
{
    const struct cfg *cfg = c->srv->cfg;
    int ms = 0;

    if (c->timer_kind == kind)
        return;
    c->timer_kind = kind;
    switch (kind) {
    case T_NONE:
        uv_timer_stop(&c->timer);
        return;
    case T_HEADER:
        ms = cfg->header_timeout;
        break;
    case T_IDLE:
        ms = cfg->idle_timeout;
        break;
    case T_BODY:
        ms = cfg->body_timeout;
        break;
    case T_LINGER:
        ms = CONN_LINGER_TIME;
        break;
    }
    uv_timer_start(&c->timer, timer_cb, (uint64_t)ms, 0);
}

static void
write_cb(uv_write_t *req, int status)
{
    struct conn_write *w = (struct conn_write *)req;
    struct conn *c = w->c;

    c->write_queued -= w->bytes;
    for (unsigned i = 0; i < w->nowned; i++)
        free(w->owned[i]);
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        if (status != UV_ECANCELED)
            log_info("conn %" PRIu64 ": write failed: %s", c->id,
                     uv_strerror(status));
        conn_close(c);
        return;
    }
    if (c->run && c->write_queued < CONN_MAX_WRITE_QUEUE / 2)
        run_resume(c->run);
}

/* Hands the staged bytes to the socket. */
static void
conn_flush(struct conn *c)
{
    struct conn_write *w = c->stage;

    if (w == NULL)
        return;
    c->stage = NULL;
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, w->bufs, w->nbufs,
                     write_cb);
    if (r < 0) {
        c->write_queued -= w->bytes;
        for (unsigned i = 0; i < w->nowned; i++)
            free(w->owned[i]);
        free(w);
        conn_close(c);
    }
}

void
conn_flush_all(struct srv *s)
{
    struct conn *c;

    while ((c = s->flushes) != NULL) {
        s->flushes = c->flush_next;
        c->flush_next = NULL;
        c->flush_queued = false;
        conn_flush(c);
    }
}

/* Stages head (hlen bytes, may be NULL; freed once written) and then len
 * bytes at data; owned (may be NULL) is freed once written. With chunk
 * set, data goes out as one chunk (RFC 9112 section 7.1). */
static void
conn_write_head(struct conn *c, char *head, size_t hlen, char *owned,
                const char *data, size_t len, bool chunk)
{
    struct conn_write *w = c->stage;

    if (w && w->nlines == CONN_STAGE_PARTS) {
        conn_flush(c);
        w = NULL;
        if (c->closing) {
            free(head);
            free(owned);
            return;
        }
    }
    if (w == NULL) {
        w = malloc(sizeof(*w));
        if (w == NULL) {
            free(head);
            free(owned);
            conn_close(c);
            return;
        }
        w->c = c;
        w->bytes = 0;
        w->nbufs = w->nowned = w->nlines = 0;
        c->stage = w;
        if (!c->flush_queued) {
            c->flush_queued = true;
            c->flush_next = c->srv->flushes;
            c->srv->flushes = c;
            srv_flush_soon(c->srv);
        }
    }
    if (head) {
        w->bufs[w->nbufs++] = uv_buf_init(head, (unsigned)hlen);
        w->owned[w->nowned++] = head;
    }
    if (owned)
        w->owned[w->nowned++] = owned;
    char *line = w->lines[w->nlines++];
    if (chunk && len > 0) {
        int k = snprintf(line, 24, "%zx\r\n", len);
        w->bufs[w->nbufs++] = uv_buf_init(line, (unsigned)k);
    }
    if (len > 0)
        w->bufs[w->nbufs++] = uv_buf_init((char *)data, (unsigned)len);
    if (chunk && len > 0)
        w->bufs[w->nbufs++] = uv_buf_init("\r\n", 2);
    w->bytes += hlen + len;
    c->write_queued += hlen + len;
}

static void
conn_write(struct conn *c, char *owned, const char *data, size_t len,
           bool chunk)
{
    conn_write_head(c, NULL, 0, owned, data, len, chunk);
}

static void
write_copy(struct conn *c, const char *data, size_t len)
{
    char *copy = malloc(len);

    if (copy == NULL) {
        conn_close(c);
        return;
    }
    memcpy(copy, data, len);
    conn_write(c, copy, copy, len, false);
}

static void
shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

/* Ends the connection after what is queued: shut the write side, then
 * read and drop input until the client closes or CONN_LINGER_TIME. */
static void
linger(struct conn *c)
{
    if (c->closing || c->state == C_LINGER)
        return;
    if (c->run) {
        run_abort(c->run);
        c->run = NULL;
    }
    c->state = C_LINGER;
    c->len = 0;
    c->head_len = 0;
    timer_set(c, T_LINGER);
    /* uv_shutdown waits for queued writes, not for staged ones. */
    conn_flush(c);
    if (c->closing)
        return;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_cb) < 0) {
        conn_close(c);
        return;
    }
    if (!c->reading) {
        c->reading = true;
        c->stdin_full = false;
        read_start(c);
    }
}

/* Answers with a text body. With keep set and the request's body fully
 * read, the connection goes on to the next request; otherwise it closes
 * once the answer is out. */
static void
respond_text(struct conn *c, int status, const char *text, size_t len,
             const char *extra, bool keep)
{
    char out[1024 + API_MAX_REPLY];
    bool close = !keep || !c->keep_alive;
    bool head = c->head_len > 0 && c->req.method == HTTP_HEAD;
    const char *connection = close ? "close"
                             : c->req.minor_version == 0 ? "keep-alive"
                                                         : NULL;
    size_t n = http_format_text(out, sizeof(out), status, text, len,
                                http_date_now(&c->srv->date), connection,
                                head, extra);
    write_copy(c, out, n);
    if (c->closing)
        return;
    if (close) {
        linger(c);
        return;
    }
    c->resp_done = true;
    request_done(c);
}

/* Answers with kickd's own "STATUS Reason: detail" response. */
static void
respond(struct conn *c, int status, const char *detail, const char *extra,
        bool keep)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "%d %s%s%s\n", status,
                     http_status_reason(status), detail ? ": " : "",
                     detail ? detail : "");

    if (n < 0 || n >= (int)sizeof(text))
        n = (int)sizeof(text) - 1;
    if (status >= 400)
        log_info("conn %" PRIu64 ": %d %s", c->id, status,
                 detail ? detail : http_status_reason(status));
    respond_text(c, status, text, (size_t)n, extra, keep);
}

/* An answer that does not run a script: keep-alive only if no body is
 * announced (kickd does not read bodies it has no use for). */
static void
respond_early(struct conn *c, int status, const char *detail,
              const char *extra)
{
    bool no_body = c->req.content_length <= 0 && !c->req.chunked;

    respond(c, status, detail, extra, no_body);
}

static void
timer_cb(uv_timer_t *t)
{
    struct conn *c = t->data;
    enum conn_timer kind = c->timer_kind;

    c->timer_kind = T_NONE;
    switch (kind) {
    case T_HEADER:
        if (c->len == 0) {
            conn_close(c);
            break;
        }
        c->keep_alive = false;
        respond(c, 408, "request head not received in time", NULL, false);
        break;
    case T_BODY:
        c->keep_alive = false;
        if (c->head_sent) {
            conn_close(c);
            break;
        }
        if (c->run) {
            run_abort(c->run);
            c->run = NULL;
        }
        respond(c, 408, "request body not received in time", NULL, false);
        break;
    case T_IDLE:
    case T_LINGER:
        conn_close(c);
        break;
    case T_NONE:
        break;
    }
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)suggested;
    if (c->state == C_LINGER) {
        buf->base = c->buf;
        buf->len = sizeof(c->buf);
        return;
    }
    buf->base = c->buf + c->len;
    buf->len = sizeof(c->buf) - c->len;
}

static void
read_stop(struct conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;

    (void)buf;
    if (c->closing)
        return;
    if (nread < 0) {
        /* The client closed or reset the connection. While a script runs
         * this is an abort (PRODUCT.md, "Connection state"); a client that
         * only shuts its sending side looks the same and is treated the
         * same, as nginx does. */
        if (c->run && nread != UV_EOF)
            log_info("conn %" PRIu64 ": %s", c->id, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    if (c->state == C_LINGER)
        return;
    c->len += (size_t)nread;
    if (c->state == C_BODY)
        uv_timer_again(&c->timer); /* body_timeout is between reads */
    process(c);
}

static void
read_start(struct conn *c)
{
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* Reading goes on unless the buffer is full (a pipelined request waits
 * behind the current one) or the script's stdin is. */
static void
read_update(struct conn *c)
{
    bool want = !c->closing && c->len < sizeof(c->buf) && !c->stdin_full;

    if (want && !c->reading) {
        c->reading = true;
        read_start(c);
    } else if (!want) {
        read_stop(c);
    }
}

/* Holds the body to the script's own Content-Length: more would be read
 * by the client as the next response. */
static size_t
body_cap(struct conn *c, size_t len, struct run *g)
{
    if (c->resp_left >= 0 && (int64_t)len > c->resp_left) {
        log_warn("conn %" PRIu64 ": script %d wrote more than its "
                 "Content-Length; the rest is dropped",
                 c->id, run_pid(g));
        len = (size_t)c->resp_left;
    }
    if (c->resp_left > 0)
        c->resp_left -= (int64_t)len;
    return len;
}

static void
run_head_cb(struct run *g, const struct cgi_response *r, char *body,
            size_t len)
{
    struct conn *c = run_data(g);
    const struct http_request *req = &c->req;
    int status = r->status;
    bool has_server = false;

    c->resp_no_body = req->method == HTTP_HEAD || status < 200 ||
                      status == 204 || status == 304;
    c->resp_left = r->content_length;
    c->resp_chunked = false;
    if (r->content_length < 0 && !(status < 200 || status == 204 ||
                                   status == 304)) {
        if (req->minor_version >= 1)
            c->resp_chunked = true;
        else
            c->keep_alive = false; /* HTTP/1.0: the close ends the body */
    }
    /* A script that answers before its body is read: the rest of the body
     * cannot be told apart from the next request without reading it all. */
    if (c->state == C_BODY)
        c->keep_alive = false;

    size_t cap = 512 + CGI_MAX_HEADER_BYTES + r->header_count * 4;
    char *out = malloc(cap);
    if (out == NULL) {
        conn_close(c);
        return;
    }
    size_t n = (size_t)snprintf(out, cap, "HTTP/1.1 %d ", status);
    if (r->reason) {
        memcpy(out + n, r->reason, r->reason_len);
        n += r->reason_len;
    } else {
        n += (size_t)snprintf(out + n, cap - n, "%s",
                              http_status_reason(status));
    }
    n += (size_t)snprintf(out + n, cap - n, "\r\nDate: %s\r\n",
                          http_date_now(&c->srv->date));
    for (size_t i = 0; i < r->header_count; i++) {
        const struct http_header *h = &r->headers[i];
        /* Framing and connection fields are kickd's to set. */
        if ((h->name_len == 17 &&
             strncasecmp(h->name, "transfer-encoding", 17) == 0) ||
            (h->name_len == 10 && strncasecmp(h->name, "connection", 10) == 0) ||
            (h->name_len == 10 && strncasecmp(h->name, "keep-alive", 10) == 0) ||
            (h->name_len == 4 && strncasecmp(h->name, "date", 4) == 0))
            continue;
        if (h->name_len == 6 && strncasecmp(h->name, "server", 6) == 0)
            has_server = true;
        memcpy(out + n, h->name, h->name_len);
        n += h->name_len;
        memcpy(out + n, ": ", 2);
        n += 2;
        memcpy(out + n, h->value, h->value_len);
        n += h->value_len;
        memcpy(out + n, "\r\n", 2);
        n += 2;
    }
    if (!has_server)
        n += (size_t)snprintf(out + n, cap - n,
                              "Server: kickd/" KICK_VERSION "\r\n");
    if (c->resp_chunked)
        n += (size_t)snprintf(out + n, cap - n,
                              "Transfer-Encoding: chunked\r\n");
    if (c->draining)
        c->keep_alive = false;
    if (!c->keep_alive)
        n += (size_t)snprintf(out + n, cap - n, "Connection: close\r\n");
    else if (req->minor_version == 0)
        n += (size_t)snprintf(out + n, cap - n, "Connection: keep-alive\r\n");
    memcpy(out + n, "\r\n", 2);
    n += 2;
    c->head_sent = true;
    if (body == NULL || c->resp_no_body || c->resp_left == 0) {
        free(body);
        conn_write(c, out, out, n, false);
        return;
    }
    len = body_cap(c, len, g);
    conn_write_head(c, out, n, body, body, len, c->resp_chunked);
    if (!c->closing && c->write_queued >= CONN_MAX_WRITE_QUEUE)
        run_pause(g);
}

static void
run_body_cb(struct run *g, char *buf, size_t len)
{
    struct conn *c = run_data(g);

    if (c->resp_no_body || c->resp_left == 0) {
        free(buf);
        return;
    }
    len = body_cap(c, len, g);
    conn_write(c, buf, buf, len, c->resp_chunked);
    if (!c->closing && c->write_queued >= CONN_MAX_WRITE_QUEUE)
        run_pause(g);
}

static void
run_end_cb(struct run *g, const char *error, bool timed_out)
{
    struct conn *c = run_data(g);

    run_release(g);
    c->run = NULL;
    if (!c->head_sent) {
        bool keep = c->state == C_RESPONSE;
        respond(c, timed_out ? 504 : 502,
                error ? error : "no response from script", NULL, keep);
        if (!c->closing && c->state != C_LINGER)
            process(c);
        return;
    }
    if (error || (!c->resp_no_body && c->resp_left > 0)) {
        /* A cut-short body: what was written goes out, then the close
         * without the last chunk (or short of the length) tells the
         * client the response is incomplete. */
        c->keep_alive = false;
        linger(c);
        return;
    }
    if (c->resp_chunked && !c->resp_no_body)
        conn_write(c, NULL, "0\r\n\r\n", 5, false);
    if (c->closing)
        return;
    c->resp_done = true;
    if (c->state == C_BODY || !c->keep_alive) {
        linger(c);
        return;
    }
    request_done(c);
    process(c);
}

static void
run_stdin_drain_cb(struct run *g)
{
    struct conn *c = run_data(g);

    c->stdin_full = false;
    process(c);
}

static const struct run_hooks conn_run_hooks = {
    .head_cb = run_head_cb,
    .body_cb = run_body_cb,
    .end_cb = run_end_cb,
    .stdin_drain_cb = run_stdin_drain_cb,
};

/* Starts the route's script; content_length is -1 without a body. */
static int
script_start(struct conn *c, int64_t content_length)
{
    struct srv *s = c->srv;
    size_t script_len = strlen(c->route->path);
    int err = 0;

    struct cgi_request cr = {
        .route = c->route,
        .req = &c->req,
        .script_name = c->route->path,
        .path_info = c->path + script_len,
        .remote_addr = c->remote_addr,
        .remote_port = c->remote_port,
        .server_addr = c->local_addr,
        .server_port = c->local_port,
        .content_length = content_length,
        .attempt = 1,
        .hide_authorization = s->cfg->token != NULL,
        .path_env = s->path_env,
        .kill_grace = s->cfg->kill_grace,
    };
    /* A route ending in '/' keeps its slash in SCRIPT_NAME. */
    if (script_len > 0 && c->route->path[script_len - 1] == '/')
        cr.path_info = c->path + script_len - 1;
    c->run = run_start(s, &cr, &conn_run_hooks, c, &err);
    if (c->run == NULL) {
        log_error("conn %" PRIu64 ": %s: cannot start %s: %s", c->id,
                  c->route->path, c->route->argv[0], uv_strerror(err));
        return err;
    }
    return 0;
}

static bool
has_body(const struct http_request *req)
{
    return req->content_length > 0 || req->chunked;
}

/* Whether Prefer (RFC 7240) asks for respond-async. */
static bool
prefers_async(const struct http_request *req)
{
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len != 6 || strncasecmp(h->name, "prefer", 6) != 0)
            continue;
        const char *v = h->value, *end = h->value + h->value_len;
        while (v < end) {
            while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
                v++;
            const char *b = v;
            while (v < end && *v != ',' && *v != ';' && *v != ' ')
                v++;
            if (v - b == 13 && strncasecmp(b, "respond-async", 13) == 0)
                return true;
            while (v < end && *v != ',')
                v++;
        }
    }
    return false;
}

/* Reads the whole body into c->body before serving the request. */
static void
body_gather_start(struct conn *c)
{
    const struct http_request *req = &c->req;

    if (req->expect_continue && req->minor_version >= 1)
        conn_write(c, NULL, "HTTP/1.1 100 Continue\r\n\r\n", 25, false);
    c->gather = true;
    c->chunked = req->chunked;
    if (c->chunked)
        http_chunked_init(&c->ch);
    else
        c->body_left = req->content_length;
    c->state = C_BODY;
    timer_set(c, T_BODY);
}

/* Whether the request carries kickd's token (RFC 6750 bearer). */
static bool
token_ok(struct conn *c)
{
    const char *token = c->srv->cfg->token;
    const struct http_header *h;

    if (token == NULL)
        return true;
    h = http_find_header(&c->req, "authorization");
    size_t n = strlen(token);
    return h && h->value_len == n + 7 &&
           strncasecmp(h->value, "Bearer ", 7) == 0 &&
           memcmp(h->value + 7, token, n) == 0;
}

/* Routes a parsed head: kickd's own endpoints, a 4xx, or a script. */
static void
dispatch(struct conn *c)
{
    const struct http_request *req = &c->req;
    struct srv *s = c->srv;
    size_t script_len;

    c->keep_alive = req->keep_alive && !c->draining;
    c->path = malloc(req->path_len + 1);
    if (c->path == NULL) {
        respond_early(c, 503, "out of memory", NULL);
        return;
    }
    if (route_path_decode(req->path, req->path_len, c->path,
                          req->path_len + 1) < 0) {
        respond_early(c, 400, "bad percent-encoding in path", NULL);
        return;
    }
    if (!token_ok(c)) {
        respond_early(c, 401, "missing or wrong token",
                      "WWW-Authenticate: Bearer\r\n");
        return;
    }
    if (strcmp(c->path, "/healthz") == 0) {
        if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
            respond_early(c, 405, "GET or HEAD only", "Allow: GET, HEAD\r\n");
            return;
        }
        char out[512];
        int n = snprintf(out, sizeof(out),
                         "HTTP/1.1 200 OK\r\nServer: kickd/" KICK_VERSION
                         "\r\nDate: %s\r\nContent-Type: text/plain\r\n"
                         "Content-Length: 3\r\n%s\r\n%s",
                         http_date_now(&s->date),
                         !c->keep_alive ? "Connection: close\r\n"
                         : req->minor_version == 0
                             ? "Connection: keep-alive\r\n"
                             : "",
                         req->method == HTTP_HEAD ? "" : "ok\n");
        bool keep = c->keep_alive && req->content_length <= 0 &&
                    !req->chunked;
        write_copy(c, out, (size_t)n);
        if (c->closing)
            return;
        if (!keep) {
            linger(c);
            return;
        }
        c->resp_done = true;
        request_done(c);
        return;
    }
    if (strncmp(c->path, CTL_PREFIX, strlen(CTL_PREFIX)) == 0) {
        c->api = true;
        c->body_max = API_MAX_BODY;
        if (req->content_length > API_MAX_BODY) {
            c->keep_alive = false;
            respond(c, 413, "body too large for a control request", NULL,
                    false);
            return;
        }
        if (req->content_length > 0 || req->chunked) {
            body_gather_start(c);
            return;
        }
        api_call(c);
        return;
    }
    if (strcmp(c->path, "/metrics") == 0 || strcmp(c->path, "/jobs") == 0 ||
        strncmp(c->path, "/jobs/", 6) == 0) {
        if (req->content_length > 0 || req->chunked) {
            respond_early(c, 400, "no body expected", NULL);
            return;
        }
        c->state = C_RESPONSE;
        timer_set(c, T_NONE);
        api_handle(c, req, c->path);
        return;
    }
    c->routes = route_table_ref(s->routes);
    c->route = route_find(c->routes, c->path, strlen(c->path), &script_len);
    if (c->route == NULL) {
        respond_early(c, 404, "no such route", NULL);
        return;
    }
    if (req->method == HTTP_TRACE || req->method == HTTP_CONNECT) {
        respond_early(c, 405, "not allowed on a script",
                      "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, "
                      "OPTIONS\r\n");
        return;
    }
    /* RFC 9110 section 15.5.12: a body-carrying method needs a length. */
    if ((req->method == HTTP_POST || req->method == HTTP_PUT ||
         req->method == HTTP_PATCH) &&
        req->content_length < 0 && !req->chunked) {
        respond_early(c, 411, "Content-Length or chunked body required",
                      NULL);
        return;
    }
    if (req->content_length > s->cfg->max_body) {
        c->keep_alive = false;
        respond(c, 413, "body larger than max_body", NULL, false);
        return;
    }
    /* Detached: the whole request is committed, then 202 (RFC 7240 for
     * mode = auto). */
    c->preferred = c->route->mode == ROUTE_AUTO && prefers_async(req);
    c->detach = c->route->mode == ROUTE_DETACH || c->preferred;
    if (c->detach) {
        c->body_max = s->cfg->max_body;
        if (has_body(req)) {
            body_gather_start(c);
            return;
        }
        c->state = C_RESPONSE;
        timer_set(c, T_NONE);
        api_trigger(c, c->route, req, c->buf, c->head_len, NULL, 0,
                    c->preferred);
        return;
    }
    if (req->chunked) {
        /* CGI needs CONTENT_LENGTH (RFC 3875 section 4.1.2): the body is
         * gathered first, then the script starts. */
        c->body_max = s->cfg->max_body;
        body_gather_start(c);
        return;
    }
    if (req->content_length > 0 && req->expect_continue &&
        req->minor_version >= 1)
        conn_write(c, NULL, "HTTP/1.1 100 Continue\r\n\r\n", 25, false);
    if (c->closing)
        return;
    if (script_start(c, req->content_length) < 0) {
        respond_early(c, 502, "script could not start", NULL);
        return;
    }
    if (req->content_length > 0) {
        c->body_left = req->content_length;
        c->state = C_BODY;
        timer_set(c, T_BODY);
    } else {
        run_close_stdin(c->run);
        c->state = C_RESPONSE;
        timer_set(c, T_NONE);
    }
}

static void
drop_bytes(struct conn *c, size_t at, size_t n)
{
    memmove(c->buf + at, c->buf + at + n, c->len - at - n);
    c->len -= n;
}

/* Keeps n body bytes in c->body (a chunked body for a script, or any body
 * for kickd's own endpoints). Returns -1 after answering if it cannot. */
static int
body_append(struct conn *c, const char *data, size_t n)
{
    if (c->body_len + n > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 16384;
        while (cap < c->body_len + n)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (b == NULL) {
            c->keep_alive = false;
            respond(c, 503, "out of memory", NULL, false);
            return -1;
        }
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, n);
    c->body_len += n;
    return 0;
}

/* Serves a request to kickd's control endpoint, its body gathered. */
static void
api_call(struct conn *c)
{
    struct ctl_reply *rep = malloc(sizeof(*rep));

    if (rep == NULL) {
        respond(c, 503, "out of memory", NULL, false);
        return;
    }
    ctl_handle(c->srv, c->req.method, c->path + strlen(CTL_PREFIX),
               c->body ? c->body : "", c->body_len, rep);
    c->state = C_RESPONSE;
    respond_text(c, rep->status, rep->text, rep->len, NULL, true);
    free(rep);
}

/* A gathered body is complete: serve it, or start the script with it. */
static void
body_complete(struct conn *c)
{
    timer_set(c, T_NONE);
    if (c->api) {
        api_call(c);
        return;
    }
    if (c->detach) {
        c->state = C_RESPONSE;
        api_trigger(c, c->route, &c->req, c->buf, c->head_len, c->body,
                    c->body_len, c->preferred);
        return;
    }
    if (script_start(c, (int64_t)c->body_len) < 0) {
        c->keep_alive = false;
        respond(c, 502, "script could not start", NULL, true);
        return;
    }
    run_write_stdin(c->run, c->body, c->body_len);
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    run_close_stdin(c->run);
    c->state = C_RESPONSE;
}

/* Moves body bytes from the buffer to the script, or gathers them. */
static void
body_read(struct conn *c)
{
    size_t avail = c->len - c->head_len;

    if (c->chunked) {
        while (!c->ch.done) {
            const char *data;
            size_t dlen;
            ssize_t r = http_chunked_parse(&c->ch, c->buf + c->head_len,
                                           c->len - c->head_len,
                                           (uint64_t)c->body_max, &data,
                                           &dlen);
            if (r == HTTP_BAD) {
                c->keep_alive = false;
                respond(c, c->ch.error_status, c->ch.error_reason, NULL,
                        false);
                return;
            }
            if (dlen > 0 && body_append(c, data, dlen) < 0)
                return;
            drop_bytes(c, c->head_len, (size_t)r);
            if (r == 0)
                break;
        }
        if (c->ch.done)
            body_complete(c);
        return;
    }
    size_t n = avail < (uint64_t)c->body_left ? avail : (size_t)c->body_left;
    if (n > 0) {
        if (c->gather) {
            if (body_append(c, c->buf + c->head_len, n) < 0)
                return;
        } else if (c->run) {
            run_write_stdin(c->run, c->buf + c->head_len, n);
        }
    }
    drop_bytes(c, c->head_len, n);
    c->body_left -= (int64_t)n;
    if (c->body_left > 0) {
        if (c->run && run_stdin_queued(c->run) >= CGI_MAX_STDIN_QUEUE)
            c->stdin_full = true;
        return;
    }
    if (c->gather) {
        body_complete(c);
        return;
    }
    /* The whole body went to the script. */
    if (c->run)
        run_close_stdin(c->run);
    c->state = C_RESPONSE;
    timer_set(c, T_NONE);
    if (c->resp_done) {
        /* The script had already answered in full. */
        linger(c);
    }
}

/* Forgets the finished request and makes its pipelined successor, if any,
 * the start of the buffer. */
static void
request_done(struct conn *c)
{
    drop_bytes(c, 0, c->head_len);
    c->head_len = 0;
    free(c->path);
    c->path = NULL;
    route_table_unref(c->routes);
    c->routes = NULL;
    c->route = NULL;
    c->chunked = c->gather = c->api = c->detach = c->preferred = false;
    c->body_left = 0;
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    c->head_sent = c->resp_done = c->resp_chunked = c->resp_no_body = false;
    c->resp_left = -1;
    c->state = C_HEAD;
    if (c->draining && c->len == 0) {
        linger(c);
        return;
    }
    timer_set(c, c->len > 0 ? T_HEADER : T_IDLE);
}

/* Advances the state machine over the bytes in the buffer. */
static void
process(struct conn *c)
{
    c->in_process = true;
    while (!c->closing) {
        if (c->state == C_HEAD) {
            if (c->len == 0)
                break;
            if (c->timer_kind != T_HEADER)
                timer_set(c, T_HEADER);
            ssize_t n = http_parse_request(c->buf, c->len, &c->req);
            if (n == HTTP_INCOMPLETE)
                break;
            if (n == HTTP_BAD) {
                c->keep_alive = false;
                respond(c, c->req.error_status, c->req.error_reason, NULL,
                        false);
                break;
            }
            c->head_len = (size_t)n;
            dispatch(c);
        } else if (c->state == C_BODY) {
            size_t before = c->len;
            body_read(c);
            if (c->state == C_BODY && (c->len == before || c->stdin_full))
                break;
        } else {
            break;
        }
    }
    c->in_process = false;
    if (!c->closing && c->state != C_LINGER)
        read_update(c);
}

void
conn_accept(struct srv *s, uv_stream_t *listener)
{
    struct conn *c = calloc(1, sizeof(*c));
    struct sockaddr_storage ss;
    int len;

    if (c == NULL) {
        log_error("accept: out of memory");
        return;
    }
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, handle_close_cb);
        return;
    }
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    c->srv = s;
    c->id = ++s->next_conn_id;
    c->resp_left = -1;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->conn_count++;
    if (s->conn_count > (size_t)s->cfg->max_connections || s->stopping) {
        log_warn("conn %" PRIu64 ": over max_connections (%d), closed",
                 c->id, s->cfg->max_connections);
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, c->remote_addr, sizeof(c->remote_addr));
            c->remote_port = ntohs(a->sin6_port);
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, c->remote_addr, sizeof(c->remote_addr));
            c->remote_port = ntohs(a->sin_port);
        }
    }
    len = sizeof(ss);
    if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, c->local_addr, sizeof(c->local_addr));
            c->local_port = ntohs(a->sin6_port);
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, c->local_addr, sizeof(c->local_addr));
            c->local_port = ntohs(a->sin_port);
        }
    }
    c->state = C_HEAD;
    timer_set(c, T_HEADER);
    read_update(c);
}

void
conn_drain_all(struct srv *s)
{
    struct conn *c = s->conns, *next;

    for (; c; c = next) {
        next = c->next;
        c->draining = true;
        /* A request whose head is not complete has not reached a script;
         * it is dropped rather than waited for. */
        if (c->state == C_HEAD)
            conn_close(c);
    }
}

void
conn_close_all(struct srv *s)
{
    while (s->conns)
        conn_close(s->conns);
}

struct srv *
conn_srv(const struct conn *c)
{
    return c->srv;
}

const char *
conn_remote_addr(const struct conn *c)
{
    return c->remote_addr;
}

int
conn_remote_port(const struct conn *c)
{
    return c->remote_port;
}

void
conn_pending(struct conn *c, struct api_pending *p)
{
    c->pending = p;
}

void
conn_reply(struct conn *c, int status, const char *ctype, const char *body,
           size_t len, const char *extra)
{
    char head[1024];
    bool close = !c->keep_alive || c->draining;
    bool head_only = c->req.method == HTTP_HEAD;
    int n;

    if (c->closing)
        return;
    if (status >= 400)
        log_info("conn %" PRIu64 ": %d %.*s", c->id, status,
                 (int)strcspn(body, "\n"), body);
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nServer: kickd/" KICK_VERSION
                 "\r\nDate: %s\r\nContent-Type: %s\r\n"
                 "Content-Length: %zu\r\n%s%s\r\n",
                 status, http_status_reason(status),
                 http_date_now(&c->srv->date), ctype, len,
                 close                         ? "Connection: close\r\n"
                 : c->req.minor_version == 0 ? "Connection: keep-alive\r\n"
                                               : "",
                 extra ? extra : "");
    char *h = malloc((size_t)n);
    char *b = head_only || len == 0 ? NULL : malloc(len);
    if (h == NULL || (!head_only && len > 0 && b == NULL)) {
        free(h);
        free(b);
        conn_close(c);
        return;
    }
    memcpy(h, head, (size_t)n);
    if (b)
        memcpy(b, body, len);
    conn_write_head(c, h, (size_t)n, b, b, b ? len : 0, false);
    if (c->closing)
        return;
    if (close) {
        linger(c);
        return;
    }
    c->resp_done = true;
    request_done(c);
    if (!c->in_process)
        process(c);
}
