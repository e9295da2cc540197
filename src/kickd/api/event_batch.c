/* SPDX-License-Identifier: MIT */
/* The coalescing of job events within one window (event_batch.h): an
 * open-addressing table of job ids over the window's entries, so that a
 * change costs one probe whatever the load. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_batch.h"

/* Longest text of one event besides its route: the event line, the id,
 * state and attempt with their keys and the blank line. */
#define EVENT_FIXED 160

void
event_batch_init(struct event_batch *b)
{
    memset(b, 0, sizeof(*b));
}

static unsigned
hash(int64_t id)
{
    /* Fibonacci hashing: ids come in runs, their high bits spread. */
    return (unsigned)(((uint64_t)id * UINT64_C(0x9E3779B97F4A7C15)) >> 55) &
           (EVENT_BATCH_SLOTS - 1);
}

void
event_batch_clear(struct event_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->e[i].route);
    event_batch_init(b);
}

void
event_batch_add(struct event_batch *b, int64_t id, const char *route,
                const char *state, int attempt)
{
    unsigned h = hash(id);

    if (b->overflow)
        return;
    for (; b->slot[h] != 0; h = (h + 1) & (EVENT_BATCH_SLOTS - 1)) {
        struct event_batch_entry *e = &b->e[b->slot[h] - 1];
        if (e->id == id) {
            e->state = state;
            e->attempt = attempt;
            return;
        }
    }
    char *copy = b->n < EVENT_BATCH_MAX ? strdup(route) : NULL;
    if (copy == NULL) {
        /* Past the bound the stream resyncs: the entries are of no use
         * any more, and their memory goes now. */
        event_batch_clear(b);
        b->overflow = true;
        return;
    }
    b->e[b->n] = (struct event_batch_entry){id, copy, state, attempt};
    b->slot[h] = (uint16_t)(++b->n);
}

bool
event_batch_is_empty(const struct event_batch *b)
{
    return b->n == 0 && !b->overflow;
}

/* s as the inside of a JSON string (RFC 8259 section 7) at out; returns
 * the bytes written (at most 6 per byte of s). Bytes above 0x7f are
 * taken as UTF-8 and go as they are. */
static size_t
json_escape(char *out, const char *s)
{
    char *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    return (size_t)(o - out);
}

int
event_batch_take(struct event_batch *b, char **out, size_t *len)
{
    size_t cap = 1, n = 0;
    char *text;

    *out = NULL;
    *len = 0;
    if (event_batch_is_empty(b))
        return 0;
    if (b->overflow) {
        event_batch_clear(b);
        *out = strdup(EVENT_RESYNC);
        *len = sizeof(EVENT_RESYNC) - 1;
        return *out ? 0 : -1;
    }
    for (size_t i = 0; i < b->n; i++)
        cap += EVENT_FIXED + 6 * strlen(b->e[i].route);
    if ((text = malloc(cap)) == NULL) {
        event_batch_clear(b);
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct event_batch_entry *e = &b->e[i];
        n += (size_t)sprintf(text + n, "event: job\ndata: {\"id\":%" PRId64
                             ",\"route\":\"", e->id);
        n += json_escape(text + n, e->route);
        n += (size_t)sprintf(text + n, "\",\"state\":\"%s\",\"attempt\":%d}"
                             "\n\n", e->state, e->attempt);
    }
    event_batch_clear(b);
    *out = text;
    *len = n;
    return 0;
}
