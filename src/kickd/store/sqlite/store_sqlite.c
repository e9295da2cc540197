/* SPDX-License-Identifier: MIT */
/* The SQLite job store: its ops on jobs, each atomic, through statements
 * prepared once at open (store_sqlite_schema.c); output chunks are in
 * store_sqlite_output.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite_internal.h"

int
store_sqlite__fail(struct store *st, const char *msg)
{
    snprintf(st->err, sizeof(st->err), "%s", msg);
    return -1;
}

int
store_sqlite__fail_db(struct store *st)
{
    return store_sqlite__fail(st, sqlite3_errmsg(st->db));
}

/* Takes statement id, reset and ready for binding. */
sqlite3_stmt *
store_sqlite__stmt(struct store *st, enum stmt_id id)
{
    sqlite3_reset(st->stmt[id]);
    return st->stmt[id];
}

/* Binding helpers: SQLITE_OK or an error code; callers OR them together. */
int
store_sqlite__bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
    return sqlite3_bind_int64(s, i, v);
}

static int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v == NULL)
        return sqlite3_bind_null(s, i);
    return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* A blob, never NULL: an empty one is a zero-length blob. */
int
store_sqlite__bind_blob(sqlite3_stmt *s, int i, const void *p, size_t len)
{
    if (p == NULL || len == 0)
        return sqlite3_bind_zeroblob(s, i, 0);
    return sqlite3_bind_blob64(s, i, p, len, SQLITE_STATIC);
}

/* Steps s once: SQLITE_ROW or SQLITE_DONE, or -1 with the error kept. */
int
store_sqlite__step(struct store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);

    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return rc;
    store_sqlite__fail_db(st);
    sqlite3_reset(s);
    return -1;
}

/* Runs a statement that returns no rows: 0 or -1. */
int
store_sqlite__run(struct store *st, sqlite3_stmt *s)
{
    int rc = store_sqlite__step(st, s);

    sqlite3_reset(s);
    if (rc < 0)
        return -1;
    return 0;
}

int
store_sqlite__bind_fail(struct store *st, sqlite3_stmt *s)
{
    sqlite3_reset(s);
    return store_sqlite__fail_db(st);
}

/* Every op but the transaction calls starts here. After SQLITE_FULL or an
 * I/O error SQLite may roll back the caller's whole transaction by itself;
 * the ops after that would each commit on their own while the caller
 * counts them in a batch that failed. So once the caller's transaction is
 * gone, every op fails, and so does the commit, until the rollback. */
static int
op_check(struct store *st)
{
    char first[sizeof(st->err)];

    if (!st->in_txn || !sqlite3_get_autocommit(st->db))
        return 0;
    if (!st->lost) {
        snprintf(first, sizeof(first), "%s", st->err);
        snprintf(st->err, sizeof(st->err), "rolled back after: %.200s", first);
        st->lost = true;
    }
    return -1;
}

/* Makes one op atomic: a transaction of its own in autocommit mode, else
 * a savepoint in the caller's transaction. */
int
store_sqlite__op_begin(struct store *st, bool *own)
{
    if (op_check(st) < 0)
        return -1;
    *own = sqlite3_get_autocommit(st->db) != 0;
    return store_sqlite__run(
        st, store_sqlite__stmt(st, *own ? ST_BEGIN : ST_SAVEPOINT));
}

/* Ends an op begun with op_begin: keeps its work if r >= 0 and returns r,
 * else undoes it and returns -1 with the first error kept. SQLite may
 * already have rolled back the whole transaction after SQLITE_FULL or an
 * I/O error, so an undo that finds nothing to undo is not an error. */
int
store_sqlite__op_end(struct store *st, bool own, int r)
{
    if (r >= 0) {
        if (store_sqlite__run(
                st, store_sqlite__stmt(st, own ? ST_COMMIT : ST_RELEASE)) == 0)
            return r;
    }
    if (own) {
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (!sqlite3_get_autocommit(st->db)) {
        sqlite3_exec(st->db, "ROLLBACK TO store_op; RELEASE store_op", NULL,
                     NULL, NULL);
    }
    return -1;
}

/* A copy of column i, NUL-terminated, in *out (NULL for SQL NULL). */
static int
col_text(struct store *st, sqlite3_stmt *s, int i, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return 0;
    const unsigned char *t = sqlite3_column_text(s, i);
    if (t == NULL || (*out = strdup((const char *)t)) == NULL)
        return store_sqlite__fail(st, "out of memory");
    return 0;
}

/* A copy of blob column i with a NUL after its len bytes. */
static int
col_blob(struct store *st, sqlite3_stmt *s, int i, char **out, size_t *len)
{
    const void *p = sqlite3_column_blob(s, i);
    size_t n = (size_t)sqlite3_column_bytes(s, i);

    *len = 0;
    *out = malloc(n + 1);
    if (*out == NULL || (p == NULL && n > 0))
        return store_sqlite__fail(st, "out of memory");
    if (n > 0)
        memcpy(*out, p, n);
    (*out)[n] = '\0';
    *len = n;
    return 0;
}

/* Column i into a fixed buffer, cut to fit; "" for SQL NULL. */
static void
col_copy(sqlite3_stmt *s, int i, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, i);

    snprintf(buf, size, "%s", t ? (const char *)t : "");
}

int
store_sqlite__row_job(struct store *st, sqlite3_stmt *s, struct job *j)
{
    memset(j, 0, sizeof(*j));
    j->id = sqlite3_column_int64(s, 0);
    j->state = (enum job_state)sqlite3_column_int(s, 2);
    j->connection_status = sqlite3_column_int(s, 3);
    j->attempt = sqlite3_column_int(s, 4);
    j->max_attempts = sqlite3_column_int(s, 5);
    j->exit_status = sqlite3_column_int(s, 6);
    j->term_signal = sqlite3_column_int(s, 7);
    j->progress = sqlite3_column_int(s, 8);
    j->created_at = sqlite3_column_int64(s, 11);
    j->run_at = sqlite3_column_int64(s, 12);
    j->started_at = sqlite3_column_int64(s, 13);
    j->finished_at = sqlite3_column_int64(s, 14);
    j->interruptions = sqlite3_column_int(s, 16);
    j->response_status = sqlite3_column_int(s, 17);
    j->output_size = sqlite3_column_int64(s, 19);
    j->earlier_attempts = sqlite3_column_int(s, 20);
    if (col_text(st, s, 1, &j->route) < 0 ||
        col_text(st, s, 9, &j->progress_msg) < 0 ||
        col_text(st, s, 10, &j->idem_key) < 0 ||
        col_text(st, s, 15, &j->error) < 0 ||
        col_text(st, s, 18, &j->response_type) < 0) {
        job_clear(j);
        return -1;
    }
    return 0;
}

/* Forgets the jobs counted for job_counts (the transaction is over). */
static void
counts_forget(struct store *st)
{
    for (int i = 0; i < st->nadded; i++)
        free(st->added[i].route);
    st->nadded = 0;
}

/* Writes the jobs counted so far to job_counts: one upsert a route. If
 * one fails the counts are lost, so the transaction must not commit. */
static int
counts_flush(struct store *st)
{
    int r = 0;

    for (int i = 0; i < st->nadded && r == 0; i++) {
        sqlite3_stmt *s = store_sqlite__stmt(st, ST_COUNT_ADD);
        if ((bind_text(s, 1, st->added[i].route) |
             store_sqlite__bind_i64(s, 2, st->added[i].n)) != 0)
            r = store_sqlite__bind_fail(st, s);
        else
            r = store_sqlite__run(st, s);
    }
    counts_forget(st);
    if (r < 0)
        st->broken = true;
    return r;
}

/* Counts a new job of route, to be written by counts_flush. */
static int
counts_add(struct store *st, const char *route)
{
    for (int i = 0; i < st->nadded; i++) {
        if (strcmp(st->added[i].route, route) == 0) {
            st->added[i].n++;
            return 0;
        }
    }
    if (st->nadded == STORE_ADDED_ROUTES && counts_flush(st) < 0)
        return -1;
    char *copy = strdup(route);
    if (copy == NULL)
        return store_sqlite__fail(st, "out of memory");
    st->added[st->nadded].route = copy;
    st->added[st->nadded].n = 1;
    st->nadded++;
    return 0;
}

static int
sqlite_begin(struct store *st)
{
    if (store_sqlite__run(st, store_sqlite__stmt(st, ST_BEGIN)) < 0)
        return -1;
    st->in_txn = true;
    st->lost = st->broken = false;
    return 0;
}

/* After a failed commit the transaction may still be open: the caller
 * rolls it back. */
static int
sqlite_commit(struct store *st)
{
    int r = op_check(st);

    if (r == 0 && st->broken)
        r = -1; /* st->err has the insert's error */
    if (r == 0)
        r = counts_flush(st);
    if (r == 0)
        r = store_sqlite__run(st, store_sqlite__stmt(st, ST_COMMIT));
    if (sqlite3_get_autocommit(st->db))
        st->in_txn = false;
    return r;
}

/* Also 0 when SQLite has already rolled the transaction back itself. */
static int
sqlite_rollback(struct store *st)
{
    st->in_txn = false;
    st->lost = st->broken = false;
    counts_forget(st);
    if (sqlite3_get_autocommit(st->db))
        return 0;
    return store_sqlite__run(st, store_sqlite__stmt(st, ST_ROLLBACK));
}

static int
insert_job(struct store *st, struct job *j, bool *existed)
{
    sqlite3_stmt *s;
    int rc;

    if (j->idem_key != NULL) {
        s = store_sqlite__stmt(st, ST_IDEM_FIND);
        if ((bind_text(s, 1, j->route) | bind_text(s, 2, j->idem_key)) != 0)
            return store_sqlite__bind_fail(st, s);
        if ((rc = store_sqlite__step(st, s)) < 0)
            return -1;
        if (rc == SQLITE_ROW) {
            j->id = sqlite3_column_int64(s, 0);
            *existed = true;
            sqlite3_reset(s);
            return 0;
        }
        sqlite3_reset(s);
    }
    s = store_sqlite__stmt(st, ST_INSERT);
    if ((bind_text(s, 1, j->route) |
         store_sqlite__bind_i64(s, 2, j->max_attempts) |
         bind_text(s, 3, j->idem_key) |
         store_sqlite__bind_i64(s, 4, j->created_at) |
         store_sqlite__bind_i64(s, 5, j->run_at)) != 0)
        return store_sqlite__bind_fail(st, s);
    if (store_sqlite__run(st, s) < 0)
        return -1;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    s = store_sqlite__stmt(st, ST_INSERT_REQ);
    if ((store_sqlite__bind_i64(s, 1, id) |
         store_sqlite__bind_blob(s, 2, j->head, j->head_len) |
         store_sqlite__bind_blob(s, 3, j->body, j->body_len) |
         bind_text(s, 4, j->remote_addr) |
         store_sqlite__bind_i64(s, 5, j->remote_port)) != 0)
        return store_sqlite__bind_fail(st, s);
    if (store_sqlite__run(st, s) < 0 || counts_add(st, j->route) < 0)
        return -1;
    job_inserted(j, id);
    return 0;
}

static int
sqlite_insert(struct store *st, struct job *j, bool *existed)
{
    bool own;

    *existed = false;
    if (j->route == NULL)
        return store_sqlite__fail(st, "job without a route");
    /* In the caller's transaction (the store thread's batch) an insert
     * takes no savepoint, two statements of its five: one that fails
     * half-way fails the transaction instead (sqlite_commit). */
    if (st->in_txn && !sqlite3_get_autocommit(st->db)) {
        if (op_check(st) < 0)
            return -1;
        if (insert_job(st, j, existed) < 0) {
            st->broken = true;
            return -1;
        }
        return 0;
    }
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    int r = insert_job(st, j, existed);
    if (r == 0)
        r = counts_flush(st);
    else
        counts_forget(st);
    return store_sqlite__op_end(st, own, r);
}

/* Loads job id into out: 0, 1 if there is none, -1. */
static int
load_job(struct store *st, int64_t id, bool with_request, struct job *out)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_GET);
    int rc;

    memset(out, 0, sizeof(*out));
    if (store_sqlite__bind_i64(s, 1, id) != 0)
        return store_sqlite__bind_fail(st, s);
    if ((rc = store_sqlite__step(st, s)) < 0)
        return -1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return 1;
    }
    rc = store_sqlite__row_job(st, s, out);
    sqlite3_reset(s);
    if (rc < 0 || !with_request)
        return rc;
    s = store_sqlite__stmt(st, ST_GET_REQ);
    if (store_sqlite__bind_i64(s, 1, id) != 0) {
        job_clear(out);
        return store_sqlite__bind_fail(st, s);
    }
    if ((rc = store_sqlite__step(st, s)) == SQLITE_ROW) {
        out->remote_port = sqlite3_column_int(s, 3);
        if (col_blob(st, s, 0, &out->head, &out->head_len) < 0 ||
            col_blob(st, s, 1, &out->body, &out->body_len) < 0 ||
            col_text(st, s, 2, &out->remote_addr) < 0)
            rc = -1;
    } else if (rc == SQLITE_DONE) {
        rc = store_sqlite__fail(st, "job without its request");
    }
    sqlite3_reset(s);
    if (rc < 0) {
        job_clear(out);
        return -1;
    }
    return 0;
}

static int
claim_job(struct store *st, const char *route, int64_t now, struct job *out)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_CLAIM_FIND);
    int rc;

    if ((bind_text(s, 1, route) | store_sqlite__bind_i64(s, 2, now)) != 0)
        return store_sqlite__bind_fail(st, s);
    if ((rc = store_sqlite__step(st, s)) < 0)
        return -1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return 0;
    }
    int64_t id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    s = store_sqlite__stmt(st, ST_CLAIM_MARK);
    if ((store_sqlite__bind_i64(s, 1, id) |
         store_sqlite__bind_i64(s, 2, now)) != 0)
        return store_sqlite__bind_fail(st, s);
    if (store_sqlite__run(st, s) < 0)
        return -1;
    rc = load_job(st, id, true, out);
    if (rc == 1)
        return store_sqlite__fail(st, "claimed job vanished");
    return rc == 0 ? 1 : -1;
}

/* Jobs are taken in the order they became due: by run_at, then by id. A
 * job without a delay has run_at = created_at, so that is their order of
 * arrival (FIFO) as long as the caller's clock does not step back; a retry
 * takes its place at its backoff time. Ordering by id instead would have
 * to sort every due job, or step over every delayed one, at each claim;
 * this order is the index's, so a claim costs the same with a backlog of
 * a million. */
static int
sqlite_claim(struct store *st, const char *route, int64_t now, int limit,
             struct job *out)
{
    bool own;

    (void)limit; /* one kickd owns the file: its pool holds the limit */

    memset(out, 0, sizeof(*out));
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    return store_sqlite__op_end(st, own, claim_job(st, route, now, out));
}

/* Runs s (already bound) and returns 0 if it changed a row, else 1. */
static int
run_changed(struct store *st, sqlite3_stmt *s)
{
    if (store_sqlite__run(st, s) < 0)
        return -1;
    return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

/* A requeued job keeps the ended attempt's statuses (the last attempt's
 * outcome) and its attempt count; finished_at stays 0. */
static int
finish_job(struct store *st, int64_t id, const struct job_end *e)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_RUNNING);
    int rc;

    /* The output is kept only with the end it belongs to. */
    if (store_sqlite__bind_i64(s, 1, id) != 0)
        return store_sqlite__bind_fail(st, s);
    if ((rc = store_sqlite__step(st, s)) < 0)
        return -1;
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return 1;
    if ((e->output_len > 0 || e->output_skipped > 0) &&
        store_sqlite__output_append(st, id, e->output, e->output_len,
                                    e->output_cap, e->output_skipped) < 0)
        return -1;
    if (e->state == JOB_QUEUED) {
        s = store_sqlite__stmt(st, ST_REQUEUE);
        rc = store_sqlite__bind_i64(s, 1, id) |
             store_sqlite__bind_i64(s, 2, e->connection_status) |
             store_sqlite__bind_i64(s, 3, e->exit_status) |
             store_sqlite__bind_i64(s, 4, e->term_signal) |
             store_sqlite__bind_i64(s, 5, e->requeue_at) |
             bind_text(s, 6, e->error) |
             store_sqlite__bind_i64(s, 7, e->interrupted) |
             store_sqlite__bind_i64(s, 8, e->response_status) |
             bind_text(s, 9, e->response_type);
    } else {
        s = store_sqlite__stmt(st, ST_FINISH);
        rc = store_sqlite__bind_i64(s, 1, id) |
             store_sqlite__bind_i64(s, 2, e->state) |
             store_sqlite__bind_i64(s, 3, e->connection_status) |
             store_sqlite__bind_i64(s, 4, e->exit_status) |
             store_sqlite__bind_i64(s, 5, e->term_signal) |
             store_sqlite__bind_i64(s, 6, e->now) | bind_text(s, 7, e->error) |
             store_sqlite__bind_i64(s, 8, e->interrupted) |
             store_sqlite__bind_i64(s, 9, e->response_status) |
             bind_text(s, 10, e->response_type);
    }
    if (rc != 0)
        return store_sqlite__bind_fail(st, s);
    return run_changed(st, s);
}

/* The output and the end go in one savepoint: all or nothing. */
static int
sqlite_finish(struct store *st, int64_t id, const struct job_end *e)
{
    bool own;

    if (e->state == JOB_RUNNING || job_state_name(e->state) == NULL)
        return store_sqlite__fail(st, "finish with a state that is not an "
                                      "end");
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    return store_sqlite__op_end(st, own, finish_job(st, id, e));
}

static int
sqlite_set_owner(struct store *st, int64_t id, const struct job_owner *o)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_OWN);

    if (op_check(st) < 0)
        return -1;
    if ((store_sqlite__bind_i64(s, 1, id) | bind_text(s, 2, o->node) |
         store_sqlite__bind_i64(s, 3, o->pgid) |
         store_sqlite__bind_i64(s, 4, o->start) | bind_text(s, 5, o->boot)) !=
        0)
        return store_sqlite__bind_fail(st, s);
    return run_changed(st, s);
}

static int
sqlite_cancel(struct store *st, int64_t id, int64_t now)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_CANCEL);

    if (op_check(st) < 0)
        return -1;
    if ((store_sqlite__bind_i64(s, 1, id) |
         store_sqlite__bind_i64(s, 2, now)) != 0)
        return store_sqlite__bind_fail(st, s);
    return run_changed(st, s);
}

/* The job is queued again only if it has ended (state >= 2); else
 * whether it exists tells 1 from 2. */
static int
sqlite_retry(struct store *st, int64_t id, int64_t now, int max_attempts)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_RETRY);
    int r;

    if (op_check(st) < 0)
        return -1;
    if ((store_sqlite__bind_i64(s, 1, id) | store_sqlite__bind_i64(s, 2, now) |
         store_sqlite__bind_i64(s, 3, max_attempts)) != 0)
        return store_sqlite__bind_fail(st, s);
    if ((r = run_changed(st, s)) != 1)
        return r;
    s = store_sqlite__stmt(st, ST_EXISTS);
    if (store_sqlite__bind_i64(s, 1, id) != 0)
        return store_sqlite__bind_fail(st, s);
    r = store_sqlite__step(st, s);
    sqlite3_reset(s);
    if (r < 0)
        return -1;
    return r == SQLITE_ROW ? 2 : 1;
}

static int
sqlite_get(struct store *st, int64_t id, bool with_request, struct job *out)
{
    memset(out, 0, sizeof(*out));
    if (op_check(st) < 0)
        return -1;
    return load_job(st, id, with_request, out);
}

/* Columns JOB_COLS + 0..3 of s (owner, owner_pgid, owner_start,
 * owner_boot) into o. */
static void
row_owner(sqlite3_stmt *s, struct job_owner *o)
{
    int c = 21; /* the first column after JOB_COLS */

    memset(o, 0, sizeof(*o));
    col_copy(s, c, o->node, sizeof(o->node));
    o->pgid = sqlite3_column_int(s, c + 1);
    o->start = sqlite3_column_int64(s, c + 2);
    col_copy(s, c + 3, o->boot, sizeof(o->boot));
}

int
store_sqlite__rows_collect(struct store *st, sqlite3_stmt *s, struct job **out,
                           struct job_owner **owners, size_t *n)
{
    struct job *jobs = NULL;
    struct job_owner *own = NULL;
    size_t count = 0, size = 0;
    int rc;

    while ((rc = store_sqlite__step(st, s)) == SQLITE_ROW) {
        if (count == size) {
            size_t nsize = size ? 2 * size : 16;
            struct job *more = realloc(jobs, nsize * sizeof(*jobs));
            struct job_owner *omore =
                owners && more ? realloc(own, nsize * sizeof(*own)) : NULL;
            jobs = more ? more : jobs;
            own = omore ? omore : own;
            if (more == NULL || (owners && omore == NULL)) {
                rc = store_sqlite__fail(st, "out of memory");
                break;
            }
            size = nsize;
        }
        if (store_sqlite__row_job(st, s, &jobs[count]) < 0) {
            rc = -1;
            break;
        }
        if (owners)
            row_owner(s, &own[count]);
        count++;
    }
    sqlite3_reset(s);
    if (rc < 0) {
        for (size_t i = 0; i < count; i++)
            job_clear(&jobs[i]);
        free(jobs);
        free(own);
        return -1;
    }
    *out = jobs;
    if (owners)
        *owners = own;
    *n = count;
    return 0;
}

/* 0, 1 if there is no job id, -1. */
static int
sqlite_set_progress(struct store *st, int64_t id, int percent, const char *msg)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_PROGRESS);

    if (op_check(st) < 0)
        return -1;
    if ((store_sqlite__bind_i64(s, 1, id) |
         store_sqlite__bind_i64(s, 2, percent) | bind_text(s, 3, msg)) != 0)
        return store_sqlite__bind_fail(st, s);
    return run_changed(st, s);
}

/* One kickd holds the file (its record lock), so every job marked
 * running at open was left so by one that is gone. */
static int
sqlite_orphans(struct store *st, struct job **out, struct job_owner **owners,
               size_t *n)
{
    *out = NULL;
    *owners = NULL;
    *n = 0;
    if (op_check(st) < 0)
        return -1;
    return store_sqlite__rows_collect(st, store_sqlite__stmt(st, ST_ORPHANS),
                                      out, owners, n);
}

/* Walks the routes that have queued jobs, one index seek each (a DISTINCT
 * would read every queued job), calling fn with each route's earliest
 * run_at after after (a route with none is passed over). Stops at fn's
 * first non-zero return and returns it. */
static int
queued_routes(struct store *st, int64_t after,
              int (*fn)(struct store *st, const char *route, int64_t first,
                        void *arg),
              void *arg)
{
    char *route = NULL;
    int rc;

    for (;;) {
        sqlite3_stmt *s =
            store_sqlite__stmt(st, route ? ST_ROUTE_NEXT : ST_ROUTE_FIRST);
        if (route != NULL && bind_text(s, 1, route) != 0) {
            free(route);
            return store_sqlite__bind_fail(st, s);
        }
        rc = store_sqlite__step(st, s);
        char *next = NULL;
        if (rc == SQLITE_ROW && col_text(st, s, 0, &next) < 0)
            rc = -1;
        sqlite3_reset(s);
        free(route);
        route = next;
        if (rc != SQLITE_ROW || route == NULL)
            return rc < 0 ? -1 : 0;
        s = store_sqlite__stmt(st, ST_ROUTE_MIN);
        if (bind_text(s, 1, route) != 0 ||
            sqlite3_bind_int64(s, 2, after) != SQLITE_OK) {
            free(route);
            return store_sqlite__bind_fail(st, s);
        }
        rc = store_sqlite__step(st, s);
        int64_t first = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (rc < 0) {
            free(route);
            return -1;
        }
        if (rc == SQLITE_ROW && (rc = fn(st, route, first, arg)) != 0) {
            free(route);
            return rc;
        }
    }
}

struct due {
    int64_t now;
    char **routes;
    size_t n;
};

static int
due_cb(struct store *st, const char *route, int64_t first, void *arg)
{
    struct due *d = arg;
    char **nr;

    if (first > d->now)
        return 0;
    nr = realloc(d->routes, (d->n + 1) * sizeof(*nr));
    if (nr == NULL)
        return store_sqlite__fail(st, "out of memory");
    d->routes = nr;
    if ((d->routes[d->n] = strdup(route)) == NULL)
        return store_sqlite__fail(st, "out of memory");
    d->n++;
    return 0;
}

static int
sqlite_due_routes(struct store *st, int64_t now, char ***routes, size_t *n)
{
    struct due d = {now, NULL, 0};
    bool own;

    *routes = NULL;
    *n = 0;
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    if (store_sqlite__op_end(st, own,
                             queued_routes(st, INT64_MIN, due_cb, &d)) < 0) {
        for (size_t i = 0; i < d.n; i++)
            free(d.routes[i]);
        free(d.routes);
        return -1;
    }
    *routes = d.routes;
    *n = d.n;
    return 0;
}

static int
earliest_cb(struct store *st, const char *route, int64_t first, void *arg)
{
    int64_t *when = arg;

    (void)st;
    (void)route;
    if (*when == 0 || first < *when)
        *when = first;
    return 0;
}

static int
sqlite_next_run_at(struct store *st, int64_t now, int64_t *when)
{
    bool own;

    *when = 0;
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    return store_sqlite__op_end(st, own,
                                queued_routes(st, now, earliest_cb, when));
}

static int
sqlite_counts(struct store *st, struct job_count **out, size_t *n)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_COUNTS);
    struct job_count *c = NULL;
    size_t count = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (op_check(st) < 0 || counts_flush(st) < 0)
        return -1;
    while ((rc = store_sqlite__step(st, s)) == SQLITE_ROW) {
        struct job_count *nc = realloc(c, (count + 1) * sizeof(*c));
        if (nc == NULL) {
            rc = store_sqlite__fail(st, "out of memory");
            break;
        }
        c = nc;
        c[count].state = (enum job_state)sqlite3_column_int(s, 1);
        c[count].count = sqlite3_column_int64(s, 2);
        if (col_text(st, s, 0, &c[count].route) < 0) {
            rc = -1;
            break;
        }
        count++;
    }
    sqlite3_reset(s);
    if (rc < 0) {
        for (size_t i = 0; i < count; i++)
            free(c[i].route);
        free(c);
        return -1;
    }
    *out = c;
    *n = count;
    return 0;
}

static const char *
sqlite_error(struct store *st)
{
    return st->err;
}

static const char *
sqlite_id(struct store *st)
{
    return st->id;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = store_sqlite__open,
    .close = store_sqlite__close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .sync = store_sqlite__sync,
    .rollback = sqlite_rollback,
    .insert = sqlite_insert,
    .claim = sqlite_claim,
    .finish = sqlite_finish,
    .set_owner = sqlite_set_owner,
    .cancel = sqlite_cancel,
    .retry = sqlite_retry,
    .delete = store_sqlite__delete,
    .prune = store_sqlite__prune,
    .get = sqlite_get,
    .list = store_sqlite__list,
    .output_append = store_sqlite__output_append,
    .output_get = store_sqlite__output_get,
    .set_progress = sqlite_set_progress,
    .orphans = sqlite_orphans,
    .due_routes = sqlite_due_routes,
    .next_run_at = sqlite_next_run_at,
    .counts = sqlite_counts,
    .error = sqlite_error,
    .id = sqlite_id,
};
