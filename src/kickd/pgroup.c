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
