/* SPDX-License-Identifier: MIT */
/* The PostgreSQL store's connection: connecting with bounded waits,
 * sending statements and reading their results with libpq's asynchronous
 * interface under a deadline, and a lost database met with a fast
 * failure and a reconnection with backoff (docs/postgresql.md, "A lost
 * database"). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "store_pg_internal.h"

/* How long a statement may take before the connection is dropped (ms):
 * the store thread never waits on the network longer than this. */
#define PG_STMT_DEADLINE_MS 10000
/* The reconnection backoff: first wait, and its cap (ms). */
#define PG_BACKOFF_MIN 100
#define PG_BACKOFF_MAX 5000

static void
quiet_cb(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Our defaults first, so that the URI's own settings win (expand_dbname):
 * a connection attempt is bounded, and a peer that vanishes is noticed by
 * TCP within seconds (keepalives; tcp_user_timeout for unacknowledged
 * data) instead of the kernel's default of minutes to hours. */
PGconn *
store_pg__connect(const char *uri)
{
    static const char *const keys[] = {
        "connect_timeout",  "keepalives",
        "keepalives_idle",  "keepalives_interval",
        "keepalives_count", "tcp_user_timeout",
        "dbname",           NULL};
    const char *vals[] = {"5", "1", "5", "2", "3", "10000", uri, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    /* libpq would print the server's notices (a FATAL when the server
     * ends the session) on stderr; the errors that matter come back
     * through the ops. */
    if (c != NULL)
        PQsetNoticeProcessor(c, quiet_cb, NULL);
    return c;
}

const char *
store_pg__node(const struct store *st)
{
    return st->node[0] != '\0' ? st->node : NULL;
}

static void
mark_lost(struct store *st)
{
    if (st->backoff < PG_BACKOFF_MIN)
        st->backoff = PG_BACKOFF_MIN;
    if (!st->lost)
        st->retry_at = clock_mono_ms() + st->backoff;
    st->lost = true;
}

/* Cancels the statement from a thread of its own: PQcancel opens a
 * connection of its own to the server, which may be as unreachable as
 * the statement's. */
static void *
cancel_run(void *arg)
{
    char buf[256];

    PQcancel(arg, buf, sizeof(buf));
    PQfreeCancel(arg);
    return NULL;
}

/* A statement past its deadline: asks the server to cancel it, and
 * drops the connection (closed and opened again by the next reset). */
static void
drop(struct store *st)
{
    PGcancel *c = PQgetCancel(st->conn);
    pthread_attr_t attr;
    pthread_t t;

    if (c != NULL) {
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, cancel_run, c) != 0)
            PQfreeCancel(c);
        pthread_attr_destroy(&attr);
    }
    if (PQsocket(st->conn) >= 0)
        shutdown(PQsocket(st->conn), SHUT_RDWR);
    mark_lost(st);
}

/* Waits until the socket is readable or the deadline passes: 1, 0 past
 * the deadline, -1 on a poll error. */
static int
wait_readable(struct store *st, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = PQsocket(st->conn), .events = POLLIN};
        int n = poll(&pfd, 1, (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static bool
res_failed(const PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);

    return s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK;
}

/* Reads the results of what was sent: the first failed one, else the
 * last. NULL (error kept) past the deadline or when the connection is
 * lost on the way. */
static PGresult *
await_result(struct store *st)
{
    int64_t deadline = clock_mono_ms() + PG_STMT_DEADLINE_MS;
    PGresult *keep = NULL, *r;

    for (;;) {
        while (PQisBusy(st->conn)) {
            int w = wait_readable(st, deadline);
            if (w == 0) {
                PQclear(keep);
                drop(st);
                return store_pg__fail(st, "no answer from the database "
                                          "in 10 s: connection dropped"),
                       NULL;
            }
            if (w < 0 || !PQconsumeInput(st->conn)) {
                PQclear(keep);
                store_pg__fail_res(st, NULL);
                mark_lost(st);
                return NULL;
            }
        }
        if ((r = PQgetResult(st->conn)) == NULL) {
            if (keep == NULL)
                store_pg__fail(st, "no result from the database");
            return keep;
        }
        if (keep != NULL && res_failed(keep)) {
            PQclear(r);
        } else {
            PQclear(keep);
            keep = r;
        }
    }
}

/* A sent statement's result, checked: NULL with the error kept if it
 * failed (and the connection marked lost if that is why). */
static PGresult *
finish_send(struct store *st, int sent)
{
    PGresult *res = NULL;

    if (sent)
        res = await_result(st);
    else
        store_pg__fail_res(st, NULL);
    if (res != NULL && res_failed(res)) {
        store_pg__fail_res(st, res);
        res = NULL;
    }
    if (PQstatus(st->conn) != CONNECTION_OK)
        mark_lost(st);
    return res;
}

static int
lost_fail(struct store *st)
{
    return store_pg__fail(st, "the connection to the database was lost");
}

int
store_pg__defer_run(struct store *st, enum pg_stmt_id id, const char *arg)
{
    if (st->npend == st->cappend) {
        size_t cap = st->cappend ? st->cappend * 2 : 8;
        struct pg_pend *p = realloc(st->pend, cap * sizeof(*p));
        if (p == NULL)
            return store_pg__fail(st, "out of memory");
        st->pend = p;
        st->cappend = cap;
    }
    struct pg_pend *p = &st->pend[st->npend];
    p->sql = NULL;
    p->id = id;
    p->arg = NULL;
    if (arg != NULL && (p->arg = strdup(arg)) == NULL)
        return store_pg__fail(st, "out of memory");
    st->npend++;
    return 0;
}

/* The prepared statement of a transaction's or an op's bounds, or
 * PG_STMT_COUNT for another statement (sent as its text). */
static enum pg_stmt_id
bound_id(const char *sql)
{
    static const enum pg_stmt_id ids[] = {PG_BEGIN, PG_SAVEPOINT,
                                          PG_RELEASE};

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        if (strcmp(sql, store_pg__stmt_sql(ids[i])) == 0)
            return ids[i];
    return PG_STMT_COUNT;
}

int
store_pg__defer(struct store *st, const char *sql)
{
    if (store_pg__defer_run(st, bound_id(sql), NULL) < 0)
        return -1;
    st->pend[st->npend - 1].sql = sql;
    return 0;
}

bool
store_pg__defer_pop(struct store *st, const char *sql)
{
    if (st->npend == 0 || st->pend[st->npend - 1].sql == NULL ||
        strcmp(st->pend[st->npend - 1].sql, sql) != 0)
        return false;
    st->npend--;
    return true;
}

void
store_pg__defer_drop(struct store *st)
{
    for (size_t i = 0; i < st->npend; i++)
        free(st->pend[i].arg);
    st->npend = 0;
}

/* Queues one statement of a pipeline: 1 if sent to libpq's buffer. */
static int
pipe_send(struct store *st, const char *sql, enum pg_stmt_id id,
          const struct pg_params *p)
{
    char name[16];

    if (sql != NULL)
        return PQsendQueryParams(st->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    snprintf(name, sizeof(name), "k%d", (int)id);
    return PQsendQueryPrepared(st->conn, name, p->n, p->val, p->len, p->fmt, 0);
}

/* Reads a pipeline of n statements to its sync point under the statement
 * deadline: the last statement's result, or NULL with the first error
 * kept (a statement after a failed one is skipped by the server). */
static PGresult *
pipe_read(struct store *st, size_t n)
{
    int64_t deadline = clock_mono_ms() + PG_STMT_DEADLINE_MS;
    PGresult *fail = NULL, *last = NULL, *r;
    size_t done = 0; /* statements whose results were all read */

    for (;;) {
        while (PQisBusy(st->conn)) {
            int w = wait_readable(st, deadline);
            if (w > 0 && PQconsumeInput(st->conn))
                continue;
            if (w == 0) {
                drop(st);
                store_pg__fail(st, "no answer from the database in 10 s: "
                                   "connection dropped");
            } else {
                store_pg__fail_res(st, NULL);
                mark_lost(st);
            }
            PQclear(fail);
            PQclear(last);
            return NULL;
        }
        if ((r = PQgetResult(st->conn)) == NULL) {
            if (++done > n + 1)
                break; /* out of step: no sync point */
            continue;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (res_failed(r) && s != PGRES_PIPELINE_ABORTED && fail == NULL) {
            fail = r;
        } else if (done == n - 1 && !res_failed(r)) {
            PQclear(last);
            last = r;
        } else {
            PQclear(r);
        }
    }
    if (!PQexitPipelineMode(st->conn))
        drop(st);
    if (fail != NULL || last == NULL) {
        PQclear(last);
        if (fail == NULL)
            store_pg__fail(st, "no result from the database");
        else
            store_pg__fail_res(st, fail);
        return NULL;
    }
    return last;
}

/* Sends the deferred statements and then this one (sql, or prepared id
 * with p) in one pipeline: one round trip. Its result, or NULL with the
 * first error kept. */
static PGresult *
pipe_run(struct store *st, const char *sql, enum pg_stmt_id id,
         const struct pg_params *p)
{
    size_t n = st->npend + 1;
    int ok = PQenterPipelineMode(st->conn);

    for (size_t i = 0; ok && i < st->npend; i++) {
        const struct pg_pend *d = &st->pend[i];
        struct pg_params one = {0};
        if (d->arg != NULL)
            store_pg__p_text(&one, d->arg);
        ok = pipe_send(st, d->id == PG_STMT_COUNT ? d->sql : NULL, d->id,
                       &one);
    }
    store_pg__defer_drop(st);
    if (ok)
        ok = pipe_send(st, sql, id, p) && PQpipelineSync(st->conn);
    if (!ok) {
        /* Half a pipeline queued: the connection is started afresh. */
        store_pg__fail_res(st, NULL);
        drop(st);
        return NULL;
    }
    PGresult *res = pipe_read(st, n);
    if (PQstatus(st->conn) != CONNECTION_OK)
        mark_lost(st);
    return res;
}

/* A statement sent outside a pipeline while libpq is still in pipeline
 * mode is neither synced nor flushed: the server waits for it and kickd
 * for its answer until the deadline. Leaves the mode, or drops the
 * connection: 0 or -1. */
static int
pipe_off(struct store *st)
{
    if (PQpipelineStatus(st->conn) == PQ_PIPELINE_OFF)
        return 0;
    if (PQexitPipelineMode(st->conn))
        return 0;
    drop(st);
    return store_pg__fail(st, "libpq was left in pipeline mode: "
                              "connection dropped");
}

PGresult *
store_pg__query(struct store *st, const char *sql)
{
    if (st->lost) {
        store_pg__defer_drop(st);
        return lost_fail(st), NULL;
    }
    if (st->npend > 0)
        return pipe_run(st, sql, PG_STMT_COUNT, NULL);
    if (pipe_off(st) < 0)
        return NULL;
    return finish_send(st, PQsendQuery(st->conn, sql));
}

void
store_pg__rollback_open(struct store *st)
{
    store_pg__defer_drop(st);
    if (!st->lost && PQtransactionStatus(st->conn) != PQTRANS_IDLE)
        PQclear(store_pg__query(st, "ROLLBACK"));
}

int
store_pg__exec(struct store *st, const char *sql)
{
    PGresult *res = store_pg__query(st, sql);

    PQclear(res);
    return res != NULL ? 0 : -1;
}

PGresult *
store_pg__run(struct store *st, enum pg_stmt_id id, const struct pg_params *p)
{
    char name[16];

    if (!st->in_txn && !st->in_op && store_pg__ready(st) < 0)
        return NULL;
    if (st->lost) {
        store_pg__defer_drop(st);
        return lost_fail(st), NULL;
    }
    if (st->npend > 0)
        return pipe_run(st, NULL, id, p);
    if (pipe_off(st) < 0)
        return NULL;
    snprintf(name, sizeof(name), "k%d", (int)id);
    return finish_send(st, PQsendQueryPrepared(st->conn, name, p->n, p->val,
                                               p->len, p->fmt, 0));
}

int
store_pg__prepare_one(struct store *st, const char *name, const char *sql)
{
    if (st->lost)
        return lost_fail(st);
    PGresult *res =
        finish_send(st, PQsendPrepare(st->conn, name, sql, 0, NULL));
    PQclear(res);
    return res != NULL ? 0 : -1;
}

int
store_pg__session(struct store *st)
{
    /* A commit is durable when it returns (issue 13: the 202 goes out
     * after PostgreSQL's own durable commit), whatever the server's
     * default. */
    if (store_pg__exec(st, "SET synchronous_commit = on") < 0 ||
        store_pg__exec(st, "SET client_min_messages = warning") < 0)
        return -1;
    return 0;
}

int
store_pg__reconnect(struct store *st)
{
    PQreset(st->conn);
    if (PQstatus(st->conn) != CONNECTION_OK) {
        store_pg__fail_res(st, NULL);
        goto fail;
    }
    st->lost = false;
    if (store_pg__session(st) < 0 || store_pg__prepare(st) < 0)
        goto fail;
    st->backoff = PG_BACKOFF_MIN;
    return 0;
fail:
    st->lost = true;
    st->backoff =
        st->backoff * 2 > PG_BACKOFF_MAX ? PG_BACKOFF_MAX : st->backoff * 2;
    st->retry_at = clock_mono_ms() + st->backoff;
    return -1;
}

int
store_pg__ready(struct store *st)
{
    if (!st->lost && PQstatus(st->conn) == CONNECTION_OK)
        return 0;
    mark_lost(st);
    if (st->in_txn)
        return lost_fail(st);
    int64_t left = st->retry_at - clock_mono_ms();
    if (left > 0) {
        snprintf(st->err, sizeof(st->err),
                 "database unavailable; next try in %" PRId64 " ms", left);
        return -1;
    }
    return store_pg__reconnect(st);
}
