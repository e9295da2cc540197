/* SPDX-License-Identifier: MIT */
/* libkick: the client library of kick. Today: the calls a running script
 * makes to change its own connection handling (kick ctl), PHP's
 * ignore_user_abort(), set_time_limit(), connection_status() and
 * register_shutdown_function() for any language. Errors are negative
 * KICK_E* codes (never renumbered), named by kick_strerror(); a handle
 * keeps a one-line detail of its last error. libkick never prints. */
#ifndef KICK_H
#define KICK_H

#ifdef __cplusplus
extern "C" {
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
    KICK_EHTTP = -8,      /* kickd answered with an error status */
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

#ifdef __cplusplus
}
#endif

#endif
