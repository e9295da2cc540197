/* SPDX-License-Identifier: MIT */
/* A change of a job, as those who watch jobs learn of it: the dashboard's
 * per-minute counts (stats.c) and its event stream (events.c). The
 * modules that change jobs (the job API, the worker pool, retention) tell
 * srv's observer (srv_job_event in srv.h), which srv.c sets; they never
 * name those who watch, so that the dependencies run one way. */
#ifndef KICKD_JOB_EVENT_H
#define KICKD_JOB_EVENT_H

#include <stdint.h>

#include "store.h"

enum job_event_kind {
    JOB_EVENT_CREATED,   /* a trigger was committed and answered 202 */
    JOB_EVENT_STATE,     /* the job is now in state (queued again, running,
                          * ended, canceled) */
    JOB_EVENT_DELETED,   /* DELETE /jobs/ID deleted it */
    JOB_EVENT_PRUNED,    /* retention deleted ended jobs (id 0: several) */
    JOB_EVENT_ELSEWHERE, /* a shared store's notice: jobs changed,
                          * perhaps on another node (which, how: not
                          * said; id 0) */
};

struct job_event {
    enum job_event_kind kind;
    int64_t id;
    const char *route;    /* valid during the call; NULL for PRUNED */
    enum job_state state; /* CREATED: queued */
    int attempt;          /* starts so far */
};

#endif
