/* SPDX-License-Identifier: MIT */
/* kick ls: a page of jobs, newest first, as a table with a header (or
 * the page's JSON as kickd gives it, --json). Times are UTC, as the job
 * API gives them; a duration is a run's, or the running one's so far. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

/* An error column never narrower than this, however narrow the screen. */
#define LS_ERROR_MIN 20

static const char *
str(json_t *o, const char *key, const char *dflt)
{
    json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* One row's cells: id, route, state, attempt, created, duration, error. */
struct row {
    char id[24], attempt[32], created[24], duration[24];
    const char *route, *state, *error;
};

static void
row_fill(json_t *j, struct row *r)
{
    const char *created = str(j, "created_at", "");

    snprintf(r->id, sizeof(r->id), "%lld",
             (long long)json_integer_value(json_object_get(j, "id")));
    r->route = str(j, "route", "-");
    r->state = str(j, "state", "-");
    snprintf(r->attempt, sizeof(r->attempt), "%lld/%lld",
             (long long)json_integer_value(json_object_get(j, "attempt")),
             (long long)json_integer_value(json_object_get(j, "max_attempts")));
    /* Seconds are enough in a table: 2026-12-06T10:00:00Z. */
    snprintf(r->created, sizeof(r->created), "%.19sZ", created);
    cli_run_duration(r->state, str(j, "started_at", NULL),
                     str(j, "finished_at", NULL), r->duration,
                     sizeof(r->duration));
    r->error = str(j, "error", "-");
}

/* The width an ERROR column may take: the screen's (COLUMNS, or the
 * terminal's) less what is left of it; 0 for no limit (not a terminal). */
static int
error_room(int used)
{
    const char *env = getenv("COLUMNS");
    struct winsize ws;
    int cols = env && *env ? atoi(env) : 0;

    if (cols <= 0 && isatty(STDOUT_FILENO) &&
        ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        cols = ws.ws_col;
    if (cols <= 0)
        return 0;
    return cols - used > LS_ERROR_MIN ? cols - used : LS_ERROR_MIN;
}

static int
width(int w, const char *s)
{
    int n = (int)strlen(s);

    return n > w ? n : w;
}

/* The table of jobs: 0, or -1 if out of memory. */
static int
table_print(json_t *jobs)
{
    size_t n = json_array_size(jobs);
    struct row *rows = calloc(n ? n : 1, sizeof(*rows));
    int w[6] = {2, 5, 5, 7, 7, 8}; /* the header's widths */

    if (rows == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct row *r = &rows[i];
        row_fill(json_array_get(jobs, i), r);
        w[0] = width(w[0], r->id);
        w[1] = width(w[1], r->route);
        w[2] = width(w[2], r->state);
        w[3] = width(w[3], r->attempt);
        w[4] = width(w[4], r->created);
        w[5] = width(w[5], r->duration);
    }
    int room = error_room(w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + 12);
    printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], "ID", w[1],
           "ROUTE", w[2], "STATE", w[3], "ATTEMPT", w[4], "CREATED", w[5],
           "DURATION", "ERROR");
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        int len = (int)strlen(r->error);
        bool cut = room > 0 && len > room;
        printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %.*s%s\n", w[0], r->id,
               w[1], r->route, w[2], r->state, w[3], r->attempt, w[4],
               r->created, w[5], r->duration, cut ? room - 3 : len, r->error,
               cut ? "..." : "");
    }
    free(rows);
    return 0;
}

int
cmd_ls(struct kick_client *c, const struct job_args *a)
{
    char limit[16], after[24], before[24];
    const char *params[16];
    int k = 0;
    char *text = NULL;
    size_t len;

    snprintf(limit, sizeof(limit), "%d", a->limit);
    params[k++] = "order";
    params[k++] = "desc";
    params[k++] = "limit";
    params[k++] = limit;
    if (a->state) {
        params[k++] = "state";
        params[k++] = a->state;
    }
    if (a->route) {
        params[k++] = "route";
        params[k++] = a->route;
    }
    if (a->after > 0) {
        snprintf(after, sizeof(after), "%lld", a->after);
        params[k++] = "after";
        params[k++] = after;
    }
    if (a->before > 0) {
        snprintf(before, sizeof(before), "%lld", a->before);
        params[k++] = "before";
        params[k++] = before;
    }
    params[k] = NULL;
    int e = kick_job_json(c, a->server, "/jobs", params, &text, &len);
    if (e < 0)
        return cli_job_fail(c, a->verb, e);
    json_t *page = json_loadb(text, len, 0, NULL);
    json_t *jobs = json_object_get(page, "jobs");
    json_t *next = json_object_get(page, "next");
    if (!json_is_array(jobs)) {
        fprintf(stderr,
                "kick ls: not a page of jobs in the answer: "
                "%.60s\n",
                text);
        json_decref(page);
        free(text);
        return EXIT_FAIL;
    }
    int code = EXIT_OK;
    if (a->json) {
        fwrite(text, 1, len, stdout);
    } else if (table_print(jobs) < 0) {
        fprintf(stderr, "kick ls: out of memory\n");
        code = EXIT_FAIL;
    }
    if (json_is_integer(next))
        fprintf(stderr, "kick ls: more before %lld (--before %lld)\n",
                (long long)json_integer_value(next),
                (long long)json_integer_value(next));
    json_decref(page);
    free(text);
    return code;
}
