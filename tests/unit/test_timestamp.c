/* SPDX-License-Identifier: MIT */
/* Table tests of timestamp_parse: RFC 3339 date-times and epoch ms, as
 * the job API's created_after= and created_before= take them. Each input
 * is copied to the end of a heap block of its exact length, so that a
 * read past it is ASan's to report. */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>
#include <string.h>

#include "timestamp.h"

/* Parses text from a block of exactly its length (no NUL after it). */
static int
parse_exact(const char *text, size_t n, int64_t *ms)
{
    char *copy = malloc(n ? n : 1);
    int r;

    assert_non_null(copy);
    memcpy(copy, text, n);
    r = timestamp_parse(copy, n, ms);
    free(copy);
    return r;
}

static void
test_valid(void **state)
{
    static const struct {
        const char *in;
        int64_t ms;
    } t[] = {
        {"2026-12-06T10:00:00Z", 1796551200000LL},
        {"2026-12-06t10:00:00z", 1796551200000LL},
        {"2026-12-06 10:00:00Z", 1796551200000LL},
        {"2026-12-06T10:00:00+00:00", 1796551200000LL},
        {"2026-12-06T10:00:00-00:00", 1796551200000LL},
        {"2026-12-06T11:00:00+01:00", 1796551200000LL},
        {"2026-12-06T10:00:00.250+01:00", 1796547600250LL},
        {"2026-12-06T10:00:00.2Z", 1796551200200LL},
        {"2026-12-06T10:00:00.25Z", 1796551200250LL},
        {"2026-12-06T10:00:00.123456789Z", 1796551200123LL},
        {"2026-12-06T10:00:00.999999999999Z", 1796551200999LL},
        {"2024-02-29T23:59:59.999-05:30", 1709270999999LL},
        {"2000-02-29T00:00:00Z", 951782400000LL},
        {"2000-03-01T00:00:00+00:00", 951868800000LL},
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T01:00:00+01:00", 0},
        /* A leap second is the second after it. */
        {"2026-12-31T23:59:60Z", 1798761600000LL},
        {"9999-12-31T23:59:59.999Z", 253402300799999LL},
        {"0", 0},
        {"1796551200000", 1796551200000LL},
        {"01796551200000", 1796551200000LL},
        {"253402300799999", 253402300799999LL},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int64_t ms = -1;
        if (parse_exact(t[i].in, strlen(t[i].in), &ms) != 0)
            fail_msg("%s: refused", t[i].in);
        if (ms != t[i].ms)
            fail_msg("%s: %lld, want %lld", t[i].in, (long long)ms,
                     (long long)t[i].ms);
    }
}

static void
test_invalid(void **state)
{
    static const char *const t[] = {
        "",
        "-1",
        "+5",
        "12a",
        "1.5",
        " 1",
        "1 ",
        "253402300800000",     /* past year 9999 */
        "9999999999999999",    /* 16 digits */
        "2026-12-06",          /* a date alone */
        "2026-12-06T10:00:00", /* no offset */
        "2026-12-06T10:00Z",   /* no seconds */
        "2026-12-06T10:00:00.Z",
        "2026-12-06T10:00:00,5Z",
        "2026-12-06T10:00:00+0100",
        "2026-12-06T10:00:00+01",
        "2026-12-06T10:00:00+24:00",
        "2026-12-06T10:00:00+01:60",
        "2026-12-06T10:00:00Z ",
        "2026-12-06T10:00:00ZZ",
        "2026-12-06X10:00:00Z",
        "2026-13-06T10:00:00Z",
        "2026-00-06T10:00:00Z",
        "2026-12-00T10:00:00Z",
        "2026-12-32T10:00:00Z",
        "2026-11-31T10:00:00Z",
        "2026-02-29T10:00:00Z", /* not a leap year */
        "1900-02-29T10:00:00Z", /* nor is 1900 */
        "2026-12-06T24:00:00Z",
        "2026-12-06T10:60:00Z",
        "2026-12-06T10:00:61Z",
        "2026-1-06T10:00:00Z",
        "2026-12-6T10:00:00Z",
        "2026-12-06T1:00:00Z",
        "+026-12-06T10:00:00Z",
        "2026-12-06T10:00:0aZ",
        "1969-12-31T23:59:59Z", /* before 1970 */
        "1970-01-01T00:30:00+01:00",
        "9999-12-31T23:59:60Z", /* past year 9999, found by fuzzing */
        "9999-12-31T23:30:00-01:00",
        "2026-12-06T10:00:00.1234567890123456789012345Z", /* too long */
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int64_t ms = 42;
        if (parse_exact(t[i], strlen(t[i]), &ms) != -1)
            fail_msg("'%s': accepted as %lld", t[i], (long long)ms);
    }
}

/* Every strict prefix of a date-time longer than its year is refused:
 * the parser never reads past the end it is given. */
static void
test_prefixes(void **state)
{
    static const char *const t[] = {
        "2026-12-06T10:00:00Z",
        "2026-12-06T10:00:00.250+01:00",
        "2024-02-29T23:59:59.999-05:30",
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        for (size_t n = 5; n < strlen(t[i]); n++) {
            int64_t ms;
            if (parse_exact(t[i], n, &ms) != -1)
                fail_msg("'%.*s': a prefix accepted", (int)n, t[i]);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_prefixes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
