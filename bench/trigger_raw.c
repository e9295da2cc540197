/* SPDX-License-Identifier: MIT */
/* trigger_raw: the floor under a sent-mode trigger. N times socket(2),
 * connect(2), one write(2) of the bytes libkick sends for a POST of a=1
 * (with "Connection: close" and "Prefer: respond-async"), close(2), after
 * WARMUP untimed ones. Prints us/trigger. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* As trigger_libkick. */
#define WARMUP 100
/* The request of one trigger; its head is a few lines. */
#define MAX_REQUEST 1024

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One trigger; 0 or -errno. */
static int
trigger(const struct sockaddr_in *a, const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e = 0;

    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
        e = -errno;
    else if (write(fd, req, len) != (ssize_t)len)
        e = errno ? -errno : -EIO; /* a short write to a new socket */
    close(fd);
    return e;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in a;
    char req[MAX_REQUEST];
    const char *path = "/trigger";
    long n = 10000;
    double t0 = 0, t;
    int opt, port = 0, len;

    while ((opt = getopt(argc, argv, "n:p:")) != -1) {
        if (opt == 'n' && (n = atol(optarg)) > 0)
            continue;
        if (opt == 'p' && (port = atoi(optarg)) > 0 && port <= 65535)
            continue;
        goto usage;
    }
    if (port == 0 || optind < argc - 1)
        goto usage;
    if (optind == argc - 1)
        path = argv[optind];
    len = snprintf(req, sizeof(req),
                   "POST %s HTTP/1.1\r\n"
                   "Host: 127.0.0.1:%d\r\n"
                   "User-Agent: kick/0.1.0\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Length: 3\r\n"
                   "Connection: close\r\n"
                   "Prefer: respond-async\r\n"
                   "\r\n"
                   "a=1",
                   path, port);
    if (len < 0 || (size_t)len >= sizeof(req))
        goto usage;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (long i = -WARMUP; i < n; i++) {
        int e;

        if (i == 0)
            t0 = now();
        if ((e = trigger(&a, req, (size_t)len)) < 0) {
            fprintf(stderr, "trigger_raw: trigger %ld: %s\n", i, strerror(-e));
            return 1;
        }
    }
    t = now() - t0;
    printf("triggers %ld seconds %.3f us/trigger %.2f\n", n, t, t * 1e6 / n);
    return 0;
usage:
    fprintf(stderr, "usage: trigger_raw -p PORT [-n N] [PATH]\n");
    return 2;
}
