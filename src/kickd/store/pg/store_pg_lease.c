/* SPDX-License-Identifier: MIT */
/* What a PostgreSQL store shared by several kickd nodes adds: the node's
 * name and lease (join), the leases renewed, the jobs of expired leases
 * taken over (orphans), and the route's lock of claims with a limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

/* The advisory lock of a route's claims with a limit: FNV-1a of its name
 * (the same on every node whatever its server's hash functions). Tried,
 * not waited for: a batch holds the locks of its claims to its commit,
 * and two nodes' batches that took two routes' locks in turn would wait
 * for each other until the deadlock detector failed one of them, with
 * all the triggers it held. 1 if taken, 0 if another node holds it. */
int
store_pg__lock_route(struct store *st, const char *route)
{
    struct pg_params p = {0};
    uint32_t h = 2166136261u;
    PGresult *res;

    for (const unsigned char *c = (const unsigned char *)route; *c; c++)
        h = (h ^ *c) * 16777619u;
    store_pg__p_i64(&p, (int32_t)h);
    if ((res = store_pg__run(st, PG_LOCK_ROUTE, &p)) == NULL)
        return -1;
    int got = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return got;
}

/* Remembers that route was claimed with a limit: its jobs' ends are then
 * "d" notices, so that nodes waiting at the limit claim again. */
int
store_pg__limited_add(struct store *st, const char *route)
{
    for (size_t i = 0; i < st->nlimited; i++)
        if (strcmp(st->limited[i], route) == 0)
            return 0;
    char **l = realloc(st->limited, (st->nlimited + 1) * sizeof(*l));
    if (l == NULL)
        return store_pg__fail(st, "out of memory");
    st->limited = l;
    if ((l[st->nlimited] = strdup(route)) == NULL)
        return store_pg__fail(st, "out of memory");
    st->nlimited++;
    return 0;
}

bool
store_pg__is_limited(const struct store *st, const char *route)
{
    for (size_t i = 0; i < st->nlimited; i++)
        if (strcmp(st->limited[i], route) == 0)
            return true;
    return false;
}

static void
row_owner(PGresult *res, int row, struct job_owner *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->node, sizeof(o->node), "%s", PQgetvalue(res, row, 21));
    o->pgid = (int)store_pg__col_i64(res, row, 22);
    o->start = store_pg__col_i64(res, row, 23);
    snprintf(o->boot, sizeof(o->boot), "%s", PQgetvalue(res, row, 24));
}

int
store_pg__orphans(struct store *st, struct job **out, struct job_owner **owners,
                  size_t *n)
{
    struct pg_params p = {0};
    PGresult *res;

    *out = NULL;
    *owners = NULL;
    *n = 0;
    store_pg__p_text(&p, store_pg__node(st));
    store_pg__p_i64(&p, store_pg__node(st) ? st->lease_ms : 0);
    if ((res = store_pg__run(st, PG_ORPHANS, &p)) == NULL)
        return -1;
    int rows = PQntuples(res);
    if (rows == 0) {
        PQclear(res);
        return 0;
    }
    *out = calloc((size_t)rows, sizeof(**out));
    *owners = calloc((size_t)rows, sizeof(**owners));
    if (*out == NULL || *owners == NULL) {
        store_pg__fail(st, "out of memory");
        goto fail;
    }
    for (int i = 0; i < rows; i++) {
        if (store_pg__row_job(st, res, i, &(*out)[i]) < 0)
            goto fail;
        row_owner(res, i, &(*owners)[i]);
        *n = (size_t)i + 1;
    }
    PQclear(res);
    return 0;
fail:
    for (size_t k = 0; k < *n; k++)
        job_clear(&(*out)[k]);
    free(*out);
    free(*owners);
    *out = NULL;
    *owners = NULL;
    *n = 0;
    PQclear(res);
    return -1;
}

void
store_pg__join(struct store *st, const char *node, int64_t lease_ms)
{
    snprintf(st->node, sizeof(st->node), "%s", node);
    st->lease_ms = lease_ms;
}

/* One statement: every job this node runs gets lease_ms more, and the
 * list says which they are. */
int
store_pg__renew(struct store *st, int64_t **ids, int **attempts, size_t *n)
{
    struct pg_params p = {0};
    PGresult *res;

    *ids = NULL;
    *attempts = NULL;
    *n = 0;
    if (store_pg__node(st) == NULL)
        return store_pg__fail(st, "renew before join");
    store_pg__p_text(&p, st->node);
    store_pg__p_i64(&p, st->lease_ms);
    if ((res = store_pg__run(st, PG_RENEW, &p)) == NULL)
        return -1;
    int rows = PQntuples(res);
    if (rows > 0) {
        *ids = calloc((size_t)rows, sizeof(**ids));
        *attempts = calloc((size_t)rows, sizeof(**attempts));
        if (*ids == NULL || *attempts == NULL) {
            free(*ids);
            free(*attempts);
            *ids = NULL;
            *attempts = NULL;
            PQclear(res);
            return store_pg__fail(st, "out of memory");
        }
    }
    for (int i = 0; i < rows; i++) {
        (*ids)[i] = store_pg__col_i64(res, i, 0);
        (*attempts)[i] = (int)store_pg__col_i64(res, i, 1);
    }
    *n = (size_t)rows;
    PQclear(res);
    return 0;
}
