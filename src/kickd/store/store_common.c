/* SPDX-License-Identifier: MIT */
/* What every store backend shares: job state names, a job just
 * inserted, and freeing a job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* Indexed by enum job_state; these are also the API's and /metrics' names,
 * so they never change. */
static const char *const state_names[JOB_STATE_COUNT] = {
    "queued",    "running", "succeeded", "failed",
    "timed_out", "aborted", "canceled",
};

const char *
job_state_name(enum job_state s)
{
    if ((int)s < 0 || (int)s >= JOB_STATE_COUNT)
        return NULL;
    return state_names[s];
}

int
job_state_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

void
job_clear(struct job *j)
{
    if (j == NULL)
        return;
    free(j->route);
    free(j->progress_msg);
    free(j->idem_key);
    free(j->error);
    free(j->response_type);
    free(j->head);
    free(j->body);
    free(j->remote_addr);
    memset(j, 0, sizeof(*j));
}

void
job_inserted(struct job *j, int64_t id)
{
    j->id = id;
    j->state = JOB_QUEUED;
    j->connection_status = 0;
    j->attempt = 0;
    j->exit_status = -1;
    j->term_signal = 0;
    j->progress = -1;
    j->started_at = 0;
    j->finished_at = 0;
}
