/* SPDX-License-Identifier: MIT */
/* libFuzzer target of timestamp_parse (created_after=/created_before=):
 * an accepted time is in range, and its UTC form with ms parses back to
 * the same instant. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timestamp.h"

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    int64_t ms = -1, again = -1;

    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    if (timestamp_parse(buf, size, &ms) == 0) {
        REQUIRE(ms >= 0 && ms <= 253402300799999LL);
        char text[40];
        struct tm tm;
        time_t sec = (time_t)(ms / 1000);
        REQUIRE(gmtime_r(&sec, &tm) != NULL);
        size_t n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(text + n, sizeof(text) - n, ".%03dZ",
                              (int)(ms % 1000));
        REQUIRE(timestamp_parse(text, n, &again) == 0 && again == ms);
    }
    free(buf);
    return 0;
}
