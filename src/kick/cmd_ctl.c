/* SPDX-License-Identifier: MIT */
/* kick ctl: inside a script run by kickd, change the run's own connection
 * handling, as PHP's ignore_user_abort(), set_time_limit(),
 * connection_status() and register_shutdown_function() do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include <kick.h>

static int
fail(struct kick_ctl *c, const char *what, int err)
{
    const char *detail = c ? kick_ctl_detail(c) : "";

    fprintf(stderr, "kick ctl %s: %s%s%s\n", what, kick_strerror(err),
            *detail ? ": " : "", detail);
    return cli_exit_for(err);
}

static int
usage_error(const char *msg)
{
    fprintf(stderr, "kick ctl: %s\n", msg);
    fprintf(stderr, "usage: kick ctl ignore-user-abort on|off | "
                    "set-time-limit SECONDS | status | "
                    "on-shutdown COMMAND [ARG...] | "
                    "progress PERCENT [MESSAGE]\n");
    return EXIT_USAGE;
}

int
cmd_ctl(int argc, char **argv)
{
    struct kick_ctl *c;
    const char *verb;
    int err = 0, r;

    if (argc < 2)
        return usage_error("which control?");
    verb = argv[1];
    if (strcmp(verb, "ignore-user-abort") == 0) {
        if (argc != 3 || (strcmp(argv[2], "on") != 0 &&
                          strcmp(argv[2], "off") != 0))
            return usage_error("ignore-user-abort takes on or off");
    } else if (strcmp(verb, "set-time-limit") == 0) {
        char *end;
        if (argc != 3 || argv[2][0] < '0' || argv[2][0] > '9' ||
            strtoul(argv[2], &end, 10) > 999999999ul || *end != '\0')
            return usage_error("set-time-limit takes whole seconds");
    } else if (strcmp(verb, "status") == 0) {
        if (argc != 2)
            return usage_error("status takes no argument");
    } else if (strcmp(verb, "on-shutdown") == 0) {
        if (argc < 3 || argv[2][0] == '\0')
            return usage_error("on-shutdown takes a command");
    } else if (strcmp(verb, "progress") == 0) {
        char *end;
        if (argc < 3 || argv[2][0] < '0' || argv[2][0] > '9' ||
            strtol(argv[2], &end, 10) > 100 || *end != '\0')
            return usage_error("progress takes a percent (0-100) and an "
                               "optional message");
    } else {
        return usage_error("unknown control");
    }

    c = kick_ctl_new(NULL, &err);
    if (c == NULL)
        return fail(NULL, verb, err);
    if (strcmp(verb, "ignore-user-abort") == 0) {
        r = kick_ctl_ignore_user_abort(c, strcmp(argv[2], "on") == 0);
        if (r >= 0)
            printf("%s\n", r ? "on" : "off");
    } else if (strcmp(verb, "set-time-limit") == 0) {
        r = kick_ctl_set_time_limit(c, (unsigned)strtoul(argv[2], NULL, 10));
    } else if (strcmp(verb, "status") == 0) {
        r = kick_ctl_status(c);
        if (r >= 0)
            printf("%d\n", r);
    } else if (strcmp(verb, "progress") == 0) {
        char msg[256] = "";
        size_t n = 0;
        for (int i = 3; i < argc; i++) {
            int k = snprintf(msg + n, sizeof(msg) - n, "%s%s",
                             i > 3 ? " " : "", argv[i]);
            if (k < 0 || (size_t)k >= sizeof(msg) - n) {
                kick_ctl_free(c);
                return usage_error("progress message too long");
            }
            n += (size_t)k;
        }
        r = kick_ctl_progress(c, (int)strtol(argv[2], NULL, 10),
                              n ? msg : NULL);
    } else {
        r = kick_ctl_on_shutdown(c, (const char *const *)argv + 2);
    }
    if (r < 0) {
        int code = fail(c, verb, r);
        kick_ctl_free(c);
        return code;
    }
    kick_ctl_free(c);
    return EXIT_OK;
}
