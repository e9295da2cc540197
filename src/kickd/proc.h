/* SPDX-License-Identifier: MIT */
/* Child processes: started with posix_spawn (vfork-fast, unlike libuv
 * 1.44's fork-based uv_spawn, which also blocks the loop until the child
 * has exec'd) in their own session, and reaped through a pidfd watched by
 * the loop, so no SIGCHLD handler is shared with anyone. */
#ifndef KICKD_PROC_H
#define KICKD_PROC_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct proc;

typedef void (*proc_exit_cb)(struct proc *p, int64_t exit_status,
                             int term_signal);

/* Embedded in its owner; data is the owner's. */
struct proc {
    uv_poll_t poll; /* on the pidfd */
    pid_t pid;
    int pidfd;
    proc_exit_cb exit_cb;
    uv_close_cb close_cb;
    void *data;
};

struct proc_opts {
    char *const *argv; /* argv[0] is looked up in PATH */
    char *const *env;
    const char *cwd;   /* NULL: kickd's */
    int fd_in;         /* the child's stdin, or -1 for /dev/null */
    int fd_out;        /* stdout, or -1 for kickd's stderr */
};

/* Starts a child in its own session (setsid: its own process group), with
 * default signal dispositions and an empty signal mask. Returns 0, or a
 * negative errno when it could not start (exec failed: ENOENT, EACCES).
 * exit_cb runs once when the child has been reaped. */
int
proc_spawn(uv_loop_t *loop, struct proc *p, const struct proc_opts *o,
           proc_exit_cb exit_cb);

/* Releases the handle (after the exit_cb, or to give up on the child,
 * which is then reaped by no one: only after exit). close_cb gets the
 * poll handle, whose data is p->data. */
void
proc_close(struct proc *p, uv_close_cb close_cb);

#endif
