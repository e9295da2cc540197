/* SPDX-License-Identifier: MIT */
/* Unit tests of the store thread (store_async.c) against a fake backend
 * whose sync and inserts the test holds and releases, so that the
 * orderings that are rare under load happen every time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_async.h"

/* The fake store: counts what it was asked, and blocks where told to. */
struct store {
    uv_mutex_t mu;
    uv_cond_t cv;
    int inserts, commits, syncs;
    bool sync_held;   /* sync waits while true */
    bool in_sync;     /* a sync is waiting */
    int64_t hold_id;  /* an insert of this job id waits ... */
    bool insert_held; /* ... while true */
    bool in_insert;   /* that insert is waiting */
};

static struct store fake;

static void
wait_while(bool *flag, bool *inside)
{
    *inside = true;
    uv_cond_broadcast(&fake.cv);
    while (*flag)
        uv_cond_wait(&fake.cv, &fake.mu);
    *inside = false;
}

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
fake_begin(struct store *st)
{
    (void)st;
    return 0;
}

static int
fake_commit(struct store *st)
{
    uv_mutex_lock(&st->mu);
    st->commits++;
    uv_cond_broadcast(&st->cv);
    uv_mutex_unlock(&st->mu);
    return 0;
}

static int
fake_rollback(struct store *st)
{
    (void)st;
    return 0;
}

static int
fake_sync(struct store *st, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    uv_mutex_lock(&st->mu);
    wait_while(&st->sync_held, &st->in_sync);
    st->syncs++;
    uv_mutex_unlock(&st->mu);
    return 0;
}

static int
fake_insert(struct store *st, struct job *j, bool *existed)
{
    (void)existed;
    uv_mutex_lock(&st->mu);
    if (j->id == st->hold_id)
        wait_while(&st->insert_held, &st->in_insert);
    st->inserts++;
    uv_mutex_unlock(&st->mu);
    return 0;
}

static const char *
fake_error(struct store *st)
{
    (void)st;
    return "fake";
}

static const struct store_ops fake_ops = {
    .name = "fake",
    .open = fake_open,
    .close = fake_close,
    .begin = fake_begin,
    .commit = fake_commit,
    .rollback = fake_rollback,
    .sync = fake_sync,
    .insert = fake_insert,
    .error = fake_error,
};

static int done_count;
static int done_ok;

static void
op_done(struct store_op *op)
{
    done_count++;
    if (op->result == 0)
        done_ok++;
    free(op);
}

static struct store_op *
insert_op(int64_t id)
{
    struct store_op *op = calloc(1, sizeof(*op));

    assert_non_null(op);
    op->kind = SOP_INSERT;
    op->job.id = id;
    op->done_cb = op_done;
    return op;
}

/* Waits (on the test's thread) until *flag, with fake.mu held. */
static void
await(bool *flag)
{
    uv_mutex_lock(&fake.mu);
    while (!*flag)
        uv_cond_wait(&fake.cv, &fake.mu);
    uv_mutex_unlock(&fake.mu);
}

struct releaser {
    struct store_async *sa;
};

/* Once kickd is stopping: lets the held insert finish, waits for the two
 * commits it leads to (the held batch and the one queued behind it),
 * then lets the sync go. */
static void
releaser_main(void *arg)
{
    struct releaser *r = arg;
    bool stopping = false;

    while (!stopping) {
        uv_mutex_lock(&r->sa->mu);
        stopping = r->sa->stopping;
        uv_mutex_unlock(&r->sa->mu);
        if (!stopping)
            usleep(1000);
    }
    uv_mutex_lock(&fake.mu);
    fake.insert_held = false;
    uv_cond_broadcast(&fake.cv);
    while (fake.commits < 3)
        uv_cond_wait(&fake.cv, &fake.mu);
    fake.sync_held = false;
    uv_cond_broadcast(&fake.cv);
    uv_mutex_unlock(&fake.mu);
}

/* A stop that arrives while a commit is being synced, with ops still
 * queued: every op is still completed (none is dropped between the
 * commit and its sync), each after a sync. */
static void
test_stop_during_sync_completes_all(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct store_async sa;
    char err[160];
    uv_thread_t rel;
    struct releaser r = {.sa = &sa};

    memset(&fake, 0, sizeof(fake));
    uv_mutex_init(&fake.mu);
    uv_cond_init(&fake.cv);
    fake.sync_held = true;
    fake.insert_held = true;
    fake.hold_id = 2;
    done_count = done_ok = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(store_async_open(&sa, &loop, &fake_ops, "fake", err,
                                      sizeof(err)),
                     0);

    /* Job 1 is committed; its sync is held. */
    store_submit(&sa, insert_op(1));
    await(&fake.in_sync);
    /* Job 2 joins the open transaction and is held inside its insert. */
    store_submit(&sa, insert_op(2));
    await(&fake.in_insert);
    /* Job 3 waits in the queue when the stop comes. */
    store_submit(&sa, insert_op(3));
    assert_int_equal(uv_thread_create(&rel, releaser_main, &r), 0);
    store_async_close(&sa);
    uv_thread_join(&rel);

    assert_int_equal(fake.inserts, 3);
    assert_int_equal(fake.commits, 3);
    assert_int_equal(done_count, 3);
    assert_int_equal(done_ok, 3);
    assert_true(fake.syncs >= 2);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    uv_mutex_destroy(&fake.mu);
    uv_cond_destroy(&fake.cv);
}

/* An op submitted after the store is closed fails at once, with why. */
static void
test_submit_after_close_fails(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct store_async sa;
    char err[160];

    memset(&fake, 0, sizeof(fake));
    uv_mutex_init(&fake.mu);
    uv_cond_init(&fake.cv);
    done_count = done_ok = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(store_async_open(&sa, &loop, &fake_ops, "fake", err,
                                      sizeof(err)),
                     0);
    store_async_close(&sa);
    struct store_op *op = calloc(1, sizeof(*op));
    assert_non_null(op);
    op->kind = SOP_INSERT;
    op->done_cb = op_done;
    op->data = NULL;
    store_submit(&sa, op);
    assert_int_equal(done_count, 1);
    assert_int_equal(done_ok, 0);
    assert_int_equal(fake.inserts, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    uv_mutex_destroy(&fake.mu);
    uv_cond_destroy(&fake.cv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_during_sync_completes_all),
        cmocka_unit_test(test_submit_after_close_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
