/* SPDX-License-Identifier: MIT */
/* kick status ID: everything the job API says of a job, one "name: value"
 * line each ("-" for none): its state and attempts, how its last run
 * ended and why, its progress, its CGI response, and every time; with
 * --json, the job's JSON as kickd gives it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/* "name: value" of an integer or a string at key; "-" for null. */
static void
field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (json_is_integer(v))
        printf("%s: %lld\n", key, (long long)json_integer_value(v));
    else if (json_is_string(v))
        printf("%s: %s\n", key, json_string_value(v));
    else
        printf("%s: -\n", key);
}

static long long
num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void
job_print(json_t *j)
{
    static const char *const times[] = {"created_at", "run_at", "started_at",
                                        "finished_at"};
    json_t *resp = json_object_get(j, "response");
    char took[32] = "-";

    field(j, "id");
    field(j, "route");
    field(j, "state");
    printf("attempt: %lld/%lld\n", num(j, "attempt"), num(j, "max_attempts"));
    field(j, "earlier_attempts");
    field(j, "exit_status");
    field(j, "signal");
    field(j, "progress");
    field(j, "progress_message");
    field(j, "connection_status");
    field(j, "interruptions");
    field(j, "error");
    if (json_is_object(resp))
        printf("response: %lld %s\n", num(resp, "status"),
               json_is_string(json_object_get(resp, "content_type"))
                   ? json_string_value(json_object_get(resp, "content_type"))
                   : "-");
    else
        printf("response: -\n");
    field(j, "output_size");
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        field(j, times[i]);
    cli_run_duration(json_string_value(json_object_get(j, "state")),
                     json_string_value(json_object_get(j, "started_at")),
                     json_string_value(json_object_get(j, "finished_at")), took,
                     sizeof(took));
    printf("duration: %s\n", took);
}

int
cmd_status(struct kick_client *c, const struct job_args *a)
{
    char path[48], *text;
    size_t len;
    int e;

    snprintf(path, sizeof(path), "/jobs/%lld", a->id);
    e = kick_job_json(c, a->server, path, NULL, &text, &len);
    if (e < 0)
        return cli_job_fail(c, a->verb, e);
    json_t *j = json_loadb(text, len, 0, NULL);
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "id"))) {
        fprintf(stderr, "kick status: not a job in the answer: %.60s\n", text);
        json_decref(j);
        free(text);
        return EXIT_FAIL;
    }
    if (a->json)
        fwrite(text, 1, len, stdout);
    else
        job_print(j);
    json_decref(j);
    free(text);
    return EXIT_OK;
}
