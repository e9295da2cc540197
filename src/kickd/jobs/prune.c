/* SPDX-License-Identifier: MIT */
/* Retention: a pass of the pruner reads which routes have ended jobs (the
 * store's counts, kept by route and state), then asks the store to delete
 * each route's jobs that ended longer than its keep ago, one small batch
 * per route, the keep read at that moment (a lowered keep applies to old
 * jobs too; a route no longer configured takes the [server] keep). The
 * store thread runs a batch between triggers in their transaction, so a
 * batch is kept small and a backlog is taken a batch at a time, with a
 * pause between passes (as Oban's Pruner deletes a limited number of
 * jobs per run). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "prune.h"
#include "route.h"
#include "srv.h"
#include "worker.h"

/* Jobs deleted by one store op, about 17 us each on the store thread
 * (the row, its request and output, five index entries). Triggers wait
 * behind a batch, and so do the connections that sent them: with 500
 * (8 ms) the benchmark's trigger p99 doubled, with 100 (1.7 ms) it stays
 * within noise. */
#define PRUNE_BATCH 100
/* While a batch comes back full (a backlog), the next pass waits
 * PRUNE_YIELD times as long as the last pass's batches took from submit
 * to done (their own work, and the commit and the triggers' ops they
 * waited behind), at least PRUNE_BUSY_MIN and at most PRUNE_BUSY_MAX ms:
 * retention takes at most about a fortieth of the store thread, less when
 * triggers keep it busy, and drains a backlog fast when they do not. */
#define PRUNE_YIELD 39
#define PRUNE_BUSY_MIN 10
#define PRUNE_BUSY_MAX 1000
/* ms between passes otherwise: when the oldest ended job is due, or the
 * shortest keep, but not sooner than PRUNE_MIN nor later than
 * PRUNE_IDLE. */
#define PRUNE_MIN 1000
#define PRUNE_IDLE 60000
/* ms between two log lines of what was deleted. */
#define PRUNE_LOG_EVERY 60000

static void done_cb(struct store_op *op);
static void timer_cb(uv_timer_t *t);

struct prune {
    struct store_op op; /* first: the done callback gets the op */
    struct srv *srv;
    uv_timer_t timer;
    char **routes; /* of this pass: those with ended jobs */
    size_t nroutes, next;
    int64_t wake;   /* ms: when the oldest ended job left is due; 0 */
    bool full;      /* a batch came back full: more is due now */
    uint64_t sent;  /* ns (uv_hrtime) the batch in flight was sent */
    uint64_t spent; /* ns the pass's batches took, submit to done */
    bool busy;      /* an op in flight */
    bool stopping;
    bool closed;       /* the timer is closed */
    int64_t unlogged;  /* deleted since the last log line */
    int64_t logged_at; /* ms */
};

/* The keep of route as configured now (ms, 0 for ever). */
static int64_t
keep_of(const struct srv *s, const char *route)
{
    const struct cfg_route *r = route_named(s->routes, route);

    return r != NULL && r->keep >= 0 ? r->keep : s->cfg->keep;
}

/* The shortest keep that deletes anything, of the server and of the
 * routes; 0 if all keep for ever. */
static int64_t
keep_shortest(const struct srv *s)
{
    const struct cfg *c = s->routes->cfg;
    int64_t k = s->cfg->keep;

    for (size_t i = 0; i < c->route_count; i++) {
        int64_t r = c->routes[i].keep;
        if (r > 0 && (k == 0 || r < k))
            k = r;
    }
    return k;
}

static void
routes_free(struct prune *p)
{
    for (size_t i = 0; i < p->nroutes; i++)
        free(p->routes[i]);
    free(p->routes);
    p->routes = NULL;
    p->nroutes = p->next = 0;
}

static void
logged(struct prune *p, int64_t now)
{
    if (p->unlogged == 0 || now - p->logged_at < PRUNE_LOG_EVERY)
        return;
    log_info("retention: deleted %" PRId64 " ended jobs%s", p->unlogged,
             p->full ? "; more are due" : "");
    p->unlogged = 0;
    p->logged_at = now;
}

/* The pass is over: the next one comes soon while there is a backlog,
 * else when the oldest ended job is due (or at the shortest keep, for
 * jobs that end meanwhile). */
static void
pass_end(struct prune *p)
{
    int64_t now = clock_now_ms(), delay = PRUNE_IDLE;
    int64_t shortest = keep_shortest(p->srv);

    routes_free(p);
    logged(p, now);
    if (shortest > 0 && shortest < delay)
        delay = shortest;
    if (p->wake > 0 && p->wake - now < delay)
        delay = p->wake - now;
    if (delay < PRUNE_MIN)
        delay = PRUNE_MIN;
    if (p->full) {
        delay = (int64_t)(p->spent / 1000000) * PRUNE_YIELD;
        delay = delay < PRUNE_BUSY_MIN   ? PRUNE_BUSY_MIN
                : delay > PRUNE_BUSY_MAX ? PRUNE_BUSY_MAX
                                         : delay;
    }
    uv_timer_start(&p->timer, timer_cb, (uint64_t)delay, 0);
}

static void
submit(struct prune *p, enum store_op_kind kind)
{
    p->op.kind = kind;
    p->op.done_cb = done_cb;
    p->busy = true;
    p->sent = uv_hrtime();
    store_submit(&p->srv->store, &p->op);
}

/* Submits the batch of the next route with ended jobs and a keep; false
 * if none is left. */
static bool
next_route(struct prune *p)
{
    for (; p->next < p->nroutes; p->next++) {
        const char *route = p->routes[p->next];
        int64_t keep = keep_of(p->srv, route);
        if (keep == 0)
            continue;
        memset(&p->op.prune, 0, sizeof(p->op.prune));
        p->op.route = route;
        p->op.prune.before = clock_now_ms() - keep;
        p->op.prune.limit = PRUNE_BATCH;
        submit(p, SOP_PRUNE);
        return true;
    }
    return false;
}

/* Takes over the routes with ended jobs from the counts (ordered by
 * route, then state). */
static void
routes_take(struct prune *p, struct store_op *op)
{
    p->routes = calloc(op->ncounts ? op->ncounts : 1, sizeof(char *));
    if (p->routes == NULL)
        return;
    for (size_t i = 0; i < op->ncounts; i++) {
        struct job_count *c = &op->counts[i];
        if (c->state < JOB_SUCCEEDED || c->count <= 0 ||
            (p->nroutes > 0 &&
             strcmp(p->routes[p->nroutes - 1], c->route) == 0))
            continue;
        p->routes[p->nroutes++] = c->route;
        c->route = NULL;
    }
}

static void
batch_done(struct prune *p, struct store_op *op)
{
    const char *route = p->routes[p->next];

    p->spent += uv_hrtime() - p->sent;
    p->srv->metrics.pruned += (uint64_t)op->prune.deleted;
    if (op->prune.deleted > 0)
        srv_job_event(p->srv, &(struct job_event){.kind = JOB_EVENT_PRUNED,
                                                  .route = route});
    p->unlogged += op->prune.deleted;
    if (op->prune.deleted >= PRUNE_BATCH)
        p->full = true;
    if (op->prune.oldest > 0) {
        int64_t due = op->prune.oldest + keep_of(p->srv, route);
        if (p->wake == 0 || due < p->wake)
            p->wake = due;
    }
    p->next++;
}

static void
done_cb(struct store_op *op)
{
    struct prune *p = (struct prune *)op;

    p->busy = false;
    if (p->stopping) {
        store_op_clear(op);
        routes_free(p);
        if (p->closed)
            free(p);
        return;
    }
    if (op->result < 0) {
        log_warn("retention: %s; trying again later", op->error);
        store_op_clear(op);
        pass_end(p);
        return;
    }
    if (op->kind == SOP_COUNTS) {
        p->wake = 0;
        p->full = false;
        p->spent = 0;
        routes_take(p, op);
    } else {
        batch_done(p, op);
    }
    store_op_clear(op);
    if (!next_route(p))
        pass_end(p);
}

static void
timer_cb(uv_timer_t *t)
{
    struct prune *p = t->data;

    if (!p->busy && !p->stopping)
        submit(p, SOP_COUNTS);
}

int
prune_start(struct srv *s)
{
    struct prune *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return -1;
    p->srv = s;
    uv_timer_init(s->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, timer_cb, PRUNE_MIN, 0);
    /* Retention never keeps kickd running. */
    uv_unref((uv_handle_t *)&p->timer);
    s->pruner = p;
    return 0;
}

static void
close_cb(uv_handle_t *h)
{
    struct prune *p = h->data;

    p->closed = true;
    if (!p->busy)
        free(p);
}

void
prune_stop(struct srv *s)
{
    struct prune *p = s->pruner;

    if (p == NULL)
        return;
    s->pruner = NULL;
    p->stopping = true;
    uv_close((uv_handle_t *)&p->timer, close_cb);
}
