/* SPDX-License-Identifier: MIT */
/* Unit tests of the ledger of job ends (ledger.c) on the real store
 * thread against a fake backend that refuses every end while it is
 * "full": nothing is lost, an end is taken once space returns, and the
 * ends reach the store in the order they happened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kick_limits.h"
#include "ledger.h"

/* The fake store: the ids whose end it took, in order. */
struct store {
    uv_mutex_t mu;
    bool full;
    int refused;
    int64_t taken[16];
    int ntaken;
};

static struct store fake;
static uv_loop_t loop;
static struct store_async sa;
static struct ledger ledger;
static bool closed;

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
fake_txn(struct store *st)
{
    (void)st;
    return 0;
}

static int
fake_finish(struct store *st, int64_t id, const struct job_end *e)
{
    int r = 0;

    (void)e;
    uv_mutex_lock(&st->mu);
    if (st->full) {
        st->refused++;
        r = -1;
    } else if (st->ntaken < 16) {
        st->taken[st->ntaken++] = id;
    }
    uv_mutex_unlock(&st->mu);
    return r;
}

static const char *
fake_error(struct store *st)
{
    (void)st;
    return "database or disk is full";
}

static const struct store_ops fake_ops = {
    .name = "fake",
    .open = fake_open,
    .close = fake_close,
    .begin = fake_txn,
    .commit = fake_txn,
    .rollback = fake_txn,
    .finish = fake_finish,
    .error = fake_error,
};

static int recorded[16];
static int nrecorded;

static void
recorded_cb(struct ledger_entry *e, int result)
{
    assert_int_equal(result, 0);
    recorded[nrecorded++] = (int)e->op.id;
}

static void
entry_init(struct ledger_entry *e, int64_t id)
{
    memset(e, 0, sizeof(*e));
    e->op.id = id;
    e->op.end.state = JOB_SUCCEEDED;
    e->recorded_cb = recorded_cb;
}

static void
set_full(bool full)
{
    uv_mutex_lock(&fake.mu);
    fake.full = full;
    uv_mutex_unlock(&fake.mu);
}

/* Runs the loop until n ends are recorded or ms pass. */
static void
run_for(int n, int ms)
{
    for (int i = 0; i < ms && nrecorded < n; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static int
setup(void **state)
{
    char err[160];

    (void)state;
    memset(&fake, 0, sizeof(fake));
    uv_mutex_init(&fake.mu);
    nrecorded = 0;
    closed = false;
    if (uv_loop_init(&loop) != 0 ||
        store_async_open(&sa, &loop, &fake_ops, "fake", "test/1/0", 30000, err,
                         sizeof(err)) < 0)
        return -1;
    ledger_init(&ledger, &loop, &sa);
    return 0;
}

static void
close_all(void)
{
    if (closed)
        return;
    closed = true;
    store_async_close(&sa);
    ledger_close(&ledger, NULL);
}

static int
teardown(void **state)
{
    (void)state;
    close_all();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_mutex_destroy(&fake.mu);
    return uv_loop_close(&loop) == 0 ? 0 : -1;
}

/* A store that works takes each end at once. */
static void
test_recorded_at_once(void **state)
{
    struct ledger_entry a, b;

    (void)state;
    entry_init(&a, 1);
    entry_init(&b, 2);
    ledger_record(&ledger, &a);
    ledger_record(&ledger, &b);
    run_for(2, 2000);
    assert_int_equal(nrecorded, 2);
    assert_int_equal(fake.ntaken, 2);
    assert_int_equal(fake.refused, 0);
}

/* Ends refused while the store is full wait, and so does an end that
 * comes after them, even though the store could take it by then; once
 * there is room they are all taken, in the order they happened. */
static void
test_kept_in_order_while_full(void **state)
{
    struct ledger_entry e[4];

    (void)state;
    for (int i = 0; i < 4; i++)
        entry_init(&e[i], i + 1);
    set_full(true);
    for (int i = 0; i < 3; i++)
        ledger_record(&ledger, &e[i]);
    /* Until the three were refused. */
    for (int i = 0; i < 2000 && !ledger_is_waiting(&e[2]); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_true(ledger_is_waiting(&e[0]) && ledger_is_waiting(&e[2]));
    assert_int_equal(nrecorded, 0);
    set_full(false);
    ledger_record(&ledger, &e[3]);
    assert_true(ledger_is_waiting(&e[3]));
    run_for(4, 3 * JOB_RECORD_RETRY);
    assert_int_equal(nrecorded, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fake.taken[i], i + 1);
        assert_int_equal(recorded[i], i + 1);
    }
    /* Each of the three was refused at least once; the fourth never was
     * offered before them. */
    assert_true(fake.refused >= 3);
    for (int i = 0; i < 3; i++)
        assert_true(e[i].failures >= 1);
    assert_int_equal(e[3].failures, 0);
}

/* A stop while ends wait drops them (their jobs stay running in the
 * store, and the next start recovers them): no hook follows. */
static void
test_close_drops_waiting(void **state)
{
    struct ledger_entry a;

    (void)state;
    entry_init(&a, 7);
    set_full(true);
    ledger_record(&ledger, &a);
    for (int i = 0; i < 2000 && !ledger_is_waiting(&a); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_true(ledger_is_waiting(&a));
    set_full(false);
    close_all();
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_false(ledger_is_waiting(&a));
    assert_int_equal(nrecorded, 0);
    assert_int_equal(fake.ntaken, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recorded_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_in_order_while_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_drops_waiting, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
