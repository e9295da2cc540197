/* SPDX-License-Identifier: MIT */
/* spawn_floor: the spawn floor as the benchmark defines it (issue 2): run
 * a CGI program with no HTTP at all: posix_spawn it with stdout on a
 * pipe, read the pipe to EOF, reap it, keeping CONC children in flight
 * for SECONDS. Prints executions/s. (kickd itself starts programs with
 * vfork and execve, which skips some of glibc's posix_spawn work.) */

#define _GNU_SOURCE /* pipe2(2) and ppoll(2) */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* More in flight than this is not a spawn floor any more but a fork bomb. */
#define MAX_CONC 1024
/* Children still running this long after the end are killed. */
#define DRAIN_LIMIT 10.0 /* s */

struct child {
    pid_t pid;  /* 0: the slot is free */
    int fd;     /* read end of the child's stdout, -1 once at EOF */
    int reaped; /* waitpid() has returned its status */
    int status; /* from waitpid() */
    size_t out; /* bytes read from stdout */
};

struct floor {
    const char *prog;
    int devnull;   /* the children's stdin */
    long done;     /* executions that exited 0 and wrote output */
    long failed;   /* executions that did not */
    int in_flight; /* slots in use */
    struct child *kids;
    int conc;
};

/* Does nothing: it exists so that SIGCHLD interrupts ppoll(). */
static void
sigchld_cb(int sig)
{
    (void)sig;
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts prog in slot c; returns 0 or -errno. */
static int
floor_spawn(struct floor *f, struct child *c)
{
    static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    char *argv[] = {(char *)f->prog, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    int p[2];
    int r;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, f->devnull, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    /* SIGCHLD is blocked here between ppoll() calls; the child must not
     * inherit that. Its own process group is what kickd must give every
     * script (PRODUCT.md), so the floor pays for it too. */
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    r = posix_spawn(&c->pid, f->prog, &fa, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        c->pid = 0;
        return -r;
    }
    c->fd = p[0];
    c->reaped = 0;
    c->status = 0;
    c->out = 0;
    f->in_flight++;
    return 0;
}

/* Collects the status of every child that has ended. */
static void
floor_reap(struct floor *f)
{
    pid_t pid;
    int st;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < f->conc; i++) {
            if (f->kids[i].pid == pid) {
                f->kids[i].reaped = 1;
                f->kids[i].status = st;
                break;
            }
        }
    }
}

/* Reads what the child wrote; at EOF closes its pipe. */
static void
floor_read(struct child *c)
{
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof(buf));

    if (n > 0) {
        c->out += (size_t)n;
        return;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    close(c->fd);
    c->fd = -1;
}

/* Counts the slots whose child has both closed its output and been reaped,
 * frees them, and refills them while spawning is still on. Returns 0 or
 * -errno from posix_spawn. */
static int
floor_settle(struct floor *f, int spawning)
{
    for (int i = 0; i < f->conc; i++) {
        struct child *c = &f->kids[i];
        int ok;

        if (c->pid == 0 || c->fd >= 0 || !c->reaped)
            continue;
        ok = WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0 && c->out > 0;
        if (ok)
            f->done++;
        else
            f->failed++;
        c->pid = 0;
        f->in_flight--;
        if (spawning) {
            int r = floor_spawn(f, c);

            if (r < 0)
                return r;
        }
    }
    return 0;
}

static void
usage(void)
{
    fprintf(stderr, "usage: spawn_floor [-c CONC] [-d SECONDS] PROGRAM\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    struct pollfd pfd[MAX_CONC];
    int idx[MAX_CONC];
    struct floor f = {0};
    struct sigaction sa;
    sigset_t chld, old;
    double secs = 5, start, deadline, end;
    int opt, r;

    f.conc = 1;
    while ((opt = getopt(argc, argv, "c:d:")) != -1) {
        switch (opt) {
        case 'c':
            f.conc = atoi(optarg);
            break;
        case 'd':
            secs = atof(optarg);
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1 || f.conc < 1 || f.conc > MAX_CONC || secs <= 0)
        usage();
    f.prog = argv[optind];
    if (access(f.prog, X_OK) < 0) {
        fprintf(stderr, "spawn_floor: %s: %s\n", f.prog, strerror(errno));
        return 1;
    }
    f.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    f.kids = calloc((size_t)f.conc, sizeof(*f.kids));
    if (f.devnull < 0 || f.kids == NULL) {
        perror("spawn_floor");
        return 1;
    }

    /* SIGCHLD stays blocked except inside ppoll(), so a child that ends
     * between two checks still wakes the next wait. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sigchld_cb;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);

    start = now();
    deadline = start + secs;
    for (int i = 0; i < f.conc; i++) {
        r = floor_spawn(&f, &f.kids[i]);
        if (r < 0)
            goto fail;
    }
    while (f.in_flight > 0) {
        struct timespec tick = {0, 100 * 1000 * 1000};
        int n = 0;
        double t;

        for (int i = 0; i < f.conc; i++) {
            if (f.kids[i].pid != 0 && f.kids[i].fd >= 0) {
                pfd[n].fd = f.kids[i].fd;
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                idx[n++] = i;
            }
        }
        r = ppoll(pfd, (nfds_t)n, &tick, &old);
        if (r < 0 && errno != EINTR) {
            r = -errno;
            goto fail;
        }
        for (int k = 0; r > 0 && k < n; k++) {
            if (pfd[k].revents != 0)
                floor_read(&f.kids[idx[k]]);
        }
        floor_reap(&f);
        t = now();
        r = floor_settle(&f, t < deadline);
        if (r < 0)
            goto fail;
        if (t > deadline + DRAIN_LIMIT) {
            fprintf(stderr, "spawn_floor: %d children hang; killing them\n",
                    f.in_flight);
            for (int i = 0; i < f.conc; i++) {
                if (f.kids[i].pid != 0)
                    kill(f.kids[i].pid, SIGKILL);
            }
            f.failed += f.in_flight;
            break;
        }
    }
    end = now();

    printf("conc %d  time %.3f s  executions %ld  failed %ld\n", f.conc,
           end - start, f.done, f.failed);
    printf("executions/s %.1f\n", (double)f.done / (end - start));
    free(f.kids);
    return f.failed == 0 ? 0 : 1;

fail:
    fprintf(stderr, "spawn_floor: %s: %s\n", f.prog, strerror(-r));
    free(f.kids);
    return 1;
}
