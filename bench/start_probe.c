/* SPDX-License-Identifier: MIT */
/* start_probe: the detached job behind the benchmark's commit-to-start
 * figure. The first thing it does is read the wall clock (CLOCK_REALTIME,
 * ns) and write it to the file named by its query string (f=PATH), so that
 * the client can tell how long after its 202 the job began. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longer than any file name the benchmark makes, with ".tmp" after it. */
#define PATH_MAX_LEN 512

int
main(void)
{
    char path[PATH_MAX_LEN], tmp[PATH_MAX_LEN + 4], num[32];
    const char *q;
    struct timespec ts;
    int fd, len;

    clock_gettime(CLOCK_REALTIME, &ts);
    /* The path goes raw, not percent-encoded: the benchmark makes it out
     * of characters that need no encoding (RFC 3986 section 3.4). */
    q = getenv("QUERY_STRING");
    if (q == NULL || strncmp(q, "f=", 2) != 0 || q[2] == '\0' ||
        strlen(q + 2) >= sizeof(path)) {
        fprintf(stderr, "start_probe: QUERY_STRING is not f=PATH\n");
        return 1;
    }
    memcpy(path, q + 2, strlen(q + 2) + 1);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    len = snprintf(num, sizeof(num), "%lld\n",
                   (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    /* Written to a temporary file renamed into place, so that the reader,
     * who polls, never sees half a number. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, num, (size_t)len) != len || close(fd) < 0 ||
        rename(tmp, path) < 0) {
        perror("start_probe");
        return 1;
    }
    return 0;
}
