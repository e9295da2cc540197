/* SPDX-License-Identifier: MIT */
/* The wall clock in milliseconds since the epoch: the time of jobs (when
 * they were created, are due, ended), as the store keeps it. */
#ifndef KICKD_CLOCK_H
#define KICKD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

static inline int64_t
clock_now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

#endif
