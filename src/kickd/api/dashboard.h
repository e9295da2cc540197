/* SPDX-License-Identifier: MIT */
/* The dashboard's own paths: its page and files (GET /, /_kick/ui/NAME,
 * built in: ui_assets.h) with their ETag and Content-Security-Policy,
 * and the login that turns the token into a session cookie (POST
 * /_kick/login, /_kick/logout); and the rule for requests that change a
 * job (auth.h: cross-site requests and the read-only mode). */
#ifndef KICKD_DASHBOARD_H
#define KICKD_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parse.h"

struct conn;

/* The Content-Security-Policy of the page: its own files only, no inline
 * script or style, never in a frame. */
#define DASHBOARD_CSP                                                       \
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "         \
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

/* Serves path (GET / and /_kick/ui/NAME; POST /_kick/login and
 * /_kick/logout with their body) as conn's dashboard handler. */
void
dashboard_serve(struct conn *c, const struct http_request *req,
                const char *path, const char *body, size_t body_len);

/* For the job API, before a request that changes a job (DELETE
 * /jobs/ID, POST /jobs/ID/retry): true if it may go on; if not, it has
 * been answered 403 with the reason. */
bool
dashboard_change_allowed(struct conn *c, const struct http_request *req);

#endif
