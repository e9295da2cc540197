/* SPDX-License-Identifier: MIT */
/* pgroup: a script's process group is found and ended only when it is the
 * same group (same boot, same leader start), also once its leader is
 * gone, and never when a pid was reused. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pgroup.h"

static char boot[40];

/* A session of its own led by a shell that starts a child in the
 * background and, with leader_exits, exits at once (the child lives on,
 * an orphan of the group); else it waits. */
static pid_t
start_group(bool leader_exits)
{
    pid_t pid = fork();

    if (pid == 0) {
        setsid();
        execl("/bin/sh", "sh", "-c",
              leader_exits ? "sleep 30 & exit 0" : "sleep 30 & wait",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits (at most 5 s) until the group has n live members. */
static int
wait_members(const struct job_owner *o, int n)
{
    int alive = -1;

    for (int i = 0; i < 500; i++) {
        alive = pgroup_signal(o, boot, 0);
        if (alive == n)
            break;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return alive;
}

static void
test_boot_id(void **state)
{
    (void)state;
    pgroup_boot_id(boot, sizeof(boot));
    assert_int_equal(strlen(boot), 36);
}

static void
test_identify_and_end(void **state)
{
    struct job_owner o = {0};
    pid_t pid = start_group(false);

    (void)state;
    pgroup_boot_id(boot, sizeof(boot));
    assert_int_equal(pgroup_identify(pid, boot, &o), 0);
    assert_int_equal(o.pgid, pid);
    assert_true(o.start > 0);
    assert_string_equal(o.boot, boot);
    /* The shell and its sleep. */
    assert_int_equal(wait_members(&o, 2), 2);
    /* Another start time: the pid leads another group; another boot:
     * nothing of it lives. Neither is touched. */
    struct job_owner other = o;
    other.start = o.start - 1;
    assert_int_equal(pgroup_signal(&other, boot, SIGKILL), 0);
    other = o;
    snprintf(other.boot, sizeof(other.boot), "another-boot");
    assert_int_equal(pgroup_signal(&other, boot, SIGKILL), 0);
    assert_int_equal(pgroup_signal(&o, boot, 0), 2);
    /* The same group: ended, leader and child. */
    assert_int_equal(pgroup_signal(&o, boot, SIGKILL), 2);
    waitpid(pid, NULL, 0);
    assert_int_equal(wait_members(&o, 0), 0);
}

static void
test_leaderless_group(void **state)
{
    struct job_owner o = {0};
    pid_t pid = start_group(true);

    (void)state;
    pgroup_boot_id(boot, sizeof(boot));
    assert_int_equal(pgroup_identify(pid, boot, &o), 0);
    waitpid(pid, NULL, 0);
    /* The leader is gone; its child still holds the group's id. */
    assert_int_equal(wait_members(&o, 1), 1);
    assert_int_equal(pgroup_signal(&o, boot, SIGKILL), 1);
    assert_int_equal(wait_members(&o, 0), 0);
    /* No group: nothing to do; nor for an unknown one. */
    assert_int_equal(pgroup_signal(&o, boot, SIGKILL), 0);
    struct job_owner none = {0};
    assert_int_equal(pgroup_signal(&none, boot, SIGKILL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_id),
        cmocka_unit_test(test_identify_and_end),
        cmocka_unit_test(test_leaderless_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
