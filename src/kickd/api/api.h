/* SPDX-License-Identifier: MIT */
/* kickd's own HTTP endpoints for detached work: the trigger of a detached
 * route (committed, then 202), the job API (/jobs...), and /metrics.
 * Their answers come after store operations, so they are asynchronous: a
 * connection that closes meanwhile abandons its pending answer. */
#ifndef KICKD_API_H
#define KICKD_API_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "http_parse.h"

struct conn;

/* Commits a detached trigger and answers 202 (or 200 for an idempotent
 * repeat, 400 for a bad Kick-Delay or Idempotency-Key, 503 if the store
 * fails). head is the raw request head, body the decoded body. */
void
api_trigger(struct conn *c, const struct cfg_route *route,
            const struct http_request *req, const char *head,
            size_t head_len, const char *body, size_t body_len,
            bool preferred);

/* Serves /jobs, /jobs/ID, /jobs/ID/output and /metrics; false if path is
 * none of them. */
bool
api_handle(struct conn *c, const struct http_request *req,
           const char *path);

#endif
