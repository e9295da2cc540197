/* SPDX-License-Identifier: MIT */
/* Retention in the SQLite store: ended jobs deleted one by one (DELETE
 * /jobs/ID) or a route's oldest in small batches (the pruner), each with
 * its request and output. The freed pages go to SQLite's freelist and are
 * reused by the jobs that follow, so the file stops growing at its
 * high-water mark (README, "Retention", says why not auto_vacuum). */
#include <sqlite3.h>

#include "store_sqlite_internal.h"

int
store_sqlite__delete(struct store *st, int64_t id)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_DELETE);
    bool own;
    int r;

    if (store_sqlite__bind_i64(s, 1, id) != 0)
        return store_sqlite__bind_fail(st, s);
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    r = store_sqlite__run(st, s);
    if (r == 0)
        r = sqlite3_changes(st->db) > 0 ? 0 : 1;
    return store_sqlite__op_end(st, own, r);
}

/* The end (ms) of route's oldest ended job into *oldest, 0 if none. */
static int
oldest_end(struct store *st, const char *route, int64_t *oldest)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_ENDED_OLDEST);
    int rc;

    *oldest = 0;
    if (sqlite3_bind_text(s, 1, route, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_sqlite__bind_fail(st, s);
    rc = store_sqlite__step(st, s);
    if (rc == SQLITE_ROW)
        *oldest = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc < 0 ? -1 : 0;
}

/* One DELETE of at most limit rows: the store thread runs it between
 * triggers in the same transaction, so a small limit is what keeps a
 * backlog's deletion from holding up the triggers' commits. */
int
store_sqlite__prune(struct store *st, const char *route, int64_t before,
                    int limit, int64_t *deleted, int64_t *oldest)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_PRUNE);
    bool own;
    int r;

    *deleted = 0;
    *oldest = 0;
    if ((sqlite3_bind_text(s, 1, route, -1, SQLITE_STATIC) |
         store_sqlite__bind_i64(s, 2, before) |
         store_sqlite__bind_i64(s, 3, limit)) != SQLITE_OK)
        return store_sqlite__bind_fail(st, s);
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    r = store_sqlite__run(st, s);
    if (r == 0) {
        *deleted = sqlite3_changes(st->db);
        r = oldest_end(st, route, oldest);
    }
    return store_sqlite__op_end(st, own, r);
}
