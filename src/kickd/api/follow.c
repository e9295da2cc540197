/* SPDX-License-Identifier: MIT */
/* GET /jobs/ID/output?follow=1 (follow.h): a job's output streamed as it
 * is written, until the job ends.
 *
 * The client's place is a byte offset in the job's output in all (the
 * store's output_size). What the store keeps goes first; then, while the
 * job runs here, each byte as its run writes it (job_run_watch), with no
 * store in between. Between runs (queued for a retry, or running on
 * another node) and while the client is slow to read, the store is read
 * again every FOLLOW_POLL_MS from the client's place: bytes the output cap
 * dropped meanwhile are skipped, as `tail -f` skips a truncated file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "conn.h"
#include "follow.h"
#include "job_run.h"
#include "kick_limits.h"
#include "log.h"
#include "srv.h"
#include "store_async.h"
#include "worker.h"

struct follow {
    struct store_op op; /* first: the completion finds the whole */
    struct job_watch watch;
    struct srv *srv;
    struct conn *c; /* NULL once the client is gone */
    int64_t id;
    int64_t sent;   /* the client's place in the job's output */
    bool started;   /* the head is out */
    bool head_only; /* HEAD: the head is all */
    bool reading;   /* op is with the store */
    uv_timer_t timer;
};

static void read_output(struct follow *f);

static void
free_cb(uv_handle_t *h)
{
    struct follow *f = h->data;

    store_op_clear(&f->op);
    free(f);
}

/* Frees f once nothing refers to it: its read, if one is out, frees it
 * when it comes back. */
static void
follow_free(struct follow *f)
{
    job_run_unwatch(&f->watch);
    uv_timer_stop(&f->timer);
    if (!f->reading && !uv_is_closing((uv_handle_t *)&f->timer))
        uv_close((uv_handle_t *)&f->timer, free_cb);
}

/* The client left. */
static void
gone_cb(void *data)
{
    struct follow *f = data;

    f->c = NULL;
    follow_free(f);
}

/* f answers for its connection no more: it gives the last of its answer
 * and is freed. */
static struct conn *
let_go(struct follow *f)
{
    struct conn *c = f->c;

    f->c = NULL;
    conn_on_close(c, NULL, f);
    return c;
}

/* The job ended, or the follow cannot go on: the stream ends, complete
 * (the last chunk) or not (the connection closes without it). */
static void
follow_end(struct follow *f, bool complete)
{
    struct conn *c = let_go(f);

    if (complete)
        conn_stream_end(c);
    else
        conn_close(c);
    follow_free(f);
}

/* An answer before the stream started: the job API's error. */
static void
refuse(struct follow *f, int status, const char *why)
{
    api_error_reply(let_go(f), status, why, NULL);
    follow_free(f);
}

/* Sends the part of buf (len bytes ending at byte end of the output) that
 * lies past the client's place. */
static void
send_from(struct follow *f, const char *buf, size_t len, int64_t end)
{
    int64_t start = end - (int64_t)len;

    if (end <= f->sent)
        return;
    size_t skip = f->sent > start ? (size_t)(f->sent - start) : 0;
    conn_stream_write(f->c, buf + skip, len - skip);
    f->sent = end;
}

static void
poll_cb(uv_timer_t *t)
{
    struct follow *f = t->data;

    /* A slow client reads what is queued first. */
    if (conn_stream_queued(f->c) >= CONN_MAX_WRITE_QUEUE / 2)
        uv_timer_start(&f->timer, poll_cb, FOLLOW_POLL_MS, 0);
    else
        read_output(f);
}

static void
watch_output_cb(struct job_watch *w, const char *buf, size_t len,
                int64_t end)
{
    struct follow *f = (struct follow *)((char *)w -
                                         offsetof(struct follow, watch));

    send_from(f, buf, len, end);
    if (f->c == NULL)
        return;
    /* The client does not keep up: the store holds the rest for it. */
    if (conn_stream_queued(f->c) >= CONN_MAX_WRITE_QUEUE) {
        job_run_unwatch(w);
        uv_timer_start(&f->timer, poll_cb, FOLLOW_POLL_MS, 0);
    }
}

/* The run ended and its end is in the store: read how it ended. */
static void
watch_ended_cb(struct job_watch *w)
{
    struct follow *f = (struct follow *)((char *)w -
                                         offsetof(struct follow, watch));

    read_output(f);
}

static void
read_done(struct store_op *op)
{
    struct follow *f = (struct follow *)op;
    bool final = op->job.state != JOB_QUEUED && op->job.state != JOB_RUNNING;

    f->reading = false;
    if (f->c == NULL) {
        follow_free(f);
        return;
    }
    if (op->result != 0 && !f->started) {
        if (op->result < 0)
            log_error("store: %s", op->error);
        refuse(f, op->result < 0 ? 503 : 404,
               op->result < 0 ? "job store unavailable" : "no such job");
        return;
    }
    if (op->result != 0) {
        follow_end(f, op->result == 1); /* deleted: its output is over */
        return;
    }
    if (!f->started) {
        f->started = true;
        if (f->head_only) {
            conn_stream_start(let_go(f), 200, "application/octet-stream");
            follow_free(f);
            return;
        }
        conn_stream_start(f->c, 200, "application/octet-stream");
        if (f->c == NULL)
            return;
    }
    send_from(f, op->data_buf, op->data_len, op->job.output_size);
    if (f->c == NULL)
        return;
    struct job_run *jr = final ? NULL : worker_run(f->srv, f->id);
    if (final)
        follow_end(f, true);
    else if (jr == NULL && f->srv->stopping)
        follow_end(f, false); /* it will not run here any more */
    else if (jr && conn_stream_queued(f->c) < CONN_MAX_WRITE_QUEUE)
        job_run_watch(jr, &f->watch, f->sent);
    else
        uv_timer_start(&f->timer, poll_cb, FOLLOW_POLL_MS, 0);
}

static void
read_output(struct follow *f)
{
    store_op_clear(&f->op);
    memset(&f->op.job, 0, sizeof(f->op.job));
    f->op.kind = SOP_OUTPUT_GET;
    f->op.id = f->id;
    f->op.done_cb = read_done;
    f->reading = true;
    store_submit(&f->srv->store, &f->op);
}

void
follow_start(struct conn *c, int64_t id, bool head_only)
{
    struct follow *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        api_error_reply(c, 503, "out of memory", NULL);
        return;
    }
    f->srv = conn_srv(c);
    f->c = c;
    f->id = id;
    f->head_only = head_only;
    f->watch.output_cb = watch_output_cb;
    f->watch.ended_cb = watch_ended_cb;
    uv_timer_init(f->srv->loop, &f->timer);
    f->timer.data = f;
    conn_on_close(c, gone_cb, f);
    read_output(f);
}
