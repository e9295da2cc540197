/* SPDX-License-Identifier: MIT */
/* kick_job_*: kickd's job API (GET /jobs/ID[?wait=S], DELETE /jobs/ID,
 * POST /jobs/ID/retry, GET /jobs/ID/output, GET /jobs?...) on a client's
 * connection, the JSON read with jansson. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kick_internal.h"

/* A job answer is one JSON object; a page of 1000 is below 1 MiB. */
#define JOB_BODY_MAX (4L * 1024 * 1024)
/* kickd keeps a job's output up to its output_cap; this only stops a
 * runaway answer from eating the memory. */
#define OUTPUT_MAX (1024L * 1024 * 1024)
/* kickd holds a ?wait= at most this long (README: the job API). */
#define WAIT_MAX 300 /* s */

/* Appends base without its trailing '/', then the formatted path. */
static int
job_url(struct kick_client *c, const char *base, struct kick__buf *url,
        const char *path)
{
    struct kick__url u;
    size_t n;

    if (base == NULL || kick__url_parse(base, &u, c->detail,
                                        sizeof(c->detail)) < 0) {
        char why[200];
        snprintf(why, sizeof(why), "%.150s", base ? c->detail : "none");
        snprintf(c->detail, sizeof(c->detail), "bad server URL '%.200s': "
                 "%s", base ? base : "", why);
        return KICK_EINVAL;
    }
    kick__url_close(&u);
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    if (kick__buf_add(url, base, n) < 0 || kick__buf_adds(url, path) < 0) {
        snprintf(c->detail, sizeof(c->detail), "out of memory");
        return KICK_ENOMEM;
    }
    return 0;
}

/* The integer at key, or dflt when it is missing or null. */
static long long
get_int(json_t *o, const char *key, long long dflt)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int
job_from_json(json_t *o, struct kick_job *out)
{
    json_t *id = json_object_get(o, "id");
    json_t *state = json_object_get(o, "state");
    json_t *route = json_object_get(o, "route");

    memset(out, 0, sizeof(*out));
    if (!json_is_object(o) || !json_is_integer(id) || !json_is_string(state))
        return KICK_EPROTO;
    out->id = json_integer_value(id);
    snprintf(out->state, sizeof(out->state), "%s", json_string_value(state));
    if (json_is_string(route))
        snprintf(out->route, sizeof(out->route), "%s",
                 json_string_value(route));
    out->connection_status = (int)get_int(o, "connection_status", 0);
    out->attempt = (int)get_int(o, "attempt", 0);
    out->max_attempts = (int)get_int(o, "max_attempts", 0);
    out->exit_status = (int)get_int(o, "exit_status", -1);
    out->term_signal = (int)get_int(o, "signal", 0);
    out->progress = (int)get_int(o, "progress", -1);
    out->interruptions = (int)get_int(o, "interruptions", 0);
    json_t *error = json_object_get(o, "error");
    if (json_is_string(error))
        snprintf(out->error, sizeof(out->error), "%s",
                 json_string_value(error));
    return 0;
}

/* Parses c->body as one job. */
static int
body_job(struct kick_client *c, struct kick_job *out)
{
    json_error_t jerr;
    json_t *j = json_loadb(c->body.data, c->body.len, 0, &jerr);
    int e = j ? job_from_json(j, out) : KICK_EPROTO;

    if (e < 0)
        snprintf(c->detail, sizeof(c->detail), "not a job in the answer: "
                 "%.60s", c->body.data);
    json_decref(j);
    return e;
}

/* One request of the job API: 0 with the answer in c->body. */
static int
job_call(struct kick_client *c, const char *base, const char *path,
         const char *method, long timeout_ms, size_t body_max)
{
    struct kick__buf url = {0};
    struct curl_slist *h = NULL, *n;
    long status;
    int e = job_url(c, base, &url, path);

    if (e < 0)
        return e;
    if (c->token) {
        struct kick__buf auth = {0};
        if (kick__buf_adds(&auth, "Authorization: Bearer ") < 0 ||
            kick__buf_adds(&auth, c->token) < 0 ||
            (n = curl_slist_append(h, auth.data)) == NULL) {
            kick__buf_close(&auth);
            kick__buf_close(&url);
            snprintf(c->detail, sizeof(c->detail), "out of memory");
            return KICK_ENOMEM;
        }
        h = n;
        kick__buf_close(&auth);
    }
    e = kick__client_perform(c, url.data, method, NULL, 0, h, timeout_ms,
                             body_max, &status);
    curl_slist_free_all(h);
    kick__buf_close(&url);
    return e;
}

int
kick_job_get(struct kick_client *c, const char *base, long long id,
             int wait_s, struct kick_job *out)
{
    char path[64];
    int e;

    if (id < 0 || out == NULL)
        return KICK_EINVAL;
    if (wait_s > WAIT_MAX)
        wait_s = WAIT_MAX;
    if (wait_s > 0)
        snprintf(path, sizeof(path), "/jobs/%lld?wait=%d", id, wait_s);
    else
        snprintf(path, sizeof(path), "/jobs/%lld", id);
    /* The wait is kickd's; the timeout covers the answer after it. */
    e = job_call(c, base, path, "GET",
                 c->timeout_ms + (wait_s > 0 ? wait_s * 1000L : 0),
                 JOB_BODY_MAX);
    return e < 0 ? e : body_job(c, out);
}

/* A call on /jobs/ID followed by tail whose answer is the job, read into
 * out unless out is NULL. */
static int
job_act(struct kick_client *c, const char *base, long long id,
        const char *tail, const char *method, struct kick_job *out)
{
    char path[64];
    int e;

    if (id < 0)
        return KICK_EINVAL;
    snprintf(path, sizeof(path), "/jobs/%lld%s", id, tail);
    e = job_call(c, base, path, method, c->timeout_ms, JOB_BODY_MAX);
    if (e < 0 || out == NULL)
        return e;
    return body_job(c, out);
}

int
kick_job_cancel(struct kick_client *c, const char *base, long long id,
                struct kick_job *out)
{
    /* Only a cancel: an ended job is not deleted (409). */
    return job_act(c, base, id, "?only=cancel", "DELETE", out);
}

int
kick_job_delete(struct kick_client *c, const char *base, long long id)
{
    char path[64];
    struct kick_job job;
    int e;

    if (id < 0)
        return KICK_EINVAL;
    /* Only a delete: a queued or running job is not canceled (409). */
    snprintf(path, sizeof(path), "/jobs/%lld?only=delete", id);
    e = job_call(c, base, path, "DELETE", c->timeout_ms, JOB_BODY_MAX);
    if (e != KICK_EHTTP)
        return e;
    /* kickd's 409 holds the job: say what state it is in, and what to
     * do. */
    json_t *j = json_loadb(c->body.data, c->body.len, 0, NULL);
    if (j != NULL && job_from_json(j, &job) == 0 &&
        (strcmp(job.state, "queued") == 0 ||
         strcmp(job.state, "running") == 0))
        snprintf(c->detail, sizeof(c->detail),
                 "HTTP 409 Conflict: job %lld is %s; only an ended job is "
                 "deleted: cancel it first",
                 job.id, job.state);
    json_decref(j);
    return e;
}

int
kick_job_output(struct kick_client *c, const char *base, long long id,
                char **data, size_t *len)
{
    char path[64];
    int e;

    *data = NULL;
    *len = 0;
    if (id < 0)
        return KICK_EINVAL;
    snprintf(path, sizeof(path), "/jobs/%lld/output", id);
    e = job_call(c, base, path, "GET", c->timeout_ms, OUTPUT_MAX);
    if (e < 0)
        return e;
    /* The caller takes the buffer over. */
    *data = c->body.data;
    *len = c->body.len;
    memset(&c->body, 0, sizeof(c->body));
    return 0;
}

int
kick_job_follow(struct kick_client *c, const char *base, long long id,
                int (*cb)(const char *data, size_t len, void *arg),
                void *arg)
{
    char path[80];
    int e;

    if (id < 0 || cb == NULL)
        return KICK_EINVAL;
    snprintf(path, sizeof(path), "/jobs/%lld/output?follow=1", id);
    c->sink = cb;
    c->sink_arg = arg;
    c->sink_stopped = 0;
    e = job_call(c, base, path, "GET", 0, JOB_BODY_MAX);
    c->sink = NULL;
    c->sink_arg = NULL;
    if (c->sink_stopped) {
        snprintf(c->detail, sizeof(c->detail), "stopped by the caller");
        return KICK_EINVAL;
    }
    return e;
}

int
kick_job_list(struct kick_client *c, const char *base, const char *state,
              long long after, struct kick_job *out, int max, int *n,
              long long *next)
{
    struct kick__buf path = {0};
    char num[64];
    json_t *j, *jobs, *nx;
    int e;

    *n = 0;
    *next = 0;
    if (max < 1 || out == NULL)
        return KICK_EINVAL;
    snprintf(num, sizeof(num), "/jobs?limit=%d", max > 1000 ? 1000 : max);
    e = kick__buf_adds(&path, num);
    if (e == 0 && state && *state) {
        e = kick__buf_adds(&path, "&state=");
        if (e == 0)
            e = kick__form_encode(&path, state);
    }
    if (e == 0 && after > 0) {
        snprintf(num, sizeof(num), "&after=%lld", after);
        e = kick__buf_adds(&path, num);
    }
    if (e == 0)
        e = job_call(c, base, path.data, "GET", c->timeout_ms,
                     JOB_BODY_MAX);
    kick__buf_close(&path);
    if (e < 0)
        return e;
    j = json_loadb(c->body.data, c->body.len, 0, NULL);
    jobs = json_object_get(j, "jobs");
    if (!json_is_array(jobs)) {
        snprintf(c->detail, sizeof(c->detail), "not a job list in the "
                 "answer: %.60s", c->body.data);
        json_decref(j);
        return KICK_EPROTO;
    }
    for (size_t i = 0; i < json_array_size(jobs) && *n < max; i++)
        if (job_from_json(json_array_get(jobs, i), &out[*n]) == 0)
            (*n)++;
    nx = json_object_get(j, "next");
    if (json_is_integer(nx))
        *next = json_integer_value(nx);
    json_decref(j);
    return 0;
}

int
kick_job_retry(struct kick_client *c, const char *base, long long id,
               struct kick_job *out)
{
    return job_act(c, base, id, "/retry", "POST", out);
}

/* path, then "?NAME=VALUE&..." of params with the values encoded. */
static int
path_query(struct kick__buf *b, const char *path, const char *const *params)
{
    int e = kick__buf_adds(b, path);

    for (size_t i = 0; e == 0 && params && params[i] && params[i + 1];
         i += 2) {
        e = kick__buf_adds(b, i == 0 ? "?" : "&");
        if (e == 0)
            e = kick__buf_adds(b, params[i]);
        if (e == 0)
            e = kick__buf_adds(b, "=");
        if (e == 0)
            e = kick__form_encode(b, params[i + 1]);
    }
    return e;
}

int
kick_job_json(struct kick_client *c, const char *base, const char *path,
              const char *const *params, char **json, size_t *len)
{
    struct kick__buf url = {0};
    int e;

    *json = NULL;
    *len = 0;
    if (path == NULL || strncmp(path, "/jobs", 5) != 0 ||
        strchr(path, '?') != NULL) {
        snprintf(c->detail, sizeof(c->detail), "not a path of the job "
                 "API: '%.100s'", path ? path : "");
        return KICK_EINVAL;
    }
    if (path_query(&url, path, params) < 0) {
        kick__buf_close(&url);
        snprintf(c->detail, sizeof(c->detail), "out of memory");
        return KICK_ENOMEM;
    }
    e = job_call(c, base, url.data, "GET", c->timeout_ms, JOB_BODY_MAX);
    kick__buf_close(&url);
    if (e < 0)
        return e;
    /* The caller takes the buffer over. */
    *json = c->body.data;
    *len = c->body.len;
    memset(&c->body, 0, sizeof(c->body));
    return 0;
}
