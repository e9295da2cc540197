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
    " created_at, run_at, started_at, finished_at, error, interruptions,"      \
    " response_status, response_type, output_size, earlier_attempts"

/* The statements prepared at open; their SQL is in store_pg_schema.c and
 * their names are "k" and the number. */
enum pg_stmt_id {
    PG_INSERT,
    PG_IDEM_FIND,
    PG_CLAIM,
    PG_CLAIM_N,
    PG_GET,
    PG_GET_REQ, /* the job and its request */
    PG_FINISH,
    PG_REQUEUE,
    PG_CANCEL,
    PG_LIST,
    PG_COUNTS,
    PG_COUNTS_FOLD,
    PG_OUT_ADD,
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
    PG_LOCK_ROUTE,
    PG_RUNNER,
    PG_RENEW,
    PG_NOTIFY,
    /* What opens and closes a batch's transaction and its ops, prepared
     * too: parsed once, not at every op (store_pg__defer). */
    PG_BEGIN,
    PG_SAVEPOINT,
    PG_RELEASE,
    PG_STMT_COUNT
};

/* The most parameters a statement takes. */
#define PG_MAX_PARAMS 16

/* One statement's parameters: text, or bytes sent in binary (bytea). */
struct pg_params {
    int n;
    const char *val[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24]; /* integers' text */
};

/* A "d RUN_AT ROUTE" notice waiting for the commit (store_pg_notify.c). */
struct pg_due {
    char *route;
    int64_t run_at; /* ms */
};

/* The notices a transaction made, sent at its commit (store_pg_notify.c):
 * d lines (coalesced per route when sent) and e/c lines as text. */
struct pg_notes {
    struct pg_due *due;
    size_t ndue, capdue;
    char *lines; /* "e ID\n" and "c ID\n" */
    size_t len, cap;
    size_t mark_due, mark_len; /* where the current op's notices start */
};

/* A statement deferred to go out in one round trip with the next one
 * sent (store_pg__defer): SQL without parameters, or a prepared statement
 * with one text parameter (owned). */
struct pg_pend {
    const char *sql;
    enum pg_stmt_id id;
    char *arg;
};

struct store {
    PGconn *conn;
    char err[256]; /* the last error, one line */
    bool in_txn;   /* between the caller's begin and commit or rollback */
    bool in_op;    /* in an op's own transaction (store_pg__op_begin) */
    char id[17];   /* meta's store_id */
    char node[64]; /* join's name; "" before join (one node: no owner
                    * checks, no lease) */
    int64_t lease_ms;
    bool lost;         /* the connection is lost or dropped */
    int64_t backoff;   /* ms before the next reconnection try */
    int64_t retry_at;  /* monotonic ms: no reconnection before */
    struct pg_notes notes;
    char **limited;    /* routes claimed with a limit: their ends are */
    size_t nlimited;   /* notices ("d") for the other nodes */
    struct pg_pend *pend; /* deferred statements, in order */
    size_t npend, cappend;
};

/* Keeps msg as the store's error. Returns -1. */
int store_pg__fail(struct store *st, const char *msg);

/* Keeps the connection's (or res's) error message as the store's error,
 * clears res. Returns -1. */
int store_pg__fail_res(struct store *st, PGresult *res);

/* Adds a parameter: an integer, a text (NULL: SQL NULL) that must
 * outlive the statement's run, or bytes sent as binary bytea (never
 * NULL: no bytes are an empty value). */
void store_pg__p_i64(struct pg_params *p, int64_t v);

void store_pg__p_text(struct pg_params *p, const char *v);

void store_pg__p_bytes(struct pg_params *p, const char *v, size_t len);

/* Runs prepared statement id: its result (rows or a command's), or NULL
 * with the error kept. The caller clears the result. */
PGresult *store_pg__run(struct store *st, enum pg_stmt_id id,
                        const struct pg_params *p);

/* Runs statement id: the rows it changed, or -1. */
int64_t store_pg__run_changed(struct store *st, enum pg_stmt_id id,
                              const struct pg_params *p);

/* Makes one op atomic: a transaction of its own outside the caller's,
 * else a savepoint in it. 0 or -1. */
int store_pg__op_begin(struct store *st);

/* Ends an op: keeps its work if r >= 0 and returns r, else undoes it and
 * returns -1 with the first error kept. */
int store_pg__op_end(struct store *st, int r);

/* Commits the open transaction (the caller's or an op's own) with its
 * notices: 0 or -1 (then nothing is left open). */
int store_pg__commit(struct store *st);

/* Column readers of a text-format result: a malloc'd copy of a text (NULL
 * stays NULL), bytea decoded into malloc'd bytes (NUL-terminated too), an
 * integer. 0 or -1 (out of memory). */
int store_pg__col_text(struct store *st, PGresult *res, int row, int col,
                       char **out);

int store_pg__col_bytes(struct store *st, PGresult *res, int row, int col,
                        char **out, size_t *len);

int64_t store_pg__col_i64(PGresult *res, int row, int col);

/* Fills j (cleared first) from row of a PG_JOB_COLS result. 0 or -1. */
int store_pg__row_job(struct store *st, PGresult *res, int row, struct job *j);

/* Fills j's request from the four columns after PG_JOB_COLS (a LEFT JOIN
 * of requests: NULLs are a job without its request). 0 or -1. */
int store_pg__row_request(struct store *st, PGresult *res, int row,
                          struct job *j);

/* Runs SQL without parameters that returns no rows: 0 or -1. */
int store_pg__exec(struct store *st, const char *sql);

/* Connects to uri with the backend's defaults (timeouts, keepalives)
 * before the URI's own settings. Never NULL but out of memory. */
PGconn *
store_pg__connect(const char *uri);

/* Ready for an op: outside a transaction, connects again if the
 * connection was lost and its backoff has passed. 0, or -1 at once with
 * the error kept ("database unavailable; next try in N ms"). */
int
store_pg__ready(struct store *st);

/* Defers a statement: it goes out with the next one sent (store_pg__run,
 * store_pg__query), in one pipeline and one round trip; its error, if
 * any, is that statement's. sql must be static; arg (may be NULL) is
 * copied. 0 or -1 (out of memory). */
int
store_pg__defer(struct store *st, const char *sql);

int
store_pg__defer_run(struct store *st, enum pg_stmt_id id, const char *arg);

/* Takes back the last deferred statement if it is sql (never sent):
 * true if it was. */
bool
store_pg__defer_pop(struct store *st, const char *sql);

/* Forgets every deferred statement. */
void
store_pg__defer_drop(struct store *st);

/* Sends ROLLBACK if the server has a transaction open on the connection
 * (after a failed commit, or when its BEGIN never went out: nothing). */
void
store_pg__rollback_open(struct store *st);

/* Sends sql (no parameters) and reads its result under the statement
 * deadline: the last result, or NULL with the error kept. */
PGresult *
store_pg__query(struct store *st, const char *sql);

/* The node's name for a statement: NULL before join. */
const char *
store_pg__node(const struct store *st);

/* Notices (store_pg_notify.c): queue a line for the commit; mark where an
 * op starts; drop the current op's (a failed op) or all (a rollback);
 * send them all in the open transaction, before its COMMIT. */
int
store_pg__note_due(struct store *st, const char *route, int64_t run_at);

int
store_pg__note_line(struct store *st, char kind, int64_t id);

void
store_pg__note_mark(struct store *st);

void
store_pg__note_drop(struct store *st, bool all);

int
store_pg__note_send(struct store *st);

void
store_pg__note_free(struct store *st);

/* store_pg_lease.c: the store's ops of the same names (store.h). */
void
store_pg__join(struct store *st, const char *node, int64_t lease_ms);

int
store_pg__renew(struct store *st, int64_t **ids, int **attempts, size_t *n);

int
store_pg__orphans(struct store *st, struct job **out,
                  struct job_owner **owners, size_t *n);

/* Tries the advisory lock of route's claims with a limit, held to the
 * end of the transaction: 1 if taken, 0 if another node holds it, -1. */
int
store_pg__lock_route(struct store *st, const char *route);

/* Remembers route as claimed here with a limit (0 or -1), and tells
 * whether it was. */
int
store_pg__limited_add(struct store *st, const char *route);

bool
store_pg__is_limited(const struct store *st, const char *route);

/* Prepares one statement (name, sql): 0 or -1. */
int
store_pg__prepare_one(struct store *st, const char *name, const char *sql);

/* The listener's ops (store_pg_notify.c), as store.h says. */
int
store_pg__listen_open(struct store **out, const char *uri, char *err,
                      size_t errlen);

int
store_pg__listen_wait(struct store *ln, int timeout_ms,
                      void (*cb)(void *data, const char *line), void *data,
                      char *err, size_t errlen);

/* Prepares the statements on the connection (at open and after a
 * reconnection). 0 or -1. */
int
store_pg__prepare(struct store *st);

/* A prepared statement's SQL. */
const char *
store_pg__stmt_sql(enum pg_stmt_id id);

/* The session's settings (synchronous_commit on). 0 or -1. */
int
store_pg__session(struct store *st);

/* Outside a transaction, connects again if the connection was lost
 * (PQreset, then the session's settings and statements again), no
 * sooner than its backoff: 0, or -1 with the error kept. Inside one, a
 * lost connection fails the transaction and its ops, never replayed. */
int
store_pg__reconnect(struct store *st);

/* Creates or migrates the schema (under an advisory lock, in one
 * transaction), prepares the statements and reads the store's id. 0 or
 * -1 with st->err set. */
int store_pg__schema(struct store *st);

#endif
