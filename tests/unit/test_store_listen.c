/* SPDX-License-Identifier: MIT */
/* Unit tests of the listener of other nodes' notices (store_async.c)
 * against a fake shared backend whose notices and lost connections the
 * test scripts: lines reach the loop in order, each connection starts
 * with "*", a lost one is made again after a pause, and a stop does not
 * wait for the database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "store_async.h"

/* What the fake listener's next waits hand out: a line, or "LOST". */
#define SCRIPT_MAX 16

struct store {
    uv_mutex_t mu;
    const char *script[SCRIPT_MAX];
    int next, count;
    int opens, open_fails; /* the first open_fails opens fail */
    int64_t open_at[4];    /* clock_mono_ms of the first opens */
};

static struct store fake, listener;

static int
fake_open(struct store **out, const char *uri, char *err, size_t errlen)
{
    (void)uri;
    (void)err;
    (void)errlen;
    *out = &fake;
    return 0;
}

static void
fake_close(struct store *st)
{
    (void)st;
}

static int
fake_listen_open(struct store **out, const char *uri, char *err, size_t errlen)
{
    (void)uri;
    uv_mutex_lock(&listener.mu);
    int n = listener.opens++;
    if (n < 4)
        listener.open_at[n] = clock_mono_ms();
    bool fail = n < listener.open_fails;
    uv_mutex_unlock(&listener.mu);
    if (fail) {
        snprintf(err, errlen, "refused");
        return -1;
    }
    *out = &listener;
    return 0;
}

static int
fake_listen_wait(struct store *ln, int timeout_ms,
                 void (*cb)(void *data, const char *line), void *data,
                 char *err, size_t errlen)
{
    uv_mutex_lock(&ln->mu);
    const char *line = ln->next < ln->count ? ln->script[ln->next++] : NULL;
    uv_mutex_unlock(&ln->mu);
    if (line == NULL) {
        uv_sleep((unsigned)(timeout_ms < 50 ? timeout_ms : 50));
        return 0;
    }
    if (strcmp(line, "LOST") == 0) {
        snprintf(err, errlen, "server closed the connection");
        return -1;
    }
    cb(data, line);
    return 0;
}

static void
fake_listen_close(struct store *ln)
{
    (void)ln;
}

static const struct store_ops fake_ops = {
    .name = "fake-shared",
    .open = fake_open,
    .close = fake_close,
    .listen_open = fake_listen_open,
    .listen_wait = fake_listen_wait,
    .listen_close = fake_listen_close,
};

static uv_loop_t loop;
static struct store_async sa;
static char got[SCRIPT_MAX * 2][32];
static int ngot;

static void
on_notice(void *data, const char *line)
{
    (void)data;
    if (ngot < SCRIPT_MAX * 2)
        snprintf(got[ngot++], sizeof(got[0]), "%s", line);
}

static void
script(const char *const *lines, int n, int open_fails)
{
    char err[160];

    memset(&listener, 0, sizeof(listener));
    uv_mutex_init(&listener.mu);
    for (int i = 0; i < n; i++)
        listener.script[i] = lines[i];
    listener.count = n;
    listener.open_fails = open_fails;
    ngot = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(store_async_open(&sa, &loop, &fake_ops, "fake", "test/1/0",
                                      30000, err, sizeof(err)),
                     0);
    store_async_on_notice(&sa, on_notice, NULL);
}

/* Runs the loop until n notices have come, for at most 5 s. */
static void
await_notices(int n)
{
    int64_t end = clock_mono_ms() + 5000;

    while (ngot < n && clock_mono_ms() < end)
        uv_run(&loop, UV_RUN_NOWAIT), uv_sleep(5);
    assert_int_equal(ngot, n);
}

static void
finish(void)
{
    store_async_close(&sa);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    uv_mutex_destroy(&listener.mu);
}

static void
test_lines_in_order_after_star(void **state)
{
    static const char *const lines[] = {"d 5 /a", "e 7", "c 9"};

    (void)state;
    script(lines, 3, 0);
    await_notices(4);
    assert_string_equal(got[0], "*");
    assert_string_equal(got[1], "d 5 /a");
    assert_string_equal(got[2], "e 7");
    assert_string_equal(got[3], "c 9");
    finish();
}

static void
test_lost_connection_made_again(void **state)
{
    static const char *const lines[] = {"e 1", "LOST", "e 2"};

    (void)state;
    script(lines, 3, 0);
    await_notices(4);
    assert_string_equal(got[0], "*");
    assert_string_equal(got[1], "e 1");
    assert_string_equal(got[2], "*"); /* what was sent meanwhile is lost */
    assert_string_equal(got[3], "e 2");
    assert_int_equal(listener.opens, 2);
    finish();
}

static void
test_refused_open_backs_off(void **state)
{
    static const char *const lines[] = {"e 3"};

    (void)state;
    script(lines, 1, 2);
    await_notices(2);
    assert_string_equal(got[0], "*"); /* once, when it connects */
    assert_string_equal(got[1], "e 3");
    assert_int_equal(listener.opens, 3);
    /* 100 ms, then 200 ms between the tries. */
    assert_true(listener.open_at[1] - listener.open_at[0] >= 100);
    assert_true(listener.open_at[2] - listener.open_at[1] >= 200);
    finish();
}

static void
test_stop_does_not_wait_for_backoff(void **state)
{
    (void)state;
    script(NULL, 0, 1000); /* never connects: backs off up to 5 s */
    uv_sleep(1000);
    int64_t t0 = clock_mono_ms();
    finish();
    assert_true(clock_mono_ms() - t0 < 1000);
    assert_int_equal(ngot, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_in_order_after_star),
        cmocka_unit_test(test_lost_connection_made_again),
        cmocka_unit_test(test_refused_open_backs_off),
        cmocka_unit_test(test_stop_does_not_wait_for_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
