/* SPDX-License-Identifier: MIT */
/* The kick command: one function per verb, and its exit codes. */
#ifndef KICK_CLI_H
#define KICK_CLI_H

#include <stdio.h>

#include <kick.h>

/* Exit codes of kick, documented in its usage. */
#define EXIT_OK 0
#define EXIT_FAIL 1        /* the server answered with an error status */
#define EXIT_USAGE 2       /* bad command line */
#define EXIT_NOTSCRIPT 3   /* kick ctl outside a kick script */
#define EXIT_REFUSED 4     /* kickd refused the request */
#define EXIT_UNREACHABLE 5 /* the server could not be reached, timed out */
#define EXIT_DNS 6         /* the host name does not resolve */
#define EXIT_URL 7         /* a malformed URL */
#define EXIT_JOB_FAILED 8  /* --wait: the job ended without an exit status */

/* The server of the job verbs when neither --server nor KICK_SERVER. */
#define DEFAULT_SERVER "http://127.0.0.1:8080"

/* One -d or --data-binary item of a trigger, in the order given. */
struct cli_data {
    char *pair;  /* -d NAME=VALUE: a form field kick encodes, or NULL */
    char *bytes; /* -d @FILE (its CR and LF dropped, as curl does),
                  * --data-binary @FILE or STRING: sent as they are;
                  * owned */
    size_t len;
};

/* A trigger's command line, shared by one trigger and --batch. */
struct trigger_args {
    const char *url;
    const char *method;     /* -X, or NULL */
    struct cli_data *data;  /* -d and --data-binary, n_data of them */
    int n_data;
    char **query;           /* -q NAME=VALUE */
    int n_query;
    char **headers;         /* -H 'Name: value' */
    int n_headers;
    char **cookies;         /* -b NAME=VALUE */
    int n_cookies;
    const char *json;       /* --json BODY, or NULL */
    enum kick_wait wait;
    struct kick_opts opts;
    const char *batch;      /* --batch FILE, or NULL */
    int parallel;           /* --batch connections */
};

void
cli_usage(FILE *f);
/* getopt_long codes of the client options every verb that talks HTTP
 * takes (below the verbs' own codes, which start at 256), and their
 * entries for a long-option table. */
enum {
    CLI_OPT_CONNECT_TIMEOUT = 200,
    CLI_OPT_TIMEOUT,
    CLI_OPT_CACERT,
    CLI_OPT_TOKEN,
};
#define CLI_CLIENT_OPTIONS                                                   \
    {"connect-timeout", required_argument, NULL, CLI_OPT_CONNECT_TIMEOUT},   \
        {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},               \
        {"cacert", required_argument, NULL, CLI_OPT_CACERT},                 \
        {"insecure", no_argument, NULL, 'k'},                                \
        {"token", required_argument, NULL, CLI_OPT_TOKEN}

/* Takes getopt's code c and its argument if c is a client option: 1 (set
 * in opts), 0 if c is not one, or -1 with the problem in why (size n). */
int
cli_client_option(int c, const char *arg, struct kick_opts *opts,
                  char *why, size_t n);

/* Parses whole or decimal seconds into ms; 0, or -1 if not a number
 * above 0. */
int
cli_seconds(const char *s, long *ms);
/* The exit code for a libkick error code. */
int
cli_exit_for(int err);
/* Prints "kick VERB: " (or "kick: " with verb NULL), the message and a
 * pointer to --help on stderr; returns EXIT_USAGE. */
int
cli_usage_error(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Builds the request of url (method may be NULL) with a's fields. NULL
 * after printing why, with *code the exit code. */
struct kick_request *
cli_request(const struct trigger_args *a, const char *method,
            const char *url, const char *where, int *code);
/* Copies scheme://host[:port] of url into base (size bytes). */
void
cli_origin(const char *url, char *base, size_t size);
/* Prints the ended job's output and returns kick's exit code for it: the
 * job's exit status, 128 + its signal, or EXIT_JOB_FAILED. */
int
cli_job_end(struct kick_client *c, const char *base, long long id,
            const char *state, int exit_status, int term_signal);

/* A job verb's command line: kick status|cancel|wait|retry|ls. */
struct job_args {
    const char *verb;
    const char *server;
    const char *state;  /* ls --state */
    const char *route;  /* ls --route */
    long long id;       /* status, cancel, wait, retry, logs */
    char **ids;         /* rm: the IDs, checked */
    int nids;
    long long after;    /* ls --after */
    long long before;   /* ls --before */
    int limit;          /* ls --limit */
    int json;           /* ls and status --json */
    int follow;         /* logs -f */
    struct kick_opts opts;
};
/* Prints "kick VERB: " and the client's detail (or the code's name) on
 * stderr; returns the exit code for e. */
int
cli_job_fail(struct kick_client *c, const char *verb, int e);
/* "2026-12-06T10:00:00.250Z", as kickd writes a time, to ms since the
 * epoch; -1 if s (may be NULL) is no such string. */
long long
cli_utc_ms(const char *s);
/* A duration for people: 350ms, 12.4s, 3m05s, 2h03m. */
void
cli_duration_format(long long ms, char *buf, size_t size);
/* How long a job's last run took (a running one's so far), from its
 * state and its started_at and finished_at strings (NULL for null), as
 * cli_duration_format has it; "-" if it has not started or waits to run
 * again. */
void
cli_run_duration(const char *state, const char *started,
                 const char *finished, char *buf, size_t size);

int
cmd_ctl(int argc, char **argv);
/* kick URL ... and kick --batch FILE. */
int
cmd_trigger(int argc, char **argv);
int
cmd_batch(const struct trigger_args *a);
/* kick status|cancel|wait|retry|ls. */
int
cmd_job(int argc, char **argv);
/* kick ls and kick status ID, once their command line is read. */
int
cmd_ls(struct kick_client *c, const struct job_args *a);
int
cmd_status(struct kick_client *c, const struct job_args *a);

#endif
