/* SPDX-License-Identifier: MIT */
/* The job API's times as kick shows them: its RFC 3339 strings read back
 * into ms, and durations for people. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

long long
cli_utc_ms(const char *s)
{
    struct tm tm = {0};
    int ms = 0, used = 0;

    if (s == NULL ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms,
               &used) != 7 ||
        s[used] != '\0')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

void
cli_duration_format(long long ms, char *buf, size_t size)
{
    if (ms < 1000)
        snprintf(buf, size, "%lldms", ms);
    else if (ms < 60000)
        snprintf(buf, size, "%lld.%llds", ms / 1000, ms % 1000 / 100);
    else if (ms < 3600000)
        snprintf(buf, size, "%lldm%02llds", ms / 60000, ms % 60000 / 1000);
    else
        snprintf(buf, size, "%lldh%02lldm", ms / 3600000, ms % 3600000 / 60000);
}

void
cli_run_duration(const char *state, const char *started, const char *finished,
                 char *buf, size_t size)
{
    long long start = cli_utc_ms(started), end = cli_utc_ms(finished);

    /* A queued job's started_at is an earlier attempt's, whose end is
     * not kept (finished_at is for the job's end). */
    if (start < 0 || state == NULL || strcmp(state, "queued") == 0) {
        snprintf(buf, size, "-");
        return;
    }
    if (end < start)
        end = (long long)time(NULL) * 1000; /* running */
    cli_duration_format(end - start, buf, size);
}
