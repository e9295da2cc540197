/* SPDX-License-Identifier: MIT */
/* Unit tests of the store thread (store_async.c) against a fake backend
 * whose sync and inserts the test holds and releases, so that the
 * orderings that are rare under load happen every time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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
    int inserts, commits, syncs, begins;
    int claims, claim_answer; /* claims made; what the next returns */
    int finishes;
    /* claim_n: the calls (route and n), and how many jobs it has. */
    char claim_n_route[4][8];
    int claim_n_asked[4];
    int claim_n_calls;
    int claim_n_avail;
    int64_t finished[16]; /* the ids of the first finishes, in order */
    int claim_begins;     /* begins seen by the last claim */
    bool claim_in_txn;    /* the last claim ran in a transaction */
    bool txn_open;
    int sync_fails;    /* this many syncs fail, the next succeed */
    bool sync_held;    /* sync waits while true */
    bool in_sync;      /* a sync is waiting */
    bool held[8];      /* an insert of job id i waits while held[i] */
    int64_t in_insert; /* the id of the insert that waits, or 0 */
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
    uv_mutex_lock(&st->mu);
    st->txn_open = true;
    st->begins++;
    uv_mutex_unlock(&st->mu);
    return 0;
}

static int
fake_commit(struct store *st)
{
    uv_mutex_lock(&st->mu);
    st->commits++;
    st->txn_open = false;
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
    uv_mutex_lock(&st->mu);
    wait_while(&st->sync_held, &st->in_sync);
    st->syncs++;
    bool fails = st->sync_fails > 0;
    if (fails)
        st->sync_fails--;
    uv_mutex_unlock(&st->mu);
    if (fails)
        snprintf(err, errlen, "fdatasync: Input/output error");
    return fails ? -1 : 0;
}

static int
fake_insert(struct store *st, struct job *j, bool *existed)
{
    (void)existed;
    uv_mutex_lock(&st->mu);
    if (j->id > 0 && j->id < 8 && st->held[j->id]) {
        st->in_insert = j->id;
        uv_cond_broadcast(&st->cv);
        while (st->held[j->id])
            uv_cond_wait(&st->cv, &st->mu);
        st->in_insert = 0;
    }
    st->inserts++;
    uv_cond_broadcast(&st->cv);
    uv_mutex_unlock(&st->mu);
    return 0;
}

static int
fake_finish(struct store *st, int64_t id, const struct job_end *e)
{
    (void)e;
    uv_mutex_lock(&st->mu);
    if (st->finishes < 16)
        st->finished[st->finishes] = id;
    st->finishes++;
    uv_mutex_unlock(&st->mu);
    return 0;
}

static int
fake_claim(struct store *st, const char *route, int64_t now, int limit,
           struct job *out)
{
    (void)now;
    uv_mutex_lock(&st->mu);
    st->claims++;
    st->claim_in_txn = st->txn_open;
    st->claim_begins = st->begins;
    int r = st->claim_answer;
    uv_mutex_unlock(&st->mu);
    if (r == 1) {
        out->id = 41;
        out->route = strdup(route);
    }
    return r;
}

static int
fake_claim_n(struct store *st, const char *route, int64_t now, int n,
             struct job *out, int *got)
{
    (void)now;
    uv_mutex_lock(&st->mu);
    int c = st->claim_n_calls++;
    if (c < 4) {
        snprintf(st->claim_n_route[c], sizeof(st->claim_n_route[c]), "%s",
                 route);
        st->claim_n_asked[c] = n;
    }
    *got = n < st->claim_n_avail ? n : st->claim_n_avail;
    st->claim_n_avail -= *got;
    uv_mutex_unlock(&st->mu);
    for (int i = 0; i < *got; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].id = 100 + c * 10 + i;
        out[i].route = strdup(route);
    }
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
    .claim = fake_claim,
    .finish = fake_finish,
    .error = fake_error,
};

static int done_count;
static int done_ok;
static struct store_op *kept; /* keep_done's op, for the test to read */

static void
op_done(struct store_op *op)
{
    done_count++;
    if (op->result == 0)
        done_ok++;
    free(op);
}

static void
keep_done(struct store_op *op)
{
    done_count++;
    kept = op;
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

static uv_loop_t loop;
static struct store_async sa;

/* Each test: a fresh fake store, opened on a fresh loop. */
static int
setup(void **state)
{
    char err[160];

    (void)state;
    memset(&fake, 0, sizeof(fake));
    uv_mutex_init(&fake.mu);
    uv_cond_init(&fake.cv);
    done_count = done_ok = 0;
    if (uv_loop_init(&loop) != 0)
        return -1;
    return store_async_open(&sa, &loop, &fake_ops, "fake", "test/1/0", 30000,
                            err, sizeof(err));
}

/* The test has closed the store: the loop ends with no handle left. */
static int
teardown(void **state)
{
    (void)state;
    uv_run(&loop, UV_RUN_DEFAULT);
    int r = uv_loop_close(&loop);
    uv_mutex_destroy(&fake.mu);
    uv_cond_destroy(&fake.cv);
    return r == 0 ? 0 : -1;
}

/* Waits until *flag, with fake.mu held. */
static void
await(bool *flag)
{
    uv_mutex_lock(&fake.mu);
    while (!*flag)
        uv_cond_wait(&fake.cv, &fake.mu);
    uv_mutex_unlock(&fake.mu);
}

/* Waits until the insert of job id is held. */
static void
await_insert(int64_t id)
{
    uv_mutex_lock(&fake.mu);
    while (fake.in_insert != id)
        uv_cond_wait(&fake.cv, &fake.mu);
    uv_mutex_unlock(&fake.mu);
}

static void
release_insert(int64_t id)
{
    uv_mutex_lock(&fake.mu);
    fake.held[id] = false;
    uv_cond_broadcast(&fake.cv);
    uv_mutex_unlock(&fake.mu);
}

/* Runs while the loop's thread is inside store_async_close: once kickd is
 * stopping, makes the store thread commit twice while the sync of an
 * earlier commit is still held (job 4 arrives while job 3's insert is
 * held), then lets the sync go. */
static void
releaser_main(void *arg)
{
    bool stopping = false;

    (void)arg;
    while (!stopping) {
        uv_mutex_lock(&sa.mu);
        stopping = sa.stopping;
        uv_mutex_unlock(&sa.mu);
        if (!stopping)
            usleep(1000);
    }
    release_insert(2);
    await_insert(3);
    store_submit(&sa, insert_op(4));
    release_insert(3);
    uv_mutex_lock(&fake.mu);
    while (fake.inserts < 4 || fake.txn_open)
        uv_cond_wait(&fake.cv, &fake.mu);
    fake.sync_held = false;
    uv_cond_broadcast(&fake.cv);
    uv_mutex_unlock(&fake.mu);
}

/* A stop that arrives while a commit is being synced, with ops still
 * coming: every op is still completed (none is dropped between its
 * commit and its sync, however many commits wait for one sync). */
static void
test_stop_during_sync_completes_all(void **state)
{
    (void)state;
    uv_thread_t rel;

    uv_mutex_lock(&fake.mu);
    fake.sync_held = true;
    fake.held[2] = fake.held[3] = true;
    uv_mutex_unlock(&fake.mu);

    /* Job 1 is committed; its sync is held. */
    store_submit(&sa, insert_op(1));
    await(&fake.in_sync);
    /* Job 2 starts the next transaction and is held inside its insert. */
    store_submit(&sa, insert_op(2));
    await_insert(2);
    /* Job 3 waits in the queue when the stop comes. */
    store_submit(&sa, insert_op(3));
    assert_int_equal(uv_thread_create(&rel, releaser_main, NULL), 0);
    store_async_close(&sa);
    uv_thread_join(&rel);

    assert_int_equal(fake.inserts, 4);
    assert_true(fake.commits >= 3);
    assert_int_equal(done_count, 4);
    assert_int_equal(done_ok, 4);
}

/* Runs the loop until n ops are done (or 5 s pass). */
static void
run_until_done(int n)
{
    for (int i = 0; i < 5000 && done_count < n; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (done_count < n)
            usleep(1000);
    }
}

/* A failed sync fails its batch, the batch committed while it ran (a
 * later sync that succeeds says nothing of the pages lost before it), and
 * every op after them: no 202 for anything the disk may not hold. */
static void
test_failed_sync_fails_what_follows(void **state)
{
    (void)state;
    uv_mutex_lock(&fake.mu);
    fake.sync_held = true;
    uv_mutex_unlock(&fake.mu);
    store_submit(&sa, insert_op(1));
    await(&fake.in_sync);
    store_submit(&sa, insert_op(2));
    uv_mutex_lock(&fake.mu);
    while (fake.inserts < 2)
        uv_cond_wait(&fake.cv, &fake.mu);
    /* Job 2 is in the open transaction: the sync of job 1 fails, the
     * syncs after it would succeed. */
    fake.sync_fails = 1;
    fake.sync_held = false;
    uv_cond_broadcast(&fake.cv);
    uv_mutex_unlock(&fake.mu);
    run_until_done(2);
    assert_int_equal(done_count, 2);
    store_submit(&sa, insert_op(3));
    run_until_done(3);
    assert_int_equal(done_count, 3);
    assert_int_equal(done_ok, 0);
    /* Job 3 never reached the backend. */
    assert_int_equal(fake.inserts, 2);
    assert_int_equal(fake.syncs, 1);
    store_async_close(&sa);
}

/* An insert with claim: the claim runs in the insert's transaction, the
 * claimed job comes back with the insert, and a failed claim leaves the
 * insert standing with the reason. */
static void
test_insert_with_claim(void **state)
{
    (void)state;
    struct store_op *op = insert_op(1);
    op->claim = true;
    op->job.route = strdup("/r");
    op->done_cb = keep_done;
    fake.claim_answer = 1;
    store_submit(&sa, op);
    run_until_done(1);
    assert_int_equal(done_count, 1);
    assert_int_equal(kept->result, 0);
    assert_int_equal(kept->claim_result, 1);
    assert_int_equal(kept->claimed.id, 41);
    assert_string_equal(kept->claimed.route, "/r");
    assert_int_equal(fake.claims, 1);
    assert_true(fake.claim_in_txn);
    assert_int_equal(fake.claim_begins, 1);
    assert_int_equal(fake.commits, 1);
    store_op_clear(kept);
    free(kept);

    op = insert_op(2);
    op->claim = true;
    op->job.route = strdup("/r");
    op->done_cb = keep_done;
    uv_mutex_lock(&fake.mu);
    fake.claim_answer = -1;
    uv_mutex_unlock(&fake.mu);
    store_submit(&sa, op);
    run_until_done(2);
    assert_int_equal(done_count, 2);
    assert_int_equal(kept->result, 0);
    assert_int_equal(kept->claim_result, -1);
    assert_string_equal(kept->error, "fake");
    store_op_clear(kept);
    free(kept);

    /* Without claim, none is made. */
    store_submit(&sa, insert_op(3));
    run_until_done(3);
    assert_int_equal(fake.claims, 2);
    store_async_close(&sa);
}

/* An op submitted after the store is closed fails at once, with why. */
static void
test_submit_after_close_fails(void **state)
{
    (void)state;
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
}

/* A job's end with a claim: the worker's next job is claimed after the
 * end, in its transaction, into the op's job. */
static void
test_finish_with_claim(void **state)
{
    (void)state;
    struct store_op *op = calloc(1, sizeof(*op));
    assert_non_null(op);
    op->kind = SOP_FINISH;
    op->id = 7;
    op->claim = true;
    op->route = "/r";
    op->done_cb = keep_done;
    fake.claim_answer = 1;
    store_submit(&sa, op);
    run_until_done(1);
    assert_int_equal(kept->result, 0);
    assert_int_equal(fake.finishes, 1);
    assert_int_equal(kept->claim_result, 1);
    assert_int_equal(kept->job.id, 41);
    assert_string_equal(kept->job.route, "/r");
    assert_true(fake.claim_in_txn);
    assert_int_equal(fake.commits, 1);
    store_op_clear(kept);
    free(kept);
    store_async_close(&sa);
}

/* A backend's batch_max: ops that queued while a batch ran share
 * transactions of at most that many. */
static void
test_batch_max(void **state)
{
    static struct store_ops two;
    char err[160];

    (void)state;
    store_async_close(&sa);
    uv_run(&loop, UV_RUN_DEFAULT);
    two = fake_ops;
    two.batch_max = 2;
    assert_int_equal(store_async_open(&sa, &loop, &two, "fake", "test/1/0",
                                      30000, err, sizeof(err)),
                     0);
    fake.held[1] = true;
    store_submit(&sa, insert_op(1));
    await_insert(1);
    for (int64_t id = 2; id <= 6; id++)
        store_submit(&sa, insert_op(id));
    release_insert(1);
    run_until_done(6);
    assert_int_equal(done_ok, 6);
    /* [1, 2] (2 arrived while 1 ran), [3, 4], [5, 6]: never 3 in one. */
    assert_int_equal(fake.begins, 3);
    assert_int_equal(fake.commits, 3);
    store_async_close(&sa);
}

/* A backend with claim_n: a batch's ends that claim a route with no
 * limit share one claim of that route, its jobs handed out in the ends'
 * order (the ones past what it found claim nothing); an end that claims
 * a route with a limit claims on its own. */
static void
test_claims_gathered(void **state)
{
    static struct store_ops gather;
    static const char *const route[5] = {"/r", "/s", "/r", "/lim", "/r"};
    static const int limit[5] = {0, 0, 0, 2, 0};
    struct store_op *ops[5];
    char err[160];

    (void)state;
    store_async_close(&sa);
    uv_run(&loop, UV_RUN_DEFAULT);
    gather = fake_ops;
    gather.claim_n = fake_claim_n;
    assert_int_equal(store_async_open(&sa, &loop, &gather, "fake", "test/1/0",
                                      30000, err, sizeof(err)),
                     0);
    fake.claim_n_avail = 3;
    fake.claim_answer = 1;
    /* An insert held, so that the five ends make one batch after it. */
    fake.held[1] = true;
    store_submit(&sa, insert_op(1));
    await_insert(1);
    for (int i = 0; i < 5; i++) {
        ops[i] = calloc(1, sizeof(*ops[i]));
        assert_non_null(ops[i]);
        ops[i]->kind = SOP_FINISH;
        ops[i]->id = 10 + i;
        ops[i]->claim = true;
        ops[i]->route = route[i];
        ops[i]->limit = limit[i];
        ops[i]->done_cb = keep_done;
        store_submit(&sa, ops[i]);
    }
    release_insert(1);
    run_until_done(6);
    assert_int_equal(fake.finishes, 5);
    assert_int_equal(fake.claim_n_calls, 2);
    assert_string_equal(fake.claim_n_route[0], "/r");
    assert_int_equal(fake.claim_n_asked[0], 3);
    assert_string_equal(fake.claim_n_route[1], "/s");
    assert_int_equal(fake.claim_n_asked[1], 1);
    assert_int_equal(fake.claims, 1); /* /lim's, on its own */
    /* /r: 3 found of 3 asked (ids 100-102 in the ends' order); /s: none
     * left. */
    assert_int_equal(ops[0]->claim_result, 1);
    assert_int_equal(ops[0]->job.id, 100);
    assert_int_equal(ops[2]->claim_result, 1);
    assert_int_equal(ops[2]->job.id, 101);
    assert_int_equal(ops[4]->claim_result, 1);
    assert_int_equal(ops[4]->job.id, 102);
    assert_string_equal(ops[4]->job.route, "/r");
    assert_int_equal(ops[1]->claim_result, 0);
    assert_int_equal(ops[3]->claim_result, 1);
    assert_int_equal(ops[3]->job.id, 41);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ops[i]->result, 0);
        store_op_clear(ops[i]);
        free(ops[i]);
    }
    store_async_close(&sa);
}

/* A backend with two lanes (store_ops.lanes): each its own store and
 * thread. A job's ends keep to one lane in their order, and a lane held
 * up does not hold the other. */
static struct store lane_fake[2];
static int lanes_opened;

static int
lane_open(struct store **out, const char *uri, char *err, size_t errlen)
{
    (void)uri;
    (void)err;
    (void)errlen;
    *out = &lane_fake[lanes_opened++];
    return 0;
}

static struct store_op *
finish_op(int64_t id)
{
    struct store_op *op = calloc(1, sizeof(*op));

    assert_non_null(op);
    op->kind = SOP_FINISH;
    op->id = id;
    op->done_cb = op_done;
    return op;
}

static void
test_lanes(void **state)
{
    static struct store_ops two;
    char err[160];

    (void)state;
    store_async_close(&sa);
    uv_run(&loop, UV_RUN_DEFAULT);
    memset(lane_fake, 0, sizeof(lane_fake));
    for (int i = 0; i < 2; i++) {
        uv_mutex_init(&lane_fake[i].mu);
        uv_cond_init(&lane_fake[i].cv);
    }
    lanes_opened = 0;
    two = fake_ops;
    two.open = lane_open;
    two.sync = NULL;
    two.lanes = 2;
    assert_int_equal(store_async_open(&sa, &loop, &two, "fake", "test/1/0",
                                      30000, err, sizeof(err)),
                     0);
    assert_int_equal(lanes_opened, 2);
    /* A trigger (lane 0) held: the ends of odd jobs (lane 1) go on. */
    struct store *l0 = &lane_fake[0], *l1 = &lane_fake[1];
    uv_mutex_lock(&l0->mu);
    l0->held[1] = true;
    uv_mutex_unlock(&l0->mu);
    store_submit(&sa, insert_op(1));
    uv_mutex_lock(&l0->mu);
    while (l0->in_insert != 1)
        uv_cond_wait(&l0->cv, &l0->mu);
    uv_mutex_unlock(&l0->mu);
    for (int64_t id = 1; id <= 6; id++)
        store_submit(&sa, finish_op(id));
    run_until_done(3);
    assert_int_equal(l1->finishes, 3);
    assert_int_equal(l1->finished[0], 1);
    assert_int_equal(l1->finished[1], 3);
    assert_int_equal(l1->finished[2], 5);
    uv_mutex_lock(&l0->mu);
    assert_int_equal(l0->finishes, 0);
    l0->held[1] = false;
    uv_cond_broadcast(&l0->cv);
    uv_mutex_unlock(&l0->mu);
    run_until_done(7);
    assert_int_equal(done_ok, 7);
    assert_int_equal(l0->finishes, 3);
    assert_int_equal(l0->finished[0], 2);
    assert_int_equal(l0->finished[1], 4);
    assert_int_equal(l0->finished[2], 6);
    store_async_close(&sa);
    for (int i = 0; i < 2; i++) {
        uv_mutex_destroy(&lane_fake[i].mu);
        uv_cond_destroy(&lane_fake[i].cv);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_during_sync_completes_all,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_fails_what_follows,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_with_claim, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_finish_with_claim, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lanes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_gathered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_after_close_fails, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
