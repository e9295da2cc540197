/* SPDX-License-Identifier: MIT */
/* The worker pool: claims due jobs from the store, at most `workers` at
 * once and a route's `concurrency` of that route, oldest first per route,
 * and hands each to a job run (job_run.c); a worker is free again once
 * the run's end is in the store. At start, nothing is claimed until the
 * runs a dead kickd left are recovered (recover.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "job_run.h"
#include "kick_limits.h"
#include "ledger.h"
#include "log.h"
#include "pgroup.h"
#include "recover.h"
#include "route.h"
#include "srv.h"
#include "store_async.h"
#include "worker.h"

/* One route's share of the pool. */
struct route_load {
    struct route_load *next;
    char *route;
    int running;    /* jobs of the route running here */
    int claiming;   /* claims in flight */
    bool due;       /* the store may have due jobs of the route */
    int owed;       /* its jobs recovered at start, still to claim: they
                     * were running, so they go before other routes' */
    int64_t run_ms; /* its runs' length, a moving average; -1: none yet */
};

/* A job claimed ahead (JOB_AHEAD_RUN_MS): it waits for the next run of
 * the pool to finish, and starts then, before that run's end is
 * committed. */
struct ahead {
    struct ahead *next;
    struct route_load *load;
    struct job job;
    int64_t leased;  /* when the claim was sent (clock_mono_ms) */
    int64_t claimed; /* when its commit reached the loop */
};

/* A worker taken by a job run. */
struct slot {
    struct slot *next, *prev;
    struct worker_pool *pool;
    struct job_run *jr;
    struct route_load *load;
    /* A shared store: when the op that took or last renewed the job's
     * lease was sent (clock_mono_ms); the lease ends later than this
     * plus its length, so the run is ended before. */
    int64_t leased;
    /* When the claim's commit reached the loop (clock_mono_ms): a
     * renewal sent later must list the job. */
    int64_t started;
    int64_t begun; /* when the run started (clock_mono_ms) */
    bool listed;   /* by the renewal being read */
    bool fenced;   /* ended for its lease */
    /* The route whose next job the run's end claims (finishing_cb), or
     * NULL. */
    struct route_load *chained;
    /* Its run finished and its worker went to a job claimed ahead: no
     * longer counted running (its route still counts it to the end). */
    bool handed;
};

struct worker_wait {
    struct worker_wait *next, *prev;
    int64_t id;
    void (*cb)(void *data);
    void *data;
};

struct worker_pool {
    struct srv *srv;
    struct route_load *loads;
    struct route_load *rr; /* where the next round starts */
    struct slot *slots;    /* the runs of this pool */
    struct worker_wait *waits;
    int running, claiming;
    struct ahead *ahead, **ahead_tail; /* claimed ahead, oldest first */
    int nahead;
    bool stopping;
    /* Runs a dead kickd left being ended: no claims until it is done. */
    struct recover *recover;
    uv_timer_t delay_timer;  /* the next delayed or backed-off job */
    int64_t delay_at;        /* when it fires; 0 if not armed */
    struct ledger ledger;    /* job ends on their way to the store */
    struct job_run_pool ctx; /* what the runs are given */
    int handles;             /* its timers not yet closed */
    char node[64];           /* this kickd, as job owners name it */
    char boot[40];           /* this boot's id */
    /* A shared store (several nodes): leases renewed, runs whose lease
     * cannot be renewed ended, expired leases of other nodes rescued,
     * and a poll for due jobs beside the notices. */
    bool shared;
    uv_timer_t lease_timer; /* every lease_renew */
    uv_timer_t poll_timer;  /* every poll */
    bool renewing;          /* a renewal is in flight */
    bool renew_failing;     /* said once per outage */
    struct recover *rescue; /* expired leases being taken back */
};

static void schedule(struct worker_pool *p);
static void due_done(struct store_op *op);

static struct route_load *
load_get(struct worker_pool *p, const char *route)
{
    for (struct route_load *l = p->loads; l; l = l->next)
        if (strcmp(l->route, route) == 0)
            return l;
    struct route_load *l = calloc(1, sizeof(*l));
    if (l == NULL || (l->route = strdup(route)) == NULL) {
        free(l);
        return NULL;
    }
    l->run_ms = -1;
    l->next = p->loads;
    p->loads = l;
    return l;
}

/* Whether this node claims route's jobs: on a store of its own, every
 * route's (a route no longer configured ends its jobs failed, saying
 * so); on a shared store only its own routes', the others' left to the
 * nodes that have them (a configuration rolled out node by node). */
static bool
serves(struct worker_pool *p, const char *route)
{
    return !p->shared || route_named(p->srv->routes, route) != NULL;
}

static void
delay_timer_cb(uv_timer_t *t)
{
    struct worker_pool *p = t->data;
    struct store_op *op;

    p->delay_at = 0;
    /* Which routes have jobs due now: asked of the store. */
    op = calloc(1, sizeof(*op));
    if (op == NULL)
        return;
    op->kind = SOP_DUE_ROUTES;
    op->now = clock_now_ms();
    op->data = p;
    op->done_cb = due_done;
    store_submit(&p->srv->store, op);
}

static void
delay_arm(struct worker_pool *p, int64_t at)
{
    int64_t now = clock_now_ms();

    if (p->delay_at != 0 && p->delay_at <= at)
        return;
    p->delay_at = at;
    uv_timer_start(&p->delay_timer, delay_timer_cb,
                   at > now ? (uint64_t)(at - now) : 0, 0);
}

static void
next_run_at_done(struct store_op *op)
{
    struct worker_pool *p = op->data;

    if (op->result == 0 && op->when > 0)
        delay_arm(p, op->when);
    store_op_clear(op);
    free(op);
}

static void
due_done(struct store_op *op)
{
    struct worker_pool *p = op->data;
    int64_t now = op->now;

    if (op->result < 0) {
        log_error("store: %s", op->error);
        delay_arm(p, clock_now_ms() + 1000);
    }
    for (size_t i = 0; i < op->nroutes; i++) {
        struct route_load *l =
            serves(p, op->routes[i]) ? load_get(p, op->routes[i]) : NULL;
        if (l)
            l->due = true;
    }
    store_op_clear(op);
    free(op);
    /* And when to look again for jobs that were not due then: the same
     * now, so that a job falling due between the two is in one answer
     * or the other. */
    struct store_op *next = calloc(1, sizeof(*next));
    if (next) {
        next->kind = SOP_NEXT_RUN_AT;
        next->now = now;
        next->data = p;
        next->done_cb = next_run_at_done;
        store_submit(&p->srv->store, next);
    }
    schedule(p);
}

/* Takes w out of the pool's waiters and frees it. */
static void
wait_unlink(struct worker_pool *p, struct worker_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        p->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w);
}

static void
waiters_wake(struct worker_pool *p, int64_t id)
{
    struct worker_wait *w = p->waits, *next;

    for (; w; w = next) {
        next = w->next;
        if (w->id != id)
            continue;
        void (*cb)(void *) = w->cb;
        void *data = w->data;
        wait_unlink(p, w);
        cb(data);
    }
}

static void ahead_start(struct worker_pool *p);
static void claim_end(struct worker_pool *p, struct route_load *l, int result,
                      struct job *job, const char *error, int64_t sent);

/* A run's end is in the store: its worker is free (or has its next job,
 * claimed with the end), the job's waiters learn of it, and a job
 * queued again is due then. */
static void
slot_ended(struct job_run *jr, struct store_op *op)
{
    struct slot *sl = job_run_data(jr);
    struct worker_pool *p = sl->pool;
    const struct job_end *e = &op->end;
    struct route_load *next = sl->chained;
    bool handed = sl->handed;

    srv_job_event(p->srv, &(struct job_event){.kind = JOB_EVENT_STATE,
                                              .id = job_run_id(jr),
                                              .route = job_run_route(jr),
                                              .state = e->state,
                                              .attempt = job_run_attempt(jr)});
    if (e->state == JOB_QUEUED)
        worker_kick(p->srv, job_run_route(jr), e->requeue_at);
    waiters_wake(p, job_run_id(jr));
    if (sl->prev)
        sl->prev->next = sl->next;
    else
        p->slots = sl->next;
    if (sl->next)
        sl->next->prev = sl->prev;
    if (!handed)
        p->running--;
    sl->load->running--;
    free(sl);
    /* The claim made with the end, as if made on its own (a handed
     * worker's was counted when made). */
    if (next != NULL && op->claim) {
        if (!handed)
            p->claiming++;
        claim_end(p, next, op->claim_result, &op->job, op->error, op->sent);
    } else if (next != NULL) {
        next->claiming--; /* the ledger did not make it again */
        if (handed)
            p->claiming--;
    }
    job_run_free(jr);
    ahead_start(p);
    schedule(p);
}

/* A worker for the claimed job: the run takes the job over; its lease
 * was taken by an op sent at leased, committed by claimed. */
static void
slot_start(struct worker_pool *p, struct route_load *l, struct job *job,
           int64_t leased, int64_t claimed)
{
    struct slot *sl = calloc(1, sizeof(*sl));

    if (sl == NULL) {
        log_error("job %" PRId64 ": out of memory starting it", job->id);
        job_clear(job); /* left running: the next start recovers it */
        return;
    }
    /* Counted before the start: a run that cannot start ends within it,
     * and its end may claim the worker's next job (slot_chain). */
    sl->pool = p;
    sl->load = l;
    sl->leased = leased;
    sl->started = claimed;
    sl->begun = clock_mono_ms();
    p->running++;
    l->running++;
    if ((sl->jr = job_run_start(&p->ctx, job, sl)) == NULL) {
        log_error("job %" PRId64 ": out of memory starting it", job->id);
        job_clear(job);
        p->running--;
        l->running--;
        free(sl);
        return;
    }
    sl->next = p->slots;
    if (p->slots)
        p->slots->prev = sl;
    p->slots = sl;
    srv_job_event(p->srv,
                  &(struct job_event){.kind = JOB_EVENT_STATE,
                                      .id = job_run_id(sl->jr),
                                      .route = job_run_route(sl->jr),
                                      .state = JOB_RUNNING,
                                      .attempt = job_run_attempt(sl->jr)});
}

/* A job claimed as kickd stops, put back. */
struct recover_back {
    struct store_op op; /* first: store_op_free_cb frees the whole */
    char error[160];
};

/* Puts a claimed job that did not run back in the queue as interrupted
 * (its claim counted a start), at once; if this does not reach the
 * store, the job's lease runs out or the next start recovers it. */
static void
put_back(struct worker_pool *p, struct job *job, const char *why)
{
    struct recover_back *back = calloc(1, sizeof(*back));

    if (back) {
        back->op.kind = SOP_FINISH;
        back->op.id = job->id;
        back->op.done_cb = store_op_free_cb;
        recover_interrupted_end(
            &back->op.end, job, p->srv->cfg->max_interruptions, why,
            clock_now_ms(), 0, back->error, sizeof(back->error));
        back->op.end.attempt = p->shared ? job->attempt : 0;
        store_submit(&p->srv->store, &back->op);
    }
    job_clear(job);
}

/* Claiming ahead (JOB_AHEAD_RUN_MS): whether route l's runs are short. */
static bool
ahead_ok(const struct route_load *l)
{
    return l->run_ms >= 0 && l->run_ms < JOB_AHEAD_RUN_MS;
}

/* Queues a claimed job for the next free worker (taken over). */
static void
ahead_push(struct worker_pool *p, struct route_load *l, struct job *job,
           int64_t leased)
{
    struct ahead *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        log_error("job %" PRId64 ": out of memory keeping it", job->id);
        job_clear(job); /* left running: its lease or the next start */
        return;
    }
    a->load = l;
    a->job = *job;
    memset(job, 0, sizeof(*job));
    a->leased = leased;
    a->claimed = clock_mono_ms();
    if (p->ahead == NULL)
        p->ahead_tail = &p->ahead;
    *p->ahead_tail = a;
    p->ahead_tail = &a->next;
    p->nahead++;
}

/* Takes a out of the jobs claimed ahead (prev: the one before it, or
 * NULL) and frees it; its job is the caller's. */
static void
ahead_unlink(struct worker_pool *p, struct ahead *prev, struct ahead *a)
{
    if (prev)
        prev->next = a->next;
    else
        p->ahead = a->next;
    if (p->ahead_tail == &a->next)
        p->ahead_tail = prev ? &prev->next : &p->ahead;
    p->nahead--;
    free(a);
}

/* Starts jobs claimed ahead, oldest first, while workers are free. */
static void
ahead_start(struct worker_pool *p)
{
    while (p->ahead != NULL && !p->stopping &&
           p->running < p->srv->cfg->workers) {
        struct ahead *a = p->ahead;
        struct job job = a->job;
        struct route_load *l = a->load;
        int64_t leased = a->leased, claimed = a->claimed;
        ahead_unlink(p, NULL, a);
        slot_start(p, l, &job, leased, claimed);
    }
}

/* Puts every job claimed ahead back (kickd stops). */
static void
ahead_put_back_all(struct worker_pool *p, const char *why)
{
    while (p->ahead != NULL) {
        struct job job = p->ahead->job;
        ahead_unlink(p, NULL, p->ahead);
        put_back(p, &job, why);
    }
}

/* A job claimed ahead canceled before it started: its end. */
struct ahead_cancel {
    struct store_op op; /* op.job is the job */
    struct srv *srv;
};

static void
ahead_canceled(struct store_op *op)
{
    struct ahead_cancel *c = (struct ahead_cancel *)op;

    if (op->result < 0)
        log_error("job %" PRId64 ": recording its cancel: %s", op->id,
                  op->error);
    else
        log_info("job %" PRId64 ": canceled before it started", op->id);
    srv_job_event(c->srv, &(struct job_event){.kind = JOB_EVENT_STATE,
                                              .id = op->id,
                                              .route = op->job.route,
                                              .state = JOB_CANCELED,
                                              .attempt = op->job.attempt});
    if (c->srv->workers)
        waiters_wake(c->srv->workers, op->id);
    store_op_free_cb(op);
}

/* Cancels job id if it was claimed ahead: true if it was. */
static bool
ahead_cancel(struct worker_pool *p, int64_t id)
{
    struct ahead *prev = NULL, *a = p->ahead;

    while (a != NULL && a->job.id != id) {
        prev = a;
        a = a->next;
    }
    if (a == NULL)
        return false;
    struct ahead_cancel *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return false;
    c->srv = p->srv;
    c->op.kind = SOP_FINISH;
    c->op.id = id;
    c->op.job = a->job;
    c->op.end = (struct job_end){.state = JOB_CANCELED,
                                 .exit_status = -1,
                                 .now = clock_now_ms(),
                                 .attempt = p->shared ? a->job.attempt : 0,
                                 .error = "canceled before it started"};
    c->op.done_cb = ahead_canceled;
    ahead_unlink(p, prev, a);
    store_submit(&p->srv->store, &c->op);
    return true;
}

struct claim_op {
    struct store_op op;
    struct worker_pool *pool;
    struct route_load *load;
};

/* A claim made for l (by an op sent at sent) has ended: result 1 with
 * job claimed (taken over), 0 if none was due, -1 (error says why). */
static void
claim_end(struct worker_pool *p, struct route_load *l, int result,
          struct job *job, const char *error, int64_t sent)
{
    p->claiming--;
    l->claiming--;
    if (result == 1 && !p->stopping) {
        /* Started now if a worker is free, else by the next one. */
        ahead_push(p, l, job, sent);
        ahead_start(p);
    } else if (result == 1) {
        put_back(p, job, "kickd stopped"); /* claimed while stopping */
    } else if (result == 0) {
        l->due = false;
    } else if (result == 2) {
        /* Another node claims of the route at this moment: again once
         * its transaction is likely over, not in a loop meanwhile. */
        l->due = false;
        delay_arm(p, clock_now_ms() + JOB_CLAIM_BUSY_RETRY);
    } else {
        log_error("store: claiming a job of %s: %s", l->route, error);
        delay_arm(p, clock_now_ms() + 1000);
        l->due = false;
    }
    schedule(p);
}

static void
claim_cb(struct store_op *op)
{
    struct claim_op *c = (struct claim_op *)op;

    claim_end(c->pool, c->load, op->result, &op->job, op->error, op->sent);
    store_op_clear(op);
    free(c);
}

/* Whether l may take one more job now: a worker is free, and the route
 * is under its concurrency. */
static bool
has_room(struct worker_pool *p, struct route_load *l)
{
    const struct cfg_route *rt = route_named(p->srv->routes, l->route);
    int limit = rt ? rt->concurrency : 0;
    int workers = p->srv->cfg->workers;
    int busy = p->running + p->claiming + p->nahead;

    if (p->stopping || p->recover != NULL)
        return false;
    if (limit > 0)
        return busy < workers && l->running + l->claiming < limit;
    /* A route of short runs: also jobs claimed ahead, a few a worker. */
    return busy <
           (ahead_ok(l) ? (1 + JOB_AHEAD_PER_WORKER) * workers : workers);
}

/* The route whose due job a free worker takes next: one whose jobs were
 * recovered at start (each its route's oldest) first, else the routes in
 * turn; NULL if none has a due job and room. */
static struct route_load *
pick(struct worker_pool *p)
{
    struct route_load *start = p->rr ? p->rr : p->loads, *l = start;

    for (struct route_load *o = p->loads; o; o = o->next)
        if (o->owed > 0 && o->due && has_room(p, o)) {
            o->owed--;
            return o;
        }
    if (l == NULL)
        return NULL;
    do {
        if (l->due && has_room(p, l)) {
            p->rr = l->next;
            return l;
        }
        l = l->next ? l->next : p->loads;
    } while (l != start);
    return NULL;
}

/* Claims due jobs while there are free slots, taking routes in turn. */
static void
schedule(struct worker_pool *p)
{
    struct route_load *pick_l;

    while ((pick_l = pick(p)) != NULL) {
        struct claim_op *c = calloc(1, sizeof(*c));
        if (c == NULL)
            return;
        c->pool = p;
        c->load = pick_l;
        c->op.kind = SOP_CLAIM;
        c->op.route = pick_l->route;
        c->op.now = clock_now_ms();
        c->op.limit = worker_claim_limit(p->srv, pick_l->route);
        c->op.done_cb = claim_cb;
        p->claiming++;
        pick_l->claiming++;
        store_submit(&p->srv->store, &c->op);
    }
}

/* A run's end is on its way to the store. Its worker takes the oldest
 * job claimed ahead, if any, at once; and it claims its next job in the
 * end's transaction (the route schedule would pick, the worker counted
 * free), so that it starts as the end is committed, or waits ahead. */
static void
slot_chain(struct job_run *jr, struct store_op *op)
{
    struct slot *sl = job_run_data(jr);
    struct worker_pool *p = sl->pool;
    struct route_load *l = sl->load;
    int64_t took = clock_mono_ms() - sl->begun;

    l->run_ms = l->run_ms < 0 ? took : l->run_ms + (took - l->run_ms) / 4;
    if (p->stopping || p->recover != NULL)
        return;
    if (p->ahead != NULL && !sl->handed) {
        sl->handed = true;
        p->running--;
        ahead_start(p);
    }
    if (!sl->handed) {
        p->running--;
        sl->load->running--;
    }
    l = pick(p);
    if (!sl->handed) {
        p->running++;
        sl->load->running++;
    }
    /* A route with a concurrency on a shared store is claimed under its
     * lock: held to the end's commit, it would keep the other nodes'
     * claims of it trying again meanwhile. */
    if (l == NULL || (p->shared && worker_claim_limit(p->srv, l->route)))
        return;
    l->claiming++;
    if (sl->handed)
        p->claiming++;
    sl->chained = l;
    op->claim = true;
    op->route = l->route;
    op->now = clock_now_ms();
    op->limit = worker_claim_limit(p->srv, l->route);
}

void
worker_kick(struct srv *s, const char *route, int64_t run_at)
{
    struct worker_pool *p = s->workers;

    if (p == NULL || p->stopping)
        return;
    if (!serves(p, route))
        return;
    if (run_at > clock_now_ms()) {
        delay_arm(p, run_at);
        return;
    }
    struct route_load *l = load_get(p, route);
    if (l == NULL)
        return;
    l->due = true;
    schedule(p);
}

struct route_load *
worker_reserve(struct srv *s, const char *route, int64_t run_at)
{
    struct worker_pool *p = s->workers;
    struct route_load *l;

    if (p == NULL || run_at > clock_now_ms() ||
        (l = load_get(p, route)) == NULL || !has_room(p, l))
        return NULL;
    p->claiming++;
    l->claiming++;
    return l;
}

void
worker_claimed(struct srv *s, struct route_load *l, int result, struct job *job,
               const char *error, int64_t sent)
{
    claim_end(s->workers, l, result, job, error, sent);
}

int
worker_claim_limit(struct srv *s, const char *route)
{
    const struct cfg_route *rt = route_named(s->routes, route);

    return rt ? rt->concurrency : 0;
}

static struct slot *
slot_of(struct worker_pool *p, int64_t id)
{
    for (struct slot *sl = p->slots; sl; sl = sl->next)
        if (job_run_id(sl->jr) == id)
            return sl;
    return NULL;
}

struct job_run *
worker_run(struct srv *s, int64_t id)
{
    struct slot *sl = s->workers ? slot_of(s->workers, id) : NULL;

    return sl ? sl->jr : NULL;
}

bool
worker_cancel(struct srv *s, int64_t id)
{
    struct job_run *jr = worker_run(s, id);

    if (jr != NULL)
        return job_run_cancel(jr);
    return s->workers != NULL && ahead_cancel(s->workers, id);
}

int
worker_connection_status(struct srv *s, int64_t id)
{
    struct job_run *jr = worker_run(s, id);

    return jr ? job_run_status(jr) : 0;
}

struct worker_wait *
worker_wait(struct srv *s, int64_t id, void (*cb)(void *), void *data)
{
    struct worker_pool *p = s->workers;
    struct worker_wait *w = calloc(1, sizeof(*w));

    if (w == NULL || p == NULL) {
        free(w);
        return NULL;
    }
    w->id = id;
    w->cb = cb;
    w->data = data;
    w->next = p->waits;
    if (p->waits)
        p->waits->prev = w;
    p->waits = w;
    return w;
}

void
worker_unwait(struct srv *s, struct worker_wait *w)
{
    if (w != NULL)
        wait_unlink(s->workers, w);
}

static void
requeued(void *data, const char *route)
{
    struct route_load *l = load_get(data, route);

    if (l)
        l->owed++;
}

static void
recovered(void *data)
{
    struct worker_pool *p = data;

    p->recover = NULL; /* it frees itself */
    delay_timer_cb(&p->delay_timer);
}

static const struct recover_hooks recover_hooks = {
    .requeued_cb = requeued,
    .done_cb = recovered,
};

/* Leases on a shared store. A run is this node's while its lease holds:
 * renewed every lease_renew ms, and ended by this node before it can
 * run out (so that the job never runs in two places, even when this
 * node is cut off from the database but alive). */

static void
slot_fence(struct slot *sl, const char *why)
{
    if (!sl->fenced && job_run_end_now(sl->jr, why))
        sl->fenced = true;
}

/* A renewal's answer for the jobs claimed ahead: a listed one's lease
 * was renewed; one claimed before the renewal was sent but not listed is
 * another node's now, and is dropped. */
static void
ahead_renewed(struct worker_pool *p, const struct store_op *op)
{
    struct ahead *prev = NULL, *a = p->ahead, *next;

    for (; a; a = next) {
        next = a->next;
        bool listed = false;
        for (size_t i = 0; i < op->nids && !listed; i++)
            listed =
                op->ids[i] == a->job.id && op->attempts[i] == a->job.attempt;
        if (listed)
            a->leased = op->sent;
        if (listed || a->claimed >= op->sent) {
            prev = a;
            continue;
        }
        log_warn("job %" PRId64 ": another node took its lease over "
                 "before it started here",
                 a->job.id);
        job_clear(&a->job);
        ahead_unlink(p, prev, a);
    }
}

static void
renew_done(struct store_op *op)
{
    struct worker_pool *p = op->data;

    p->renewing = false;
    if (op->result < 0) {
        if (!p->renew_failing)
            log_error("store: renewing the leases of running jobs: %s",
                      op->error);
        p->renew_failing = true;
    } else {
        if (p->renew_failing)
            log_info("store: leases renewed again");
        p->renew_failing = false;
        for (struct slot *sl = p->slots; sl; sl = sl->next)
            sl->listed = false;
        for (size_t i = 0; i < op->nids; i++) {
            struct slot *sl = slot_of(p, op->ids[i]);
            if (sl && job_run_attempt(sl->jr) == op->attempts[i]) {
                sl->leased = op->sent;
                sl->listed = true;
            }
        }
        /* Claimed and committed before this renewal was sent, yet not
         * listed: another node has the job now (its lease ran out while
         * this node was away). A claim still committing on another
         * session is not seen by the renewal: it is not judged. */
        for (struct slot *sl = p->slots; sl; sl = sl->next)
            if (!sl->listed && sl->started < op->sent)
                slot_fence(sl, "another node took its lease over");
        ahead_renewed(p, op);
    }
    store_op_clear(op);
    free(op);
}

/* Ends the runs whose lease could run out before the next renewal and
 * the kill_grace of their end: lease - lease_renew - kill_grace after it
 * was last taken. */
static void
leases_check(struct worker_pool *p)
{
    const struct cfg *cfg = p->srv->cfg;
    int64_t now = clock_mono_ms();
    int64_t keep = cfg->lease - cfg->lease_renew - cfg->kill_grace;

    for (struct slot *sl = p->slots; sl; sl = sl->next)
        if (now - sl->leased >= keep)
            slot_fence(sl, "its lease could not be renewed (the database "
                           "is unreachable)");
    struct ahead *prev = NULL, *a = p->ahead, *next;
    for (; a; a = next) {
        next = a->next;
        if (now - a->leased < keep) {
            prev = a;
            continue;
        }
        struct job job = a->job;
        ahead_unlink(p, prev, a);
        put_back(p, &job,
                 "its lease could not be renewed before it "
                 "started");
    }
}

static void
rescued(void *data)
{
    struct worker_pool *p = data;

    p->rescue = NULL; /* it frees itself */
}

static void
rescue_requeued(void *data, const char *route)
{
    struct worker_pool *p = data;

    worker_kick(p->srv, route, clock_now_ms());
}

static const struct recover_hooks rescue_hooks = {
    .requeued_cb = rescue_requeued,
    .done_cb = rescued,
};

static void
lease_timer_cb(uv_timer_t *t)
{
    struct worker_pool *p = t->data;

    leases_check(p);
    if (!p->renewing) {
        struct store_op *op = calloc(1, sizeof(*op));
        if (op) {
            op->kind = SOP_RENEW;
            op->data = p;
            op->done_cb = renew_done;
            p->renewing = true;
            store_submit(&p->srv->store, op);
        }
    }
    /* Runs of other nodes whose lease ran out come back to the queue. */
    if (p->rescue == NULL && p->recover == NULL && !p->stopping)
        p->rescue = recover_start(p->srv, &p->ledger, p->boot,
                                  "its node stopped renewing its lease",
                                  &rescue_hooks, p);
}

static void
poll_timer_cb(uv_timer_t *t)
{
    struct worker_pool *p = t->data;

    if (!p->stopping && p->recover == NULL)
        delay_timer_cb(&p->delay_timer);
}

/* A notice of another node (store_async.h): "d RUN_AT ROUTE", "e ID",
 * "c ID", or "*" (notices may have been lost: look again). */
static void
notice_cb(void *data, const char *line)
{
    struct worker_pool *p = data;
    char *end;

    if (line[0] == '*' && line[1] == '\0') {
        poll_timer_cb(&p->poll_timer);
        return;
    }
    if (line[0] == '\0' || line[1] != ' ')
        goto bad;
    long long n = strtoll(line + 2, &end, 10);
    if (end == line + 2)
        goto bad;
    /* The dashboard's streams show what other nodes do too. */
    srv_job_event(p->srv, &(struct job_event){.kind = JOB_EVENT_ELSEWHERE});
    if (line[0] == 'd' && *end == ' ' && end[1] != '\0') {
        worker_kick(p->srv, end + 1, (int64_t)n);
        return;
    }
    if (*end != '\0')
        goto bad;
    if (line[0] == 'e')
        waiters_wake(p, (int64_t)n);
    else if (line[0] == 'c')
        worker_cancel(p->srv, (int64_t)n);
    else
        goto bad;
    return;
bad:
    log_warn("store: a notice not understood: %.80s", line);
}

/* A shared store's timers and notices. */
static void
shared_start(struct worker_pool *p)
{
    struct srv *s = p->srv;

    p->shared = true;
    uv_timer_start(&p->lease_timer, lease_timer_cb,
                   (uint64_t)s->cfg->lease_renew,
                   (uint64_t)s->cfg->lease_renew);
    uv_timer_start(&p->poll_timer, poll_timer_cb, (uint64_t)s->cfg->poll,
                   (uint64_t)s->cfg->poll);
    store_async_on_notice(&s->store, notice_cb, p);
}

int
worker_start(struct srv *s)
{
    struct worker_pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return -1;
    p->srv = s;
    snprintf(p->node, sizeof(p->node), "%s", s->store.node);
    pgroup_boot_id(p->boot, sizeof(p->boot));
    uv_timer_init(s->loop, &p->delay_timer);
    p->delay_timer.data = p;
    uv_unref((uv_handle_t *)&p->delay_timer);
    uv_timer_init(s->loop, &p->lease_timer);
    p->lease_timer.data = p;
    uv_unref((uv_handle_t *)&p->lease_timer);
    uv_timer_init(s->loop, &p->poll_timer);
    p->poll_timer.data = p;
    uv_unref((uv_handle_t *)&p->poll_timer);
    ledger_init(&p->ledger, s->loop, &s->store);
    p->ctx = (struct job_run_pool){.srv = s,
                                   .ledger = &p->ledger,
                                   .node = p->node,
                                   .boot = p->boot,
                                   .finishing_cb = slot_chain,
                                   .ended_cb = slot_ended};
    s->workers = p;
    /* Jobs marked running belong to a kickd that died: what is left of
     * their runs is ended, and they go back to the queue, before anything
     * runs. */
    p->recover =
        recover_start(s, &p->ledger, p->boot, "kickd died", &recover_hooks, p);
    if (p->recover == NULL)
        return -1;
    if (s->store.ops->renew != NULL)
        shared_start(p);
    return 0;
}

void
worker_stop(struct srv *s)
{
    struct worker_pool *p = s->workers;

    if (p == NULL)
        return;
    p->stopping = true;
    uv_timer_stop(&p->delay_timer);
    ahead_put_back_all(p, "kickd stopped");
    /* Leases are still renewed (and checked) while the runs end. */
    uv_timer_stop(&p->poll_timer);
}

void
worker_interrupt_all(struct srv *s)
{
    struct worker_pool *p = s->workers;

    for (struct slot *sl = p ? p->slots : NULL; sl; sl = sl->next)
        job_run_interrupt(sl->jr, "kickd stopped");
}

/* Frees the pool once both its timer and its ledger's are closed. */
static void
pool_release(struct worker_pool *p)
{
    if (--p->handles > 0)
        return;
    while (p->loads) {
        struct route_load *l = p->loads;
        p->loads = l->next;
        free(l->route);
        free(l);
    }
    while (p->waits) {
        struct worker_wait *w = p->waits;
        p->waits = w->next;
        free(w);
    }
    free(p);
}

static void
delay_closed_cb(uv_handle_t *h)
{
    pool_release(h->data);
}

static void
ledger_closed_cb(uv_handle_t *h)
{
    struct ledger *l = h->data;

    pool_release((struct worker_pool *)((char *)l -
                                        offsetof(struct worker_pool, ledger)));
}

void
worker_free(struct srv *s)
{
    struct worker_pool *p = s->workers;

    if (p == NULL)
        return;
    s->workers = NULL;
    recover_stop(p->recover);
    recover_stop(p->rescue);
    /* Ends the store never took: their jobs stay running in the store,
     * and the next start recovers them (they run again). */
    while (p->slots) {
        struct slot *sl = p->slots;
        p->slots = sl->next;
        job_run_free(sl->jr);
        free(sl);
    }
    while (p->ahead) {
        job_clear(&p->ahead->job);
        ahead_unlink(p, NULL, p->ahead);
    }
    p->handles = 4;
    uv_close((uv_handle_t *)&p->delay_timer, delay_closed_cb);
    uv_close((uv_handle_t *)&p->lease_timer, delay_closed_cb);
    uv_close((uv_handle_t *)&p->poll_timer, delay_closed_cb);
    ledger_close(&p->ledger, ledger_closed_cb);
}
