/* SPDX-License-Identifier: MIT */
/* The worker pool: runs detached jobs from the store, at most `workers` at
 * once and at most a route's `concurrency` of that route, oldest first
 * per route, with retries after a failing exit status. */
#ifndef KICKD_WORKER_H
#define KICKD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct job;
struct route_load;
struct srv;
struct worker_pool;

/* Starts the pool: jobs left running by a crash are recovered, then the
 * due ones are claimed. 0 or -1 (logged). */
int
worker_start(struct srv *s);

/* A job of route was committed to run at run_at (ms since the epoch). */
void
worker_kick(struct srv *s, const char *route, int64_t run_at);

/* A trigger of route due at run_at is about to be stored. If a worker is
 * free for the route now, reserves it and returns a handle: the insert
 * then claims the route's oldest due job in its own transaction (so that
 * the job starts as its 202 leaves, not a commit later), and the result
 * goes to worker_claimed. NULL if no worker is free. */
struct route_load *
worker_reserve(struct srv *s, const char *route, int64_t run_at);
/* The reserved claim's end: result 1 with job claimed (the pool takes it
 * over), 0 if none was due, -1 if it failed (error says why). */
void
worker_claimed(struct srv *s, struct route_load *l, int result,
               struct job *job, const char *error, int64_t sent);

/* The limit of route's running jobs a claim passes to the store (its
 * concurrency; a shared store holds it across nodes); 0: none. */
int
worker_claim_limit(struct srv *s, const char *route);

/* Cancels job id if it runs here: returns true (it is being ended as for
 * a client hang-up); false if it does not run here. */
bool
worker_cancel(struct srv *s, int64_t id);

/* Job id's run, if it runs here (NULL if not). */
struct job_run *
worker_run(struct srv *s, int64_t id);

/* The connection status (0..3) of job id's run here as it is now; 0 if
 * it does not run here. */
int
worker_connection_status(struct srv *s, int64_t id);

/* kickd stops: no more claims; running jobs get stop_grace. */
void
worker_stop(struct srv *s);

/* stop_grace has passed: the runs still going are being ended by kickd,
 * so each counts as interrupted (queued again, no retry used). Call just
 * before run_end_all. */
void
worker_interrupt_all(struct srv *s);

/* Frees the pool once the loop has ended (its timer closes on the next
 * turn of the loop). */
void
worker_free(struct srv *s);

/* Calls cb(data) once job id has reached a final state in the store (now
 * or later); returns a handle for worker_unwait, or NULL if out of
 * memory. */
struct worker_wait *
worker_wait(struct srv *s, int64_t id, void (*cb)(void *data), void *data);
void
worker_unwait(struct srv *s, struct worker_wait *w);

#endif
