/* SPDX-License-Identifier: MIT */
/* GET /events (events.h). Every stream takes the same text: the job
 * changes of a window are gathered once (event_batch.c), formatted once,
 * and written to each stream when the window ends; the counts are read
 * (stats.c) at most once a second while something changed, and sent only
 * when their text differs from the last sent. Nothing is gathered while
 * no stream is open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "conn.h"
#include "event_batch.h"
#include "events.h"
#include "kick_limits.h"
#include "log.h"
#include "srv.h"
#include "stats.h"

static const char EVENT_OK[] = ": ok\n\n";
static const char EVENT_PING[] = ": ping\n\n";

struct events_stream {
    struct events_stream *prev, *next;
    struct events *hub;
    struct conn *c;
    /* Text was dropped because the client did not take what was queued:
     * once it has taken half, it gets a resync (and the counts) first. */
    bool behind;
};

struct events {
    struct srv *srv;
    struct events_stream *streams;
    size_t nstreams;
    struct event_batch batch; /* the window's job changes */
    uv_timer_t window_timer;  /* the end of the window */
    uint64_t last_flush;      /* loop ms of the last window's end */
    uv_timer_t tick_timer;    /* every EVENTS_COUNTS_MS while streams are
                               * open: the counts, and now and then a
                               * ping */
    unsigned ticks;
    bool counts_dirty;      /* a job changed since the counts were read */
    bool elsewhere;         /* jobs changed on other nodes since the
                             * last tick: the pages read again */
    struct stats_wait wait; /* the counts being read */
    bool waiting;
    char *counts; /* the last counts event sent (its text) */
    size_t counts_len;
    bool stopping;
};

static void
stream_unlink(struct events_stream *st)
{
    struct events *ev = st->hub;

    if (st->prev)
        st->prev->next = st->next;
    else
        ev->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    ev->nstreams--;
}

/* No stream is open: nothing is gathered or read until one is. */
static void
hub_idle(struct events *ev)
{
    uv_timer_stop(&ev->window_timer);
    uv_timer_stop(&ev->tick_timer);
    event_batch_clear(&ev->batch);
    free(ev->counts);
    ev->counts = NULL;
    ev->counts_len = 0;
    ev->counts_dirty = false;
}

/* The client left. */
static void
stream_gone(void *data)
{
    struct events_stream *st = data;
    struct events *ev = st->hub;

    stream_unlink(st);
    free(st);
    if (ev->nstreams == 0)
        hub_idle(ev);
}

/* Writes len bytes of text to the stream, unless its client has not
 * taken what is queued (CONN_MAX_WRITE_QUEUE): then the text is dropped
 * and the stream resyncs once the client has read half. st may be freed
 * by the write (the connection closes when out of memory): it is not
 * touched after. */
static void
stream_send(struct events_stream *st, const char *text, size_t len)
{
    struct conn *c = st->c;
    const struct events *ev = st->hub;
    size_t queued = conn_stream_queued(c);
    bool resync = false;

    if (st->behind) {
        if (queued >= CONN_MAX_WRITE_QUEUE / 2)
            return;
        st->behind = false;
        resync = true;
    } else if (queued >= CONN_MAX_WRITE_QUEUE) {
        st->behind = true;
        return;
    }
    if (resync) {
        conn_stream_write(c, EVENT_RESYNC, sizeof(EVENT_RESYNC) - 1);
        if (ev->counts && text != ev->counts)
            conn_stream_write(c, ev->counts, ev->counts_len);
    }
    conn_stream_write(c, text, len);
}

static void
broadcast(struct events *ev, const char *text, size_t len)
{
    struct events_stream *st, *next;

    for (st = ev->streams; st; st = next) {
        next = st->next;
        stream_send(st, text, len);
    }
}

/* The window ends: its changes go to every stream. */
static void
window_cb(uv_timer_t *t)
{
    struct events *ev = t->data;
    char *text;
    size_t len;

    ev->last_flush = uv_now(ev->srv->loop);
    if (event_batch_take(&ev->batch, &text, &len) < 0) {
        /* Out of memory: what changed is lost, which a resync says. */
        broadcast(ev, EVENT_RESYNC, sizeof(EVENT_RESYNC) - 1);
        return;
    }
    if (text) {
        broadcast(ev, text, len);
        free(text);
    }
}

/* A change arrived: the window ends at once if the last one ended long
 * enough ago, else when EVENTS_WINDOW_MS have passed since. */
static void
window_arm(struct events *ev)
{
    uint64_t now = uv_now(ev->srv->loop);
    uint64_t due = ev->last_flush + EVENTS_WINDOW_MS;

    if (uv_is_active((uv_handle_t *)&ev->window_timer))
        return;
    uv_timer_start(&ev->window_timer, window_cb, due > now ? due - now : 0, 0);
}

static void
counts_cb(struct stats_wait *w, int result)
{
    struct events *ev =
        (struct events *)((char *)w - offsetof(struct events, wait));
    char *text = NULL, *data = NULL;
    json_t *j;
    int n = -1;

    ev->waiting = false;
    if (result < 0 || ev->nstreams == 0 || ev->stopping)
        return;
    if ((j = stats_counts_json(ev->srv->stats)) != NULL)
        data = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t cap = data ? strlen(data) + 32 : 0;
    if (data && (text = malloc(cap)) != NULL)
        n = snprintf(text, cap, "event: counts\ndata: %s\n\n", data);
    free(data);
    if (n < 0) {
        ev->counts_dirty = true; /* out of memory: the next tick tries */
        return;
    }
    if (ev->counts && ev->counts_len == (size_t)n &&
        memcmp(ev->counts, text, (size_t)n) == 0) {
        free(text);
        return;
    }
    free(ev->counts);
    ev->counts = text;
    ev->counts_len = (size_t)n;
    broadcast(ev, text, (size_t)n);
}

/* Reads the counts, to send them if they changed. */
static void
counts_read(struct events *ev)
{
    if (ev->waiting || ev->srv->stats == NULL)
        return;
    ev->counts_dirty = false;
    ev->waiting = true;
    ev->wait.cb = counts_cb;
    stats_counts_get(ev->srv->stats, &ev->wait, true);
}

static void
tick_cb(uv_timer_t *t)
{
    struct events *ev = t->data;

    if (++ev->ticks % (EVENTS_PING_MS / EVENTS_COUNTS_MS) == 0)
        broadcast(ev, EVENT_PING, sizeof(EVENT_PING) - 1);
    /* What other nodes changed is not in the stream's job events: a
     * resync has the pages read their view again, once a tick at most. */
    if (ev->elsewhere) {
        ev->elsewhere = false;
        broadcast(ev, EVENT_RESYNC, sizeof(EVENT_RESYNC) - 1);
    }
    if (ev->counts_dirty)
        counts_read(ev);
}

void
events_job_event(struct events *ev, const struct job_event *e)
{
    if (ev == NULL || ev->nstreams == 0 || ev->stopping)
        return;
    ev->counts_dirty = true;
    if (e->kind == JOB_EVENT_ELSEWHERE)
        ev->elsewhere = true;
    if (e->kind == JOB_EVENT_PRUNED || e->kind == JOB_EVENT_ELSEWHERE)
        return;
    event_batch_add(&ev->batch, e->id, e->route ? e->route : "",
                    e->kind == JOB_EVENT_DELETED ? "deleted"
                                                 : job_state_name(e->state),
                    e->attempt);
    window_arm(ev);
}

/* A new stream: the head, ": ok", and the counts (at once if they are at
 * hand, else within a tick). */
static void
stream_open(struct events *ev, struct conn *c)
{
    struct events_stream *st = calloc(1, sizeof(*st));

    if (st == NULL) {
        api_error_reply(c, 503, "out of memory", NULL);
        return;
    }
    st->hub = ev;
    st->c = c;
    st->next = ev->streams;
    if (ev->streams)
        ev->streams->prev = st;
    ev->streams = st;
    if (ev->nstreams++ == 0) {
        ev->ticks = 0;
        uv_timer_start(&ev->tick_timer, tick_cb, EVENTS_COUNTS_MS,
                       EVENTS_COUNTS_MS);
    }
    conn_on_close(c, stream_gone, st);
    conn_send_buffer(c, EVENTS_SNDBUF);
    conn_stream_start(c, 200, "text/event-stream");
    conn_stream_write(c, EVENT_OK, sizeof(EVENT_OK) - 1);
    if (ev->counts)
        conn_stream_write(c, ev->counts, ev->counts_len);
    else
        counts_read(ev);
}

void
events_serve(struct conn *c, const struct http_request *req)
{
    struct srv *s = conn_srv(c);
    struct events *ev = s->events;

    if (s->dashboard == DASHBOARD_OFF || ev == NULL) {
        api_error_reply(c, 404, "the dashboard is off", NULL);
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        api_error_reply(c, 405, "method not allowed: GET only",
                        "Allow: GET, HEAD\r\n");
        return;
    }
    if (ev->stopping) {
        api_error_reply(c, 503, "kickd is stopping", NULL);
        return;
    }
    if (req->method == HTTP_HEAD) {
        conn_stream_start(c, 200, "text/event-stream"); /* ends itself */
        return;
    }
    stream_open(ev, c);
}

struct events *
events_start(struct srv *s)
{
    struct events *ev = calloc(1, sizeof(*ev));

    if (ev == NULL)
        return NULL;
    ev->srv = s;
    event_batch_init(&ev->batch);
    uv_timer_init(s->loop, &ev->window_timer);
    uv_timer_init(s->loop, &ev->tick_timer);
    ev->window_timer.data = ev->tick_timer.data = ev;
    /* Open streams keep kickd running through their connections; the
     * timers alone never do. */
    uv_unref((uv_handle_t *)&ev->window_timer);
    uv_unref((uv_handle_t *)&ev->tick_timer);
    return ev;
}

void
events_end_streams(struct events *ev)
{
    while (ev->streams) {
        struct events_stream *st = ev->streams;
        struct conn *c = st->c;
        conn_on_close(c, NULL, st);
        stream_unlink(st);
        free(st);
        conn_stream_end(c);
    }
    hub_idle(ev);
}

void
events_stop(struct events *ev)
{
    if (ev == NULL || ev->stopping)
        return;
    ev->stopping = true;
    events_end_streams(ev);
    if (ev->waiting && ev->srv->stats)
        stats_counts_cancel(ev->srv->stats, &ev->wait);
    ev->waiting = false;
    uv_close((uv_handle_t *)&ev->window_timer, NULL);
    uv_close((uv_handle_t *)&ev->tick_timer, NULL);
}

void
events_free(struct events *ev)
{
    if (ev == NULL)
        return;
    event_batch_clear(&ev->batch);
    free(ev->counts);
    free(ev);
}
