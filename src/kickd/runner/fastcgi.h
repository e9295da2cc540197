/* SPDX-License-Identifier: MIT */
/* The fastcgi runner (runner.h): a run is a request to an existing
 * FastCGI pool such as PHP-FPM, over connections kept and reused. */
#ifndef KICKD_FASTCGI_H
#define KICKD_FASTCGI_H

#include <uv.h>

struct fastcgi_pools;

/* The kept connections of every pool kickd talks to, on loop. NULL on
 * ENOMEM. Idle connections keep the loop from ending no more than idle
 * sockets of a web server do: they are unreferenced. */
struct fastcgi_pools *
fastcgi_pools_new(uv_loop_t *loop);

/* At exit, after the loop has stopped: closes what is left. */
void
fastcgi_pools_free(struct fastcgi_pools *p);

#endif
