/* SPDX-License-Identifier: MIT */
/* Running the PostgreSQL store's statements: parameters in, rows out into
 * struct job, errors kept as one line, and ops made atomic. Connecting,
 * reconnecting with backoff and reading results under a deadline are in
 * store_pg_conn.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

int
store_pg__fail(struct store *st, const char *msg)
{
    snprintf(st->err, sizeof(st->err), "%s", msg);
    return -1;
}

int
store_pg__fail_res(struct store *st, PGresult *res)
{
    const char *m = res ? PQresultErrorMessage(res) : "";

    if (m == NULL || m[0] == '\0')
        m = PQerrorMessage(st->conn);
    snprintf(st->err, sizeof(st->err), "%s", m);
    /* One line: libpq ends its messages with a newline. */
    st->err[strcspn(st->err, "\n")] = '\0';
    PQclear(res);
    return -1;
}

void
store_pg__p_i64(struct pg_params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%" PRId64, v);
    p->val[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

void
store_pg__p_text(struct pg_params *p, const char *v)
{
    p->val[p->n] = v;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

/* Bytes as binary bytea; never NULL (an empty value for none). */
void
store_pg__p_bytes(struct pg_params *p, const char *v, size_t len)
{
    p->val[p->n] = v != NULL ? v : "";
    p->len[p->n] = (int)len;
    p->fmt[p->n++] = 1;
}

/* Runs statement id and returns the rows it changed, or -1. */
int64_t
store_pg__run_changed(struct store *st, enum pg_stmt_id id,
                      const struct pg_params *p)
{
    PGresult *res = store_pg__run(st, id, p);

    if (res == NULL)
        return -1;
    int64_t n = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return n;
}

/* Makes one op atomic: a transaction of its own outside the caller's,
 * else a savepoint in it (PostgreSQL aborts a whole transaction at a
 * failed statement; the savepoint keeps the caller's batch going). */
int
store_pg__op_begin(struct store *st)
{
    if (!st->in_txn && store_pg__ready(st) < 0)
        return -1;
    store_pg__note_mark(st);
    if (store_pg__exec(st, st->in_txn ? "SAVEPOINT store_op" : "BEGIN") < 0)
        return -1;
    /* No reconnection until the op's own transaction ends: a statement
     * after a lost one fails, never runs on a new session. */
    st->in_op = !st->in_txn;
    return 0;
}

/* Ends an op: keeps its work if r >= 0 and returns r, else undoes it and
 * returns -1 with the first error kept. */
int
store_pg__op_end(struct store *st, int r)
{
    char keep[sizeof(st->err)];

    if (r >= 0 && st->in_txn) {
        if (store_pg__exec(st, "RELEASE store_op") == 0)
            return r;
    } else if (r >= 0) {
        /* The op's own transaction: its notices go with its commit. */
        bool ok =
            store_pg__note_send(st) == 0 && store_pg__exec(st, "COMMIT") == 0;
        st->in_op = false;
        if (ok)
            return r;
    }
    memcpy(keep, st->err, sizeof(keep));
    store_pg__note_drop(st, !st->in_txn);
    if (!st->lost)
        PQclear(store_pg__query(st, st->in_txn ? "ROLLBACK TO store_op"
                                               : "ROLLBACK"));
    st->in_op = false;
    memcpy(st->err, keep, sizeof(keep));
    return -1;
}

/* Copies a text column (NULL stays NULL). 0 or -1. */
int
store_pg__col_text(struct store *st, PGresult *res, int row, int col,
                   char **out)
{
    *out = NULL;
    if (PQgetisnull(res, row, col))
        return 0;
    *out = strdup(PQgetvalue(res, row, col));
    return *out != NULL ? 0 : store_pg__fail(st, "out of memory");
}

/* Decodes a bytea column of a text result into malloc'd bytes. */
int
store_pg__col_bytes(struct store *st, PGresult *res, int row, int col,
                    char **out, size_t *len)
{
    unsigned char *b =
        PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), len);

    *out = NULL;
    if (b == NULL)
        return store_pg__fail(st, "out of memory");
    *out = malloc(*len + 1);
    if (*out != NULL) {
        memcpy(*out, b, *len);
        (*out)[*len] = '\0';
    }
    PQfreemem(b);
    return *out != NULL ? 0 : store_pg__fail(st, "out of memory");
}

int64_t
store_pg__col_i64(PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Fills j (cleared first) from row of a PG_JOB_COLS result. 0 or -1. */
int
store_pg__row_job(struct store *st, PGresult *res, int row, struct job *j)
{
    memset(j, 0, sizeof(*j));
    j->id = store_pg__col_i64(res, row, 0);
    j->state = (enum job_state)store_pg__col_i64(res, row, 2);
    j->connection_status = (int)store_pg__col_i64(res, row, 3);
    j->attempt = (int)store_pg__col_i64(res, row, 4);
    j->max_attempts = (int)store_pg__col_i64(res, row, 5);
    j->exit_status = (int)store_pg__col_i64(res, row, 6);
    j->term_signal = (int)store_pg__col_i64(res, row, 7);
    j->progress = (int)store_pg__col_i64(res, row, 8);
    j->created_at = store_pg__col_i64(res, row, 11);
    j->run_at = store_pg__col_i64(res, row, 12);
    j->started_at = store_pg__col_i64(res, row, 13);
    j->finished_at = store_pg__col_i64(res, row, 14);
    j->interruptions = (int)store_pg__col_i64(res, row, 16);
    j->response_status = (int)store_pg__col_i64(res, row, 17);
    j->output_size = store_pg__col_i64(res, row, 19);
    j->earlier_attempts = (int)store_pg__col_i64(res, row, 20);
    if (store_pg__col_text(st, res, row, 1, &j->route) < 0 ||
        store_pg__col_text(st, res, row, 9, &j->progress_msg) < 0 ||
        store_pg__col_text(st, res, row, 10, &j->idem_key) < 0 ||
        store_pg__col_text(st, res, row, 15, &j->error) < 0 ||
        store_pg__col_text(st, res, row, 18, &j->response_type) < 0) {
        job_clear(j);
        return -1;
    }
    return 0;
}
