/* SPDX-License-Identifier: MIT */
/* The coalescing of GET /events (docs/dashboard.md): the jobs that
 * changed within one window, each with its newest state, in the order
 * they first changed; past EVENT_BATCH_MAX jobs, one resync instead.
 * Pure: events.c keeps the time and the streams. */
#ifndef KICKD_EVENT_BATCH_H
#define KICKD_EVENT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Jobs changed within one window beyond which a stream gets one resync
 * (the page then reloads its list) instead of their events. */
#define EVENT_BATCH_MAX 200
/* Hash slots, a power of two above twice EVENT_BATCH_MAX. */
#define EVENT_BATCH_SLOTS 512

/* The text of a resync event. */
#define EVENT_RESYNC "event: resync\ndata: {}\n\n"

struct event_batch_entry {
    int64_t id;
    char *route;       /* owned */
    const char *state; /* static: a job state's name, or "deleted" */
    int attempt;
};

struct event_batch {
    struct event_batch_entry e[EVENT_BATCH_MAX]; /* by first change */
    uint16_t slot[EVENT_BATCH_SLOTS]; /* 1 + an index into e; 0: empty */
    size_t n;
    bool overflow; /* more jobs changed than EVENT_BATCH_MAX (or memory
                    * ran out): the window ends in a resync */
};

/* Starts b empty. */
void
event_batch_init(struct event_batch *b);

/* Job id of route is now in state (its starts so far: attempt): a job
 * already in the window keeps its place and takes the newest state. */
void
event_batch_add(struct event_batch *b, int64_t id, const char *route,
                const char *state, int attempt);

/* Whether nothing changed in the window. */
bool
event_batch_is_empty(const struct event_batch *b);

/* The window's server-sent events ("event: job" and one "data:" line of
 * JSON each, or EVENT_RESYNC) into *out (malloc'd, *len bytes), and b
 * emptied for the next window. 0 (*out NULL if nothing changed), or -1
 * if out of memory (b emptied all the same: the caller sends a resync). */
int
event_batch_take(struct event_batch *b, char **out, size_t *len);

/* Empties b, freeing what it holds. */
void
event_batch_clear(struct event_batch *b);

#endif
