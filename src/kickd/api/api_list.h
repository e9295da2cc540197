/* SPDX-License-Identifier: MIT */
/* The query of GET /jobs read into a store filter: state, route, limit,
 * order, the id cursors after and before, and created_after and
 * created_before. A pure function over the request's query. */
#ifndef KICKD_API_LIST_H
#define KICKD_API_LIST_H

#include <stddef.h>

#include "store.h"

/* The page of GET /jobs without a limit. */
#define API_LIST_DEFAULT 50

/* Digits only, at most 18 of them (a job id, a count): the value, or
 * -1. */
int64_t
api_num_parse(const char *s, size_t n);

/* Reads query (len bytes, without the '?') into f. A route is decoded
 * into route (cap bytes) and f->route points at it. 0, or -1 with a short
 * reason in why (size whylen) naming the parameter, for a bad value or an
 * unknown parameter. */
int
api_list_parse(const char *query, size_t len, struct job_filter *f,
               char *route, size_t cap, char *why, size_t whylen);

#endif
