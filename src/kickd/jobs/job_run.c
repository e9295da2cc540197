/* SPDX-License-Identifier: MIT */
/* One run of a detached job (job_run.h): the stored request parsed again
 * and given to the route's script as an attached request would be, its
 * CGI header block read for the response, its output kept in the store as
 * it comes (at most JOB_OUTPUT_FLUSH_MS or JOB_OUTPUT_FLUSH_BYTES behind)
 * and handed at once to those who follow it, and the end decided and
 * handed to the ledger. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "clock.h"
#include "http_parse.h"
#include "job_run.h"
#include "kick_limits.h"
#include "ledger.h"
#include "log.h"
#include "pgroup.h"
#include "recover.h"
#include "route.h"
#include "run.h"
#include "runner.h"
#include "srv.h"
#include "store_async.h"
#include "worker.h"

struct job_run {
    const struct job_run_pool *pool;
    void *data; /* the pool's */
    struct job job; /* as claimed, with its request */
    struct run *run;
    struct route_table *routes;
    char id[24];
    char *path; /* decoded request path */
    char *out;  /* the newest output bytes, at most cap */
    size_t out_len, cap;
    int64_t produced; /* output bytes written in all (output_size) */
    int64_t flushed;  /* ... of them handed to the store */
    uv_timer_t flush_timer;
    bool flushing;    /* an append is on its way to the store */
    int handles;      /* timers not yet closed */
    bool freeing;     /* job_run_free was called */
    struct job_watch *watches;
    struct job_owner group; /* the script's process group (pgid 0 if
                             * unknown), as recorded for its owner */
    int response_status; /* the CGI header's; 0 if none */
    char *response_type;
    char note[160];   /* the output had no valid header block: why */
    bool exited, output_done, finishing;
    /* How the work ended (runner_outcome): */
    bool ok;
    int64_t exit_status; /* -1 if none */
    int term_signal;
    int64_t retry_after; /* ms the next attempt waits at least */
    char reason[160];    /* why it failed */
    int64_t started; /* ms */
    uv_timer_t linger; /* after exit, a moment for the last output */
    /* Set when kickd itself ends the run (a stop, a spawn that failed
     * for kickd's own reasons): an interruption, not a failure. */
    const char *interrupt_why;
    int64_t interrupt_delay;  /* ms before it runs again */
    char start_error[160];    /* the script could not start: why */
    char error[192];          /* the end's error line */
    struct ledger_entry end;  /* the end, on its way to the store */
};

/* Frees the run once its timers are closed and no append of its output
 * is on its way (its completion reads the run). */
static void
job_run_destroy(struct job_run *jr)
{
    if (jr->handles > 0 || jr->flushing)
        return;
    job_clear(&jr->job);
    job_clear(&jr->end.op.job); /* a claimed job the pool did not take */
    route_table_unref(jr->routes);
    free(jr->path);
    free(jr->out);
    free(jr->response_type);
    free(jr);
}

static void
job_run_free_cb(uv_handle_t *h)
{
    struct job_run *jr = h->data;

    jr->handles--;
    job_run_destroy(jr);
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
        r = (unsigned)clock_now_ms();
    return base / 2 + (int64_t)(r % (unsigned)base);
}

/* The run is over for those who follow it. */
static void
watches_end(struct job_run *jr)
{
    struct job_watch *w;

    while ((w = jr->watches) != NULL) {
        jr->watches = w->next;
        w->next = w->prev = NULL;
        w->run = NULL;
        w->ended_cb(w);
    }
}

/* The store has the end: the pool learns of it. */
static void
job_recorded(struct ledger_entry *e, int result)
{
    struct job_run *jr = e->data;

    if (result == 1)
        log_warn("job %s: was no longer running in the store", jr->id);
    watches_end(jr);
    jr->pool->ended_cb(jr, &e->op);
}

/* The end's error line for a run that ended by itself and did not
 * succeed. */
static void
end_error(struct job_run *jr, enum job_state st)
{
    if (st == JOB_SUCCEEDED)
        snprintf(jr->error, sizeof(jr->error), "%s", jr->note);
    else if (st == JOB_TIMED_OUT)
        snprintf(jr->error, sizeof(jr->error), "time limit %d s passed",
                 run_time_limit(jr->run)); /* a timeout needs a run */
    else if (st == JOB_ABORTED)
        snprintf(jr->error, sizeof(jr->error), "canceled");
    else if (jr->start_error[0])
        snprintf(jr->error, sizeof(jr->error), "%s", jr->start_error);
    else
        snprintf(jr->error, sizeof(jr->error), "%s", jr->reason);
}

/* The output the store does not have yet: the newest of it, still in
 * jr->out (*data, *len), and how many bytes before those the cap pushed
 * out of the buffer meanwhile (returned: they count as skipped). */
static int64_t
unflushed(const struct job_run *jr, const char **data, size_t *len)
{
    int64_t pending = jr->produced - jr->flushed;

    *len = pending < (int64_t)jr->out_len ? (size_t)pending : jr->out_len;
    *data = jr->out + jr->out_len - *len;
    return pending - (int64_t)*len;
}

/* How the run ended: an interruption, or the script's own end; a failing
 * one is tried again while attempts remain (interruptions use none). */
static void
end_decide(struct job_run *jr, struct job_end *e)
{
    const struct job *j = &jr->job;
    int cs = jr->run ? run_status(jr->run) : 0;
    int64_t now = clock_now_ms();

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
        else if (jr->start_error[0] == '\0' && jr->ok)
            e->state = JOB_SUCCEEDED;
        else
            e->state = JOB_FAILED;
        if (e->state != JOB_SUCCEEDED || jr->note[0]) {
            end_error(jr, e->state);
            /* Output without a header block is said after the reason. */
            size_t n = strlen(jr->error);
            if (e->state != JOB_SUCCEEDED && jr->note[0])
                snprintf(jr->error + n, sizeof(jr->error) - n, "; %s",
                         jr->note);
            e->error = jr->error;
        }
        /* Retries follow a failing run only, not a timeout or a cancel. */
        int failures = j->attempt - j->interruptions;
        if (e->state == JOB_FAILED && failures < j->max_attempts) {
            e->state = JOB_QUEUED;
            int64_t wait = backoff_ms(failures);
            e->requeue_at = now + (jr->retry_after > wait ? jr->retry_after
                                                          : wait);
        }
    }
    e->connection_status = cs;
    e->attempt = j->attempt; /* a shared store's fence */
    const struct cfg_route *rt = route_named(jr->routes, j->route);
    e->limit = rt ? rt->concurrency : 0;
    e->exit_status = jr->exited ? (int)jr->exit_status : -1;
    e->term_signal = jr->exited ? jr->term_signal : 0;
    /* What the store does not have yet goes with the end. */
    e->output_skipped = unflushed(jr, &e->output, &e->output_len);
    e->output_cap = jr->cap;
    jr->flushed = jr->produced;
    e->response_status = jr->response_status;
    e->response_type = jr->response_type;
}

static void
group_end(struct job_run *jr);

/* Records how the job ended, with its output, in one op. */
static void
job_finish(struct job_run *jr)
{
    const struct job_run_pool *p = jr->pool;
    struct store_op *op = &jr->end.op;

    if (jr->finishing)
        return;
    jr->finishing = true;
    if (jr->exited)
        group_end(jr);
    uv_timer_stop(&jr->linger);
    uv_timer_stop(&jr->flush_timer);
    op->id = jr->job.id;
    jr->end.data = jr;
    jr->end.recorded_cb = job_recorded;
    end_decide(jr, &op->end);
    log_info("job %s: %s%s%s (start %d, %d interrupted, %d attempts)",
             jr->id, job_state_name(op->end.state),
             op->end.error ? ": " : "", op->end.error ? op->end.error : "",
             jr->job.attempt, jr->job.interruptions, jr->job.max_attempts);
    metrics_run_observe(&p->srv->metrics, op->end.now - jr->started);
    if (p->finishing_cb)
        p->finishing_cb(jr, op);
    ledger_record(p->ledger, &jr->end);
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

/* Keeps the newest cap bytes of the output in jr->out. */
static void
keep_newest(struct job_run *jr, const char *buf, size_t len)
{
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
}

static void
output_flush(struct job_run *jr);

static void
flush_timer_cb(uv_timer_t *t);

static void
flush_done(struct store_op *op)
{
    struct job_run *jr = op->data;

    if (op->result < 0)
        log_warn("job %s: keeping its output failed: %s", jr->id, op->error);
    store_op_free_cb(op);
    jr->flushing = false;
    if (jr->freeing) {
        job_run_destroy(jr);
        return;
    }
    if (jr->produced - jr->flushed >= JOB_OUTPUT_FLUSH_BYTES)
        output_flush(jr);
    else if (jr->produced > jr->flushed && !jr->finishing &&
             !uv_is_active((uv_handle_t *)&jr->flush_timer))
        uv_timer_start(&jr->flush_timer, flush_timer_cb, JOB_OUTPUT_FLUSH_MS,
                       0);
}

/* Hands the output the store does not have yet to it, one append at a
 * time; bytes that the cap pushed out of the buffer meanwhile are counted
 * as skipped. */
static void
output_flush(struct job_run *jr)
{
    const char *data;
    size_t have;

    if (jr->flushing || jr->finishing || jr->produced == jr->flushed)
        return;
    int64_t skipped = unflushed(jr, &data, &have);
    struct store_op *op = calloc(1, sizeof(*op));
    char *copy = malloc(have ? have : 1);
    if (op == NULL || copy == NULL) {
        free(op);
        free(copy);
        return; /* the next flush or the end takes it */
    }
    memcpy(copy, data, have);
    op->kind = SOP_OUTPUT_APPEND;
    op->id = jr->job.id;
    op->data_buf = copy;
    op->data_len = have;
    op->skipped = skipped;
    op->cap = jr->cap;
    op->data = jr;
    op->done_cb = flush_done;
    jr->flushed = jr->produced;
    jr->flushing = true;
    uv_timer_stop(&jr->flush_timer);
    store_submit(&jr->pool->srv->store, op);
}

static void
flush_timer_cb(uv_timer_t *t)
{
    output_flush(t->data);
}

/* Output of the run: the newest cap bytes kept, those who follow told at
 * once, the store within JOB_OUTPUT_FLUSH_MS or JOB_OUTPUT_FLUSH_BYTES. */
static void
output_add(struct job_run *jr, char *buf, size_t len)
{
    keep_newest(jr, buf, len);
    jr->produced += (int64_t)len;
    for (struct job_watch *w = jr->watches, *next; w; w = next) {
        next = w->next; /* the callback may stop watching */
        w->output_cb(w, buf, len, jr->produced);
    }
    free(buf);
    if (jr->produced - jr->flushed >= JOB_OUTPUT_FLUSH_BYTES)
        output_flush(jr);
    else if (!jr->flushing && !uv_is_active((uv_handle_t *)&jr->flush_timer))
        uv_timer_start(&jr->flush_timer, flush_timer_cb, JOB_OUTPUT_FLUSH_MS,
                       0);
}

/* The response a CGI header block gives (status, content type) is kept
 * with the job; output without one is kept whole, and the job says so. */
static void
job_head_cb(struct run *r, const struct cgi_response *resp, char *body,
            size_t len)
{
    struct job_run *jr = run_data(r);

    if (resp->status == 0) {
        snprintf(jr->note, sizeof(jr->note),
                 "no CGI header block (%s): output kept whole", resp->error);
    } else {
        jr->response_status = resp->status;
        for (size_t i = 0; i < resp->header_count; i++) {
            const struct http_header *h = &resp->headers[i];
            if (h->name_len == 12 &&
                strncasecmp(h->name, "Content-Type", 12) == 0) {
                free(jr->response_type);
                jr->response_type = strndup(h->value, h->value_len);
            }
        }
    }
    if (len > 0)
        output_add(jr, body, len);
    else
        free(body);
}

static void
job_body_cb(struct run *r, char *buf, size_t len)
{
    output_add(run_data(r), buf, len);
}

static void
job_end_cb(struct run *r, const char *error, int status)
{
    struct job_run *jr = run_data(r);

    (void)status;
    if (error)
        log_info("job %s: output ended: %s", jr->id, error);
    jr->output_done = true;
    if (jr->exited)
        job_finish(jr);
}

static void
job_done_cb(struct run *r, const struct runner_outcome *o)
{
    struct job_run *jr = run_data(r);

    jr->exited = true;
    jr->ok = o->ok;
    jr->exit_status = o->exit_status;
    jr->term_signal = o->term_signal;
    jr->retry_after = o->retry_after;
    snprintf(jr->reason, sizeof(jr->reason), "%s", o->reason ? o->reason : "");
    if (jr->output_done)
        job_finish(jr);
    else
        /* A child of the script may hold its output open: a moment for
         * the last bytes, then the job is done. */
        uv_timer_start(&jr->linger, linger_cb, 200, 0);
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
    op->done_cb = store_op_free_cb;
    store_submit(&jr->pool->srv->store, op);
}

static const struct run_hooks job_hooks = {
    .head_cb = job_head_cb,
    .body_cb = job_body_cb,
    .end_cb = job_end_cb,
    .done_cb = job_done_cb,
    .progress_cb = job_progress_cb,
};

/* The script could not start: for want of something kickd lacks (file
 * descriptors, memory, processes) the run is an interruption and the job
 * runs again soon; otherwise (no such program, not executable) it is the
 * job's failure. */
static void
start_failed(struct job_run *jr, const char *runner, int err)
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
             "could not start: %s: %s", runner, strerror(-err));
}

/* A job's owner on its way to the store. */
struct owner_op {
    struct store_op op; /* first: the completion finds the whole */
    struct job_owner owner;
};

/* The run is over: what its script left in its process group (a child
 * sent to the background) is ended with it, so that the job's next run
 * never meets it. Work meant to outlive its job leaves the group
 * (setsid). */
static void
group_end(struct job_run *jr)
{
    /* Most scripts leave nothing: one signal 0 says so without /proc. */
    if (jr->group.pgid <= 0 || kill(-jr->group.pgid, 0) < 0) {
        jr->group.pgid = 0;
        return;
    }
    int n = pgroup_signal(&jr->group, jr->pool->boot, SIGKILL);
    if (n > 0)
        log_info("job %s: ended %d process%s its script left behind",
                 jr->id, n, n == 1 ? "" : "es");
    jr->group.pgid = 0;
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
 * so that a kickd started after a crash can end what is left of it. A
 * FastCGI pool's or an upstream's work is no process of kickd's: there
 * is nothing to end, and no store op (a shared store's claim named the
 * node already). */
static void
owner_record(struct job_run *jr)
{
    const struct job_run_pool *p = jr->pool;
    int pid = run_pid(jr->run);
    struct owner_op *o = pid > 0 ? calloc(1, sizeof(*o)) : NULL;

    if (o == NULL)
        return;
    o->op.kind = SOP_OWN;
    o->op.id = jr->job.id;
    o->op.done_cb = owner_done;
    o->op.owner = &o->owner;
    snprintf(o->owner.node, sizeof(o->owner.node), "%s", p->node);
    if (pgroup_identify(pid, p->boot, &o->owner) < 0)
        o->owner.pgid = 0;
    jr->group = o->owner;
    store_submit(&p->srv->store, &o->op);
}

/* Starts a claimed job: its stored request is parsed again and given to
 * the route's script as an attached request would be. */
/* The script's CGI request from the stored one, started as an attached
 * one would be. A stored request that does not parse any more, or a
 * route no longer configured, is the job's failure (why says which). */
static void
script_start(struct job_run *jr, const struct cfg_route *route,
             const char **why)
{
    struct srv *s = jr->pool->srv;
    struct http_request req;
    int err = 0;

    if (http_parse_request(jr->job.head, jr->job.head_len, &req) < 0) {
        *why = "its stored request does not parse";
        return;
    }
    if ((jr->path = malloc(req.path_len + 1)) == NULL ||
        route_path_decode(req.path, req.path_len, jr->path,
                          req.path_len + 1) < 0) {
        *why = "its stored path does not decode";
        return;
    }
    bool has_body = req.content_length > 0 || req.chunked;
    struct cgi_request cr;
    cgi_request_from_http(&cr, s, route, &req, jr->path, jr->job.remote_addr,
                          jr->job.remote_port, (int64_t)jr->job.body_len);
    cr.body = has_body ? jr->job.body : NULL;
    cr.run_id = jr->id;
    cr.attempt = jr->job.attempt;
    cr.job = true;
    cr.secret_tag = s->store.id;
    jr->run = run_start(s, &cr, &job_hooks, jr, &err);
    if (jr->run == NULL) {
        log_error("job %s: cannot start its %s runner: %s", jr->id,
                  runner_of(route)->name, strerror(-err));
        start_failed(jr, runner_of(route)->name, err);
        return;
    }
    owner_record(jr);
    if (has_body)
        run_write_stdin(jr->run, jr->job.body, jr->job.body_len);
    run_close_stdin(jr->run);
}

struct job_run *
job_run_start(const struct job_run_pool *pool, struct job *job, void *data)
{
    struct srv *s = pool->srv;
    struct job_run *jr = calloc(1, sizeof(*jr));
    const char *why = NULL;

    if (jr == NULL)
        return NULL;
    jr->pool = pool;
    jr->data = data;
    jr->job = *job;
    memset(job, 0, sizeof(*job));
    jr->cap = (size_t)s->cfg->output_cap;
    jr->started = clock_now_ms();
    snprintf(jr->id, sizeof(jr->id), "%" PRId64, jr->job.id);
    uv_timer_init(s->loop, &jr->linger);
    uv_timer_init(s->loop, &jr->flush_timer);
    jr->linger.data = jr->flush_timer.data = jr;
    jr->handles = 2;
    jr->produced = jr->flushed = jr->job.output_size;
    metrics_start_observe(&s->metrics,
                          jr->started - (jr->job.run_at > jr->job.created_at
                                             ? jr->job.run_at
                                             : jr->job.created_at));
    jr->routes = route_table_ref(s->routes);
    const struct cfg_route *route = route_named(jr->routes, jr->job.route);
    jr->out = malloc(jr->cap ? jr->cap : 1);
    if (route == NULL)
        why = "its route is no longer configured";
    else if (jr->out == NULL)
        why = "out of memory";
    else
        script_start(jr, route, &why);
    if (why) {
        log_error("job %s: %s", jr->id, why);
        snprintf(jr->start_error, sizeof(jr->start_error),
                 "could not start: %s", why);
        if (jr->out == NULL) {
            jr->interrupt_why = jr->start_error;
            jr->interrupt_delay = JOB_SPAWN_RETRY;
        }
    }
    if (jr->run == NULL) {
        /* Its end goes to the ledger now; ended_cb comes later. */
        jr->output_done = true;
        job_finish(jr);
        return jr;
    }
    log_info("job %s: started on %s (start %d, %d interrupted, %d "
             "attempts)",
             jr->id, jr->job.route, jr->job.attempt, jr->job.interruptions,
             jr->job.max_attempts);
    return jr;
}

void *
job_run_data(const struct job_run *jr)
{
    return jr->data;
}

int64_t
job_run_id(const struct job_run *jr)
{
    return jr->job.id;
}

const char *
job_run_route(const struct job_run *jr)
{
    return jr->job.route;
}

int
job_run_attempt(const struct job_run *jr)
{
    return jr->job.attempt;
}

int
job_run_status(const struct job_run *jr)
{
    return jr->run ? run_status(jr->run) : 0;
}

bool
job_run_cancel(struct job_run *jr)
{
    if (jr->run == NULL || jr->finishing)
        return false;
    run_cancel(jr->run);
    return true;
}

void
job_run_interrupt(struct job_run *jr, const char *why)
{
    if (!jr->finishing && jr->interrupt_why == NULL) {
        jr->interrupt_why = why;
        jr->interrupt_delay = 0;
    }
}

bool
job_run_end_now(struct job_run *jr, const char *why)
{
    if (jr->run == NULL || jr->finishing)
        return false;
    job_run_interrupt(jr, why);
    log_warn("job %s: ending it: %s", jr->id, why);
    run_stop(jr->run);
    return true;
}

void
job_run_watch(struct job_run *jr, struct job_watch *w, int64_t from)
{
    int64_t first = jr->produced - (int64_t)jr->out_len;

    w->run = jr;
    w->prev = NULL;
    w->next = jr->watches;
    if (jr->watches)
        jr->watches->prev = w;
    jr->watches = w;
    if (from < first)
        from = first;
    if (from < jr->produced)
        w->output_cb(w, jr->out + (from - first),
                     (size_t)(jr->produced - from), jr->produced);
}

void
job_run_unwatch(struct job_watch *w)
{
    struct job_run *jr = w->run;

    if (jr == NULL)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        jr->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->run = NULL;
    w->prev = w->next = NULL;
}

void
job_run_free(struct job_run *jr)
{
    if (jr->freeing)
        return;
    jr->freeing = true;
    watches_end(jr);
    uv_close((uv_handle_t *)&jr->linger, job_run_free_cb);
    uv_close((uv_handle_t *)&jr->flush_timer, job_run_free_cb);
}
