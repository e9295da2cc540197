/* SPDX-License-Identifier: MIT */
/* Interrupted runs and the recovery at start (recover.h): orphans are
 * read from the store, their process groups killed and waited for, then
 * each is recorded as interrupted; until the last is recorded the pool
 * claims nothing. */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kick_limits.h"
#include "ledger.h"
#include "log.h"
#include "pgroup.h"
#include "recover.h"
#include "srv.h"
#include "store_async.h"
#include "worker.h"

struct recover {
    struct srv *srv;
    struct ledger *ledger;
    char boot[40];
    const char *why; /* how their runs ended, as their errors say */
    const struct recover_hooks *hooks;
    void *data;
    struct job *orphans;      /* as the store listed them */
    struct job_owner *owners; /* who ran each */
    size_t n;
    size_t recorded;        /* orphans whose end is recorded */
    struct recover_op *ops; /* their ends, one each */
    uv_timer_t timer;       /* the poll for dead groups, and retries */
    int64_t killed_at;      /* ms, when the groups were sent SIGKILL */
    bool warned;
};

/* One orphan's end. */
struct recover_op {
    struct ledger_entry e;
    struct recover *rc;
    char error[160];
};

void
recover_interrupted_end(struct job_end *e, const struct job *j,
                        int max_interruptions, const char *why, int64_t now,
                        int64_t delay, char *err, size_t errlen)
{
    int n = j->interruptions + 1;

    e->interrupted = true;
    e->now = now;
    e->exit_status = -1;
    e->term_signal = 0;
    snprintf(err, errlen, "interrupted: %s (%d of %d)", why, n,
             max_interruptions);
    e->error = err;
    if (n >= max_interruptions) {
        e->state = JOB_FAILED;
        e->requeue_at = 0;
    } else {
        /* At once, the job keeps its place: it was due before the jobs
         * queued behind it. */
        e->state = JOB_QUEUED;
        e->requeue_at = delay > 0 || j->run_at <= 0 ? now + delay : j->run_at;
    }
}

static void
recover_free_cb(uv_handle_t *h)
{
    struct recover *rc = h->data;

    for (size_t i = 0; i < rc->n; i++)
        job_clear(&rc->orphans[i]);
    free(rc->orphans);
    free(rc->owners);
    free(rc->ops);
    free(rc);
}

void
recover_stop(struct recover *rc)
{
    if (rc != NULL && !uv_is_closing((uv_handle_t *)&rc->timer))
        uv_close((uv_handle_t *)&rc->timer, recover_free_cb);
}

static void
recover_end(struct recover *rc)
{
    if (rc->n > 0)
        log_warn("recovered %zu jobs that were running: %s", rc->n, rc->why);
    rc->hooks->done_cb(rc->data);
    uv_close((uv_handle_t *)&rc->timer, recover_free_cb);
}

static void
recorded_cb(struct ledger_entry *e, int result)
{
    struct recover_op *ro = (struct recover_op *)e;
    struct recover *rc = ro->rc;
    size_t i = (size_t)(ro - rc->ops);

    if (result == 0 && e->op.end.state == JOB_QUEUED)
        rc->hooks->requeued_cb(rc->data, rc->orphans[i].route);
    if (++rc->recorded == rc->n)
        recover_end(rc);
}

/* Every orphan is recorded as interrupted by a dead kickd: queued again
 * in its place, or failed after max_interruptions; the ledger keeps
 * trying while the store refuses. */
static void
record_all(struct recover *rc)
{
    int max = rc->srv->cfg->max_interruptions;
    int64_t now = clock_now_ms();

    for (size_t i = 0; i < rc->n; i++) {
        struct recover_op *ro = &rc->ops[i];
        ro->rc = rc;
        ro->e.op.id = rc->orphans[i].id;
        ro->e.recorded_cb = recorded_cb;
        recover_interrupted_end(&ro->e.op.end, &rc->orphans[i], max, rc->why,
                                now, 0, ro->error, sizeof(ro->error));
        ro->e.op.end.connection_status = rc->orphans[i].connection_status;
        ro->e.op.end.attempt = rc->orphans[i].attempt; /* the fence */
        ledger_record(rc->ledger, &ro->e);
    }
}

/* Kills what is left of each orphan's process group (again, for members
 * forked meanwhile) and counts what still lives. */
static int
groups_alive(struct recover *rc, int sig)
{
    int alive = 0;

    for (size_t i = 0; i < rc->n; i++) {
        int r = pgroup_signal(&rc->owners[i], rc->boot, sig);
        if (r < 0) {
            log_error("job %" PRId64 ": cannot read /proc: %s",
                      rc->orphans[i].id, strerror(-r));
            alive++;
        } else {
            alive += r;
        }
    }
    return alive;
}

static void
poll_cb(uv_timer_t *t)
{
    struct recover *rc = t->data;
    int alive = groups_alive(rc, SIGKILL);

    if (alive == 0) {
        record_all(rc);
        return;
    }
    /* A process in uninterruptible sleep (D) dies when its I/O ends. */
    if (!rc->warned && clock_now_ms() - rc->killed_at > 10000) {
        rc->warned = true;
        log_warn("recovery: %d processes of earlier runs still alive after "
                 "SIGKILL; their jobs wait",
                 alive);
    }
    uv_timer_start(&rc->timer, poll_cb, JOB_RECLAIM_POLL, 0);
}

/* The run of j started, but its owner never reached the store: its
 * processes are found by the KICK_CONTROL they were given, which names
 * the job and, at the start of the run's secret, the store's id. */
static void
owner_find(struct recover *rc, const struct job *j, struct job_owner *o)
{
    char needle[80];

    if (j->started_at <= 0 || rc->srv->store.id[0] == '\0')
        return;
    snprintf(needle, sizeof(needle), "/_kick/run/%" PRId64 ".%s", j->id,
             rc->srv->store.id);
    if (pgroup_find(needle, j->started_at, rc->boot, o) == 1)
        log_warn("job %" PRId64 ": who ran it was not recorded; found its "
                 "process group %d by its environment",
                 j->id, o->pgid);
}

/* Whether o ran on this host: its node's name starts "HOST/". */
static bool
owner_is_here(const struct recover *rc, const struct job_owner *o)
{
    const char *me = rc->srv->store.node, *slash = strchr(me, '/');
    size_t n = slash ? (size_t)(slash - me) + 1 : strlen(me);

    return o->node[0] == '\0' || strncmp(o->node, me, n) == 0;
}

static void orphans_done(struct store_op *op);

static void
ask_cb(uv_timer_t *t)
{
    struct recover *rc = t->data;
    struct store_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        uv_timer_start(&rc->timer, ask_cb, JOB_RECORD_RETRY, 0);
        return;
    }
    op->kind = SOP_ORPHANS;
    op->data = rc;
    op->done_cb = orphans_done;
    store_submit(&rc->srv->store, op);
}

static void
orphans_done(struct store_op *op)
{
    struct recover *rc = op->data;

    if (op->result < 0) {
        log_error("store: reading the jobs left running: %s", op->error);
        store_op_clear(op);
        free(op);
        uv_timer_start(&rc->timer, ask_cb, JOB_RECORD_RETRY, 0);
        return;
    }
    rc->orphans = op->jobs;
    rc->owners = op->owners;
    rc->n = op->njobs;
    op->jobs = NULL;
    op->owners = NULL;
    op->njobs = 0;
    store_op_clear(op);
    free(op);
    if (rc->n == 0) {
        recover_end(rc);
        return;
    }
    rc->ops = calloc(rc->n, sizeof(*rc->ops));
    if (rc->ops == NULL) {
        log_error("recovery: out of memory");
        recover_end(rc);
        return;
    }
    for (size_t i = 0; i < rc->n; i++) {
        struct job *j = &rc->orphans[i];
        struct job_owner *o = &rc->owners[i];
        /* Processes of another host are not this host's to signal (in a
         * container beside it, a pid may name another process): their
         * node ended them before its lease ran out. */
        if (!owner_is_here(rc, o))
            o->pgid = 0;
        else if (o->pgid == 0)
            owner_find(rc, j, o);
        if (o->pgid > 0)
            log_info("job %" PRId64 ": ending what is left of its run "
                     "(process group %d)",
                     j->id, o->pgid);
    }
    rc->killed_at = clock_now_ms();
    poll_cb(&rc->timer);
}

struct recover *
recover_start(struct srv *s, struct ledger *ledger, const char *boot,
              const char *why, const struct recover_hooks *h, void *data)
{
    struct recover *rc = calloc(1, sizeof(*rc));

    if (rc == NULL) {
        log_error("recovery: out of memory");
        return NULL;
    }
    rc->srv = s;
    rc->ledger = ledger;
    snprintf(rc->boot, sizeof(rc->boot), "%s", boot);
    rc->why = why;
    rc->hooks = h;
    rc->data = data;
    uv_timer_init(s->loop, &rc->timer);
    rc->timer.data = rc;
    /* A stop does not wait for a recovery (one whose processes will not
     * die, say): the next start recovers the same jobs. */
    uv_unref((uv_handle_t *)&rc->timer);
    ask_cb(&rc->timer);
    return rc;
}
