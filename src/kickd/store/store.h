/* SPDX-License-Identifier: MIT */
/* The job store: an interface (a struct of function pointers, as redis
 * picks ae_epoll.c) with SQLite behind it (store_sqlite.c) and later
 * PostgreSQL (store_pg.c). Backend calls are synchronous and made only on
 * the store's own thread (store.c), never on the event loop. */
#ifndef KICKD_STORE_H
#define KICKD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum job_state {
    JOB_QUEUED = 0,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_TIMED_OUT,
    JOB_ABORTED,
    JOB_CANCELED,
};
#define JOB_STATE_COUNT 7

/* "queued", ... ; NULL for a bad value. */
const char *job_state_name(enum job_state s);
/* -1 if name is not a state. */
int job_state_parse(const char *name);

/* Who runs a job, so that a run is never left going unsupervised nor
 * started twice (PRODUCT.md: "A job runs in one place at a time"). The
 * node is the kickd that claimed it; the rest names the script's process
 * group without doubt: a pid can be reused, a pid with its start time
 * since boot on the same boot cannot. A backend shared by several nodes
 * (PostgreSQL) adds a lease that the node renews while the job runs. */
struct job_owner {
    char node[64]; /* "HOST/PID/RANDOM" of the kickd; "" if unknown */
    int pgid;      /* the script's process group (its pid); 0 if none */
    int64_t start; /* the group leader's start, clock ticks since boot */
    char boot[40]; /* /proc/sys/kernel/random/boot_id at the start */
};

/* A job as stored. Strings are owned by the job (job_clear frees them). */
struct job {
    int64_t id;
    char *route;
    enum job_state state;
    int connection_status; /* 0..3 */
    int attempt;           /* starts so far (KICK_ATTEMPT), interruptions
                            * included */
    int max_attempts;      /* 1 + the route's retries */
    int interruptions;     /* runs ended by kickd itself (a crash, a
                            * stop): they use up no retry */
    int exit_status;       /* -1 if none */
    int term_signal;       /* 0 if none */
    int progress;          /* -1 if none, else 0..100 */
    char *progress_msg;    /* NULL if none */
    char *idem_key;        /* NULL if none */
    char *error;           /* why the last run did not succeed, one line;
                            * NULL if it did or none ended yet */
    int earlier_attempts;  /* attempts before the last retry by hand */
    int response_status;   /* the CGI header's status; 0 if none yet */
    char *response_type;   /* its Content-Type; NULL if none */
    int64_t output_size;   /* bytes of output written in all; the kept
                            * output is the newest of them */
    int64_t created_at;    /* ms since the epoch */
    int64_t run_at;        /* not before (ms); Kick-Delay and backoff */
    int64_t started_at;    /* 0 until it starts */
    int64_t finished_at;   /* 0 until it ends */
    /* The request, as received: the raw head (request line and fields,
     * through the empty line) and the body; kickd parses the head again
     * when the job runs. Loaded only where a call says so. */
    char *head;
    size_t head_len;
    char *body;
    size_t body_len;
    char *remote_addr;
    int remote_port;
};

void job_clear(struct job *j);

/* j as a backend's insert left it: id, queued, no run yet. */
void job_inserted(struct job *j, int64_t id);

/* Filter and page of store_ops.list. */
struct job_filter {
    int state;             /* -1: any */
    const char *route;     /* NULL: any */
    int64_t after;         /* ids greater than this; 0: from the first */
    int limit;             /* 1..1000 */
    int64_t before;        /* ids less than this; 0: to the last */
    int64_t created_from;  /* created_at at or after this (ms); 0: any */
    int64_t created_until; /* created_at before this (ms); 0: any */
    bool desc;             /* newest (highest id) first */
};

/* How a run of a job ended, as store_ops.finish records it. */
struct job_end {
    enum job_state state;  /* a final state, or JOB_QUEUED: run again */
    int connection_status; /* 0..3 */
    int exit_status;       /* -1 if none */
    int term_signal;       /* 0 if none */
    int64_t now;           /* finished_at of a final state (ms) */
    int limit;             /* the route's concurrency (0: none): on a
                            * shared backend the end of a job of a route
                            * with one wakes the other nodes */
    int attempt;           /* the run's attempt: on a shared backend the
                            * end is recorded only if the job still runs
                            * that attempt for this node (a fence against
                            * a node whose lease was taken over); 0: no
                            * fence (one node owns the store) */
    int64_t requeue_at;    /* JOB_QUEUED: run_at of the next attempt */
    bool interrupted;      /* kickd ended the run: interruptions + 1 */
    const char *error;     /* one line, NULL if it succeeded */
    const char *output;    /* the run's output not yet kept (len bytes), */
    size_t output_len;     /* appended first, the newest output_cap kept */
    size_t output_cap;
    int64_t output_skipped;    /* bytes written before output, never kept */
    int response_status;       /* the CGI header's status; 0 if none */
    const char *response_type; /* its Content-Type; NULL if none */
};

/* Counts for /metrics: jobs of a route in a state. */
struct job_count {
    char *route;
    enum job_state state;
    int64_t count;
};

struct store;

struct store_ops {
    const char *name;
    /* At most this many ops share a transaction (0: no limit). */
    int batch_max;
    /* Sessions that run batches side by side (0 or 1: one), each with
     * its thread and its own store handle (open, join): a server that
     * takes several writers at once. A job's ops keep to one session. */
    int lanes;
    /* Opens (creating it if needed) and migrates the schema to the
     * current version. 0, or -1 with a reason in err. */
    int (*open)(struct store **out, const char *uri, char *err, size_t errlen);
    void (*close)(struct store *st);

    /* Transactions: the store thread groups many calls into one, so that
     * many triggers share one commit (group commit). */
    int (*begin)(struct store *st);
    int (*commit)(struct store *st); /* durable when it returns 0 ... */
    int (*rollback)(struct store *st);
    /* ... unless the backend has sync: then commit makes the work visible
     * and sync makes every commit before it durable. sync runs on a
     * thread of its own while the next transaction goes on, so that the
     * disk's flush and the next batch's work overlap. 0, or -1 with a
     * reason in err. NULL: commits are durable by themselves. */
    int (*sync)(struct store *st, char *err, size_t errlen);

    /* Adds j (state queued, attempt 0); sets j->id. With an idem_key
     * already used on the same route, adds nothing: sets j->id to the
     * first job's id and *existed. 0 or -1. */
    int (*insert)(struct store *st, struct job *j, bool *existed);
    /* Takes the oldest queued job of route whose run_at <= now: marks it
     * running, attempt + 1, started_at = now, and loads it with its
     * request. On a shared backend the job is owned by this node (join)
     * with a lease of lease_ms from the database's clock, and limit
     * (the route's concurrency, 0: none) caps the route's running jobs
     * across all nodes; a backend one node owns ignores limit (the
     * worker pool enforces it). 1 if one was taken, 0 if none (or the
     * route is at its limit), 2 if another node is claiming of the
     * limited route at this moment (try again shortly), -1 on error. */
    int (*claim)(struct store *st, const char *route, int64_t now, int limit,
                 struct job *out);
    /* Optional: claims up to n due jobs of route (no limit) in one go,
     * oldest first, into out[0..*got). 0, or -1 on error (nothing
     * claimed). The store thread gathers a batch's claims of one route
     * made with ends into one (store_async.c). */
    int (*claim_n)(struct store *st, const char *route, int64_t now, int n,
                   struct job *out, int *got);
    /* Ends the run of job id, if it is running: keeps its output, then
     * records its end (a final state with finished_at, or queued again
     * at requeue_at), all or nothing. 0, 1 if no such running job
     * (nothing written), -1. */
    int (*finish)(struct store *st, int64_t id, const struct job_end *e);
    /* Records who runs job id once its script has started. 0, 1 if it is
     * not running, -1. */
    int (*set_owner)(struct store *st, int64_t id, const struct job_owner *o);
    /* Cancels a queued job: 0, 1 if it is not queued, -1. A shared
     * backend answers 2 for a job that runs on another node: that node
     * is told (a "c ID" notice, see listen_wait) and ends it. */
    int (*cancel)(struct store *st, int64_t id, int64_t now);
    /* Queues an ended job again, due at now, with a fresh set of
     * max_attempts attempts: earlier_attempts += attempt, then attempt,
     * interruptions, the last run's statuses, error, progress, response
     * and times (but created_at) are cleared; its output is kept. 0, 1 if
     * there is no job id, 2 if it has not ended, -1. */
    int (*retry)(struct store *st, int64_t id, int64_t now, int max_attempts);
    /* Deletes an ended job with its request and output: 0, 1 if there
     * is no such job or it has not ended, -1. */
    int (*delete)(struct store *st, int64_t id);
    /* Retention: deletes at most limit ended jobs of route that ended
     * before `before` (ms), oldest end first, with their requests and
     * output; *deleted says how many, *oldest the end (ms) of the oldest
     * ended job of route left (0 if none). 0 or -1. */
    int (*prune)(struct store *st, const char *route, int64_t before, int limit,
                 int64_t *deleted, int64_t *oldest);
    /* Loads job id (with its request if with_request). 0, 1 if none, -1. */
    int (*get)(struct store *st, int64_t id, bool with_request,
               struct job *out);
    /* A page of jobs by id, oldest first (newest with f->desc), without
     * requests. The caller frees *out (job_clear each, then free). 0 or
     * -1. */
    int (*list)(struct store *st, const struct job_filter *f, struct job **out,
                size_t *n);
    /* Appends to the job's kept output; only the newest cap bytes are
     * kept. skipped bytes were written before data but never reached the
     * store (dropped for the cap on the way): they count in output_size
     * all the same. 0 or -1. */
    int (*output_append)(struct store *st, int64_t id, const char *data,
                         size_t len, size_t cap, int64_t skipped);
    /* The kept output (malloc'd; NULL and 0 if none), the newest of the
     * job's output_size bytes, and (unless job is NULL) the job as it was
     * when read, without its request. 0, 1 if no job. */
    int (*output_get)(struct store *st, int64_t id, char **data, size_t *len,
                      struct job *job);
    int (*set_progress)(struct store *st, int64_t id, int percent,
                        const char *msg);
    /* The running jobs that no live kickd runs (SQLite: all of them at
     * open, since one kickd owns the file; a shared backend: those whose
     * lease ran out, each taken over by this node with a fresh lease
     * before it is returned, so that two nodes never recover the same
     * run), without requests, and who ran each ((*owners)[i] is
     * (*out)[i]'s, as it was before the take-over); the caller ends what
     * is left of each run, then records it with finish (interrupted,
     * fenced by its attempt). The caller frees both arrays (job_clear
     * each job). 0 or -1. */
    int (*orphans)(struct store *st, struct job **out,
                   struct job_owner **owners, size_t *n);
    /* The routes with queued jobs due at or before now (so the workers
     * know where to claim); malloc'd array of malloc'd strings. */
    int (*due_routes)(struct store *st, int64_t now, char ***routes, size_t *n);
    /* The earliest run_at after now of a queued job (0 if none): when
     * to look again for delayed jobs. Jobs due already are not counted:
     * a route at its concurrency limit with a backlog would otherwise
     * have the caller look again at once, in a loop. */
    int (*next_run_at)(struct store *st, int64_t now, int64_t *when);
    /* Jobs by route and state, for /metrics. */
    int (*counts)(struct store *st, struct job_count **out, size_t *n);
    /* The last error, one line. */
    const char *(*error)(struct store *st);
    /* The store's id: 16 hex digits made with the store, the same for
     * every kickd that uses it. Valid until close. */
    const char *(*id)(struct store *st);

    /* What a backend that several kickd share (PostgreSQL) has more; all
     * NULL for one that a single kickd owns (SQLite). */

    /* Names this node ("HOST/PID/RANDOM", kept by the backend) and the
     * lease of the jobs it claims (ms), right after open, before any
     * other op. */
    void (*join)(struct store *st, const char *node, int64_t lease_ms);
    /* Extends to lease_ms from now (the database's clock) the lease of
     * every job this node runs, and lists them (ids and attempts,
     * malloc'd; the caller frees them): a job that runs here but is not
     * listed is no longer this node's. 0 or -1. */
    int (*renew)(struct store *st, int64_t **ids, int **attempts, size_t *n);

    /* Notices between nodes, on a connection of its own (a second
     * struct store, made by listen_open, used only by the listener's
     * thread). The backend sends them itself at commit, one notice per
     * committed transaction that has any, each a line:
     *   "d RUN_AT ROUTE"  jobs of ROUTE were queued (inserted, queued
     *                     again, retried) with the earliest due at
     *                     RUN_AT (ms), or a job of a route claimed with a
     *                     limit ended: a node may claim;
     *   "e ID"            job ID reached a final state (GET ?wait=);
     *   "c ID"            job ID, running, is canceled (cancel's 2): the
     *                     node that runs it ends it.
     * Every node gets every notice, its own too. */
    int (*listen_open)(struct store **out, const char *uri, char *err,
                       size_t errlen);
    /* Waits up to timeout_ms for notices and hands each line to cb
     * (line without its newline, valid during the call). 0 when it
     * waited or delivered, -1 when the connection is lost (err says
     * why): the caller closes it and opens another later. */
    int (*listen_wait)(struct store *ln, int timeout_ms,
                       void (*cb)(void *data, const char *line), void *data,
                       char *err, size_t errlen);
    void (*listen_close)(struct store *ln);
};

/* The backend for a db setting: "postgresql://..." or a SQLite
 * path. NULL with err set if there is none. */
const struct store_ops *store_backend(const char *uri, char *err,
                                      size_t errlen);

/* The db setting as it may be logged: a PostgreSQL URI's password (in
 * its userinfo or a password= parameter) as "***". */
void store_uri_format(const char *uri, char *buf, size_t len);

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

#endif
