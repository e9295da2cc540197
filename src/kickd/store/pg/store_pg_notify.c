/* SPDX-License-Identifier: MIT */
/* Notices between the nodes sharing a PostgreSQL store: the lines a
 * transaction makes, sent with pg_notify in that transaction just before
 * its COMMIT (so a rolled-back one sends nothing and a committed one
 * sends them exactly once), and the listener that receives them
 * (store.h, listen_wait). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

/* PostgreSQL refuses a payload of 8000 bytes or more: a transaction's
 * lines go in notices of at most this many. */
#define PG_NOTICE_MAX 7900
/* The channel every node listens on. */
#define PG_CHANNEL "kick"

int
store_pg__note_due(struct store *st, const char *route, int64_t run_at)
{
    struct pg_notes *n = &st->notes;

    if (n->ndue == n->capdue) {
        size_t cap = n->capdue ? n->capdue * 2 : 16;
        struct pg_due *d = realloc(n->due, cap * sizeof(*d));
        if (d == NULL)
            return store_pg__fail(st, "out of memory");
        n->due = d;
        n->capdue = cap;
    }
    if ((n->due[n->ndue].route = strdup(route)) == NULL)
        return store_pg__fail(st, "out of memory");
    n->due[n->ndue++].run_at = run_at;
    return 0;
}

int
store_pg__note_line(struct store *st, char kind, int64_t id)
{
    struct pg_notes *n = &st->notes;
    char line[32];
    int len = snprintf(line, sizeof(line), "%c %" PRId64 "\n", kind, id);

    if (n->len + (size_t)len + 1 > n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 256;
        while (cap < n->len + (size_t)len + 1)
            cap *= 2;
        char *b = realloc(n->lines, cap);
        if (b == NULL)
            return store_pg__fail(st, "out of memory");
        n->lines = b;
        n->cap = cap;
    }
    memcpy(n->lines + n->len, line, (size_t)len + 1);
    n->len += (size_t)len;
    return 0;
}

void
store_pg__note_mark(struct store *st)
{
    st->notes.mark_due = st->notes.ndue;
    st->notes.mark_len = st->notes.len;
}

void
store_pg__note_drop(struct store *st, bool all)
{
    struct pg_notes *n = &st->notes;
    size_t from = all ? 0 : n->mark_due;

    for (size_t i = from; i < n->ndue; i++)
        free(n->due[i].route);
    n->ndue = from;
    n->len = all ? 0 : n->mark_len;
    n->mark_due = n->ndue;
    n->mark_len = n->len;
}

void
store_pg__note_free(struct store *st)
{
    store_pg__note_drop(st, true);
    free(st->notes.due);
    free(st->notes.lines);
    memset(&st->notes, 0, sizeof(st->notes));
}

/* Sends buf (len bytes, lines ending in newlines; the last one's is
 * left off) as one notice. */
static int
send_one(struct store *st, char *buf, size_t len)
{
    struct pg_params p = {0};

    if (len == 0)
        return 0;
    buf[len - 1] = '\0';
    store_pg__p_text(&p, buf);
    PGresult *res = store_pg__run(st, PG_NOTIFY, &p);
    PQclear(res);
    return res != NULL ? 0 : -1;
}

/* Appends line to the notice in buf, sending the notice first if the
 * line would make it too long. */
static int
add_line(struct store *st, char *buf, size_t *len, const char *line,
         size_t llen)
{
    if (*len + llen > PG_NOTICE_MAX) {
        if (send_one(st, buf, *len) < 0)
            return -1;
        *len = 0;
    }
    if (llen > PG_NOTICE_MAX)
        return 0; /* cannot be sent: a route name of kilobytes */
    memcpy(buf + *len, line, llen);
    *len += llen;
    return 0;
}

/* The d lines, one per route (the earliest run_at), in the order the
 * routes first came, then the e and c lines in theirs. */
static int
send_all(struct store *st, char *buf)
{
    struct pg_notes *n = &st->notes;
    size_t len = 0;
    char line[PG_NOTICE_MAX + 64];

    for (size_t i = 0; i < n->ndue; i++) {
        if (n->due[i].route == NULL)
            continue;
        int64_t at = n->due[i].run_at;
        for (size_t k = i + 1; k < n->ndue; k++) {
            if (n->due[k].route == NULL ||
                strcmp(n->due[k].route, n->due[i].route) != 0)
                continue;
            if (n->due[k].run_at < at)
                at = n->due[k].run_at;
            free(n->due[k].route);
            n->due[k].route = NULL;
        }
        int l = snprintf(line, sizeof(line), "d %" PRId64 " %s\n", at,
                         n->due[i].route);
        if (l > 0 && (size_t)l < sizeof(line) &&
            add_line(st, buf, &len, line, (size_t)l) < 0)
            return -1;
    }
    for (size_t off = 0; off < n->len;) {
        size_t l = strcspn(n->lines + off, "\n") + 1;
        if (add_line(st, buf, &len, n->lines + off, l) < 0)
            return -1;
        off += l;
    }
    return send_one(st, buf, len);
}

int
store_pg__note_send(struct store *st)
{
    char *buf;
    int r;

    if (st->notes.ndue == 0 && st->notes.len == 0)
        return 0;
    if ((buf = malloc(PG_NOTICE_MAX + 1)) == NULL)
        return store_pg__fail(st, "out of memory");
    r = send_all(st, buf);
    free(buf);
    store_pg__note_drop(st, true);
    return r;
}

int
store_pg__listen_open(struct store **out, const char *uri, char *err,
                      size_t errlen)
{
    struct store *ln = calloc(1, sizeof(*ln));

    *out = NULL;
    if (ln == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ln->conn = store_pg__connect(uri);
    if (ln->conn == NULL || PQstatus(ln->conn) != CONNECTION_OK)
        store_pg__fail_res(ln, NULL);
    else if (store_pg__exec(ln, "LISTEN " PG_CHANNEL) == 0) {
        *out = ln;
        return 0;
    }
    snprintf(err, errlen, "postgresql: %s", ln->err);
    PQfinish(ln->conn);
    free(ln);
    return -1;
}

/* Hands each line of each notice received to cb. */
static int
deliver(struct store *ln, void (*cb)(void *data, const char *line), void *data)
{
    PGnotify *nt;
    int got = 0;

    while ((nt = PQnotifies(ln->conn)) != NULL) {
        char *s = nt->extra;
        while (s != NULL && *s != '\0') {
            char *nl = strchr(s, '\n');
            if (nl != NULL)
                *nl = '\0';
            if (*s != '\0')
                cb(data, s);
            s = nl != NULL ? nl + 1 : NULL;
        }
        PQfreemem(nt);
        got++;
    }
    return got;
}

int
store_pg__listen_wait(struct store *ln, int timeout_ms,
                      void (*cb)(void *data, const char *line), void *data,
                      char *err, size_t errlen)
{
    struct pollfd pfd = {.fd = PQsocket(ln->conn), .events = POLLIN};

    /* Notices read with an earlier result, not yet handed out. */
    if (deliver(ln, cb, data) > 0)
        return 0;
    if (pfd.fd < 0 || PQstatus(ln->conn) != CONNECTION_OK)
        goto lost;
    int n = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (n < 0 && errno != EINTR) {
        snprintf(err, errlen, "poll: %s", strerror(errno));
        return -1;
    }
    if (n > 0 && !PQconsumeInput(ln->conn))
        goto lost;
    deliver(ln, cb, data);
    if (PQstatus(ln->conn) != CONNECTION_OK)
        goto lost;
    return 0;
lost:
    snprintf(err, errlen, "postgresql: %s", PQerrorMessage(ln->conn));
    err[strcspn(err, "\n")] = '\0';
    if (strlen(err) <= strlen("postgresql: "))
        snprintf(err, errlen, "postgresql: the connection was lost");
    return -1;
}
