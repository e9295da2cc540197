/* SPDX-License-Identifier: MIT */
/* Interrupted runs: a run that kickd itself ended (a crash, a kill, a
 * stop past stop_grace, a spawn that failed for kickd's own reasons) uses
 * up no retry; the job is queued again, and fails only after
 * max_interruptions. At start, the runs a dead kickd left are ended for
 * good first: what is left of each script's process group is killed and
 * waited for, so that a job never runs beside an earlier run of itself. */
#ifndef KICKD_RECOVER_H
#define KICKD_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct ledger;
struct recover;
struct srv;

/* Fills e for a run of j that kickd ended because of why ("kickd
 * stopped"): queued again at now + delay (ms), or failed at its
 * max_interruptions-th interruption; the error line goes into err. */
void
recover_interrupted_end(struct job_end *e, const struct job *j,
                        int max_interruptions, const char *why, int64_t now,
                        int64_t delay, char *err, size_t errlen);

/* What recovery tells the pool, on the loop: each job queued again (its
 * route), then the end; until done nothing may be claimed. */
struct recover_hooks {
    void (*requeued_cb)(void *data, const char *route);
    void (*done_cb)(void *data);
};

/* Recovers what a dead kickd left running (their ends go through
 * ledger, their errors saying why, a static string), calling h's hooks
 * with data; the recovery frees itself after done_cb. On a shared store
 * these are the runs whose lease ran out, now this node's. NULL if out
 * of memory (logged). */
struct recover *
recover_start(struct srv *s, struct ledger *ledger, const char *boot,
              const char *why, const struct recover_hooks *h, void *data);

/* kickd ends before the recovery did: it is dropped (no hook follows;
 * the next start recovers what it had not recorded). */
void
recover_stop(struct recover *rc);

#endif
