/* SPDX-License-Identifier: MIT */
/* The answering side of a connection: staged writes and their flush,
 * kickd's own answers, the lingering close, and the run hooks that turn a
 * script's CGI response into the HTTP response. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "run.h"
#include "conn.h"
#include "conn_internal.h"
#include "http_parse.h"
#include "http_response.h"
#include "kick_limits.h"
#include "log.h"
#include "srv.h"

void
conn__write_free(struct conn *c, struct conn_write *w)
{
    c->write_queued -= w->bytes;
    for (unsigned i = 0; i < w->nowned; i++)
        free(w->owned[i]);
    free(w);
}

/* The client took queued bytes. The script's output was paused while
 * the client's queue was full: it goes on once the queue is down to half
 * (and so does the reading of requests, conn__out_progress). */
static void
queue_drained(struct conn *c)
{
    if (c->run && c->write_queued < CONN_MAX_WRITE_QUEUE / 2)
        run_resume(c->run);
    conn__out_progress(c);
}

static void
write_cb(uv_write_t *req, int status)
{
    struct conn_write *w = (struct conn_write *)req;
    struct conn *c = w->c;

    conn__write_free(c, w);
    if (c->closing)
        return;
    if (status < 0) {
        if (status != UV_ECANCELED)
            log_info("conn %" PRIu64 ": write failed: %s", c->id,
                     uv_strerror(status));
        conn_close(c);
        return;
    }
    queue_drained(c);
}

/* Hands the staged bytes to the socket. */
static void
conn_flush(struct conn *c)
{
    struct conn_write *w = c->stage;

    if (w == NULL)
        return;
    c->stage = NULL;
    if (w->nbufs == 0) {
        conn__write_free(c, w);
        return;
    }
    /* Most answers fit the socket buffer: written at once, without a
     * write request (libuv refuses while earlier writes are queued, so
     * the order holds). */
    size_t total = 0; /* w->bytes counts no chunk framing; this does */
    for (unsigned i = 0; i < w->nbufs; i++)
        total += w->bufs[i].len;
    int r = uv_try_write((uv_stream_t *)&c->tcp, w->bufs, w->nbufs);
    if (r >= 0 && (size_t)r == total) {
        conn__write_free(c, w);
        queue_drained(c);
        return;
    }
    if (r < 0 && r != UV_EAGAIN) {
        conn__write_free(c, w);
        conn_close(c);
        return;
    }
    /* The rest, if a part went, is queued: the buffers are moved past the
     * bytes written. */
    unsigned first = 0;
    for (size_t done = r > 0 ? (size_t)r : 0; done > 0;) {
        if (done >= w->bufs[first].len) {
            done -= w->bufs[first].len;
            first++;
        } else {
            w->bufs[first].base += done;
            w->bufs[first].len -= (unsigned)done;
            done = 0;
        }
    }
    /* write_queued keeps counting the whole part until its callback:
     * backpressure errs on the safe side. */
    r = uv_write(&w->req, (uv_stream_t *)&c->tcp, w->bufs + first,
                 w->nbufs - first, write_cb);
    if (r < 0) {
        conn__write_free(c, w);
        conn_close(c);
    }
}

/* Once per loop turn, after the callbacks that staged them: every
 * connection's staged bytes go to its socket, and the access log's
 * lines to their file. */
static void
flush_cb(uv_check_t *h)
{
    struct srv *s = h->data;
    struct conn *c;

    while ((c = s->flushes) != NULL) {
        s->flushes = c->flush_next;
        c->flush_next = NULL;
        c->flush_queued = false;
        conn_flush(c);
    }
    access_log_flush(&s->access);
    uv_check_stop(&s->flush_check);
}

void
conn__flush_soon(struct srv *s)
{
    if (!uv_is_active((uv_handle_t *)&s->flush_check))
        uv_check_start(&s->flush_check, flush_cb);
}

/* Stages head (hlen bytes, may be NULL; freed once written) and then len
 * bytes at data; owned (may be NULL) is freed once written. With chunk
 * set, data goes out as one chunk (RFC 9112 section 7.1). */
void
conn__write_head(struct conn *c, char *head, size_t hlen, char *owned,
                 const char *data, size_t len, bool chunk)
{
    struct conn_write *w = c->stage;

    if (head == NULL && len == 0) {
        free(owned);
        return;
    }
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
            conn__flush_soon(c->srv);
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

void
conn__write(struct conn *c, char *owned, const char *data, size_t len,
            bool chunk)
{
    conn__write_head(c, NULL, 0, owned, data, len, chunk);
}

void
conn__write_copy(struct conn *c, const char *data, size_t len)
{
    char *copy = malloc(len);

    if (copy == NULL) {
        conn_close(c);
        return;
    }
    memcpy(copy, data, len);
    conn__write(c, copy, copy, len, false);
}

static void
shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

/* Ends the connection after what is queued: shut the write side, then
 * read and drop input until the client closes or CONN_LINGER_TIME. */
void
conn__linger(struct conn *c)
{
    if (c->closing || c->state == C_LINGER)
        return;
    conn__log_end(c);
    if (c->run) {
        run_abort(c->run);
        c->run = NULL;
    }
    c->state = C_LINGER;
    c->len = 0;
    c->head_len = 0;
    conn__timer_set(c, T_LINGER);
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
        c->stdin_full = c->out_full = false;
        conn__read_start(c);
    }
}

/* The Connection field of an answer: "close" when the connection ends
 * after it, "keep-alive" to an HTTP/1.0 client that keeps it, else none. */
static const char *
connection_value(const struct conn *c, bool close)
{
    return close                       ? "close"
           : c->req.minor_version == 0 ? "keep-alive"
                                       : NULL;
}

/* Answers with a text body. With keep set and the request's body fully
 * read, the connection goes on to the next request; otherwise it closes
 * once the answer is out. */
void
conn__respond_text(struct conn *c, int status, const char *text, size_t len,
                   const char *extra, bool keep)
{
    char out[1024 + API_MAX_REPLY];
    bool close = !keep || !c->keep_alive;
    bool head = c->head_len > 0 && c->req.method == HTTP_HEAD;
    size_t n = http_format_answer(
        out, sizeof(out), status, "text/plain; charset=utf-8", text, len,
        http_date_now(&c->srv->date), connection_value(c, close), head,
        extra);
    conn__log_answer(c, status);
    c->log_bytes += head ? 0 : len;
    conn__write_copy(c, out, n);
    if (c->closing)
        return;
    if (close) {
        conn__linger(c);
        return;
    }
    c->resp_done = true;
    conn__request_done(c);
}

/* Answers with kickd's own "STATUS Reason: detail" response. */
void
conn__respond(struct conn *c, int status, const char *detail, const char *extra,
              bool keep)
{
    char text[256];
    size_t n = http_error_text(text, sizeof(text), status, detail);

    if (status >= 400)
        log_info("conn %" PRIu64 ": %d %s", c->id, status,
                 detail ? detail : http_status_reason(status));
    conn__respond_text(c, status, text, n, extra, keep);
}

/* An answer that does not run a script: keep-alive only if no body is
 * announced (kickd does not read bodies it has no use for). */
void
conn__respond_early(struct conn *c, int status, const char *detail,
                    const char *extra)
{
    bool no_body = c->req.content_length <= 0 && !c->req.chunked;

    conn__respond(c, status, detail, extra, no_body);
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

/* An answer of unknown length streams chunked to an HTTP/1.1 client and
 * ends with the connection for an HTTP/1.0 one. */
static void
frame_unknown_length(struct conn *c)
{
    if (c->req.minor_version >= 1)
        c->resp_chunked = true;
    else
        c->keep_alive = false; /* HTTP/1.0: the close ends the body */
}

/* Ends the head at out (n bytes, room for cap): the framing field (a
 * Content-Length of length if that is >= 0), the connection field and the
 * blank line. Returns the head's length. */
static size_t
head_end(struct conn *c, char *out, size_t n, size_t cap, int64_t length)
{
    if (length >= 0)
        n += (size_t)snprintf(out + n, cap - n,
                              "Content-Length: %" PRId64 "\r\n", length);
    else if (c->resp_chunked)
        n += (size_t)snprintf(out + n, cap - n,
                              "Transfer-Encoding: chunked\r\n");
    if (c->draining)
        c->keep_alive = false;
    if (!c->keep_alive)
        n += (size_t)snprintf(out + n, cap - n, "Connection: close\r\n");
    else if (c->req.minor_version == 0)
        n += (size_t)snprintf(out + n, cap - n, "Connection: keep-alive\r\n");
    memcpy(out + n, "\r\n", 2);
    return n + 2;
}

static void
hold_timer_cb(uv_timer_t *t);

/* Most scripts answer with a few bytes and exit: their answer waits for
 * the end (CONN_HOLD_*) and leaves in one write with a Content-Length,
 * where streaming it would cost a write for the head and body, another
 * for the last chunk, and a chunked body to the client. */
static void
hold_start(struct conn *c, char *head, size_t hlen, size_t cap, char *body,
           size_t len)
{
    c->holding = true;
    c->held_head = head;
    c->held_head_len = hlen;
    c->held_head_cap = cap;
    c->held_body = body;
    c->held_len = body ? len : 0;
    uv_timer_start(&c->hold_timer, hold_timer_cb,
                   (uint64_t)c->srv->cfg->response_hold, 0);
}

/* Lets the held answer go: with its length once the script has ended
 * well, or as the start of a stream. */
static void
hold_release(struct conn *c, bool ended)
{
    char *head = c->held_head, *body = c->held_body;
    size_t len = c->held_len;

    uv_timer_stop(&c->hold_timer);
    c->holding = false;
    c->held_head = c->held_body = NULL;
    c->held_len = 0;
    if (!ended)
        frame_unknown_length(c);
    c->log_bytes += len;
    size_t n = head_end(c, head, c->held_head_len, c->held_head_cap,
                        ended ? (int64_t)len : -1);
    conn__write_head(c, head, n, body, body, len, c->resp_chunked);
}

static void
hold_timer_cb(uv_timer_t *t)
{
    struct conn *c = t->data;

    /* Timers run before the loop's I/O wait, and the flush check after
     * it: what the release staged goes out now. */
    if (c->holding) {
        hold_release(c, false);
        conn_flush(c);
    }
}

/* Adds len bytes at buf (owned) to the held answer; false if they do not
 * fit, and then the answer is let go as a stream. */
static bool
hold_add(struct conn *c, char *buf, size_t len)
{
    if (c->held_len + len > CONN_HOLD_BYTES) {
        hold_release(c, false);
        return false;
    }
    char *grown = realloc(c->held_body, c->held_len + len);
    if (grown == NULL) {
        hold_release(c, false);
        return false;
    }
    memcpy(grown + c->held_len, buf, len);
    c->held_body = grown;
    c->held_len += len;
    free(buf);
    return true;
}

static void
run_head_cb(struct run *g, const struct cgi_response *r, char *body,
            size_t len)
{
    struct conn *c = run_data(g);
    const struct http_request *req = &c->req;
    int status = r->status;
    bool has_server = false;
    bool bodiless = status < 200 || status == 204 || status == 304;

    c->resp_no_body = req->method == HTTP_HEAD || bodiless;
    c->resp_left = r->content_length;
    conn__log_answer(c, status);
    c->resp_chunked = false;
    /* A script may answer before its whole body has arrived (it echoes
     * headers first): the body's length is known, so the connection stays
     * usable; only a script whose answer ends before its body does closes
     * it (run_end_cb). */

    size_t cap = 512 + CGI_MAX_HEADER_BYTES + r->header_count * 4;
    char *out = malloc(cap);
    if (out == NULL) {
        free(body);
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
        if (http_name_is(h->name, h->name_len, "transfer-encoding") ||
            http_name_is(h->name, h->name_len, "connection") ||
            http_name_is(h->name, h->name_len, "keep-alive") ||
            http_name_is(h->name, h->name_len, "date"))
            continue;
        if (http_name_is(h->name, h->name_len, "server"))
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
    c->head_sent = true;
    if (r->content_length < 0 && !c->resp_no_body &&
        c->srv->cfg->response_hold > 0) {
        hold_start(c, out, n, cap, body, len);
        return;
    }
    /* A HEAD answer has the fields a GET's would have. */
    if (r->content_length < 0 && !bodiless)
        frame_unknown_length(c);
    n = head_end(c, out, n, cap, -1);
    if (body == NULL || c->resp_no_body || c->resp_left == 0) {
        free(body);
        conn__write(c, out, out, n, false);
        return;
    }
    len = body_cap(c, len, g);
    c->log_bytes += len;
    conn__write_head(c, out, n, body, body, len, c->resp_chunked);
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
    if (c->holding && hold_add(c, buf, len))
        return;
    if (c->closing) {
        free(buf);
        return;
    }
    len = body_cap(c, len, g);
    c->log_bytes += len;
    conn__write(c, buf, buf, len, c->resp_chunked);
    if (!c->closing && c->write_queued >= CONN_MAX_WRITE_QUEUE)
        run_pause(g);
}

static void
run_end_cb(struct run *g, const char *error, int status)
{
    struct conn *c = run_data(g);

    run_release(g);
    c->run = NULL;
    if (!c->head_sent) {
        bool keep = c->state == C_RESPONSE;
        conn__respond(c, status,
                      error ? error : "no response from script", NULL, keep);
        if (!c->closing && c->state != C_LINGER)
            conn__process(c);
        return;
    }
    if (c->holding) {
        hold_release(c, error == NULL);
        if (c->closing)
            return;
    }
    if (error || (!c->resp_no_body && c->resp_left > 0)) {
        /* A cut-short body: what was written goes out, then the close
         * without the last chunk (or short of the length) tells the
         * client the response is incomplete. */
        c->keep_alive = false;
        conn__linger(c);
        return;
    }
    conn_stream_end(c);
}

static void
run_stdin_drain_cb(struct run *g)
{
    struct conn *c = run_data(g);

    c->stdin_full = false;
    conn__process(c);
}

const struct run_hooks conn__run_hooks = {
    .head_cb = run_head_cb,
    .body_cb = run_body_cb,
    .end_cb = run_end_cb,
    .stdin_drain_cb = run_stdin_drain_cb,
};

void
conn_stream_start(struct conn *c, int status, const char *ctype)
{
    char head[512];
    size_t n;

    if (c->closing)
        return;
    /* A HEAD answer has the fields a GET's would have. */
    c->resp_no_body = c->req.method == HTTP_HEAD;
    frame_unknown_length(c);
    n = (size_t)snprintf(head, sizeof(head),
                         "HTTP/1.1 %d %s\r\nDate: %s\r\n"
                         "Server: kickd/" KICK_VERSION "\r\n"
                         "Content-Type: %s\r\n"
                         "Cache-Control: no-store\r\n"
                         "X-Content-Type-Options: nosniff\r\n",
                         status, http_status_reason(status),
                         http_date_now(&c->srv->date), ctype);
    n = head_end(c, head, n, sizeof(head), -1);
    c->head_sent = true;
    conn__log_answer(c, status);
    conn__write_copy(c, head, n);
    if (c->resp_no_body)
        conn_stream_end(c);
}

void
conn_stream_write(struct conn *c, const char *data, size_t len)
{
    char *copy;

    if (c->closing || c->resp_no_body || len == 0)
        return;
    if ((copy = malloc(len)) == NULL) {
        conn_close(c);
        return;
    }
    memcpy(copy, data, len);
    c->log_bytes += len;
    conn__write(c, copy, copy, len, c->resp_chunked);
}

size_t
conn_stream_queued(const struct conn *c)
{
    return c->write_queued;
}

void
conn_stream_end(struct conn *c)
{
    if (c->closing || c->resp_done)
        return;
    if (c->resp_chunked && !c->resp_no_body)
        conn__write(c, NULL, "0\r\n\r\n", 5, false);
    if (c->closing)
        return;
    c->resp_done = true;
    if (c->state == C_BODY || !c->keep_alive) {
        conn__linger(c);
        return;
    }
    conn__request_done(c);
    if (!c->in_process)
        conn__process(c);
}

void
conn_reply(struct conn *c, int status, const char *ctype, const char *body,
           size_t len, const char *extra)
{
    char head[1024];
    bool close = !c->keep_alive || c->draining;
    bool head_only = c->req.method == HTTP_HEAD;

    if (c->closing)
        return;
    if (status >= 400)
        log_info("conn %" PRIu64 ": %.*s", c->id, (int)strcspn(body, "\n"),
                 body);
    /* The head alone: the body goes out from its own buffer. */
    size_t n = http_format_answer(head, sizeof(head), status, ctype, NULL,
                                  len, http_date_now(&c->srv->date),
                                  connection_value(c, close), true, extra);
    char *h = n > 0 ? malloc(n) : NULL;
    char *b = head_only || len == 0 ? NULL : malloc(len);
    if (h == NULL || (!head_only && len > 0 && b == NULL)) {
        free(h);
        free(b);
        conn_close(c);
        return;
    }
    memcpy(h, head, n);
    if (b)
        memcpy(b, body, len);
    conn__log_answer(c, status);
    c->log_bytes += b ? len : 0;
    conn__write_head(c, h, n, b, b, b ? len : 0, false);
    if (c->closing)
        return;
    if (close) {
        conn__linger(c);
        return;
    }
    c->resp_done = true;
    conn__request_done(c);
    if (!c->in_process)
        conn__process(c);
}
