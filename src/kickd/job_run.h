/* SPDX-License-Identifier: MIT */
/* One run of a detached job: its stored request parsed again and started
 * like an attached one (the same CGI environment and connection state),
 * its newest output kept, and its end decided (succeeded; failed, timed
 * out or aborted with a one-line reason; queued again for a retry or
 * after an interruption) and handed to the ledger with the output. */
#ifndef KICKD_JOB_RUN_H
#define KICKD_JOB_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct job_run;
struct ledger;
struct srv;

/* What runs need of their pool, which outlives them. */
struct job_run_pool {
    struct srv *srv;
    struct ledger *ledger;
    const char *node; /* this kickd, as a job's owner names it */
    const char *boot; /* this boot's id */
    /* The run's end e is in the store; the pool then frees the run with
     * job_run_free. Never called from inside a job_run_* call. */
    void (*ended_cb)(struct job_run *jr, const struct job_end *e);
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

/* Frees the run after its ended_cb, or at exit one whose end never
 * reached the store (the next start recovers its job). */
void
job_run_free(struct job_run *jr);

#endif
