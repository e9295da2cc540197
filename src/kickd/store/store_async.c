/* SPDX-License-Identifier: MIT */
/* The store's own thread: operations from the loop run there in batches,
 * one transaction per batch, so that every trigger that arrived while the
 * last batch was being written shares the next commit. With a backend
 * that syncs apart (store_ops.sync), a second thread makes the commits
 * durable: while it waits for the disk, the store thread runs the next
 * batch, and a batch is completed on the loop only once it is synced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kick_limits.h"
#include "log.h"
#include "store_async.h"

/* An INSERT's or a FINISH's claim of route into out, after its own work
 * (result r), in the same transaction; returns r. */
static int
claim_after(struct store_async *sa, struct store *st, struct store_op *op,
            int r, const char *route, struct job *out)
{
    const struct store_ops *o = sa->ops;

    if (!op->claim)
        return r;
    memset(out, 0, sizeof(*out));
    op->claim_result = 0;
    if (r < 0)
        return r;
    op->claim_result = o->claim(st, route, op->now, op->limit, out);
    if (op->claim_result < 0)
        snprintf(op->error, sizeof(op->error), "%s", o->error(st));
    return r;
}

static int
op_run(struct store_async *sa, struct store *st, struct store_op *op)
{
    const struct store_ops *o = sa->ops;

    switch (op->kind) {
    case SOP_INSERT:
        return claim_after(sa, st, op, o->insert(st, &op->job, &op->existed),
                           op->job.route, &op->claimed);
    case SOP_CLAIM:
        return o->claim(st, op->route, op->now, op->limit, &op->job);
    case SOP_FINISH:
        return claim_after(sa, st, op, o->finish(st, op->id, &op->end),
                           op->route, &op->job);
    case SOP_OWN:
        return o->set_owner(st, op->id, op->owner);
    case SOP_CANCEL:
        return o->cancel(st, op->id, op->now);
    case SOP_RETRY:
        return o->retry(st, op->id, op->now, op->max_attempts);
    case SOP_GET:
        return o->get(st, op->id, op->with_request, &op->job);
    case SOP_LIST:
        return o->list(st, &op->filter, &op->jobs, &op->njobs);
    case SOP_OUTPUT_APPEND:
        return o->output_append(st, op->id, op->data_buf, op->data_len, op->cap,
                                op->skipped);
    case SOP_OUTPUT_GET:
        return o->output_get(st, op->id, &op->data_buf, &op->data_len,
                             &op->job);
    case SOP_PROGRESS:
        return o->set_progress(st, op->id, op->percent, op->msg);
    case SOP_ORPHANS:
        return o->orphans(st, &op->jobs, &op->owners, &op->njobs);
    case SOP_DUE_ROUTES:
        return o->due_routes(st, op->now, &op->routes, &op->nroutes);
    case SOP_NEXT_RUN_AT:
        return o->next_run_at(st, op->now, &op->when);
    case SOP_COUNTS:
        return o->counts(st, &op->counts, &op->ncounts);
    case SOP_DELETE:
        return o->delete (st, op->id);
    case SOP_PRUNE:
        return o->prune(st, op->route, op->prune.before, op->prune.limit,
                        &op->prune.deleted, &op->prune.oldest);
    case SOP_RENEW:
        if (o->renew == NULL)
            return 0; /* no lease: one node owns the store */
        return o->renew(st, &op->ids, &op->attempts, &op->nids);
    }
    return -1;
}

static void
batch_fail(struct store_async *sa, struct store_op *batch, const char *why)
{
    for (struct store_op *op = batch; op; op = op->next) {
        op->result = -1;
        snprintf(op->error, sizeof(op->error), "%s", why);
    }
}

/* Appends the ops first..last to the list *head..*tail. */
static void
ops_append(struct store_op **head, struct store_op **tail,
           struct store_op *first, struct store_op *last)
{
    if (*tail)
        (*tail)->next = first;
    else
        *head = first;
    *tail = last;
}

/* Appends batch..last to the loop's completions (with sa->mu held). */
static void
batch_done(struct store_async *sa, struct store_op *batch,
           struct store_op *last)
{
    ops_append(&sa->done, &sa->done_tail, batch, last);
    uv_async_send(&sa->async);
}

static void
sync_main(void *arg)
{
    struct store_async *sa = arg;
    char why[160];

    uv_mutex_lock(&sa->mu);
    for (;;) {
        while (sa->unsynced == NULL && !sa->sync_stopping)
            uv_cond_wait(&sa->sync_cv, &sa->mu);
        if (sa->unsynced == NULL)
            break;
        struct store_op *batch = sa->unsynced, *last = sa->unsynced_tail;
        bool broken = sa->broken;
        sa->unsynced = sa->unsynced_tail = NULL;
        uv_mutex_unlock(&sa->mu);

        /* The batch was committed before this sync began. A failed sync
         * leaves the disk's state unknown (Linux may drop the pages it
         * could not write): the batch fails, and so does every op after
         * it, no job is claimed, until kickd is restarted and reads what
         * the disk holds. A later sync that succeeds proves nothing of
         * the pages lost before it (a WAL is read up to its first bad
         * frame), so a batch committed after the failure fails too. */
        bool failed = false;
        if (broken) {
            batch_fail(sa, batch,
                       "a sync of the store failed earlier; "
                       "restart kickd");
        } else if (sa->ops->sync(sa->st, why, sizeof(why)) < 0) {
            failed = true;
            log_error("store: %s; the store refuses all work until kickd "
                      "is restarted",
                      why);
            batch_fail(sa, batch, why);
        }

        uv_mutex_lock(&sa->mu);
        if (failed)
            sa->broken = true;
        batch_done(sa, batch, last);
        /* The store thread may commit what it has gathered meanwhile. */
        sa->syncing = false;
        uv_cond_signal(&sa->lane[0].cv);
    }
    uv_mutex_unlock(&sa->mu);
}

/* claim_result of an end whose claim waits for claims_gathered. */
#define CLAIM_WAITING 3

/* Whether op's claim waits for the batch's one claim of its route
 * (claims_gathered): an end's claim of a route with no limit, on a
 * backend with claim_n. */
static bool
claim_gathers(const struct store_async *sa, const struct store_op *op)
{
    return sa->ops->claim_n != NULL && op->kind == SOP_FINISH && op->claim &&
           op->limit == 0;
}

/* The claims that ends of this run of ops left to the batch (claim_n):
 * one statement a route for all of them, its jobs handed out in the
 * ends' order, where each end's own claim would have read the queue's
 * head again past the others' locked rows. */
static void
claims_gathered(struct store_async *sa, struct store *st,
                struct store_op *first)
{
    struct store_op *wait[STORE_CLAIMS_GATHERED];
    struct job got[STORE_CLAIMS_GATHERED];
    int n = 0;

    for (struct store_op *op = first; op; op = op->next)
        if (claim_gathers(sa, op) && op->claim_result == CLAIM_WAITING &&
            n < STORE_CLAIMS_GATHERED)
            wait[n++] = op;
    for (int i = 0; i < n; i++) {
        if (wait[i] == NULL)
            continue;
        /* The ends of wait[i]'s route, from i on. */
        struct store_op *same[STORE_CLAIMS_GATHERED] = {wait[i]};
        int m = 1;
        int64_t now = wait[i]->now;
        for (int k = i + 1; k < n; k++)
            if (wait[k] && strcmp(wait[k]->route, wait[i]->route) == 0) {
                same[m++] = wait[k];
                now = wait[k]->now > now ? wait[k]->now : now;
                wait[k] = NULL;
            }
        int taken = 0;
        int r = sa->ops->claim_n(st, same[0]->route, now, m, got, &taken);
        for (int k = 0; k < m; k++) {
            struct store_op *op = same[k];
            if (r < 0) {
                op->claim_result = -1;
                snprintf(op->error, sizeof(op->error), "%s",
                         sa->ops->error(st));
            } else if (k < taken) {
                op->claim_result = 1;
                op->job = got[k];
            } else {
                op->claim_result = 0;
            }
        }
    }
}

/* Runs op and those after it in the open transaction of st. */
static void
ops_run(struct store_async *sa, struct store *st, struct store_op *op)
{
    struct store_op *first = op;
    int gathered = 0;

    for (; op; op = op->next) {
        bool gather = claim_gathers(sa, op) && gathered < STORE_CLAIMS_GATHERED;
        if (gather) {
            op->claim = false; /* for op_run: the end alone */
            gathered++;
        }
        op->result = op_run(sa, st, op);
        if (op->result < 0)
            snprintf(op->error, sizeof(op->error), "%s", sa->ops->error(st));
        if (gather) {
            op->claim = true;
            memset(&op->job, 0, sizeof(op->job));
            op->claim_result = op->result >= 0 ? CLAIM_WAITING : 0;
        }
    }
    if (gathered > 0)
        claims_gathered(sa, st, first);
}

/* Takes ops off the lane's todo (with sa->mu held), every one or the
 * first max (max > 0), into first..*last; returns how many. */
static int
batch_take(struct store_lane *ln, struct store_op **first,
           struct store_op **last, int max)
{
    struct store_op *op = ln->todo;
    int n = 1;

    *first = op;
    for (; (max <= 0 || n < max) && op->next; n++)
        op = op->next;
    *last = op;
    ln->todo = op->next;
    if (ln->todo == NULL)
        ln->todo_tail = NULL;
    op->next = NULL;
    return n;
}

/* A lane's thread (the only one but with store_ops.lanes). */
static void
thread_main(void *arg)
{
    struct store_lane *ln = arg;
    struct store_async *sa = ln->sa;
    struct store *st = ln->st;

    uv_mutex_lock(&sa->mu);
    for (;;) {
        while (ln->todo == NULL && !sa->stopping) {
            ln->idle = true;
            uv_cond_wait(&ln->cv, &sa->mu);
            ln->idle = false;
        }
        if (ln->todo == NULL && sa->stopping)
            break;
        struct store_op *batch, *last;
        int max = sa->ops->batch_max;
        int n = batch_take(ln, &batch, &last, max);
        if (sa->broken) {
            batch_fail(sa, batch,
                       "a sync of the store failed earlier; "
                       "restart kickd");
            batch_done(sa, batch, last);
            continue;
        }
        uv_mutex_unlock(&sa->mu);

        /* One transaction for the whole batch: one commit, one sync. */
        bool open = sa->ops->begin(st) == 0;
        if (open)
            ops_run(sa, st, batch);
        else
            batch_fail(sa, batch, sa->ops->error(st));

        uv_mutex_lock(&sa->mu);
        /* While the last commit is being synced the disk is busy: the
         * transaction stays open, and what arrived meanwhile joins it at
         * the sync's end, so that it all shares the next sync. The thread
         * sleeps through the sync: the loop wakes it only when it is idle
         * (store_submit), not once per op, which cost a context switch a
         * trigger. */
        while (open && sa->syncing && !sa->stopping)
            uv_cond_wait(&ln->cv, &sa->mu);
        if (open && ln->todo && (max <= 0 || n < max)) {
            struct store_op *op, *op_last;
            batch_take(ln, &op, &op_last, max > 0 ? max - n : 0);
            last->next = op;
            last = op_last;
            uv_mutex_unlock(&sa->mu);
            ops_run(sa, st, op);
            uv_mutex_lock(&sa->mu);
        }
        uv_mutex_unlock(&sa->mu);

        if (open && sa->ops->commit(st) < 0) {
            char why[160];
            snprintf(why, sizeof(why), "commit: %s", sa->ops->error(st));
            sa->ops->rollback(st);
            batch_fail(sa, batch, why);
        }

        uv_mutex_lock(&sa->mu);
        if (sa->ops->sync == NULL) {
            batch_done(sa, batch, last);
            continue;
        }
        /* The sync thread may not have taken the last commit yet (when
         * stopping, the wait above ends early): the two share its sync. */
        ops_append(&sa->unsynced, &sa->unsynced_tail, batch, last);
        sa->syncing = true;
        uv_cond_signal(&sa->sync_cv);
    }
    uv_mutex_unlock(&sa->mu);
}

/* Completions first, then notices: a GET that saw a job running has
 * registered its wait before the notice of the job's end is read. */
static void
async_cb(uv_async_t *h)
{
    struct store_async *sa = h->data;

    uv_mutex_lock(&sa->mu);
    struct store_op *op = sa->done;
    struct store_notice *n = sa->notices;
    sa->done = sa->done_tail = NULL;
    sa->notices = sa->notices_tail = NULL;
    uv_mutex_unlock(&sa->mu);
    while (op) {
        struct store_op *next = op->next;
        op->next = NULL;
        op->done_cb(op);
        op = next;
    }
    while (n) {
        struct store_notice *next = n->next;
        if (sa->notice_cb)
            sa->notice_cb(sa->notice_data, n->line);
        free(n);
        n = next;
    }
}

/* Notices as the listener's thread reads them, gathered by one wait and
 * handed to the loop together. */
struct notice_batch {
    struct store_notice *head, *tail;
};

static void
notice_add(void *data, const char *line)
{
    struct notice_batch *b = data;
    size_t len = strlen(line);
    struct store_notice *n = malloc(sizeof(*n) + len + 1);

    if (n == NULL)
        return; /* the poll finds what it said */
    memcpy(n->line, line, len + 1);
    n->next = NULL;
    if (b->tail)
        b->tail->next = n;
    else
        b->head = n;
    b->tail = n;
}

static void
notices_post(struct store_async *sa, struct notice_batch *b)
{
    if (b->head == NULL)
        return;
    uv_mutex_lock(&sa->mu);
    if (sa->notices_tail)
        sa->notices_tail->next = b->head;
    else
        sa->notices = b->head;
    sa->notices_tail = b->tail;
    uv_mutex_unlock(&sa->mu);
    uv_async_send(&sa->async);
    b->head = b->tail = NULL;
}

/* Sleeps ms unless the listener is stopped meanwhile; true if it is. */
static bool
listen_sleep(struct store_async *sa, int64_t ms)
{
    uv_mutex_lock(&sa->mu);
    if (!sa->listen_stopping)
        (void)uv_cond_timedwait(&sa->listen_cv, &sa->mu,
                                (uint64_t)ms * 1000000);
    bool stop = sa->listen_stopping;
    uv_mutex_unlock(&sa->mu);
    return stop;
}

/* The listener's thread: connects (again after a loss, 100 ms doubling
 * to 5 s between tries), then waits for notices; each connection starts
 * with "*", since notices sent while there was none are lost. */
static void
listen_main(void *arg)
{
    struct store_async *sa = arg;
    const struct store_ops *o = sa->ops;
    struct store *ln = NULL;
    struct notice_batch b = {NULL, NULL};
    int64_t backoff = STORE_LISTEN_BACKOFF_MIN;
    bool down = false;
    char err[160];

    while (!listen_sleep(sa, 0)) {
        if (ln == NULL) {
            if (o->listen_open(&ln, sa->uri, err, sizeof(err)) < 0) {
                if (!down)
                    log_error("store: listening for other nodes: %s; "
                              "trying again",
                              err);
                down = true;
                if (listen_sleep(sa, backoff))
                    break;
                backoff = backoff * 2 > STORE_LISTEN_BACKOFF_MAX
                              ? STORE_LISTEN_BACKOFF_MAX
                              : backoff * 2;
                continue;
            }
            if (down)
                log_info("store: listening for other nodes again");
            down = false;
            backoff = STORE_LISTEN_BACKOFF_MIN;
            notice_add(&b, "*");
            notices_post(sa, &b);
        }
        int r = o->listen_wait(ln, STORE_LISTEN_WAIT, notice_add, &b, err,
                               sizeof(err));
        notices_post(sa, &b);
        if (r < 0) {
            log_error("store: listening for other nodes: %s", err);
            o->listen_close(ln);
            ln = NULL;
            down = true;
        }
    }
    if (ln)
        o->listen_close(ln);
}

void
store_async_on_notice(struct store_async *sa,
                      void (*cb)(void *data, const char *line), void *data)
{
    sa->notice_cb = cb;
    sa->notice_data = data;
}

/* Ends the sync thread once it has synced what was committed last. */
static void
sync_thread_stop(struct store_async *sa)
{
    uv_mutex_lock(&sa->mu);
    sa->sync_stopping = true;
    uv_cond_signal(&sa->sync_cv);
    uv_mutex_unlock(&sa->mu);
    uv_thread_join(&sa->sync_thread);
}

/* Stops the lanes' threads that were started (their queues finished
 * first) and closes every lane's store. */
static void
lanes_stop(struct store_async *sa)
{
    uv_mutex_lock(&sa->mu);
    sa->stopping = true;
    for (int i = 0; i < sa->nlanes; i++)
        uv_cond_signal(&sa->lane[i].cv);
    uv_mutex_unlock(&sa->mu);
    for (int i = 0; i < sa->nlanes; i++)
        if (sa->lane[i].running)
            uv_thread_join(&sa->lane[i].thread);
}

static void
lanes_close(struct store_async *sa)
{
    for (int i = 0; i < sa->nlanes; i++) {
        sa->ops->close(sa->lane[i].st);
        uv_cond_destroy(&sa->lane[i].cv);
    }
    sa->nlanes = 0;
    sa->st = NULL;
}

/* Opens one more lane's store, joined as this node. */
static int
lane_open(struct store_async *sa, const char *uri, int64_t lease_ms, char *err,
          size_t errlen)
{
    struct store_lane *ln = &sa->lane[sa->nlanes];

    memset(ln, 0, sizeof(*ln));
    ln->sa = sa;
    if (sa->ops->open(&ln->st, uri, err, errlen) < 0)
        return -1;
    if (sa->ops->join)
        sa->ops->join(ln->st, sa->node, lease_ms);
    uv_cond_init(&ln->cv);
    sa->nlanes++;
    return 0;
}

int
store_async_open(struct store_async *sa, uv_loop_t *loop,
                 const struct store_ops *ops, const char *uri, const char *node,
                 int64_t lease_ms, char *err, size_t errlen)
{
    int lanes = ops->lanes > 1 && ops->sync == NULL ? ops->lanes : 1;

    memset(sa, 0, sizeof(*sa));
    sa->ops = ops;
    snprintf(sa->node, sizeof(sa->node), "%s", node ? node : "");
    if (lanes > STORE_LANES_MAX)
        lanes = STORE_LANES_MAX;
    while (sa->nlanes < lanes)
        if (lane_open(sa, uri, lease_ms, err, errlen) < 0) {
            lanes_close(sa);
            return -1;
        }
    sa->st = sa->lane[0].st;
    if (sa->ops->id)
        snprintf(sa->id, sizeof(sa->id), "%s", sa->ops->id(sa->st));
    uv_mutex_init(&sa->mu);
    uv_cond_init(&sa->sync_cv);
    uv_cond_init(&sa->listen_cv);
    uv_async_init(loop, &sa->async, async_cb);
    sa->async.data = sa;
    if (sa->ops->sync &&
        uv_thread_create(&sa->sync_thread, sync_main, sa) != 0) {
        snprintf(err, errlen, "cannot start the store's sync thread");
        goto fail;
    }
    for (int i = 0; i < sa->nlanes; i++) {
        if (uv_thread_create(&sa->lane[i].thread, thread_main, &sa->lane[i]) !=
            0) {
            snprintf(err, errlen, "cannot start the store thread");
            lanes_stop(sa);
            if (sa->ops->sync)
                sync_thread_stop(sa);
            goto fail;
        }
        sa->lane[i].running = true;
    }
    sa->started = true;
    if (sa->ops->listen_open &&
        ((sa->uri = strdup(uri)) == NULL ||
         uv_thread_create(&sa->listen_thread, listen_main, sa) != 0))
        log_error("store: cannot start the listener's thread; other "
                  "nodes' work is found every poll");
    else if (sa->ops->listen_open)
        sa->listening = true;
    return 0;
fail:
    lanes_close(sa);
    uv_close((uv_handle_t *)&sa->async, NULL);
    uv_mutex_destroy(&sa->mu);
    uv_cond_destroy(&sa->sync_cv);
    uv_cond_destroy(&sa->listen_cv);
    return -1;
}

/* The lane an op runs on. A job's own ops (its run's output, progress,
 * owner and end) keep to one lane, in the order they were sent; claims
 * take the lanes in turn; the rest (triggers, whose ids and commits
 * keep their order, and the API's and the pool's reads) go to the
 * first. */
static struct store_lane *
lane_of(struct store_async *sa, struct store_op *op)
{
    if (sa->nlanes == 1)
        return &sa->lane[0];
    switch (op->kind) {
    case SOP_FINISH:
    case SOP_OUTPUT_APPEND:
    case SOP_PROGRESS:
    case SOP_OWN:
        return &sa->lane[(uint64_t)op->id % (uint64_t)sa->nlanes];
    case SOP_CLAIM:
        return &sa->lane[sa->next_lane++ % (unsigned)sa->nlanes];
    default:
        return &sa->lane[0];
    }
}

void
store_submit(struct store_async *sa, struct store_op *op)
{
    op->next = NULL;
    op->result = 0;
    op->error[0] = '\0';
    op->sent = clock_mono_ms();
    if (sa->closed) {
        op->result = -1;
        snprintf(op->error, sizeof(op->error), "kickd is stopping");
        op->done_cb(op);
        return;
    }
    struct store_lane *ln = lane_of(sa, op);
    if (!sa->started) {
        /* Closing: the loop in store_async_close fails it. */
        ops_append(&ln->todo, &ln->todo_tail, op, op);
        return;
    }
    uv_mutex_lock(&sa->mu);
    ops_append(&ln->todo, &ln->todo_tail, op, op);
    if (ln->idle)
        uv_cond_signal(&ln->cv);
    uv_mutex_unlock(&sa->mu);
}

void
store_async_close(struct store_async *sa)
{
    if (!sa->started)
        return;
    uv_mutex_lock(&sa->mu);
    sa->listen_stopping = true;
    uv_cond_signal(&sa->listen_cv);
    uv_mutex_unlock(&sa->mu);
    if (sa->listening)
        uv_thread_join(&sa->listen_thread);
    free(sa->uri);
    sa->uri = NULL;
    lanes_stop(sa);
    if (sa->ops->sync)
        sync_thread_stop(sa);
    /* Completions not yet delivered are delivered now; what they submit
     * meanwhile fails, the threads being gone. */
    sa->started = false;
    for (;;) {
        async_cb(&sa->async);
        bool left = false;
        for (int i = 0; i < sa->nlanes; i++) {
            struct store_lane *ln = &sa->lane[i];
            if (ln->todo == NULL)
                continue;
            left = true;
            batch_fail(sa, ln->todo, "kickd is stopping");
            ops_append(&sa->done, &sa->done_tail, ln->todo, ln->todo_tail);
            ln->todo = ln->todo_tail = NULL;
        }
        if (!left)
            break;
    }
    lanes_close(sa);
    uv_close((uv_handle_t *)&sa->async, NULL);
    while (sa->notices) {
        struct store_notice *n = sa->notices;
        sa->notices = n->next;
        free(n);
    }
    uv_mutex_destroy(&sa->mu);
    uv_cond_destroy(&sa->sync_cv);
    uv_cond_destroy(&sa->listen_cv);
    sa->closed = true;
}

void
store_op_clear(struct store_op *op)
{
    job_clear(&op->job);
    if (op->kind == SOP_INSERT && op->claim)
        job_clear(&op->claimed); /* the union's other members own nothing */
    for (size_t i = 0; i < op->njobs; i++)
        job_clear(&op->jobs[i]);
    free(op->jobs);
    op->jobs = NULL;
    free(op->owners);
    op->owners = NULL;
    op->njobs = 0;
    free(op->data_buf);
    op->data_buf = NULL;
    free(op->msg);
    op->msg = NULL;
    for (size_t i = 0; i < op->nroutes; i++)
        free(op->routes[i]);
    free(op->routes);
    op->routes = NULL;
    op->nroutes = 0;
    for (size_t i = 0; i < op->ncounts; i++)
        free(op->counts[i].route);
    free(op->counts);
    op->counts = NULL;
    op->ncounts = 0;
    free(op->ids);
    op->ids = NULL;
    free(op->attempts);
    op->attempts = NULL;
    op->nids = 0;
}

void
store_op_free_cb(struct store_op *op)
{
    store_op_clear(op);
    free(op);
}
