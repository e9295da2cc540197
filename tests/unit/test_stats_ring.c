/* SPDX-License-Identifier: MIT */
/* The dashboard's minute ring (stats_ring.c): counts land in the minute
 * of their time, a window is the last 60 minutes oldest first with gaps
 * as zeros, a slot is reused by the minute an hour later without its old
 * counts, and a clock that steps back loses nothing but the future. */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "stats_ring.h"

#define MIN STATS_MINUTE_MS
/* 2026-12-06T10:00:00Z: a minute's start. */
#define T0 1796551200000LL

static void
test_minute_of(void **state)
{
    assert_int_equal(stats_minute_of(T0), T0);
    assert_int_equal(stats_minute_of(T0 + 59999), T0);
    assert_int_equal(stats_minute_of(T0 + 60000), T0 + MIN);
    assert_int_equal(stats_minute_of(T0 - 1), T0 - MIN);
    assert_int_equal(stats_minute_of(0), 0);
    assert_int_equal(stats_minute_of(-1), -MIN);
}

static void
test_window(void **state)
{
    struct stats_ring r;
    struct stats_minute w[STATS_MINUTES];

    memset(&r, 0, sizeof(r));
    stats_ring_add(&r, T0 + 5, STATS_ACCEPTED);
    stats_ring_add(&r, T0 + 59999, STATS_ACCEPTED);
    stats_ring_add(&r, T0 + 100, STATS_SUCCEEDED);
    stats_ring_add(&r, T0 + 2 * MIN, STATS_FAILED);
    stats_ring_queue(&r, T0 + MIN - 1, 7);
    stats_ring_queue(&r, T0 + 3 * MIN + 10, 4);
    stats_ring_queue(&r, T0 + 3 * MIN + 20, 5); /* the last sample stands */

    stats_ring_window(&r, T0 + 3 * MIN + 30000, w);
    for (int i = 0; i < STATS_MINUTES; i++)
        assert_int_equal(w[i].t, T0 + (int64_t)(i - 56) * MIN);
    /* T0 is the window's 57th minute (index 56). */
    assert_int_equal(w[56].accepted, 2);
    assert_int_equal(w[56].succeeded, 1);
    assert_int_equal(w[56].failed, 0);
    assert_int_equal(w[56].queue, 7);
    assert_int_equal(w[57].accepted + w[57].succeeded + w[57].failed, 0);
    assert_int_equal(w[58].failed, 1);
    assert_int_equal(w[59].queue, 5);
    for (int i = 0; i < 56; i++)
        assert_int_equal(w[i].accepted + w[i].succeeded + w[i].failed +
                             (uint64_t)w[i].queue,
                         0);

    /* An hour on, T0's slot belongs to T0 + 60 min: T0 is out of the
     * window, and its counts are not the new minute's. */
    stats_ring_add(&r, T0 + 60 * MIN + 1, STATS_SUCCEEDED);
    stats_ring_window(&r, T0 + 60 * MIN + 2, w);
    assert_int_equal(w[0].t, T0 + MIN);
    assert_int_equal(w[59].t, T0 + 60 * MIN);
    assert_int_equal(w[59].accepted, 0);
    assert_int_equal(w[59].succeeded, 1);
    assert_int_equal(w[59].queue, 0);
    assert_int_equal(w[1].failed, 1); /* T0 + 2 min, still in */
    /* Two hours on, nothing is left. */
    stats_ring_window(&r, T0 + 200 * MIN, w);
    for (int i = 0; i < STATS_MINUTES; i++)
        assert_int_equal(w[i].accepted + w[i].succeeded + w[i].failed, 0);
}

/* The clock steps back an hour: the slot that held the newer minute is
 * taken by the older one, and the window of the older time is right. */
static void
test_clock_back(void **state)
{
    struct stats_ring r;
    struct stats_minute w[STATS_MINUTES];

    memset(&r, 0, sizeof(r));
    stats_ring_add(&r, T0 + 60 * MIN, STATS_ACCEPTED);
    stats_ring_add(&r, T0, STATS_FAILED);
    stats_ring_window(&r, T0, w);
    assert_int_equal(w[59].t, T0);
    assert_int_equal(w[59].failed, 1);
    assert_int_equal(w[59].accepted, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minute_of),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_clock_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
