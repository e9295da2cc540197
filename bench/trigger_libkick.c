/* SPDX-License-Identifier: MIT */
/* trigger_libkick: the cost of one trigger in sent mode through libkick.
 * One client and one request (POST, form a=1), sent N times with
 * kick_trigger(KICK_SENT) after WARMUP untimed ones. Prints us/trigger. */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kick.h"

/* Untimed triggers first: libcurl's first connection loads its resolver
 * and caches, which is no part of a trigger's steady cost. */
#define WARMUP 100

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    struct kick_client *c;
    struct kick_request *r;
    struct kick_result res;
    long n = 10000;
    double t0, t;
    int opt, e;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n' || (n = atol(optarg)) <= 0)
            goto usage;
    }
    if (optind != argc - 1)
        goto usage;
    c = kick_client_new(NULL, &e);
    if (c == NULL) {
        fprintf(stderr, "trigger_libkick: %s\n", kick_strerror(e));
        return 1;
    }
    r = kick_request_new(argv[optind], &e);
    if (r == NULL || kick_request_method(r, "POST") < 0 ||
        kick_request_form(r, "a", "1") < 0) {
        fprintf(stderr, "trigger_libkick: %s: %s\n", argv[optind],
                r ? kick_request_detail(r) : kick_strerror(e));
        return 1;
    }
    t0 = 0;
    for (long i = -WARMUP; i < n; i++) {
        if (i == 0)
            t0 = now();
        e = kick_trigger(c, r, KICK_SENT, &res);
        if (e < 0) {
            fprintf(stderr, "trigger_libkick: trigger %ld: %s\n", i,
                    kick_client_detail(c));
            return 1;
        }
    }
    t = now() - t0;
    printf("triggers %ld seconds %.3f us/trigger %.2f\n", n, t, t * 1e6 / n);
    kick_request_free(r);
    kick_client_free(c);
    return 0;
usage:
    fprintf(stderr, "usage: trigger_libkick [-n N] URL\n");
    return 2;
}
