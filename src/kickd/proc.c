/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np, syscall */
/* Child processes: posix_spawn in a new session, reaped through a pidfd
 * watched by the loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#ifndef POSIX_SPAWN_SETSID
#define POSIX_SPAWN_SETSID 0x80 /* glibc >= 2.26 */
#endif

/* glibc 2.36 has no wrapper for pidfd_open (Linux >= 5.3). */
static int
pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void
poll_cb(uv_poll_t *h, int status, int events)
{
    struct proc *p = (struct proc *)h;
    int st;

    (void)status;
    (void)events;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return;
    uv_poll_stop(&p->poll);
    if (r < 0) {
        p->exit_cb(p, 127, 0);
        return;
    }
    if (WIFSIGNALED(st))
        p->exit_cb(p, 0, WTERMSIG(st));
    else
        p->exit_cb(p, WEXITSTATUS(st), 0);
}

int
proc_spawn(uv_loop_t *loop, struct proc *p, const struct proc_opts *o,
           proc_exit_cb exit_cb)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, defaults;
    pid_t pid;
    int r;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    if (o->fd_in >= 0)
        posix_spawn_file_actions_adddup2(&fa, o->fd_in, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, o->fd_out >= 0 ? o->fd_out : 2, 1);
    if (o->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    /* kickd ignores SIGPIPE, and an ignored signal stays ignored across
     * exec: the child gets the defaults back. Handlers reset by exec. */
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defaults);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    r = posix_spawnp(&pid, o->argv[0], &fa, &at, o->argv, o->env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r != 0)
        return -r;

    p->pid = pid;
    p->exit_cb = exit_cb;
    p->pidfd = pidfd_open(pid);
    if (p->pidfd < 0) {
        r = -errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return r;
    }
    fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
    r = uv_poll_init(loop, &p->poll, p->pidfd);
    if (r < 0) {
        close(p->pidfd);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return r;
    }
    p->poll.data = p->data;
    uv_poll_start(&p->poll, UV_READABLE, poll_cb);
    return 0;
}

static void
close_cb(uv_handle_t *h)
{
    struct proc *p = (struct proc *)h;

    close(p->pidfd);
    p->pidfd = -1;
    p->close_cb(h);
}

void
proc_close(struct proc *p, uv_close_cb cb)
{
    p->close_cb = cb;
    uv_close((uv_handle_t *)&p->poll, close_cb);
}
