/* SPDX-License-Identifier: MIT */
/* Finding what is left of a script's process group after kickd died, and
 * ending it, without ever hitting a process that only shares a reused
 * pid (proc(5): /proc/PID/stat). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgroup.h"

/* What /proc/PID/stat says of a process that pgroup needs. */
struct proc_stat {
    char state;     /* R, S, D, Z, ... */
    pid_t pgrp;
    pid_t session;
    int64_t start; /* clock ticks after boot */
};

/* Reads the whole small file path into buf (NUL-terminated). Its length,
 * or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

void
pgroup_boot_id(char *buf, size_t size)
{
    char raw[64];
    ssize_t n = read_small("/proc/sys/kernel/random/boot_id", raw,
                           sizeof(raw));

    while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == ' '))
        raw[--n] = '\0';
    snprintf(buf, size, "%s", n > 0 ? raw : "");
}

/* proc(5): "pid (comm) state ppid pgrp session ... starttime" where
 * starttime is field 22; comm may hold spaces and parentheses, so the
 * fields are counted from the last ')'. 0 or -1. */
static int
stat_read(pid_t pid, struct proc_stat *ps)
{
    char path[64], buf[1024];
    long long pgrp, session, start;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (read_small(path, buf, sizeof(buf)) < 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 1, " %c %*d %lld %lld %*d %*d %*u %*u %*u %*u %*u %*u"
                      " %*u %*d %*d %*d %*d %*d %*d %lld",
               &ps->state, &pgrp, &session, &start) != 4)
        return -1;
    ps->pgrp = (pid_t)pgrp;
    ps->session = (pid_t)session;
    ps->start = start;
    return 0;
}

int
pgroup_identify(pid_t pid, const char *boot, struct job_owner *o)
{
    struct proc_stat ps;

    if (stat_read(pid, &ps) < 0)
        return -ESRCH;
    o->pgid = (int)pid;
    o->start = ps.start;
    snprintf(o->boot, sizeof(o->boot), "%s", boot);
    return 0;
}

/* Whether a process whose stat is ps belongs to the group o names. The
 * kernel keeps a pid in use while it names a live process group or
 * session, so the group's number cannot be reused while any member
 * lives; once all are gone a new session may get it, and its leader (or,
 * if the leader has gone, its members) started after ours did. */
static bool
is_member(const struct job_owner *o, const struct proc_stat *ps,
          const struct proc_stat *leader)
{
    if (ps->pgrp != o->pgid || ps->session != o->pgid || ps->state == 'Z')
        return false;
    if (leader != NULL)
        return leader->start == o->start;
    return ps->start >= o->start;
}

/* Boot time (s since the epoch, /proc/stat "btime") and clock ticks a
 * second: a start time in ticks since boot is btime + ticks / hz. */
static int
boot_clock(int64_t *btime, long *hz)
{
    char buf[4096];
    const char *p;

    *hz = sysconf(_SC_CLK_TCK);
    if (*hz <= 0 || read_small("/proc/stat", buf, sizeof(buf)) < 0 ||
        (p = strstr(buf, "\nbtime ")) == NULL)
        return -1;
    *btime = strtoll(p + 7, NULL, 10);
    return 0;
}

/* Whether the environment of pid (NUL-separated) holds needle. */
static bool
environ_has(pid_t pid, const char *needle)
{
    char path[64];
    static const size_t max = 1 << 20; /* env + args are at most this */
    size_t len = 0, size = 65536;
    char *buf = malloc(size + 1);
    bool found = false;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    if (buf == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        free(buf);
        return false;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, size - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == size) {
            char *more = size < max ? realloc(buf, 2 * size + 1) : NULL;
            if (more == NULL)
                break;
            buf = more;
            size *= 2;
        }
    }
    close(fd);
    buf[len] = '\0';
    for (size_t i = 0; i < len && !found; i += strlen(buf + i) + 1)
        found = strstr(buf + i, needle) != NULL;
    free(buf);
    return found;
}

int
pgroup_find(const char *needle, int64_t not_before, const char *boot,
            struct job_owner *o)
{
    struct proc_stat ps;
    int64_t btime;
    long hz;
    int found = 0;

    if (boot_clock(&btime, &hz) < 0)
        return 0;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || stat_read((pid_t)pid, &ps) < 0 ||
            ps.state == 'Z')
            continue;
        /* btime has whole seconds: a second of slack. */
        int64_t start_ms = (btime + ps.start / hz) * 1000 +
                           (ps.start % hz) * 1000 / hz;
        if (start_ms < not_before - 1000 || !environ_has((pid_t)pid, needle))
            continue;
        /* The earliest process found names the group: its session. */
        if (!found || ps.start < o->start) {
            o->pgid = (int)ps.session;
            o->start = ps.start;
            found = 1;
        }
    }
    closedir(d);
    if (found) {
        struct proc_stat leader;
        /* With its leader alive, the leader's start names the group. */
        if (stat_read(o->pgid, &leader) == 0 && leader.pgrp == o->pgid)
            o->start = leader.start;
        snprintf(o->boot, sizeof(o->boot), "%s", boot);
    }
    return found;
}

int
pgroup_signal(const struct job_owner *o, const char *boot, int sig)
{
    struct proc_stat leader, ps;
    bool has_leader;
    int alive = 0;

    /* Another boot: every process of that boot is gone. */
    if (o->pgid <= 1 || o->boot[0] == '\0' || strcmp(o->boot, boot) != 0)
        return 0;
    has_leader = stat_read(o->pgid, &leader) == 0 &&
                 leader.pgrp == o->pgid && leader.state != 'Z';
    if (has_leader && leader.start != o->start)
        return 0; /* the pid leads another group now */
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -errno;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || stat_read((pid_t)pid, &ps) < 0)
            continue;
        if (is_member(o, &ps, has_leader ? &leader : NULL))
            alive++;
    }
    closedir(d);
    /* One signal to the group reaches members forked meanwhile too. */
    if (alive > 0 && sig != 0)
        kill(-o->pgid, sig);
    return alive;
}
