/* SPDX-License-Identifier: MIT */
/* GET /stats: the dashboard's numbers. Per-minute counts of the last
 * hour kept in memory (stats_ring.h), fed by job events; jobs by state
 * and route read from the store at most once a second however many ask
 * (the page, each /events stream's counts); the queue depth sampled at
 * each minute's end. */
#ifndef KICKD_STATS_H
#define KICKD_STATS_H

#include <jansson.h>
#include <stdbool.h>

#include "http_parse.h"
#include "job_event.h"

struct conn;
struct srv;
struct stats;

/* How old the counts by state and route may be when given out (ms). */
#define STATS_COUNTS_MAX_AGE 1000

/* One who waits for the counts: cb runs once they are at hand (result 0,
 * see stats_counts_json) or the store failed (-1). */
struct stats_wait {
    struct stats_wait *next;
    void (*cb)(struct stats_wait *w, int result);
};

/* The stats of s, their minute timer started (it does not keep the loop
 * running). NULL if out of memory. */
struct stats *
stats_start(struct srv *s);

/* kickd stops: the minute timer closes; reads in flight still end. */
void
stats_stop(struct stats *st);

/* Frees st once the loop has ended (NULL: nothing). */
void
stats_free(struct stats *st);

/* Counts a job event in the minute it happened. */
void
stats_job_event(struct stats *st, const struct job_event *e);

/* Calls w->cb once the counts are at most STATS_COUNTS_MAX_AGE old: at
 * once if they are, else when the store has answered; with fresh, once
 * a read the store began after this call has ended (it sees every
 * change the caller knows of). w stays the caller's until then;
 * stats_counts_cancel takes it back. */
void
stats_counts_get(struct stats *st, struct stats_wait *w, bool fresh);
void
stats_counts_cancel(struct stats *st, struct stats_wait *w);

/* The counts at hand: {"by_state": {STATE: N...}, "by_route": {ROUTE:
 * {STATE: N...}...}, "queue_depth": N}; every state is named, and every
 * configured route. NULL if out of memory. */
json_t *
stats_counts_json(const struct stats *st);

/* The store's reason for the last failed read. */
const char *
stats_error(const struct stats *st);

/* GET /stats (conn's handler). */
void
stats_serve(struct conn *c, const struct http_request *req);

#endif
