/* SPDX-License-Identifier: MIT */
/* The PostgreSQL job store (issue 13): store_ops on libpq, on the store
 * thread like the SQLite backend, with the statements prepared at open;
 * a store several kickd nodes share (docs/postgresql.md): owners and
 * leases, fenced ends, notices at commit (store_pg_notify.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kick_limits.h"
#include "store_pg_internal.h"

static int
pg_open(struct store **out, const char *uri, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->backoff = 100;
    st->conn = store_pg__connect(uri);
    if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
        store_pg__fail_res(st, NULL);
        goto fail;
    }
    if (store_pg__session(st) < 0 || store_pg__schema(st) < 0)
        goto fail;
    *out = st;
    return 0;
fail:
    /* The URI may hold a password: the error names the backend only. */
    snprintf(err, errlen, "postgresql: %s", st->err);
    PQfinish(st->conn);
    store_pg__note_free(st);
    free(st);
    return -1;
}

static void
pg_close(struct store *st)
{
    if (st == NULL)
        return;
    PQfinish(st->conn);
    store_pg__note_free(st);
    store_pg__defer_drop(st);
    free(st->pend);
    for (size_t i = 0; i < st->nlimited; i++)
        free(st->limited[i]);
    free(st->limited);
    free(st);
}

/* The BEGIN goes out with the batch's first statement. */
static int
pg_begin(struct store *st)
{
    store_pg__note_drop(st, true);
    store_pg__defer_drop(st);
    if (store_pg__ready(st) < 0 || store_pg__defer(st, "BEGIN") < 0)
        return -1;
    st->in_txn = true;
    return 0;
}

static int
pg_commit(struct store *st)
{
    int r = store_pg__commit(st);

    st->in_txn = false;
    return r;
}

/* Nothing to undo on a lost connection (the server ended the
 * transaction with it) or when the BEGIN never went out. */
static int
pg_rollback(struct store *st)
{
    st->in_txn = false;
    store_pg__note_drop(st, true);
    store_pg__rollback_open(st);
    return 0;
}

/* Loads job id into out (with its request: one statement, one moment):
 * 0, 1 if there is none, -1. */
static int
load_job(struct store *st, int64_t id, bool with_request, struct job *out)
{
    struct pg_params p = {0};
    PGresult *res;
    int rc;

    memset(out, 0, sizeof(*out));
    store_pg__p_i64(&p, id);
    res = store_pg__run(st, with_request ? PG_GET_REQ : PG_GET, &p);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 1;
    }
    rc = store_pg__row_job(st, res, 0, out);
    if (rc == 0 && with_request && store_pg__row_request(st, res, 0, out) < 0)
        rc = -1;
    PQclear(res);
    if (rc < 0)
        job_clear(out);
    return rc;
}

/* One statement inserts the job and its request; no row if the
 * Idempotency-Key was taken (ON CONFLICT DO NOTHING waited for the
 * transaction that took it, on this node or another). */
static int
insert_job(struct store *st, struct job *j, bool *existed)
{
    struct pg_params p = {0};
    PGresult *res;

    store_pg__p_text(&p, j->route);
    store_pg__p_i64(&p, j->max_attempts);
    store_pg__p_text(&p, j->idem_key);
    store_pg__p_i64(&p, j->created_at);
    store_pg__p_i64(&p, j->run_at);
    store_pg__p_bytes(&p, j->head, j->head_len);
    store_pg__p_bytes(&p, j->body, j->body_len);
    store_pg__p_text(&p, j->remote_addr);
    store_pg__p_i64(&p, j->remote_port);
    if ((res = store_pg__run(st, PG_INSERT, &p)) == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        p.n = 0;
        store_pg__p_text(&p, j->route);
        store_pg__p_text(&p, j->idem_key);
        if ((res = store_pg__run(st, PG_IDEM_FIND, &p)) == NULL)
            return -1;
        if (PQntuples(res) != 1) {
            PQclear(res);
            return store_pg__fail(st, "idempotency key without its job");
        }
        j->id = store_pg__col_i64(res, 0, 0);
        *existed = true;
        PQclear(res);
        return 0;
    }
    int64_t id = store_pg__col_i64(res, 0, 0);
    PQclear(res);
    if (store_pg__note_due(st, j->route, j->run_at) < 0)
        return -1;
    job_inserted(j, id);
    return 0;
}

static int
pg_insert(struct store *st, struct job *j, bool *existed)
{
    *existed = false;
    if (j->route == NULL)
        return store_pg__fail(st, "job without a route");
    if (store_pg__op_begin(st) < 0)
        return -1;
    return store_pg__op_end(st, insert_job(st, j, existed));
}

/* $1-$4 of PG_CLAIM and PG_CLAIM_N: the route, now, this node and its
 * lease (none before join). */
static void
claim_params(struct store *st, struct pg_params *p, const char *route,
             int64_t now)
{
    store_pg__p_text(p, route);
    store_pg__p_i64(p, now);
    store_pg__p_text(p, store_pg__node(st));
    store_pg__p_i64(p, store_pg__node(st) ? st->lease_ms : 0);
}

static int
claim_job(struct store *st, const char *route, int64_t now, int limit,
          struct job *out)
{
    struct pg_params p = {0};
    PGresult *res;

    if (limit > 0) {
        int got;
        if (store_pg__limited_add(st, route) < 0 ||
            (got = store_pg__lock_route(st, route)) < 0)
            return -1;
        if (got == 0)
            return 2; /* another node is claiming of the route now */
    }
    claim_params(st, &p, route, now);
    store_pg__p_i64(&p, limit > 0 ? limit : 0);
    /* The claimed job comes back with its request. */
    if ((res = store_pg__run(st, PG_CLAIM, &p)) == NULL)
        return -1;
    int rc = PQntuples(res) == 0 ? 0 : 1;
    if (rc == 1 && (store_pg__row_job(st, res, 0, out) < 0 ||
                    store_pg__row_request(st, res, 0, out) < 0)) {
        job_clear(out);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* In the SQLite backend's order: by run_at, then id (see sqlite_claim).
 * With a limit, one node at a time counts the route's running jobs and
 * claims (the route's advisory lock, held to the end of the caller's
 * transaction). */
static int
pg_claim(struct store *st, const char *route, int64_t now, int limit,
         struct job *out)
{
    memset(out, 0, sizeof(*out));
    if (store_pg__op_begin(st) < 0)
        return -1;
    return store_pg__op_end(st, claim_job(st, route, now, limit, out));
}

static int
claim_n(struct store *st, const char *route, int64_t now, int n,
        struct job *out, int *got)
{
    struct pg_params p = {0};
    PGresult *res;

    claim_params(st, &p, route, now);
    store_pg__p_i64(&p, n);
    if ((res = store_pg__run(st, PG_CLAIM_N, &p)) == NULL)
        return -1;
    int rows = PQntuples(res), rc = 0;
    if (rows > n)
        rc = store_pg__fail(st, "more jobs claimed than asked for");
    for (int i = 0; rc == 0 && i < rows; i++) {
        if (store_pg__row_job(st, res, i, &out[i]) < 0 ||
            store_pg__row_request(st, res, i, &out[i]) < 0) {
            job_clear(&out[i]);
            rc = -1;
            break;
        }
        *got = i + 1;
    }
    PQclear(res);
    return rc; /* on failure out[0..*got) is the caller's to clear */
}

static int
pg_claim_n(struct store *st, const char *route, int64_t now, int n,
           struct job *out, int *got)
{
    *got = 0;
    if (store_pg__op_begin(st) < 0)
        return -1;
    if (store_pg__op_end(st, claim_n(st, route, now, n, out, got)) < 0) {
        for (int i = 0; i < *got; i++)
            job_clear(&out[i]); /* read, then undone */
        *got = 0;
        return -1;
    }
    return 0;
}

/* One statement: the size first (it says whether the job is this
 * node's), the bytes and the cap. */
static int
output_append(struct store *st, int64_t id, const char *data, size_t len,
              size_t cap, int64_t skipped)
{
    struct pg_params p = {0};
    int64_t n;

    store_pg__p_i64(&p, id);
    store_pg__p_i64(&p, (int64_t)len + skipped);
    store_pg__p_text(&p, store_pg__node(st));
    store_pg__p_bytes(&p, data, len);
    store_pg__p_i64(&p, (int64_t)cap);
    if ((n = store_pg__run_changed(st, PG_OUT_ADD, &p)) < 0)
        return -1;
    if (n == 0)
        return store_pg__fail(st, store_pg__node(st)
                                      ? "no such job on this node"
                                      : "no such job");
    return 0;
}

static int
pg_output_append(struct store *st, int64_t id, const char *data, size_t len,
                 size_t cap, int64_t skipped)
{
    if (store_pg__op_begin(st) < 0)
        return -1;
    return store_pg__op_end(st, output_append(st, id, data, len, cap, skipped));
}

/* The notices of an end: a final state is an "e"; queued again is a
 * "d" at its run_at; the end of a job of a route claimed here with a
 * limit frees a place: a "d" now. */
static int
finish_notes(struct store *st, int64_t id, const char *route,
             const struct job_end *e)
{
    int64_t now = e->now;

    if (now == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    if (e->state != JOB_QUEUED && store_pg__note_line(st, 'e', id) < 0)
        return -1;
    if (e->state == JOB_QUEUED &&
        store_pg__note_due(st, route, e->requeue_at) < 0)
        return -1;
    if ((e->limit > 0 || store_pg__is_limited(st, route)) &&
        store_pg__note_due(st, route, now) < 0)
        return -1;
    return 0;
}

/* The end first: if the job is not running (or, fenced by e->attempt,
 * not that run of this node's) nothing is written, and the output is
 * kept only with the end it belongs to; one statement (PG_FINISH). */
static int
finish_job(struct store *st, int64_t id, const struct job_end *e)
{
    struct pg_params p = {0};
    PGresult *res;
    bool out = e->output_len > 0 || e->output_skipped > 0;

    store_pg__p_i64(&p, id);
    store_pg__p_i64(&p, e->state);
    store_pg__p_i64(&p, e->connection_status);
    store_pg__p_i64(&p, e->exit_status);
    store_pg__p_i64(&p, e->term_signal);
    store_pg__p_i64(&p, e->state == JOB_QUEUED ? e->requeue_at : e->now);
    store_pg__p_text(&p, e->error);
    store_pg__p_i64(&p, e->interrupted);
    store_pg__p_i64(&p, e->response_status);
    store_pg__p_text(&p, e->response_type);
    store_pg__p_i64(&p, e->attempt);
    store_pg__p_text(&p, store_pg__node(st));
    store_pg__p_bytes(&p, out ? e->output : NULL, out ? e->output_len : 0);
    store_pg__p_i64(&p, out ? (int64_t)e->output_len + e->output_skipped : 0);
    store_pg__p_i64(&p, (int64_t)e->output_cap);
    res =
        store_pg__run(st, e->state == JOB_QUEUED ? PG_REQUEUE : PG_FINISH, &p);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 1;
    }
    /* Output for a job of another node (an end not fenced): undone. */
    bool mine = PQgetvalue(res, 0, 1)[0] == 't';
    int r = out && !mine ? store_pg__fail(st, "no such job on this node")
                         : finish_notes(st, id, PQgetvalue(res, 0, 0), e);
    PQclear(res);
    return r < 0 ? -1 : 0;
}

static int
pg_finish(struct store *st, int64_t id, const struct job_end *e)
{
    if (e->state == JOB_RUNNING || job_state_name(e->state) == NULL)
        return store_pg__fail(st, "finish with a state that is not an end");
    if (store_pg__op_begin(st) < 0)
        return -1;
    return store_pg__op_end(st, finish_job(st, id, e));
}

static int
pg_set_owner(struct store *st, int64_t id, const struct job_owner *o)
{
    struct pg_params p = {0};

    store_pg__p_i64(&p, id);
    store_pg__p_text(&p, o->node[0] != '\0' ? o->node : NULL);
    store_pg__p_i64(&p, o->pgid);
    store_pg__p_i64(&p, o->start);
    store_pg__p_text(&p, o->boot[0] != '\0' ? o->boot : NULL);
    store_pg__p_text(&p, store_pg__node(st));
    int64_t n = store_pg__run_changed(st, PG_OWN, &p);
    return n < 0 ? -1 : n == 0;
}

/* A queued job is canceled here ("e"); a job running on another node is
 * that node's to end ("c", answer 2); one running here is the caller's
 * (1, as for an ended job or none). */
static int
cancel_job(struct store *st, int64_t id, int64_t now)
{
    struct pg_params p = {0};
    PGresult *res;
    int64_t n;

    store_pg__p_i64(&p, id);
    store_pg__p_i64(&p, now);
    if ((n = store_pg__run_changed(st, PG_CANCEL, &p)) != 0)
        return n < 0 ? -1 : store_pg__note_line(st, 'e', id);
    if (store_pg__node(st) == NULL)
        return 1;
    p.n = 1;
    if ((res = store_pg__run(st, PG_RUNNER, &p)) == NULL)
        return -1;
    bool elsewhere =
        PQntuples(res) == 1 && (PQgetisnull(res, 0, 0) ||
                                strcmp(PQgetvalue(res, 0, 0), st->node) != 0);
    PQclear(res);
    if (!elsewhere)
        return 1;
    return store_pg__note_line(st, 'c', id) < 0 ? -1 : 2;
}

static int
pg_cancel(struct store *st, int64_t id, int64_t now)
{
    if (store_pg__op_begin(st) < 0)
        return -1;
    return store_pg__op_end(st, cancel_job(st, id, now));
}

static int
pg_get(struct store *st, int64_t id, bool with_request, struct job *out)
{
    return load_job(st, id, with_request, out);
}

static int
pg_list(struct store *st, const struct job_filter *f, struct job **out,
        size_t *n)
{
    struct pg_params p = {0};
    PGresult *res;

    *out = NULL;
    *n = 0;
    store_pg__p_i64(&p, f->after);
    store_pg__p_i64(&p, f->limit);
    store_pg__p_text(&p, f->route);
    store_pg__p_i64(&p, f->state);
    store_pg__p_i64(&p, f->before > 0 ? f->before : INT64_MAX);
    store_pg__p_i64(&p, f->created_from);
    store_pg__p_i64(&p, f->created_until > 0 ? f->created_until : INT64_MAX);
    store_pg__p_text(&p, f->desc ? "true" : "false");
    if ((res = store_pg__run(st, PG_LIST, &p)) == NULL)
        return -1;
    int rows = PQntuples(res);
    if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL) {
        PQclear(res);
        return store_pg__fail(st, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        if (store_pg__row_job(st, res, i, &(*out)[i]) < 0) {
            for (size_t k = 0; k < *n; k++)
                job_clear(&(*out)[k]);
            free(*out);
            *out = NULL;
            *n = 0;
            PQclear(res);
            return -1;
        }
        (*n)++;
    }
    PQclear(res);
    return 0;
}

static int
output_get(struct store *st, int64_t id, char **data, size_t *len,
           struct job *job)
{
    struct pg_params p = {0};
    PGresult *res;
    int rc = load_job(st, id, false, job);

    if (rc != 0)
        return rc;
    store_pg__p_i64(&p, id);
    if ((res = store_pg__run(st, PG_OUT_ALL, &p)) == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        char *chunk;
        size_t clen;
        if (store_pg__col_bytes(st, res, i, 0, &chunk, &clen) < 0)
            goto fail;
        char *grown = realloc(*data, *len + clen + 1);
        if (grown == NULL) {
            free(chunk);
            store_pg__fail(st, "out of memory");
            goto fail;
        }
        memcpy(grown + *len, chunk, clen);
        *len += clen;
        grown[*len] = '\0';
        *data = grown;
        free(chunk);
    }
    PQclear(res);
    return 0;
fail:
    PQclear(res);
    free(*data);
    *data = NULL;
    *len = 0;
    return -1;
}

static int
pg_output_get(struct store *st, int64_t id, char **data, size_t *len,
              struct job *job)
{
    struct job scratch = {0};

    *data = NULL;
    *len = 0;
    if (store_pg__op_begin(st) < 0)
        return -1;
    int rc = output_get(st, id, data, len, job ? job : &scratch);
    job_clear(&scratch);
    if (rc != 0 && job)
        job_clear(job);
    return store_pg__op_end(st, rc);
}

static int
pg_set_progress(struct store *st, int64_t id, int percent, const char *msg)
{
    struct pg_params p = {0};

    store_pg__p_i64(&p, id);
    store_pg__p_i64(&p, percent);
    store_pg__p_text(&p, msg);
    store_pg__p_text(&p, store_pg__node(st));
    int64_t n = store_pg__run_changed(st, PG_PROGRESS, &p);
    return n < 0 ? -1 : n == 0;
}

static int
pg_counts(struct store *st, struct job_count **out, size_t *n)
{
    struct pg_params p = {0};
    PGresult *res;

    *out = NULL;
    *n = 0;
    if (store_pg__op_begin(st) < 0)
        return -1;
    if (store_pg__op_end(
            st, store_pg__run_changed(st, PG_COUNTS_FOLD, &p) < 0 ? -1 : 0) < 0)
        return -1;
    if ((res = store_pg__run(st, PG_COUNTS, &p)) == NULL)
        return -1;
    int rows = PQntuples(res);
    if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL) {
        PQclear(res);
        return store_pg__fail(st, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        struct job_count *c = &(*out)[i];
        c->state = (enum job_state)store_pg__col_i64(res, i, 1);
        c->count = store_pg__col_i64(res, i, 2);
        if (store_pg__col_text(st, res, i, 0, &c->route) < 0) {
            for (int k = 0; k < i; k++)
                free((*out)[k].route);
            free(*out);
            *out = NULL;
            PQclear(res);
            return -1;
        }
        *n = (size_t)i + 1;
    }
    PQclear(res);
    return 0;
}

/* The job is queued again only if it has ended (state >= 2); else
 * whether it exists tells 1 from 2. */
static int
retry_job(struct store *st, int64_t id, int64_t now, int max_attempts)
{
    struct pg_params p = {0};
    PGresult *res;

    store_pg__p_i64(&p, id);
    store_pg__p_i64(&p, now);
    store_pg__p_i64(&p, max_attempts);
    if ((res = store_pg__run(st, PG_RETRY, &p)) == NULL)
        return -1;
    if (PQntuples(res) == 1) {
        int r = store_pg__note_due(st, PQgetvalue(res, 0, 0), now);
        PQclear(res);
        return r;
    }
    PQclear(res);
    p.n = 1;
    if ((res = store_pg__run(st, PG_EXISTS, &p)) == NULL)
        return -1;
    int r = PQntuples(res) > 0 ? 2 : 1;
    PQclear(res);
    return r;
}

static int
pg_retry(struct store *st, int64_t id, int64_t now, int max_attempts)
{
    if (store_pg__op_begin(st) < 0)
        return -1;
    return store_pg__op_end(st, retry_job(st, id, now, max_attempts));
}

static int
pg_delete(struct store *st, int64_t id)
{
    struct pg_params p = {0};

    store_pg__p_i64(&p, id);
    int64_t n = store_pg__run_changed(st, PG_DELETE, &p);
    return n < 0 ? -1 : n == 0;
}

static int
prune(struct store *st, const char *route, int64_t before, int limit,
      int64_t *deleted, int64_t *oldest)
{
    struct pg_params p = {0};
    PGresult *res;

    store_pg__p_text(&p, route);
    store_pg__p_i64(&p, before);
    store_pg__p_i64(&p, limit);
    if ((*deleted = store_pg__run_changed(st, PG_PRUNE, &p)) < 0)
        return -1;
    p.n = 1;
    if ((res = store_pg__run(st, PG_ENDED_OLDEST, &p)) == NULL)
        return -1;
    if (PQntuples(res) > 0)
        *oldest = store_pg__col_i64(res, 0, 0);
    PQclear(res);
    return 0;
}

static int
pg_prune(struct store *st, const char *route, int64_t before, int limit,
         int64_t *deleted, int64_t *oldest)
{
    *deleted = 0;
    *oldest = 0;
    if (store_pg__op_begin(st) < 0)
        return -1;
    int r =
        store_pg__op_end(st, prune(st, route, before, limit, deleted, oldest));
    if (r < 0)
        *deleted = *oldest = 0;
    return r;
}

static int
pg_due_routes(struct store *st, int64_t now, char ***routes, size_t *n)
{
    struct pg_params p = {0};
    PGresult *res;

    *routes = NULL;
    *n = 0;
    store_pg__p_i64(&p, now);
    if ((res = store_pg__run(st, PG_DUE_ROUTES, &p)) == NULL)
        return -1;
    int rows = PQntuples(res);
    if (rows > 0 && (*routes = calloc((size_t)rows, sizeof(char *))) == NULL)
        goto oom;
    for (int i = 0; i < rows; i++) {
        if (((*routes)[i] = strdup(PQgetvalue(res, i, 0))) == NULL)
            goto oom;
        *n = (size_t)i + 1;
    }
    PQclear(res);
    return 0;
oom:
    for (size_t k = 0; k < *n; k++)
        free((*routes)[k]);
    free(*routes);
    *routes = NULL;
    *n = 0;
    PQclear(res);
    return store_pg__fail(st, "out of memory");
}

static int
pg_next_run_at(struct store *st, int64_t now, int64_t *when)
{
    struct pg_params p = {0};
    PGresult *res;

    *when = 0;
    store_pg__p_i64(&p, now);
    if ((res = store_pg__run(st, PG_NEXT_RUN_AT, &p)) == NULL)
        return -1;
    *when = store_pg__col_i64(res, 0, 0);
    PQclear(res);
    return 0;
}

static const char *
pg_error(struct store *st)
{
    return st->err;
}

static const char *
pg_id(struct store *st)
{
    return st->id;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    /* Each op of a batch runs in a savepoint, and a writing one's
     * subtransaction counts against the transaction's cache of 64
     * (PGPROC_MAX_CACHED_SUBXIDS) until the commit: past it, every
     * snapshot on the server, other nodes' too, looks subtransactions up
     * in pg_subtrans. 60 triggers still share one commit. */
    .batch_max = 60,
    .lanes = STORE_PG_LANES,
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .sync = NULL,
    .rollback = pg_rollback,
    .insert = pg_insert,
    .claim = pg_claim,
    .claim_n = pg_claim_n,
    .finish = pg_finish,
    .set_owner = pg_set_owner,
    .cancel = pg_cancel,
    .retry = pg_retry,
    .delete = pg_delete,
    .prune = pg_prune,
    .get = pg_get,
    .list = pg_list,
    .output_append = pg_output_append,
    .output_get = pg_output_get,
    .set_progress = pg_set_progress,
    .orphans = store_pg__orphans,
    .due_routes = pg_due_routes,
    .next_run_at = pg_next_run_at,
    .counts = pg_counts,
    .error = pg_error,
    .id = pg_id,
    .join = store_pg__join,
    .renew = store_pg__renew,
    .listen_open = store_pg__listen_open,
    .listen_wait = store_pg__listen_wait,
    .listen_close = pg_close,
};
