/* SPDX-License-Identifier: MIT */
/* kickd's metrics: latency histograms kept in memory, and the Prometheus
 * text format (version 0.0.4) of /metrics. */
#ifndef KICKD_METRICS_H
#define KICKD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define METRICS_BUCKETS 14

struct metrics_histogram {
    uint64_t counts[METRICS_BUCKETS + 1]; /* the last is +Inf */
    double sum;                            /* seconds */
    uint64_t count;
};

struct metrics {
    struct metrics_histogram accept; /* trigger complete to its 202 */
    struct metrics_histogram start;  /* due to started */
    struct metrics_histogram run;    /* started to ended */
    uint64_t triggers;               /* accepted */
    uint64_t rejected;               /* answered 503 */
    uint64_t aborts_hangup;          /* runs whose client left */
    uint64_t aborts_cancel;          /* running jobs canceled */
    uint64_t pruned;                 /* ended jobs deleted by retention */
};

void
metrics_accept_observe(struct metrics *m, int64_t ms);
void
metrics_start_observe(struct metrics *m, int64_t ms);
void
metrics_run_observe(struct metrics *m, int64_t ms);

/* Formats /metrics: jobs by route and state (counts from the store), the
 * queue depth and the histograms. Returns a malloc'd text (its length in
 * *len), or NULL. */
char *
metrics_format(const struct metrics *m, const struct job_count *counts,
               size_t n, size_t *len);

#endif
