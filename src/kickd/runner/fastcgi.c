/* SPDX-License-Identifier: MIT */
/* The fastcgi runner (runner.h): a run is one Responder request to a
 * FastCGI pool such as PHP-FPM, on a connection of fcgi_pool.c. PARAMS are
 * the CGI environment every runner builds plus PHP's per-request ini,
 * STDIN is the body, STDOUT goes through the CGI header reader as an exec
 * script's output does, and FCGI_END_REQUEST ends the run. kickd ends a
 * request as a web server does, by closing its connection: PHP-FPM never
 * reads FCGI_ABORT_REQUEST (nginx never sends it), and PHP's next write
 * then fails. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi_head.h"
#include "fastcgi.h"
#include "fcgi_pool.h"
#include "fcgi_record.h"
#include "fcgi_send.h"
#include "kick_limits.h"
#include "log.h"
#include "runner.h"

struct fcgi_run {
    struct runner base; /* first: a struct runner * is a struct fcgi_run * */
    const struct runner_hooks *hooks;
    struct fastcgi_pools *pools;
    char *address;     /* the pool's, as configured */
    char *script;      /* the script's file, for the log */
    char id[24];       /* the run's, for the log */
    int limit;         /* the route's concurrency; 0: none */
    uv_timer_t later;  /* hooks due after an op call run from here */
    struct fcgi_wait wait;
    bool waiting;
    struct fcgi_conn *conn;
    unsigned conn_gen; /* changes when conn does: a hook let it go */
    struct fcgi_send send; /* the request on its way */
    struct fcgi_parser parser;
    struct cgi_head head;
    char *rbuf;        /* CGI_READ_SIZE: one read of the connection */
    bool retried;
    bool attached;     /* the sink has not let go: hooks are called */
    bool job;
    bool paused, draining;
    bool answered;     /* a byte of the answer came */
    bool close_when_sent; /* the caller left: close once the pool has
                           * the request (close_if_sent) */
    bool over;         /* the connection is let go: nothing more comes */
    bool ended, done;  /* end_cb and done_cb given, or not due */
    bool freeing, timer_closed;
    int status;        /* the CGI answer's; 0 if none came */
    /* How it ended: */
    bool ok;
    int64_t app_status; /* FCGI_END_REQUEST's; -1 if none came */
    const char *end_error; /* for end_cb: NULL (complete) or reason */
    int end_status;    /* 502 or 503 */
    char reason[160];
    char errline[FCGI_LOG_LINE_MAX]; /* a STDERR line on its way to the log */
    size_t errline_len;
    bool errline_cut;
};

static void
run_free(struct fcgi_run *f)
{
    free(f->base.env);
    cgi_head_close(&f->head);
    free(f->rbuf);
    fcgi_send_close(&f->send);
    free(f->address);
    free(f->script);
    free(f);
}

/* Freed once its timer is closed and no write of its own is on its way
 * (the write's completion reads the run). */
static void
maybe_destroy(struct fcgi_run *f)
{
    if (f->timer_closed && fcgi_send_is_idle(&f->send))
        run_free(f);
}

static void
later_close_cb(uv_handle_t *h)
{
    struct fcgi_run *f = h->data;

    f->timer_closed = true;
    maybe_destroy(f);
}

/* Frees the run once the sink has let go and the request is over. */
static void
maybe_free(struct fcgi_run *f)
{
    if (f->attached || !f->over || f->freeing)
        return;
    f->freeing = true;
    uv_close((uv_handle_t *)&f->later, later_close_cb);
}

/* A STDERR line goes to kickd's log, named by the run and its script. */
static void
stderr_flush(struct fcgi_run *f)
{
    size_t n = f->errline_len;

    if (n > 0 && f->errline[n - 1] == '\r')
        n--;
    if (n > 0 || f->errline_cut)
        log_warn("run %s: %s: %.*s%s", f->id, f->script, (int)n, f->errline,
                 f->errline_cut ? " [cut]" : "");
    f->errline_len = 0;
    f->errline_cut = false;
}

static void
stderr_log(struct fcgi_run *f, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        size_t room = sizeof(f->errline) - f->errline_len;
        size_t take = k < room ? k : room;
        memcpy(f->errline + f->errline_len, p, take);
        f->errline_len += take;
        f->errline_cut |= take < k;
        if (nl)
            stderr_flush(f);
        k += nl != NULL;
        p += k;
        n -= k;
    }
}

/* The hooks the request's end calls for: end_cb unless the output was
 * closed by the sink, then done_cb, from the loop. */
static void
report(struct fcgi_run *f)
{
    if (!f->ended) {
        f->ended = true;
        if (f->attached)
            f->hooks->end_cb(&f->base, f->end_error, f->end_status);
    }
    if (!f->done && f->attached) {
        struct runner_outcome o = {
            .ok = f->ok,
            .reason = f->ok ? NULL : f->reason,
            .exit_status = f->app_status,
        };
        f->done = true;
        f->hooks->done_cb(&f->base, &o);
    }
    f->done = true;
    maybe_free(f);
}

static void
later_cb(uv_timer_t *t)
{
    report(t->data);
}

/* The connection is let go: kept for the next request, or closed. */
static void
conn_let_go(struct fcgi_run *f, bool keep)
{
    struct fcgi_conn *c = f->conn;

    f->conn = NULL;
    f->conn_gen++;
    fcgi_send_stop(&f->send);
    fcgi_conn_release(c, keep);
}

/* The request is over for kickd, its connection closed (status: what an
 * attached sink answers if no head came). Hooks follow from the loop. */
static void
fail(struct fcgi_run *f, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct fcgi_run *f, int status, const char *fmt, ...)
{
    va_list ap;

    if (f->over)
        return;
    va_start(ap, fmt);
    vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
    va_end(ap);
    f->ok = false;
    f->end_error = f->reason;
    f->end_status = status;
    f->over = true;
    if (f->waiting) {
        fcgi_wait_cancel(&f->wait);
        f->waiting = false;
    }
    if (f->conn)
        conn_let_go(f, false);
    stderr_flush(f);
    uv_timer_start(&f->later, later_cb, 0, 0);
}

/* kickd closes the request's connection: the caller left, or the work
 * is ended. The outcome says so; no end_cb follows. */
static void
close_now(struct fcgi_run *f)
{
    if (f->over)
        return;
    f->ended = true;
    fail(f, 502, "connection closed by kickd");
}

static void
conn_lost(struct fcgi_run *f, int err);

/* After the caller left, the connection is closed once the pool has the
 * whole request: on a new connection as soon as the socket has taken
 * all of it (the worker that accepts the connection reads it all, then
 * PHP's first write fails); on a kept one only when an answer shows it
 * reached a worker, since the pool may have closed that connection just
 * now, unread. */
static void
close_if_sent(struct fcgi_run *f)
{
    if (!f->close_when_sent || f->conn == NULL ||
        !fcgi_send_is_flushed(&f->send))
        return;
    if (f->answered || !fcgi_conn_is_kept(f->conn))
        close_now(f);
}

static void
send_error_cb(struct fcgi_send *s, int err)
{
    conn_lost(s->data, err);
}

/* A write is done: the body queue may have room again, or the request
 * be all sent. */
static void
send_written_cb(struct fcgi_send *s, bool was_full)
{
    struct fcgi_run *f = s->data;

    close_if_sent(f);
    if (was_full && s->queued < CGI_MAX_STDIN_QUEUE && f->attached &&
        !f->over && f->hooks->stdin_drain_cb)
        f->hooks->stdin_drain_cb(&f->base);
    maybe_destroy(f);
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct fcgi_run *f = h->data;

    (void)suggested;
    *buf = uv_buf_init(f->rbuf, CGI_READ_SIZE);
}

static void
body_hand(struct fcgi_run *f, const char *p, size_t n)
{
    char *b = malloc(n);

    if (b == NULL) {
        fail(f, 502, "out of memory");
        return;
    }
    memcpy(b, p, n);
    f->hooks->body_cb(&f->base, b, n);
}

static void
head_hand(struct fcgi_run *f, struct cgi_head_result *h)
{
    f->status = h->resp.status;
    f->hooks->head_cb(&f->base, &h->resp, h->body, h->len);
}

/* A piece of STDOUT: the CGI header block, then body. */
static void
stdout_take(struct fcgi_run *f, const char *p, size_t n)
{
    unsigned gen = f->conn_gen;

    if (f->attached && f->hooks->output_cb) {
        f->hooks->output_cb(&f->base);
        if (f->conn_gen != gen)
            return; /* the sink ended the request: the bytes go */
    }
    if (!f->attached || f->draining)
        return;
    if (!f->head.done) {
        size_t k = cgi_head_add(&f->head, p, n);
        struct cgi_head_result h;
        int r = cgi_head_parse(&f->head, &h);
        if (r == CGI_HEAD_WAIT)
            return; /* all of it was taken */
        if (r == CGI_HEAD_BAD) {
            log_error("run %s: %s: CGI header block: %s", f->id, f->script,
                      h.error);
            fail(f, 502, "%s", h.error);
            return;
        }
        head_hand(f, &h);
        p += k;
        n -= k;
        if (n == 0 || !f->attached || f->draining || f->conn_gen != gen)
            return;
    }
    body_hand(f, p, n);
}

/* STDERR: a job's output, beside STDOUT's; else kickd's log. PHP-FPM
 * writes each message as one record without a newline: a record's end
 * ends a line. */
static void
stderr_take(struct fcgi_run *f, const char *p, size_t n, bool last)
{
    if (!f->job) {
        stderr_log(f, p, n);
        if (last)
            stderr_flush(f);
        return;
    }
    if (!f->attached || f->draining)
        return;
    body_hand(f, p, n);
    if (last && p[n - 1] != '\n' && f->attached && !f->draining)
        body_hand(f, "\n", 1);
}

/* FCGI_REQUEST_COMPLETE: the output is complete if it had a head; the
 * work succeeded with app status 0 and a CGI status below 500 (PHP
 * answers 500 after a fatal error). */
static void
complete(struct fcgi_run *f)
{
    struct cgi_head_result h;
    int r = CGI_HEAD_WAIT;

    if (f->attached && !f->draining)
        r = cgi_head_end(&f->head, &h);
    if (r == CGI_HEAD_READY)
        head_hand(f, &h);
    f->end_error = NULL;
    if (r == CGI_HEAD_BAD) {
        log_error("run %s: %s: %s", f->id, f->script, h.error);
        snprintf(f->reason, sizeof(f->reason), "%s", h.error);
        f->end_error = f->reason;
        f->end_status = 502;
    } else if (f->status >= 500) {
        snprintf(f->reason, sizeof(f->reason), "FastCGI answered %d",
                 f->status);
    } else if (f->app_status != 0) {
        snprintf(f->reason, sizeof(f->reason), "app status %u",
                 (unsigned)f->app_status);
    } else {
        f->ok = true;
    }
}

/* FCGI_END_REQUEST: the request is over. Its connection is kept when the
 * pool completed it, kickd sent all of its request, and nothing followed
 * the end (clean). */
static void
request_end(struct fcgi_run *f, const struct fcgi_event *ev, bool clean)
{
    int ps = ev->protocol_status;
    const char *why = NULL;

    f->app_status = ev->app_status;
    f->over = true;
    if (!clean)
        log_warn("run %s: %s: bytes after FCGI_END_REQUEST", f->id,
                 f->address);
    conn_let_go(f, clean && ps == FCGI_REQUEST_COMPLETE && f->send.ended &&
                       !f->close_when_sent);
    stderr_flush(f);
    f->end_status = ps == FCGI_OVERLOADED ? 503 : 502;
    if (ps == FCGI_REQUEST_COMPLETE)
        complete(f);
    else if (ps == FCGI_OVERLOADED)
        why = "pool overloaded (FCGI_OVERLOADED)";
    else if (ps == FCGI_CANT_MPX_CONN)
        why = "pool refused the request (FCGI_CANT_MPX_CONN)";
    else if (ps == FCGI_UNKNOWN_ROLE)
        why = "pool does not take the Responder role (FCGI_UNKNOWN_ROLE)";
    else
        why = "pool ended the request with an unknown protocol status";
    if (why) {
        log_warn("run %s: %s: %s", f->id, f->address, why);
        snprintf(f->reason, sizeof(f->reason), "%s", why);
        f->end_error = f->reason;
    }
    report(f);
}

/* One read of the connection: its records, in order, until the request
 * ends or the sink ends it. */
static void
records_read(struct fcgi_run *f, const char *p, size_t n)
{
    unsigned gen = f->conn_gen;

    while (n > 0 && f->conn_gen == gen) {
        struct fcgi_event ev;
        ssize_t k = fcgi_parse(&f->parser, p, n, &ev);
        if (k == FCGI_BAD) {
            log_warn("run %s: %s: bad FastCGI record: %s", f->id, f->address,
                     f->parser.error);
            fail(f, 502, "bad FastCGI record: %s", f->parser.error);
            return;
        }
        p += k;
        n -= (size_t)k;
        if (ev.kind == FCGI_EV_STDOUT)
            stdout_take(f, ev.data, ev.len);
        else if (ev.kind == FCGI_EV_STDERR)
            stderr_take(f, ev.data, ev.len, ev.last);
        else if (ev.kind == FCGI_EV_END)
            request_end(f, &ev, n == 0);
    }
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct fcgi_run *f = s->data;

    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        conn_lost(f, (int)nread);
        return;
    }
    if (!f->answered) {
        /* The pool has the request: it is never sent again. */
        f->answered = true;
        fcgi_conn_answered(f->conn);
        fcgi_send_drop_replay(&f->send);
    }
    records_read(f, f->rbuf, (size_t)nread);
    close_if_sent(f);
}

/* The pool reads the connection for the run (wait.read_cb) from the
 * moment it is handed over, unless the sink is slow. */
static void
reading_update(struct fcgi_run *f)
{
    if (f->conn && f->paused)
        fcgi_conn_read_stop(f->conn);
    else if (f->conn)
        fcgi_conn_read_start(f->conn);
}

/* A connection for the request: it is sent (again, on a retry). */
static void
conn_ready(struct fcgi_run *f, struct fcgi_conn *c)
{
    int r;

    f->waiting = false;
    f->conn = c;
    f->conn_gen++;
    fcgi_conn_stream(c)->data = f;
    fcgi_parser_init(&f->parser, FCGI_REQUEST_ID);
    reading_update(f);
    r = fcgi_send_start(&f->send, fcgi_conn_stream(c), f->retried);
    if (r < 0) {
        fail(f, 502, "writing to the pool: %s", uv_strerror(r));
        return;
    }
    close_if_sent(f);
}

/* 503 when the pool refuses (no one listens, no socket, its listen
 * queue is full), 502 for any other failure. */
static void
connect_failed(struct fcgi_run *f, int err)
{
    bool refused = err == UV_ECONNREFUSED || err == UV_ENOENT ||
                   err == UV_EAGAIN;

    log_warn("run %s: could not connect to %s: %s", f->id, f->address,
             uv_strerror(err));
    fail(f, refused ? 503 : 502, "could not connect to %s: %s", f->address,
         uv_strerror(err));
}

static void
wait_cb(struct fcgi_wait *w, struct fcgi_conn *c, int err)
{
    struct fcgi_run *f =
        (struct fcgi_run *)((char *)w - offsetof(struct fcgi_run, wait));

    f->waiting = false;
    if (err < 0)
        connect_failed(f, err);
    else
        conn_ready(f, c);
}

/* Asks the pool for a connection (fresh: not a kept one). */
static void
conn_get(struct fcgi_run *f, bool fresh)
{
    struct fcgi_conn *c;
    int r = fcgi_pool_get(f->pools, f->address, f->limit, fresh, &f->wait,
                          &c);

    if (r == 1)
        conn_ready(f, c);
    else if (r == 0)
        f->waiting = true;
    else if (r == -EAGAIN)
        fail(f, 503, "pool busy: %d requests wait for a connection",
             FCGI_MAX_QUEUE);
    else
        fail(f, 502, "%s", strerror(-r));
}

/* The connection ended before FCGI_END_REQUEST (err: UV_EOF, a reset, a
 * failed write). A kept connection that the pool had closed meanwhile
 * (nothing was answered on it) is no failure of the request: it is sent
 * once more on a new connection. */
static void
conn_lost(struct fcgi_run *f, int err)
{
    bool again = !f->answered && fcgi_conn_is_kept(f->conn) &&
                 fcgi_send_can_replay(&f->send) && !f->retried;

    conn_let_go(f, false);
    if (again) {
        f->retried = true;
        log_info("run %s: %s had closed a kept connection, sending the "
                 "request on a new one",
                 f->id, f->address);
        conn_get(f, true);
        return;
    }
    /* A reset is a close with our bytes unread (a killed worker). */
    if (err == UV_EOF || err == UV_ECONNRESET) {
        log_warn("run %s: %s closed the connection%s", f->id, f->address,
                 err == UV_EOF ? "" : " (reset)");
        fail(f, 502, "pool closed the connection");
    } else {
        log_warn("run %s: %s: %s", f->id, f->address, uv_strerror(err));
        fail(f, 502, "connection to the pool failed: %s", uv_strerror(err));
    }
}

static void
fcgi_write_body(struct runner *r, const char *buf, size_t len)
{
    struct fcgi_run *f = (struct fcgi_run *)r;
    int e;

    if (!f->over && (e = fcgi_send_stdin(&f->send, buf, len)) < 0)
        fail(f, 502, "writing to the pool: %s", uv_strerror(e));
}

static void
fcgi_close_body(struct runner *r)
{
    struct fcgi_run *f = (struct fcgi_run *)r;
    int e;

    if (!f->over && (e = fcgi_send_stdin_end(&f->send)) < 0)
        fail(f, 502, "writing to the pool: %s", uv_strerror(e));
}

static size_t
fcgi_body_queued(const struct runner *r)
{
    return ((const struct fcgi_run *)r)->send.queued;
}

static void
fcgi_pause(struct runner *r)
{
    struct fcgi_run *f = (struct fcgi_run *)r;

    f->paused = true;
    reading_update(f);
}

static void
fcgi_resume(struct runner *r)
{
    struct fcgi_run *f = (struct fcgi_run *)r;

    f->paused = false;
    reading_update(f);
}

static void
fcgi_drain(struct runner *r)
{
    struct fcgi_run *f = (struct fcgi_run *)r;

    f->draining = true;
    f->head.done = true; /* no header block is awaited any more */
}

/* The caller left: the connection is closed as a web server's is, but
 * only once the pool has the whole request, so that a caller that hangs
 * up at once (the fire-and-forget trick) still has its script run; a
 * body cut short ends where it was cut, as php-cgi's stdin does. */
static void
fcgi_close_output(struct runner *r)
{
    struct fcgi_run *f = (struct fcgi_run *)r;

    fcgi_drain(r);
    if (f->over)
        return;
    f->ended = true;
    fcgi_close_body(r);
    f->close_when_sent = true;
    close_if_sent(f);
}

static void
fcgi_terminate(struct runner *r)
{
    struct fcgi_run *f = (struct fcgi_run *)r;

    fcgi_drain(r);
    close_now(f);
}

static void
fcgi_detach(struct runner *r, bool terminate)
{
    struct fcgi_run *f = (struct fcgi_run *)r;

    f->attached = false;
    if (terminate)
        fcgi_terminate(r);
    if (!f->over) {
        /* Read to its end and dropped; the connection may be kept. */
        fcgi_drain(r);
        fcgi_resume(r);
    }
    maybe_free(f);
}

static int
fcgi_pid(const struct runner *r)
{
    (void)r;
    return -1;
}

static struct runner *
fcgi_start(const struct runner_ctx *ctx, const struct cgi_request *cr,
           const struct runner_hooks *hooks, void *data, int *err)
{
    struct fcgi_run *f = calloc(1, sizeof(*f));
    int r = -ENOMEM;

    if (f == NULL)
        goto fail;
    *f = (struct fcgi_run){
        .base = {.ops = &runner_fastcgi, .hooks = hooks, .data = data},
        .hooks = hooks,
        .pools = ctx->fcgi,
        .limit = cr->route->concurrency,
        .attached = true,
        .job = cr->job,
        .app_status = -1,
        .wait = {.cb = wait_cb, .alloc_cb = alloc_cb, .read_cb = read_cb},
    };
    f->send.data = f;
    f->send.error_cb = send_error_cb;
    f->send.written_cb = send_written_cb;
    snprintf(f->id, sizeof(f->id), "%s", cr->run_id ? cr->run_id : "-");
    f->address = strdup(cr->route->fastcgi);
    f->script = strdup(cr->route->script_filename);
    f->rbuf = malloc(CGI_READ_SIZE);
    f->base.env = cgi_env_build(cr);
    if (f->address == NULL || f->script == NULL || f->rbuf == NULL ||
        f->base.env == NULL || cgi_head_init(&f->head, cr->job) < 0 ||
        (r = fcgi_send_init(&f->send, cr, f->base.env)) < 0)
        goto fail;
    uv_timer_init(ctx->loop, &f->later);
    f->later.data = f;
    conn_get(f, false);
    return &f->base;

fail:
    if (f)
        run_free(f);
    *err = r;
    return NULL;
}

const struct runner_ops runner_fastcgi = {
    .name = "fastcgi",
    .start = fcgi_start,
    .write_body = fcgi_write_body,
    .close_body = fcgi_close_body,
    .body_queued = fcgi_body_queued,
    .pause = fcgi_pause,
    .resume = fcgi_resume,
    .close_output = fcgi_close_output,
    .terminate = fcgi_terminate,
    .stop = fcgi_terminate, /* no process to signal: as terminate */
    .drain = fcgi_drain,
    .detach = fcgi_detach,
    .pid = fcgi_pid,
};
