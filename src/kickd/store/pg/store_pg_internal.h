/* SPDX-License-Identifier: MIT */
/* What store_pg.c and store_pg_schema.c share and no other module sees:
 * struct store of the PostgreSQL backend, its prepared statements and the
 * helpers that run them. */
#ifndef KICKD_STORE_PG_INTERNAL_H
#define KICKD_STORE_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store.h"

/* The columns of a jobs row in the order store_pg.c's row_job reads; the
 * same as the SQLite backend's JOB_COLS. */
#define PG_JOB_COLS                                                            \
    "id, route, state, connection_status, attempt, max_attempts,"              \
    " exit_status, term_signal, progress, progress_msg, idem_key,"             \
    " created_at, run_at, started_at, finished_at, error, interruptions,"     \
    " response_status, response_type, output_size, earlier_attempts"

/* The statements prepared at open; their SQL is in store_pg_schema.c and
 * their names are "k" and the number. */
enum pg_stmt_id {
    PG_INSERT,
    PG_INSERT_REQ,
    PG_IDEM_FIND,
    PG_CLAIM,
    PG_GET,
    PG_GET_REQ,
    PG_FINISH,
    PG_REQUEUE,
    PG_CANCEL,
    PG_LIST,
    PG_COUNTS,
    PG_COUNTS_FOLD,
    PG_OUT_ADD,
    PG_OUT_SIZE,
    PG_OUT_TRIM,
    PG_OUT_ALL,
    PG_EXISTS,
    PG_PROGRESS,
    PG_OWN,
    PG_RETRY,
    PG_DELETE,
    PG_PRUNE,
    PG_ENDED_OLDEST,
    PG_ORPHANS,
    PG_DUE_ROUTES,
    PG_NEXT_RUN_AT,
    PG_STMT_COUNT
};

struct store {
    PGconn *conn;
    char err[256]; /* the last error, one line */
    bool in_txn;   /* between the caller's begin and commit or rollback */
    char id[17];   /* meta's store_id */
};

/* Keeps msg as the store's error. Returns -1. */
int
store_pg__fail(struct store *st, const char *msg);

/* Keeps the connection's (or res's) error message as the store's error,
 * clears res. Returns -1. */
int
store_pg__fail_res(struct store *st, PGresult *res);

/* Runs SQL without parameters that returns no rows: 0 or -1. */
int
store_pg__exec(struct store *st, const char *sql);

/* Creates or migrates the schema (under an advisory lock, in one
 * transaction), prepares the statements and reads the store's id. 0 or
 * -1 with st->err set. */
int
store_pg__schema(struct store *st);

#endif
