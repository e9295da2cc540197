/* SPDX-License-Identifier: MIT */
/* The forward runner: not yet written (issue 11, item 3). */
#include <errno.h>
#include <stdlib.h>

#include "forward.h"
#include "runner.h"

struct forward {
    uv_loop_t *loop;
};

struct forward *
forward_new(uv_loop_t *loop)
{
    struct forward *p = calloc(1, sizeof(*p));

    if (p)
        p->loop = loop;
    return p;
}

void
forward_free(struct forward *p)
{
    free(p);
}

static struct runner *
start(const struct runner_ctx *ctx, const struct cgi_request *cr,
      const struct runner_hooks *hooks, void *data, int *err)
{
    (void)ctx, (void)cr, (void)hooks, (void)data;
    *err = -ENOSYS;
    return NULL;
}

const struct runner_ops runner_forward = {
    .name = "forward",
    .start = start,
};
