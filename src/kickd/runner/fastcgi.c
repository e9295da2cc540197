/* SPDX-License-Identifier: MIT */
/* The fastcgi runner: not yet written (issue 11, item 2). */
#include <errno.h>
#include <stdlib.h>

#include "fastcgi.h"
#include "runner.h"

struct fastcgi_pools {
    uv_loop_t *loop;
};

struct fastcgi_pools *
fastcgi_pools_new(uv_loop_t *loop)
{
    struct fastcgi_pools *p = calloc(1, sizeof(*p));

    if (p)
        p->loop = loop;
    return p;
}

void
fastcgi_pools_free(struct fastcgi_pools *p)
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

const struct runner_ops runner_fastcgi = {
    .name = "fastcgi",
    .start = start,
};
