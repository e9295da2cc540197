/* SPDX-License-Identifier: MIT */
/* Which runner a route names, and what runners share. */
#include <stdio.h>

#include "runner.h"

const struct runner_ops *
runner_of(const struct cfg_route *route)
{
    switch (route->runner) {
    case ROUTE_FASTCGI:
        return &runner_fastcgi;
    case ROUTE_FORWARD:
        return &runner_forward;
    case ROUTE_EXEC:
        break;
    }
    return &runner_exec;
}

struct runner *
runner_start(const struct runner_ctx *ctx, const struct cgi_request *cr,
             const struct runner_hooks *hooks, void *data, int *err)
{
    return runner_of(cr->route)->start(ctx, cr, hooks, data, err);
}

void
runner_outcome_exit(struct runner_outcome *o, int64_t exit_status,
                    int term_signal, char *buf, size_t n)
{
    *o = (struct runner_outcome){
        .ok = exit_status == 0 && term_signal == 0,
        .exit_status = term_signal ? -1 : exit_status,
        .term_signal = term_signal,
    };
    if (term_signal)
        snprintf(buf, n, "killed by signal %d", term_signal);
    else
        snprintf(buf, n, "exit status %d", (int)exit_status);
    o->reason = o->ok ? NULL : buf;
}
