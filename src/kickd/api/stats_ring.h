/* SPDX-License-Identifier: MIT */
/* The dashboard's counts per minute over the last hour, kept in memory:
 * triggers accepted, jobs succeeded and failed, and the queue depth
 * sampled at each minute's end. A ring of STATS_MINUTES slots, each
 * owned by the minute that last wrote it; pure, no clock of its own (the
 * caller gives the time). */
#ifndef KICKD_STATS_RING_H
#define KICKD_STATS_RING_H

#include <stdint.h>

#define STATS_MINUTES 60
#define STATS_MINUTE_MS 60000

struct stats_minute {
    int64_t t;         /* the minute's start, ms since the epoch */
    uint64_t accepted; /* detached triggers answered 202 */
    uint64_t succeeded;
    uint64_t failed;   /* ended failed, timed_out or aborted */
    int64_t queue;     /* queued jobs at the minute's end (the last
                        * sample taken in it); 0 if none was */
};

struct stats_ring {
    struct stats_minute m[STATS_MINUTES];
};

enum stats_count {
    STATS_ACCEPTED,
    STATS_SUCCEEDED,
    STATS_FAILED,
};

/* The start of the minute that holds now (ms). */
int64_t
stats_minute_of(int64_t now);

/* Counts one event of kind what at time now (ms). */
void
stats_ring_add(struct stats_ring *r, int64_t now, enum stats_count what);

/* Records depth as the queue of the minute that holds at (ms). */
void
stats_ring_queue(struct stats_ring *r, int64_t at, int64_t depth);

/* The last STATS_MINUTES minutes up to the one that holds now, oldest
 * first, into out; a minute with nothing recorded is zeros. */
void
stats_ring_window(const struct stats_ring *r, int64_t now,
                  struct stats_minute out[STATS_MINUTES]);

#endif
