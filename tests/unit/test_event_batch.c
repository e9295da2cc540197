/* SPDX-License-Identifier: MIT */
/* The coalescing of GET /events (event_batch.c): one event per job per
 * window with its newest state, in the order the jobs first changed;
 * more than EVENT_BATCH_MAX jobs in a window make one resync; routes are
 * escaped as JSON; the table finds every job whatever its id. */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_batch.h"

static struct event_batch b;

/* Takes the window's text; "" if nothing changed. The caller frees. */
static char *
take(void)
{
    char *text;
    size_t len;

    assert_int_equal(event_batch_take(&b, &text, &len), 0);
    if (text == NULL)
        return strdup("");
    assert_int_equal(strlen(text), len);
    assert_true(event_batch_is_empty(&b));
    return text;
}

static size_t
count(const char *text, const char *what)
{
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

static void
test_coalesce(void **state)
{
    char *t;

    event_batch_init(&b);
    assert_true(event_batch_is_empty(&b));
    t = take();
    assert_string_equal(t, "");
    free(t);
    event_batch_add(&b, 7, "/report", "queued", 0);
    event_batch_add(&b, 3, "/mail", "queued", 0);
    event_batch_add(&b, 7, "/report", "running", 1);
    event_batch_add(&b, 7, "/report", "succeeded", 1);
    assert_false(event_batch_is_empty(&b));
    t = take();
    assert_string_equal(t,
                        "event: job\ndata: {\"id\":7,\"route\":\"/report\","
                        "\"state\":\"succeeded\",\"attempt\":1}\n\n"
                        "event: job\ndata: {\"id\":3,\"route\":\"/mail\","
                        "\"state\":\"queued\",\"attempt\":0}\n\n");
    free(t);
    /* The next window starts empty. */
    event_batch_add(&b, 3, "/mail", "deleted", 0);
    t = take();
    assert_string_equal(t, "event: job\ndata: {\"id\":3,\"route\":\"/mail\","
                           "\"state\":\"deleted\",\"attempt\":0}\n\n");
    free(t);
}

static void
test_overflow(void **state)
{
    char *t;

    event_batch_init(&b);
    for (int round = 0; round < 2; round++) {
        for (int64_t id = 1; id <= EVENT_BATCH_MAX; id++)
            event_batch_add(&b, id, "/r", "queued", 0);
        /* The same jobs again are no more jobs. */
        for (int64_t id = 1; id <= EVENT_BATCH_MAX; id++)
            event_batch_add(&b, id, "/r", "running", 1);
        t = take();
        assert_int_equal(count(t, "event: job\n"), EVENT_BATCH_MAX);
        assert_int_equal(count(t, "\"running\""), EVENT_BATCH_MAX);
        free(t);
    }
    for (int64_t id = 1; id <= 1000; id++)
        event_batch_add(&b, id, "/r", "queued", 0);
    t = take();
    assert_string_equal(t, EVENT_RESYNC);
    free(t);
    /* After a resync, the next window is events again. */
    event_batch_add(&b, 5, "/r", "failed", 2);
    t = take();
    assert_int_equal(count(t, "event: job\n"), 1);
    free(t);
    /* A window cleared without being taken holds nothing. */
    event_batch_add(&b, 5, "/r", "failed", 2);
    event_batch_clear(&b);
    assert_true(event_batch_is_empty(&b));
}

/* Ids that share hash slots (multiples of the table's size, and runs
 * beside them) are each found, and keep their own newest state. */
static void
test_collisions(void **state)
{
    char *t, want[128];

    event_batch_init(&b);
    for (int64_t i = 1; i <= 100; i++) {
        event_batch_add(&b, i * EVENT_BATCH_SLOTS, "/a", "queued", 0);
        event_batch_add(&b, i, "/b", "queued", 0);
    }
    for (int64_t i = 1; i <= 100; i++)
        event_batch_add(&b, i * EVENT_BATCH_SLOTS, "/a", "running", (int)i);
    t = take();
    assert_int_equal(count(t, "event: job\n"), 200);
    for (int64_t i = 1; i <= 100; i++) {
        snprintf(want, sizeof(want),
                 "{\"id\":%lld,\"route\":\"/a\",\"state\":\"running\","
                 "\"attempt\":%d}",
                 (long long)(i * EVENT_BATCH_SLOTS), (int)i);
        assert_int_equal(count(t, want), 1);
        snprintf(want, sizeof(want), "{\"id\":%lld,\"route\":\"/b\","
                 "\"state\":\"queued\"", (long long)i);
        assert_int_equal(count(t, want), 1);
    }
    free(t);
}

static void
test_escape(void **state)
{
    char *t;

    event_batch_init(&b);
    event_batch_add(&b, 1, "/a\"b\\c\nd\x01\xc3\xa9", "queued", 0);
    t = take();
    assert_string_equal(t, "event: job\ndata: {\"id\":1,\"route\":"
                           "\"/a\\\"b\\\\c\\u000ad\\u0001\xc3\xa9\","
                           "\"state\":\"queued\",\"attempt\":0}\n\n");
    free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
