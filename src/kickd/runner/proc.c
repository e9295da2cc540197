/* SPDX-License-Identifier: MIT */
/* Child processes: vfork and execve in a new session, reaped through
 * SIGCHLD read from a signalfd. One signalfd for all children costs a read
 * and a waitpid per exit, where a pidfd per child cost ten system calls. */
#define _GNU_SOURCE /* strchrnul */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

void
proc_block_sigchld(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void
reap_cb(uv_poll_t *h, int status, int events)
{
    struct proc_reaper *r = (struct proc_reaper *)h;
    struct signalfd_siginfo info[16];
    int st;
    pid_t pid;

    (void)status;
    (void)events;
    /* Several exits may have merged into one pending SIGCHLD: the
     * signals only wake us; waitpid tells who ended. */
    while (read(r->sfd, info, sizeof(info)) > 0)
        ;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        struct proc *p = r->procs;
        while (p && p->pid != pid)
            p = p->next;
        if (p == NULL) {
            log_warn("reaped unknown child %d", (int)pid);
            continue;
        }
        if (p->prev)
            p->prev->next = p->next;
        else
            r->procs = p->next;
        if (p->next)
            p->next->prev = p->prev;
        if (r->procs == NULL)
            uv_unref((uv_handle_t *)&r->poll);
        if (WIFSIGNALED(st))
            p->exit_cb(p, 0, WTERMSIG(st));
        else
            p->exit_cb(p, WEXITSTATUS(st), 0);
    }
}

int
proc_reaper_init(uv_loop_t *loop, struct proc_reaper *r)
{
    sigset_t set;
    int e;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    r->procs = NULL;
    r->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r->devnull < 0)
        return -errno;
    r->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (r->sfd < 0) {
        e = -errno;
        close(r->devnull);
        return e;
    }
    e = uv_poll_init(loop, &r->poll, r->sfd);
    if (e < 0) {
        close(r->sfd);
        close(r->devnull);
        return e;
    }
    uv_poll_start(&r->poll, UV_READABLE, reap_cb);
    uv_unref((uv_handle_t *)&r->poll);
    return 0;
}

/* Signals the child must put back to their default before its signal
 * mask opens: kickd's handlers (libuv's for SIGHUP, SIGINT, SIGTERM, a
 * sanitizer's) would run in the child on kickd's memory, and an ignored
 * signal (SIGPIPE) would stay ignored across exec. Found once, at the
 * first spawn, when every handler kickd installs is in place. */
static sigset_t child_defaults;
static bool child_defaults_known;

static void
find_child_defaults(void)
{
    struct sigaction sa;

    sigemptyset(&child_defaults);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
            sigaddset(&child_defaults, sig);
    }
    child_defaults_known = true;
}

/* What the child does between vfork and exec, all decided before. */
struct spawn_plan {
    const struct proc_opts *o;
    int fd_in, fd_out, fd_err; /* >= 3 (kickd keeps 0-2 open), or 2 */
    const char *path;          /* PATH, for an argv[0] without a slash */
    pid_t parent;              /* kickd */
    /* The child's errno if it cannot exec, written in the child and read
     * in the parent: volatile, or the compiler, which knows no other
     * writer on the path that returns from vfork, drops the read. */
    volatile int *err;
};

/* Runs argv[0] as execvp would, but without its fallback of running a
 * file that is not an executable with /bin/sh (posix_spawnp's rule). */
static void
child_exec(const struct spawn_plan *sp)
{
    const char *file = sp->o->argv[0];
    char buf[PATH_MAX];
    bool denied = false;

    if (strchr(file, '/')) {
        execve(file, sp->o->argv, sp->o->env);
        return;
    }
    size_t flen = strlen(file);
    for (const char *entry = sp->path;; entry++) {
        const char *end = strchrnul(entry, ':');
        size_t dlen = (size_t)(end - entry);
        const char *dir = dlen > 0 ? entry : "."; /* empty: the cwd */
        if (dlen == 0)
            dlen = 1;
        if (dlen + 1 + flen < sizeof(buf)) {
            memcpy(buf, dir, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, file, flen + 1);
            execve(buf, sp->o->argv, sp->o->env);
            if (errno == EACCES)
                denied = true;
            else if (errno != ENOENT && errno != ENOTDIR)
                return;
        }
        if (*end == '\0')
            break;
        entry = end;
    }
    errno = denied ? EACCES : ENOENT;
}

/* The child's side of vfork: it shares kickd's memory and runs on its
 * stack, so it only makes system calls, then execs or _exits. */
static _Noreturn void
child_run(const struct spawn_plan *sp)
{
    struct sigaction dfl;
    sigset_t none;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&child_defaults, sig))
            sigaction(sig, &dfl, NULL);
    /* A child does not outlive kickd unsupervised: when kickd dies (even
     * by SIGKILL) the kernel kills it; what it started itself is ended
     * by the next kickd (recover.c). Checked after the prctl, in case
     * kickd died before it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != sp->parent)
        goto fail;
    if (setsid() < 0 || dup2(sp->fd_in, 0) < 0 || dup2(sp->fd_out, 1) < 0 ||
        dup2(sp->fd_err, 2) < 0 || (sp->o->cwd && chdir(sp->o->cwd) < 0))
        goto fail;
    /* Nothing but stdio reaches the script, even a descriptor a library
     * opened without close-on-exec a moment ago (libcurl's resolver). The
     * child has its own descriptor table: kickd's stay as they are. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    child_exec(sp);
fail:
    *sp->err = errno;
    _exit(127);
}

/* Not inlined into proc_spawn: nothing of the caller's frame is live
 * across the vfork, which returns twice. */
static __attribute__((noinline)) pid_t
spawn_vfork(const struct spawn_plan *sp)
{
    pid_t pid = vfork();

    if (pid == 0)
        child_run(sp);
    return pid;
}

/* Children start with vfork and execve rather than posix_spawn: glibc's
 * child asks for each of the 64 signals' disposition and runs on a stack
 * of its own (mmap, page faults, munmap), about 60 us per start that this
 * one skips; kickd's parent side blocks every signal around the vfork as
 * glibc does. */
int
proc_spawn(struct proc_reaper *r, struct proc *p, const struct proc_opts *o,
           proc_exit_cb exit_cb)
{
    sigset_t all, old;
    volatile int child_err = 0;
    const char *path = getenv("PATH");
    struct spawn_plan sp = {
        .o = o,
        .fd_in = o->fd_in >= 0 ? o->fd_in : r->devnull,
        .fd_out = o->fd_out >= 0 ? o->fd_out : 2,
        .fd_err = o->fd_err >= 0 ? o->fd_err : 2,
        .path = path ? path : "/usr/local/bin:/usr/bin:/bin",
        .parent = getpid(),
        .err = &child_err,
    };

    if (!child_defaults_known)
        find_child_defaults();
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = spawn_vfork(&sp);
    int e = pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        return -e;
    if (child_err != 0) {
        /* It has _exited: reaped here, its SIGCHLD finds nothing. */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -child_err;
    }

    p->pid = pid;
    p->exit_cb = exit_cb;
    p->prev = NULL;
    p->next = r->procs;
    if (r->procs)
        r->procs->prev = p;
    else
        uv_ref((uv_handle_t *)&r->poll);
    r->procs = p;
    return 0;
}

void
proc_tidy_fds(void)
{
    /* What kickd was started with beyond stdio is not the scripts'. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    /* A closed 0, 1 or 2 would be taken by the next socket or pipe, and
     * a script's stdio would land on it: they are kept open on
     * /dev/null. */
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int n = open("/dev/null", O_RDWR);
        if (n >= 0 && n != fd) {
            dup2(n, fd);
            close(n);
        }
    }
}
