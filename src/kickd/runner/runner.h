/* SPDX-License-Identifier: MIT */
/* The runner interface: where a route's work runs (PRODUCT.md, "Where a
 * route's work runs"). One request, built once for attached and detached
 * runs alike (struct cgi_request), starts a run; the run hands its answer's
 * head and body to a sink through hooks, takes the request body with
 * backpressure, can be paused, closed as a web server closes a request
 * whose client left, ended, and ends with an outcome.
 *
 *   exec     a CGI/1.1 program started per request      (exec.c)
 *   fastcgi  a request to a FastCGI pool such as PHP-FPM (fastcgi.c)
 *   forward  an HTTP request to an existing URL          (forward.c)
 *
 * The connection-state rules (run/run.c) sit above this interface and do
 * not know which runner they drive. */
#ifndef KICKD_RUNNER_H
#define KICKD_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cgi.h"

struct runner;
struct proc_reaper;
struct fastcgi_pools;
struct forward;

/* What runners share for the life of kickd (held by the server). */
struct runner_ctx {
    uv_loop_t *loop;
    struct proc_reaper *reaper;  /* exec: child processes */
    struct fastcgi_pools *fcgi;  /* fastcgi: kept connections per pool */
    struct forward *forward;     /* forward: libcurl's multi handle */
};

/* How a run's work ended. Strings are valid during the done_cb call. */
struct runner_outcome {
    bool ok;              /* the work succeeded */
    const char *reason;   /* failed: one line ("exit status 3", "upstream
                           * answered 500"); NULL when ok */
    int64_t exit_status;  /* the process's, or FastCGI's app status; -1
                           * if none */
    int term_signal;      /* the signal that ended the process; 0 if
                           * none */
    int http_status;      /* forward: the upstream's status; 0 if none */
    int64_t retry_after;  /* ms the next attempt should wait at least
                           * (forward: Retry-After on 429 or 503); 0 */
};

/* The sink's side. Hooks are called from the loop, never from inside a
 * runner call, and none after detach. */
struct runner_hooks {
    /* The answer's head (a CGI header block, or an upstream's status and
     * headers as one), valid during the call, and the body bytes that
     * came with it (len may be 0; the sink owns body). A job's output
     * without a valid header block comes with status 0, resp->error
     * saying why, and body the whole output so far. */
    void (*head_cb)(struct runner *r, const struct cgi_response *resp,
                    char *body, size_t len);
    /* Body bytes; the sink owns buf and frees it with free(). */
    void (*body_cb)(struct runner *r, char *buf, size_t len);
    /* The output ended: complete (error NULL) or not (a short reason).
     * status is what an attached sink answers if no head came: 502 (no
     * valid answer), 503 (the pool is full or refuses) or 504. */
    void (*end_cb)(struct runner *r, const char *error, int status);
    /* The body queue went below its limit again. */
    void (*stdin_drain_cb)(struct runner *r);
    /* The work is over: how it ended. After end_cb, or alone when the
     * output was closed first. */
    void (*done_cb)(struct runner *r, const struct runner_outcome *o);
    /* Optional: output came from the work, called before it is handed
     * on. The sink may end the run from here (PHP's rule: an abort takes
     * effect at the script's next write); the bytes are then dropped. */
    void (*output_cb)(struct runner *r);
};

struct runner_ops {
    const char *name; /* "exec", "fastcgi", "forward" */
    /* Starts the work of cr->route for cr. NULL with *err a negative
     * errno if it could not start (then no hook follows). */
    struct runner *(*start)(const struct runner_ctx *ctx,
                            const struct cgi_request *cr,
                            const struct runner_hooks *hooks, void *data,
                            int *err);
    /* The request body: len bytes (copied) queued for the work; closed
     * once it is complete; bytes queued and not yet taken. A runner that
     * sent the body with its start (cr->body, or none) ignores them. */
    void (*write_body)(struct runner *r, const char *buf, size_t len);
    void (*close_body)(struct runner *r);
    size_t (*body_queued)(const struct runner *r);
    /* Stops and restarts reading the work's output (a slow sink). */
    void (*pause)(struct runner *r);
    void (*resume)(struct runner *r);
    /* The caller left: kickd closes its side as a web server does, so the
     * work's next write fails. No end_cb follows; done_cb does. */
    void (*close_output)(struct runner *r);
    /* Ends the work now: its output closed, the work ended (SIGTERM then
     * SIGKILL after the grace period; a closed connection). */
    void (*terminate)(struct runner *r);
    /* Ends the work with its output still read and handed on (a job
     * keeps it): signals alone where there is a process, else as
     * terminate. A no-op once the work is being ended or is over. */
    void (*stop)(struct runner *r);
    /* Nobody wants the output any more: it is read and dropped unparsed;
     * no head_cb or body_cb follows, output_cb still does. */
    void (*drain)(struct runner *r);
    /* Optional: the time limit passed, for the step-th time (0, 1, 2...),
     * on a run whose work keeps PHP's own ways: false if this runner has
     * no gentler way than terminate. exec sends php-cgi SIGPROF (its
     * max_execution_time) twice, then SIGKILL. */
    bool (*time_up)(struct runner *r, int step);
    /* The sink lets go: no more hooks. With terminate set, work still
     * going is ended as by terminate. The run frees itself when done. */
    void (*detach)(struct runner *r, bool terminate);
    /* The work's process id (its process group's leader), or -1 where
     * the work is no process of kickd's. */
    int (*pid)(const struct runner *r);
};

/* Every run starts with this. */
struct runner {
    const struct runner_ops *ops;
    const struct runner_hooks *hooks;
    void *data;
    /* The CGI environment built for the run ("NAME=VALUE", NULL-ended;
     * one allocation): shutdown commands share it. */
    char **env;
};

extern const struct runner_ops runner_exec;
extern const struct runner_ops runner_fastcgi;
extern const struct runner_ops runner_forward;

/* The ops of the runner the route names. */
const struct runner_ops *
runner_of(const struct cfg_route *route);

/* Starts the route's runner for cr. */
struct runner *
runner_start(const struct runner_ctx *ctx, const struct cgi_request *cr,
             const struct runner_hooks *hooks, void *data, int *err);

#endif
