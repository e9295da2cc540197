/* SPDX-License-Identifier: MIT */
/* The forward runner (runner.h): a run is an HTTP request to an existing
 * URL, made with libcurl's multi interface on kickd's loop. */
#ifndef KICKD_FORWARD_H
#define KICKD_FORWARD_H

#include <uv.h>

struct forward;

/* libcurl's multi handle driven by loop. NULL on failure. */
struct forward *
forward_new(uv_loop_t *loop);

/* At exit, after the loop has stopped. */
void
forward_free(struct forward *f);

#endif
