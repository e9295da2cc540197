/* SPDX-License-Identifier: MIT */
/* The kick command: one function per verb, and its exit codes. */
#ifndef KICK_CLI_H
#define KICK_CLI_H

/* Exit codes of kick, documented in its usage. */
#define EXIT_OK 0
#define EXIT_FAIL 1      /* kickd answered with an error */
#define EXIT_USAGE 2     /* bad command line */
#define EXIT_NOTSCRIPT 3 /* kick ctl outside a kick script */
#define EXIT_REFUSED 4   /* kickd refused the request */
#define EXIT_UNREACHABLE 5 /* kickd could not be reached or timed out */

int
cmd_ctl(int argc, char **argv);

#endif
