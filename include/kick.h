/* SPDX-License-Identifier: MIT */
/* libkick: the client library of kick. Triggers (an HTTP or HTTPS request
 * to any server, waited for as far as asked), kickd's job API, and the
 * calls a running script makes to change its own connection handling
 * (kick ctl: PHP's ignore_user_abort(), set_time_limit(),
 * connection_status() and register_shutdown_function() for any language).
 * Errors are negative KICK_E* codes (never renumbered), named by
 * kick_strerror(); a handle keeps a one-line detail of its last error.
 * libkick never prints and has no global state: handles are independent,
 * and each is used by one thread at a time. */
#ifndef KICK_H
#define KICK_H

#include <stddef.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libkick is built with hidden symbols: what this header declares is its
 * whole interface. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

enum kick_error {
    KICK_OK = 0,
    KICK_ENOMEM = -1,     /* out of memory */
    KICK_EINVAL = -2,     /* a bad argument */
    KICK_ENOTSCRIPT = -3, /* not inside a kick script: no KICK_CONTROL */
    KICK_ECONNECT = -4,   /* kickd cannot be reached */
    KICK_ETIMEDOUT = -5,  /* kickd did not answer in time */
    KICK_EREFUSED = -6,   /* kickd refused: not this run's control key */
    KICK_EPROTO = -7,     /* an answer kick does not understand */
    KICK_EHTTP = -8,      /* the server answered with an error status */
    KICK_EDNS = -9,       /* the host name does not resolve */
};

/* A short name of an error code ("not inside a kick script"). */
const char *
kick_strerror(int code);

/* Connection status bits, as PHP's connection_status(). */
#define KICK_STATUS_NORMAL 0
#define KICK_STATUS_ABORTED 1
#define KICK_STATUS_TIMEOUT 2

struct kick_ctl;

/* A handle on the current run's control endpoint: control is its URL, or
 * NULL to take $KICK_CONTROL. Returns NULL with *err set (KICK_ENOTSCRIPT
 * when there is none, KICK_ENOMEM). The handle reuses its connection. */
struct kick_ctl *
kick_ctl_new(const char *control, int *err);

void
kick_ctl_free(struct kick_ctl *c);

/* One line about the handle's last error, or "". Valid until the next
 * call on the handle. */
const char *
kick_ctl_detail(const struct kick_ctl *c);

/* Sets ignore_user_abort (on = 1) or clears it; returns the previous
 * setting (0 or 1), or an error code. */
int
kick_ctl_ignore_user_abort(struct kick_ctl *c, int on);

/* Restarts the run's wall-clock time limit from now: seconds, 0 = none.
 * Returns 0 or an error code. */
int
kick_ctl_set_time_limit(struct kick_ctl *c, unsigned seconds);

/* Returns the connection status (0 to 3, KICK_STATUS_* bits) or an error
 * code. */
int
kick_ctl_status(struct kick_ctl *c);

/* Registers a command to run when the script ends, after those already
 * registered; argv is NULL-terminated and never given to a shell.
 * Returns 0 or an error code. */
int
kick_ctl_on_shutdown(struct kick_ctl *c, const char *const *argv);

/* Records the job's progress (0 to 100) and an optional message of up
 * to 200 bytes; kept with a detached job, accepted and dropped for an
 * attached run. Returns 0 or an error code. */
int
kick_ctl_progress(struct kick_ctl *c, int percent, const char *message);


/* Triggering. A client is a reusable handle (connections are kept and
 * reused between triggers); a request is built once and may be sent many
 * times. */

/* How long kick_trigger waits. */
enum kick_wait {
    KICK_SENT = 0,     /* until the request is written (read nothing) */
    KICK_ACCEPTED = 1, /* until the answer's status line (the default) */
    KICK_FINISHED = 2, /* until the job has ended (kickd's job API) */
};

struct kick_opts {
    long connect_timeout_ms; /* 0: 10000 */
    long timeout_ms;         /* whole request; 0: 30000 */
    const char *ca_file;     /* NULL: the system's CAs */
    int insecure;            /* 1: do not verify the TLS peer */
    const char *token;       /* NULL, or sent as Authorization: Bearer */
};

struct kick_client;
struct kick_request;

/* opts may be NULL (defaults). NULL with *err on failure (KICK_EINVAL: a
 * negative timeout, a token with spaces or control characters). The first
 * client initializes libcurl: make it before starting threads. */
struct kick_client *
kick_client_new(const struct kick_opts *opts, int *err);
void
kick_client_free(struct kick_client *c);
/* One line about the client's last error, or "". */
const char *
kick_client_detail(const struct kick_client *c);
/* The body of the client's last answer, at most 64 KiB of it (NUL-
 * terminated, *len bytes). Valid until the next call on the client. */
const char *
kick_client_body(const struct kick_client *c, size_t *len);

/* A request to url ("http://host[:port]/path[?query]" or https://; IPv6
 * hosts in brackets). NULL with *err (KICK_EINVAL: a malformed URL). */
struct kick_request *
kick_request_new(const char *url, int *err);
void
kick_request_free(struct kick_request *r);
/* Checks url as kick_request_new does: 0, or KICK_EINVAL with a one-line
 * reason written to detail (size bytes, may be NULL). */
int
kick_url_check(const char *url, char *detail, size_t size);
/* One line about the request's last failed call, or "". */
const char *
kick_request_detail(const struct kick_request *r);
/* GET without a body, POST with one, unless set. */
int
kick_request_method(struct kick_request *r, const char *method);
/* A form field (application/x-www-form-urlencoded body, percent-encoded
 * as a browser does). */
int
kick_request_form(struct kick_request *r, const char *name,
                  const char *value);
/* len bytes added as they are (already encoded, or any bytes: curl's -d
 * and --data-binary) to the form body, joined to what is there with '&';
 * the body's type stays application/x-www-form-urlencoded unless a
 * Content-Type header says otherwise. Replaces a JSON body. */
int
kick_request_data(struct kick_request *r, const void *data, size_t len);
/* A query parameter appended to the URL's query, percent-encoded. */
int
kick_request_query(struct kick_request *r, const char *name,
                   const char *value);
int
kick_request_cookie(struct kick_request *r, const char *name,
                    const char *value);
/* A header field; a name or value with CR, LF or NUL is KICK_EINVAL. */
int
kick_request_header(struct kick_request *r, const char *name,
                    const char *value);
/* A JSON body (application/json); replaces form fields. */
int
kick_request_json(struct kick_request *r, const char *json);

struct kick_result {
    int status;            /* HTTP status; 0 in KICK_SENT mode */
    long long job_id;      /* from kickd's 202 (Location or JSON), or -1 */
    char state[16];        /* the job's state if known, else "" */
    int exit_status;       /* KICK_FINISHED: the job's, else -1 */
    int term_signal;       /* KICK_FINISHED: the job's signal, else 0 */
    char reason[160];      /* the status line's reason phrase */
};

/* Sends r and waits as told. Unless r has a Prefer field, the request
 * carries "Prefer: respond-async" (RFC 7240), so that a kickd route in
 * auto mode stores a job and answers 202 at once; KICK_SENT writes
 * "Connection: close" and closes after the last byte. KICK_FINISHED
 * against an answer that names no job returns as KICK_ACCEPTED does.
 * Returns 0 when the request got as far as the mode asks and (modes other than KICK_SENT) the status is 2xx;
 * KICK_EHTTP with out->status for another status; another error code for
 * a failure to connect (KICK_ECONNECT, with the resolver's failure as
 * KICK_EDNS), a timeout, or a malformed answer. */
int
kick_trigger(struct kick_client *c, const struct kick_request *r,
             enum kick_wait wait, struct kick_result *out);

/* The job API of the kickd at base ("http://host:port"). */
struct kick_job {
    long long id;
    char route[256];
    char state[16];
    int connection_status;
    int attempt, max_attempts;
    int exit_status; /* -1 if none */
    int term_signal; /* 0 if none */
    int progress;    /* -1 if none */
    int interruptions; /* runs kickd itself ended (no retry used) */
    char error[256]; /* why it did not succeed, one line; "" if it did */
};

/* GET /jobs/ID; with wait_s > 0, ?wait=wait_s (returns when the job ends
 * or the wait runs out). 0 or an error code (KICK_EHTTP 404: no job). */
int
kick_job_get(struct kick_client *c, const char *base, long long id,
             int wait_s, struct kick_job *out);
/* DELETE /jobs/ID?only=cancel: a queued job is canceled, a running one
 * ended; an ended job stays (KICK_EHTTP 409). */
int
kick_job_cancel(struct kick_client *c, const char *base, long long id,
                struct kick_job *out);
/* DELETE /jobs/ID?only=delete: an ended job is deleted with its output.
 * 0, or KICK_EHTTP: 404 no such job, 409 not ended (queued or running:
 * cancel it first). */
int
kick_job_delete(struct kick_client *c, const char *base, long long id);
/* GET /jobs/ID/output: a malloc'd copy the caller frees. */
int
kick_job_output(struct kick_client *c, const char *base, long long id,
                char **data, size_t *len);
/* GET /jobs/ID/output?follow=1: the job's output as kickd gets it, each
 * piece to cb (which returns 0 to go on, non-zero to stop: KICK_EINVAL
 * is returned then), until the job ends. The client's timeout does not
 * limit the transfer (a job may run for hours); its connect timeout
 * does. 0 once the job has ended, or an error code (KICK_EHTTP 404: no
 * job). */
int
kick_job_follow(struct kick_client *c, const char *base, long long id,
                int (*cb)(const char *data, size_t len, void *arg),
                void *arg);
/* GET /jobs?state=&limit=&after=: up to max jobs into out; *n how many,
 * *next the id to continue after (0 at the end). */
int
kick_job_list(struct kick_client *c, const char *base, const char *state,
              long long after, struct kick_job *out, int max, int *n,
              long long *next);
/* POST /jobs/ID/retry: queues an ended job again (the same id, a fresh
 * set of attempts); out (may be NULL) gets its id and state "queued".
 * KICK_EHTTP 409 if it is queued or running, 404 if there is none. */
int
kick_job_retry(struct kick_client *c, const char *base, long long id,
               struct kick_job *out);
/* GET base + path, a path of the job API ("/jobs", "/jobs/ID"), with the
 * query params (NAME, VALUE, NAME, VALUE, ..., NULL; values are
 * percent-encoded here; params may be NULL): the JSON answer as it came,
 * malloc'd and NUL-terminated (*len bytes), which the caller frees. For
 * what struct kick_job does not carry (times, progress message, the
 * listing's order= and created_after=). */
int
kick_job_json(struct kick_client *c, const char *base, const char *path,
              const char *const *params, char **json, size_t *len);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
