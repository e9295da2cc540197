/* SPDX-License-Identifier: MIT */
/* One run of a route's work, whichever runner does it (runner.h), with
 * PHP's connection-state model: the connection status (ABORTED, TIMEOUT),
 * ignore_user_abort, the wall-clock time limit and the shutdown commands.
 * A run outlives the connection that started it when its script ignores
 * the abort. */
#ifndef KICKD_RUN_H
#define KICKD_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgi.h"
#include "runner.h"

struct srv;
struct run;

/* Connection status bits, as PHP's connection_status(). */
#define RUN_NORMAL 0
#define RUN_ABORTED 1
#define RUN_TIMEOUT 2

/* The sink of a run's answer: the client's connection (attached) or the
 * job's output (detached). Hooks stop at run_abort or run_release. */
struct run_hooks {
    /* The header block, and body bytes read with it (owned; len may be
     * 0). */
    void (*head_cb)(struct run *r, const struct cgi_response *resp,
                    char *body, size_t len);
    /* The sink owns buf and frees it with free(). */
    void (*body_cb)(struct run *r, char *buf, size_t len);
    /* The output ended: complete (error NULL) or not; status is what an
     * attached sink answers if no head came (502, 503, or 504 when the
     * time limit ended it). */
    void (*end_cb)(struct run *r, const char *error, int status);
    void (*stdin_drain_cb)(struct run *r);
    /* Optional: the work is over, and how (a job's sink needs it; its
     * presence keeps the sink through a time limit and a stop). */
    void (*done_cb)(struct run *r, const struct runner_outcome *o);
    /* Optional: kick ctl progress. */
    void (*progress_cb)(struct run *r, int percent, const char *msg);
};

/* Starts the route's runner for cr (cr->run_id and cr->control are
 * filled in here). Returns the run or NULL with *err a negative errno. */
struct run *
run_start(struct srv *s, struct cgi_request *cr, const struct run_hooks *h,
          void *data, int *err);

void *
run_data(const struct run *r);

/* The client left (or the job was canceled): ABORTED is set and the
 * script is ended unless it ignores user aborts. No hooks follow. */
void
run_abort(struct run *r);

/* A job is canceled while it runs: ABORTED, ended as for a client abort
 * (ignore_user_abort respected), but the hooks stay. */
void
run_cancel(struct run *r);

/* kickd ends the script now, whatever ignore_user_abort says: SIGTERM,
 * SIGKILL after kill_grace, its output still read (a trap's last words
 * are kept; closing its pipes would kill a shell by SIGPIPE at its
 * "Terminated" before its trap runs); the hooks stay and see its end. */
void
run_stop(struct run *r);

/* kick ctl progress: handed to the sink (a job keeps it). */
void
run_progress(struct run *r, int percent, const char *msg);

/* The sink is done with a complete response; the run goes on until its
 * script exits and its shutdown commands have run. No hooks follow. */
void
run_release(struct run *r);

/* The body towards the script and the flow of its output. */
void
run_write_stdin(struct run *r, const char *buf, size_t len);
void
run_close_stdin(struct run *r);
size_t
run_stdin_queued(const struct run *r);
void
run_pause(struct run *r);
void
run_resume(struct run *r);
int
run_pid(const struct run *r);

/* kick ctl: find a run by its control key ("ID.SECRET"; NULL if there is
 * none or the secret is wrong) and change it. */
struct run *
run_find(struct srv *s, const char *key, size_t len);
int
run_status(const struct run *r);
/* Returns the previous setting, as PHP's ignore_user_abort() does. */
bool
run_set_ignore_user_abort(struct run *r, bool on);
/* Restarts the wall-clock limit from now; 0 = none. */
void
run_set_time_limit(struct run *r, int seconds);
/* The time limit as last set (s; 0 = none). */
int
run_time_limit(const struct run *r);
/* Adds a shutdown command (argv is copied). 0 or -ENOMEM, -E2BIG. */
int
run_add_shutdown(struct run *r, char *const *argv);

/* kickd stops: every run still going is ended now. */
void
run_end_all(struct srv *s);

#endif
