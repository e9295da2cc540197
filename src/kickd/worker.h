/* SPDX-License-Identifier: MIT */
/* The worker pool: runs detached jobs from the store, at most `workers` at
 * once and at most a route's `concurrency` of that route, oldest first
 * per route, with retries after a failing exit status. */
#ifndef KICKD_WORKER_H
#define KICKD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct srv;
struct worker_pool;

/* Starts the pool: jobs left running by a crash are recovered, then the
 * due ones are claimed. 0 or -1 (logged). */
int
worker_start(struct srv *s);

/* A job of route was committed to run at run_at (ms since the epoch). */
void
worker_kick(struct srv *s, const char *route, int64_t run_at);

/* Cancels job id if it runs here: returns true (it is being ended as for
 * a client hang-up); false if it does not run here. */
bool
worker_cancel(struct srv *s, int64_t id);

/* kickd stops: no more claims; running jobs get stop_grace, then they are
 * ended and queued again (attempts permitting). */
void
worker_stop(struct srv *s);

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

/* Milliseconds since the epoch. */
int64_t
worker_now(void);

#endif
