/* SPDX-License-Identifier: MIT */
/* The store's own thread: calls from the event loop are queued to it as
 * operations, run there in batches that share one transaction (group
 * commit: many triggers, one sync), and completed back on the loop once
 * the commit is durable. A backend that syncs apart (store_ops.sync) gets
 * a second thread for it: the next batch gathers and runs while the last
 * commit is synced. The loop never waits on the disk. */
#ifndef KICKD_STORE_ASYNC_H
#define KICKD_STORE_ASYNC_H

#include <uv.h>

#include "store.h"

enum store_op_kind {
    SOP_INSERT,
    SOP_CLAIM,
    SOP_FINISH,
    SOP_CANCEL,
    SOP_RETRY,
    SOP_GET,
    SOP_LIST,
    SOP_OUTPUT_APPEND,
    SOP_OUTPUT_GET,
    SOP_PROGRESS,
    SOP_OWN,
    SOP_ORPHANS,
    SOP_DUE_ROUTES,
    SOP_NEXT_RUN_AT,
    SOP_COUNTS,
    SOP_DELETE,
    SOP_PRUNE,
    SOP_RENEW,
};

struct store_op;
typedef void (*store_done_cb)(struct store_op *op);

/* One operation: the caller fills kind and the arguments, and owns the op;
 * done_cb runs on the loop with result set (the backend's return value,
 * or -1 if the batch's commit failed: then error holds why). */
struct store_op {
    enum store_op_kind kind;
    store_done_cb done_cb;
    void *data;
    int result;
    char error[160];

    struct job job; /* INSERT (in/out), CLAIM/GET/OUTPUT_GET and
                     * FINISH with claim (out) */
    bool existed;   /* INSERT */
    /* INSERT or FINISH with claim: in the same transaction, once the
     * job is stored or its end recorded, the oldest due job (now) of the
     * route (the inserted job's, or route's for FINISH, with limit) is
     * claimed into claimed (INSERT) or job (FINISH); claim_result is
     * the backend's claim result (1 taken, 0 none, 2 busy on another
     * node, -1 failed: error says why). A worker freed by an end takes
     * its next job in the end's commit, not a commit later. */
    bool claim;
    int claim_result;
    /* What one kind of op alone uses shares its room, so that an op
     * stays small (api.c's pending call holds one). */
    union {
        struct job claimed;       /* INSERT with claim (out) */
        struct job_end end;       /* FINISH (its strings the caller's) */
        struct job_filter filter; /* LIST (route owned by the caller) */
        struct {
            int64_t before;  /* ms: jobs that ended earlier go */
            int limit;       /* at most this many */
            int64_t deleted; /* out */
            int64_t oldest;  /* out: the oldest end left, 0 if none */
        } prune;             /* PRUNE (route: the caller's) */
    };
    bool with_request; /* GET */
    int64_t id;        /* FINISH, OWN, CANCEL, RETRY, GET,
                        * OUTPUT_*, PROGRESS, DELETE */
    int64_t now;
    int limit;                     /* CLAIM, INSERT with claim: the route's
                                    * concurrency (0: none) */
    const char *route;             /* CLAIM, FINISH with claim, PRUNE (owned by
                                    * the caller) */
    const struct job_owner *owner; /* OWN (the caller's) */
    struct job_owner *owners;      /* ORPHANS (out), one per job */
    struct job *jobs;              /* LIST, ORPHANS (out) */
    size_t njobs;
    char *data_buf; /* OUTPUT_APPEND (in, owned), OUTPUT_GET (out) */
    size_t data_len;
    size_t cap;       /* OUTPUT_APPEND */
    int64_t skipped;  /* OUTPUT_APPEND: bytes before data not kept */
    int percent;      /* PROGRESS */
    int max_attempts; /* RETRY */
    char *msg;        /* PROGRESS (owned) */
    char **routes;    /* DUE_ROUTES (out) */
    size_t nroutes;
    int64_t when;             /* NEXT_RUN_AT (out) */
    struct job_count *counts; /* COUNTS (out) */
    size_t ncounts;
    int64_t *ids;  /* RENEW (out): the jobs this node runs */
    int *attempts; /* RENEW (out): their attempts */
    size_t nids;
    /* When the op was submitted: loop's monotonic clock (ms), before
     * the backend saw it (a lease taken by it ends later than this plus
     * its length). */
    int64_t sent;

    struct store_op *next;
};

/* A notice from another node (store_ops.listen_wait), on its way to the
 * loop. */
struct store_notice {
    struct store_notice *next;
    char line[];
};

/* One session of the store: its handle, its thread and what is queued to
 * it (store_ops.lanes). */
struct store_lane {
    struct store_async *sa;
    struct store *st;
    uv_thread_t thread;
    uv_cond_t cv; /* todo, !syncing or stopping, for the thread */
    struct store_op *todo, *todo_tail; /* to the thread */
    bool idle;                         /* the thread waits for ops */
    bool running;                      /* the thread was started */
};

#define STORE_LANES_MAX 8

struct store_async {
    const struct store_ops *ops;
    struct store *st; /* lane[0]'s: what is not one session's */
    struct store_lane lane[STORE_LANES_MAX];
    int nlanes;
    unsigned next_lane;      /* claims take the lanes in turn */
    uv_thread_t sync_thread; /* with ops->sync (one lane) */
    uv_mutex_t mu;           /* guards the lists and the flags */
    uv_cond_t sync_cv;       /* unsynced or sync_stopping */
    struct store_op *unsynced, *unsynced_tail; /* committed, to sync */
    bool syncing; /* a commit is being synced: the next one waits */
    bool broken;  /* a sync failed: every op fails from then on */
    struct store_op *done, *done_tail; /* back to the loop */
    uv_async_t async;
    bool stopping;
    bool sync_stopping;
    bool started;
    bool closed;
    char id[17];   /* the store's id (store_ops.id), read at open */
    char node[64]; /* this kickd, as job owners name it */

    /* A shared backend's notices: a thread of their own waits on their
     * connection (reconnecting with backoff) and hands each line to
     * notice_cb on the loop; "*" after each (re)connection, since what
     * was sent meanwhile is lost. */
    char *uri;
    uv_thread_t listen_thread;
    uv_cond_t listen_cv; /* listen_stopping, for the backoff's sleeps */
    bool listening;
    bool listen_stopping;
    struct store_notice *notices, *notices_tail; /* to the loop */
    void (*notice_cb)(void *data, const char *line);
    void *notice_data;
};

/* Opens the store at uri with the backend ops (store_backend(uri) picks
 * it; tests give their own) and starts its thread. A backend that
 * several kickd share is told this node's name and its jobs' lease
 * (ms; store_ops.join). 0, or -1 with err. */
int store_async_open(struct store_async *sa, uv_loop_t *loop,
                     const struct store_ops *ops, const char *uri,
                     const char *node, int64_t lease_ms, char *err,
                     size_t errlen);

/* Where notices from other nodes go (a shared backend only; see
 * struct store_async). */
void store_async_on_notice(struct store_async *sa,
                           void (*cb)(void *data, const char *line),
                           void *data);

/* Queues op; its done_cb runs later on the loop. */
void store_submit(struct store_async *sa, struct store_op *op);

/* Finishes what is queued, stops the thread, closes the store. */
void store_async_close(struct store_async *sa);

/* Frees what an op's results own (jobs, routes, counts, buffers). */
void store_op_clear(struct store_op *op);

/* A done_cb for a heap op whose result nobody reads: clears and frees
 * it. */
void store_op_free_cb(struct store_op *op);

#endif
