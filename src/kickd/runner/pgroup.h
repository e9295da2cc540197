/* SPDX-License-Identifier: MIT */
/* A script's process group, named without doubt across a crash of kickd:
 * its id (the leader's pid, since scripts start with setsid), the leader's
 * start time since boot and the boot's id. A pid alone can be reused; the
 * three together cannot. Read from /proc (Linux). */
#ifndef KICKD_PGROUP_H
#define KICKD_PGROUP_H

#include <stddef.h>
#include <sys/types.h>

#include "store.h"

/* This boot's id (/proc/sys/kernel/random/boot_id) into buf; "" if it
 * cannot be read. */
void
pgroup_boot_id(char *buf, size_t size);

/* Fills the process part of o for the group led by pid (a child of
 * kickd's, not yet reaped): pgid, start and boot (given). 0, or a negative
 * errno if /proc does not have it. */
int
pgroup_identify(pid_t pid, const char *boot, struct job_owner *o);

/* Sends sig to what is left of the group o names, if it is the same group
 * (same boot; its leader, if alive, started when o says; a member without
 * a leader started no earlier). Returns how many live processes of it
 * there are (0: none is left), or a negative errno if /proc cannot be
 * read. */
int
pgroup_signal(const struct job_owner *o, const char *boot, int sig);

/* For a run whose owner never reached the store (kickd died between the
 * script's start and the commit that records it): finds a live process
 * whose environment holds needle (its KICK_CONTROL, which names the run
 * and kickd's port) and that started no earlier than not_before (ms
 * since the epoch, the job's start), and fills o with its session, the
 * script's group. 1 if found, 0 if not. */
int
pgroup_find(const char *needle, int64_t not_before, const char *boot,
            struct job_owner *o);

#endif
