/* SPDX-License-Identifier: MIT */
/* The PostgreSQL job store's schema: versioned in meta, created or
 * migrated at open by one node at a time (an advisory lock held by the
 * migrating transaction), and the SQL of every statement, prepared once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

/* The advisory lock (pg_advisory_xact_lock) that serialises migrations
 * across the nodes sharing one database: "kick" in ASCII. */
#define PG_MIGRATE_LOCK 0x6b69636bLL

/* The schema, one entry per version, applied in order inside the one
 * transaction that open runs, which also records the version in meta.
 * Append only, as in store_sqlite_schema.c: a released entry is never
 * edited; a database newer than this kickd is refused. PostgreSQL's
 * versions are numbered apart from SQLite's.
 *
 * Version 1 (SQLite's version 4, plus the lease):
 * - jobs: one row per job, ids from an identity column (never reused),
 *   states enum job_state's numbers, times ms since the epoch (0: not
 *   yet). owner/owner_pgid/owner_start/owner_boot say who runs it;
 *   lease_until (ms) is when a running job's lease runs out unless its
 *   node renews it (issue 13); 0 while not running.
 * - requests, job_output: as SQLite's, bytea for bytes.
 * - job_counts: jobs by route and state, so that /metrics does not scan
 *   the jobs, as rows of changes (+1, -1) that a trigger appends and
 *   counts folds into one row per route and state. Not SQLite's upsert
 *   of one row per route and state: that row's lock, held to the commit,
 *   made every node's claims and triggers on a route wait for each
 *   other's transactions.
 * - meta: the schema version and the store's id (16 hex digits).
 * - Indexes: jobs_claim is a partial index of the queued jobs in claim
 *   order (route, run_at, id), so that a claim reads one entry and the
 *   index stays as small as the backlog; jobs_lease finds the running
 *   jobs whose lease ran out; jobs_idem makes Idempotency-Key unique per
 *   route; jobs_state, jobs_route and jobs_ended as SQLite's.
 *
 * Version 2: the indexes jobs_running and jobs_owned (below). */
static const char *const migrations[] = {
    "CREATE TABLE jobs ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
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
    " created_at BIGINT NOT NULL,"
    " run_at BIGINT NOT NULL,"
    " started_at BIGINT NOT NULL DEFAULT 0,"
    " finished_at BIGINT NOT NULL DEFAULT 0,"
    " error TEXT,"
    " interruptions INTEGER NOT NULL DEFAULT 0,"
    " response_status INTEGER NOT NULL DEFAULT 0,"
    " response_type TEXT,"
    " output_size BIGINT NOT NULL DEFAULT 0,"
    " earlier_attempts INTEGER NOT NULL DEFAULT 0,"
    " owner TEXT,"
    " owner_pgid INTEGER NOT NULL DEFAULT 0,"
    " owner_start BIGINT NOT NULL DEFAULT 0,"
    " owner_boot TEXT,"
    " lease_until BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX jobs_claim ON jobs(route, run_at, id) WHERE state = 0;"
    "CREATE INDEX jobs_lease ON jobs(lease_until) WHERE state = 1;"
    "CREATE UNIQUE INDEX jobs_idem ON jobs(route, idem_key)"
    " WHERE idem_key IS NOT NULL;"
    "CREATE INDEX jobs_state ON jobs(state, id);"
    "CREATE INDEX jobs_route ON jobs(route, id);"
    "CREATE INDEX jobs_ended ON jobs(route, finished_at) WHERE state >= 2;"
    "CREATE TABLE requests ("
    " job_id BIGINT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,"
    " head BYTEA NOT NULL,"
    " body BYTEA NOT NULL,"
    " remote_addr TEXT,"
    " remote_port INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE job_output ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    " size BIGINT NOT NULL,"
    " data BYTEA NOT NULL);"
    "CREATE INDEX job_output_job ON job_output(job_id, id);"
    "CREATE TABLE job_counts ("
    " route TEXT NOT NULL,"
    " state INTEGER NOT NULL,"
    " count BIGINT NOT NULL);"
    "CREATE FUNCTION kick_count() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP IN ('UPDATE', 'DELETE') THEN"
    "   INSERT INTO job_counts VALUES (OLD.route, OLD.state, -1);"
    "  END IF;"
    "  IF TG_OP IN ('UPDATE', 'INSERT') THEN"
    "   INSERT INTO job_counts VALUES (NEW.route, NEW.state, 1);"
    "  END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER jobs_count_insert AFTER INSERT OR DELETE ON jobs"
    " FOR EACH ROW EXECUTE FUNCTION kick_count();"
    "CREATE TRIGGER jobs_count_update AFTER UPDATE OF route, state ON jobs"
    " FOR EACH ROW WHEN (OLD.route <> NEW.route OR OLD.state <> NEW.state)"
    " EXECUTE FUNCTION kick_count();"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES ('store_id',"
    " substr(md5(random()::text || clock_timestamp()::text), 1, 16));"
    "INSERT INTO meta VALUES ('schema_version', '0');",
    /* Version 2 (issue 13, several nodes): jobs_running counts a route's
     * running jobs for a claim with a limit, jobs_owned finds a node's
     * running jobs for renew; both partial (state = 1), as small as the
     * jobs running. */
    "CREATE INDEX jobs_running ON jobs(route) WHERE state = 1;"
    "CREATE INDEX jobs_owned ON jobs(owner) WHERE state = 1;",
};
#define PG_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The database's clock in ms since the epoch, as every time column: the
 * lease is reckoned by it, never by a node's clock. clock_timestamp, not
 * now(): the store thread's batch transaction may be old. */
#define PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
/* A lease of $N ms from now, or 0 (none: before join). */
#define PG_LEASE(n)                                                            \
    "CASE WHEN " n "::bigint > 0 THEN " PG_NOW_MS " + " n "::bigint ELSE 0 "   \
    "END"

/* A job's request beside its row (requests r), read by row_request. */
#define PG_REQ_COLS "r.head, r.body, r.remote_addr, r.remote_port"

/* Appends output bytes D ($n) to job ID's output in the statement of a
 * CTE f whose rows say whether to write (w), and keeps only its newest
 * CAP bytes: the chunks wholly before them are deleted, the oldest one
 * kept is cut, and the new chunk goes in cut to CAP. The CTEs see the
 * table as it was before the statement, so the new chunk is reckoned in
 * (its length added to each older chunk's bytes from the end, newer). */
#define PG_OUT_CTE(ID, D, CAP)                                                 \
    ", c AS (SELECT id, size, (sum(size) OVER (ORDER BY id DESC))::bigint"     \
    " + length(" D "::bytea) AS newer FROM job_output WHERE job_id = " ID      \
    " AND EXISTS (SELECT 1 FROM f WHERE w)),"                                  \
    " d AS (DELETE FROM job_output WHERE id IN"                                \
    " (SELECT id FROM c WHERE newer - size >= " CAP ")),"                      \
    " t AS (UPDATE job_output o"                                               \
    " SET data = substr(o.data, (c.newer - " CAP " + 1)::int),"                \
    " size = o.size - (c.newer - " CAP ") FROM c WHERE o.id = c.id"            \
    " AND c.newer > " CAP " AND c.newer - c.size < " CAP "),"                  \
    " a AS (INSERT INTO job_output (job_id, size, data)"                       \
    " SELECT " ID ", least(length(" D "::bytea), " CAP "),"                    \
    " substr(" D "::bytea, greatest(length(" D "::bytea) - " CAP               \
    ", 0)::int + 1) FROM f WHERE w AND length(" D "::bytea) > 0"               \
    " AND " CAP " > 0)"

/* The rest of an end (PG_FINISH, PG_REQUEUE) after its SET list. */
#define PG_END_OUT                                                             \
    "output_size = output_size + $14 WHERE id = $1 AND state = 1"              \
    " AND ($11::int = 0 OR (attempt = $11::int"                                \
    " AND ($12::text IS NULL OR owner = $12)))"                                \
    " RETURNING route, ($12::text IS NULL OR owner = $12) AS mine,"            \
    " ($12::text IS NULL OR owner = $12) AND $14::bigint > 0 AS "              \
    "w)" PG_OUT_CTE("$1", "$13", "$15::bigint") " SELECT route, mine FROM f"

/* Statement parameters: $n as in each statement's comment in store_pg.c.
 * The claim takes the next due job of a route in the SQLite backend's
 * order (run_at, then id) and marks it running in one statement; SKIP
 * LOCKED lets claims on other nodes pass over a row being claimed
 * instead of waiting for it. */
static const char *const stmt_sql[PG_STMT_COUNT] = {
    /* The job and its request; no row if the key was taken. */
    [PG_INSERT] = "WITH j AS (INSERT INTO jobs (route, state, max_attempts,"
                  " idem_key, created_at, run_at)"
                  " VALUES ($1, 0, $2, $3, $4, $5)"
                  " ON CONFLICT (route, idem_key) WHERE idem_key IS NOT NULL"
                  " DO NOTHING RETURNING id),"
                  " r AS (INSERT INTO requests"
                  " SELECT id, $6, $7, $8, $9 FROM j)"
                  " SELECT id FROM j",
    [PG_IDEM_FIND] = "SELECT id FROM jobs WHERE route = $1 AND idem_key = $2",
    /* $1 route, $2 now, $3 the node (NULL: before join), $4 the lease
     * (ms), $5 the route's limit (0: none). The limit is checked inside
     * the subquery, as a one-time filter: at the limit no row is even
     * locked. The caller holds the route's advisory lock (PG_LOCK_ROUTE,
     * an earlier statement, so that this one's snapshot sees every claim
     * committed before the lock was granted). */
    [PG_CLAIM] =
        "WITH c AS (UPDATE jobs SET state = 1, attempt = attempt + 1,"
        " started_at = $2, owner = $3, owner_pgid = 0,"
        " owner_start = 0, owner_boot = NULL,"
        " lease_until = " PG_LEASE(
            "$4") " WHERE id = (SELECT id FROM jobs"
                  " WHERE state = 0 AND route = $1 AND run_at <= $2"
                  " AND ($5::int <= 0 OR (SELECT count(*) FROM jobs"
                  " WHERE state = 1 AND route = $1) < $5::int)"
                  " ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                  " RETURNING " PG_JOB_COLS ")"
                  " SELECT " PG_JOB_COLS ", " PG_REQ_COLS " FROM c"
                  " LEFT JOIN requests r ON r.job_id = c.id",
    /* $1 route, $2 now, $3 the node, $4 the lease, $5 how many (no
     * limit): the ids taken once (ARRAY), oldest first. */
    [PG_CLAIM_N] =
        "WITH c AS (UPDATE jobs SET state = 1, attempt = attempt + 1,"
        " started_at = $2, owner = $3, owner_pgid = 0,"
        " owner_start = 0, owner_boot = NULL,"
        " lease_until = " PG_LEASE(
            "$4") " WHERE id = ANY (ARRAY("
                  "SELECT id FROM jobs WHERE state = 0 AND route = $1"
                  " AND run_at <= $2 ORDER BY run_at, id LIMIT $5::int"
                  " FOR UPDATE SKIP LOCKED)) RETURNING " PG_JOB_COLS ")"
                  " SELECT " PG_JOB_COLS ", " PG_REQ_COLS " FROM c"
                  " LEFT JOIN requests r ON r.job_id = c.id ORDER BY run_at, "
                  "id",
    [PG_GET] = "SELECT " PG_JOB_COLS " FROM jobs WHERE id = $1",
    [PG_GET_REQ] = "SELECT " PG_JOB_COLS ", " PG_REQ_COLS " FROM jobs j"
                   " LEFT JOIN requests r ON r.job_id = j.id"
                   " WHERE j.id = $1",
    /* $1 the job, $2-$10 the end, $11 its attempt (0: not fenced), $12
     * the node, $13 output bytes, $14 output_size's growth (0: no
     * output), $15 the output's cap. The end first: the output goes
     * only with it, and only to the node's job (mine false: the op
     * fails). */
    [PG_FINISH] = "WITH f AS (UPDATE jobs SET state = $2,"
                  " connection_status = $3, exit_status = $4,"
                  " term_signal = $5, finished_at = $6,"
                  " error = $7, interruptions = interruptions + $8,"
                  " response_status = $9, response_type = $10,"
                  " lease_until = 0, " PG_END_OUT,
    /* The same parameters, $2 JOB_QUEUED and $6 the new run_at. */
    [PG_REQUEUE] = "WITH f AS (UPDATE jobs SET state = $2,"
                   " connection_status = $3, exit_status = $4,"
                   " term_signal = $5, run_at = $6,"
                   " error = $7, interruptions = interruptions + $8,"
                   " response_status = $9, response_type = $10,"
                   " lease_until = 0, " PG_END_OUT,
    [PG_CANCEL] = "UPDATE jobs SET state = 6, finished_at = $2,"
                  " error = 'canceled' WHERE id = $1 AND state = 0"
                  " RETURNING id",
    /* $1 ids above, $2 the limit, $3 the route (NULL: any), $4 the state
     * (-1: any), $5 ids below, $6 created_at from, $7 created_at until,
     * $8 newest first. */
    [PG_LIST] = "SELECT " PG_JOB_COLS " FROM jobs WHERE id > $1 AND id < $5"
                " AND ($3::text IS NULL OR route = $3)"
                " AND ($4 < 0 OR state = $4)"
                " AND created_at >= $6 AND created_at < $7"
                " ORDER BY CASE WHEN $8 THEN -id ELSE id END LIMIT $2",
    [PG_COUNTS] = "SELECT route, state, sum(count)::bigint FROM job_counts"
                  " GROUP BY route, state HAVING sum(count) > 0"
                  " ORDER BY route, state",
    /* Two nodes folding at once: the second's DELETE waits for the
     * first's rows, then skips them (deleted), so each change is counted
     * once. */
    [PG_COUNTS_FOLD] = "WITH d AS (DELETE FROM job_counts"
                       " RETURNING route, state, count)"
                       " INSERT INTO job_counts SELECT route, state,"
                       " sum(count) FROM d GROUP BY route, state"
                       " HAVING sum(count) <> 0",
    /* $1 the job, $2 output_size's growth, $3 the node (NULL before
     * join: any job; else only one it runs), $4 the bytes, $5 the cap. */
    [PG_OUT_ADD] = "WITH f AS (UPDATE jobs SET output_size = output_size + $2"
                   " WHERE id = $1 AND ($3::text IS NULL OR owner = $3)"
                   " RETURNING true AS w) " PG_OUT_CTE(
                       "$1", "$4", "$5::bigint") " SELECT 1 FROM f",
    [PG_OUT_ALL] = "SELECT data FROM job_output WHERE job_id = $1"
                   " ORDER BY id",
    [PG_EXISTS] = "SELECT 1 FROM jobs WHERE id = $1",
    [PG_PROGRESS] = "UPDATE jobs SET progress = $2, progress_msg = $3"
                    " WHERE id = $1 AND ($4::text IS NULL"
                    " OR (state = 1 AND owner = $4))",
    /* $6: the node; after join the owner stays the node whatever $2. */
    [PG_OWN] = "UPDATE jobs SET owner = coalesce($6, $2), owner_pgid = $3,"
               " owner_start = $4, owner_boot = $5"
               " WHERE id = $1 AND state = 1"
               " AND ($6::text IS NULL OR owner = $6)",
    [PG_RETRY] = "UPDATE jobs SET state = 0, run_at = $2, max_attempts = $3,"
                 " earlier_attempts = earlier_attempts + attempt,"
                 " attempt = 0, interruptions = 0, connection_status = 0,"
                 " exit_status = -1, term_signal = 0, error = NULL,"
                 " progress = -1, progress_msg = NULL, response_status = 0,"
                 " response_type = NULL, started_at = 0, finished_at = 0,"
                 " owner = NULL, owner_pgid = 0, owner_start = 0,"
                 " owner_boot = NULL, lease_until = 0"
                 " WHERE id = $1 AND state >= 2 RETURNING route",
    /* Retention: requests and output go with their job (ON DELETE
     * CASCADE), job_counts through its trigger. */
    [PG_DELETE] = "DELETE FROM jobs WHERE id = $1 AND state >= 2",
    [PG_PRUNE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                 " WHERE route = $1 AND state >= 2 AND finished_at < $2"
                 " ORDER BY finished_at LIMIT $3)",
    [PG_ENDED_OLDEST] = "SELECT finished_at FROM jobs WHERE route = $1"
                        " AND state >= 2 ORDER BY finished_at LIMIT 1",
    /* The running jobs whose lease has run out, taken over by node $1
     * with a lease of $2 ms, and who ran them before. A lease of 0 (a
     * job claimed before join, or a row from before leases) has run
     * out. SKIP LOCKED: a job another node is taking over (or ending) at
     * the same moment is its, not ours. The take-over forgets the old
     * run's process group: the caller ends it from the old owner that
     * the statement returns. */
    [PG_ORPHANS] =
        "WITH o AS (SELECT id, owner, owner_pgid, owner_start,"
        " owner_boot FROM jobs WHERE state = 1"
        " AND lease_until < " PG_NOW_MS " ORDER BY id FOR UPDATE SKIP LOCKED),"
        " u AS (UPDATE jobs j SET owner = $1, owner_pgid = 0,"
        " owner_start = 0, owner_boot = NULL,"
        " lease_until = " PG_LEASE(
            "$2") " FROM o"
                  " WHERE j.id = o.id RETURNING j.*, o.owner AS o_node,"
                  " o.owner_pgid AS o_pgid, o.owner_start AS o_start,"
                  " o.owner_boot AS o_boot)"
                  " SELECT " PG_JOB_COLS ", o_node, o_pgid, o_start, o_boot"
                  " FROM u ORDER BY id",
    /* A skip scan of jobs_claim: from one queued route to the next, each
     * step one index probe, then the first entry of each route says
     * whether it is due; the cost grows with routes, not with the
     * backlog (SQLite's route walk does the same). */
    [PG_DUE_ROUTES] =
        "WITH RECURSIVE r(route) AS ("
        " SELECT min(route) FROM jobs WHERE state = 0"
        " UNION ALL SELECT (SELECT min(route) FROM jobs"
        " WHERE state = 0 AND route > r.route) FROM r"
        " WHERE r.route IS NOT NULL)"
        " SELECT route FROM r WHERE route IS NOT NULL AND EXISTS"
        " (SELECT 1 FROM jobs j WHERE j.state = 0 AND j.route = r.route"
        " AND j.run_at <= $1) ORDER BY route",
    /* The same walk, then each route's first run_at after $1. */
    [PG_NEXT_RUN_AT] =
        "WITH RECURSIVE r(route) AS ("
        " SELECT min(route) FROM jobs WHERE state = 0"
        " UNION ALL SELECT (SELECT min(route) FROM jobs"
        " WHERE state = 0 AND route > r.route) FROM r"
        " WHERE r.route IS NOT NULL)"
        " SELECT coalesce(min((SELECT j.run_at FROM jobs j"
        " WHERE j.state = 0 AND j.route = r.route AND j.run_at > $1"
        " ORDER BY j.run_at LIMIT 1)), 0) FROM r WHERE route IS NOT NULL",
    /* A claim with a limit: one node at a time counts and claims a
     * route's jobs (the key: "kick" and the route's hash, store_pg.c),
     * to the end of its transaction. */
    [PG_LOCK_ROUTE] = "SELECT pg_try_advisory_xact_lock(1801677675, $1::int)",
    [PG_RUNNER] = "SELECT owner FROM jobs WHERE id = $1 AND state = 1",
    /* $1 the node, $2 the lease (ms). */
    [PG_RENEW] = "UPDATE jobs SET lease_until = " PG_NOW_MS " + $2::bigint"
                 " WHERE state = 1 AND owner = $1 RETURNING id, attempt",
    [PG_NOTIFY] = "SELECT pg_notify('kick', $1)",
    [PG_BEGIN] = "BEGIN",
    [PG_SAVEPOINT] = "SAVEPOINT store_op",
    [PG_RELEASE] = "RELEASE store_op",
};

/* The version recorded in meta, 0 for an empty database (no meta: a
 * failed SELECT would abort the migrating transaction, so it is looked
 * up first). -1 on error. */
static int
version_read(struct store *st)
{
    PGresult *res;
    int v;

    res = store_pg__query(st, "SELECT to_regclass('meta') IS NOT NULL");
    if (res == NULL)
        return -1;
    bool has_meta = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!has_meta)
        return 0;
    res = store_pg__query(
        st, "SELECT value FROM meta WHERE key = 'schema_version'");
    if (res == NULL)
        return -1;
    v = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    if (v < 0)
        return store_pg__fail(st, "meta has no schema_version");
    return v;
}

/* Brings the schema to PG_SCHEMA_VERSION in the open transaction. */
static int
migrate(struct store *st)
{
    char sql[96];
    int version = version_read(st);

    if (version < 0)
        return -1;
    if (version > PG_SCHEMA_VERSION) {
        snprintf(st->err, sizeof(st->err),
                 "schema version %d is newer than this kickd's (%d)", version,
                 PG_SCHEMA_VERSION);
        return -1;
    }
    for (int v = version + 1; v <= PG_SCHEMA_VERSION; v++)
        if (store_pg__exec(st, migrations[v - 1]) < 0)
            return -1;
    snprintf(sql, sizeof(sql),
             "UPDATE meta SET value = '%d' WHERE key = 'schema_version'",
             PG_SCHEMA_VERSION);
    return store_pg__exec(st, sql);
}

static int
id_read(struct store *st)
{
    PGresult *res = store_pg__query(st, "SELECT value FROM meta"
                                        " WHERE key = 'store_id'");

    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return store_pg__fail(st, "the store has no id");
    }
    snprintf(st->id, sizeof(st->id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

const char *
store_pg__stmt_sql(enum pg_stmt_id id)
{
    return stmt_sql[id];
}

int
store_pg__prepare(struct store *st)
{
    for (int i = 0; i < PG_STMT_COUNT; i++) {
        char name[16];
        snprintf(name, sizeof(name), "k%d", i);
        if (store_pg__prepare_one(st, name, stmt_sql[i]) < 0)
            return -1;
    }
    return 0;
}

int
store_pg__schema(struct store *st)
{
    char sql[80];

    /* The lock is taken first and held to the commit, so a second node
     * starting at the same time waits, then finds the schema current. */
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
             PG_MIGRATE_LOCK);
    if (store_pg__exec(st, "BEGIN") < 0)
        return -1;
    if (store_pg__exec(st, sql) < 0 || migrate(st) < 0 ||
        store_pg__exec(st, "COMMIT") < 0) {
        PQclear(store_pg__query(st, "ROLLBACK"));
        return -1;
    }
    if (store_pg__prepare(st) < 0)
        return -1;
    return id_read(st);
}
