/* SPDX-License-Identifier: MIT */
/* Opening the SQLite job store: WAL synced apart from the commit, the schema
 * versioned with PRAGMA user_version and migrated at open, and the SQL of
 * every statement, prepared once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <errno.h>

#include <sqlite3.h>

#include "store_sqlite_internal.h"

/* How long a statement waits for another connection's lock (ms): only
 * kickd's store thread writes, but `sqlite3 kick.db` may be reading. */
#define STORE_BUSY_TIMEOUT 5000

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
 *   listings by id with a filter.
 *
 * Version 2: job_counts learns of new jobs from the store, once per route
 * and transaction (an insert trigger was a third of a trigger's cost);
 * the triggers that remain add and subtract by upsert, so that a job
 * inserted and moved on in one transaction counts right in any order.
 *
 * Version 3: a job says why its last run did not succeed (error), counts
 * the runs kickd itself ended (interruptions, which use up no retry), and
 * names who runs it while it runs (owner: the kickd, and the script's
 * process group with its leader's start time and the boot it started in),
 * so that a kickd that starts after a crash ends what is left of the
 * earlier run before the job runs again. Existing rows: no error, no
 * interruption, owner unknown. meta holds the store's id, 16 random hex
 * digits made once: a job's runs carry it in KICK_CONTROL, so that the
 * processes of a run whose owner was never recorded are still found.
 *
 * Version 4: a job keeps what its script's CGI header said (the
 * response's status and content type; 0 and NULL when it gave none),
 * how many bytes of output it has written in all (output_size: the kept
 * output is the newest of them, so a follower knows where it is), and
 * the attempts of its runs before a retry asked by hand
 * (earlier_attempts; attempt counts again from 0 after one). jobs_ended
 * serves retention: the ended jobs of a route, oldest end first. */
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
    {2, "DROP TRIGGER jobs_count_insert;"
        "DROP TRIGGER jobs_count_update;"
        "DROP TRIGGER jobs_count_delete;"
        "CREATE TRIGGER jobs_count_update AFTER UPDATE OF route, state ON jobs"
        " WHEN old.route <> new.route OR old.state <> new.state BEGIN"
        " INSERT INTO job_counts VALUES (old.route, old.state, -1)"
        "  ON CONFLICT (route, state) DO UPDATE SET count = count - 1;"
        " INSERT INTO job_counts VALUES (new.route, new.state, 1)"
        "  ON CONFLICT (route, state) DO UPDATE SET count = count + 1;"
        "END;"
        "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN"
        " INSERT INTO job_counts VALUES (old.route, old.state, -1)"
        "  ON CONFLICT (route, state) DO UPDATE SET count = count - 1;"
        "END;"},
    {3, "ALTER TABLE jobs ADD COLUMN error TEXT;"
        "ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE jobs ADD COLUMN owner TEXT;"
        "ALTER TABLE jobs ADD COLUMN owner_pgid INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE jobs ADD COLUMN owner_start INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE jobs ADD COLUMN owner_boot TEXT;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('store_id', lower(hex(randomblob(8))));"},
    {4, "ALTER TABLE jobs ADD COLUMN response_status INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE jobs ADD COLUMN response_type TEXT;"
        "ALTER TABLE jobs ADD COLUMN output_size INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE jobs ADD COLUMN earlier_attempts INTEGER NOT NULL"
        " DEFAULT 0;"
        "UPDATE jobs SET output_size ="
        " (SELECT coalesce(sum(size), 0) FROM job_output"
        "  WHERE job_id = jobs.id);"
        "CREATE INDEX jobs_ended ON jobs(route, finished_at)"
        " WHERE state >= 2;"},
};
#define SCHEMA_VERSION                                                         \
    (migrations[sizeof(migrations) / sizeof(migrations[0]) - 1].version)

/* Listings name their index: without statistics the planner could prefer
 * jobs_claim and sort every match to return one page. Their parameters:
 * ?1 ids above, ?2 the limit, ?3 the route, ?4 the state, ?5 ids below,
 * ?6 created_at from, ?7 created_at until (store_sqlite_list.c). */
#define LIST_SQL(indexed, where, dir)                                          \
    "SELECT " JOB_COLS " FROM jobs" indexed " WHERE " where                    \
    " id > ?1 AND id < ?5 AND created_at >= ?6 AND created_at < ?7"            \
    " ORDER BY id" dir " LIMIT ?2"

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
                      " started_at = ?2, owner = NULL, owner_pgid = 0,"
                      " owner_start = 0, owner_boot = NULL WHERE id = ?1",
    [ST_FINISH] = "UPDATE jobs SET state = ?2, connection_status = ?3,"
                  " exit_status = ?4, term_signal = ?5, finished_at = ?6,"
                  " error = ?7, interruptions = interruptions + ?8,"
                  " response_status = ?9, response_type = ?10"
                  " WHERE id = ?1 AND state = 1",
    [ST_REQUEUE] = "UPDATE jobs SET state = 0, connection_status = ?2,"
                   " exit_status = ?3, term_signal = ?4, run_at = ?5,"
                   " error = ?6, interruptions = interruptions + ?7,"
                   " response_status = ?8, response_type = ?9"
                   " WHERE id = ?1 AND state = 1",
    [ST_RUNNING] = "SELECT 1 FROM jobs WHERE id = ?1 AND state = 1",
    [ST_OWN] = "UPDATE jobs SET owner = ?2, owner_pgid = ?3,"
               " owner_start = ?4, owner_boot = ?5"
               " WHERE id = ?1 AND state = 1",
    [ST_ORPHANS] = "SELECT " JOB_COLS ", owner, owner_pgid, owner_start,"
                   " owner_boot FROM jobs INDEXED BY jobs_state"
                   " WHERE state = 1 ORDER BY id",
    [ST_CANCEL] = "UPDATE jobs SET state = 6, finished_at = ?2,"
                  " error = 'canceled' WHERE id = ?1 AND state = 0",
    [ST_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [ST_GET_REQ] = "SELECT head, body, remote_addr, remote_port"
                   " FROM requests WHERE job_id = ?1",
    [ST_LIST_ALL] = LIST_SQL("", "", ""),
    [ST_LIST_STATE] = LIST_SQL(" INDEXED BY jobs_state", "state = ?4 AND", ""),
    [ST_LIST_ROUTE] = LIST_SQL(" INDEXED BY jobs_route", "route = ?3 AND", ""),
    [ST_LIST_BOTH] = LIST_SQL(" INDEXED BY jobs_route",
                              "route = ?3 AND state = ?4 AND", ""),
    [ST_LIST_ALL_DESC] = LIST_SQL("", "", " DESC"),
    [ST_LIST_STATE_DESC] = LIST_SQL(" INDEXED BY jobs_state",
                                    "state = ?4 AND", " DESC"),
    [ST_LIST_ROUTE_DESC] = LIST_SQL(" INDEXED BY jobs_route",
                                    "route = ?3 AND", " DESC"),
    [ST_LIST_BOTH_DESC] = LIST_SQL(" INDEXED BY jobs_route",
                                   "route = ?3 AND state = ?4 AND", " DESC"),
    [ST_ID_MAX] = "SELECT max(id) FROM jobs",
    [ST_ID_AT] = "SELECT id, created_at FROM jobs WHERE id >= ?1"
                 " ORDER BY id LIMIT 1",
    [ST_RETRY] = "UPDATE jobs SET state = 0, run_at = ?2, max_attempts = ?3,"
                 " earlier_attempts = earlier_attempts + attempt,"
                 " attempt = 0, interruptions = 0, connection_status = 0,"
                 " exit_status = -1, term_signal = 0, error = NULL,"
                 " progress = -1, progress_msg = NULL, response_status = 0,"
                 " response_type = NULL, started_at = 0, finished_at = 0,"
                 " owner = NULL, owner_pgid = 0, owner_start = 0,"
                 " owner_boot = NULL WHERE id = ?1 AND state >= 2",
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
    [ST_OUT_SIZE] = "UPDATE jobs SET output_size = output_size + ?2"
                    " WHERE id = ?1",
    [ST_OUT_ALL] = "SELECT data FROM job_output WHERE job_id = ?1"
                   " ORDER BY id",
    [ST_PROGRESS] = "UPDATE jobs SET progress = ?2, progress_msg = ?3"
                    " WHERE id = ?1",
    [ST_ROUTE_FIRST] = "SELECT route FROM jobs WHERE state = 0"
                       " ORDER BY route LIMIT 1",
    [ST_ROUTE_NEXT] = "SELECT route FROM jobs WHERE state = 0"
                      " AND route > ?1 ORDER BY route LIMIT 1",
    [ST_ROUTE_MIN] = "SELECT run_at FROM jobs WHERE state = 0"
                     " AND route = ?1 AND run_at > ?2"
                     " ORDER BY run_at LIMIT 1",
    [ST_COUNTS] = "SELECT route, state, count FROM job_counts"
                  " WHERE count > 0 ORDER BY route, state",
    [ST_COUNT_ADD] = "INSERT INTO job_counts VALUES (?1, 0, ?2)"
                     " ON CONFLICT (route, state)"
                     " DO UPDATE SET count = count + ?2",
    /* Retention: a job's request and output go with it (ON DELETE
     * CASCADE), and job_counts through its delete trigger. */
    [ST_DELETE] = "DELETE FROM jobs WHERE id = ?1 AND state >= 2",
    [ST_PRUNE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                 " INDEXED BY jobs_ended WHERE route = ?1 AND state >= 2"
                 " AND finished_at < ?2 ORDER BY finished_at LIMIT ?3)",
    [ST_ENDED_OLDEST] = "SELECT finished_at FROM jobs INDEXED BY jobs_ended"
                        " WHERE route = ?1 AND state >= 2"
                        " ORDER BY finished_at LIMIT 1",
};

/* The store's id from meta into st->id. 0 or -1. */
static int
id_read(struct store *st)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key ="
                                        " 'store_id'", -1, &s, NULL);

    if (rc != SQLITE_OK)
        return store_sqlite__fail_db(st);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
        snprintf(st->id, sizeof(st->id), "%s",
                 (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return store_sqlite__fail(st, "the store has no id");
    return 0;
}

static int
exec_sql(struct store *st, const char *sql)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_sqlite__fail_db(st);
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
        return store_sqlite__fail_db(st);
    if (sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version < 0)
        return store_sqlite__fail_db(st);
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

void
store_sqlite__close(struct store *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < st->nadded; i++)
        free(st->added[i].route);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    if (st->wal_fd >= 0)
        close(st->wal_fd);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st);
}

/* Takes the owner's lock of the store at uri: 0, or -1 with err set
 * ("database is locked by another kickd" if another process holds it). */
static int
lock_owner(struct store *st, const char *uri, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    if ((size_t)snprintf(path, sizeof(path), "%s-lock", uri) >=
        sizeof(path)) {
        snprintf(err, errlen, "%s: path too long", uri);
        return -1;
    }
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fcntl(st->lock_fd, F_SETLK, &fl) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", uri,
                 e == EACCES || e == EAGAIN
                     ? "database is locked by another kickd"
                     : strerror(e));
        return -1;
    }
    return 0;
}

/* Asks for WAL; a file system that cannot share memory between processes
 * keeps SQLite on its rollback journal, which then syncs at every commit
 * (synchronous=FULL) and store_sqlite__sync has nothing to do. */
static int
journal_wal(struct store *st)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
                                NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(s, 0);
        st->wal = mode && strcmp(mode, "wal") == 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_OK ? 0 : store_sqlite__fail_db(st);
}

/* Opens the WAL that the migrations have made (SQLite keeps it, the same
 * file, while its connection is open) and syncs the directory once, so
 * that the WAL's name is as durable as what is synced into it. */
static int
wal_open(struct store *st, const char *uri)
{
    char path[PATH_MAX], why[PATH_MAX + 64];

    if (snprintf(path, sizeof(path), "%s-wal", uri) >= (int)sizeof(path))
        return store_sqlite__fail(st, "path too long");
    st->wal_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (st->wal_fd < 0) {
        snprintf(why, sizeof(why), "%s: %s", path, strerror(errno));
        return store_sqlite__fail(st, why);
    }
    char *slash = strrchr(path, '/');
    if (slash == path)
        path[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(path, sizeof(path), ".");
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0 || fsync(dir) < 0) {
        snprintf(why, sizeof(why), "%s: %s", path, strerror(errno));
        if (dir >= 0)
            close(dir);
        return store_sqlite__fail(st, why);
    }
    close(dir);
    return 0;
}

int
store_sqlite__sync(struct store *st, char *err, size_t errlen)
{
    if (st->wal_fd >= 0 && fdatasync(st->wal_fd) < 0) {
        snprintf(err, errlen, "syncing the WAL: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int
store_sqlite__open(struct store **out, const char *uri, char *err,
                   size_t errlen)
{
    struct store *st = calloc(1, sizeof(*st));

    if (st != NULL)
        st->lock_fd = st->wal_fd = -1;
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
    /* One kickd owns the file: two on one SQLite store would run the same
     * jobs (several nodes share PostgreSQL instead). A POSIX record lock
     * on PATH-lock says so (SQLite's locking_mode=EXCLUSIVE would do too,
     * but made commits a third slower). Not flock(2): its lock belongs to
     * the open file, which a script shares from vfork until its exec, so
     * a kickd killed at that moment left the lock to its script and the
     * restart was refused. A record lock belongs to the process and goes
     * with it; it lives on a file of its own since closing any descriptor
     * of a file drops the process's record locks on it, and SQLite opens
     * and closes the database's. */
    if (lock_owner(st, uri, err, errlen) < 0)
        goto fail;
    /* WAL: readers do not block the writer. synchronous=NORMAL: SQLite
     * syncs the WAL before each checkpoint and the database after it, and
     * a commit writes to the WAL without a sync: store_sqlite__sync does
     * that, on the sync thread, before any 202 for the commit is sent, so
     * a power loss never takes back a job that was answered (what FULL
     * would do, without holding the next transaction behind the flush).
     * The first statement also reads the file, so a file that is not a
     * database fails here. */
    if (sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT) != SQLITE_OK ||
        journal_wal(st) < 0 ||
        exec_sql(st, st->wal ? "PRAGMA synchronous = NORMAL"
                             : "PRAGMA synchronous = FULL") < 0 ||
        exec_sql(st, "PRAGMA foreign_keys = ON") < 0 || migrate(st) < 0 ||
        (st->wal && wal_open(st, uri) < 0))
        goto fail_st;
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
                                SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            store_sqlite__fail_db(st);
            goto fail_st;
        }
    }
    if (id_read(st) < 0)
        goto fail_st;
    *out = st;
    return 0;
fail_st:
    snprintf(err, errlen, "%s: %s", uri, st->err);
fail:
    store_sqlite__close(st);
    return -1;
}
