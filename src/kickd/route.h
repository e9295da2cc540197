/* SPDX-License-Identifier: MIT */
/* The route table: which configured route serves a request path. A table
 * is shared by reference so that SIGHUP can swap in a new one while
 * requests in flight keep the one they started with. */
#ifndef KICKD_ROUTE_H
#define KICKD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

struct route_table {
    int refs;
    struct cfg *cfg; /* owned; its routes are the table */
};

/* Makes a table that owns cfg, with one reference. NULL on ENOMEM. */
struct route_table *
route_table_new(struct cfg *cfg);

struct route_table *
route_table_ref(struct route_table *t);

/* Drops a reference; the last one frees the table and its cfg. */
void
route_table_unref(struct route_table *t);

/* Finds the route for a decoded path: the route whose path equals it, or
 * the longest one that is followed in it by '/' (the rest is PATH_INFO,
 * RFC 3875 section 4.1.5). Returns NULL if none; *script_len is the length
 * of the matched route path. */
const struct cfg_route *
route_find(const struct route_table *t, const char *path, size_t len,
           size_t *script_len);

/* The route configured as exactly path (a job's route); NULL if none. */
const struct cfg_route *
route_named(const struct route_table *t, const char *path);

/* Whether an exec route's program is php-cgi (by its file name, any
 * version suffix: php-cgi8.2). */
bool
route_runs_php_cgi(const struct cfg_route *rt);

/* Decodes the percent-encoding of a request path into out (size cap).
 * Returns the decoded length, or -1 for a malformed escape, an encoded
 * NUL or slash-free garbage that would not fit. */
long
route_path_decode(const char *in, size_t len, char *out, size_t cap);

#endif
