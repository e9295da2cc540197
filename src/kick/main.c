/* SPDX-License-Identifier: MIT */
/* kick: the command-line client of kickd. Each verb lives in its own
 * cmd_<verb>.c; this file picks one. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: kick ctl ignore-user-abort on|off\n"
            "       kick ctl set-time-limit SECONDS\n"
            "       kick ctl status\n"
            "       kick ctl on-shutdown COMMAND [ARG...]\n"
            "       kick ctl progress PERCENT [MESSAGE]\n"
            "       kick --help | --version\n"
            "Exit status: 0 done, 1 kickd answered with an error, 2 usage,\n"
            "3 not inside a kick script, 4 refused by kickd, 5 kickd not\n"
            "reachable or too slow.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("kick " KICK_VERSION "\n");
        return EXIT_OK;
    }
    if (strcmp(argv[1], "ctl") == 0)
        return cmd_ctl(argc - 1, argv + 1);
    fprintf(stderr, "kick: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
