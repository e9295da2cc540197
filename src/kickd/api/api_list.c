/* SPDX-License-Identifier: MIT */
/* GET /jobs's query: each parameter checked and read into a job_filter,
 * an unknown one refused (a misspelt filter would list every job). */
#include <stdio.h>
#include <string.h>

#include "api_list.h"
#include "kick_limits.h"
#include "route.h"
#include "timestamp.h"

int64_t
api_num_parse(const char *s, size_t n)
{
    int64_t v = 0;

    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* A percent-encoded time: RFC 3339 (its '+' sent as %2B, or as a '+'
 * that stays one: no date-time has a blank there) or epoch ms. */
static int
time_param(const char *v, size_t n, int64_t *ms)
{
    char text[TIMESTAMP_MAX_LEN + 1];
    long len = n > 3 * TIMESTAMP_MAX_LEN
                   ? -1
                   : route_path_decode(v, n, text, sizeof(text));

    if (len < 0 || timestamp_parse(text, (size_t)len, ms) < 0)
        return -1;
    return 0;
}

static int
state_param(const char *v, size_t n, struct job_filter *f)
{
    char name[16];

    if (n == 0)
        return 0; /* state= is any */
    if (n >= sizeof(name))
        return -1;
    memcpy(name, v, n);
    name[n] = '\0';
    return (f->state = job_state_parse(name)) < 0 ? -1 : 0;
}

/* One parameter, name=v: 0, or -1 with why set. */
static int
param(const char *name, size_t nlen, const char *v, size_t n,
      struct job_filter *f, char *route, size_t cap, char *why, size_t whylen)
{
#define IS(s) (nlen == sizeof(s) - 1 && memcmp(name, s, nlen) == 0)
    const char *bad = NULL;
    int64_t x;

    if (IS("state")) {
        if (state_param(v, n, f) < 0)
            bad = "state must be queued, running, succeeded, failed, "
                  "timed_out, aborted or canceled";
    } else if (IS("route")) {
        if (n > 0 && route_path_decode(v, n, route, cap) < 0)
            bad = "route is not a percent-encoded path";
        f->route = n > 0 && !bad ? route : NULL;
    } else if (IS("limit")) {
        if ((x = api_num_parse(v, n)) < 1 || x > API_MAX_PAGE)
            bad = "limit must be 1 to 1000";
        f->limit = (int)x;
    } else if (IS("after") || IS("before")) {
        if ((x = api_num_parse(v, n)) < 0)
            bad = IS("after") ? "after must be a job id"
                              : "before must be a job id";
        *(IS("after") ? &f->after : &f->before) = x;
    } else if (IS("order")) {
        if (n == 3 && memcmp(v, "asc", 3) == 0)
            f->desc = false;
        else if (n == 4 && memcmp(v, "desc", 4) == 0)
            f->desc = true;
        else
            bad = "order must be asc or desc";
    } else if (IS("created_after") || IS("created_before")) {
        int64_t *t = IS("created_after") ? &f->created_from : &f->created_until;
        /* 0 is no bound in f: created_before=0 would be none. */
        if (time_param(v, n, t) < 0 || (IS("created_before") && *t == 0))
            bad = IS("created_after")
                      ? "created_after must be an RFC 3339 time or ms "
                        "since the epoch"
                      : "created_before must be an RFC 3339 time or ms "
                        "since the epoch";
    } else {
        snprintf(why, whylen, "unknown query parameter '%.*s'",
                 (int)(nlen > 40 ? 40 : nlen), name);
        return -1;
    }
#undef IS
    if (bad) {
        snprintf(why, whylen, "%s", bad);
        return -1;
    }
    return 0;
}

int
api_list_parse(const char *query, size_t len, struct job_filter *f, char *route,
               size_t cap, char *why, size_t whylen)
{
    const char *q = query, *end = query + len;

    memset(f, 0, sizeof(*f));
    f->state = -1;
    f->limit = API_LIST_DEFAULT;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *e = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(e - q));
        const char *v = eq ? eq + 1 : e;
        if (e > q && param(q, (size_t)((eq ? eq : e) - q), v, (size_t)(e - v),
                           f, route, cap, why, whylen) < 0)
            return -1;
        q = amp ? amp + 1 : end;
    }
    return 0;
}
