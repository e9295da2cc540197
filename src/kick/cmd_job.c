/* SPDX-License-Identifier: MIT */
/* kick status|cancel|wait|retry|logs ID, kick rm ID... and kick ls:
 * kickd's job API through libkick, on the server of --server,
 * $KICK_SERVER or the default (status and ls print in cmd_status.c and
 * cmd_ls.c). */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* kick wait asks kickd to hold each answer this long (it allows 300). */
#define WAIT_STEP 60 /* s */
/* kick ls: the page kickd gives without a limit. */
#define LS_DEFAULT 50

enum {
    OPT_SERVER = 256,
    OPT_STATE,
    OPT_LIMIT,
    OPT_AFTER,
    OPT_BEFORE,
    OPT_ROUTE,
    OPT_JSON,
};

static const struct option long_opts[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"state", required_argument, NULL, OPT_STATE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"after", required_argument, NULL, OPT_AFTER},
    {"follow", no_argument, NULL, 'f'},
    {"before", required_argument, NULL, OPT_BEFORE},
    {"route", required_argument, NULL, OPT_ROUTE},
    {"json", no_argument, NULL, OPT_JSON},
    CLI_CLIENT_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* A job id or a count: digits only, 0 or more. */
static int
parse_id(const char *s, long long *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    *out = strtoll(s, &end, 10);
    return *end == '\0' && *out < 1000000000000000000LL ? 0 : -1;
}

static int
parse(int argc, char **argv, struct job_args *a)
{
    char detail[256];
    int c;
    long long n;

    a->verb = argv[0];
    a->server = getenv("KICK_SERVER");
    if (a->server == NULL || *a->server == '\0')
        a->server = DEFAULT_SERVER;
    a->limit = LS_DEFAULT;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":kfh", long_opts, NULL)) != -1) {
        char why[128];
        int k = cli_client_option(c, optarg, &a->opts, why, sizeof(why));
        if (k < 0)
            return cli_usage_error(a->verb, "%s", why);
        if (k > 0)
            continue;
        switch (c) {
        case OPT_SERVER:
            a->server = optarg;
            break;
        case OPT_STATE:
            a->state = optarg;
            break;
        case OPT_LIMIT:
            if (parse_id(optarg, &n) < 0 || n < 1 || n > 1000)
                return cli_usage_error(
                    a->verb, "--limit takes 1 to 1000, not '%s'", optarg);
            a->limit = (int)n;
            break;
        case OPT_AFTER:
        case OPT_BEFORE:
            if (parse_id(optarg, c == OPT_AFTER ? &a->after : &a->before) < 0)
                return cli_usage_error(a->verb, "%s takes a job id, not '%s'",
                                       c == OPT_AFTER ? "--after"
                                                      : "--before",
                                       optarg);
            break;
        case OPT_ROUTE:
            a->route = optarg;
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case 'f':
            if (strcmp(a->verb, "logs") != 0)
                return cli_usage_error(a->verb, "unknown option '%s'",
                                       argv[optind - 1]);
            a->follow = 1;
            break;
        case 'h':
            cli_usage(stdout);
            return -1;
        case ':':
            return cli_usage_error(a->verb, "%s needs a value",
                                   argv[optind - 1]);
        default:
            return cli_usage_error(a->verb, "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (kick_url_check(a->server, detail, sizeof(detail)) < 0) {
        fprintf(stderr, "kick %s: malformed server URL '%s': %s\n", a->verb,
                a->server, detail);
        return EXIT_URL;
    }
    if (strcmp(a->verb, "ls") == 0) {
        if (optind != argc)
            return cli_usage_error(a->verb, "takes no argument: '%s'",
                                   argv[optind]);
        return 0;
    }
    if (optind == argc)
        return cli_usage_error(a->verb, "%s", "which job? (an ID)");
    if (strcmp(a->verb, "rm") == 0) {
        a->ids = &argv[optind];
        a->nids = argc - optind;
        for (int i = 0; i < a->nids; i++)
            if (parse_id(a->ids[i], &a->id) < 0)
                return cli_usage_error(a->verb, "takes job IDs, not '%s'",
                                       a->ids[i]);
        return 0;
    }
    if (parse_id(argv[optind], &a->id) < 0)
        return cli_usage_error(a->verb, "takes one job ID, not '%s'",
                               argv[optind]);
    if (optind + 1 != argc)
        return cli_usage_error(a->verb, "takes one job ID: '%s' is one "
                               "too many", argv[optind + 1]);
    return 0;
}

int
cli_job_fail(struct kick_client *c, const char *verb, int e)
{
    const char *d = c ? kick_client_detail(c) : "";

    fprintf(stderr, "kick %s: %s\n", verb, *d ? d : kick_strerror(e));
    return cli_exit_for(e);
}

static int
is_final(const char *state)
{
    return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "timed_out") == 0 || strcmp(state, "aborted") == 0 ||
           strcmp(state, "canceled") == 0;
}

int
cli_job_end(struct kick_client *c, const char *base, long long id,
            const char *state, int exit_status, int term_signal)
{
    char *out = NULL;
    size_t len = 0;
    int e = kick_job_output(c, base, id, &out, &len);

    if (e < 0)
        fprintf(stderr, "kick: the output of job %lld: %s\n", id,
                *kick_client_detail(c) ? kick_client_detail(c)
                                       : kick_strerror(e));
    else
        fwrite(out, 1, len, stdout);
    free(out);
    fflush(stdout);
    if (term_signal > 0) {
        fprintf(stderr, "kick: job %lld %s: killed by signal %d\n", id,
                state, term_signal);
        return 128 + term_signal;
    }
    if (exit_status >= 0)
        return exit_status > 255 ? 255 : exit_status;
    if (strcmp(state, "succeeded") == 0)
        return EXIT_OK;
    fprintf(stderr, "kick: job %lld ended %s\n", id, state);
    return EXIT_JOB_FAILED;
}

static int
print_piece(const char *data, size_t len, void *arg)
{
    (void)arg;
    if (fwrite(data, 1, len, stdout) != len)
        return -1;
    return fflush(stdout) == 0 ? 0 : -1;
}

/* kick logs [-f] ID: the output kept so far, or followed to the job's
 * end. */
static int
cmd_logs(struct kick_client *c, const struct job_args *a)
{
    char *out = NULL;
    size_t len = 0;
    int e;

    if (a->follow) {
        e = kick_job_follow(c, a->server, a->id, print_piece, NULL);
        return e < 0 ? cli_job_fail(c, a->verb, e) : EXIT_OK;
    }
    e = kick_job_output(c, a->server, a->id, &out, &len);
    if (e < 0)
        return cli_job_fail(c, a->verb, e);
    fwrite(out, 1, len, stdout);
    free(out);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* kick rm ID...: each ended job is deleted; one that is not (or is
 * gone) is told, and the others are still deleted. The exit status is
 * the first failure's. */
static int
cmd_rm(struct kick_client *c, const struct job_args *a)
{
    int code = EXIT_OK;

    for (int i = 0; i < a->nids; i++) {
        long long id = strtoll(a->ids[i], NULL, 10);
        int e = kick_job_delete(c, a->server, id);
        if (e == 0) {
            printf("%lld deleted\n", id);
            continue;
        }
        int k = cli_job_fail(c, a->verb, e);
        if (code == EXIT_OK)
            code = k;
    }
    return code;
}

int
cmd_job(int argc, char **argv)
{
    struct job_args a = {0};
    struct kick_client *c;
    struct kick_job job;
    int code = parse(argc, argv, &a), e;

    if (code != 0)
        return code < 0 ? EXIT_OK : code;
    c = kick_client_new(&a.opts, &e);
    if (c == NULL)
        return cli_job_fail(NULL, a.verb, e);
    if (strcmp(a.verb, "ls") == 0) {
        code = cmd_ls(c, &a);
    } else if (strcmp(a.verb, "logs") == 0) {
        code = cmd_logs(c, &a);
    } else if (strcmp(a.verb, "rm") == 0) {
        code = cmd_rm(c, &a);
    } else if (strcmp(a.verb, "status") == 0) {
        code = cmd_status(c, &a);
    } else if (strcmp(a.verb, "retry") == 0) {
        e = kick_job_retry(c, a.server, a.id, &job);
        if (e == 0)
            printf("%lld %s\n", job.id, job.state);
        code = e < 0 ? cli_job_fail(c, a.verb, e) : EXIT_OK;
    } else if (strcmp(a.verb, "cancel") == 0) {
        e = kick_job_cancel(c, a.server, a.id, &job);
        /* A running job answers 202: it is being ended. */
        if (e == 0)
            printf("%lld %s%s\n", job.id, job.state,
                   strcmp(job.state, "running") == 0 ? " (being ended)"
                                                     : "");
        code = e < 0 ? cli_job_fail(c, a.verb, e) : EXIT_OK;
    } else {
        do {
            e = kick_job_get(c, a.server, a.id, WAIT_STEP, &job);
        } while (e == 0 && !is_final(job.state));
        if (e < 0)
            code = cli_job_fail(c, a.verb, e);
        else
            code = cli_job_end(c, a.server, a.id, job.state,
                               job.exit_status, job.term_signal);
    }
    kick_client_free(c);
    if (fflush(stdout) != 0 && code == EXIT_OK)
        code = EXIT_FAIL;
    return code;
}
