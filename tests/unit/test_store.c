/* SPDX-License-Identifier: MIT */
/* Unit tests of the store interface, written against struct store_ops
 * only: every backend in the table below runs the same suite, each test on
 * a fresh store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "store.h"

/* The SQLite schema version the store must leave a file at: bump it with
 * each migration added to store_sqlite_schema.c. */
#define SQLITE_SCHEMA_VERSION 4

/* A backend under test: how to name a fresh store for a test, and an
 * optional check of its schema version (-1 if it cannot tell). */
struct backend {
    const char *name;
    const struct store_ops *(*ops)(void);
    void (*fresh_uri)(char *buf, size_t len);
    int (*schema_version)(const char *uri);
    int want_version;
};

static char tmpdir[] = "/tmp/test_store.XXXXXX";

static const struct store_ops *
sqlite_ops(void)
{
    return &store_sqlite_ops;
}

static void
sqlite_fresh_uri(char *buf, size_t len)
{
    static int n;

    snprintf(buf, len, "%s/t%d.db", tmpdir, ++n);
}

static int
sqlite_schema_version(const char *uri)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int v = -1;

    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return v;
}

/* The PostgreSQL schema version (store_pg_schema.c's migrations). */
#define PG_SCHEMA_VERSION 2

static const struct store_ops *
pg_ops(void)
{
    return &store_pg_ops;
}

/* A fresh PostgreSQL store per test: a schema of its own in the database
 * of KICK_TEST_DB (tests/unit/pg_cluster.sh starts a throwaway cluster),
 * named in the URI through the connection's search_path. */
static void
pg_fresh_uri(char *buf, size_t len)
{
    static int n;
    const char *base = getenv("KICK_TEST_DB");
    char sql[96], schema[48];
    PGconn *c = PQconnectdb(base);

    snprintf(schema, sizeof(schema), "t%ld_%d", (long)getpid(), ++n);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("%s: %s", base, PQerrorMessage(c));
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
    snprintf(buf, len, "%s%soptions=-csearch_path%%3D%s", base,
             strchr(base, '?') ? "&" : "?", schema);
}

static int
pg_schema_version(const char *uri)
{
    PGconn *c = PQconnectdb(uri);
    int v = -1;

    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *res = PQexec(c, "SELECT value FROM meta"
                                  " WHERE key = 'schema_version'");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            v = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    PQfinish(c);
    return v;
}

/* The PostgreSQL entry runs only with KICK_TEST_DB set (main). */
static const struct backend backends[] = {
    {"sqlite", sqlite_ops, sqlite_fresh_uri, sqlite_schema_version,
     SQLITE_SCHEMA_VERSION},
    {"postgresql", pg_ops, pg_fresh_uri, pg_schema_version, PG_SCHEMA_VERSION},
};

static const struct backend *cur;

struct fix {
    const struct store_ops *ops;
    struct store *st;
    char uri[512];
};

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    char err[256] = "";

    assert_non_null(f);
    f->ops = cur->ops();
    cur->fresh_uri(f->uri, sizeof(f->uri));
    if (f->ops->open(&f->st, f->uri, err, sizeof(err)) != 0)
        fail_msg("open %s: %s", f->uri, err);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;

    f->ops->close(f->st);
    free(f);
    return 0;
}

static void
reopen_closed(struct fix *f)
{
    char err[256] = "";

    if (f->ops->open(&f->st, f->uri, err, sizeof(err)) != 0)
        fail_msg("reopen %s: %s", f->uri, err);
}

static void
reopen(struct fix *f)
{
    f->ops->close(f->st);
    f->st = NULL;
    reopen_closed(f);
}

/* Adds a job of route due at run_at (created then too); returns its id. */
static int64_t
add(struct fix *f, const char *route, const char *key, int64_t run_at,
    int max_attempts, bool *existed)
{
    struct job j = {0};
    bool ex = false;

    j.route = (char *)route;
    j.idem_key = (char *)key;
    j.max_attempts = max_attempts;
    j.created_at = run_at;
    j.run_at = run_at;
    j.head = (char *)"POST /x HTTP/1.1\r\n\r\n";
    j.head_len = strlen(j.head);
    if (f->ops->insert(f->st, &j, &ex) != 0)
        fail_msg("insert: %s", f->ops->error(f->st));
    if (existed != NULL)
        *existed = ex;
    assert_true(j.id > 0);
    return j.id;
}

static void
get(struct fix *f, int64_t id, struct job *j)
{
    assert_int_equal(f->ops->get(f->st, id, false, j), 0);
}

static void
test_roundtrip(void **state)
{
    struct fix *f = *state;
    static const char head[] = "POST /a HTTP/1.1\r\nX: \0y\r\n\r\n";
    static const char body[] = "\0\1\2binary\0\xff";
    struct job j = {0}, g;
    bool existed = true;

    j.route = (char *)"/a";
    j.max_attempts = 3;
    j.created_at = 1000;
    j.run_at = 1500;
    j.head = (char *)head;
    j.head_len = sizeof(head) - 1;
    j.body = (char *)body;
    j.body_len = sizeof(body) - 1;
    j.remote_addr = (char *)"::1";
    j.remote_port = 54321;
    assert_int_equal(f->ops->insert(f->st, &j, &existed), 0);
    assert_false(existed);
    assert_true(j.id > 0);

    assert_int_equal(f->ops->get(f->st, j.id, true, &g), 0);
    assert_int_equal(g.id, j.id);
    assert_string_equal(g.route, "/a");
    assert_int_equal(g.state, JOB_QUEUED);
    assert_int_equal(g.connection_status, 0);
    assert_int_equal(g.attempt, 0);
    assert_int_equal(g.max_attempts, 3);
    assert_int_equal(g.exit_status, -1);
    assert_int_equal(g.term_signal, 0);
    assert_int_equal(g.progress, -1);
    assert_null(g.progress_msg);
    assert_null(g.idem_key);
    assert_int_equal(g.created_at, 1000);
    assert_int_equal(g.run_at, 1500);
    assert_int_equal(g.started_at, 0);
    assert_int_equal(g.finished_at, 0);
    assert_int_equal(g.head_len, sizeof(head) - 1);
    assert_memory_equal(g.head, head, sizeof(head) - 1);
    assert_int_equal(g.body_len, sizeof(body) - 1);
    assert_memory_equal(g.body, body, sizeof(body) - 1);
    assert_string_equal(g.remote_addr, "::1");
    assert_int_equal(g.remote_port, 54321);
    job_clear(&g);

    /* Without the request; an empty body comes back empty. */
    get(f, j.id, &g);
    assert_null(g.head);
    assert_null(g.body);
    assert_null(g.remote_addr);
    job_clear(&g);
    j.body = NULL;
    j.body_len = 0;
    j.remote_addr = NULL;
    assert_int_equal(f->ops->insert(f->st, &j, &existed), 0);
    assert_int_equal(f->ops->get(f->st, j.id, true, &g), 0);
    assert_int_equal(g.body_len, 0);
    assert_non_null(g.body);
    assert_null(g.remote_addr);
    job_clear(&g);

    assert_int_equal(f->ops->get(f->st, j.id + 100, true, &g), 1);
}

static void
test_ids_increase(void **state)
{
    struct fix *f = *state;
    int64_t last = 0;

    for (int i = 0; i < 20; i++) {
        int64_t id = add(f, i % 2 ? "/a" : "/b", NULL, 1, 1, NULL);
        assert_true(id > last);
        last = id;
    }
    reopen(f);
    assert_true(add(f, "/a", NULL, 1, 1, NULL) > last);
}

static void
test_idempotency(void **state)
{
    struct fix *f = *state;
    bool existed;
    int64_t a = add(f, "/a", "k1", 1, 1, &existed);

    assert_false(existed);
    assert_int_equal(add(f, "/a", "k1", 2, 1, &existed), a);
    assert_true(existed);
    int64_t b = add(f, "/b", "k1", 1, 1, &existed);
    assert_false(existed);
    assert_true(b != a);
    int64_t c = add(f, "/a", "k2", 1, 1, &existed);
    assert_false(existed);
    assert_true(c != a && c != b);
    /* Jobs without a key are never merged. */
    int64_t d = add(f, "/a", NULL, 1, 1, &existed);
    assert_false(existed);
    assert_true(add(f, "/a", NULL, 1, 1, &existed) != d);
    assert_false(existed);

    struct job *jobs;
    size_t n;
    struct job_filter flt = {.state = -1, .route = "/a", .limit = 100};
    assert_int_equal(f->ops->list(f->st, &flt, &jobs, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        job_clear(&jobs[i]);
    free(jobs);
}

static int64_t
claim(struct fix *f, const char *route, int64_t now)
{
    struct job j;
    int r = f->ops->claim(f->st, route, now, 0, &j);

    if (r < 0)
        fail_msg("claim: %s", f->ops->error(f->st));
    if (r == 0)
        return 0;
    int64_t id = j.id;
    job_clear(&j);
    return id;
}

static void
test_claim_fifo(void **state)
{
    struct fix *f = *state;
    int64_t a1 = add(f, "/a", NULL, 10, 1, NULL);
    int64_t b1 = add(f, "/b", NULL, 10, 1, NULL);
    int64_t a2 = add(f, "/a", NULL, 10, 1, NULL);
    int64_t a3 = add(f, "/a", NULL, 11, 1, NULL);

    assert_int_equal(claim(f, "/a", 100), a1);
    assert_int_equal(claim(f, "/a", 100), a2);
    assert_int_equal(claim(f, "/a", 100), a3);
    assert_int_equal(claim(f, "/a", 100), 0);
    assert_int_equal(claim(f, "/c", 100), 0);
    assert_int_equal(claim(f, "/b", 100), b1);
    assert_int_equal(claim(f, "/b", 100), 0);
}

static void
free_routes(char **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i]);
    free(r);
}

static void
test_claim_delay(void **state)
{
    struct fix *f = *state;
    char **routes;
    size_t n;
    int64_t when;

    assert_int_equal(f->ops->next_run_at(f->st, 0, &when), 0);
    assert_int_equal(when, 0);
    assert_int_equal(f->ops->due_routes(f->st, 0, &routes, &n), 0);
    assert_int_equal(n, 0);
    free_routes(routes, n);

    int64_t late = add(f, "/a", NULL, 5000, 1, NULL);
    int64_t b = add(f, "/b", NULL, 3000, 1, NULL);
    assert_int_equal(f->ops->next_run_at(f->st, 1000, &when), 0);
    assert_int_equal(when, 3000);
    assert_int_equal(f->ops->due_routes(f->st, 1000, &routes, &n), 0);
    assert_int_equal(n, 0);
    free_routes(routes, n);
    assert_int_equal(claim(f, "/a", 1000), 0);

    /* A job due now on /a is taken before the delayed one. */
    int64_t now = add(f, "/a", NULL, 1000, 1, NULL);
    /* Only what is not due yet says when to look again: a due job that
     * waits (its route at its limit) would have the caller look again
     * at once, in a loop. */
    assert_int_equal(f->ops->next_run_at(f->st, 999, &when), 0);
    assert_int_equal(when, 1000);
    assert_int_equal(f->ops->next_run_at(f->st, 1000, &when), 0);
    assert_int_equal(when, 3000);
    assert_int_equal(f->ops->next_run_at(f->st, 3000, &when), 0);
    assert_int_equal(when, 5000);
    assert_int_equal(f->ops->due_routes(f->st, 3000, &routes, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(routes[0], "/a");
    assert_string_equal(routes[1], "/b");
    free_routes(routes, n);
    assert_int_equal(claim(f, "/a", 4999), now);
    assert_int_equal(claim(f, "/a", 4999), 0);
    assert_int_equal(claim(f, "/b", 3000), b);

    assert_int_equal(f->ops->due_routes(f->st, 4999, &routes, &n), 0);
    assert_int_equal(n, 0);
    free_routes(routes, n);
    assert_int_equal(f->ops->next_run_at(f->st, 4999, &when), 0);
    assert_int_equal(when, 5000);
    assert_int_equal(f->ops->next_run_at(f->st, 5000, &when), 0);
    assert_int_equal(when, 0);
    assert_int_equal(f->ops->due_routes(f->st, 5000, &routes, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(routes[0], "/a");
    free_routes(routes, n);
    assert_int_equal(claim(f, "/a", 5000), late);
    assert_int_equal(f->ops->next_run_at(f->st, 0, &when), 0);
    assert_int_equal(when, 0);
}

static void
test_claim_marks_running(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", NULL, 10, 2, NULL);
    struct job j;

    assert_int_equal(f->ops->claim(f->st, "/a", 77, 0, &j), 1);
    assert_int_equal(j.id, id);
    assert_int_equal(j.state, JOB_RUNNING);
    assert_int_equal(j.attempt, 1);
    assert_int_equal(j.started_at, 77);
    assert_non_null(j.head);
    assert_string_equal(j.head, "POST /x HTTP/1.1\r\n\r\n");
    assert_non_null(j.body);
    assert_int_equal(j.body_len, 0);
    job_clear(&j);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_RUNNING);
    assert_int_equal(j.attempt, 1);
    job_clear(&j);
}

/* finish with the statuses of an end, queued again when requeue_at > 0. */
static int
fin(struct fix *f, int64_t id, enum job_state state, int cs, int exit_status,
    int term_signal, int64_t now, int64_t requeue_at)
{
    struct job_end e = {
        .state = requeue_at > 0 ? JOB_QUEUED : state,
        .connection_status = cs,
        .exit_status = exit_status,
        .term_signal = term_signal,
        .now = now,
        .requeue_at = requeue_at,
    };

    return f->ops->finish(f->st, id, &e);
}

static void
test_finish(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", NULL, 10, 1, NULL);
    int64_t queued = add(f, "/a", NULL, 10, 1, NULL);
    struct job j;

    assert_int_equal(claim(f, "/a", 20), id);
    assert_int_equal(fin(f, id, JOB_TIMED_OUT, 2, -1, 27, 30, 0), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_TIMED_OUT);
    assert_int_equal(j.connection_status, 2);
    assert_int_equal(j.exit_status, -1);
    assert_int_equal(j.term_signal, 27);
    assert_int_equal(j.finished_at, 30);
    assert_int_equal(j.started_at, 20);
    assert_int_equal(j.attempt, 1);
    job_clear(&j);
    /* Only a running job ends. */
    assert_int_equal(fin(f, id, JOB_SUCCEEDED, 0, 0, 0, 40, 0), 1);
    assert_int_equal(fin(f, queued, JOB_SUCCEEDED, 0, 0, 0, 40, 0), 1);
    assert_int_equal(fin(f, 9999, JOB_SUCCEEDED, 0, 0, 0, 40, 0), 1);
    get(f, queued, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    job_clear(&j);
}

static void
test_finish_requeue(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", NULL, 10, 3, NULL);
    struct job j;

    assert_int_equal(claim(f, "/a", 20), id);
    assert_int_equal(fin(f, id, JOB_FAILED, 0, 1, 0, 30, 2030), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    assert_int_equal(j.attempt, 1);
    assert_int_equal(j.run_at, 2030);
    assert_int_equal(j.exit_status, 1);
    assert_int_equal(j.finished_at, 0);
    job_clear(&j);
    assert_int_equal(claim(f, "/a", 2029), 0);
    assert_int_equal(f->ops->claim(f->st, "/a", 2030, 0, &j), 1);
    assert_int_equal(j.id, id);
    assert_int_equal(j.attempt, 2);
    assert_int_equal(j.started_at, 2030);
    job_clear(&j);
    assert_int_equal(fin(f, id, JOB_SUCCEEDED, 0, 0, 0, 2040, 0), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_SUCCEEDED);
    assert_int_equal(j.attempt, 2);
    assert_int_equal(j.exit_status, 0);
    assert_int_equal(j.finished_at, 2040);
    job_clear(&j);
}

static void
test_cancel(void **state)
{
    struct fix *f = *state;
    int64_t q = add(f, "/a", NULL, 10, 1, NULL);
    int64_t r = add(f, "/a", NULL, 20, 1, NULL);
    struct job j;

    assert_int_equal(claim(f, "/a", 20), q);
    /* q is running now; r is queued. */
    assert_int_equal(f->ops->cancel(f->st, q, 30), 1);
    assert_int_equal(f->ops->cancel(f->st, r, 30), 0);
    assert_int_equal(f->ops->cancel(f->st, r, 31), 1);
    assert_int_equal(f->ops->cancel(f->st, 9999, 30), 1);
    get(f, r, &j);
    assert_int_equal(j.state, JOB_CANCELED);
    assert_int_equal(j.finished_at, 30);
    job_clear(&j);
    get(f, q, &j);
    assert_int_equal(j.state, JOB_RUNNING);
    job_clear(&j);
    assert_int_equal(claim(f, "/a", 100), 0);
}

/* Lists with f's filter and checks the ids. */
static void
check_list(struct fix *f, int state, const char *route, int64_t after,
           int limit, const int64_t *want, size_t nwant)
{
    struct job_filter flt = {
        .state = state, .route = route, .after = after, .limit = limit};
    struct job *jobs;
    size_t n;

    assert_int_equal(f->ops->list(f->st, &flt, &jobs, &n), 0);
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(jobs[i].id, want[i]);
        assert_null(jobs[i].head);
        assert_null(jobs[i].body);
        if (state >= 0)
            assert_int_equal(jobs[i].state, state);
        if (route != NULL)
            assert_string_equal(jobs[i].route, route);
        job_clear(&jobs[i]);
    }
    free(jobs);
}

static void
test_list(void **state)
{
    struct fix *f = *state;
    int64_t id[10];

    for (int i = 0; i < 10; i++)
        id[i] = add(f, i < 6 ? "/a" : "/b", NULL, 10, 1, NULL);
    /* id[0], id[1] running; id[6] running on /b. */
    claim(f, "/a", 10);
    claim(f, "/a", 10);
    claim(f, "/b", 10);

    check_list(f, -1, NULL, 0, 100, id, 10);
    check_list(f, -1, NULL, 0, 3, id, 3);
    check_list(f, -1, NULL, id[2], 3, id + 3, 3);
    check_list(f, -1, NULL, id[9], 3, NULL, 0);
    check_list(f, -1, "/b", 0, 100, id + 6, 4);
    check_list(f, -1, "/b", id[7], 1, id + 8, 1);
    check_list(f, -1, "/c", 0, 100, NULL, 0);
    int64_t running[] = {id[0], id[1], id[6]};
    check_list(f, JOB_RUNNING, NULL, 0, 100, running, 3);
    check_list(f, JOB_RUNNING, NULL, id[0], 1, running + 1, 1);
    check_list(f, JOB_RUNNING, "/a", 0, 100, id, 2);
    check_list(f, JOB_QUEUED, "/a", 0, 100, id + 2, 4);
    check_list(f, JOB_QUEUED, "/a", id[3], 2, id + 4, 2);
    check_list(f, JOB_QUEUED, "/b", 0, 100, id + 7, 3);
    check_list(f, JOB_SUCCEEDED, NULL, 0, 100, NULL, 0);

    /* A page is never longer than 1000. */
    struct job_filter flt = {.state = -1, .limit = 5000};
    struct job *jobs;
    size_t n;
    assert_int_equal(f->ops->list(f->st, &flt, &jobs, &n), 0);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        job_clear(&jobs[i]);
    free(jobs);
}

/* Lists with flt and checks the ids, in order. */
static void
check_page(struct fix *f, struct job_filter flt, const int64_t *want,
           size_t nwant)
{
    struct job *jobs;
    size_t n;

    assert_int_equal(f->ops->list(f->st, &flt, &jobs, &n), 0);
    if (n != nwant)
        fail_msg("%zu jobs listed, want %zu", n, nwant);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(jobs[i].id, want[i]);
        job_clear(&jobs[i]);
    }
    free(jobs);
}

/* Newest first, paged with before; after and before bound either way. */
static void
test_list_desc(void **state)
{
    struct fix *f = *state;
    int64_t id[8], rev[8];

    for (int i = 0; i < 8; i++)
        id[i] = add(f, i % 2 ? "/b" : "/a", NULL, 10 + i, 1, NULL);
    for (int i = 0; i < 8; i++)
        rev[i] = id[7 - i];
    claim(f, "/a", 100); /* id[0] running */
    check_page(f, (struct job_filter){.state = -1, .limit = 100, .desc = true},
               rev, 8);
    check_page(f, (struct job_filter){.state = -1, .limit = 3, .desc = true},
               rev, 3);
    check_page(f,
               (struct job_filter){
                   .state = -1, .limit = 3, .desc = true, .before = rev[2]},
               rev + 3, 3);
    check_page(f,
               (struct job_filter){
                   .state = -1, .limit = 3, .desc = true, .before = id[0]},
               NULL, 0);
    int64_t b_rev[] = {id[7], id[5], id[3], id[1]};
    check_page(f,
               (struct job_filter){
                   .state = -1, .route = "/b", .limit = 100, .desc = true},
               b_rev, 4);
    int64_t a_queued_rev[] = {id[6], id[4], id[2]};
    check_page(
        f,
        (struct job_filter){
            .state = JOB_QUEUED, .route = "/a", .limit = 100, .desc = true},
        a_queued_rev, 3);
    check_page(
        f,
        (struct job_filter){
            .state = JOB_QUEUED, .limit = 2, .desc = true, .before = id[6]},
        rev + 2, 2);
    /* Both bounds, both ways. */
    check_page(f,
               (struct job_filter){
                   .state = -1, .limit = 100, .after = id[2], .before = id[6]},
               id + 3, 3);
    int64_t mid_rev[] = {id[5], id[4], id[3]};
    check_page(f,
               (struct job_filter){.state = -1,
                                   .limit = 100,
                                   .desc = true,
                                   .after = id[2],
                                   .before = id[6]},
               mid_rev, 3);
}

/* created_from (at or after) and created_until (before) in ms, alone,
 * together, with the other filters, either way; a clock that stepped
 * back never puts a job outside its bounds. */
static void
test_list_created(void **state)
{
    struct fix *f = *state;
    int64_t id[10];

    check_page(
        f, (struct job_filter){.state = -1, .limit = 100, .created_from = 1000},
        NULL, 0);
    /* Created at 1000, 1100, ... 1900. */
    for (int i = 0; i < 10; i++)
        id[i] = add(f, i < 5 ? "/a" : "/b", NULL, 1000 + 100 * i, 1, NULL);
    check_page(
        f, (struct job_filter){.state = -1, .limit = 100, .created_from = 1500},
        id + 5, 5);
    check_page(
        f, (struct job_filter){.state = -1, .limit = 100, .created_from = 1450},
        id + 5, 5);
    check_page(
        f, (struct job_filter){.state = -1, .limit = 100, .created_from = 1},
        id, 10);
    check_page(
        f, (struct job_filter){.state = -1, .limit = 100, .created_from = 1901},
        NULL, 0);
    check_page(
        f,
        (struct job_filter){.state = -1, .limit = 100, .created_until = 1300},
        id, 3);
    check_page(
        f,
        (struct job_filter){.state = -1, .limit = 100, .created_until = 1000},
        NULL, 0);
    check_page(
        f,
        (struct job_filter){.state = -1, .limit = 100, .created_until = 9999},
        id, 10);
    check_page(f,
               (struct job_filter){.state = -1,
                                   .limit = 100,
                                   .created_from = 1200,
                                   .created_until = 1500},
               id + 2, 3);
    int64_t rev[] = {id[4], id[3], id[2]};
    check_page(f,
               (struct job_filter){.state = -1,
                                   .limit = 100,
                                   .desc = true,
                                   .created_from = 1200,
                                   .created_until = 1500},
               rev, 3);
    check_page(f,
               (struct job_filter){.state = -1,
                                   .limit = 2,
                                   .desc = true,
                                   .created_from = 1200,
                                   .created_until = 1500,
                                   .before = id[3]},
               id + 2, 1);
    check_page(
        f,
        (struct job_filter){
            .state = -1, .route = "/b", .limit = 100, .created_until = 1700},
        id + 5, 2);
    check_page(f,
               (struct job_filter){.state = JOB_QUEUED,
                                   .route = "/a",
                                   .limit = 100,
                                   .created_from = 1300},
               id + 3, 2);
    /* The clock stepped back: a job created at 1250 after the others.
     * Bounds follow the order of arrival, so it may be missed, but no
     * job outside them is listed. */
    add(f, "/a", NULL, 1250, 1, NULL);
    int64_t from[] = {id[5], id[6], id[7], id[8], id[9]};
    check_page(
        f, (struct job_filter){.state = -1, .limit = 100, .created_from = 1500},
        from, 5);
    struct job_filter until = {
        .state = -1, .limit = 100, .created_until = 1300};
    struct job *jobs;
    size_t n;
    assert_int_equal(f->ops->list(f->st, &until, &jobs, &n), 0);
    assert_true(n == 3 || n == 4);
    for (size_t i = 0; i < n; i++) {
        if (i < 3)
            assert_int_equal(jobs[i].id, id[i]);
        assert_true(jobs[i].created_at < 1300);
        job_clear(&jobs[i]);
    }
    free(jobs);
}

/* A retry by hand: only an ended job, the same id, a fresh set of
 * attempts, the earlier ones counted; the output stays. */
static void
test_retry(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", NULL, 10, 2, NULL);
    struct job j;
    char *data;
    size_t n;

    /* Queued, then running: not ended. */
    assert_int_equal(f->ops->retry(f->st, id, 15, 3), 2);
    assert_int_equal(claim(f, "/a", 20), id);
    assert_int_equal(f->ops->retry(f->st, id, 25, 3), 2);
    assert_int_equal(f->ops->retry(f->st, 9999, 25, 3), 1);
    struct job_end e = {.state = JOB_QUEUED,
                        .now = 30,
                        .requeue_at = 30,
                        .interrupted = true,
                        .exit_status = -1,
                        .error = "interrupted: kickd stopped (1 of 5)"};
    assert_int_equal(f->ops->finish(f->st, id, &e), 0);
    assert_int_equal(claim(f, "/a", 40), id);
    assert_int_equal(f->ops->set_progress(f->st, id, 50, "half"), 0);
    e = (struct job_end){.state = JOB_FAILED,
                         .connection_status = 2,
                         .now = 50,
                         .exit_status = 3,
                         .error = "exit status 3",
                         .output = "run 2\n",
                         .output_len = 6,
                         .output_cap = 1024};
    assert_int_equal(f->ops->finish(f->st, id, &e), 0);

    assert_int_equal(f->ops->retry(f->st, id, 60, 3), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    assert_int_equal(j.attempt, 0);
    assert_int_equal(j.earlier_attempts, 2);
    assert_int_equal(j.interruptions, 0);
    assert_int_equal(j.max_attempts, 3);
    assert_int_equal(j.connection_status, 0);
    assert_int_equal(j.exit_status, -1);
    assert_int_equal(j.term_signal, 0);
    assert_null(j.error);
    assert_int_equal(j.progress, -1);
    assert_null(j.progress_msg);
    assert_int_equal(j.created_at, 10);
    assert_int_equal(j.run_at, 60);
    assert_int_equal(j.started_at, 0);
    assert_int_equal(j.finished_at, 0);
    job_clear(&j);
    /* Queued now: a second retry is refused; the job runs again. */
    assert_int_equal(f->ops->retry(f->st, id, 61, 3), 2);
    assert_int_equal(claim(f, "/a", 59), 0);
    assert_int_equal(f->ops->claim(f->st, "/a", 60, 0, &j), 1);
    assert_int_equal(j.id, id);
    assert_int_equal(j.attempt, 1);
    assert_non_null(j.head);
    job_clear(&j);
    e = (struct job_end){.state = JOB_SUCCEEDED,
                         .now = 70,
                         .exit_status = 0,
                         .output = "run 3\n",
                         .output_len = 6,
                         .output_cap = 1024};
    assert_int_equal(f->ops->finish(f->st, id, &e), 0);
    assert_int_equal(f->ops->output_get(f->st, id, &data, &n, NULL), 0);
    assert_int_equal(n, 12);
    assert_memory_equal(data, "run 2\nrun 3\n", 12);
    free(data);
    /* A canceled job is ended too; earlier attempts add up. */
    assert_int_equal(f->ops->retry(f->st, id, 80, 1), 0);
    get(f, id, &j);
    assert_int_equal(j.earlier_attempts, 3);
    assert_int_equal(j.max_attempts, 1);
    job_clear(&j);
    assert_int_equal(f->ops->cancel(f->st, id, 81), 0);
    assert_int_equal(f->ops->retry(f->st, id, 90, 1), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    assert_int_equal(j.earlier_attempts, 3);
    assert_null(j.error);
    job_clear(&j);
}

static void
check_output(struct fix *f, int64_t id, const char *want, size_t len)
{
    char *data;
    size_t n;

    assert_int_equal(f->ops->output_get(f->st, id, &data, &n, NULL), 0);
    assert_int_equal(n, len);
    if (len > 0)
        assert_memory_equal(data, want, len);
    else
        assert_null(data);
    free(data);
}

static void
test_output_cap(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", NULL, 10, 1, NULL);
    int64_t other = add(f, "/a", NULL, 10, 1, NULL);
    enum { CAP = 50000, TOTAL = 300000 };
    char *all = malloc(TOTAL);
    size_t sent = 0;
    char *data;
    size_t n;

    assert_non_null(all);
    check_output(f, id, NULL, 0);
    assert_int_equal(f->ops->output_get(f->st, 9999, &data, &n, NULL), 1);
    /* Many small appends of varied sizes, with NULs, checked as they go. */
    for (unsigned i = 0; sent < TOTAL; i++) {
        size_t len = 1 + (i * 7919u) % 997;
        if (i % 50 == 49)
            len = 20000;
        if (len > TOTAL - sent)
            len = TOTAL - sent;
        for (size_t k = 0; k < len; k++)
            all[sent + k] = (char)((sent + k) * 31 % 251);
        assert_int_equal(
            f->ops->output_append(f->st, id, all + sent, len, CAP, 0), 0);
        sent += len;
        if (i % 37 == 0) {
            size_t keep = sent < CAP ? sent : CAP;
            check_output(f, id, all + sent - keep, keep);
        }
    }
    check_output(f, id, all + TOTAL - CAP, CAP);
    check_output(f, other, NULL, 0);
    /* One append larger than the cap keeps its own newest bytes. */
    assert_int_equal(f->ops->output_append(f->st, other, all, 3000, 1000, 0),
                     0);
    check_output(f, other, all + 2000, 1000);
    assert_int_equal(f->ops->output_append(f->st, other, "xy", 2, 1000, 0), 0);
    assert_int_equal(f->ops->output_get(f->st, other, &data, &n, NULL), 0);
    assert_int_equal(n, 1000);
    assert_memory_equal(data, all + 2002, 998);
    assert_memory_equal(data + 998, "xy", 2);
    free(data);
    /* A job that does not exist has no output to append to. */
    assert_int_equal(f->ops->output_append(f->st, 9999, "x", 1, 10, 0), -1);
    assert_true(strlen(f->ops->error(f->st)) > 0);
    free(all);
}

/* output_size counts every byte written, kept or not, and output_get
 * reads the job with its output; the end keeps the CGI response. */
static void
test_output_size(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", NULL, 10, 1, NULL);
    struct job j = {0};
    char *data;
    size_t n;

    assert_int_equal(claim(f, "/a", 20), id);
    assert_int_equal(f->ops->output_append(f->st, id, "abcdef", 6, 4, 0), 0);
    assert_int_equal(f->ops->output_append(f->st, id, "gh", 2, 4, 10), 0);
    assert_int_equal(f->ops->output_get(f->st, id, &data, &n, &j), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(data, "efgh", 4);
    free(data);
    assert_int_equal(j.output_size, 18);
    assert_int_equal(j.state, JOB_RUNNING);
    assert_string_equal(j.route, "/a");
    job_clear(&j);
    struct job_end e = {.state = JOB_SUCCEEDED,
                        .now = 30,
                        .output = "ij",
                        .output_len = 2,
                        .output_cap = 4,
                        .output_skipped = 1,
                        .response_status = 201,
                        .response_type = "text/plain"};
    assert_int_equal(f->ops->finish(f->st, id, &e), 0);
    assert_int_equal(f->ops->output_get(f->st, id, &data, &n, &j), 0);
    assert_memory_equal(data, "ghij", 4);
    free(data);
    assert_int_equal(j.output_size, 21);
    assert_int_equal(j.state, JOB_SUCCEEDED);
    assert_int_equal(j.response_status, 201);
    assert_string_equal(j.response_type, "text/plain");
    job_clear(&j);
    assert_int_equal(f->ops->output_get(f->st, 9999, &data, &n, &j), 1);
    assert_null(data);
}

static void
test_progress(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", NULL, 10, 1, NULL);
    struct job j;

    assert_int_equal(f->ops->set_progress(f->st, id, 40, "step 2 of 5"), 0);
    get(f, id, &j);
    assert_int_equal(j.progress, 40);
    assert_string_equal(j.progress_msg, "step 2 of 5");
    job_clear(&j);
    assert_int_equal(f->ops->set_progress(f->st, id, 100, NULL), 0);
    get(f, id, &j);
    assert_int_equal(j.progress, 100);
    assert_null(j.progress_msg);
    job_clear(&j);
    assert_int_equal(f->ops->set_progress(f->st, 9999, 1, NULL), 1);
}

/* The end of a run: its output and its error line with it, all or
 * nothing; an interruption is counted and uses up no attempt. */
static void
test_finish_error_output(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", NULL, 10, 1, NULL);
    struct job j;
    char *data;
    size_t n;
    struct job_end e = {
        .state = JOB_QUEUED,
        .now = 30,
        .requeue_at = 30,
        .interrupted = true,
        .error = "interrupted: kickd stopped (1 of 5)",
        .exit_status = -1,
        .output = "first run\n",
        .output_len = 10,
        .output_cap = 1024,
    };

    assert_int_equal(claim(f, "/a", 20), id);
    assert_int_equal(f->ops->finish(f->st, id, &e), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    assert_int_equal(j.interruptions, 1);
    assert_int_equal(j.attempt, 1);
    assert_string_equal(j.error, "interrupted: kickd stopped (1 of 5)");
    job_clear(&j);
    /* Not running: nothing is written, the output neither. */
    e.output = "lost";
    e.output_len = 4;
    assert_int_equal(f->ops->finish(f->st, id, &e), 1);
    assert_int_equal(claim(f, "/a", 40), id);
    e = (struct job_end){.state = JOB_FAILED,
                         .now = 50,
                         .exit_status = 3,
                         .error = "exit status 3",
                         .output = "second\n",
                         .output_len = 7,
                         .output_cap = 1024};
    assert_int_equal(f->ops->finish(f->st, id, &e), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_FAILED);
    assert_int_equal(j.interruptions, 1);
    assert_int_equal(j.attempt, 2);
    assert_int_equal(j.exit_status, 3);
    assert_string_equal(j.error, "exit status 3");
    job_clear(&j);
    assert_int_equal(f->ops->output_get(f->st, id, &data, &n, NULL), 0);
    assert_int_equal(n, 17);
    assert_memory_equal(data, "first run\nsecond\n", 17);
    free(data);
    /* A canceled job says so. */
    int64_t q = add(f, "/a", NULL, 60, 1, NULL);
    assert_int_equal(f->ops->cancel(f->st, q, 70), 0);
    get(f, q, &j);
    assert_string_equal(j.error, "canceled");
    job_clear(&j);
}

/* After a crash, the jobs left running are listed with who ran them;
 * nothing changes until each is recorded (here: as interrupted). */
static void
orphans_free(struct job *jobs, struct job_owner *owners, size_t n)
{
    for (size_t i = 0; i < n; i++)
        job_clear(&jobs[i]);
    free(jobs);
    free(owners);
}

static void
test_orphans(void **state)
{
    struct fix *f = *state;
    int64_t a = add(f, "/a", NULL, 10, 2, NULL);
    int64_t b = add(f, "/a", NULL, 10, 1, NULL);
    int64_t queued = add(f, "/a", NULL, 10, 1, NULL);
    int64_t done = add(f, "/b", NULL, 10, 1, NULL);
    struct job_owner o = {
        .node = "host/1/ab", .pgid = 4242, .start = 123456, .boot = "boot-1"};
    struct job *jobs;
    struct job_owner *owners;
    size_t n;
    struct job j;

    assert_int_equal(claim(f, "/a", 20), a);
    assert_int_equal(claim(f, "/a", 20), b);
    assert_int_equal(claim(f, "/b", 20), done);
    assert_int_equal(f->ops->set_owner(f->st, a, &o), 0);
    assert_int_equal(f->ops->set_owner(f->st, queued, &o), 1);
    assert_int_equal(fin(f, done, JOB_SUCCEEDED, 0, 0, 0, 25, 0), 0);
    char id[17];
    snprintf(id, sizeof(id), "%s", f->ops->id(f->st));
    assert_int_equal(strspn(id, "0123456789abcdef"), 16);
    reopen(f);
    /* The store's id is made once, with the store. */
    assert_string_equal(f->ops->id(f->st), id);
    assert_int_equal(f->ops->orphans(f->st, &jobs, &owners, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(jobs[0].id, a);
    assert_string_equal(owners[0].node, "host/1/ab");
    assert_int_equal(owners[0].pgid, 4242);
    assert_int_equal(owners[0].start, 123456);
    assert_string_equal(owners[0].boot, "boot-1");
    assert_int_equal(jobs[1].id, b);
    assert_int_equal(owners[1].pgid, 0);
    assert_string_equal(owners[1].node, "");
    orphans_free(jobs, owners, n);
    struct job_end e = {.state = JOB_QUEUED,
                        .now = 500,
                        .requeue_at = 500,
                        .interrupted = true,
                        .exit_status = -1,
                        .error = "interrupted: kickd died (1 of 5)"};
    assert_int_equal(f->ops->finish(f->st, a, &e), 0);
    assert_int_equal(f->ops->finish(f->st, b, &e), 0);
    assert_int_equal(f->ops->orphans(f->st, &jobs, &owners, &n), 0);
    assert_int_equal(n, 0);
    assert_null(jobs);
    get(f, b, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    assert_int_equal(j.attempt, 1);
    assert_int_equal(j.interruptions, 1);
    job_clear(&j);
    /* The recovered jobs run again, after the one due before them; a new
     * claim forgets the last run's owner. */
    assert_int_equal(claim(f, "/a", 600), queued);
    assert_int_equal(claim(f, "/a", 600), a);
    get(f, a, &j);
    assert_int_equal(j.attempt, 2);
    job_clear(&j);
    assert_int_equal(f->ops->orphans(f->st, &jobs, &owners, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(jobs[0].id, a);
    assert_int_equal(owners[0].pgid, 0);
    assert_string_equal(owners[0].node, "");
    orphans_free(jobs, owners, n);
}

static int64_t
count_of(const struct job_count *c, size_t n, const char *route,
         enum job_state s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].route, route) == 0 && c[i].state == s)
            return c[i].count;
    return 0;
}

static void
test_counts(void **state)
{
    struct fix *f = *state;
    struct job_count *c;
    size_t n;

    assert_int_equal(f->ops->counts(f->st, &c, &n), 0);
    assert_int_equal(n, 0);
    free(c);
    for (int i = 0; i < 5; i++)
        add(f, "/a", NULL, 10, 1, NULL);
    add(f, "/b", NULL, 10, 1, NULL);
    int64_t a = claim(f, "/a", 10);
    claim(f, "/a", 10);
    fin(f, a, JOB_FAILED, 0, 1, 0, 20, 0);
    assert_int_equal(f->ops->counts(f->st, &c, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(count_of(c, n, "/a", JOB_QUEUED), 3);
    assert_int_equal(count_of(c, n, "/a", JOB_RUNNING), 1);
    assert_int_equal(count_of(c, n, "/a", JOB_FAILED), 1);
    assert_int_equal(count_of(c, n, "/b", JOB_QUEUED), 1);
    for (size_t i = 0; i < n; i++)
        free(c[i].route);
    free(c);
}

static void
counts_free(struct job_count *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].route);
    free(c);
}

/* The dashboard's counts by state and route (GET /stats, /events) are
 * the store's counts op: after each kind of change (a cancel, a run that
 * ends, one queued again for a retry, a retry by hand, a delete) they
 * agree with the jobs themselves, as a GROUP BY over them would say;
 * an emptied route and state has no row. */
static void
test_counts_dashboard(void **state)
{
    struct fix *f = *state;
    static const char *routes[] = {"/a", "/b", "/c"};
    struct job_filter all = {.state = -1, .limit = 1000};
    struct job_count *c;
    struct job *jobs;
    size_t n, nj;
    int64_t id[9];

    for (int i = 0; i < 9; i++)
        id[i] = add(f, routes[i % 3], NULL, 10, 2, NULL);
    assert_int_equal(f->ops->cancel(f->st, id[0], 11), 0);
    assert_int_equal(claim(f, "/b", 20), id[1]);
    assert_int_equal(fin(f, id[1], JOB_SUCCEEDED, 0, 0, 0, 30, 0), 0);
    assert_int_equal(claim(f, "/c", 20), id[2]);
    assert_int_equal(fin(f, id[2], JOB_FAILED, 0, 1, 0, 30, 5000), 0);
    assert_int_equal(claim(f, "/a", 20), id[3]);
    assert_int_equal(fin(f, id[3], JOB_TIMED_OUT, 2, -1, 9, 30, 0), 0);
    assert_int_equal(f->ops->retry(f->st, id[3], 40, 2), 0);
    assert_int_equal(claim(f, "/b", 20), id[4]);
    assert_int_equal(fin(f, id[4], JOB_ABORTED, 1, -1, 15, 30, 0), 0);
    assert_int_equal(f->ops->delete (f->st, id[4]), 0);
    assert_int_equal(claim(f, "/c", 20), id[5]);

    assert_int_equal(f->ops->counts(f->st, &c, &n), 0);
    assert_int_equal(f->ops->list(f->st, &all, &jobs, &nj), 0);
    assert_int_equal(nj, 8);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t want = 0;
        for (size_t k = 0; k < nj; k++)
            want += strcmp(jobs[k].route, c[i].route) == 0 &&
                    jobs[k].state == c[i].state;
        assert_true(c[i].count > 0);
        assert_int_equal(c[i].count, want);
        total += c[i].count;
    }
    assert_int_equal(total, (int64_t)nj); /* every job is in one row */
    assert_int_equal(count_of(c, n, "/a", JOB_CANCELED), 1);
    assert_int_equal(count_of(c, n, "/a", JOB_QUEUED), 2);
    assert_int_equal(count_of(c, n, "/a", JOB_TIMED_OUT), 0);
    assert_int_equal(count_of(c, n, "/b", JOB_ABORTED), 0);
    assert_int_equal(count_of(c, n, "/c", JOB_QUEUED), 2);
    assert_int_equal(count_of(c, n, "/c", JOB_RUNNING), 1);
    for (size_t k = 0; k < nj; k++)
        job_clear(&jobs[k]);
    free(jobs);
    counts_free(c, n);
}

/* Only an ended job is deleted, with its request and output; a second
 * delete finds nothing. */
static void
test_delete(void **state)
{
    struct fix *f = *state;
    int64_t ended = add(f, "/a", NULL, 10, 1, NULL);
    int64_t running = add(f, "/a", NULL, 10, 1, NULL);
    int64_t queued = add(f, "/a", NULL, 10, 1, NULL);
    struct job_count *c;
    struct job j;
    char *out;
    size_t len, n;

    assert_int_equal(claim(f, "/a", 20), ended);
    assert_int_equal(claim(f, "/a", 20), running);
    assert_int_equal(f->ops->output_append(f->st, ended, "hi\n", 3, 100, 0), 0);
    assert_int_equal(fin(f, ended, JOB_SUCCEEDED, 0, 0, 0, 30, 0), 0);
    assert_int_equal(f->ops->delete (f->st, running), 1);
    assert_int_equal(f->ops->delete (f->st, queued), 1);
    assert_int_equal(f->ops->delete (f->st, 9999), 1);
    assert_int_equal(f->ops->delete (f->st, ended), 0);
    assert_int_equal(f->ops->delete (f->st, ended), 1);
    assert_int_equal(f->ops->get(f->st, ended, true, &j), 1);
    assert_int_equal(f->ops->output_get(f->st, ended, &out, &len, NULL), 1);
    get(f, running, &j);
    assert_int_equal(j.state, JOB_RUNNING);
    job_clear(&j);
    assert_int_equal(f->ops->get(f->st, queued, true, &j), 0);
    assert_non_null(j.head);
    job_clear(&j);
    assert_int_equal(f->ops->counts(f->st, &c, &n), 0);
    assert_int_equal(count_of(c, n, "/a", JOB_SUCCEEDED), 0);
    assert_int_equal(count_of(c, n, "/a", JOB_RUNNING), 1);
    assert_int_equal(count_of(c, n, "/a", JOB_QUEUED), 1);
    counts_free(c, n);
}

/* Ends n jobs of route at the times ends[0..n), ids into ids. */
static void
add_ended(struct fix *f, const char *route, const int64_t *ends, size_t n,
          int64_t *ids)
{
    for (size_t i = 0; i < n; i++) {
        ids[i] = add(f, route, NULL, 1, 1, NULL);
        assert_int_equal(claim(f, route, 1), ids[i]);
        assert_int_equal(f->ops->output_append(f->st, ids[i], "x", 1, 10, 0),
                         0);
        assert_int_equal(fin(f, ids[i], i % 2 ? JOB_FAILED : JOB_SUCCEEDED, 0,
                             (int)(i % 2), 0, ends[i], 0),
                         0);
    }
}

/* A prune takes a route's jobs that ended before the cutoff, oldest end
 * first, at most limit at a time, and says when the oldest left ended;
 * queued and running jobs and other routes stay. */
static void
test_prune(void **state)
{
    struct fix *f = *state;
    /* Ends out of id order: the oldest end goes first, not the lowest id. */
    static const int64_t ends[] = {500, 100, 400, 200, 300, 900};
    int64_t ids[6], other[1], deleted, oldest;
    int64_t running = add(f, "/a", NULL, 50, 1, NULL);
    int64_t queued = add(f, "/a", NULL, 60, 1, NULL);
    struct job_count *c;
    struct job j;
    size_t n;

    add_ended(f, "/a", ends, 6, ids);
    add_ended(f, "/b", ends, 1, other);
    assert_int_equal(claim(f, "/a", 55), running);
    assert_int_equal(f->ops->prune(f->st, "/a", 450, 2, &deleted, &oldest), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(oldest, 300);
    assert_int_equal(f->ops->get(f->st, ids[1], false, &j), 1); /* 100 */
    assert_int_equal(f->ops->get(f->st, ids[3], false, &j), 1); /* 200 */
    get(f, ids[4], &j);                                         /* 300 */
    job_clear(&j);
    assert_int_equal(f->ops->prune(f->st, "/a", 450, 100, &deleted, &oldest),
                     0);
    assert_int_equal(deleted, 2); /* 300 and 400; 500 and 900 are newer */
    assert_int_equal(oldest, 500);
    assert_int_equal(f->ops->prune(f->st, "/a", 450, 100, &deleted, &oldest),
                     0);
    assert_int_equal(deleted, 0);
    assert_int_equal(f->ops->prune(f->st, "/a", 1000, 100, &deleted, &oldest),
                     0);
    assert_int_equal(deleted, 2);
    assert_int_equal(oldest, 0);
    get(f, running, &j);
    assert_int_equal(j.state, JOB_RUNNING);
    job_clear(&j);
    get(f, queued, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    job_clear(&j);
    get(f, other[0], &j);
    assert_int_equal(j.state, JOB_SUCCEEDED);
    job_clear(&j);
    assert_int_equal(f->ops->counts(f->st, &c, &n), 0);
    assert_int_equal(count_of(c, n, "/a", JOB_SUCCEEDED), 0);
    assert_int_equal(count_of(c, n, "/a", JOB_FAILED), 0);
    assert_int_equal(count_of(c, n, "/a", JOB_QUEUED), 1);
    assert_int_equal(count_of(c, n, "/a", JOB_RUNNING), 1);
    assert_int_equal(count_of(c, n, "/b", JOB_SUCCEEDED), 1);
    counts_free(c, n);
}

/* New jobs reach the counts once per transaction: a job inserted and
 * claimed in the same transaction, on a route never seen, counts right;
 * so do more routes than are gathered at once, and a rollback leaves the
 * counts as they were. */
static void
test_counts_in_transaction(void **state)
{
    struct fix *f = *state;
    struct job_count *c;
    size_t n;
    char route[32];

    assert_int_equal(f->ops->begin(f->st), 0);
    for (int i = 0; i < 3; i++)
        add(f, "/new", NULL, 10, 1, NULL);
    assert_true(claim(f, "/new", 10) > 0);
    for (int i = 0; i < 20; i++) {
        snprintf(route, sizeof(route), "/r%d", i);
        add(f, route, NULL, 10, 1, NULL);
        add(f, route, NULL, 10, 1, NULL);
    }
    /* Read inside the transaction, the counts already hold its jobs. */
    assert_int_equal(f->ops->counts(f->st, &c, &n), 0);
    assert_int_equal(count_of(c, n, "/new", JOB_QUEUED), 2);
    assert_int_equal(count_of(c, n, "/new", JOB_RUNNING), 1);
    counts_free(c, n);
    add(f, "/new", NULL, 10, 1, NULL);
    assert_int_equal(f->ops->commit(f->st), 0);
    assert_int_equal(f->ops->counts(f->st, &c, &n), 0);
    assert_int_equal(n, 22);
    assert_int_equal(count_of(c, n, "/new", JOB_QUEUED), 3);
    assert_int_equal(count_of(c, n, "/new", JOB_RUNNING), 1);
    for (int i = 0; i < 20; i++) {
        snprintf(route, sizeof(route), "/r%d", i);
        assert_int_equal(count_of(c, n, route, JOB_QUEUED), 2);
    }
    counts_free(c, n);

    assert_int_equal(f->ops->begin(f->st), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(route, sizeof(route), "/r%d", i);
        add(f, route, NULL, 10, 1, NULL);
    }
    assert_true(claim(f, "/new", 10) > 0);
    assert_int_equal(f->ops->rollback(f->st), 0);
    assert_int_equal(f->ops->counts(f->st, &c, &n), 0);
    assert_int_equal(count_of(c, n, "/r19", JOB_QUEUED), 2);
    assert_int_equal(count_of(c, n, "/new", JOB_QUEUED), 3);
    assert_int_equal(count_of(c, n, "/new", JOB_RUNNING), 1);
    counts_free(c, n);
}

static void
test_transaction(void **state)
{
    struct fix *f = *state;
    int64_t first = 0, last = 0;
    struct job j;

    assert_int_equal(f->ops->begin(f->st), 0);
    for (int i = 0; i < 100; i++) {
        last = add(f, "/a", NULL, 10, 1, NULL);
        if (first == 0)
            first = last;
    }
    /* Every op works inside the caller's transaction. */
    assert_int_equal(claim(f, "/a", 10), first);
    assert_int_equal(f->ops->output_append(f->st, first, "out", 3, 100, 0), 0);
    assert_int_equal(f->ops->set_progress(f->st, first, 5, "m"), 0);
    assert_int_equal(f->ops->commit(f->st), 0);
    /* A backend that syncs apart makes what was committed durable. */
    if (f->ops->sync) {
        char err[160] = "";
        assert_int_equal(f->ops->sync(f->st, err, sizeof(err)), 0);
        assert_string_equal(err, "");
    }
    reopen(f);
    check_list(f, JOB_QUEUED, NULL, last - 1, 10, &last, 1);
    get(f, first, &j);
    assert_int_equal(j.state, JOB_RUNNING);
    assert_int_equal(j.progress, 5);
    job_clear(&j);
    check_output(f, first, "out", 3);
    assert_int_equal(last - first, 99);
}

static void
test_rollback(void **state)
{
    struct fix *f = *state;
    int64_t kept = add(f, "/a", NULL, 10, 1, NULL);
    struct job j;

    assert_int_equal(f->ops->begin(f->st), 0);
    int64_t gone = add(f, "/a", NULL, 10, 1, NULL);
    assert_int_equal(claim(f, "/a", 10), kept);
    assert_int_equal(f->ops->rollback(f->st), 0);
    assert_int_equal(f->ops->get(f->st, gone, false, &j), 1);
    get(f, kept, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    job_clear(&j);
    /* A rollback outside a transaction does nothing. */
    assert_int_equal(f->ops->rollback(f->st), 0);
    /* An insert after the rollback works in autocommit again. */
    assert_true(add(f, "/a", NULL, 10, 1, NULL) > kept);
}

static void
test_reopen(void **state)
{
    struct fix *f = *state;
    int64_t id = add(f, "/a", "key", 10, 1, NULL);
    bool existed;
    struct job j;

    assert_int_equal(f->ops->output_append(f->st, id, "abc", 3, 100, 0), 0);
    reopen(f);
    /* The store holds its file exclusively while open: the version is
     * read between a close and an open. */
    f->ops->close(f->st);
    f->st = NULL;
    if (cur->schema_version != NULL)
        assert_int_equal(cur->schema_version(f->uri), cur->want_version);
    reopen_closed(f);
    reopen(f);
    get(f, id, &j);
    assert_string_equal(j.route, "/a");
    assert_string_equal(j.idem_key, "key");
    job_clear(&j);
    check_output(f, id, "abc", 3);
    assert_int_equal(add(f, "/a", "key", 10, 1, &existed), id);
    assert_true(existed);
}

static void
test_open_bad_path(void **state)
{
    const struct store_ops *ops = cur->ops();
    struct store *st = (struct store *)1;
    char err[256] = "";
    char path[600];

    (void)state;
    snprintf(path, sizeof(path), "%s/no/such/dir/kick.db", tmpdir);
    assert_int_equal(ops->open(&st, path, err, sizeof(err)), -1);
    assert_null(st);
    /* PostgreSQL takes a path for a database name and says why it
     * cannot connect, without naming what it was given (a URI may hold
     * a password). */
    if (strcmp(cur->name, "postgresql") == 0) {
        assert_non_null(strstr(err, "postgresql: "));
        return;
    }
    assert_non_null(strstr(err, path));
    assert_true(strlen(err) > strlen(path) + 2);
}

/* SQLite only: a file that is not a database, and one whose schema is
 * newer than this build's, are refused with a reason. */
static void
test_sqlite_refuses(void **state)
{
    struct store *st;
    char err[256] = "";
    char path[600];
    FILE *fp;

    (void)state;
    snprintf(path, sizeof(path), "%s/garbage.db", tmpdir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database file at all. ", fp);
    fclose(fp);
    assert_int_equal(store_sqlite_ops.open(&st, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a database"));

    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/future.db", tmpdir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_sqlite_ops.open(&st, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "newer"));
}

/* Opens the store at path in a child process: 0 if it opened, 1 if it
 * was refused as owned by another kickd, 2 otherwise. */
static int
open_in_child(const char *path)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *st;
        char err[256] = "";
        if (store_sqlite_ops.open(&st, path, err, sizeof(err)) == 0) {
            store_sqlite_ops.close(st);
            _exit(0);
        }
        _exit(strstr(err, "locked by another kickd") ? 1 : 2);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* SQLite only: one process owns a store file. Another is refused while
 * the owner lives, and not after it is gone, even while a child of the
 * owner still shares its descriptors (a script between vfork and exec
 * when kickd was killed). */
static void
test_sqlite_one_owner(void **state)
{
    struct store *st;
    char err[256] = "", path[600];
    int status;

    (void)state;
    snprintf(path, sizeof(path), "%s/owner.db", tmpdir);
    assert_int_equal(store_sqlite_ops.open(&st, path, err, sizeof(err)), 0);
    assert_int_equal(open_in_child(path), 1);
    pid_t holder = fork();
    assert_true(holder >= 0);
    if (holder == 0) {
        pause();
        _exit(0);
    }
    store_sqlite_ops.close(st);
    int r = open_in_child(path);
    kill(holder, SIGKILL);
    assert_int_equal(waitpid(holder, &status, 0), holder);
    assert_int_equal(r, 0);
}

/* SQLite only: a write error inside the caller's transaction (a file size
 * limit stands in for a full disk) fails that op with a reason; if SQLite
 * dropped the whole transaction, every later op in it and the commit fail
 * too, instead of each committing alone; after the rollback nothing of it
 * is left and the store works again. */
static void
test_sqlite_write_error(void **state)
{
    const struct store_ops *o = &store_sqlite_ops;
    static char body[8192];
    struct store *st;
    struct rlimit old, lim;
    char err[256] = "", path[600];
    struct stat sb;
    int64_t first = 0;
    int failed = 0, ok_after_fail = 0;

    (void)state;
    snprintf(path, sizeof(path), "%s/full.db", tmpdir);
    assert_int_equal(o->open(&st, path, err, sizeof(err)), 0);
    struct job j = {0};
    bool existed;
    j.route = (char *)"/a";
    j.max_attempts = 1;
    j.head = (char *)"GET / HTTP/1.1\r\n\r\n";
    j.head_len = strlen(j.head);
    assert_int_equal(o->insert(st, &j, &existed), 0);
    first = j.id;

    assert_int_equal(stat(path, &sb), 0);
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)sb.st_size + 256 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    j.body = body;
    j.body_len = sizeof(body);
    assert_int_equal(o->begin(st), 0);
    for (int i = 0; i < 800; i++) {
        j.id = 0;
        if (o->insert(st, &j, &existed) != 0) {
            assert_true(strlen(o->error(st)) > 0);
            if (failed++ == 0)
                snprintf(err, sizeof(err), "%s", o->error(st));
        } else if (failed > 0) {
            ok_after_fail++;
        }
    }
    int committed = o->commit(st) == 0;
    /* An insert that failed fails its whole transaction. */
    assert_true(failed > 0 && !committed);
    assert_true(strlen(o->error(st)) > 0);
    assert_int_equal(o->rollback(st), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    o->close(st);

    /* Reopened: the batch is all there or not at all. */
    assert_int_equal(o->open(&st, path, err, sizeof(err)), 0);
    struct job_filter flt = {.state = -1, .after = first, .limit = 1000};
    struct job *jobs;
    size_t n;
    assert_int_equal(o->list(st, &flt, &jobs, &n), 0);
    if (committed)
        assert_int_equal(n, 800 - failed);
    else
        assert_int_equal(n, 0);
    for (size_t i = 0; i < n; i++)
        job_clear(&jobs[i]);
    free(jobs);
    j.body = NULL;
    j.body_len = 0;
    assert_int_equal(o->insert(st, &j, &existed), 0);
    assert_true(j.id > first);
    o->close(st);
    print_message("write error: %d failed (first: %s), %d ok after, "
                  "commit %s\n",
                  failed, err, ok_after_fail, committed ? "ok" : "failed");
}

/* A version-1 file (its count triggers and columns as released) is
 * migrated at open: the counts it had are kept and go on right, and its
 * jobs have no error, no interruption and no owner. */
static void
test_sqlite_migrates_v1(void **state)
{
    static const char v1[] =
        "DROP TRIGGER jobs_count_update; DROP TRIGGER jobs_count_delete;"
        "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN"
        " INSERT INTO job_counts VALUES (new.route, new.state, 1)"
        "  ON CONFLICT (route, state) DO UPDATE SET count = count + 1;"
        "END;"
        "CREATE TRIGGER jobs_count_update AFTER UPDATE OF route, state ON jobs"
        " WHEN old.route <> new.route OR old.state <> new.state BEGIN"
        " UPDATE job_counts SET count = count - 1"
        "  WHERE route = old.route AND state = old.state;"
        " INSERT INTO job_counts VALUES (new.route, new.state, 1)"
        "  ON CONFLICT (route, state) DO UPDATE SET count = count + 1;"
        "END;"
        "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN"
        " UPDATE job_counts SET count = count - 1"
        "  WHERE route = old.route AND state = old.state;"
        "END;"
        "ALTER TABLE jobs DROP COLUMN error;"
        "ALTER TABLE jobs DROP COLUMN interruptions;"
        "ALTER TABLE jobs DROP COLUMN owner;"
        "ALTER TABLE jobs DROP COLUMN owner_pgid;"
        "ALTER TABLE jobs DROP COLUMN owner_start;"
        "ALTER TABLE jobs DROP COLUMN owner_boot;"
        "DROP TABLE meta;"
        "DROP INDEX jobs_ended;"
        "ALTER TABLE jobs DROP COLUMN response_status;"
        "ALTER TABLE jobs DROP COLUMN response_type;"
        "ALTER TABLE jobs DROP COLUMN output_size;"
        "ALTER TABLE jobs DROP COLUMN earlier_attempts;"
        "PRAGMA user_version = 1;";
    const struct store_ops *o = &store_sqlite_ops;
    struct store *st;
    struct job j = {0};
    struct job_count *c;
    size_t n;
    bool existed;
    char err[256], path[600];
    sqlite3 *db;

    (void)state;
    snprintf(path, sizeof(path), "%s/v1.db", tmpdir);
    assert_int_equal(o->open(&st, path, err, sizeof(err)), 0);
    o->close(st);
    /* What version 1 left: its triggers, and jobs counted by them. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO jobs (route, state, created_at, run_at)"
                     " VALUES ('/a', 0, 1, 1), ('/a', 0, 2, 2)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sqlite_schema_version(path), 1);

    assert_int_equal(o->open(&st, path, err, sizeof(err)), 0);
    j.route = (char *)"/a";
    j.max_attempts = 1;
    j.head = (char *)"GET / HTTP/1.1\r\n\r\n";
    j.head_len = strlen(j.head);
    assert_int_equal(o->insert(st, &j, &existed), 0);
    memset(&j, 0, sizeof(j));
    assert_int_equal(o->claim(st, "/a", 10, 0, &j), 1);
    job_clear(&j);
    assert_int_equal(o->counts(st, &c, &n), 0);
    assert_int_equal(count_of(c, n, "/a", JOB_QUEUED), 2);
    assert_int_equal(count_of(c, n, "/a", JOB_RUNNING), 1);
    counts_free(c, n);
    assert_int_equal(o->get(st, 1, false, &j), 0);
    assert_null(j.error);
    assert_int_equal(j.interruptions, 0);
    job_clear(&j);
    o->close(st);
    assert_int_equal(sqlite_schema_version(path), SQLITE_SCHEMA_VERSION);
}

static void
test_common(void **state)
{
    char err[128];

    (void)state;
    for (int s = 0; s < JOB_STATE_COUNT; s++)
        assert_int_equal(job_state_parse(job_state_name(s)), s);
    assert_string_equal(job_state_name(JOB_TIMED_OUT), "timed_out");
    assert_null(job_state_name(JOB_STATE_COUNT));
    assert_null(job_state_name((enum job_state) - 1));
    assert_int_equal(job_state_parse("done"), -1);
    assert_int_equal(job_state_parse(NULL), -1);
    assert_ptr_equal(store_backend("kick.db", err, sizeof(err)),
                     &store_sqlite_ops);
    assert_ptr_equal(store_backend("/var/lib/kick/kick.db", err, sizeof(err)),
                     &store_sqlite_ops);
    assert_ptr_equal(store_backend("postgresql://db/kick", err, sizeof(err)),
                     &store_pg_ops);
    assert_ptr_equal(store_backend("postgres://db/kick", err, sizeof(err)),
                     &store_pg_ops);
    assert_null(store_backend("", err, sizeof(err)));
    store_uri_format("postgresql://kick:s3cret@db:5432/kick?sslmode=require",
                     err, sizeof(err));
    assert_string_equal(err, "postgresql://kick:***@db:5432/kick"
                             "?sslmode=require");
    store_uri_format("postgresql:///kick?host=/run&password=s3cret&user=k", err,
                     sizeof(err));
    assert_string_equal(err, "postgresql:///kick?host=/run&password=***"
                             "&user=k");
    store_uri_format("postgres://kick@db/kick", err, sizeof(err));
    assert_string_equal(err, "postgres://kick@db/kick");
    store_uri_format("/var/lib/kick/kick.db", err, sizeof(err));
    assert_string_equal(err, "/var/lib/kick/kick.db");
    struct job j = {0};
    j.route = strdup("/a");
    job_clear(&j);
    assert_null(j.route);
    job_clear(NULL);
}

/* PostgreSQL: two nodes (two connections to one store) claim at once.
 * A claim passes over the job another node's open transaction is
 * claiming (FOR UPDATE SKIP LOCKED) instead of waiting for it, and a job
 * is claimed once; the same Idempotency-Key on both gives one job. */
static void
test_pg_two_nodes(void **state)
{
    struct fix *f = *state;
    struct store *other;
    char err[256] = "";
    struct job j;
    bool existed;

    if (f->ops->open(&other, f->uri, err, sizeof(err)) != 0)
        fail_msg("open a second node: %s", err);
    int64_t a = add(f, "/a", NULL, 10, 1, NULL);
    int64_t b = add(f, "/a", NULL, 10, 1, NULL);
    assert_int_equal(f->ops->begin(f->st), 0);
    assert_int_equal(claim(f, "/a", 20), a);
    /* The first node's transaction holds a's row: the other takes b. */
    assert_int_equal(f->ops->claim(other, "/a", 20, 0, &j), 1);
    assert_int_equal(j.id, b);
    job_clear(&j);
    assert_int_equal(f->ops->claim(other, "/a", 20, 0, &j), 0);
    assert_int_equal(f->ops->commit(f->st), 0);
    assert_int_equal(f->ops->claim(other, "/a", 20, 0, &j), 0);
    int64_t k = add(f, "/a", "key-1", 30, 1, &existed);
    assert_false(existed);
    assert_int_equal(add(f, "/a", "key-1", 30, 1, &existed), k);
    assert_true(existed);
    struct job dup = {.route = "/a",
                      .idem_key = "key-1",
                      .max_attempts = 1,
                      .created_at = 30,
                      .run_at = 30};
    assert_int_equal(f->ops->insert(other, &dup, &existed), 0);
    assert_true(existed);
    assert_int_equal(dup.id, k);
    f->ops->close(other);
}

/* PostgreSQL: runs sql on a connection of its own; the first value of
 * its first row (0 if none). */
static int64_t
pg_admin(const char *uri, const char *sql)
{
    PGconn *c = PQconnectdb(uri);
    int64_t v = 0;

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    PGresult *res = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    if (s == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(c);
    return v;
}

/* Ends (as a server restart would) every other client connection to the
 * database, or those whose last query matches like; waits until they
 * are gone. */
static void
pg_kill(const char *uri, const char *like)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid, 5000))"
             " FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
             " AND datname = current_database()"
             " AND backend_type = 'client backend'%s%s%s",
             like ? " AND query LIKE '" : "", like ? like : "",
             like ? "'" : "");
    pg_admin(uri, sql);
}

/* Another node on the fixture's store, joined as name. */
static struct store *
pg_node(struct fix *f, const char *name, int64_t lease_ms)
{
    struct store *st;
    char err[256] = "";

    if (f->ops->open(&st, f->uri, err, sizeof(err)) != 0)
        fail_msg("open a node: %s", err);
    f->ops->join(st, name, lease_ms);
    return st;
}

static int
pg_claim(struct fix *f, struct store *st, const char *route, int limit,
         int64_t *id)
{
    struct job j;
    int r = f->ops->claim(st, route, 1000, limit, &j);

    if (r < 0)
        fail_msg("claim: %s", f->ops->error(st));
    *id = r == 1 ? j.id : 0;
    if (r == 1)
        job_clear(&j);
    return r;
}

static int
pg_end(struct fix *f, struct store *st, int64_t id, int attempt,
       enum job_state state, int64_t now)
{
    struct job_end e = {.state = state,
                        .exit_status = 0,
                        .now = now,
                        .attempt = attempt,
                        .requeue_at = now,
                        .interrupted = state == JOB_QUEUED};

    return f->ops->finish(st, id, &e);
}

/* PostgreSQL: a route's limit holds across nodes. A claim with a limit
 * while another node's open transaction claims of the route answers 2
 * at once (try again), never waits: two batches that took two routes'
 * locks in turn would wait for each other; after the commit it counts
 * the other node's claims; an end frees a place for any node. */
static void
test_pg_claim_limit(void **state)
{
    struct fix *f = *state;
    struct store *b = pg_node(f, "h/2/b", 30000);
    int64_t id[4], got;

    f->ops->join(f->st, "h/1/a", 30000);
    for (int i = 0; i < 4; i++)
        id[i] = add(f, "/lim", NULL, 10, 1, NULL);
    int64_t other = add(f, "/lim2", NULL, 10, 1, NULL);
    assert_int_equal(f->ops->begin(f->st), 0);
    assert_int_equal(pg_claim(f, f->st, "/lim", 2, &got), 1);
    assert_int_equal(got, id[0]);
    /* b, in a transaction of its own holding /lim2's lock, is told to
     * try /lim again; a is told the same of /lim2: no deadlock. */
    assert_int_equal(f->ops->begin(b), 0);
    assert_int_equal(pg_claim(f, b, "/lim2", 1, &got), 1);
    assert_int_equal(got, other);
    assert_int_equal(pg_claim(f, b, "/lim", 2, &got), 2);
    assert_int_equal(pg_claim(f, f->st, "/lim2", 1, &got), 2);
    assert_int_equal(f->ops->commit(b), 0);
    assert_int_equal(pg_claim(f, f->st, "/lim", 2, &got), 1);
    assert_int_equal(got, id[1]);
    assert_int_equal(f->ops->commit(f->st), 0);
    /* Then b finds the route at its limit. */
    assert_int_equal(pg_claim(f, b, "/lim", 2, &got), 0);
    assert_int_equal(pg_claim(f, f->st, "/lim", 2, &got), 0);
    assert_int_equal(pg_end(f, f->st, id[0], 1, JOB_SUCCEEDED, 30), 0);
    assert_int_equal(pg_claim(f, b, "/lim", 2, &got), 1);
    assert_int_equal(got, id[2]);
    assert_int_equal(pg_claim(f, b, "/lim", 2, &got), 0);
    /* Without a limit, nothing is counted. */
    assert_int_equal(pg_claim(f, b, "/lim", 0, &got), 1);
    assert_int_equal(got, id[3]);
    assert_int_equal(pg_admin(f->uri, "SELECT count(*) FROM jobs WHERE"
                                      " state = 1 AND owner = 'h/2/b'"),
                     3);
    f->ops->close(b);
}

/* PostgreSQL: an end is recorded only by the node that runs the job, for
 * the attempt it runs; set_owner, set_progress and output_append touch
 * only a job the node runs. */
static void
test_pg_fence(void **state)
{
    struct fix *f = *state;
    struct store *b = pg_node(f, "h/2/b", 30000);
    struct job_owner o = {
        .node = "h/1/a", .pgid = 77, .start = 5, .boot = "boot"};
    int64_t id = add(f, "/a", NULL, 10, 3, NULL), got;
    struct job j;

    f->ops->join(f->st, "h/1/a", 30000);
    assert_int_equal(pg_claim(f, f->st, "/a", 0, &got), 1);
    assert_int_equal(pg_end(f, b, id, 1, JOB_SUCCEEDED, 30), 1);
    assert_int_equal(pg_end(f, f->st, id, 2, JOB_SUCCEEDED, 30), 1);
    assert_int_equal(f->ops->set_owner(b, id, &o), 1);
    assert_int_equal(f->ops->set_progress(b, id, 50, "b"), 1);
    assert_int_equal(f->ops->output_append(b, id, "b", 1, 100, 0), -1);
    assert_int_equal(f->ops->set_owner(f->st, id, &o), 0);
    assert_int_equal(f->ops->set_progress(f->st, id, 40, "a"), 0);
    assert_int_equal(f->ops->output_append(f->st, id, "a", 1, 100, 0), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_RUNNING);
    assert_int_equal(j.progress, 40);
    assert_int_equal(j.output_size, 1);
    job_clear(&j);
    /* Queued again and claimed by b: a's old attempt is fenced off. */
    assert_int_equal(pg_end(f, f->st, id, 1, JOB_QUEUED, 15), 0);
    assert_int_equal(pg_claim(f, b, "/a", 0, &got), 1);
    assert_int_equal(pg_end(f, f->st, id, 1, JOB_SUCCEEDED, 30), 1);
    assert_int_equal(pg_end(f, f->st, id, 2, JOB_SUCCEEDED, 30), 1);
    assert_int_equal(pg_end(f, b, id, 1, JOB_SUCCEEDED, 30), 1);
    assert_int_equal(pg_end(f, b, id, 2, JOB_FAILED, 30), 0);
    get(f, id, &j);
    assert_int_equal(j.state, JOB_FAILED);
    assert_int_equal(j.attempt, 2);
    job_clear(&j);
    assert_int_equal(pg_admin(f->uri, "SELECT count(*) FROM jobs WHERE"
                                      " owner = 'h/2/b'"),
                     1);
    f->ops->close(b);
}

/* PostgreSQL: claim_n takes up to n due jobs of a route, oldest first,
 * with their requests, as this node's (owner, lease, attempt); it passes
 * over jobs another node's open transaction holds, and jobs not due. */
static void
test_pg_claim_n(void **state)
{
    struct fix *f = *state;
    struct store *b = pg_node(f, "h/2/b", 30000);
    struct job got[8];
    int n = -1;
    int64_t id[6], other;

    for (int i = 0; i < 6; i++)
        id[i] = add(f, "/a", NULL, 10 + i, 1, NULL);
    int64_t late = add(f, "/a", NULL, 5000, 1, NULL);
    int64_t elsewhere = add(f, "/b", NULL, 10, 1, NULL);
    f->ops->join(f->st, "h/1/a", 30000);
    /* b holds the oldest in its open transaction. */
    assert_int_equal(f->ops->begin(b), 0);
    assert_int_equal(pg_claim(f, b, "/a", 0, &other), 1);
    assert_int_equal(other, id[0]);
    assert_int_equal(f->ops->claim_n(f->st, "/a", 1000, 3, got, &n), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].id, id[i + 1]);
        assert_int_equal(got[i].state, JOB_RUNNING);
        assert_int_equal(got[i].attempt, 1);
        assert_int_equal(got[i].head_len, strlen("POST /x HTTP/1.1\r\n\r\n"));
        job_clear(&got[i]);
    }
    assert_int_equal(f->ops->commit(b), 0);
    /* More asked for than are due: the two left, not the late one. */
    assert_int_equal(f->ops->claim_n(f->st, "/a", 1000, 8, got, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].id, id[4]);
    assert_int_equal(got[1].id, id[5]);
    job_clear(&got[0]);
    job_clear(&got[1]);
    assert_int_equal(f->ops->claim_n(f->st, "/a", 1000, 8, got, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(pg_admin(f->uri, "SELECT count(*) FROM jobs WHERE"
                                      " state = 1 AND owner = 'h/1/a'"
                                      " AND lease_until > 0"),
                     5);
    assert_int_equal(pg_admin(f->uri, "SELECT count(*) FROM jobs WHERE"
                                      " state = 0"),
                     2);
    (void)late;
    (void)elsewhere;
    f->ops->close(b);
}

/* PostgreSQL: renew extends the leases of the node's own running jobs
 * only, and lists them. */
static void
test_pg_renew(void **state)
{
    struct fix *f = *state;
    struct store *b = pg_node(f, "h/2/b", 60000);
    int64_t a1 = add(f, "/a", NULL, 10, 1, NULL), got;
    int64_t b1 = add(f, "/a", NULL, 10, 1, NULL);
    int64_t *ids;
    int *attempts;
    size_t n;
    char sql[128];

    f->ops->join(f->st, "h/1/a", 60000);
    assert_int_equal(pg_claim(f, f->st, "/a", 0, &got), 1);
    assert_int_equal(pg_claim(f, b, "/a", 0, &got), 1);
    add(f, "/a", NULL, 10, 1, NULL); /* queued: no lease */
    snprintf(sql, sizeof(sql), "SELECT lease_until FROM jobs WHERE id = %lld",
             (long long)a1);
    int64_t lease_a = pg_admin(f->uri, sql);
    snprintf(sql, sizeof(sql), "SELECT lease_until FROM jobs WHERE id = %lld",
             (long long)b1);
    int64_t lease_b = pg_admin(f->uri, sql);
    int64_t now = pg_admin(f->uri, "SELECT (extract(epoch FROM"
                                   " clock_timestamp()) * 1000)::bigint");
    assert_true(lease_a > now + 55000 && lease_a <= now + 60000);
    usleep(50 * 1000);
    assert_int_equal(f->ops->renew(f->st, &ids, &attempts, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], a1);
    assert_int_equal(attempts[0], 1);
    free(ids);
    free(attempts);
    snprintf(sql, sizeof(sql), "SELECT lease_until FROM jobs WHERE id = %lld",
             (long long)a1);
    assert_true(pg_admin(f->uri, sql) >= lease_a + 40);
    snprintf(sql, sizeof(sql), "SELECT lease_until FROM jobs WHERE id = %lld",
             (long long)b1);
    assert_int_equal(pg_admin(f->uri, sql), lease_b);
    /* An ended job is no longer listed. */
    assert_int_equal(pg_end(f, f->st, a1, 1, JOB_SUCCEEDED, 30), 0);
    assert_int_equal(f->ops->renew(f->st, &ids, &attempts, &n), 0);
    assert_int_equal(n, 0);
    f->ops->close(b);
}

/* PostgreSQL: orphans takes over the jobs whose lease ran out, and
 * only those; two nodes asking at once never get the same job. */
static void
test_pg_orphans_lease(void **state)
{
    struct fix *f = *state;
    struct store *b = pg_node(f, "h/2/b", 30000);
    struct store *c = pg_node(f, "h/3/c", 30000);
    struct job_owner o = {
        .node = "h/1/a", .pgid = 99, .start = 7, .boot = "boot-a"};
    int64_t a1 = add(f, "/a", NULL, 10, 2, NULL), got;
    int64_t a2 = add(f, "/a", NULL, 10, 2, NULL);
    int64_t b1 = add(f, "/a", NULL, 10, 2, NULL);
    struct job *jobs;
    struct job_owner *owners;
    size_t n;

    f->ops->join(f->st, "h/1/a", 300);
    assert_int_equal(pg_claim(f, f->st, "/a", 0, &got), 1);
    assert_int_equal(pg_claim(f, f->st, "/a", 0, &got), 1);
    assert_int_equal(pg_claim(f, b, "/a", 0, &got), 1);
    assert_int_equal(got, b1);
    assert_int_equal(f->ops->set_owner(f->st, a1, &o), 0);
    assert_int_equal(f->ops->orphans(c, &jobs, &owners, &n), 0);
    assert_int_equal(n, 0);
    usleep(400 * 1000);
    /* b takes both in its open transaction; c skips them meanwhile. */
    assert_int_equal(f->ops->begin(b), 0);
    assert_int_equal(f->ops->orphans(b, &jobs, &owners, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(jobs[0].id, a1);
    assert_int_equal(jobs[1].id, a2);
    assert_string_equal(owners[0].node, "h/1/a");
    assert_int_equal(owners[0].pgid, 99);
    assert_int_equal(owners[0].start, 7);
    assert_string_equal(owners[0].boot, "boot-a");
    assert_string_equal(owners[1].node, "h/1/a");
    assert_int_equal(owners[1].pgid, 0);
    orphans_free(jobs, owners, n);
    assert_int_equal(f->ops->orphans(c, &jobs, &owners, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(f->ops->commit(b), 0);
    assert_int_equal(f->ops->orphans(c, &jobs, &owners, &n), 0);
    assert_int_equal(n, 0);
    /* The old node's end is fenced off; the new owner's is recorded. */
    assert_int_equal(pg_end(f, f->st, a1, 1, JOB_SUCCEEDED, 30), 1);
    assert_int_equal(pg_end(f, b, a1, 1, JOB_QUEUED, 40), 0);
    assert_int_equal(pg_admin(f->uri, "SELECT count(*) FROM jobs WHERE"
                                      " state = 1 AND owner = 'h/2/b'"
                                      " AND lease_until > (extract(epoch FROM"
                                      " clock_timestamp()) * 1000)::bigint"
                                      " + 20000"),
                     2);
    f->ops->close(b);
    f->ops->close(c);
}

struct pg_lines {
    int n;
    char line[16][96];
};

static void
pg_line_cb(void *data, const char *line)
{
    struct pg_lines *l = data;

    if (l->n < 16)
        snprintf(l->line[l->n], sizeof(l->line[0]), "%s", line);
    l->n++;
}

/* Waits for notices until want lines came (or 3 s), then a little more
 * for any extra one, and checks them against the expected lines. */
static void
pg_expect(struct fix *f, struct store *ln, int want, ...)
{
    struct pg_lines got = {0};
    char err[256] = "";
    va_list ap;

    for (int i = 0; i < 60 && got.n < want; i++)
        if (f->ops->listen_wait(ln, 50, pg_line_cb, &got, err, sizeof(err)) < 0)
            fail_msg("listen_wait: %s", err);
    assert_int_equal(
        f->ops->listen_wait(ln, 150, pg_line_cb, &got, err, sizeof(err)), 0);
    assert_int_equal(got.n, want);
    va_start(ap, want);
    for (int i = 0; i < want; i++)
        assert_string_equal(got.line[i], va_arg(ap, const char *));
    va_end(ap);
}

/* PostgreSQL: a committed transaction sends its notices, one d line per
 * route (the earliest run_at), then e and c lines; a rolled-back one
 * sends nothing. */
static void
test_pg_notices(void **state)
{
    struct fix *f = *state;
    struct store *b = pg_node(f, "h/2/b", 30000);
    struct store *ln;
    char err[256] = "", want[2][32];
    int64_t id[3], got;

    f->ops->join(f->st, "h/1/a", 30000);
    if (f->ops->listen_open(&ln, f->uri, err, sizeof(err)) != 0)
        fail_msg("listen_open: %s", err);
    assert_int_equal(f->ops->begin(f->st), 0);
    id[0] = add(f, "/a", NULL, 50, 1, NULL);
    id[1] = add(f, "/a", NULL, 40, 1, NULL);
    id[2] = add(f, "/b", NULL, 60, 1, NULL);
    assert_int_equal(f->ops->commit(f->st), 0);
    pg_expect(f, ln, 2, "d 40 /a", "d 60 /b");
    assert_int_equal(f->ops->begin(f->st), 0);
    add(f, "/c", NULL, 10, 1, NULL);
    assert_int_equal(f->ops->rollback(f->st), 0);
    pg_expect(f, ln, 0);
    /* An end to a final state; a queued job canceled. */
    assert_int_equal(pg_claim(f, b, "/b", 0, &got), 1);
    assert_int_equal(pg_end(f, b, id[2], 1, JOB_SUCCEEDED, 70), 0);
    snprintf(want[0], sizeof(want[0]), "e %lld", (long long)id[2]);
    pg_expect(f, ln, 1, want[0]);
    assert_int_equal(f->ops->cancel(f->st, id[0], 80), 0);
    snprintf(want[0], sizeof(want[0]), "e %lld", (long long)id[0]);
    pg_expect(f, ln, 1, want[0]);
    /* A job running on another node: 2 and a c line; on this node: 1. */
    assert_int_equal(pg_claim(f, b, "/a", 0, &got), 1);
    assert_int_equal(got, id[1]);
    assert_int_equal(f->ops->cancel(f->st, id[1], 80), 2);
    snprintf(want[0], sizeof(want[0]), "c %lld", (long long)id[1]);
    pg_expect(f, ln, 1, want[0]);
    assert_int_equal(f->ops->cancel(b, id[1], 80), 1);
    pg_expect(f, ln, 0);
    /* Queued again: a d line at its run_at. The end of a job of a route
     * claimed with a limit: a d line too (a place is free). */
    assert_int_equal(pg_end(f, b, id[1], 1, JOB_QUEUED, 90), 0);
    pg_expect(f, ln, 1, "d 90 /a");
    int64_t l = add(f, "/l", NULL, 10, 1, NULL);
    pg_expect(f, ln, 1, "d 10 /l");
    assert_int_equal(pg_claim(f, b, "/l", 1, &got), 1);
    assert_int_equal(pg_end(f, b, l, 1, JOB_SUCCEEDED, 777), 0);
    snprintf(want[0], sizeof(want[0]), "e %lld", (long long)l);
    pg_expect(f, ln, 2, "d 777 /l", want[0]);
    /* A retry queues the job again. */
    assert_int_equal(f->ops->retry(f->st, l, 800, 1), 0);
    pg_expect(f, ln, 1, "d 800 /l");
    f->ops->listen_close(ln);
    f->ops->close(b);
}

/* PostgreSQL: a many-line transaction is split into notices below
 * PostgreSQL's payload limit, every line sent once. */
static void
test_pg_notices_split(void **state)
{
    struct fix *f = *state;
    struct store *ln;
    char err[256] = "";
    struct pg_lines got = {0};
    enum { N = 1200 };
    int64_t first = 0;

    if (f->ops->listen_open(&ln, f->uri, err, sizeof(err)) != 0)
        fail_msg("listen_open: %s", err);
    assert_int_equal(f->ops->begin(f->st), 0);
    for (int i = 0; i < N; i++) {
        int64_t id = add(f, "/a", NULL, 10, 1, NULL);
        if (first == 0)
            first = id;
        assert_int_equal(f->ops->cancel(f->st, id, 20), 0);
    }
    assert_int_equal(f->ops->commit(f->st), 0);
    for (int i = 0; i < 60 && got.n < N + 1; i++)
        assert_int_equal(
            f->ops->listen_wait(ln, 50, pg_line_cb, &got, err, sizeof(err)), 0);
    assert_int_equal(
        f->ops->listen_wait(ln, 150, pg_line_cb, &got, err, sizeof(err)), 0);
    assert_int_equal(got.n, N + 1);
    assert_string_equal(got.line[0], "d 10 /a");
    char want[32];
    snprintf(want, sizeof(want), "e %lld", (long long)first);
    assert_string_equal(got.line[1], want);
    f->ops->listen_close(ln);
}

/* PostgreSQL: listen_wait answers -1 when the server ends the
 * listener's connection. */
static void
test_pg_listen_lost(void **state)
{
    struct fix *f = *state;
    struct store *ln;
    char err[256] = "";
    struct pg_lines got = {0};
    int r = 0;

    if (f->ops->listen_open(&ln, f->uri, err, sizeof(err)) != 0)
        fail_msg("listen_open: %s", err);
    pg_kill(f->uri, "LISTEN%");
    for (int i = 0; i < 20 && r == 0; i++)
        r = f->ops->listen_wait(ln, 100, pg_line_cb, &got, err, sizeof(err));
    assert_int_equal(r, -1);
    assert_true(strlen(err) > 0);
    f->ops->listen_close(ln);
}

static int64_t
mono_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* PostgreSQL: the store's connection is ended by the server (as by a
 * restart); the op that finds it lost fails, ops fail at once until the
 * backoff has passed, then the next one connects again and finds the
 * store as it was. */
static void
test_pg_reconnect(void **state)
{
    struct fix *f = *state;
    struct job j;
    int64_t id = add(f, "/a", NULL, 10, 1, NULL);

    pg_kill(f->uri, NULL);
    assert_int_equal(f->ops->get(f->st, id, true, &j), -1);
    int64_t t0 = mono_now_ms();
    assert_int_equal(f->ops->get(f->st, id, true, &j), -1);
    assert_int_equal(f->ops->claim(f->st, "/a", 20, 0, &j), -1);
    assert_true(mono_now_ms() - t0 < 50);
    assert_non_null(
        strstr(f->ops->error(f->st), "database unavailable; next try in"));
    usleep(150 * 1000);
    assert_int_equal(f->ops->get(f->st, id, true, &j), 0);
    assert_int_equal(j.id, id);
    job_clear(&j);
    assert_int_equal(claim(f, "/a", 20), id);
    /* In a transaction, a lost connection fails its ops and its commit;
     * nothing of it is kept. */
    struct job nj = {
        .route = "/a", .max_attempts = 1, .created_at = 10, .run_at = 10};
    bool ex;
    assert_int_equal(f->ops->begin(f->st), 0);
    pg_kill(f->uri, NULL);
    assert_int_equal(f->ops->insert(f->st, &nj, &ex), -1);
    assert_int_equal(f->ops->insert(f->st, &nj, &ex), -1);
    assert_int_equal(f->ops->commit(f->st), -1);
    usleep(150 * 1000);
    assert_int_equal(f->ops->get(f->st, id, false, &j), 0);
    job_clear(&j);
    assert_int_equal(pg_admin(f->uri, "SELECT count(*) FROM jobs"), 1);
}

/* PostgreSQL: a statement that gets no answer in 10 s (here it waits for
 * a lock another session holds) fails, its connection is dropped, ops
 * fail at once meanwhile, and the store comes back after the backoff. */
static void
test_pg_deadline(void **state)
{
    struct fix *f = *state;
    struct job j;
    int64_t id = add(f, "/a", NULL, 10, 1, NULL);
    PGconn *c = PQconnectdb(f->uri);

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *res = PQexec(c, "BEGIN; LOCK TABLE jobs IN ACCESS EXCLUSIVE"
                              " MODE");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    int64_t t0 = mono_now_ms();
    assert_int_equal(f->ops->get(f->st, id, false, &j), -1);
    int64_t took = mono_now_ms() - t0;
    assert_true(took >= 9900 && took < 12000);
    assert_non_null(strstr(f->ops->error(f->st), "no answer"));
    assert_int_equal(f->ops->get(f->st, id, false, &j), -1);
    assert_non_null(strstr(f->ops->error(f->st), "database unavailable"));
    PQclear(PQexec(c, "ROLLBACK"));
    PQfinish(c);
    usleep(150 * 1000);
    assert_int_equal(f->ops->get(f->st, id, false, &j), 0);
    job_clear(&j);
}

/* PostgreSQL: an op that fails at the server inside a batch (here an
 * Idempotency-Key too long for its index) is undone alone, whether it is
 * the batch's first op (its BEGIN and SAVEPOINT went out with it) or
 * not: the batch's other ops and its commit go on. */
static void
test_pg_op_fails(void **state)
{
    struct fix *f = *state;
    static char key[3001];
    uint32_t x = 1;
    struct job j, bad = {.route = "/a",
                         .idem_key = key,
                         .max_attempts = 1,
                         .created_at = 10,
                         .run_at = 10};
    bool ex;

    /* Bytes that do not compress: too big for a btree entry. */
    for (size_t i = 0; i < sizeof(key) - 1; i++) {
        x = x * 1103515245u + 12345u;
        key[i] = (char)('!' + (x >> 16) % 90);
    }
    assert_int_equal(f->ops->begin(f->st), 0);
    assert_int_equal(f->ops->insert(f->st, &bad, &ex), -1);
    int64_t a = add(f, "/a", NULL, 10, 1, NULL);
    assert_int_equal(f->ops->insert(f->st, &bad, &ex), -1);
    int64_t b = add(f, "/a", NULL, 10, 1, NULL);
    assert_int_equal(f->ops->output_append(f->st, b + 9, "x", 1, 10, 0), -1);
    assert_int_equal(claim(f, "/a", 10), a);
    assert_int_equal(f->ops->commit(f->st), 0);
    get(f, a, &j);
    assert_int_equal(j.state, JOB_RUNNING);
    job_clear(&j);
    get(f, b, &j);
    assert_int_equal(j.state, JOB_QUEUED);
    job_clear(&j);
    assert_int_equal(pg_admin(f->uri, "SELECT count(*) FROM jobs"), 2);
}

/* PostgreSQL: a version 1 store is migrated to the current version at
 * open (its jobs kept); a store newer than this kickd is refused. */
static void
test_pg_migrates(void **state)
{
    struct fix *f = *state;
    char err[256] = "";
    struct job j;
    int64_t id = add(f, "/a", NULL, 10, 1, NULL);

    f->ops->close(f->st);
    f->st = NULL;
    pg_admin(f->uri, "DROP INDEX jobs_running; DROP INDEX jobs_owned;"
                     " UPDATE meta SET value = '1'"
                     " WHERE key = 'schema_version'");
    reopen_closed(f);
    assert_int_equal(pg_schema_version(f->uri), PG_SCHEMA_VERSION);
    assert_int_equal(pg_admin(f->uri, "SELECT count(*) FROM pg_indexes"
                                      " WHERE indexname IN ('jobs_running',"
                                      " 'jobs_owned') AND schemaname ="
                                      " current_schema()"),
                     2);
    get(f, id, &j);
    job_clear(&j);
    f->ops->close(f->st);
    f->st = NULL;
    pg_admin(f->uri, "UPDATE meta SET value = '99'"
                     " WHERE key = 'schema_version'");
    assert_int_equal(f->ops->open(&f->st, f->uri, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "newer"));
    pg_admin(f->uri, "UPDATE meta SET value = '2'"
                     " WHERE key = 'schema_version'");
    reopen_closed(f);
}

static int
rm_tmpdir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    static const struct CMUnitTest suite[] = {
        T(test_roundtrip),
        T(test_ids_increase),
        T(test_idempotency),
        T(test_claim_fifo),
        T(test_claim_delay),
        T(test_claim_marks_running),
        T(test_finish),
        T(test_finish_requeue),
        T(test_cancel),
        T(test_delete),
        T(test_prune),
        T(test_list),
        T(test_list_desc),
        T(test_list_created),
        T(test_retry),
        T(test_output_cap),
        T(test_progress),
        T(test_orphans),
        T(test_finish_error_output),
        T(test_counts),
        T(test_counts_dashboard),
        T(test_counts_in_transaction),
        T(test_transaction),
        T(test_rollback),
        T(test_output_size),
        T(test_reopen),
        cmocka_unit_test(test_open_bad_path),
    };
    static const struct CMUnitTest common[] = {
        cmocka_unit_test(test_common),
        cmocka_unit_test(test_sqlite_refuses),
        cmocka_unit_test(test_sqlite_one_owner),
        cmocka_unit_test(test_sqlite_write_error),
        cmocka_unit_test(test_sqlite_migrates_v1),
    };
    int failed = 0;

    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        cur = &backends[i];
        if (strcmp(cur->name, "postgresql") == 0 &&
            getenv("KICK_TEST_DB") == NULL)
            continue;
        failed += _cmocka_run_group_tests(
            cur->name, suite, sizeof(suite) / sizeof(suite[0]), NULL, NULL);
    }
    static const struct CMUnitTest pg_only[] = {
        T(test_pg_two_nodes),   T(test_pg_claim_limit),
        T(test_pg_fence),       T(test_pg_renew),
        T(test_pg_claim_n),     T(test_pg_orphans_lease),
        T(test_pg_notices),     T(test_pg_notices_split),
        T(test_pg_listen_lost), T(test_pg_reconnect),
        T(test_pg_deadline),    T(test_pg_migrates),
        T(test_pg_op_fails),
    };
    if (getenv("KICK_TEST_DB") != NULL) {
        cur = &backends[1];
        failed += cmocka_run_group_tests_name("store_pg", pg_only, NULL, NULL);
    }
    failed += cmocka_run_group_tests_name("store_common", common, NULL, NULL);
    if (rm_tmpdir() < 0)
        failed++;
    return failed == 0 ? 0 : 1;
}
