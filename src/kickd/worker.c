/* SPDX-License-Identifier: MIT */
/* The worker pool: claims due jobs from the store, runs each like an
 * attached script (same CGI environment, rebuilt from the stored request;
 * same connection state), keeps its output, and records how it ended,
 * queueing it again with backoff after a failing exit while attempts
 * remain. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include "http_parse.h"
#include "kick_limits.h"
#include "ledger.h"
#include "log.h"
#include "pgroup.h"
#include "recover.h"
#include "route.h"
#include "run.h"
#include "srv.h"
#include "store_async.h"
#include "worker.h"

/* One route's share of the pool. */
struct route_load {
    struct route_load *next;
    char *route;
    int running;  /* jobs of the route running here */
    int claiming; /* claims in flight */
    bool due;     /* the store may have due jobs of the route */
};

/* A job running here. */
struct job_run {
    struct job_run *next, *prev;
    struct worker_pool *pool;
    struct route_load *load;
    struct job job; /* as claimed, with its request */
    struct run *run;
    struct route_table *routes;
    char id[24];
    char *path; /* decoded request path */
    char *out;  /* the newest output bytes, at most cap */
    size_t out_len, cap;
    bool exited, output_done, finishing;
    int64_t exit_status;
    int term_signal;
    int64_t started; /* ms */
    uv_timer_t linger; /* after exit, a moment for the last output */
    /* Set when kickd itself ends the run (a stop, a spawn that failed
     * for kickd's own reasons): an interruption, not a failure. */
    const char *interrupt_why;
    int64_t interrupt_delay;  /* ms before it runs again */
    char start_error[160];    /* the script could not start: why */
    int time_limit;           /* s, as last set (for the error line) */
    char error[192];          /* the end's error line */
    struct ledger_entry end;  /* the end, on its way to the store */
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
    struct job_run *runs;
    struct worker_wait *waits;
    int running, claiming;
    bool stopping;
    bool recovering; /* runs a dead kickd left are being ended: no claims */
    uv_timer_t delay_timer; /* the next delayed or backed-off job */
    int64_t delay_at;       /* when it fires; 0 if not armed */
    struct ledger ledger; /* job ends on their way to the store */
    int handles;   /* its timers not yet closed */
    char node[64]; /* this kickd, as job owners name it */
    char boot[40]; /* this boot's id */
};

static void schedule(struct worker_pool *p);
static void due_done(struct store_op *op);

int64_t
worker_now(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

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
    l->next = p->loads;
    p->loads = l;
    return l;
}

static const struct cfg_route *
route_by_path(const struct route_table *t, const char *path)
{
    for (size_t i = 0; i < t->cfg->route_count; i++)
        if (strcmp(t->cfg->routes[i].path, path) == 0)
            return &t->cfg->routes[i];
    return NULL;
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
    op->now = worker_now();
    op->data = p;
    op->done_cb = due_done;
    store_submit(&p->srv->store, op);
}

static void
delay_arm(struct worker_pool *p, int64_t at)
{
    int64_t now = worker_now();

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

    if (op->result < 0) {
        log_error("store: %s", op->error);
        delay_arm(p, worker_now() + 1000);
    }
    for (size_t i = 0; i < op->nroutes; i++) {
        struct route_load *l = load_get(p, op->routes[i]);
        if (l)
            l->due = true;
    }
    store_op_clear(op);
    free(op);
    /* And when to look again for jobs that are not due yet. */
    struct store_op *next = calloc(1, sizeof(*next));
    if (next) {
        next->kind = SOP_NEXT_RUN_AT;
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

static void
job_run_free_cb(uv_handle_t *h)
{
    struct job_run *jr = h->data;

    job_clear(&jr->job);
    route_table_unref(jr->routes);
    free(jr->path);
    free(jr->out);
    free(jr);
}

/* Backoff before the run after n failing ones: 1 s x 2^(n - 1), jitter
 * x[0.5, 1.5), at most 300 s. */
static int64_t
backoff_ms(int failures)
{
    unsigned r = 0;
    int64_t base = 1000;

    for (int i = 1; i < failures && base < 300000; i++)
        base *= 2;
    if (base > 300000)
        base = 300000;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (unsigned)worker_now();
    return base / 2 + (int64_t)(r % (unsigned)base);
}

/* The store has the end of jr: the job's waiters learn of it, and its
 * worker is free. Until then (a full disk) the job keeps its worker. */
static void
job_recorded(struct ledger_entry *e, int result)
{
    struct job_run *jr = e->data;
    struct worker_pool *p = jr->pool;

    if (result == 1)
        log_warn("job %s: was no longer running in the store", jr->id);
    if (e->op.end.state == JOB_QUEUED)
        worker_kick(p->srv, jr->job.route, e->op.end.requeue_at);
    waiters_wake(p, jr->job.id);
    if (jr->prev)
        jr->prev->next = jr->next;
    else
        p->runs = jr->next;
    if (jr->next)
        jr->next->prev = jr->prev;
    p->running--;
    jr->load->running--;
    uv_close((uv_handle_t *)&jr->linger, job_run_free_cb);
    schedule(p);
}

/* The end's error line for a run that ended by itself. */
static void
end_error(struct job_run *jr, enum job_state st)
{
    if (st == JOB_TIMED_OUT)
        snprintf(jr->error, sizeof(jr->error), "time limit %d s passed",
                 jr->time_limit);
    else if (st == JOB_ABORTED)
        snprintf(jr->error, sizeof(jr->error), "canceled");
    else if (jr->start_error[0])
        snprintf(jr->error, sizeof(jr->error), "%s", jr->start_error);
    else if (jr->term_signal)
        snprintf(jr->error, sizeof(jr->error), "killed by signal %d",
                 jr->term_signal);
    else
        snprintf(jr->error, sizeof(jr->error), "exit status %d",
                 (int)jr->exit_status);
}

/* How the run ended: an interruption, or the script's own end; a failing
 * one is tried again while attempts remain (interruptions use none). */
static void
end_decide(struct job_run *jr, struct job_end *e)
{
    const struct job *j = &jr->job;
    int cs = jr->run ? run_status(jr->run) : 0;
    int64_t now = worker_now();

    if (jr->interrupt_why) {
        recover_interrupted_end(e, j, jr->pool->srv->cfg->max_interruptions,
                                jr->interrupt_why, now, jr->interrupt_delay,
                                jr->error, sizeof(jr->error));
    } else {
        e->now = now;
        if (cs & RUN_TIMEOUT)
            e->state = JOB_TIMED_OUT;
        else if (cs & RUN_ABORTED)
            e->state = JOB_ABORTED;
        else if (jr->start_error[0] == '\0' && jr->exit_status == 0 &&
                 jr->term_signal == 0)
            e->state = JOB_SUCCEEDED;
        else
            e->state = JOB_FAILED;
        if (e->state != JOB_SUCCEEDED) {
            end_error(jr, e->state);
            e->error = jr->error;
        }
        /* Retries follow a failing run only, not a timeout or a cancel. */
        int failures = j->attempt - j->interruptions;
        if (e->state == JOB_FAILED && failures < j->max_attempts) {
            e->state = JOB_QUEUED;
            e->requeue_at = now + backoff_ms(failures);
        }
    }
    e->connection_status = cs;
    e->exit_status = jr->exited && !jr->term_signal ? (int)jr->exit_status
                                                     : -1;
    e->term_signal = jr->exited ? jr->term_signal : 0;
    e->output = jr->out;
    e->output_len = jr->out_len;
    e->output_cap = jr->cap;
}

/* Records how the job ended, with its output, in one op. */
static void
job_finish(struct job_run *jr)
{
    struct worker_pool *p = jr->pool;
    struct store_op *op = &jr->end.op;

    if (jr->finishing)
        return;
    jr->finishing = true;
    uv_timer_stop(&jr->linger);
    if (jr->run)
        jr->time_limit = run_time_limit(jr->run);
    op->id = jr->job.id;
    jr->end.data = jr;
    jr->end.recorded_cb = job_recorded;
    end_decide(jr, &op->end);
    log_info("job %s: %s%s%s (start %d, %d interrupted, %d attempts)",
             jr->id, job_state_name(op->end.state),
             op->end.error ? ": " : "", op->end.error ? op->end.error : "",
             jr->job.attempt, jr->job.interruptions, jr->job.max_attempts);
    metrics_run_observe(&p->srv->metrics, op->end.now - jr->started);
    ledger_record(&p->ledger, &jr->end);
    if (jr->run) {
        run_release(jr->run);
        jr->run = NULL;
    }
}

static void
linger_cb(uv_timer_t *t)
{
    job_finish(t->data);
}

static void
job_head_cb(struct run *r, const struct cgi_response *resp, char *body,
            size_t len)
{
    (void)r;
    (void)resp;
    free(body); /* not called for raw output */
}

/* Keeps the newest cap bytes of the output. */
static void
job_body_cb(struct run *r, char *buf, size_t len)
{
    struct job_run *jr = run_data(r);

    if (len >= jr->cap) {
        memcpy(jr->out, buf + len - jr->cap, jr->cap);
        jr->out_len = jr->cap;
    } else {
        if (jr->out_len + len > jr->cap) {
            size_t drop = jr->out_len + len - jr->cap;
            memmove(jr->out, jr->out + drop, jr->out_len - drop);
            jr->out_len -= drop;
        }
        memcpy(jr->out + jr->out_len, buf, len);
        jr->out_len += len;
    }
    free(buf);
}

static void
job_end_cb(struct run *r, const char *error, bool timed_out)
{
    struct job_run *jr = run_data(r);

    (void)timed_out;
    if (error)
        log_info("job %s: output ended: %s", jr->id, error);
    jr->output_done = true;
    if (jr->exited)
        job_finish(jr);
}

static void
job_exit_cb(struct run *r, int64_t exit_status, int term_signal)
{
    struct job_run *jr = run_data(r);

    jr->exited = true;
    jr->exit_status = exit_status;
    jr->term_signal = term_signal;
    if (jr->output_done)
        job_finish(jr);
    else
        /* A child of the script may hold its output open: a moment for
         * the last bytes, then the job is done. */
        uv_timer_start(&jr->linger, linger_cb, 200, 0);
}

static void
progress_done(struct store_op *op)
{
    store_op_clear(op);
    free(op);
}

static void
job_progress_cb(struct run *r, int percent, const char *msg)
{
    struct job_run *jr = run_data(r);
    struct store_op *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return;
    op->kind = SOP_PROGRESS;
    op->id = jr->job.id;
    op->percent = percent;
    op->msg = msg ? strdup(msg) : NULL;
    op->done_cb = progress_done;
    store_submit(&jr->pool->srv->store, op);
}

static const struct run_hooks job_hooks = {
    .head_cb = job_head_cb,
    .body_cb = job_body_cb,
    .end_cb = job_end_cb,
    .exit_cb = job_exit_cb,
    .progress_cb = job_progress_cb,
};

/* The script could not start: for want of something kickd lacks (file
 * descriptors, memory, processes) the run is an interruption and the job
 * runs again soon; otherwise (no such program, not executable) it is the
 * job's failure. */
static void
start_failed(struct job_run *jr, int err)
{
    if (err == -EMFILE || err == -ENFILE || err == -ENOMEM ||
        err == -EAGAIN || err == -ENOSPC) {
        snprintf(jr->start_error, sizeof(jr->start_error),
                 "could not start: %s", strerror(-err));
        jr->interrupt_why = jr->start_error;
        jr->interrupt_delay = JOB_SPAWN_RETRY;
        return;
    }
    snprintf(jr->start_error, sizeof(jr->start_error),
             "could not start: exec: %s", strerror(-err));
}

static void
owner_done(struct store_op *op)
{
    if (op->result < 0)
        log_error("job %" PRId64 ": recording who runs it failed: %s",
                  op->id, op->error);
    free(op);
}

/* Records who runs the job: this kickd and the script's process group,
 * so that a kickd started after a crash can end what is left of it. */
static void
owner_record(struct job_run *jr)
{
    struct worker_pool *p = jr->pool;
    struct store_op *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return;
    op->kind = SOP_OWN;
    op->id = jr->job.id;
    op->done_cb = owner_done;
    snprintf(op->owner.node, sizeof(op->owner.node), "%s", p->node);
    if (pgroup_identify(run_pid(jr->run), p->boot, &op->owner) < 0)
        op->owner.pgid = 0;
    store_submit(&p->srv->store, op);
}

/* Starts a claimed job: its stored request is parsed again and given to
 * the route's script as an attached request would be. */
static void
job_start(struct worker_pool *p, struct route_load *l, struct job *job)
{
    struct srv *s = p->srv;
    struct job_run *jr = calloc(1, sizeof(*jr));
    struct http_request *req = NULL;
    const char *why = NULL;
    bool oom = false;
    int err = 0;

    if (jr == NULL) {
        job_clear(job);
        return;
    }
    jr->pool = p;
    jr->load = l;
    jr->job = *job;
    memset(job, 0, sizeof(*job));
    jr->cap = (size_t)s->cfg->output_cap;
    jr->started = worker_now();
    snprintf(jr->id, sizeof(jr->id), "%" PRId64, jr->job.id);
    uv_timer_init(s->loop, &jr->linger);
    jr->linger.data = jr;
    jr->next = p->runs;
    if (p->runs)
        p->runs->prev = jr;
    p->runs = jr;
    p->running++;
    l->running++;
    metrics_start_observe(&s->metrics,
                          jr->started - (jr->job.run_at > jr->job.created_at
                                             ? jr->job.run_at
                                             : jr->job.created_at));

    jr->routes = route_table_ref(s->routes);
    const struct cfg_route *route = route_by_path(jr->routes, jr->job.route);
    jr->out = malloc(jr->cap ? jr->cap : 1);
    req = malloc(sizeof(*req));
    if (route == NULL) {
        why = "its route is no longer configured";
    } else if (jr->out == NULL || req == NULL) {
        why = "out of memory";
        oom = true;
    } else if (http_parse_request(jr->job.head, jr->job.head_len, req) < 0) {
        why = "its stored request does not parse";
    } else if ((jr->path = malloc(req->path_len + 1)) == NULL ||
               route_path_decode(req->path, req->path_len, jr->path,
                                 req->path_len + 1) < 0) {
        why = "its stored path does not decode";
    }
    if (why == NULL) {
        size_t script_len = strlen(route->path);
        bool has_body = req->content_length > 0 || req->chunked;
        struct cgi_request cr = {
            .route = route,
            .req = req,
            .script_name = route->path,
            .path_info = strlen(jr->path) >= script_len
                             ? jr->path + script_len
                             : "",
            .remote_addr = jr->job.remote_addr ? jr->job.remote_addr : "",
            .remote_port = jr->job.remote_port,
            .server_addr = s->listen_host,
            .server_port = s->listen_port,
            .content_length = has_body ? (int64_t)jr->job.body_len : -1,
            .run_id = jr->id,
            .attempt = jr->job.attempt,
            .hide_authorization = s->cfg->token != NULL,
            .path_env = s->path_env,
            .kill_grace = s->cfg->kill_grace,
            .raw_output = true,
        };
        jr->time_limit = route->time_limit;
        jr->run = run_start(s, &cr, &job_hooks, jr, &err);
        if (jr->run == NULL) {
            log_error("job %s: cannot start %s: %s", jr->id,
                      route->argv[0], strerror(-err));
            start_failed(jr, err);
        } else {
            owner_record(jr);
            if (has_body)
                run_write_stdin(jr->run, jr->job.body, jr->job.body_len);
            run_close_stdin(jr->run);
        }
    }
    free(req);
    if (why) {
        log_error("job %s: %s", jr->id, why);
        snprintf(jr->start_error, sizeof(jr->start_error),
                 "could not start: %s", why);
        if (oom) {
            jr->interrupt_why = jr->start_error;
            jr->interrupt_delay = JOB_SPAWN_RETRY;
        }
    }
    if (jr->run == NULL) {
        jr->output_done = true;
        job_finish(jr);
        return;
    }
    log_info("job %s: started on %s (start %d, %d interrupted, %d "
             "attempts)",
             jr->id, jr->job.route, jr->job.attempt, jr->job.interruptions,
             jr->job.max_attempts);
}

/* A job claimed as kickd stops, put back. */
struct recover_back {
    struct store_op op;
    char error[160];
};

static void
back_done(struct store_op *op)
{
    store_op_clear(op);
    free(op);
}

struct claim_op {
    struct store_op op;
    struct worker_pool *pool;
    struct route_load *load;
};

/* A claim made for l has ended: result 1 with job claimed (taken over),
 * 0 if none was due, -1 (error says why). */
static void
claim_end(struct worker_pool *p, struct route_load *l, int result,
          struct job *job, const char *error)
{
    p->claiming--;
    l->claiming--;
    if (result == 1 && !p->stopping) {
        job_start(p, l, job);
    } else if (result == 1) {
        /* Claimed while stopping: back to the queue as interrupted (the
         * claim counted a start), at once; the next start recovers it if
         * this does not reach the store. */
        struct recover_back *back = calloc(1, sizeof(*back));
        if (back) {
            back->op.kind = SOP_FINISH;
            back->op.id = job->id;
            back->op.done_cb = back_done;
            recover_interrupted_end(&back->op.end, job,
                                    p->srv->cfg->max_interruptions,
                                    "kickd stopped", worker_now(), 0,
                                    back->error, sizeof(back->error));
            store_submit(&p->srv->store, &back->op);
        }
        job_clear(job);
    } else if (result == 0) {
        l->due = false;
    } else {
        log_error("store: claiming a job of %s: %s", l->route, error);
        delay_arm(p, worker_now() + 1000);
        l->due = false;
    }
    schedule(p);
}

static void
claim_cb(struct store_op *op)
{
    struct claim_op *c = (struct claim_op *)op;

    claim_end(c->pool, c->load, op->result, &op->job, op->error);
    store_op_clear(op);
    free(c);
}

/* Whether l may take one more job now: a worker is free, and the route
 * is under its concurrency. */
static bool
has_room(struct worker_pool *p, struct route_load *l)
{
    const struct cfg_route *rt = route_by_path(p->srv->routes, l->route);
    int limit = rt ? rt->concurrency : 0;

    return !p->stopping && !p->recovering &&
           p->running + p->claiming < p->srv->cfg->workers &&
           (limit == 0 || l->running + l->claiming < limit);
}

/* Claims due jobs while there are free slots, taking routes in turn. */
static void
schedule(struct worker_pool *p)
{
    const struct cfg *cfg = p->srv->cfg;

    while (!p->stopping && !p->recovering &&
           p->running + p->claiming < cfg->workers) {
        struct route_load *start = p->rr ? p->rr : p->loads, *l = start;
        struct route_load *pick = NULL;
        if (l == NULL)
            return;
        do {
            if (l->due && has_room(p, l)) {
                pick = l;
                break;
            }
            l = l->next ? l->next : p->loads;
        } while (l != start);
        if (pick == NULL)
            return;
        p->rr = pick->next;
        struct claim_op *c = calloc(1, sizeof(*c));
        if (c == NULL)
            return;
        c->pool = p;
        c->load = pick;
        c->op.kind = SOP_CLAIM;
        c->op.route = pick->route;
        c->op.now = worker_now();
        c->op.done_cb = claim_cb;
        p->claiming++;
        pick->claiming++;
        store_submit(&p->srv->store, &c->op);
    }
}

void
worker_kick(struct srv *s, const char *route, int64_t run_at)
{
    struct worker_pool *p = s->workers;

    if (p == NULL || p->stopping)
        return;
    if (run_at > worker_now()) {
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

    if (p == NULL || run_at > worker_now() ||
        (l = load_get(p, route)) == NULL || !has_room(p, l))
        return NULL;
    p->claiming++;
    l->claiming++;
    return l;
}

void
worker_claimed(struct srv *s, struct route_load *l, int result,
               struct job *job, const char *error)
{
    claim_end(s->workers, l, result, job, error);
}

bool
worker_cancel(struct srv *s, int64_t id)
{
    struct worker_pool *p = s->workers;

    for (struct job_run *jr = p ? p->runs : NULL; jr; jr = jr->next) {
        if (jr->job.id == id && jr->run && !jr->finishing) {
            run_cancel(jr->run);
            return true;
        }
    }
    return false;
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
recovered(void *data, int n)
{
    struct worker_pool *p = data;

    (void)n;
    p->recovering = false;
    delay_timer_cb(&p->delay_timer);
}

/* This kickd's name as a job's owner: host, pid and a random part, so
 * that a pid reused after a restart never names the same node. */
static void
node_name(char *buf, size_t size)
{
    char host[32] = "";
    unsigned r = 0;

    gethostname(host, sizeof(host) - 1);
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (unsigned)worker_now();
    snprintf(buf, size, "%s/%d/%08x", host, (int)getpid(), r);
}

int
worker_start(struct srv *s)
{
    struct worker_pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return -1;
    p->srv = s;
    node_name(p->node, sizeof(p->node));
    pgroup_boot_id(p->boot, sizeof(p->boot));
    uv_timer_init(s->loop, &p->delay_timer);
    p->delay_timer.data = p;
    uv_unref((uv_handle_t *)&p->delay_timer);
    ledger_init(&p->ledger, s->loop, &s->store);
    s->workers = p;
    /* Jobs marked running belong to a kickd that died: what is left of
     * their runs is ended, and they go back to the queue, before anything
     * runs. */
    p->recovering = true;
    if (recover_start(s, &p->ledger, p->boot, recovered, p) < 0)
        return -1;
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
}

void
worker_interrupt_all(struct srv *s)
{
    struct worker_pool *p = s->workers;

    for (struct job_run *jr = p ? p->runs : NULL; jr; jr = jr->next) {
        if (!jr->finishing && jr->interrupt_why == NULL) {
            jr->interrupt_why = "kickd stopped";
            jr->interrupt_delay = 0;
        }
    }
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
    /* Ends the store never took: their jobs stay running in the store,
     * and the next start recovers them (they run again). */
    for (struct job_run *jr = p->runs, *next; jr; jr = next) {
        next = jr->next;
        if (!uv_is_closing((uv_handle_t *)&jr->linger))
            uv_close((uv_handle_t *)&jr->linger, job_run_free_cb);
    }
    p->handles = 2;
    uv_close((uv_handle_t *)&p->delay_timer, delay_closed_cb);
    ledger_close(&p->ledger, ledger_closed_cb);
}
