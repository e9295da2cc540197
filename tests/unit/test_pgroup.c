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

/* A run whose owner was not recorded is found by its environment, and
 * only one that started after the job did. */
static void
test_find_by_environment(void **state)
{
    struct job_owner o = {0};
    struct timespec now;
    pid_t pid;

    (void)state;
    pgroup_boot_id(boot, sizeof(boot));
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t started = (int64_t)now.tv_sec * 1000 - 500;
    pid = fork();
    if (pid == 0) {
        char *env[] = {"KICK_CONTROL=http://127.0.0.1:9/_kick/run/77.ab",
                       NULL};
        setsid();
        execle("/bin/sh", "sh", "-c", "sleep 30 & wait", (char *)NULL, env);
        _exit(127);
    }
    for (int i = 0; i < 500 && o.pgid == 0; i++) {
        pgroup_find(":9/_kick/run/77.", started, boot, &o);
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    assert_int_equal(o.pgid, pid);
    assert_string_equal(o.boot, boot);
    struct job_owner leader = {0};
    assert_int_equal(pgroup_identify(pid, boot, &leader), 0);
    assert_int_equal(o.start, leader.start);
    /* Another job, another port, or a job that started later: none. */
    struct job_owner none = {0};
    assert_int_equal(pgroup_find(":9/_kick/run/78.", started, boot, &none),
                     0);
    assert_int_equal(pgroup_find(":10/_kick/run/77.", started, boot, &none),
                     0);
    assert_int_equal(
        pgroup_find(":9/_kick/run/77.", started + 60000, boot, &none), 0);
    assert_int_equal(pgroup_signal(&o, boot, SIGKILL), 2);
    waitpid(pid, NULL, 0);
    assert_int_equal(wait_members(&o, 0), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_id),
        cmocka_unit_test(test_identify_and_end),
        cmocka_unit_test(test_leaderless_group),
        cmocka_unit_test(test_find_by_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
