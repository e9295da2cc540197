/* SPDX-License-Identifier: MIT */
/* kickd's metrics in the Prometheus text format. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Bucket bounds in seconds: from 1 ms to an hour. */
static const double bounds[METRICS_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,  0.5,    1,     5,    30,    300,  3600,
};

static void
observe(struct metrics_histogram *h, int64_t ms)
{
    double s = ms < 0 ? 0 : (double)ms / 1000.0;
    size_t i = 0;

    while (i < METRICS_BUCKETS && s > bounds[i])
        i++;
    h->counts[i]++;
    h->sum += s;
    h->count++;
}

void
metrics_accept_observe(struct metrics *m, int64_t ms)
{
    observe(&m->accept, ms);
    m->triggers++;
}

void
metrics_start_observe(struct metrics *m, int64_t ms)
{
    observe(&m->start, ms);
}

void
metrics_run_observe(struct metrics *m, int64_t ms)
{
    observe(&m->run, ms);
}

/* A growing text buffer. */
struct text {
    char *s;
    size_t len, cap;
    int failed;
};

static void
put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct text *t, const char *fmt, ...)
{
    va_list ap;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *s = realloc(t->s, cap);
        if (s == NULL) {
            t->failed = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

static void
histogram(struct text *t, const char *name, const char *help,
          const struct metrics_histogram *h)
{
    uint64_t cum = 0;

    put(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < METRICS_BUCKETS; i++) {
        cum += h->counts[i];
        put(t, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cum);
    }
    cum += h->counts[METRICS_BUCKETS];
    put(t, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    put(t, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->sum, name,
        h->count);
}

/* A label value with \, " and newline escaped. */
static void
label(struct text *t, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            put(t, "\\%c", *v);
        else if (*v == '\n')
            put(t, "\\n");
        else
            put(t, "%c", *v);
    }
}

char *
metrics_format(const struct metrics *m, const struct job_count *counts,
               size_t n, size_t *len)
{
    struct text t = {malloc(4096), 0, 4096, 0};
    int64_t depth = 0;

    if (t.s == NULL)
        return NULL;
    put(&t, "# HELP kick_jobs Jobs in the store by route and state.\n"
            "# TYPE kick_jobs gauge\n");
    for (size_t i = 0; i < n; i++) {
        put(&t, "kick_jobs{route=\"");
        label(&t, counts[i].route);
        put(&t, "\",state=\"%s\"} %" PRId64 "\n",
            job_state_name(counts[i].state), counts[i].count);
        if (counts[i].state == JOB_QUEUED)
            depth += counts[i].count;
    }
    put(&t, "# HELP kick_queue_depth Jobs queued, all routes.\n"
            "# TYPE kick_queue_depth gauge\nkick_queue_depth %" PRId64 "\n",
        depth);
    put(&t, "# HELP kick_triggers_total Detached triggers accepted.\n"
            "# TYPE kick_triggers_total counter\n"
            "kick_triggers_total %" PRIu64 "\n"
            "# HELP kick_triggers_rejected_total Triggers answered 503.\n"
            "# TYPE kick_triggers_rejected_total counter\n"
            "kick_triggers_rejected_total %" PRIu64 "\n",
        m->triggers, m->rejected);
    put(&t, "# HELP kick_aborts_total Runs given the ABORTED status: their "
            "client left, or DELETE /jobs/ID canceled them.\n"
            "# TYPE kick_aborts_total counter\n"
            "kick_aborts_total{cause=\"hangup\"} %" PRIu64 "\n"
            "kick_aborts_total{cause=\"cancel\"} %" PRIu64 "\n",
        m->aborts_hangup, m->aborts_cancel);
    put(&t, "# HELP kick_jobs_pruned_total Ended jobs deleted after their "
            "keep.\n"
            "# TYPE kick_jobs_pruned_total counter\n"
            "kick_jobs_pruned_total %" PRIu64 "\n",
        m->pruned);
    histogram(&t, "kick_accept_seconds",
              "From a complete trigger to its durable 202.", &m->accept);
    histogram(&t, "kick_start_seconds",
              "From a job being due to its start.", &m->start);
    histogram(&t, "kick_run_seconds", "How long jobs ran.", &m->run);
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    *len = t.len;
    return t.s;
}
