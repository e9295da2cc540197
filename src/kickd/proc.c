/* SPDX-License-Identifier: MIT */
/* Child processes: posix_spawn in a new session, reaped through SIGCHLD
 * read from a signalfd. One signalfd for all children costs a read and a
 * waitpid per exit, where a pidfd per child cost ten system calls. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
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
    r->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (r->sfd < 0)
        return -errno;
    e = uv_poll_init(loop, &r->poll, r->sfd);
    if (e < 0) {
        close(r->sfd);
        return e;
    }
    uv_poll_start(&r->poll, UV_READABLE, reap_cb);
    uv_unref((uv_handle_t *)&r->poll);
    return 0;
}

int
proc_spawn(struct proc_reaper *r, struct proc *p, const struct proc_opts *o,
           proc_exit_cb exit_cb)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, defaults;
    pid_t pid;
    int e;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    if (o->fd_in >= 0)
        posix_spawn_file_actions_adddup2(&fa, o->fd_in, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, o->fd_out >= 0 ? o->fd_out : 2, 1);
    if (o->fd_err >= 0)
        posix_spawn_file_actions_adddup2(&fa, o->fd_err, 2);
    if (o->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    /* kickd ignores SIGPIPE, and an ignored signal stays ignored across
     * exec: the child gets the default back. SIGCHLD is blocked here for
     * the signalfd: the child starts with an empty mask. */
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defaults);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    e = posix_spawnp(&pid, o->argv[0], &fa, &at, o->argv, o->env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e != 0)
        return -e;

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
