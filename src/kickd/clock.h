/* SPDX-License-Identifier: MIT */
/* The wall clock in milliseconds since the epoch: the time of jobs (when
 * they were created, are due, ended), as the store keeps it; and a
 * monotonic clock for lengths of time that must not jump (leases). */
#ifndef KICKD_CLOCK_H
#define KICKD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static inline int64_t
clock_now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Milliseconds on CLOCK_MONOTONIC: safe to call from any thread. */
static inline int64_t
clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
