/* SPDX-License-Identifier: MIT */
/* GET /stats (stats.h): the minute ring fed by job events, the counts by
 * state and route read from the store (job_counts: a small table kept by
 * the store, not a scan of the jobs) and shared by everyone who asks
 * within a second, and the queue depth sampled at each minute's end. */
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "clock.h"
#include "conn.h"
#include "log.h"
#include "route.h"
#include "srv.h"
#include "stats.h"
#include "stats_ring.h"
#include "store_async.h"

struct stats {
    struct store_op op;  /* first: its completion finds the whole */
    struct srv *srv;
    struct stats_ring ring;
    struct job_count *counts; /* the last read, by route and state */
    size_t ncounts;
    int64_t queue_depth;      /* queued jobs in it */
    int64_t counts_at;        /* ms (monotonic) of the last read; 0: none */
    bool reading;             /* op is with the store */
    int64_t sample_at;        /* the read in flight samples the queue of
                               * the minute that holds this (ms) */
    struct stats_wait *waits; /* for the read in flight */
    struct stats_wait *next_waits; /* for a read after it */
    char error[160];          /* the last failed read's reason */
    uv_timer_t minute_timer;  /* at each minute's end: a sample */
    int64_t boundary;         /* ms: the end the timer is set for */
    bool timer_open;
};

/* Milliseconds of the loop's clock, which does not step. */
static int64_t
mono_ms(const struct stats *st)
{
    return (int64_t)uv_now(st->srv->loop);
}

static void read_start(struct stats *st, int64_t sample_at);

static void
read_done(struct store_op *op)
{
    struct stats *st = (struct stats *)op;
    struct stats_wait *w = st->waits;
    int result = op->result < 0 ? -1 : 0;

    st->reading = false;
    st->waits = NULL;
    if (result == 0) {
        for (size_t i = 0; i < st->ncounts; i++)
            free(st->counts[i].route);
        free(st->counts);
        st->counts = op->counts;
        st->ncounts = op->ncounts;
        op->counts = NULL;
        op->ncounts = 0;
        st->queue_depth = 0;
        for (size_t i = 0; i < st->ncounts; i++)
            if (st->counts[i].state == JOB_QUEUED)
                st->queue_depth += st->counts[i].count;
        st->counts_at = mono_ms(st);
        stats_ring_queue(&st->ring, st->sample_at, st->queue_depth);
    } else {
        snprintf(st->error, sizeof(st->error), "%s", op->error);
        log_error("store: reading the job counts: %s", op->error);
    }
    store_op_clear(op);
    /* Those who asked for a read after the one that just ended get it. */
    if (st->next_waits) {
        st->waits = st->next_waits;
        st->next_waits = NULL;
        read_start(st, clock_now_ms());
    }
    /* Each waiter is called once; one that asks again finds the counts
     * fresh, or waits for the next read. */
    while (w) {
        struct stats_wait *next = w->next;
        w->next = NULL;
        w->cb(w, result);
        w = next;
    }
}

/* Reads the counts from the store, sampling the queue of the minute that
 * holds sample_at; a read already out serves instead (it started no
 * more than a store round trip ago, in that minute or the one before). */
static void
read_start(struct stats *st, int64_t sample_at)
{
    if (st->reading)
        return;
    st->sample_at = sample_at;
    memset(&st->op, 0, sizeof(st->op));
    st->op.kind = SOP_COUNTS;
    st->op.done_cb = read_done;
    st->reading = true;
    store_submit(&st->srv->store, &st->op);
}

void
stats_counts_get(struct stats *st, struct stats_wait *w, bool fresh)
{
    if (!fresh && !st->reading && st->counts_at > 0 &&
        mono_ms(st) - st->counts_at <= STATS_COUNTS_MAX_AGE) {
        w->cb(w, 0);
        return;
    }
    /* A read already out may have been taken before what the caller
     * knows of: a fresh one waits for the next. */
    struct stats_wait **list = fresh && st->reading ? &st->next_waits
                                                    : &st->waits;
    w->next = *list;
    *list = w;
    read_start(st, clock_now_ms());
}

void
stats_counts_cancel(struct stats *st, struct stats_wait *w)
{
    struct stats_wait **lists[] = {&st->waits, &st->next_waits};

    for (size_t i = 0; i < 2; i++) {
        for (struct stats_wait **p = lists[i]; *p; p = &(*p)->next) {
            if (*p == w) {
                *p = w->next;
                w->next = NULL;
                return;
            }
        }
    }
}

static void minute_arm(struct stats *st);

static void
minute_cb(uv_timer_t *t)
{
    struct stats *st = t->data;

    /* The queue at the end of the minute that just ended. */
    read_start(st, st->boundary - 1);
    minute_arm(st);
}

/* Sets the timer for the end of the current minute (or the next one,
 * if that end has been sampled already). */
static void
minute_arm(struct stats *st)
{
    int64_t now = clock_now_ms();
    int64_t end = stats_minute_of(now) + STATS_MINUTE_MS;

    if (end <= st->boundary)
        end = st->boundary + STATS_MINUTE_MS;
    st->boundary = end;
    uv_timer_start(&st->minute_timer, minute_cb, (uint64_t)(end - now), 0);
}

struct stats *
stats_start(struct srv *s)
{
    struct stats *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return NULL;
    st->srv = s;
    uv_timer_init(s->loop, &st->minute_timer);
    st->minute_timer.data = st;
    st->timer_open = true;
    uv_unref((uv_handle_t *)&st->minute_timer);
    minute_arm(st);
    return st;
}

void
stats_stop(struct stats *st)
{
    if (st == NULL || !st->timer_open)
        return;
    st->timer_open = false;
    uv_close((uv_handle_t *)&st->minute_timer, NULL);
}

void
stats_free(struct stats *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->ncounts; i++)
        free(st->counts[i].route);
    free(st->counts);
    store_op_clear(&st->op);
    free(st);
}

void
stats_job_event(struct stats *st, const struct job_event *e)
{
    int64_t now = clock_now_ms();

    if (e->kind == JOB_EVENT_CREATED)
        stats_ring_add(&st->ring, now, STATS_ACCEPTED);
    else if (e->kind != JOB_EVENT_STATE)
        return;
    else if (e->state == JOB_SUCCEEDED)
        stats_ring_add(&st->ring, now, STATS_SUCCEEDED);
    else if (e->state == JOB_FAILED || e->state == JOB_TIMED_OUT ||
             e->state == JOB_ABORTED)
        stats_ring_add(&st->ring, now, STATS_FAILED);
}

const char *
stats_error(const struct stats *st)
{
    return st->error;
}

/* {STATE: 0...} with every state named. */
static json_t *
states_json(void)
{
    json_t *o = json_object();

    for (int i = 0; o && i < JOB_STATE_COUNT; i++)
        json_object_set_new(o, job_state_name((enum job_state)i),
                            json_integer(0));
    return o;
}

/* Adds n to state's count in o. */
static void
state_add(json_t *o, enum job_state state, int64_t n)
{
    const char *name = job_state_name(state);
    json_t *v = name ? json_object_get(o, name) : NULL;

    if (v)
        json_integer_set(v, json_integer_value(v) + n);
}

json_t *
stats_counts_json(const struct stats *st)
{
    json_t *by_state = states_json(), *by_route = json_object();
    const struct cfg *cfg = st->srv->routes->cfg;

    if (by_state == NULL || by_route == NULL)
        goto fail;
    for (size_t i = 0; i < st->ncounts; i++) {
        const struct job_count *c = &st->counts[i];
        json_t *r = json_object_get(by_route, c->route);
        if (r == NULL) {
            r = states_json();
            if (r == NULL || json_object_set_new(by_route, c->route, r) < 0)
                goto fail;
        }
        state_add(r, c->state, c->count);
        state_add(by_state, c->state, c->count);
    }
    /* Every configured route, so that a page can filter by one that has
     * no job yet. */
    for (size_t i = 0; i < cfg->route_count; i++) {
        if (json_object_get(by_route, cfg->routes[i].path) == NULL &&
            json_object_set_new(by_route, cfg->routes[i].path,
                                states_json()) < 0)
            goto fail;
    }
    return json_pack("{s:o, s:o, s:I}", "by_state", by_state, "by_route",
                     by_route, "queue_depth", (json_int_t)st->queue_depth);
fail:
    json_decref(by_state);
    json_decref(by_route);
    return NULL;
}

/* The minutes of the last hour, oldest first; the current one's queue is
 * the depth now. */
static json_t *
minutes_json(const struct stats *st, int64_t now)
{
    struct stats_minute m[STATS_MINUTES];
    json_t *a = json_array();

    stats_ring_window(&st->ring, now, m);
    m[STATS_MINUTES - 1].queue = st->queue_depth;
    for (int i = 0; a && i < STATS_MINUTES; i++)
        json_array_append_new(
            a, json_pack("{s:I, s:I, s:I, s:I, s:I}", "t", (json_int_t)m[i].t,
                         "accepted", (json_int_t)m[i].accepted, "succeeded",
                         (json_int_t)m[i].succeeded, "failed",
                         (json_int_t)m[i].failed, "queue",
                         (json_int_t)m[i].queue));
    return a;
}

/* A GET /stats waiting for the counts. */
struct stats_req {
    struct stats_wait w; /* first: the wait finds the whole */
    struct conn *c;
    struct stats *st;
};

static void
req_gone(void *data)
{
    struct stats_req *r = data;

    stats_counts_cancel(r->st, &r->w);
    free(r);
}

static void
req_done(struct stats_wait *w, int result)
{
    struct stats_req *r = (struct stats_req *)w;
    struct conn *c = r->c;
    struct stats *st = r->st;
    int64_t now = clock_now_ms();

    conn_on_close(c, NULL, r);
    free(r);
    if (result < 0) {
        api_error_reply(c, 503, "job store unavailable", NULL);
        return;
    }
    json_t *j = stats_counts_json(st);
    if (j) {
        json_object_set_new(j, "now", json_integer(now));
        json_object_set_new(j, "minutes", minutes_json(st, now));
        json_object_set_new(j, "dashboard",
                            json_string(cfg_dashboard_name(
                                st->srv->dashboard)));
    }
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL) {
        api_error_reply(c, 503, "out of memory", NULL);
        return;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* over the NUL: conn_reply takes a length */
    conn_reply(c, 200, "application/json", text, n + 1,
               "Cache-Control: no-store\r\n");
    free(text);
}

void
stats_serve(struct conn *c, const struct http_request *req)
{
    struct srv *s = conn_srv(c);
    struct stats_req *r;

    if (s->dashboard == DASHBOARD_OFF || s->stats == NULL) {
        api_error_reply(c, 404, "the dashboard is off", NULL);
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        api_error_reply(c, 405, "method not allowed: GET only",
                        "Allow: GET, HEAD\r\n");
        return;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        api_error_reply(c, 503, "out of memory", NULL);
        return;
    }
    r->w.cb = req_done;
    r->c = c;
    r->st = s->stats;
    conn_on_close(c, req_gone, r);
    stats_counts_get(s->stats, &r->w, false);
}
