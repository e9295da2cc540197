/* SPDX-License-Identifier: MIT */
/* The minute ring (stats_ring.h). */
#include <string.h>

#include "stats_ring.h"

int64_t
stats_minute_of(int64_t now)
{
    int64_t m = now / STATS_MINUTE_MS;

    /* Floor, not truncation, for a time before the epoch. */
    if (now % STATS_MINUTE_MS < 0)
        m--;
    return m * STATS_MINUTE_MS;
}

static unsigned
slot_of(int64_t minute)
{
    int64_t i = (minute / STATS_MINUTE_MS) % STATS_MINUTES;

    return (unsigned)(i < 0 ? i + STATS_MINUTES : i);
}

/* The slot of the minute that holds at, emptied first if an older (or,
 * after the clock stepped back, a newer) minute held it. */
static struct stats_minute *
slot_take(struct stats_ring *r, int64_t at)
{
    int64_t minute = stats_minute_of(at);
    struct stats_minute *m = &r->m[slot_of(minute)];

    if (m->t != minute) {
        memset(m, 0, sizeof(*m));
        m->t = minute;
    }
    return m;
}

void
stats_ring_add(struct stats_ring *r, int64_t now, enum stats_count what)
{
    struct stats_minute *m = slot_take(r, now);

    if (what == STATS_ACCEPTED)
        m->accepted++;
    else if (what == STATS_SUCCEEDED)
        m->succeeded++;
    else
        m->failed++;
}

void
stats_ring_queue(struct stats_ring *r, int64_t at, int64_t depth)
{
    slot_take(r, at)->queue = depth;
}

void
stats_ring_window(const struct stats_ring *r, int64_t now,
                  struct stats_minute out[STATS_MINUTES])
{
    int64_t last = stats_minute_of(now);

    for (int i = 0; i < STATS_MINUTES; i++) {
        int64_t minute = last - (int64_t)(STATS_MINUTES - 1 - i) *
                                    STATS_MINUTE_MS;
        const struct stats_minute *m = &r->m[slot_of(minute)];
        if (m->t == minute) {
            out[i] = *m;
        } else {
            memset(&out[i], 0, sizeof(out[i]));
            out[i].t = minute;
        }
    }
}
