/* SPDX-License-Identifier: MIT */
/* Table tests of api_list_parse: GET /jobs's query read into a store
 * filter, and every bad value or unknown parameter refused with a reason
 * that names it. Each query sits at the end of a block of its own length,
 * so that a read past it is ASan's to report. */
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

#include "api_list.h"

static int
parse(const char *query, struct job_filter *f, char *route, char *why)
{
    size_t n = strlen(query);
    char *copy = malloc(n ? n : 1);
    int r;

    assert_non_null(copy);
    memcpy(copy, query, n);
    r = api_list_parse(copy, n, f, route, 64, why, 128);
    free(copy);
    return r;
}

static void
test_defaults(void **state)
{
    struct job_filter f;
    char route[64], why[128];

    assert_int_equal(parse("", &f, route, why), 0);
    assert_int_equal(f.state, -1);
    assert_null(f.route);
    assert_int_equal(f.limit, API_LIST_DEFAULT);
    assert_int_equal(f.after, 0);
    assert_int_equal(f.before, 0);
    assert_int_equal(f.created_from, 0);
    assert_int_equal(f.created_until, 0);
    assert_false(f.desc);
    /* Empty state= and route= are any; a lone & is nothing. */
    assert_int_equal(parse("state=&route=&&", &f, route, why), 0);
    assert_int_equal(f.state, -1);
    assert_null(f.route);
}

static void
test_values(void **state)
{
    struct job_filter f;
    char route[64], why[128];

    assert_int_equal(
        parse("state=failed&route=%2Freport%20x&limit=1000&order=desc"
              "&after=7&before=90",
              &f, route, why),
        0);
    assert_int_equal(f.state, JOB_FAILED);
    assert_non_null(f.route);
    assert_string_equal(f.route, "/report x");
    assert_ptr_equal(f.route, route);
    assert_int_equal(f.limit, 1000);
    assert_true(f.desc);
    assert_int_equal(f.after, 7);
    assert_int_equal(f.before, 90);
    assert_int_equal(parse("order=desc&order=asc&limit=1", &f, route, why), 0);
    assert_false(f.desc);
    assert_int_equal(f.limit, 1);
    assert_int_equal(parse("created_after=2026-12-06T11:00:00.250%2B01:00"
                           "&created_before=1796551300000",
                           &f, route, why),
                     0);
    assert_int_equal(f.created_from, 1796551200250LL);
    assert_int_equal(f.created_until, 1796551300000LL);
    /* A '+' that reached kickd as is stays one. */
    assert_int_equal(
        parse("created_after=2026-12-06T11:00:00+01:00", &f, route, why), 0);
    assert_int_equal(f.created_from, 1796551200000LL);
    assert_int_equal(parse("created_after=0", &f, route, why), 0);
    assert_int_equal(f.created_from, 0);
}

static void
test_refused(void **state)
{
    static const struct {
        const char *query, *named;
    } t[] = {
        {"state=bogus", "state"},
        {"state=queuedx", "state"},
        {"state=averyveryverylongstate", "state"},
        {"limit=0", "limit"},
        {"limit=1001", "limit"},
        {"limit=", "limit"},
        {"limit=-1", "limit"},
        {"limit=1e3", "limit"},
        {"after=x", "after"},
        {"after=", "after"},
        {"before=-3", "before"},
        {"before=9999999999999999999", "before"},
        {"order=", "order"},
        {"order=DESC", "order"},
        {"order=descending", "order"},
        {"route=%zz", "route"},
        {"route=%00", "route"},
        {"created_after=", "created_after"},
        {"created_after=tomorrow", "created_after"},
        {"created_after=2026-12-06", "created_after"},
        {"created_after=2026-12-06T10:00:00%2B1:00", "created_after"},
        {"created_after=2026-12-06T10:00:00%", "created_after"},
        {"created_before=0", "created_before"},
        {"created_before=2026-02-29T00:00:00Z", "created_before"},
        {"colour=red", "colour"},
        {"stat=failed", "'stat'"},
        {"limit", "limit"},
        {"wait=5", "wait"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct job_filter f;
        char route[64], why[128] = "";
        if (parse(t[i].query, &f, route, why) != -1)
            fail_msg("'%s': accepted", t[i].query);
        if (strstr(why, t[i].named) == NULL)
            fail_msg("'%s': reason '%s' does not name %s", t[i].query, why,
                     t[i].named);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
