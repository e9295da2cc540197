/* SPDX-License-Identifier: MIT */
/* What store_sqlite.c, store_sqlite_schema.c and store_sqlite_output.c
 * share and no other module sees: struct store, its prepared statements
 * and the helpers that run them inside an op. */
#ifndef KICKD_STORE_SQLITE_INTERNAL_H
#define KICKD_STORE_SQLITE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

/* Routes whose new jobs a transaction counts before it writes them to
 * job_counts; a transaction with more writes them early. */
#define STORE_ADDED_ROUTES 8

/* The columns of a jobs row in the order store_sqlite.c's row_job reads. */
#define JOB_COLS                                                               \
    "id, route, state, connection_status, attempt, max_attempts,"              \
    " exit_status, term_signal, progress, progress_msg, idem_key,"             \
    " created_at, run_at, started_at, finished_at, error, interruptions,"     \
    " response_status, response_type, output_size, earlier_attempts"

/* The statements prepared at open; their SQL is in store_sqlite_schema.c. */
enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_IDEM_FIND,
    ST_INSERT,
    ST_INSERT_REQ,
    ST_CLAIM_FIND,
    ST_CLAIM_MARK,
    ST_FINISH,
    ST_REQUEUE,
    ST_RUNNING,
    ST_OWN,
    ST_ORPHANS,
    ST_CANCEL,
    ST_GET,
    ST_GET_REQ,
    ST_LIST_ALL,
    ST_LIST_STATE,
    ST_LIST_ROUTE,
    ST_LIST_BOTH,
    ST_LIST_ALL_DESC,
    ST_LIST_STATE_DESC,
    ST_LIST_ROUTE_DESC,
    ST_LIST_BOTH_DESC,
    ST_ID_MAX,
    ST_ID_AT,
    ST_RETRY,
    ST_EXISTS,
    ST_OUT_LAST,
    ST_OUT_DATA,
    ST_OUT_SET,
    ST_OUT_ADD,
    ST_OUT_WALK,
    ST_OUT_DROP,
    ST_OUT_CUT,
    ST_OUT_CLEAR,
    ST_OUT_SIZE,
    ST_OUT_ALL,
    ST_PROGRESS,
    ST_ROUTE_FIRST,
    ST_ROUTE_NEXT,
    ST_ROUTE_MIN,
    ST_COUNTS,
    ST_COUNT_ADD,
    ST_DELETE,
    ST_PRUNE,
    ST_ENDED_OLDEST,
    ST_COUNT
};

struct store {
    sqlite3 *db;
    int lock_fd; /* PATH-lock, whose record lock makes this kickd owner */
    bool wal;    /* in WAL mode (else the rollback journal) */
    int wal_fd;  /* the WAL, for store_sqlite__sync; -1 without WAL */
    sqlite3_stmt *stmt[ST_COUNT];
    char err[256]; /* the last error, kept apart from sqlite3_errmsg
                      because a rollback after it would replace it */
    bool in_txn;   /* between the caller's begin and commit or rollback */
    bool lost;     /* SQLite has rolled that transaction back itself */
    bool broken;   /* an insert or the counts failed half-way in it:
                      it must not commit */
    /* Jobs inserted in the transaction and not yet in job_counts, by
     * route (store_sqlite.c's counts_flush). */
    struct {
        char *route;
        int64_t n;
    } added[STORE_ADDED_ROUTES];
    int nadded;
    char id[17]; /* meta's store_id */
};

/* store_ops.sync: fdatasync of the WAL; thread-safe against the store
 * thread's work (its own fd, no SQLite call). */
int
store_sqlite__sync(struct store *st, char *err, size_t errlen);

/* Keeps msg as the store's error. Returns -1. */
int
store_sqlite__fail(struct store *st, const char *msg);

/* Keeps sqlite3_errmsg as the store's error. Returns -1. */
int
store_sqlite__fail_db(struct store *st);

/* Takes statement id, reset and ready for binding. */
sqlite3_stmt *
store_sqlite__stmt(struct store *st, enum stmt_id id);

/* Binding helpers: SQLITE_OK or an error code; callers OR them together.
 * A blob is never NULL: an empty one is a zero-length blob. */
int
store_sqlite__bind_i64(sqlite3_stmt *s, int i, int64_t v);

int
store_sqlite__bind_blob(sqlite3_stmt *s, int i, const void *p, size_t len);

/* Resets s after a failed bind and keeps the error. Returns -1. */
int
store_sqlite__bind_fail(struct store *st, sqlite3_stmt *s);

/* Steps s once: SQLITE_ROW or SQLITE_DONE, or -1 with the error kept. */
int
store_sqlite__step(struct store *st, sqlite3_stmt *s);

/* Runs a statement that returns no rows: 0 or -1. */
int
store_sqlite__run(struct store *st, sqlite3_stmt *s);

/* Makes one op atomic: a transaction of its own in autocommit mode, else
 * a savepoint in the caller's transaction (*own says which). 0 or -1. */
int
store_sqlite__op_begin(struct store *st, bool *own);

/* Ends an op begun with store_sqlite__op_begin: keeps its work if r >= 0
 * and returns r, else undoes it and returns -1 with the first error kept. */
int
store_sqlite__op_end(struct store *st, bool own, int r);

/* The store ops of store_sqlite_schema.c: open a database (pragmas,
 * migrations, statements) and close it; see struct store_ops. */
int
store_sqlite__open(struct store **out, const char *uri, char *err,
                   size_t errlen);

void
store_sqlite__close(struct store *st);

/* Steps s (bound) to its end, a job per row into a malloc'd array (NULL
 * if there is none), and with owners its owner too, into an array of as
 * many; resets s. 0 or -1. */
int
store_sqlite__rows_collect(struct store *st, sqlite3_stmt *s,
                           struct job **out, struct job_owner **owners,
                           size_t *n);

/* store_ops.list, in store_sqlite_list.c. */
int
store_sqlite__list(struct store *st, const struct job_filter *f,
                   struct job **out, size_t *n);

/* The store ops of store_sqlite_output.c; see struct store_ops. */
int
store_sqlite__output_append(struct store *st, int64_t id, const char *data,
                            size_t len, size_t cap, int64_t skipped);

int
store_sqlite__output_get(struct store *st, int64_t id, char **data,
                         size_t *len, struct job *job);

/* Fills j (cleared first) from a row of JOB_COLS. 0 or -1. */
int
store_sqlite__row_job(struct store *st, sqlite3_stmt *s, struct job *j);

/* The store ops of store_sqlite_prune.c (retention); see struct
 * store_ops. */
int
store_sqlite__delete(struct store *st, int64_t id);

int
store_sqlite__prune(struct store *st, const char *route, int64_t before,
                    int limit, int64_t *deleted, int64_t *oldest);

#endif
