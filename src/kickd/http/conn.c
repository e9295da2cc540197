/* SPDX-License-Identifier: MIT */
/* One client connection's state machine: reads a request head, checks it,
 * runs the route's script and feeds it the body (conn_out.c answers); then
 * the next request (keep-alive, pipelining). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ctl.h"
#include "run.h"
#include "conn.h"
#include "conn_internal.h"
#include "http_parse.h"
#include "kick_limits.h"
#include "log.h"
#include "srv.h"

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
    conn__log_end(c);
    c->closing = true;
    if (c->stage) {
        conn__write_free(c, c->stage);
        c->stage = NULL;
    }
    if (c->gone_cb) {
        void (*cb)(void *) = c->gone_cb;
        c->gone_cb = NULL;
        cb(c->gone_data);
    }
    conn__idle_update(c);
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
    free(c->held_head);
    free(c->held_body);
    c->held_head = c->held_body = NULL;
    c->holding = false;
    uv_close((uv_handle_t *)&c->hold_timer, handle_close_cb);
    uv_close((uv_handle_t *)&c->timer, handle_close_cb);
    uv_close((uv_handle_t *)&c->tcp, handle_close_cb);
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
    /* body_timeout is the longest gap between two reads of a body. */
    if (c->state == C_BODY && c->timer_kind == T_BODY)
        conn__timer_restart(c);
    conn__process(c);
}

void
conn__read_start(struct conn *c)
{
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* Reading goes on unless the buffer is full (a pipelined request waits
 * behind the current one), the script's stdin is, or the client's queue
 * of answers is. */
static void
read_update(struct conn *c)
{
    bool want = !c->closing && c->len < sizeof(c->buf) && !c->stdin_full &&
                !c->out_full;

    if (want && !c->reading) {
        c->reading = true;
        conn__read_start(c);
    } else if (!want) {
        read_stop(c);
    }
}

/* Starts the route's script; body_len is the body's length (its
 * Content-Length, or the gathered length of a chunked one), body the
 * gathered body (NULL when it is still to come). */
static int
script_start(struct conn *c, int64_t body_len, const char *body)
{
    struct srv *s = c->srv;
    struct cgi_request cr;
    int err = 0;

    cgi_request_from_http(&cr, s, c->route, &c->req, c->path, c->remote_addr,
                          c->remote_port, body_len);
    cr.body = body;
    c->run = run_start(s, &cr, &conn__run_hooks, c, &err);
    if (c->run == NULL) {
        /* A forward or fastcgi route has no argv: name its runner. */
        log_error("conn %" PRIu64 ": %s: cannot start its %s runner: %s",
                  c->id, c->route->path, runner_of(c->route)->name,
                  strerror(-err));
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
        if (!http_name_is(h->name, h->name_len, "prefer"))
            continue;
        const char *v = h->value, *end = h->value + h->value_len;
        while (v < end) {
            while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
                v++;
            const char *b = v;
            while (v < end && *v != ',' && *v != ';' && *v != ' ')
                v++;
            if (http_name_is(b, (size_t)(v - b), "respond-async"))
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
        conn__write(c, NULL, "HTTP/1.1 100 Continue\r\n\r\n", 25, false);
    c->gather = true;
    c->chunked = req->chunked;
    if (c->chunked)
        http_chunked_init(&c->ch);
    else
        c->body_left = req->content_length;
    c->state = C_BODY;
    conn__timer_set(c, T_BODY);
}

/* GET /healthz: 200 "ok", and on to the next request. */
static void
healthz(struct conn *c)
{
    const struct http_request *req = &c->req;

    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        conn__respond_early(c, 405, "GET or HEAD only", "Allow: GET, HEAD\r\n");
        return;
    }
    char out[512];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 200 OK\r\nServer: kickd/" KICK_VERSION
                     "\r\nDate: %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 3\r\n%s\r\n%s",
                     http_date_now(&c->srv->date),
                     !c->keep_alive ? "Connection: close\r\n"
                     : req->minor_version == 0
                         ? "Connection: keep-alive\r\n"
                         : "",
                     req->method == HTTP_HEAD ? "" : "ok\n");
    bool keep = c->keep_alive && req->content_length <= 0 && !req->chunked;
    conn__log_answer(c, 200);
    c->log_bytes += req->method == HTTP_HEAD ? 0 : 3;
    conn__write_copy(c, out, (size_t)n);
    if (c->closing)
        return;
    if (!keep) {
        conn__linger(c);
        return;
    }
    c->resp_done = true;
    conn__request_done(c);
}

/* A request to the control endpoint (kick ctl): its body is gathered,
 * then api_call() serves it. */
static void
ctl_start(struct conn *c)
{
    const struct http_request *req = &c->req;

    c->gathered = api_call;
    c->body_max = API_MAX_BODY;
    if (req->content_length > API_MAX_BODY) {
        c->keep_alive = false;
        conn__respond(c, 413, "body too large for a control request", NULL,
                      false);
        return;
    }
    if (req->content_length > 0 || req->chunked) {
        body_gather_start(c);
        return;
    }
    api_call(c);
}

/* An endpoint whose answer comes later (after the store, or as a
 * stream): the request is read, and no timer runs while it is made. */
static void
own_answer_start(struct conn *c)
{
    c->state = C_RESPONSE;
    conn__timer_set(c, T_NONE);
}

/* The job API and /metrics: answered after store operations. */
static void
api_serve(struct conn *c)
{
    own_answer_start(c);
    c->srv->handlers.api(c, &c->req, c->path);
}

/* The dashboard's page and files. */
static void
page_serve(struct conn *c)
{
    own_answer_start(c);
    c->srv->handlers.dashboard(c, &c->req, c->path, NULL, 0);
}

/* The dashboard's login and logout, their body gathered. */
static void
login_call(struct conn *c)
{
    own_answer_start(c);
    c->srv->handlers.dashboard(c, &c->req, c->path, c->body, c->body_len);
}

static void
login_start(struct conn *c)
{
    const struct http_request *req = &c->req;

    c->gathered = login_call;
    c->body_max = DASHBOARD_MAX_BODY;
    if (req->content_length > DASHBOARD_MAX_BODY) {
        c->keep_alive = false;
        conn__respond(c, 413, "body too large for a login", NULL, false);
        return;
    }
    if (req->content_length > 0 || req->chunked) {
        body_gather_start(c);
        return;
    }
    login_call(c);
}

static void
stats_serve(struct conn *c)
{
    own_answer_start(c);
    c->srv->handlers.stats(c, &c->req);
}

static void
events_serve(struct conn *c)
{
    own_answer_start(c);
    c->srv->handlers.events(c, &c->req);
}

/* kickd's own paths, answered before any route. */
struct endpoint {
    const char *path;
    bool below;   /* the path ends in '/' and stands for every path below
                   * it */
    bool open;    /* no token asked: the control endpoint authenticates
                   * each run by the secret in its path (ctl.c); a script
                   * has no bearer token to give; the dashboard's page
                   * holds no data, and its login checks the token */
    bool no_body; /* a request with a body is refused */
    void (*serve)(struct conn *c);
};

static const struct endpoint endpoints[] = {
    {CTL_PREFIX, true, true, false, ctl_start},
    {"/healthz", false, false, false, healthz},
    {"/metrics", false, false, true, api_serve},
    {"/jobs", false, false, true, api_serve},
    {"/jobs/", true, false, true, api_serve},
    {"/", false, true, true, page_serve},
    {"/_kick/ui/", true, true, true, page_serve},
    {"/_kick/login", false, true, false, login_start},
    {"/_kick/logout", false, true, false, login_start},
    {"/stats", false, false, true, stats_serve},
    {"/events", false, false, true, events_serve},
};

static const struct endpoint *
endpoint_find(const char *path)
{
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        const char *p = endpoints[i].path;
        if (endpoints[i].below ? strncmp(path, p, strlen(p)) == 0
                               : strcmp(path, p) == 0)
            return &endpoints[i];
    }
    return NULL;
}

const char *
conn_own_path(const char *route_path)
{
    const struct endpoint *e = endpoint_find(route_path);
    size_t n = strlen(route_path);

    /* A route for a whole tree (/jobs/) is hidden where its root is. */
    if (e == NULL && n > 1 && route_path[n - 1] == '/') {
        char *root = strndup(route_path, n - 1);
        e = root ? endpoint_find(root) : NULL;
        free(root);
    }
    return e ? e->path : NULL;
}

/* A request for a route: run attached, or stored as a detached job. */
static void
route_serve(struct conn *c)
{
    const struct http_request *req = &c->req;
    struct srv *s = c->srv;
    size_t script_len;

    c->routes = route_table_ref(s->routes);
    c->route = route_find(c->routes, c->path, strlen(c->path), &script_len);
    if (c->route == NULL) {
        conn__respond_early(c, 404, "no such route", NULL);
        return;
    }
    if (req->method == HTTP_TRACE || req->method == HTTP_CONNECT) {
        conn__respond_early(c, 405, "not allowed on a script",
                            "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, "
                            "OPTIONS\r\n");
        return;
    }
    /* A request without Content-Length or Transfer-Encoding has a body of
     * length zero, whatever its method (RFC 9112 section 6.3, rule 7):
     * `curl -X POST URL` is served, and its script reads an empty stdin. */
    if (req->content_length > s->cfg->max_body) {
        c->keep_alive = false;
        conn__respond(c, 413, "body larger than max_body", NULL, false);
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
        conn__timer_set(c, T_NONE);
        c->srv->handlers.trigger(c, c->route, req, c->buf, c->head_len, NULL,
                                 0, c->preferred);
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
        conn__write(c, NULL, "HTTP/1.1 100 Continue\r\n\r\n", 25, false);
    if (c->closing)
        return;
    if (script_start(c, req->content_length, NULL) < 0) {
        conn__respond_early(c, 502, "script could not start", NULL);
        return;
    }
    if (req->content_length > 0) {
        c->body_left = req->content_length;
        c->state = C_BODY;
        conn__timer_set(c, T_BODY);
    } else {
        run_close_stdin(c->run);
        c->state = C_RESPONSE;
        conn__timer_set(c, T_NONE);
    }
}

static void
dispatch(struct conn *c)
{
    const struct http_request *req = &c->req;

    c->keep_alive = req->keep_alive && !c->draining;
    c->path = malloc(req->path_len + 1);
    if (c->path == NULL) {
        conn__respond_early(c, 503, "out of memory", NULL);
        return;
    }
    if (route_path_decode(req->path, req->path_len, c->path,
                          req->path_len + 1) < 0) {
        conn__respond_early(c, 400, "bad percent-encoding in path", NULL);
        return;
    }
    const struct endpoint *e = endpoint_find(c->path);
    /* The dashboard's cookie stands for the token only while there is a
     * dashboard to have given it. */
    c->auth_by = auth_check(c->srv->cfg->token, req,
                            c->srv->dashboard != DASHBOARD_OFF);
    if ((e == NULL || !e->open) && c->auth_by == AUTH_NONE) {
        conn__respond_early(c, 401, "missing or wrong token",
                            "WWW-Authenticate: Bearer\r\n");
        return;
    }
    if (e && e->no_body && (req->content_length > 0 || req->chunked)) {
        conn__respond_early(c, 400, "no body expected", NULL);
        return;
    }
    if (e) {
        e->serve(c);
        return;
    }
    route_serve(c);
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
            conn__respond(c, 503, "out of memory", NULL, false);
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
        conn__respond(c, 503, "out of memory", NULL, false);
        return;
    }
    ctl_handle(c->srv, c->req.method, c->path + strlen(CTL_PREFIX),
               c->body ? c->body : "", c->body_len, rep);
    c->state = C_RESPONSE;
    conn__respond_text(c, rep->status, rep->text, rep->len, NULL, true);
    free(rep);
}

/* A gathered body is complete: serve it, or start the script with it. */
static void
body_complete(struct conn *c)
{
    conn__timer_set(c, T_NONE);
    if (c->gathered) {
        c->gathered(c);
        return;
    }
    if (c->detach) {
        c->state = C_RESPONSE;
        c->srv->handlers.trigger(c, c->route, &c->req, c->buf, c->head_len,
                                 c->body, c->body_len, c->preferred);
        return;
    }
    if (script_start(c, (int64_t)c->body_len, c->body) < 0) {
        c->keep_alive = false;
        conn__respond(c, 502, "script could not start", NULL, true);
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
                conn__respond(c, c->ch.error_status, c->ch.error_reason, NULL,
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
    conn__timer_set(c, T_NONE);
    if (c->resp_done) {
        /* The script had already answered in full. */
        conn__linger(c);
    }
}

/* Forgets the finished request and makes its pipelined successor, if any,
 * the start of the buffer. */
void
conn__request_done(struct conn *c)
{
    conn__log_end(c);
    drop_bytes(c, 0, c->head_len);
    c->head_len = 0;
    free(c->path);
    c->path = NULL;
    route_table_unref(c->routes);
    c->routes = NULL;
    c->route = NULL;
    c->chunked = c->gather = c->detach = c->preferred = false;
    c->gathered = NULL;
    c->body_left = 0;
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    c->head_sent = c->resp_done = c->resp_chunked = c->resp_no_body = false;
    c->resp_left = -1;
    c->state = C_HEAD;
    if (c->draining && c->len == 0) {
        conn__linger(c);
        return;
    }
    conn__timer_set(c, c->len > 0 ? T_HEADER : T_IDLE);
}

/* Advances the state machine over the bytes in the buffer. */
void
conn__process(struct conn *c)
{
    c->in_process = true;
    while (!c->closing) {
        if (c->state == C_HEAD) {
            if (c->write_queued >= CONN_MAX_WRITE_QUEUE) {
                /* The client is not reading its answers: no new request
                 * is taken (nor read) until it has read some, so that what
                 * it sends cannot make kickd queue more than this. */
                c->out_full = true;
                conn__timer_set(c, T_SEND);
                break;
            }
            if (c->len == 0)
                break;
            if (c->timer_kind != T_HEADER)
                conn__timer_set(c, T_HEADER);
            ssize_t n = http_parse_request(c->buf, c->len, &c->req);
            if (n == HTTP_INCOMPLETE)
                break;
            if (n == HTTP_BAD) {
                c->keep_alive = false;
                conn__respond(c, c->req.error_status, c->req.error_reason, NULL,
                              false);
                break;
            }
            c->head_len = (size_t)n;
            conn__log_begin(c, true);
            dispatch(c);
        } else if (c->state == C_BODY) {
            size_t before = c->len;
            body_read(c);
            if (c->state != C_BODY)
                continue;
            /* While the script's stdin is full kickd is not reading, so
             * no gap between reads is counted; it starts again after. */
            conn__timer_set(c, c->stdin_full ? T_NONE : T_BODY);
            if (c->len == before || c->stdin_full)
                break;
        } else {
            break;
        }
    }
    c->in_process = false;
    if (!c->closing && c->state != C_LINGER)
        read_update(c);
    conn__idle_update(c);
}

/* The text form of an IPv4 or IPv6 address, and its port. */
static void
addr_name(const struct sockaddr_storage *ss, char *out, size_t n, int *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, out, n);
        *port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, out, n);
        *port = ntohs(a->sin_port);
    }
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
    uv_timer_init(s->loop, &c->hold_timer);
    c->timer.data = c->hold_timer.data = c;
    c->handles = 3;
    c->srv = s;
    c->id = ++s->next_conn_id;
    c->resp_left = -1;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->conn_count++;
    if (s->stopping) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        addr_name(&ss, c->remote_addr, sizeof(c->remote_addr),
                  &c->remote_port);
    c->state = C_HEAD;
    conn__timer_set(c, T_HEADER);
    read_update(c);
    conn__idle_update(c);
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

enum auth_by
conn_auth_by(const struct conn *c)
{
    return c->auth_by;
}

void
conn_send_buffer(struct conn *c, int bytes)
{
    int v = bytes;

    /* A failure leaves the kernel's own sizing: only slower to tell. */
    if (!c->closing)
        uv_send_buffer_size((uv_handle_t *)&c->tcp, &v);
}

void
conn_on_close(struct conn *c, void (*cb)(void *data), void *data)
{
    /* Forgetting is its owner's: an answer that ends may already have
     * let the next pipelined request register its own. */
    if (cb == NULL && c->gone_data != data)
        return;
    c->gone_cb = cb;
    c->gone_data = cb ? data : NULL;
}
