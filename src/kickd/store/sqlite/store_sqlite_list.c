/* SPDX-License-Identifier: MIT */
/* Listing jobs from SQLite: a page by id, either way, filtered by state,
 * route and the time each was created. The created bounds become id
 * bounds first, so that a page costs index seeks, not a scan of the
 * jobs before it, and inserts keep their cost (no index on created_at). */
#include <stdint.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "store_sqlite_internal.h"

/* The first id from which every job was created at or after t, found by
 * a binary search over ids: ids are handed out in the order jobs arrive
 * and created_at is the arrival's time, so created_at grows with the id
 * (but where the clock stepped back; the listing also filters on
 * created_at itself, so it never shows a job outside its bounds). Each
 * probe is one seek; a million jobs take about 20. 0 with *id set (past
 * the last id if none), or -1. */
static int
id_from(struct store *st, int64_t t, int64_t *id)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_ID_MAX);
    int64_t lo = 1, hi;
    int rc;

    if ((rc = store_sqlite__step(st, s)) < 0)
        return -1;
    hi = sqlite3_column_int64(s, 0) + 1; /* NULL (no job) reads 0 */
    sqlite3_reset(s);
    /* The answer is in [lo, hi]: hi is a bound that works (past the last
     * job, or a job created at or after t), below lo none does. */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        s = store_sqlite__stmt(st, ST_ID_AT);
        if (store_sqlite__bind_i64(s, 1, mid) != 0)
            return store_sqlite__bind_fail(st, s);
        if ((rc = store_sqlite__step(st, s)) < 0)
            return -1;
        int64_t found = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        int64_t created = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW || created >= t)
            hi = mid; /* no job in [mid, found) */
        else
            lo = found + 1; /* jobs up to found were created before t */
    }
    *id = lo;
    return 0;
}

/* Narrows the id bounds of f (ids > *above and < *below) to its created
 * bounds. 0 or -1. */
static int
bounds(struct store *st, const struct job_filter *f, int64_t *above,
       int64_t *below)
{
    int64_t id;

    *above = f->after > 0 ? f->after : 0;
    *below = f->before > 0 ? f->before : INT64_MAX;
    if (f->created_from > 0) {
        if (id_from(st, f->created_from, &id) < 0)
            return -1;
        if (id - 1 > *above)
            *above = id - 1;
    }
    if (f->created_until > 0) {
        if (id_from(st, f->created_until, &id) < 0)
            return -1;
        if (id < *below)
            *below = id;
    }
    return 0;
}

static enum stmt_id
list_stmt(const struct job_filter *f)
{
    static const enum stmt_id asc[4] = {ST_LIST_ALL, ST_LIST_STATE,
                                        ST_LIST_ROUTE, ST_LIST_BOTH};
    static const enum stmt_id desc[4] = {ST_LIST_ALL_DESC, ST_LIST_STATE_DESC,
                                         ST_LIST_ROUTE_DESC, ST_LIST_BOTH_DESC};
    int k = (f->state >= 0 ? 1 : 0) + (f->route != NULL ? 2 : 0);

    return f->desc ? desc[k] : asc[k];
}

static int
list_page(struct store *st, const struct job_filter *f, struct job **out,
          size_t *n)
{
    int limit = f->limit < 1 ? 1 : f->limit > 1000 ? 1000 : f->limit;
    int64_t above, below;
    sqlite3_stmt *s;
    int rc;

    if (bounds(st, f, &above, &below) < 0)
        return -1;
    s = store_sqlite__stmt(st, list_stmt(f));
    rc = store_sqlite__bind_i64(s, 1, above) |
         store_sqlite__bind_i64(s, 2, limit) |
         store_sqlite__bind_i64(s, 5, below) |
         store_sqlite__bind_i64(s, 6, f->created_from) |
         store_sqlite__bind_i64(
             s, 7, f->created_until > 0 ? f->created_until : INT64_MAX);
    if (f->route != NULL)
        rc |= sqlite3_bind_text(s, 3, f->route, -1, SQLITE_STATIC);
    if (f->state >= 0)
        rc |= store_sqlite__bind_i64(s, 4, f->state);
    if (rc != 0)
        return store_sqlite__bind_fail(st, s);
    return store_sqlite__rows_collect(st, s, out, NULL, n);
}

/* The search and the page read one snapshot: one op. */
int
store_sqlite__list(struct store *st, const struct job_filter *f,
                   struct job **out, size_t *n)
{
    bool own;

    *out = NULL;
    *n = 0;
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    int r = store_sqlite__op_end(st, own, list_page(st, f, out, n));
    if (r < 0) {
        for (size_t i = 0; i < *n; i++)
            job_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}
