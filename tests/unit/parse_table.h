/* SPDX-License-Identifier: MIT */
/* What the parsers' table tests share: guarded input (a readable region
 * followed by an inaccessible page, input copied so that it ends right at
 * that page, so a read past the input crashes instead of passing by
 * luck), and the check of a parsed span. Include after cmocka.h. */
#ifndef KICK_TEST_PARSE_TABLE_H
#define KICK_TEST_PARSE_TABLE_H

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
    char *base;
    size_t size; /* readable bytes before the guard page */
    size_t map_len;
};

static inline void
guard_init(struct guard *g, size_t room)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    g->size = (room + page - 1) / page * page;
    g->map_len = g->size + page;
    g->base = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->base != MAP_FAILED);
    assert_int_equal(mprotect(g->base + g->size, page, PROT_NONE), 0);
}

static inline void
guard_close(struct guard *g)
{
    munmap(g->base, g->map_len);
}

/* Copies n bytes of s so that they end at the guard page. */
static inline char *
guard_put(struct guard *g, const char *s, size_t n)
{
    assert_true(n <= g->size);
    char *p = g->base + g->size - n;
    memcpy(p, s, n);
    return p;
}

/* Whether the span p (n bytes) is want; a NULL want: no span at all. */
static inline bool
span_is(const char *p, size_t n, const char *want)
{
    if (want == NULL)
        return p == NULL;
    return p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

#endif
