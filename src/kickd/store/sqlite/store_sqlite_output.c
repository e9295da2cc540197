/* SPDX-License-Identifier: MIT */
/* The output of a job in the SQLite store: chunks appended in order,
 * trimmed to the newest cap bytes, read back as one buffer. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite_internal.h"

/* Output is kept as chunks of up to this many bytes, so that an append
 * rewrites at most one chunk and trimming to the cap deletes whole ones. */
#define OUTPUT_CHUNK 16384

/* Appends to the job's last chunk if it stays under OUTPUT_CHUNK, else
 * adds a chunk. */
static int
output_add(struct store *st, int64_t id, const char *data, size_t len)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_OUT_LAST);
    int64_t last = 0, size = 0;
    int rc;

    if (store_sqlite__bind_i64(s, 1, id) != 0)
        return store_sqlite__bind_fail(st, s);
    if ((rc = store_sqlite__step(st, s)) < 0)
        return -1;
    if (rc == SQLITE_ROW) {
        last = sqlite3_column_int64(s, 0);
        size = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (last == 0 || size + (int64_t)len > OUTPUT_CHUNK) {
        s = store_sqlite__stmt(st, ST_OUT_ADD);
        if ((store_sqlite__bind_i64(s, 1, id) |
             store_sqlite__bind_i64(s, 2, (int64_t)len) |
             store_sqlite__bind_blob(s, 3, data, len)) != 0)
            return store_sqlite__bind_fail(st, s);
        return store_sqlite__run(st, s);
    }
    char buf[OUTPUT_CHUNK];
    s = store_sqlite__stmt(st, ST_OUT_DATA);
    if (store_sqlite__bind_i64(s, 1, last) != 0)
        return store_sqlite__bind_fail(st, s);
    if ((rc = store_sqlite__step(st, s)) != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc < 0 ? -1 : store_sqlite__fail(st, "output chunk vanished");
    }
    const void *old = sqlite3_column_blob(s, 0);
    size = sqlite3_column_bytes(s, 0);
    if (size + (int64_t)len > OUTPUT_CHUNK) {
        sqlite3_reset(s);
        return store_sqlite__fail(st, "output chunk larger than its size");
    }
    if (size > 0)
        memcpy(buf, old, (size_t)size);
    sqlite3_reset(s);
    memcpy(buf + size, data, len);
    s = store_sqlite__stmt(st, ST_OUT_SET);
    if ((store_sqlite__bind_i64(s, 1, last) |
         store_sqlite__bind_i64(s, 2, size + (int64_t)len) |
         store_sqlite__bind_blob(s, 3, buf, (size_t)size + len)) != 0)
        return store_sqlite__bind_fail(st, s);
    return store_sqlite__run(st, s);
}

/* Drops the oldest output so that exactly the newest cap bytes are left:
 * walks the chunks newest first until they hold cap bytes, deletes the
 * older ones and cuts the front of the one that crossed cap. */
static int
output_trim(struct store *st, int64_t id, size_t cap)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_OUT_WALK);
    int64_t kept = 0, chunk = 0, cut = 0;
    int rc;

    if (store_sqlite__bind_i64(s, 1, id) != 0)
        return store_sqlite__bind_fail(st, s);
    while ((rc = store_sqlite__step(st, s)) == SQLITE_ROW) {
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
    s = store_sqlite__stmt(st, ST_OUT_DROP);
    if ((store_sqlite__bind_i64(s, 1, id) |
         store_sqlite__bind_i64(s, 2, chunk)) != 0)
        return store_sqlite__bind_fail(st, s);
    if (store_sqlite__run(st, s) < 0)
        return -1;
    if (cut == 0)
        return 0;
    s = store_sqlite__stmt(st, ST_OUT_CUT);
    if ((store_sqlite__bind_i64(s, 1, chunk) |
         store_sqlite__bind_i64(s, 2, cut)) != 0)
        return store_sqlite__bind_fail(st, s);
    return store_sqlite__run(st, s);
}

static int
output_append(struct store *st, int64_t id, const char *data, size_t len,
              size_t cap)
{
    sqlite3_stmt *s;

    if (len >= cap) {
        /* The new bytes alone fill the cap: they replace everything. */
        s = store_sqlite__stmt(st, ST_OUT_CLEAR);
        if (store_sqlite__bind_i64(s, 1, id) != 0)
            return store_sqlite__bind_fail(st, s);
        if (store_sqlite__run(st, s) < 0)
            return -1;
        if (cap == 0)
            return 0;
        data += len - cap;
        len = cap;
        s = store_sqlite__stmt(st, ST_OUT_ADD);
        if ((store_sqlite__bind_i64(s, 1, id) |
             store_sqlite__bind_i64(s, 2, (int64_t)len) |
             store_sqlite__bind_blob(s, 3, data, len)) != 0)
            return store_sqlite__bind_fail(st, s);
        return store_sqlite__run(st, s);
    }
    if (output_add(st, id, data, len) < 0)
        return -1;
    return output_trim(st, id, cap);
}

/* Counts the bytes in the job's output_size, kept or not. */
static int
output_count(struct store *st, int64_t id, int64_t bytes)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_OUT_SIZE);

    if ((store_sqlite__bind_i64(s, 1, id) |
         store_sqlite__bind_i64(s, 2, bytes)) != 0)
        return store_sqlite__bind_fail(st, s);
    if (store_sqlite__run(st, s) < 0)
        return -1;
    if (sqlite3_changes(st->db) == 0)
        return store_sqlite__fail(st, "no such job");
    return 0;
}

static int
output_add_counted(struct store *st, int64_t id, const char *data,
                   size_t len, size_t cap, int64_t skipped)
{
    if (output_count(st, id, (int64_t)len + skipped) < 0)
        return -1;
    if (len == 0)
        return 0;
    return output_append(st, id, data, len, cap);
}

/* Appending to a job that does not exist fails. */
int
store_sqlite__output_append(struct store *st, int64_t id, const char *data,
                            size_t len, size_t cap, int64_t skipped)
{
    bool own;

    if (len == 0 && skipped == 0)
        return 0;
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    return store_sqlite__op_end(
        st, own, output_add_counted(st, id, data, len, cap, skipped));
}

/* Loads job id (without its request) into j: 1 if it exists, 0 if not,
 * -1. */
static int
job_load(struct store *st, int64_t id, struct job *j)
{
    sqlite3_stmt *s = store_sqlite__stmt(st, ST_GET);
    int rc;

    if (store_sqlite__bind_i64(s, 1, id) != 0)
        return store_sqlite__bind_fail(st, s);
    rc = store_sqlite__step(st, s);
    if (rc == SQLITE_ROW && store_sqlite__row_job(st, s, j) < 0)
        rc = -1;
    sqlite3_reset(s);
    if (rc < 0)
        return -1;
    return rc == SQLITE_ROW;
}

static int
output_get(struct store *st, int64_t id, char **data, size_t *len,
           struct job *job)
{
    sqlite3_stmt *s;
    char *buf = NULL;
    size_t n = 0;
    int rc = job_load(st, id, job);

    if (rc <= 0)
        return rc < 0 ? -1 : 1;
    s = store_sqlite__stmt(st, ST_OUT_ALL);
    if (store_sqlite__bind_i64(s, 1, id) != 0)
        return store_sqlite__bind_fail(st, s);
    while ((rc = store_sqlite__step(st, s)) == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 0);
        size_t m = (size_t)sqlite3_column_bytes(s, 0);
        char *nb;
        if (m == 0)
            continue;
        if (p == NULL || (nb = realloc(buf, n + m + 1)) == NULL) {
            rc = store_sqlite__fail(st, "out of memory");
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

/* The job and its chunks are read in one transaction so that an append
 * cannot come between them (it cannot on the store thread; this keeps it
 * true for any other caller). */
int
store_sqlite__output_get(struct store *st, int64_t id, char **data,
                         size_t *len, struct job *job)
{
    struct job scratch = {0};
    bool own;
    int rc;

    *data = NULL;
    *len = 0;
    if (store_sqlite__op_begin(st, &own) < 0)
        return -1;
    rc = output_get(st, id, data, len, job ? job : &scratch);
    job_clear(&scratch);
    if (rc != 0 && job)
        job_clear(job);
    return store_sqlite__op_end(st, own, rc);
}
