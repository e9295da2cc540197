/* SPDX-License-Identifier: MIT */
/* Child processes: started with vfork and execve (unlike libuv 1.44's
 * fork-based uv_spawn, which also blocks the loop until the child has
 * exec'd) in their own session, and reaped by one reaper per server:
 * SIGCHLD read from a signalfd watched by the loop, then waitpid. */
#ifndef KICKD_PROC_H
#define KICKD_PROC_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct proc;

typedef void (*proc_exit_cb)(struct proc *p, int64_t exit_status,
                             int term_signal);

/* Reaps every child of kickd; children are only started through it. */
struct proc_reaper {
    uv_poll_t poll; /* on the signalfd */
    int sfd;
    int devnull; /* the stdin of children without one */
    struct proc *procs; /* children not yet reaped */
};

/* Embedded in its owner; data is the owner's. It stays linked in the
 * reaper until its exit_cb. */
struct proc {
    struct proc *prev, *next;
    pid_t pid;
    proc_exit_cb exit_cb;
    void *data;
};

struct proc_opts {
    char *const *argv; /* argv[0] is looked up in PATH */
    char *const *env;
    const char *cwd;   /* NULL: kickd's */
    int fd_in;         /* the child's stdin, or -1 for /dev/null */
    int fd_out;        /* stdout, or -1 for kickd's stderr */
    int fd_err;        /* stderr, or -1 for kickd's stderr */
};

/* Opens /dev/null on whichever of fds 0, 1 and 2 is closed, so that no
 * socket or pipe of kickd's ever has those numbers, and makes every other
 * inherited fd close-on-exec; called first thing. */
void
proc_tidy_fds(void);

/* Blocks SIGCHLD in the calling thread (call before any other thread
 * exists) so that it is read from the reaper's signalfd. */
void
proc_block_sigchld(void);

/* Sets up the reaper on loop. Returns 0 or a negative errno. The loop is
 * kept alive only while children run. */
int
proc_reaper_init(uv_loop_t *loop, struct proc_reaper *r);

/* Starts a child in its own session (setsid: its own process group), with
 * default signal dispositions and an empty signal mask. Returns 0, or a
 * negative errno when it could not start (exec failed: ENOENT, EACCES).
 * exit_cb runs once, when the child has been reaped. */
int
proc_spawn(struct proc_reaper *r, struct proc *p, const struct proc_opts *o,
           proc_exit_cb exit_cb);

#endif
