/* SPDX-License-Identifier: MIT */
/* The forward runner (runner.h): a run is an HTTP request to the route's
 * URL (forward_request.c), sent and answered through libcurl on kickd's
 * loop (forward_multi.c). The answer's head and body go to the sink as
 * they come, with backpressure both ways; kickd ending a run closes its
 * upstream connection, which is what a web server sees when its caller
 * hangs up. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forward.h"
#include "forward_http.h"
#include "kick_limits.h"
#include "runner.h"

#define FORWARD_CLOSED "connection closed by kickd"

/* Body bytes not yet taken by libcurl. */
struct chunk {
    struct chunk *next;
    size_t len, off;
    char data[];
};

struct fwd {
    struct runner base; /* first: a struct runner * is a struct fwd * */
    struct forward_xfer x;
    struct forward *fw;
    const struct runner_hooks *hooks;
    uv_timer_t soon;  /* what waits for the loop, outside libcurl's calls */
    char target[280]; /* "host:port", for messages */
    struct curl_slist *fields;

    struct chunk *first, *last;
    size_t queued;      /* bytes in the chunks */
    int64_t body_len;   /* the body's length */
    int64_t body_given; /* bytes written to the run in all */
    bool has_body;
    bool body_closed;

    bool attached;    /* the sink takes hooks */
    bool paused;      /* the sink asked for no output */
    bool draining;    /* output dropped */
    bool ended;       /* end_cb given, or none due */
    bool recv_paused; /* as libcurl was told */
    bool send_paused;
    bool add_due, unpause_due, drain_due;
    bool killing;  /* kickd ends the transfer */
    bool over;     /* out of the multi */
    bool finished; /* done_cb given, or due now */
    bool freeing;
    const char *why; /* kickd's own reason the transfer failed */
    char why_buf[160];
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
    struct forward_head head;
};

static void
soon_cb(uv_timer_t *t);

static void
soon(struct fwd *f)
{
    if (!f->freeing)
        uv_timer_start(&f->soon, soon_cb, 0, 0);
}

static void
close_cb(uv_handle_t *h)
{
    struct fwd *f = h->data;

    forward_remove(f->fw, &f->x);
    curl_easy_cleanup(f->x.easy);
    curl_slist_free_all(f->fields);
    while (f->first) {
        struct chunk *c = f->first;
        f->first = c->next;
        free(c);
    }
    free(f->base.env);
    free(f);
}

/* The easy handle goes in the close callback: outside every libcurl
 * call, whoever let go of the run. */
static void
fwd_free(struct fwd *f)
{
    if (f->freeing)
        return;
    f->freeing = true;
    uv_close((uv_handle_t *)&f->soon, close_cb);
}

/* Takes the transfer out of the multi with its connection closed, not
 * kept for another run: the upstream sees its caller hang up. */
static void
drop(struct fwd *f)
{
    curl_easy_setopt(f->x.easy, CURLOPT_FORBID_REUSE, 1L);
    forward_remove(f->fw, &f->x);
    f->over = true;
}

/* Ends the transfer for kickd's reason why: at once, or, inside a libcurl
 * call, when it returns (the run's own callbacks fail meanwhile). The
 * outcome follows from the loop. */
static void
kill_transfer(struct fwd *f, const char *why)
{
    if (f->over || f->killing)
        return;
    f->killing = true;
    f->add_due = false;
    if (f->why == NULL)
        f->why = why;
    if (!f->x.added)
        f->over = true; /* it never started */
    else if (!forward_in_callback(f->fw))
        drop(f);
    soon(f);
}

/* Why the transfer failed, from libcurl's result. *status is what an
 * attached client gets if no head came. */
static void
failure_text(struct fwd *f, char *buf, size_t n, int *status)
{
    long os_errno = 0;
    const char *detail =
        f->errbuf[0] ? f->errbuf : curl_easy_strerror(f->result);

    *status = 502;
    switch (f->result) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(buf, n, "upstream timed out");
        *status = 504;
        break;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(f->x.easy, CURLINFO_OS_ERRNO, &os_errno);
        snprintf(buf, n, "could not connect to %s: %s", f->target,
                 os_errno ? strerror((int)os_errno) : detail);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(buf, n, "could not resolve the host of %s", f->target);
        break;
    default:
        snprintf(buf, n, "upstream: %s", detail);
        break;
    }
}

/* How the run ended: *error says why the output is incomplete (NULL:
 * complete, whatever the status), *status what a client without a head
 * gets. Strings may point into buf. */
static void
outcome_make(struct fwd *f, struct runner_outcome *o, char *buf, size_t n,
             const char **error, int *status)
{
    int s = f->head.done ? f->head.resp.status : 0;

    *o = (struct runner_outcome){.exit_status = -1, .http_status = s};
    *status = 502;
    *error = NULL;
    if (f->why) {
        *error = f->why;
    } else if (f->result != CURLE_OK) {
        failure_text(f, buf, n, status);
        *error = buf;
    } else if (!f->head.done) {
        *error = "upstream sent no answer";
    }
    if (*error) {
        o->reason = *error;
        return;
    }
    o->ok = s >= 200 && s < 300;
    if (!o->ok) {
        snprintf(buf, n, "upstream answered %d", s);
        o->reason = buf;
        o->retry_after = forward_retry_after(&f->head.resp, time(NULL));
    }
}

/* The transfer is out of the multi: the sink learns how it ended. */
static void
finish(struct fwd *f)
{
    struct runner_outcome o;
    char buf[CURL_ERROR_SIZE + 320];
    const char *error;
    int status;

    if (f->finished)
        return;
    f->finished = true;
    outcome_make(f, &o, buf, sizeof(buf), &error, &status);
    if (f->attached && !f->ended) {
        f->ended = true;
        f->hooks->end_cb(&f->base, error, status);
    }
    if (f->attached)
        f->hooks->done_cb(&f->base, &o);
    else
        fwd_free(f);
}

static void
xfer_done_cb(struct forward_xfer *x, CURLcode result)
{
    struct fwd *f = (struct fwd *)((char *)x - offsetof(struct fwd, x));

    f->over = true;
    f->result = result;
    finish(f);
}

/* Lifts the pauses libcurl was told of that no longer hold. */
static void
unpause(struct fwd *f)
{
    bool recv =
        f->recv_paused && f->paused && f->attached && !f->draining && !f->ended;
    bool send = f->send_paused && f->first == NULL && !f->body_closed;

    f->unpause_due = false;
    if (!f->x.added || f->killing ||
        (recv == f->recv_paused && send == f->send_paused))
        return;
    f->recv_paused = recv;
    f->send_paused = send;
    forward_pause(f->fw, &f->x,
                  (recv ? CURLPAUSE_RECV : 0) | (send ? CURLPAUSE_SEND : 0));
}

static void
soon_cb(uv_timer_t *t)
{
    struct fwd *f = t->data;
    int r;

    if (f->add_due) {
        f->add_due = false;
        if ((r = forward_add(f->fw, &f->x)) < 0) {
            snprintf(f->why_buf, sizeof(f->why_buf), "could not start: %s",
                     strerror(-r));
            f->why = f->why_buf;
            f->over = true;
        }
    }
    if (f->killing && f->x.added)
        drop(f);
    if (f->over) {
        finish(f);
        return;
    }
    if (f->drain_due) {
        f->drain_due = false;
        if (f->attached && f->hooks->stdin_drain_cb)
            f->hooks->stdin_drain_cb(&f->base);
    }
    if (f->unpause_due && !f->freeing)
        unpause(f);
}

/* Output of the upstream: its head (buf NULL) or body bytes, handed on.
 * false when the transfer is to end now. */
static bool
output(struct fwd *f, const char *buf, size_t len)
{
    char *copy;

    /* PHP's rule: a client's hang-up ends the work at its next output. */
    if (f->attached && f->hooks->output_cb) {
        f->hooks->output_cb(&f->base);
        if (f->killing)
            return false;
    }
    if (!f->attached || f->draining || f->ended)
        return true;
    if (buf == NULL) {
        f->hooks->head_cb(&f->base, &f->head.resp, NULL, 0);
        return !f->killing;
    }
    if ((copy = malloc(len)) == NULL) {
        f->why = "out of memory";
        return false;
    }
    memcpy(copy, buf, len);
    f->hooks->body_cb(&f->base, copy, len);
    return !f->killing;
}

/* CURLOPT_HEADERFUNCTION: one line of the answer's head (or a trailer
 * field, which is not kept). Returning less than len fails the
 * transfer. */
static size_t
header_cb(char *line, size_t size, size_t n, void *data)
{
    struct fwd *f = data;
    size_t len = size * n;
    int r;

    if (f->killing || f->why)
        return 0;
    if (f->head.done)
        return len;
    r = forward_head_line(&f->head, line, len);
    if (r == FORWARD_HEAD_MORE)
        return len;
    if (r == FORWARD_HEAD_BAD) {
        snprintf(f->why_buf, sizeof(f->why_buf),
                 "upstream sent a malformed answer: %s", f->head.error);
        f->why = f->why_buf;
        return 0;
    }
    return output(f, NULL, 0) ? len : 0;
}

/* CURLOPT_WRITEFUNCTION: body bytes; a paused sink pauses the transfer
 * (libcurl keeps the bytes and stops reading the socket). */
static size_t
write_cb(char *buf, size_t size, size_t n, void *data)
{
    struct fwd *f = data;
    size_t len = size * n;

    if (f->killing || f->why)
        return 0;
    if (f->paused && f->attached && !f->draining && !f->ended) {
        f->recv_paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    return len == 0 || output(f, buf, len) ? len : 0;
}

/* CURLOPT_READFUNCTION: the body as it was written to the run; with
 * none queued and more to come, the upload pauses until write_body. */
static size_t
read_cb(char *buf, size_t size, size_t n, void *data)
{
    struct fwd *f = data;
    size_t room = size * n, got = 0;
    bool full = f->queued >= CGI_MAX_STDIN_QUEUE;

    if (f->killing)
        return CURL_READFUNC_ABORT;
    while (got < room && f->first) {
        struct chunk *c = f->first;
        size_t k = c->len - c->off < room - got ? c->len - c->off : room - got;
        memcpy(buf + got, c->data + c->off, k);
        got += k;
        c->off += k;
        if (c->off == c->len) {
            f->first = c->next;
            if (f->first == NULL)
                f->last = NULL;
            free(c);
        }
    }
    f->queued -= got;
    if (full && f->queued < CGI_MAX_STDIN_QUEUE) {
        f->drain_due = true;
        soon(f);
    }
    if (got > 0 || f->body_closed)
        return got;
    f->send_paused = true;
    return CURL_READFUNC_PAUSE;
}

static void
fwd_write_body(struct runner *r, const char *buf, size_t len)
{
    struct fwd *f = (struct fwd *)r;
    struct chunk *c;

    if (!f->has_body || f->body_closed || f->over || len == 0)
        return;
    if ((c = malloc(sizeof(*c) + len)) == NULL) {
        kill_transfer(f, "out of memory");
        return;
    }
    c->next = NULL;
    c->len = len;
    c->off = 0;
    memcpy(c->data, buf, len);
    if (f->last)
        f->last->next = c;
    else
        f->first = c;
    f->last = c;
    f->queued += len;
    f->body_given += (int64_t)len;
    if (f->send_paused) {
        f->unpause_due = true;
        soon(f);
    }
}

/* A body that ends short of its length cannot be told as such but by
 * closing the connection, as a proxy does when its client leaves
 * mid-body. */
static void
fwd_close_body(struct runner *r)
{
    struct fwd *f = (struct fwd *)r;

    if (f->body_closed)
        return;
    f->body_closed = true;
    if (f->has_body && f->body_given < f->body_len) {
        kill_transfer(f, "the request body was cut short");
        return;
    }
    if (f->send_paused) {
        f->unpause_due = true;
        soon(f);
    }
}

static size_t
fwd_body_queued(const struct runner *r)
{
    return ((const struct fwd *)r)->queued;
}

static void
fwd_pause(struct runner *r)
{
    ((struct fwd *)r)->paused = true;
}

static void
fwd_resume(struct runner *r)
{
    struct fwd *f = (struct fwd *)r;

    f->paused = false;
    if (f->recv_paused) {
        f->unpause_due = true;
        soon(f);
    }
}

/* The caller left, or the run is ended: the upstream connection closes
 * now, no end_cb follows, done_cb does. */
static void
fwd_close_output(struct runner *r)
{
    struct fwd *f = (struct fwd *)r;

    f->ended = true;
    kill_transfer(f, FORWARD_CLOSED);
}

/* As close_output, but the sink hears the output end (a job keeps it). */
static void
fwd_stop(struct runner *r)
{
    kill_transfer((struct fwd *)r, FORWARD_CLOSED);
}

static void
fwd_drain(struct runner *r)
{
    struct fwd *f = (struct fwd *)r;

    f->draining = true;
    if (f->recv_paused) {
        f->unpause_due = true;
        soon(f);
    }
}

static void
fwd_detach(struct runner *r, bool terminate)
{
    struct fwd *f = (struct fwd *)r;

    f->attached = false;
    if (terminate)
        kill_transfer(f, FORWARD_CLOSED);
    if (f->finished)
        fwd_free(f);
}

static int
fwd_pid(const struct runner *r)
{
    (void)r;
    return -1;
}

/* libcurl's options for the run: the request, the callbacks, and a
 * deadline behind the run's time limit (which run.c enforces). */
static int
easy_setup(struct fwd *f, const struct cgi_request *cr)
{
    CURL *e = f->x.easy;
    int limit = cgi_request_time_limit(cr);
    int r = forward_request_set(e, cr, &f->fields, &f->has_body);

    if (r < 0)
        return r;
    f->body_len = cr->content_length;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* One request per connection at a time, as nginx speaks to its
     * upstreams: closing it is how the upstream learns of an abort. */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* Straight to the URL: no proxy from kickd's environment. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, f);
    if (limit > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                         (long)limit * 1000 + FORWARD_DEADLINE_MARGIN);
    return 0;
}

static struct runner *
fwd_start(const struct runner_ctx *ctx, const struct cgi_request *cr,
          const struct runner_hooks *hooks, void *data, int *err)
{
    struct fwd *f = calloc(1, sizeof(*f));
    int r = -ENOMEM;

    if (f == NULL)
        goto fail;
    f->base.env = cgi_env_build(cr);
    f->x.easy = curl_easy_init();
    if (f->base.env == NULL || f->x.easy == NULL)
        goto fail;
    f->base.ops = &runner_forward;
    f->base.hooks = f->hooks = hooks;
    f->base.data = data;
    f->fw = ctx->forward;
    f->x.done_cb = xfer_done_cb;
    forward_head_init(&f->head);
    forward_request_target(cr->route->forward, f->target, sizeof(f->target));
    if ((r = easy_setup(f, cr)) < 0)
        goto fail;
    /* A start from inside a libcurl callback waits for the loop. */
    r = forward_add(f->fw, &f->x);
    if (r < 0 && r != -EBUSY)
        goto fail;
    uv_timer_init(ctx->loop, &f->soon);
    f->soon.data = f;
    f->attached = true;
    if (r == -EBUSY) {
        f->add_due = true;
        soon(f);
    }
    return &f->base;

fail:
    if (f) {
        curl_easy_cleanup(f->x.easy);
        curl_slist_free_all(f->fields);
        free(f->base.env);
    }
    free(f);
    *err = r;
    return NULL;
}

const struct runner_ops runner_forward = {
    .name = "forward",
    .start = fwd_start,
    .write_body = fwd_write_body,
    .close_body = fwd_close_body,
    .body_queued = fwd_body_queued,
    .pause = fwd_pause,
    .resume = fwd_resume,
    .close_output = fwd_close_output,
    /* No work of kickd's outlives its connection: closing it ends it. */
    .terminate = fwd_close_output,
    .stop = fwd_stop,
    .drain = fwd_drain,
    .detach = fwd_detach,
    .pid = fwd_pid,
};
