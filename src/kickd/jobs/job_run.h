/* SPDX-License-Identifier: MIT */
/* One run of a detached job: its stored request parsed again and started
 * like an attached one (the same CGI environment and connection state),
 * its newest output kept, and its end decided (succeeded; failed, timed
 * out or aborted with a one-line reason; queued again for a retry or
 * after an interruption) and handed to the ledger with the output. */
#ifndef KICKD_JOB_RUN_H
#define KICKD_JOB_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct job_run;
struct ledger;
struct store_op;
struct srv;

/* What runs need of their pool, which outlives them. */
struct job_run_pool {
    struct srv *srv;
    struct ledger *ledger;
    const char *node; /* this kickd, as a job's owner names it */
    const char *boot; /* this boot's id */
    /* The run's end is about to go to the store in op (a FINISH, op->end
     * filled in): the pool may add a claim of its worker's next job to
     * it (store_op.claim). */
    void (*finishing_cb)(struct job_run *jr, struct store_op *op);
    /* The run's end (op->end) is in the store, with the claim the pool
     * added, if it was made; the pool then frees the run with
     * job_run_free. Never called from inside a job_run_* call. */
    void (*ended_cb)(struct job_run *jr, struct store_op *op);
};

/* Starts the claimed job, taking it over (*job is cleared); data is the
 * pool's. A run that cannot start ends at once (ended_cb follows). NULL
 * if out of memory (the job stays running in the store until the next
 * start recovers it). */
struct job_run *
job_run_start(const struct job_run_pool *pool, struct job *job, void *data);

void *
job_run_data(const struct job_run *jr);
int64_t
job_run_id(const struct job_run *jr);
const char *
job_run_route(const struct job_run *jr);
/* The job's starts so far, this one included (KICK_ATTEMPT). */
int
job_run_attempt(const struct job_run *jr);

/* The run's connection status (0..3) now. */
int
job_run_status(const struct job_run *jr);

/* DELETE /jobs/ID: the run is being ended as for a client that hung up.
 * false if it has already ended. */
bool
job_run_cancel(struct job_run *jr);

/* kickd ends the run for its own reason why ("kickd stopped"): its end is
 * an interruption, the job queued again without using up a retry. */
void
job_run_interrupt(struct job_run *jr, const char *why);

/* kickd must end the run now for its own reason why (its lease on a
 * shared store is about to run out): as job_run_interrupt, and the
 * script is ended at once (SIGTERM, SIGKILL after kill_grace). false if
 * the run is already ending. */
bool
job_run_end_now(struct job_run *jr, const char *why);

/* One who follows the run's output (GET /jobs/ID/output?follow=1). */
struct job_watch {
    /* len bytes of output that end at byte end of the job's output in
     * all (its output_size); buf is valid during the call. */
    void (*output_cb)(struct job_watch *w, const char *buf, size_t len,
                      int64_t end);
    /* The run is over and its end is in the store; no call follows. */
    void (*ended_cb)(struct job_watch *w);
    struct job_run *run; /* set while watching */
    struct job_watch *prev, *next;
};

/* Starts following the run: the output from byte from on that the run
 * still holds goes to w->output_cb now (from a later byte if the cap
 * dropped the first ones), then every byte as it comes. */
void
job_run_watch(struct job_run *jr, struct job_watch *w, int64_t from);
/* Stops following (w->run is the run). */
void
job_run_unwatch(struct job_watch *w);

/* Frees the run after its ended_cb, or at exit one whose end never
 * reached the store (the next start recovers its job). */
void
job_run_free(struct job_run *jr);

#endif
