/* SPDX-License-Identifier: MIT */
/* The SQLite job store: one database file in WAL mode with synchronous=FULL
 * (a commit is on disk when it returns), its schema versioned with
 * PRAGMA user_version and migrated at open, every statement prepared once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"

/* How long a statement waits for another connection's lock (ms): only
 * kickd's store thread writes, but `sqlite3 kick.db` may be reading. */
#define STORE_BUSY_TIMEOUT 5000
/* Output is kept as chunks of up to this many bytes, so that an append
 * rewrites at most one chunk and trimming to the cap deletes whole ones. */
#define OUTPUT_CHUNK 16384

/* The schema, one entry per version, applied in order at open, each in
 * its own transaction that also sets PRAGMA user_version to its number.
 * To change the schema, append an entry with version = last + 1 whose SQL
 * takes a version-(last) database to the new one (ALTER TABLE, CREATE
 * INDEX, UPDATE to fill new columns...). A released entry is never edited:
 * databases in the field have already run it.
 *
 * Version 1:
 * - jobs: one row per job; ids come from AUTOINCREMENT so they are never
 *   reused. States are enum job_state's numbers; times are ms since the
 *   epoch, 0 for "not yet".
 * - requests: the request of a job, written once; kept apart so that the
 *   frequent small updates of a jobs row never rewrite a large body.
 * - job_output: the kept output as chunks in order of rowid; `size` is the
 *   chunk's length so that trimming never reads the data.
 * - job_counts: jobs by route and state, kept by triggers, so /metrics
 *   does not scan the jobs.
 * - Indexes: jobs_claim serves claims (the next due job of a route, by
 *   run_at then id) and the walk over queued routes; jobs_idem makes
 *   Idempotency-Key unique per route; jobs_state and jobs_route serve
 *   listings by id with a filter. */
struct migration {
    int version;
    const char *sql;
};

static const struct migration migrations[] = {
    {1, "CREATE TABLE jobs ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " route TEXT NOT NULL,"
        " state INTEGER NOT NULL,"
        " connection_status INTEGER NOT NULL DEFAULT 0,"
        " attempt INTEGER NOT NULL DEFAULT 0,"
        " max_attempts INTEGER NOT NULL DEFAULT 1,"
        " exit_status INTEGER NOT NULL DEFAULT -1,"
        " term_signal INTEGER NOT NULL DEFAULT 0,"
        " progress INTEGER NOT NULL DEFAULT -1,"
        " progress_msg TEXT,"
        " idem_key TEXT,"
        " created_at INTEGER NOT NULL,"
        " run_at INTEGER NOT NULL,"
        " started_at INTEGER NOT NULL DEFAULT 0,"
        " finished_at INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX jobs_claim ON jobs(state, route, run_at, id);"
        "CREATE UNIQUE INDEX jobs_idem ON jobs(route, idem_key)"
        " WHERE idem_key IS NOT NULL;"
        "CREATE INDEX jobs_state ON jobs(state, id);"
        "CREATE INDEX jobs_route ON jobs(route, id);"
        "CREATE TABLE requests ("
        " job_id INTEGER PRIMARY KEY"
        "  REFERENCES jobs(id) ON DELETE CASCADE,"
        " head BLOB NOT NULL,"
        " body BLOB NOT NULL,"
        " remote_addr TEXT,"
        " remote_port INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE job_output ("
        " id INTEGER PRIMARY KEY,"
        " job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
        " size INTEGER NOT NULL,"
        " data BLOB NOT NULL);"
        "CREATE INDEX job_output_job ON job_output(job_id, id);"
        "CREATE TABLE job_counts ("
        " route TEXT NOT NULL,"
        " state INTEGER NOT NULL,"
        " count INTEGER NOT NULL,"
        " PRIMARY KEY (route, state));"
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
        "END;"},
};
#define SCHEMA_VERSION                                                         \
    (migrations[sizeof(migrations) / sizeof(migrations[0]) - 1].version)

#define JOB_COLS                                                               \
    "id, route, state, connection_status, attempt, max_attempts,"              \
    " exit_status, term_signal, progress, progress_msg, idem_key,"             \
    " created_at, run_at, started_at, finished_at"

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
    ST_CANCEL,
    ST_GET,
    ST_GET_REQ,
    ST_LIST_ALL,
    ST_LIST_STATE,
    ST_LIST_ROUTE,
    ST_LIST_BOTH,
    ST_EXISTS,
    ST_OUT_LAST,
    ST_OUT_DATA,
    ST_OUT_SET,
    ST_OUT_ADD,
    ST_OUT_WALK,
    ST_OUT_DROP,
    ST_OUT_CUT,
    ST_OUT_CLEAR,
    ST_OUT_ALL,
    ST_PROGRESS,
    ST_RECOVER_RETRY,
    ST_RECOVER_FAIL,
    ST_ROUTE_FIRST,
    ST_ROUTE_NEXT,
    ST_ROUTE_MIN,
    ST_COUNTS,
    ST_COUNT
};

/* Listings name their index: without statistics the planner could prefer
 * jobs_claim and sort every match to return one page. */
static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT store_op",
    [ST_RELEASE] = "RELEASE store_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO store_op",
    [ST_IDEM_FIND] = "SELECT id FROM jobs WHERE route = ?1 AND idem_key = ?2",
    [ST_INSERT] = "INSERT INTO jobs (route, state, max_attempts, idem_key,"
                  " created_at, run_at) VALUES (?1, 0, ?2, ?3, ?4, ?5)",
    [ST_INSERT_REQ] = "INSERT INTO requests VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_CLAIM_FIND] = "SELECT id FROM jobs WHERE state = 0 AND route = ?1"
                      " AND run_at <= ?2 ORDER BY run_at, id LIMIT 1",
    [ST_CLAIM_MARK] = "UPDATE jobs SET state = 1, attempt = attempt + 1,"
                      " started_at = ?2 WHERE id = ?1",
    [ST_FINISH] = "UPDATE jobs SET state = ?2, connection_status = ?3,"
                  " exit_status = ?4, term_signal = ?5, finished_at = ?6"
                  " WHERE id = ?1 AND state = 1",
    [ST_REQUEUE] = "UPDATE jobs SET state = 0, connection_status = ?2,"
                   " exit_status = ?3, term_signal = ?4, run_at = ?5"
                   " WHERE id = ?1 AND state = 1",
    [ST_CANCEL] = "UPDATE jobs SET state = 6, finished_at = ?2"
                  " WHERE id = ?1 AND state = 0",
    [ST_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [ST_GET_REQ] = "SELECT head, body, remote_addr, remote_port"
                   " FROM requests WHERE job_id = ?1",
    [ST_LIST_ALL] = "SELECT " JOB_COLS " FROM jobs WHERE id > ?1"
                    " ORDER BY id LIMIT ?2",
    [ST_LIST_STATE] = "SELECT " JOB_COLS " FROM jobs INDEXED BY jobs_state"
                      " WHERE state = ?3 AND id > ?1 ORDER BY id LIMIT ?2",
    [ST_LIST_ROUTE] = "SELECT " JOB_COLS " FROM jobs INDEXED BY jobs_route"
                      " WHERE route = ?3 AND id > ?1 ORDER BY id LIMIT ?2",
    [ST_LIST_BOTH] = "SELECT " JOB_COLS " FROM jobs INDEXED BY jobs_route"
                     " WHERE route = ?3 AND state = ?4 AND id > ?1"
                     " ORDER BY id LIMIT ?2",
    [ST_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
    [ST_OUT_LAST] = "SELECT id, size FROM job_output WHERE job_id = ?1"
                    " ORDER BY id DESC LIMIT 1",
    [ST_OUT_DATA] = "SELECT data FROM job_output WHERE id = ?1",
    [ST_OUT_SET] = "UPDATE job_output SET size = ?2, data = ?3 WHERE id = ?1",
    [ST_OUT_ADD] = "INSERT INTO job_output (job_id, size, data)"
                   " VALUES (?1, ?2, ?3)",
    [ST_OUT_WALK] = "SELECT id, size FROM job_output WHERE job_id = ?1"
                    " ORDER BY id DESC",
    [ST_OUT_DROP] = "DELETE FROM job_output WHERE job_id = ?1 AND id < ?2",
    [ST_OUT_CUT] = "UPDATE job_output SET data = substr(data, ?2 + 1),"
                   " size = size - ?2 WHERE id = ?1",
    [ST_OUT_CLEAR] = "DELETE FROM job_output WHERE job_id = ?1",
    [ST_OUT_ALL] = "SELECT data FROM job_output WHERE job_id = ?1"
                   " ORDER BY id",
    [ST_PROGRESS] = "UPDATE jobs SET progress = ?2, progress_msg = ?3"
                    " WHERE id = ?1",
    [ST_RECOVER_RETRY] = "UPDATE jobs SET state = 0, run_at = ?1"
                         " WHERE state = 1 AND attempt < max_attempts",
    [ST_RECOVER_FAIL] = "UPDATE jobs SET state = 3, finished_at = ?1"
                        " WHERE state = 1",
    [ST_ROUTE_FIRST] = "SELECT route FROM jobs WHERE state = 0"
                       " ORDER BY route LIMIT 1",
    [ST_ROUTE_NEXT] = "SELECT route FROM jobs WHERE state = 0"
                      " AND route > ?1 ORDER BY route LIMIT 1",
    [ST_ROUTE_MIN] = "SELECT run_at FROM jobs WHERE state = 0"
                     " AND route = ?1 ORDER BY run_at LIMIT 1",
    [ST_COUNTS] = "SELECT route, state, count FROM job_counts"
                  " WHERE count > 0 ORDER BY route, state",
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    char err[256]; /* the last error, kept apart from sqlite3_errmsg
                      because a rollback after it would replace it */
    bool in_txn;   /* between the caller's begin and commit or rollback */
    bool lost;     /* SQLite has rolled that transaction back itself */
};

static int
fail(struct store *st, const char *msg)
{
    snprintf(st->err, sizeof(st->err), "%s", msg);
    return -1;
}

static int
fail_db(struct store *st)
{
    return fail(st, sqlite3_errmsg(st->db));
}

/* Takes statement id, reset and ready for binding. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id)
{
    sqlite3_reset(st->stmt[id]);
    return st->stmt[id];
}

/* Binding helpers: SQLITE_OK or an error code; callers OR them together. */
static int
bind_i64(sqlite3_stmt *s, int i, int64_t v)
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
static int
bind_blob(sqlite3_stmt *s, int i, const void *p, size_t len)
{
    if (p == NULL || len == 0)
        return sqlite3_bind_zeroblob(s, i, 0);
    return sqlite3_bind_blob64(s, i, p, len, SQLITE_STATIC);
}

/* Steps s once: SQLITE_ROW or SQLITE_DONE, or -1 with the error kept. */
static int
step(struct store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);

    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return rc;
    fail_db(st);
    sqlite3_reset(s);
    return -1;
}

/* Runs a statement that returns no rows: 0 or -1. */
static int
run(struct store *st, sqlite3_stmt *s)
{
    int rc = step(st, s);

    sqlite3_reset(s);
    if (rc < 0)
        return -1;
    return 0;
}

static int
bind_fail(struct store *st, sqlite3_stmt *s)
{
    sqlite3_reset(s);
    return fail_db(st);
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
        snprintf(st->err, sizeof(st->err), "rolled back after: %.200s",
                 first);
        st->lost = true;
    }
    return -1;
}

/* Makes one op atomic: a transaction of its own in autocommit mode, else
 * a savepoint in the caller's transaction. */
static int
op_begin(struct store *st, bool *own)
{
    if (op_check(st) < 0)
        return -1;
    *own = sqlite3_get_autocommit(st->db) != 0;
    return run(st, stmt(st, *own ? ST_BEGIN : ST_SAVEPOINT));
}

/* Ends an op begun with op_begin: keeps its work if r >= 0 and returns r,
 * else undoes it and returns -1 with the first error kept. SQLite may
 * already have rolled back the whole transaction after SQLITE_FULL or an
 * I/O error, so an undo that finds nothing to undo is not an error. */
static int
op_end(struct store *st, bool own, int r)
{
    if (r >= 0) {
        if (run(st, stmt(st, own ? ST_COMMIT : ST_RELEASE)) == 0)
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
        return fail(st, "out of memory");
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
        return fail(st, "out of memory");
    if (n > 0)
        memcpy(*out, p, n);
    (*out)[n] = '\0';
    *len = n;
    return 0;
}

/* Fills j (cleared first) from a row of JOB_COLS. */
static int
row_job(struct store *st, sqlite3_stmt *s, struct job *j)
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
    if (col_text(st, s, 1, &j->route) < 0 ||
        col_text(st, s, 9, &j->progress_msg) < 0 ||
        col_text(st, s, 10, &j->idem_key) < 0) {
        job_clear(j);
        return -1;
    }
    return 0;
}

static int
exec_sql(struct store *st, const char *sql)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail_db(st);
    return 0;
}

/* Brings the schema from PRAGMA user_version to SCHEMA_VERSION, one
 * migration per transaction. */
static int
migrate(struct store *st)
{
    sqlite3_stmt *s;
    int version = -1;
    char sql[64];

    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) !=
        SQLITE_OK)
        return fail_db(st);
    if (sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version < 0)
        return fail_db(st);
    if (version > SCHEMA_VERSION) {
        snprintf(st->err, sizeof(st->err),
                 "schema version %d is newer than this kickd's (%d)", version,
                 SCHEMA_VERSION);
        return -1;
    }
    for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
        const struct migration *m = &migrations[i];
        if (m->version <= version)
            continue;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", m->version);
        if (exec_sql(st, "BEGIN IMMEDIATE") < 0)
            return -1;
        if (exec_sql(st, m->sql) < 0 || exec_sql(st, sql) < 0 ||
            exec_sql(st, "COMMIT") < 0) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

static void
sqlite_close(struct store *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st);
}

static int
sqlite_open(struct store **out, const char *uri, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof(*st));
    int rc;

    *out = NULL;
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rc = sqlite3_open_v2(
        uri, &st->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int e = st->db != NULL ? sqlite3_system_errno(st->db) : 0;
        snprintf(err, errlen, "%s: %s%s%s%s", uri,
                 st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc),
                 e != 0 ? " (" : "", e != 0 ? strerror(e) : "",
                 e != 0 ? ")" : "");
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    /* WAL: readers do not block the writer. synchronous=FULL: the WAL is
     * synced at every commit, so a 202 is never sent for a job a power
     * loss could take back. The first statement also reads the file, so a
     * file that is not a database fails here. */
    if (sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT) != SQLITE_OK ||
        exec_sql(st, "PRAGMA journal_mode = WAL") < 0 ||
        exec_sql(st, "PRAGMA synchronous = FULL") < 0 ||
        exec_sql(st, "PRAGMA foreign_keys = ON") < 0 || migrate(st) < 0)
        goto fail_st;
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
                                SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            fail_db(st);
            goto fail_st;
        }
    }
    *out = st;
    return 0;
fail_st:
    snprintf(err, errlen, "%s: %s", uri, st->err);
fail:
    sqlite_close(st);
    return -1;
}

static int
sqlite_begin(struct store *st)
{
    if (run(st, stmt(st, ST_BEGIN)) < 0)
        return -1;
    st->in_txn = true;
    st->lost = false;
    return 0;
}

/* After a failed commit the transaction may still be open: the caller
 * rolls it back. */
static int
sqlite_commit(struct store *st)
{
    int r = op_check(st);

    if (r == 0)
        r = run(st, stmt(st, ST_COMMIT));
    if (sqlite3_get_autocommit(st->db))
        st->in_txn = false;
    return r;
}

/* Also 0 when SQLite has already rolled the transaction back itself. */
static int
sqlite_rollback(struct store *st)
{
    st->in_txn = false;
    st->lost = false;
    if (sqlite3_get_autocommit(st->db))
        return 0;
    return run(st, stmt(st, ST_ROLLBACK));
}

static int
insert_job(struct store *st, struct job *j, bool *existed)
{
    sqlite3_stmt *s;
    int rc;

    if (j->idem_key != NULL) {
        s = stmt(st, ST_IDEM_FIND);
        if ((bind_text(s, 1, j->route) | bind_text(s, 2, j->idem_key)) != 0)
            return bind_fail(st, s);
        if ((rc = step(st, s)) < 0)
            return -1;
        if (rc == SQLITE_ROW) {
            j->id = sqlite3_column_int64(s, 0);
            *existed = true;
            sqlite3_reset(s);
            return 0;
        }
        sqlite3_reset(s);
    }
    s = stmt(st, ST_INSERT);
    if ((bind_text(s, 1, j->route) | bind_i64(s, 2, j->max_attempts) |
         bind_text(s, 3, j->idem_key) | bind_i64(s, 4, j->created_at) |
         bind_i64(s, 5, j->run_at)) != 0)
        return bind_fail(st, s);
    if (run(st, s) < 0)
        return -1;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    s = stmt(st, ST_INSERT_REQ);
    if ((bind_i64(s, 1, id) | bind_blob(s, 2, j->head, j->head_len) |
         bind_blob(s, 3, j->body, j->body_len) |
         bind_text(s, 4, j->remote_addr) | bind_i64(s, 5, j->remote_port)) != 0)
        return bind_fail(st, s);
    if (run(st, s) < 0)
        return -1;
    j->id = id;
    j->state = JOB_QUEUED;
    j->connection_status = 0;
    j->attempt = 0;
    j->exit_status = -1;
    j->term_signal = 0;
    j->progress = -1;
    j->started_at = 0;
    j->finished_at = 0;
    return 0;
}

static int
sqlite_insert(struct store *st, struct job *j, bool *existed)
{
    bool own;

    *existed = false;
    if (j->route == NULL)
        return fail(st, "job without a route");
    if (op_begin(st, &own) < 0)
        return -1;
    return op_end(st, own, insert_job(st, j, existed));
}

/* Loads job id into out: 0, 1 if there is none, -1. */
static int
load_job(struct store *st, int64_t id, bool with_request, struct job *out)
{
    sqlite3_stmt *s = stmt(st, ST_GET);
    int rc;

    memset(out, 0, sizeof(*out));
    if (bind_i64(s, 1, id) != 0)
        return bind_fail(st, s);
    if ((rc = step(st, s)) < 0)
        return -1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return 1;
    }
    rc = row_job(st, s, out);
    sqlite3_reset(s);
    if (rc < 0 || !with_request)
        return rc;
    s = stmt(st, ST_GET_REQ);
    if (bind_i64(s, 1, id) != 0) {
        job_clear(out);
        return bind_fail(st, s);
    }
    if ((rc = step(st, s)) == SQLITE_ROW) {
        out->remote_port = sqlite3_column_int(s, 3);
        if (col_blob(st, s, 0, &out->head, &out->head_len) < 0 ||
            col_blob(st, s, 1, &out->body, &out->body_len) < 0 ||
            col_text(st, s, 2, &out->remote_addr) < 0)
            rc = -1;
    } else if (rc == SQLITE_DONE) {
        rc = fail(st, "job without its request");
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
    sqlite3_stmt *s = stmt(st, ST_CLAIM_FIND);
    int rc;

    if ((bind_text(s, 1, route) | bind_i64(s, 2, now)) != 0)
        return bind_fail(st, s);
    if ((rc = step(st, s)) < 0)
        return -1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return 0;
    }
    int64_t id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    s = stmt(st, ST_CLAIM_MARK);
    if ((bind_i64(s, 1, id) | bind_i64(s, 2, now)) != 0)
        return bind_fail(st, s);
    if (run(st, s) < 0)
        return -1;
    rc = load_job(st, id, true, out);
    if (rc == 1)
        return fail(st, "claimed job vanished");
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
sqlite_claim(struct store *st, const char *route, int64_t now, struct job *out)
{
    bool own;

    memset(out, 0, sizeof(*out));
    if (op_begin(st, &own) < 0)
        return -1;
    return op_end(st, own, claim_job(st, route, now, out));
}

/* Runs s (already bound) and returns 0 if it changed a row, else 1. */
static int
run_changed(struct store *st, sqlite3_stmt *s)
{
    if (run(st, s) < 0)
        return -1;
    return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

/* A requeued job keeps the ended attempt's statuses (the last attempt's
 * outcome) and its attempt count; finished_at stays 0. */
static int
sqlite_finish(struct store *st, int64_t id, enum job_state state,
              int connection_status, int exit_status, int term_signal,
              int64_t now, int64_t requeue_at)
{
    sqlite3_stmt *s;

    if (op_check(st) < 0)
        return -1;
    if (requeue_at > 0) {
        s = stmt(st, ST_REQUEUE);
        if ((bind_i64(s, 1, id) | bind_i64(s, 2, connection_status) |
             bind_i64(s, 3, exit_status) | bind_i64(s, 4, term_signal) |
             bind_i64(s, 5, requeue_at)) != 0)
            return bind_fail(st, s);
        return run_changed(st, s);
    }
    if (state == JOB_QUEUED || state == JOB_RUNNING ||
        job_state_name(state) == NULL)
        return fail(st, "finish with a state that is not final");
    s = stmt(st, ST_FINISH);
    if ((bind_i64(s, 1, id) | bind_i64(s, 2, state) |
         bind_i64(s, 3, connection_status) | bind_i64(s, 4, exit_status) |
         bind_i64(s, 5, term_signal) | bind_i64(s, 6, now)) != 0)
        return bind_fail(st, s);
    return run_changed(st, s);
}

static int
sqlite_cancel(struct store *st, int64_t id, int64_t now)
{
    sqlite3_stmt *s = stmt(st, ST_CANCEL);

    if (op_check(st) < 0)
        return -1;
    if ((bind_i64(s, 1, id) | bind_i64(s, 2, now)) != 0)
        return bind_fail(st, s);
    return run_changed(st, s);
}

static int
sqlite_get(struct store *st, int64_t id, bool with_request, struct job *out)
{
    memset(out, 0, sizeof(*out));
    if (op_check(st) < 0)
        return -1;
    return load_job(st, id, with_request, out);
}

static int
sqlite_list(struct store *st, const struct job_filter *f, struct job **out,
            size_t *n)
{
    bool by_state = f->state >= 0, by_route = f->route != NULL;
    int limit = f->limit < 1 ? 1 : f->limit > 1000 ? 1000 : f->limit;
    enum stmt_id id = by_state && by_route ? ST_LIST_BOTH
                      : by_state           ? ST_LIST_STATE
                      : by_route           ? ST_LIST_ROUTE
                                           : ST_LIST_ALL;
    sqlite3_stmt *s = stmt(st, id);
    struct job *jobs = NULL;
    size_t count = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (op_check(st) < 0)
        return -1;
    rc = bind_i64(s, 1, f->after) | bind_i64(s, 2, limit);
    if (by_route)
        rc |= bind_text(s, 3, f->route);
    if (by_state)
        rc |= bind_i64(s, by_route ? 4 : 3, f->state);
    if (rc != 0)
        return bind_fail(st, s);
    jobs = calloc((size_t)limit, sizeof(*jobs));
    if (jobs == NULL) {
        sqlite3_reset(s);
        return fail(st, "out of memory");
    }
    while ((rc = step(st, s)) == SQLITE_ROW) {
        if (row_job(st, s, &jobs[count]) < 0) {
            rc = -1;
            break;
        }
        count++;
    }
    sqlite3_reset(s);
    if (rc < 0) {
        for (size_t i = 0; i < count; i++)
            job_clear(&jobs[i]);
        free(jobs);
        return -1;
    }
    if (count == 0) {
        free(jobs);
        jobs = NULL;
    }
    *out = jobs;
    *n = count;
    return 0;
}

/* Appends to the job's last chunk if it stays under OUTPUT_CHUNK, else
 * adds a chunk. */
static int
output_add(struct store *st, int64_t id, const char *data, size_t len)
{
    sqlite3_stmt *s = stmt(st, ST_OUT_LAST);
    int64_t last = 0, size = 0;
    int rc;

    if (bind_i64(s, 1, id) != 0)
        return bind_fail(st, s);
    if ((rc = step(st, s)) < 0)
        return -1;
    if (rc == SQLITE_ROW) {
        last = sqlite3_column_int64(s, 0);
        size = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (last == 0 || size + (int64_t)len > OUTPUT_CHUNK) {
        s = stmt(st, ST_OUT_ADD);
        if ((bind_i64(s, 1, id) | bind_i64(s, 2, (int64_t)len) |
             bind_blob(s, 3, data, len)) != 0)
            return bind_fail(st, s);
        return run(st, s);
    }
    char buf[OUTPUT_CHUNK];
    s = stmt(st, ST_OUT_DATA);
    if (bind_i64(s, 1, last) != 0)
        return bind_fail(st, s);
    if ((rc = step(st, s)) != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc < 0 ? -1 : fail(st, "output chunk vanished");
    }
    const void *old = sqlite3_column_blob(s, 0);
    size = sqlite3_column_bytes(s, 0);
    if (size + (int64_t)len > OUTPUT_CHUNK) {
        sqlite3_reset(s);
        return fail(st, "output chunk larger than its size");
    }
    if (size > 0)
        memcpy(buf, old, (size_t)size);
    sqlite3_reset(s);
    memcpy(buf + size, data, len);
    s = stmt(st, ST_OUT_SET);
    if ((bind_i64(s, 1, last) | bind_i64(s, 2, size + (int64_t)len) |
         bind_blob(s, 3, buf, (size_t)size + len)) != 0)
        return bind_fail(st, s);
    return run(st, s);
}

/* Drops the oldest output so that exactly the newest cap bytes are left:
 * walks the chunks newest first until they hold cap bytes, deletes the
 * older ones and cuts the front of the one that crossed cap. */
static int
output_trim(struct store *st, int64_t id, size_t cap)
{
    sqlite3_stmt *s = stmt(st, ST_OUT_WALK);
    int64_t kept = 0, chunk = 0, cut = 0;
    int rc;

    if (bind_i64(s, 1, id) != 0)
        return bind_fail(st, s);
    while ((rc = step(st, s)) == SQLITE_ROW) {
        kept += sqlite3_column_int64(s, 1);
        if (kept >= (int64_t)cap) {
            chunk = sqlite3_column_int64(s, 0);
            cut = kept - (int64_t)cap;
            break;
        }
    }
    sqlite3_reset(s);
    if (rc < 0)
        return -1;
    if (chunk == 0)
        return 0;
    s = stmt(st, ST_OUT_DROP);
    if ((bind_i64(s, 1, id) | bind_i64(s, 2, chunk)) != 0)
        return bind_fail(st, s);
    if (run(st, s) < 0)
        return -1;
    if (cut == 0)
        return 0;
    s = stmt(st, ST_OUT_CUT);
    if ((bind_i64(s, 1, chunk) | bind_i64(s, 2, cut)) != 0)
        return bind_fail(st, s);
    return run(st, s);
}

static int
output_append(struct store *st, int64_t id, const char *data, size_t len,
              size_t cap)
{
    sqlite3_stmt *s;

    if (len >= cap) {
        /* The new bytes alone fill the cap: they replace everything. */
        s = stmt(st, ST_OUT_CLEAR);
        if (bind_i64(s, 1, id) != 0)
            return bind_fail(st, s);
        if (run(st, s) < 0)
            return -1;
        if (cap == 0)
            return 0;
        data += len - cap;
        len = cap;
        s = stmt(st, ST_OUT_ADD);
        if ((bind_i64(s, 1, id) | bind_i64(s, 2, (int64_t)len) |
             bind_blob(s, 3, data, len)) != 0)
            return bind_fail(st, s);
        return run(st, s);
    }
    if (output_add(st, id, data, len) < 0)
        return -1;
    return output_trim(st, id, cap);
}

/* Appending to a job that does not exist fails (the chunks reference
 * their job). */
static int
sqlite_output_append(struct store *st, int64_t id, const char *data, size_t len,
                     size_t cap)
{
    bool own;

    if (len == 0)
        return 0;
    if (op_begin(st, &own) < 0)
        return -1;
    return op_end(st, own, output_append(st, id, data, len, cap));
}

static int
job_exists(struct store *st, int64_t id)
{
    sqlite3_stmt *s = stmt(st, ST_EXISTS);
    int rc;

    if (bind_i64(s, 1, id) != 0)
        return bind_fail(st, s);
    rc = step(st, s);
    sqlite3_reset(s);
    if (rc < 0)
        return -1;
    return rc == SQLITE_ROW;
}

static int
output_get(struct store *st, int64_t id, char **data, size_t *len)
{
    sqlite3_stmt *s;
    char *buf = NULL;
    size_t n = 0;
    int rc = job_exists(st, id);

    if (rc <= 0)
        return rc < 0 ? -1 : 1;
    s = stmt(st, ST_OUT_ALL);
    if (bind_i64(s, 1, id) != 0)
        return bind_fail(st, s);
    while ((rc = step(st, s)) == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 0);
        size_t m = (size_t)sqlite3_column_bytes(s, 0);
        char *nb;
        if (m == 0)
            continue;
        if (p == NULL || (nb = realloc(buf, n + m + 1)) == NULL) {
            rc = fail(st, "out of memory");
            break;
        }
        buf = nb;
        memcpy(buf + n, p, m);
        n += m;
        buf[n] = '\0';
    }
    sqlite3_reset(s);
    if (rc < 0) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* The chunks are read in one transaction so that an append cannot come
 * between them (it cannot on the store thread; this keeps it true for any
 * other caller). */
static int
sqlite_output_get(struct store *st, int64_t id, char **data, size_t *len)
{
    bool own;

    *data = NULL;
    *len = 0;
    if (op_begin(st, &own) < 0)
        return -1;
    return op_end(st, own, output_get(st, id, data, len));
}

/* 0, 1 if there is no job id, -1. */
static int
sqlite_set_progress(struct store *st, int64_t id, int percent, const char *msg)
{
    sqlite3_stmt *s = stmt(st, ST_PROGRESS);

    if (op_check(st) < 0)
        return -1;
    if ((bind_i64(s, 1, id) | bind_i64(s, 2, percent) |
         bind_text(s, 3, msg)) != 0)
        return bind_fail(st, s);
    return run_changed(st, s);
}

static int
recover(struct store *st, int64_t now)
{
    sqlite3_stmt *s = stmt(st, ST_RECOVER_RETRY);
    int changed;

    if (bind_i64(s, 1, now) != 0)
        return bind_fail(st, s);
    if (run(st, s) < 0)
        return -1;
    changed = sqlite3_changes(st->db);
    s = stmt(st, ST_RECOVER_FAIL);
    if (bind_i64(s, 1, now) != 0)
        return bind_fail(st, s);
    if (run(st, s) < 0)
        return -1;
    return changed + sqlite3_changes(st->db);
}

static int
sqlite_recover(struct store *st, int64_t now)
{
    bool own;

    if (op_begin(st, &own) < 0)
        return -1;
    return op_end(st, own, recover(st, now));
}

/* Walks the routes that have queued jobs, one index seek each (a DISTINCT
 * would read every queued job), calling fn with each route's earliest
 * run_at. Stops at fn's first non-zero return and returns it. */
static int
queued_routes(struct store *st,
              int (*fn)(struct store *st, const char *route, int64_t first,
                        void *arg),
              void *arg)
{
    char *route = NULL;
    int rc;

    for (;;) {
        sqlite3_stmt *s = stmt(st, route ? ST_ROUTE_NEXT : ST_ROUTE_FIRST);
        if (route != NULL && bind_text(s, 1, route) != 0) {
            free(route);
            return bind_fail(st, s);
        }
        rc = step(st, s);
        char *next = NULL;
        if (rc == SQLITE_ROW && col_text(st, s, 0, &next) < 0)
            rc = -1;
        sqlite3_reset(s);
        free(route);
        route = next;
        if (rc != SQLITE_ROW || route == NULL)
            return rc < 0 ? -1 : 0;
        s = stmt(st, ST_ROUTE_MIN);
        if (bind_text(s, 1, route) != 0) {
            free(route);
            return bind_fail(st, s);
        }
        rc = step(st, s);
        int64_t first = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) {
            free(route);
            return rc < 0 ? -1 : fail(st, "queued route vanished");
        }
        if ((rc = fn(st, route, first, arg)) != 0) {
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
        return fail(st, "out of memory");
    d->routes = nr;
    if ((d->routes[d->n] = strdup(route)) == NULL)
        return fail(st, "out of memory");
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
    if (op_begin(st, &own) < 0)
        return -1;
    if (op_end(st, own, queued_routes(st, due_cb, &d)) < 0) {
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
sqlite_next_run_at(struct store *st, int64_t *when)
{
    bool own;

    *when = 0;
    if (op_begin(st, &own) < 0)
        return -1;
    return op_end(st, own, queued_routes(st, earliest_cb, when));
}

static int
sqlite_counts(struct store *st, struct job_count **out, size_t *n)
{
    sqlite3_stmt *s = stmt(st, ST_COUNTS);
    struct job_count *c = NULL;
    size_t count = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (op_check(st) < 0)
        return -1;
    while ((rc = step(st, s)) == SQLITE_ROW) {
        struct job_count *nc = realloc(c, (count + 1) * sizeof(*c));
        if (nc == NULL) {
            rc = fail(st, "out of memory");
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

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .insert = sqlite_insert,
    .claim = sqlite_claim,
    .finish = sqlite_finish,
    .cancel = sqlite_cancel,
    .get = sqlite_get,
    .list = sqlite_list,
    .output_append = sqlite_output_append,
    .output_get = sqlite_output_get,
    .set_progress = sqlite_set_progress,
    .recover = sqlite_recover,
    .due_routes = sqlite_due_routes,
    .next_run_at = sqlite_next_run_at,
    .counts = sqlite_counts,
    .error = sqlite_error,
};
