/* SPDX-License-Identifier: MIT */
/* Which runner a route names, and what runners share. */
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
