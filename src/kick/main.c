/* SPDX-License-Identifier: MIT */
/* kick: the command-line client of kickd. Each verb lives in its own
 * cmd_<verb>.c; this file picks one. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void
cli_usage(FILE *f)
{
    fprintf(
        f,
        "usage: kick URL [-X METHOD] [-d NAME=VALUE|@FILE]... [--json BODY]\n"
        "            [-q NAME=VALUE]... [-H 'Name: value']... "
        "[-b NAME=VALUE]...\n"
        "            [--no-wait | --wait] [OPTIONS]\n"
        "       kick --batch FILE [--parallel N] [same options]\n"
        "       kick status ID [--json] | cancel ID | wait ID | retry ID\n"
        "       kick rm ID...       (deletes ended jobs)\n"
        "       kick logs [-f] ID   (the output so far; -f follows it to the "
        "job's end)\n"
        "       kick ls [--state S] [--route R] [--limit N] [--before ID] "
        "[--json]\n"
        "       (these seven: [--server URL] [OPTIONS], before or after "
        "the verb)\n"
        "       kick ctl ignore-user-abort on|off | set-time-limit SECONDS "
        "| status\n"
        "                | on-shutdown COMMAND [ARG...] "
        "| progress PERCENT [MESSAGE]\n"
        "       kick --help | --version\n"
        "\n"
        "Triggers:\n"
        "  (default)            wait for the status line; print the job id "
        "(or\n"
        "                       \"HTTP 200 OK\" from a server that names no "
        "job)\n"
        "  --no-wait            return once the request is written; read "
        "nothing\n"
        "  --wait               wait for the job to end; print its output; "
        "exit\n"
        "                       with its exit status (128+N if killed by "
        "signal N)\n"
        "  -X, --request METHOD GET without a body, POST with one, unless "
        "set\n"
        "  -d, --data NAME=VALUE   a form field (percent-encoded)\n"
        "  -d, --data @FILE     FILE's bytes as they are, CR and LF "
        "dropped (curl's);\n"
        "                       @- is stdin\n"
        "      --data-binary @FILE|STRING  bytes as they are, "
        "nothing dropped\n"
        "  -q, --query NAME=VALUE  a query parameter (percent-encoded)\n"
        "      --json BODY         a JSON body\n"
        "  -H, --header 'Name: value'\n"
        "  -b, --cookie NAME=VALUE\n"
        "  --batch FILE         one trigger per line: [METHOD] URL; blank "
        "and #\n"
        "                       lines skipped; FILE - is stdin\n"
        "  --parallel N         --batch connections at once (16)\n"
        "Options:\n"
        "  --connect-timeout S  (10)    --timeout S  a whole request (30)\n"
        "  --cacert FILE        -k, --insecure   --token TOKEN (Bearer)\n"
        "  --server URL         the kickd of the job verbs "
        "($KICK_SERVER,\n"
        "                       else " DEFAULT_SERVER ")\n"
        "\n"
        "Exit status: 0 done; 1 the server answered with an error status; "
        "2 usage;\n"
        "3 not inside a kick script; 4 refused by kickd; 5 server not "
        "reachable or\n"
        "timed out; 6 host name does not resolve; 7 malformed URL; 8 the "
        "job ended\n"
        "without an exit status (canceled, aborted, timed out). With --wait "
        "and\n"
        "kick wait: the job's own exit status. --batch: 0 if all "
        "succeeded, else\n"
        "the code all failures share, or 1.\n");
}

/* Whether word names a verb of its own (the rest is a trigger's URL). */
static bool
is_verb(const char *word)
{
    static const char *const verbs[] = {"ctl", "status", "cancel", "wait",
                                        "retry", "rm", "ls", "logs"};

    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(word, verbs[i]) == 0)
            return true;
    return false;
}

/* Global options may come before the verb (`kick --server URL ls`): the
 * verb, the first word that is no option nor an option's value, moves to
 * argv[1], the options before it after it, where each verb parses them. */
static void
verb_first(int argc, char **argv)
{
    static const char *const with_value[] = {
        "--server", "--token", "--timeout", "--connect-timeout", "--cacert"};
    int i = 1;

    while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
        bool value = false;
        for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]);
             k++)
            value |= strcmp(argv[i], with_value[k]) == 0;
        i += value ? 2 : 1;
    }
    if (i <= 1 || i >= argc || !is_verb(argv[i]))
        return;
    char *verb = argv[i];
    memmove(&argv[2], &argv[1], (size_t)(i - 1) * sizeof(char *));
    argv[1] = verb;
}

int
main(int argc, char **argv)
{
    verb_first(argc, argv);
    if (argc < 2) {
        cli_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("kick " KICK_VERSION "\n");
        return EXIT_OK;
    }
    if (strcmp(argv[1], "ctl") == 0)
        return cmd_ctl(argc - 1, argv + 1);
    /* Every other verb is a job verb. */
    if (is_verb(argv[1]))
        return cmd_job(argc - 1, argv + 1);
    return cmd_trigger(argc, argv);
}
